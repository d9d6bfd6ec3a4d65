"""What one script run costs the server, page by page: a single session alone on a fresh server (no
browser, the page's own websocket protocol), the explorers' round of bench_classroom repeated (a map
click, then Interpolate, Manifold, Latent space), and the server's own figure for each run read from
its log (ui/timing.py): wall and CPU time of the script's thread.

    python bench/bench_script_cost.py [--rounds 12]

Under a class every session's runs share one interpreter lock per replica, so the CPU a run costs
is what decides how many sessions a core holds (README, "Serving a school"). Prints a table and one
JSON line: per page and trigger, n, cpu p50 / p95 ms, wall p50 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from browser_support import app_process  # noqa: E402
from streamlit_session import Session  # noqa: E402
from ui.timing import LINE  # noqa: E402


async def explore(url: str, rounds: int) -> None:
    async with Session(url) as s:
        await s.open("latent")
        for i in range(rounds):
            await s.select("latent.map", (i * 797) % 10_000)
            for title in ("Interpolate", "Manifold", "Latent space"):
                await s.switch(title)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=12)
    args = ap.parse_args()
    with app_process() as (url, proc):
        asyncio.run(explore(url, 2))  # warm: every page's caches filled once, as in a class after its first minute
        start = len(Path(proc.log_path).read_text(errors="replace").splitlines())
        asyncio.run(explore(url, args.rounds))
        lines = Path(proc.log_path).read_text(errors="replace").splitlines()[start:]
    runs: dict[str, list[tuple[float, float]]] = {}
    for line in lines:
        if m := re.search(LINE, line):
            page, trigger, wall, cpu = m.groups()
            runs.setdefault(f"{page} · {trigger.split()[0]}", []).append((float(wall), float(cpu)))
    out = {}
    print(f"{'page · trigger':28} {'n':>4} {'cpu p50':>8} {'cpu p95':>8} {'wall p50':>9}")
    for what, xs in sorted(runs.items()):
        wall, cpu = np.array(xs).T
        out[what] = {"n": len(xs), "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 1),
                     "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 1),
                     "wall_p50_ms": round(float(np.percentile(wall, 50)), 1)}
        r = out[what]
        print(f"{what:28} {r['n']:4d} {r['cpu_p50_ms']:8.1f} {r['cpu_p95_ms']:8.1f} {r['wall_p50_ms']:9.1f}")
    all_cpu = np.array([c for xs in runs.values() for _, c in xs])
    out["all"] = {"n": len(all_cpu), "cpu_p50_ms": round(float(np.percentile(all_cpu, 50)), 1),
                  "cpu_mean_ms": round(float(all_cpu.mean()), 1)}
    print(f"all runs: n {len(all_cpu)}, cpu p50 {out['all']['cpu_p50_ms']} ms, mean {out['all']['cpu_mean_ms']} ms")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
