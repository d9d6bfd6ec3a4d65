"""Which steps a run keeps a snapshot of, and taking one (vae_core.timeline.snapshots says what it holds).

The plan: step 0 (the init), then steps about √2 apart through the first epoch (1, 2, 3, 4, 6, 8, 11,
16, 23, 32, 45, 64, ...: the map changes most at the start), then every epoch's end, or every k-th
epoch's end so that a run keeps at most MAX_SNAPSHOTS and its epoch-end snapshots cost at most
COST_SHARE of the training (and the last epoch's end always). A run that
stops keeps a snapshot of where it stopped; a resumed run continues its timeline from there.

Bounded: at most MAX_BYTES (5 MB) of tensors a run, whatever the model. The number of snapshots is
cut to fit; for a latent so wide that MIN_SNAPSHOTS would not fit, the subset shrinks (its first
examples, so still the same for every such run); below MIN_POINTS examples the run keeps no timeline.
A 2-D MNIST VAE (1,000 validation digits, 60 epochs) keeps 73 snapshots in 1.5 MB.
"""
from __future__ import annotations

import math

import torch

from ..latent import encode, reconstruct
from ..metrics import kl_per_dim
from .snapshots import Timeline, to_f16

SUBSET = 2000          # validation examples whose codes every snapshot keeps
N_SHOWN = 8            # validation examples whose reconstructions every snapshot keeps
MAX_SNAPSHOTS = 80
MIN_SNAPSHOTS = 16
MIN_POINTS = 100
MAX_BYTES = 5 * 2**20  # a run's timeline tensors, at most
# A snapshot encodes the subset (the encoder: about half of a forward pass) where an epoch trains on every
# example (forward and backward: about 3 forward passes), so its cost is about n / (6 n_train) of an
# epoch: 1.9 % for every shipped model (a tenth of the data held out), 4.2 % for 2,000 codes against
# 8,000 training examples, where every second epoch's end is kept instead.
COST_SHARE = 0.025


def subset_indices(n_val: int, n: int = SUBSET) -> torch.Tensor:
    """The same n positions of a validation split of n_val examples for every run: all of them when
    n_val <= n, else n drawn with a fixed seed, in increasing order. (Every run of mnist10k has the
    same validation split; another dataset's split depends on the run's seed and val_fraction.)"""
    if n_val <= n:
        return torch.arange(n_val)
    return torch.randperm(n_val, generator=torch.Generator().manual_seed(0))[:n].sort().values


def dense_steps(steps_per_epoch: int) -> list[int]:
    """0 and the steps about √2 apart before the first epoch's end: 0, 1, 2, 3, 4, 6, 8, 11, 16, ..."""
    out, k = {0}, 0
    while (s := round(2 ** (k / 2))) < steps_per_epoch:
        out.add(s)
        k += 1
    return sorted(out)


def snapshot_bytes(n: int, latent_dim: int, image_size: int, variational: bool) -> int:
    """Tensor bytes of one snapshot: codes (and log-variances) of n examples, N_SHOWN reconstructions, the KL."""
    return n * latent_dim * 2 * (2 if variational else 1) + N_SHOWN * image_size * 2 + (4 * latent_dim if variational else 0)


def fixed_bytes(n: int, image_size: int) -> int:
    """Tensor bytes a timeline holds once: the subset's positions and labels, the originals."""
    return 16 * n + N_SHOWN * image_size * 2


