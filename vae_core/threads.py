"""The one thread policy: how many intra-op threads PyTorch may use, in a worker and in the app.

These models are tiny (a digits VAE step is ~1.5 ms of arithmetic). PyTorch's intra-op threads
meet at an OpenMP barrier after every op, so when another process holds a core, a step waits for
a descheduled thread: measured here, 30 digits epochs took 6.0 s with 1 thread and 58.5 s with 2
while a second process was busy. So:

- a training worker uses 1 thread unless one step is big enough (>= LARGE_STEP_FLOPS) that
  splitting it pays; then its fair share of the cores, cores // running jobs;
- a sweep batch steps its members side by side, a process (or thread) per core of its share taking
  the members in turn, one intra-op thread each (member_threads): no barrier per op, so a busy
  machine slows it as it slows separate runs (measured: 7 MNIST-sized members stacked on 2 intra-op
  threads took 40x one member's time at a load of 12; bench/bench_sweep.py). Where it may fork
  processes (vae_core.member_process: a local worker, the CLI) every model does. In threads only
  (a Ray actor), a digits-sized member's step is half interpreter and two threads stepping such
  members wait on each other for the GIL: 7 of them took 6.0x one member's time in 2 threads, 6.6x
  stacked on one (median of 6 pairs; with a CPU-bound process beside, 7.1x and 6.3x), so there
  members below MEMBER_STEP_FLOPS stay stacked;
- the app's own process (encoding the map, decoding a grid for a click) uses UI_THREADS;
- a local worker process runs at a lower CPU priority (nice WORKER_NICE, `$VAE_CORE_WORKER_NICE`):
  training is batch work and the pages are interactive, so on a shared server a click is served
  first and a run takes the cores the pages leave. Measured in bench/bench_classroom.py.
"""
from __future__ import annotations

import os

import torch

UI_THREADS = 1
WORKER_NICE = 10  # 0 (as the server) to 19 (only idle time)
LARGE_STEP_FLOPS = 2e9   # about 30 ms of one core: below this a second thread costs more than it gives
MEMBER_STEP_FLOPS = 2e8  # a few ms of one core: above this a member's step is arithmetic, not Python overhead


def cores() -> int:
    """The cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> float:
    """A training step's arithmetic: one example's forward pass counted by PyTorch's FlopCounterMode,
    times the batch, times 3 (the backward pass costs about twice the forward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:1], None if y is None else y[:1])
    return 3.0 * counter.get_total_flops() * batch_size


def worker_threads(flops: float, running_jobs: int = 1, n_cores: int | None = None) -> int:
    """Threads for one training job whose step costs `flops`, with `running_jobs` jobs at once."""
    if flops < LARGE_STEP_FLOPS:
        return 1
    return max(1, (n_cores or cores()) // max(1, running_jobs))


def _trainer_flops(trainer) -> float:
    """A Trainer's step_flops."""
    model = trainer.model
    return step_flops(model, trainer.x, trainer.y if model.n_cond else None, trainer.cfg.batch_size)


def for_trainer(trainer, members: int = 1, running_jobs: int = 1) -> int:
    """Threads for training `members` stacked copies of a Trainer's model (a sweep batch: one step
    is `members` times the arithmetic), with `running_jobs` jobs at once."""
    return worker_threads(members * _trainer_flops(trainer), running_jobs)


def member_threads(trainer, members: int, running_jobs: int = 1, n_cores: int | None = None,
                   processes: bool = False) -> int:
    """Threads (or with `processes`, processes: vae_core.member_process) that step a sweep batch's
    members side by side (vae_core.batched): 1 (the members stacked on one thread) unless the job's
    share of the cores, cores // running jobs, is 2 or more and, in threads, a member's step is
    arithmetic enough (>= MEMBER_STEP_FLOPS); then one per core of that share, which take the
    members in turn (more than cores only trade places on them)."""
    share = (n_cores or cores()) // max(1, running_jobs)
    if share < 2 or (not processes and _trainer_flops(trainer) < MEMBER_STEP_FLOPS):
        return 1
    return min(members, share)


def for_batch(batch, running_jobs: int = 1) -> int:
    """Intra-op threads for a sweep batch (vae_core.batched.BatchedTrainer): 1 when its members step
    in threads of their own, else for_trainer's count for the stack."""
    if batch.threads > 1:
        return 1
    return for_trainer(batch.trainers[0], members=len(batch.trainers), running_jobs=running_jobs)


def use(n: int) -> None:
    """Set this process's intra-op threads (a no-op when already so)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def lower_priority() -> int:
    """Lower this (worker) process's CPU priority by $VAE_CORE_WORKER_NICE (default WORKER_NICE);
    -> the niceness it now has. Call it before any thread starts: Linux keeps a niceness per thread
    and new threads inherit it."""
    try:
        step = int(os.environ.get("VAE_CORE_WORKER_NICE", WORKER_NICE))
    except ValueError:
        step = WORKER_NICE
    try:
        return os.nice(max(0, min(19, step)))
    except (AttributeError, OSError):  # not on this platform, or not allowed: train at the same priority
        return 0
