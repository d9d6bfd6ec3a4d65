"""A run's history out (vae_core.history, vae_core.tfevents, vae_core.runcard, python -m vae_core.export):
the CSV files read back with the csv module, and the event files with TensorBoard's own reader, give
the checkpoint's history; the card's command, run, trains a checkpoint whose validation terms equal
the run's within float noise."""
from __future__ import annotations

import csv
import json
import os
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny
from vae_core import checkpoint, history, runcard, tfevents
from vae_core.cli import export as export_cli
from vae_core.data import load_split
from vae_core.metrics import evaluate
from vae_core.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]


def train_run(cfg, beta_at: dict | None = None, stop_at: int | None = None):
    """Train `cfg` as the app's worker does (its split, a Trainer, then evaluate on the validation
    split) -> its checkpoint. `beta_at` {step: β}: set_beta after that step, as the live slider does."""
    train, val = load_split(cfg)
    t = Trainer(cfg, train, val, device="cpu")
    for report in t.run():
        if beta_at and report.step in beta_at:
            t.set_beta(beta_at[report.step])
        if stop_at is not None and report.step >= stop_at:
            t.stop()
    ckpt = t.checkpoint()
    ckpt.metrics = evaluate(t.model.eval(), t.val_x, t.val_y, ckpt.config)
    return ckpt


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """A 3-epoch digits VAE's checkpoint on disk."""
    ckpt = train_run(tiny("vae", epochs=3, latent_dim=2, batch_size=128))
    return checkpoint.save(ckpt, tmp_path_factory.mktemp("run") / "short vae.safetensors")


def test_crc32c_and_the_record_frame():
    assert tfevents.crc32c(b"123456789") == 0xE3069283  # RFC 3720's check value for CRC-32C
    assert tfevents.crc32c(b"") == 0 and tfevents.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 zero bytes
    rec = tfevents.record(b"abc")
    assert struct.unpack("<Q", rec[:8])[0] == 3 and rec[12:15] == b"abc" and len(rec) == 8 + 4 + 3 + 4


def export(run_file: Path, tmp_path: Path, capsys) -> dict:
    status = export_cli.main([str(run_file), "--csv", str(tmp_path / "csv"), "--tensorboard", str(tmp_path / "tb"),
                              "--card", str(tmp_path / "card.json")])
    out = capsys.readouterr()
    assert status == 0, out.err
    return json.loads(out.out.strip().splitlines()[-1])


