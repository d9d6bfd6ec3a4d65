"""AppTest of your own data in the app: the Your data page converts, previews and adds an upload, refuses
every hostile file with its message and writes nothing; the Train form offers the workspace's datasets by
name; every page works on a model of one (read from its workspace, or its owner's for a shared run)."""
from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import own_files as of
from conftest import tiny
from vae_core import Trainer, checkpoint
from vae_core.data import load_split, own
from vae_core.runs import RunStore
from vae_core.runs.store import default_root  # the app's runs root ($VAE_CORE_RUNS: tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
EXPLORERS = ["pages/latent.py", "pages/manifold.py", "pages/interpolate.py", "pages/diagnostics.py",
             "pages/rate_distortion.py", "pages/datasets.py", "pages/train.py"]


def open_page(page: str = "pages/datasets.py", query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def workspace(at: AppTest):
    return RunStore().workspace(at.session_state["ws"])


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    box = next(u for u in at.file_uploader if u.key and u.key.startswith("data.upload."))
    return box.set_value([(name, blob, "application/octet-stream") for name, blob in files]).run()


def n_values(column) -> int:
    """Length of a Plotly data column: a plain list, or a typed array {"dtype", "bdata": base64}."""
    if isinstance(column, dict):
        return len(base64.b64decode(column["bdata"])) // np.dtype(column["dtype"]).itemsize
    return len(column)


def texts(at: AppTest) -> str:
    return " ".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning, *at.success])


def chart(at: AppTest, key: str) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)


@pytest.fixture(scope="module")
def digits_zip():
    """300 MNIST digits, dark on light, as PNGs in folders named by their label; and their labels."""
    x, y = of.digits(300)
    return of.zip_of(of.labelled_pngs(x, y, dark_on_light=True)), y


def test_a_zip_is_converted_previewed_and_added_to_the_workspace(digits_zip):
    blob, y = digits_zip
    at = open_page()
    root = default_root()
    before = of.files_under(root)
    upload(at, ("digits.zip", blob))
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = texts(at)
    assert "**300** examples" in shown and "**1x28x28 grey, inverted**" in shown and f"**{len(set(y))}** labels" in shown
    assert "light background: inverted" in shown  # the conversion's notes
    bars = chart(at, "data.preview.counts")["data"][0]
    assert dict(zip(bars["x"], bars["y"])) == {str(k): v for k, v in Counter(y.tolist()).items()}
    (grid,) = [m.value for m in at.markdown if 'alt="64 examples' in m.value]
    assert grid.count("<img") == 1
    assert of.files_under(root) == before  # converted and shown: nothing written yet

    at.button(key="data.add").click().run()
    assert not at.exception
    ws = workspace(at)
    (info,) = ws.datasets()
    assert info.id == own.from_files([("digits.zip", blob)]).digest and info.name == "digits" and info.count == 300
    assert any(u.key == "data.upload.1" for u in at.file_uploader)  # a fresh upload box: the files let go
    assert "digits" in texts(at) and "1x28x28 grey" in texts(at)   # listed with its numbers

    at.switch_page("pages/train.py").run()
    box = at.selectbox(key="train.dataset")
    assert box.value == info.dataset == f"ws:{info.id}" and "digits · your data" in box.options


def test_the_options_are_the_fields_of_Options_and_change_the_conversion(digits_zip):
    at = open_page()
    for f in fields(own.Options):  # one input per option, its choices declared once
        assert len(at.selectbox(key=f"data.{f.name}").options) == len(f.metadata["choices"])
    upload(at, ("digits.zip", digits_zip[0]))
    at.selectbox(key="data.size").set_value("32").run()
    at.selectbox(key="data.invert").set_value("no").run()
    assert not at.exception and not at.error
    shown = texts(at)
    assert "**1x32x32 grey**" in shown and "inverted" not in shown


def test_every_hostile_file_is_refused_in_the_page_and_nothing_is_written(tmp_path):
    marker = tmp_path / "unpickled"
    at = open_page()
    root = default_root()
    before = of.files_under(root)
    for name, blob, words in of.hostile_files(marker):
        upload(at, (name, blob))
        assert not at.exception, (name, at.exception)
        errors = [e.value.replace("\\", "") for e in at.error]  # (shown as plain text: markdown escaped)
        assert len(errors) == 1 and "nothing was kept" in errors[0], (name, errors)
        assert words in errors[0] and name in errors[0], (name, errors[0])
        assert not any(b.key == "data.add" for b in at.button), name  # nothing to add
    assert of.files_under(root) == before and not marker.exists()
    assert workspace(at).datasets() == []


