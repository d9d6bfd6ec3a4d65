"""Regenerate the pretrained model zoo in this folder: small checkpoints + manifest.json.

    python checkpoints/make.py                 # all models (about 10 minutes on one CPU thread)
    python checkpoints/make.py mnist-vae-2d    # only these ids; the other manifest entries are kept
    python -m checkpoints.make --out /tmp/zoo  # somewhere else

Everything is made by vae_core itself on the built-in datasets (no download): trained with
`Trainer` on the CPU, one thread, from fixed seeds, evaluated with `metrics.evaluate` on the validation split,
stripped of optimizer / RNG state and saved with `checkpoint.save`. The app opens on the entry
marked `default`. `vae_core.zoo` reads and checks what this script writes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `import vae_core` work from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vae_core import checkpoint  # noqa: E402
from vae_core.config import Config  # noqa: E402
from vae_core.data import load_split  # noqa: E402
from vae_core.latent import encode  # noqa: E402
from vae_core.metrics import evaluate  # noqa: E402
from vae_core.trainer import Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
FORMAT = "vae_core-zoo/1"
IWAE_K = 50  # importance samples for the log p(x) estimate of the VAE-family models


@dataclass(frozen=True)
class Recipe:
    id: str
    title: str
    description: str
    config: Config
    default: bool = False
    group: str | None = None  # models meant to be compared together (a sweep, the trio)


# 64-64-z-64-64, 1050 steps: about 120 KB a file (weights ~40 KB, the per-step history the rest), and its timeline
SMALL = dict(dataset="digits", hidden=(64,), likelihood="bernoulli", epochs=150, batch_size=256, lr=2e-3, seed=0)
DIGITS_SWEEP = dict(model="beta_vae", latent_dim=8, **SMALL)  # 8 dims: room for the active units to vary
SWEEP_BETAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
DIGITS_TRIO = dict(latent_dim=2, **SMALL)


def _beta_id(beta: float) -> str:
    return f"digits-beta-{beta:g}".replace(".", "p")  # digits-beta-0p25 ... digits-beta-16


MNIST = dict(dataset="mnist10k", hidden=(256,), likelihood="bernoulli", seed=0)  # 784-256-z-256-784

RECIPES = (
    Recipe("mnist-vae-2d", "MNIST VAE, 2-D latent",
           "The figure of Kingma & Welling on real MNIST: a VAE whose 2-D latent space is the map itself. "
           "The ten digits form regions that touch where they look alike (4 and 9, 3, 5 and 8), and "
           "decoding a grid over the prior morphs smoothly from one digit into the next.",
           Config(model="vae", latent_dim=2, beta=1.0, epochs=60, **MNIST),
           default=True),
    Recipe("mnist-ae-2d", "MNIST autoencoder, 2-D code",
           "A plain autoencoder with the same 2-D bottleneck: nothing pulls its codes towards a "
           "standard normal, so they spread over an uneven range with empty gaps, and decoding a point "
           "in a gap gives no digit at all.",
           Config(model="ae", latent_dim=2, epochs=60, **MNIST)),
    Recipe("mnist-cvae-2d", "MNIST conditional VAE, 2-D latent",
           "A VAE that is told the digit: its 2-D latent no longer sorts classes but holds style "
           "(slant, width, stroke), so one point decoded as each label gives ten digits written alike.",
           Config(model="cvae", latent_dim=2, beta=1.0, epochs=60, **MNIST)),
    Recipe("mnist-betavae-16d", "MNIST beta-VAE, 16-D latent (beta = 4)",
           "A beta-VAE with 16 latent dims: the heavy KL weight leaves only a few dims active, and "
           "traversing one of them changes one trait of the digit (slant, width, thickness, class).",
           Config(model="beta_vae", latent_dim=16, beta=4.0, epochs=60, **MNIST)),
    Recipe("digits-vae-2d", "Digits VAE, 2-D latent",
           "A VAE whose 2-D latent space is the map itself: the ten digit classes form clusters, "
           "and decoding a grid over it morphs smoothly from one digit into the next.",
           Config(dataset="digits", model="vae", hidden=(256,), latent_dim=2, likelihood="bernoulli",
                  beta=1.0, epochs=400, seed=0)),
    Recipe("digits-ae-2d", "Digits autoencoder, 2-D code",
           "A plain autoencoder with the same 2-D bottleneck: compare its map with the VAE's, nothing "
           "pulls the codes towards a standard normal, so they sprawl over a much wider, uneven range.",
           Config(dataset="digits", model="ae", hidden=(256,), latent_dim=2, likelihood="bernoulli",
                  epochs=400, seed=0)),
    Recipe("sprites-betavae", "Sprites beta-VAE (beta = 4)",
           "A beta-VAE on generated shapes: traverse one latent dim at a time to see most dims move "
           "the shape around or resize it, while the heavy KL weight blurs squares and hearts into "
           "round blobs.",
           Config(dataset="sprites", model="beta_vae", arch="conv", hidden=(32, 64), latent_dim=8,
                  likelihood="bernoulli", beta=4.0, epochs=20, batch_size=64, seed=0)),
    Recipe("digits-cvae-2d", "Digits conditional VAE, 2-D latent",
           "A VAE that is told the digit: its 2-D latent no longer sorts classes but holds style, "
           "so one point decoded as each label gives ten digits written the same way.",
           Config(dataset="digits", model="cvae", hidden=(256,), latent_dim=2, likelihood="bernoulli",
                  beta=1.0, epochs=300, seed=0)),
    Recipe("toy2d-ae-2d", "Two moons autoencoder",
           "An autoencoder on the two-moons points (Gaussian likelihood): it rebuilds them almost "
           "exactly, so its latent map is a bent copy of the plane that shows how the encoder warps it.",
           Config(dataset="toy2d:moons", model="ae", hidden=(64, 64), latent_dim=2, likelihood="gaussian",
                  sigma=0.1, epochs=100, seed=0)),
    *(Recipe(_beta_id(b), f"Digits β-VAE, β = {b:g} (sweep)",
             f"One of seven digits β-VAEs, alike but for β = {b:g}: on the Rate–distortion page they "
             "trace the curve, a larger β buying a smaller KL (rate) with a worse reconstruction "
             "(distortion), and leaving fewer of the 8 latent dims active.",
             Config(beta=b, **DIGITS_SWEEP), group="digits-beta-sweep") for b in SWEEP_BETAS),
    Recipe("digits-trio-ae", "Trio: autoencoder (reconstruction only)",
           "The theory's first panel: trained on the reconstruction alone, the codes sort the digits "
           "but sit anywhere, so decoding z ~ N(0, I) lands in the holes between them.",
           Config(model="ae", **DIGITS_TRIO), group="digits-trio"),
    Recipe("digits-trio-vae", "Trio: VAE (reconstruction + KL)",
           "The second panel: the ELBO balances both terms, the codes sort the digits and fill the "
           "prior, so decoding z ~ N(0, I) gives digits.",
           Config(model="vae", beta=1.0, **DIGITS_TRIO), group="digits-trio"),
    Recipe("digits-trio-kl", "Trio: KL term only",
           "The third panel: trained on the KL term alone, every q(z|x) becomes the prior, the classes "
           "lie on top of each other and the never-trained decoder reconstructs nothing.",
           Config(model="kl_only", **DIGITS_TRIO), group="digits-trio"),
)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def latent_knn_accuracy(model, train, val, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour classifier fitted on the train codes, scored on val codes."""
    from sklearn.neighbors import KNeighborsClassifier  # slow import, so lazy

    cond = bool(model.n_cond)
    mu_tr, _ = encode(model, train.x, train.y if cond else None)
    mu_va, _ = encode(model, val.x, val.y if cond else None)
    clf = KNeighborsClassifier(n_neighbors=k).fit(mu_tr.cpu().numpy(), train.y.numpy())
    return float(clf.score(mu_va.cpu().numpy(), val.y.numpy()))


