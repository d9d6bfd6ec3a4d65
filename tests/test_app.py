"""AppTest: each page's main flow runs headless, widgets act, session state holds."""
from __future__ import annotations

import base64
import json
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ui import sitemap
from vae_core import zoo
from vae_core.runs import RunStore
from vae_core.runs.store import shipped_runs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p.target for p in sitemap.PAGES]  # every page the app declares


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def workspace(at: AppTest):
    """The AppTest session's workspace in the run store (tests/conftest.py points it at a temp folder)."""
    return RunStore().workspace(at.session_state["ws"])


def active_id(at: AppTest) -> str:
    """The active run of the session's workspace (the default pretrained one until another is picked)."""
    return workspace(at).active or shipped_runs()[0].id


def default_key() -> str:
    """The cache key of the default pretrained model (its sha256), as pages use it in widget keys."""
    return zoo.default_entry(zoo.load_manifest()).sha256


def wait_for(predicate, at: AppTest | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
        if at is not None:
            at.run()


def n_values(column) -> int:
    """Length of a Plotly data column: a plain list, or a typed array {"dtype", "bdata": base64}."""
    if isinstance(column, dict):
        return len(base64.b64decode(column["bdata"])) // np.dtype(column["dtype"]).itemsize
    return len(column)


def texts(at: AppTest) -> str:
    words = [m.value for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning]]
    return " ".join(words)


def pictures(at: AppTest) -> list[str]:
    """The inline PNG pictures (ui.picture) on the page, as their data URIs."""
    return [m.value for m in at.markdown if 'src="data:image/png;base64,' in m.value]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_error(page):
    at = open_app(page)
    assert at.title[0].value  # every page has a title ...
    assert len(at.markdown) >= 1  # ... and a plain-words explanation
    assert not at.error


def test_opens_ready_on_a_shipped_model_with_a_populated_map():
    at = open_app()
    assert at.title[0].value == "Latent Explorer"  # the first screen (pages/home.py) ...
    at.switch_page("pages/latent.py").run()          # ... its first step: the map
    assert at.title[0].value == "Latent space"
    assert active_id(at) == shipped_runs()[0].id  # the default pretrained model
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "mnist10k" in sidebar and "latent_dim = 2" in sidebar  # the MNIST VAE is the default
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    n_points = sum(n_values(t["x"]) for t in fig["data"] if t.get("type") == "scattergl")
    assert n_points == 10_000  # all of mnist10k encoded, not an empty chart


def test_maps_draw_their_webgl_points_at_the_pixel_ratio_the_browser_told():
    """ui.screen: the page's component tells the browser's devicePixelRatio; every chart is drawn at it
    (Plotly's own default is 2 on any screen), clamped to what Plotly takes, whatever the page sends."""
    at = open_app("pages/latent.py")
    ratio = lambda: json.loads(at.get("plotly_chart")[0].proto.config)["plotGlPixelRatio"]  # noqa: E731
    assert ratio() == 1  # before the browser has said
    for told, drawn in ((2, 2), (1.5, 1.5), (100, 4), (0.2, 1), ("nonsense", 1), (None, 1)):
        at.session_state["screen.ratio"] = told
        at.run()
        assert not at.exception, at.exception
        assert ratio() == drawn, told


def test_the_examples_can_be_drawn_at_their_places():
    at = open_app("pages/latent.py")
    at.toggle(key="latent.images").set_value(True).run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    (picture,) = fig["layout"]["images"]  # all the thumbnails in one picture, placed in map units
    assert picture["source"].startswith("data:image/png;base64,") and picture["xref"] == "x"
    assert all(t["marker"]["opacity"] < 0.5 for t in fig["data"] if t.get("type") == "scattergl")


