"""Your own dataset in the run store: kept per workspace in a safe format, counted against its quota,
found by its workers (a local process: the folder; a Ray worker: the bytes); every hostile file refused
with its reason and nothing written under the runs root; the readers fuzzed as the checkpoint loader is."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny
from needs import require_ray
from own_files import csv_text, digits, hostile_files, idx, jpeg, labelled_pngs, npy, npz, png, zip_of
from vae_core import checkpoint
from vae_core.data import DatasetError, load_split, own, pin_split
from vae_core.data.own import DataRefused, stored
from vae_core.metrics import evaluate
from vae_core.runs import RunStore, RunStoreError, make_executor, new_workspace_id
from vae_core.runs.datasets import WorkspaceDatasets, data_folder, key_of, label_of
from vae_core.runs.job import JobSpec, run_job

EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


def all_files(root: Path) -> list[str]:
    """Every file and folder under `root`, but the store's lock files (bookkeeping, not data)."""
    from vae_core.runs.store import LOCKS

    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.relative_to(root).parts[0] != LOCKS) if root.exists() else []


@pytest.fixture()
def store(tmp_path):
    return RunStore(tmp_path / "runs")


@pytest.fixture(scope="module")
def digits_zip() -> bytes:
    x, y = digits(200)
    return zip_of(labelled_pngs(x, y, dark_on_light=True))


def test_a_dataset_belongs_to_its_workspace(store, digits_zip):
    ws, other = store.workspace(new_workspace_id()), store.workspace(new_workspace_id())
    info = ws.add_dataset("my digits", [("digits.zip", digits_zip)])
    assert info.dataset == f"ws:{info.id}" and info.count == 200 and info.image_shape == (1, 28, 28)
    assert info.name == "my digits" and info.labels and sum(info.labels.values()) == 200
    assert [d.id for d in ws.datasets()] == [info.id] and other.datasets() == []
    assert stored.file_in(ws.folder, info.id).is_file()  # inside the workspace's folder: goes with it
    assert ws.used_bytes() >= info.bytes > 200 * 784
    cfg = tiny("vae", dataset=info.dataset)
    train, val = load_split(cfg, workspace=ws.folder)
    assert len(train) + len(val) == 200 and train.image_shape == (1, 28, 28)
    with pytest.raises(DatasetError, match="not in this workspace"):
        load_split(cfg, workspace=other.folder)
    with pytest.raises(DatasetError, match="belongs to a workspace"):
        load_split(cfg)
    again = ws.add_dataset("the same again", [("copy.zip", digits_zip)])
    assert again.id == info.id and len(ws.datasets()) == 1  # the id is the data's digest


def test_preview_and_delete(store, digits_zip):
    ws = store.workspace(new_workspace_id())
    info = ws.add_dataset("d", [("digits.zip", digits_zip)])
    p = ws.dataset_preview(info.id)
    assert p.x.shape == (64, 1, 28, 28) and set(p.y.tolist()) == set(range(10)) and p.counts == info.labels
    assert p.range == (0.0, 1.0) and p.image_shape == (1, 28, 28)
    blob = ws.dataset_blob(info.id)
    assert stored.from_bytes(blob, "d").digest == info.id
    assert label_of(ws, info.dataset) == "d" and label_of(ws, "digits") == "digits"
    ws.delete_dataset(info.id)
    assert ws.datasets() == [] and all_files(ws.folder / stored.FOLDER) == []
    with pytest.raises(RunStoreError):
        ws.dataset(info.id)
    assert label_of(ws, info.dataset).startswith("a deleted dataset")
    assert label_of(ws, f"/data/shoes.zip@size=28,digest={info.id}") == "shoes.zip"


def test_a_dataset_in_use_by_a_live_run_is_not_deleted(store, digits_zip):
    ws = store.workspace(new_workspace_id())
    info = ws.add_dataset("d", [("digits.zip", digits_zip)])
    run = ws.create(tiny("vae", dataset=info.dataset), "on it")  # queued: live
    with pytest.raises(RunStoreError, match="still training"):
        ws.delete_dataset(info.id)
    ws.update(run.id, status="done")
    ws.delete_dataset(info.id)


