"""The two command lines: python -m vae_core.train and python -m vae_core.evaluate.

A handful of real subprocesses (each pays ~2 s of imports) check what a user sees; the many ways
to pass a bad value go through the same `main(argv)` in-process.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from vae_core import checkpoint
from vae_core import evaluate as evaluate_cli
from vae_core import train as train_cli

REPO = Path(__file__).resolve().parents[1]
DIGITS_VAE = ["--dataset", "digits", "--model", "vae", "--latent-dim", "2", "--hidden", "32", "--epochs", "1"]
STEPS_PER_EPOCH = math.ceil(1617 / 128)  # 1797 digits, 10% held out, default batch 128


def cli(tool: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", f"vae_core.{tool}", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def assert_one_line_error(stderr: str, *words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real training run: (its folder, the checkpoint path, the CompletedProcess)."""
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "vae.safetensors"
    proc = cli("train", *DIGITS_VAE, "--out", out, cwd=folder)
    return folder, out, proc


def test_train_writes_a_checkpoint_and_prints_json(trained):
    folder, out, proc = trained
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert {"val_loss", "val_recon", "val_kl", "active_units"} <= set(result)
    assert result["val_loss"] == pytest.approx(result["val_recon"] + result["val_kl"], rel=1e-5)  # beta 1
    assert result["epochs"] == 1 and result["steps"] == STEPS_PER_EPOCH
    assert Path(result["checkpoint"]) == out and out.is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["vae.safetensors"]  # no temp file, no runs/
    ckpt = checkpoint.load(out)
    assert ckpt.config.latent_dim == 2 and ckpt.config.hidden == (32,) and ckpt.config.epochs == 1
    assert ckpt.progress == {"step": STEPS_PER_EPOCH, "epoch": 1}
    assert ckpt.metrics["val_loss"] == result["val_loss"]
    assert "epoch 1/1" in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_prints_iwae_and_active_units(trained):
    folder, out, proc = trained
    ev = cli("evaluate", out, "--k", "5", cwd=folder)
    assert ev.returncode == 0, ev.stderr
    result = last_json(ev.stdout)
    assert result["iwae_k"] == 5 and math.isfinite(result["iwae"]) and result["iwae"] < 0
    assert 0 <= result["active_units"] <= 2
    # the same validation split, the same fixed noise: the same numbers as the training run printed
    assert result["val_loss"] == pytest.approx(last_json(proc.stdout)["val_loss"], rel=1e-6)
    assert -result["iwae"] <= result["val_loss"] + 1.0  # log p(x) >= ELBO, up to the k=5 noise


