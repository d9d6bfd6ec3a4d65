"""Checkpoints: one .safetensors file, weights as tensors, everything else as JSON in its metadata.

Layout of the file:
  tensors   model.<name>            the model's state_dict
            optim.<i>.<key>         Adam state of parameter i (exp_avg, exp_avg_sq, step)
            rng.torch, rng.shuffle  RNG states (uint8), so a resumed run continues the same stream
  metadata  vae_core = JSON {format: "vae_core/1", config, data, metrics, progress}
            vae_core.history = JSON of the history (a key of its own: a reader that wants only the
            model need not parse it; older files kept it inside vae_core)

The same checkpoint is always the same bytes and sha256, in any process: safetensors writes the
metadata from a Rust HashMap, whose order is random, so the header is written again in one fixed
order (see _fixed_order).
  timeline  timeline.<name> tensors and a vae_core.timeline entry: the run's snapshots
            (vae_core.timeline.stored); one that fails its checks is dropped with the reason
            (Checkpoint.timeline_dropped) and the rest loads

Loading parses the header itself, rebuilds the model from the config on the meta device and
checks every tensor's name, dtype and shape against it. Nothing is ever unpickled.
"""
from __future__ import annotations

import json
import math
import struct
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from . import atomic
from .config import Config
from .models import Autoencoder
from .timeline import Timeline
from .timeline import stored as timeline_file

FORMAT = "vae_core/1"
MAX_HEADER = 64 * 2**20  # a real header is a few KB plus the history


class CheckpointError(ValueError):
    """The file is not a checkpoint this package can trust; the message says why."""


@dataclass
class Checkpoint:
    config: Config
    data: dict                                 # image_shape, class_names, source, n_train, n_val
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None = None        # torch Adam state_dict (resume only)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    progress: dict = field(default_factory=lambda: {"step": 0, "epoch": 0})
    timeline: Timeline | None = None           # the run's snapshots (vae_core.timeline)
    timeline_dropped: str = ""                 # why the file's timeline was dropped on reading ("" = it wasn't)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.data["image_shape"])

    @property
    def n_classes(self) -> int:
        return len(self.data["class_names"])

    def build_model(self, device: torch.device | str = "cpu") -> Autoencoder:
        """The model, weights loaded, in eval mode, on `device`."""
        model = Autoencoder(self.config, self.image_shape, self.n_classes)
        model.load_state_dict(self.model_state)
        return model.to(device).eval()

    def without_optimizer(self) -> "Checkpoint":
        """A smaller copy for sharing: weights and JSON, no optimizer or RNG state."""
        return replace(self, optimizer_state=None, rng={})


# --- writing -------------------------------------------------------------------------------