def test_a_dataset_counts_against_the_quota_and_a_refusal_writes_nothing(store, digits_zip, monkeypatch):
    ws = store.workspace(new_workspace_id())
    monkeypatch.setenv("VAE_CORE_WORKSPACE_MB", "0.05")  # 52 kB: less than the 157 kB of 200 digits
    with pytest.raises(RunStoreError, match="delete some runs or datasets"):
        ws.add_dataset("d", [("digits.zip", digits_zip)])
    assert all_files(store.root) == []


def test_every_hostile_file_is_refused_through_the_store_and_nothing_is_written(store, tmp_path):
    marker = tmp_path / "unpickled"
    ws = store.workspace(new_workspace_id())
    for name, blob, words in hostile_files(marker):
        with pytest.raises(DataRefused) as e:
            ws.add_dataset(name, [(name, blob)])
        message = str(e.value)
        assert name in message and words in message, (name, message)
        assert "\n" not in message
    assert all_files(store.root) == []
    assert not marker.exists()


def test_a_pinned_command_line_name_finds_the_same_data_in_a_workspace(store, tmp_path):
    x, y = digits(100)
    path = tmp_path / "d.npz"
    path.write_bytes(npz(x=x, y=y))
    cfg, train, val = pin_split(tiny("vae", dataset=str(path)), read_files=True)
    ws = store.workspace(new_workspace_id())
    with pytest.raises(DatasetError, match="add the same data"):
        load_split(cfg, workspace=ws.folder)  # the file is there, but a workspace never opens a path
    ws.add_dataset("uploaded", [("d.npz", path.read_bytes())])
    t2, v2 = load_split(cfg, workspace=ws.folder)
    assert torch.equal(v2.x, val.x) and torch.equal(t2.y, train.y)
    assert key_of(cfg.dataset) == ws.datasets()[0].id


def test_a_run_opened_by_its_share_link_finds_its_data_in_its_owners_workspace(store, digits_zip):
    owner, opener = store.workspace(new_workspace_id()), store.workspace(new_workspace_id())
    info = owner.add_dataset("d", [("digits.zip", digits_zip)])
    run = owner.create(tiny("vae", dataset=info.dataset), "shared")
    share = store.share(owner.id, run.id)
    opener.open_shared(share)
    assert data_folder(opener, share) == owner.folder and data_folder(owner, run.id) == owner.folder
    cfg = opener.get(share).config
    with pytest.raises(DatasetError, match="not in this workspace"):
        load_split(cfg, workspace=opener.folder)
    train, val = load_split(cfg, workspace=data_folder(opener, share))
    assert len(train) + len(val) == 200 and opener.datasets() == []


def test_the_stored_file_is_a_safetensors_with_no_pickle(store, digits_zip):
    ws = store.workspace(new_workspace_id())
    info = ws.add_dataset("d", [("digits.zip", digits_zip)])
    from safetensors.numpy import load_file
    tensors = load_file(stored.file_in(ws.folder, info.id))
    assert set(tensors) == {"x", "y"} and tensors["x"].dtype == np.uint8 and tensors["y"].dtype == np.int64


@pytest.mark.parametrize("kind", EXECUTORS)
def test_an_executor_trains_on_a_workspace_dataset_and_the_run_reloads_its_split(kind, tmp_path, digits_zip):
    if kind == "ray":
        require_ray()
    ex = make_executor(RunStore(tmp_path / "runs"), kind, max_jobs=1, min_checkpoint_s=0.0, refresh_s=0.1)
    try:
        ws = ex.store.workspace(new_workspace_id())
        info = ws.add_dataset("digits", [("digits.zip", digits_zip)])
        spec_where = ex._workspace_for(ws, tiny("vae", dataset=info.dataset))
        assert spec_where == ({info.id: ws.dataset_blob(info.id)} if kind == "ray" else str(ws.folder))
        run = ws.create(tiny("vae", dataset=info.dataset, epochs=1), "own data")
        handle = ex.submit(ws, run)
        assert handle.join(180)
        done = ws.get(run.id)
        assert done.status == "done", done.message
        ckpt = ws.checkpoint(run.id)
        assert ckpt.config.dataset == info.dataset and ckpt.image_shape == (1, 28, 28)
        _, val = load_split(ckpt.config, workspace=ws.folder)
        again = evaluate(ckpt.build_model(), val.x, val.y, ckpt.config)
        assert again["val_loss"] == pytest.approx(done.metrics["val_loss"], rel=1e-5)
    finally:
        ex.shutdown()


