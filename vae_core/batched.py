"""Batched training: members that differ only in β, trained as one stacked model.

Their parameters are stacked (`torch.func.stack_module_state`), one `vmap`ped gradient gives every
member's gradient in one pass of batched matmuls, and one Adam steps all of them. Adam is
elementwise, so one Adam over stacked parameters is each member's own Adam. Members share the seed,
so a separate `Trainer` run of each would start from the same init, see the same batch order and
draw the same sampling noise: the batched step draws that noise once for all (`randomness="same"`)
and every member sees exactly what its own run would (tests/test_sweep.py checks it).

Stacking shares a step's Python overhead, not its arithmetic, and here saves little: on one core, 7
stacked members of a digits VAE step in 6.5-8x one member's time (torch 2.13 with MKL: the batched matmuls cost what 7
single ones do), 7 of an MNIST-sized VAE (0.5 GFLOP a step each) in 7.5x. Threads do not help a
digits member: its step is half Python, so they wait on the GIL (4 members in 4 threads took
2.8-4.9x one member's time), and it stays stacked on one thread. An MNIST-sized member's step is
arithmetic, so those members step side by side instead (`n_threads` > 1): each its own Trainer step
(autograd is thread-safe; torch.func's transforms are not), in a pool of threads with one intra-op
thread each, each member drawing its noise from its own generator (vae_core.noise); their timeline
snapshots and validation run side by side in those threads too. The cores then work without the
per-op barriers of intra-op threads, which a busy machine turns into waits (vae_core.threads);
more threads than cores let the OS balance them (7 members on 2 cores: 3.5 each, not 4 and 3).

The sweep's definition (which members, which of them batch together) is vae_core.sweep; its
command line vae_core.cli.sweep; its runs in the app's store vae_core.runs.submit.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

from . import noise, threads
from .checkpoint import Checkpoint
from .config import Config
from .data import Dataset
from .metrics import evaluate
from .sweep import groups
from .trainer import Trainer, TrainingDiverged, diverged_message


@dataclass(frozen=True)
class SweepReport:
    step: int                      # optimizer steps taken so far (each member took this many)
    total_steps: int
    epoch: int
    epochs: int
    val: list[dict | None] | None = None  # per member (None: left the stack), on the report that closes an epoch

    @property
    def fraction(self) -> float:
        return self.step / max(1, self.total_steps)


class BatchedTrainer:
    """Members that differ only in β, trained as one stacked model. Each member is a `Trainer`
    (same init, data order and noise stream as its own run); this drives them and writes the
    stacked weights back before validating or checkpointing, so `trainers[i].checkpoint()` is
    what a separate run would save.

    Between steps (from the loop's consumer): `trainers[i].set_beta(b)` changes member i's β from
    the next step; `stop()` ends the loop for every member. A member whose loss or gradient becomes
    non-finite raises TrainingDiverged, or with `drop_diverged` leaves the stack with its last finite
    weights (written back to its trainer) and a message in `failed[i]`, while the others train on
    exactly as before (each member's gradient and Adam step are its own)."""

    def __init__(self, cfgs: list[Config], train: Dataset, val: Dataset, device=None, drop_diverged: bool = False,
                 n_threads: int | None = 1, running_jobs: int = 1):
        """n_threads: 1, the members stacked on this thread; n > 1, each member's own step, n at a time
        in threads (on a CPU; elsewhere always stacked); None, as vae_core.threads.member_threads says
        for this model with `running_jobs` jobs at once."""
        if len(groups(cfgs)) != 1:
            raise ValueError("batched members must share every setting but β")
        self.trainers = [Trainer(c, train, val, device) for c in cfgs]
        lead = self.trainers[0]  # its shuffle and noise streams drive the batch (a member's own, too)
        self.cfg, self.spec, self.device = lead.cfg, lead.spec, lead.device
        self.x, self.y = lead.x, lead.y
        if n_threads is None:
            n_threads = threads.member_threads(lead, len(cfgs), running_jobs)
        self.threads = max(1, min(n_threads, len(cfgs))) if self.device.type == "cpu" else 1
        if self.threads == 1:
            self.params, self.buffers = stack_module_state([t.model for t in self.trainers])  # (M, *shape) each
            self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr, fused=True)
            self._grads = vmap(grad(self._loss, has_aux=True), in_dims=(0, 0, None, None, 0), randomness="same")
        else:  # each member's noise stream, as a generator of its own (its Trainer keeps a copy for checkpoints)
            self._streams = [torch.Generator().set_state(t.rng["torch"]) for t in self.trainers]
        self.step, self.epoch = 0, 0
        self.active = list(range(len(cfgs)))   # members still in the stack, in stack order
        self.failed: dict[int, str] = {}       # member -> why it left the stack
        self.drop_diverged = drop_diverged
        self._stop = threading.Event()
        self._workers: ThreadPoolExecutor | None = None  # the member threads, while run() runs (threads > 1)

    def _loss(self, params, buffers, x, y, beta):
        """One member's loss, for grad/vmap: its model is the template called with its parameters."""
        template = self.trainers[0].model

        def model(*args):
            return functional_call(template, (params, buffers), args)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            terms = self.spec.loss(model, x, y, self.cfg, beta)
        return terms["loss"], {k: v.detach() for k, v in terms.items() if v.dim() == 0}

    @property
    def total_steps(self) -> int:
        return self.cfg.epochs * self.trainers[0].steps_per_epoch

    def stop(self) -> None:
        """Ask the loop to return before its next step (every member stops)."""
        self._stop.set()

    def run(self) -> Iterator[SweepReport]:
        """Train all members for cfg.epochs, yielding after every step (val set on epoch ends)."""
        with self._pool():
            yield from self._run()

    @contextmanager
    def _pool(self):
        """The threads that step the members (none when stacked), for one run of the loop."""
        if self.threads == 1:
            yield
            return
        self._workers = ThreadPoolExecutor(self.threads, thread_name_prefix="member",
                                           initializer=torch.set_num_threads, initargs=(1,))
        try:
            yield
        finally:
            self._workers.shutdown()
            self._workers = None

    def _each(self, fn: Callable[[int], object], members: list[int]) -> list:
        """[fn(m) for m in members]: side by side on the member threads while they run (each
        member's own model, its noise from a generator of its own), else in turn."""
        if self._workers is None:
            return [fn(m) for m in members]
        return list(self._workers.map(fn, members))

    def _run(self) -> Iterator[SweepReport]:
        lead, cfg, n = self.trainers[0], self.cfg, len(self.x)
        total = self.total_steps
        self._snapshots(self.epoch)  # each member's timeline (vae_core.timeline) starts at its init
        while self.epoch < cfg.epochs and self.active:
            order = torch.randperm(n, generator=lead.shuffle).to(self.device)  # the order each run would see
            for t in self.trainers[1:]:
                t.shuffle.set_state(lead.shuffle.get_state())
            for i in range(lead.steps_per_epoch):
                if self._stop.is_set():
                    self._snapshots(self.epoch + i / lead.steps_per_epoch)  # where they stopped
                    return
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                members = list(self.active)
                betas = [self.trainers[m].beta_at(self.step + 1) for m in members]
                terms = self._step(self.x[idx], self.y[idx], betas)
                for m, b, row in zip(members, betas, terms):
                    if row is not None:  # None: it diverged at this step and left the stack
                        self.trainers[m]._record("train", {"step": self.step, "beta": b, **row})
                if not self.active:
                    return
                if lead.recorder and lead.recorder.due_within(self.step):
                    self._snapshots(self.epoch + (i + 1) / lead.steps_per_epoch)
                yield SweepReport(self.step, total, self.epoch, cfg.epochs)
            self.epoch += 1
            if lead.recorder and lead.recorder.due_at_end(self.epoch):
                self._snapshots(self.epoch)
            vals = self._validate()
            yield SweepReport(self.step, total, self.epoch, cfg.epochs, vals)

    def _step(self, x: torch.Tensor, y: torch.Tensor, betas: list[float]) -> list[dict[str, float] | None]:
        """One step of the active members; -> each one's loss terms (None for one that diverged)."""
        if self.threads > 1:
            rows = list(self._workers.map(self._member_step, self.active, betas, [x] * len(betas), [y] * len(betas)))
        else:
            with self.trainers[0]._own_rng():
                rows, grads = self._stacked_grads(x, y, betas)
        bad = [j for j, row in enumerate(rows) if row is None]
        for j in bad:
            if not self.drop_diverged:
                raise TrainingDiverged(diverged_message(self.step, self.epoch, self.cfg.lr,
                                                        f"the loss of the member with β = {betas[j]:g}"))
            m = self.active[j]
            self._sync_member(j, m)  # the weights before this step: still finite
            self.failed[m] = diverged_message(self.step, self.epoch, self.cfg.lr)
        if bad:
            keep = [j for j in range(len(rows)) if j not in bad]
            self._keep(keep)
            if self.threads == 1:
                grads = {k: g[keep] for k, g in grads.items()}
        if self.active:
            if self.threads == 1:
                for name, p in self.params.items():
                    p.grad = grads[name]
                self.optimizer.step()
            self.step += 1
        return rows

    def _stacked_grads(self, x, y, betas) -> tuple[list[dict[str, float] | None], dict[str, torch.Tensor]]:
        """The stacked members' gradients (M, *shape) by name, and each one's loss terms (None: a
        non-finite loss or gradient)."""
        beta = torch.tensor(betas, device=self.device)  # (M,)
        params = {k: p.detach() for k, p in self.params.items()}  # grad() differentiates; no graph outside it
        grads, terms = self._grads(params, self.buffers, x, y, beta)  # (M, *shape) and (M,) each
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()  # (M,)
        names = list(terms)
        values = torch.stack([terms[k].float() for k in names] + [norms]).T.tolist()  # (M, terms + 1), one sync
        rows = [dict(zip(names, row[:-1])) if all(math.isfinite(v) for v in row) else None for row in values]
        return rows, grads

    def _member_step(self, m: int, beta: float, x: torch.Tensor, y: torch.Tensor) -> dict[str, float] | None:
        """Member m's own Trainer step, on a pool thread, its noise from its own stream; None when it
        diverged (its weights and Adam state then stay those before the step)."""
        t = self.trainers[m]
        try:
            with noise.drawing_from(self._streams[m]):
                return t._step(x, y, beta)
        except TrainingDiverged:
            return None
        finally:
            t.rng = {**t.rng, "torch": self._streams[m].get_state()}

    def _keep(self, keep: list[int]) -> None:
        """Go on with the stack rows `keep` only: their parameters, buffers and Adam state."""
        if self.threads > 1:  # the members' own models and optimizers: nothing to cut
            self.active = [self.active[j] for j in keep]
            return
        rows = torch.tensor(keep, dtype=torch.long, device=self.device)
        old_state = self.optimizer.state
        old = list(self.params.values())
        self.params = {k: p.detach()[rows].clone().requires_grad_() for k, p in self.params.items()}
        self.buffers = {k: b[rows] for k, b in self.buffers.items()}
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr, fused=True)
        for p_old, p in zip(old, self.params.values()):
            if p_old in old_state:
                self.optimizer.state[p] = {k: (v[rows].clone() if k != "step" else v.clone())
                                           for k, v in old_state[p_old].items()}
        self.active = [self.active[j] for j in keep]

    def _copy_weights(self, j: int, m: int) -> None:
        """Stack row j's weights into member m's own model (stepped in threads, it has them already)."""
        if self.threads > 1:
            return
        with torch.no_grad():
            for name, p in self.trainers[m].model.named_parameters():
                p.copy_(self.params[name][j])

    def sync_weights(self) -> None:
        """Copy the stacked weights into each active member's own model (enough for pictures)."""
        for j, m in enumerate(self.active):
            self._copy_weights(j, m)

    def _sync_member(self, j: int, m: int) -> None:
        """Copy stack row j's weights and Adam state into member m's own model and optimizer (stepped
        in threads, it has them, its step count and its noise stream already: only the epoch)."""
        if self.threads > 1:
            self.trainers[m].epoch = self.epoch
            return
        t, state = self.trainers[m], self.optimizer.state
        self._copy_weights(j, m)
        opt = t.optimizer.state_dict()
        opt["state"] = {i: {k: (v[j].clone() if k != "step" else v.clone()) for k, v in state[p].items()}
                        for i, p in enumerate(self.params.values()) if p in state}
        t.optimizer.load_state_dict(opt)
        t.step, t.epoch = self.step, self.epoch
        t.rng = {k: v.clone() for k, v in self.trainers[0].rng.items()}

    def sync(self) -> None:
        """Copy the stacked weights and Adam state into each active member's model and optimizer."""
        for j, m in enumerate(self.active):
            self._sync_member(j, m)

    def _snapshots(self, epoch: float) -> None:
        """Each active member's timeline snapshot of its stacked weights as they are now (the same as
        its own run's: Trainer.snapshot)."""
        if self.trainers[0].timeline is None:
            return
        self.sync_weights()
        self._each(lambda m: self.trainers[m].snapshot(epoch, step=self.step, only_new=True), self.active)

    def _validate(self) -> list[dict | None]:
        """Each member's validation terms (None for a member that left the stack)."""
        self.sync()
        vals: list[dict | None] = [None] * len(self.trainers)
        for m, val in zip(self.active, self._each(lambda m: self.trainers[m].validate(), self.active)):
            vals[m] = val
            self.trainers[m]._record("val", {"epoch": self.epoch, "step": self.step, **val})
        return vals

    def checkpoints(self) -> list[Checkpoint]:
        """Each member's checkpoint with its final metrics (vae_core.metrics.evaluate)."""
        self.sync()
        out = []
        for t in self.trainers:
            ckpt = t.checkpoint()
            ckpt.metrics = evaluate(t.model.eval(), t.val_x, t.val_y, ckpt.config)
            t.model.train()
            out.append(ckpt)
        return out


def train_sweep(cfgs: list[Config], train: Dataset, val: Dataset, device=None,
                on_report: Callable[[int, SweepReport], None] | None = None,
                on_built: Callable[[int], None] | None = None) -> list[Checkpoint]:
    """Train every member (batched per architecture group, stacked or in threads as
    vae_core.threads says); -> checkpoints in the order of `cfgs`. `on_report(group_index, report)`
    is called after every step; `on_built(group_index)` once a group's models and optimizers are
    made, before its first step (the CLI's first line: the first optimizer also imports the 2 s
    of torch._dynamo, start-up as train's own, which train's first line comes after too)."""
    out: list[Checkpoint | None] = [None] * len(cfgs)
    for g, idx in enumerate(groups(cfgs)):
        trainer = BatchedTrainer([cfgs[i] for i in idx], train, val, device, n_threads=None)
        if on_built is not None:
            on_built(g)
        threads.use(threads.for_batch(trainer))
        for report in trainer.run():
            if on_report is not None:
                on_report(g, report)
        for i, ckpt in zip(idx, trainer.checkpoints()):
            out[i] = ckpt
    return out
