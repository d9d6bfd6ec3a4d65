"""The command lines (`python -m vae_core.train`, `.sweep`, `.evaluate`), one module each, and what
they share: an argument parser that fails in one line, the config's flags derived from its knobs
(vae_core.config.KNOBS), and error handling."""
from __future__ import annotations

import argparse
import sys

from ..config import KNOBS, Knob


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2, no usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _typed(parse):
    """A knob's parser as an argparse type: its ValueError becomes argparse's one-line error."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def knob_help(k: Knob, choices_of: dict[str, list[str]]) -> str:
    """'dimensions of the code z (1 to 1,024; default 2)': the knob's help, range and default."""
    allowed = k.range_text() or (f"one of {', '.join(choices_of[k.name])}" if k.name in choices_of else "")
    return f"{k.help} ({allowed + '; ' if allowed else ''}default {k.format(k.default)})"


def add_config_flags(p: Parser, lists: tuple[str, ...] = ()) -> None:
    """A flag per config knob (--latent-dim, ...), default None (= not given); the knobs named in
    `lists` take comma-separated values (a sweep's --beta 0.5,1,4)."""
    from ..data import DATASETS
    from ..registry import MODELS
    choices_of = {"model": list(MODELS), "dataset": [*DATASETS, "a path to your own data (file.zip@size=28, ./folder, "
                                                                "x.npz, ...: python -m vae_core.data inspect PATH)"]}
    for name, k in KNOBS.items():
        if name in lists:
            p.add_argument(k.flag, type=_typed(k.parse_list), default=None, metavar="V,V,...",
                           help=f"{k.title} values, comma-separated: {knob_help(k, choices_of)}")
        else:
            p.add_argument(k.flag, type=_typed(k.parse), default=None, help=knob_help(k, choices_of))


def given(args) -> dict:
    """The config values given on the command line ({field: value})."""
    return {name: getattr(args, name) for name in KNOBS if getattr(args, name, None) is not None}


def fail(message: str, status: int = 2) -> int:
    """Print a one-line error (never a traceback) and return the exit status."""
    print(f"error: {message}", file=sys.stderr)
    return status


def run_cli(parser: Parser, run, argv: list[str] | None = None) -> int:
    """Parse, run, and turn the errors a user can cause into one line and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as e:  # DatasetError and CheckpointError are ValueErrors
        return fail(str(e))
