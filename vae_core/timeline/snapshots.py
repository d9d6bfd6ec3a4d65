"""A run's timeline: snapshots of its latent space taken while it trained.

One snapshot, of the weights after `step` optimizer steps:
    mu, logvar   (N, D) float16     the codes of a fixed subset of the validation split (logvar: VAE family)
    recon        (R, *shape) float16 the reconstructions of R = 8 fixed validation examples
    kl           (D,) float32       the per-dim KL over the subset (VAE family)
    step, epoch, beta, terms        where it was taken (epoch is fractional within an epoch), the KL weight
                                    used at that step, the training batch's loss terms of that step

float16 is enough for codes that are drawn and compared by eye: 11 significant bits, a relative error
of at most 2^-11 (0.05 %), so on a map 500 px across a code moves by under a third of a pixel whatever
its range, and a VAE's codes (|z| < 8) by under 0.004. Codes beyond float16's largest value (65,504:
only a diverging plain AE gets there) are clamped to it.

vae_core.timeline.recorder takes the snapshots; vae_core.timeline.stored keeps them in the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..projection import PCA

F16_MAX = 65504.0


def to_f16(t: torch.Tensor) -> torch.Tensor:
    """float32 -> float16 on the CPU, clamped to float16's finite range."""
    return t.detach().float().clamp(-F16_MAX, F16_MAX).to("cpu", torch.float16)


@dataclass
class Timeline:
    index: torch.Tensor          # (N,) int64: the subset's positions in the validation split
    labels: torch.Tensor         # (N,) int64: their labels
    originals: torch.Tensor      # (R, *shape) float16: the R examples reconstructed
    steps_per_epoch: int
    variational: bool
    steps: list[int] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    betas: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    mu: list[torch.Tensor] = field(default_factory=list)       # S x (N, D) float16
    logvar: list[torch.Tensor] = field(default_factory=list)   # S x (N, D) float16, VAE family only
    recon: list[torch.Tensor] = field(default_factory=list)    # S x (R, *shape) float16
    kl: list[torch.Tensor] = field(default_factory=list)       # S x (D,) float32, VAE family only

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def latent_dim(self) -> int:
        return self.mu[0].shape[1] if self.mu else 0

    def copy(self) -> "Timeline":
        """A copy whose lists later appends leave alone (the tensors are never changed in place)."""
        return replace(self, **{k: list(getattr(self, k)) for k in SERIES})

    def append(self, step: int, epoch: float, beta: float, terms: dict, mu: torch.Tensor, logvar, recon, kl) -> None:
        self.steps.append(int(step))
        self.epochs.append(round(float(epoch), 6))
        self.betas.append(float(beta))
        self.terms.append({k: float(v) for k, v in terms.items()})
        self.mu.append(mu)
        self.recon.append(recon)
        if self.variational:
            self.logvar.append(logvar)
            self.kl.append(kl)

    def drop(self, keep: list[int]) -> None:
        """Keep only the snapshots at positions `keep` (in order)."""
        for k in SERIES:
            values = getattr(self, k)
            if values:
                setattr(self, k, [values[i] for i in keep])

    def thin(self, cap: int) -> None:
        """At most `cap` snapshots: while there are more, every other snapshot after the first epoch is
        dropped (the first epoch's dense ones and the newest stay), so the spacing stays even."""
        while len(self) > cap:
            late = [i for i in range(len(self) - 1) if self.epochs[i] >= 1]
            if len(late) < 2:
                self.drop(list(range(len(self) - cap, len(self))))
                return
            gone = set(late[1::2])
            self.drop([i for i in range(len(self)) if i not in gone])

    def nbytes(self) -> int:
        """Bytes of its tensors, as stored."""
        fixed = [self.index, self.labels, self.originals]
        return sum(t.numel() * t.element_size() for t in (*fixed, *self.mu, *self.logvar, *self.recon, *self.kl))

    def at_epoch(self, epoch: float) -> int:
        """The last snapshot taken at or before `epoch` (0 when all are later)."""
        return max(0, int(np.searchsorted(np.asarray(self.epochs), epoch + 1e-9, side="right")) - 1)


SERIES = ("steps", "epochs", "betas", "terms", "mu", "logvar", "recon", "kl")


def project(tl: Timeline, view: str = "dims", dims: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, tuple[str, str], str]:
    """Every snapshot's codes in two dims: (S, N, 2) float32, the axes' names and a note on how.

    view "dims": z[dims[0]], z[dims[1]] (a 1-D latent: z0 and 0). view "pca": the two principal
    directions of the final snapshot's codes, fitted once and applied to every snapshot, so the axes
    do not jump from one snapshot to the next."""
    mu = np.stack([m.float().numpy() for m in tl.mu])  # (S, N, D)
    D = mu.shape[2]
    if D == 1:
        return np.concatenate([mu, np.zeros_like(mu)], 2), ("z0", ""), "z0 across (a 1-D code)"
    if view == "pca" and D > 2:
        pca = PCA.fit(mu[-1])
        xy = pca.apply(mu.reshape(-1, D)).reshape(len(mu), -1, 2).astype(np.float32)
        share = 100 * pca.explained.sum()
        return xy, ("PC1", "PC2"), (f"the final step's two principal directions ({share:.0f} % of its variance), "
                                    "fitted once: every step is drawn on the same axes")
    d0, d1 = dims
    if not (0 <= d0 < D and 0 <= d1 < D and d0 != d1):
        raise ValueError(f"the map's dims must be two different dims in 0..{D - 1}")
    return mu[:, :, [d0, d1]].copy(), (f"z{d0}", f"z{d1}"), f"z{d0} across, z{d1} up"
