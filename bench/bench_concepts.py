"""Server time of each Concepts page per interaction, measured with AppTest (the script run alone,
no browser): the page is opened and warmed once (trainings done, caches filled), then each control
is moved to values not seen before. The first open (with the few-second trainings) is reported apart.

Two clocks per script run (the whole app script: navigation, sidebar and the page): wall time, and
the CPU time of the thread that runs it, which other processes on a loaded machine inflate less.
Prints one line per page and, last, one JSON object:
{page: {"first_open_s", "wall_p50_ms", "wall_max_ms", "cpu_p50_ms", "cpu_max_ms", "n"}, "load_average"}.

    python bench/bench_concepts.py [--n 8]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import streamlit.runtime.scriptrunner.script_runner as script_runner
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
RUNS: list[tuple[float, float]] = []  # (wall ms, thread CPU ms) of each script run


def _clocked(run_script):
    def run(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return run_script(self, *args, **kwargs)
        finally:
            RUNS.append((1000 * (time.perf_counter() - wall), 1000 * (time.thread_time() - cpu)))
    return run


script_runner.ScriptRunner._run_script = _clocked(script_runner.ScriptRunner._run_script)


def timed(at: AppTest) -> tuple[float, float]:
    """Run the script once: (wall ms, CPU ms) of the script run itself (AppTest's own polling excluded)."""
    RUNS.clear()
    at.run()
    assert not at.exception, at.exception
    return RUNS[-1]


# page -> a function (at, i) that moves one control to the i-th new value (nothing is run yet)
MOVES = {
    "kl_direction": lambda at, i: (at.slider(key="kl.m1").set_value(-3.0 + 0.3 * (i + 1)) if i % 2 == 0
                                   else at.slider(key="kl.w1").set_value([0.45, 0.4, 0.35, 0.3, 0.25, 0.2][i // 2 % 6])),
    "elbo": lambda at, i: at.slider(key="elbo.mu0.0").set_value(round(-0.21 + 0.05 * (i + 1), 2)) if i % 4 != 3
            else at.button(key="elbo.best").click(),
    "reparam": lambda at, i: (at.slider(key="rep.sigma").set_value(round(0.5 + 0.1 * i, 1)) if i % 2 == 0
                              else at.select_slider(key="rep.n").set_value(10000)),
    "gaussian_kl": lambda at, i: (at.slider(key="gkl.mu").set_value(round(-1 + 0.25 * i, 2)) if i % 2 == 0
                                  else at.select_slider(key="gkl.n").set_value(100000)),
    "sparsity": lambda at, i: at.slider(key="sp.rho").set_value(round(0.05 + 0.03 * i, 2)),
    "denoising": lambda at, i: at.radio(key="den.from").set_value(["corrupted data", "a grid over the plane"][i % 2]),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="interactions per page")
    args = ap.parse_args()
    results = {}
    for name, move in MOVES.items():
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        at.switch_page(f"pages/concepts/{name}.py")
        first = timed(at)[0] / 1000
        timed(at)  # warm: imports, first-call costs
        walls, cpus = [], []
        for i in range(args.n):
            move(at, i)
            wall, cpu = timed(at)
            walls.append(wall)
            cpus.append(cpu)
        r = results[name] = {"first_open_s": round(first, 2), "wall_p50_ms": round(statistics.median(walls), 1),
                             "wall_max_ms": round(max(walls), 1), "cpu_p50_ms": round(statistics.median(cpus), 1),
                             "cpu_max_ms": round(max(cpus), 1), "n": len(walls)}
        print(f"{name:>14}: first open {first:.2f} s; per interaction wall p50 {r['wall_p50_ms']} ms "
              f"(max {r['wall_max_ms']}), CPU p50 {r['cpu_p50_ms']} ms (max {r['cpu_max_ms']})", flush=True)
    results["load_average"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
