"""The one frozen config that travels everywhere and is saved with every checkpoint, and the one
declaration of every knob in it.

A model is rebuilt from its config alone (like nanoGPT's `model_args`), so every knob that
changes the architecture or the loss lives here, and nothing else does. Each field is declared
once with `knob(...)`: its default, allowed range or choices, help text and unit. Everything else
reads that declaration (`KNOBS`): `Config.validate`, the command lines' flags (vae_core.cli), the
Train form's inputs and their labels (ui.knobs), the sweep's value lists, the URL parameters
(ui.links) and live changes such as a β set while a run trains (`KNOBS["beta"].check`).

Two names are open sets checked where they are looked up, not here: `model`
(vae_core.registry.spec_of) and `dataset` (vae_core.data.spec_of).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")  # vae_core.corruption implements each
SPARSITIES = ("l1", "kl")
PRECISIONS = ("fp32", "bf16")
MAX_HIDDEN = 8192


def _number(v: float) -> str:
    """1024 -> '1,024', 0.001 -> '0.001', 1e-06 -> '1e-06': short and exact enough to read."""
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


@dataclass(frozen=True)
class Knob:
    """One hyperparameter: what it is, what it may be, how it reads and is written.

    Numbers have a range [low, high] (an end may be open, `low_open` / `high_open`); words a tuple
    of `choices`; the hidden sizes (a tuple of ints) a range for each item (`low`, `high`)."""
    default: object
    help: str
    label: str = ""                    # in forms and captions; the field's name when empty
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    unit: str = ""                     # e.g. "steps"; said after a value
    when: tuple = ()                   # (knob, value): it matters only then (σ: a Gaussian likelihood)
    name: str = ""                     # the Config field (filled in below)
    kind: type = object                # int, float, str or tuple (filled in below)

    @property
    def flag(self) -> str:
        """Its command-line flag: --latent-dim."""
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def numeric(self) -> bool:
        return self.kind in (int, float)

    def range_text(self) -> str:
        """'1 to 1,024', '> 0 and ≤ 10', '≥ 0.001', 'one of mlp, conv', ... ('' for an open word)."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        if self.kind is tuple:
            return f"{_number(self.low)} to {_number(self.high)} each"
        if not self.numeric:
            return ""
        lo, hi = ("≥" if not self.low_open else ">"), ("≤" if not self.high_open else "<")
        if math.isinf(self.high):
            return f"{lo} {_number(self.low)}"
        if not self.low_open and not self.high_open:
            return f"{_number(self.low)} to {_number(self.high)}"
        return f"{lo} {_number(self.low)} and {hi} {_number(self.high)}"

    def allows(self, value) -> bool:
        """Whether `value` (already of the right kind) is in range / among the choices."""
        if self.choices is not None:
            return value in self.choices
        if self.kind is tuple:
            return all(self.low <= v <= self.high for v in value)
        if not self.numeric:
            return True
        return ((self.low < value) if self.low_open else (self.low <= value)) and \
               ((value < self.high) if self.high_open else (value <= self.high))

    def check(self, value):
        """`value` if this knob may take it; else ValueError '<name> must be <range>, got <value>'."""
        ok_kind = {int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
                   float: lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
                   str: lambda v: isinstance(v, str),
                   tuple: lambda v: isinstance(v, tuple) and all(isinstance(i, numbers.Integral)
                                                                 and not isinstance(i, bool) for i in v),
                   }[self.kind](value)
        if not ok_kind:
            raise ValueError(f"{self.name} must be {self._kind_text()}, got {value!r}")
        if self.kind is float and not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number, got {value}")
        if not self.allows(value):
            shown = _number(value) if self.numeric else self.format(value) if self.kind is tuple else repr(value)
            raise ValueError(f"{self.name} must be {self.range_text()}, got {shown}")
        return value

    def _kind_text(self) -> str:
        return {int: "a whole number", float: "a number", str: "text", tuple: "a list of whole numbers"}[self.kind]

    def parse(self, text: str):
        """Text typed by a person (a form, a flag, a URL) -> a checked value; ValueError names the
        range. '1e-6' and '1,000' read as numbers; 'abc', '2.5' for a whole number, 'nan' do not."""
        text = str(text).strip()
        if self.kind is tuple:
            try:
                value = tuple(int(t) for t in text.split(",") if t.strip())
            except ValueError:
                raise ValueError(f"{self.name} must be {self.range_text()}, got {text!r}") from None
            return self.check(value)
        if not self.numeric:
            return self.check(text)
        try:
            value = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"{self.name} must be {self._kind_text()}, {self.range_text()}; got {text!r}") from None
        if self.kind is int:
            if not (math.isfinite(value) and value.is_integer()):
                raise ValueError(f"{self.name} must be a whole number, {self.range_text()}; got {text!r}")
            value = int(value)
        return self.check(value)

    def parse_list(self, text: str) -> list:
        """'0.25, 1; 4' -> [0.25, 1.0, 4.0], each checked; a blank text -> [] (the sweeps' lists)."""
        return [self.parse(t) for t in str(text).replace(";", ",").split(",") if t.strip()]

    def format(self, value) -> str:
        """A value as a person reads and types it back: 0.001, 1e-06, 1,024 -> '1024' in a field."""
        if self.kind is tuple:
            return ",".join(str(v) for v in value)
        if self.kind is int:
            return str(int(value))
        if self.kind is float:
            return f"{value:g}"
        return str(value)


