"""The Ray executor: each job in a Ray actor, on this machine (a local Ray) or a cluster
($RAY_ADDRESS). The path for a class that outgrows one machine; `pip install ray`."""
from __future__ import annotations

import os
import threading
import time
from collections import deque

from .. import threads
from .datasets import key_of
from .handles import JobHandle
from .job import JobSpec, run_worker
from .queue import Executor
from .store import RunStore, RunStoreError


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

    def _workspace_for(self, ws, cfg) -> dict | None:
        """A Ray worker may run on another machine: it gets the dataset's bytes, as it gets a checkpoint."""
        key = key_of(cfg.dataset)
        if key is None:
            return None
        try:
            return {key: ws.dataset_blob(key)}
        except RunStoreError:
            return {}  # not in this workspace: the worker says so when it loads the data

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
