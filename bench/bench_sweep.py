"""Sweep wall time: the 7-member β sweep against one member trained alone, batched vs parallel processes.

Each figure is one command's wall time, imports and data loading included, measured in this one run:

  alone     python -m vae_core.train  for one member (β = 1)
  batched   python -m vae_core.sweep  for all 7 β values: one process, stacked parameters (threads.py policy)
  parallel  7 python -m vae_core.train processes, at most `cores` at once (each 1 thread, threads.py)

for two models: digits beta_vae 64-400-2 (batch 128, 30 epochs) and the MNIST-sized 784-400-20
beta_vae on the built-in mnist10k (batch 128, --mnist-epochs, 3 by default: the ratio, not the
absolute time, is the figure). Target: batched / alone <= 4 on 2 cores (7 sequential runs: 7).

Then the app's path, the same digits sweep through a LocalExecutor as the Train page runs it (the
app's defaults: a slot per core, progress and pictures every 0.5 s, checkpoints every epoch),
submit -> every member done, the executor polled as a page would:

  app alone     one member (β = 1) as one job
  app batched   submit_sweep: the 7 members as ONE batched job (one worker)
  app separate  the 7 members each its own job (what submit_sweep did before batching)
The machine may be shared: the load average is printed with the figures. Last line: one JSON object.

    python bench/bench_sweep.py [--epochs 30] [--mnist-epochs 3] [--no-parallel]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def timed(cmds: list[list[str]], at_once: int) -> float:
    """Wall seconds to run `cmds` with at most `at_once` running; fails loudly on a failed command."""
    t0, pending, running = time.perf_counter(), list(cmds), []
    while pending or running:
        while pending and len(running) < at_once:
            running.append(subprocess.Popen(pending.pop(0), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))
        for p in list(running):
            if p.poll() is not None:
                out, err = p.communicate()
                if p.returncode:
                    sys.exit(f"{' '.join(p.args)} failed: {err.strip()[-500:]}")
                running.remove(p)
        time.sleep(0.02)
    return time.perf_counter() - t0


def case(name: str, flags: list, out: Path, cores: int, parallel: bool) -> dict:
    alone = timed([_cmd("train", *flags, "--beta", 1, "--out", out / f"{name}-alone.safetensors")], 1)
    batched = timed([_cmd("sweep", *flags, "--beta", ",".join(map(str, BETAS)), "--out", out / f"{name}-sweep")], 1)
    row = {"case": name, "alone_s": round(alone, 2), "batched_s": round(batched, 2),
           "batched_ratio": round(batched / alone, 2)}
    if parallel:
        runs = [_cmd("train", *flags, "--beta", b, "--out", out / f"{name}-par-{b}.safetensors") for b in BETAS]
        par = timed(runs, cores)
        row.update(parallel_s=round(par, 2), parallel_ratio=round(par / alone, 2))
    print(f"{name}: alone {alone:.1f} s, batched sweep {batched:.1f} s ({batched / alone:.2f}x)"
          + (f", parallel processes {row['parallel_s']:.1f} s ({row['parallel_ratio']:.2f}x)" if parallel else ""))
    return row


def app_wall(submit) -> float:
    """Wall seconds from `submit(workspace, executor)` (-> handles) until every handle is done, on a
    fresh LocalExecutor with the app's defaults; fails loudly unless every run ends done."""
    from vae_core.runs import LocalExecutor, RunStore, new_workspace_id

    with tempfile.TemporaryDirectory() as tmp:
        ex = LocalExecutor(RunStore(Path(tmp)))
        ws = ex.store.workspace(new_workspace_id())
        t0 = time.perf_counter()
        handles = submit(ws, ex)
        while not all(h.done.is_set() for h in handles):
            for h in handles:  # what the Train page reads on a refresh
                _ = (h.view.step, h.view.history.get("loss", [])[-1:], h.view.recons)
            time.sleep(0.7)
        wall = time.perf_counter() - t0
        bad = [(h.view.status, h.view.message) for h in handles if h.view.status != "done"]
        ex.shutdown()
    if bad:
        sys.exit(f"app path: a run did not end done: {bad}")
    return wall


def app_case(epochs: int) -> dict:
    from vae_core import MODELS, Config, sweep
    from vae_core.runs import submit_sweep

    base = Config(**{**MODELS["beta_vae"].defaults, "dataset": "digits", "hidden": (400,), "latent_dim": 2,
                     "batch_size": 128, "epochs": epochs, "seed": 0}).validate()
    cfgs = sweep.members(base, BETAS)

    alone = app_wall(lambda ws, ex: [ex.submit(ws, ws.create(base.replace(beta=1.0), "alone"))])
    batched = app_wall(lambda ws, ex: [ex.handle(r.id) for r in submit_sweep(ws, ex, cfgs)])
    separate = app_wall(lambda ws, ex: [ex.submit(ws, ws.create(c, f"β {c.beta:g}")) for c in cfgs])
    print(f"app digits 64-400-2: one job {alone:.1f} s, batched sweep job {batched:.1f} s ({batched / alone:.2f}x), "
          f"7 separate jobs {separate:.1f} s ({separate / alone:.2f}x)")
    return {"case": "app digits 64-400-2", "alone_s": round(alone, 2), "batched_s": round(batched, 2),
            "batched_ratio": round(batched / alone, 2), "separate_s": round(separate, 2),
            "separate_ratio": round(separate / alone, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--mnist-epochs", type=int, default=3)
    ap.add_argument("--no-parallel", action="store_true")
    ap.add_argument("--no-cli", action="store_true", help="only the app's path")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()
    print(f"{cores} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    common = ["--model", "beta_vae", "--hidden", "400", "--batch-size", 128, "--seed", 0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows += [] if args.no_cli else [case("digits 64-400-2", ["--dataset", "digits", "--latent-dim", 2, "--epochs", args.epochs, *common],
                     out, cores, not args.no_parallel),
                case("mnist10k 784-400-20", ["--dataset", "mnist10k", "--latent-dim", 20,
                                             "--epochs", args.mnist_epochs, *common], out, cores, not args.no_parallel)]
    rows.append(app_case(args.epochs))
    end = os.getloadavg()
    ok = rows[0]["batched_ratio"] <= TARGET
    print(f"load average {end[0]:.2f} {end[1]:.2f} {end[2]:.2f} at end; target batched/alone <= {TARGET} "
          f"on digits: {'PASS' if ok else 'FAIL'}")
    print(json.dumps({"cores": cores, "load_start": load, "load_end": end, "epochs": args.epochs,
                      "mnist_epochs": args.mnist_epochs, "target": TARGET, "pass": ok, "cases": rows}))


if __name__ == "__main__":
    main()
