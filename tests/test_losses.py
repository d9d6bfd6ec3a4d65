"""Loss terms against independent computations (torch.distributions, autograd.functional, by hand)."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from conftest import tiny
from vae_core import MODELS
from vae_core.corruption import gaussian_noise, masking_noise, salt_and_pepper
from vae_core.losses import (
    contractive_loss,
    dae_loss,
    ae_loss,
    gaussian_kl,
    jacobian_sq_norm,
    recon_nll,
    sparse_kl_penalty,
    sparse_loss,
    vae_loss,
)
from vae_core.models import Autoencoder

SHAPE = (1, 8, 8)


def build(model: str, shape=SHAPE, n_classes: int = 10, **changes) -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(tiny(model, **changes), shape, n_classes)


def images(n: int, shape=SHAPE, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


# --- closed forms against torch.distributions ---------------------------------------------


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu = 2 * torch.randn(64, 5, generator=g, dtype=torch.float64)
    logvar = 3 * torch.randn(64, 5, generator=g, dtype=torch.float64)
    want = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))  # (64, 5)
    got = gaussian_kl(mu, logvar)
    assert got.shape == (64, 5)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    assert torch.all(got >= 0)
    assert torch.equal(gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(3, 2))


def test_recon_nll_bernoulli_matches_log_prob():
    g = torch.Generator().manual_seed(2)
    logits = 4 * torch.randn(16, *SHAPE, generator=g, dtype=torch.float64)
    x_binary = (torch.rand(16, *SHAPE, generator=g) < 0.3).double()
    x_gray = torch.rand(16, *SHAPE, generator=g, dtype=torch.float64)  # digits are gray levels
    for x in (x_binary, x_gray):
        want = -Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(1).sum(1)
        torch.testing.assert_close(recon_nll(logits, x, "bernoulli"), want, rtol=1e-12, atol=1e-10)


def test_recon_nll_bernoulli_is_stable_at_extreme_logits():
    # -log p(x | l) = softplus(l) - x l = max(l, 0) - x l + log1p(exp(-|l|)), by hand, per pixel
    logits = torch.tensor([[100.0, -100.0, 100.0, -100.0, 0.0, 100.0]])
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0, 0.5]])
    want = sum(max(l, 0.0) - v * l + math.log1p(math.exp(-abs(l))) for l, v in zip(logits[0].tolist(), x[0].tolist()))
    got = recon_nll(logits, x, "bernoulli")
    assert torch.isfinite(got).all()
    assert got.item() == pytest.approx(want, rel=1e-6)  # 0 + 0 + 100 + 100 + log 2 + 50
    # a confident right answer costs ~e^-100, not 0 * log 0 = nan
    assert recon_nll(torch.tensor([[100.0]]), torch.tensor([[1.0]]), "bernoulli").item() == pytest.approx(0.0, abs=1e-30)


def test_recon_nll_gaussian_matches_log_prob():
    g = torch.Generator().manual_seed(3)
    mean = torch.randn(8, 3, 4, 4, generator=g, dtype=torch.float64)
    x = torch.rand(8, 3, 4, 4, generator=g, dtype=torch.float64)
    for sigma in (0.1, 1.0, 2.5):
        want = -Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
        torch.testing.assert_close(recon_nll(mean, x, "gaussian", sigma), want, rtol=1e-12, atol=1e-9)


# --- sparse and contractive penalties --------------------------------------------------------


def test_sparse_kl_penalty_worked_example():
    # KL(0.2 || 0.5) = 0.2 ln(0.2/0.5) + 0.8 ln(0.8/0.5) = 0.19274 nats
    codes = torch.tensor([[0.2], [0.8], [0.4], [0.6]])  # batch mean 0.5
    assert sparse_kl_penalty(codes, 0.2).item() == pytest.approx(0.1927, abs=1e-4)
    three = torch.tensor([[0.1, 0.9, 0.5], [0.9, 0.1, 0.5]])  # three units, each with mean 0.5
    assert sparse_kl_penalty(three, 0.2).item() == pytest.approx(3 * 0.1927, abs=3e-4)
    assert sparse_kl_penalty(torch.full((5, 4), 0.2), 0.2).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("sparsity", ["kl", "l1"])
def test_sparse_loss_penalty(sparsity):
    model = build("sparse_ae", sparsity=sparsity, sparsity_weight=0.7, rho=0.1)
    cfg = tiny("sparse_ae", sparsity=sparsity, sparsity_weight=0.7, rho=0.1)
    x = images(32)
    terms = sparse_loss(model, x, None, cfg, 1.0)
    code = model.encode(x)[0].double()  # (32, 3)
    if sparsity == "kl":
        rho, rho_hat = 0.1, code.mean(0)
        raw = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    else:
        raw = code.abs().sum(1).mean()
    assert terms["penalty"].item() == pytest.approx(0.7 * raw.item(), rel=1e-5)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + terms["penalty"].item(), rel=1e-6)


def _per_example_jacobian_norms(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    """||d code / d x||_F^2 of each example alone, with torch.autograd.functional.jacobian."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0][0], xi)  # (L, *shape)
        out.append(jac.pow(2).sum())
    return torch.stack(out)


