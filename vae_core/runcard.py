"""A run's card: what it is (model, dataset, β, latent_dim), how well it did (its validation terms),
and the exact command line that trains it again from its config and seed.

    card(ckpt, name)      -> a JSON-ready dict; its "command" is reproduce_command(ckpt)
    reproduce_command()   -> 'python -m vae_core.train --dataset digits --model vae ... --seed 0 --out ...'

The command names every knob of the config (vae_core.config.KNOBS), floats written as Python's
repr so that they parse back to the same number, so a change of a default never changes what it
trains. Run on the same kind of machine, it gives a checkpoint whose validation terms equal the
run's within float noise (tests/test_history_export.py). Where it cannot (β changed while the run
trained, a run stopped mid-epoch, a dataset that lives in an app's workspace), `card()["caveats"]`
says so in words.
"""
from __future__ import annotations

import re
import shlex

from .checkpoint import Checkpoint
from .config import KNOBS, Config
from .data import own
from .diagnostics import beta_changes
from .registry import MODELS

FORMAT = "vae_core/card/1"


def _flag_value(name: str, value) -> str:
    if KNOBS[name].kind is float:
        return repr(float(value))  # the shortest text that reads back as this float
    return KNOBS[name].format(value)


def trained_epochs(ckpt: Checkpoint) -> int:
    """The epochs the checkpoint's weights have seen in full (its config's, when it finished)."""
    return max(1, min(ckpt.config.epochs, ckpt.progress.get("epoch", ckpt.config.epochs)))


def out_name(ckpt: Checkpoint, name: str = "") -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or f"{ckpt.config.model}-{own.file_stem(ckpt.config.dataset)}"
    return f"runs/{stem}-reproduced.safetensors"


def reproduce_command(ckpt: Checkpoint, name: str = "") -> str:
    """`python -m vae_core.train` with every knob of the run's config, the epochs it trained and its seed."""
    cfg: Config = ckpt.config.replace(epochs=trained_epochs(ckpt))
    parts = ["python", "-m", "vae_core.train"]
    for key, knob in KNOBS.items():
        parts += [knob.flag, _flag_value(key, getattr(cfg, key))]
    parts += ["--out", out_name(ckpt, name)]
    return shlex.join(parts)


def caveats(ckpt: Checkpoint, changes=()) -> list[str]:
    """Why the command may not train the same run, in words ([] when it does)."""
    cfg, out = ckpt.config, []
    changed = beta_changes(ckpt.history, changes, warmup=cfg.kl_warmup)
    if changed:
        out.append(f"β was changed while it trained ({', '.join(f'{b:g} from step {s}' for s, b in changed)}); "
                   f"the command trains with β = {cfg.beta:g} throughout")
    val_steps = ckpt.history.get("val", {}).get("step", [])
    step = ckpt.progress.get("step", 0)
    if step and step != (val_steps[-1] if val_steps else 0):
        out.append(f"it stopped at step {step}, within epoch {trained_epochs(ckpt) + 1}; the command trains "
                   f"{trained_epochs(ckpt)} whole epochs")
    if own.is_own(cfg.dataset) and own.parse(cfg.dataset).path is None:
        out.append("it was trained on a dataset added in the app; give --dataset the file it was made from")
    if cfg.precision == "bf16":
        out.append("bf16 mixed precision: results depend on the device's arithmetic")
    return out


def validation_terms(ckpt: Checkpoint) -> dict:
    """The final validation terms (val_loss, val_recon, val_kl or val_penalty, KL per dim), numbers only."""
    return {k: v for k, v in ckpt.metrics.items()
            if k.startswith("val_") and (isinstance(v, (int, float)) or isinstance(v, list))}


def card(ckpt: Checkpoint, name: str = "", changes=()) -> dict:
    """The run's card as a JSON-ready dict. `changes`: the (step, β) pairs a run store recorded."""
    cfg = ckpt.config
    spec = MODELS[cfg.model]
    return {
        "format": FORMAT,
        "name": name,
        "model": cfg.model,
        "model_label": spec.label,
        "dataset": cfg.dataset,
        "beta": cfg.beta if spec.variational else None,
        "latent_dim": cfg.latent_dim,
        "architecture": f"{cfg.arch} {list(cfg.hidden)}",
        "likelihood": cfg.likelihood,
        "epochs": ckpt.progress.get("epoch", 0),
        "steps": ckpt.progress.get("step", 0),
        "n_train": ckpt.data.get("n_train"),
        "n_val": ckpt.data.get("n_val"),
        "validation": validation_terms(ckpt),
        "config": cfg.to_dict(),
        "command": reproduce_command(ckpt, name),
        "caveats": caveats(ckpt, changes),
    }
