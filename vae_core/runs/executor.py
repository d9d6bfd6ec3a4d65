"""Executors: where training jobs run, behind one small interface.

    executor = make_executor(store)                 # $VAE_CORE_EXECUTOR: "local" (default) or "ray"
    handle = executor.submit(workspace, run)        # queued, then running when a slot is free
    handles = executor.submit_batch(workspace, runs) # runs differing only in β: one job, one slot
    handle.view                                     # JobView: progress, curves, pictures (immutable)
    handle.set_beta(3.0); handle.stop()             # reach the worker from its next step
    executor.handle(run.id)                         # re-attach after a page reload

- LocalExecutor: one spawned process per job (nothing to install).
- RayExecutor: one Ray actor per job; connects to $RAY_ADDRESS when set, otherwise starts a local
  Ray. The path for a class that outgrows one machine.

A job is one run, or a batch of a sweep's members (job.run_batch): each member keeps its own handle,
view, checkpoints and end status; β is per member; Stop on any member stops the whole batch
(BATCH_STOP_RULE), and killing the worker interrupts every member. At most `max_jobs` jobs run at
once ($VAE_CORE_MAX_JOBS, default: the cores); the rest wait in order.
The executor lives in the app's server process and is the only writer of run metadata: it turns
the worker's messages into store updates (status, checkpoints, metrics), and a run whose worker
vanishes without saying goodbye is marked interrupted.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from .. import threads
from ..sweep import groups
from .job import JobSpec, run_worker
from .store import FINISHED, Run, RunStore, RunStoreError, Workspace

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

    def __init__(self, executor: "Executor", ws_id: str, run: Run, spec: JobSpec):
        self.ws_id, self.run_id, self.spec = ws_id, run.id, spec
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

    @property
    def beta(self) -> float:
        """The beta the user asked for last (what a live-beta slider should show)."""
        return self._beta

    def set_beta(self, beta: float) -> None:
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self._beta = float(beta)
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


class Executor:
    """The queue, the cap and the bookkeeping; subclasses start jobs and carry their messages."""

    name = "base"

    def __init__(self, store: RunStore, max_jobs: int | None = None, data_dir: str | None = None, **job_options):
        self.store = store
        self.job_options = job_options  # JobSpec fields: refresh_s, checkpoint_s, ...
        self.max_jobs = max(1, max_jobs or int(os.environ.get("VAE_CORE_MAX_JOBS") or threads.cores()))
        self.data_dir = data_dir
        self._lock = threading.RLock()
        self._handles: dict[str, JobHandle] = {}
        self._pending: deque[list[JobHandle]] = deque()   # jobs waiting for a slot, each its runs' handles
        self._running: set[str] = set()                    # the running jobs, by their first run's id

    # --- the interface ------------------------------------------------------------------------

    def submit(self, ws: Workspace, run: Run, resume: bool = False) -> JobHandle:
        """Queue `run` (created in `ws` with status queued, or an interrupted / stopped one to resume
        from its last checkpoint). Returns its handle at once."""
        blob, cfg = None, run.config
        if resume:
            blob = ws.blob(run.id)
            cfg = ws.checkpoint(run.id).config  # with the beta it had reached
            run = ws.update(run.id, status="queued", message="", finished=None)
        spec = JobSpec(run.id, cfg, resume=blob, data_dir=self.data_dir, **self.job_options)
        handle = JobHandle(self, ws.id, run, spec)
        self._queue(handle.job, [run])
        return handle

    def submit_batch(self, ws: Workspace, runs: list[Run]) -> list[JobHandle]:
        """Queue fresh runs whose configs differ only in β as ONE job: one worker trains them batched
        (sweep.BatchedTrainer), taking one slot. -> their handles, in the order of `runs`."""
        if len(groups([r.config for r in runs])) != 1:
            raise ValueError("a batch's runs must share every setting but β")
        handles = [JobHandle(self, ws.id, r, JobSpec(r.id, r.config, data_dir=self.data_dir, **self.job_options))
                   for r in runs]
        for i, h in enumerate(handles):
            h.job, h.index = handles, i
        self._queue(handles, runs)
        return handles

    def _queue(self, job: list[JobHandle], runs: list[Run]) -> None:
        with self._lock:
            for run in runs:
                if run.id in self._handles and not self._handles[run.id].done.is_set():
                    raise RunStoreError(f"{run.name!r} is already training")
            for h in job:
                self._handles[h.run_id] = h
            self._pending.append(job)
            self._pump()

    def handle(self, run_id: str) -> JobHandle | None:
        with self._lock:
            h = self._handles.get(run_id)
            if h is not None and h.view.status == "queued":
                h.view = replace(h.view, ahead=self._ahead(h))
            return h

    def alive_ids(self) -> set[str]:
        """Runs with a job that has not ended: everything else marked live in a store is stale."""
        with self._lock:
            return {k for k, h in self._handles.items() if not h.done.is_set()}

    def shutdown(self) -> None:
        with self._lock:
            handles = list(self._handles.values())
        for h in handles:
            if not h.done.is_set():
                h.stop()

    # --- scheduling ---------------------------------------------------------------------------

    def _ahead(self, handle: JobHandle) -> int:
        return next((i for i, job in enumerate(self._pending) if job is handle.job), 0)

    def _pump(self) -> None:
        """Start queued jobs while there is a free slot (under the lock)."""
        while self._pending and len(self._running) < self.max_jobs:
            job = self._pending.popleft()
            self._running.add(job[0].run_id)
            for h in job:
                h.spec = replace(h.spec, running_jobs=len(self._running))
                h.view = replace(h.view, status="starting", ahead=0)
            try:
                self._launch(job)
            except Exception as e:  # could not start a process / reach Ray: the runs fail, the app goes on
                for h in job:
                    self._finish(h, "failed", f"could not start a worker: {type(e).__name__}: {e}")
        for i, job in enumerate(self._pending):
            for h in job:
                h.view = replace(h.view, ahead=i)

    def _cancel_or_stop(self, handle: JobHandle) -> None:
        with self._lock:
            if any(job is handle.job for job in self._pending):  # never started: nothing to save
                self._pending = deque(job for job in self._pending if job is not handle.job)
                for h in handle.job:
                    self._finish(h, "stopped", "stopped before it started")
                return
        self._send(handle, "stop", True)

    # --- messages from a worker (called from the executor's monitor threads) ------------------

    def _route(self, job: list[JobHandle], msg: dict) -> bool:
        """Hand a worker's message to its run's handle; -> whether it was that run's "end"."""
        handle = next((h for h in job if h.run_id == msg.get("run")), job[0])
        self._on_message(handle, msg)
        return msg["kind"] == "end"

    def _on_message(self, handle: JobHandle, msg: dict) -> None:
        ws = self.store.workspace(handle.ws_id)
        kind = msg["kind"]
        try:
            if kind == "checkpoint":
                ws.save_checkpoint(handle.run_id, msg["blob"])
                ws.update(handle.run_id, progress={"step": msg["step"], "epoch": msg["epoch"]})
                return
            handle._apply(msg)
            if kind == "started":
                ws.update(handle.run_id, status="running")
            elif kind == "end":
                ws.update(handle.run_id, metrics=msg["metrics"], beta_changes=msg["beta_changes"])
                self._finish(handle, msg["status"], msg["message"])
        except RunStoreError:  # the run was deleted meanwhile: stop working for it
            self._send(handle, "stop", True)

    def _on_exit(self, handle: JobHandle, why: str) -> None:
        """The worker is gone. If it never said "end", its run is interrupted."""
        if not handle.done.is_set():
            handle.view = replace(handle.view, status="interrupted", message=why)
            self._finish(handle, "interrupted", why)

    def _finish(self, handle: JobHandle, status: str, message: str) -> None:
        with self._lock:
            if handle.done.is_set():
                return
            if all(h.done.is_set() for h in handle.job if h is not handle):  # the job's last run: its slot frees
                self._running.discard(handle.job[0].run_id)
            if handle.view.status != status:
                handle.view = replace(handle.view, status=status, message=message)
            try:
                ws = self.store.workspace(handle.ws_id)
                ws.update(handle.run_id, status=status, message=message, finished=time.time())
                if status in FINISHED and ws.has_checkpoint(handle.run_id):
                    ws.active = handle.run_id  # a finished model becomes the active one; a failed one never
            except RunStoreError:
                pass
            handle.done.set()
            self._pump()

    # --- for subclasses ------------------------------------------------------------------------

    def _launch(self, job: list[JobHandle]) -> None:
        raise NotImplementedError

    def _send(self, handle: JobHandle, what: str, value) -> None:
        raise NotImplementedError


