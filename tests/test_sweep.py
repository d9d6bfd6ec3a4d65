"""Sweeps: batched members equal separate Trainer runs with the same seed; the sweep CLI's JSON.

Tolerance: parameters within 1e-5 (absolute) and validation losses within 1e-4 nats after two
epochs. Batched matmuls sum in another order than single ones, so float32 rounding (~1e-7 per op)
is all that may differ; a wrong batch order, noise draw, warm-up or Adam step differs by >1e-3.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny
from vae_core import Trainer, checkpoint
from vae_core.trainer import TrainingDiverged
from vae_core import sweep
from vae_core import batched
from vae_core.batched import BatchedTrainer
from vae_core.member_process import take_steps
from vae_core.cli import sweep as sweep_cli
from vae_core.runs import submit_sweep

REPO = Path(__file__).resolve().parents[1]
PARAM_TOL, LOSS_TOL = 1e-5, 1e-4


@pytest.mark.parametrize("n_threads, processes", [(1, False), (3, False), (2, False), (2, True)])
@pytest.mark.parametrize("model, warmup", [("beta_vae", 15), ("dae", 0)])
def test_batched_members_equal_separate_runs(digits_split, monkeypatch, model, warmup, n_threads, processes):
    """Stacked (1 thread), or each member's own step in threads (3: one each; 2: one thread steps two
    members in turn), or in this process and a forked one taking members in turn (2, processes),
    with the noise of the VAE's ε or of the DAE's corruption drawn per member."""
    train, val = digits_split
    cfgs = sweep.members(tiny(model, epochs=2, kl_warmup=warmup, seed=3), betas=[0.5, 1.0, 4.0])
    batched = BatchedTrainer(cfgs, train, val, n_threads=n_threads, processes=processes)
    assert batched.threads == n_threads and len(batched._helpers) == processes
    here = []  # the steps taken in this process (the others were taken in the forked one)
    if processes:
        def counted(*args):
            rows = take_steps(*args)
            here.extend(rows)
            return rows
        monkeypatch.setattr("vae_core.batched.take_steps", counted)
        deadline = time.monotonic() + 60
        while not batched._helpers[0].ready():  # forked: says ready at once, unless the host is very busy
            assert time.monotonic() < deadline, "the member process never said ready"
            time.sleep(0.01)
    for _ in batched.run():
        pass
    if processes:  # both processes stepped members
        assert 0 < len(here) < sum(len(t.history["train"]["loss"]) for t in batched.trainers)
    got = batched.checkpoints()
    for cfg, ckpt in zip(cfgs, got):
        alone = Trainer(cfg, train, val)
        for _ in alone.run():
            pass
        ref = alone.checkpoint()
        assert ckpt.config == ref.config and ckpt.progress == ref.progress
        for name, w in ref.model_state.items():
            assert torch.allclose(ckpt.model_state[name], w, atol=PARAM_TOL, rtol=0), name
        for i, s in ref.optimizer_state["state"].items():  # Adam's moments, member by member
            assert torch.allclose(ckpt.optimizer_state["state"][i]["exp_avg"], s["exp_avg"], atol=PARAM_TOL)
        assert ckpt.history["val"]["loss"] == pytest.approx(ref.history["val"]["loss"], abs=LOSS_TOL)
        assert ckpt.history["train"]["loss"] == pytest.approx(ref.history["train"]["loss"], abs=LOSS_TOL)
        if n_threads > 1:  # the same operations as its own run, on one intra-op thread: the same bits
            assert all(torch.equal(ckpt.model_state[k], w) for k, w in ref.model_state.items())
            wall = "speed"  # images per second of wall time: a run's own, no member of a batch has one
            assert ckpt.history == {k: v for k, v in ref.history.items() if k != wall}
            assert torch.equal(ckpt.rng["torch"], ref.rng["torch"])
    if model == "beta_vae":  # the members really differ: a larger β buys a smaller KL
        kls = [c.metrics["val_kl"] for c in got]
        assert kls[0] > kls[-1]


@pytest.mark.parametrize("slice_s, processes", [(0.0, False), (60.0, False), (0.0, True), (60.0, True)])
def test_members_in_threads_meet_at_every_report_and_take_a_new_beta_from_the_next_step(digits_split, monkeypatch, slice_s,
                                                                                        processes):
    """Threads (or this process and a forked one) take the members in turn within a slice (a step
    long with SLICE_S = 0, the epoch with 60 s): at every report each member is at the report's
    step, a β set then is each member's from its next step, and a member trains exactly as its own
    run would whatever the slices (its own run, given the same change at the same step)."""
    monkeypatch.setattr(batched, "SLICE_S", slice_s)
    train, val = digits_split
    cfgs = sweep.members(tiny("beta_vae", epochs=2, seed=5), betas=[0.5, 1.0, 4.0])
    batch = BatchedTrainer(cfgs, train, val, n_threads=2, processes=processes)
    reports, changed = 0, None
    for report in batch.run():
        reports += 1
        assert [batch.trainers[m].step for m in batch.active] == [report.step] * 3
        if changed is None and report.step >= 5:
            changed = report.step
            batch.trainers[1].set_beta(2.0)
    spe = batch.trainers[0].steps_per_epoch
    # a report per slice and one per epoch's end; the first slice is one step (no pace known yet)
    assert reports == (2 * spe + 2 if slice_s == 0 else 1 + 1 + 1 + 1 + 1)
    rows = batch.trainers[1].history["train"]
    assert rows["beta"][changed - 1] == 1.0 and rows["beta"][changed:] == [2.0] * (2 * spe - changed)
    own = Trainer(cfgs[1], train, val)
    for report in own.run():
        if report.step == changed and report.val is None:
            own.set_beta(2.0)
    got, ref = batch.checkpoints([1])[0], own.checkpoint()
    assert all(torch.equal(got.model_state[k], w) for k, w in ref.model_state.items())
    assert got.history["train"] == ref.history["train"]


@pytest.mark.parametrize("n_threads, processes", [(1, False), (3, False), (2, True)])
def test_a_diverging_member_stops_the_batch_or_leaves_it_with_its_last_finite_weights(digits_split, n_threads, processes):
    """lr 0.3: the β = 1e6 member's loss is non-finite at step 2, as in its own run."""
    train, val = digits_split
    cfgs = sweep.members(tiny("beta_vae", epochs=2, lr=0.3), betas=[0.0, 1.0, 1e6])
    with pytest.raises(TrainingDiverged, match=r"member with β = 1e\+06"):
        for _ in BatchedTrainer(cfgs, train, val, n_threads=n_threads, processes=processes).run():
            pass
    batch = BatchedTrainer(cfgs, train, val, drop_diverged=True, n_threads=n_threads, processes=processes)
    for _ in batch.run():
        pass
    assert list(batch.failed) == [2] and "non-finite at step 2" in batch.failed[2]
    own = Trainer(cfgs[2], train, val)
    with pytest.raises(TrainingDiverged, match="step 2"):
        for _ in own.run():
            pass
    got = batch.checkpoints()
    assert got[2].progress["step"] == own.step == 1 and got[0].progress["epoch"] == 2
    for name, w in own.checkpoint().model_state.items():
        assert torch.allclose(got[2].model_state[name], w, atol=PARAM_TOL, rtol=0), name


