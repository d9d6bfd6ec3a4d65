"""One training job as a worker runs it: a spec in, messages out, control read between steps.

The same function runs in a spawned local process and in a Ray actor; only the two channels
differ. `emit(message)` sends a plain dict (picklable, small except checkpoints):

    {"kind": "started",    device, threads, epochs, start_step (> 0 when resumed), pid, total_steps,
                           originals, class_names}
    {"kind": "progress",   step, total_steps, epoch, beta, images_per_s, eta_s,
                           train / val: the history rows added since the last message,
                           [recons, samples, latent, labels]: fresh pictures, every refresh_s}
    {"kind": "checkpoint", blob (the .safetensors bytes), step, epoch}   every epoch (at most every
                           `min_checkpoint_s`) and every `checkpoint_s` within a long epoch
    {"kind": "end",        status ("done" | "stopped" | "failed"), message, metrics, beta_changes}

`control.poll()` -> (stop requested, beta asked for or None) is called after every step, so Stop
and a new beta take effect from the next step.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from .. import checkpoint, threads
from ..config import Config
from ..data import load_split
from ..device import describe
from ..diagnostics import collapse_note
from ..latent import decode, encode, reconstruct
from ..metrics import evaluate
from ..trainer import Trainer, TrainingDiverged


@dataclass(frozen=True)
class JobSpec:
    run_id: str
    config: Config
    resume: bytes | None = None      # a checkpoint to continue from (an interrupted or stopped run)
    data_dir: str | None = None
    device: str | None = None
    running_jobs: int = 1            # jobs running at once, for the thread policy
    refresh_s: float = 0.5           # progress messages at most this often (pictures too)
    checkpoint_s: float = 30.0       # a checkpoint at least this often within a long epoch
    min_checkpoint_s: float = 2.0    # ... and at an epoch's end, if this long since the last one
    n_images: int = 8
    n_points: int = 1000


class Control(Protocol):
    def poll(self) -> tuple[bool, float | None]: ...


def run_job(spec: JobSpec, control: Control, emit: Callable[[dict], None]) -> None:
    """Train spec.config to its last epoch or until stopped, reporting through `emit`. Never raises
    for what a user can cause: that becomes an "end" message with status "failed"."""
    threads.use(1)
    try:
        trainer, val = _setup(spec)
    except (ValueError, OSError, RuntimeError) as e:  # DatasetError, CheckpointError, bad resume
        emit({"kind": "end", "status": "failed", "message": f"could not start: {e}", "metrics": {},
              "beta_changes": []})
        return
    n_threads = threads.worker_threads(threads.step_flops(trainer.model, trainer.x, trainer.y if trainer.model.n_cond else None,
                                                          spec.config.batch_size), spec.running_jobs)
    threads.use(n_threads)
    pics = _Pictures(trainer, val, spec)
    emit({"kind": "started", "device": describe(trainer.device), "threads": n_threads, "epochs": spec.config.epochs,
          "start_step": trainer.step, "pid": os.getpid(),
          "total_steps": trainer.total_steps, "originals": pics.originals, "class_names": tuple(val.class_names)})

    sent = {"train": 0, "val": 0}
    beta_changes: list[tuple[int, float]] = []
    last_emit = last_pics = last_ckpt = time.monotonic()
    status, message, report = "done", "", None

    def progress(report, with_pictures: bool) -> dict:
        msg = {"kind": "progress", "step": report.step, "total_steps": report.total_steps, "epoch": report.epoch,
               "beta": report.beta, "images_per_s": report.images_per_s, "eta_s": report.eta_s}
        for split in sent:  # only the rows added since the last message
            cols = trainer.history[split]
            n = len(next(iter(cols.values()), []))
            msg[split] = {k: v[sent[split]:n] for k, v in cols.items()}
            sent[split] = n
        if with_pictures:
            msg.update(pics.now())
        return msg

    try:
        for report in trainer.run():
            stop, beta = control.poll()
            if beta is not None and not math.isclose(beta, trainer.beta):
                trainer.set_beta(beta)
                beta_changes.append((trainer.step, float(beta)))
            if stop:
                trainer.stop()
                status = "stopped"
            now = time.monotonic()
            if now - last_emit >= spec.refresh_s or report.val is not None:
                fresh = now - last_pics >= spec.refresh_s
                emit(progress(report, fresh))
                last_emit = now
                last_pics = now if fresh else last_pics
            if (report.val is not None and now - last_ckpt >= spec.min_checkpoint_s) or now - last_ckpt >= spec.checkpoint_s:
                emit({"kind": "checkpoint", "blob": checkpoint.to_bytes(trainer.checkpoint()),
                      "step": trainer.step, "epoch": trainer.epoch})
                last_ckpt = time.monotonic()
    except TrainingDiverged as e:  # the model keeps the last finite weights: saved below
        status, message = "failed", str(e)
    except (ValueError, RuntimeError) as e:
        status, message = "failed", f"training stopped: {e}"

    metrics = {}
    if trainer.step > 0:
        ckpt = trainer.checkpoint()
        if status != "failed":
            ckpt.metrics = metrics = evaluate(trainer.model.eval(), trainer.val_x, trainer.val_y, ckpt.config)
            message = message or collapse_note(ckpt.config, metrics.get("val_kl_per_dim"))
        emit({"kind": "checkpoint", "blob": checkpoint.to_bytes(ckpt), "step": trainer.step, "epoch": trainer.epoch})
    if report is not None:  # the final curves and pictures
        emit(progress(report, True))
    emit({"kind": "end", "status": status, "message": message, "metrics": metrics, "beta_changes": beta_changes})


def _setup(spec: JobSpec):
    cfg = spec.config
    resume = checkpoint.from_bytes(spec.resume) if spec.resume else None
    train, val = load_split(cfg, spec.data_dir)
    return Trainer(cfg, train, val, spec.device, resume), val


class _Pictures:
    """Fixed validation examples, their reconstructions, decoded fixed prior samples, the 2-D map."""

    def __init__(self, trainer: Trainer, val, spec: JobSpec):
        self.trainer = trainer
        gen = torch.Generator().manual_seed(0)
        self.x, self.y = val.x[:spec.n_images], val.y[:spec.n_images]
        self.z = torch.randn(len(self.x), spec.config.latent_dim, generator=gen)
        self.map_x, self.map_y = val.x[:spec.n_points], val.y[:spec.n_points]
        self.originals = self.x.numpy()

    @torch.no_grad()
    def now(self) -> dict[str, np.ndarray]:
        model = self.trainer.model
        was_training = model.training
        model.eval()
        y = self.y if model.n_cond else None
        out = {"recons": reconstruct(model, self.x, y).cpu().numpy(), "samples": decode(model, self.z, y).cpu().numpy()}
        if model.latent_dim == 2:
            mu, _ = encode(model, self.map_x, self.map_y if model.n_cond else None)
            out["latent"], out["labels"] = mu.cpu().numpy(), self.map_y.numpy()
        model.train(was_training)
        return out
