"""One training job as a worker runs it: specs in, messages out, control read between steps.

A job is one run (run_job), or a batch: several fresh runs of one config that differ only in β,
trained together in this one worker (run_batch, batched.BatchedTrainer). The same function
(run_worker) runs in a spawned local process and in a Ray actor; only the two channels differ.
`emit(message)` sends a plain dict (picklable, small except checkpoints); every message carries
"run", the id of the run it is about (a batch's messages are routed to each member's handle):

    {"kind": "started",    run, device, threads, epochs, start_step (> 0 when resumed), pid, total_steps,
                           originals, class_names}
    {"kind": "progress",   run, step, total_steps, epoch, beta, images_per_s, eta_s,
                           train / val: the history rows added since the last message,
                           [recons, samples, latent, labels]: fresh pictures, every refresh_s}
    {"kind": "checkpoint", run, blob (the .safetensors bytes), step, epoch}   every epoch (at most every
                           `min_checkpoint_s`; a batch of M runs, at most every M x min_checkpoint_s,
                           so that it writes no more bytes a second than one job) and every
                           `checkpoint_s` within a long epoch
    {"kind": "end",        run, status ("done" | "stopped" | "failed"), message, metrics, beta_changes}

Each run of a job says "end" exactly once; the job is over when all have. `control.poll()` ->
(stop requested, [beta asked for or None, one per run in the job's order]) is called after every
step (a batch whose members step in threads: after every slice of steps, about BatchedTrainer's
SLICE_S apart), so Stop and a new beta take effect from the next step. Stop is the job's: in a
batch it stops every member (run_batch states the rules).
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
from ..batched import BatchedTrainer
from ..trainer import Trainer, TrainingDiverged


@dataclass(frozen=True)
class JobSpec:
    run_id: str
    config: Config
    resume: bytes | None = None      # a checkpoint to continue from (an interrupted or stopped run)
    data_dir: str | None = None
    workspace: str | dict | None = None  # where its workspace's own datasets are: the folder, or {id: bytes}
    device: str | None = None
    running_jobs: int = 1            # jobs running at once, for the thread policy
    refresh_s: float = 0.5           # progress messages at most this often (pictures too)
    checkpoint_s: float = 30.0       # a checkpoint at least this often within a long epoch
    min_checkpoint_s: float = 2.0    # ... and at an epoch's end, if this long since the last one
    n_images: int = 8
    n_points: int = 1000


class Control(Protocol):
    # whether a batch may fork processes to step its members (vae_core.member_process): a local
    # worker may; a Ray actor (its own threads, gRPC) may not, and steps them in threads
    member_processes: bool

    def poll(self) -> tuple[bool, list[float | None]]: ...


def run_worker(specs: tuple[JobSpec, ...], control: Control, emit: Callable[[dict], None]) -> None:
    """A worker's one entry point: one spec is a single job, several a batch (run_batch)."""
    if len(specs) == 1:
        run_job(specs[0], control, emit)
    else:
        run_batch(specs, control, emit)


