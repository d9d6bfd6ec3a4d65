"""A timeline in the checkpoint file: tensors named timeline.<name>, and one small JSON entry.

    tensors   timeline.mu (S, N, D) float16, timeline.logvar (S, N, D) float16 and timeline.kl (S, D)
              float32 (VAE family), timeline.recon (S, R, *shape) float16, timeline.originals (R, *shape)
              float16, timeline.index (N,) int64, timeline.labels (N,) int64
    metadata  vae_core.timeline = JSON {format, steps_per_epoch, steps, epochs, betas, terms}

Reading checks every name, dtype, shape and value against the checkpoint's config and data; a
timeline that fails (a missing array, NaN, more than MAX_SNAPSHOTS or MAX_BYTES, ...) is dropped with
the reason, and the rest of the checkpoint loads as it would without it.
"""
from __future__ import annotations

import json
import math

import torch

from .recorder import MAX_BYTES, MAX_SNAPSHOTS, N_SHOWN, SUBSET
from .snapshots import Timeline

FORMAT = "vae_core-timeline/1"
KEY = "vae_core.timeline"   # its metadata entry
PREFIX = "timeline"         # its tensors' prefix


def tensors(tl: Timeline | None) -> dict[str, torch.Tensor]:
    """The tensors to save (named with PREFIX); {} for no timeline."""
    if tl is None or not len(tl):
        return {}
    out = {"index": tl.index, "labels": tl.labels, "originals": tl.originals,
           "mu": torch.stack(tl.mu), "recon": torch.stack(tl.recon)}
    if tl.variational:
        out.update(logvar=torch.stack(tl.logvar), kl=torch.stack(tl.kl).float())
    return {f"{PREFIX}.{k}": v.contiguous() for k, v in out.items()}


def metadata(tl: Timeline | None) -> dict[str, str]:
    """The metadata entry to save; {} for no timeline."""
    if tl is None or not len(tl):
        return {}
    return {KEY: json.dumps({"format": FORMAT, "steps_per_epoch": tl.steps_per_epoch, "steps": tl.steps,
                             "epochs": tl.epochs, "betas": tl.betas, "terms": tl.terms})}


class Dropped(ValueError):
    """Why a checkpoint's timeline cannot be used."""


def _number(v, low: float = -math.inf) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= low


def _entry(text) -> dict:
    try:
        meta = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise Dropped(f"its entry is not {FORMAT} JSON")
    steps, epochs, betas, terms = (meta.get(k) for k in ("steps", "epochs", "betas", "terms"))
    spe = meta.get("steps_per_epoch")
    if not all(isinstance(v, list) for v in (steps, epochs, betas, terms)) or not 1 <= len(steps) <= MAX_SNAPSHOTS:
        raise Dropped(f"it must list 1 to {MAX_SNAPSHOTS} snapshots' steps, epochs, betas and terms")
    if len({len(steps), len(epochs), len(betas), len(terms)}) != 1:
        raise Dropped("its lists of steps, epochs, betas and terms differ in length")
    if not (type(spe) is int and spe >= 1 and all(type(s) is int and s >= 0 for s in steps)
            and steps == sorted(steps) and all(_number(e, 0) for e in epochs) and all(_number(b, 0) for b in betas)):
        raise Dropped("its steps, epochs or betas are not increasing, non-negative finite numbers")
    if not all(isinstance(t, dict) and all(isinstance(k, str) and _number(v) for k, v in t.items()) for t in terms):
        raise Dropped("its loss terms are not finite numbers")
    return meta


def _check(got: dict[str, torch.Tensor], shapes: dict[str, tuple], dtypes: dict[str, torch.dtype]) -> None:
    missing, extra = sorted(set(shapes) - set(got)), sorted(set(got) - set(shapes))
    if missing or extra:
        raise Dropped(f"its arrays do not match: missing {missing}, unexpected {extra}")
    for k, shape in shapes.items():
        t = got[k]
        if tuple(t.shape) != shape or t.dtype != dtypes[k]:
            raise Dropped(f"its array {k} is {t.dtype}{tuple(t.shape)}, expected {dtypes[k]}{shape}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise Dropped(f"its array {k} holds NaN or infinite values")


def _build(got: dict[str, torch.Tensor], text, latent_dim: int, variational: bool, image_shape, n_val: int,
           n_classes: int) -> Timeline:
    meta = _entry(text)
    S = len(meta["steps"])
    mu = got.get("mu")
    if mu is None or mu.dim() != 3:
        raise Dropped("its array mu is missing or not (snapshots, examples, dims)")
    N, R = mu.shape[1], (got["originals"].shape[0] if "originals" in got and got["originals"].dim() else 0)
    if not 1 <= N <= min(SUBSET, n_val) or not 1 <= R <= N_SHOWN:
        raise Dropped(f"it holds {N} codes and {R} reconstructions a snapshot (at most {min(SUBSET, n_val)} and {N_SHOWN})")
    f16, i64 = torch.float16, torch.int64
    shapes = {"mu": (S, N, latent_dim), "recon": (S, R, *image_shape), "originals": (R, *image_shape),
              "index": (N,), "labels": (N,)}
    dtypes = {"mu": f16, "recon": f16, "originals": f16, "index": i64, "labels": i64}
    if variational:
        shapes.update(logvar=(S, N, latent_dim), kl=(S, latent_dim))
        dtypes.update(logvar=f16, kl=torch.float32)
    _check(got, shapes, dtypes)
    if sum(t.numel() * t.element_size() for t in got.values()) > MAX_BYTES:
        raise Dropped(f"it is larger than {MAX_BYTES // 2**20} MB")
    index, labels = got["index"], got["labels"]
    if not (index.min() >= 0 and index.max() < n_val and labels.min() >= 0 and labels.max() < n_classes):
        raise Dropped("its example indices or labels are out of range")
    tl = Timeline(index, labels, got["originals"], meta["steps_per_epoch"], variational)
    for s in range(S):
        tl.append(meta["steps"][s], meta["epochs"][s], meta["betas"][s], meta["terms"][s], got["mu"][s],
                  got["logvar"][s] if variational else None, got["recon"][s], got["kl"][s] if variational else None)
    return tl


def read(got: dict[str, torch.Tensor], text: str | None, latent_dim: int, variational: bool, image_shape,
         n_val: int, n_classes: int) -> tuple[Timeline | None, str]:
    """A checkpoint's timeline from its PREFIX tensors (names without the prefix) and metadata entry:
    (the timeline, "") or, when there is none, (None, ""), or when it is unusable (None, why)."""
    if not got and text is None:
        return None, ""
    try:
        if text is None:
            raise Dropped("its arrays are there but not its entry (steps, epochs, betas)")
        return _build(got, text, latent_dim, variational, tuple(image_shape), n_val, n_classes), ""
    except Dropped as e:
        return None, f"its timeline was dropped ({e}); the model and its history are loaded without it"
