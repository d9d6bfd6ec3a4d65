"""Cached views of the active model: its encoded points, and their 2-D projections.

Cached by content (the model's key changes with its weights), so every session looking at the
same model shares one copy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st
import torch

from vae_core.config import Config
from vae_core.data import Dataset, load_split
from vae_core.latent import encode, manifold_grid
from vae_core.metrics import example_terms

from . import own_data, runs
from .runs import Active

MAP_MIN_VAL = 5000    # below this many validation points, the map shows the whole dataset
MAP_MAX_POINTS = 10_000  # all of mnist10k (WebGL draws them; see bench/bench_latency.py)


@dataclass(frozen=True)
class Points:
    """The encoded points the map shows: (N, ...) arrays, read-only."""
    which: str                 # "validation split" or "whole dataset"
    data: Dataset              # on the CPU
    mu: np.ndarray             # (N, D)
    sigma: np.ndarray | None   # (N, D), VAE family only
    recon: np.ndarray          # (N,) -log p(x | z = mu), nats
    kl: np.ndarray | None      # (N,) KL(q(z|x) || p(z)), nats
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # what is computed from them, kept


@st.cache_resource(max_entries=8, show_spinner="Loading the dataset…")
def split(dataset: str, seed: int, val_fraction: float, folder: str | None = None) -> tuple[Dataset, Dataset]:
    """(train, val) exactly as the model was trained on; may raise DatasetError. `folder`: the workspace
    a dataset named ws:<id> is read from (ui.own_data.folder), None for a built-in one."""
    return load_split(Config(dataset=dataset, seed=seed, val_fraction=val_fraction), workspace=folder)


def split_of(run_id: str, cfg: Config) -> tuple[Dataset, Dataset]:
    """`split` of a run's config, its own data read from its workspace (its owner's, if shared)."""
    return split(cfg.dataset, cfg.seed, cfg.val_fraction, own_data.folder(run_id, cfg.dataset))


@st.cache_resource(max_entries=16, show_spinner="Encoding the data with this model…")
def _points(key: str, _active: Active) -> Points:
    cfg = _active.cfg
    train, val = split_of(_active.run.id, cfg)
    if len(val) >= MAP_MIN_VAL:
        data, which = val, "validation split"
    else:
        factors = None if val.factors is None else torch.cat([train.factors, val.factors])
        data = Dataset(val.name, torch.cat([train.x, val.x]), torch.cat([train.y, val.y]), val.class_names,
                       val.image_shape, factors=factors, factor_names=val.factor_names, source=val.source)
        which = "whole dataset"
    if len(data) > MAP_MAX_POINTS:
        data = data.subset(torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:MAP_MAX_POINTS])
    model = _active.model
    y = data.y if model.n_cond else None
    mu, logvar = encode(model, data.x, y)
    terms = example_terms(model, data.x, y, cfg)
    return Points(which, data, mu.cpu().numpy(), None if logvar is None else (0.5 * logvar).exp().cpu().numpy(),
                  terms["recon"].cpu().numpy(), terms["kl"].cpu().numpy() if "kl" in terms else None)


def points(a: Active) -> Points:
    """The encoded map points of the active model (cached by model)."""
    return _points(a.key, a)


@st.cache_resource(max_entries=32, show_spinner=False)
def _grid(key: str, dims: tuple[int, int], n: int, span: float, spacing: str, base: tuple | None, y: int | None,
          _model) -> tuple[np.ndarray, torch.Tensor]:
    images, z = manifold_grid(_model, dims, n, span, spacing, None if base is None else torch.tensor(base), y)
    images = images.cpu().numpy()
    images.flags.writeable = False  # shared by every session on this model
    return images, z


def grid(a: Active, dims: tuple[int, int], n: int, span: float, spacing: str, base: torch.Tensor | None,
         y: int | None) -> tuple[np.ndarray, torch.Tensor]:
    """vae_core.latent.manifold_grid of the active model, images as a numpy array, kept by its settings:
    the Manifold page draws it again on every rerun (every session on this model shares it; don't
    change z)."""
    base = None if base is None else tuple(base.detach().cpu().float().tolist())
    return _grid(a.key, tuple(dims), n, float(span), spacing, base, None if y is None else int(y), a.model)


# --- 2-D views of the map -------------------------------------------------------------------

VIEWS = ("two dims", "PCA", "t-SNE")


@st.cache_resource(max_entries=16, show_spinner=False)
def _pca(key: str, _mu: np.ndarray):
    from vae_core.projection import PCA
    return PCA.fit(_mu)


TSNE_KEPT = 8  # t-SNE maps kept, most recent last


@st.cache_resource(show_spinner=False)
def _tsne_maps() -> dict[str, np.ndarray]:
    """model key -> its t-SNE map, shared by all sessions. Not an st.cache_resource of the t-SNE
    itself: its progress bar, drawn from inside, would be replayed on every later cache hit."""
    return {}


def tsne_map(a: Active, pts: Points) -> np.ndarray:
    """The t-SNE map of the model's codes (N, 2): computed once per model with a progress bar."""
    maps = _tsne_maps()
    if a.key not in maps:
        from vae_core.projection import tsne
        bar = st.progress(0.0, text=f"t-SNE of {len(pts.mu):,} codes, once per model…")
        maps[a.key] = tsne(pts.mu, progress=lambda f: bar.progress(f, text=f"t-SNE of {len(pts.mu):,} codes, "
                                                                           f"once per model: {100 * f:.0f}%"))
        bar.empty()
        while len(maps) > TSNE_KEPT:
            maps.pop(next(iter(maps)))
    return maps[a.key]