class _Reporter:
    """One run's side of the messages: the curve rows it has sent, its pictures, its β changes."""

    def __init__(self, trainer: Trainer, val, spec: JobSpec, emit: Callable[[dict], None]):
        self.trainer, self.spec, self._emit = trainer, spec, emit
        self.pics = _Pictures(trainer, val, spec)
        self.sent = {"train": 0, "val": 0}
        self.beta_changes: list[tuple[int, float]] = []
        self.last: dict | None = None  # the fields of the last progress message

    def emit(self, msg: dict) -> None:
        self._emit({"run": self.spec.run_id, **msg})

    def started(self, n_threads: int, class_names) -> None:
        t = self.trainer
        self.emit({"kind": "started", "device": describe(t.device), "threads": n_threads, "epochs": self.spec.config.epochs,
                   "start_step": t.step, "pid": os.getpid(), "total_steps": t.total_steps,
                   "originals": self.pics.originals, "class_names": tuple(class_names)})

    def set_beta(self, beta: float | None, step: int) -> None:
        if beta is not None and not math.isclose(beta, self.trainer.beta):
            self.trainer.set_beta(beta)
            self.beta_changes.append((step, float(beta)))

    def progress(self, fields: dict, with_pictures: bool) -> None:
        """fields: step, total_steps, epoch, beta, images_per_s, eta_s; the curve rows added since
        the last message go with them."""
        self.last = fields
        msg = {"kind": "progress", **fields}
        for split in self.sent:
            cols = self.trainer.history[split]
            n = len(next(iter(cols.values()), []))
            msg[split] = {k: v[self.sent[split]:n] for k, v in cols.items()}
            self.sent[split] = n
        if with_pictures:
            msg.update(self.pics.now())
        self.emit(msg)

    def checkpoint(self) -> None:
        t = self.trainer
        self.emit({"kind": "checkpoint", "blob": checkpoint.to_bytes(t.checkpoint()), "step": t.step, "epoch": t.epoch})

    def end(self, status: str, message: str, ckpt: checkpoint.Checkpoint | None = None) -> None:
        """The last checkpoint (`last_checkpoint`), the final curves and pictures, "end"."""
        self.ended(self.last_checkpoint(status, message, ckpt))

    def last_checkpoint(self, status: str, message: str, ckpt: checkpoint.Checkpoint | None = None) -> dict:
        """Send the last checkpoint (with metrics unless failed: `ckpt` when the caller made it); ->
        the fields of the run's "end" message (`ended`): its status, message (a collapse noted), metrics."""
        t, metrics = self.trainer, {}
        if t.step > 0:
            if ckpt is None:
                ckpt = t.checkpoint()
                if status != "failed":
                    ckpt.metrics = t.final_metrics()
            if status != "failed":
                metrics = ckpt.metrics
                message = message or collapse_note(ckpt.config, metrics.get("val_kl_per_dim"))
            self.emit({"kind": "checkpoint", "blob": checkpoint.to_bytes(ckpt), "step": t.step, "epoch": t.epoch})
        return {"status": status, "message": message, "metrics": metrics}

    def ended(self, fields: dict) -> None:
        """After the last checkpoint: the final curves and pictures, "end" with `fields`."""
        t = self.trainer  # the final curves and pictures (also for a run that ended before its first progress message)
        last = self.last or {"total_steps": t.total_steps, "beta": t.beta_at(t.step), "images_per_s": float("nan")}
        self.progress({**last, "step": t.step, "epoch": t.epoch, "eta_s": 0.0}, True)
        self.emit({"kind": "end", **fields, "beta_changes": self.beta_changes})


def _could_not_start(specs, e: Exception, emit) -> None:
    for spec in specs:
        emit({"run": spec.run_id, "kind": "end", "status": "failed", "message": f"could not start: {e}", "metrics": {},
              "beta_changes": []})


class _Clock:
    """When to send progress (every refresh_s, and at every epoch's end) and checkpoints (every
    epoch, at most every min_checkpoint_s, or members x min_checkpoint_s for a batch, and every
    checkpoint_s within a long epoch)."""

    def __init__(self, spec: JobSpec, members: int = 1):
        self.spec = spec
        self.emit = self.pics = time.monotonic()
        self.fresh = False
        self.cadence = checkpoint.Cadence(spec.min_checkpoint_s * members, spec.checkpoint_s)

    def progress_due(self, epoch_end: bool) -> bool:
        now = time.monotonic()
        if now - self.emit < self.spec.refresh_s and not epoch_end:
            return False
        self.fresh = now - self.pics >= self.spec.refresh_s  # pictures too
        self.emit, self.pics = now, (now if self.fresh else self.pics)
        return True

    def checkpoint_due(self, epoch_end: bool) -> bool:
        return self.cadence.due(epoch_end)

    def checkpointed(self) -> None:
        self.cadence.saved()


def run_job(spec: JobSpec, control: Control, emit: Callable[[dict], None]) -> None:
    """Train spec.config to its last epoch or until stopped, reporting through `emit`. Never raises
    for what a user can cause: that becomes an "end" message with status "failed"."""
    threads.use(1)
    try:
        trainer, val = _setup(spec)
    except (ValueError, OSError, RuntimeError) as e:  # DatasetError, CheckpointError, bad resume
        _could_not_start([spec], e, emit)
        return
    n_threads = threads.for_trainer(trainer, running_jobs=spec.running_jobs)
    threads.use(n_threads)
    out, clock = _Reporter(trainer, val, spec, emit), _Clock(spec)
    out.started(n_threads, val.class_names)
    status, message = "done", ""
    try:
        for report in trainer.run():
            stop, betas = control.poll()
            out.set_beta(betas[0], trainer.step)
            if stop:
                trainer.stop()
                status = "stopped"
            if clock.progress_due(report.val is not None):
                out.progress({"step": report.step, "total_steps": report.total_steps, "epoch": report.epoch,
                              "beta": report.beta, "images_per_s": report.images_per_s, "eta_s": report.eta_s},
                             clock.fresh)
            if clock.checkpoint_due(report.val is not None):
                out.checkpoint()
                clock.checkpointed()
    except TrainingDiverged as e:  # the model keeps the last finite weights: saved below
        status, message = "failed", str(e)
    except (ValueError, RuntimeError) as e:
        status, message = "failed", f"training stopped: {e}"
    out.end(status, message)


