"""t-SNE of a latent space, as the Latent space page computes it (vae_core.projection.tsne, openTSNE):
the 8-D codes of 2,000 sprites under the shipped beta-VAE. Prints seconds per repeat; the last line is
one JSON object. Target (issue 7): <= 5 s for 2,000 points. On a shared machine the wall time grows
with the load; the CPU time (one thread) is what the t-SNE itself costs, and what an idle machine's
wall time would be.

    python bench/bench_tsne.py [--n 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

# this checkout's vae_core, not the one the editable install points at
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_core import zoo  # noqa: E402
from vae_core.data import load_dataset  # noqa: E402
from vae_core.latent import encode  # noqa: E402
from vae_core.projection import tsne  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    entry = next(e for e in zoo.load_manifest() if e.id == "sprites-betavae")
    model = zoo.load_entry(entry).build_model("cpu")
    data = load_dataset("sprites")
    mu, _ = encode(model, data.x[: args.n])
    z = mu.numpy()  # (n, 8)
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        emb = tsne(z)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        print(f"t-SNE of {len(z)} codes ({z.shape[1]}-D): {times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU", flush=True)
    from sklearn.manifold import trustworthiness

    trust = trustworthiness(z, emb, n_neighbors=10)
    print(json.dumps({"tsne": f"{tsne.__module__} ({Path(sys.modules[tsne.__module__].__file__).parent.parent.name})",
                      "points": len(z), "dims": z.shape[1], "seconds_median": round(float(np.median(times)), 2),
                      "seconds_min": round(min(times), 2),
                      "cpu_seconds_median": round(float(np.median(cpu)), 2), "trustworthiness_10": round(float(trust), 3),
                      "loadavg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
