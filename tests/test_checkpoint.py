"""Checkpoints: exact round trips, atomic writes, and refusal of anything that is not ours (never unpickled)."""
from __future__ import annotations

import builtins
import hashlib
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from conftest import tiny
from vae_core import CheckpointError, Trainer, atomic, checkpoint
from vae_core.checkpoint import from_bytes, to_bytes

ROOT = Path(__file__).resolve().parents[1]

CASES = {  # name -> config changes
    "vae": {},
    "cvae": {},
    "sparse_ae": {"sparsity": "kl"},
    "contractive_ae": {"arch": "conv", "hidden": (4, 8)},
    "dae": {"likelihood": "gaussian", "corruption": "masking"},
}


def trained(name: str, split, steps: int = 5, **changes) -> Trainer:
    """A trainer a few steps in, so Adam has state and the history is not empty."""
    train, val = split
    trainer = Trainer(tiny(name, **changes), train, val)
    for report in trainer.run():
        if report.step == steps:
            trainer.stop()
    return trainer


@pytest.fixture(scope="module")
def vae_blob(digits_split) -> bytes:
    return to_bytes(trained("vae", digits_split).checkpoint())


def rewrite(blob: bytes, tensors=None, meta=None, history: str | None = None) -> bytes:
    """The same checkpoint with its tensors, its vae_core metadata and / or its history's own
    metadata (the text) changed."""
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])["__metadata__"]
    payload = json.loads(header["vae_core"])
    if meta is not None:
        meta(payload)
    new = st_load(blob)
    if tensors is not None:
        tensors(new)
    return st_save(new, metadata={**header, "vae_core": json.dumps(payload),
                                  **({"vae_core.history": history} if history is not None else {})})


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_reproduces_outputs_exactly(name, digits_split, tmp_path):
    trainer = trained(name, digits_split, **CASES[name])
    ckpt = trainer.checkpoint()
    path = checkpoint.save(ckpt, tmp_path / "m.safetensors")
    back = checkpoint.load(path)

    assert back.config == ckpt.config and back.data == ckpt.data
    assert back.history == ckpt.history and back.progress == {"step": 5, "epoch": 0}
    assert back.model_state.keys() == ckpt.model_state.keys()
    assert all(torch.equal(back.model_state[k], v) for k, v in ckpt.model_state.items())
    for i, state in ckpt.optimizer_state["state"].items():
        assert state.keys() == back.optimizer_state["state"][i].keys()
        assert all(torch.equal(back.optimizer_state["state"][i][k], v) for k, v in state.items())
    assert all(torch.equal(back.rng[k], v) for k, v in ckpt.rng.items())

    model = back.build_model()
    original = trainer.model.eval()
    assert not model.training
    x, y = digits_split[1].x[:16], digits_split[1].y[:16]
    with torch.no_grad():
        for a, b in zip(model.encode(x, y), original.encode(x, y)):
            assert (a is None and b is None) or torch.equal(a, b)
        z = torch.randn(9, model.latent_dim)
        assert torch.equal(model.decode(z, y[:9]), original.decode(z, y[:9]))
        torch.manual_seed(3)
        out_a = model(x, y)
        torch.manual_seed(3)
        out_b = original(x, y)
    assert all(torch.equal(out_a[k], out_b[k]) for k in out_a if out_a[k] is not None)


def test_save_is_atomic(digits_split, tmp_path, monkeypatch):
    ckpt = trained("vae", digits_split).checkpoint()
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"an older file")
    checkpoint.save(ckpt, path)
    assert os.listdir(tmp_path) == ["m.safetensors"]  # replaced, and no temporary file left
    good = path.read_bytes()
    assert all(torch.equal(from_bytes(good).model_state[k], v) for k, v in ckpt.model_state.items())

    for where in ("fsync", "replace"):  # a failure while writing or renaming ...
        with monkeypatch.context() as m:
            def boom(*args, **kwargs):
                raise OSError(f"disk full ({where})")
            m.setattr(atomic.os, where, boom)
            with pytest.raises(OSError, match="disk full"):
                checkpoint.save(trained("vae", digits_split, steps=2).checkpoint(), path)
        assert os.listdir(tmp_path) == ["m.safetensors"]  # ... leaves no temporary file
        assert path.read_bytes() == good  # ... and the old checkpoint untouched
    nested = checkpoint.save(ckpt, tmp_path / "new" / "dir" / "m.safetensors")
    assert checkpoint.load(nested).config == ckpt.config


