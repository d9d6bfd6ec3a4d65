"""Datasets by name: a single entry point, `load_dataset(name)`.

Three datasets are built in and need no files (digits, sprites, toy2d); the
others are read from standard files under a data folder (see readers.py).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from . import readers, sprites, toy2d
from .dataset import Dataset, DatasetError
from .toy2d import TOY_SHAPES

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


def default_data_dir() -> Path:
    """Where file-based datasets live: $VAE_CORE_DATA if set, else ./data."""
    return Path(os.environ.get("VAE_CORE_DATA") or "data")


def load_dataset(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """Load a dataset by name; `seed` only affects the generated ones (sprites, toy2d)."""
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
