"""What a classroom throws at it: fuzzed checkpoint files, values at and past every limit, writers
killed mid-write, paths that try to leave the runs folder, full workspaces, the server's settings."""
from __future__ import annotations

import json
import math
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny
from hostile import WITH_TIMELINE, timeline_files
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from vae_core import atomic, checkpoint
from vae_core.checkpoint import CheckpointError
from vae_core.config import RANGES, Config, range_text
from vae_core.runs import RunStore, RunStoreError, new_workspace_id

ROOT = Path(__file__).resolve().parents[1]
GOOD = (ROOT / "checkpoints" / "digits-ae-2d.safetensors").read_bytes()
# 300 files per strategy below (900 in all), the same ones every run; no deadline: the loader's speed is
# not what these tests decide (a machine shared with other work can take any time)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def load_or_refuse(blob: bytes) -> None:
    """The loader's contract: a checkpoint that builds its model, or CheckpointError; nothing else, ever."""
    try:
        ckpt = checkpoint.from_bytes(blob)
    except CheckpointError:
        return
    ckpt.build_model()


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused_with_our_error(blob):
    with pytest.raises(CheckpointError):
        checkpoint.from_bytes(blob)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(GOOD)))
def test_mutated_checkpoints_load_or_are_refused(flips, cut):
    blob = bytearray(GOOD[:max(cut, 1)] if cut < 64 else GOOD)
    for at, value in flips:
        if at < len(blob):
            blob[at] = value
    load_or_refuse(bytes(blob))


def _with_header(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@FUZZ
@given(st.dictionaries(st.text(max_size=12), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12), max_size=6))
def test_arbitrary_headers_are_refused(header):
    with pytest.raises(CheckpointError):
        checkpoint.from_bytes(_with_header(header))


def test_a_header_that_claims_a_huge_tensor_is_refused_without_allocating_it():
    (n,) = struct.unpack("<Q", GOOD[:8])
    header = json.loads(GOOD[8:8 + n])
    name = next(k for k in header if k.startswith("model."))
    header[name]["shape"] = [1_000_000, 1_000_000]  # 4 TB of float32
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(CheckpointError, match="tensors cannot be read"):
        checkpoint.from_bytes(_with_header(header, GOOD[8 + n:]))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: < 200 MB grew


# --- values: one table of ranges, the CLI and the app share it ------------------------------


@pytest.mark.parametrize("name", sorted(RANGES))
def test_every_range_boundary(name):
    """Each limit is allowed or refused as RANGES says, and one step past it is refused, by name."""
    lo, hi, lo_in, hi_in = RANGES[name]
    kind = type(getattr(Config, name))

    def check(value, allowed: bool) -> None:
        if allowed:
            Config(**{name: kind(value)}).validate()
        else:
            with pytest.raises(ValueError, match=f"{name} must be {range_text(name)}"):
                Config(**{name: kind(value)}).validate()

    step = (lambda v: 1) if kind is int else (lambda v: 1e-6 * max(1.0, abs(v)))
    check(lo, lo_in)
    check(lo - step(lo), False)
    if not math.isinf(hi):
        check(hi, hi_in)
        check(hi + step(hi), False)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(RANGES)), st.floats(allow_nan=True, allow_infinity=True))
def test_any_number_is_accepted_or_refused_by_name(name, value):
    """A value inside RANGES' bounds is accepted; any other is refused, the message naming the field
    and its range (a float field's NaN or infinity: that it must be finite)."""
    kind = type(getattr(Config, name))
    if kind is int:
        if value != value or abs(value) > 1e18:
            return
        value = int(value)
    lo, hi, lo_in, hi_in = RANGES[name]
    inside = math.isfinite(value) and (lo <= value if lo_in else lo < value) and (value <= hi if hi_in else value < hi)
    if inside:
        assert Config(**{name: value}).validate() == Config(**{name: value})
    else:
        with pytest.raises(ValueError) as refused:
            Config(**{name: value}).validate()
        shown = f"{int(value):,}" if math.isfinite(value) and float(value).is_integer() and abs(value) < 1e15 \
            else f"{value:g}"  # as a person reads it: 65,537 and 1e-06
        assert str(refused.value) == (f"{name} must be {range_text(name)}, got {shown}" if math.isfinite(value)
                                      else f"{name} must be a finite number, got {value}")


# --- killed writers: every file left is the old one or the new one ---------------------------

WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("atomic", sys.argv[1])
atomic = importlib.util.module_from_spec(spec); spec.loader.exec_module(atomic)
blobs = [open(p, "rb").read() for p in sys.argv[3:]]
i = 0
print("ready", flush=True)
while True:
    atomic.write_bytes(sys.argv[2], blobs[i % len(blobs)])
    i += 1
"""


def test_a_hundred_kills_mid_write_leave_no_torn_file(tmp_path):
    ws = RunStore(tmp_path / "runs").workspace(new_workspace_id())
    run = ws.create(tiny("ae"), "r")
    versions = [GOOD, (ROOT / "checkpoints" / "digits-vae-2d.safetensors").read_bytes()]
    meta = [json.dumps({**ws.get(run.id).to_json(), "name": n}).encode() for n in ("old", "new")]
    sources = []
    for i, blob in enumerate(versions + meta):
        sources.append(tmp_path / f"v{i}")
        sources[-1].write_bytes(blob)
    rng = random.Random(0)
    torn = 0
    for kill in range(100):
        target, blobs = ((ws.folder / f"{run.id}.safetensors", sources[:2]) if kill % 2 == 0
                         else (ws.folder / f"{run.id}.json", sources[2:]))
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT / "vae_core" / "atomic.py"), str(target),
                              *map(str, blobs)], stdout=subprocess.PIPE)
        p.stdout.readline()
        time.sleep(rng.uniform(0, 0.03))  # a random moment to kill it (nothing is waited for)
        p.send_signal(signal.SIGKILL)
        p.wait()
        data = target.read_bytes() if target.exists() else None
        if target.suffix == ".safetensors":
            torn += data is not None and data not in versions
            if data is not None:
                checkpoint.from_bytes(data)  # loads
        else:
            torn += data not in meta
            assert ws.get(run.id).name in ("old", "new")
    assert torn == 0
    left = list(ws.folder.glob(".*.tmp"))
    assert left, "no kill landed in the middle of a write (each leaves its temporary file): nothing was tested"
    for p in left:
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    RunStore(tmp_path / "runs").workspace(ws.id)  # opening the workspace cleans what killed writers left
    assert not list(ws.folder.glob(".*.tmp"))


SERVER = """
import sys, time
from vae_core.config import Config
from vae_core.runs import RunStore, make_executor
store = RunStore(sys.argv[1])
ws = store.workspace(sys.argv[2])
run = ws.create(Config(model="vae", hidden=(32,), latent_dim=3, batch_size=64, epochs=5000).validate(), "long")
executor = make_executor(store, "local", min_checkpoint_s=0.0)
handle = executor.submit(ws, run)
while not (ws.has_checkpoint(run.id) and handle.view.pid):
    time.sleep(0.05)
print(handle.view.pid, run.id, flush=True)
time.sleep(600)  # (the server lives on until the test kills it)
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie nobody reaps
    except FileNotFoundError:
        return True


def test_a_killed_server_leaves_no_worker_behind_and_its_run_comes_back_interrupted(tmp_path):
    """The server dies (SIGKILL: a crash, a laptop closed) while a job trains: its worker stops within
    seconds instead of training on unseen, and the next server finds the run interrupted, resumable."""
    ws_id = new_workspace_id()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "runs"), ws_id], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        worker, run_id = server.stdout.readline().split()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 60
    while not _gone(int(worker)):
        if time.monotonic() > deadline:
            os.kill(int(worker), signal.SIGKILL)
            pytest.fail("the worker of a killed server was still running after 60 s")
        time.sleep(0.1)
    ws = RunStore(tmp_path / "runs").workspace(ws_id)  # the next server ...
    assert ws.get(run_id).status == "running"
    assert ws.reconcile(alive=set()) == [run_id]  # ... knows no job for it (ui.runs.init does this)
    run = ws.get(run_id)
    assert run.status == "interrupted" and "resume" in run.message
    assert ws.checkpoint(run_id).progress["step"] > 0


# --- paths, isolation and limits --------------------------------------------------------------


def test_symlinks_and_foreign_files_in_a_workspace_are_ignored(tmp_path):
    ws = RunStore(tmp_path / "runs").workspace(new_workspace_id())
    run = ws.create(tiny("ae"), "mine")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({**ws.get(run.id).to_json(), "id": "0123456789abcdef", "name": "stolen"}))
    (ws.folder / "0123456789abcdef.json").symlink_to(secret)
    (ws.folder / "not-a-run.json").write_text("{}")
    names = [r.name for r in ws.runs() if not r.readonly]
    assert names == ["mine"]
    with pytest.raises(RunStoreError):
        ws.get("0123456789abcdef")


