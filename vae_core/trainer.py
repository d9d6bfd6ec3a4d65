"""The training loop: a plain loop over on-device tensors that yields a report after every step.

The whole dataset lives on the device as one tensor; a batch is an index into it, so there is no
per-item Dataset / DataLoader on the hot path. The CLI draws a progress bar from the reports, the
app draws live charts; neither knows about the other.

    trainer = Trainer(cfg, train, val)
    for report in trainer.run():      # stop() or set_beta() may be called between steps
        print(report.step, report.terms["loss"])
    save(trainer.checkpoint(), "model.safetensors")
"""
from __future__ import annotations

import copy
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from .checkpoint import Checkpoint
from .config import KNOBS, Config
from .data import Dataset
from .device import forked_rng, pick_device
from .metrics import evaluate, loss_terms
from .models import Autoencoder
from .registry import spec_of
from .timeline import Recorder, last_terms


class TrainingDiverged(RuntimeError):
    """The loss or its gradient stopped being finite; the model keeps the last good weights."""


def diverged_message(step: int, epoch: int, lr: float, who: str = "the loss") -> str:
    """What a run whose loss became non-finite at step + 1 says (it keeps the weights of `step`)."""
    return (f"{who} became non-finite at step {step + 1} (epoch {epoch + 1}); the model keeps the weights "
            f"of step {step}. Try a lower learning rate (now {lr:g}) or a smaller beta / penalty weight.")


@dataclass(frozen=True)
class Report:
    step: int                        # optimizer steps taken so far
    total_steps: int                 # steps when all epochs are done
    epoch: int                       # epochs completed
    epochs: int
    beta: float                      # the KL weight used at this step (after warm-up)
    terms: dict[str, float]          # this step's batch: loss, recon, kl or penalty
    images_per_s: float              # examples processed / wall time since run() started
    val: dict[str, float] | None = None  # set on the report that closes an epoch
    eta_s: float = float("nan")      # seconds left at the rate so far

    @property
    def fraction(self) -> float:
        return self.step / max(1, self.total_steps)


def _get_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """The global RNG states that sampling and corruption noise come from: the CPU's ("torch"), and
    the accelerator's ("cuda", "mps") when training on one."""
    state = {"torch": torch.get_rng_state()}
    if device.type != "cpu":
        state[device.type] = torch.get_device_module(device.type).get_rng_state(device)
    return state


