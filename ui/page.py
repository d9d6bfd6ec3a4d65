"""What every explorer page starts with: its title, its explanation, and the active model."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from . import links, run_app_first, views
from .runs import Active


def start(title: str, explanation: str | Callable[[Active, views.Points], str]) -> tuple[Active, views.Points]:
    """Title and plain-words explanation (a text, or a function of the model and its points, so that
    it speaks only of what this model has); then the active model and its encoded points, or a
    message and st.stop() when there is nothing to show."""
    run_app_first()
    st.title(title)
    got = views.require()
    if got is None:
        st.stop()
    if not links.hidden("explain"):
        st.markdown(explanation if isinstance(explanation, str) else explanation(*got))
    return got


def two_dims(D: int, prefix: str, cols, disabled: bool = False) -> tuple[int, int]:
    """The x and y latent dims (select boxes `{prefix}.d0`, `{prefix}.d1`), never the same one: y
    offers every dim but x's. A 1-D latent gives (0, 0)."""
    if D < 2:
        return 0, 0
    fmt = lambda i: f"z{i}"  # noqa: E731
    d0 = cols[0].selectbox("x axis", range(D), 0, format_func=fmt, key=f"{prefix}.d0", disabled=disabled)
    others = [d for d in range(D) if d != d0]
    if st.session_state.get(f"{prefix}.d1") not in others:  # x just took y's dim: y moves to the next free one
        st.session_state[f"{prefix}.d1"] = others[0] if d0 != 0 else 1
    d1 = cols[1].selectbox("y axis", others, others.index(1) if d0 != 1 else 0, format_func=fmt,
                           key=f"{prefix}.d1", disabled=disabled)
    return d0, d1
