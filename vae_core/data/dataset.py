"""The one dataset container: tensors in [0, 1], labels, optional true factors; and its error."""

from __future__ import annotations

from dataclasses import dataclass, replace

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