# --- local processes -------------------------------------------------------------------------


class _ProcessControl:
    """The worker's end of the control channel: a stop event and a shared beta per run (NaN: unchanged).
    A worker whose server died (killed, a laptop closed) stops too: nobody reads its messages, and
    the next server marks its run interrupted, resumable from the last checkpoint it received."""

    def __init__(self, stop, betas):
        self.stop, self.betas = stop, betas
        self.parent = os.getppid()

    def orphaned(self) -> bool:
        return os.getppid() != self.parent  # re-parented to init (or a subreaper)

    def poll(self) -> tuple[bool, list[float | None]]:
        return self.stop.is_set() or self.orphaned(), [None if b != b else b for b in self.betas[:]]


def _process_main(specs: tuple[JobSpec, ...], pipe, stop, betas) -> None:
    """The entry point of a spawned worker process; `pipe` the write end of its one-way pipe."""
    threads.lower_priority()  # the pages first: see threads.py
    control = _ProcessControl(stop, betas)

    def emit(msg: dict) -> None:
        try:
            pipe.send(msg)
        except OSError:  # the server is gone (BrokenPipeError): nobody reads; control.orphaned() stops the job
            pass

    run_worker(specs, control, emit)


_START = threading.Lock()


@contextmanager
def _no_main_script():
    """A spawned child re-runs the parent's `__main__` file before it does anything else. Under
    Streamlit, `__main__` is the page script being run (Streamlit installs it there), so a worker
    would run the app. While a worker starts, `__main__` is an empty module."""
    with _START:
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = saved


