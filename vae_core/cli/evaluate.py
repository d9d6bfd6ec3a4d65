"""The evaluation command line (`python -m vae_core.evaluate`): a checkpoint on its validation split.

    python -m vae_core.evaluate runs/vae.safetensors --k 100

The last line of stdout is one JSON object: val_loss, val_recon, val_kl or val_penalty, and for
the VAE family active_units and iwae (the k-sample importance-weighted estimate of log p(x), nats).
"""
from __future__ import annotations

import json

from .. import checkpoint
from ..data import load_split
from ..device import pick_device
from ..metrics import evaluate
from . import Parser, run_cli


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.evaluate", description="Evaluate a vae_core checkpoint.")
    p.add_argument("checkpoint", help="a .safetensors checkpoint written by vae_core")
    p.add_argument("--k", type=int, default=100, help="importance samples for the IWAE bound (default 100)")
    p.add_argument("--data-dir", default=None, help="folder with dataset files (default $VAE_CORE_DATA or data/)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, mps")
    return p


def run(args) -> int:
    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    ckpt = checkpoint.load(args.checkpoint)
    cfg = ckpt.config
    _, val = load_split(cfg, args.data_dir, read_files=True)  # a user's file: checked against its digest
    if tuple(val.image_shape) != ckpt.image_shape:
        raise ValueError(f"dataset {cfg.dataset} has shape {val.image_shape}, the checkpoint {ckpt.image_shape}")
    device = pick_device(args.device)
    model = ckpt.build_model(device)
    result = evaluate(model, val.x.to(device), val.y.to(device), cfg, k=args.k)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)

