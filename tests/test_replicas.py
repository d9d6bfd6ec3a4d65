"""Several app servers (replicas) on one run store: the workspace lock across processes, the owner
of a run's job and its lease, and what another replica does when the owner is gone (local worker:
interrupted and resumable; Ray actor: re-attached, its curves whole, Stop and β working)."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import tiny
from needs import require_ray
from vae_core.runs import RunStore, make_executor, new_workspace_id
from vae_core.runs.store import RunTakenOver
from vae_core.runs.replicas import Replica

LEASE_S = 1.0


def wait(predicate, timeout=120.0, what=""):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # (the poll interval; the timeout only bounds a hang)


# --- the store across processes -------------------------------------------------------------------


def _share_runs(root: str, ws_id: str, run_ids: list[str], go) -> None:
    """One 'replica' (a process of its own): share each run, each a read-modify-write of workspace.json."""
    store = RunStore(root)
    go.wait()
    for run_id in run_ids:
        store.share(ws_id, run_id)


def test_replicas_writing_one_workspace_at_once_lose_no_update(tmp_path):
    """4 processes each share 40 runs of one workspace at the same moment: every share is a read-modify-
    write of its workspace.json ("shares": run -> token). Without the lock across processes, writes
    made between another's read and write are lost (the test fails so); with it, all 160 stay."""
    store = RunStore(tmp_path)
    ws = store.workspace(new_workspace_id())
    runs = [ws.create(tiny("vae"), f"r{i}").id for i in range(160)]
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_share_runs, args=(str(tmp_path), ws.id, runs[k::4], go)) for k in range(4)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    shares = ws.setting("shares")
    assert sorted(shares) == sorted(runs)
    for run_id, token in shares.items():  # each link names its run
        assert store.shared(f"share.{token}")[1] == run_id


def test_a_replica_is_alive_while_it_beats_and_gone_after(tmp_path):
    a, b = Replica(tmp_path, lease=LEASE_S), Replica(tmp_path, lease=LEASE_S)
    assert a.id != b.id and b.alive(a.id) and a.alive(b.id)
    wait(lambda: time.time() - (tmp_path / "_replicas" / a.id).stat().st_mtime < LEASE_S / 2, 10, "a heartbeat")
    assert not b.orphaned(a.id, written=0.0)  # its owner lives: never orphaned, however old the run
    a._stopped.set()  # a replica killed: its file stays, it beats no more
    wait(lambda: not b.alive(a.id), 10, "the lease to run out")
    assert b.orphaned(a.id, written=0.0)
    assert not b.orphaned(a.id, written=time.time())  # ... but a run written a moment ago is not yet
    assert not b.alive("") and not b.alive("../x") and b.orphaned("", written=0.0)  # a run of no replica
    b.stop()
    assert not (tmp_path / "_replicas" / b.id).exists() and not a.alive(b.id)  # a clean stop: gone at once
    a.stop()


# --- jobs when their replica is gone ----------------------------------------------------------------


def replicas(kind: str, root, monkeypatch):
    """Two executors on one store: two replicas (their own ids and heartbeats) in this process."""
    if kind == "ray":
        require_ray()
    monkeypatch.setenv("VAE_CORE_LEASE_S", str(LEASE_S))
    return [make_executor(RunStore(root), kind, max_jobs=2, min_checkpoint_s=0.0, refresh_s=0.1) for _ in range(2)]


def as_if_dead(ex) -> None:
    """Replica `ex` stops beating and, for a while, draining its jobs (a server stalled long past
    its lease): nothing it owns is written meanwhile. Then its monitors wake, as a slow replica's
    would, and must find the runs taken over."""
    ex.replica._stopped.set()
    ex.poll_s = 8.0


EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.mark.parametrize("kind", EXECUTORS)
def test_another_replica_leaves_a_run_alone_while_its_owner_lives(kind, tmp_path, monkeypatch):
    a, b = replicas(kind, tmp_path, monkeypatch)
    ws_a = a.store.workspace(new_workspace_id())
    run = ws_a.create(tiny("vae", epochs=2000), "long")
    handle = a.submit(ws_a, run)
    wait(lambda: handle.view.step > 5, what="the job to run")
    ws_b = b.store.workspace(ws_a.id)
    seen = ws_b.get(run.id)
    assert seen.owner == a.replica.id and seen.job == run.id and seen.status == "running"
    time.sleep(3 * LEASE_S)  # (several leases pass: the owner keeps beating, nothing may change)
    assert b.adopt(ws_b, ws_b.get(run.id)) is None and b.reconcile(ws_b) == []
    assert ws_b.get(run.id).status == "running" and not handle.done.is_set()
    handle.stop()
    assert handle.join(60) and ws_b.get(run.id).status == "stopped"
    for ex in (a, b):
        ex.shutdown()


REPLICA = """
import sys, time
from vae_core.runs import RunStore, make_executor
from conftest import tiny
ex = make_executor(RunStore(sys.argv[1]), "local", max_jobs=1, min_checkpoint_s=0.0, refresh_s=0.1)
ws = ex.store.workspace(sys.argv[2])
ex.submit(ws, ws.create(tiny("vae", epochs=60), "orphan"))
time.sleep(600)  # (serving, until the test kills it)
"""


def test_a_killed_replicas_local_job_is_interrupted_and_resumes_on_another(tmp_path, monkeypatch):
    """A replica (a process of its own) SIGKILLed mid-run: its worker stops (orphaned), and another
    replica, once the lease has run out, marks the run interrupted; it resumes there from its last
    checkpoint, its curves whole."""
    _, b = replicas("local", tmp_path, monkeypatch)
    ws = b.store.workspace(new_workspace_id())
    tests = Path(__file__).parent
    a = subprocess.Popen([sys.executable, "-c", REPLICA, str(tmp_path), ws.id], cwd=tests.parent,
                         env={**os.environ, "PYTHONPATH": str(tests)})
    try:
        wait(lambda: ws.runs()[0].status == "running" and ws.has_checkpoint(ws.runs()[0].id), what="a checkpoint")
        run = ws.runs()[0]
        assert run.owner not in ("", b.replica.id) and b.reconcile(ws) == []  # its owner lives
    finally:
        os.kill(a.pid, signal.SIGKILL)
        a.wait(30)
    wait(lambda: b.reconcile(ws) == [run.id], 60, "the other replica to interrupt the run")
    stopped = ws.get(run.id)
    assert stopped.status == "interrupted" and "resume it from its last checkpoint" in stopped.message
    saved = ws.checkpoint(run.id).progress
    resumed = b.submit(ws, stopped, resume=True)
    assert resumed.join(240) and resumed.view.status == "done", resumed.view.message
    assert resumed.view.start_step >= saved["step"] > 0 and ws.get(run.id).owner == b.replica.id
    assert ws.checkpoint(run.id).history["train"]["step"] == list(range(1, resumed.view.step + 1))
    b.shutdown()


def test_a_gone_replicas_queued_run_is_queued_again_not_lost(tmp_path, monkeypatch):
    """A run its replica had queued but never started (no worker, no actor): the replica that adopts
    it queues it, and it trains to the end there."""
    _, b = replicas("local", tmp_path, monkeypatch)
    ws = b.store.workspace(new_workspace_id())
    run = ws.create(tiny("vae", epochs=2), "waiting")
    ws.update(run.id, owner="gone-1-abc", job=run.id)  # queued by a replica that died
    old = time.time() - 10 * LEASE_S
    os.utime(ws.folder / f"{run.id}.json", (old, old))
    assert b.reconcile(ws) == []  # not interrupted ...
    handle = b.handle(run.id)
    assert handle is not None and ws.get(run.id).owner == b.replica.id  # ... queued here
    assert handle.join(120) and ws.get(run.id).status == "done", handle.view.message
    b.shutdown()


