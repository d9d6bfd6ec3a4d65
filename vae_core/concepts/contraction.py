"""Denoising and contraction on 2-D points, where the input plane can be drawn.

A denoising AE learns r(x~) ~ E[x | x~]: from a corrupted point it points back onto the data, but
only where training put corrupted points, i.e. within a few noise widths of the data; from farther
away its arrows still head for the data but land wide of it. A contractive AE penalises
||J_f(x)||_F^2, J_f = d code / d x (Rifai et al. 2011): its encoder flattens the plane except along
the data, where the code must still tell points apart.
"""
from __future__ import annotations

import torch

from ..config import Config
from ..corruption import gaussian_noise
from ..device import forked_rng
from ..latent import decode, device_of, encode
from ..losses import jacobian_sq_norm
from ..models import Autoencoder

PLANE = (-0.3, 1.3)       # the input plane of the Jacobian maps; the toy2d data lie in [0.05, 0.95]^2
WIDE_PLANE = (-1.0, 2.0)  # the plane the denoising arrows start from, reaching far from the data


def toy_config(model: str, noise: float = 0.1, contractive_weight: float = 0.0, epochs: int = 40) -> Config:
    """An MLP 2-64-64-2 autoencoder on the two moons (Gaussian likelihood), `model` from the registry."""
    return Config(dataset="toy2d:moons", model=model, hidden=(64, 64), latent_dim=2, likelihood="gaussian",
                  sigma=0.1, corruption="gaussian", noise=noise, contractive_weight=contractive_weight,
                  epochs=epochs, batch_size=128, lr=3e-3).validate()


def reconstruct(model: Autoencoder, points: torch.Tensor) -> torch.Tensor:
    """(N, 2) -> (N, 2): decode(encode(x)), the mean of p(x|z)."""
    code, _ = encode(model, points)
    return decode(model, code).cpu()


def corrupted(points: torch.Tensor, noise: float, seed: int = 0) -> torch.Tensor:
    """The same corruption the DAE trained with (corruption.gaussian_noise), from a fixed seed."""
    with forked_rng(torch.device("cpu")):
        torch.manual_seed(seed)
        return gaussian_noise(points, noise)


def plane(n: int, lo: float = PLANE[0], hi: float = PLANE[1]) -> tuple[torch.Tensor, torch.Tensor]:
    """An n x n grid over the input plane: the axis (n,) and the points (n*n, 2), x fastest."""
    axis = torch.linspace(lo, hi, n)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return axis, torch.stack([x, y], -1).view(-1, 2)


def distance_to(points: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """Each point's distance to the nearest data point, (N,)."""
    return torch.cdist(points, data).min(1).values


def arrows(model: Autoencoder, starts: torch.Tensor, data: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where the model sends each start point (N, 2), and how far from the data each end lands:
    {"start", "end" (N, 2), "d_start", "d_end" (N,)}."""
    end = reconstruct(model, starts)
    return {"start": starts, "end": end, "d_start": distance_to(starts, data), "d_end": distance_to(end, data)}


def by_distance(d_start: torch.Tensor, d_end: torch.Tensor, edges) -> list[dict]:
    """Mean landing distance of the arrows whose start lies in each band (edges[i], edges[i+1]]."""
    rows = []
    for lo, hi in zip(edges, edges[1:]):
        m = (d_start > lo) & (d_start <= hi)
        if m.any():
            rows.append({"from": lo, "to": hi, "n": int(m.sum()), "d_start": float(d_start[m].mean()),
                         "d_end": float(d_end[m].mean())})
    return rows


def jacobian_norm(model: Autoencoder, points: torch.Tensor) -> torch.Tensor:
    """||d code / d x||_F at each point, (N,), by the loss's own losses.jacobian_sq_norm."""
    x = points.to(device_of(model)).detach().requires_grad_(True)
    code, _ = model.encode(x)  # (N, latent_dim)
    return jacobian_sq_norm(code, x).detach().sqrt().cpu()
