"""Pick a few hundred of thousands of map points that are far enough apart to draw each one's image
at its place without overlap: the classic picture of a latent space (digits drawn where they are
encoded), as in the t-SNE paper's MNIST figure (van der Maaten & Hinton 2008, fig. 7).
"""
from __future__ import annotations

import numpy as np


def tile_size(xy: np.ndarray, per_axis: int = 16, coverage: float = 0.98) -> float:
    """A thumbnail width in map units: the wider side of the central `coverage` of the points divided
    by `per_axis`, so a few outliers do not shrink every image. xy: (N, 2)."""
    lo, hi = np.quantile(xy, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)  # (2,), (2,)
    return float(max(hi - lo)) / per_axis or 1.0


def thin(xy: np.ndarray, spacing: float, max_points: int = 400, seed: int = 0) -> np.ndarray:
    """Indices of points, no two closer than `spacing` along both axes (so squares of side
    `spacing` centred on them do not overlap), chosen greedily in a seeded random order; at most
    `max_points`. xy: (N, 2) -> (K,) int64, in the order chosen.

    A point is kept when no kept point lies within `spacing` in x and in y (the max-norm). A grid
    of cells of side `spacing` holds the kept points, so each test looks at 3 x 3 cells only.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if spacing <= 0:
        raise ValueError(f"spacing must be > 0, got {spacing}")
    order = np.random.default_rng(seed).permutation(len(xy))
    finite = np.isfinite(xy).all(axis=1)
    order = order[finite[order]]
    cells = np.floor(xy[order] / spacing).astype(np.int64).tolist()  # (N, 2), in visiting order
    points = xy[order].tolist()
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}  # cell -> kept points in it
    kept: list[int] = []
    for k, ((cx, cy), (x, y)) in enumerate(zip(cells, points)):  # plain floats: ~1 us a point
        if any(abs(x - u) < spacing and abs(y - v) < spacing
               for dx in (-1, 0, 1) for dy in (-1, 0, 1) for u, v in grid.get((cx + dx, cy + dy), ())):
            continue
        grid.setdefault((cx, cy), []).append((x, y))
        kept.append(int(order[k]))
        if len(kept) == max_points:
            break
    return np.array(kept, dtype=np.int64)
