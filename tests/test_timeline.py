"""Timelines (vae_core.timeline): a snapshot's codes are what the model had at that step (weights saved at
that step, reloaded and encoded again, agree within float16's rounding); the plan, its size limit,
resuming, stopping, sweeps, the checkpoint round trip, the projection for wide latents.

Tolerance for codes: float16 keeps 11 significant bits, so a stored code is within 2^-11 of the float32
code (relative), plus 2^-24 near 0 (float16's smallest step).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import tiny
from vae_core import Trainer, checkpoint, sweep
from vae_core.batched import BatchedTrainer
from vae_core.latent import encode, reconstruct
from vae_core.projection import PCA
from vae_core.timeline import MAX_BYTES, MAX_SNAPSHOTS, Recorder, project
from vae_core.timeline.recorder import dense_steps, sizes, subset_indices

F16_RTOL, F16_ATOL = 2.0**-11, 2.0**-24


def close_f16(stored: torch.Tensor, exact: torch.Tensor) -> None:
    torch.testing.assert_close(stored.float(), exact.float(), rtol=F16_RTOL, atol=F16_ATOL)


def trained(cfg, split, snapshots=True, every_epoch=None):
    t = Trainer(cfg, *split, device="cpu", snapshots=snapshots)
    for r in t.run():
        if every_epoch and r.val is not None:
            every_epoch(t)
    return t


def test_a_snapshot_holds_the_codes_of_the_weights_saved_at_its_step(digits_split):
    """The exactness test: checkpoints saved at each epoch's end, reloaded; their weights encode the
    subset to the snapshot's codes, reconstruct the 8 examples to its pictures, and give its per-dim KL
    (checked against torch.distributions' KL, an independent computation)."""
    _, val = digits_split
    cfg = tiny("vae", latent_dim=2, epochs=4, lr=3e-3)
    saved = {}
    t = trained(cfg, digits_split, every_epoch=lambda t: saved.__setitem__(t.step, checkpoint.to_bytes(t.checkpoint())))
    tl = t.timeline
    assert set(saved) <= set(tl.steps) and len(saved) == 4
    idx = subset_indices(len(val))
    assert torch.equal(tl.index, idx) and torch.equal(tl.labels, val.y[idx])
    for step, blob in saved.items():
        s = tl.steps.index(step)
        model = checkpoint.from_bytes(blob).build_model()
        mu, logvar = encode(model, val.x[idx])
        close_f16(tl.mu[s], mu)
        close_f16(tl.logvar[s], logvar)
        close_f16(tl.recon[s], reconstruct(model, val.x[:8]))
        q = torch.distributions.Normal(mu.double(), (0.5 * logvar.double()).exp())
        p = torch.distributions.Normal(torch.zeros_like(mu.double()), 1.0)
        torch.testing.assert_close(tl.kl[s].double(), torch.distributions.kl_divergence(q, p).mean(0),
                                   rtol=1e-4, atol=1e-6)
        assert tl.betas[s] == 1.0 and tl.epochs[s] == step / t.steps_per_epoch
        assert tl.terms[s]["loss"] == t.history["train"]["loss"][step - 1]  # the step that made these weights
    assert not torch.equal(tl.mu[0], tl.mu[-1])  # it learned something


def test_snapshots_change_nothing_about_training(digits_split):
    cfg = tiny("vae", epochs=2)
    a, b = trained(cfg, digits_split), trained(cfg, digits_split, snapshots=False)
    assert b.timeline is None and len(a.timeline) > 5
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert a.history == b.history


def test_the_plan_dense_first_then_epoch_ends_within_the_limits():
    assert dense_steps(71) == [0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64]
    assert dense_steps(1) == [0]
    # the shipped MNIST VAE: 1,000 validation digits, 2-D, 71 steps an epoch, 60 epochs
    n, cap = sizes(1000, 2, 784, True)
    assert (n, cap) == (1000, MAX_SNAPSHOTS)
    # a 2-D model of full MNIST (6,000 validation digits -> the 2,000 subset) stays under 5 MB too
    n, cap = sizes(6000, 2, 784, True)
    per = n * 2 * 2 * 2 + 8 * 784 * 2 + 2 * 4
    assert n == 2000 and 16 * n + 8 * 784 * 2 + cap * per <= MAX_BYTES == 5 * 2**20
    # wide latents keep fewer snapshots, then fewer examples, never more than MAX_BYTES
    for D in (16, 64, 256):
        n, cap = sizes(2000, D, 784, True)
        assert 16 <= cap <= MAX_SNAPSHOTS and 16 * n + 8 * 784 * 2 + cap * (n * D * 4 + 8 * 784 * 2 + 4 * D) <= MAX_BYTES
    assert sizes(2000, 1024, 784, True) == (0, 0)  # too wide: no timeline


def test_epoch_ends_are_thinned_where_snapshots_would_cost_more_than_their_share():
    """Encoding n codes costs about n / (6 n_train) of an epoch: 2,000 codes against 8,000 training
    examples (4.2 %) keep every second epoch's end; a tenth of the data held out (1.9 %) keeps each."""
    x, y = torch.zeros(2000, 1, 8, 8), torch.zeros(2000, dtype=torch.long)
    assert Recorder(x, y, 2, True, False, 63, 60, n_train=8000).stride == 2
    assert Recorder(x[:1000], y[:1000], 2, True, False, 71, 60, n_train=9000).stride == 1


def test_every_shipped_timeline_follows_the_plan():
    """The shipped checkpoints were made with this recorder: each one's steps are its plan's."""
    from vae_core import zoo
    from vae_core.data import load_split
    from vae_core.registry import spec_of

    for e in zoo.load_manifest():
        ckpt = zoo.load_entry(e)
        cfg = ckpt.config
        train, val = load_split(cfg)
        spe = math.ceil(len(train) / cfg.batch_size)
        r = Recorder(val.x, val.y, cfg.latent_dim, spec_of(cfg.model).variational, cfg.model == "cvae", spe,
                     cfg.epochs, len(train))
        plan = sorted(r.dense) + [k * spe for k in range(1, cfg.epochs + 1) if r.due_at_end(k)]
        assert ckpt.timeline.steps == plan and torch.equal(ckpt.timeline.index, r.index), e.id


def test_a_long_run_keeps_at_most_the_cap_with_the_last_epoch(digits_split):
    train, val = digits_split
    cfg = tiny("ae", latent_dim=2, epochs=40, batch_size=512)  # 4 steps an epoch, 40 epochs
    t = Trainer(cfg, train.subset(slice(0, 2048)), val, device="cpu")
    t.recorder.cap = 20  # (a small cap, to see the stride without a long run)
    t.recorder.stride = math.ceil(40 / (20 - len(t.recorder.dense)))
    for _ in t.run():
        pass
    tl = t.timeline
    assert len(tl) <= 20 and tl.steps[:3] == [0, 1, 2] and tl.epochs[-1] == 40
    assert tl.logvar == [] and tl.kl == []  # a plain AE: codes only
    ends = [e for e in tl.epochs if e >= 1]
    assert len(set(np.diff(ends[:-1]))) == 1 and ends[-1] - ends[-2] <= ends[1] - ends[0]  # evenly spaced, and the last


def test_thinning_keeps_the_first_epoch_and_the_newest(digits_split):
    t = trained(tiny("vae", epochs=3), digits_split)
    tl = t.timeline.copy()
    first = [s for s, e in zip(tl.steps, tl.epochs) if e < 1]
    tl.thin(len(first) + 2)
    assert len(tl) <= len(first) + 2 and tl.steps[:len(first)] == first and tl.steps[-1] == t.timeline.steps[-1]
    assert len(tl.mu) == len(tl.recon) == len(tl.kl) == len(tl)


def test_resuming_continues_the_timeline_as_an_uninterrupted_run(digits_split):
    cfg = tiny("vae", epochs=4)
    whole = trained(cfg, digits_split).timeline
    half = trained(cfg.replace(epochs=2), digits_split).checkpoint()
    resumed = Trainer(cfg, *digits_split, device="cpu", resume=checkpoint.from_bytes(checkpoint.to_bytes(half)))
    for _ in resumed.run():
        pass
    tl = resumed.timeline
    assert tl.steps == whole.steps and tl.epochs == whole.epochs
    for a, b in zip(tl.mu, whole.mu):
        assert torch.equal(a, b)


def test_a_stopped_run_keeps_where_it_stopped_and_goes_on_from_there(digits_split):
    cfg = tiny("vae", epochs=3)
    t = Trainer(cfg, *digits_split, device="cpu")
    for r in t.run():
        if r.step == t.steps_per_epoch + 5:
            t.stop()
    tl = t.timeline
    assert tl.steps[-1] == t.step == t.steps_per_epoch + 5 and tl.epochs[-1] == pytest.approx(1 + 5 / t.steps_per_epoch)
    again = Trainer(cfg, *digits_split, device="cpu", resume=t.checkpoint())
    for _ in again.run():
        pass
    steps = again.timeline.steps
    assert steps[:len(tl)] == tl.steps and steps == sorted(set(steps)) and again.timeline.epochs[-1] == 3


@pytest.mark.parametrize("n_threads, processes", [(1, False), (2, True)])
def test_sweep_members_keep_the_timelines_of_their_own_runs(digits_split, n_threads, processes):
    """Stacked, or in this process and a forked one (each measuring a snapshot due within a slice
    right after the member's step, wherever it stepped): each member's timeline is its own run's."""
    train, val = digits_split
    cfgs = sweep.members(tiny("beta_vae", epochs=2, seed=3), betas=[0.5, 4.0])
    batched = BatchedTrainer(cfgs, train, val, n_threads=n_threads, processes=processes)
    for _ in batched.run():
        pass
    for cfg, ckpt in zip(cfgs, batched.checkpoints()):
        ref = trained(cfg, digits_split).timeline
        got = ckpt.timeline
        assert got.steps == ref.steps and got.epochs == ref.epochs and got.betas == ref.betas
        if processes:  # each step its own run's: the same bits
            assert got.terms == ref.terms
            for k in ("mu", "logvar", "recon", "kl"):
                assert all(torch.equal(a, b) for a, b in zip(getattr(got, k), getattr(ref, k), strict=True)), k
        for a, b in zip(got.mu, ref.mu):  # batched matmuls round differently (tests/test_sweep.py): 1e-4
            torch.testing.assert_close(a.float(), b.float(), rtol=1e-3, atol=1e-4)


def test_the_timeline_survives_the_file_and_only_with_the_history(digits_split):
    t = trained(tiny("cvae", epochs=2), digits_split)
    blob = checkpoint.to_bytes(t.checkpoint())
    back = checkpoint.from_bytes(blob)
    a, b = t.timeline, back.timeline
    assert back.timeline_dropped == "" and a.steps == b.steps and a.epochs == b.epochs and a.terms == b.terms
    for name in ("mu", "logvar", "recon", "kl"):
        assert all(torch.equal(x, y) for x, y in zip(getattr(a, name), getattr(b, name))), name
    assert torch.equal(a.originals, b.originals) and a.nbytes() == b.nbytes()
    assert checkpoint.from_bytes(blob, with_history=False).timeline is None
    assert checkpoint.from_bytes(checkpoint.to_bytes(back.without_optimizer())).timeline.steps == a.steps


def test_a_wide_latent_is_drawn_in_the_final_steps_principal_directions(digits_split):
    t = trained(tiny("vae", latent_dim=5, epochs=2), digits_split)
    tl = t.timeline
    xy, names, note = project(tl, "pca")
    final = tl.mu[-1].float().numpy()
    pca = PCA.fit(final)
    assert names == ("PC1", "PC2") and "fitted once" in note and xy.shape == (len(tl), tl.n, 2)
    np.testing.assert_allclose(xy[-1], pca.apply(final), atol=1e-5)
    np.testing.assert_allclose(xy[0], pca.apply(tl.mu[0].float().numpy()), atol=1e-5)  # the same axes
    xy, names, _ = project(tl, "dims", (3, 1))
    assert names == ("z3", "z1") and np.array_equal(xy[2], tl.mu[2].float().numpy()[:, [3, 1]])
    with pytest.raises(ValueError, match="two different dims"):
        project(tl, "dims", (1, 1))


# --- what the page is sent, and the exported pictures ------------------------------------------------


def test_the_page_gets_the_stored_codes_and_pictures(digits_split):
    from vae_core.timeline import web

    t = trained(tiny("vae", latent_dim=2, epochs=2), digits_split)
    t.set_beta(3.0)  # a live change: marked on the scrubber
    for _ in Trainer(t.cfg.replace(epochs=3), *digits_split, device="cpu", resume=t.checkpoint()).run():
        break
    tl = t.timeline
    spec, data = web.export(tl, t.history)
    got = web.decode(spec, data)
    assert spec["S"] == len(tl) and spec["N"] == tl.n and spec["steps"] == tl.steps and len(data) == spec["size"]
    assert np.array_equal(got["xy"], np.stack([m.numpy() for m in tl.mu]))  # float16 as stored, bit for bit
    assert np.array_equal(got["labels"], tl.labels.numpy())
    want = (np.clip(np.stack([r.float().numpy() for r in tl.recon]), 0, 1) * 255).round()
    assert np.array_equal(got["recon"], want.reshape(len(tl), 8, -1))
    np.testing.assert_array_equal(got["kl"], np.stack([k.numpy() for k in tl.kl]))
    x0, x1, y0, y1 = spec["bounds_run"]
    xy = got["xy"].astype(np.float32)
    inside = (xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)
    assert inside.mean() >= 0.99 and x1 - x0 == pytest.approx(y1 - y0)  # square: z's aspect kept


def test_beta_changes_and_curves_from_the_history():
    from vae_core.timeline import web

    steps = list(range(1000))
    beta = [min(1.0, (s + 1) / 100) for s in steps[:500]] + [4.0] * 500  # warm-up (Trainer.beta_at), a change at 500
    loss = [float(s % 7) for s in steps]
    history = {"train": {"step": steps, "beta": beta, "loss": loss}}
    assert web.beta_marks(history, warmup=100) == [[501, 4.0]]
    cv = web.curves(history)
    assert len(cv["step"]) <= web.CURVE_POINTS and cv["step"][:3] == [1.0, 2.0, 3.0]  # log bins: the first steps alone
    assert cv["loss"][:3] == loss[:3] and "beta" in cv
    # every bin's mean, recomputed from the steps it covers (the step axis is each bin's mean step)
    s = np.asarray(steps) + 1
    for x, y in list(zip(cv["step"], cv["loss"]))[::37]:
        lo = s[np.argmin(np.abs(s - x))]
        assert min(loss) <= y <= max(loss) and abs(x - lo) <= max(1, 0.03 * x)


def test_frames_draw_each_code_in_its_class_colour_and_export(digits_split):
    import io
    import zipfile

    from PIL import Image

    from vae_core.timeline import frames, web

    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
    t = trained(tiny("ae", latent_dim=2, epochs=2), digits_split)
    tl = t.timeline
    pics = frames.frames(tl, colours, size=300)
    assert len(pics) == len(tl) and all(p.shape[1] == 300 and p.dtype == np.uint8 for p in pics)
    xy = np.stack([m.float().numpy() for m in tl.mu])
    box = web.bounds(xy)[0]
    last = frames.draw_map(xy[-1], tl.labels.numpy(), colours, box, 300)
    x0, x1, y0, y1 = box
    u = np.round((xy[-1, :, 0] - x0) / (x1 - x0) * 299).astype(int)
    v = np.round((y1 - xy[-1, :, 1]) / (y1 - y0) * 299).astype(int)
    labels, r = tl.labels.numpy(), 1  # squares of 3 x 3 px at this size
    for a, b in list(zip(u, v))[::7]:
        if 0 <= a < 300 and 0 <= b < 300:  # the pixel has the colour of a code whose square covers it
            near = labels[(np.abs(u - a) <= r) & (np.abs(v - b) <= r)]
            assert tuple(last[b, a]) in {frames._rgb(colours[c]) for c in near}
    assert {tuple(p) for p in last.reshape(-1, 3)} >= {frames._rgb(colours[c]) for c in set(labels.tolist())}
    gif = Image.open(io.BytesIO(frames.gif(pics)))
    assert gif.n_frames >= len(tl) and gif.size == (300, pics[0].shape[0])
    with zipfile.ZipFile(io.BytesIO(frames.png_zip(tl, pics))) as z:
        names = z.namelist()
        assert len(names) == len(tl) and names[0] == "step-0000000.png"
        assert Image.open(io.BytesIO(z.read(names[-1]))).size == (300, pics[-1].shape[0])