def test_idx_images_and_their_labels_uploaded_together_are_one_dataset():
    x, y = of.digits(50)
    at = open_page()
    upload(at, ("t10k-images-idx3-ubyte.gz", gzip.compress(of.idx(x))), ("t10k-labels-idx1-ubyte", of.idx(y.astype(np.uint8))))
    assert not at.error, [e.value for e in at.error]
    shown = texts(at)
    assert "**50** examples" in shown and "**1x28x28 grey**" in shown and f"**{len(set(y))}** labels" in shown
    bars = chart(at, "data.preview.counts")["data"][0]
    assert dict(zip(bars["x"], bars["y"])) == {str(k): v for k, v in Counter(y.tolist()).items()}


def test_a_csv_of_points_gets_the_gaussian_likelihood_on_the_train_form():
    rows = [[*np.round(np.random.default_rng(i).normal(size=3), 3), f"c{i % 3}"] for i in range(120)]
    at = open_page()
    upload(at, ("blobs.csv", of.csv_text(rows, ["x", "y", "z", "label"])))
    assert "**3-D points**" in texts(at) and chart(at, "data.preview.points")
    at.button(key="data.add").click().run()
    info = workspace(at).datasets()[0]
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="train.dataset").value == info.dataset
    assert at.selectbox(key="train.likelihood").value == "gaussian"
    at.selectbox(key="train.dataset").set_value("digits").run()
    assert at.selectbox(key="train.likelihood").value == "bernoulli"
    at.selectbox(key="train.dataset").set_value(info.dataset).run()
    assert at.selectbox(key="train.likelihood").value == "gaussian"


