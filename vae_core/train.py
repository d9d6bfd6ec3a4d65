"""Train a model from the command line.

    python -m vae_core.train --dataset digits --model vae --latent-dim 2 --epochs 30 --out runs/vae.safetensors
    python -m vae_core.train --resume runs/vae.safetensors --epochs 60

A progress bar goes to stderr; the last line of stdout is one JSON object (val_loss, val_recon,
val_kl or val_penalty, ...). Bad flags or values exit non-zero with a one-line message.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from . import checkpoint, threads
from .cli import Parser, fail, run_cli
from .config import Config, parse_hidden
from .data import load_split
from .device import describe
from .metrics import evaluate
from .registry import MODELS
from .trainer import Report, Trainer, TrainingDiverged

# flag -> Config field, for every flag that sets a config value
FLAGS = {
    "dataset": str, "model": str, "arch": str, "latent_dim": int, "hidden": parse_hidden,
    "likelihood": str, "sigma": float, "beta": float, "kl_warmup": int,
    "corruption": str, "noise": float, "sparsity": str, "sparsity_weight": float, "rho": float,
    "contractive_weight": float,
    "epochs": int, "batch_size": int, "lr": float, "precision": str, "seed": int, "val_fraction": float,
}
# what a resumed run may not change: the model would not fit its own weights
FIXED_ON_RESUME = ("dataset", "model", "arch", "latent_dim", "hidden", "likelihood")


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.train", description="Train an autoencoder or VAE.")
    for name, kind in FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                       help=f"(config.{name}; default {getattr(Config, name)!r})")
    p.add_argument("--data-dir", default=None, help="folder with dataset files (default $VAE_CORE_DATA or data/)")
    p.add_argument("--device", default=None, help="auto (default: cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--out", default=None, help="checkpoint to write (default runs/<model>-<dataset>.safetensors)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (weights, Adam state, history)")
    return p


def make_config(args, base: Config | None) -> Config:
    """Flags over the resumed config, or over the defaults plus the chosen model's own defaults."""
    given = {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}
    if base is not None:
        changed = [k for k in FIXED_ON_RESUME if k in given and given[k] != getattr(base, k)]
        if changed:
            raise ValueError(f"cannot change {', '.join(changed)} when resuming; train a new model instead")
        return base.replace(**given)
    model = given.get("model", Config.model)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return Config(**{**MODELS[model].defaults, **given}).validate()


class ProgressBar:
    """A one-line bar on a terminal; on a pipe, one line per epoch."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.tty, self.shown = stream, stream.isatty(), 0.0

    def __call__(self, r: Report) -> None:
        now = time.monotonic()
        if r.val is None and (not self.tty or now - self.shown < 0.1) and r.step != r.total_steps:
            return
        self.shown = now
        filled = int(30 * r.fraction)
        terms = "  ".join(f"{k} {v:.2f}" for k, v in (r.val or r.terms).items() if isinstance(v, float))
        line = (f"[{'#' * filled}{'.' * (30 - filled)}] {100 * r.fraction:5.1f}%  epoch {r.epoch}/{r.epochs}  "
                f"{'val ' if r.val else ''}{terms}  {r.images_per_s:,.0f} img/s")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if r.val else ""))
        elif r.val:
            self.stream.write(line + "\n")
        self.stream.flush()


def run(args) -> int:
    resume = checkpoint.load(args.resume) if args.resume else None
    cfg = make_config(args, resume.config if resume else None)
    train, val = load_split(cfg, args.data_dir)
    trainer = Trainer(cfg, train, val, args.device, resume)
    threads.use(threads.for_trainer(trainer))  # the policy a worker follows
    out = Path(args.out or f"runs/{cfg.model}-{cfg.dataset.replace(':', '-')}.safetensors")
    print(f"{cfg.model} on {cfg.dataset} ({len(train)} train / {len(val)} val), {describe(trainer.device)}",
          file=sys.stderr)
    bar, report = ProgressBar(), None
    try:
        for report in trainer.run():
            bar(report)
    except TrainingDiverged as e:
        checkpoint.save(trainer.checkpoint(), out)
        return fail(f"{e} Last good weights saved to {out}.", 1)
    except KeyboardInterrupt:
        checkpoint.save(trainer.checkpoint(), out)
        return fail(f"interrupted at step {trainer.step}; saved to {out} (resume with --resume {out})", 130)
    ckpt = trainer.checkpoint()
    ckpt.metrics = evaluate(trainer.model.eval(), trainer.val_x, trainer.val_y, ckpt.config)
    checkpoint.save(ckpt, out)
    print(json.dumps({**ckpt.metrics, "epochs": trainer.epoch, "steps": trainer.step, "checkpoint": str(out),
                      "images_per_s": report.images_per_s if report else 0.0}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