def test_selecting_a_point_shows_its_reconstruction_and_numbers():
    at = open_app("pages/latent.py")
    at.session_state[f"latent.selected.{default_key()}"] = [5, 9]
    at.run()
    assert not at.exception
    assert "Example #5" in texts(at)
    assert len(pictures(at)) == 2  # the first one's panel, and both selected (tests/test_teacher.py)
    labels = [m.label for m in at.metric]
    assert any("recon" in label for label in labels) and any("KL" in label for label in labels)


def test_latent_views_for_a_higher_dimensional_model():
    """The sprites beta-VAE (8 latent dims): choose two dims, then PCA, then t-SNE."""
    at = open_app("pages/latent.py")
    workspace(at).active = "zoo.sprites-betavae"
    at.run()
    assert len(at.selectbox(key="latent.d0").options) == 8
    at.selectbox(key="latent.d0").set_value(3)
    at.selectbox(key="latent.d1").set_value(5).run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert fig["layout"]["xaxis"]["title"]["text"] == "z3" and fig["layout"]["yaxis"]["title"]["text"] == "z5"
    for view, axis in (("PCA", "PC1"), ("t-SNE", "t-SNE 1")):
        at.radio(key="latent.view").set_value(view).run()
        assert not at.exception and not at.error
        fig = json.loads(at.get("plotly_chart")[0].proto.spec)
        assert fig["layout"]["xaxis"]["title"]["text"].startswith(axis)
        assert sum(n_values(t["x"]) for t in fig["data"] if t.get("type") == "scattergl") == 10000


def test_manifold_grid_responds_to_its_controls():
    at = open_app("pages/manifold.py")
    first = pictures(at)[0]
    at.slider(key="manifold.n").set_value(6).run()
    at.radio(key="manifold.spacing").set_value("quantile").run()
    assert not at.exception and not at.error
    assert pictures(at)[0] != first


def test_interpolation_slider_and_ends_by_class():
    at = open_app("pages/interpolate.py")
    at.slider(key="interp.t").set_value(0.8).run()
    from test_decoder_app import decoders  # the picture is decoded in the page, at the t the server kept
    assert decoders(at)["path"]["t"] == 0.8
    at.radio(key="interp.how").set_value("by class").run()
    at.selectbox(key="interp.ca").set_value(3).run()
    at.selectbox(key="interp.cb").set_value(8).run()
    assert not at.exception
    ia, ib = at.session_state[f"interp.ends.{default_key()}"]
    assert "(3)" in texts(at) and "(8)" in texts(at)
    assert ia != ib


