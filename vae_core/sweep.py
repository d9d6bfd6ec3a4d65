"""Sweeps: one model per β and / or latent_dim value over one base config.

    cfgs = members(base, betas=[0.25, 1, 4], latent_dims=[2, 10])   # one config per (latent_dim, β)
    groups(cfgs)                                                    # which of them train batched together

Members that differ only in β train batched, as one stacked model (vae_core.batched). The command
line is `python -m vae_core.sweep` (vae_core/cli/sweep.py); a sweep's runs in the app's run store
are made by vae_core.runs.submit.
"""
from __future__ import annotations

from .config import KNOBS, Config


def members(base: Config, betas: list[float] | None = None, latent_dims: list[int] | None = None) -> list[Config]:
    """One config per (latent_dim, β) pair over `base`, exactly the lists given (an absent list
    keeps base's value); each value checked against its knob (vae_core.config.KNOBS)."""
    betas = [base.beta] if betas is None else [float(KNOBS["beta"].check(b)) for b in betas]
    latent_dims = [base.latent_dim] if latent_dims is None else [KNOBS["latent_dim"].check(d) for d in latent_dims]
    if not betas or not latent_dims:
        raise ValueError("a sweep needs at least one β and one latent_dim value")
    return [base.replace(beta=b, latent_dim=d) for d in latent_dims for b in betas]


def groups(cfgs: list[Config]) -> list[list[int]]:
    """Indices of `cfgs` that can train batched together: the same config up to β."""
    out: dict[Config, list[int]] = {}
    for i, c in enumerate(cfgs):
        out.setdefault(c.replace(beta=0.0), []).append(i)
    return list(out.values())


def member_file(cfg: Config) -> str:
    """A member's checkpoint name: <model>-beta<β>-z<latent_dim>.safetensors."""
    return f"{cfg.model}-beta{cfg.beta:g}-z{cfg.latent_dim}.safetensors"


def plan_text(betas: list[float], latent_dims: list[int]) -> str:
    """What a sweep of these lists trains, before it starts: '8 runs: β 0.25 … 16 × latent_dim 2, 16'."""
    def values(label: str, vs: list) -> str:
        shown = ", ".join(f"{v:g}" for v in vs) if len(vs) <= 4 else f"{vs[0]:g} … {vs[-1]:g}"
        return f"{label} {shown}"
    lists = [values(label, vs) for label, vs in (("β", betas), ("latent_dim", latent_dims)) if vs]
    n = max(1, len(betas)) * max(1, len(latent_dims))
    return f"{n} run{'s' * (n != 1)}: {' × '.join(lists)}"


def sweep_name(cfgs: list[Config]) -> str:
    """'β sweep · 7 runs', 'latent_dim sweep · 3 runs' or 'β × latent_dim sweep · 6 runs'."""
    varied = [label for label, field in (("β", "beta"), ("latent_dim", "latent_dim"))
              if len({getattr(c, field) for c in cfgs}) > 1]
    return f"{' × '.join(varied) or 'one-member'} sweep · {len(cfgs)} run{'s' * (len(cfgs) != 1)}"


if __name__ == "__main__":  # python -m vae_core.sweep
    import sys

    from .cli.sweep import main
    sys.exit(main())
