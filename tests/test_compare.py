"""vae_core.compare (the rate–distortion plane, the same examples and prior codes for several models)
and the shipped digits β sweep and AE / VAE / KL-only trio."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from conftest import tiny
from vae_core import Trainer
from vae_core.models import Autoencoder
from vae_core.compare import (aligned_history, decode_prior, elbo_levels, example_indices, group_lines,
                              iso_elbo_segment, prior_codes, rd_point)
from vae_core.data import load_split
from vae_core.latent import encode
from vae_core.losses import kl_only_loss, vae_loss
from vae_core.zoo import load_entry, load_manifest

SWEEP = "digits-beta-sweep"
TRIO = {"digits-trio-ae": "ae", "digits-trio-vae": "vae", "digits-trio-kl": "kl_only"}
TOL = 0.01  # nats: the collapsed members (β ≥ 4, rate ≈ 0) differ by less, in either direction


@pytest.fixture(scope="module")
def entries():
    return load_manifest()


def sweep(entries):
    return sorted((e for e in entries if e.group == SWEEP), key=lambda e: e.beta)


# --- the shipped models -------------------------------------------------------------------------


def test_the_sweep_is_seven_betas_of_one_architecture(entries):
    members = sweep(entries)
    assert [e.beta for e in members] == [0.25, 0.5, 1, 2, 4, 8, 16]
    assert all(e.ok for e in members)
    configs = [{k: v for k, v in e.config.items() if k != "beta"} for e in members]
    assert all(c == configs[0] for c in configs), "sweep members differ in more than beta"
    assert {e.dataset for e in members} == {"digits"} and {e.latent_dim for e in members} == {8}


def test_rate_falls_and_distortion_rises_as_beta_grows(entries):
    members = sweep(entries)
    rate = [e.metrics["val_kl"] for e in members]
    dist = [e.metrics["val_recon"] for e in members]
    for a, b in zip(rate, rate[1:]):
        assert b <= a + TOL, rate
    for a, b in zip(dist, dist[1:]):
        assert b >= a - TOL, dist
    assert rate[0] - rate[-1] > 5 and dist[-1] - dist[0] > 5  # and the change is large, not noise
    units = [e.metrics["active_units"] for e in members]
    assert units == sorted(units, reverse=True) and units[0] > units[-1]


@pytest.mark.parametrize("beta_index", [0, 3])
def test_the_recorded_rate_is_the_closed_form_kl_of_the_val_split(entries, beta_index):
    """val_kl recomputed with torch.distributions from the encoder's (mu, sigma) on the val split."""
    e = sweep(entries)[beta_index]
    ckpt = load_entry(e)
    model = ckpt.build_model().eval()
    _, val = load_split(ckpt.config)
    mu, logvar = encode(model, val.x)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1).mean().item()
    assert kl == pytest.approx(e.metrics["val_kl"], rel=1e-3, abs=1e-3)


def test_the_trio_loads_and_tells_its_story(entries):
    by_id = {e.id: e for e in entries}
    assert {i: by_id[i].model for i in TRIO} == TRIO
    assert {by_id[i].group for i in TRIO} == {"digits-trio"}
    cfgs = [{k: v for k, v in by_id[i].config.items() if k not in ("model", "beta")} for i in TRIO]
    assert all(c == cfgs[0] for c in cfgs) and cfgs[0]["latent_dim"] == 2 and cfgs[0]["dataset"] == "digits"
    for i in TRIO:
        load_entry(by_id[i]).build_model()
    kl_only, vae, ae = by_id["digits-trio-kl"].metrics, by_id["digits-trio-vae"].metrics, by_id["digits-trio-ae"].metrics
    assert kl_only["val_kl"] < 0.01 and kl_only["val_loss"] == pytest.approx(kl_only["val_kl"])  # loss = KL only
    assert kl_only["val_recon"] > vae["val_recon"] + 10  # it rebuilds nothing
    assert ae["val_recon"] < vae["val_recon"] and vae["val_kl"] > 1


# --- the KL-only loss ---------------------------------------------------------------------------


def test_kl_only_optimises_the_kl_and_reports_recon():
    cfg = tiny("kl_only")
    model = Autoencoder(cfg, (1, 8, 8), 10)
    x = torch.rand(16, 1, 8, 8)
    torch.manual_seed(0)
    terms = kl_only_loss(model, x, None, cfg, 3.0)
    torch.manual_seed(0)
    full = vae_loss(model, x, None, cfg, 3.0)
    torch.testing.assert_close(terms["loss"], full["kl"])  # beta is ignored
    torch.testing.assert_close(terms["recon"], full["recon"])
    terms["loss"].backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in model.decoder.parameters())


# --- the plane ----------------------------------------------------------------------------------


def test_rd_point_needs_finite_kl_and_recon():
    assert rd_point("a", "A", {"val_recon": 3.0}, 1.0, 2) is None  # an AE: no rate
    assert rd_point("a", "A", {"val_recon": 3.0, "val_kl": math.nan}, 1.0, 2) is None
    p = rd_point("a", "A", {"val_recon": 3.0, "val_kl": 1.5}, 2.0, 8, "g")
    assert (p.rate, p.distortion, p.beta, p.latent_dim, p.group) == (1.5, 3.0, 2.0, 8, "g")