class LocalExecutor(Executor):
    """Each job in its own spawned process (a fresh interpreter: no state shared with the app)."""

    name = "local"

    def __init__(self, store: RunStore, max_jobs: int | None = None, data_dir: str | None = None, **job_options):
        super().__init__(store, max_jobs, data_dir, **job_options)
        self._ctx = mp.get_context("spawn")

    def _launch(self, job: list[JobHandle]) -> None:
        ctx, lead = self._ctx, job[0]
        # a beta set while queued is passed on; NaN: unchanged
        betas = ctx.Array("d", [h._beta if h._beta != h.cfg.beta else float("nan") for h in job])
        # A pipe, not a Queue: with the worker holding its only write end, the worker's death is EOF
        # here, even in the middle of a message. (A Queue's reader waits forever for the rest of a
        # message cut off by a SIGKILL: the parent holds a write end too.)
        messages, pipe = ctx.Pipe(duplex=False)
        stop = ctx.Event()
        proc = ctx.Process(target=_process_main, args=(tuple(h.spec for h in job), pipe, stop, betas), daemon=True,
                           name=f"vae_core-job-{lead.run_id}")
        with _no_main_script():
            proc.start()
        pipe.close()
        for h in job:
            h.backend = (proc, messages, stop, betas)
        threading.Thread(target=self._monitor, args=(job,), daemon=True, name=f"monitor-{lead.run_id}").start()

    def _monitor(self, job: list[JobHandle]) -> None:
        proc, messages, _, _ = job[0].backend
        ended = 0
        try:  # what the worker sent before it died is read first; then EOF
            while ended < len(job):
                ended += self._route(job, messages.recv())
        except (EOFError, OSError):  # the worker is gone, perhaps in the middle of a message
            pass
        finally:
            messages.close()
        proc.join(timeout=10)
        for h in job:
            self._on_exit(h, f"the worker process stopped unexpectedly (exit code {proc.exitcode})")

    def _send(self, handle: JobHandle, what: str, value) -> None:
        if handle.backend is None:
            return  # still queued: _launch passes the latest beta on
        _, _, stop, betas = handle.backend
        if what == "stop":
            stop.set()
        else:
            betas[handle.index] = value

    def kill(self, run_id: str) -> None:
        """SIGKILL a run's worker (tests: what a crash looks like); in a batch, every member's."""
        handle = self._handles[run_id]
        handle.backend[0].kill()


