"""What the Concepts pages share: their opening, their controls, and the few-second trainings (run in
a thread, shared by all sessions, cached by config). Their place in the navigation and the widget
keys they keep are declared in ui.sitemap."""
from __future__ import annotations

import json
import threading
import time

import streamlit as st

from vae_core.concepts import live
from vae_core.config import Config
from vae_core.data import load_dataset
from vae_core.models import Autoencoder

from . import page, widgets


def start(explanation: str, formula: str, words: str) -> None:
    """Title (ui.sitemap), a few plain sentences (not with `hide=explain`), and the formula the page
    computes, its parts (split at \\qquad) one under another so that each fits a phone's width, and
    `words`, the formula read aloud, for screen readers (ui.access hides it from the eye)."""
    page.header(explanation)
    with st.container(key="formula"):
        for part in formula.split(r"\qquad"):
            st.latex(part)
        st.caption(f"The formula in words: {words}")


def slider(where, label: str, lo: float, hi: float, default: float, step: float, key: str, **kw) -> float:
    """A slider in `where` (a column, or st) that keeps its value across page visits (ui.sitemap)."""
    return where.slider(label, lo, hi, widgets.kept(key, default), step, key=key, **kw)


def steps(where, label: str, options: list, default, key: str, **kw):
    """A select slider over a few values that keeps its value across page visits (ui.sitemap)."""
    return where.select_slider(label, options, widgets.kept(key, default), key=key, **kw)


def gaussian_draws(key: str, mu: float, sigma: float, sigma_min: float, step: float, sizes: list[int],
                   label: str = "samples n") -> tuple[float, float, int, int]:
    """One row of controls for n draws from q = N(mu, sigma^2): mu, sigma, n and a "new draws"
    button; returns (mu, sigma, n, seed)."""
    c = st.columns([2, 2, 2, 1])
    return (slider(c[0], "μ", -3.0, 3.0, mu, step, f"{key}.mu"), slider(c[1], "σ", sigma_min, 3.0, sigma, step, f"{key}.sigma"),
            steps(c[2], label, sizes, 1000, f"{key}.n"), redraws(c[3], key))


def redraws(where, key: str) -> int:
    """A "new draws" button: the random seed, one higher after each click."""
    seed = st.session_state.setdefault(f"{key}.seed", 0)
    if where.button("new draws", key=f"{key}.redraw", width="stretch"):
        seed = st.session_state[f"{key}.seed"] = seed + 1
    return seed


# --- trainings --------------------------------------------------------------------------------


class _Run:
    """One training of one config, in its own thread, so that a rerun (a slider moved while it
    trains) does not stop it: the next run of the page finds it and waits for it again."""

    def __init__(self, cfg: Config):
        self.fraction, self.model, self.error = 0.0, None, None
        self.thread = threading.Thread(target=self._train, args=(cfg,), daemon=True)
        self.thread.start()

    def _train(self, cfg: Config) -> None:
        try:
            self.model = live.train(cfg, load_dataset(cfg.dataset), progress=self._progress)
        except Exception as e:  # shown on the page; the run is dropped so that it can be tried again
            self.error = f"{type(e).__name__}: {e}"

    def _progress(self, fraction: float) -> None:
        self.fraction = fraction


@st.cache_resource(max_entries=24, show_spinner=False)  # its own progress bar
def _run(key: str) -> _Run:
    return _Run(Config.from_dict(json.loads(key)))


def key_of(cfg: Config) -> str:
    """A config as the cache key of its training (and of what is computed from the model)."""
    return json.dumps(cfg.to_dict(), sort_keys=True)


def trained(cfgs: dict[str, Config]) -> dict[str, Autoencoder] | None:
    """The models the configs describe ({what: cfg}), each trained once, all at the same time, under
    one progress bar; None, with a message on the page, if a training failed."""
    runs = {what: (key_of(cfg), _run(key_of(cfg))) for what, cfg in cfgs.items()}
    waiting = [run for _, run in runs.values() if run.thread.is_alive()]
    if waiting:
        text = f"Training {' and '.join(cfgs)} (a few seconds, once)…"
        bar = st.progress(0.0, text=text)
        while any(run.thread.is_alive() for run in waiting):
            bar.progress(min(sum(run.fraction for run in waiting) / len(waiting), 1.0), text=text)
            time.sleep(0.1)
        bar.empty()
    failed = {what: run.error for what, (_, run) in runs.items() if run.error is not None}
    for what, (key, run) in runs.items():
        if run.error is not None:
            _run.clear(key)  # a failed run is dropped: the next visit trains again
    if failed:
        st.error("Training failed: " + "; ".join(f"{what}: {err}" for what, err in failed.items()))
        return None
    return {what: run.model for what, (_, run) in runs.items()}