def build(recipe: Recipe, out: Path) -> tuple[dict, float]:
    """Train, evaluate and save one model; -> (its manifest entry, seconds taken)."""
    t0 = time.perf_counter()
    cfg = recipe.config.validate()
    train, val = load_split(cfg)
    trainer = Trainer(cfg, train, val, device="cpu")  # CPU: the same numbers on every machine
    for _ in trainer.run():
        pass
    model = trainer.model.eval()
    ckpt = trainer.checkpoint().without_optimizer()
    metrics = evaluate(model, trainer.val_x, trainer.val_y, ckpt.config, k=IWAE_K if model.variational else 0)
    if cfg.latent_dim == 2 and len(train.class_names) > 1:
        metrics["latent_knn_acc"] = round(latent_knn_accuracy(model, train, val), 4)
    ckpt.metrics = metrics
    path = checkpoint.save(ckpt, out / f"{recipe.id}.safetensors")
    entry = {
        "id": recipe.id,
        "file": path.name,
        "title": recipe.title,
        "description": recipe.description,
        "model": cfg.model,
        "dataset": cfg.dataset,
        "latent_dim": cfg.latent_dim,
        "beta": ckpt.config.beta,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "n_train": len(train),
        "n_val": len(val),
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, list)},  # per-dim KL stays in the file
        "config": ckpt.config.to_dict(),
        "bytes": path.stat().st_size,
        "sha256": sha256_of(path),
    }
    if recipe.group:
        entry["group"] = recipe.group
    return entry, time.perf_counter() - t0


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def print_table(rows: list[tuple[dict, float]]) -> None:
    cols = ("id", "epochs", "val_loss", "val_recon", "val_kl", "iwae", "active_units", "latent_knn_acc", "KB", "s")
    table = [cols]
    for entry, seconds in rows:
        m = entry["metrics"]
        table.append((entry["id"], str(entry["epochs"]), *(_fmt(m.get(c)) for c in cols[2:8]),
                      f"{entry['bytes'] / 1024:.0f}", f"{seconds:.1f}"))
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python checkpoints/make.py", description=__doc__.splitlines()[0])
    p.add_argument("ids", nargs="*", help=f"models to rebuild (default: all of {', '.join(r.id for r in RECIPES)})")
    p.add_argument("--out", type=Path, default=HERE, help="folder for the files and manifest (default: this one)")
    args = p.parse_args(argv)
    known = {r.id: r for r in RECIPES}
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        p.error(f"unknown model id(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    todo = [known[i] for i in args.ids] if args.ids else list(RECIPES)

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    previous = {}
    if args.ids and (out / MANIFEST).exists():  # a partial rebuild keeps the other entries
        previous = {e["id"]: e for e in json.loads((out / MANIFEST).read_text())["models"]}

    torch.set_num_threads(1)  # the same numbers on every machine, and no fight for a shared CPU
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread -> {out}", flush=True)
    rows = []
    t0 = time.perf_counter()
    for recipe in todo:
        print(f"training {recipe.id} ({recipe.config.model} on {recipe.config.dataset}, "
              f"{recipe.config.epochs} epochs) ...", flush=True)
        rows.append(build(recipe, out))
    made = {entry["id"]: entry for entry, _ in rows}
    entries = [made.get(r.id) or previous.get(r.id) for r in RECIPES]
    for recipe, entry in zip(RECIPES, entries):  # the default is the recipes', also for kept entries
        if entry is not None:
            entry.pop("default", None)
            if recipe.default:
                entry["default"] = True
    manifest = {"format": FORMAT, "models": [e for e in entries if e is not None]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print()
    print_table(rows)
    print(f"\n{len(rows)} model(s) in {time.perf_counter() - t0:.0f} s; "
          f"total size {sum(e['bytes'] for e in manifest['models']) / 2**20:.2f} MiB; wrote {out / MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