def _set_rng(device: torch.device, state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    if device.type != "cpu" and device.type in state:
        torch.get_device_module(device.type).set_rng_state(state[device.type], device)


class Trainer:
    def __init__(self, cfg: Config, train: Dataset, val: Dataset, device: str | torch.device | None = None,
                 resume: Checkpoint | None = None, snapshots: bool = True):
        cfg.validate()
        if len(train) == 0 or len(val) == 0:
            raise ValueError("training and validation sets must not be empty")
        self.cfg = cfg
        self.spec = spec_of(cfg.model)
        self.device = pick_device(device) if not isinstance(device, torch.device) else device
        self.data_meta = {"name": cfg.dataset, "image_shape": list(train.image_shape),
                          "class_names": list(train.class_names), "source": train.source,
                          "n_train": len(train), "n_val": len(val)}
        # the whole dataset on the device: (N, *shape) float32 and (N,) int64
        self.x, self.y = train.x.to(self.device), train.y.to(self.device)
        self.val_x, self.val_y = val.x.to(self.device), val.y.to(self.device)

        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        with forked_rng(self.device):  # the init and this run's noise depend on cfg.seed alone
            torch.manual_seed(cfg.seed)
            self.model = Autoencoder(cfg, train.image_shape, train.n_classes).to(self.device)
            self.rng = _get_rng(self.device)  # this run's own noise stream, swapped in around each step
        # fused: one kernel per step for all parameters (cpu, cuda, mps); ~15% of a CPU step saved
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, fused=True)
        self.step, self.epoch = 0, 0
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.history: dict = {"train": {}, "val": {}}
        # examples per second of each epoch (validation included), wall time: not part of `history`, which is
        # the same for the same config and seed; checkpoints carry it as history["speed"]
        self.speed: dict = {}
        self.metrics: dict = {}
        self.beta = cfg.beta
        self._stop = threading.Event()
        # the run's timeline (vae_core.timeline): snapshots of its latent space at planned steps
        self.recorder = Recorder(self.val_x, self.val_y, cfg.latent_dim, self.model.variational, bool(self.model.n_cond),
                                 self.steps_per_epoch, cfg.epochs, len(self.x)) if snapshots else None
        self.timeline = self.recorder.empty() if self.recorder else None
        if resume is not None:
            self._restore(resume)

    # --- control, safe to call from another thread between steps ---------------------------

    def stop(self) -> None:
        """Ask the loop to return after the current step."""
        self._stop.set()

    def set_beta(self, beta: float) -> None:
        """Change the KL weight from the next step on."""
        self.beta = float(KNOBS["beta"].check(beta))

    def beta_at(self, step: int) -> float:
        """beta, ramped linearly from 0 over the first kl_warmup steps."""
        if self.cfg.kl_warmup > 0:
            return self.beta * min(1.0, step / self.cfg.kl_warmup)
        return self.beta

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x) / self.cfg.batch_size)

    # --- the loop ---------------------------------------------------------------------------

    @contextmanager
    def _own_rng(self):
        """Draw noise from this run's stream, not the process's: another trainer, or the app drawing
        samples, in between steps must not change what this run does."""
        with forked_rng(self.device):
            _set_rng(self.device, self.rng)
            try:
                yield
            finally:
                self.rng = _get_rng(self.device)

    def run(self) -> Iterator[Report]:
        """Train until cfg.epochs are done or stop() is called, yielding after every step."""
        self._stop.clear()
        cfg, n = self.cfg, len(self.x)
        # a run resumed mid-epoch restarts that epoch, so count what is left from here
        self.total_steps = total = self.step + (cfg.epochs - self.epoch) * self.steps_per_epoch
        # rates over wall time (validation included), so they are what a user waits for
        t0, first, seen = time.perf_counter(), self.step, 0
        self.model.train()
        self.snapshot(self.epoch, only_new=True)  # where it starts: its init, or where it resumed
        while self.epoch < cfg.epochs:
            epoch_t0, epoch_seen = time.perf_counter(), seen
            order = torch.randperm(n, generator=self.shuffle).to(self.device)
            for i in range(self.steps_per_epoch):
                if self._stop.is_set():
                    self.snapshot(self.epoch + i / self.steps_per_epoch, only_new=True)  # where it stopped
                    return
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                beta = self.beta_at(self.step + 1)
                with self._own_rng():
                    terms = self._step(self.x[idx], self.y[idx], beta)
                self._record("train", {"step": self.step, "beta": beta, **terms})
                if self.recorder and self.recorder.due_within(self.step):
                    self.snapshot(self.epoch + (i + 1) / self.steps_per_epoch)
                seen += len(idx)
                rate, eta = self._rates(t0, first, seen, total)
                yield Report(self.step, total, self.epoch, cfg.epochs, beta, terms, rate, eta_s=eta)
            self.epoch += 1
            if self.recorder and self.recorder.due_at_end(self.epoch):
                self.snapshot(self.epoch)
            val = self.validate()
            self._record("val", {"epoch": self.epoch, "step": self.step, **val})
            for k, v in (("epoch", self.epoch), ("step", self.step),
                         ("images_per_s", (seen - epoch_seen) / max(time.perf_counter() - epoch_t0, 1e-9))):
                self.speed.setdefault(k, []).append(v)
            rate, eta = self._rates(t0, first, seen, total)
            yield Report(self.step, total, self.epoch, cfg.epochs, self.beta_at(self.step), terms, rate, val, eta_s=eta)

    def _rates(self, t0: float, first: int, seen: int, total: int) -> tuple[float, float]:
        """(images per second, seconds left) over the wall time since t0."""
        elapsed = max(time.perf_counter() - t0, 1e-9)
        done = self.step - first
        return seen / elapsed, (elapsed * (total - self.step) / done) if done else float("nan")

    def _step(self, x: torch.Tensor, y: torch.Tensor, beta: float) -> dict[str, float]:
        # bf16: matmuls in bfloat16, weights, Adam and the loss reductions in float32 (autocast)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            terms = self.spec.loss(self.model, x, y, self.cfg, beta)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.model.parameters() if p.grad is not None])
        names = [k for k, v in terms.items() if v.dim() == 0]
        values = torch.stack([terms[k].detach().float() for k in names] + [grad_norm]).tolist()  # one sync
        if not all(math.isfinite(v) for v in values):
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingDiverged(diverged_message(self.step, self.epoch, self.cfg.lr))
        self.optimizer.step()
        self.step += 1
        return dict(zip(names, values[:-1]))

    def validate(self) -> dict[str, float]:
        """Mean loss terms on the validation set (fixed noise seed, so repeatable)."""
        self.model.eval()
        terms = loss_terms(self.model, self.val_x, self.val_y, self.cfg, beta=self.beta)
        self.model.train()
        return terms

    def snapshot(self, epoch: float, step: int | None = None, only_new: bool = False, measured: tuple | None = None) -> None:
        """Add the model's snapshot at `step` (default: now) to the timeline, if this run keeps one;
        only_new: not when the timeline already reaches that step; measured: its tensors, measured
        elsewhere (Recorder.measure: vae_core.member_process)."""
        step = self.step if step is None else step
        if not self.snapshot_due(step, only_new):
            return
        self.recorder.take(self.timeline, self.model, step, epoch, self.beta_at(step), last_terms(self.history), measured)

    def snapshot_due(self, step: int, only_new: bool = True) -> bool:
        """Whether snapshot(..., step, only_new) would add one."""
        return self.timeline is not None and not (only_new and len(self.timeline) and self.timeline.steps[-1] >= step)

    def _record(self, split: str, row: dict) -> None:
        cols = self.history[split]
        for k, v in row.items():
            cols.setdefault(k, []).append(v)

    # --- checkpoints ------------------------------------------------------------------------

    def final_metrics(self) -> dict:
        """vae_core.metrics.evaluate of the model now on the validation set, at its β now: what a
        finished run's checkpoint keeps (`metrics`). Its train / eval mode is left as it was."""
        was = self.model.training
        try:
            return evaluate(self.model.eval(), self.val_x, self.val_y, self.cfg.replace(beta=self.beta))
        finally:
            self.model.train(was)

    def checkpoint(self) -> Checkpoint:
        """Everything needed to resume (weights, Adam state, RNG) or to explore the model."""
        # copies, not views: training on must not change a checkpoint already taken
        return Checkpoint(
            config=self.cfg.replace(beta=self.beta),
            data=self.data_meta,
            model_state={k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()},
            optimizer_state=copy.deepcopy(self.optimizer.state_dict()),
            rng={**{k: v.cpu().clone() for k, v in self.rng.items()}, "shuffle": self.shuffle.get_state()},
            history={**copy.deepcopy(self.history), **({"speed": copy.deepcopy(self.speed)} if self.speed else {})},
            metrics=copy.deepcopy(self.metrics),
            progress={"step": self.step, "epoch": self.epoch},
            timeline=None if self.timeline is None else self.timeline.copy(),
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        if tuple(ckpt.data["image_shape"]) != tuple(self.data_meta["image_shape"]) or \
                ckpt.n_classes != len(self.data_meta["class_names"]):
            raise ValueError("the checkpoint was trained on data of another shape or class count")
        self.model.load_state_dict(ckpt.model_state)
        if ckpt.optimizer_state is not None:  # copied: Adam updates its state in place
            state = self.optimizer.state_dict()
            state["state"] = copy.deepcopy(ckpt.optimizer_state["state"])
            self.optimizer.load_state_dict(state)
        try:
            rng = {**self.rng, **{k: v for k, v in ckpt.rng.items() if k in ("torch", self.device.type)}}
            with forked_rng(self.device):
                _set_rng(self.device, rng)  # fails here, not at the first step, if the state is bad
            self.rng = {k: v.clone() for k, v in rng.items()}
            if "shuffle" in ckpt.rng:
                self.shuffle.set_state(ckpt.rng["shuffle"])
        except RuntimeError:
            raise ValueError("the checkpoint's RNG state is not valid for this PyTorch") from None
        self.step, self.epoch = ckpt.progress["step"], ckpt.progress["epoch"]
        history = copy.deepcopy(ckpt.history)
        self.speed = history.pop("speed", {})
        self.history = {"train": {}, "val": {}, **history}
        self.metrics = copy.deepcopy(ckpt.metrics)
        if self.recorder and ckpt.timeline is not None and self.recorder.fits(ckpt.timeline):
            self.timeline = ckpt.timeline.copy()  # resuming continues the timeline
            self.timeline.thin(self.recorder.cap)