def test_the_csv_files_read_back_as_the_history(run_file, tmp_path, capsys):
    ckpt = checkpoint.load(run_file)
    got = export(run_file, tmp_path, capsys)
    assert sorted(Path(p).name for p in got["csv"]) == ["train.csv", "val.csv"]
    with open(tmp_path / "csv" / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    train = ckpt.history["train"]
    assert len(rows) == len(train["step"]) == ckpt.progress["step"] == 3 * 13
    for term in ("loss", "recon", "kl", "beta"):
        assert [float(r[term]) for r in rows] == train[term]  # the same floats, exactly
    assert [int(r["step"]) for r in rows] == train["step"]
    assert [int(r["epoch"]) for r in rows] == [1 + (s - 1) // 13 for s in train["step"]]  # 13 steps an epoch
    assert {float(r["lr"]) for r in rows} == {ckpt.config.lr}
    rates = {int(r["step"]): float(r["images_per_s"]) for r in rows if r["images_per_s"]}
    assert sorted(rates) == [13, 26, 39] and all(v > 0 for v in rates.values())  # at each epoch's end

    with open(tmp_path / "csv" / "val.csv", newline="") as f:
        vrows = list(csv.DictReader(f))
    val = ckpt.history["val"]
    assert [int(r["epoch"]) for r in vrows] == val["epoch"] == [1, 2, 3]
    for term in ("loss", "recon", "kl"):
        assert [float(r[term]) for r in vrows] == val[term]
    assert [[float(r["kl_per_dim_0"]), float(r["kl_per_dim_1"])] for r in vrows] == val["kl_per_dim"]
    assert float(vrows[-1]["loss"]) == pytest.approx(ckpt.metrics["val_loss"], rel=1e-6)


def scalars(folder: Path) -> dict[str, list]:
    """Every scalar of the event files in `folder`, read by TensorBoard's own reader: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # 0: keep every event
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboards_reader_reads_the_event_file_as_the_history(run_file, tmp_path, capsys):
    ckpt = checkpoint.load(run_file)
    got = export(run_file, tmp_path, capsys)
    assert "tfevents" in Path(got["tensorboard"]).name
    tags = scalars(tmp_path / "tb")
    train, val = ckpt.history["train"], ckpt.history["val"]
    f32 = lambda values: np.asarray(values, np.float32).tolist()  # noqa: E731 (simple_value is a float32)
    for term in ("loss", "recon", "kl", "beta"):
        assert tags[f"train/{term}"] == list(zip(train["step"], f32(train[term])))
    for term in ("loss", "recon", "kl"):
        assert tags[f"val/{term}"] == list(zip(val["step"], f32(val[term])))
    assert tags["val/kl_per_dim/1"] == list(zip(val["step"], f32([v[1] for v in val["kl_per_dim"]])))
    assert [s for s, _ in tags["train/images_per_s"]] == [13, 26, 39]
    assert tags["train/lr"][0] == (1, np.float32(ckpt.config.lr))


def test_a_flipped_bit_stops_tensorboards_reader_so_it_checks_our_crcs(run_file, tmp_path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    path = history.write_tensorboard(checkpoint.load(run_file), tmp_path, 1.7e9)
    events = lambda: sum(1 for _ in EventFileLoader(str(path)).Load())  # noqa: E731
    assert events() == 1 + 3 * 13  # the file version, one event per step
    blob = bytearray(path.read_bytes())
    last = len(blob) - 4 - 1  # the last byte of the last record's data: a float of its scalars
    blob[last] ^= 0x01
    path.write_bytes(bytes(blob))
    assert events() == 3 * 13  # the last record's data CRC fails: the reader drops it


def test_the_card(run_file):
    ckpt = checkpoint.load(run_file)
    card = runcard.card(ckpt, "short vae")
    assert (card["model"], card["dataset"], card["beta"], card["latent_dim"]) == ("vae", "digits", 1.0, 2)
    assert card["validation"]["val_loss"] == ckpt.metrics["val_loss"] and "val_kl" in card["validation"]
    assert card["caveats"] == [] and card["config"] == ckpt.config.to_dict()
    json.dumps(card)  # JSON-ready
    args = shlex.split(card["command"])
    assert args[:3] == ["python", "-m", "vae_core.train"]
    assert args[args.index("--lr") + 1] == repr(ckpt.config.lr) and args[args.index("--seed") + 1] == "0"
    assert args[args.index("--out") + 1] == "runs/short-vae-reproduced.safetensors"


def test_the_command_trains_the_same_run(tmp_path):
    """The printed command, run as printed (its --out moved into a temporary folder), gives a
    checkpoint whose validation terms equal the run's within float noise."""
    cfg = tiny("beta_vae", epochs=2, latent_dim=2, beta=2.5, lr=2e-3, seed=7, kl_warmup=10)
    ckpt = train_run(cfg)
    args = shlex.split(runcard.reproduce_command(ckpt))
    out = tmp_path / "again.safetensors"
    args[args.index("--out") + 1] = str(out)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, *args[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    again = checkpoint.load(out)
    assert again.config == ckpt.config
    for term in ("val_loss", "val_recon", "val_kl"):
        assert again.metrics[term] == pytest.approx(ckpt.metrics[term], rel=1e-5, abs=1e-5), term
    np.testing.assert_allclose(again.history["train"]["loss"], ckpt.history["train"]["loss"], rtol=1e-5)


def test_the_card_says_when_the_command_cannot_reproduce():
    cfg = tiny("vae", epochs=2, latent_dim=2, batch_size=128)
    changed = train_run(cfg, beta_at={5: 3.0})
    (caveat,) = runcard.caveats(changed)
    assert "β was changed" in caveat and "3 from step 6" in caveat
    stopped = train_run(cfg, stop_at=20)
    (caveat,) = runcard.caveats(stopped)
    assert "step 20" in caveat and "1 whole epochs" in caveat
    assert "--epochs 1 " in runcard.reproduce_command(stopped)


def test_export_refuses_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"hello, not a checkpoint")
    assert export_cli.main([str(bad), "--csv", str(tmp_path / "csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint" in err[0] and not (tmp_path / "csv").exists()


def test_the_zip_the_sidebar_gives(run_file):
    """history.bundle (the sidebar's download): the CSV files, the event file, the card and the command."""
    import io
    import zipfile

    ckpt = checkpoint.load(run_file)
    card = runcard.card(ckpt, "short vae")
    z = zipfile.ZipFile(io.BytesIO(history.bundle(ckpt, card, 1.7e9)))
    names = sorted(z.namelist())
    assert names[:2] == ["card.json", "command.txt"] and names[2].startswith("tensorboard/events.out.tfevents.")
    assert names[3:] == ["train.csv", "val.csv"]
    assert z.read("train.csv").decode() == history.csv_text(history.train_table(ckpt))
    assert z.read(names[2]) == tfevents.event_file(history.scalars(ckpt), 1.7e9)
    assert json.loads(z.read("card.json")) == card and z.read("command.txt").decode().strip() == card["command"]


def test_the_sidebar_shows_the_active_runs_command():
    from streamlit.testing.v1 import AppTest

    from vae_core.zoo import load_entry, load_manifest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    entry = load_manifest()[0]  # the first screen's model
    (code,) = [c.value for c in at.sidebar.code if c.value.startswith("python -m vae_core.train")]
    assert code == runcard.reproduce_command(load_entry(entry), entry.title)
    assert any(b.proto.label == "Download the history (zip)" for b in at.sidebar.get("download_button"))
