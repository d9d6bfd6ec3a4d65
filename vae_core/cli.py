"""What the two command lines share: an argument parser that fails in one line, and error handling."""
from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2, no usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


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
