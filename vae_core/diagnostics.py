"""Diagnostics of a trained model: its latent dims ranked by KL, the per-pixel error, β changes.

The KL order and the labels (`z3 · 2.1 nats`) are the one ranking every view of per-dimension
knobs and traversal rows follows, so the dims that carry information come first everywhere.
"""
from __future__ import annotations

import torch

from .config import Config
from .latent import _labels, device_of
from .losses import gaussian_kl, recon_nll_per_pixel
from .models import Autoencoder


def kl_order(kl: torch.Tensor) -> list[int]:
    """Latent dims by KL, largest first; ties keep the dim order. (D,) -> D indices."""
    kl = torch.as_tensor(kl, dtype=torch.float64)
    return sorted(range(len(kl)), key=lambda d: (-float(kl[d]), d))


def dim_label(d: int, kl: float | None = None) -> str:
    """'z3 · 2.1 nats' (the dim's mean KL to the prior), or plain 'z3' for a model without one."""
    return f"z{d}" if kl is None else f"z{d} · {kl:.1f} nats"


def ranked_dims(mu: torch.Tensor, logvar: torch.Tensor | None) -> tuple[list[int], list[str], torch.Tensor | None]:
    """Latent dims in KL order with their labels, from the codes of some data: mu, logvar (N, D).

    A VAE: largest mean KL first, labelled 'z3 · 2.1 nats', and the KL per dim (D,). A plain AE
    (logvar None) has no KL: dims in their own order, labelled 'z3', and None.
    """
    mu = torch.as_tensor(mu)
    if logvar is None:
        return list(range(mu.shape[1])), [dim_label(d) for d in range(mu.shape[1])], None
    kl = gaussian_kl(mu.double(), torch.as_tensor(logvar).double()).mean(0)  # (D,) nats
    order = kl_order(kl)
    return order, [dim_label(d, float(kl[d])) for d in order], kl.float()


def collapsed_dims(kl: torch.Tensor, threshold: float = 0.01) -> list[int]:
    """Dims whose mean KL to the prior is below `threshold` nats: q(z_d|x) ≈ N(0, 1) for every x,
    so z_d tells the decoder nothing (posterior collapse)."""
    return [d for d in range(len(kl)) if float(kl[d]) < threshold]


def collapse_note(cfg: Config, kl_per_dim) -> str:
    """What to tell the person who trained it when every dim collapsed to the prior (as β = 1e6 does:
    the KL term outweighs any reconstruction), else "". kl_per_dim: the validation KL of each dim."""
    if not kl_per_dim or collapsed_dims(torch.as_tensor(kl_per_dim)) != list(range(len(kl_per_dim))):
        return ""
    return (f"All {len(kl_per_dim)} latent dims collapsed to the prior (KL {sum(kl_per_dim):.2g} nats in all): "
            f"with β = {cfg.beta:g} the KL term outweighs the reconstruction, so the encoder sends every input "
            "to N(0, I) and the decoder draws the same average image for all of them. Try β between 0.5 and 4, "
            "or a KL warm-up.")


@torch.no_grad()
def pixel_error(model: Autoencoder, x: torch.Tensor, y, cfg: Config, batch_size: int = 1000) -> torch.Tensor:
    """Mean -log p(x_i | z = mu) of each pixel over the data: (N, *shape) -> (*shape), nats.

    Summed over the pixels it is the mean reconstruction term at the posterior mean.
    """
    device = device_of(model)
    y = _labels(model, y, len(x))
    total = torch.zeros(x.shape[1:], dtype=torch.float64)
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        yb = None if y is None else y[i:i + batch_size]
        mu, _ = model.encode(xb, yb)
        nll = recon_nll_per_pixel(model.decode(mu, yb), xb, cfg.likelihood, cfg.sigma)  # (B, *shape)
        total += nll.sum(0).double().cpu()
    return (total / len(x)).float()


def beta_changes(history: dict, extra=(), warmup: int = 0) -> list[tuple[int, float]]:
    """(step, new β) where β was changed during training: read from the per-step `beta` column of a
    checkpoint's training history (the first step trained with the new β; the KL warm-up's ramp over
    the first `warmup` steps is not a change). `extra`, the (step, β) pairs the run store recorded
    when each change was asked for, counts only past the history's last step: within it the column
    already holds each change once (counting both said "12 times" for 6 changes)."""
    train = history.get("train", {}) if isinstance(history, dict) else {}
    steps, betas = list(train.get("step", [])), list(train.get("beta", []))
    found = {}
    for prev, (s, b) in zip([None, *betas], zip(steps, betas)):
        if prev is not None and b != prev and s > warmup:
            found[int(s)] = float(b)
    last = max(steps) if steps and betas else -1
    for s, b in extra:
        if int(s) > last:
            found[int(s)] = float(b)
    return sorted(found.items())