class Evil:
    """Unpickling this creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_is_refused_and_never_unpickled(protocol, tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"model": Evil(marker)}, protocol=protocol)
    canary = tmp_path / "canary"
    pickle.loads(pickle.dumps(Evil(canary), protocol=protocol)).close()
    assert canary.exists()  # the payload is live: unpickling it would create the marker
    path = tmp_path / "evil.safetensors"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(path)
    assert not marker.exists()
    if protocol >= 2:  # protocols 0 and 1 have no magic number; refused as "not safetensors"
        assert "pickle" in str(info.value)


def test_torch_save_files_are_refused(tmp_path):
    state = {"model": {"w": torch.zeros(3)}, "config": {"latent_dim": 2}}
    for zipped in (True, False):
        path = tmp_path / f"model-{zipped}.pt"
        torch.save(state, path, _use_new_zipfile_serialization=zipped)
        with pytest.raises(CheckpointError, match="pickle"):
            checkpoint.load(path)


def _mutations(blob: bytes) -> dict[str, bytes]:
    def shape(t):
        t["model.encoder.net.0.weight"] = t["model.encoder.net.0.weight"][:, :-1].contiguous()

    def nan(t):
        t["model.decoder.net.2.bias"][3] = float("nan")

    def inf_adam(t):
        t["optim.0.exp_avg_sq"][0, 0] = float("inf")

    def extra(t):
        t["model.extra"] = torch.zeros(2)

    def missing(t):
        del t["model.decoder.net.2.bias"]

    def stranger(t):
        t["evil"] = torch.zeros(1)

    def rng(t):
        t["rng.torch"] = t["rng.torch"].float()

    def dtype(t):
        t["model.encoder.net.0.bias"] = t["model.encoder.net.0.bias"].double()

    def config(key, value):
        return lambda p: p["config"].__setitem__(key, value)

    return {
        "empty": b"",
        "truncated to 4 bytes": blob[:4],
        "truncated in the header": blob[:200],
        "truncated in the data": blob[:-100],
        "random bytes": bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0)).tolist()),
        "zip magic": b"PK\x03\x04" + blob,
        "header length too large": struct.pack("<Q", len(blob)) + blob[8:],
        "header not JSON": struct.pack("<Q", 4) + b"{abc" + b"\0" * 16,
        "foreign safetensors": st_save({"weight": torch.ones(2, 2)}),
        "foreign with metadata": st_save({"weight": torch.ones(2, 2)}, metadata={"format": "pt"}),
        "vae_core metadata not JSON": st_save(st_load(blob), metadata={"format": "vae_core/1", "vae_core": "{"}),
        "tensor shape altered": rewrite(blob, tensors=shape),
        "tensor dtype altered": rewrite(blob, tensors=dtype),
        "NaN weights": rewrite(blob, tensors=nan),
        "inf in Adam state": rewrite(blob, tensors=inf_adam),
        "extra model tensor": rewrite(blob, tensors=extra),
        "missing model tensor": rewrite(blob, tensors=missing),
        "unknown tensor group": rewrite(blob, tensors=stranger),
        "float rng state": rewrite(blob, tensors=rng),
        "unknown config key": rewrite(blob, meta=config("depth", 3)),
        "latent_dim 0": rewrite(blob, meta=config("latent_dim", 0)),
        "latent_dim not matching weights": rewrite(blob, meta=config("latent_dim", 5)),
        "latent_dim a float": rewrite(blob, meta=config("latent_dim", 3.0)),
        "unknown model": rewrite(blob, meta=config("model", "gan")),
        "negative beta": rewrite(blob, meta=config("beta", -1.0)),
        "config not an object": rewrite(blob, meta=lambda p: p.__setitem__("config", [1, 2])),
        "image shape of another size": rewrite(blob, meta=lambda p: p["data"].__setitem__("image_shape", [1, 9, 9])),
        "image shape negative": rewrite(blob, meta=lambda p: p["data"].__setitem__("image_shape", [1, -8, -8])),
        "no class names": rewrite(blob, meta=lambda p: p["data"].__setitem__("class_names", [])),
        "progress negative": rewrite(blob, meta=lambda p: p.__setitem__("progress", {"step": -1, "epoch": 0})),
        "history a list": rewrite(blob, history="[]"),
        "history not JSON": rewrite(blob, history='{"train": {"step": [1, 2'),
    }


def test_corrupt_or_foreign_files_are_refused(vae_blob, tmp_path):
    assert checkpoint.from_bytes(vae_blob).config.model == "vae"  # the unmutated blob loads
    wrong = []
    for what, blob in _mutations(vae_blob).items():
        path = tmp_path / "bad.safetensors"
        path.write_bytes(blob)
        try:
            checkpoint.load(path)
        except CheckpointError:
            continue
        except Exception as e:  # noqa: BLE001 - anything else is a bug
            wrong.append(f"{what}: {type(e).__name__}: {e}")
        else:
            wrong.append(f"{what}: loaded")
    assert not wrong
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.load(tmp_path / "missing.safetensors")


def test_byte_flips_in_the_header_give_a_checkpoint_error_or_a_valid_checkpoint(vae_blob):
    n = struct.unpack("<Q", vae_blob[:8])[0]
    g = torch.Generator().manual_seed(0)
    positions = torch.randint(0, 8 + n, (300,), generator=g).tolist()
    values = torch.randint(0, 256, (300,), generator=g).tolist()
    loaded, wrong = 0, []
    for pos, value in zip(positions, values):
        blob = bytearray(vae_blob)
        blob[pos] = value
        try:
            ckpt = from_bytes(bytes(blob))
            ckpt.build_model()  # whatever loads must also build
        except CheckpointError:
            continue
        except Exception as e:  # noqa: BLE001 - anything else is a bug
            wrong.append(f"byte {pos} -> {value}: {type(e).__name__}: {e}")
            continue
        loaded += 1
    assert not wrong
    assert loaded < 300


def test_without_optimizer_is_smaller_and_still_loads(digits_split, tmp_path):
    trainer = trained("vae", digits_split)
    full = trainer.checkpoint()
    slim = full.without_optimizer()
    big, small = to_bytes(full), to_bytes(slim)
    assert len(small) < len(big)
    back = from_bytes(small)
    assert back.optimizer_state is None and back.rng == {}
    x = digits_split[1].x[:8]
    with torch.no_grad():
        assert torch.equal(back.build_model().encode(x)[0], trainer.model.eval().encode(x)[0])
    resumed = Trainer(full.config, *digits_split, resume=back)  # weights only: a fresh Adam
    assert all(torch.equal(resumed.model.state_dict()[k], v) for k, v in full.model_state.items())
    assert resumed.optimizer.state_dict()["state"] == {}


def test_the_model_loads_without_its_history_and_older_files_keep_theirs(vae_blob):
    """The history (a row per step: megabytes after some minutes of training) has a metadata key of
    its own, which from_bytes(with_history=False) leaves unparsed; a file written before, with the
    history inside the vae_core metadata, still loads with it."""
    full = checkpoint.from_bytes(vae_blob)
    assert full.history["train"]["loss"]  # this fixture trained: it has curves
    n = struct.unpack("<Q", vae_blob[:8])[0]
    header = json.loads(vae_blob[8:8 + n])["__metadata__"]
    assert "history" not in json.loads(header["vae_core"]) and json.loads(header["vae_core.history"]) == full.history
    bare = checkpoint.from_bytes(vae_blob, with_history=False)
    assert bare.history == {} and bare.progress == full.progress and bare.metrics == full.metrics
    assert all(torch.equal(bare.model_state[k], v) for k, v in full.model_state.items())
    # a file from before the split: one vae_core key, the history inside it
    payload = {**json.loads(header["vae_core"]), "history": full.history}
    older = st_save(st_load(vae_blob), metadata={"vae_core": json.dumps(payload)})
    assert checkpoint.from_bytes(older).history == full.history
    assert checkpoint.from_bytes(older, with_history=False).history == {}


SAME_CHECKPOINT = """
import hashlib, sys, torch
from vae_core import Config, checkpoint
from vae_core.models import Autoencoder
torch.manual_seed(0)
cfg = Config(model="vae", hidden=(16,), latent_dim=2)
model = Autoencoder(cfg, (1, 8, 8), 10)
ckpt = checkpoint.Checkpoint(cfg, {"image_shape": [1, 8, 8], "class_names": list("0123456789")}, model.state_dict(),
                             history={"step": [1, 2, 3], "loss": [9.5, 7.25, 6.0]}, metrics={"val_loss": 6.5},
                             progress={"step": 3, "epoch": 1})