def sizes(n_val: int, latent_dim: int, image_size: int, variational: bool) -> tuple[int, int]:
    """(examples in the subset, most snapshots) for a run, within MAX_BYTES; n = 0: no timeline."""
    n = min(SUBSET, n_val)
    room = MAX_BYTES - fixed_bytes(n, image_size)
    if room < MIN_SNAPSHOTS * snapshot_bytes(n, latent_dim, image_size, variational):
        per_point = latent_dim * 2 * (2 if variational else 1) + 16
        per_rest = snapshot_bytes(0, latent_dim, image_size, variational)
        n = (MAX_BYTES - N_SHOWN * image_size * 2 - MIN_SNAPSHOTS * per_rest) // (MIN_SNAPSHOTS * per_point + 16)
        if n < min(MIN_POINTS, n_val):
            return 0, 0
        room = MAX_BYTES - fixed_bytes(n, image_size)
    return int(n), int(min(MAX_SNAPSHOTS, room // snapshot_bytes(n, latent_dim, image_size, variational)))


class Recorder:
    """One run's snapshot taker: the fixed examples on the run's device, and the plan."""

    def __init__(self, val_x: torch.Tensor, val_y: torch.Tensor, latent_dim: int, variational: bool,
                 conditional: bool, steps_per_epoch: int, epochs: int, n_train: int):
        image_size = math.prod(val_x.shape[1:])
        self.n, self.cap = sizes(len(val_x), latent_dim, image_size, variational)
        idx = subset_indices(len(val_x))[:self.n]
        self.index, self.labels = idx, val_y[idx.to(val_y.device)].cpu()
        self.x, self.y = val_x[idx.to(val_x.device)], (val_y[idx.to(val_y.device)] if conditional else None)
        self.shown_x = val_x[:N_SHOWN]   # the Train page's examples too (runs.job)
        self.shown_y = val_y[:N_SHOWN] if conditional else None
        self.variational, self.steps_per_epoch, self.epochs = variational, steps_per_epoch, epochs
        self.dense = set(dense_steps(steps_per_epoch))
        room = max(1, self.cap - len(self.dense))
        self.stride = max(1, math.ceil(epochs / room), math.ceil(self.n / (6 * max(1, n_train)) / COST_SHARE - 1e-9))

    @property
    def enabled(self) -> bool:
        return self.n > 0

    def empty(self) -> Timeline | None:
        if not self.enabled:
            return None
        return Timeline(self.index.clone(), self.labels.clone(), to_f16(self.shown_x), self.steps_per_epoch,
                        self.variational)

    def fits(self, tl: Timeline) -> bool:
        """A resumed run's timeline goes on only if it holds the same examples."""
        return (tl.n == self.n and tl.variational == self.variational and torch.equal(tl.index, self.index)
                and tl.steps_per_epoch == self.steps_per_epoch)

    def due_within(self, step: int) -> bool:
        """After a step inside the first epoch (before its end): one of the dense steps?"""
        return step < self.steps_per_epoch and step in self.dense

    def due_at_end(self, epoch: int) -> bool:
        """At the end of epoch `epoch` (1, 2, ...)?"""
        return epoch % self.stride == 0 or epoch >= self.epochs

    @torch.no_grad()
    def measure(self, model) -> tuple:
        """The model's snapshot as it is now (eval mode; its train / eval mode is left as it was):
        (mu, logvar or None, recon, kl or None), as `take` appends them."""
        was = model.training
        model.eval()
        try:
            mu, logvar = encode(model, self.x, self.y)                       # (N, D) each
            recon = reconstruct(model, self.shown_x, self.shown_y)          # (R, *shape)
            kl = kl_per_dim(mu.float(), logvar.float()).cpu() if logvar is not None else None  # (D,)
        finally:
            model.train(was)
        return to_f16(mu), None if logvar is None else to_f16(logvar), to_f16(recon), kl

    def take(self, tl: Timeline, model, step: int, epoch: float, beta: float, terms: dict,
             measured: tuple | None = None) -> None:
        """Append the model's snapshot as it is now (`measure`; or `measured`, measured elsewhere)."""
        tl.append(step, epoch, beta, terms, *(measured or self.measure(model)))
        tl.thin(self.cap)


def last_terms(history: dict) -> dict[str, float]:
    """The scalar loss terms of the last training step in a trainer's history ({} before the first)."""
    cols = history.get("train", {})
    return {k: v[-1] for k, v in cols.items() if k not in ("step", "beta") and v and isinstance(v[-1], (int, float))}
