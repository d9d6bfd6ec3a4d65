"""Files a classroom might upload instead of a checkpoint, each with the words its refusal must hold."""
from __future__ import annotations

import io
import json
import pickle
import random
import struct
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

ROOT = Path(__file__).resolve().parents[1]
GOOD = (ROOT / "checkpoints" / "digits-ae-2d.safetensors").read_bytes()


def _parts(blob: bytes) -> tuple[dict, dict]:
    """(tensors, the vae_core metadata) of a safetensors checkpoint."""
    (n,) = struct.unpack("<Q", blob[:8])
    return st_load(blob), json.loads(json.loads(blob[8:8 + n])["__metadata__"]["vae_core"])


def _rewrite(tensors: dict, meta: dict) -> bytes:
    return st_save(tensors, metadata={"vae_core": json.dumps(meta)})


def _huge_header() -> bytes:
    (n,) = struct.unpack("<Q", GOOD[:8])
    header = json.loads(GOOD[8:8 + n])
    name = next(k for k in header if k.startswith("model."))
    header[name]["shape"] = [1_000_000, 1_000_000]  # 4 TB of float32
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + GOOD[8 + n:]


def hostile_files(marker: Path) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, words the refusal names). Unpickling the second one would create `marker`."""
    tensors, meta = _parts(GOOD)
    first = next(k for k in tensors if k.startswith("model."))
    renamed = {("model.evil" if k == first else k): v for k, v in tensors.items()}
    reshaped = {**tensors, first: torch.zeros(3, 3)}
    nan = {**tensors, first: torch.full_like(tensors[first], float("nan"))}
    absurd = {**meta, "config": {**meta["config"], "latent_dim": 10**9}}
    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buf)
    rng = random.Random(0)
    return [
        ("pickle.safetensors", pickle.dumps({"weights": [0.0] * 10}), "pickle"),
        ("payload.safetensors", f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(), "not a safetensors"),
        ("torch_save.safetensors", buf.getvalue(), "zip archive"),
        ("truncated.safetensors", GOOD[:len(GOOD) // 2], "bad header"),
        ("noise.safetensors", rng.randbytes(50_000), "bad header"),
        ("huge.safetensors", _huge_header(), "cannot be read"),
        ("renamed.safetensors", _rewrite(renamed, meta), "unexpected ['evil']"),
        ("shape.safetensors", _rewrite(reshaped, meta), "the config needs"),
        ("nan.safetensors", _rewrite(nan, meta), "NaN"),
        ("config.safetensors", _rewrite(tensors, absurd), "config is invalid"),
    ]
