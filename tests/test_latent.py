"""Latent-space functions and metrics, checked against direct decoding and torch.distributions."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from conftest import tiny
from vae_core import MODELS
from vae_core.latent import (
    decode,
    encode,
    grid_values,
    interpolate,
    lerp,
    manifold_grid,
    prior_samples,
    reconstruct,
    slerp,
    traversals,
    traverse,
)
from vae_core.metrics import active_units, evaluate, example_terms, iwae_bound, kl_per_dim, loss_terms
from vae_core.models import Autoencoder


def small(name: str = "vae", shape=(1, 8, 8), **changes) -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(tiny(name, latent_dim=4, **changes), shape, 10).eval()


def one_by_one(model: Autoencoder, z: torch.Tensor, y=None) -> torch.Tensor:
    """Decode each code alone, as the mean of p(x|z), without vae_core.latent."""
    with torch.no_grad():
        outs = []
        for i, zi in enumerate(z):
            yi = None if y is None else torch.tensor([y if isinstance(y, int) else int(y[i])])
            out = model.decode(zi[None], yi)[0]
            outs.append(torch.sigmoid(out) if model.likelihood == "bernoulli" else out)
        return torch.stack(outs)


# --- grids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,y", [("vae", None), ("cvae", 7), ("ae", None)])
def test_manifold_grid_layout_and_values(name, y):
    model = small(name)
    n, span, dims = 5, 2.0, (2, 0)
    base = torch.tensor([0.3, -0.4, 0.9, 1.1])
    images, z = manifold_grid(model, dims=dims, n=n, span=span, base=base, y=y)
    assert images.shape == (n, n, 1, 8, 8) and z.shape == (n, n, 4)
    values = torch.linspace(-span, span, n)
    for i in range(n):
        for j in range(n):
            assert z[i, j, 2] == values[j]              # column j: the j-th value of dims[0]
            assert z[i, j, 0] == values[n - 1 - i]      # row 0: the highest value of dims[1]
            assert z[i, j, 1] == base[1] and z[i, j, 3] == base[3]
    assert z[0, 0, 0] == span and z[-1, 0, 0] == -span
    torch.testing.assert_close(images.view(n * n, 1, 8, 8), one_by_one(model, z.view(n * n, 4), y),
                               rtol=1e-5, atol=1e-6)
    default, zd = manifold_grid(model, n=3, y=y)  # dims (0, 1), the others at 0
    assert torch.equal(zd[:, :, 2:], torch.zeros(3, 3, 2))
    for bad in ((0, 0), (0, 4), (-1, 1)):
        with pytest.raises(ValueError):
            manifold_grid(model, dims=bad, y=y)


@pytest.mark.parametrize("span", [0.5, 3.0, 5.0])
@pytest.mark.parametrize("n", [2, 7, 20])
def test_grid_values(n, span):
    lin = grid_values(n, span, "linear")
    assert lin.shape == (n,)
    assert lin[0].item() == pytest.approx(-span) and lin[-1].item() == pytest.approx(span)
    torch.testing.assert_close(lin.diff(), torch.full((n - 1,), 2 * span / (n - 1)))

    q = grid_values(n, span, "quantile")  # (k + 1/2)/n quantiles: test_quantile_grid.py
    torch.testing.assert_close(q, -q.flip(0), rtol=0, atol=1e-6)  # symmetric about 0
    if n > 3:
        d = q.diff()
        mid = (n - 1) // 2
        assert d[mid] < d[0]  # denser in the middle
        assert torch.all(d[: mid] > d[1: mid + 1] - 1e-6)  # spacing shrinks towards the centre
    for bad in ((0, 1.0), (3, 0.0), (3, -1.0)):
        with pytest.raises(ValueError):
            grid_values(*bad)
    with pytest.raises(ValueError):
        grid_values(3, 1.0, "log")


# --- paths -----------------------------------------------------------------------------------


def test_interpolate_endpoints_decode_to_the_endpoints():
    model = small()
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(4, generator=g), torch.randn(4, generator=g)
    for method in ("linear", "spherical"):
        path = interpolate(z0, z1, steps=6, method=method)
        assert path.shape == (6, 4)
        torch.testing.assert_close(path[0], z0, rtol=0, atol=1e-6)
        torch.testing.assert_close(path[-1], z1, rtol=0, atol=1e-6)
        ends = decode(model, path[[0, -1]])
        torch.testing.assert_close(ends, one_by_one(model, torch.stack([z0, z1])), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(interpolate(z0, z1, 5), torch.stack([z0 + t * (z1 - z0) for t in
                                                                   (0, 0.25, 0.5, 0.75, 1)]))
    with pytest.raises(ValueError):
        interpolate(z0, z1, method="cubic")


def test_slerp_on_orthogonal_unit_vectors_is_the_quarter_circle():
    e1, e2 = torch.eye(4, dtype=torch.float64)[0], torch.eye(4, dtype=torch.float64)[1]
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    want = torch.stack([math.cos(s * math.pi / 2) * e1 + math.sin(s * math.pi / 2) * e2 for s in t.tolist()])
    torch.testing.assert_close(slerp(e1, e2, t), want, rtol=0, atol=1e-12)


def test_slerp_keeps_equal_norms_and_interpolates_unequal_ones_linearly():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(16, generator=g, dtype=torch.float64), torch.randn(16, generator=g, dtype=torch.float64)
    a, b = 3 * a / a.norm(), 3 * b / b.norm()
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    torch.testing.assert_close(slerp(a, b, t).norm(dim=1), torch.full((11,), 3.0, dtype=torch.float64))
    assert lerp(a, b, t).norm(dim=1)[5] < 2.9  # where a straight line cuts inside the sphere

    # unequal norms: along the great circle, with the norm going linearly (the docstring's promise)
    path = slerp(a, 2 * b, t)
    torch.testing.assert_close(path.norm(dim=1), 3 + 3 * t, rtol=0, atol=1e-12)
    omega = math.acos(float(a @ b) / 9)
    angle_to_a = torch.arccos((path @ a) / (path.norm(dim=1) * 3))
    torch.testing.assert_close(angle_to_a, t * omega, rtol=0, atol=1e-7)
    # (anti)parallel or zero ends fall back to the straight line
    for z1 in (2 * a, -a, torch.zeros(16, dtype=torch.float64)):
        torch.testing.assert_close(slerp(a, z1, t), lerp(a, z1, t))


def test_traverse_changes_only_one_dim():
    model = small()
    z = torch.tensor([0.5, -1.0, 0.25, 2.0])
    values = torch.linspace(-2, 2, 5)
    got = traverse(model, z, dim=2, values=values)
    want = torch.stack([z] * 5)
    want[:, 2] = values
    torch.testing.assert_close(got, one_by_one(model, want), rtol=1e-5, atol=1e-6)
    assert torch.equal(z, torch.tensor([0.5, -1.0, 0.25, 2.0]))  # the input is left alone
    cond = small("cvae")
    torch.testing.assert_close(traverse(cond, z, 0, values, y=3), one_by_one(cond, torch.stack(
        [torch.cat([v[None], z[1:]]) for v in values]), y=3), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["vae", "cvae"])
def test_traversals_sweep_one_dim_a_row(name):
    """All rows in one decoder call: row r is z with only dims[r] swept (dims in any order, repeated)."""
    model, y = small(name), (2 if name == "cvae" else None)
    z = torch.tensor([0.5, -1.0, 0.25, 2.0])
    values, dims = torch.linspace(-3, 3, 9), [3, 0, 2, 0]
    got = traversals(model, z, dims, values, y)
    assert got.shape == (4, 9, 1, 8, 8)
    for r, d in enumerate(dims):
        want = z.repeat(9, 1)
        want[:, d] = values
        torch.testing.assert_close(got[r], one_by_one(model, want, y), rtol=1e-5, atol=1e-6)
    assert torch.equal(z, torch.tensor([0.5, -1.0, 0.25, 2.0]))


@pytest.mark.parametrize("name", ["vae", "cvae", "ae"])
def test_reconstruct_and_prior_samples_decode_the_right_codes(name):
    model = small(name)
    x, y = torch.rand(6, 1, 8, 8), torch.arange(6)
    labels = y if model.n_cond else None
    with torch.no_grad():
        mu = model.encode(x, labels)[0]
    torch.testing.assert_close(reconstruct(model, x, labels), one_by_one(model, mu, labels), rtol=1e-5, atol=1e-6)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(9))
    got = prior_samples(model, 5, 2 if model.n_cond else None, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(got, one_by_one(model, z, 2 if model.n_cond else None), rtol=1e-5, atol=1e-6)
    assert torch.all((got > 0) & (got < 1))  # Bernoulli means


# --- metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_example_terms_per_example(name):
    model = small(name)
    cfg = tiny(name, latent_dim=4)
    x, y = torch.rand(7, 1, 8, 8), torch.arange(7) % 10
    terms = example_terms(model, x, y, cfg)
    with torch.no_grad():
        mu, logvar = model.encode(x, y if model.n_cond else None)
        logits = torch.stack([model.decode(mu[i:i + 1], y[i:i + 1] if model.n_cond else None)[0] for i in range(7)])
    want = -Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(1).sum(1)  # recon at z = mu
    torch.testing.assert_close(terms["recon"], want, rtol=1e-5, atol=1e-4)
    if MODELS[name].variational:
        kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)
        torch.testing.assert_close(terms["kl"], kl, rtol=1e-5, atol=1e-6)
    else:
        assert set(terms) == {"recon"}


def test_active_units_counts_high_variance_dims():
    g = torch.Generator().manual_seed(0)
    mu = torch.zeros(500, 6)
    mu[:, [0, 2, 5]] = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 0.5, 2.0])
    mu[:, 1] = 0.7                                             # constant
    mu[:, 3] = -1.2                                            # constant
    mu[:, 4] = 0.03 * torch.randn(500, generator=g)           # variance ~0.001 < 0.01
    count, var = active_units(mu)
    assert count == 3
    want = [sum((v - sum(col) / 500) ** 2 for v in col) / 499 for col in mu.T.tolist()]  # unbiased
    assert var.tolist() == pytest.approx(want, rel=1e-4, abs=1e-9)
    assert active_units(mu, threshold=0.0005)[0] == 4


def test_kl_per_dim_and_loss_terms_agree_with_the_loss(trained_vae):
    model, cfg, val = trained_vae
    mu, logvar = encode(model, val.x)
    want = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(kl_per_dim(mu, logvar), want, rtol=1e-5, atol=1e-6)
    terms = loss_terms(model, val.x, val.y, cfg, batch_size=64)  # 3 uneven batches, weighted by size
    assert terms["kl_per_dim"] == pytest.approx(want.tolist(), rel=1e-4)
    assert terms["kl"] == pytest.approx(want.sum().item(), rel=1e-4)
    assert loss_terms(model, val.x, val.y, cfg, batch_size=64) == terms  # fixed noise: repeatable
    summary = evaluate(model, val.x, val.y, cfg)
    assert summary["active_units"] == active_units(mu)[0] and "iwae" not in summary


def test_evaluations_in_threads_side_by_side_draw_their_own_noise(trained_vae):
    """A sweep's member threads validate at once (vae_core.batched): each evaluation's fixed noise is
    its own, whatever runs beside it, and the process's generator is left as it was."""
    model, cfg, val = trained_vae
    want = loss_terms(model, val.x, val.y, cfg, batch_size=16)
    iwae = iwae_bound(model, val.x[:40], None, cfg, k=8, seed=2)
    state = torch.get_rng_state()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: loss_terms(model, val.x, val.y, cfg, batch_size=16), range(12)))
        iwaes = list(pool.map(lambda _: iwae_bound(model, val.x[:40], None, cfg, k=8, seed=2), range(12)))
    assert all(g == want for g in got) and all(torch.equal(i, iwae) for i in iwaes)
    assert torch.equal(torch.get_rng_state(), state)


