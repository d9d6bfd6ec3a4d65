"""Your own dataset: read (sources, formats, images, arrays), converted by one set of rules (convert),
stored safely (stored), named in a config (names).

    conv = own.from_path("shoes.zip", own.Options(size="28"))     # or own.from_files([(name, bytes)])
    conv.report.to_json()      # what `python -m vae_core.data inspect` prints
    conv.preview(64)           # examples, counts per label, shape, range (an upload page)
    conv.to_dataset(name)      # a vae_core.data.Dataset: every model trains on it unchanged

Everything refused is a `DataRefused` (a DatasetError, so a ValueError) whose message names the
file and the reason; the limits are in own.limits. Formats: a zip or folder of PNG / JPEG images
(labels from sub-folder names), .npy / .npz, IDX (.gz or raw), CSV of points.
"""
from __future__ import annotations

from pathlib import Path

from . import limits, stored
from .conversion import OPTION_NAMES, Converted, Options, Preview, Report, convert, describe
from .formats import read_source
from .limits import DataRefused
from .progress import Progress
from .names import WS, OwnName, file_stem, is_own, load, load_dataset, parse, pinned
from .sources import read_files, read_path


def from_path(path: str | Path, options: Options | None = None, progress: Progress | None = None) -> Converted:
    """Read and convert a file or folder; `progress(fraction, what)` is called as it goes (a bar)."""
    return convert(read_source(read_path(path, progress), progress), options, progress)


def from_files(files: list[tuple[str, bytes]], options: Options | None = None, label: str | None = None,
               progress: Progress | None = None) -> Converted:
    """Read and convert uploaded files, each (name, bytes); a zip among them is opened. `progress(fraction,
    what)` is called as it goes (an upload page's bar)."""
    return convert(read_source(read_files(files, label, progress), progress), options, progress)


__all__ = ["OPTION_NAMES", "WS", "Converted", "DataRefused", "Options", "OwnName", "Preview", "Report", "describe",
           "file_stem", "from_files", "from_path", "is_own", "limits", "load", "load_dataset", "parse", "pinned",
           "stored"]
