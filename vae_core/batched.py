"""Batched training: members that differ only in β, trained as one stacked model.

Their parameters are stacked (`torch.func.stack_module_state`), one `vmap`ped gradient gives every
member's gradient in one pass of batched matmuls, and one Adam steps all of them. Adam is
elementwise, so one Adam over stacked parameters is each member's own Adam. Members share the seed,
so a separate `Trainer` run of each would start from the same init, see the same batch order and
draw the same sampling noise: the batched step draws that noise once for all (`randomness="same"`)
and every member sees exactly what its own run would (tests/test_sweep.py checks it).

Stacking shares a step's Python overhead, not its arithmetic, and here saves little: on one core, 7
stacked members of a digits VAE step in 6.5-8x one member's time (torch 2.13 with MKL: the batched
matmuls cost what 7 single ones do), 7 of an MNIST-sized VAE (0.5 GFLOP a step each) in 7.5x. A
digits member's step is half Python, so threads stepping such members wait on the GIL and they stay
stacked on one thread (vae_core.threads). An MNIST-sized member's step is arithmetic, so those
members step side by side instead (`n_threads` > 1): each its own Trainer step (autograd is
thread-safe; torch.func's transforms are not), one intra-op thread each, each member drawing its
noise from its own generator (vae_core.noise). The cores then work without the per-op barriers of
intra-op threads, which a busy machine turns into waits.

Threads meet only every SLICE_S seconds (`_slice`): within a slice each takes the next member that
has a step left, a step at a time, so 7 members on 2 cores keep both busy (3.5 members each, on
average) with no wait until the slice's end. Meeting after every step instead (7 threads, the OS
sharing the cores) took 4.4x one member's time in the app's worker, slices 3.9x (median of 6 pairs,
bench/bench_sweep.py's MNIST case; the arithmetic bound on 2 cores is 3.5x, and two one-member
processes side by side here each step 11% slower than one alone). Their timeline snapshots,
validation and final checkpoints run in those threads too. The loop yields between slices, while no
member steps, so a consumer may read or change any member then (a new β is each member's from its
next step; a stop stops all at one step).

Where the batch may fork (`processes`: a local worker, the CLI), those are processes instead
(vae_core.member_process): this one and n - 1 forked ones take the members in turn over shared
memory, so even a digits-sized member, whose step is half interpreter, steps side by side; they
also validate their own members, measure their timeline snapshots (`_split`; within a slice, the
process that took a member's step) and their final metrics. bench/bench_sweep.py, training without
start-up, 7 members against one, four runs of 3 pairs: digits in the app 3.51-3.85x (median of
the 12 pairs 3.67x; 6.67x stacked), MNIST 3.64-4.06x (3.72x; 4.21x in threads), the CLI 2.38-3.25x.
The bound on 2 cores is 3.5x, and an MNIST member's step beside another is 6% slower than alone
(6.96-7.20 ms against 6.60-6.77: the cores share the memory traffic).
Each step is still the member's own Trainer step, bit for bit.

The sweep's definition (which members, which of them batch together) is vae_core.sweep; its
command line vae_core.cli.sweep; its runs in the app's store vae_core.runs.submit.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
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
from .member_process import Board, MemberProcess, share, take_steps
from .sweep import groups
from .trainer import Trainer, TrainingDiverged, diverged_message

SLICE_S = 0.25  # members stepping in threads meet every this many seconds (BatchedTrainer._slice)


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
                 n_threads: int | None = 1, running_jobs: int = 1, processes: bool = False):
        """n_threads: 1, the members stacked on this thread; n > 1, each member's own step, n at a time
        in threads (on a CPU; elsewhere always stacked); None, as vae_core.threads.member_threads says
        for this model with `running_jobs` jobs at once. processes: n - 1 of them are processes forked
        from this one (vae_core.member_process: no GIL shared), and member_threads counts them so."""
        if len(groups(cfgs)) != 1:
            raise ValueError("batched members must share every setting but β")
        self.trainers = [Trainer(c, train, val, device) for c in cfgs]
        lead = self.trainers[0]  # its shuffle and noise streams drive the batch (a member's own, too)
        self.cfg, self.spec, self.device = lead.cfg, lead.spec, lead.device
        self.x, self.y = lead.x, lead.y
        if n_threads is None:
            n_threads = threads.member_threads(lead, len(cfgs), running_jobs, processes=processes)
        self.threads = max(1, min(n_threads, len(cfgs))) if self.device.type == "cpu" else 1
        self._helpers: list[MemberProcess] = []  # the processes stepping members with this one (processes)
        if processes and self.threads > 1:
            for t in self.trainers:
                share(t)
            self._board = Board(len(cfgs))
            self._order = torch.empty(len(self.x), dtype=torch.long).share_memory_()  # each epoch's batch order
            self._rngs = torch.stack([t.rng["torch"] for t in self.trainers]).share_memory_()  # (M, state bytes)
            self._helpers = [MemberProcess(self._board, k, self.threads, self.trainers, self._order, self._rngs)
                             for k in range(1, self.threads)]
        if self.threads == 1:
            self.params, self.buffers = stack_module_state([t.model for t in self.trainers])  # (M, *shape) each
            self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr, fused=True)
            self._grads = vmap(grad(self._loss, has_aux=True), in_dims=(0, 0, None, None, 0), randomness="same")
        elif not self._helpers:  # each member's noise stream, as a generator of its own (its Trainer keeps a
            # copy for checkpoints); with member processes, its state in the shared self._rngs instead
            self._streams = [torch.Generator().set_state(t.rng["torch"]) for t in self.trainers]
        self.step, self.epoch = 0, 0
        self.active = list(range(len(cfgs)))   # members still in the stack, in stack order
        self.failed: dict[int, str] = {}       # member -> why it left the stack
        self.drop_diverged = drop_diverged
        self._stop = threading.Event()
        self._workers: ThreadPoolExecutor | None = None  # the member threads, while run() runs (threads > 1)
        self._pace: float | None = None  # seconds the last slice took a step (threads > 1)

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
        """Train all members for cfg.epochs, yielding after every step (members in threads: every
        slice of steps, `_slice`), and once more at each epoch's end with `val` set."""
        try:
            with self._pool():
                yield from self._run()
        except BaseException:  # also a consumer that lets go of the loop (GeneratorExit)
            self.close()
            raise

    def close(self) -> None:
        """End the member processes (`checkpoints` does, or run() when it does not end as planned);
        the members stay here, trained."""
        for h in self._helpers:
            h.close()
        self._helpers = []

    @contextmanager
    def _pool(self):
        """The threads that step the members (none when stacked), for one run of the loop (or of
        `checkpoints`; inside either, the pool already there)."""
        if self.threads == 1 or self._workers is not None:
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
            if self._helpers:  # where the member processes read it (no member steps now)
                order = self._order.copy_(order)
            for t in self.trainers[1:]:
                t.shuffle.set_state(lead.shuffle.get_state())
            i = 0  # steps of this epoch done
            while i < lead.steps_per_epoch:
                if self._stop.is_set():
                    self._snapshots(self.epoch + i / lead.steps_per_epoch)  # where they stopped
                    return
                if self.threads > 1:
                    i += self._slice(order, i)
                else:
                    idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                    self._stacked_step(self.x[idx], self.y[idx])
                    i += 1
                    if lead.recorder and lead.recorder.due_within(self.step):
                        self._snapshots(self.epoch + i / lead.steps_per_epoch)
                if not self.active:
                    return
                yield SweepReport(self.step, total, self.epoch, cfg.epochs)
            self.epoch += 1
            if lead.recorder and lead.recorder.due_at_end(self.epoch):
                self._snapshots(self.epoch)
            vals = self._validate()
            yield SweepReport(self.step, total, self.epoch, cfg.epochs, vals)

    def _stacked_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One step of the stacked members, each one's row recorded in its own history."""
        members = list(self.active)
        betas = [self.trainers[m].beta_at(self.step + 1) for m in members]
        with self.trainers[0]._own_rng():
            rows, grads = self._stacked_grads(x, y, betas)
        bad = [j for j, row in enumerate(rows) if row is None]
        for j in bad:
            self._sync_member(j, members[j])  # the weights before this step: still finite
        self._drop([members[j] for j in bad])
        if bad:
            keep = [j for j in range(len(rows)) if j not in bad]
            self._keep(keep)
            grads = {k: g[keep] for k, g in grads.items()}
        if self.active:
            for name, p in self.params.items():
                p.grad = grads[name]
            self.optimizer.step()
            self.step += 1
        for m, b, row in zip(members, betas, rows):
            if row is not None:
                self.trainers[m]._record("train", {"step": self.step, "beta": b, **row})

    def _drop(self, members: list[int]) -> None:
        """Members whose loss became non-finite at their next step: TrainingDiverged, or with
        drop_diverged each leaves the stack with a message (its weights those before that step)."""
        for m in members:
            t = self.trainers[m]
            if not self.drop_diverged:
                who = f"the loss of the member with β = {t.beta_at(t.step + 1):g}"
                raise TrainingDiverged(diverged_message(t.step, self.epoch, self.cfg.lr, who))
            t.epoch = self.epoch
            self.failed[m] = diverged_message(t.step, self.epoch, self.cfg.lr)

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

    def _slice(self, order: torch.Tensor, i: int) -> int:
        """Steps i, i+1, ... of this epoch for every active member, each member's steps its own
        Trainer's (`_advance`), the members taken in turn by the pool's threads a step at a time:
        no thread waits for another until the slice's end, where every member is at the same step
        again. A slice lasts about SLICE_S (its length in steps from the last one's pace), so the
        loop's consumer still acts often (a stop, a new β, pictures), between slices, while no
        member is stepping. -> the slice's length in steps."""
        left = self.trainers[0].steps_per_epoch - i
        n = max(1, min(left, round(SLICE_S / self._pace))) if self._pace else 1
        if self._helpers:
            return self._slice_in_processes(order, i, n)
        target, todo, lock, diverged = self.step + n, deque(self.active), threading.Lock(), []

        def work() -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    m = todo.popleft()
                if self._advance(m, order, i + self.trainers[m].step - self.step):
                    if self.trainers[m].step < target:
                        with lock:
                            todo.append(m)
                else:
                    diverged.append(m)
        t0 = time.perf_counter()
        for f in [self._workers.submit(work) for _ in range(self.threads)]:
            f.result()
        self._end_slice(n, t0, lambda m: self._streams[m].get_state(), sorted(diverged, key=self.active.index))
        return n

    def _end_slice(self, n: int, t0: float, stream_state: Callable[[int], torch.Tensor], diverged: list[int]) -> None:
        """A slice of n steps begun at t0 is done: its pace, each member's noise-stream state kept
        for checkpoints (once a slice, not a step), the batch's step, and the `diverged` members
        (in stack order) out."""
        self._pace = (time.perf_counter() - t0) / n  # seconds a step of every member takes, here and now
        for m in self.active:
            self.trainers[m].rng = {**self.trainers[m].rng, "torch": stream_state(m)}
        self.step += n
        self._drop(diverged)
        self.active = [m for m in self.active if m not in diverged]

    def _slice_in_processes(self, order: torch.Tensor, i: int, n: int) -> int:
        """_slice with the member processes: this process and each one ready take members in turn
        from the board (vae_core.member_process.take_steps), the rows merged in step order at the
        end, with the timeline snapshots due within the slice (the first epoch's dense steps),
        measured where the member stepped, right after that step. -> the slice's length in steps."""
        board, spe = self._board, self.trainers[0].steps_per_epoch
        target, t0 = self.step + n, time.perf_counter()
        board.target.value = target
        for m, t in enumerate(self.trainers):
            board.steps[m], board.busy[m], board.out[m] = t.step, 0, m not in self.active
        helpers = [h for h in self._helpers if h.ready()]
        for h in helpers:
            h.start_slice(self.epoch, i, self.step, [t.beta for t in self.trainers])
        rows = take_steps(board, 0, len(self._helpers) + 1, self.trainers, order, self._rngs, i, self.step, self.epoch)
        for h in helpers:
            rows += h.end_slice()
        for m, step, beta, row, snapshot in sorted(rows, key=lambda r: r[:2]):  # each member's rows in step order
            t = self.trainers[m]
            t._record("train", {"step": step, "beta": beta, **row})
            if snapshot is not None:  # after its step's row, as its own run takes it
                t.snapshot(self.epoch + (i + step - self.step) / spe, step=step, measured=snapshot)
        for m in self.active:
            self.trainers[m].step, self.trainers[m].epoch = board.steps[m], self.epoch
        self._end_slice(n, t0, lambda m: self._rngs[m].clone(), [m for m in self.active if board.out[m]])
        return n

    def _advance(self, m: int, order: torch.Tensor, i: int) -> bool:
        """Member m's step i of this epoch, as its own run takes it (Trainer.run: its β, its noise
        from its own stream, its row, its timeline snapshot); False when its loss or gradient is
        non-finite (its weights and Adam state then stay those before the step)."""
        t, bs = self.trainers[m], self.cfg.batch_size
        idx = order[i * bs:(i + 1) * bs]
        beta = t.beta_at(t.step + 1)
        try:
            with noise.drawing_from(self._streams[m]):
                row = t._step(self.x[idx], self.y[idx], beta)
        except TrainingDiverged:
            return False
        t._record("train", {"step": t.step, "beta": beta, **row})
        if t.recorder and t.recorder.due_within(t.step):
            t.snapshot(self.epoch + (i + 1) / t.steps_per_epoch)
        return True

    def _keep(self, keep: list[int]) -> None:
        """Go on with the stack rows `keep` only: their parameters, buffers and Adam state."""
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
        due = [m for m in self.active if self.trainers[m].snapshot_due(self.step)]
        measured = self._split("measure", due, lambda m: self.trainers[m].recorder.measure(self.trainers[m].model))
        for m in due:
            self.trainers[m].snapshot(epoch, step=self.step, measured=measured[m])

    def _split(self, kind: str, members: list[int], here: Callable[[int], object]) -> dict:
        """{m: result} for `members`, side by side: those a ready member process owns (m % processes)
        done there (MemberProcess.start_each: "validate", "measure" or "evaluate", the same as `here`
        does), the rest here, `here(m)` on this process's threads (`_each`)."""
        of, betas = len(self._helpers) + 1, [t.beta for t in self.trainers]
        sent = [(h, owned) for k, h in enumerate(self._helpers, 1)
                if h.ready() and (owned := [m for m in members if m % of == k])]
        for h, owned in sent:
            h.start_each(kind, owned, betas)
        away = {m for _, owned in sent for m in owned}
        mine = [m for m in members if m not in away]
        out = dict(zip(mine, self._each(here, mine)))
        for h, _ in sent:
            out.update(h.end_each())
        return out

    def _validate(self) -> list[dict | None]:
        """Each member's validation terms (None for a member that left the stack)."""
        self.sync()
        vals: list[dict | None] = [None] * len(self.trainers)
        got = self._split("validate", self.active, lambda m: self.trainers[m].validate())
        for m in self.active:
            vals[m] = val = got[m]
            self.trainers[m]._record("val", {"epoch": self.epoch, "step": self.step, **val})
        return vals

    def checkpoints(self, members: list[int] | None = None, metrics: bool = True) -> list[Checkpoint]:
        """Each member's checkpoint (of `members`, default all) with its final metrics
        (vae_core.metrics.evaluate; none when not `metrics`), side by side on the member threads or
        processes; then the member processes end (`close`)."""
        self.sync()
        members = list(range(len(self.trainers))) if members is None else members
        try:
            with self._pool():
                got = self._split("evaluate", members, lambda m: self.trainers[m].final_metrics()) if metrics else {}
        finally:
            self.close()
        ckpts = [self.trainers[m].checkpoint() for m in members]
        for m, ckpt in zip(members, ckpts):
            ckpt.metrics = got.get(m, ckpt.metrics)
        return ckpts


def train_sweep(cfgs: list[Config], train: Dataset, val: Dataset, device=None,
                on_report: Callable[[int, SweepReport], None] | None = None,
                on_built: Callable[[int], None] | None = None) -> list[Checkpoint]:
    """Train every member (batched per architecture group, stacked or side by side in processes as
    vae_core.threads says); -> checkpoints in the order of `cfgs`. `on_report(group_index, report)`
    is called after every report (BatchedTrainer.run); `on_built(group_index)` once a group's
    models and optimizers are made, before its first step (the CLI's first line: the first
    optimizer also imports the 2 s of torch._dynamo, start-up as train's own, which train's first
    line comes after too)."""
    out: list[Checkpoint | None] = [None] * len(cfgs)
    for g, idx in enumerate(groups(cfgs)):
        trainer = BatchedTrainer([cfgs[i] for i in idx], train, val, device, n_threads=None, processes=True)
        if on_built is not None:
            on_built(g)
        threads.use(threads.for_batch(trainer))
        for report in trainer.run():
            if on_report is not None:
                on_report(g, report)
        for i, ckpt in zip(idx, trainer.checkpoints()):
            out[i] = ckpt
    return out