def test_a_full_workspace_and_a_full_server_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CORE_WORKSPACE_MB", str(2.5 * len(GOOD) / 2**20))  # room for 2.5 of GOOD
    store = RunStore(tmp_path / "runs")
    ws = store.workspace(new_workspace_id())
    ws.add_upload("a", GOOD)
    b = ws.add_upload("b", GOOD)
    with pytest.raises(RunStoreError, match="limit"):
        ws.add_upload("c", GOOD)  # would make 3
    ws.create(tiny("ae"), "fits")
    ws.save_checkpoint(b.id, GOOD * 2)  # a run's checkpoint grew as it trained: 3 held now
    with pytest.raises(RunStoreError, match="delete some runs"):
        ws.create(tiny("ae"), "no room")
    monkeypatch.setenv("VAE_CORE_MAX_WORKSPACES", "2")
    store.workspace(new_workspace_id()).create(tiny("ae"), "second workspace")
    with pytest.raises(RunStoreError, match="workspaces"):
        store.workspace(new_workspace_id()).create(tiny("ae"), "third")
    assert len(store.workspaces()) == 2


# --- the server's settings ------------------------------------------------------------------------


def test_server_settings_for_a_class():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["client"]["showErrorDetails"] == "none"
    limit_mb = cfg["server"]["maxUploadSize"]
    biggest = max(p.stat().st_size for p in (ROOT / "checkpoints").glob("*.safetensors"))
    assert biggest * 4 < limit_mb * 2**20 <= 64 * 2**20  # fits a checkpoint with its Adam state, and no more


def test_clean_stale_removes_only_old_temporary_files(tmp_path):
    """What a killed writer left (.<name>.<random>.tmp, older than a minute) goes; a live writer's
    temporary file, the files themselves and anything else stay."""
    hour_ago = time.time() - 3600
    old = [tmp_path / ".a.safetensors.x1.tmp", tmp_path / ".a.json.x2.tmp"]
    kept = [tmp_path / ".a.safetensors.x3.tmp", tmp_path / "a.safetensors", tmp_path / "b.tmp", tmp_path / ".a.json"]
    for p in old + kept:
        p.write_bytes(b"x")
    for p in old + kept[1:]:
        os.utime(p, (hour_ago, hour_ago))
    assert atomic.clean_stale(tmp_path) == 2
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in kept)
    assert atomic.clean_stale(tmp_path, older_than_s=-1) == 1  # the fresh one too, when told "any age"
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in kept[1:])


# --- a checkpoint's timeline: a bad one is dropped, the rest loads ----------------------------------


@pytest.fixture(scope="module")
def bad_timelines():
    return timeline_files()


@pytest.mark.parametrize("which", range(9))
def test_a_bad_timeline_is_dropped_with_a_message_and_the_rest_loads(bad_timelines, which, tmp_path):
    assert len(bad_timelines) == 9
    name, blob, words = bad_timelines[which]
    good = checkpoint.from_bytes(WITH_TIMELINE)
    got = checkpoint.from_bytes(blob)
    assert got.timeline is None and words in got.timeline_dropped and "dropped" in got.timeline_dropped
    assert all(torch.equal(got.model_state[k], v) for k, v in good.model_state.items())
    assert got.history == good.history and got.metrics == good.metrics and got.config == good.config
    got.build_model()
    run = RunStore(tmp_path).workspace(new_workspace_id()).add_upload(name.removesuffix(".safetensors"), blob)
    assert run.status == "done" and words in run.message  # the upload says why its timeline is gone


TIMELINE_TENSORS, TIMELINE_META = None, None


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=16),
       st.sampled_from(["format", "steps", "epochs", "betas", "terms", "steps_per_epoch"]))
def test_any_timeline_entry_is_used_or_dropped_never_an_error(value, field):
    global TIMELINE_TENSORS, TIMELINE_META
    if TIMELINE_TENSORS is None:
        (n,) = struct.unpack("<Q", WITH_TIMELINE[:8])
        TIMELINE_TENSORS = safetensors_load(WITH_TIMELINE)
        TIMELINE_META = json.loads(WITH_TIMELINE[8:8 + n])["__metadata__"]
    entry = {**json.loads(TIMELINE_META["vae_core.timeline"]), field: value}
    blob = safetensors_save(TIMELINE_TENSORS, metadata={**TIMELINE_META, "vae_core.timeline": json.dumps(entry)})
    got = checkpoint.from_bytes(blob)
    assert (got.timeline is None) == bool(got.timeline_dropped)
