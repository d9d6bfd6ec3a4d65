"""A training run in a background thread, for an app that polls it.

The thread owns the Trainer; between steps it publishes an immutable `JobView` (progress, loss
curves, and every `refresh_s` seconds fresh pictures: reconstructions of fixed validation
examples, decoded prior samples, the 2-D latent map). The app only reads `job.view`, so it never
touches the model while it trains, and leaving the page does not stop anything.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .checkpoint import Checkpoint
from .config import Config
from .data import load_dataset
from .device import describe
from .latent import decode, encode, reconstruct
from .metrics import evaluate
from .trainer import Trainer, TrainingDiverged

STATES = ("starting", "running", "done", "stopped", "failed")


@dataclass(frozen=True)
class JobView:
    status: str = "starting"                   # one of STATES
    message: str = ""                          # what went wrong, or what is happening
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    beta: float = 0.0
    images_per_s: float = 0.0
    device: str = ""
    history: dict = field(default_factory=dict)  # train columns: step, loss, recon, kl | penalty, beta
    val: dict = field(default_factory=dict)      # val columns: epoch, step, loss, recon, ...
    originals: np.ndarray | None = None        # (n, *shape) fixed validation examples
    recons: np.ndarray | None = None           # (n, *shape) their reconstructions now
    samples: np.ndarray | None = None          # (n, *shape) decoded z ~ N(0, I), fixed z
    latent: np.ndarray | None = None           # (m, 2) mu of validation points, when latent_dim == 2
    labels: np.ndarray | None = None           # (m,) their labels
    class_names: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class TrainingJob:
    def __init__(self, cfg: Config, data_dir=None, device=None, refresh_s: float = 0.5,
                 n_images: int = 8, n_points: int = 1000):
        self.cfg = cfg.validate()
        self.data_dir, self.device = data_dir, device
        self.refresh_s, self.n_images, self.n_points = refresh_s, n_images, n_points
        self.view = JobView(epochs=cfg.epochs, beta=cfg.beta)
        self.checkpoint: Checkpoint | None = None   # set when the run ends (done, stopped or diverged)
        self._trainer: Trainer | None = None
        self._beta = cfg.beta
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vae_core-training", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._trainer is not None:
            self._trainer.stop()

    def set_beta(self, beta: float) -> None:
        """Change beta while training; applied from the next step."""
        self._beta = float(beta)
        if self._trainer is not None:
            self._trainer.set_beta(beta)

    @property
    def beta(self) -> float:
        """The beta asked for (the trainer applies it, ramped by any warm-up)."""
        return self._beta

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._train()
        except Exception as e:  # a thread has no caller to raise to: every failure goes to the page
            self._publish(status="failed", message=f"training failed: {type(e).__name__}: {e}")

    def _train(self) -> None:
        try:
            data = load_dataset(self.cfg.dataset, self.data_dir)
            train, val = data.split(self.cfg.val_fraction, self.cfg.seed)
            trainer = Trainer(self.cfg, train, val, self.device)
            trainer.set_beta(self._beta)
            self._trainer = trainer
            if self._stop.is_set():
                trainer.stop()
        except (ValueError, OSError, RuntimeError) as e:
            self._publish(status="failed", message=str(e))
            return
        gen = torch.Generator().manual_seed(0)
        self._fixed_x = val.x[: self.n_images]
        self._fixed_y = val.y[: self.n_images]
        self._fixed_z = torch.randn(self.n_images, self.cfg.latent_dim, generator=gen)
        self._map_x, self._map_y = val.x[: self.n_points], val.y[: self.n_points]
        status, message, last = "running", "", 0.0
        self._publish(status="running", device=describe(trainer.device), originals=self._fixed_x.numpy(),
                      class_names=tuple(val.class_names), pictures=True)
        try:
            for report in trainer.run():
                now = time.monotonic()
                if now - last >= self.refresh_s or report.val is not None:
                    self._publish(status="running", report=report, pictures=now - last >= self.refresh_s)
                    last = time.monotonic()
            status = "stopped" if self._stop.is_set() else "done"
        except TrainingDiverged as e:
            status, message = "failed", str(e)
        except (ValueError, RuntimeError) as e:
            status, message = "failed", f"training stopped: {e}"
        ckpt = trainer.checkpoint()
        if trainer.step > 0:
            model = trainer.model.eval()
            ckpt.metrics = evaluate(model, trainer.val_x, trainer.val_y, ckpt.config)
            self.checkpoint = ckpt
        self._publish(status=status, message=message, pictures=True)

    @torch.no_grad()
    def _pictures(self) -> dict:
        model = self._trainer.model
        labels = self._fixed_y if model.n_cond else None
        out = {"recons": reconstruct(model, self._fixed_x, labels).cpu().numpy(),
               "samples": decode(model, self._fixed_z, labels).cpu().numpy()}
        if self.cfg.latent_dim == 2:
            mu, _ = encode(model, self._map_x, self._map_y if model.n_cond else None)
            out["latent"], out["labels"] = mu.cpu().numpy(), self._map_y.numpy()
        return out

    def _publish(self, status: str, message: str = "", report=None, pictures: bool = False, **extra) -> None:
        """Swap in a new immutable view (one reference assignment: safe to read from any thread)."""
        t = self._trainer
        old = self.view
        fields = dict(status=status, message=message, **extra)
        if t is not None:
            fields.update(step=t.step, total_steps=t.total_steps, epoch=t.epoch,
                          beta=t.beta_at(t.step), history={k: list(v) for k, v in t.history["train"].items()},
                          val={k: list(v) for k, v in t.history["val"].items()})
            if pictures:
                fields.update(self._pictures())
        if report is not None:
            fields["images_per_s"] = report.images_per_s
        self.view = JobView(**{**old.__dict__, **fields})
