"""The run store (files, atomic writes, workspaces, read-only pretrained runs) and the executors
(jobs in worker processes or Ray actors: beta changes, stop, re-attach, the cap, kill and resume)."""
from __future__ import annotations

import os
import pickle
import struct
import time
from pathlib import Path

import pytest

from conftest import tiny
from needs import require_ray
from vae_core import atomic, checkpoint
from vae_core.checkpoint import CheckpointError
from vae_core.runs import (LocalExecutor, RunStore, RunStoreError, clean_name, file_name, make_executor,
                           new_workspace_id)
from vae_core.runs.executor import Executor
from vae_core.runs.store import shipped_runs


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


@pytest.fixture
def ws(store):
    return store.workspace(new_workspace_id())


def files(ws) -> list[str]:
    return sorted(os.listdir(ws.folder)) if ws.folder.exists() else []


# --- the store ----------------------------------------------------------------------------------


def test_a_run_is_metadata_plus_checkpoint_named_by_id_never_by_name(ws):
    run = ws.create(tiny("vae"), "../../etc/passwd\x00 my run\n")
    assert run.status == "queued" and len(run.id) == 16 and all(c in "0123456789abcdef" for c in run.id)
    assert run.name == "../../etc/passwd my run"  # control characters gone, text kept for display
    assert files(ws) == [f"{run.id}.json"]
    ws.save_checkpoint(run.id, b"not read here")
    assert files(ws) == [f"{run.id}.json", f"{run.id}.safetensors"]
    assert ws.get(run.id) == run and ws.get(run.id).config == tiny("vae")


def test_rename_and_delete(ws):
    a, b = ws.create(tiny("vae"), "a"), ws.create(tiny("ae"), "b")
    ws.rename(a.id, "  β = 4,   the good one  ")
    assert ws.get(a.id).name == "β = 4, the good one"
    assert f"{a.id}.json" in files(ws)  # the file name did not follow the name
    assert [r.id for r in ws.runs()][:2] == [b.id, a.id]  # newest first, before the pretrained ones
    ws.update(b.id, status="running")
    with pytest.raises(RunStoreError, match="still training"):
        ws.delete(b.id)
    ws.update(a.id, status="done")
    ws.active = a.id
    ws.delete(a.id)
    assert files(ws) == [f"{b.id}.json", "workspace.json"] and ws.active is None
    with pytest.raises(RunStoreError):
        ws.get(a.id)


def test_pretrained_runs_appear_in_every_workspace_read_only(store):
    one, two = store.workspace(new_workspace_id()), store.workspace(new_workspace_id())
    shipped = shipped_runs()
    assert shipped and [r.id for r in one.runs()] == [r.id for r in two.runs()] == [r.id for r in shipped]
    zoo_run = shipped[0]
    assert zoo_run.readonly and zoo_run.id.startswith("zoo.")
    assert one.checkpoint(zoo_run.id).config == zoo_run.config
    for change in (lambda: one.rename(zoo_run.id, "mine"), lambda: one.delete(zoo_run.id),
                   lambda: one.save_checkpoint(zoo_run.id, b"x")):
        with pytest.raises(RunStoreError, match="pretrained"):
            change()
    assert not one.folder.exists()  # nothing was written


def test_workspaces_are_isolated_and_ids_cannot_escape_the_root(store, tmp_path):
    a, b = store.workspace(new_workspace_id()), store.workspace(new_workspace_id())
    run = a.create(tiny("vae"), "only in a")
    assert run.id not in [r.id for r in b.runs()]
    with pytest.raises(RunStoreError):
        b.get(run.id)
    for bad in ("", "..", "../" + a.id, "/etc", a.id + "/..", "x" * 200, "a\x00" * 11, "ws id with spaces!!!"):
        with pytest.raises(RunStoreError):
            store.workspace(bad)
    for bad in ("../" + run.id, run.id + ".json", "/etc/passwd", "zoo.../../x", run.id.upper()):
        with pytest.raises(RunStoreError):
            a.get(bad)
    assert {p.name for p in tmp_path.iterdir()} == {"runs"}


