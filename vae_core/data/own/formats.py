"""What a source holds: every file recognised by its first bytes (never by its name alone), read and
checked, and gathered into one `Raw`: images (labels from sub-folder names), one array with optional
labels, or one CSV table.

Which array is which, when there are several (an .npz, a folder of .npy, an IDX pair):
- the examples: the array named x, images, data, features or inputs, else the only one with 2+ dims;
- the labels: the array named y, labels, label, targets or target, else the only other 1-D array
  with one value per example;
- class names (optional): a 1-D text array named class_names or classes, for integer labels 0..K-1.
Images' labels: the images' folders, less the folders they all share, name their class; an image
outside every sub-folder is labelled "(none)"; with no sub-folders, there are no labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from ..readers import is_idx
from .arrays import read_csv, read_idx, read_npy
from .images import ImageFile, is_image, open_image
from .limits import MAX_EXAMPLES, DataRefused, count
from .progress import Progress, Stage
from .sources import GZIP_MAGIC, IMAGE_SUFFIXES, ZIP_MAGIC, Budget, Source, gunzip

X_NAMES = ("x", "images", "data", "features", "inputs")
Y_NAMES = ("y", "labels", "label", "targets", "target")
CLASS_NAMES = ("class_names", "classes")
NO_FOLDER = "(none)"
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
NOT_TEXT_SUFFIXES = (*IMAGE_SUFFIXES, ".npy", ".npz", ".zip", ".gz")  # named so, a text file is refused


@dataclass
class Raw:
    """What was read, before conversion: images, or an array (examples in the first axis), or a table."""
    label: str                              # the source, as the user named it
    format: str                             # e.g. "PNG/JPEG images in a zip", "npz arrays", "CSV"
    images: list[ImageFile] | None = None   # image files, headers read, pixels not yet decoded
    x: np.ndarray | None = None             # (N, ...) as stored
    x_where: str = ""                       # the file it came from
    labels: np.ndarray | None = None        # (N,) integers or text; None: no labels
    class_names: list[str] | None = None    # names of integer labels 0..K-1
    columns: list[str] | None = None        # a CSV's numeric columns
    notes: list[str] = field(default_factory=list)


def read_source(src: Source, progress: Progress | None = None) -> Raw:
    """Sort a source's files into images, arrays or a table, refusing anything else or a mix."""
    budget = Budget(src.label)
    budget.used = sum(len(m.data) for m in src.members)
    images: list[tuple[str, bytes, str]] = []
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    array_kinds: set[str] = set()
    tables = []
    for m in src.members:
        data, name = m.data, m.name
        if not data:
            raise DataRefused(m.where, "an empty file")
        if data[:2] == GZIP_MAGIC:
            budget.give_back(len(data))
            data, name = gunzip(data, m.where, budget), _strip_gz(name)
            if not data:
                raise DataRefused(m.where, "an empty file inside the gzip")
        if is_image(data):
            images.append((name, data, m.where))
        elif data.startswith(b"\x93NUMPY"):
            _add_array(arrays, name, m.where, read_npy(data, m.where))
            array_kinds.add("numpy")
        elif is_idx(data):
            _add_array(arrays, name, m.where, read_idx(data, m.where))
            array_kinds.add("IDX")
        elif data[:4] in ZIP_MAGIC:
            raise DataRefused(m.where, "an archive inside a gzip file; give the archive itself")
        elif name.lower().endswith(NOT_TEXT_SUFFIXES):
            raise DataRefused(m.where, _not_data(name, data))
        elif name.lower().endswith(TEXT_SUFFIXES) or (len(src.members) == 1 and _texty(data)):
            tables.append((m.where, read_csv(data, m.where)))
        else:
            raise DataRefused(m.where, _not_data(name, data))
    kinds = [k for k, v in (("images", images), ("arrays", arrays), ("CSV tables", tables)) if v]
    if not kinds:
        skipped = f" (skipped {count(len(src.skipped), 'other file')}: {', '.join(src.skipped[:3])})" \
            if src.skipped else ""
        raise DataRefused(src.label, f"no data in it: give PNG or JPEG images, .npy / .npz, IDX or CSV files{skipped}")
    if len(kinds) > 1:
        raise DataRefused(src.label, f"mixes {' and '.join(kinds)}; give one kind of data")
    notes = [f"skipped {count(len(src.skipped), 'file')} that are not data: {', '.join(src.skipped[:3])}"
             + (", ..." if len(src.skipped) > 3 else "")] if src.skipped else []
    where = f" in a {src.kind}" if src.kind in ("zip", "folder") else ""
    if images:
        return _images(src.label, images, notes, f"PNG/JPEG images{where}", Stage(progress, 0.3, 0.5,
                                                                                       "reading the image headers"))
    if tables:
        if len(tables) > 1:
            raise DataRefused(src.label, f"{count(len(tables), 'CSV file')}; give one")
        t_where, (values, labels, columns) = tables[0]
        return Raw(src.label, "CSV", x=values, x_where=t_where, labels=labels, columns=columns, notes=notes)
    if src.label.lower().endswith(".npz"):
        where = ""
    return _arrays(src.label, arrays, notes, f"{' and '.join(sorted(array_kinds))} arrays{where}")