def to_bytes(ckpt: Checkpoint) -> bytes:
    """The checkpoint as the bytes of one .safetensors file."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in ckpt.model_state.items()}
    if ckpt.optimizer_state is not None:
        for i, state in ckpt.optimizer_state["state"].items():
            for key, value in state.items():
                t = torch.as_tensor(value).detach().cpu()
                tensors[f"optim.{i}.{key}"] = (t.reshape(1) if key == "step" else t).contiguous()
    for name, state in ckpt.rng.items():
        tensors[f"rng.{name}"] = state.cpu().contiguous()
    tensors.update(timeline_file.tensors(ckpt.timeline))
    meta = {"format": FORMAT, "config": ckpt.config.to_dict(), "data": ckpt.data, "metrics": ckpt.metrics,
            "progress": ckpt.progress}
    # the history (one row per step: megabytes of JSON after some minutes) in a key of its own, which a
    # reader that only wants the model need not parse (from_bytes(with_history=False)); files written before
    # kept it in "vae_core", and are read as they are
    blob = st_save(tensors, metadata={"vae_core": json.dumps(meta), "vae_core.history": json.dumps(ckpt.history),
                                      **timeline_file.metadata(ckpt.timeline)})
    return _fixed_order(blob)


def _fixed_order(blob: bytes) -> bytes:
    """The same safetensors file with its header in one order: the metadata's keys sorted, then the
    tensors in the order of their data, padded with spaces to a multiple of 8 bytes as safetensors
    pads it. (safetensors writes the metadata from a Rust HashMap, whose order changes from one
    process, even one call, to the next: the same checkpoint gave different bytes and sha256.)"""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    ordered = {"__metadata__": dict(sorted(header.pop("__metadata__", {}).items()))}
    ordered.update(sorted(header.items(), key=lambda item: (item[1]["data_offsets"], item[0])))
    text = json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text, memoryview(blob)[8 + n:]])


def save(ckpt: Checkpoint, path: str | Path) -> Path:
    """Write atomically (see atomic.py): a reader never sees half a checkpoint."""
    return atomic.write_bytes(path, to_bytes(ckpt))


# --- reading -------------------------------------------------------------------------------


def _sniff(blob: bytes) -> None:
    """Refuse, with a reason, what is plainly not a safetensors file."""
    if blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise CheckpointError("this file is a Python pickle; vae_core never unpickles files (they can run "
                              "code): use a .safetensors checkpoint written by vae_core")
    if blob[:4] == b"PK\x03\x04":
        raise CheckpointError("this file is a zip archive (torch.save format, pickles inside); vae_core "
                              "never unpickles files: use a .safetensors checkpoint written by vae_core")
    if len(blob) < 8:
        raise CheckpointError("this file is too short to be a checkpoint")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > min(MAX_HEADER, len(blob) - 8) or blob[8:9] != b"{":
        raise CheckpointError("this file is not a safetensors checkpoint (bad header)")


def _header_metadata(blob: bytes) -> tuple[dict, str | None, object]:
    """The vae_core metadata, parsed, the history's own metadata (unparsed; None in older files) and the
    timeline's (unchecked; None where there is none)."""
    (n,) = struct.unpack("<Q", blob[:8])
    try:
        header = json.loads(blob[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("this file is not a safetensors checkpoint (header is not JSON)") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or "vae_core" not in meta:
        raise CheckpointError("this safetensors file was not written by vae_core (no vae_core metadata)")
    try:
        payload = json.loads(meta["vae_core"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError("the checkpoint's vae_core metadata is not JSON") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"this checkpoint's format is not {FORMAT!r}")
    history = meta.get("vae_core.history")
    if history is not None and not isinstance(history, str):
        raise CheckpointError("the checkpoint's history metadata is not text")
    return payload, history, meta.get(timeline_file.KEY)


def _check_data(data) -> dict:
    ok = (isinstance(data, dict) and isinstance(data.get("image_shape"), list)
          and 1 <= len(data["image_shape"]) <= 3
          and all(type(s) is int and s > 0 for s in data["image_shape"])
          and math.prod(data["image_shape"]) <= 3 * 512 * 512
          and isinstance(data.get("class_names"), list) and 1 <= len(data["class_names"]) <= 10_000
          and all(isinstance(c, str) for c in data["class_names"]))
    if not ok:
        raise CheckpointError("the checkpoint's data description (image_shape, class_names) is invalid")
    return data


def _expect(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor], what: str) -> None:
    """Every expected tensor present with the right dtype and shape, and nothing else."""
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        raise CheckpointError(f"{what} tensors do not match the config: missing {missing[:5]}, unexpected {extra[:5]}")
    for k, w in want.items():
        g = got[k]
        if g.shape != w.shape or g.dtype != w.dtype:
            raise CheckpointError(f"{what} tensor {k} is {g.dtype}{tuple(g.shape)}, the config needs {w.dtype}{tuple(w.shape)}")
        if g.is_floating_point() and not torch.isfinite(g).all():
            raise CheckpointError(f"{what} tensor {k} holds NaN or infinite values")


def from_bytes(blob: bytes, with_history: bool = True) -> Checkpoint:
    """Parse and validate a checkpoint; raise CheckpointError with a clear message if anything is off.
    with_history=False: leave the training history out (empty), for a reader that wants the model."""
    _sniff(blob)
    payload, history_text, timeline_text = _header_metadata(blob)
    try:
        config = Config.from_dict(payload.get("config"))
    except ValueError as e:
        raise CheckpointError(f"the checkpoint's config is invalid: {e}") from None
    data = _check_data(payload.get("data"))
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"the checkpoint's tensors cannot be read: {e}") from None

    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optim": {}, "rng": {}, timeline_file.PREFIX: {}}
    for name, t in tensors.items():
        prefix, _, rest = name.partition(".")
        if prefix not in groups or not rest:
            raise CheckpointError(f"unexpected tensor {name!r} in checkpoint")
        groups[prefix][rest] = t

    try:
        with torch.device("meta"):  # shapes only, no memory, whatever the config says
            ref = Autoencoder(config, tuple(data["image_shape"]), len(data["class_names"]))
    except ValueError as e:
        raise CheckpointError(f"the checkpoint's config does not build a model: {e}") from None
    _expect(groups["model"], ref.state_dict(), "model")

    optimizer_state = None
    if groups["optim"]:
        want = {}
        for i, p in enumerate(ref.parameters()):
            want.update({f"{i}.step": torch.empty(1), f"{i}.exp_avg": torch.empty(p.shape),
                         f"{i}.exp_avg_sq": torch.empty(p.shape)})
        _expect(groups["optim"], want, "optimizer")
        state = {}
        for key, t in groups["optim"].items():
            i, _, name = key.partition(".")
            state.setdefault(int(i), {})[name] = t.reshape(()) if name == "step" else t
        optimizer_state = {"state": state}
    for name, t in groups["rng"].items():
        if t.dtype != torch.uint8 or t.dim() != 1:
            raise CheckpointError(f"rng tensor {name} must be a 1-D uint8 tensor")

    progress = payload.get("progress", {"step": 0, "epoch": 0})
    if not (isinstance(progress, dict) and all(type(progress.get(k)) is int and progress[k] >= 0 for k in ("step", "epoch"))):
        raise CheckpointError("the checkpoint's progress (step, epoch) is invalid")
    metrics = payload.get("metrics", {})
    if not with_history:
        history = {}
    elif history_text is None:  # written before the history had a key of its own
        history = payload.get("history", {})
    else:
        try:
            history = json.loads(history_text)
        except json.JSONDecodeError:
            raise CheckpointError("the checkpoint's history is not JSON") from None
    if not isinstance(history, dict) or not isinstance(metrics, dict):
        raise CheckpointError("the checkpoint's history and metrics must be JSON objects")
    ckpt = Checkpoint(config, data, groups["model"], optimizer_state, groups["rng"], history, metrics, progress)
    if with_history:  # the timeline is history too
        ckpt.timeline, ckpt.timeline_dropped = _timeline(groups[timeline_file.PREFIX], timeline_text, ckpt, ref)
    return ckpt


def _timeline(tensors: dict[str, torch.Tensor], text, ckpt: Checkpoint, model: Autoencoder):
    """(the checkpoint's timeline or None, why it was dropped or ""): vae_core.timeline.stored checks it."""
    n_val = ckpt.data.get("n_val")
    n_val = n_val if type(n_val) is int and n_val > 0 else 0
    return timeline_file.read(tensors, text if isinstance(text, str) or text is None else "", ckpt.config.latent_dim,
                              model.variational, ckpt.image_shape, n_val, ckpt.n_classes)


def load(path: str | Path) -> Checkpoint:
    """Read a checkpoint file; a missing file or a bad one is a CheckpointError."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    return from_bytes(blob)


class Cadence:
    """When a training loop saves its checkpoint: at an epoch's end if `min_s` have passed since the
    last save, and within a long epoch every `every_s`. The app's workers (runs.job) and the
    command line (cli.train) follow it alike."""

    def __init__(self, min_s: float = 2.0, every_s: float = 30.0):
        self.min_s, self.every_s = min_s, every_s
        self.last = time.monotonic()

    def due(self, epoch_end: bool) -> bool:
        since = time.monotonic() - self.last
        return (epoch_end and since >= self.min_s) or since >= self.every_s

    def saved(self) -> None:
        self.last = time.monotonic()