def test_writes_are_atomic_and_stale_temporary_files_are_cleaned(ws, monkeypatch):
    run = ws.create(tiny("vae"), "r")
    before = (ws.folder / f"{run.id}.json").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(atomic.os, "replace", boom)
        with pytest.raises(OSError):
            ws.rename(run.id, "new name")
    assert (ws.folder / f"{run.id}.json").read_bytes() == before and files(ws) == [f"{run.id}.json"]
    # a killed writer's leftovers: old ones go when the workspace is opened next, fresh ones stay
    old, fresh = ws.folder / f".{run.id}.json.abc.tmp", ws.folder / f".{run.id}.json.def.tmp"
    old.write_bytes(b"half"), fresh.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    again = RunStore(ws.folder.parent).workspace(ws.id)
    assert not old.exists() and fresh.exists()
    assert again.get(run.id).name == "r"
    # once per store and workspace: not on each of the many times a server opens it
    scans = []
    monkeypatch.setattr(atomic, "clean_stale", lambda folder, *a, **k: scans.append(folder) or 0)
    store = RunStore(ws.folder.parent)
    for _ in range(3):
        store.workspace(ws.id)
    assert scans == [ws.folder]


def test_uploads_are_validated_and_always_new_runs(ws):
    blob = (Path(__file__).resolve().parents[1] / "checkpoints" / "digits-ae-2d.safetensors").read_bytes()
    one, two = ws.add_upload("mine.safetensors", blob), ws.add_upload("mine.safetensors", blob)
    assert one.id != two.id and one.origin == two.origin == "uploaded"  # the same file twice: two runs
    assert ws.blob(one.id) == blob and ws.checkpoint(two.id).config.model == "ae"
    n = len(files(ws))
    for bad in (pickle.dumps({"w": 1}), b"PK\x03\x04zip", b"\x00" * 3, blob[:1000]):
        with pytest.raises(CheckpointError):
            ws.add_upload("bad", bad)
    assert len(files(ws)) == n  # nothing written for a refused file


def test_reconcile_marks_runs_without_a_job_interrupted(ws):
    a, b, c = ws.create(tiny("vae"), "a"), ws.create(tiny("vae"), "b"), ws.create(tiny("vae"), "c")
    ws.update(a.id, status="running")
    ws.save_checkpoint(a.id, b"x")
    ws.update(c.id, status="done")
    assert sorted(ws.reconcile(alive={b.id})) == [a.id]
    assert ws.get(a.id).status == "interrupted" and "resume" in ws.get(a.id).message
    assert ws.get(b.id).status == "queued" and ws.get(c.id).status == "done"


def test_an_interrupted_run_takes_its_progress_from_its_checkpoint_not_a_stale_record(ws):
    """A server killed between writing a run's checkpoint and its record (two files): the record
    still says epoch 0; the run comes back interrupted at its checkpoint's epoch, where a resume starts."""
    blob = (Path(__file__).resolve().parents[1] / "checkpoints" / "digits-ae-2d.safetensors").read_bytes()
    want = checkpoint.from_bytes(blob, with_history=False).progress
    a = ws.create(tiny("vae"), "a")
    ws.update(a.id, status="running", progress={"step": 0, "epoch": 0})
    ws.save_checkpoint(a.id, blob)  # ... and killed before ws.update(progress=...)
    assert ws.reconcile(alive=set()) == [a.id]
    assert ws.get(a.id).status == "interrupted" and ws.get(a.id).progress == want and want["epoch"] > 0


def test_names_and_file_names():
    assert clean_name("\t\n") == "untitled" and len(clean_name("x" * 500)) == 80
    assert file_name("#3 β-VAE · digits · 2-D") == "3-VAE-digits-2-D.safetensors"
    assert file_name("../../..") == "model.safetensors"


# --- the executors ------------------------------------------------------------------------------

EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.fixture(scope="module", params=EXECUTORS)
def executor(request, tmp_path_factory):
    if request.param == "ray":
        require_ray()
    # a checkpoint at every epoch's end (the app: at most every 2 s), progress every 0.1 s
    ex = make_executor(RunStore(tmp_path_factory.mktemp("runs")), request.param, max_jobs=2, min_checkpoint_s=0.0,
                       refresh_s=0.1)
    yield ex
    ex.shutdown()


