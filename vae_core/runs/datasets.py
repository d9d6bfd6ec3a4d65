"""A workspace's own datasets, kept with its runs.

    <workspace>/datasets/<id>.safetensors   the converted data and its description (vae_core.data.own.stored:
                                            tensors and JSON, never a pickle)
    <workspace>/datasets/<id>.json          {"id", "name", "created"}: what the store adds

Data is converted once, when added (a refusal writes nothing). The id is the data's digest, so a
config names it "ws:<id>", the same data added twice is one dataset, and a checkpoint trained on the
command line on the same file with the same options (its dataset name carries that digest) finds it
here. The files count against the workspace's quota (Workspace._room_for), live in its folder and go
with it; no other workspace can name them: a name is only ever looked up in one workspace's folder.
A worker finds them through JobSpec.workspace: the folder (a local process), or {id: bytes} (a Ray
worker, perhaps on another machine, as it gets a checkpoint to resume).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..data import own
from ..data.own import Converted, Options, Preview, stored
from .store import RunStoreError, Workspace, _read_own, clean_name, read_each

_ID = re.compile(r"[0-9a-f]{16}")
ORPHAN_S = 60.0  # a data file without its .json this old was left by a killed writer


@dataclass(frozen=True)
class DatasetInfo:
    id: str              # the data's digest
    name: str            # display name (free text)
    created: float       # unix time
    report: dict         # own.Report.to_json(): source, format, count, shape, labels, converted, notes
    bytes: int           # on disk

    @property
    def dataset(self) -> str:
        """What a Config's dataset names: 'ws:<id>'."""
        return own.WS + self.id

    @property
    def count(self) -> int:
        return self.report["count"]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.report["converted"]["image_shape"])

    @property
    def labels(self) -> dict | None:
        return self.report["labels"]

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "created": self.created, "bytes": self.bytes, "report": self.report,
                "dataset": self.dataset}


def key_of(dataset: str) -> str | None:
    """The workspace dataset a config's dataset name refers to (its id or pinned digest), or None."""
    if not own.is_own(dataset):
        return None
    try:
        return own.parse(dataset).digest
    except ValueError:
        return None


def data_folder(ws: Workspace, run_id: str) -> Path:
    """The workspace folder whose datasets a run's config names: `ws`'s, or for a run opened by its share
    link, its owner's (the data it trained on). Pages: load_split(cfg, workspace=data_folder(ws, run.id))."""
    owner, _ = ws._owner(run_id)
    return owner.folder


def label_of(ws: Workspace, dataset: str) -> str:
    """How a page names a config's dataset: a built-in's name, a workspace dataset's display name, a
    command-line file's name ("shoes.zip"), or that it was deleted."""
    key = key_of(dataset)
    if key is None:
        return dataset
    try:
        return ws.dataset(key).name
    except RunStoreError:
        path = own.parse(dataset).path
        return Path(path).name if path else f"a deleted dataset ({key[:6]}…)"


class WorkspaceDatasets:
    """One workspace's datasets (Workspace.add_dataset and its siblings call these)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.folder = ws.folder / stored.FOLDER

    def add(self, name: str, data: Converted | list[tuple[str, bytes]], options: Options | None = None) -> DatasetInfo:
        conv = data if isinstance(data, Converted) else own.from_files(data, options)
        blob = stored.to_bytes(conv)
        with self.ws._lock:
            if self._meta_path(conv.digest).exists():
                return self.get(conv.digest)  # the same data: one dataset
            self._clean()
            self.ws._room_for(len(blob))
            atomic.write_bytes(stored.file_in(self.ws.folder, conv.digest), blob)
            meta = {"id": conv.digest, "name": clean_name(name), "created": time.time()}
            atomic.write_json(self._meta_path(conv.digest), meta)
        return self.get(conv.digest)

    def list(self) -> list[DatasetInfo]:
        """Newest first; a damaged one is left out, not the list."""
        return sorted(read_each(self.folder, _ID, self.get), key=lambda d: d.created, reverse=True)

    def get(self, dataset_id: str) -> DatasetInfo:
        path = self._meta_path(dataset_id)
        try:
            meta = json.loads(_read_own(path))
            header = _header(stored.file_in(self.ws.folder, dataset_id))
            size = stored.file_in(self.ws.folder, dataset_id).stat().st_size
            return DatasetInfo(dataset_id, str(meta["name"]), float(meta["created"]), header["report"], size)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RunStoreError(f"no readable dataset {dataset_id!r} in this workspace ({type(e).__name__})") from None

    def load(self, dataset_id: str) -> Converted:
        self.get(dataset_id)
        conv = stored.read(self.ws.folder, dataset_id)
        if conv is None:
            raise RunStoreError(f"no dataset {dataset_id!r} in this workspace")
        return conv

    def blob(self, dataset_id: str) -> bytes:
        self.get(dataset_id)
        try:
            return _read_own(stored.file_in(self.ws.folder, dataset_id))
        except OSError as e:
            raise RunStoreError(f"dataset {dataset_id} cannot be read: {e.strerror or e}") from None

    def preview(self, dataset_id: str, n: int = 64) -> Preview:
        return self.load(dataset_id).preview(n)

    def delete(self, dataset_id: str) -> None:
        with self.ws._lock:
            info = self.get(dataset_id)
            busy = [r.name for r in self.ws.runs() if r.live and key_of(r.config.dataset) == dataset_id]
            if busy:
                raise RunStoreError(f"{info.name!r} is the data of {', '.join(map(repr, busy))}, still training: stop "
                                    "it first")
            self._meta_path(dataset_id).unlink(missing_ok=True)
            stored.file_in(self.ws.folder, dataset_id).unlink(missing_ok=True)

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file()) if self.folder.is_dir() else 0

    def _meta_path(self, dataset_id: str) -> Path:
        if not _ID.fullmatch(dataset_id or ""):
            raise RunStoreError(f"not a dataset id: {dataset_id!r}")
        return self.folder / f"{dataset_id}.json"

    def _clean(self) -> None:
        """Remove what a killed writer left: temporary files, and data files without their .json."""
        if not self.folder.is_dir():
            return
        atomic.clean_stale(self.folder)
        for p in self.folder.glob("*.safetensors"):
            try:
                if not p.with_suffix(".json").exists() and time.time() - p.stat().st_mtime > ORPHAN_S:
                    p.unlink()
            except OSError:
                pass


def _header(path: Path) -> dict:
    """The JSON description of a stored dataset, read from its header only (not its data)."""
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > stored.MAX_HEADER:
            raise ValueError("header too large")
        header = json.loads(f.read(n))
    return json.loads(header["__metadata__"][stored.KEY])
