"""dSprites-style shapes with known generative factors, drawn procedurally.

Each image shows one white shape on black. The five factors are sampled
independently and uniformly:
    shape     square, ellipse or heart (also the class label)
    scale     6 values in [0.5, 1]
    rotation  40 angles in [0, 2*pi)
    pos_x     continuous in [0, 1], left to right
    pos_y     continuous in [0, 1], top to bottom
Every shape fits in a disc of radius scale * size / 4 around its centre, and
centres are kept far enough from the edges that no shape touches the border.
"""

from __future__ import annotations

import functools
import math

import torch

from .dataset import Dataset

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "pos_x", "pos_y")
SCALES = torch.linspace(0.5, 1.0, 6)
ROTATIONS = torch.arange(40) * (2 * math.pi / 40)

# The heart curve (u^2 + v^2 - 1)^3 = u^2 v^3 spans u in [-1.14, 1.14] and
# v in [-1.00, 1.24]; shifting v by its mid-range and shrinking by 1.34 puts it
# inside the unit disc.
_HEART_SHIFT = 0.118
_HEART_FIT = 1.34


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Which points (u, v) lie inside a shape that fits in the unit disc (v points up)."""
    if shape == 0:  # square, corners on the unit circle
        half = 1 / math.sqrt(2)
        return (u.abs() <= half) & (v.abs() <= half)
    if shape == 1:  # ellipse with semi-axes 1 and 0.5
        return u**2 + (v / 0.5) ** 2 <= 1
    u, v = u * _HEART_FIT, v * _HEART_FIT + _HEART_SHIFT  # heart
    return (u**2 + v**2 - 1) ** 3 - u**2 * v**3 <= 0


def draw_sprites(factors: torch.Tensor, size: int = 32) -> torch.Tensor:
    """Render factor rows (shape, scale, rotation, pos_x, pos_y) as binary images (N, 1, size, size)."""
    max_radius = size / 4  # in pixels, at scale 1
    margin = max_radius + 1  # keeps row/column 0 and size-1 dark
    shape, scale, angle, pos_x, pos_y = factors.T  # each (N,)
    cx = margin + pos_x * (size - 1 - 2 * margin)  # pixel centres sit at 0 .. size-1
    cy = margin + pos_y * (size - 1 - 2 * margin)
    radius = scale * max_radius

    grid = torch.arange(size, dtype=torch.float32)
    dx = (grid[None, None, :] - cx[:, None, None]) / radius[:, None, None]   # (N, 1, size)
    dy = -(grid[None, :, None] - cy[:, None, None]) / radius[:, None, None]  # (N, size, 1), up is +
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    u = cos * dx + sin * dy  # (N, size, size) coordinates in the shape's own frame
    v = -sin * dx + cos * dy

    images = torch.zeros(len(factors), size, size)
    for k in range(len(SHAPES)):
        sel = shape == k
        images[sel] = _inside(k, u[sel], v[sel]).float()
    return images.unsqueeze(1)  # (N, 1, size, size)


def sample_factors(n: int, generator: torch.Generator) -> torch.Tensor:
    """Draw n independent uniform factor rows (N, 5) in FACTOR_NAMES order."""
    shape = torch.randint(len(SHAPES), (n,), generator=generator)
    scale = SCALES[torch.randint(len(SCALES), (n,), generator=generator)]
    angle = ROTATIONS[torch.randint(len(ROTATIONS), (n,), generator=generator)]
    pos = torch.rand(n, 2, generator=generator)
    return torch.stack([shape.float(), scale, angle, pos[:, 0], pos[:, 1]], dim=1)


@functools.lru_cache(maxsize=4)
def make_sprites(n: int = 10000, size: int = 32, seed: int = 0) -> Dataset:
    """n random sprites of size x size pixels; the same seed gives the same data."""
    factors = sample_factors(n, torch.Generator().manual_seed(seed))  # (N, 5)
    chunk = 2048  # bounds the (chunk, size, size) intermediates
    x = torch.cat([draw_sprites(f, size) for f in factors.split(chunk)])  # (N, 1, size, size)
    return Dataset(
        name="sprites",
        x=x,
        y=factors[:, 0].long(),
        class_names=SHAPES,
        image_shape=(1, size, size),
        factors=factors,
        factor_names=FACTOR_NAMES,
        source=f"procedural dSprites-style shapes (vae_core.sprites, n={n}, seed={seed})",
    )
