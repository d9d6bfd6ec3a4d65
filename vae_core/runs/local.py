"""The local executor: each job in its own spawned process on this machine (nothing to install)."""
from __future__ import annotations

import multiprocessing as mp
import os
import threading

from .. import spawn, threads
from .handles import JobHandle
from .job import JobSpec, run_worker
from .queue import Executor
from .store import RunStore


class _ProcessControl:
    """The worker's end of the control channel: a stop event and a shared beta per run (NaN: unchanged).
    A worker whose server died (killed, a laptop closed) stops too: nobody reads its messages, and
    the next server marks its run interrupted, resumable from the last checkpoint it received."""

    member_processes = True  # a batch's members stepped in forked processes too (vae_core.member_process)

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
        with spawn.starting():  # not the app's script, in the child
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
