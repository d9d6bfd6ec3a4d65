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
# to form the clusters, then the plain t-SNE objective. Fewer iterations than openTSNE's default
# (250 + 500): a few thousand codes have settled by then, and the map must come in seconds.
EXAGGERATION_ITERS = 125
PLAIN_ITERS = 275


def tsne(z: np.ndarray, seed: int = 0, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """t-SNE embedding (van der Maaten & Hinton 2008) of z (N, D) -> (N, 2), with openTSNE.

    Only neighbourhoods are meaningful, not distances or axes. `progress(fraction)` is called as the
    work advances, fraction in (0, 1], the last call with 1.0. Seconds for a few thousand points:
    exact neighbours and Barnes-Hut gradients, which openTSNE recommends below ~10,000 points.
    """
    from openTSNE import TSNEEmbedding, affinity, initialization  # imported here: rarely needed

    z = np.asarray(z, dtype=np.float64)
    if len(z) < 4:
        raise ValueError("t-SNE needs at least 4 points")
    report = progress or (lambda fraction: None)
    total = EXAGGERATION_ITERS + PLAIN_ITERS + 25  # the neighbour search counts as 25 iterations
    perplexity = float(min(30, max(1, (len(z) - 1) / 3)))
    method = "exact" if len(z) <= 5000 else "annoy"
    affinities = affinity.PerplexityBasedNN(z, perplexity=perplexity, method=method, random_state=seed)
    report(25 / total)
    done = [25]

    def tick(iteration: int, error: float, embedding: np.ndarray) -> bool:
        done[0] += 10
        report(min(done[0], total - 1) / total)
        return False  # never stop early

    emb = TSNEEmbedding(initialization.pca(z, random_state=seed), affinities, negative_gradient_method="bh",
                        random_state=seed, callbacks=tick, callbacks_every_iters=10)
    emb = emb.optimize(EXAGGERATION_ITERS, exaggeration=12, momentum=0.5)
    emb = emb.optimize(PLAIN_ITERS, momentum=0.8)
    report(1.0)
    return np.asarray(emb, dtype=np.float32)
