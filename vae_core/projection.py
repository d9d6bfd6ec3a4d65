"""2-D views of a latent space with more than two dimensions: two chosen dims, PCA, or t-SNE."""
from __future__ import annotations

from dataclasses import dataclass

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


def tsne(z: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE embedding (van der Maaten & Hinton 2008) of z (N, D) -> (N, 2); seconds for a few
    thousand points. Only neighbourhoods are meaningful, not distances or axes."""
    from sklearn.manifold import TSNE  # imported here: slow to import, rarely needed

    perplexity = float(min(30, max(2, (len(z) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z)
