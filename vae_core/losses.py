"""Loss terms, as pure functions of tensors.

Reduction rule, for every term: summed over pixels and latent dimensions, averaged over the batch,
so every number is in nats per example (the convention of pytorch/examples vae, so they compare).

Each model's loss returns a dict of named terms: always `loss` and `recon`; `kl` and `kl_per_dim`
for the VAE family; `penalty` for the regularised autoencoders. `loss` is what is optimised; the
other terms are reported (for `kl_only_loss`, `recon` is reported but is not part of `loss`).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .corruption import corrupt

if TYPE_CHECKING:  # annotations only: config imports the registry, which imports this module
    from .config import Config


def recon_nll_per_pixel(out: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    """-log p(x_i|z) per example and pixel, (B, *shape) -> (B, *shape).

    bernoulli: `out` are logits; BCE computed from logits (stable for any logit).
    gaussian: `out` are means, fixed std sigma: (x - out)^2 / (2 sigma^2) + log(2 pi sigma^2) / 2.
    """
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none")
    return (x - out).pow(2) / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * sigma**2)


def recon_nll(out: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float = 0.1) -> torch.Tensor:
    """-log p(x|z) per example, (B, *shape) -> (B,): `recon_nll_per_pixel` summed over the pixels."""
    return recon_nll_per_pixel(out, x, likelihood, sigma).flatten(1).sum(1)


def output_mean(out: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Decoder outputs -> the mean of p(x|z): sigmoid(logits) for Bernoulli, the mean itself for Gaussian."""
    return torch.sigmoid(out) if likelihood == "bernoulli" else out


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, (B, D).

    Closed form, Kingma & Welling 2014, Appendix B: -1/2 (1 + log sigma^2 - mu^2 - sigma^2).
    """
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def bernoulli_kl(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)), elementwise (Ng's sparse autoencoder notes)."""
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def sparse_kl_penalty(code: torch.Tensor, rho: float) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j the batch mean of sigmoid unit j: (B, H) -> scalar."""
    return bernoulli_kl(rho, code.mean(0)).sum()


def jacobian_sq_norm(code: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """||d code / d x||_F^2 per example, (B,). `x` must require grad and `code` be computed from it.

    One backward pass per code unit (latent dims are few); examples are independent, so the
    gradient of code[:, k].sum() w.r.t. x holds row k of every example's Jacobian.
    """
    total = torch.zeros(code.shape[0], device=code.device)
    for k in range(code.shape[1]):
        (row,) = torch.autograd.grad(code[:, k].sum(), x, create_graph=True)
        total = total + row.pow(2).flatten(1).sum(1)
    return total


# --- one loss per variant: (model, x, y, cfg, beta) -> named terms --------------------------


def _recon(model, x_in, x, y, cfg: Config) -> tuple[dict, dict]:
    out = model(x_in, y)
    return out, {"recon": recon_nll(out["logits"], x, cfg.likelihood, cfg.sigma).mean()}


def ae_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """Undercomplete AE: reconstruction only."""
    _, terms = _recon(model, x, x, y, cfg)
    return {"loss": terms["recon"], **terms}


def dae_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """Denoising AE: reconstruct the clean x from a corrupted copy (Vincent et al. 2008)."""
    _, terms = _recon(model, corrupt(x, cfg.corruption, cfg.noise), x, y, cfg)
    return {"loss": terms["recon"], **terms}


def sparse_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """Sparse AE: recon + lambda * sum|a| (l1) or + beta_s * sum_j KL(rho || rho_hat_j) (kl)."""
    out, terms = _recon(model, x, x, y, cfg)
    code = out["z"]  # (B, latent_dim)
    if cfg.sparsity == "l1":
        raw = code.abs().sum(1).mean()
    else:
        raw = sparse_kl_penalty(code, cfg.rho)
    penalty = cfg.sparsity_weight * raw
    return {"loss": terms["recon"] + penalty, **terms, "penalty": penalty}


def contractive_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """Contractive AE: recon + lambda * ||J_f(x)||_F^2 (Rifai et al. 2011)."""
    x = x.detach().requires_grad_(True)
    out, terms = _recon(model, x, x.detach(), y, cfg)
    penalty = cfg.contractive_weight * jacobian_sq_norm(out["z"], x).mean()
    return {"loss": terms["recon"] + penalty, **terms, "penalty": penalty}


def vae_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """(beta-)VAE: recon + beta * KL(q(z|x) || N(0, I)); the negative ELBO when beta = 1."""
    out, terms = _recon(model, x, x, y, cfg)
    kl_per_dim = gaussian_kl(out["mu"], out["logvar"]).mean(0)  # (D,)
    kl = kl_per_dim.sum()
    return {"loss": terms["recon"] + beta * kl, **terms, "kl": kl, "kl_per_dim": kl_per_dim}


def kl_only_loss(model, x, y, cfg: Config, beta: float) -> dict[str, torch.Tensor]:
    """The KL term alone: loss = KL(q(z|x) || N(0, I)); recon is computed and reported, not optimised.

    The third panel of the theory's argument: with nothing asking z to describe x, q(z|x) becomes
    the prior for every x, and the decoder (never trained) reconstructs nothing. beta is ignored.
    """
    terms = vae_loss(model, x, y, cfg, beta)
    return {**terms, "loss": terms["kl"]}
