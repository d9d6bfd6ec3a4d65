"""Widget values that survive a visit to another page.

Streamlit forgets the state of the widgets a page does not draw; so after each run the app copies
these values, and the pages pass the copy as the widgets' default (`kept(key, default)`) when they
draw them again.
"""
from __future__ import annotations

import streamlit as st

KEPT = ("latent.view", "latent.prior", "latent.images", "latent.colour", "manifold.n", "manifold.span",
        "manifold.spacing", "manifold.labels", "interp.how", "interp.method", "interp.frames")
KEPT_PREFIX = "train."
NOT_KEPT = ("train.start", "train.stop", "train.run", "train.live_beta", "train.seen_status")


def init() -> None:
    st.session_state.setdefault("widgets.kept", {})  # widget key -> its last value


def kept(key: str, default):
    """A widget's value from the last run that drew it, else `default`."""
    return st.session_state["widgets.kept"].get(key, default)


def kept_index(options, key: str, default) -> int:
    """For a select box or radio: the index of the kept (or default) choice among `options`."""
    options, value = list(options), kept(key, default)
    return options.index(value if value in options else default)


def remember() -> None:
    """After a run: copy the values of the kept widgets (KEPT, and the Train form)."""
    st.session_state["widgets.kept"].update(
        {k: st.session_state[k] for k in list(st.session_state.keys())
         if k in KEPT or (k.startswith(KEPT_PREFIX) and not k.startswith(NOT_KEPT))})


def picked_points(chart_key: str) -> list[int]:
    """Dataset indices (customdata) of the points selected on a chart, read from session state, where
    Streamlit puts a chart's selection before the rerun it triggers."""
    import numpy as np

    points = (st.session_state.get(chart_key) or {}).get("selection", {}).get("points", [])
    return [int(np.ravel(p["customdata"])[0]) for p in points if "customdata" in p]
