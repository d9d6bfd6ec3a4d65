"""The progress of a long read, for a bar: a callable (fraction done in 0..1, what is being done)."""
from __future__ import annotations

from typing import Callable

Progress = Callable[[float, str], None]


class Stage:
    """One stage of the work, spanning [lo, hi] of the bar: stage(done, total) reports about every 1 %."""

    def __init__(self, progress: Progress | None, lo: float, hi: float, what: str):
        self.progress, self.lo, self.hi, self.what, self.last = progress, lo, hi, what, -1.0

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None or total <= 0:
            return
        fraction = self.lo + (self.hi - self.lo) * min(done, total) / total
        if fraction - self.last >= 0.01 or done >= total:
            self.last = fraction
            self.progress(fraction, self.what)