@pytest.mark.parametrize("arch,hidden", [("mlp", (16,)), ("conv", (4, 8))])
def test_jacobian_sq_norm_matches_autograd_jacobian(arch, hidden):
    cfg = tiny("contractive_ae", arch=arch, hidden=hidden, contractive_weight=0.3)
    torch.manual_seed(0)
    model = Autoencoder(cfg, SHAPE, 10).double()
    x = images(6).double().requires_grad_(True)
    got = jacobian_sq_norm(model.encode(x)[0], x)
    want = _per_example_jacobian_norms(model, x.detach())
    assert got.shape == (6,)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    terms = contractive_loss(model, x.detach(), None, cfg, 1.0)
    torch.testing.assert_close(terms["penalty"], 0.3 * want.mean(), rtol=1e-10, atol=1e-12)
    assert terms["penalty"].requires_grad  # the penalty is trained through (create_graph)


# --- reparameterization ----------------------------------------------------------------------


def test_reparameterize_mean_variance_and_gradients():
    torch.manual_seed(0)
    n = 200_000
    mu = torch.tensor([-1.0, 0.0, 2.5], requires_grad=True)
    logvar = torch.tensor([0.0, -2.0, 1.5], requires_grad=True)
    z = Autoencoder.reparameterize(mu.expand(n, 3), logvar.expand(n, 3))  # (n, 3)
    var = logvar.detach().exp()
    se_mean = (var / n).sqrt()
    se_var = var * math.sqrt(2 / (n - 1))
    assert torch.all((z.detach().mean(0) - mu.detach()).abs() < 5 * se_mean)
    assert torch.all((z.detach().var(0) - var).abs() < 5 * se_var)
    z.sum().backward()
    # dz/dmu = 1, dz/dlogvar = sigma * eps / 2 = (z - mu) / 2
    torch.testing.assert_close(mu.grad, torch.full((3,), float(n)))
    torch.testing.assert_close(logvar.grad, 0.5 * (z.detach() - mu.detach()).sum(0), rtol=1e-4, atol=1e-2)


# --- corruptions -----------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.3, 0.5, 0.9])
def test_masking_zeroes_exactly_round_frac_d(fraction):
    torch.manual_seed(0)
    x = 0.1 + 0.9 * images(50)  # no zeros before
    out = masking_noise(x, fraction)
    k = round(fraction * 64)
    zeroed = (out == 0).flatten(1)
    assert torch.all(zeroed.sum(1) == k)
    kept = ~zeroed
    assert torch.equal(out.flatten(1)[kept], x.flatten(1)[kept])  # the others untouched
    if 0 < k < 64:
        assert len({tuple(row.nonzero().flatten().tolist()) for row in zeroed}) > 1  # chosen per example


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.6])
def test_salt_and_pepper_sets_exactly_round_frac_d(fraction):
    torch.manual_seed(0)
    x = torch.full((400, *SHAPE), 0.5)
    out = salt_and_pepper(x, fraction).flatten(1)
    k = round(fraction * 64)
    changed = out != 0.5
    assert torch.all(changed.sum(1) == k)
    values = out[changed]
    assert torch.all((values == 0) | (values == 1))
    n = values.numel()
    assert abs(values.mean().item() - 0.5) < 4 * 0.5 / math.sqrt(n)  # about half salt, half pepper


def test_gaussian_noise_std():
    torch.manual_seed(0)
    x = torch.full((1000, *SHAPE), 0.5)
    eps = (gaussian_noise(x, 0.3) - x).flatten()
    n = eps.numel()
    assert abs(eps.mean().item()) < 5 * 0.3 / math.sqrt(n)
    assert abs(eps.std().item() - 0.3) < 5 * 0.3 / math.sqrt(2 * (n - 1))


