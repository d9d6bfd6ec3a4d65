"""Runs that last: a store of runs per workspace, training jobs in worker processes (or Ray).

    store = RunStore()                            # runs/ or $VAE_CORE_RUNS
    ws = store.workspace(new_workspace_id())
    run = ws.create(cfg, "my VAE")
    handle = make_executor(store).submit(ws, run)
    info = ws.add_dataset("shoes", [("shoes.zip", blob)], own.Options(size="28"))   # a user's data
    run = ws.create(cfg.replace(dataset=info.dataset), "on my shoes")                # "ws:<id>"
"""
from .executor import BATCH_STOP_RULE, Executor, JobHandle, JobView, LocalExecutor, RayExecutor, make_executor
from .job import JobSpec, run_batch, run_job, run_worker
from .datasets import DatasetInfo, data_folder, key_of, label_of
from .submit import submit_sweep
from .store import (FINISHED, LIVE, STATUSES, Run, RunStore, RunStoreError, Workspace, clean_name, file_name,
                    new_workspace_id, valid_workspace_id)

__all__ = ["DatasetInfo", "data_folder", "key_of", "label_of",
           "BATCH_STOP_RULE", "Executor", "JobHandle", "JobView", "LocalExecutor", "RayExecutor", "make_executor",
           "JobSpec", "run_batch", "run_job", "run_worker", "submit_sweep",
           "FINISHED", "LIVE", "STATUSES", "Run", "RunStore", "RunStoreError", "Workspace", "clean_name", "file_name",
           "new_workspace_id", "valid_workspace_id"]
