"""Where a user's dataset comes from, as a sorted list of named files (`Member`s), read under the limits.

A source is a path (a file or a folder) or uploaded files ((name, bytes) pairs). A zip among them
(the path itself, or an upload) is opened one level: its members become the source's files. What is
refused, before anything is decoded: names that lead out of the archive (`../`, absolute paths,
drive letters), symbolic links (in a zip's external attributes, or in a folder), encrypted members,
compressions other than stored and deflated, more than MAX_INPUT_BYTES uncompressed in all (read
from the zip's central directory first, then counted while reading), a member that inflates more
than MAX_RATIO times, a zip inside the zip. A gzip file is inflated under the same limits.
Files in a folder or zip that are not data (README.md, .DS_Store, __MACOSX/) are skipped, and said.
"""
from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .progress import Progress, Stage
from .limits import MAX_INPUT_BYTES, MAX_MEMBERS, MAX_RATIO, RATIO_FLOOR, DataRefused, count, mb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DATA_SUFFIXES = (*IMAGE_SUFFIXES, ".npy", ".npz", ".csv", ".tsv", ".gz", ".zip", ".idx")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members; an empty zip
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_S_IFLNK = 0o120000

# what a damaged zip can raise from zipfile / zlib (all mean: this archive cannot be read)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
              struct.error, IndexError, KeyError, OverflowError)


@dataclass
class Member:
    name: str     # '/'-separated path inside the source ("cat/001.png"); a lone file's own name
    where: str    # for messages: "shoes.zip: cat/001.png"
    data: bytes


@dataclass
class Source:
    label: str                                          # the path or the uploads, as the user named them
    kind: str                                           # "zip", "folder", "file" or "files"
    members: list[Member] = field(default_factory=list)  # sorted by name
    skipped: list[str] = field(default_factory=list)     # files that are not data, not read


class Budget:
    """Uncompressed bytes read so far, all files together, against MAX_INPUT_BYTES."""

    def __init__(self, label: str):
        self.label, self.used = label, 0

    def take(self, nbytes: int, where: str) -> None:
        self.used += nbytes
        if self.used > MAX_INPUT_BYTES:
            raise DataRefused(where, f"more than {mb(MAX_INPUT_BYTES)} of data uncompressed, the limit")

    def give_back(self, nbytes: int) -> None:
        """An archive's own bytes, once its members are counted instead."""
        self.used -= nbytes


def is_data_name(name: str) -> bool:
    """Whether a file in a folder or zip is read: a data suffix, or an IDX name (train-images-idx3-ubyte)."""
    base = name.rpartition("/")[2].lower()
    return base.endswith(DATA_SUFFIXES) or "idx" in base


def _hidden(parts) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def check_ratio(out: int, packed: int, where: str) -> None:
    if out >= RATIO_FLOOR and out > MAX_RATIO * max(packed, 1):
        raise DataRefused(where, f"inflates {out / max(packed, 1):,.0f} times ({mb(out)} from {mb(packed)}), more "
                                 f"than the {MAX_RATIO}:1 allowed: a zip bomb, or data to unpack before giving it")


def gunzip(raw: bytes, where: str, budget: Budget) -> bytes:
    """A gzip file's content, inflated a megabyte at a time under the budget and the ratio limit."""
    d, buf, out, total = zlib.decompressobj(16 + zlib.MAX_WBITS), raw, [], 0
    while True:
        try:
            chunk = d.decompress(buf, _CHUNK)
        except zlib.error as e:
            raise DataRefused(where, f"a broken gzip file ({e})") from None
        buf = d.unconsumed_tail
        total += len(chunk)
        budget.take(len(chunk), where)
        check_ratio(total, len(raw), where)
        out.append(chunk)
        if d.eof:
            rest = d.unused_data
            if rest[:2] != GZIP_MAGIC:  # done (trailing zeros or junk after the stream are ignored, as gzip does)
                return b"".join(out)
            d, buf = zlib.decompressobj(16 + zlib.MAX_WBITS), rest  # a multi-member gzip: the next member
        elif not chunk and not buf:
            raise DataRefused(where, "a truncated gzip file")


