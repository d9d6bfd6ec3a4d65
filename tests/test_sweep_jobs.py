"""A sweep in the app: members that differ only in β train as ONE batched job in one worker, yet each
stays a normal run (its own handle, curves, pictures, checkpoints, status). Checked against separate
in-process Trainer runs of each member (tolerances of tests/test_sweep.py: float32 summation order
is all that may differ); β per member; Stop, kill and divergence rules; the queue."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import tiny
from needs import require_ray
from test_runs import wait
from test_sweep import LOSS_TOL, PARAM_TOL
from vae_core import Trainer, sweep, threads
from vae_core.batched import BatchedTrainer
from vae_core.runs import submit_sweep
from vae_core.data import load_split
from vae_core.runs import BATCH_STOP_RULE, RunStore, make_executor, new_workspace_id
from vae_core.trainer import TrainingDiverged

EXECUTORS = ["local", pytest.param("ray", marks=pytest.mark.ray)]


def make(kind, tmp_path, max_jobs=2):
    if kind == "ray":
        require_ray()
    return make_executor(RunStore(tmp_path / "runs"), kind, max_jobs=max_jobs, min_checkpoint_s=0.0, refresh_s=0.1)


@pytest.fixture
def local(tmp_path):
    ex = make("local", tmp_path)
    yield ex
    ex.shutdown()


def alone(cfg):
    """The member trained by itself, in this process, on the split its job uses: the reference."""
    trainer = Trainer(cfg, *load_split(cfg))
    for _ in trainer.run():
        pass
    return trainer.checkpoint()


@pytest.mark.parametrize("kind", EXECUTORS)
def test_a_batch_trains_each_member_as_its_own_run_would(kind, tmp_path):
    executor = make(kind, tmp_path)
    try:
        ws = executor.store.workspace(new_workspace_id())
        cfgs = sweep.members(tiny("beta_vae", epochs=2, latent_dim=2, kl_warmup=15, seed=3), betas=[0.5, 1.0, 4.0])
        made = submit_sweep(ws, executor, cfgs)
        handles = [executor.handle(r.id) for r in made]
        assert all(h.join(180) for h in handles)
    finally:
        executor.shutdown()
    assert handles[0].members == tuple(r.id for r in made) and handles[0].batched
    assert len({h.view.pid for h in handles}) == 1  # one worker for all three
    for h, run, cfg in zip(handles, made, cfgs):
        v, stored = h.view, ws.get(run.id)
        assert v.status == stored.status == "done", v.message
        assert v.step == v.total_steps > 0 and v.epoch == 2 and len(v.val["loss"]) == 2
        assert v.history["step"] == list(range(1, v.step + 1))  # every step's row, routed to its run only
        assert v.recons is not None and v.samples is not None and v.latent.shape[1] == 2
        got, ref = ws.checkpoint(run.id), alone(cfg)
        assert got.config == ref.config and got.progress == ref.progress == {"step": v.step, "epoch": 2}
        for name, w in ref.model_state.items():
            assert torch.allclose(got.model_state[name], w, atol=PARAM_TOL, rtol=0), name
        assert v.history["loss"] == pytest.approx(ref.history["train"]["loss"], abs=LOSS_TOL)
        assert got.metrics == stored.metrics and stored.metrics["val_loss"] == pytest.approx(
            stored.metrics["val_recon"] + cfg.beta * stored.metrics["val_kl"], rel=1e-5)
    assert ws.active in {r.id for r in made}  # a finished member becomes the active model


def test_a_batch_of_arithmetic_members_steps_them_in_threads_each_as_its_own_run(local):
    """Members whose step is arithmetic (64-4000-2 on digits, 0.4 GFLOP: vae_core.threads) step side
    by side, a thread per core taking them in turn, in the one worker; each still trains as its own
    run would."""
    ws = local.store.workspace(new_workspace_id())
    cfgs = sweep.members(tiny("beta_vae", epochs=2, latent_dim=2, hidden=(4000,), batch_size=128, seed=3),
                         betas=[0.5, 1.0, 4.0])
    made = submit_sweep(ws, local, cfgs)
    handles = [local.handle(r.id) for r in made]
    assert all(h.join(180) for h in handles)
    assert len({h.view.pid for h in handles}) == 1
    assert {h.view.threads for h in handles} == {min(3, threads.cores())}  # a thread per core, at most one per member
    for h, run, cfg in zip(handles, made, cfgs):
        v = h.view
        assert v.status == ws.get(run.id).status == "done", v.message
        assert v.recons is not None and v.latent.shape[1] == 2 and v.history["step"] == list(range(1, v.step + 1))
        got, ref = ws.checkpoint(run.id), alone(cfg)
        assert got.progress == ref.progress == {"step": v.step, "epoch": 2}
        for name, w in ref.model_state.items():
            assert torch.allclose(got.model_state[name], w, atol=PARAM_TOL, rtol=0), name
        assert v.val["loss"] == pytest.approx(ref.history["val"]["loss"], abs=LOSS_TOL)


def test_beta_is_per_member_and_stop_stops_the_batch_whose_members_then_resume_alone(local):
    ws = local.store.workspace(new_workspace_id())
    blockers = [local.submit(ws, ws.create(tiny("vae", epochs=2000), f"takes slot {i}")) for i in range(2)]
    cfgs = sweep.members(tiny("beta_vae", epochs=60), betas=[1.0, 2.0, 4.0])
    made = submit_sweep(ws, local, cfgs)
    later = local.submit(ws, ws.create(tiny("vae", epochs=2000), "after the batch"))
    handles = [local.handle(r.id) for r in made]
    # the cap is 2, both slots taken: the batch waits as ONE job, first in line, the last job second
    assert [h.view.status for h in handles] == ["queued"] * 3 and [h.view.ahead for h in handles] == [0, 0, 0]
    assert local.handle(later.run_id).view.ahead == 1
    later.stop()
    for b in blockers:
        b.stop()
    wait(lambda: all(h.view.status == "running" for h in handles), what="the batch")
    assert ws.get(later.run_id).status == "stopped"
    wait(lambda: handles[0].view.step > 20, what="the batch to train")
    handles[1].set_beta(0.5)
    step = handles[1].view.step
    wait(lambda: handles[1].view.step > step + 30, what="steps with the new beta")
    assert handles[2].stop() == tuple(r.id for r in made)  # Stop on one member names all it stops
    assert "whole batch" in BATCH_STOP_RULE
    assert all(h.join(60) for h in handles)
    for i, (h, run) in enumerate(zip(handles, made)):
        v, stored = h.view, ws.get(run.id)
        assert v.status == stored.status == "stopped" and v.step < v.total_steps
        assert ws.checkpoint(run.id).progress["step"] == v.step  # saved with its weights at the stop
        want = 0.5 if i == 1 else cfgs[i].beta
        assert v.history["beta"][0] == cfgs[i].beta and v.history["beta"][-1] == want
        assert ws.checkpoint(run.id).config.beta == want
        assert [b for _, b in stored.beta_changes] == ([0.5] if i == 1 else [])
    resumed = [local.submit(ws, ws.get(r.id), resume=True) for r in made]  # each an ordinary single job
    assert all(h.join(180) for h in resumed)
    for h, run in zip(resumed, made):
        assert h.view.status == "done" and not h.batched, h.view.message
        assert h.view.history["step"] == list(range(1, h.view.step + 1))  # its curves whole
        assert ws.checkpoint(run.id).progress["epoch"] == 60


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killing_the_batch_worker_interrupts_every_member_and_each_resumes(local):
    ws = local.store.workspace(new_workspace_id())
    made = submit_sweep(ws, local, sweep.members(tiny("beta_vae", epochs=30), betas=[0.5, 4.0]))
    handles = [local.handle(r.id) for r in made]
    wait(lambda: all(ws.has_checkpoint(r.id) for r in made) and handles[0].view.epoch >= 2, what="checkpoints")
    helpers = _children(handles[0].view.pid)  # the process it forked to step members with it (2 cores or more)
    assert len(helpers) == (1 if threads.cores() >= 2 else 0)
    local.kill(made[1].id)
    assert all(h.join(60) for h in handles)
    wait(lambda: not any(_alive(pid) for pid in helpers), what="the worker's member process gone with it")
    for r in made:
        assert ws.get(r.id).status == "interrupted" and ws.checkpoint(r.id).progress["step"] > 0
    assert ws.active is None
    resumed = [local.submit(ws, ws.get(r.id), resume=True) for r in made]
    assert all(h.join(180) for h in resumed)
    assert [ws.get(r.id).status for r in made] == ["done", "done"]


def test_a_diverging_member_fails_alone_with_its_last_finite_weights(local):
    """lr 0.3: the β = 1e6 member blows up at step 2 and ends failed, keeping step 1's weights as
    its own run would; the others train on to the end, unaffected."""
    ws = local.store.workspace(new_workspace_id())
    cfgs = sweep.members(tiny("beta_vae", epochs=2, lr=0.3), betas=[0.0, 1.0, 1e6])
    made = submit_sweep(ws, local, cfgs)
    assert all(local.handle(r.id).join(120) for r in made)
    runs = [ws.get(r.id) for r in made]
    assert [r.status for r in runs] == ["done", "done", "failed"], [r.message for r in runs]
    assert "non-finite at step 2" in runs[2].message and "learning rate" in runs[2].message
    own = Trainer(cfgs[2], *load_split(cfgs[2]))  # the same member alone: fails at the same step ...
    with pytest.raises(TrainingDiverged, match="step 2"):
        for _ in own.run():
            pass
    view = local.handle(made[2].id).view  # its curve and pictures came, though it failed before a refresh
    assert view.status == "failed" and view.history["step"] == [1] and view.recons is not None
    kept = ws.checkpoint(made[2].id)  # ... keeping the same weights
    assert kept.progress["step"] == own.step == 1 and not runs[2].metrics
    for name, w in own.checkpoint().model_state.items():
        assert torch.allclose(kept.model_state[name], w, atol=PARAM_TOL, rtol=0), name
    # the others as if it had never been there: what a batch of the two alone gives, and (lr 0.3
    # amplifies float32 rounding in the weights, not in the losses) what their own runs score
    pair = BatchedTrainer(cfgs[:2], *load_split(cfgs[0]), n_threads=None, processes=True)  # as the worker does
    for _ in pair.run():
        pass
    for run, cfg, ref in zip(made[:2], cfgs[:2], pair.checkpoints()):
        got = ws.checkpoint(run.id)
        for name, w in ref.model_state.items():
            assert torch.allclose(got.model_state[name], w, atol=PARAM_TOL, rtol=0), name
        assert got.history["val"]["loss"] == pytest.approx(alone(cfg).history["val"]["loss"], abs=LOSS_TOL)
    assert ws.active in {made[0].id, made[1].id}  # a failed model is never the active one


def test_a_batch_checkpoints_its_members_no_more_often_than_one_job_writes_bytes(monkeypatch):
    """Every epoch's end at most every min_checkpoint_s for one job; a batch of 7 writes 7 files at
    once, so at most every 7 x min_checkpoint_s (within a long epoch, both every checkpoint_s)."""
    from vae_core import checkpoint
    from vae_core.runs import job

    now = [0.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: now[0])
    spec = job.JobSpec("r", tiny("beta_vae"), min_checkpoint_s=2.0, checkpoint_s=30.0)
    one, batch = job._Clock(spec), job._Clock(spec, members=7)
    now[0] = 2.5
    assert one.checkpoint_due(True) and not batch.checkpoint_due(True)
    now[0] = 14.0
    assert batch.checkpoint_due(True) and not batch.checkpoint_due(False)
    batch.checkpointed()
    now[0] = 44.0
    assert batch.checkpoint_due(False)