def wait(predicate, timeout=120.0, what=""):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_job_trains_in_a_worker_and_its_model_becomes_active(executor):
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("vae", epochs=3), "three epochs")
    handle = executor.submit(ws, run)
    assert handle.join(120)
    v = handle.view
    assert v.status == "done", v.message
    assert v.step == v.total_steps > 0 and v.epoch == 3 and len(v.val["loss"]) == 3
    assert len(v.history["loss"]) == v.step  # every step's row arrived, none twice
    assert v.recons is not None and v.threads == 1 and v.images_per_s > 0
    assert v.pid not in (0, os.getpid()) and v.start_step == 0
    done = ws.get(run.id)
    assert done.status == "done" and done.finished and "val_loss" in done.metrics
    ckpt = ws.checkpoint(run.id)
    assert ckpt.progress == {"step": v.step, "epoch": 3} and ckpt.metrics == done.metrics
    assert ws.active == run.id


def test_a_view_is_a_snapshot_of_the_curves_and_a_message_copies_none_of_them(store):
    class NoWorker(Executor):  # the messages come from this test
        def _launch(self, job):
            pass

    ws = store.workspace(new_workspace_id())
    handle = NoWorker(store).submit(ws, ws.create(tiny("vae", epochs=1), "curves"))

    def progress(first: int, n: int) -> None:
        rows = range(first, first + n)
        handle._apply({"kind": "progress", "step": first + n - 1, "total_steps": 100, "epoch": 0, "beta": 1.0,
                       "images_per_s": 1.0, "eta_s": 1.0, "train": {"step": list(rows), "loss": [float(r) for r in rows]},
                       "val": {}})

    progress(1, 3)
    early = handle.view
    progress(4, 5)
    late = handle.view
    assert early.history["step"] == [1, 2, 3] and dict(early.history) == {"step": [1, 2, 3], "loss": [1.0, 2.0, 3.0]}
    assert late.history["step"] == list(range(1, 9)) and len(late.history["loss"]) == 8
    early.history["step"].append(99)  # a reader's copy: changing it changes no view
    assert early.history["step"] == [1, 2, 3] and late.history["step"][-1] == 8
    assert not late.val and list(late.history) == ["step", "loss"]
    # the two views share the handle's columns: the second message appended 5 rows and copied none
    assert early.history._cols["step"] is late.history._cols["step"] is handle._history["train"]["step"]


def test_beta_and_stop_reach_the_worker_and_the_job_survives_its_client(executor):
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("beta_vae", epochs=2000), "long")
    handle = executor.submit(ws, run)
    wait(lambda: handle.view.step > 20, what="the job to run")
    del handle  # the page that started it goes away (a reload) ...
    again = executor.handle(run.id)  # ... and a new page re-attaches by the run's id
    assert again is not None and again.view.status == "running"
    again.set_beta(0.5)
    step = again.view.step
    wait(lambda: again.view.step > step + 30, what="steps with the new beta")
    again.stop()
    assert again.join(60)
    v = again.view
    assert v.status == "stopped" and v.step < v.total_steps
    assert v.history["beta"][0] == 4.0 and v.history["beta"][-1] == 0.5
    stopped = ws.get(run.id)
    assert stopped.status == "stopped" and len(stopped.beta_changes) == 1 and stopped.beta_changes[0][1] == 0.5
    assert ws.checkpoint(run.id).config.beta == 0.5  # saved with the beta it ended on
    assert ws.active == run.id  # a stopped run keeps its model


def test_the_cap_queues_jobs_in_order(executor):
    ws = executor.store.workspace(new_workspace_id())
    runs = [ws.create(tiny("vae", epochs=2000), f"r{i}") for i in range(4)]
    handles = [executor.submit(ws, r) for r in runs]  # max_jobs = 2
    wait(lambda: handles[0].view.status == handles[1].view.status == "running", what="two running")
    assert [executor.handle(r.id).view.status for r in runs[2:]] == ["queued", "queued"]
    assert [executor.handle(r.id).view.ahead for r in runs[2:]] == [0, 1]
    handles[3].stop()  # a queued job stops at once, without ever starting
    assert handles[3].join(5) and ws.get(runs[3].id).status == "stopped"
    handles[0].stop()
    wait(lambda: handles[2].view.status == "running", what="the queued job to start")
    for h in handles:
        h.stop()
    assert all(h.join(60) for h in handles)