def _kinds():
    x, y = of.digits(240)
    colour = np.stack([x, np.roll(x, 3, axis=1), x // 2], -1)
    rng = np.random.default_rng(0)
    return {
        "grey zip": ([("d.zip", of.zip_of(of.labelled_pngs(x, y)))], {}, "bernoulli", 2),
        "colour npz 32": ([("c.npz", of.npz(x=colour, y=y))], {"size": "32"}, "bernoulli", 2),
        "unlabelled npy, not square": ([("n.npy", of.npy(x[:, :20, :]))], {}, "bernoulli", 2),
        "3-D points": ([("p.csv", of.csv_text([[*rng.normal(size=3).round(3), i % 4] for i in range(300)],
                                              ["a", "b", "c", "label"]))], {}, "gaussian", 3),
        "1-D points": ([("q.csv", of.csv_text([[v] for v in rng.normal(size=300).round(3)], ["a"]))], {}, "gaussian", 2),
    }


def trained_run(ws, info, likelihood: str, latent_dim: int, name: str, seed: int = 0):
    """A tiny VAE trained here on the workspace's dataset, kept as a finished run."""
    cfg = tiny("vae", dataset=info.dataset, latent_dim=latent_dim, likelihood=likelihood, seed=seed)
    trainer = Trainer(cfg, *load_split(cfg, workspace=ws.folder), device="cpu")
    for _ in trainer.run():
        pass
    run = ws.create(cfg, name)
    ws.save_checkpoint(run.id, checkpoint.to_bytes(trainer.checkpoint()))
    return ws.update(run.id, status="done", metrics=trainer.checkpoint().metrics)


def with_digits(name: str, page: str = "pages/datasets.py", runs: int = 1):
    """A session on `page` whose workspace holds the grey digits as its dataset `name`, and `runs` tiny
    VAEs trained on it (seeds 0, 1, ...): -> (AppTest, workspace, DatasetInfo, [Run])."""
    files, _, likelihood, latent_dim = _kinds()["grey zip"]
    at = open_page(page)
    ws = workspace(at)
    info = ws.add_dataset(name, files)
    return at, ws, info, [trained_run(ws, info, likelihood, latent_dim, f"seed {s}", seed=s) for s in range(runs)]


@pytest.mark.parametrize("kind", list(_kinds()))
def test_every_page_works_on_a_model_of_a_workspace_dataset(kind):
    files, options, likelihood, latent_dim = _kinds()[kind]
    at = open_page("pages/latent.py")
    ws = workspace(at)
    info = ws.add_dataset(kind, files, own.Options(**options))
    run = trained_run(ws, info, likelihood, latent_dim, f"on {kind}")
    ws.active = run.id
    for page in EXPLORERS:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
    at.switch_page("pages/latent.py").run()
    sidebar = " ".join(m.value for m in at.sidebar.markdown).replace("\\", "")
    assert f"on **{kind}**" in sidebar and "ws:" not in sidebar  # its name, not ws:<id>
    fig = chart(at, "latent.map")
    traces = [t for t in fig["data"] if t.get("type") == "scattergl"]
    labels = info.labels or {"all": info.count}
    assert [t["name"] for t in traces] == list(labels)  # one colour per label; unlabelled: one
    assert "Hover a point" in texts(at) if len(info.image_shape) == 3 else "Hover a point" not in texts(at)
    at.session_state[f"latent.selected.{ws.checkpoint_stamp(run.id)}"] = [1, 2, 3]
    if len(info.image_shape) == 3:
        at.toggle(key="latent.images").set_value(True)  # the pictures at their places, any shape
    at.run()
    assert not at.exception, at.exception


def test_a_lesson_link_opens_a_model_of_a_workspace_dataset_in_a_new_session():
    _, ws, info, (run,) = with_digits("my digits")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for k, v in {"ws": ws.id, "model": run.id, "n": "7", "span": "2"}.items():
        at.query_params[k] = v
    at.switch_page("pages/manifold.py").run()  # the link's page is the session's first run
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.slider(key="manifold.n").value == 7 and "on **my digits**" in " ".join(m.value for m in at.sidebar.markdown)


def test_compare_runs_on_the_same_workspace_dataset():
    at, ws, info, runs = with_digits("my digits", "pages/latent.py", runs=2)
    at.session_state["compare.chosen"] = [r.id for r in runs]
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    maps = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "compare-map" in c.proto.id or
            "compare.map" in c.proto.id]
    assert len(maps) == 2 and "examples of my digits" in texts(at)


def test_a_shared_run_reads_its_data_from_its_owners_workspace():
    _, owner, info, (run,) = with_digits("theirs")
    token = RunStore().share(owner.id, run.id)
    at = open_page("pages/latent.py", {"model": token})
    assert not at.error, [e.value for e in at.error]
    fig = chart(at, "latent.map")
    assert sum(n_values(t["x"]) for t in fig["data"] if t.get("type") == "scattergl") == info.count
    assert workspace(at).datasets() == []  # the opener's workspace holds none: they are read from the owner's
    assert "theirs" in " ".join(m.value for m in at.sidebar.markdown)


def test_a_dataset_in_use_by_a_live_run_is_not_deleted_and_then_is():
    at, ws, info, (run,) = with_digits("busy data")
    ws.update(run.id, status="running")
    at.run()
    at.button(key=f"data.delete.{info.id}").click().run()
    assert any("still training" in e.value for e in at.error) and ws.datasets() != []
    ws.update(run.id, status="done")
    at.button(key=f"data.delete.{info.id}").click().run()
    assert not at.exception and ws.datasets() == []
    assert any("Deleted busy data" in s.value for s in at.success)
    at.switch_page("pages/train.py").run()
    assert info.dataset not in at.selectbox(key="train.dataset").options
    ws.active = run.id
    at.switch_page("pages/latent.py").run()
    assert any("a deleted dataset" in e.value for e in at.error)  # said, not a traceback


def test_a_link_that_hides_training_hides_adding_data_too():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params["hide"] = "train"
    at.run()
    with pytest.raises(ValueError):  # not a registered page: a class exploring fixed models uploads nothing
        at.switch_page("pages/datasets.py").run()


def test_a_checkpoint_over_its_limit_is_refused_though_the_server_takes_datasets():
    from ui.sidebar import CHECKPOINT_MB

    at = open_page()
    box = at.sidebar.file_uploader[0]
    data_box = next(u for u in at.file_uploader if u.key and u.key.startswith("data.upload."))
    assert box.proto.max_upload_size_mb == CHECKPOINT_MB < data_box.proto.max_upload_size_mb
    root = default_root()
    before = of.files_under(root)
    box.set_value(("big.safetensors", b"\0" * (CHECKPOINT_MB * 2**20 + 1), "application/octet-stream")).run()
    assert not at.exception
    assert any(f"the {CHECKPOINT_MB} MB a checkpoint may be" in e.value for e in at.sidebar.error)
    assert of.files_under(root) == before