@pytest.mark.parametrize("corruption", ["gaussian", "masking", "salt_and_pepper"])
def test_dae_reconstructs_the_clean_input(corruption):
    cfg = tiny("dae", corruption=corruption, noise=0.25)
    model = build("dae")
    x = images(16)
    torch.manual_seed(5)
    from vae_core.corruption import corrupt

    x_noisy = corrupt(x, corruption, 0.25)
    want = -Bernoulli(logits=model(x_noisy)["logits"], validate_args=False).log_prob(x).flatten(1).sum(1).mean()
    torch.manual_seed(5)
    terms = dae_loss(model, x, None, cfg, 1.0)
    assert terms["recon"].item() == pytest.approx(want.item(), rel=1e-6)
    assert not torch.equal(x_noisy, x)
    # with no corruption, it is the plain autoencoder's loss
    clean = tiny("dae", corruption="masking", noise=0.0)
    assert dae_loss(model, x, None, clean, 1.0)["loss"].item() == pytest.approx(
        ae_loss(model, x, None, clean, 1.0)["loss"].item(), rel=1e-7)


# --- the reduction rule ----------------------------------------------------------------------


def _row_hash(t: torch.Tensor, scale: float) -> torch.Tensor:
    """Pseudo-noise that depends only on a row's values and positions: duplicated rows get the same."""
    pos = torch.arange(t[0].numel(), dtype=t.dtype).view_as(t[0])
    return torch.frac(torch.sin(t * 12.9898 + pos * 78.233 + scale).abs() * 43758.5453)


@pytest.mark.parametrize("name", list(MODELS))
def test_terms_are_per_example_sums_averaged_over_the_batch(name, monkeypatch):
    # sampling / corruption noise made a function of the row, so a duplicated batch sees the same noise
    monkeypatch.setattr(torch, "rand_like", lambda t, **kw: _row_hash(t, 0.0))
    monkeypatch.setattr(torch, "randn_like", lambda t, **kw: 2 * _row_hash(t, 1.0) - 1)
    cfg = tiny(name, corruption="masking", noise=0.3)
    model = build(name)
    x, y = images(12), torch.arange(12) % 10
    one = MODELS[name].loss(model, x, y, cfg, cfg.beta)
    two = MODELS[name].loss(model, torch.cat([x, x]), torch.cat([y, y]), cfg, cfg.beta)
    assert set(one) == set(two)
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-5, atol=1e-6, msg=f"term {k}")


def test_recon_sums_over_pixels_by_hand():
    logits = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]]], [[[-3.0, 1.5], [0.25, -0.5]]]])  # (2, 1, 2, 2)
    x = torch.tensor([[[[1.0, 0.0], [0.5, 1.0]]], [[[0.0, 1.0], [1.0, 0.25]]]])
    per_example = []
    for b in range(2):
        total = 0.0
        for l, v in zip(logits[b].flatten().tolist(), x[b].flatten().tolist()):
            p = 1 / (1 + math.exp(-l))
            total += -(v * math.log(p) + (1 - v) * math.log(1 - p))
        per_example.append(total)
    assert recon_nll(logits, x, "bernoulli").tolist() == pytest.approx(per_example, rel=1e-6)
    sigma = 0.5
    gauss = [sum((v - m) ** 2 / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)
                 for m, v in zip(logits[b].flatten().tolist(), x[b].flatten().tolist())) for b in range(2)]
    assert recon_nll(logits, x, "gaussian", sigma).tolist() == pytest.approx(gauss, rel=1e-6)

    # and the loss of a model: the mean over the batch of those per-example sums
    model = build("ae", shape=(1, 2, 2))
    out = model(x)["logits"]
    by_hand = sum(-(v * math.log(1 / (1 + math.exp(-l))) + (1 - v) * math.log(1 - 1 / (1 + math.exp(-l))))
                  for l, v in zip(out.flatten().tolist(), x.flatten().tolist())) / 2
    assert ae_loss(model, x, None, tiny("ae"), 1.0)["recon"].item() == pytest.approx(by_hand, rel=1e-5)


# --- the VAE objective -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.variational])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_vae_loss_is_recon_plus_beta_kl(name, likelihood, beta):
    cfg = tiny(name, likelihood=likelihood, sigma=0.2)
    model = build(name, likelihood=likelihood)
    x, y = images(20), torch.arange(20) % 10
    torch.manual_seed(11)
    terms = vae_loss(model, x, y, cfg, beta)
    torch.manual_seed(11)  # the same draw of z, computed independently
    out = model(x, y)
    if likelihood == "bernoulli":
        log_px = Bernoulli(logits=out["logits"], validate_args=False).log_prob(x)
    else:
        log_px = Normal(out["logits"], 0.2).log_prob(x)
    recon = -log_px.flatten(1).sum(1).mean()
    kl_dims = kl_divergence(Normal(out["mu"], torch.exp(0.5 * out["logvar"])), Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(terms["recon"], recon, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(terms["kl_per_dim"], kl_dims, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["kl"], terms["kl_per_dim"].sum(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(terms["loss"], recon + beta * kl_dims.sum(), rtol=1e-5, atol=1e-4)
    assert terms["kl_per_dim"].shape == (cfg.latent_dim,)
