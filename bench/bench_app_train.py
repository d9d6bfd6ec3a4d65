"""Training as the app does it (a job in a spawned worker, polled by the UI process) against the
command line, measured in one run. Prints one line per measurement; the last line is one JSON object:

  ratio          job throughput / `python -m vae_core.train` throughput, same config; the smaller of
                 the digits 2-D VAE and the MNIST-sized 784-400-20 VAE (target >= 0.8)
  busy_slowdown  one job's training wall time with a second CPU-bound process running / without it
                 (target <= 2.5)
  two_jobs       aggregate throughput of two concurrent jobs / one job's (target >= 1.5 on 2 cores)

Throughput is examples / wall time of the training loop, as both report it (worker start-up and data
loading apart; `ratio_end_to_end` includes them: submit -> done against the CLI process's wall time).

    python bench/bench_app_train.py [--mnist DIR] [--repeat 3]   # DIR holds mnist/t10k-*.gz

Each figure is the median of --repeat runs, CLI and job taken in turn (a run of a second or two
varies by ±30% here).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from vae_core import Config
from vae_core.runs import LocalExecutor, RunStore, new_workspace_id

ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.7  # the Train page's refresh


def cli(cfg: Config, data_dir: str | None) -> tuple[float, float]:
    """(images/s, process wall s) of the command line on `cfg`."""
    args = [sys.executable, "-m", "vae_core.train", "--dataset", cfg.dataset, "--model", cfg.model,
            "--hidden", ",".join(map(str, cfg.hidden)), "--latent-dim", str(cfg.latent_dim),
            "--epochs", str(cfg.epochs), "--out", str(Path(tempfile.mkdtemp()) / "m.safetensors")]
    if data_dir:
        args += ["--data-dir", data_dir]
    t = time.perf_counter()
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"], time.perf_counter() - t


def jobs(cfg: Config, data_dir: str | None, n: int = 1) -> tuple[list[float], float, float]:
    """Run n copies of `cfg` at once through the app's executor, polling like the Train page.
    -> (each job's images/s, wall s submit -> all done, the longest training-loop time s)."""
    ex = LocalExecutor(RunStore(tempfile.mkdtemp()), max_jobs=n, data_dir=data_dir)
    ws = ex.store.workspace(new_workspace_id())
    t = time.perf_counter()
    handles = [ex.submit(ws, ws.create(cfg, f"bench {i}")) for i in range(n)]
    while not all(h.done.is_set() for h in handles):
        for h in handles:  # what the page reads on each refresh
            v = h.view
            _ = (v.step, v.history.get("loss", [])[-1:], v.recons)
        time.sleep(POLL_S)
    wall = time.perf_counter() - t
    for h in handles:
        assert h.view.status == "done", h.view.message
    rates = [h.view.images_per_s for h in handles]
    loop_s = max(h.view.step * cfg.batch_size / r for h, r in zip(handles, rates))  # ~ examples / rate
    return rates, wall, loop_s


@contextmanager
def busy_process():
    """A second CPU-bound process, as when another program (or another user's job) wants a core."""
    p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data"), help="folder with mnist/t10k-*.gz")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    configs = {
        "digits 2-D VAE": (Config(dataset="digits", model="vae", hidden=(400,), latent_dim=2, epochs=100), None),
        "784-400-20 VAE": (Config(dataset="mnist", model="vae", hidden=(400,), latent_dim=20, epochs=5), args.mnist),
    }
    result: dict = {"ratios": {}}
    for name, (cfg, data_dir) in configs.items():
        runs = [(cli(cfg, data_dir), jobs(cfg, data_dir)) for _ in range(args.repeat)]
        cli_rate, cli_wall = median(r[0][0] for r in runs), median(r[0][1] for r in runs)
        job_rate, job_wall = median(r[1][0][0] for r in runs), median(r[1][1] for r in runs)
        result["ratios"][name] = {"cli_images_per_s": round(cli_rate), "job_images_per_s": round(job_rate),
                                  "ratio": round(job_rate / cli_rate, 3),
                                  "ratio_end_to_end": round(cli_wall / job_wall, 3)}
        print(f"{name}: job {job_rate:,.0f} images/s, CLI {cli_rate:,.0f} -> ratio {job_rate / cli_rate:.2f}; "
              f"end to end {job_wall:.1f} s vs {cli_wall:.1f} s", flush=True)
    result["ratio"] = min(r["ratio"] for r in result["ratios"].values())

    cfg, data_dir = configs["digits 2-D VAE"]
    quiet = median(jobs(cfg, data_dir)[2] for _ in range(args.repeat))
    with busy_process():
        busy = median(jobs(cfg, data_dir)[2] for _ in range(args.repeat))
    result["busy_slowdown"] = round(busy / quiet, 3)
    print(f"one job: {quiet:.2f} s quiet, {busy:.2f} s beside a busy process -> slowdown {busy / quiet:.2f}", flush=True)

    one = median(jobs(cfg, data_dir)[0][0] for _ in range(args.repeat))
    two = [sum(jobs(cfg, data_dir, n=2)[0]) for _ in range(args.repeat)]
    two = median(two)
    result["two_jobs"] = round(two / one, 3)
    print(f"two jobs at once: {two:,.0f} images/s in all vs {one:,.0f} for one -> {two / one:.2f}x", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