def test_a_worker_given_the_bytes_trains_without_the_folder(tmp_path, digits_zip):
    conv = own.from_files([("digits.zip", digits_zip)])
    cfg = tiny("vae", dataset=f"ws:{conv.digest}", epochs=1)
    messages = []

    class Go:
        def poll(self):
            return False, [None]

    run_job(JobSpec("r", cfg, workspace={conv.digest: stored.to_bytes(conv)}, refresh_s=60), Go(), messages.append)
    end = messages[-1]
    assert end["kind"] == "end" and end["status"] == "done", end
    blob = next(m["blob"] for m in reversed(messages) if m["kind"] == "checkpoint")
    assert checkpoint.from_bytes(blob).config.dataset == cfg.dataset


def test_a_damaged_stored_dataset_is_left_out_of_the_list_and_refused_on_load(store, digits_zip):
    ws = store.workspace(new_workspace_id())
    info = ws.add_dataset("d", [("digits.zip", digits_zip)])
    path = stored.file_in(ws.folder, info.id)
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(DataRefused, match="does not match its digest"):
        load_split(tiny("vae", dataset=info.dataset), workspace=ws.folder)
    path.write_bytes(b"garbage")
    assert ws.datasets() == []


def test_orphaned_data_files_are_cleaned_when_a_dataset_is_added(store, digits_zip):
    ws = store.workspace(new_workspace_id())
    orphan = stored.file_in(ws.folder, "0" * 16)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a killed writer")
    os.utime(orphan, (1, 1))
    WorkspaceDatasets(ws).add("d", [("digits.zip", digits_zip)])
    assert not orphan.exists()


# --- fuzzing: any bytes give a dataset or DataRefused, never another exception ---------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
NAMES = ("x.zip", "x.npz", "x.npy", "x.png", "x.jpg", "x.csv", "x.gz", "x", "t-images-idx3-ubyte")
MAGICS = (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"\x1f\x8b\x08",
          b"\x00\x00\x08\x03", b"\x00\x00\x08\x01", b"a,b,label\n")


def _seeds() -> list[tuple[str, bytes]]:
    x, y = digits(6)
    rgb = np.stack([x] * 3, axis=-1)
    return [
        ("d.zip", zip_of(labelled_pngs(x, y))),
        ("d.npz", npz(x=x, y=y)),
        ("d.npy", npy(x.astype(np.float32) / 255)),
        ("d.png", png(x[0])),
        ("c.jpg", jpeg(rgb[0])),
        ("p.csv", csv_text([[i, i * 2, i % 2] for i in range(6)], ["a", "b", "label"])),
        ("t-images-idx3-ubyte.gz", gzip.compress(idx(x))),
        ("j.zip", zip_of({f"{i}.jpg": jpeg(a) for i, a in enumerate(rgb)})),
    ]


SEEDS = _seeds()
STORED = stored.to_bytes(own.from_files([SEEDS[1]]))


def read_or_refuse(name: str, blob: bytes) -> None:
    """The readers' contract: a converted dataset, or DataRefused; nothing else, ever."""
    try:
        conv = own.from_files([(name, blob)])
    except DataRefused as e:
        assert "\n" not in str(e)
        return
    assert conv.x.dtype in (np.uint8, np.float32) and len(conv.y) == len(conv.x) >= 2


@FUZZ
@given(st.sampled_from(NAMES), st.sampled_from(MAGICS), st.binary(max_size=2048))
def test_random_bytes_are_read_or_refused_with_our_error(name, magic, blob):
    read_or_refuse(name, magic + blob)


@FUZZ
@given(st.integers(0, len(SEEDS) - 1), st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), min_size=1,
                                                max_size=8), st.integers(0, 2**31))
def test_mutated_files_are_read_or_refused_with_our_error(which, flips, cut):
    name, good = SEEDS[which]
    blob = bytearray(good[:cut % (len(good) + 1)] if cut % 3 == 0 else good)
    for at, value in flips:
        if blob:
            blob[at % len(blob)] = value
    read_or_refuse(name, bytes(blob))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), max_size=8), st.integers(0, 2**31))
def test_mutated_stored_datasets_load_or_are_refused(flips, cut):
    blob = bytearray(STORED[:cut % (len(STORED) + 1)] if cut % 3 == 0 else STORED)
    for at, value in flips:
        if blob:
            blob[at % len(blob)] = value
    try:
        stored.from_bytes(bytes(blob), "fuzzed")
    except DataRefused:
        pass
