"""How a config names a user's dataset, and how that name is loaded.

    ws:<id>                        a dataset kept in a workspace (the app); <id> is its digest
    PATH                           a file or folder (the command line), converted with the defaults
    PATH@size=28,colour=grey       ... with conversion options (any of size, colour, invert)
    PATH@size=28,colour=grey,invert=yes,digest=<16 hex>
                                   pinned: what a training run records, so that the checkpoint
                                   reloads exactly its data (a changed file is refused)

A name is a path when it holds '/', '\\', '.', '~' or '@' (built-in names hold none: a folder
called "digits" is "./digits"). Text after the last '@' is read as options only when it parses as
them ("icon@2x.png" is a path). Reading a PATH is for the command line only (`read_files=True`);
given a workspace, a name is looked up among that workspace's datasets by its id or digest, and
a path is never opened: a config uploaded to a server cannot make it read the server's files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..dataset import Dataset, DatasetError
from . import stored
from .conversion import Converted, Options, convert
from .formats import read_source
from .sources import read_path

WS = "ws:"
_ID = re.compile(r"[0-9a-f]{16}")
Workspace = str | Path | Mapping[str, bytes]  # its folder, or {dataset id: stored bytes}


@dataclass(frozen=True)
class OwnName:
    path: str | None        # a file or folder; None for a workspace's dataset
    ws_id: str | None       # a workspace dataset's id
    options: Options
    digest: str | None      # the converted data's fingerprint, when pinned


def is_own(name: str) -> bool:
    """Whether a dataset name is a user's own (a workspace's, or a path), not a built-in one."""
    name = str(name).strip()
    return name.startswith(WS) or any(ch in name for ch in "/\\.~@")


def parse(name: str) -> OwnName:
    """A user dataset's name, checked (DatasetError says what is wrong); nothing is read."""
    name = str(name).strip()
    if name.startswith(WS):
        if not _ID.fullmatch(name[len(WS):]):
            raise DatasetError(f"{name!r}: a workspace dataset is named ws: and 16 hex digits")
        return OwnName(None, name[len(WS):], Options(), name[len(WS):])
    path, at, tail = name.rpartition("@")
    if not at or not tail or not all("=" in part for part in tail.split(",")):
        path, tail = name, ""
    given = dict(part.partition("=")[::2] for part in tail.split(",")) if tail else {}
    pinned = given.pop("digest", None)
    if pinned is not None and not _ID.fullmatch(pinned):
        raise DatasetError(f"{name!r}: digest must be 16 hex digits")
    options = Options.parse(",".join(f"{k}={v}" for k, v in given.items()))
    if not path:
        raise DatasetError(f"{name!r}: no path before the options")
    return OwnName(path, None, options, pinned)


def pinned(name: str, conv: Converted) -> str:
    """The name a training run records: the absolute path, the options as resolved, the digest."""
    own = parse(name)
    if own.path is None:
        return name
    c = conv.report.converted
    opts = own.options
    if c["kind"] == "images":
        opts = Options(size=opts.size, colour=c["colour"], invert="yes" if c["invert"] else "no")
    return f"{Path(own.path).expanduser().resolve()}@{opts.text()},digest={conv.digest}"


def file_stem(name: str) -> str:
    """A word for file names: 'toy2d-moons', 'shoes' (for /data/shoes.zip@...), 'ws-3f2a9c0d1e2b4a5c'."""
    if not is_own(name):
        return str(name).strip().replace(":", "-")
    own = parse(name)
    base = f"ws-{own.ws_id}" if own.ws_id else Path(own.path.rstrip("/\\")).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-") or "data"


def load(name: str, workspace: Workspace | None = None, read_files: bool = False) -> Converted:
    """The converted data a name stands for. Given a workspace, its dataset of that id or digest;
    else, with read_files, the path read and converted (and checked against a pinned digest)."""
    own = parse(name)
    key = own.ws_id or own.digest
    if key and workspace is not None:
        conv = stored.read(workspace, key)
        if conv is not None:
            return conv
    if own.ws_id:
        raise DatasetError(f"dataset {name} is not in this workspace (deleted, or of another workspace)"
                           if workspace is not None else
                           f"dataset {name} belongs to a workspace: load it with that workspace")
    if not read_files:
        raise DatasetError(f"this model was trained on a file of the machine that trained it ({Path(own.path).name}); "
                           "only this workspace's datasets are read here: add the same data, with the same options, "
                           "to this workspace to explore it")
    conv = convert(read_source(read_path(own.path)), own.options)
    if own.digest and conv.digest != own.digest:
        raise DatasetError(f"{own.path}: the data differs from the data this model was trained on (digest "
                           f"{conv.digest}, expected {own.digest}): the file has changed")
    return conv


def load_dataset(name: str, workspace: Workspace | None = None, read_files: bool = False) -> Dataset:
    return load(name, workspace, read_files).to_dataset(str(name).strip())
