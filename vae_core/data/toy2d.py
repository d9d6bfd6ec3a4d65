"""2-D toy point clouds (moons, circles, spiral) scaled into [0, 1]^2.

Small enough to train on in seconds and to plot directly, which makes them
useful for looking at what an encoder and decoder actually do.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from .dataset import Dataset, DatasetError

TOY_SHAPES = ("moons", "circles", "spiral")

CLASS_NAMES = {
    "moons": ("upper", "lower"),
    "circles": ("outer", "inner"),
    "spiral": ("arm 0", "arm 1", "arm 2"),
}
DEFAULT_NOISE = {"moons": 0.08, "circles": 0.05, "spiral": 0.04}


def _moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(2, size=n)
    t = rng.uniform(0, math.pi, size=n)
    # upper half-circle at the origin; the lower one is flipped and shifted by (1, 0.5)
    x = np.where(y == 0, np.cos(t), 1 - np.cos(t))
    h = np.where(y == 0, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, h], axis=1) + noise * rng.standard_normal((n, 2)), y


def _circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(2, size=n)
    t = rng.uniform(0, 2 * math.pi, size=n)
    r = np.where(y == 0, 1.0, 0.5)  # outer ring, inner ring
    points = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    return points + noise * rng.standard_normal((n, 2)), y


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_arms = 3
    y = rng.integers(n_arms, size=n)
    t = np.sqrt(rng.uniform(0.02, 1, size=n))  # sqrt spreads points evenly along the arm
    theta = 2 * math.pi * y / n_arms + 1.75 * math.pi * t  # each arm winds 7/8 of a turn
    points = np.stack([t * np.cos(theta), t * np.sin(theta)], axis=1)
    return points + noise * rng.standard_normal((n, 2)), y


_MAKERS = {"moons": _moons, "circles": _circles, "spiral": _spiral}


@functools.lru_cache(maxsize=16)
def make_toy2d(shape: str = "moons", n: int = 2000, seed: int = 0, noise: float | None = None) -> Dataset:
    """n labelled 2-D points of the given shape, min-max scaled to [0.05, 0.95] per axis."""
    if shape not in TOY_SHAPES:
        raise DatasetError(f"unknown toy2d shape {shape!r}; choose one of: {', '.join(TOY_SHAPES)}")
    noise = DEFAULT_NOISE[shape] if noise is None else noise
    points, labels = _MAKERS[shape](n, noise, np.random.default_rng(seed))  # (N, 2), (N,)
    lo, hi = points.min(axis=0), points.max(axis=0)
    points = 0.05 + 0.9 * (points - lo) / np.maximum(hi - lo, 1e-12)
    return Dataset(
        name=f"toy2d:{shape}",
        x=torch.tensor(points, dtype=torch.float32),
        y=torch.tensor(labels, dtype=torch.int64),
        class_names=CLASS_NAMES[shape],
        image_shape=(2,),
        source=f"generated 2-D {shape} (vae_core.toy2d, n={n}, noise={noise}, seed={seed})",
    )
