"""The Ray executor: each job in a Ray actor, on this machine (a local Ray) or a cluster
($RAY_ADDRESS). The path for a class that outgrows one machine; `pip install ray`.

A job's actor is named after the job (`lx-job-<first run id>`) in the deployment's namespace
($VAE_CORE_RAY_NAMESPACE, default "latent-explorer") and detached: it outlives the replica that
started it. The actor keeps, besides the queue of messages its owner drains, a summary of its job
(each run's whole curves so far, latest pictures, newest checkpoint, its end): a replica that takes
the run over after its owner died (Executor.adopt) attaches (`attach`: the actor now answers only
to it), rebuilds the handles from that summary, writes the newest checkpoint if the store lacks it,
and drains from there on. So the store keeps one writer per run, and a worker needs no access to
the run store. An actor nobody drains for ORPHAN_S keeps only its summary (its memory stays
bounded); one whose job ended and that nobody drains for LINGER_S exits.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import replace

from .. import threads
from .datasets import key_of
from .handles import JobHandle, JobView
from .job import JobSpec, run_worker
from .queue import Executor
from .store import Run, RunStore, RunStoreError, Workspace

ORPHAN_S = 30.0     # an actor not drained this long stops queueing messages: its summary holds them
LINGER_S = 900.0    # ... and once its job has ended, exits after this long
UNAVAILABLE_S = 30.0  # an actor Ray calls unavailable (a node slow to answer) this long is taken for dead


def namespace() -> str:
    return os.environ.get("VAE_CORE_RAY_NAMESPACE") or "latent-explorer"


def actor_name(job_id: str) -> str:
    return f"lx-job-{job_id}"


class _Summary:
    """One run's job as far as it went: what an attaching replica rebuilds its handle from."""

    def __init__(self):
        self.started: dict | None = None
        self.history: dict = {"train": {}, "val": {}}
        self.last: dict | None = None       # the last progress message's fields and pictures
        self.checkpoint: dict | None = None  # the newest checkpoint message
        self.end: dict | None = None

    def record(self, msg: dict) -> None:
        kind = msg["kind"]
        if kind == "started":
            self.started = msg
        elif kind == "progress":
            for split in ("train", "val"):
                cols = self.history[split]
                for k, values in msg[split].items():
                    cols.setdefault(k, []).extend(values)
            self.last = {**(self.last or {}), **{k: v for k, v in msg.items() if k not in ("train", "val")}}
        elif kind == "checkpoint":
            self.checkpoint = msg
        elif kind == "end":
            self.end = msg

    def messages(self) -> list[dict]:
        """The messages that bring a fresh handle to where the job is: started, one progress message
        with the whole curves, the newest checkpoint, the end."""
        out = [self.started] if self.started else []
        if self.last:
            out.append({**self.last, "train": {k: list(v) for k, v in self.history["train"].items()},
                        "val": {k: list(v) for k, v in self.history["val"].items()}})
        return out + [m for m in (self.checkpoint, self.end) if m]


class _RayJob:
    """A Ray actor holding one job: it trains in a thread; its owner replica drains its messages."""

    def __init__(self, specs: tuple[JobSpec, ...], owner: str):
        import threading as _threading

        self._lock = _threading.Lock()
        self._specs = tuple(replace(s, resume=None, workspace=None) for s in specs)  # no bytes: for attaching
        self._owner = owner
        self._messages: deque = deque()
        self._summaries = {s.run_id: _Summary() for s in specs}
        self._dropped = False
        self._drained = time.monotonic()
        self._stop, self._betas, self._ended = False, [None] * len(specs), False
        self._thread = _threading.Thread(target=self._run, args=(specs,), daemon=True)
        self._thread.start()

    def _run(self, specs: tuple[JobSpec, ...]) -> None:
        try:
            run_worker(specs, self, self._emit)
        finally:
            self._ended = True
        while time.monotonic() - self._drained < LINGER_S:  # nobody came for the end: go
            time.sleep(5)
        os._exit(0)

    def _emit(self, msg: dict) -> None:  # the training thread
        with self._lock:
            self._summaries[msg["run"]].record(msg)
            if time.monotonic() - self._drained > ORPHAN_S:  # its owner is gone: the summary keeps it
                self._messages.clear()
                self._dropped = True
            else:
                self._messages.append(msg)

    def poll(self) -> tuple[bool, list[float | None]]:  # the Control protocol, read by the worker
        return self._stop, list(self._betas)

    def _summary(self) -> dict:
        return {"specs": self._specs, "betas": list(self._betas), "stop": self._stop,
                "messages": [m for s in self._specs for m in self._summaries[s.run_id].messages()]}

    def attach(self, owner: str) -> dict:
        """Replica `owner` takes the job over: it alone drains from now; -> the job's summary."""
        with self._lock:
            self._owner, self._dropped, self._drained = owner, False, time.monotonic()
            self._messages.clear()
            return self._summary()

    def drain(self, owner: str) -> tuple[str, object, bool]:
        """-> ("messages", the messages since the last drain, ended), or ("summary", the summary,
        ended) after messages were dropped, or ("taken", None, False) if another replica attached."""
        with self._lock:
            if owner != self._owner:
                return "taken", None, False
            self._drained = time.monotonic()
            ended = self._ended
            if self._dropped:
                self._dropped = False
                self._messages.clear()
                return "summary", self._summary(), ended
            out = list(self._messages)
            self._messages.clear()
            return "messages", out, ended

    def request(self, what: str, value, index: int = 0) -> None:
        if what == "stop":
            self._stop = True
        else:
            self._betas[index] = value