def test_a_killed_worker_is_interrupted_and_resumes_from_its_checkpoint(executor):
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("vae", epochs=40), "to be killed")
    handle = executor.submit(ws, run)
    wait(lambda: ws.has_checkpoint(run.id) and handle.view.epoch >= 2, what="a first checkpoint")
    executor.kill(run.id)
    assert handle.join(60)
    assert handle.view.status == "interrupted" and ws.get(run.id).status == "interrupted"
    saved = ws.checkpoint(run.id).progress
    assert saved["step"] > 0 and ws.active != run.id  # an interrupted run never becomes active on its own
    resumed = executor.submit(ws, ws.get(run.id), resume=True)
    assert resumed.join(180)
    assert resumed.view.status == "done", resumed.view.message
    assert resumed.view.start_step == saved["step"]  # went on from the checkpoint ...
    assert resumed.view.history["step"] == list(range(1, resumed.view.step + 1))  # ... its curves whole
    assert ws.checkpoint(run.id).progress["epoch"] == 40


def _starts_a_message_and_hangs(specs, pipe, stop, betas):
    """A stand-in worker (run in the spawned process): the first 100 bytes of a 1 MB message, then
    nothing, as a worker killed in the middle of sending a checkpoint leaves its pipe. It says so by
    creating the file $PARTIAL_SENT, then hangs until it is killed."""
    os.write(pipe.fileno(), struct.pack("!i", 1_000_000) + b"x" * 100)
    Path(os.environ["PARTIAL_SENT"]).touch()
    time.sleep(120)  # (the hang; the test kills it)


def test_a_worker_killed_in_the_middle_of_a_message_is_interrupted(store, monkeypatch, tmp_path):
    from vae_core.runs import local as executor_module

    monkeypatch.setattr(executor_module, "_process_main", _starts_a_message_and_hangs)
    sent = tmp_path / "partial-sent"
    monkeypatch.setenv("PARTIAL_SENT", str(sent))  # the spawned worker inherits it
    ex = LocalExecutor(store, max_jobs=1)
    ws = store.workspace(new_workspace_id())
    handle = ex.submit(ws, ws.create(tiny("vae", epochs=1), "cut off"))
    wait(sent.exists, what="the worker's partial message")  # in the pipe; the server waits for the rest
    assert not handle.done.is_set()
    ex.kill(handle.run_id)
    assert handle.join(30), "the server still waits for a message whose sender is dead"
    assert handle.view.status == "interrupted" and ws.get(handle.run_id).status == "interrupted"
    ex.shutdown()


def test_a_diverging_run_fails_keeps_finite_weights_and_is_never_activated(executor):
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("vae", lr=10.0, epochs=50), "too fast")
    handle = executor.submit(ws, run)
    assert handle.join(120)
    failed = ws.get(run.id)
    assert failed.status == "failed" and "non-finite" in failed.message and "learning rate" in failed.message
    assert ws.active is None
    ckpt = ws.checkpoint(run.id)  # the last finite weights were kept (from_bytes refuses NaN)
    assert ckpt.progress["step"] >= 1


def test_a_run_whose_dims_all_collapse_says_so(executor):
    """β = 1e6 does not blow up: the KL term wins and every dim collapses to the prior. The run ends
    done (its model is a real, if useless, model) with a message saying what happened and what to try."""
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("beta_vae", beta=1e6, epochs=3), "huge beta")
    assert executor.submit(ws, run).join(120)
    done = ws.get(run.id)
    assert done.status == "done" and max(done.metrics["val_kl_per_dim"]) < 0.01
    assert "All 3 latent dims collapsed" in done.message and "Try β" in done.message
    sane = ws.create(tiny("vae", epochs=3), "β = 1")
    assert executor.submit(ws, sane).join(120)
    assert ws.get(sane.id).message == ""


def test_a_run_that_cannot_start_fails_with_a_message(executor):
    ws = executor.store.workspace(new_workspace_id())
    run = ws.create(tiny("vae", dataset="no-such-dataset"), "no data")
    handle = executor.submit(ws, run)
    assert handle.join(120)
    assert ws.get(run.id).status == "failed" and "could not start" in ws.get(run.id).message


def test_unknown_executor_is_a_clear_error(store):
    with pytest.raises(ValueError, match="local or ray"):
        make_executor(store, "slurm")
    assert isinstance(make_executor(store), LocalExecutor)


