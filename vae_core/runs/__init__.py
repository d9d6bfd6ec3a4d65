"""Runs that last: a store of runs per workspace, training jobs in worker processes (or Ray).

    store = RunStore()                            # runs/ or $VAE_CORE_RUNS
    ws = store.workspace(new_workspace_id())
    run = ws.create(cfg, "my VAE")
    handle = make_executor(store).submit(ws, run)
"""
from .executor import BATCH_STOP_RULE, Executor, JobHandle, JobView, LocalExecutor, RayExecutor, make_executor
from .job import JobSpec, run_batch, run_job, run_worker
from .submit import submit_sweep
from .store import (FINISHED, LIVE, STATUSES, Run, RunStore, RunStoreError, Workspace, clean_name, file_name,
                    new_workspace_id, valid_workspace_id)

__all__ = ["BATCH_STOP_RULE", "Executor", "JobHandle", "JobView", "LocalExecutor", "RayExecutor", "make_executor",
           "JobSpec", "run_batch", "run_job", "run_worker", "submit_sweep",
           "FINISHED", "LIVE", "STATUSES", "Run", "RunStore", "RunStoreError", "Workspace", "clean_name", "file_name",
           "new_workspace_id", "valid_workspace_id"]
