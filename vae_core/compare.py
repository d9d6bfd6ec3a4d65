"""Several models side by side: the rate–distortion plane, and the same data / the same z for each.

Rate is the validation KL(q(z|x) || p(z)) and distortion the validation -log p(x|z), both in nats
per example (see losses.py); their sum is the negative ELBO at beta = 1, so lines of equal ELBO are
the lines rate + distortion = const. Everything here is plain arithmetic on tensors / arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .latent import decode
from .models import Autoencoder


@dataclass(frozen=True)
class RDPoint:
    """One model in the rate–distortion plane."""
    run_id: str
    name: str
    rate: float          # val KL, nats per example
    distortion: float    # val reconstruction -log p(x|z), nats per example
    beta: float
    latent_dim: int
    group: str | None = None
    kind: str = ""       # the model's label, e.g. "VAE"
    settings: tuple = ()  # its config but β, as sorted (field, value) pairs: what one line shares


def rd_point(run_id: str, name: str, metrics: dict, beta: float, latent_dim: int,
             group: str | None = None, kind: str = "", settings: tuple = ()) -> RDPoint | None:
    """A run's point from its validation metrics (val_kl, val_recon), or None when it has no KL
    (a plain autoencoder has no rate to speak of) or its metrics are missing / not finite."""
    rate, dist = metrics.get("val_kl"), metrics.get("val_recon")
    if not isinstance(rate, (int, float)) or not isinstance(dist, (int, float)):
        return None
    if not (np.isfinite(rate) and np.isfinite(dist)):
        return None
    return RDPoint(run_id, name, float(rate), float(dist), float(beta), int(latent_dim), group, kind, settings)


def settings_of(cfg) -> tuple:
    """A config's settings but β, as sorted (field, value) pairs (hashable): the members of one line."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg.to_dict().items() if k != "beta"))


def group_lines(points: list[RDPoint]) -> dict[str, list[RDPoint]]:
    """Line name -> its points ordered by β: the members of a sweep that share every setting but β are
    one line, in β order (a β x latent_dim sweep is one line per latent_dim, never a zig-zag between
    them). Groups whose members share one β (e.g. the AE / VAE / KL-only trio) are no curve and are
    left out. Lines are named by what tells them apart (line_names)."""
    groups: dict[tuple, list[RDPoint]] = {}
    for p in points:
        if p.group:
            groups.setdefault((p.group, p.settings), []).append(p)
    lines = [sorted(ps, key=lambda p: p.beta) for ps in groups.values() if len({p.beta for p in ps}) > 1]
    return dict(zip(line_names(lines), lines))


def line_names(lines: list[list[RDPoint]]) -> list[str]:
    """'β-VAE · latent_dim 2', 'β-VAE · latent_dim 16, lr 0.01': the model's kind, its latent_dim and
    every other setting that differs between the lines; a repeat is numbered ('… (2)')."""
    settings = [dict(ps[0].settings) for ps in lines]
    fields = set().union(*settings) if settings else set()
    varying = sorted(f for f in fields if f != "latent_dim" and len({repr(s.get(f)) for s in settings}) > 1)

    def shown(v) -> str:
        return ",".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}" if isinstance(v, float) else str(v)
    names, seen = [], {}
    for ps, s in zip(lines, settings):
        what = [f"latent_dim {ps[0].latent_dim}", *(f"{f} {shown(s[f])}" for f in varying if f in s)]
        name = " · ".join([ps[0].kind, ", ".join(what)] if ps[0].kind else [", ".join(what)])
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def elbo_levels(points: list[RDPoint], n: int = 5) -> np.ndarray:
    """n round values of -ELBO = rate + distortion spanning the points' sums (for the iso-ELBO lines)."""
    sums = np.array([p.rate + p.distortion for p in points], dtype=float)
    if len(sums) == 0:
        return np.array([])
    lo, hi = float(sums.min()), float(sums.max())
    if hi - lo < 1e-9:
        return np.array([round(lo, 1)])
    step = (hi - lo) / max(n - 1, 1)
    magnitude = 10 ** np.floor(np.log10(step))
    step = float(np.ceil(step / magnitude) * magnitude)  # a round step: 1, 2, 5 ... x 10^k
    start = np.floor(lo / step) * step
    return start + step * np.arange(n + 1)


def iso_elbo_segment(level: float, rate_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The line rate + distortion = level over rate_range, clipped to distortion >= 0: (rates, distortions)."""
    r0, r1 = rate_range
    r1 = min(r1, level)
    if r1 <= r0:
        return np.array([]), np.array([])
    rates = np.array([r0, r1])
    return rates, level - rates


def example_indices(n_data: int, k: int, seed: int = 0) -> np.ndarray:
    """k distinct example indices out of n_data, the same for every model (a fixed seed), sorted."""
    k = min(k, n_data)
    g = torch.Generator().manual_seed(seed)
    return np.sort(torch.randperm(n_data, generator=g)[:k].numpy())


def prior_codes(latent_dim: int, n: int, seed: int = 0, max_dim: int = 64) -> torch.Tensor:
    """n codes z ~ N(0, I) of latent_dim dims, (n, latent_dim), drawn from one fixed (n, max_dim)
    table: two models with different latent_dim share their first dims' values."""
    if latent_dim > max_dim:
        max_dim = latent_dim
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, max_dim, generator=g)[:, :latent_dim]


def decode_prior(model: Autoencoder, n: int, seed: int = 0, y=None) -> torch.Tensor:
    """The model's decoder mean at the fixed prior codes prior_codes(model.latent_dim, n, seed):
    (n, *image_shape) in [0, 1] for a Bernoulli model. For a plain autoencoder the prior is not its
    own (it has none): it shows what the decoder makes of codes it may never have been trained on."""
    z = prior_codes(model.latent_dim, n, seed)
    return decode(model, z, y)


def aligned_history(history: dict, term: str = "loss", split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """One loss curve of a checkpoint's history on an epoch axis: (epochs, values).

    The train split is recorded per step; it is put on the epoch axis by step / steps_per_epoch
    taken from the val records (one per epoch end), so runs with different batch sizes line up."""
    cols = history.get(split, {})
    values = np.asarray(cols.get(term, []), dtype=float)
    if len(values) == 0:
        return np.array([]), np.array([])
    if split == "val":
        epochs = np.asarray(cols.get("epoch", np.arange(1, len(values) + 1)), dtype=float)
        return epochs[:len(values)], values
    steps = np.asarray(cols.get("step", np.arange(1, len(values) + 1)), dtype=float)
    val = history.get("val", {})
    if val.get("step") and val.get("epoch"):
        per_epoch = val["step"][-1] / max(val["epoch"][-1], 1)
    else:
        per_epoch = 1.0
    return steps[:len(values)] / per_epoch, values
