"""Datasets: one container type and a single entry point, `load_dataset(name)`.

Three datasets are built in and need no files (digits, sprites, toy2d); the
others are read from standard files under a data folder (see readers.py).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch


class DatasetError(ValueError):
    """A dataset could not be loaded; the message says what to do about it."""


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class Dataset:
    """An in-memory dataset: inputs in [0, 1], integer labels, optional true factors."""

    name: str                      # e.g. "digits", "toy2d:spiral"
    x: torch.Tensor                # (N, *image_shape) float32 in [0, 1]
    y: torch.Tensor                # (N,) int64 class labels
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]   # (C, H, W) for images; (2,) for toy2d points
    factors: torch.Tensor | None = None  # (N, F) float ground-truth factors (sprites)
    factor_names: tuple[str, ...] = ()
    source: str = ""               # one line saying where it came from

    def __post_init__(self):
        n = len(self.x)
        if tuple(self.x.shape[1:]) != tuple(self.image_shape):
            raise DatasetError(f"{self.name}: x has shape {tuple(self.x.shape)}, expected (N, *{self.image_shape})")
        if self.y.shape != (n,):
            raise DatasetError(f"{self.name}: y has shape {tuple(self.y.shape)}, expected ({n},)")
        if self.factors is not None and (self.factors.ndim != 2 or len(self.factors) != n):
            raise DatasetError(f"{self.name}: factors have shape {tuple(self.factors.shape)}, expected ({n}, F)")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_image(self) -> bool:
        return len(self.image_shape) == 3

    def subset(self, idx) -> Dataset:
        """The items at `idx` (indices, a boolean mask or a slice), same metadata."""
        if not isinstance(idx, slice):
            idx = torch.atleast_1d(torch.as_tensor(idx))
            if idx.dtype != torch.bool:
                idx = idx.long()
        factors = None if self.factors is None else self.factors[idx]
        return replace(self, x=self.x[idx], y=self.y[idx], factors=factors)

    def split(self, val_fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Random (train, val) split, reproducible by seed; val gets max(1, round(N * val_fraction)) items."""
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
        if len(self) < 2:
            raise ValueError(f"cannot split {self.name}: it has only {len(self)} item(s)")
        n_val = min(max(1, round(len(self) * val_fraction)), len(self) - 1)
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        return self.subset(perm[n_val:]), self.subset(perm[:n_val])


# name -> one-line description, in display order
DATASETS: dict[str, str] = {
    "digits": "8x8 handwritten digits from scikit-learn (1797 images, built in)",
    "sprites": "32x32 dSprites-style shapes with known factors: shape, scale, rotation, x, y (generated)",
    "toy2d": "2-D point clouds: moons, circles or spiral (generated; pick with toy2d:<shape>)",
    "mnist": "28x28 handwritten digits (needs the IDX files, or torchvision to download)",
    "fashion_mnist": "28x28 clothing images in 10 classes (needs the IDX files, or torchvision to download)",
    "cifar10": "32x32 colour photos in 10 classes (needs cifar-10-batches-py, or torchvision to download)",
}
EMBEDDED = ("digits", "sprites", "toy2d")  # need no files
TOY_SHAPES = ("moons", "circles", "spiral")


def default_data_dir() -> Path:
    """Where file-based datasets live: $VAE_CORE_DATA if set, else ./data."""
    return Path(os.environ.get("VAE_CORE_DATA") or "data")


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """Load a dataset by name; `seed` only affects the generated ones (sprites, toy2d)."""
    # imported here because those modules import Dataset from this one
    from vae_core import readers, sprites, toy2d

    key = name.strip().lower()
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    if key == "digits":
        return load_digits()
    if key == "sprites":
        return sprites.make_sprites(seed=seed)
    if key == "toy2d" or key.startswith("toy2d:"):
        shape = key.partition(":")[2] or "moons"
        return toy2d.make_toy2d(shape, seed=seed)
    if key in ("mnist", "fashion_mnist"):
        return readers.load_mnist(root, fashion=key == "fashion_mnist")
    if key == "cifar10":
        return readers.load_cifar10(root)
    valid = ["digits", "sprites", "toy2d", *(f"toy2d:{s}" for s in TOY_SHAPES), "mnist", "fashion_mnist", "cifar10"]
    raise DatasetError(f"unknown dataset {name!r}; choose one of: {', '.join(valid)}")


@functools.lru_cache(maxsize=1)
def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits, pixel values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits  # slow import, so lazy

    bunch = sklearn_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    y = torch.tensor(bunch.target, dtype=torch.int64)                        # (1797,)
    return Dataset(
        name="digits",
        x=x,
        y=y,
        class_names=tuple(str(d) for d in range(10)),
        image_shape=(1, 8, 8),
        source="scikit-learn load_digits (UCI optical recognition of handwritten digits)",
    )