def _strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _texty(data: bytes) -> bool:
    head = data[:4096]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


def _not_data(name: str, data: bytes) -> str:
    """Why a file is not read, in its own terms."""
    low = name.lower()
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:  # pickle protocols 2 to 5
        return "a Python pickle: refused, never unpickled"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "a tar archive; give a zip or a folder"
    if low.endswith(IMAGE_SUFFIXES):
        return f"not a PNG or JPEG image (it starts with {data[:8].hex()})"
    if low.endswith(".npy"):
        return f"not a .npy file (it starts with {data[:8].hex()})"
    return "not a file this reads: PNG or JPEG images, .npy / .npz, IDX or CSV"


def _add_array(arrays: dict, name: str, where: str, a: np.ndarray) -> None:
    stem = PurePosixPath(name).name
    stem = stem[:-4] if stem.lower().endswith(".npy") else stem
    if stem.lower() in arrays:
        raise DataRefused(where, f"a second array named {stem!r}; give one")
    arrays[stem.lower()] = (where, a)


def _images(label: str, found: list[tuple[str, bytes, str]], notes: list[str], fmt: str, stage: Stage) -> Raw:
    if len(found) > MAX_EXAMPLES:
        raise DataRefused(label, f"{count(len(found), 'image')}, more than the {MAX_EXAMPLES:,} allowed")
    folders = [name.split("/")[:-1] for name, _, _ in found]  # member names are '/'-separated (own.sources)
    shared = 0
    while all(len(f) > shared for f in folders) and len({f[shared] for f in folders}) == 1:
        shared += 1
    labelled = any(len(f) > shared for f in folders)
    files = []
    for (_, data, where), f in zip(found, folders):
        stage(len(files), len(found))
        files.append(open_image(data, where, (f[shared] if len(f) > shared else NO_FOLDER) if labelled else None))
    if labelled and any(len(f) == shared for f in folders):
        notes.append(f"images outside every sub-folder are labelled {NO_FOLDER!r}")
    labels = np.array([f.label for f in files]) if labelled else None
    return Raw(label, fmt, images=files, labels=labels, notes=notes)


def _pick(arrays: dict, names: tuple[str, ...]) -> str | None:
    return next((k for k in names if k in arrays), None)


def _arrays(label: str, arrays: dict[str, tuple[str, np.ndarray]], notes: list[str], fmt: str) -> Raw:
    names_key = _pick(arrays, CLASS_NAMES)
    x_key = _pick(arrays, X_NAMES)
    if x_key is None:
        multi = [k for k, (_, a) in arrays.items() if a.ndim >= 2 and k != names_key]
        if len(multi) != 1:
            what = f"{len(multi)} arrays with 2 or more dimensions ({', '.join(multi)})" if multi else \
                "no array with one example per row (2 or more dimensions)"
            raise DataRefused(label, f"{what}: name the examples x (and their labels y)")
        x_key = multi[0]
    x_where, x = arrays[x_key]
    if x.dtype.kind in "US":
        raise DataRefused(x_where, f"holds text ({x.dtype}), not numbers")
    y_key = _pick(arrays, Y_NAMES)
    if y_key is None:
        ones = [k for k, (_, a) in arrays.items() if a.ndim == 1 and k not in (x_key, names_key)
                and len(a) == len(x)]
        if len(ones) > 1:
            raise DataRefused(label, f"{len(ones)} arrays could be the labels ({', '.join(ones)}): name them y")
        y_key = ones[0] if ones else None
    labels = None
    if y_key is not None:
        y_where, labels = arrays[y_key]
        if labels.ndim != 1 or len(labels) != len(x):
            raise DataRefused(y_where, f"labels of shape {labels.shape} for {count(len(x), 'example')}: one label "
                                       "per example is needed")
    class_names = None
    if names_key is not None:
        n_where, names = arrays[names_key]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DataRefused(n_where, "class names must be a 1-D array of text")
        class_names = [str(n) for n in names.tolist()]
    unused = sorted(set(arrays) - {x_key, y_key, names_key})
    if unused:
        notes.append(f"arrays not used: {', '.join(unused)}")
    return Raw(label, fmt, x=x, x_where=x_where, labels=labels, class_names=class_names, notes=notes)
