"""The one place that picks the device: cuda -> mps -> cpu unless told otherwise."""
from __future__ import annotations

from contextlib import contextmanager

import torch


def pick_device(name: str | None = None) -> torch.device:
    """None or "auto": the best available device; otherwise that device, if it exists here."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was asked for, but MPS is not available here")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or mps")
    return device


def describe(device: torch.device) -> str:
    """A short human name: 'cpu', 'cuda (NVIDIA H100 80GB HBM3)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@contextmanager
def forked_rng(device: torch.device):
    """Inside, the global RNG of the CPU (and of `device`'s accelerator) may be reseeded or
    swapped freely; afterwards it is put back as it was."""
    devices = [] if device.type == "cpu" else [device]
    with torch.random.fork_rng(devices, device_type=device.type if devices else None):
        yield
