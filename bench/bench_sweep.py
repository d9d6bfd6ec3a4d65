"""Sweep wall time: the 7-member β sweep against one member trained alone, batched vs parallel processes.

Each figure is one command's wall time, imports and data loading included, measured in this one run
(the median of --repeats pairs, one member alone and the sweep back to back, in turn alone first and
the sweep first; and the median of the pairs' ratios: on a shared machine a pair sees about the same
load, and the median drops the pair that a burst of other work hit):

  alone     python -m vae_core.train  for one member (β = 1)
  batched   python -m vae_core.sweep  for all 7 β values: one job: stacked, or in this process and forked ones (threads.py policy)
  parallel  7 python -m vae_core.train processes, at most `cores` at once (each 1 thread, threads.py)

for two models: digits beta_vae 64-400-2 (batch 128, 30 epochs) and the MNIST-sized 784-400-20
beta_vae on the built-in mnist10k (batch 128, --mnist-epochs, 3 by default: the ratio, not the
absolute time, is the figure). Target: batched / alone <= 4 on 2 cores (7 sequential runs: 7),
training time without the process's start-up. Beside each wall time, that training time
(`train_s`, `train_ratio`): from the command's first line on stderr, which both print once the
data are loaded and the model built, to its exit (the final evaluation and checkpoints included);
and the commands' CPU seconds (`cpu_ratio`: what the sweep's work costs against one member's, which
on 2 cores the wall-time ratio can beat by up to 2x).

Then the app's path, the same two sweeps through a LocalExecutor as the Train page runs it (the
app's defaults: a slot per core, progress and pictures every 0.5 s, checkpoints every epoch),
submit -> every member done, the executor polled as a page would:

  app alone     one member (β = 1) as one job
  app batched   submit_sweep: the 7 members as ONE batched job (one worker)
  app separate  the 7 members each its own job (what submit_sweep did before batching; digits only,
                not with --no-parallel)
and, for one job and the batch, the training time without the worker's start-up (`train_s`): from
the moment its runs are running (the worker's "started": data loaded, model built) to the last one done.
The machine may be shared: the load average is printed with the figures, and at the start and the
end how fast two single-thread processes run side by side against one alone (`side_by_side`: a VM
whose host lends its second core only in part runs a sweep slower, whatever the code). Last line:
one JSON object.

    python bench/bench_sweep.py [--epochs 30] [--mnist-epochs 3] [--no-parallel]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the app path imports this checkout's vae_core, whatever the venv points at
BETAS = [0.25, 0.5, 1, 2, 4, 8, 16]
TARGET = 4.0


def _cmd(tool: str, *args) -> list[str]:
    return [sys.executable, "-m", f"vae_core.{tool}", *map(str, args)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def timed(cmds: list[list[str]], at_once: int) -> tuple[float, float, float]:
    """Run `cmds` with at most `at_once` running; fails loudly on a failed command. -> (wall seconds,
    seconds from the first command's first line on stderr to the end: the time without start-up,
    CPU seconds of the commands, start-up included)."""
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, pending, running, first = time.perf_counter(), list(cmds), [], []

    def first_line(p):  # the first line of stderr, timed; then the rest, read so the pipe never fills
        p.stderr_head = p.stderr.readline()
        first.append(time.perf_counter())
        p.stderr_tail = p.stderr.read()
    while pending or running:
        while pending and len(running) < at_once:
            p = subprocess.Popen(pending.pop(0), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            p.reader = threading.Thread(target=first_line, args=(p,), daemon=True)
            p.reader.start()
            running.append(p)
        for p in list(running):
            if p.poll() is not None:
                p.stdout.read()
                p.reader.join()
                if p.returncode:
                    sys.exit(f"{' '.join(p.args)} failed: {(p.stderr_head + p.stderr_tail).strip()[-500:]}")
                running.remove(p)
        time.sleep(0.02)
    end, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return end - t0, end - min(first), cpu.ru_utime + cpu.ru_stime - cpu0.ru_utime - cpu0.ru_stime


def case(name: str, flags: list, out: Path, cores: int, parallel: bool, repeats: int) -> dict:
    pairs = back_to_back(lambda: timed([_cmd("train", *flags, "--beta", 1, "--out", out / f"{name}-alone.safetensors")], 1),
                         lambda: timed([_cmd("sweep", *flags, "--beta", ",".join(map(str, BETAS)),
                                             "--out", out / f"{name}-sweep")], 1), repeats)
    others = {}
    if parallel:
        runs = [_cmd("train", *flags, "--beta", b, "--out", out / f"{name}-par-{b}.safetensors") for b in BETAS]
        others["parallel"] = timed(runs, cores)[0]
    return result(name, pairs, others)


def back_to_back(alone, batched, repeats: int) -> list[tuple]:
    """`repeats` pairs (alone's figures, batched's figures), each run back to back, in turn alone
    first and batched first: a load that rises or falls through the run weighs on both alike."""
    pairs = []
    for i in range(repeats):
        if i % 2:
            b = batched()
            pairs.append((alone(), b))
        else:
            pairs.append((alone(), batched()))
    return pairs


def result(case: str, pairs: list, others: dict[str, float]) -> dict:
    """A case's row, printed. `pairs` (back_to_back): one member alone and the batched sweep, each as
    (wall, training[, CPU]) seconds; the medians over the pairs, and the median of each pair's
    ratio (a pair sees about the same load). `others`: name -> wall seconds, against the median alone."""
    med = statistics.median
    alone, batched = ([med(p[k][i] for p in pairs) for i in (0, 1)] for k in (0, 1))
    ratio = [med(b[i] / a[i] for a, b in pairs) for i in (0, 1)]
    row = {"case": case, "pairs": len(pairs), "alone_s": round(alone[0], 2), "batched_s": round(batched[0], 2),
           "batched_ratio": round(ratio[0], 2), "alone_train_s": round(alone[1], 2),
           "batched_train_s": round(batched[1], 2), "train_ratio": round(ratio[1], 2),
           "train_ratios": [round(b[1] / a[1], 2) for a, b in pairs]}
    if len(pairs[0][0]) > 2:  # CPU seconds (the command line's): what the work costs, whatever the load
        row.update(alone_cpu_s=round(med(a[2] for a, _ in pairs), 2), batched_cpu_s=round(med(b[2] for _, b in pairs), 2),
                   cpu_ratio=round(med(b[2] / a[2] for a, b in pairs), 2))
    for name, wall in others.items():
        row.update({f"{name}_s": round(wall, 2), f"{name}_ratio": round(wall / alone[0], 2)})
    print(f"{case} (median of {len(pairs)}): alone {alone[0]:.1f} s, batched sweep {batched[0]:.1f} s "
          f"({row['batched_ratio']:.2f}x)" + "".join(f", {name} {wall:.1f} s ({wall / alone[0]:.2f}x)" for name, wall in others.items())
          + f"; training without start-up: alone {alone[1]:.1f} s, batched {batched[1]:.1f} s ({row['train_ratio']:.2f}x;"
          f" each pair {', '.join(map(str, row['train_ratios']))})"
          + (f"; CPU {row['alone_cpu_s']:.1f} s and {row['batched_cpu_s']:.1f} s ({row['cpu_ratio']:.2f}x)" if "cpu_ratio" in row else ""),
          flush=True)
    return row


def app_wall(submit) -> tuple[float, float]:
    """Seconds from `submit(workspace, executor)` (-> handles) until every handle is done, on a fresh
    LocalExecutor with the app's defaults, and from when every run was running (its worker started)
    to the end; fails loudly unless every run ends done."""
    from vae_core.runs import LocalExecutor, RunStore, new_workspace_id

    with tempfile.TemporaryDirectory() as tmp:
        ex = LocalExecutor(RunStore(Path(tmp)))
        ws = ex.store.workspace(new_workspace_id())
        t0, running, seen = time.perf_counter(), None, 0.0
        handles = submit(ws, ex)
        while not all(h.done.is_set() for h in handles):
            if running is None and all(h.view.status not in ("queued", "starting") for h in handles):
                running = time.perf_counter()
            if time.perf_counter() - seen >= 0.7:  # what the Train page reads on a refresh
                seen = time.perf_counter()
                for h in handles:
                    _ = (h.view.step, h.view.history.get("loss", [])[-1:], h.view.recons)
            time.sleep(0.05)
        end = time.perf_counter()
        bad = [(h.view.status, h.view.message) for h in handles if h.view.status != "done"]
        ex.shutdown()
    if bad:
        sys.exit(f"app path: a run did not end done: {bad}")
    return end - t0, end - (running or end)


def app_case(name: str, dataset: str, latent_dim: int, epochs: int, separate: bool, repeats: int) -> dict:
    from vae_core import MODELS, Config, sweep
    from vae_core.runs import submit_sweep

    base = Config(**{**MODELS["beta_vae"].defaults, "dataset": dataset, "hidden": (400,), "latent_dim": latent_dim,
                     "batch_size": 128, "epochs": epochs, "seed": 0}).validate()
    cfgs = sweep.members(base, BETAS)

    pairs = back_to_back(lambda: app_wall(lambda ws, ex: [ex.submit(ws, ws.create(base.replace(beta=1.0), "alone"))]),
                         lambda: app_wall(lambda ws, ex: [ex.handle(r.id) for r in submit_sweep(ws, ex, cfgs)]), repeats)
    others = {}
    if separate:
        others["separate"] = app_wall(lambda ws, ex: [ex.submit(ws, ws.create(c, f"β {c.beta:g}")) for c in cfgs])[0]
    return result(f"app {name}", pairs, others)


_SPIN = ("import time, torch; torch.set_num_threads(1); a = torch.randn(384, 784); w = torch.randn(784, 400)\n"
         "t = time.perf_counter()\nfor _ in range(1500): a @ w\nprint(time.perf_counter() - t)")


def side_by_side() -> float:
    """How much of a core each of two single-thread processes gets when they run at once, against
    one alone (1.0: two full cores; a VM whose host shares its cores gives less): one alone, then
    two at once, of a fixed matmul loop (an MNIST member's layer). The sweep's bound on this
    machine, now, is 3.5x / this."""
    def run(n: int) -> list[float]:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(p.communicate()[0]) for p in procs]
    alone = run(1)[0]
    return alone / statistics.mean(run(2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--mnist-epochs", type=int, default=3)
    ap.add_argument("--no-parallel", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="only the app's path")
    ap.add_argument("--repeats", type=int, default=3, help="pairs (alone, then batched) per case (default 3)")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()
    share = [side_by_side()]
    print(f"{cores} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; two processes side by side "
          f"each run at {share[0]:.0%} of one alone's speed (the sweep's bound here now: {3.5 / share[0]:.2f}x)", flush=True)
    common = ["--model", "beta_vae", "--hidden", "400", "--batch-size", 128, "--seed", 0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows += [] if args.no_cli else [
            case("digits 64-400-2", ["--dataset", "digits", "--latent-dim", 2, "--epochs", args.epochs, *common],
                 out, cores, not args.no_parallel, args.repeats),
            case("mnist10k 784-400-20", ["--dataset", "mnist10k", "--latent-dim", 20, "--epochs", args.mnist_epochs, *common],
                 out, cores, not args.no_parallel, args.repeats)]
    rows += [app_case("digits 64-400-2", "digits", 2, args.epochs, not args.no_parallel, args.repeats),
             app_case("mnist10k 784-400-20", "mnist10k", 20, args.mnist_epochs, False, args.repeats)]
    end = os.getloadavg()
    share.append(side_by_side())
    ok = all(r["train_ratio"] <= TARGET for r in rows)
    print(f"load average {end[0]:.2f} {end[1]:.2f} {end[2]:.2f} at end; two processes side by side each at {share[1]:.0%}"
          f" of one alone's speed; target: training without start-up, batched / alone <= {TARGET} in every case: "
          f"{'PASS' if ok else 'FAIL'}")
    print(json.dumps({"cores": cores, "load_start": load, "load_end": end, "side_by_side": share, "epochs": args.epochs,
                      "mnist_epochs": args.mnist_epochs, "target": TARGET, "pass": ok, "cases": rows}))


if __name__ == "__main__":
    main()