def _safe_name(name: str, where: str) -> str:
    """A zip member's name as '/'-separated parts; refuse one that leads out of the archive."""
    if "\x00" in name:
        raise DataRefused(where, f"a member name with a NUL character ({name!r})")
    norm = name.replace("\\", "/")
    parts = norm.split("/")
    if norm.startswith("/") or (len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts:
        raise DataRefused(where, f"a member named {name!r} leads out of the archive (absolute path or '..'); "
                                 f"refused")
    return "/".join(p for p in parts if p not in ("", "."))


def open_zip(raw: bytes, label: str, budget: Budget,
             progress: Progress | None = None) -> tuple[list[Member], list[str]]:
    """The data members of a zip (not directories, not skipped names), checked as the module says."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except ZIP_ERRORS as e:
        raise DataRefused(label, f"not a readable zip archive ({type(e).__name__}: {e})") from None
    if len(infos) > MAX_MEMBERS:
        raise DataRefused(label, f"{count(len(infos), 'file')} in the archive, more than the {MAX_MEMBERS:,} allowed")
    wanted, skipped, declared = [], [], 0
    for info in infos:
        name = _safe_name(info.filename, label)
        where = f"{label}: {info.filename}"
        if (info.external_attr >> 16) & 0o170000 == _S_IFLNK:
            raise DataRefused(where, "a symbolic link in the archive; refused")
        if not name or info.filename.endswith("/"):  # a folder entry (or a nameless one)
            continue
        if _hidden(name.split("/")) or not is_data_name(name):
            skipped.append(name)
            continue
        if info.flag_bits & 0x1:
            raise DataRefused(where, "encrypted; give the archive without a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DataRefused(where, f"compression method {info.compress_type} (only stored or deflated members "
                                     "are read, as every zip tool and numpy.savez write them)")
        declared += info.file_size
        if declared > MAX_INPUT_BYTES:
            raise DataRefused(label, f"the archive's directory declares more than {mb(MAX_INPUT_BYTES)} "
                                     "uncompressed, the limit")
        check_ratio(info.file_size, info.compress_size, where)
        wanted.append((name, where, info))
    members, stage = [], Stage(progress, 0.0, 0.3, "reading the archive")
    for name, where, info in wanted:
        stage(len(members), len(wanted))
        try:
            with zf.open(info) as f:
                data = f.read(info.file_size + 1)  # zipfile stops at the declared size and checks the CRC
        except ZIP_ERRORS as e:
            raise DataRefused(where, f"cannot be read from the archive ({type(e).__name__}: {e})") from None
        if len(data) != info.file_size:
            raise DataRefused(where, "its size differs from the archive's directory; a damaged or forged zip")
        budget.take(len(data), where)
        members.append(Member(name, where, data))
    return members, skipped


def _expand(top: Member, budget: Budget, progress: Progress | None = None) -> tuple[list[Member], list[str], str]:
    """A file given (or found in a folder): a zip (or .npz) opens into its members, one level; others stay."""
    if top.data[:4] not in ZIP_MAGIC:
        return [top], [], "file"
    members, skipped = open_zip(top.data, top.where, budget, progress)
    budget.give_back(len(top.data))
    for m in members:
        if m.data[:4] in ZIP_MAGIC:
            raise DataRefused(m.where, "an archive inside the archive; unpack it and give the inner one")
    return members, skipped, "zip"


def read_path(path: str | Path, progress: Progress | None = None) -> Source:
    """The files of a path: a file (a zip is opened), or every data file below a folder."""
    p = Path(path).expanduser()
    label = str(path)
    try:
        st = p.stat()
    except OSError as e:
        raise DataRefused(label, f"cannot be read ({e.strerror or e})") from None
    budget = Budget(label)
    if stat.S_ISDIR(st.st_mode):
        return _read_folder(p, label, budget)
    data = _read_file(p, label, st, budget, follow=True)  # the path itself may be a link the user made
    members, skipped, kind = _expand(Member(p.name, label, data), budget, progress)
    if kind == "file":
        members += _idx_labels_beside(p, budget)
    return Source(label, kind, sorted(members, key=lambda m: m.name), skipped)


def read_files(files: list[tuple[str, bytes]], label: str | None = None, progress: Progress | None = None) -> Source:
    """Uploaded files, each (its name, its bytes); a zip among them is opened."""
    if not files:
        raise DataRefused(label or "upload", "no files given")
    label = label or ", ".join(PurePosixPath(str(n).replace("\\", "/")).name or "upload" for n, _ in files)[:200]
    budget = Budget(label)
    members, skipped, kinds = [], [], set()
    for name, data in files:
        base = PurePosixPath(str(name).replace("\\", "/")).name or "upload"
        budget.take(len(data), base)
        got, skip, kind = _expand(Member(base, base, bytes(data)), budget, progress)
        members += got
        skipped += skip
        kinds.add(kind)
    kind = "zip" if kinds == {"zip"} and len(files) == 1 else ("file" if len(files) == 1 else "files")
    return Source(label, kind, sorted(members, key=lambda m: m.name), skipped)


def _read_file(p: Path, where: str, st: os.stat_result, budget: Budget, follow: bool = False) -> bytes:
    if not stat.S_ISREG(st.st_mode):
        raise DataRefused(where, "not a regular file")
    budget.take(st.st_size, where)
    try:
        fd = os.open(p, os.O_RDONLY | (0 if follow else getattr(os, "O_NOFOLLOW", 0)))
        with os.fdopen(fd, "rb") as f:
            return f.read(st.st_size)
    except OSError as e:
        raise DataRefused(where, f"cannot be read ({e.strerror or e})") from None


def _read_folder(top: Path, label: str, budget: Budget) -> Source:
    members, skipped = [], []
    n_files = 0
    for root, dirs, files in os.walk(top, followlinks=False):
        rel_root = Path(root).relative_to(top)
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                raise DataRefused(f"{label}: {rel_root / d}", "a symbolic link in the folder; refused")
        dirs[:] = sorted(d for d in dirs if not _hidden([d]))
        for name in sorted(files):
            rel = (rel_root / name).as_posix()
            where = f"{label}: {rel}"
            full = Path(root) / name
            try:
                st = full.lstat()
            except OSError as e:
                raise DataRefused(where, f"cannot be read ({e.strerror or e})") from None
            if stat.S_ISLNK(st.st_mode):
                raise DataRefused(where, "a symbolic link in the folder; refused")
            n_files += 1
            if n_files > MAX_MEMBERS:
                raise DataRefused(label, f"more than {MAX_MEMBERS:,} files in the folder, the limit")
            if _hidden([name]) or not is_data_name(name):
                skipped.append(rel)
                continue
            got, skip, _ = _expand(Member(rel, where, _read_file(full, where, st, budget)), budget)
            members += got
            skipped += skip
    return Source(label, "folder", sorted(members, key=lambda m: m.name), skipped)


def _idx_labels_beside(p: Path, budget: Budget) -> list[Member]:
    """For a lone IDX images file (train-images-idx3-ubyte[.gz]), its labels file beside it, if there."""
    if "images-idx3" not in p.name:
        return []
    for candidate in (p.with_name(p.name.replace("images-idx3", "labels-idx1")),):
        for c in (candidate, candidate.with_name(candidate.name + ".gz"),
                  candidate.with_name(candidate.name.removesuffix(".gz"))):
            try:
                st = c.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                return [Member(c.name, str(c), _read_file(c, str(c), st, budget))]
    return []
