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
        need(1 <= self.latent_dim <= 1024, f"latent_dim must be between 1 and 1024, got {self.latent_dim}")
        need(len(self.hidden) >= (1 if self.arch == "conv" else 0) and all(1 <= h <= 8192 for h in self.hidden),
             f"hidden sizes must be integers between 1 and 8192, got {self.hidden}")
        need(self.sigma > 0, f"sigma must be > 0, got {self.sigma}")
        need(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        need(self.kl_warmup >= 0, f"kl_warmup must be >= 0 steps, got {self.kl_warmup}")
        if self.corruption == "gaussian":
            need(self.noise >= 0, f"noise std must be >= 0, got {self.noise}")
        else:
            need(0 <= self.noise < 1, f"noise fraction must be in [0, 1), got {self.noise}")
        need(self.sparsity_weight >= 0, f"sparsity_weight must be >= 0, got {self.sparsity_weight}")
        need(0 < self.rho < 1, f"rho must be in (0, 1), got {self.rho}")
        need(self.contractive_weight >= 0, f"contractive_weight must be >= 0, got {self.contractive_weight}")
        need(1 <= self.epochs <= 10_000, f"epochs must be between 1 and 10000, got {self.epochs}")
        need(1 <= self.batch_size <= 65_536, f"batch_size must be between 1 and 65536, got {self.batch_size}")
        need(0 < self.lr <= 10, f"lr must be in (0, 10], got {self.lr}")
        need(0 <= self.seed < 2**63, f"seed must be a non-negative integer, got {self.seed}")
        need(0 < self.val_fraction < 1, f"val_fraction must be in (0, 1), got {self.val_fraction}")
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
