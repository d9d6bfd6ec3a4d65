"""Sweeps: train one model per β and/or latent_dim value over one base config.

Members that share an architecture (same latent_dim, so a β sweep) are trained BATCHED: their
parameters are stacked (`torch.func.stack_module_state`), one `vmap`ped gradient gives every
member's gradient in one pass of batched matmuls, and one Adam steps all of them. Adam is
elementwise, so one Adam over stacked parameters is each member's own Adam. Members share the seed,
so a separate `Trainer` run of each would start from the same init, see the same batch order and
draw the same sampling noise: the batched step draws that noise once for all (`randomness="same"`)
and every member sees exactly what its own run would (tests/test_sweep.py checks it).

    python -m vae_core.sweep --dataset digits --model beta_vae --beta 0.25,0.5,1,2,4,8,16 \
        --latent-dim 2 --epochs 30 --seed 0 --out DIR

writes DIR/<model>-beta<β>-z<latent_dim>.safetensors per member; a progress line per epoch goes to
stderr; the last line of stdout is one JSON object {"runs": [{beta, latent_dim, val_recon, val_kl,
val_loss, path, ...}, ...]}. Bad values exit 2 with a one-line message.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

from . import checkpoint, threads
from .checkpoint import Checkpoint
from .cli import Parser, fail, run_cli
from .config import Config
from .data import Dataset, load_split
from .metrics import evaluate
from .trainer import Trainer, TrainingDiverged, diverged_message


def members(base: Config, betas: list[float] | None = None, latent_dims: list[int] | None = None) -> list[Config]:
    """One config per (latent_dim, β) pair over `base`; an absent list keeps base's value."""
    betas = [base.beta] if betas is None else list(betas)
    latent_dims = [base.latent_dim] if latent_dims is None else list(latent_dims)
    if not betas or not latent_dims:
        raise ValueError("a sweep needs at least one β and one latent_dim value")
    for b in betas:
        if not (math.isfinite(b) and b >= 0):
            raise ValueError(f"every β must be a finite number >= 0, got {b:g}")
    for d in latent_dims:
        if d < 1:
            raise ValueError(f"every latent_dim must be >= 1, got {d}")
    return [base.replace(beta=float(b), latent_dim=int(d)).validate() for d in latent_dims for b in betas]


def groups(cfgs: list[Config]) -> list[list[int]]:
    """Indices of `cfgs` that can train batched together: the same config up to β."""
    out: dict[Config, list[int]] = {}
    for i, c in enumerate(cfgs):
        out.setdefault(c.replace(beta=0.0), []).append(i)
    return list(out.values())


@dataclass(frozen=True)
class SweepReport:
    step: int                      # optimizer steps taken so far (each member took this many)
    total_steps: int
    epoch: int
    epochs: int
    val: list[dict | None] | None = None  # per member (None: left the stack), on the report that closes an epoch

    @property
    def fraction(self) -> float:
        return self.step / max(1, self.total_steps)


