"""Session state and caches: which model is active, and what is derived from it.

Session state is per browser session and namespaced ("model.active", "model.library", ...):
one user's models and training jobs are never seen by another. Heavy things are cached by
content (a checkpoint's sha256), so two users looking at the same model share one copy.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from vae_core import checkpoint, zoo
from vae_core.checkpoint import Checkpoint
from vae_core.data import Dataset, load_dataset
from vae_core.device import describe, pick_device
from vae_core.latent import encode
from vae_core.metrics import example_terms
from vae_core.models import Autoencoder

MAP_MIN_VAL = 1000    # below this many validation points, the map shows the whole dataset
MAP_MAX_POINTS = 5000


@dataclass(frozen=True)
class Item:
    """A model this session can pick: shipped, trained here, or uploaded."""
    key: str            # sha256 of the checkpoint file
    label: str
    origin: str         # "shipped" | "trained" | "uploaded"
    ckpt: Checkpoint
    blob: bytes         # the .safetensors file, for download
    about: str = ""     # what to look at (shipped models)


@dataclass(frozen=True)
class Active:
    item: Item
    model: Autoencoder
    device: torch.device

    @property
    def cfg(self):
        return self.item.ckpt.config

    @property
    def key(self) -> str:
        return self.item.key


@dataclass(frozen=True)
class Points:
    """The encoded points the map shows: (N, ...) arrays, read-only."""
    which: str                 # "validation split" or "whole dataset"
    data: Dataset              # on the CPU
    mu: np.ndarray             # (N, D)
    sigma: np.ndarray | None   # (N, D), VAE family only
    recon: np.ndarray          # (N,) -log p(x | z = mu), nats
    kl: np.ndarray | None      # (N,) KL(q(z|x) || p(z)), nats


# --- caches shared by all sessions (content-addressed) -------------------------------------


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    return pick_device()


@st.cache_resource(show_spinner="Loading the pretrained models…")
def shipped() -> tuple[list[Item], list[str]]:
    """The pretrained models in checkpoints/ (the default first), and a message per broken one."""
    try:
        entries = zoo.load_manifest()
    except zoo.ZooError as e:
        return [], [str(e)]
    default = zoo.default_entry(entries)
    items, problems = [], []
    for e in sorted(entries, key=lambda e: e is not default):
        try:
            ckpt = zoo.load_entry(e)
        except zoo.ZooError as err:
            problems.append(str(err))
            continue
        items.append(Item(e.sha256, e.title, "shipped", ckpt, e.path.read_bytes(), e.description))
    return items, problems


@st.cache_resource(max_entries=32, show_spinner="Loading the model…")
def _model(key: str, _ckpt: Checkpoint) -> Autoencoder:
    return _ckpt.build_model(device())


@st.cache_resource(max_entries=8, show_spinner="Loading the dataset…")
def split(dataset: str, seed: int, val_fraction: float) -> tuple[Dataset, Dataset]:
    """(train, val) exactly as the model was trained on; may raise DatasetError."""
    return load_dataset(dataset).split(val_fraction, seed)


@st.cache_resource(max_entries=16, show_spinner="Encoding the data with this model…")
def _points(key: str, _active: Active) -> Points:
    cfg = _active.cfg
    train, val = split(cfg.dataset, cfg.seed, cfg.val_fraction)
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


# --- this session ---------------------------------------------------------------------------


# Widget values that survive a visit to another page. Streamlit forgets the state of the widgets a
# page does not draw; so after each run the app copies these values, and the pages pass the copy as
# the widgets' default (`kept(key, default)`) when they draw them again.
KEPT = ("latent.view", "latent.prior", "manifold.n", "manifold.span", "manifold.spacing", "interp.how",
        "interp.method", "interp.frames", "latent.colour", "manifold.labels")
KEPT_PREFIX = "train."
NOT_KEPT = ("train.start", "train.stop", "train.job", "train.registered", "train.live_beta")


def init() -> None:
    """Session keys, set once per session."""
    st.session_state.setdefault("model.library", {})   # key -> Item (trained or uploaded here)
    st.session_state.setdefault("model.active", None)  # key
    st.session_state.setdefault("upload.seen", set())  # uploaded file ids already handled
    st.session_state.setdefault("widgets.kept", {})    # widget key -> its last value


def kept(key: str, default):
    """A widget's value from the last run that drew it, else `default`."""
    return st.session_state["widgets.kept"].get(key, default)


def kept_index(options, key: str, default) -> int:
    """For a select box or radio: the index of the kept (or default) choice among `options`."""
    options, value = list(options), kept(key, default)
    return options.index(value if value in options else default)


def remember_widgets() -> None:
    """After a run: copy the values of the kept widgets (KEPT, and the Train form)."""
    st.session_state["widgets.kept"].update(
        {k: st.session_state[k] for k in list(st.session_state.keys())
         if k in KEPT or (k.startswith(KEPT_PREFIX) and not k.startswith(NOT_KEPT))})


def library() -> dict[str, Item]:
    """Every model this session can pick, shipped first."""
    items = {i.key: i for i in shipped()[0]}
    items.update(st.session_state["model.library"])
    return items


def add(ckpt: Checkpoint, label: str, origin: str, blob: bytes | None = None, activate: bool = True) -> Item:
    """Put a model into this session's library (and make it active)."""
    blob = blob if blob is not None else checkpoint.to_bytes(ckpt)
    key = hashlib.sha256(blob).hexdigest()
    item = Item(key, label, origin, ckpt, blob)
    st.session_state["model.library"][key] = item
    if activate:
        st.session_state["model.active"] = key
    return item


def add_upload(name: str, blob: bytes) -> Item:
    """Validate an uploaded checkpoint (never unpickled); raises CheckpointError with a reason."""
    ckpt = checkpoint.from_bytes(blob)
    return add(ckpt, f"{name} (uploaded)", "uploaded", blob)


def active() -> Active | None:
    """The active model, loaded on the device; None when there is none."""
    items = library()
    key = st.session_state.get("model.active")
    if key not in items:
        key = next(iter(items), None)  # the shipped default comes first
        st.session_state["model.active"] = key
    if key is None:
        return None
    item = items[key]
    return Active(item, _model(key, item.ckpt), device())


def points(a: Active) -> Points:
    """The encoded map points of the active model (cached by model)."""
    return _points(a.key, a)


def picked_points(chart_key: str) -> list[int]:
    """Dataset indices (customdata) of the points selected on a chart, read from session state, where
    Streamlit puts a chart's selection before the rerun it triggers."""
    points = (st.session_state.get(chart_key) or {}).get("selection", {}).get("points", [])
    return [int(np.ravel(p["customdata"])[0]) for p in points if "customdata" in p]


def device_name() -> str:
    return describe(device())



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


def require() -> tuple[Active, Points] | None:
    """The active model and its encoded points, or a message on the page and None."""
    a = active()
    if a is None:
        st.info("No model yet. Train one on the **Train** page, or open a checkpoint in the sidebar.")
        return None
    try:
        return a, points(a)
    except (ValueError, OSError) as e:  # DatasetError: e.g. an uploaded MNIST model without the files
        st.error(f"Cannot show **{a.item.label}**: it was trained on `{a.cfg.dataset}`, which cannot be "
                 f"loaded here. {e}")
        return None
