"""Numbers about a trained model: loss terms, per-dimension KL, active units, the IWAE bound.

Same reduction rule as `losses.py`: nats per example, summed over pixels and latent dims.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable

import torch

from . import noise
from .config import Config
from .latent import _labels, device_of, encode
from .losses import gaussian_kl, recon_nll
from .models import Autoencoder
from .registry import spec_of

LOG_2PI = math.log(2 * math.pi)


@contextmanager
def _fixed_noise(device: torch.device, seed: int):
    """Inside, on this thread, the noise (vae_core.noise) comes from a generator of its own seeded
    with `seed`: the draws the process's generator would give after torch.manual_seed(seed), without
    touching it, so that evaluations may run in threads side by side (vae_core.batched). -> the generator."""
    generator = torch.Generator(device=device).manual_seed(seed)
    with noise.drawing_from(generator):
        yield generator


def loss_terms(model: Autoencoder, x: torch.Tensor, y: torch.Tensor, cfg: Config, beta: float | None = None,
               batch_size: int = 500, seed: int = 0) -> dict:
    """Each loss term averaged over a whole dataset; corruption / sampling noise from `seed`.

    -> {"loss", "recon", ["kl", "kl_per_dim" (list)], ["penalty"]}
    """
    beta = cfg.beta if beta is None else beta
    loss = spec_of(cfg.model).loss
    sums: dict[str, torch.Tensor] = {}
    with _fixed_noise(x.device, seed):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            for k, v in loss(model, xb, yb, cfg, beta).items():  # grad on: the contractive term needs it
                sums[k] = sums.get(k, 0) + v.detach() * len(xb)
    return {k: (v / len(x)).tolist() for k, v in sums.items()}


@torch.no_grad()
def example_terms(model: Autoencoder, x: torch.Tensor, y, cfg: Config) -> dict[str, torch.Tensor]:
    """Per-example numbers for the explorer, (N,) each: recon at z = mu, and the KL for a VAE."""
    mu, logvar = encode(model, x, y)
    out = model.decode(mu, _labels(model, y, len(mu)))  # decode() one-hot encodes the labels itself
    terms = {"recon": recon_nll(out, x.to(mu.device), cfg.likelihood, cfg.sigma)}
    if logvar is not None:
        terms["kl"] = gaussian_kl(mu, logvar).sum(1)
    return terms


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL(q(z_d|x) || N(0, 1)) of each latent dim over the data: (N, D) -> (D,)."""
    return gaussian_kl(mu, logvar).mean(0)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Burda et al. 2015: unit u is active when Cov_x(E_q[z_u | x]) > threshold.

    mu (N, D) -> (number of active units, the per-unit variance (D,)).
    """
    var = mu.var(0)
    return int((var > threshold).sum()), var


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dim."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


@torch.no_grad()
def iwae_bound(model: Autoencoder, x: torch.Tensor, y, cfg: Config, k: int = 100, seed: int = 0,
               progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) with k samples (Burda et al. 2015), (N,) nats.

    L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). E[L_1] is the ELBO and
    E[L_k] rises towards log p(x) as k grows. `progress(fraction done)` is called after each chunk.
    """
    if not model.variational:
        raise ValueError("the IWAE bound needs a VAE-family model")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    device = device_of(model)
    x = x.to(device)
    y = _labels(model, y, len(x))
    per_chunk = max(1, 8192 // k)  # examples per decoder call, with all k samples each
    out = []
    with _fixed_noise(device, seed) as generator:
        for i in range(0, len(x), per_chunk):
            xb = x[i:i + per_chunk]
            yb = None if y is None else y[i:i + per_chunk]
            mu, logvar = model.encode(xb, yb)  # (B, D) each
            z = mu + torch.exp(0.5 * logvar) * torch.randn(k, *mu.shape, device=device, generator=generator)  # (k, B, D)
            logits = model.decode(z.flatten(0, 1), None if yb is None else yb.repeat(k))  # (k*B, *shape)
            log_px = -recon_nll(logits, xb.expand(k, *xb.shape).flatten(0, 1), cfg.likelihood, cfg.sigma)
            log_w = (log_px.view(k, -1) + _log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
                     - _log_normal(z, mu, logvar))  # (k, B)
            out.append(torch.logsumexp(log_w, 0) - math.log(k))
            if progress is not None:
                progress(min(1.0, (i + len(xb)) / len(x)))
    return torch.cat(out)


def evaluate(model: Autoencoder, x: torch.Tensor, y: torch.Tensor, cfg: Config, k: int = 0) -> dict:
    """The validation summary the CLI prints: val_loss, val_recon, val_kl / val_penalty,
    and for the VAE family active_units and (k > 0) iwae, the k-sample estimate of log p(x)."""
    terms = loss_terms(model, x, y, cfg)
    out = {f"val_{name}": value for name, value in terms.items()}
    if model.variational:
        mu, _ = encode(model, x, y)
        out["active_units"] = active_units(mu)[0]
        if k:
            out["iwae"] = iwae_bound(model, x, y, cfg, k).mean().item()
            out["iwae_k"] = k
    return out
