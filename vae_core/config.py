"""The one frozen config that travels everywhere and is saved with every checkpoint.

A model is rebuilt from its config alone (like nanoGPT's `model_args`), so every knob that
changes the architecture or the loss lives here, and nothing else does.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .corruption import CORRUPTIONS
from .registry import MODELS

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
SPARSITIES = ("l1", "kl")
PRECISIONS = ("fp32", "bf16")

# field -> (low, high, low included, high included): the one table of allowed numeric values,
# read by Config.validate and shown by the app next to each field
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "latent_dim": (1, 1024, True, True),
    "sigma": (1e-3, math.inf, True, True),   # below a thousandth of a pixel the loss is ~1e12 nats: no signal
    "beta": (0, 1e6, True, True),
    "kl_warmup": (0, 10_000_000, True, True),
    "sparsity_weight": (0, 1e6, True, True),
    "rho": (0, 1, False, False),
    "contractive_weight": (0, 1e6, True, True),
    "epochs": (1, 10_000, True, True),
    "batch_size": (1, 65_536, True, True),
    "lr": (0, 10, False, True),
    "seed": (0, 2**32 - 1, True, True),
    "val_fraction": (0, 1, False, False),
}


def _number(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def range_text(name: str) -> str:
    """'1 to 1,024', '> 0 and ≤ 10', ... for the field `name`."""
    lo, hi, lo_in, hi_in = RANGES[name]
    if math.isinf(hi):
        return f"{'≥' if lo_in else '>'} {_number(lo)}"
    if lo_in and hi_in:
        return f"{_number(lo)} to {_number(hi)}"
    return f"{'≥' if lo_in else '>'} {_number(lo)} and {'≤' if hi_in else '<'} {_number(hi)}"


def in_range(name: str, value) -> bool:
    lo, hi, lo_in, hi_in = RANGES[name]
    return (lo <= value if lo_in else lo < value) and (value <= hi if hi_in else value < hi)


@dataclass(frozen=True)
class Config:
    # what to fit
    dataset: str = "digits"
    model: str = "vae"
    # architecture
    arch: str = "mlp"                 # "mlp": widths in `hidden`; "conv": channels in `hidden`
    hidden: tuple[int, ...] = (400,)  # pytorch/examples vae: 784-400-20
    latent_dim: int = 2
    # likelihood p(x|z): Bernoulli (BCE on logits) or Gaussian with fixed std `sigma` (MSE)
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    # VAE family: loss = recon + beta * KL, beta ramped 0 -> beta over `kl_warmup` steps
    beta: float = 1.0
    kl_warmup: int = 0
    # denoising AE: corruption applied to the input, loss against the clean input
    corruption: str = "gaussian"
    noise: float = 0.3                # std (gaussian) or fraction (masking, salt_and_pepper)
    # sparse AE: "l1" -> weight * sum|a|; "kl" -> weight * sum_j KL(rho || rho_hat_j)
    sparsity: str = "kl"
    sparsity_weight: float = 0.1
    rho: float = 0.05
    # contractive AE: weight * ||d code / d x||_F^2
    contractive_weight: float = 0.01
    # optimisation
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    precision: str = "fp32"          # "bf16": mixed precision (autocast) for the training steps
    seed: int = 0
    val_fraction: float = 0.1

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed, validated."""
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> "Config":
        """Raise ValueError with a one-line message for any impossible value; return self."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(msg)

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float):
                need(math.isfinite(v), f"{f.name} must be a finite number, got {v}")
        need(self.model in MODELS, f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        need(self.arch in ARCHS, f"unknown arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        need(self.likelihood in LIKELIHOODS,
             f"unknown likelihood {self.likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        need(self.corruption in CORRUPTIONS,
             f"unknown corruption {self.corruption!r}; choose one of {', '.join(CORRUPTIONS)}")
        need(self.sparsity in SPARSITIES,
             f"unknown sparsity {self.sparsity!r}; choose one of {', '.join(SPARSITIES)}")
        need(self.precision in PRECISIONS,
             f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        for name in RANGES:
            value = getattr(self, name)
            need(in_range(name, value), f"{name} must be {range_text(name)}, got {value}")
        need(len(self.hidden) >= (1 if self.arch == "conv" else 0) and all(1 <= h <= 8192 for h in self.hidden),
             f"hidden sizes must be integers between 1 and 8192, got {self.hidden}")
        if self.corruption != "gaussian":
            need(0 <= self.noise < 1, f"noise fraction must be ≥ 0 and < 1, got {self.noise}")
        need(self.noise >= 0, f"noise must be ≥ 0, got {self.noise}")
        return self

    # JSON round trip: checkpoints and the CLI speak plain dicts.
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """Build and validate a config from a dict; unknown or mistyped keys are a ValueError."""
        if not isinstance(d, dict):
            raise ValueError("config must be a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        kw = {}
        for name, value in d.items():
            kw[name] = _coerce(name, value, type(getattr(cls, name)))  # class attr = default
        return cls(**kw).validate()


def _coerce(name: str, value, kind: type):
    """Check one JSON value against the field's type (bool is not an int here)."""
    if kind is tuple:
        if not isinstance(value, (list, tuple)) or not all(type(v) is int for v in value):
            raise ValueError(f"config {name} must be a list of integers")
        return tuple(value)
    if kind is float and type(value) in (int, float):
        return float(value)
    if type(value) is not kind:
        raise ValueError(f"config {name} must be {kind.__name__}, got {type(value).__name__}")
    return value


def parse_hidden(text: str) -> tuple[int, ...]:
    """'512,256' -> (512, 256); '' -> () (a linear encoder)."""
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ValueError(f"hidden must be a comma list of integers, got {text!r}") from None
