"""Small, batched, pure functions over a trained model's latent space (plotting stays in the pages).

Images come back as the mean of p(x|z) (sigmoid of logits for Bernoulli, the mean for Gaussian),
shape (N, *image_shape), on the model's device. A 20x20 manifold grid is one decoder call.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .losses import output_mean
from .models import Autoencoder


def device_of(model: Autoencoder) -> torch.device:
    return next(model.parameters()).device


def _labels(model: Autoencoder, y, n: int) -> torch.Tensor | None:
    """None, an int or a (N,) tensor -> (N,) labels on the model's device, for conditional models."""
    if not model.n_cond:
        return None
    if y is None:
        raise ValueError("a conditional model needs a class label")
    y = torch.as_tensor(y, device=device_of(model))
    return y.expand(n) if y.dim() == 0 else y


@torch.no_grad()
def encode(model: Autoencoder, x: torch.Tensor, y=None, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(N, *shape) -> mu (N, D) and logvar (N, D); for a plain AE the code and None."""
    x = x.to(device_of(model))
    y = _labels(model, y, len(x))
    mus, logvars = [], []
    for i in range(0, len(x), batch_size):
        mu, logvar = model.encode(x[i:i + batch_size], None if y is None else y[i:i + batch_size])
        mus.append(mu)
        logvars.append(logvar)
    return torch.cat(mus), (torch.cat(logvars) if model.variational else None)


@torch.no_grad()
def decode(model: Autoencoder, z: torch.Tensor, y=None, batch_size: int = 4096) -> torch.Tensor:
    """(N, D) -> images (N, *shape), the mean of p(x|z)."""
    z = z.to(device_of(model), torch.float32)
    y = _labels(model, y, len(z))
    out = [model.decode(z[i:i + batch_size], None if y is None else y[i:i + batch_size])
           for i in range(0, len(z), batch_size)]
    return output_mean(torch.cat(out), model.likelihood)


def reconstruct(model: Autoencoder, x: torch.Tensor, y=None) -> torch.Tensor:
    """Decode the posterior mean: (N, *shape) -> (N, *shape)."""
    mu, _ = encode(model, x, y)
    return decode(model, mu, y)


def prior_samples(model: Autoencoder, n: int, y=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decode n draws z ~ N(0, I): (n, *shape)."""
    z = torch.randn(n, model.latent_dim, generator=generator)
    return decode(model, z, y)


def grid_values(n: int, span: float = 3.0, spacing: str = "linear") -> torch.Tensor:
    """n grid coordinates, increasing.

    "linear": evenly spaced over [-span, span], both ends included.
    "quantile": the (k + 1/2)/n quantiles of N(0, 1), k = 0..n-1 (Kingma & Welling 2014, fig. 4):
    point k is the median of the k-th of n cells of equal prior mass 1/n, so the points are denser
    near 0 where the prior puts its mass. `span` does not apply: n alone sets them (the outer
    points sit at +-1.83 for n = 15, +-2.13 for n = 30).
    """
    if n < 1 or not span > 0:
        raise ValueError("a grid needs n >= 1 and span > 0")
    if spacing == "linear":
        return torch.linspace(-span, span, n)
    if spacing == "quantile":
        # float64: the outer quantiles of a large n lose digits in float32
        normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
        return normal.icdf((torch.arange(n, dtype=torch.float64) + 0.5) / n).float()
    raise ValueError(f"unknown spacing {spacing!r}; use linear or quantile")


def manifold_grid(model: Autoencoder, dims: tuple[int, int] = (0, 1), n: int = 15, span: float = 3.0,
                  spacing: str = "linear", base: torch.Tensor | None = None, y=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an n x n grid over latent dims `dims`, the others fixed at `base` (default 0).

    Returns images (n, n, *shape), row 0 at the top = the highest value of dims[1], and the
    latent codes (n, n, D). One decoder call.
    """
    d0, d1 = dims
    if d0 == d1 or not (0 <= d0 < model.latent_dim and 0 <= d1 < model.latent_dim):
        raise ValueError(f"grid dims must be two different dims in 0..{model.latent_dim - 1}")
    v = grid_values(n, span, spacing)
    z = torch.zeros(n, n, model.latent_dim) if base is None else base.detach().cpu().float().expand(n, n, -1).clone()
    z[:, :, d0] = v[None, :]                 # columns: dims[0] increasing to the right
    z[:, :, d1] = v.flip(0)[:, None]         # rows: dims[1] decreasing downwards
    images = decode(model, z.view(n * n, -1), y)
    return images.view(n, n, *images.shape[1:]), z


def label_grid(model: Autoencoder, z: torch.Tensor, labels) -> torch.Tensor:
    """A conditional model's codes z (K, D) decoded with every label in `labels` (C,): images
    (C, K, *shape), row c = label c, column k = the same code z_k. One decoder call."""
    labels = torch.as_tensor(list(labels), dtype=torch.long)
    c, k = len(labels), len(z)
    zs = z.detach().cpu().float().repeat(c, 1)                 # (C*K, D): row-major, label outer
    images = decode(model, zs, labels.repeat_interleave(k))     # (C*K, *shape)
    return images.view(c, k, *images.shape[1:])


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line: (D,), (D,), (T,) -> (T, D)."""
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for latent spaces): the arc between the
    two directions, the norm interpolated linearly. Falls back to lerp for (anti)parallel ends."""
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)[:, None]
    n0, n1 = z0.norm(), z1.norm()
    if n0 < 1e-8 or n1 < 1e-8:
        return lerp(z0, z1, t[:, 0])
    cos = torch.clamp((z0 @ z1) / (n0 * n1), -1.0, 1.0)
    omega = torch.arccos(cos)
    if omega < 1e-4 or math.pi - omega < 1e-4:
        return lerp(z0, z1, t[:, 0])
    s = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) * z0 / n0 + torch.sin(t * omega) * z1 / n1) / s  # (T, D), unit
    return direction * ((1 - t) * n0 + t * n1)


PATHS = {"linear": lerp, "spherical": slerp}


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, method: str = "linear") -> torch.Tensor:
    """`steps` evenly spaced points of the path from z0 to z1, both ends included: (steps, D)."""
    if method not in PATHS:
        raise ValueError(f"unknown path {method!r}; use {' or '.join(PATHS)}")
    return PATHS[method](z0, z1, torch.linspace(0, 1, steps))


def traverse(model: Autoencoder, z: torch.Tensor, dim: int, values: torch.Tensor, y=None) -> torch.Tensor:
    """Vary one latent dim of z over `values`, the others fixed: images (len(values), *shape)."""
    return traversals(model, z, [dim], values, y)[0]


def traversals(model: Autoencoder, z: torch.Tensor, dims, values: torch.Tensor, y=None) -> torch.Tensor:
    """`traverse` for each dim of `dims` (R,): images (R, len(values), *shape), row r sweeping dims[r].
    One decoder call for all the rows."""
    dims, values = list(dims), torch.as_tensor(values, dtype=torch.float32)
    zs = z.detach().cpu().float().expand(len(dims), len(values), -1).clone()  # (R, V, D)
    zs[torch.arange(len(dims))[:, None], torch.arange(len(values))[None, :], torch.tensor(dims, dtype=torch.long)[:, None]] = values
    images = decode(model, zs.view(len(dims) * len(values), -1), y)
    return images.view(len(dims), len(values), *images.shape[1:])


def nearest(codes, z, k: int = 8) -> np.ndarray:
    """Indices of the k codes (N, D) nearest to z (D,) in Euclidean distance, nearest first (ties:
    the lower index first)."""
    codes, z = np.asarray(codes, np.float64), np.asarray(z, np.float64).ravel()
    d2 = ((codes - z) ** 2).sum(1)  # (N,)
    return np.argsort(d2, kind="stable")[:min(k, len(d2))]