def start_training(at: AppTest, epochs: int, model: str = "vae") -> str:
    at.selectbox(key="train.model").set_value(model)
    at.text_input(key="train.epochs").set_value(str(epochs)).run()
    at.button(key="train.start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at.session_state["train.run"]


def test_training_runs_in_a_worker_and_becomes_the_active_model():
    at = open_app("pages/train.py")
    run_id = start_training(at, 2)
    ws = workspace(at)
    wait_for(lambda: ws.get(run_id).status == "done")
    wait_for(lambda: active_id(at) == run_id, at)
    run = ws.get(run_id)
    assert run.origin == "trained" and run.name.startswith("#1 VAE · digits") and "val_loss" in run.metrics
    assert ws.checkpoint(run_id).progress["epoch"] == 2
    at.switch_page("pages/latent.py").run()  # the new model is explorable
    assert not at.exception and not at.error


@pytest.mark.parametrize("key, text, words", [
    ("train.latent_dim", "0", "latent_dim must be 1 to 1,024, got 0"),
    ("train.latent_dim", "5000", "latent_dim must be 1 to 1,024, got 5,000"),
    ("train.epochs", "1e9", "epochs must be 1 to 10,000, got 1,000,000,000"),
    ("train.epochs", "abc", "epochs must be a whole number, 1 to 10,000; got 'abc'"),
    ("train.epochs", "2.5", "epochs must be a whole number"),
    ("train.lr", "100", "lr must be > 0 and ≤ 10, got 100"),
    ("train.lr", "nan", "lr must be a finite number"),
    ("train.hidden", "400,abc", "hidden must be 1 to 8,192 each"),
    ("train.hidden", "400,9000", "hidden must be 1 to 8,192 each, got 400,9000"),
])
def test_out_of_range_values_are_said_next_to_the_field_and_block_start(key, text, words):
    """Every number field refuses what it cannot take, with its range (from the knob's declaration),
    keeps what was typed (never silently replaced), and Start waits."""
    at = open_app("pages/train.py")
    assert "1 to 1,024" in at.text_input(key="train.latent_dim").label  # the range is in the label
    at.text_input(key=key).set_value(text).run()
    assert any(words in e.value for e in at.error), (key, text, [e.value for e in at.error])
    assert at.text_input(key=key).value == text
    assert at.button(key="train.start").disabled
    good = {"train.latent_dim": "2", "train.epochs": "20", "train.lr": "0.001", "train.hidden": "400"}[key]
    at.text_input(key=key).set_value(good).run()
    assert not at.error and not at.button(key="train.start").disabled


def test_small_values_read_as_typed_and_train_with_that_value():
    at = open_app("pages/train.py")
    at.text_input(key="train.lr").set_value("1e-6").run()
    assert not at.error and at.text_input(key="train.lr").value == "1e-6"  # not "0.0000"
    from ui import knobs
    assert knobs.KNOBS["lr"].format(knobs.KNOBS["lr"].parse("0.000001")) == "1e-06"


def test_bad_hyperparameter_is_a_message_not_a_traceback_and_does_not_outlive_the_next_start():
    at = open_app("pages/train.py")
    at.selectbox(key="train.model").set_value("dae").run()  # each value in range, the pair not:
    at.selectbox(key="train.corruption").set_value("masking").run()  # a fraction of the pixels
    at.text_input(key="train.noise").set_value("1.5").run()  # ... of 1.5
    at.button(key="train.start").click().run()
    assert not at.exception
    assert any("Cannot start: noise fraction must be" in e.value for e in at.error)
    assert "train.run" not in at.session_state
    at.text_input(key="train.noise").set_value("0.5").run()
    assert any("Cannot start" in e.value for e in at.error)  # kept until the next action ...
    start_training(at, 1)  # ... which succeeds: the old error is gone
    assert not at.error


def sidebar_only():
    """The app's sidebar alone. (AppTest loses the sidebar of an st.navigation app after a file
    upload, so the upload flow is driven on the sidebar itself; the browser test covers the app.)"""
    from ui import runs, sidebar, widgets

    widgets.init()
    runs.init()
    sidebar.render()


def test_uploading_a_pickle_is_refused_and_a_real_checkpoint_is_loaded_twice_as_two_runs():
    at = AppTest.from_function(sidebar_only, default_timeout=120).run()
    ws = workspace(at)
    evil = pickle.dumps({"weights": np.zeros(3)})
    at.sidebar.file_uploader(key="sidebar.upload").set_value(("evil.safetensors", evil, "application/octet-stream")).run()
    assert not at.exception
    assert any("pickle" in e.value for e in at.sidebar.error)
    assert ws.active is None and not [r for r in ws.runs() if not r.readonly]
    # a real checkpoint, under another name, is validated and becomes the active model; the same
    # file again (as downloaded from the app) is a second run that hides nothing
    blob = zoo.load_manifest()[-1].path.read_bytes()
    for _ in range(2):
        at.sidebar.file_uploader(key="sidebar.upload").set_value(("mine #1 · β.safetensors", blob, "application/octet-stream")).run()
        assert not at.exception and not at.sidebar.error  # the pickle's error is gone too
    uploaded = [r for r in ws.runs() if r.origin == "uploaded"]
    assert len(uploaded) == 2 and ws.active == uploaded[0].id and uploaded[0].name == "mine #1 · β"


def test_sessions_are_isolated():
    """Two browser sessions (two workspaces): one trains, the other sees neither its run nor its model."""
    trainer, explorer = open_app("pages/train.py"), open_app()
    run_id = start_training(trainer, 2)
    assert trainer.session_state["ws"] != explorer.session_state["ws"]
    wait_for(lambda: workspace(trainer).get(run_id).status == "done")
    explorer.run()
    assert run_id not in [r.id for r in workspace(explorer).runs()]
    assert active_id(explorer) != run_id and "train.run" not in explorer.session_state


def test_the_same_workspace_in_a_second_tab_sees_the_runs_and_the_active_model():
    first = open_app("pages/train.py")
    run_id = start_training(first, 2)
    wait_for(lambda: workspace(first).get(run_id).status == "done")
    second = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    second.query_params["ws"] = first.session_state["ws"]
    second.run()
    assert second.session_state["ws"] == first.session_state["ws"] and active_id(second) == run_id


def test_live_beta_is_kept_across_page_switches_and_stop_keeps_the_model():
    from ui import runs

    at = open_app("pages/train.py")
    run_id = start_training(at, 2000, model="beta_vae")
    handle = runs.executor().handle(run_id)
    wait_for(lambda: handle.view.status == "running")
    at.run()
    at.slider(key=f"train.live_beta.{run_id}").set_value(3.0).run()
    assert handle.beta == 3.0
    at.switch_page("pages/latent.py").run()
    at.switch_page("pages/train.py").run()  # back: the slider shows the value the user chose ...
    assert at.slider(key=f"train.live_beta.{run_id}").value == 3.0
    step = handle.view.step
    wait_for(lambda: handle.view.step > step + 20)
    at.button(key="train.stop").click().run()
    assert handle.join(60)
    v = handle.view
    assert v.status == "stopped" and v.history["beta"][0] == 4.0 and v.history["beta"][-1] == 3.0
    ws = workspace(at)
    assert [b for _, b in ws.get(run_id).beta_changes] == [3.0]  # ... and the job never got another value
    assert "β 4→3" in ws.get(run_id).name  # the name says the β it started with and the one it ended on
    assert ws.checkpoint(run_id).config.beta == 3.0  # saved with the beta it ended on
    wait_for(lambda: active_id(at) == run_id, at)


def test_the_sidebar_loss_adds_up():
    """loss = recon + β·KL, with the numbers, for the active model (the default pretrained VAE)."""
    at = AppTest.from_function(sidebar_only, default_timeout=120).run()
    line = next(m.value for m in at.sidebar.markdown if m.value.startswith("validation"))
    loss, recon, beta, kl = map(float, re.search(
        r"loss \*\*([\d.]+)\*\* = recon ([\d.]+) \+ β ([\d.]+) × KL ([\d.]+)", line).groups())
    assert loss == pytest.approx(recon + beta * kl, abs=0.015)
    metrics = shipped_runs()[0].metrics
    assert loss == pytest.approx(metrics["val_loss"], abs=0.005) and kl == pytest.approx(metrics["val_kl"], abs=0.005)


def test_every_script_run_logs_its_page_trigger_and_server_time():
    """The log a load test reads (ui/timing.py): one line per script run, with the page, what set the
    run off and its time. (A fragment's own reruns: tests/test_browser.py, which clicks the map.)"""
    import logging

    from ui.timing import LINE, log

    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    try:
        at = open_app("pages/manifold.py")
        at.slider(key="manifold.n").set_value(9).run()
    finally:
        log.removeHandler(handler)
    runs = [re.fullmatch(LINE, line) for line in lines]
    assert all(runs) and len(runs) >= 3, lines
    assert [(m.group(1), m.group(2)) for m in runs][:1] == [("home", "open")]  # the session's first run
    assert [(m.group(1), m.group(2)) for m in runs][-2:] == [("manifold", "page"), ("manifold", "rerun")], lines
    assert all(float(m.group(3)) > 0 for m in runs)
    # the thread's CPU time is part of its wall time (a 0.5 ms allowance for the two clocks' resolution)
    assert all(0 < float(m.group(4)) <= float(m.group(3)) + 0.5 for m in runs), lines


PROBE = '''
import streamlit as st
from ui import page, run_app_first, widgets
run_app_first()
page.header("A page that one entry in ui.sitemap added.")
st.slider("n", 0, 99, widgets.kept("probe.n", 3), key="probe.n")
'''


def test_a_page_is_its_file_plus_one_entry(tmp_path, monkeypatch):
    """One PageSpec makes a page: it is in the navigation (it opens through app.py, titled as declared),
    keeps its widget's value across a visit elsewhere, and its link parameter round-trips."""
    from ui.params import Param, integer

    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    entry = sitemap.PageSpec("probe", "Probe page", str(script), ":material/science:", "Explore",
                             kept=("probe.n",), params=(Param("n", "probe.n", integer(0, lambda lim: 100)),))
    monkeypatch.setattr(sitemap, "PAGES", [*sitemap.PAGES, entry])
    at = open_app(str(script))
    assert at.title[0].value == "Probe page" and at.slider(key="probe.n").value == 3
    at.slider(key="probe.n").set_value(7).run()
    assert at.query_params["n"] == ["7"] or at.query_params["n"] == "7"  # the address bar: a link to this view
    at.switch_page("pages/manifold.py").run()
    assert "n" not in at.query_params or at.query_params["n"] != "7"  # another page's link says nothing of it
    at.switch_page(str(script)).run()
    assert at.slider(key="probe.n").value == 7  # kept across the visit elsewhere
    # the link, opened in another session, shows the same view
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    other.query_params["n"] = "42"
    other.switch_page(str(script)).run()
    assert not other.exception and other.slider(key="probe.n").value == 42


def test_a_share_link_shows_the_run_in_every_view_without_the_workspaces_rights():
    owner = open_app()
    ws = workspace(owner)
    run = ws.add_upload("teacher's model", zoo.load_manifest()[-1].path.read_bytes())
    share = RunStore().share(ws.id, run.id)
    student = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    student.query_params["model"] = share  # the link: no ws, so the student gets a workspace of their own
    student.run()
    assert not student.exception and student.session_state["ws"] != ws.id
    assert workspace(student).active == share
    sidebar = " ".join(m.value for m in student.sidebar.markdown)
    assert "teacher" in sidebar  # the shared run is the active model ...
    buttons = [b.label for b in student.sidebar.button] + [p.label for p in student.sidebar.get("popover")]
    assert not any(word in " ".join(buttons) for word in ("Rename", "Delete", "Share"))  # ... read-only
    for page in ("pages/latent.py", "pages/diagnostics.py"):  # its model in every view
        student.switch_page(page).run()
        assert not student.exception and not student.error


@pytest.mark.parametrize("ws, words", [("abc", "is not a workspace id"),
                                       ("A" * 22, "Nothing was ever saved in the workspace")])
def test_a_malformed_or_empty_workspace_address_is_said(ws, words):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["ws"] = ws
    at.run()
    assert not at.exception
    assert any(words in w.value for w in at.warning), [w.value for w in at.warning]


def test_an_interrupted_run_shows_its_curves_and_resume(digits_split):
    from conftest import tiny
    from vae_core import Trainer, checkpoint

    trainer = Trainer(tiny("vae", epochs=3), *digits_split, device="cpu")
    for report in trainer.run():
        if report.epoch == 2:
            break
    at = open_app()
    ws = workspace(at)
    run = ws.create(trainer.cfg, "cut short")
    ws.save_checkpoint(run.id, checkpoint.to_bytes(trainer.checkpoint()))
    ws.update(run.id, status="interrupted", progress={"step": trainer.step, "epoch": 2},
              message="training stopped when the server or its worker process did")
    at.switch_page("pages/train.py").run()
    assert not at.exception
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in curves["data"]} >= {"loss", "recon", "kl (right axis)", "val loss"}
    assert any(b.label.startswith("Resume from epoch 2") for b in at.button)