def test_groups_join_a_beta_sweep_in_beta_order_not_a_same_beta_trio():
    pts = [rd_point(f"r{b}", "", {"val_recon": 10 + b, "val_kl": 5 - b}, b, 8, "sweep") for b in (2.0, 0.5, 1.0)]
    pts += [rd_point(f"t{i}", "", {"val_recon": 1.0, "val_kl": 1.0}, 1.0, 2, "trio") for i in range(2)]
    pts += [rd_point("alone", "", {"val_recon": 1.0, "val_kl": 1.0}, 1.0, 2, None)]
    lines = group_lines(pts)
    assert list(lines) == ["latent_dim 8"] and [p.beta for p in lines["latent_dim 8"]] == [0.5, 1.0, 2.0]


def test_a_beta_by_latent_dim_sweep_is_one_line_per_latent_dim_named_by_its_settings():
    """Not one line zig-zagging between 2-D and 16-D members, nor a legend of raw group ids."""
    from vae_core import Config
    from vae_core.compare import settings_of

    pts = [rd_point(f"{d}-{b}", "", {"val_recon": 100 - b * d, "val_kl": b * d}, b, d, "04182897ebe1", "β-VAE",
                    settings_of(Config(model="beta_vae", beta=b, latent_dim=d)))
           for d in (2, 16) for b in (0.5, 1.0, 4.0)]
    lines = group_lines(pts)
    assert list(lines) == ["β-VAE · latent_dim 2", "β-VAE · latent_dim 16"]
    for name, d in zip(lines, (2, 16)):
        assert [(p.latent_dim, p.beta) for p in lines[name]] == [(d, 0.5), (d, 1.0), (d, 4.0)]
    # lines that differ in the learning rate too are named by it
    more = [rd_point(f"lr-{b}", "", {"val_recon": 1.0, "val_kl": b}, b, 2, "other", "β-VAE",
                     settings_of(Config(model="beta_vae", beta=b, latent_dim=2, lr=0.01))) for b in (1.0, 2.0)]
    assert sorted(group_lines(pts + more)) == ["β-VAE · latent_dim 16, lr 0.001", "β-VAE · latent_dim 2, lr 0.001",
                                               "β-VAE · latent_dim 2, lr 0.01"]


def test_elbo_levels_span_the_points_and_segments_lie_on_them():
    pts = [rd_point(str(i), "", {"val_recon": d, "val_kl": r}, 1.0, 2) for i, (r, d) in
           enumerate([(9.0, 18.4), (3.1, 21.6), (0.0, 27.1)])]
    sums = [p.rate + p.distortion for p in pts]
    levels = elbo_levels(pts)
    assert levels.min() <= min(sums) and levels.max() >= max(sums)
    assert np.all(np.diff(levels) > 0)
    for level in levels:
        r, d = iso_elbo_segment(float(level), (0.0, 10.0))
        np.testing.assert_allclose(r + d, level)
        assert (d >= 0).all()


# --- the same examples, the same z, one axis ---------------------------------------------------------


def test_example_indices_are_distinct_sorted_and_repeatable():
    a, b = example_indices(1797, 50), example_indices(1797, 50)
    np.testing.assert_array_equal(a, b)
    assert len(set(a.tolist())) == 50 and np.all(np.diff(a) > 0) and a.max() < 1797
    assert len(example_indices(5, 50)) == 5


def test_prior_codes_share_their_first_dims_and_are_standard_normal():
    z2, z8 = prior_codes(2, 4000), prior_codes(8, 4000)
    torch.testing.assert_close(z8[:, :2], z2)
    assert abs(z8.mean().item()) < 0.05 and abs(z8.std().item() - 1) < 0.05


def test_decode_prior_is_the_decoder_mean_at_those_codes():
    cfg = tiny("vae", latent_dim=3)
    model = Autoencoder(cfg, (1, 8, 8), 10).eval()
    got = decode_prior(model, 6, seed=4)
    with torch.no_grad():
        want = torch.sigmoid(model.decoder(prior_codes(3, 6, seed=4), None))  # Bernoulli mean, computed by hand
    torch.testing.assert_close(got, want)


def test_aligned_history_puts_train_steps_on_the_epoch_axis(digits_split):
    train, val = digits_split
    t = Trainer(tiny("vae", epochs=2, batch_size=256), train, val, device="cpu")
    for _ in t.run():
        pass
    ex, ev = aligned_history(t.history, "loss", "val")
    np.testing.assert_array_equal(ex, [1, 2])
    np.testing.assert_array_equal(ev, t.history["val"]["loss"])
    tx, _ = aligned_history(t.history, "recon", "train")
    assert tx[-1] == pytest.approx(2.0) and tx[0] == pytest.approx(1 / math.ceil(len(train) / 256))
    assert len(aligned_history(t.history, "penalty")[0]) == 0
