"""Processes that step a sweep's members with the batch's own: every core, even for members whose
step is half interpreter.

Threads in one process share the GIL, and every PyTorch op releases and takes it again: two threads
each stepping a digits-sized member (a 1.5 ms step of ~150 small ops) ran 2.6 ms a step each, one
alone 1.97 ms. Two processes side by side each run at full speed. So a batch (vae_core.batched)
may have MemberProcesses step its members with it: forked from the batch's process once its
members are built, so they start at once and hold the same Trainers, data and all. What they
share, moved to shared memory before the fork:

- each member's parameters, Adam moments and noise-stream state, and the epoch's batch order;
- a Board: each member's step count, whether a process is stepping it now, whether it left.

Within a slice of steps (BatchedTrainer._slice_in_processes) every process takes a member that has
a step left and that nobody is stepping (Board.take: its own members first, one for up to RUN_S
in a row), with no message, until every member is at the slice's target: each step exactly the
member's own `Trainer._step` (its β, its noise from its own stream), on one intra-op thread, the
same bits wherever it runs. The rows come back at the slice's end, each with the member's timeline
snapshot where one is due after that step (the first epoch's dense steps), measured at once by the
process that took the step. Between slices, each process also validates, snapshots and (at the end)
evaluates the members it owns (BatchedTrainer._split). A first version that sent each
step to the other process and waited for its answer spent ~0.5 ms a step on waking processes up
(a message each way): most of what the second core gave.

A fork is safe here as a DataLoader worker's is: the child sets one intra-op thread, uses no other
thread of its parent and closes every file it inherited but its pipe. It is not made inside a Ray
actor (its own threads and gRPC), where the batch steps its members in threads. It exits when its
pipe closes (its parent gone, even killed).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
import traceback
from contextlib import contextmanager

import torch

from . import spawn
from .noise import drawing_from
from .trainer import TrainingDiverged

RUN_S = 0.005  # a process steps one member on while it has for less than this: fewer cache refills, and a
# short wait at a slice's end (a digits member's 1.6 ms steps: 3-4 in a row; an MNIST-sized one's 10 ms: one)
LOCK_TIMEOUT_S = 30  # a process that died holding the board's lock: fail, do not hang


class Board:
    """Which member steps next, shared by the processes of one batch (see the module's doc)."""

    def __init__(self, members: int):
        ctx = mp.get_context("fork")
        self.lock = ctx.Lock()
        self.steps = ctx.Array("q", members, lock=False)  # each member's step count
        self.busy = ctx.Array("b", members, lock=False)   # a process is stepping it now
        self.out = ctx.Array("b", members, lock=False)    # left the batch (or diverged this slice)
        self.target = ctx.Value("q", 0, lock=False)       # the step every member stops at

    @contextmanager
    def _locked(self):
        if not self.lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise RuntimeError("the sweep's member processes stopped answering")
        try:
            yield
        finally:
            self.lock.release()

    def take(self, me: int, of: int, last: int, again: bool) -> tuple[int, int] | None:
        """A member with a step left and nobody stepping it, now marked busy, and its step count;
        None when there is none. For process `me` of `of`: `last` again if `again`, else the next of
        its own members (m % of == me) in turn, else anyone's. A member's weights and Adam state
        (~0.6 MB for digits) stay in one core's cache that way: one that moved between cores every
        step made each step ~25% slower here."""
        n = len(self.steps)
        with self._locked():
            order = [last] if again and last >= 0 else []
            order += sorted(range(n), key=lambda m: (m % of != me, (m - last - 1) % n))
            for m in order:
                if not self.busy[m] and not self.out[m] and self.steps[m] < self.target.value:
                    self.busy[m] = 1
                    return m, self.steps[m]
        return None

    def done(self, m: int, ok: bool) -> None:
        """Member m's step is taken (ok) or its loss was non-finite (it leaves)."""
        with self._locked():
            self.busy[m] = 0
            if ok:
                self.steps[m] += 1
            else:
                self.out[m] = 1


def take_steps(board: Board, me: int, of: int, trainers, order: torch.Tensor, rngs: torch.Tensor, i0: int,
               base: int, epoch: int) -> list[tuple[int, int, float, dict, tuple | None]]:
    """Process `me` of `of`: step the board's members (Board.take, one member for up to RUN_S in a
    row) until none is left to take (see the module's doc). Member m's step s is step
    i0 + s - base of this epoch, its batch from `order`, its noise stream's state in rngs[m].
    -> a (member, step, β, row, snapshot) per step taken here: snapshot, the tensors of the
    member's timeline snapshot after that step (Recorder.measure) where one is due there (the
    first epoch's dense steps), measured here at once, else None."""
    rows, stream, bs, last, since = [], torch.Generator(), trainers[0].cfg.batch_size, -1, 0.0
    while (took := board.take(me, of, last, time.perf_counter() - since < RUN_S)) is not None:
        m, s = took
        if m != last:
            last, since = m, time.perf_counter()
        t = trainers[m]
        t.step, t.epoch = s, epoch
        beta = t.beta_at(s + 1)
        idx = order[(i0 + s - base) * bs:(i0 + s - base + 1) * bs]
        stream.set_state(rngs[m].clone())  # a tensor of its own: set_state takes no row view
        try:
            with drawing_from(stream):
                row = t._step(t.x[idx], t.y[idx], beta)
        except TrainingDiverged:
            row = None
        rngs[m].copy_(stream.get_state())
        if row is not None:
            due = t.recorder is not None and t.recorder.due_within(s + 1) and t.snapshot_due(s + 1, only_new=False)
            rows.append((m, s + 1, beta, row, t.recorder.measure(t.model) if due else None))
        board.done(m, row is not None)
    return rows


def share(trainer) -> None:
    """Move a Trainer's parameters, buffers and Adam state (created now, as Adam would on its first
    step) into shared memory, in place, for the processes forked after."""
    model, opt = trainer.model, trainer.optimizer
    for p in model.parameters():
        if not opt.state[p]:  # what Adam's lazy init makes for a fused Adam: a float32 step and zero moments
            opt.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        for v in opt.state[p].values():
            v.share_memory_()
    model.share_memory()


def _main(conn, board: Board, me: int, of: int, trainers, order: torch.Tensor, rngs: torch.Tensor) -> None:
    """The forked process: take steps every slice, until the pipe closes."""
    _close_inherited(conn.fileno())
    torch.set_num_threads(1)
    try:
        conn.send(("ready", None))
        while (msg := conn.recv()) is not None:
            kind, members, betas, *slice_ = msg
            for t, beta in zip(trainers, betas):
                t.beta = beta
            if kind == "slice":
                rows = take_steps(board, me, of, trainers, order, rngs, *slice_)
                conn.send(("rows", [(*r[:4], _by_value(r[4])) for r in rows]))
            elif kind == "validate":
                conn.send(("each", {m: trainers[m].validate() for m in members}))
            elif kind == "evaluate":
                conn.send(("each", {m: trainers[m].final_metrics() for m in members}))
            else:  # "measure": timeline snapshots' tensors
                conn.send(("each", {m: _by_value(trainers[m].recorder.measure(trainers[m].model)) for m in members}))
    except (EOFError, BrokenPipeError):  # the batch's process is gone: nothing to step for
        return
    except Exception:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass


def _by_value(snapshot: tuple | None) -> list | None:
    """A snapshot's tensors (Recorder.measure) as numpy arrays, sent by value (a tensor would be
    sent through shared memory); `_tensors` undoes it."""
    return None if snapshot is None else [None if v is None else v.numpy() for v in snapshot]


def _tensors(snapshot: list | None) -> tuple | None:
    return None if snapshot is None else tuple(None if a is None else torch.from_numpy(a) for a in snapshot)


def _close_inherited(keep: int) -> None:
    """Close every file a fork inherited but stdio and `keep` (its end of its pipe): holding its
    parent's end of that pipe, it would never see it close; holding its parent's pipe to the app
    server, the server would not see the parent die (a killed worker reads as EOF there). Shared
    memory stays mapped without its file."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


class MemberProcess:
    """One process that steps a batch's members with it (see the module's doc): `start_slice` /
    `end_slice` around the batch's own `take_steps`."""

    def __init__(self, board: Board, me: int, of: int, trainers, order: torch.Tensor, rngs: torch.Tensor):
        """Fork process `me` (1, 2, ...) of the `of` that step the members on `board` (0: the
        batch's own); `order` (the epoch's batch order) and `rngs` (each member's noise-stream state,
        (M, bytes)) and the trainers' state (share) already in shared memory."""
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_main, args=(child, board, me, of, trainers, order, rngs), daemon=True,
                                name="vae_core-members")
        with spawn.starting():
            self.proc.start()
        child.close()
        self._ready = False

    def ready(self) -> bool:
        """Whether it has started and said so (without waiting; a fork says so at once)."""
        if not self._ready and self._conn.poll():
            self._reply("ready")
            self._ready = True
        return self._ready

    def _reply(self, kind: str):
        try:
            what, value = self._conn.recv()
        except (EOFError, OSError):
            raise RuntimeError("the sweep's member process ended unexpectedly") from None
        if what == "error":
            raise RuntimeError(f"the sweep's member process failed:\n{value}")
        if what != kind:
            raise RuntimeError(f"the sweep's member process said {what!r}, not {kind!r}")
        return value

    def start_slice(self, epoch: int, i0: int, base: int, betas: list[float]) -> None:
        """Take steps from the board (its target set) for this slice: steps i0... of `epoch`, every
        member at step `base` now, with these βs."""
        self._conn.send(("slice", None, betas, i0, base, epoch))

    def end_slice(self) -> list[tuple[int, int, float, dict, tuple | None]]:
        """Wait for its steps of the slice: (member, step, β, row, snapshot) each (take_steps)."""
        return [(*r[:4], _tensors(r[4])) for r in self._reply("rows")]

    def start_each(self, kind: str, members: list[int], betas: list[float]) -> None:
        """Between slices: "validate" (Trainer.validate), "measure" (a timeline snapshot's tensors,
        Recorder.measure) or, at the end, "evaluate" (Trainer.final_metrics) these members, with
        these βs."""
        self._conn.send((kind, members, betas))

    def end_each(self) -> dict:
        """member -> its validation terms or final metrics, or its snapshot's (mu, logvar, recon, kl)
        tensors."""
        return {m: v if isinstance(v, dict) else _tensors(v) for m, v in self._reply("each").items()}

    def close(self) -> None:
        """Tell it to exit (it also does when the pipe closes); not waiting for it: a process's exit
        (torch's teardown) takes a while, and a finished sweep need not wait."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self._conn.close()
        threading.Thread(target=self.proc.join, daemon=True).start()  # reaped when it has exited
