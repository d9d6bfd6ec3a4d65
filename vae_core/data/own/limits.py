"""What a user's dataset may be, stated once, and the error that says why one is refused."""
from __future__ import annotations

from ..dataset import DatasetError

MAX_EXAMPLES = 100_000
MIN_EXAMPLES = 2                  # one for training, one for validation
MAX_BYTES = 500 * 2**20           # after conversion, as stored: 8-bit pixels, or float32 points
MAX_INPUT_BYTES = 2**30           # uncompressed input, all files together
MAX_RATIO = 200                   # uncompressed : compressed, for a zip member or gzip stream ...
RATIO_FLOOR = 2**20               # ... of at least this many bytes (a small blank image may pack tighter)
MAX_MEMBERS = 200_000             # files in a zip or a folder
MAX_PIXELS = 40_000_000           # declared by one image's header, checked before it is decoded
MAX_SIDE = 64                     # a kept size beyond this is fitted to 64 pixels on its longer side
MAX_CLASSES = 1_000
MAX_POINT_DIMS = 1_024            # columns of a point set (a square number of at least 64 reads as images)


class DataRefused(DatasetError):
    """A user's data that is not read. str() is one line: 'FILE: reason' (FILE: the path or upload,
    and the member inside an archive or folder when the reason is about one)."""

    def __init__(self, where: str, reason: str):
        where, reason = (_printable(t) for t in (where, reason))  # one line, whatever a library or a name said
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


def _printable(text) -> str:
    """One line of printable characters: no newline, no terminal escape from a file's name."""
    return "".join(ch if ch.isprintable() else "?" for ch in " ".join(str(text).split()))


def count(n: int, word: str) -> str:
    """'1 image', '60,000 images'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def mb(nbytes: float) -> str:
    """'120 bytes', '7.9 kB', '7.8 MB', '1.0 GB'."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:,.1f} {unit}"
    return f"{int(nbytes)} bytes"
