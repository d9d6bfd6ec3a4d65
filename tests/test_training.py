"""The training loop: it learns, it is reproducible, it can be steered, it fails safely, it resumes exactly."""
from __future__ import annotations

import copy
import dataclasses
import math
import threading

import pytest
import torch

from conftest import tiny
from vae_core import MODELS, Trainer, TrainingDiverged, checkpoint


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def run_all(trainer: Trainer) -> list:
    return list(trainer.run())


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_lowers_its_validation_loss(name, digits_split):
    train, val = digits_split
    cfg = tiny(name, epochs=3, lr=3e-3)
    trainer = Trainer(cfg, train, val, device="cpu")
    before = trainer.validate()
    assert trainer.validate() == before  # fixed noise seed: the metric is deterministic
    reports = run_all(trainer)
    after = trainer.validate()
    assert after["loss"] < before["loss"], (before, after)
    assert math.isfinite(after["loss"])

    spe = math.ceil(len(train) / cfg.batch_size)
    assert trainer.step == 3 * spe and trainer.epoch == 3
    closing = [r for r in reports if r.val is not None]
    assert [r.epoch for r in closing] == [1, 2, 3] and [r.step for r in closing] == [spe, 2 * spe, 3 * spe]
    assert closing[-1].val == after and closing[-1].fraction == 1.0
    assert all(r.total_steps == 3 * spe and r.images_per_s > 0 for r in reports)
    assert len(trainer.history["train"]["loss"]) == 3 * spe and trainer.history["val"]["epoch"] == [1, 2, 3]
    expected_terms = {"loss", "recon"} | ({"kl"} if MODELS[name].variational else set()) | (
        {"penalty"} if name in ("sparse_ae", "contractive_ae") else set())
    assert set(reports[0].terms) == expected_terms


def test_same_seed_same_run_whatever_else_draws_random_numbers(digits_split):
    train, val = digits_split
    cfg = tiny("dae", epochs=2, corruption="masking", noise=0.3)  # noise from the RNG at every step
    vcfg = tiny("vae", epochs=2)
    a, b = Trainer(vcfg, train, val), Trainer(vcfg, train, val)  # both built before either runs
    c, d = Trainer(cfg, train, val), Trainer(cfg, train, val)
    run_all(a)
    torch.randn(1000)  # the app drawing samples between two runs
    run_all(b)
    for _ in zip(c.run(), d.run()):  # two jobs stepping in turn in one process
        torch.rand(10)
    for x, y in ((a, b), (c, d)):
        assert same_weights(weights(x), weights(y))
        assert x.history == y.history
    other = Trainer(vcfg.replace(seed=1), train, val)
    run_all(other)
    assert not same_weights(weights(a), weights(other))  # another seed, another run


def test_training_leaves_the_global_rng_alone(digits_split):
    train, val = digits_split
    state = torch.get_rng_state()
    trainer = Trainer(tiny("vae"), train, val)
    run_all(trainer)
    assert torch.equal(torch.get_rng_state(), state)


def test_stop_between_steps(digits_split):
    train, val = digits_split
    trainer = Trainer(tiny("vae", epochs=2), train, val)
    seen = []
    for report in trainer.run():
        seen.append(report.step)
        if report.step == 3:
            stopper = threading.Thread(target=trainer.stop)  # as the app does, from another thread
            stopper.start()
            stopper.join()
    assert seen == [1, 2, 3] and trainer.step == 3
    more = next(trainer.run())  # run() again goes on
    assert more.step == 4


def test_set_beta_changes_the_beta_in_use(digits_split):
    train, val = digits_split
    trainer = Trainer(tiny("vae", epochs=1, beta=1.0), train, val)
    gen = trainer.run()
    for _ in range(3):
        r = next(gen)
        assert r.beta == 1.0
        assert r.terms["loss"] == pytest.approx(r.terms["recon"] + 1.0 * r.terms["kl"], rel=1e-5)
    trainer.set_beta(2.5)
    for r in gen:
        assert r.beta == 2.5
        assert r.terms["loss"] == pytest.approx(r.terms["recon"] + 2.5 * r.terms["kl"], rel=1e-5)
    assert trainer.history["train"]["beta"][:4] == [1.0, 1.0, 1.0, 2.5]
    val_terms = trainer.validate()
    assert val_terms["loss"] == pytest.approx(val_terms["recon"] + 2.5 * val_terms["kl"], rel=1e-5)
    assert trainer.checkpoint().config.beta == 2.5
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            trainer.set_beta(bad)
    assert trainer.beta == 2.5


def test_kl_warmup_ramps_linearly(digits_split):
    train, val = digits_split
    trainer = Trainer(tiny("beta_vae", beta=2.0, kl_warmup=10, epochs=1), train, val)
    reports = [r for r in trainer.run() if r.val is None]
    for r in reports:
        assert r.beta == pytest.approx(2.0 * min(1.0, r.step / 10), abs=1e-12)
        assert r.terms["loss"] == pytest.approx(r.terms["recon"] + r.beta * r.terms["kl"], rel=1e-5)
    betas = [r.beta for r in reports[:10]]
    assert betas == pytest.approx([0.2 * s for s in range(1, 11)])
    assert trainer.beta_at(0) == 0.0 and trainer.beta_at(5) == pytest.approx(1.0)


