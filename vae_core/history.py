"""A run's training history out of its checkpoint, in the formats other tools read.

A checkpoint's history (vae_core.trainer) is columns: `train` one row per optimizer step (step, β,
the batch's loss terms), `val` one row per epoch (epoch, step, the validation terms, KL per dim),
and `speed` one row per epoch (examples per second of wall time, validation included; checkpoints
written before it have none). As tables:

    train.csv  step, epoch, beta, lr, loss, recon, kl | penalty, images_per_s   (one row per step)
    val.csv    epoch, step, loss, recon, kl | penalty, kl_per_dim_0, kl_per_dim_1, ...

`epoch` on a train row is the epoch the step belongs to (1-based); `lr` is Adam's learning rate,
constant over a run (no schedule); `images_per_s` stands on the last step of each epoch, empty
elsewhere. Numbers are written as Python's repr, so they read back as the same floats.

TensorBoard: one event file (vae_core.tfevents) with the scalars `train/<column>` at every step and
`val/<column>` at every epoch's last step (`val/kl_per_dim/<d>` for each latent dim).
"""
from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from bisect import bisect_left
from pathlib import Path

from . import atomic, tfevents
from .checkpoint import Checkpoint

TERMS = ("loss", "recon", "kl", "penalty")  # the loss terms, in this order, where a run has them


def _speed_at(ckpt: Checkpoint) -> dict[int, float]:
    """step -> images per second of the epoch that ended at that step."""
    speed = ckpt.history.get("speed", {})
    return dict(zip(speed.get("step", []), speed.get("images_per_s", [])))


def train_table(ckpt: Checkpoint) -> tuple[list[str], list[list]]:
    """(columns, rows) of every logged training step."""
    train, val = ckpt.history.get("train", {}), ckpt.history.get("val", {})
    steps = list(train.get("step", []))
    ends = list(val.get("step", []))  # the last step of each epoch, in order
    speed = _speed_at(ckpt)
    terms = [t for t in TERMS if t in train]
    columns = ["step", "epoch", "beta", "lr", *terms, "images_per_s"]
    rows = []
    for i, step in enumerate(steps):
        beta = train["beta"][i] if "beta" in train else ckpt.config.beta
        rows.append([step, bisect_left(ends, step) + 1, beta, ckpt.config.lr, *(train[t][i] for t in terms),
                     speed.get(step, "")])
    return columns, rows


def val_table(ckpt: Checkpoint) -> tuple[list[str], list[list]]:
    """(columns, rows) of the validation terms at each epoch's end; KL per dim in columns of its own."""
    val = ckpt.history.get("val", {})
    terms = [t for t in TERMS if t in val]
    dims = len(val["kl_per_dim"][0]) if val.get("kl_per_dim") else 0
    columns = ["epoch", "step", *terms, *(f"kl_per_dim_{d}" for d in range(dims))]
    rows = []
    for i, step in enumerate(val.get("step", [])):
        per_dim = list(val["kl_per_dim"][i]) if dims else []
        rows.append([val["epoch"][i], step, *(val[t][i] for t in terms), *per_dim])
    return columns, rows


def csv_text(table: tuple[list[str], list[list]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table[0])
    writer.writerows(table[1])
    return out.getvalue()


def write_csv(ckpt: Checkpoint, folder: str | Path) -> list[Path]:
    """train.csv and val.csv in `folder` (made if missing) -> their paths."""
    folder = Path(folder)
    return [atomic.write_bytes(folder / f"{name}.csv", csv_text(table(ckpt)).encode())
            for name, table in (("train", train_table), ("val", val_table))]


def scalars(ckpt: Checkpoint) -> list[tuple[int, dict[str, float]]]:
    """(step, {tag: value}) in step order: train/<column> at every step, val/<column> at epochs' ends."""
    by_step: dict[int, dict[str, float]] = {}
    for split, table in (("train", train_table), ("val", val_table)):
        columns, rows = table(ckpt)
        for row in rows:
            values = by_step.setdefault(int(row[columns.index("step")]), {})
            for name, value in zip(columns, row):
                if name not in ("step", "epoch") and value != "" and math.isfinite(float(value)):
                    values[f"{split}/{name.replace('kl_per_dim_', 'kl_per_dim/')}"] = float(value)
    return sorted(by_step.items())


def write_tensorboard(ckpt: Checkpoint, folder: str | Path, wall_time: float) -> Path:
    """The history as one TensorBoard event file in `folder`; every event stamped `wall_time`."""
    return tfevents.write(folder, scalars(ckpt), wall_time)


def event_bytes(ckpt: Checkpoint, wall_time: float) -> tuple[str, bytes]:
    """(file name, bytes) of that event file, for a download."""
    return tfevents.file_name(wall_time), tfevents.event_file(scalars(ckpt), wall_time)


def bundle(ckpt: Checkpoint, card: dict, wall_time: float) -> bytes:
    """One zip of everything above: train.csv, val.csv, tensorboard/<event file>, card.json and
    command.txt (the line that trains the run again, vae_core.runcard)."""
    buf = io.BytesIO()
    name, events = event_bytes(ckpt, wall_time)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("train.csv", csv_text(train_table(ckpt)))
        z.writestr("val.csv", csv_text(val_table(ckpt)))
        z.writestr(f"tensorboard/{name}", events)
        z.writestr("card.json", json.dumps(card, indent=1))
        z.writestr("command.txt", card["command"] + "\n")
    return buf.getvalue()