# --- Ray ---------------------------------------------------------------------------------------


class _RayJob:
    """A Ray actor holding one job: it trains in a thread; the driver polls its messages."""

    def __init__(self, specs: tuple[JobSpec, ...]):
        import threading as _threading

        self._messages: deque = deque()
        self._stop, self._betas, self._ended = False, [None] * len(specs), False
        self._thread = _threading.Thread(target=self._run, args=(specs,), daemon=True)
        self._thread.start()

    def _run(self, specs: tuple[JobSpec, ...]) -> None:
        try:
            run_worker(specs, self, self._messages.append)
        finally:
            self._ended = True

    def poll(self) -> tuple[bool, list[float | None]]:  # the Control protocol, read by the worker
        return self._stop, list(self._betas)

    def drain(self) -> tuple[list[dict], bool]:
        out = []
        while self._messages:
            out.append(self._messages.popleft())
        return out, self._ended and not self._messages

    def request(self, what: str, value, index: int = 0) -> None:
        if what == "stop":
            self._stop = True
        else:
            self._betas[index] = value


class RayExecutor(Executor):
    """Each job in a Ray actor: on this machine (a local Ray), or on a cluster ($RAY_ADDRESS)."""

    name = "ray"
    poll_s = 0.2

    def __init__(self, store: RunStore, max_jobs: int | None = None, data_dir: str | None = None,
                 address: str | None = None, **job_options):
        import ray  # optional: pip install ray

        super().__init__(store, max_jobs, data_dir, **job_options)
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, num_cpus=None if address else threads.cores(), include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        self._ray = ray
        self._actor_class = ray.remote(num_cpus=1)(_RayJob)

    def _launch(self, job: list[JobHandle]) -> None:
        actor = self._actor_class.remote(tuple(h.spec for h in job))
        for h in job:
            h.backend = actor
            if h._beta != h.cfg.beta:  # set while it was queued
                actor.request.remote("beta", h._beta, h.index)
        threading.Thread(target=self._monitor, args=(job,), daemon=True, name=f"monitor-{job[0].run_id}").start()

    def _monitor(self, job: list[JobHandle]) -> None:
        ray, actor = self._ray, job[0].backend
        why = "the Ray worker stopped unexpectedly"
        try:
            while True:
                messages, ended = ray.get(actor.drain.remote())
                for msg in messages:
                    self._route(job, msg)
                if ended or all(h.done.is_set() for h in job):
                    break
                time.sleep(self.poll_s)
        except ray.exceptions.RayError as e:
            why = f"the Ray worker stopped unexpectedly: {type(e).__name__}"
        finally:
            ray.kill(actor, no_restart=True)
        for h in job:
            self._on_exit(h, why)

    def _send(self, handle: JobHandle, what: str, value) -> None:
        if handle.backend is not None:
            handle.backend.request.remote(what, value, handle.index)

    def kill(self, run_id: str) -> None:
        self._ray.kill(self._handles[run_id].backend, no_restart=True)


EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor}


def make_executor(store: RunStore, kind: str | None = None, **kw) -> Executor:
    """The executor named by `kind`, else $VAE_CORE_EXECUTOR, else local processes."""
    kind = (kind or os.environ.get("VAE_CORE_EXECUTOR") or "local").lower()
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; use local or ray")
    return EXECUTORS[kind](store, **kw)
