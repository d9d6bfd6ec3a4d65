"""AppTest for every Concepts page: it renders its formula, numbers and plot, and its controls move them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.sitemap import PAGES

ROOT = Path(__file__).resolve().parents[1]


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page(f"pages/concepts/{name}.py").run()
    assert not at.exception, at.exception
    return at


def number(text: str) -> float:
    return float(re.search(r"-?\d+\.\d+", text.replace("−", "-")).group())


def metrics(at: AppTest) -> dict[str, float]:
    return {m.label: number(m.value) for m in at.metric}


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def texts(at: AppTest) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.caption, *at.error, *at.warning])


@pytest.mark.parametrize("name,title", [(p.name, p.title) for p in PAGES if p.group == "Concepts"])
def test_every_concept_page_has_its_formula_numbers_and_plot(name, title):
    at = open_page(name)
    assert at.title[0].value == title
    assert not at.error
    assert at.latex and at.latex[0].value  # the formula
    assert len(texts(at)) > 200           # the plain sentences
    figs = charts(at)
    assert figs and all(fig["data"] for fig in figs)  # plots that are not empty


def test_kl_page_opens_on_the_two_mode_example_and_switches_when_the_means_meet():
    at = open_page("kl_direction")
    table = at.dataframe[0].value
    forward = table.iloc[0]
    assert forward["μ"] == pytest.approx(0.0, abs=1e-3) and forward["σ"] == pytest.approx(10 ** 0.5, abs=1e-3)
    assert len(table) == 4  # the moment match, two mode-seeking optima and the straddling one
    assert "picks one mode" in texts(at)
    m = metrics(at)
    assert m["KL(q‖p) of the best reverse fit"] < table.iloc[0]["KL(q‖p)"]  # it beats the moment match at its own game
    at.slider(key="kl.m1").set_value(-1.0)
    at.slider(key="kl.m2").set_value(1.0).run()
    assert not at.exception
    assert "so it **straddles both modes**" in texts(at)
    assert len(at.dataframe[0].value) == 2  # one optimum left


def test_elbo_page_adds_up_and_the_gap_grows_as_q_moves_away():
    at = open_page("elbo")
    m = metrics(at)
    log_px, elbo, gap = m["log p(x), by the grid"], m["ELBO"], m["gap KL(q‖p(z|x))"]
    assert elbo < log_px and gap > 0
    assert elbo + gap == pytest.approx(log_px, abs=2e-3)
    mu0 = at.slider(key="elbo.mu0.0").value
    at.slider(key="elbo.mu0.0").set_value(round(mu0 + 0.6, 2)).run()
    moved = metrics(at)
    assert moved["ELBO"] < elbo - 0.1 and moved["gap KL(q‖p(z|x))"] > gap + 0.1
    assert moved["log p(x), by the grid"] == log_px
    at.button(key="elbo.best").click().run()
    best = metrics(at)
    assert best["gap KL(q‖p(z|x))"] < gap  # better than the encoder's own q
    at.button(key="elbo.reset").click().run()
    assert at.slider(key="elbo.mu0.0").value == mu0
    iwae = at.dataframe[0].value
    assert list(iwae["k"]) == [1, 10, 100, 1000]
    assert iwae["log p(x) − L_k"].iloc[-1] < iwae["log p(x) − L_k"].iloc[0]
    at.number_input(key="elbo.i").set_value(5).run()  # another example: q starts at its encoder output
    assert not at.exception and metrics(at)["log p(x), by the grid"] != log_px


def test_reparam_page_measures_both_estimators():
    at = open_page("reparam")
    table = at.dataframe[1].value
    score = table[table["estimator"] == "score function"]
    rep = table[table["estimator"] == "reparameterized"]
    assert (score["variance"].values > rep["variance"].values).all()
    assert list(rep["exact"]) == [2.0, 2.0]  # mu = 1, sigma = 1
    at.slider(key="rep.sigma").set_value(0.5).run()
    table = at.dataframe[1].value
    assert list(table[table["estimator"] == "reparameterized"]["exact"]) == [2.0, 1.0]
    first = at.dataframe[0].value["ε"].tolist()
    at.button(key="rep.redraw").click().run()
    assert at.dataframe[0].value["ε"].tolist() != first


def test_gaussian_kl_page_substitutes_the_numbers_into_the_code_line():
    at = open_page("gaussian_kl")
    m = metrics(at)
    assert m["closed form"] == m["torch.distributions"]
    code = at.code[0].value
    assert "-0.5 * sum(1 + logvar - mu**2 - exp(logvar))" in code
    assert code.strip().endswith(f"{m['closed form']:.4f}")
    at.slider(key="gkl.mu").set_value(0.0)
    at.slider(key="gkl.sigma").set_value(1.0).run()
    assert metrics(at)["closed form"] == 0.0


def test_sparsity_page_opens_on_the_worked_example():
    at = open_page("sparsity")
    table = at.dataframe[1].value  # [0] is the editor of the activations
    assert list(table["ρ̂"].iloc[:3]) == ["0.866", "0.096", "0.110"]
    assert table["KL(ρ‖ρ̂)"].iloc[-1] == pytest.approx(table["KL(ρ‖ρ̂)"].iloc[:3].sum(), abs=2e-4)
    m = metrics(at)
    assert m["mean ρ̂, with the penalty"] < m["mean ρ̂, without"]  # the trained models
    hist = charts(at)[-1]
    assert len(hist["data"]) == 2
    at.slider(key="sp.rho").set_value(0.5).run()
    assert at.dataframe[1].value["KL(ρ‖ρ̂)"].iloc[-1] != table["KL(ρ‖ρ̂)"].iloc[-1]


def test_sparsity_page_explains_a_bad_activation():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.session_state["widgets.kept"]["sp.acts"] = [0.5, 1.5]
    at.switch_page("pages/concepts/sparsity.py").run()
    assert not at.exception
    assert any("strictly between 0 and 1" in e.value for e in at.error)


def test_denoising_page_trains_its_models_and_draws_arrows_and_jacobians():
    at = open_page("denoising")
    m = metrics(at)
    assert m["‖J‖_F on the data, contractive"] < m["‖J‖_F on the data, plain"]
    arrows, jac = charts(at)
    assert len(jac["data"]) == 4 and jac["data"][0]["type"] == "heatmap"
    assert "lands" in texts(at)
    at.radio(key="den.from").set_value("corrupted data").run()
    assert not at.exception and charts(at)[0] != arrows


def test_a_concept_page_keeps_its_settings_across_a_visit_elsewhere():
    at = open_page("kl_direction")
    at.slider(key="kl.m1").set_value(-1.5).run()
    at.switch_page("pages/concepts/gaussian_kl.py").run()
    at.switch_page("pages/concepts/kl_direction.py").run()
    assert not at.exception
    assert at.slider(key="kl.m1").value == -1.5
