"""The CPU policy of vae_core/threads.py: threads per job, and workers below the pages in priority."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import tiny
from vae_core import threads
from vae_core.runs import LocalExecutor, RunStore, new_workspace_id

REPO = Path(__file__).resolve().parents[1]


def test_small_steps_get_one_thread_and_big_ones_share_the_cores():
    assert threads.worker_threads(1e6, n_cores=8) == 1
    assert threads.worker_threads(threads.LARGE_STEP_FLOPS, running_jobs=2, n_cores=8) == 4
    assert threads.worker_threads(threads.LARGE_STEP_FLOPS, running_jobs=16, n_cores=8) == 1


def test_a_sweep_steps_arithmetic_members_in_threads_and_stacks_light_ones(digits_split):
    """A member step of 64-4000-3-4000-64 is 3 x 128 x 2 x 548k weights = 0.42 GFLOP (counted here by
    hand), arithmetic: a thread per core of the job's share (at most one per member); a 64-32-3
    member is Python overhead, which stacking saves: one thread. One core's share: stacked."""
    from vae_core import Trainer

    train, val = digits_split
    heavy, light = (Trainer(tiny("beta_vae", hidden=(h,), batch_size=128), train, val) for h in (4000, 32))
    weights = 64 * 4000 + 4000 * 6 + 3 * 4000 + 4000 * 64
    assert threads._trainer_flops(heavy) == pytest.approx(3 * 128 * 2 * weights, rel=0.01)
    assert threads._trainer_flops(heavy) > threads.MEMBER_STEP_FLOPS > threads._trainer_flops(light)
    assert threads.member_threads(heavy, 7, n_cores=2) == 2
    assert threads.member_threads(heavy, 7, n_cores=16) == 7
    assert threads.member_threads(heavy, 7, running_jobs=3, n_cores=16) == 5
    assert threads.member_threads(heavy, 7, running_jobs=2, n_cores=2) == 1
    assert threads.member_threads(light, 7, n_cores=2) == 1
    # in processes (vae_core.member_process) no GIL is shared: a digits-sized member steps side by side too
    assert threads.member_threads(light, 7, n_cores=2, processes=True) == 2
    assert threads.member_threads(light, 7, running_jobs=2, n_cores=2, processes=True) == 1


@pytest.mark.parametrize("setting, expected", [(None, threads.WORKER_NICE), ("3", 3), ("0", 0), ("99", 19),
                                               ("not a number", threads.WORKER_NICE)])
def test_lower_priority_adds_the_configured_niceness(setting, expected):
    env = {k: v for k, v in os.environ.items() if k != "VAE_CORE_WORKER_NICE"}
    if setting is not None:
        env["VAE_CORE_WORKER_NICE"] = setting
    code = "import os; from vae_core import threads; before = os.nice(0); print(threads.lower_priority() - before)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == min(expected, 19 - os.nice(0))


def test_a_local_worker_trains_below_the_server(tmp_path):
    ex = LocalExecutor(RunStore(tmp_path / "runs"), max_jobs=1, refresh_s=0.1)
    try:
        ws = ex.store.workspace(new_workspace_id())
        handle = ex.submit(ws, ws.create(tiny("vae", epochs=2000), "long"))
        deadline = time.monotonic() + 120
        while not handle.view.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.view.pid, handle.view.message
        worker = os.getpriority(os.PRIO_PROCESS, handle.view.pid)
        assert worker == min(19, os.getpriority(os.PRIO_PROCESS, 0) + threads.WORKER_NICE)
        handle.stop()
        assert handle.join(60)
    finally:
        ex.shutdown()
