"""The export command line (`python -m vae_core.export`): a run's history in the formats other tools read.

    python -m vae_core.export runs/vae.safetensors --csv out/ --tensorboard out/tb --card out/card.json

--csv DIR writes DIR/train.csv (every logged step) and DIR/val.csv (the validation terms, per
epoch), vae_core.history; --tensorboard DIR one TensorBoard event file (`tensorboard --logdir DIR`);
--card FILE the run's card as JSON (vae_core.runcard). The command that trains the run again is
always printed, on stderr as a line to copy and in the JSON. The last line of stdout is one JSON
object: {"csv": [...], "tensorboard": path, "card": path, "command": "python -m vae_core.train ...",
"caveats": [...]}. A file that is not a vae_core checkpoint exits 2 with a one-line message.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import atomic, checkpoint, history, runcard
from . import Parser, run_cli


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.export", description="Export a run's history: CSV, TensorBoard, its card "
                                                             "and the command that reproduces it.")
    p.add_argument("checkpoint", help="a .safetensors checkpoint written by vae_core")
    p.add_argument("--csv", default=None, metavar="DIR", help="write DIR/train.csv and DIR/val.csv")
    p.add_argument("--tensorboard", default=None, metavar="DIR", help="write a TensorBoard event file into DIR")
    p.add_argument("--card", default=None, metavar="FILE", help="write the run's card (JSON) to FILE")
    return p


def run(args) -> int:
    path = Path(args.checkpoint)
    ckpt = checkpoint.load(path)
    card = runcard.card(ckpt, path.stem)
    out: dict = {}
    if args.csv:
        out["csv"] = [str(p) for p in history.write_csv(ckpt, args.csv)]
    if args.tensorboard:
        out["tensorboard"] = str(history.write_tensorboard(ckpt, args.tensorboard, path.stat().st_mtime))
    if args.card:
        out["card"] = str(atomic.write_json(args.card, card))
    print(card["command"], file=sys.stderr)
    for caveat in card["caveats"]:
        print(f"note: {caveat}", file=sys.stderr)
    print(json.dumps({**out, "command": card["command"], "caveats": card["caveats"]}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)