def test_members_and_groups():
    base = tiny("beta_vae")
    cfgs = sweep.members(base, betas=[1, 2], latent_dims=[2, 5])
    assert [(c.latent_dim, c.beta) for c in cfgs] == [(2, 1), (2, 2), (5, 1), (5, 2)]
    assert sweep.groups(cfgs) == [[0, 1], [2, 3]]
    for bad, words in [(dict(betas=[]), "at least one"), (dict(betas=[-1.0]), "beta must be"), (dict(latent_dims=[0]), "latent_dim")]:
        with pytest.raises(ValueError, match=words):
            sweep.members(base, **bad)


def test_sweep_cli_writes_one_checkpoint_per_member(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    args = ["--dataset", "digits", "--model", "beta_vae", "--beta", "0.5,4", "--latent-dim", "2,3",
            "--hidden", "32", "--epochs", "1", "--seed", "0", "--out", str(tmp_path / "sw")]
    done = subprocess.run([sys.executable, "-m", "vae_core.sweep", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout.strip().splitlines()[-1])["runs"]
    assert [(r["beta"], r["latent_dim"]) for r in runs] == [(0.5, 2), (4.0, 2), (0.5, 3), (4.0, 3)]
    # its first line once, when the models are built (as train's), then each group's epochs
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "sweep of 4 beta_vae on digits (1617 train / 180 val)"
    assert [ln.split(":")[0] for ln in lines[1:]] == ["group 1", "group 2"]
    for r in runs:
        ckpt = checkpoint.load(r["path"])
        assert (ckpt.config.beta, ckpt.config.latent_dim) == (r["beta"], r["latent_dim"])
        assert ckpt.metrics["val_loss"] == pytest.approx(r["val_loss"])
        # the loss is recon + β KL, as printed
        assert r["val_loss"] == pytest.approx(r["val_recon"] + r["beta"] * r["val_kl"], rel=1e-5)


@pytest.mark.parametrize("flags, words", [
    (["--beta", ""], "empty"),
    (["--beta", "1,-2"], "beta must be"),
    (["--latent-dim", "0"], "latent_dim"),
    (["--beta", "1,x"], "--beta"),
])
def test_sweep_cli_bad_input_exits_2(tmp_path, capsys, flags, words):
    try:  # a flag argparse rejects exits from inside the parser; a bad value returns 2
        status = sweep_cli.main(["--dataset", "digits", "--model", "beta_vae", "--epochs", "1", "--out", str(tmp_path),
                             *flags])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and words in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.safetensors"))


def test_a_sweep_in_the_run_store_ends_as_grouped_done_runs(tmp_path):
    from vae_core.runs import RunStore, make_executor, new_workspace_id
    store = RunStore(tmp_path / "runs")
    executor = make_executor(store, "local", max_jobs=2, min_checkpoint_s=0.0, refresh_s=0.1)
    try:
        ws = store.workspace(new_workspace_id())
        cfgs = sweep.members(tiny("beta_vae", epochs=2), betas=[0.5, 1.0, 8.0])
        made = submit_sweep(ws, executor, cfgs)
        assert all(executor.handle(r.id).join(120) for r in made)
    finally:
        executor.shutdown()
    runs = [ws.get(r.id) for r in made]
    assert {r.status for r in runs} == {"done"}, [r.message for r in runs]
    assert len({r.group for r in runs}) == 1 and runs[0].group
    assert runs[0].group_name == "β sweep · 3 runs"
    for r, cfg in zip(runs, cfgs):
        ckpt = ws.checkpoint(r.id)
        assert ckpt.config.beta == cfg.beta and ckpt.progress["epoch"] == 2
        assert {"val_recon", "val_kl", "val_loss", "active_units"} <= set(r.metrics)
        assert r.metrics["val_loss"] == pytest.approx(r.metrics["val_recon"] + cfg.beta * r.metrics["val_kl"], rel=1e-5)
    # a reload of the store keeps the grouping
    again = RunStore(tmp_path / "runs").workspace(ws.id)
    assert [again.get(r.id).group for r in runs] == [r.group for r in runs]
