"""The datasets from the command line.

    python -m vae_core.data list
    python -m vae_core.data download mnist [--split train|test|all] [--dest DIR] [--mirror URL] [--timeout S]
    python -m vae_core.data inspect PATH [--size kept|28|32] [--colour auto|grey|colour] [--invert auto|yes|no]

`download` draws a progress bar on stderr and exits 0 only when every requested file is in place,
verified by the md5 of its decompressed bytes; otherwise it prints one line per file that failed,
naming the URLs tried and what went wrong, and exits 1.

`inspect` reads and converts your own data (vae_core.data.own) exactly as training will, and prints
ONE JSON object: source, format, count, shape, dtype, range, labels (class -> count, or null),
converted (kind, image_shape, dtype, range, size, colour, invert, bytes, digest, notes) and dataset
(the pinned name a checkpoint records). For data it refuses: ONE line on stderr naming the file and
the reason, exit status 2, nothing on stdout. The options may also follow the path: PATH@size=28.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time

from ..cli import Parser, fail, run_cli
from . import own
from .dataset import DatasetError
from .download import STALL_BYTES, TIMEOUT, DownloadError, download
from .registry import DOWNLOADABLE, SPECS, default_data_dir


class Bar:
    """A progress bar per file: redrawn in place on a terminal, a line per 10 % on a pipe."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.name, self.shown, self.last_tenth = None, 0.0, -1

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if name != self.name:
            self.name, self.last_tenth = name, -1
        now = time.monotonic()
        fraction = done / total if total else None
        tenth = int(10 * fraction) if fraction is not None else done >> 22  # or every 4 MiB
        finished = fraction is not None and done >= total
        if self.tty and now - self.shown < 0.1 and not finished:
            return
        if not self.tty and tenth == self.last_tenth:
            return
        self.shown, self.last_tenth = now, tenth
        size = f"{done / 2**20:6.1f}" + (f" / {total / 2**20:.1f} MiB" if total else " MiB")
        bar = f"[{'#' * int(30 * fraction)}{'.' * (30 - int(30 * fraction))}] {100 * fraction:5.1f}%  " \
            if fraction is not None else ""
        line = f"{name:28s} {bar}{size}"
        self.stream.write(("\r" + line + ("\n" if finished else "")) if self.tty else line + "\n")
        self.stream.flush()


def build_parser() -> Parser:
    p = Parser(prog="python -m vae_core.data", description="List or download the datasets.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every dataset: name, shape, source, licence")
    d = sub.add_parser("download", help="fetch a dataset's files and check their md5s")
    d.add_argument("name", choices=DOWNLOADABLE)
    d.add_argument("--split", choices=("train", "test", "all"), default="all", help="which files (default all)")
    d.add_argument("--dest", default=None, help=f"data folder (default $VAE_CORE_DATA or {default_data_dir()})")
    d.add_argument("--mirror", default=None, help="a base URL to try first (also $VAE_CORE_MIRROR)")
    d.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds in which a mirror must deliver "
                   f"{STALL_BYTES // 1024} KiB, or it is given up (default {TIMEOUT:g})")
    i = sub.add_parser("inspect", help="read and convert your own data as training will; print one JSON object")
    i.add_argument("path", help="a zip or folder of PNG / JPEG images, .npz, .npy, IDX (.gz or raw), .csv")
    for f in dataclasses.fields(own.Options):  # the conversion options, declared once in own.conversion
        i.add_argument(f"--{f.name}", choices=f.metadata["choices"], default=None,
                       help=f"{f.metadata['help']} (default {f.default})")
    return p


def inspect(args) -> int:
    """One JSON object for data it reads, one line naming the file and the reason (exit 2) otherwise."""
    try:
        name = own.parse(args.path)
        given = {f: getattr(args, f) for f in own.OPTION_NAMES if getattr(args, f) is not None}
        options = dataclasses.replace(name.options, **given)
        conv = own.from_path(name.path, options) if name.path else None
    except own.DataRefused:
        raise
    except DatasetError as e:
        raise own.DataRefused(args.path, str(e)) from None
    if conv is None:
        raise own.DataRefused(args.path, "a workspace's dataset: inspect it in the app")
    pinned = own.pinned(f"{name.path}@{options.text()}", conv)
    print(json.dumps({**conv.report.to_json(), "dataset": pinned}))
    return 0


def run(args) -> int:
    if args.command == "inspect":
        return inspect(args)
    if args.command == "list":
        for name, spec in SPECS.items():
            how = "built in" if spec.built_in else f"download: {len(spec.files)} files"
            print(f"{name:14s} {'x'.join(map(str, spec.shape)):8s} {how:20s} {spec.source}; {spec.licence}")
        return 0
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {args.timeout}")
    try:
        paths = download(args.name, args.split, args.dest, args.mirror, args.timeout, Bar())
    except DownloadError as e:
        for line in str(e).splitlines():
            fail(line, 0)
        return 1
    for path in paths:
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
