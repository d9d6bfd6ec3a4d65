"""The random draws of a training step (the VAE's ε, a denoising AE's corruption): from the process's
generator, or, inside `drawing_from(g)`, from generator `g` in this thread only. A sweep that steps
its members in threads of their own (vae_core.batched) gives each member its own stream this way;
the process's generator, shared by every thread, would interleave their draws. Given the same state,
`g` draws exactly what the process's generator would (tests/test_sweep.py)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

_here = threading.local()  # .generator: this thread's, or absent


@contextmanager
def drawing_from(generator: torch.Generator):
    """Within this block, on this thread, every draw below comes from `generator`."""
    before = getattr(_here, "generator", None)
    _here.generator = generator
    try:
        yield
    finally:
        _here.generator = before


def randn_like(t: torch.Tensor) -> torch.Tensor:
    """N(0, 1) noise of t's shape, dtype and device."""
    g = getattr(_here, "generator", None)
    return torch.randn_like(t) if g is None else torch.randn(t.shape, generator=g, dtype=t.dtype, device=t.device)


def rand_like(t: torch.Tensor) -> torch.Tensor:
    """U[0, 1) noise of t's shape, dtype and device."""
    g = getattr(_here, "generator", None)
    return torch.rand_like(t) if g is None else torch.rand(t.shape, generator=g, dtype=t.dtype, device=t.device)
