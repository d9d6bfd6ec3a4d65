"""The few-second trainings the Concepts pages run: a Trainer on the CPU, one thread.

One thread: the pages train tiny models while other sessions use the machine, and on a couple of
cores intra-op threads mostly wait on each other (see tests/conftest.py).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import torch

from ..config import Config
from ..data import Dataset
from ..models import Autoencoder
from ..trainer import Trainer


@contextmanager
def one_thread():
    """torch uses one intra-op thread inside; the previous count is put back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(cfg: Config, data: Dataset, progress: Callable[[float], None] | None = None) -> Autoencoder:
    """Train `cfg` on `data` (split by cfg.val_fraction and cfg.seed) on the CPU; the model in eval
    mode. `progress(fraction)` is called every 10 steps and at the end."""
    train_set, val_set = data.split(cfg.val_fraction, cfg.seed)
    with one_thread():
        trainer = Trainer(cfg, train_set, val_set, device="cpu")
        for report in trainer.run():
            if progress is not None and (report.step % 10 == 0 or report.val is not None):
                progress(report.fraction)
    return trainer.model.eval()
