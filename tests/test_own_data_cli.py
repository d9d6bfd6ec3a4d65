"""Your own dataset on the command line: `python -m vae_core.data inspect PATH` (one JSON object, or one
line naming the file and the reason with exit status 2: a contract for outside checks), and
`python -m vae_core.train / .sweep --dataset PATH`, whose checkpoints reload exactly their data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from own_files import digits, hostile_files, labelled_pngs, npz, zip_of
from vae_core import checkpoint
from vae_core.data import load_split, own
from vae_core.metrics import evaluate

REPO = Path(__file__).resolve().parents[1]


def cli(module: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A zip of 300 dark-on-light digit PNGs in label folders, and an npz of 200 digits."""
    d = tmp_path_factory.mktemp("own")
    x, y = digits(300)
    (d / "digits.zip").write_bytes(zip_of(labelled_pngs(x, y, dark_on_light=True)))
    (d / "small.npz").write_bytes(npz(x=x[:200], y=y[:200]))
    return d


def test_inspect_prints_one_json_object(folder):
    proc = cli("vae_core.data", "inspect", folder / "digits.zip", "--size", "32", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    x, y = digits(300)
    assert report["count"] == 300 and report["shape"] == [28, 28] and report["dtype"] == "uint8"
    assert report["range"] == [0, 255]
    assert report["labels"] == {str(k): int((y == k).sum()) for k in range(10)}
    c = report["converted"]
    assert c["image_shape"] == [1, 32, 32] and c["invert"] is True and c["colour"] == "grey" and c["size"] == "32"
    pinned = f"{(folder / 'digits.zip').resolve()}@size=32,colour=grey,invert=yes,digest={c['digest']}"
    assert report["dataset"] == pinned


@pytest.mark.parametrize("name", ["bomb.png", "escape.zip", "objects.npy", "text.csv", "link.zip"])
def test_inspect_refuses_in_one_line_with_exit_status_2(folder, name):
    marker = folder / "unpickled"
    blob, words = next((b, w) for n, b, w in hostile_files(marker) if n == name)
    path = folder / name
    path.write_bytes(blob)
    proc = cli("vae_core.data", "inspect", path, cwd=folder)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(path) in lines[0] and words in lines[0]
    assert not marker.exists()


def test_inspect_refuses_a_bad_option_naming_the_file(folder):
    proc = cli("vae_core.data", "inspect", f"{folder / 'small.npz'}@size=30", cwd=folder)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "small.npz" in proc.stderr and "size must be" in proc.stderr


def test_train_on_a_zip_and_the_checkpoint_reloads_its_data(folder):
    out = folder / "vae.safetensors"
    proc = cli("vae_core.train", "--dataset", "digits.zip@size=28", "--model", "vae", "--hidden", "32",
               "--latent-dim", "2", "--epochs", "1", "--out", out, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    ckpt = checkpoint.load(out)
    name = own.parse(ckpt.config.dataset)
    assert name.path == str((folder / "digits.zip").resolve()) and name.digest and name.options.invert == "yes"
    assert ckpt.data["n_train"] == 270 and ckpt.data["n_val"] == 30
    _, val = load_split(ckpt.config, read_files=True)  # from anywhere: the path is absolute
    again = evaluate(ckpt.build_model(), val.x, val.y, ckpt.config)
    assert again["val_loss"] == pytest.approx(result["val_loss"], rel=1e-5)
    proc = cli("vae_core.evaluate", out, "--k", "2", cwd=folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["val_loss"] == pytest.approx(result["val_loss"], rel=1e-5)


def test_sweep_on_an_npz_pins_every_member(folder):
    out = folder / "sweep"
    proc = cli("vae_core.sweep", "--dataset", folder / "small.npz", "--model", "beta_vae", "--beta", "0.5,2",
               "--hidden", "16", "--latent-dim", "2", "--epochs", "1", "--out", out, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.strip().splitlines()[-1])["runs"]
    assert [r["beta"] for r in runs] == [0.5, 2.0]
    cfgs = [checkpoint.load(r["path"]).config for r in runs]
    assert cfgs[0].dataset == cfgs[1].dataset and own.parse(cfgs[0].dataset).digest
    train, val = load_split(cfgs[0], read_files=True)
    assert len(train) == 180 and len(val) == 20 and torch.all(val.x <= 1)


def test_train_refuses_hostile_data_in_one_line(folder):
    path = folder / "nan.npy"
    blob = next(b for n, b, _ in hostile_files(folder / "m") if n == "nan.npy")
    path.write_bytes(blob)
    proc = cli("vae_core.train", "--dataset", path, "--epochs", "1", cwd=folder)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "nan.npy" in proc.stderr and "NaN" in proc.stderr