def _iwae_by_hand(model, x, y, cfg, k, seed):
    """log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) with torch.distributions, one example at a time."""
    torch.manual_seed(seed)
    with torch.no_grad():
        mu, logvar = model.encode(x, y)
        eps = torch.randn(k, *mu.shape)  # the draws iwae_bound makes under the same seed
        out = []
        for b in range(len(x)):
            q = Normal(mu[b], torch.exp(0.5 * logvar[b]))
            log_w = []
            for i in range(k):
                z = mu[b] + q.scale * eps[i, b]
                logits = model.decode(z[None], None if y is None else y[b:b + 1])[0]
                if cfg.likelihood == "bernoulli":
                    log_px = Bernoulli(logits=logits, validate_args=False).log_prob(x[b]).sum()
                else:
                    log_px = Normal(logits, cfg.sigma).log_prob(x[b]).sum()
                log_w.append(log_px + Normal(0.0, 1.0).log_prob(z).sum() - q.log_prob(z).sum())
            out.append(torch.logsumexp(torch.stack(log_w), 0) - math.log(k))
        return torch.stack(out)


@pytest.mark.parametrize("name,likelihood", [("vae", "bernoulli"), ("vae", "gaussian"), ("cvae", "bernoulli")])
def test_iwae_bound_matches_an_independent_computation(name, likelihood, digits):
    cfg = tiny(name, latent_dim=4, likelihood=likelihood, sigma=0.3)
    model = small(name, likelihood=likelihood, sigma=0.3)
    x, y = digits.x[:12], digits.y[:12]
    got = iwae_bound(model, x, y, cfg, k=6, seed=4)
    want = _iwae_by_hand(model, x, y if model.n_cond else None, cfg, k=6, seed=4)
    assert got.shape == (12,)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)
    assert torch.equal(iwae_bound(model, x, y, cfg, k=6, seed=4), got)  # seeded: repeatable
    with pytest.raises(ValueError):
        iwae_bound(model, x, y, cfg, k=0)
    with pytest.raises(ValueError):
        iwae_bound(small("ae"), x, None, tiny("ae"), k=3)


