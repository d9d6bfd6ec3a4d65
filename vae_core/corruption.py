"""Input corruptions for the denoising autoencoder (Vincent et al. 2008, 2010).

Each takes a clean batch (B, *shape) in [0, 1] and returns a corrupted copy; the loss then
compares the reconstruction of the corrupted input with the clean input.
"""
from __future__ import annotations

import torch

from . import noise


def gaussian_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """Additive isotropic Gaussian noise: x + std * eps."""
    return x + std * noise.randn_like(x)


def _chosen(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """A bool mask (B, *shape) with exactly round(fraction * D) input dims set in each example."""
    flat = x.flatten(1)  # (B, D)
    k = round(fraction * flat.shape[1])
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if k:
        idx = noise.rand_like(flat).topk(k, dim=1).indices  # k distinct random dims per example
        mask.scatter_(1, idx, True)
    return mask.view_as(x)


def masking_noise(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """A fixed fraction of the input dims, chosen at random per example, forced to 0."""
    return x.masked_fill(_chosen(x, fraction), 0.0)


def salt_and_pepper(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """A fixed fraction of the input dims set to 0 or 1 (min or max) with equal probability."""
    salt = (noise.rand_like(x) < 0.5).to(x.dtype)
    return torch.where(_chosen(x, fraction), salt, x)


CORRUPTIONS = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_and_pepper": salt_and_pepper}


def corrupt(x: torch.Tensor, kind: str, level: float) -> torch.Tensor:
    """Apply the named corruption at `level` (std for gaussian, fraction otherwise)."""
    return CORRUPTIONS[kind](x, level)
