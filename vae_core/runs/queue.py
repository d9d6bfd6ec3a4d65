"""The executor's queue: jobs wait in order for one of `max_jobs` slots, and the worker's messages
become store updates. Subclasses (vae_core.runs.local, vae_core.runs.ray_executor) start workers
and carry their messages; vae_core.runs.executor picks one.

The executor lives in the app's server process and is the only writer of its jobs' runs: it turns
the worker's messages into store updates (status, checkpoints, metrics), and a run whose worker
vanishes without saying goodbye is marked interrupted.

Several servers (replicas) may share one run store: each executor is a replica (runs.replicas), and
a run's metadata names the one whose job works on it (Run.owner; its writes are fenced with `by=`).
Another replica leaves such a run alone while its owner lives (its page shows what the store
knows); once the owner is gone it adopts the run (`adopt`): where the job outlives its replica (a
detached Ray actor) it re-attaches and becomes the run's writer, otherwise it marks the run
interrupted, resumable from its last checkpoint.
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from .. import threads
from ..sweep import groups
from .datasets import key_of
from .handles import JobHandle
from .job import JobSpec
from .replicas import Replica
from .store import FINISHED, Run, RunStore, RunStoreError, RunTakenOver, Workspace

WRITERS = 4  # threads that write checkpoints (Executor._save)


def beta_in_name(name: str, start: float, end: float) -> str:
    """A run named with the β it started with ('… · β 4 · 2-D') and changed while it trained: the
    name says both ('… · β 4→2 · 2-D'); a name that does not state it (renamed by hand) is kept."""
    return re.sub(rf"β {re.escape(f'{start:g}')}(?![\d.→])", f"β {start:g}→{end:g}", name, count=1) if end != start else name


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
        self._adopting = threading.Lock()                  # one adoption at a time (Ray calls: not under _lock)
        self.replica = Replica(store.root)                 # who this server is on the shared store
        # checkpoints written on threads, beside the messages that follow: a write waits on its fsync (an
        # MNIST model's 9 MB: 0.01-0.1 s here) and a batch's members send theirs one after another at its
        # end (runs.job.run_batch). A 7-member MNIST sweep's end, its first checkpoint to every run done:
        # 0.35-0.53 s (median 0.41) against 0.47-0.66 s (0.64) written in turn, 5 runs each
        self._writes = ThreadPoolExecutor(WRITERS, thread_name_prefix="checkpoint-writer")

    # --- the interface ------------------------------------------------------------------------

    def submit(self, ws: Workspace, run: Run, resume: bool = False) -> JobHandle:
        """Queue `run` (created in `ws` with status queued, or an interrupted / stopped one to resume
        from its last checkpoint). Returns its handle at once."""
        blob, cfg = None, run.config
        if resume:
            blob = ws.blob(run.id)
            cfg = ws.checkpoint(run.id).config  # with the beta it had reached
            run = ws.update(run.id, status="queued", message="", finished=None)
        spec = JobSpec(run.id, cfg, resume=blob, data_dir=self.data_dir, workspace=self._workspace_for(ws, cfg),
                       **self.job_options)
        handle = JobHandle(self, ws.id, spec)
        self._queue(handle.job, [run])
        return handle

    def submit_batch(self, ws: Workspace, runs: list[Run]) -> list[JobHandle]:
        """Queue fresh runs whose configs differ only in β as ONE job: one worker trains them batched
        (batched.BatchedTrainer), taking one slot. -> their handles, in the order of `runs`."""
        if len(groups([r.config for r in runs])) != 1:
            raise ValueError("a batch's runs must share every setting but β")
        where = self._workspace_for(ws, runs[0].config)
        handles = [JobHandle(self, ws.id, JobSpec(r.id, r.config, data_dir=self.data_dir, workspace=where,
                                                  **self.job_options)) for r in runs]
        for i, h in enumerate(handles):
            h.job, h.index = handles, i
        self._queue(handles, runs)
        return handles

    def _queue(self, job: list[JobHandle], runs: list[Run]) -> None:
        with self._lock:
            for run in runs:
                if run.id in self._handles and not self._handles[run.id].done.is_set():
                    raise RunStoreError(f"{run.name!r} is already training")
            ws = self.store.workspace(job[0].ws_id)
            for h in job:  # this replica's job now: its writer
                ws.update(h.run_id, owner=self.replica.id, job=job[0].run_id)
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
        self.replica.stop()

    # --- replicas: runs whose job another server started --------------------------------------

    def reconcile(self, ws: Workspace) -> list[str]:
        """Adopt each live run of `ws` that no job of this replica works on and whose owner is gone
        (a server or worker that died): re-attached, queued again, or marked interrupted. -> the
        interrupted ids."""
        out = []
        for run in ws.runs():
            if run.live and not run.readonly and run.id not in self.alive_ids():
                if self.adopt(ws, run) is None and ws.get(run.id).status == "interrupted":
                    out.append(run.id)
        return out

    def adopt(self, ws: Workspace, run: Run) -> JobHandle | None:
        """The handle of `run` (of `ws`, as last read) when this replica has no job for it: None while
        it is not live or its owner works on it; once its owner is gone, this replica takes it over
        with the other runs of its job, re-attaching to the job where it outlives its replica
        (`_attach`: Ray), else queueing it here if it never started, else marking its runs
        interrupted (None). Cheap when there is nothing to do (a page asks every refresh): a file's
        time is read."""
        if not run.live or run.readonly or not self._orphaned(ws, run, self.alive_ids()):
            return None
        with self._adopting:
            if (h := self.handle(run.id)) is not None and not h.done.is_set():
                return h
            alive = self.alive_ids()  # (not asked under the workspace's lock: _queue takes the two the other way)
            claimed = ws.claim(run.id, self.replica.id, lambda r: self._orphaned(ws, r, alive))
            if not claimed:
                return None
            handles = self._attach(ws, claimed)
            if handles is None:
                handles = self._requeue(ws, claimed)
            return next((h for h in handles if h.run_id == run.id), None)

    def _requeue(self, ws: Workspace, runs: list[Run]) -> list[JobHandle]:
        """A gone replica's job that nothing runs: queued here again if it never started (nothing of it
        is lost: it starts from the beginning, or from the checkpoint it was to resume from), else
        its runs are interrupted (resumable from their last checkpoint). -> the handles queued."""
        if any(r.status != "queued" for r in runs):
            for r in runs:
                ws.interrupt(r.id)
            return []
        if len(runs) > 1:
            return self.submit_batch(ws, runs)
        return [self.submit(ws, runs[0], resume=ws.has_checkpoint(runs[0].id))]

    def _orphaned(self, ws: Workspace, run: Run, alive: set[str]) -> bool:
        if run.owner == self.replica.id:  # ours, with no job working on it (never started, or lost)
            return run.id not in alive and time.time() - ws.written(run.id) >= self.replica.lease_s
        return self.replica.orphaned(run.owner, ws.written(run.id))

    def _attach(self, ws: Workspace, runs: list[Run]) -> list[JobHandle] | None:
        """Re-attach to the job of `runs` (claimed: this replica owns them now) if it still runs
        without its replica: its handles, in the job's order, fed and monitored from here on. None:
        nothing runs it any more (a local worker dies with its server)."""
        return None

    def _taken_over(self, handle: JobHandle) -> None:
        """Another replica took the run over (it found this one gone: a lease missed under load) and
        marked it interrupted: this job stops, writing nothing more."""
        self._send(handle, "stop", True)
        for h in handle.job:
            self._let_go(h, "another server of this site took this run over")

    def _let_go(self, handle: JobHandle, why: str) -> None:
        """Another replica took this handle's run over: stop following it, write nothing."""
        with self._lock:
            if handle.done.is_set():
                return
            if all(h.done.is_set() for h in handle.job if h is not handle):
                self._running.discard(handle.job[0].run_id)
            handle.view = replace(handle.view, message=why)
            handle.done.set()
            if self._handles.get(handle.run_id) is handle:
                del self._handles[handle.run_id]  # a page asks the store (and its owner) again
            self._pump()

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
        if handle.done.is_set():  # it ended (or was let go): a re-attached batch's finished member
            return
        kind = msg["kind"]
        if kind == "checkpoint":  # written beside other runs' (a batch's members end at once), after its own last
            self._written(handle)
            handle.writing = self._writes.submit(self._save, handle, msg)
            return
        if kind != "progress":
            self._written(handle)  # what follows its checkpoint (its end) may read it
        ws = self.store.workspace(handle.ws_id)
        try:
            me = self.replica.id
            handle._apply(msg)
            if kind == "started":
                ws.update(handle.run_id, status="running", by=me)
            elif kind == "end":
                changes = msg["beta_changes"]
                name = ws.get(handle.run_id).name
                ws.update(handle.run_id, metrics=msg["metrics"], beta_changes=changes,
                          name=beta_in_name(name, handle.cfg.beta, changes[-1][1]) if changes else name, by=me)
                self._finish(handle, msg["status"], msg["message"])
        except RunTakenOver:
            self._taken_over(handle)
        except RunStoreError:  # the run was deleted meanwhile: stop working for it
            self._send(handle, "stop", True)

    def _save(self, handle: JobHandle, msg: dict) -> None:
        """A "checkpoint" message, on a writer thread (`_writes`): the run's checkpoint and progress."""
        try:
            ws, me = self.store.workspace(handle.ws_id), self.replica.id
            ws.save_checkpoint(handle.run_id, msg["blob"], by=me)
            ws.update(handle.run_id, progress={"step": msg["step"], "epoch": msg["epoch"]}, by=me)
        except RunTakenOver:
            self._taken_over(handle)
        except RunStoreError:  # the run was deleted meanwhile: stop working for it
            self._send(handle, "stop", True)

    def _written(self, handle: JobHandle) -> None:
        """Until the run's checkpoint being written (`_save`), if any, is in the store; a failure to
        write it (OSError: a full disk) raised here."""
        if handle.writing is not None:
            handle.writing.result()

    def _on_exit(self, handle: JobHandle, why: str) -> None:
        """The worker is gone. If it never said "end", its run is interrupted (resumable where a
        checkpoint arrived: the message says which)."""
        try:
            self._written(handle)
        except OSError:
            pass
        if not handle.done.is_set():
            try:
                saved = self.store.workspace(handle.ws_id).has_checkpoint(handle.run_id)
            except RunStoreError:
                saved = False
            why += "; resume it from its last checkpoint" if saved else " before its first checkpoint; start it again"
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
                ws.update(handle.run_id, status=status, message=message, finished=time.time(), by=self.replica.id)
                if status in FINISHED and ws.has_checkpoint(handle.run_id):
                    ws.active = handle.run_id  # a finished model becomes the active one; a failed one never
            except RunStoreError:
                pass
            handle.done.set()
            self._pump()

    # --- for subclasses ------------------------------------------------------------------------

    def _workspace_for(self, ws: Workspace, cfg) -> str | dict | None:
        """How a worker finds the workspace's own dataset a config names (runs.datasets): its folder,
        for a worker on this machine. None for a built-in dataset."""
        return str(ws.folder) if key_of(cfg.dataset) else None

    def _launch(self, job: list[JobHandle]) -> None:
        raise NotImplementedError

    def _send(self, handle: JobHandle, what: str, value) -> None:
        raise NotImplementedError