def test_iwae_k1_is_the_elbo_in_expectation(trained_vae):
    model, cfg, val = trained_vae
    x = val.x[:60]
    # ELBO by Monte Carlo, independently: E_q[log p(x|z)] from 400 draws + the analytic KL
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = mu + q.scale * torch.randn(400, *mu.shape, generator=g)             # (400, 60, 4)
        log_px = Bernoulli(logits=model.decode(z.flatten(0, 1)), validate_args=False).log_prob(
            x.repeat(400, 1, 1, 1)).flatten(1).sum(1).view(400, 60)
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(1)                           # (60,)
    elbo_draws = (log_px - kl).mean(1)                                           # (400,) data-averaged
    elbo, elbo_se = elbo_draws.mean().item(), elbo_draws.std().item() / math.sqrt(400)
    seeds = torch.stack([iwae_bound(model, x, None, cfg, k=1, seed=s).mean() for s in range(200)])
    iwae1, iwae_se = seeds.mean().item(), seeds.std().item() / math.sqrt(200)
    assert abs(iwae1 - elbo) < 4 * math.hypot(elbo_se, iwae_se), (iwae1, elbo, elbo_se, iwae_se)
    # and the model's own loss is the negative ELBO with beta = 1, also within its noise
    loss = loss_terms(model, x, val.y[:60], cfg, beta=1.0)["loss"]
    assert abs(-loss - elbo) < 4 * math.hypot(elbo_se, elbo_draws.std().item())


def test_iwae_bound_rises_with_k(trained_vae):
    model, cfg, val = trained_vae
    # E[L_100] - E[L_10] is only ~0.02 nats here, and one seed's val-set mean of L_10 has a std of
    # ~0.015: average 20 seeds (std ~0.004) so the order is the bound's, not the noise's
    l1, l10, l100 = (sum(iwae_bound(model, val.x, val.y, cfg, k=k, seed=s).mean().item() for s in range(20)) / 20
                     for k in (1, 10, 100))
    assert l1 < l10 < l100 < 0, (l1, l10, l100)
    summary = evaluate(model, val.x, val.y, cfg, k=10)
    seed0 = iwae_bound(model, val.x, val.y, cfg, k=10, seed=0).mean().item()
    assert summary["iwae"] == pytest.approx(seed0, rel=1e-6) and summary["iwae_k"] == 10