class BatchedTrainer:
    """Members that differ only in β, trained as one stacked model. Each member is a `Trainer`
    (same init, data order and noise stream as its own run); this drives them and writes the
    stacked weights back before validating or checkpointing, so `trainers[i].checkpoint()` is
    what a separate run would save.

    Between steps (from the loop's consumer): `trainers[i].set_beta(b)` changes member i's β from
    the next step; `stop()` ends the loop for every member. A member whose loss or gradient becomes
    non-finite raises TrainingDiverged, or with `drop_diverged` leaves the stack with its last finite
    weights (written back to its trainer) and a message in `failed[i]`, while the others train on
    exactly as before (each member's gradient and Adam step are its own)."""

    def __init__(self, cfgs: list[Config], train: Dataset, val: Dataset, device=None, drop_diverged: bool = False):
        if len(groups(cfgs)) != 1:
            raise ValueError("batched members must share every setting but β")
        self.trainers = [Trainer(c, train, val, device) for c in cfgs]
        lead = self.trainers[0]  # its shuffle and noise streams drive the batch (a member's own, too)
        self.cfg, self.spec, self.device = lead.cfg, lead.spec, lead.device
        self.x, self.y = lead.x, lead.y
        self.params, self.buffers = stack_module_state([t.model for t in self.trainers])  # (M, *shape) each
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr, fused=True)
        self.step, self.epoch = 0, 0
        self.active = list(range(len(cfgs)))   # members still in the stack, in stack order
        self.failed: dict[int, str] = {}       # member -> why it left the stack
        self.drop_diverged = drop_diverged
        self._stop = threading.Event()
        self._grads = vmap(grad(self._loss, has_aux=True), in_dims=(0, 0, None, None, 0), randomness="same")

    def _loss(self, params, buffers, x, y, beta):
        """One member's loss, for grad/vmap: its model is the template called with its parameters."""
        template = self.trainers[0].model

        def model(*args):
            return functional_call(template, (params, buffers), args)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
            terms = self.spec.loss(model, x, y, self.cfg, beta)
        return terms["loss"], {k: v.detach() for k, v in terms.items() if v.dim() == 0}

    @property
    def total_steps(self) -> int:
        return self.cfg.epochs * self.trainers[0].steps_per_epoch

    def stop(self) -> None:
        """Ask the loop to return before its next step (every member stops)."""
        self._stop.set()

    def run(self) -> Iterator[SweepReport]:
        """Train all members for cfg.epochs, yielding after every step (val set on epoch ends)."""
        lead, cfg, n = self.trainers[0], self.cfg, len(self.x)
        total = self.total_steps
        while self.epoch < cfg.epochs and self.active:
            order = torch.randperm(n, generator=lead.shuffle).to(self.device)  # the order each run would see
            for t in self.trainers[1:]:
                t.shuffle.set_state(lead.shuffle.get_state())
            for i in range(lead.steps_per_epoch):
                if self._stop.is_set():
                    return
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                members = list(self.active)
                betas = [self.trainers[m].beta_at(self.step + 1) for m in members]
                with lead._own_rng():
                    terms = self._step(self.x[idx], self.y[idx], betas)
                for m, b, row in zip(members, betas, terms):
                    if row is not None:  # None: it diverged at this step and left the stack
                        self.trainers[m]._record("train", {"step": self.step, "beta": b, **row})
                if not self.active:
                    return
                yield SweepReport(self.step, total, self.epoch, cfg.epochs)
            self.epoch += 1
            vals = self._validate()
            yield SweepReport(self.step, total, self.epoch, cfg.epochs, vals)

    def _step(self, x: torch.Tensor, y: torch.Tensor, betas: list[float]) -> list[dict[str, float] | None]:
        """One step of the stacked members; -> each one's loss terms (None for one that diverged)."""
        beta = torch.tensor(betas, device=self.device)  # (M,)
        grads, terms = self._grads(self.params, self.buffers, x, y, beta)  # (M, *shape) and (M,) each
        norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()  # (M,)
        names = list(terms)
        values = torch.stack([terms[k].float() for k in names] + [norms]).T.tolist()  # (M, terms + 1), one sync
        bad = [j for j, row in enumerate(values) if not all(math.isfinite(v) for v in row)]
        for j in bad:
            who = f"the loss of the member with β = {betas[j]:g}"
            if not self.drop_diverged:
                raise TrainingDiverged(diverged_message(self.step, self.epoch, self.cfg.lr, who))
            m = self.active[j]
            self._sync_member(j, m)  # the weights before this step: still finite
            self.failed[m] = diverged_message(self.step, self.epoch, self.cfg.lr)
        if bad:
            keep = [j for j in range(len(values)) if j not in bad]
            self._keep(keep)
            grads = {k: g[keep] for k, g in grads.items()}
        if self.active:
            for name, p in self.params.items():
                p.grad = grads[name]
            self.optimizer.step()
            self.step += 1
        return [None if j in bad else dict(zip(names, row[:-1])) for j, row in enumerate(values)]

    def _keep(self, keep: list[int]) -> None:
        """Go on with the stack rows `keep` only: their parameters, buffers and Adam state."""
        rows = torch.tensor(keep, dtype=torch.long, device=self.device)
        old_state = self.optimizer.state
        old = list(self.params.values())
        self.params = {k: p.detach()[rows].clone().requires_grad_() for k, p in self.params.items()}
        self.buffers = {k: b[rows] for k, b in self.buffers.items()}
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=self.cfg.lr, fused=True)
        for p_old, p in zip(old, self.params.values()):
            if p_old in old_state:
                self.optimizer.state[p] = {k: (v[rows].clone() if k != "step" else v.clone())
                                           for k, v in old_state[p_old].items()}
        self.active = [self.active[j] for j in keep]

    def _copy_weights(self, j: int, m: int) -> None:
        """Stack row j's weights into member m's own model."""
        with torch.no_grad():
            for name, p in self.trainers[m].model.named_parameters():
                p.copy_(self.params[name][j])

    def sync_weights(self) -> None:
        """Copy the stacked weights into each active member's own model (enough for pictures)."""
        for j, m in enumerate(self.active):
            self._copy_weights(j, m)

    def _sync_member(self, j: int, m: int) -> None:
        """Copy stack row j's weights and Adam state into member m's own model and optimizer."""
        t, state = self.trainers[m], self.optimizer.state
        self._copy_weights(j, m)
        opt = t.optimizer.state_dict()
        opt["state"] = {i: {k: (v[j].clone() if k != "step" else v.clone()) for k, v in state[p].items()}
                        for i, p in enumerate(self.params.values()) if p in state}
        t.optimizer.load_state_dict(opt)
        t.step, t.epoch = self.step, self.epoch
        t.rng = {k: v.clone() for k, v in self.trainers[0].rng.items()}

    def sync(self) -> None:
        """Copy the stacked weights and Adam state into each active member's model and optimizer."""
        for j, m in enumerate(self.active):
            self._sync_member(j, m)

    def _validate(self) -> list[dict | None]:
        """Each member's validation terms (None for a member that left the stack)."""
        self.sync()
        vals: list[dict | None] = [None] * len(self.trainers)
        for m in self.active:
            t = self.trainers[m]
            vals[m] = val = t.validate()
            t._record("val", {"epoch": self.epoch, "step": self.step, **val})
        return vals

    def checkpoints(self) -> list[Checkpoint]:
        """Each member's checkpoint with its final metrics (vae_core.metrics.evaluate)."""
        self.sync()
        out = []
        for t in self.trainers:
            ckpt = t.checkpoint()
            ckpt.metrics = evaluate(t.model.eval(), t.val_x, t.val_y, ckpt.config)
            t.model.train()
            out.append(ckpt)
        return out


