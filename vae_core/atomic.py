"""Atomic file writes: a temporary file in the same folder, fsync, then rename over the target.

A reader sees the old file or the new one, never half of one, even if the writer is killed midway
(os.replace is atomic on POSIX and Windows). A killed writer can leave its temporary file behind:
`clean_stale` removes those (they are named `.<target>.<random>.tmp`).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"


def write_bytes(path: str | Path, blob: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj) -> Path:
    return write_bytes(path, json.dumps(obj, indent=1, sort_keys=True).encode())


def clean_stale(folder: str | Path, older_than_s: float = 60.0) -> int:
    """Remove temporary files a killed writer left in `folder` (only ones old enough that no live
    writer can still be using them). Returns how many were removed."""
    removed, now = 0, time.time()
    for p in Path(folder).glob(f".*{TMP_SUFFIX}"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
                removed += 1
        except OSError:
            pass
    return removed