def _diverge(trainer: Trainer):
    """Run until TrainingDiverged; the weights and Adam state after every good step."""
    snaps = [(weights(trainer), copy.deepcopy(trainer.optimizer.state_dict()["state"]))]
    with pytest.raises(TrainingDiverged, match="non-finite") as info:
        for report in trainer.run():
            if report.val is None:
                snaps.append((weights(trainer), copy.deepcopy(trainer.optimizer.state_dict()["state"])))
    return snaps, info.value


def _assert_kept_last_good(trainer: Trainer, snaps) -> None:
    last_weights, last_adam = snaps[-1]
    now = weights(trainer)
    assert same_weights(now, last_weights)
    assert all(torch.isfinite(v).all() for v in now.values())
    state = trainer.optimizer.state_dict()["state"]
    assert state.keys() == last_adam.keys()
    for i in state:
        for key in state[i]:
            assert torch.equal(state[i][key], last_adam[i][key])
    assert all(p.grad is None for p in trainer.model.parameters())


def test_diverging_learning_rate_keeps_last_good_weights(digits_split, tmp_path):
    train, val = digits_split
    trainer = Trainer(tiny("vae", lr=10.0, epochs=5), train, val)  # Adam moves every weight by ~10
    snaps, err = _diverge(trainer)
    assert trainer.step == len(snaps) - 1 >= 1
    assert f"step {trainer.step + 1}" in str(err)
    _assert_kept_last_good(trainer, snaps)
    path = checkpoint.save(trainer.checkpoint(), tmp_path / "last-good.safetensors")  # as the CLI does
    assert same_weights(checkpoint.load(path).model_state, snaps[-1][0])


def test_nan_in_the_data_keeps_last_good_weights(digits_split):
    train, val = digits_split
    x = train.x.clone()
    x[100, 0, 4, 4] = math.nan
    bad = dataclasses.replace(train, x=x)
    trainer = Trainer(tiny("ae", epochs=1), bad, val)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(trainer.cfg.seed))
    failing = int((order == 100).nonzero()) // trainer.cfg.batch_size  # the batch holding the NaN
    snaps, err = _diverge(trainer)
    assert trainer.step == failing and len(snaps) == failing + 1
    _assert_kept_last_good(trainer, snaps)


@pytest.mark.parametrize("name", ["vae", "dae"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(name, digits_split, tmp_path):
    train, val = digits_split
    cfg = tiny(name, epochs=4, corruption="salt_and_pepper", noise=0.2)
    whole = Trainer(cfg, train, val)
    run_all(whole)

    first = Trainer(cfg.replace(epochs=2), train, val)
    run_all(first)
    path = checkpoint.save(first.checkpoint(), tmp_path / "half.safetensors")
    torch.randn(1000)  # whatever happens in between
    rest = Trainer(cfg, train, val, resume=checkpoint.load(path))
    assert (rest.step, rest.epoch) == (first.step, 2)
    run_all(rest)

    assert same_weights(weights(rest), weights(whole))
    assert rest.history == whole.history
    a, b = rest.optimizer.state_dict()["state"], whole.optimizer.state_dict()["state"]
    assert all(torch.equal(a[i][k], b[i][k]) for i in a for k in a[i])


def test_a_checkpoint_is_a_snapshot(digits_split):
    """Taking a checkpoint, training on, or resuming from it twice must not change it."""
    train, val = digits_split
    cfg = tiny("vae", epochs=1)
    trainer = Trainer(cfg, train, val)
    run_all(trainer)
    ckpt = trainer.checkpoint()
    frozen = copy.deepcopy(ckpt)
    trainer.cfg = cfg.replace(epochs=2)
    run_all(trainer)  # trains on after the snapshot
    runs = []
    for _ in range(2):
        resumed = Trainer(cfg.replace(epochs=2), train, val, resume=ckpt)
        run_all(resumed)
        runs.append(weights(resumed))
    assert same_weights(runs[0], runs[1])
    assert same_weights(runs[0], weights(trainer))
    assert same_weights(ckpt.model_state, frozen.model_state)
    for i, state in frozen.optimizer_state["state"].items():
        assert all(torch.equal(ckpt.optimizer_state["state"][i][k], v) for k, v in state.items())
    assert ckpt.history == frozen.history and ckpt.progress == frozen.progress
    assert all(torch.equal(ckpt.rng[k], frozen.rng[k]) for k in frozen.rng)


def test_bf16_mixed_precision_trains_to_the_same_place(digits_split):
    """precision="bf16" autocasts the training steps: weights stay float32, the loss falls as in fp32."""
    train, val = digits_split
    cfg = tiny("vae", epochs=4, lr=3e-3)
    runs = {}
    for precision in ("fp32", "bf16"):
        trainer = Trainer(cfg.replace(precision=precision), train, val, device="cpu")
        before = trainer.validate()["loss"]
        for _ in trainer.run():
            pass
        after = trainer.validate()["loss"]
        assert after < before - 1.0
        assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
        runs[precision] = after
    assert abs(runs["bf16"] - runs["fp32"]) < 1.0  # nats per example, on 64-pixel digits
    with pytest.raises(ValueError, match="precision"):
        cfg.replace(precision="fp8")
