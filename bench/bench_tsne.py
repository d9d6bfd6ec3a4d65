"""t-SNE of a latent space, as the Latent space page computes it (vae_core.projection.tsne, openTSNE):
by default the 16-D codes of the 10,000 mnist10k digits under the shipped beta-VAE (the most points
a map shows: ui.views.MAP_MAX_POINTS). Prints seconds per repeat; the last line is one JSON object.
Targets: <= 10 s for 10,000 codes (issue 21), <= 5 s for 2,000 sprites (issue 7:
`--model sprites-betavae --n 2000`). On a shared machine the wall time grows with the load; the CPU
time (one thread) is what the t-SNE itself costs, and what an idle machine's wall time would be.

Quality, against the slow setting (openTSNE's own defaults: 250 + 500 iterations; `--no-reference`
skips it): the kNN recall (of each code's 10 nearest neighbours in latent space, the fraction that
are among its 10 nearest in the map), sklearn's trustworthiness, and how often a point's 10 nearest
neighbours in the map vote for its own class (beside the same vote in latent space).

    python bench/bench_tsne.py [--model mnist-betavae-16d] [--n 10000] [--repeats 2] [--no-reference]
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

K = 10


def neighbours(x: np.ndarray) -> np.ndarray:
    """(N, K) indices of each point's K nearest others (exact, Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=K + 1).fit(x).kneighbors(return_distance=False)[:, 1:]


def knn_recall(z_nn: np.ndarray, emb: np.ndarray) -> float:
    """Mean fraction of each point's K latent-space neighbours that are among its K map neighbours."""
    e_nn = neighbours(emb)
    return float(np.mean([len(np.intersect1d(a, b)) / K for a, b in zip(z_nn, e_nn)]))


def class_vote(nn: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points whose K nearest others' majority class is their own (leave-one-out kNN)."""
    votes = np.array([np.bincount(y[row], minlength=y.max() + 1).argmax() for row in nn])
    return float(np.mean(votes == y))


def quality(z: np.ndarray, z_nn: np.ndarray, y: np.ndarray, emb: np.ndarray) -> dict:
    from sklearn.manifold import trustworthiness

    return {"knn_recall_10": round(knn_recall(z_nn, emb), 3), "trustworthiness_10": round(float(trustworthiness(z, emb, n_neighbors=K)), 3),
            "class_vote_10": round(class_vote(neighbours(emb), y), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mnist-betavae-16d", help="a shipped model's id (checkpoints/manifest.json)")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-reference", action="store_true", help="skip the slow setting (openTSNE's defaults)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    entry = next(e for e in zoo.load_manifest() if e.id == args.model)
    model = zoo.load_entry(entry).build_model("cpu")
    data = load_dataset(entry.dataset)
    mu, _ = encode(model, data.x[: args.n], data.y[: args.n] if model.n_cond else None)
    z, y = mu.numpy().astype(np.float64), data.y[: args.n].numpy()
    load = [round(os.getloadavg()[0], 2)]
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        emb = tsne(z)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        print(f"t-SNE of {len(z)} codes ({z.shape[1]}-D): {times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU", flush=True)
    z_nn = neighbours(z)
    out = {"tsne": f"{tsne.__module__} ({Path(sys.modules[tsne.__module__].__file__).parent.parent.name})",
           "model": args.model, "points": len(z), "dims": z.shape[1], "seconds_median": round(float(np.median(times)), 2),
           "seconds_min": round(min(times), 2), "cpu_seconds_median": round(float(np.median(cpu)), 2),
           **quality(z, z_nn, y, emb), "latent_class_vote_10": round(class_vote(z_nn, y), 3)}
    if not args.no_reference:
        from openTSNE import TSNE

        t0, c0 = time.perf_counter(), time.process_time()
        slow = np.asarray(TSNE(n_jobs=1, random_state=0).fit(z))
        out["reference"] = {"setting": "openTSNE defaults (250 + 500 iterations)",
                            "seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
                            **quality(z, z_nn, y, slow)}
        print(f"reference (openTSNE's defaults): {out['reference']['seconds']:.2f} s wall, "
              f"{out['reference']['cpu_seconds']:.2f} s CPU", flush=True)
    load.append(round(os.getloadavg()[0], 2))
    print(json.dumps({**out, "loadavg_1min": load, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
