"""The training command line (`python -m vae_core.train`, vae_core/train.py; the loop is vae_core.trainer).

    python -m vae_core.train --dataset digits --model vae --latent-dim 2 --epochs 30 --out runs/vae.safetensors
    python -m vae_core.train --resume runs/vae.safetensors --epochs 60
    python -m vae_core.train --dataset shoes.zip@size=28 --model vae --epochs 5   # your own data

Your own data (a zip or folder of images, .npz, .npy, IDX, CSV: see vae_core.data.own) is read and
converted as `python -m vae_core.data inspect PATH` shows; the checkpoint records it pinned (absolute
path, options, digest), so that it reloads exactly the data it trained on.

A progress bar goes to stderr; the last line of stdout is one JSON object (val_loss, val_recon,
val_kl or val_penalty, ...). Bad flags or values exit non-zero with a one-line message. The
checkpoint is written as the app's workers write theirs (checkpoint.Cadence: every epoch's end, at
most every 2 s, and every 30 s within a long epoch; atomically), so a run killed with `kill -9`
resumes from its last epoch. `--resume FILE` writes back to FILE unless `--out` says otherwise.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .. import checkpoint, threads
from ..config import Config
from ..data import own, pin_split
from ..device import describe
from ..registry import spec_of
from ..trainer import Report, Trainer, TrainingDiverged
from . import Parser, add_config_flags, fail, given, run_cli

# what a resumed run may not change: the model would not fit its own weights
FIXED_ON_RESUME = ("dataset", "model", "arch", "latent_dim", "hidden", "likelihood")


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.train", description="Train an autoencoder or VAE.")
    add_config_flags(p)
    p.add_argument("--data-dir", default=None, help="folder with dataset files (default $VAE_CORE_DATA or data/)")
    p.add_argument("--device", default=None, help="auto (default: cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--out", default=None, help="checkpoint to write, every epoch and at the end (default: the --resume "
                   "file, else runs/<model>-<dataset>.safetensors)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from (weights, Adam state, history)")
    return p


def make_config(values: dict, base: Config | None) -> Config:
    """Flag values ({field: value}) over the resumed config, or over the defaults plus the chosen
    model's own defaults."""
    if base is not None:
        changed = [k for k in FIXED_ON_RESUME if k in values and values[k] != getattr(base, k)]
        if changed:
            raise ValueError(f"cannot change {', '.join(changed)} when resuming; train a new model instead")
        return base.replace(**values)
    model = values.get("model", Config.model)
    return Config(**{**spec_of(model).defaults, **values}).validate()


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
    cfg = make_config(given(args), resume.config if resume else None)
    cfg, train, val = pin_split(cfg, args.data_dir, read_files=True)
    trainer = Trainer(cfg, train, val, args.device, resume)
    threads.use(threads.for_trainer(trainer))  # the policy a worker follows
    out = Path(args.out or args.resume or f"runs/{cfg.model}-{own.file_stem(cfg.dataset)}.safetensors")
    print(f"{cfg.model} on {train.source if own.is_own(cfg.dataset) else cfg.dataset} ({len(train)} train / "
          f"{len(val)} val), {describe(trainer.device)}",
          file=sys.stderr)
    bar, report, cadence = ProgressBar(), None, checkpoint.Cadence()
    try:
        for report in trainer.run():
            bar(report)
            if cadence.due(report.val is not None):
                checkpoint.save(trainer.checkpoint(), out)
                cadence.saved()
    except TrainingDiverged as e:
        checkpoint.save(trainer.checkpoint(), out)
        return fail(f"{e} Last good weights saved to {out}.", 1)
    except KeyboardInterrupt:
        checkpoint.save(trainer.checkpoint(), out)
        return fail(f"interrupted at step {trainer.step}; saved to {out} (resume with --resume {out})", 130)
    ckpt = trainer.checkpoint()
    ckpt.metrics = trainer.final_metrics()
    checkpoint.save(ckpt, out)
    print(json.dumps({**ckpt.metrics, "epochs": trainer.epoch, "steps": trainer.step, "checkpoint": str(out),
                      "images_per_s": report.images_per_s if report else 0.0}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)