def view_of(a: Active, pts: Points, view: str, dims: tuple[int, int]):
    """-> (xy (N, 2), axis names, a function mapping latent codes (K, D) to the view, or None for t-SNE)."""
    if view == "two dims" or pts.mu.shape[1] <= 2:
        d0, d1 = dims if pts.mu.shape[1] > 1 else (0, 0)
        return pts.mu[:, [d0, d1]], (f"z{d0}", f"z{d1}"), (lambda z: np.asarray(z)[:, [d0, d1]])
    if view == "PCA":
        pca = _pca(a.key, pts.mu)
        names = tuple(f"PC{i + 1} ({100 * e:.0f}% var)" for i, e in enumerate(pca.explained))
        return pca.apply(pts.mu), names, pca.apply
    return tsne_map(a, pts), ("t-SNE 1", "t-SNE 2"), None


def projection(a: Active, pts: Points, view: str, dims: tuple[int, int]) -> dict | None:
    """The linear map of `view_of` for a code the page makes (a drawing): xy = A z + b, as
    {"A": (2, D) rows, "b": (2,)} lists; None for t-SNE, which has no map for new points."""
    D = pts.mu.shape[1]
    if view == "two dims" or D <= 2:
        A = np.zeros((2, D))
        A[0, dims[0] if D > 1 else 0] = A[1, dims[1] if D > 1 else 0] = 1
        b = np.zeros(2)
    elif view == "PCA":
        pca = _pca(a.key, pts.mu)
        A, b = pca.components, -pca.components @ pca.mean
    else:
        return None
    return {"A": np.asarray(A, np.float64).tolist(), "b": np.asarray(b, np.float64).tolist()}


def require() -> tuple[Active, Points] | None:
    """The active model and its encoded points, or a message on the page and None."""
    a = runs.active()
    if a is None:
        st.info("No model yet. Train one on the **Train** page, or open a checkpoint in the sidebar.")
        return None
    try:
        return a, points(a)
    except (ValueError, OSError) as e:  # DatasetError: e.g. an uploaded MNIST model without the files
        st.error(f"Cannot show **{a.run.name}**: it was trained on `{runs.dataset_label(a.cfg.dataset, a.run.id)}`, which cannot be "
                 f"loaded here. {e}")
        return None


# --- the latent dims in KL order --------------------------------------------------------------


@st.cache_resource(max_entries=16, show_spinner=False)
def _ranked(key: str, _pts: Points) -> tuple[list[int], list[str], np.ndarray | None]:
    from vae_core.diagnostics import ranked_dims
    logvar = None if _pts.sigma is None else 2 * torch.log(torch.from_numpy(_pts.sigma))
    order, labels, kl = ranked_dims(torch.from_numpy(_pts.mu), logvar)
    return order, labels, None if kl is None else kl.numpy()


def ranked(a: Active, pts: Points) -> tuple[list[int], list[str], np.ndarray | None]:
    """The latent dims in KL order (largest first), their labels ('z3 · 2.1 nats') and the KL per
    dim (D,), over the map's points; a plain AE: its own order, 'z3', None. Every page that shows
    one knob or one traversal row per dim uses this order and these labels."""
    return _ranked(a.key, pts)


def spoken(z) -> str:
    """A code as a screen reader says it: '(0.40, -1.20)'."""
    return "(" + ", ".join(f"{v:.2f}" for v in np.asarray(z, dtype=np.float64).ravel()) + ")"


def nearest_class(pts: Points, zs) -> list[str]:
    """For each code of zs (K, D) (or one, (D,)), the class of the encoded example nearest to it. Kept
    by the codes: the Interpolate page names the nearest class of its 101 path points on every rerun."""
    zs = np.atleast_2d(np.asarray(zs, dtype=np.float32))
    key = ("nearest", zs.shape, zs.tobytes())
    if (names := pts.memo.get(key)) is None:
        if len(pts.memo) > 64:  # (every session on this model shares the memo: a bound, not an LRU)
            pts.memo.clear()
        if (index := pts.memo.get("index")) is None:  # mu as float32 and |mu|², for the search
            mu = np.asarray(pts.mu, dtype=np.float32)
            index = pts.memo["index"] = (mu, (mu ** 2).sum(1))
        mu, mu_sq = index
        d2 = mu_sq[None] - 2 * zs @ mu.T  # (K, N): squared distances less |z|², the same order
        y = pts.data.y.numpy()
        names = pts.memo[key] = [str(pts.data.class_names[int(y[i])]) for i in d2.argmin(1)]
    return list(names)


def decoded_alt(pts: Points, z, what: str = "decoded") -> str:
    """A decoded picture's alt text: its code and the class of the nearest encoded example."""
    return f"{what} from z = {spoken(z)}, nearest example a {nearest_class(pts, z)[0]}"
