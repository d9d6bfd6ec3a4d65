"""Arrays from .npy (also the members of an .npz), IDX and CSV files, checked before they are trusted.

.npy: the header is read first (numpy.lib.format): an array of Python objects (a pickle; also what
numpy makes of a ragged list), a structured, complex or text dtype for the data, a shape that its
bytes do not hold or past MAX_EXAMPLES are refused before the data is read, which is then loaded
with `np.load(..., allow_pickle=False)`. IDX: vae_core.data.readers.parse_idx. CSV: numeric
columns, an optional header, an optional `label` (or `class`) column; text in a numeric column, an
empty cell, a row of another length, NaN or Inf are refused naming the row and column.
"""
from __future__ import annotations

import io
import math
import re

import numpy as np

from ..dataset import DatasetError
from ..readers import parse_idx
from .limits import MAX_EXAMPLES, DataRefused, count

LABEL_COLUMNS = ("label", "class")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|nan|inf|infinity)\s*$", re.IGNORECASE)


def read_npy(data: bytes, where: str) -> np.ndarray:
    """The array of a .npy file; see the module for what is refused before its data is read."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
    except Exception as e:  # numpy parses the header as a Python literal: TokenError, SyntaxError, ...  # noqa: BLE001
        raise DataRefused(where, f"not a readable .npy file ({type(e).__name__}: {e})") from None
    if dtype.hasobject:
        raise DataRefused(where, "an array of Python objects (a pickle, or a ragged list saved by numpy): refused, "
                                 "never unpickled; save one numeric array of equal-sized examples")
    if dtype.names is not None or dtype.subdtype is not None:
        raise DataRefused(where, f"a structured array ({dtype}); save plain numbers")
    if dtype.kind not in "biufUS":
        raise DataRefused(where, f"holds {dtype} values, not numbers")
    if not shape:
        raise DataRefused(where, "a single value, not a set of examples")
    if shape[0] > MAX_EXAMPLES:
        raise DataRefused(where, f"{count(shape[0], 'example')}, more than the {MAX_EXAMPLES:,} allowed")
    need = math.prod(shape) * dtype.itemsize
    if len(data) - f.tell() < need:
        raise DataRefused(where, f"truncated: its header says {tuple(shape)} {dtype} ({need:,} bytes) but "
                                 f"{len(data) - f.tell():,} bytes follow")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataRefused(where, f"not a readable .npy file ({e})") from None


def read_idx(data: bytes, where: str) -> np.ndarray:
    try:
        a = parse_idx(data, where)
    except DatasetError as e:
        raise DataRefused(where, str(e).removeprefix(f"{where}: ").removeprefix(f"{where} ")) from None
    if a.shape[0] > MAX_EXAMPLES:
        raise DataRefused(where, f"{count(a.shape[0], 'example')}, more than the {MAX_EXAMPLES:,} allowed")
    return a


def read_csv(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(values (N, D) float64, the label column as text (N,) or None, the numeric columns' names)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataRefused(where, "not a text file (a CSV is UTF-8 text)") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataRefused(where, "an empty file")
    delim = "\t" if "\t" in lines[0] and "," not in lines[0] else ("," if "," in lines[0] else ";" if ";" in lines[0]
                                                                    else ",")
    first = [c.strip().strip('"') for c in lines[0].split(delim)]
    header = not all(_NUMBER.match(c) for c in first)
    names = first if header else [f"column {i + 1}" for i in range(len(first))]
    rows = lines[1:] if header else lines
    if len(rows) > MAX_EXAMPLES:
        raise DataRefused(where, f"{count(len(rows), 'row')}, more than the {MAX_EXAMPLES:,} allowed")
    if not rows:
        raise DataRefused(where, "a header and no rows")
    label_at = next((i for i, n in enumerate(names) if n.lower() in LABEL_COLUMNS), None) if header else None
    numeric = [i for i in range(len(names)) if i != label_at]
    if not numeric:
        raise DataRefused(where, "no numeric columns, only a label")
    for r, row in enumerate(rows):
        if row.count(delim) != len(names) - 1:
            raise DataRefused(where, f"row {r + 1 + header} has {row.count(delim) + 1} values, the first row "
                                     f"{len(names)}: ragged rows")
    body = "\n".join(rows)
    try:  # numpy's C parser: 60,000 rows of 785 columns in a few seconds
        values = np.loadtxt(io.StringIO(body), delimiter=delim, usecols=numeric, dtype=np.float64, ndmin=2,
                            comments=None, quotechar='"')
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        bad = _first_bad(rows, delim, numeric)
        if bad is None:
            raise DataRefused(where, "its numeric columns cannot be read as numbers")
        r, c, cell = bad
        raise DataRefused(where, f"row {r + 1 + header}, column {names[c]!r}: {cell!r} is not a finite number")
    labels = None
    if label_at is not None:
        labels = np.array([row.split(delim)[label_at].strip().strip('"') for row in rows])
    return values, labels, [names[i] for i in numeric]


def _first_bad(rows: list[str], delim: str, numeric: list[int]) -> tuple[int, int, str] | None:
    """The first cell of the numeric columns that is not a finite number: (row, column, its text)."""
    for r, line in enumerate(rows):
        row = line.split(delim)
        for c in numeric:
            cell = row[c].strip().strip('"')
            try:
                if math.isfinite(float(cell)):
                    continue
            except ValueError:
                pass
            return r, c, cell or "(empty)"
    return None