def test_a_replica_that_lost_a_run_can_write_nothing_more_for_it(tmp_path):
    ws = RunStore(tmp_path).workspace(new_workspace_id())
    run = ws.create(tiny("vae"), "r")
    ws.update(run.id, owner="replica-a", by="replica-a")  # (no owner yet: anyone may write)
    ws.save_checkpoint(run.id, b"a's", by="replica-a")
    ws.update(run.id, owner="replica-b")  # replica-b took it over (Workspace.claim)
    for write in (lambda: ws.update(run.id, status="done", by="replica-a"),
                  lambda: ws.save_checkpoint(run.id, b"late", by="replica-a")):
        with pytest.raises(RunTakenOver, match="taken over by another server"):
            write()
    assert ws.get(run.id).status == "queued" and ws.blob(run.id) == b"a's"
    ws.update(run.id, status="running", by="replica-b")


@pytest.mark.ray
def test_a_ray_job_outlives_its_replica_and_another_reattaches(tmp_path, monkeypatch):
    """The owner stops beating; another replica adopts the run: the actor answers only to it (the old
    owner's monitor lets go, writing nothing), the rebuilt view has the whole curves, and the live β
    and Stop reach the same actor from the new replica."""
    a, b = replicas("ray", tmp_path, monkeypatch)
    ws_a = a.store.workspace(new_workspace_id())
    run = ws_a.create(tiny("beta_vae", epochs=2000), "outlives")
    handle = a.submit(ws_a, run)
    wait(lambda: ws_a.has_checkpoint(run.id) and handle.view.step > 40, what="a checkpoint and some steps")
    as_if_dead(a)
    ws_b = b.store.workspace(ws_a.id)
    wait(lambda: b.adopt(ws_b, ws_b.get(run.id)) is not None, 60, "the other replica to re-attach")
    again = b.handle(run.id)
    assert again is not None and again is not handle and ws_b.get(run.id).owner == b.replica.id
    assert handle.join(30) and handle.view.message == "another server of this site took this run over"
    step = again.view.step
    assert again.view.status == "running" and step > 40 and again.view.start_step == 0
    assert again.view.history["step"] == list(range(1, len(again.view.history["step"]) + 1))  # whole, from step 1
    again.set_beta(0.5)
    wait(lambda: again.view.step > step + 30, what="steps after the re-attach")
    again.stop()
    assert again.join(60)
    v = again.view
    assert v.status == "stopped" and v.history["step"] == list(range(1, v.step + 1))  # no row lost, none twice
    assert v.history["beta"][0] == 4.0 and v.history["beta"][-1] == 0.5
    done = ws_b.get(run.id)
    assert done.status == "stopped" and done.beta_changes[-1][1] == 0.5 and done.owner == b.replica.id
    assert ws_b.checkpoint(run.id).history["train"]["step"] == list(range(1, v.step + 1))
    for ex in (a, b):
        ex.shutdown()


@pytest.mark.ray
def test_a_ray_job_whose_actor_is_gone_is_interrupted_on_adoption(tmp_path, monkeypatch):
    """The owner and its actor both gone (a node lost with its replica): adopted as interrupted."""
    a, b = replicas("ray", tmp_path, monkeypatch)
    ws_a = a.store.workspace(new_workspace_id())
    run = ws_a.create(tiny("vae", epochs=2000), "lost")
    handle = a.submit(ws_a, run)
    wait(lambda: ws_a.has_checkpoint(run.id), what="a checkpoint")
    as_if_dead(a)
    a.kill(run.id)  # its actor dies too; the dead owner's monitor would write this, so it must not count
    assert handle.join(60)
    ws_b = b.store.workspace(ws_a.id)
    ws_b.update(run.id, status="running", message="", finished=None)  # as a killed owner left it
    wait(lambda: b.reconcile(ws_b) == [run.id], 30, "the run interrupted")
    assert ws_b.get(run.id).status == "interrupted" and ws_b.has_checkpoint(run.id)
    for ex in (a, b):
        ex.shutdown()