def knob(default, help: str, **kw):
    """A Config field declared with its Knob (kept in the field's metadata)."""
    return field(default=default, metadata={"knob": Knob(default, help, **kw)})


@dataclass(frozen=True)
class Config:
    # what to fit
    dataset: str = knob("digits", "what to fit: a built-in dataset (python -m vae_core.data list), a workspace's "
                        "(ws:<id>) or, on the command line, a path to your own (vae_core.data.own)")
    model: str = knob("vae", "the model (vae_core.registry.MODELS)")
    # architecture
    arch: str = knob("mlp", "mlp: widths in hidden; conv: channels in hidden", label="architecture", choices=ARCHS)
    hidden: tuple[int, ...] = knob((400,), "MLP widths (400, or 512,256) or conv channels (32,64)",
                                   label="hidden sizes", low=1, high=MAX_HIDDEN)  # pytorch/examples vae: 784-400-20
    latent_dim: int = knob(2, "dimensions of the code z", low=1, high=1024)
    # likelihood p(x|z): Bernoulli (BCE on logits) or Gaussian with fixed std `sigma` (MSE)
    likelihood: str = knob("bernoulli", "bernoulli: BCE on logits (pixels in [0, 1]); gaussian: MSE with a fixed σ",
                           choices=LIKELIHOODS)
    # below a thousandth of a pixel the Gaussian loss is ~1e12 nats: no signal
    sigma: float = knob(0.1, "the Gaussian likelihood's fixed standard deviation", label="σ", low=1e-3,
                        when=("likelihood", "gaussian"))
    # VAE family: loss = recon + beta * KL, beta ramped 0 -> beta over `kl_warmup` steps
    beta: float = knob(1.0, "the KL term's weight: loss = recon + β·KL", label="β", low=0, high=1e6)
    kl_warmup: int = knob(0, "β ramps linearly from 0 over this many steps", label="warm-up", low=0,
                          high=10_000_000, unit="steps")
    # denoising AE: corruption applied to the input, loss against the clean input
    corruption: str = knob("gaussian", "how the denoising AE's input is corrupted", choices=CORRUPTIONS)
    noise: float = knob(0.3, "the corruption's std (gaussian) or fraction of inputs (masking, salt_and_pepper, < 1)",
                        label="noise", low=0, high=10)
    # sparse AE: "l1" -> weight * sum|a|; "kl" -> weight * sum_j KL(rho || rho_hat_j)
    sparsity: str = knob("kl", "l1: λ·Σ|a|; kl: Σ_j KL(ρ ‖ ρ̂_j) over sigmoid units", label="sparsity penalty",
                         choices=SPARSITIES)
    sparsity_weight: float = knob(0.1, "the sparsity penalty's weight", label="penalty weight", low=0, high=1e6)
    rho: float = knob(0.05, "the target mean activation ρ of the kl sparsity penalty", label="target activation ρ",
                      low=0, high=1, low_open=True, high_open=True)
    # contractive AE: weight * ||d code / d x||_F^2
    contractive_weight: float = knob(0.01, "λ of the contractive penalty λ·‖∂z/∂x‖²", label="contraction weight λ",
                                     low=0, high=1e6)
    # optimisation
    epochs: int = knob(10, "passes over the training set", low=1, high=10_000)
    batch_size: int = knob(128, "examples per step", label="batch size", low=1, high=65_536)
    lr: float = knob(1e-3, "Adam's learning rate", label="learning rate", low=0, high=10, low_open=True)
    precision: str = knob("fp32", "bf16: mixed precision (matmuls in bfloat16) for the training steps",
                          choices=PRECISIONS)
    seed: int = knob(0, "the seed of the init, the data order and the noise", low=0, high=2**32 - 1)
    val_fraction: float = knob(0.1, "the share of the data held out for validation", label="validation fraction",
                               low=0, high=1, low_open=True, high_open=True)

    def replace(self, **changes) -> "Config":
        """A copy with some fields changed, validated."""
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> "Config":
        """Raise ValueError with a one-line message for any impossible value; return self."""
        for name, k in KNOBS.items():
            k.check(getattr(self, name))
        if self.arch == "conv" and not self.hidden:
            raise ValueError("hidden sizes: a conv model needs at least one channel count")
        if self.corruption != "gaussian" and self.noise >= 1:
            raise ValueError(f"noise fraction must be ≥ 0 and < 1 for {self.corruption}, got {self.noise:g}")
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
        unknown = sorted(set(d) - set(KNOBS))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**{name: _coerce(name, value, KNOBS[name].kind) for name, value in d.items()}).validate()


# name -> its Knob, in the order of the fields
KNOBS: dict[str, Knob] = {f.name: dataclasses.replace(f.metadata["knob"], name=f.name, kind=type(f.default))
                          for f in dataclasses.fields(Config)}
# numeric field -> (low, high, low included, high included)
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    n: (k.low, k.high, not k.low_open, not k.high_open) for n, k in KNOBS.items() if k.numeric}


def range_text(name: str) -> str:
    """'1 to 1,024', '> 0 and ≤ 10', ... for the field `name`."""
    return KNOBS[name].range_text()


def in_range(name: str, value) -> bool:
    return KNOBS[name].allows(value)


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
    return KNOBS["hidden"].parse(text)
