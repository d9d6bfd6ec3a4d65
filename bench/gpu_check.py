"""The GPU check: the MNIST 784-400-20 VAE on mnist10k, trained on the CPU and on CUDA from the same
seed. Prints the epoch time and images/s on each, and how far apart the two devices' losses are over
the first steps with the same weights, batches and noise (float32, TF32 off): the CUDA build must
compute the same training, within float tolerance. Run by bench/gpu_check.sh (which installs the
CUDA build of the pinned torch); the CPU half runs anywhere, and without CUDA the check fails,
saying so, after it.

    python bench/gpu_check.py [--epochs 3] [--steps 50]

The noise of the reparameterisation (z = mu + sigma * eps) is drawn on the CPU from one seeded
generator and moved to the device, in both runs: each device's own generator (CUDA's Philox, the
CPU's Mersenne Twister) would draw other eps from the same seed. Weights (initialised on the CPU) and
batches (a CPU generator shuffles) are the same on both devices already.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_core import Config, Trainer  # noqa: E402
from vae_core.data import load_split  # noqa: E402

STEP1_RTOL = 1e-5   # the first step: the same weights, batch and noise; only the order of float sums differs
STEPS_RTOL = 1e-3   # after N Adam steps the rounding differences have compounded, still far below any real change


def config(epochs: int) -> Config:
    return Config(model="vae", dataset="mnist10k", hidden=(400,), latent_dim=20, batch_size=128, epochs=epochs,
                  lr=1e-3, seed=0).validate()


@contextmanager
def cpu_noise(seed: int = 0):
    """torch.randn_like drawn from one seeded CPU generator, then moved to the tensor's device."""
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn_like

    def randn_like(t, *args, **kwargs):
        return torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device)

    torch.randn_like = randn_like
    try:
        yield
    finally:
        torch.randn_like = real


def losses(device: str, steps: int) -> list[float]:
    """The training loss of the first `steps` steps on `device`."""
    train, val = load_split(config(1))
    trainer = Trainer(config(1), train, val, device)
    out = []
    with cpu_noise():
        for report in trainer.run():
            out.append(report.terms["loss"])
            if len(out) == steps:
                trainer.stop()
    return out[:steps]


def speed(device: str, epochs: int) -> dict:
    """Seconds per epoch and images/s over `epochs` epochs, after one epoch of warm-up."""
    train, val = load_split(config(epochs + 1))
    trainer = Trainer(config(epochs + 1), train, val, device)
    marks = []
    for report in trainer.run():
        if report.val is not None:  # an epoch's end (its validation included, as in the app)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            marks.append(time.perf_counter())
    per_epoch = (marks[-1] - marks[0]) / epochs
    return {"device": device, "epoch_s": round(per_epoch, 3), "images_per_s": round(len(train) / per_epoch),
            "train_examples": len(train)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (after one of warm-up)")
    ap.add_argument("--steps", type=int, default=50, help="steps whose losses are compared")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__} (CUDA build: {torch.version.cuda or 'none'}); the VAE 784-400-20 on mnist10k")
    cpu = speed("cpu", args.epochs)
    print(f"cpu : {cpu['epoch_s']:.3f} s per epoch, {cpu['images_per_s']:,} images/s")
    ref = losses("cpu", args.steps)
    print(f"cpu : {len(ref)} steps' losses, the first {ref[0]:.4f}, the last {ref[-1]:.4f}")
    result = {"torch": torch.__version__, "cuda_build": torch.version.cuda, "cpu": cpu}
    if not torch.cuda.is_available():
        print(f"FAIL: no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}, CUDA build: "
              f"{torch.version.cuda or 'none: this is the CPU build'}). The CPU half ran; run this on a machine "
              "with an NVIDIA GPU through bench/gpu_check.sh, which installs the CUDA build.")
        print(json.dumps({**result, "ok": False, "why": "no CUDA device"}))
        return 2
    gpu = speed("cuda", args.epochs)
    got = losses("cuda", args.steps)
    rel = [abs(a - b) / abs(b) for a, b in zip(got, ref)]
    ok = rel[0] <= STEP1_RTOL and max(rel) <= STEPS_RTOL
    print(f"cuda: {gpu['epoch_s']:.3f} s per epoch, {gpu['images_per_s']:,} images/s "
          f"({torch.cuda.get_device_name(0)}), {cpu['epoch_s'] / gpu['epoch_s']:.1f}x the CPU")
    print(f"agreement: step 1 relative difference {rel[0]:.2e} (limit {STEP1_RTOL:g}), the most over {len(rel)} "
          f"steps {max(rel):.2e} (limit {STEPS_RTOL:g}): {'OK' if ok else 'FAIL'}")
    print(json.dumps({**result, "gpu": {**gpu, "name": torch.cuda.get_device_name(0)}, "step1_rel_diff": rel[0],
                      "max_rel_diff": max(rel), "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