def train_sweep(cfgs: list[Config], train: Dataset, val: Dataset, device=None,
                on_report: Callable[[int, SweepReport], None] | None = None) -> list[Checkpoint]:
    """Train every member (batched per architecture group); -> checkpoints in the order of `cfgs`.
    `on_report(group_index, report)` is called after every step."""
    out: list[Checkpoint | None] = [None] * len(cfgs)
    for g, idx in enumerate(groups(cfgs)):
        trainer = BatchedTrainer([cfgs[i] for i in idx], train, val, device)
        threads.use(threads.for_trainer(trainer.trainers[0], members=len(idx)))
        for report in trainer.run():
            if on_report is not None:
                on_report(g, report)
        for i, ckpt in zip(idx, trainer.checkpoints()):
            out[i] = ckpt
    return out


def member_file(cfg: Config) -> str:
    """A member's checkpoint name: <model>-beta<β>-z<latent_dim>.safetensors."""
    return f"{cfg.model}-beta{cfg.beta:g}-z{cfg.latent_dim}.safetensors"


# --- in the app's run store -----------------------------------------------------------------


def sweep_name(cfgs: list[Config]) -> str:
    """'β sweep · 7 runs', 'latent_dim sweep · 3 runs' or 'β × latent_dim sweep · 6 runs'."""
    varied = [label for label, field in (("β", "beta"), ("latent_dim", "latent_dim"))
              if len({getattr(c, field) for c in cfgs}) > 1]
    return f"{' × '.join(varied) or 'one-member'} sweep · {len(cfgs)} run{'s' * (len(cfgs) != 1)}"


