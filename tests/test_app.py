"""AppTest: each page's main flow runs headless, widgets act, session state holds."""
from __future__ import annotations

import base64
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["pages/latent.py", "pages/manifold.py", "pages/interpolate.py", "pages/train.py"]


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


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
    assert at.title[0].value == "Latent Explorer"  # the first screen (ui/home.py) ...
    at.switch_page("pages/latent.py").run()          # ... its first step: the map
    assert at.title[0].value == "Latent space"
    active = at.session_state["model.active"]
    assert active is not None
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "digits" in sidebar and "latent_dim = 2" in sidebar
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    n_points = sum(n_values(t["x"]) for t in fig["data"] if t.get("type") == "scattergl")
    assert n_points >= 1000  # the encoded digits, not an empty chart


def test_selecting_a_point_shows_its_reconstruction_and_numbers():
    at = open_app("pages/latent.py")
    key = at.session_state["model.active"]
    at.session_state[f"latent.selected.{key}"] = [5, 9]
    at.run()
    assert not at.exception
    assert "Example #5" in texts(at)
    assert len(pictures(at)) == 2  # the first one's panel, and both selected (tests/test_teacher.py)
    labels = [m.label for m in at.metric]
    assert any("recon" in label for label in labels) and any("KL" in label for label in labels)


def test_latent_views_for_a_higher_dimensional_model():
    """The sprites beta-VAE (8 latent dims): choose two dims, then PCA, then t-SNE."""
    from vae_core import zoo

    sprites = next(e for e in zoo.load_manifest() if e.id == "sprites-betavae")
    at = open_app("pages/latent.py")
    at.session_state["model.active"] = sprites.sha256
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
        assert sum(n_values(t["x"]) for t in fig["data"] if t.get("type") == "scattergl") == 1000


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
    assert "t = 0.80" in texts(at)
    at.radio(key="interp.how").set_value("by class").run()
    at.selectbox(key="interp.ca").set_value(3).run()
    at.selectbox(key="interp.cb").set_value(8).run()
    assert not at.exception
    key = at.session_state["model.active"]
    ia, ib = at.session_state[f"interp.ends.{key}"]
    assert "(3)" in texts(at) and "(8)" in texts(at)
    assert ia != ib


def test_training_runs_in_the_background_and_becomes_the_active_model():
    at = open_app("pages/train.py")
    before = at.session_state["model.active"]
    at.number_input(key="train.epochs").set_value(2).run()
    at.button(key="train.start").click().run()
    assert not at.exception
    job = at.session_state["train.job"]
    job.join(timeout=120)
    assert job.view.status == "done", job.view.message
    deadline = time.monotonic() + 30
    while at.session_state["model.active"] == before and time.monotonic() < deadline:
        at.run()
    assert at.session_state["model.active"] != before
    item = at.session_state["model.library"][at.session_state["model.active"]]
    assert item.origin == "trained" and item.ckpt.progress["epoch"] == 2
    assert "val_loss" in item.ckpt.metrics
    at.switch_page("pages/latent.py").run()  # the new model is explorable
    assert not at.exception and not at.error


def test_bad_hyperparameter_is_a_message_not_a_traceback():
    at = open_app("pages/train.py")
    at.text_input(key="train.hidden.mlp").set_value("400,abc").run()
    at.button(key="train.start").click().run()
    assert not at.exception
    assert any("hidden" in e.value for e in at.error)
    assert "train.job" not in at.session_state


def sidebar_only():
    """The app's sidebar alone. (AppTest loses the sidebar of an st.navigation app after a file
    upload, so the upload flow is driven on the sidebar itself; the browser test covers the app.)"""
    from ui import sidebar, state

    state.init()
    sidebar.render()


def test_uploading_a_pickle_is_refused_and_a_real_checkpoint_is_loaded():
    at = AppTest.from_function(sidebar_only, default_timeout=120).run()
    before = at.session_state["model.active"]
    evil = pickle.dumps({"weights": np.zeros(3)})
    at.sidebar.file_uploader(key="sidebar.upload").set_value(("evil.safetensors", evil, "application/octet-stream")).run()
    assert not at.exception
    assert any("pickle" in e.value for e in at.sidebar.error)
    assert at.session_state["model.active"] == before and not at.session_state["model.library"]
    # a real checkpoint, under another name, is validated and becomes the active model
    from vae_core import zoo
    blob = zoo.load_manifest()[-1].path.read_bytes()
    at.sidebar.file_uploader(key="sidebar.upload").set_value(("mine.safetensors", blob, "application/octet-stream")).run()
    assert not at.exception and not at.sidebar.error
    active = at.session_state["model.library"][at.session_state["model.active"]]
    assert active.origin == "uploaded" and active.label.startswith("mine")


def test_sessions_are_isolated():
    """Two browser sessions: one trains, the other sees neither its job nor its model."""
    trainer, explorer = open_app("pages/train.py"), open_app()
    trainer.number_input(key="train.epochs").set_value(2).run()
    trainer.button(key="train.start").click().run()
    trainer.session_state["train.job"].join(timeout=120)
    deadline = time.monotonic() + 30
    while not trainer.session_state["model.library"] and time.monotonic() < deadline:
        trainer.run()
    assert len(trainer.session_state["model.library"]) == 1
    explorer.run()
    assert "train.job" not in explorer.session_state
    assert explorer.session_state["model.library"] == {}
    assert explorer.session_state["model.active"] != trainer.session_state["model.active"]


def test_beta_changes_while_training_and_stop_keeps_the_model():
    at = open_app("pages/train.py")
    at.selectbox(key="train.model").set_value("beta_vae")
    at.number_input(key="train.epochs").set_value(1000).run()
    at.button(key="train.start").click().run()
    job = at.session_state["train.job"]
    deadline = time.monotonic() + 60
    while job.view.status != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    at.slider(key=f"train.live_beta.{id(job)}").set_value(0.5).run()
    assert job.beta == 0.5
    step = job.view.step
    while job.view.step < step + 20 and time.monotonic() < deadline:  # some steps with the new beta
        time.sleep(0.1)
    at.button(key="train.stop").click().run()
    job.join(timeout=30)
    assert job.view.status == "stopped" and job.view.step < job.view.total_steps
    assert job.view.history["beta"][-1] == 0.5 and job.view.history["beta"][0] == 4.0
    at.run()
    active = at.session_state["model.library"][at.session_state["model.active"]]
    assert active.origin == "trained" and active.ckpt.config.beta == 0.5  # saved with the beta it ended on