class RayExecutor(Executor):
    """Each job in a named, detached Ray actor: on this machine (a local Ray), or on a cluster
    ($RAY_ADDRESS)."""

    name = "ray"
    poll_s = 0.2

    def __init__(self, store: RunStore, max_jobs: int | None = None, data_dir: str | None = None,
                 address: str | None = None, **job_options):
        import ray  # optional: pip install ray

        super().__init__(store, max_jobs, data_dir, **job_options)
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            ray.init(address=address, num_cpus=None if address else threads.cores(), include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True, namespace=namespace())
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
        actor = self._actor_class.options(name=actor_name(job[0].run_id), namespace=namespace(),
                                          lifetime="detached").remote(tuple(h.spec for h in job), self.replica.id)
        for h in job:
            h.backend = actor
            if h._beta != h.cfg.beta:  # set while it was queued
                actor.request.remote("beta", h._beta, h.index)
        self._follow(job)

    def _follow(self, job: list[JobHandle]) -> None:
        threading.Thread(target=self._monitor, args=(job,), daemon=True, name=f"monitor-{job[0].run_id}").start()

    def _monitor(self, job: list[JobHandle]) -> None:
        ray, actor = self._ray, job[0].backend
        why, mine, unavailable = "the Ray worker stopped unexpectedly", True, None
        try:
            while True:
                try:
                    kind, got, ended = ray.get(actor.drain.remote(self.replica.id))
                    unavailable = None
                except ray.exceptions.ActorUnavailableError:  # perhaps for a moment: a node under load
                    unavailable = unavailable or time.monotonic()
                    if time.monotonic() - unavailable > UNAVAILABLE_S:
                        raise
                    time.sleep(1.0)
                    continue
                if kind == "taken":
                    mine = False
                    break
                if kind == "summary":
                    self._resync(job, got)
                else:
                    for msg in got:
                        self._route(job, msg)
                if ended or all(h.done.is_set() for h in job):
                    break
                time.sleep(self.poll_s)
        except ray.exceptions.RayError as e:
            why = f"the Ray worker stopped unexpectedly ({type(e).__name__}: its node may be gone)"
        if not mine:  # another replica attached: it writes from now on
            for h in job:
                self._let_go(h, "another server of this site took this run over")
            return
        ray.kill(actor, no_restart=True)
        for h in job:
            self._on_exit(h, why)

    def _attach(self, ws: Workspace, runs: list[Run]) -> list[JobHandle] | None:
        ray = self._ray
        try:
            actor = ray.get_actor(actor_name(runs[0].job or runs[0].id), namespace=namespace())
            summary = ray.get(actor.attach.remote(self.replica.id), timeout=60)
        except (ValueError, ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
            return None  # the actor is gone (its node died, or it ended long ago): interrupted
        claimed = {r.id for r in runs}
        job = [JobHandle(self, ws.id, spec) for spec in summary["specs"]]
        with self._lock:
            for i, h in enumerate(job):
                h.job, h.index, h.backend = job, i, actor
                h._beta = summary["betas"][i] if summary["betas"][i] is not None else h.cfg.beta
                h._stop_asked = summary["stop"]
                if h.run_id in claimed:
                    self._handles[h.run_id] = h
                else:  # ended (or deleted) before: followed for routing only
                    h.done.set()
            self._running.add(job[0].run_id)
        self._resync(job, summary)
        self._follow(job)
        return job

    def _resync(self, job: list[JobHandle], summary: dict) -> None:
        """Rebuild the handles' views from the actor's summary; write its newest checkpoint where the
        store's is older, and its end where it ended."""
        by_id = {h.run_id: h for h in job}
        for h in job:
            h._history = {"train": {}, "val": {}}
            h.view = JobView(epochs=h.cfg.epochs, beta=h.cfg.beta)
        for msg in summary["messages"]:
            h = by_id[msg["run"]]
            if h.done.is_set():
                continue
            if msg["kind"] == "checkpoint":
                ws = self.store.workspace(h.ws_id)
                self._written(h)  # the store as its last checkpoint left it
                try:
                    if ws.get(h.run_id).progress.get("step", -1) >= msg["step"] and ws.has_checkpoint(h.run_id):
                        continue  # the store has it already
                except RunStoreError:
                    continue
            self._on_message(h, msg)

    def _taken_over(self, handle: JobHandle) -> None:
        """Another replica attached to the actor: the job goes on there; this one only lets go."""
        for h in handle.job:
            self._let_go(h, "another server of this site took this run over")

    def _send(self, handle: JobHandle, what: str, value) -> None:
        if handle.backend is not None:
            handle.backend.request.remote(what, value, handle.index)

    def kill(self, run_id: str) -> None:
        self._ray.kill(self._handles[run_id].backend, no_restart=True)
