"""The sweep command line (`python -m vae_core.sweep`): one model per β and / or latent_dim value
over one base config; members that differ only in β train batched (vae_core.batched).

    python -m vae_core.sweep --dataset digits --model beta_vae --beta 0.25,0.5,1,2,4,8,16 \
        --latent-dim 2 --epochs 30 --seed 0 --out DIR

writes DIR/<model>-beta<β>-z<latent_dim>.safetensors per member; a progress line per epoch goes to
stderr; the last line of stdout is one JSON object {"runs": [{beta, latent_dim, val_recon, val_kl,
val_loss, path, ...}, ...]}. Bad values exit 2 with a one-line message.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import checkpoint
from ..batched import SweepReport, train_sweep
from ..data import pin_split
from ..sweep import member_file, members
from ..trainer import TrainingDiverged
from . import Parser, add_config_flags, fail, given, run_cli
from .train import make_config

LISTS = ("beta", "latent_dim")  # the knobs a sweep takes several values of


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.sweep", description="Train one model per β and/or latent_dim value.")
    add_config_flags(p, lists=LISTS)
    p.add_argument("--data-dir", default=None, help="folder with dataset files (default $VAE_CORE_DATA or data/)")
    p.add_argument("--device", default=None, help="auto (default: cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--out", default="runs/sweep", help="folder for the members' checkpoints (default runs/sweep)")
    return p


def run(args) -> int:
    values = given(args)
    lists = {k: values.pop(k) for k in LISTS if k in values}
    if any(not v for v in lists.values()):
        raise ValueError("an empty list; give comma-separated values such as 0.5,1,4")
    base = make_config(values, None)  # every single-value flag; the lists' values go in below
    base, train, val = pin_split(base, args.data_dir, read_files=True)  # a user's file: pinned, as train does
    cfgs = members(base, lists.get("beta"), lists.get("latent_dim"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def built(g: int) -> None:  # data loaded, models built: the first line, as train's
        if g == 0:
            print(f"sweep of {len(cfgs)} {base.model} on {base.dataset} ({len(train)} train / {len(val)} val)",
                  file=sys.stderr)

    def progress(g: int, r: SweepReport) -> None:
        if r.val is not None:
            losses = " ".join(f"{v['loss']:.1f}" for v in r.val)
            print(f"group {g + 1}: epoch {r.epoch}/{r.epochs}  val loss {losses}", file=sys.stderr)
    try:
        ckpts = train_sweep(cfgs, train, val, args.device, progress, built)
    except TrainingDiverged as e:
        return fail(str(e), 1)
    runs = []
    for ckpt in ckpts:
        path = out / member_file(ckpt.config)
        checkpoint.save(ckpt, path)
        runs.append({"beta": ckpt.config.beta, "latent_dim": ckpt.config.latent_dim, **ckpt.metrics,
                     "path": str(path)})
    print(json.dumps({"runs": runs}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)
