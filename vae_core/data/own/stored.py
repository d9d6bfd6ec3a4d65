"""A converted dataset as one .safetensors file (never a pickle), and where a workspace keeps them.

    tensors   x  (N, C, H, W) uint8 images, or (N, D) float32 points
              y  (N,) int64 labels 0..K-1
    metadata  vae_core_dataset = JSON {format, class_names, report}

Reading checks everything before it is trusted (the bytes may come over the network, to a Ray
worker): the header's size, the two tensors' dtypes and shapes, the labels' range, the report, and
that the data's digest is the one it claims (the id a workspace and a config name it by).
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Mapping

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from .conversion import FORMAT, Converted, Report, digest
from .limits import MAX_CLASSES, MAX_EXAMPLES, DataRefused

FOLDER = "datasets"        # in a workspace's folder: <id>.safetensors (+ the store's <id>.json)
KEY = "vae_core_dataset"
MAX_HEADER = 4 * 2**20


def file_in(workspace: str | Path, dataset_id: str) -> Path:
    """Where a workspace (its folder) keeps dataset `dataset_id`."""
    return Path(workspace) / FOLDER / f"{dataset_id}.safetensors"


def to_bytes(conv: Converted) -> bytes:
    meta = {"format": FORMAT, "class_names": list(conv.class_names), "report": conv.report.to_json()}
    return st_save({"x": np.ascontiguousarray(conv.x), "y": np.ascontiguousarray(conv.y)},
                   metadata={KEY: json.dumps(meta)})


def from_bytes(blob: bytes, where: str) -> Converted:
    """A stored dataset, checked; DataRefused says what is wrong."""
    if len(blob) < 8:
        raise DataRefused(where, "not a stored dataset (too short)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(MAX_HEADER, len(blob) - 8):
        raise DataRefused(where, "not a stored dataset (bad header size)")
    try:
        header = json.loads(blob[8:8 + n])
        meta = json.loads(header["__metadata__"][KEY])
        tensors = st_load(blob)
    except (ValueError, KeyError, TypeError, SafetensorError) as e:
        raise DataRefused(where, f"not a stored dataset ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or set(tensors) != {"x", "y"}:
        raise DataRefused(where, "not a stored dataset (format or tensors)")
    x, y, names = tensors["x"], tensors["y"], meta.get("class_names")
    images = x.dtype == np.uint8 and x.ndim == 4 and x.shape[1] in (1, 3)
    points = x.dtype == np.float32 and x.ndim == 2 and np.isfinite(x).all()
    if not (images or points) or not 2 <= len(x) <= MAX_EXAMPLES or y.dtype != np.int64 or y.shape != (len(x),):
        raise DataRefused(where, f"a stored dataset with tensors of shapes {x.shape} {x.dtype}, {y.shape} {y.dtype}")
    if not (isinstance(names, list) and 1 <= len(names) <= MAX_CLASSES and all(isinstance(c, str) for c in names)):
        raise DataRefused(where, "a stored dataset whose class names are invalid")
    if y.min() < 0 or y.max() >= len(names):
        raise DataRefused(where, "a stored dataset whose labels are out of range")
    try:
        report = Report(**meta["report"])
        claimed = report.converted["digest"]
    except (KeyError, TypeError) as e:
        raise DataRefused(where, f"a stored dataset whose description is invalid ({e})") from None
    if digest(x, y, tuple(names)) != claimed:
        raise DataRefused(where, "a stored dataset whose data does not match its digest (damaged or altered)")
    return Converted(x, y, tuple(names), report)


def read(workspace: str | Path | Mapping[str, bytes], dataset_id: str) -> Converted | None:
    """Dataset `dataset_id` of a workspace (its folder, or {id: stored bytes} sent to a worker), or None."""
    if isinstance(workspace, Mapping):
        blob = workspace.get(dataset_id)
        where = f"dataset {dataset_id}"
    else:
        path = file_in(workspace, dataset_id)
        where = str(path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # never out of the workspace by a link
        except FileNotFoundError:
            return None
        except OSError as e:
            raise DataRefused(where, f"cannot be read ({e.strerror or e})") from None
        with os.fdopen(fd, "rb") as f:
            blob = f.read()
    if blob is None:
        return None
    conv = from_bytes(blob, where)
    if conv.digest != dataset_id:
        raise DataRefused(where, f"holds dataset {conv.digest}, not {dataset_id}")
    return conv
