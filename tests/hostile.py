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


WITH_TIMELINE = (ROOT / "checkpoints" / "digits-vae-2d.safetensors").read_bytes()  # a shipped VAE, with its timeline


def _all_parts(blob: bytes) -> tuple[dict, dict]:
    """(tensors, every metadata entry as text) of a safetensors checkpoint."""
    (n,) = struct.unpack("<Q", blob[:8])
    return st_load(blob), json.loads(blob[8:8 + n])["__metadata__"]


def timeline_files() -> list[tuple[str, bytes, str]]:
    """Checkpoints whose model is fine but whose timeline is not: (file name, bytes, words the message
    that drops the timeline holds). Each must load, without its timeline."""
    tensors, meta = _all_parts(WITH_TIMELINE)
    entry = json.loads(meta["vae_core.timeline"])
    S = len(entry["steps"])
    tl = {k: v for k, v in tensors.items() if k.startswith("timeline.")}
    assert tl, "the shipped digits-vae-2d has no timeline: run python checkpoints/make.py"

    def file(changed: dict | None = None, gone=(), entry_text: str | None = None, drop_entry=False) -> bytes:
        t = {k: v for k, v in {**tensors, **(changed or {})}.items() if k not in gone}
        m = {k: v for k, v in meta.items() if not (drop_entry and k == "vae_core.timeline")}
        if entry_text is not None:
            m["vae_core.timeline"] = entry_text
        return st_save(t, metadata=m)

    nan = tl["timeline.mu"].clone()
    nan[S // 2, 0, 0] = float("nan")
    many = 200 // S + 1  # every series repeated: more snapshots than any run keeps
    longer = {k: torch.cat([v] * many) for k, v in tl.items() if k in ("timeline.mu", "timeline.logvar", "timeline.recon", "timeline.kl")}
    long_entry = {**entry, **{k: entry[k] * many for k in ("steps", "epochs", "betas", "terms")}}
    long_entry["steps"] = sorted(long_entry["steps"])
    wide = {k: torch.cat([v] * 30, dim=1) for k, v in tl.items() if k in ("timeline.mu", "timeline.logvar")}
    labels = tl["timeline.labels"].clone()
    labels[0] = 99
    return [
        ("timeline-missing.safetensors", file(gone=("timeline.recon",)), "missing ['recon']"),
        ("timeline-nan.safetensors", file({"timeline.mu": nan}), "NaN"),
        ("timeline-snapshots.safetensors", file(longer, entry_text=json.dumps(long_entry)), "1 to 80 snapshots"),
        ("timeline-examples.safetensors", file(wide), "codes and"),
        ("timeline-no-entry.safetensors", file(drop_entry=True), "not its entry"),
        ("timeline-bad-entry.safetensors", file(entry_text='{"format": "vae_core-timeline/1", "steps": [1, 2'), "not vae_core-timeline/1 JSON"),
        ("timeline-short-entry.safetensors", file(entry_text=json.dumps({**entry, "steps": entry["steps"][:-1]})), "differ in length"),
        ("timeline-labels.safetensors", file({"timeline.labels": labels}), "out of range"),
        ("timeline-dtype.safetensors", file({"timeline.mu": tl["timeline.mu"].float()}), "expected torch.float16"),
    ]
