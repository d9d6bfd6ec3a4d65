"""Training throughput: vae_core's Trainer against the pytorch/examples vae/main.py way of feeding a model.

The same 784-400-20 MLP VAE (one init, copied), the same seed and epochs, on the 10,000 real MNIST
test images (the built-in mnist10k), trained twice:

  vae_core  Trainer: the whole dataset is one tensor; a batch is an index into it.
  example   pytorch/examples vae/main.py: a per-item Dataset that builds a PIL image from the uint8
            array and converts it like torchvision's ToTensor, a DataLoader(batch_size=128,
            shuffle=True, num_workers=0), and the example's loop (BCE summed + KL, Adam 1e-3).

Prints images/s of both, the ratio, both final per-epoch average losses (nats per example) and
PASS/FAIL against the target: ratio >= 2.5 at equal loss (within 1 nat). It is a script, not a test:

    python bench/bench_train.py [--epochs 3] [--threads N] [--seeds 3]

Both sides run with the same torch.set_num_threads. By default every core this process may use, or 1
when the load average shows other work: with more threads than free cores, OpenMP barriers wait on
descheduled threads and both sides slow down 10-50x, which says nothing about either loop.
"""
from __future__ import annotations

import argparse
import statistics
import copy
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from vae_core import Config, Trainer, load_dataset  # noqa: E402
from vae_core.data.embedded import MNIST10K_DIR  # noqa: E402
from vae_core.data.readers import MNIST_FILES, read_idx  # noqa: E402
from vae_core.models import Autoencoder  # noqa: E402

TARGET_RATIO, LOSS_TOLERANCE = 2.5, 1.0


# --- the pytorch/examples side -----------------------------------------------------------------


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """torchvision.transforms.ToTensor for a mode-L PIL image: (1, H, W) float in [0, 1]."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], 1).permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)


class MNISTLikeTorchvision(torch.utils.data.Dataset):
    """torchvision.datasets.MNIST's __getitem__: uint8 tensor -> PIL image -> transform, per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        return to_tensor(img), target


def example_loss(logits, x, mu, logvar) -> torch.Tensor:
    """vae/main.py loss_function: BCE summed over pixels and batch + KL; the model's sigmoid output."""
    bce = F.binary_cross_entropy(torch.sigmoid(logits).view(-1, 784), x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def run_example(model, loader, epochs: int, seed: int) -> tuple[float, float]:
    """vae/main.py train(), `epochs` times: -> (seconds, the last epoch's average loss per example)."""
    torch.manual_seed(seed)  # the DataLoader's shuffle and the reparameterization noise
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        train_loss = 0.0
        for data, _ in loader:
            optimizer.zero_grad()
            out = model(data)
            loss = example_loss(out["logits"], data, out["mu"], out["logvar"])
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        average = train_loss / len(loader.dataset)
    return time.perf_counter() - start, average


# --- the vae_core side -------------------------------------------------------------------------


def run_vae_core(trainer: Trainer) -> tuple[float, float, float]:
    """-> (seconds in all, seconds of them in the per-epoch validation, last epoch's average loss)."""
    start = last = time.perf_counter()
    validating = 0.0
    for report in trainer.run():
        now = time.perf_counter()
        if report.val is not None:
            validating += now - last
        last = now
    seconds = time.perf_counter() - start
    spe, n, bs = trainer.steps_per_epoch, len(trainer.x), trainer.cfg.batch_size
    losses = trainer.history["train"]["loss"][-spe:]  # per-batch means of the last epoch
    sizes = [min(bs, n - i * bs) for i in range(spe)]
    return seconds, validating, sum(l * s for l, s in zip(losses, sizes)) / n


def warm_up(model: Autoencoder, x: torch.Tensor) -> None:
    """A few steps on a throwaway copy, so neither side pays the one-time kernel setup."""
    model = copy.deepcopy(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(5):
        out = model(x[i * 128:(i + 1) * 128])
        example_loss(out["logits"], x[i * 128:(i + 1) * 128], out["mu"], out["logvar"]).backward()
        optimizer.step()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads for both sides (default 0: all usable cores, 1 on a busy machine)")
    p.add_argument("--seeds", type=int, default=3, help="repeat with seeds 0..N-1: the loss varies by ~1 nat with the seed")
    args = p.parse_args()
    cores, load = len(os.sched_getaffinity(0)), os.getloadavg()[0]
    threads = args.threads or (cores if load < 0.5 else 1)
    torch.set_num_threads(threads)

    data = load_dataset("mnist10k")
    assert len(data) == 10_000 and data.image_shape == (1, 28, 28), data.source
    raw_images, raw_labels = (read_idx(MNIST10K_DIR / f"{name}.gz") for name in MNIST_FILES["t10k"])  # uint8

    val = data.subset(slice(0, 1000))  # the Trainer validates each epoch; its time is counted
    loader = torch.utils.data.DataLoader(MNISTLikeTorchvision(raw_images, raw_labels), batch_size=128,
                                         shuffle=True, num_workers=0)
    n = len(data) * args.epochs
    speed: dict[str, list[float]] = {"fp32": [], "bf16": [], "example": []}
    loss: dict[str, list[float]] = {"fp32": [], "bf16": [], "example": []}
    for seed in range(args.seeds):
        cfg = Config(dataset="mnist10k", model="vae", latent_dim=20, hidden=(400,), likelihood="bernoulli",
                     batch_size=128, lr=1e-3, epochs=args.epochs, seed=seed)
        for precision in ("fp32", "bf16"):
            trainer = Trainer(cfg.replace(precision=precision), data, val, device="cpu")  # all 10,000
            seconds, _, last = run_vae_core(trainer)
            speed[precision].append(n / seconds)
            loss[precision].append(last)
        example_model = Autoencoder(cfg, data.image_shape, data.n_classes)
        example_model.load_state_dict(Trainer(cfg, data, val, "cpu").model.state_dict())  # the same init
        warm_up(example_model, data.x)
        seconds, last = run_example(example_model, loader, args.epochs, seed)
        speed["example"].append(n / seconds)
        loss["example"].append(last)

    print(f"MNIST t10k: {len(data)} images, {args.epochs} epochs, batch 128, 784-400-20 MLP VAE, seeds 0..{args.seeds - 1}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) of {cores} cores "
          f"(load average {load:.2f} at start{', so 1 thread' if not args.threads and threads == 1 < cores else ''})")
    names = {"fp32": "vae_core Trainer, fp32", "bf16": "vae_core Trainer, bf16", "example": "pytorch/examples way"}
    example = statistics.median(speed["example"])
    for key, name in names.items():
        s_med = statistics.median(speed[key])
        print(f"{name:24s} {s_med:9,.0f} images/s   last-epoch loss {statistics.mean(loss[key]):7.2f} nats "
              f"(per seed: {', '.join(f'{v:.2f}' for v in loss[key])})")
    passes = []
    for key in ("fp32", "bf16"):
        ratio = statistics.median(speed[key]) / example
        diffs = [a - b for a, b in zip(loss[key], loss["example"])]
        diff = statistics.mean(diffs)
        passed = ratio >= TARGET_RATIO and abs(diff) <= LOSS_TOLERANCE
        passes.append(passed)
        print(f"{names[key]:24s} ratio {ratio:5.2f}x (target >= {TARGET_RATIO}x), loss difference "
              f"{diff:+.2f} nats (mean over seeds; target within {LOSS_TOLERANCE})  {'PASS' if passed else 'FAIL'}")
    return 0 if any(passes) else 1


if __name__ == "__main__":
    sys.exit(main())
