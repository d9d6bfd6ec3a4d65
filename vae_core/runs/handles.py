"""A job as the server sees it: its handle (the latest view, Stop and the live β) and the views pages
read. The executor (vae_core.runs.queue) applies the worker's messages to the handle; nothing here
starts or talks to a worker itself."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..config import KNOBS
from .job import JobSpec

if TYPE_CHECKING:
    from .queue import Executor

BATCH_STOP_RULE = ("The members of a sweep batch train together in one worker, so Stop on any of them stops the "
                   "whole batch; each member is saved and can be resumed on its own.")


class Columns(Mapping):
    """A read-only snapshot of curve columns that only ever grow: the first n[k] rows of each list.
    The handle appends to the lists and every view shares them, so a progress message copies
    nothing however long the run; a reader gets a copy of the one column it asks for."""

    __slots__ = ("_cols", "_n")

    def __init__(self, cols: dict[str, list] | None = None):
        self._cols = {} if cols is None else cols  # shared, never copied (an empty dict included)
        self._n = {k: len(c) for k, c in self._cols.items()}   # the lengths now: later appends unseen

    def __getitem__(self, k: str) -> list:
        return self._cols[k][:self._n[k]]

    def __iter__(self):
        return iter(self._n)

    def __len__(self) -> int:
        return len(self._n)

    def __repr__(self) -> str:
        return f"Columns({', '.join(f'{k}: {n} rows' for k, n in self._n.items())})"


@dataclass(frozen=True)
class JobView:
    """What a page shows of a job; swapped whole (one reference assignment: safe across threads)."""
    status: str = "queued"             # queued, starting (a worker is starting), running, then as the run
    message: str = ""
    ahead: int = 0                     # jobs queued before this one
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    beta: float = 0.0                  # the beta the last step used (after any warm-up)
    images_per_s: float = 0.0          # over wall time
    eta_s: float = float("nan")
    device: str = ""
    threads: int = 0
    pid: int = 0                       # the worker's process (0 until started; a Ray worker's on its node)
    start_step: int = 0                # > 0: resumed from a checkpoint at this step
    history: Mapping = field(default_factory=Columns)   # train columns: step, loss, recon, kl | penalty, beta
    val: Mapping = field(default_factory=Columns)       # val columns: epoch, step, loss, recon, ...
    originals: np.ndarray | None = None   # (n, *shape) fixed validation examples
    recons: np.ndarray | None = None      # (n, *shape) their reconstructions now
    samples: np.ndarray | None = None     # (n, *shape) decoded fixed z ~ N(0, I)
    latent: np.ndarray | None = None      # (m, 2) codes of validation points, when latent_dim == 2
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status not in ("queued", "starting", "running")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class JobHandle:
    """The server's side of one run's job: its latest view, and the two controls. The runs of a
    batch each have a handle; they share `job` (the batch's handles, in order) and the worker."""

    def __init__(self, executor: "Executor", ws_id: str, spec: JobSpec):
        self.ws_id, self.run_id, self.spec = ws_id, spec.run_id, spec
        self.cfg = spec.config
        self.job: list[JobHandle] = [self]   # the handles of the runs trained by the same worker
        self.index = 0                       # this run's place in `job`
        self._executor = executor
        self._beta = spec.config.beta
        self._stop_asked = False
        self._history: dict = {"train": {}, "val": {}}
        self.view = JobView(epochs=spec.config.epochs, beta=spec.config.beta)
        self.done = threading.Event()   # set when the job has ended, whatever the outcome
        self.backend = None             # the executor's own: a process and its queues, or a Ray actor
        self.writing: Future | None = None  # its checkpoint being written (Executor._save)

    @property
    def beta(self) -> float:
        """The beta the user asked for last (what a live-beta slider should show)."""
        return self._beta

    def set_beta(self, beta: float) -> None:
        """β from the worker's next step; ValueError (naming the range) for one the config refuses."""
        self._beta = float(KNOBS["beta"].check(beta))
        self._executor._send(self, "beta", float(beta))

    @property
    def members(self) -> tuple[str, ...]:
        """The ids of the runs this run's worker trains (itself alone unless it is in a batch)."""
        return tuple(h.run_id for h in self.job)

    @property
    def batched(self) -> bool:
        """Trained in a sweep batch: Stop ends every member (BATCH_STOP_RULE)."""
        return len(self.job) > 1

    def stop(self) -> tuple[str, ...]:
        """Stop this run's job from its next step; -> the ids of the runs that stop: this one, or in
        a batch every member (BATCH_STOP_RULE), each saved with its weights and resumable alone."""
        for h in self.job:
            h._stop_asked = True
        self._executor._cancel_or_stop(self)
        return self.members

    def join(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # --- applying the worker's messages (executor threads only) -------------------------------

    def _apply(self, msg: dict) -> None:
        kind, v = msg["kind"], self.view
        if kind == "started":
            self.view = replace(v, status="running", ahead=0, device=msg["device"], threads=msg["threads"],
                                pid=msg["pid"], start_step=msg["start_step"],
                                total_steps=msg["total_steps"], originals=msg["originals"], class_names=msg["class_names"])
        elif kind == "progress":
            for split in ("train", "val"):
                cols = self._history[split]
                for k, values in msg[split].items():
                    cols.setdefault(k, []).extend(values)
            pictures = {k: msg[k] for k in ("recons", "samples", "latent", "labels") if k in msg}
            self.view = replace(v, step=msg["step"], total_steps=msg["total_steps"], epoch=msg["epoch"], beta=msg["beta"],
                                images_per_s=msg["images_per_s"] if msg["images_per_s"] == msg["images_per_s"] else v.images_per_s,
                                eta_s=msg["eta_s"], history=Columns(self._history["train"]),
                                val=Columns(self._history["val"]), **pictures)
        elif kind == "end":
            self.view = replace(v, status=msg["status"], message=msg["message"], eta_s=0.0)