for _ in range(8):  # the order of a Rust HashMap changes from call to call, not only between processes
    print(hashlib.sha256(checkpoint.to_bytes(ckpt)).hexdigest())
sys.stdout.buffer.write(checkpoint.to_bytes(ckpt))
"""


def test_the_same_checkpoint_is_the_same_bytes_in_every_process():
    """Same weights, config and history: the same bytes and sha256 in four fresh processes (8 writes
    each), a file safetensors itself loads, and a header in the fixed order to_bytes promises."""
    outputs = [subprocess.run([sys.executable, "-c", SAME_CHECKPOINT], cwd=ROOT, capture_output=True, check=True).stdout
               for _ in range(4)]
    digests = {line for out in outputs for line in out.split(b"\n")[:8]}
    assert len(digests) == 1, digests
    blob = outputs[0].split(b"\n", 8)[8]
    assert hashlib.sha256(blob).hexdigest().encode() in digests
    tensors = st_load(blob)  # safetensors' own reader
    ours = from_bytes(blob)
    assert tensors.keys() == {f"model.{k}" for k in ours.model_state}
    assert all(torch.equal(tensors[f"model.{k}"], v) for k, v in ours.model_state.items())
    assert ours.history == {"step": [1, 2, 3], "loss": [9.5, 7.25, 6.0]} and ours.progress == {"step": 3, "epoch": 1}
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    assert n % 8 == 0 and n - 8 < len(blob[8:8 + n].rstrip(b" "))  # padded with fewer than 8 spaces
    assert list(header) == ["__metadata__", *sorted(tensors, key=lambda k: header[k]["data_offsets"])]
    assert list(header["__metadata__"]) == ["vae_core", "vae_core.history"]
    # the data after the header is what safetensors writes for these tensors
    reference = st_save(tensors)
    assert blob[8 + n:] == reference[8 + struct.unpack("<Q", reference[:8])[0]:]
