"""2-D views of a latent space with more than two dimensions: two chosen dims, PCA, or t-SNE."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class PCA:
    """z (N, D) -> (N, 2) along the two directions of largest variance; `apply` maps new points."""
    mean: np.ndarray        # (D,)
    components: np.ndarray  # (2, D)
    explained: np.ndarray   # (2,) fraction of the variance each direction holds

    @classmethod
    def fit(cls, z: np.ndarray) -> "PCA":
        mean = z.mean(0)
        _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
        var = s**2
        comps = vt[:2]
        if comps.shape[0] < 2:  # a 1-D latent: pad with a zero direction
            comps = np.vstack([comps, np.zeros_like(comps)])
            var = np.append(var, 0.0)
        return cls(mean, comps, var[:2] / max(var.sum(), 1e-12))

    def apply(self, z: np.ndarray) -> np.ndarray:
        return (z - self.mean) @ self.components.T


# openTSNE's two phases (Linderman & Steinerberger 2019; Policar et al. 2024): early exaggeration
# to form the clusters, then the plain t-SNE objective, from a PCA start. Fewer iterations than
# openTSNE's default (250 + 500): the map must come in seconds. bench/bench_tsne.py measures the
# price against that default: the 10 nearest neighbours kept (kNN recall) of 10,000 MNIST codes,
# 0.374 against 0.392, in a sixth of the CPU time (5-7 s against 40 s; before this, 36 s).
EXAGGERATION_ITERS = 100
PLAIN_ITERS = 150
# Repulsive forces: Barnes-Hut below FFT_FROM points, FFT-accelerated interpolation (Linderman et al.
# 2019) from there: its cost grows with the grid, not with N log N. CPU seconds here (one thread,
# sprites codes, 100 + 200 iterations), BH / FFT: 2,000 codes 2.2 / 2.8; 5,000 codes 7.9 / 3.5;
# 10,000 codes 17 / 5.4. The FFT grid has a cell per 2 embedding units (openTSNE's default, 1, costs
# twice the time for 0.004 more kNN recall).
FFT_FROM = 3000
FFT_UNITS_PER_CELL = 2
EXACT_NEIGHBOURS_UP_TO = 20_000  # sklearn's exact kNN: 0.8 s for 10,000 16-D codes, Annoy 5.6 s


def tsne(z: np.ndarray, seed: int = 0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """t-SNE embedding (van der Maaten & Hinton 2008) of z (N, D) -> (N, 2), with openTSNE.

    Only neighbourhoods are meaningful, not distances or axes. `progress(fraction)` is called as the
    work advances, fraction in (0, 1], the last call with 1.0. One thread: a few seconds for 10,000
    codes (exact neighbours; Barnes-Hut gradients for a few thousand points, FFT above).
    """
    from openTSNE import TSNEEmbedding, affinity, initialization  # imported here: rarely needed

    z = np.asarray(z, dtype=np.float64)
    if len(z) < 4:
        raise ValueError("t-SNE needs at least 4 points")
    report = progress or (lambda fraction: None)
    total = EXAGGERATION_ITERS + PLAIN_ITERS + 25  # the neighbour search counts as 25 iterations
    perplexity = float(min(30, max(1, (len(z) - 1) / 3)))
    method = "exact" if len(z) <= EXACT_NEIGHBOURS_UP_TO else "annoy"
    affinities = affinity.PerplexityBasedNN(z, perplexity=perplexity, method=method, random_state=seed)
    report(25 / total)
    done = [25]

    def tick(iteration: int, error: float, embedding: np.ndarray) -> bool:
        done[0] += 10
        report(min(done[0], total - 1) / total)
        return False  # never stop early

    gradient = {"negative_gradient_method": "bh"} if len(z) < FFT_FROM else {
        "negative_gradient_method": "fft", "ints_in_interval": FFT_UNITS_PER_CELL}
    emb = TSNEEmbedding(initialization.pca(z, random_state=seed), affinities, random_state=seed, callbacks=tick,
                        callbacks_every_iters=10, **gradient)
    emb = emb.optimize(EXAGGERATION_ITERS, exaggeration=12, momentum=0.5)
    emb = emb.optimize(PLAIN_ITERS, momentum=0.8)
    report(1.0)
    return np.asarray(emb, dtype=np.float32)
