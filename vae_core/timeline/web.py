"""What the page's timeline (ui/timeline/timeline.js) is sent for one run: a JSON spec and one byte buffer,
once per run and view, so that scrubbing and playing need nothing more from the server.

    spec   S, N, R, D, shape, axes, note, steps_per_epoch, steps, epochs, betas, terms, bounds_run, bounds_each,
           marks ([step, β] where β was changed), warmup (steps of KL warm-up), curves, kl_max, arrays
    bytes  the arrays at the offsets `arrays` names ({name: [byte offset, dtype, count]}), each 4-byte aligned:
           xy (S, N, 2) float16: the map's two coordinates of every code at every snapshot
           labels (N,) uint8 or uint16
           recon (S, R, P) uint8 / originals (R, P) uint8: pictures as grey or RGB levels, P = C*H*W
             (float32 for 2-D point data, where they are points, not pictures)
           kl (S, D) float32: the per-dim KL (VAE family)

`decode(spec, data)` reads it back the way the page does (the tests compare the two).
"""
from __future__ import annotations

import math

import numpy as np

from .snapshots import Timeline, project

CURVE_POINTS = 300   # a curve is sent as at most this many bin means


def _square(lo: np.ndarray, hi: np.ndarray, pad: float = 0.08) -> list[float]:
    """A square box (x0, x1, y0, y1) around [lo, hi], padded: the map keeps z's aspect ratio."""
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-3) * (1 + pad)
    return [float(centre[0] - half), float(centre[0] + half), float(centre[1] - half), float(centre[1] + half)]


def bounds(xy: np.ndarray) -> tuple[list[float], list[list[float]]]:
    """(the box that holds every snapshot, one box per snapshot), each around the middle 99 % of the
    codes (a few far-flung codes do not shrink the rest to a dot)."""
    lo, hi = np.quantile(xy, 0.005, axis=1), np.quantile(xy, 0.995, axis=1)  # (S, 2) each
    return _square(lo.min(0), hi.max(0)), [_square(a, b) for a, b in zip(lo, hi)]


def beta_marks(history: dict, warmup: int) -> list[list[float]]:
    """[step, β] wherever β changed between two training steps after the warm-up (a live change)."""
    cols = history.get("train", {})
    steps, betas = cols.get("step", []), cols.get("beta", [])
    return [[int(steps[i]) + 1, float(betas[i])] for i in range(1, min(len(steps), len(betas)))
            if steps[i] >= warmup and not math.isclose(betas[i], betas[i - 1], rel_tol=1e-9, abs_tol=1e-12)]


def curves(history: dict) -> dict[str, list[float]]:
    """The training curves as bin means over at most CURVE_POINTS bins of steps, log-spaced (the page draws
    steps on a log scale, so the first steps keep their own bins): {"step": [...], term: [...]} for loss,
    recon, kl or penalty, and beta where it varies. (Each step's value is of its own batch.)"""
    cols = history.get("train", {})
    step = np.asarray(cols.get("step", []), dtype=np.float64) + 1  # the weights this step made
    if not len(step):
        return {}
    names = [k for k in ("loss", "recon", "kl", "penalty", "beta") if len(cols.get(k, [])) == len(step)]
    if "beta" in names and np.ptp(cols["beta"]) == 0:
        names.remove("beta")
    edges = np.unique(np.floor(np.geomspace(step.min(), step.max() + 1, min(CURVE_POINTS, len(step)) + 1)))
    which = np.clip(np.searchsorted(edges, step, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(which, minlength=len(edges) - 1)
    keep = count > 0

    def mean(v):
        return (np.bincount(which, np.asarray(v, dtype=np.float64), len(edges) - 1)[keep] / count[keep]).round(4).tolist()
    return {"step": mean(step), **{k: mean(cols[k]) for k in names}}


def _u8(pictures: np.ndarray) -> np.ndarray:
    return (np.clip(pictures, 0, 1) * 255).round().astype(np.uint8)


def export(tl: Timeline, history: dict, view: str = "dims", dims: tuple[int, int] = (0, 1), warmup: int = 0
           ) -> tuple[dict, bytes]:
    """The timeline as the page reads it: (spec, bytes)."""
    xy, axes, note = project(tl, view, dims)                     # (S, N, 2)
    S, N = xy.shape[:2]
    recon = np.stack([r.float().numpy() for r in tl.recon])      # (S, R, *shape)
    originals = tl.originals.float().numpy()
    shape = list(originals.shape[1:])
    image = len(shape) == 3
    chunks: list[bytes] = []
    arrays: dict[str, list] = {}
    at = 0

    def put(name: str, a: np.ndarray) -> None:
        nonlocal at
        raw = np.ascontiguousarray(a).tobytes()
        arrays[name] = [at, a.dtype.name, int(a.size)]
        chunks.append(raw + b"\0" * (-len(raw) % 4))
        at += len(chunks[-1])

    put("xy", xy.astype("<f2"))
    labels = tl.labels.numpy()
    put("labels", labels.astype(np.uint8 if labels.max(initial=0) < 256 else "<u2"))
    if image:
        put("recon", _u8(recon.reshape(S, len(originals), -1)))
        put("originals", _u8(originals.reshape(len(originals), -1)))
    else:
        put("recon", recon.reshape(S, len(originals), -1).astype("<f4"))
        put("originals", originals.reshape(len(originals), -1).astype("<f4"))
    kl_max = 0.0
    if tl.variational:
        kl = np.stack([k.float().numpy() for k in tl.kl])         # (S, D)
        put("kl", kl.astype("<f4"))
        kl_max = float(kl.max(initial=0.0))
    run_box, each = bounds(xy.astype(np.float32))
    spec = {"S": S, "N": N, "R": len(originals), "D": tl.latent_dim, "shape": shape, "image": image,
            "axes": list(axes), "note": note, "variational": tl.variational, "steps_per_epoch": tl.steps_per_epoch, "steps": list(tl.steps),
            "epochs": list(tl.epochs), "betas": list(tl.betas), "terms": list(tl.terms),
            "bounds_run": run_box, "bounds_each": each, "marks": beta_marks(history, warmup), "warmup": int(warmup),
            "curves": curves(history), "kl_max": kl_max, "arrays": arrays, "size": at}
    return spec, b"".join(chunks)


def decode(spec: dict, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of `export`, as the page reads them (shapes from the spec)."""
    S, N, R = spec["S"], spec["N"], spec["R"]
    shapes = {"xy": (S, N, 2), "labels": (N,), "recon": (S, R, -1), "originals": (R, -1), "kl": (S, -1)}
    out = {}
    for name, (offset, dtype, count) in spec["arrays"].items():
        out[name] = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"), count=count, offset=offset).reshape(shapes[name])
    return out