def test_a_worker_never_runs_the_parents_main_script(tmp_path, monkeypatch):
    """Under Streamlit, __main__ is the page script; a spawned worker must not run it (it would run
    the app in the worker). The script here leaves a mark if it runs."""
    import sys
    import types

    mark = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(mark)!r}, 'w').write('the page ran')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    ex = LocalExecutor(RunStore(tmp_path / "runs"), max_jobs=1)
    ws = ex.store.workspace(new_workspace_id())
    handle = ex.submit(ws, ws.create(tiny("vae"), "r"))
    assert handle.join(120) and handle.view.status == "done", handle.view.message
    assert not mark.exists()
    assert sys.modules["__main__"] is fake  # put back


# --- read-only share links ----------------------------------------------------------------------


def test_a_share_link_shows_one_run_read_only_in_another_workspace(tmp_path):
    from vae_core import zoo

    store = RunStore(tmp_path)
    owner, student = store.workspace(new_workspace_id()), store.workspace(new_workspace_id())
    mine = owner.add_upload("the class's VAE", zoo.load_manifest()[0].path.read_bytes())
    other = owner.add_upload("not shared", zoo.load_manifest()[0].path.read_bytes())
    share = store.share(owner.id, mine.id)
    assert share.startswith("share.") and owner.id not in share and store.share(owner.id, mine.id) == share  # made once
    run = student.open_shared(share)
    assert run.readonly and run.origin == "shared" and run.name == "the class's VAE"
    listed = [r.id for r in student.runs()]
    assert share in listed and mine.id not in listed and other.id not in listed  # that run, nothing else
    assert student.checkpoint(share).config == owner.checkpoint(mine.id).config
    assert student.blob(share) == owner.blob(mine.id) and student.checkpoint_stamp(share) == owner.checkpoint_stamp(mine.id)
    for change in (lambda: student.rename(share, "mine now"), lambda: student.delete(share)):
        with pytest.raises(RunStoreError, match="cannot be changed or deleted"):
            change()
    with pytest.raises(RunStoreError):
        store.share(student.id, share)  # a shared run is not the student's to share on
    owner.delete(mine.id)  # the owner deletes it: the link names nothing, the student's list drops it
    with pytest.raises(RunStoreError, match="no longer there"):
        student.get(share)
    assert share not in [r.id for r in student.runs()]
    for bad in ("share.", "share.../../etc/passwd", f"share.{'A' * 22}"):
        with pytest.raises(RunStoreError):
            store.shared(bad)


def test_the_server_writes_a_runs_checkpoints_in_turn_and_before_its_end(tmp_path, monkeypatch):
    """Checkpoints are written on writer threads (a batch's members end at once): a run's later
    checkpoint never lands before its earlier one, and its end (status done, the active model) comes
    after its last checkpoint is in the store, while the first write is still slow."""
    from vae_core.runs.handles import JobHandle
    from vae_core.runs.job import JobSpec
    from vae_core.runs.store import Workspace

    store = RunStore(tmp_path / "runs")
    ex = Executor(store)
    ws = store.workspace(new_workspace_id())
    run = ws.create(tiny("vae"), "written")
    handle = JobHandle(ex, ws.id, JobSpec(run.id, run.config))
    save, order = Workspace.save_checkpoint, []

    def slow_first(self, run_id, blob, by=None):  # widens the race a wrong order would lose
        if blob == b"first":
            time.sleep(0.3)
        save(self, run_id, blob, by)
        order.append(blob)
    monkeypatch.setattr(Workspace, "save_checkpoint", slow_first)
    for step, blob in ((10, b"first"), (20, b"second")):
        ex._on_message(handle, {"run": run.id, "kind": "checkpoint", "blob": blob, "step": step, "epoch": 1})
    ex._on_message(handle, {"run": run.id, "kind": "end", "status": "done", "message": "", "metrics": {"val_loss": 1.0},
                            "beta_changes": []})
    assert handle.done.is_set() and order == [b"first", b"second"]
    got = store.workspace(ws.id)
    assert got.blob(run.id) == b"second" and got.get(run.id).progress == {"step": 20, "epoch": 1}
    assert got.get(run.id).status == "done" and got.active == run.id
