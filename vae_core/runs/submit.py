"""A sweep's runs in a workspace: one run per member, grouped, queued on an executor."""
from __future__ import annotations

import secrets

from ..config import Config
from ..sweep import groups, sweep_name


def submit_sweep(ws, executor, cfgs: list[Config], label: str = "") -> list:
    """One run per member in workspace `ws`, grouped (a shared `group` id and `group_name`). The
    members of each architecture group (`groups`: the same config up to β) of 2+ are queued as ONE
    batched job (`executor.submit_batch`: one worker, one slot, stacked parameters); a lone member
    is an ordinary job. Every member is a normal run with its own handle, checkpoints and status;
    Stop on one stops its batch (runs.BATCH_STOP_RULE). -> the members' Runs, in the order of `cfgs`."""
    group, name = secrets.token_hex(6), sweep_name(cfgs)
    made = [ws.create(c, f"{label}β {c.beta:g} · {c.latent_dim}-D", group=group, group_name=name) for c in cfgs]
    for idx in groups(cfgs):
        if len(idx) > 1:
            executor.submit_batch(ws, [made[i] for i in idx])
        else:
            executor.submit(ws, made[idx[0]])
    return made
