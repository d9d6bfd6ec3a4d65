"""Issue 7, what a teacher hit: pages that fit the model, honest spinners, the first screen, lesson
links, presentation mode, t-SNE, the cVAE's all-labels grid, sprites coloured by a factor, selections.
AppTest through app.py, as a browser session runs it (ui.page.start reruns a page through app.py)."""
from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from test_app import default_key, workspace
from vae_core import zoo

ROOT = Path(__file__).resolve().parents[1]
ZOO = {e.id: e for e in zoo.load_manifest()}


def open_link(page: str | None = None, **params) -> AppTest:
    """The app opened at a link: its first run is the page, with the query parameters."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = str(v)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def main_texts(at: AppTest) -> str:
    return " ".join(m.value for m in [*at.main.markdown, *at.main.caption, *at.main.info, *at.main.warning])


def param(at: AppTest, name: str) -> str:
    """A query parameter's (last) value; AppTest keeps those it was given as text, those the app set as lists."""
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def chart(at: AppTest, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def widget_labels(at: AppTest) -> list[str]:
    return [w.label for w in [*at.slider, *at.selectbox, *at.radio, *at.toggle, *at.number_input]]


# --- fault 5: pages that fit the model --------------------------------------------------------


def test_the_autoencoders_map_has_no_prior_and_its_switch_is_off():
    at = open_link("pages/latent.py", model="digits-ae-2d")
    at.session_state["latent.prior"] = True  # as left by a VAE visited before
    at.run()
    (switch,) = [t for t in at.toggle if t.label == "Prior"]
    assert switch.value is False and switch.disabled
    fig = chart(at)
    assert not [s for s in fig["layout"].get("shapes", []) if s.get("line", {}).get("dash") == "dot"]
    assert not any("prior" in a.get("text", "") for a in fig["layout"].get("annotations", []))
    vae = open_link("pages/latent.py", model="digits-vae-2d")  # the VAE still draws them
    assert any(s.get("line", {}).get("dash") == "dot" for s in chart(vae)["layout"]["shapes"])


@pytest.mark.parametrize("page", ["pages/latent.py", "pages/manifold.py", "pages/interpolate.py"])
def test_a_2d_points_autoencoder_is_not_spoken_of_as_images_or_a_vae(page):
    at = open_link(page, model="toy2d-ae-2d")
    words = (main_texts(at) + " " + " ".join(widget_labels(at)) + " "
             + " ".join(w.help or "" for w in [*at.slider, *at.radio])).lower()
    for word in ("image", "vae", "pixel", "frame"):
        assert word not in words, (word, words)
    assert "frames in the strip" not in widget_labels(at)  # no slider that does nothing


@pytest.mark.parametrize("page, prefix", [("pages/latent.py", "latent"), ("pages/manifold.py", "manifold")])
def test_x_and_y_are_never_the_same_latent_dim(page, prefix):
    at = open_link(page, model="sprites-betavae")
    x, y = at.selectbox(key=f"{prefix}.d0"), at.selectbox(key=f"{prefix}.d1")
    assert x.value not in y.options and len(y.options) == 7
    y.set_value(4).run()
    at.selectbox(key=f"{prefix}.d0").set_value(4).run()  # x takes y's dim: y moves on
    x, y = at.selectbox(key=f"{prefix}.d0"), at.selectbox(key=f"{prefix}.d1")
    assert x.value == 4 and y.value != 4 and not any(o.split(" ")[0] == "z4" for o in y.options)
    assert not at.exception and not at.warning


@pytest.mark.parametrize("page, prefix", [("pages/latent.py", "latent"), ("pages/manifold.py", "manifold")])
def test_the_axis_boxes_list_dims_by_their_kl(page, prefix):
    """Issue 10: the dims in KL order, labelled 'z3 · 2.1 nats', starting on the two that carry most."""
    from vae_core import zoo
    from vae_core.data import load_split
    from vae_core.latent import encode
    from vae_core.losses import gaussian_kl

    at = open_link(page, model="sprites-betavae")
    x = at.selectbox(key=f"{prefix}.d0")
    entry = next(e for e in zoo.load_manifest() if e.id == "sprites-betavae")
    ckpt = zoo.load_entry(entry)
    model = ckpt.build_model().eval()
    train, val = load_split(ckpt.config)
    mu, logvar = encode(model, torch.cat([train.x, val.x]))
    kl = gaussian_kl(mu.double(), logvar.double()).mean(0)  # (D,) nats, computed here, not by the page
    dims = [int(o.split(" ")[0][1:]) for o in x.options]
    shown = [float(o.split(" · ")[1].removesuffix(" nats")) for o in x.options]
    assert sorted(dims) == list(range(len(kl))) and shown == sorted(shown, reverse=True)
    for d, nats in zip(dims, shown):  # the page's map holds a sample of the data: the same KL within 0.1
        assert nats == pytest.approx(float(kl[d]), abs=0.1), (d, nats, float(kl[d]))
    assert sorted([x.value, at.selectbox(key=f"{prefix}.d1").value]) == sorted(dims[:2])


# --- fault 7: the quantile grid's caption; fault 8: spinners; fault 9: the file watcher --------


def test_the_span_slider_says_it_does_not_apply_to_the_quantile_grid():
    at = open_link("pages/manifold.py", spacing="quantile", n=15)
    assert at.slider(key="manifold.span").disabled
    assert "±1.83 for n = 15" in main_texts(at) and "span slider does not apply" in main_texts(at)


def cache_decorators():
    for path in [*ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in node.decorator_list:
                    target = d.func if isinstance(d, ast.Call) else d
                    if ast.unparse(target) in ("st.cache_resource", "st.cache_data"):
                        yield f"{path.name}:{node.name}", d


def test_no_spinner_shows_an_internal_function_name():
    found = list(cache_decorators())
    assert len(found) >= 6
    for name, d in found:  # Streamlit's default spinner is "Running `_points(...)`."
        spinner = {k.arg: k.value for k in getattr(d, "keywords", [])}.get("show_spinner")
        assert spinner is not None, f"{name}: st.cache_* without show_spinner shows the function's name"
        value = ast.literal_eval(spinner)
        assert value is False or (isinstance(value, str) and "_" not in value and "(" not in value), name


def test_the_tsne_view_promises_nothing_and_shows_progress():
    source = (ROOT / "pages/latent.py").read_text() + (ROOT / "ui/views.py").read_text()
    assert "a few seconds" not in source
    at = open_link("pages/latent.py", model="sprites-betavae", view="tsne")
    assert at.radio(key="latent.view").value == "t-SNE" and not at.exception
    assert chart(at)["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"


def test_the_file_watcher_is_off_for_serving_and_the_readme_says_how_to_turn_it_on():
    config = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert "--server.fileWatcherType auto" in (ROOT / "README.md").read_text()


# --- feature 1: the first screen ----------------------------------------------------------------


def test_the_first_screen_names_the_app_and_links_three_first_steps():
    at = open_link()
    assert at.title[0].value == "Latent Explorer"
    links = at.get("page_link")
    targets = [json.loads(json.dumps(l.proto.page)) for l in links]
    labels = [l.proto.label for l in links]
    assert len(links) == 3, labels
    assert ["map" in labels[0], "manifold" in labels[1], "β" in labels[2]] == [True] * 3
    assert [t.rsplit("/", 1)[-1] for t in targets] == ["latent", "manifold", "train"]


# --- feature 3: lesson links --------------------------------------------------------------------


def test_a_lesson_link_restores_the_view_and_keeps_unknown_parameters():
    at = open_link("pages/manifold.py", model="sprites-betavae", x=2, y=5, n=9, span=2.5, spacing="linear", room="12")
    assert workspace(at).active == "zoo.sprites-betavae"
    assert (at.selectbox(key="manifold.d0").value, at.selectbox(key="manifold.d1").value) == (2, 5)
    assert at.slider(key="manifold.n").value == 9 and at.slider(key="manifold.span").value == 2.5
    assert param(at, "room") == "12" and param(at, "ws")  # parameters this module does not own stay
    # a change is written back to the address bar, and the link reproduces it
    at.slider(key="manifold.n").set_value(12).run()
    assert param(at, "n") == "12" and param(at, "room") == "12"
    again = open_link("pages/manifold.py", **{k: param(at, k) for k in at.query_params})
    assert again.slider(key="manifold.n").value == 12 and again.selectbox(key="manifold.d1").value == 5


def test_interpolation_end_points_and_path_come_from_the_link():
    at = open_link("pages/interpolate.py", model="digits-vae-2d", a=7, b=42, path="spherical", t=0.3)
    key = ZOO["digits-vae-2d"].sha256
    assert at.session_state[f"interp.ends.{key}"] == [7, 42]
    assert at.radio(key="interp.method").value == "spherical" and at.slider(key="interp.t").value == 0.3
    assert "#7" in main_texts(at) and "#42" in main_texts(at)


def test_a_bad_value_in_a_link_is_named_and_the_rest_applies():
    at = open_link("pages/manifold.py", x=0, y=9, n=8, model="no-such-model")
    warning = " ".join(w.value for w in at.warning)
    assert "y=9" in warning and "0 … 1" in warning and "no-such-model" in warning
    assert at.slider(key="manifold.n").value == 8 and not at.exception


def test_hide_flags_drop_the_train_page_and_the_explanations():
    at = open_link("pages/latent.py", hide="train,explain")
    assert "Each dot is one example" not in main_texts(at)
    assert param(at, "hide") == "explain,train"
    with pytest.raises(ValueError):  # not a registered page any more
        at.switch_page("pages/train.py").run()


# --- feature 4: presentation mode ---------------------------------------------------------------


def test_presentation_mode_enlarges_text_markers_and_lines():
    normal = chart(open_link("pages/latent.py"))
    at = open_link("pages/latent.py", present=1)
    big = chart(at)
    assert big["layout"]["font"]["size"] > normal["layout"]["font"]["size"] >= 12
    assert big["data"][0]["marker"]["size"] > normal["data"][0]["marker"]["size"]
    assert big["data"][0]["marker"]["color"] != normal["data"][0]["marker"]["color"]  # the projector palette
    assert any("font-size" in h.proto.body for h in at.get("html"))
    assert param(at, "present") == "1"


def test_presentation_mode_draws_bar_charts_too(monkeypatch):
    """A bar's marker has no size: scaling it raised AttributeError, so in presentation mode every bar
    chart (the Diagnostics page's KL per dim, the Latent panel's μ per dim, the Train page's KL) was an
    error box instead."""
    at = open_link("pages/diagnostics.py", present=1)  # (open_link asserts no exception)
    assert at.get("plotly_chart")
    from ui import plots, presentation
    monkeypatch.setattr(presentation, "is_on", lambda: True)
    for fig in (plots.per_dim_bars(np.array([0.5, -1.0]), np.array([0.1, 0.2])), plots.kl_bars([0.1, 2.0]),
                plots.styled(plots.go.Figure(plots.go.Bar(x=["z0"], y=[1.0])))):
        assert fig.layout.font.size == presentation.PROJECTOR.font
    big = plots.points_2d(np.zeros((3, 2)), np.array([0, 1, 2])).data[0].marker.size
    monkeypatch.setattr(presentation, "is_on", lambda: False)
    assert big == plots.points_2d(np.zeros((3, 2)), np.array([0, 1, 2])).data[0].marker.size * presentation.PROJECTOR.marker


# --- features 6, 7, 8 ---------------------------------------------------------------------------


def test_the_conditional_vaes_all_labels_grid():
    at = open_link("pages/manifold.py", model="digits-cvae-2d", labels="all", n=8)
    assert at.radio(key="manifold.labels").value == "all labels"
    assert "row = label" in main_texts(at)
    (img,) = [m.value for m in at.main.markdown if "data:image/png" in m.value]
    from test_app import pictures  # noqa: F401 (the same inline-picture convention)
    import base64, io
    from PIL import Image
    png = Image.open(io.BytesIO(base64.b64decode(img.split("base64,")[1].split('"')[0])))
    side = max(24, 720 // 8) // 8 * 8 + 1  # tile pitch: 8x8 digits scaled by whole pixels, 1 px border
    assert (png.height - 1) // side == 10 and (png.width - 1) // side == 8  # 10 labels x 8 codes


def test_sprites_coloured_by_rotation():
    at = open_link("pages/latent.py", model="sprites-betavae", colour="rotation")
    (trace,) = chart(at)["data"]
    idx = np.array([int(c[0]) for c in trace["customdata"]])
    colours = np.array(trace["marker"]["color"] if isinstance(trace["marker"]["color"], list) else
                       np.frombuffer(__import__("base64").b64decode(trace["marker"]["color"]["bdata"]),
                                     trace["marker"]["color"]["dtype"]))
    from ui import views  # the map's points: the same cached split the page shows
    train, val = views.split("sprites", 0, 0.1)  # the map shows the whole dataset: train, then val
    factors = val.factors if len(val) >= views.MAP_MIN_VAL else torch.cat([train.factors, val.factors])
    rotation = factors[:, list(val.factor_names).index("rotation")].numpy()
    np.testing.assert_allclose(colours, rotation[idx], rtol=1e-6)
    assert trace["marker"]["colorbar"]["title"]["text"] == "rotation"


def test_a_box_selection_shows_every_selected_example():
    at = open_link("pages/latent.py")
    key = default_key()
    at.session_state[f"latent.selected.{key}"] = list(range(30))
    at.run()
    text = main_texts(at)
    assert "30 selected" in text and "all 30" in text
    pictures = [m.value for m in at.main.markdown if "data:image/png" in m.value]
    assert len(pictures) == 2  # the first example's panel, and all thirty
    at.session_state[f"latent.selected.{key}"] = list(range(100))
    at.run()
    assert "48 of 100, spread evenly" in main_texts(at)


def test_the_switch_turns_presentation_mode_on():  # (a Train link's β: tests/test_browser_teacher.py)
    page = open_link("pages/latent.py")
    assert not page.get("html") or not any("font-size: 22px" in h.proto.body for h in page.get("html"))
    page.toggle(key="view.present.toggle").set_value(True).run()
    assert any("font-size: 22px" in h.proto.body for h in page.get("html")) and param(page, "present") == "1"
    assert chart(page)["layout"]["font"]["size"] == 20


def test_pictures_are_encoded_once_by_content_and_the_cache_is_bounded(monkeypatch):
    """ui.picture.data_uri keeps the last URIS_KEPT URIs by content: the same pixels come back as the
    same PNG without encoding them again; other pixels, or the same bytes in another shape, are a
    PNG of their own; and the cache never holds more than its bound."""
    import base64
    import io

    from PIL import Image

    from ui import picture

    monkeypatch.setattr(picture, "_URIS", type(picture._URIS)())
    monkeypatch.setattr(picture, "_uris_chars", 0)
    monkeypatch.setattr(picture, "URIS_KEPT", 3)
    decoded = lambda uri: np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))  # noqa: E731
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    first = picture.data_uri(a)
    assert picture.data_uri(a.copy()) is first and np.array_equal(decoded(first), a)  # a hit: the same object
    for other in (a.reshape(6, 4), 255 - a, rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)):
        assert np.array_equal(decoded(picture.data_uri(other)), other)
    assert len(picture._URIS) == 3 and picture.data_uri(a) is not first  # `a` was the oldest: let go
    big = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # noise: its PNG is about 16 KB
    monkeypatch.setattr(picture, "URIS_BYTES", len(picture.data_uri(big)) - 1)  # less than it alone
    small = picture.data_uri(rng.integers(0, 256, (3, 3), dtype=np.uint8))
    assert list(picture._URIS.values()) == [small]  # the characters in all are bounded too