def test_resume_continues_and_refuses_a_new_latent_dim(trained):
    folder, out, _ = trained
    more = folder / "more.safetensors"
    proc = cli("train", "--resume", out, "--epochs", "2", "--out", more, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["epochs"] == 2 and result["steps"] == 2 * STEPS_PER_EPOCH
    ckpt = checkpoint.load(more)
    assert ckpt.history["val"]["epoch"] == [1, 2]
    assert len(ckpt.history["train"]["loss"]) == 2 * STEPS_PER_EPOCH

    changed = folder / "changed.safetensors"
    bad = cli("train", "--resume", out, "--epochs", "2", "--latent-dim", "3", "--out", changed, cwd=folder)
    assert bad.returncode == 2 and bad.stdout == ""
    assert_one_line_error(bad.stderr, "latent_dim", "resum")
    assert not changed.exists()


def test_a_bogus_flag_is_one_line(tmp_path):
    proc = cli("train", "--epochs", "1", "--bogus", "3", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc.stderr, "--bogus")


def test_evaluating_a_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return open, (str(marker), "w")

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": Evil()}))
    proc = cli("evaluate", path, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert_one_line_error(proc.stderr, "pickle")
    assert not marker.exists()


NO_NETWORK = """
import runpy, socket, sys

def refuse(*args, **kwargs):
    raise OSError("this test allows no network")

socket.socket.connect = socket.socket.connect_ex = socket.create_connection = refuse
sys.modules["torchvision"] = None  # no download fallback either
sys.argv = ["vae_core.train", *sys.argv[1:]]
runpy.run_module("vae_core.train", run_name="__main__")
"""


def test_train_on_mnist10k_with_no_data_folder_and_no_network(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "VAE_CORE_DATA": str(tmp_path / "no-data-here")}
    out = tmp_path / "m.safetensors"
    proc = subprocess.run([sys.executable, "-c", NO_NETWORK, "--dataset", "mnist10k", "--model", "vae",
                           "--latent-dim", "2", "--epochs", "1", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "vae on mnist10k (9000 train / 1000 val)" in proc.stderr
    result = last_json(proc.stdout)
    assert result["epochs"] == 1 and result["steps"] == math.ceil(9000 / 128)
    assert 0 < result["val_loss"] < 543  # better than coding each of the 784 pixels as a fair coin
    ckpt = checkpoint.load(out)
    assert ckpt.config.dataset == "mnist10k" and ckpt.image_shape == (1, 28, 28)
    assert not (tmp_path / "no-data-here").exists() and not (tmp_path / "data").exists()


# --- bad values, in-process: the same main() the subprocesses run ------------------------------


@pytest.fixture
def no_torchvision(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


@pytest.mark.parametrize("args,words", [
    (["--latent-dim", "0"], ["latent_dim"]),
    (["--beta", "-1"], ["beta"]),
    (["--lr", "0"], ["lr"]),
    (["--dataset", "imagenet"], ["unknown dataset", "imagenet"]),
    (["--dataset", "toy2d:stars"], ["stars"]),
    (["--model", "gan"], ["unknown model", "gan"]),
    (["--arch", "conv", "--dataset", "toy2d"], ["conv"]),
    (["--hidden", "1,x"], ["hidden"]),
    (["--dataset", "mnist", "--data-dir", "EMPTY"], ["mnist files not found"]),
    (["--resume", "MISSING"], ["cannot read"]),
])
def test_train_bad_values_fail_in_one_line(args, words, tmp_path, capsys, no_torchvision):
    (tmp_path / "empty").mkdir()
    args = [a.replace("EMPTY", str(tmp_path / "empty")).replace("MISSING", str(tmp_path / "no.safetensors"))
            for a in args]
    try:
        status = train_cli.main([*DIGITS_VAE, "--out", str(tmp_path / "m.safetensors"), *args])
    except SystemExit as e:  # argparse rejects a value its type= cannot parse
        status = e.code
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert_one_line_error(captured.err, *words)
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("args,words", [
    (["--k", "0"], ["--k"]),
    (["MISSING"], ["cannot read"]),
    (["NOT_A_CHECKPOINT"], ["not a safetensors"]),
])
def test_evaluate_bad_values_fail_in_one_line(args, words, tmp_path, capsys):
    (tmp_path / "junk.safetensors").write_bytes(b"\x01" * 64)
    args = [a.replace("MISSING", str(tmp_path / "no.safetensors")).replace(
        "NOT_A_CHECKPOINT", str(tmp_path / "junk.safetensors")) for a in args]
    if args[0] == "--k":
        args = [str(tmp_path / "junk.safetensors"), *args]
    status = evaluate_cli.main(args)
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert_one_line_error(captured.err, *words)


# --- checkpoints as the app's workers write them ------------------------------------------------


def test_a_run_killed_with_sigkill_resumes_from_its_last_epoch_into_the_same_file(tmp_path):
    """The CLI saves every epoch (atomically), so kill -9 loses at most the epoch in progress; and
    --resume without --out writes back to the file it resumed."""
    import signal
    import time

    out = tmp_path / "long.safetensors"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vae_core.train", *DIGITS_VAE[:-1], "500", "--out", str(out)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # bounds a hang only: the test waits for the checkpoint itself
        while not out.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no checkpoint 120 s after the start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.safetensors"]  # no half-written temp file
    saved = checkpoint.load(out)  # whole and valid, whenever the kill came
    epoch = saved.progress["epoch"]
    assert epoch >= 1 and saved.progress["step"] == epoch * STEPS_PER_EPOCH

    resumed = cli("train", "--resume", out, "--epochs", epoch + 1, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert Path(last_json(resumed.stdout)["checkpoint"]) == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.safetensors"]  # written back, nothing else
    again = checkpoint.load(out)
    assert again.progress == {"step": (epoch + 1) * STEPS_PER_EPOCH, "epoch": epoch + 1}
    assert again.history["val"]["epoch"] == list(range(1, epoch + 2))
