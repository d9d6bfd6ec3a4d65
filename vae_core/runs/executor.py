"""Executors: where training jobs run, behind one small interface.

    executor = make_executor(store)                 # $VAE_CORE_EXECUTOR: "local" (default) or "ray"
    handle = executor.submit(workspace, run)        # queued, then running when a slot is free
    handles = executor.submit_batch(workspace, runs) # runs differing only in β: one job, one slot
    handle.view                                     # JobView: progress, curves, pictures (immutable)
    handle.set_beta(3.0); handle.stop()             # reach the worker from its next step
    executor.handle(run.id)                         # re-attach after a page reload
    executor.adopt(workspace, run)                  # another replica's run, once that replica is gone

The pieces, one module each: the queue and its bookkeeping (runs.queue), the handles and views
(runs.handles), and the two backends:
- LocalExecutor (runs.local): one spawned process per job (nothing to install).
- RayExecutor (runs.ray_executor): one named, detached Ray actor per job; connects to $RAY_ADDRESS
  when set, otherwise starts a local Ray. The path for a class that outgrows one machine, and for
  jobs that outlive the app server (replica) that started them.

A job is one run, or a batch of a sweep's members (job.run_batch): each member keeps its own handle,
view, checkpoints and end status; β is per member; Stop on any member stops the whole batch
(BATCH_STOP_RULE), and killing the worker interrupts every member. At most `max_jobs` jobs run at
once ($VAE_CORE_MAX_JOBS, default: the cores); the rest wait in order.
"""
from __future__ import annotations

import os

from .handles import BATCH_STOP_RULE, Columns, JobHandle, JobView
from .local import LocalExecutor
from .queue import Executor
from .ray_executor import RayExecutor
from .store import RunStore

__all__ = ["BATCH_STOP_RULE", "Columns", "Executor", "JobHandle", "JobView", "LocalExecutor", "RayExecutor",
           "EXECUTORS", "make_executor"]

EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor}


def make_executor(store: RunStore, kind: str | None = None, **kw) -> Executor:
    """The executor named by `kind`, else $VAE_CORE_EXECUTOR, else local processes."""
    kind = (kind or os.environ.get("VAE_CORE_EXECUTOR") or "local").lower()
    if kind not in EXECUTORS:
        raise ValueError(f"unknown executor {kind!r}; use local or ray")
    return EXECUTORS[kind](store, **kw)