def run_batch(specs: tuple[JobSpec, ...], control: Control, emit: Callable[[dict], None]) -> None:
    """Train the specs' configs (the same up to β) batched in this one worker (batched.BatchedTrainer),
    each member reported as its own run: every message carries its "run".

    The rules: `control.poll()`'s β for member i changes only member i. Stop (asked through any
    member) stops the whole batch before its next step: each member is saved with its weights and
    ends "stopped", resumable later as a single job. A member whose loss becomes non-finite ends
    "failed" at once with its last finite weights; the others train on. Only fresh runs batch:
    a resumed run is a single job."""
    threads.use(1)
    lead = specs[0]
    try:
        if any(s.resume for s in specs):
            raise ValueError("a batch trains fresh runs only; resume a member as a single job")
        train, val = load_split(lead.config, lead.data_dir, workspace=lead.workspace)
        batch = BatchedTrainer([s.config for s in specs], train, val, lead.device, drop_diverged=True, n_threads=None,
                               running_jobs=lead.running_jobs,
                               processes=getattr(control, "member_processes", False))
    except (ValueError, OSError, RuntimeError) as e:
        _could_not_start(specs, e, emit)
        return
    t0 = batch.trainers[0]
    threads.use(threads.for_batch(batch, lead.running_jobs))
    n_threads = max(batch.threads, torch.get_num_threads())  # member threads, or the stack's intra-op ones
    outs = [_Reporter(t, val, s, emit) for t, s in zip(batch.trainers, specs)]
    for out in outs:
        out.started(n_threads, val.class_names)
    clock, ended = _Clock(lead, len(specs)), set()
    started, per_step = time.perf_counter(), len(batch.x) / t0.steps_per_epoch  # images a step, on average

    def report_failures() -> None:
        for m, why in batch.failed.items():
            if m not in ended:
                outs[m].end("failed", why)
                ended.add(m)

    status, message = "done", ""
    try:
        for report in batch.run():
            stop, betas = control.poll()
            for m in batch.active:
                outs[m].set_beta(betas[m], batch.step)
            if stop:
                batch.stop()
                status = "stopped"
            report_failures()
            epoch_end = report.val is not None
            if clock.progress_due(epoch_end):  # rates over wall time, as Trainer's: what a user waits for
                elapsed = max(time.perf_counter() - started, 1e-9)
                rate = report.step * per_step / elapsed
                eta = elapsed * (report.total_steps - report.step) / report.step if report.step else float("nan")
                if clock.fresh:
                    batch.sync_weights()
                for m in batch.active:
                    t = batch.trainers[m]
                    out_fields = {"step": report.step, "total_steps": report.total_steps, "epoch": report.epoch,
                                  "beta": t.beta_at(report.step), "images_per_s": rate, "eta_s": eta}
                    outs[m].progress(out_fields, clock.fresh)
            if clock.checkpoint_due(epoch_end):
                batch.sync()
                for m in batch.active:
                    outs[m].checkpoint()
                clock.checkpointed()
    except (ValueError, RuntimeError) as e:
        status, message = "failed", f"training stopped: {e}"
    report_failures()
    members = [m for m in batch.active if batch.trainers[m].step > 0]
    finals = dict(zip(members, batch.checkpoints(members, metrics=status != "failed")))  # side by side
    # every member's last checkpoint first: the server writes them side by side (runs.queue), then the ends
    ends = [outs[m].last_checkpoint(status, message, finals.get(m)) for m in batch.active]
    for m, fields in zip(batch.active, ends):
        outs[m].ended(fields)


def _setup(spec: JobSpec):
    cfg = spec.config
    resume = checkpoint.from_bytes(spec.resume) if spec.resume else None
    train, val = load_split(cfg, spec.data_dir, workspace=spec.workspace)
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