def submit(ws, executor, cfgs: list[Config], label: str = "") -> list:
    """One run per member in workspace `ws`, grouped (a shared `group` id and `group_name`). The
    members of each architecture group (`groups`: the same config up to β) of 2+ are queued as ONE
    batched job (`executor.submit_batch`: one worker, one slot, stacked parameters); a lone member
    is an ordinary job. Every member is a normal run with its own handle, checkpoints and status;
    Stop on one stops its batch (runs.BATCH_STOP_RULE). -> the members' Runs, in the order of `cfgs`."""
    import secrets

    group, name = secrets.token_hex(6), sweep_name(cfgs)
    made = [ws.create(c, f"{label}β {c.beta:g} · {c.latent_dim}-D", group=group, group_name=name) for c in cfgs]
    for idx in groups(cfgs):
        if len(idx) > 1:
            executor.submit_batch(ws, [made[i] for i in idx])
        else:
            executor.submit(ws, made[idx[0]])
    return made


# --- the command line ----------------------------------------------------------------------


def _number_list(kind):
    """An argparse type: "0.5,1,4" -> [0.5, 1.0, 4.0]; an empty list or a non-number is one clear line."""
    def parse(text: str):
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError("an empty list; give comma-separated values such as 0.5,1,4")
        try:
            return [kind(s) for s in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {kind.__name__}s") from None
    return parse


def build_parser() -> Parser:
    from .train import FLAGS
    p = Parser(prog="python -m vae_core.sweep", description="Train one model per β and/or latent_dim value.")
    for name, kind in FLAGS.items():
        if name in ("beta", "latent_dim"):
            continue
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None,
                       help=f"(config.{name}; default {getattr(Config, name)!r})")
    p.add_argument("--beta", type=_number_list(float), default=None, help="β values, comma-separated (0.5,1,4)")
    p.add_argument("--latent-dim", type=_number_list(int), default=None, help="latent_dim values, comma-separated")
    p.add_argument("--data-dir", default=None, help="folder with dataset files (default $VAE_CORE_DATA or data/)")
    p.add_argument("--device", default=None, help="auto (default: cuda, then mps, then cpu), cpu, cuda, mps")
    p.add_argument("--out", default="runs/sweep", help="folder for the members' checkpoints (default runs/sweep)")
    return p


def run(args) -> int:
    from .train import make_config
    # the base config: every single-value flag, with the sweep lists' first values in place
    args.beta, betas = (args.beta[0] if args.beta else None), args.beta
    args.latent_dim, dims = (args.latent_dim[0] if args.latent_dim else None), args.latent_dim
    base = make_config(args, None)
    args.beta, args.latent_dim = betas, dims
    cfgs = members(base, betas, dims)
    train, val = load_split(base, args.data_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"sweep of {len(cfgs)} {base.model} on {base.dataset} ({len(train)} train / {len(val)} val)",
          file=sys.stderr)

    def progress(g: int, r: SweepReport) -> None:
        if r.val is not None:
            losses = " ".join(f"{v['loss']:.1f}" for v in r.val)
            print(f"group {g + 1}: epoch {r.epoch}/{r.epochs}  val loss {losses}", file=sys.stderr)
    try:
        ckpts = train_sweep(cfgs, train, val, args.device, progress)
    except TrainingDiverged as e:
        return fail(str(e), 1)
    runs = []
    for ckpt in ckpts:
        path = out / member_file(ckpt.config)
        checkpoint.save(ckpt, path)
        runs.append({"beta": ckpt.config.beta, "latent_dim": ckpt.config.latent_dim, **ckpt.metrics,
                     "path": str(path)})
    print(json.dumps({"runs": runs}))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
