"""What every page starts with: its title (as ui.sitemap declares it) and its explanation (unless a
link hides it, `hide=explain`); an explorer page also the active model and its encoded points."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from . import links, run_app_first, sitemap, views
from .runs import Active


def title() -> str:
    """This page's title, as ui.sitemap declares it."""
    return sitemap.spec(st.session_state.get(links.PAGE, "")).title


def header(explanation: str) -> None:
    """The page's title and its plain-words explanation (not with `hide=explain`)."""
    st.title(title())
    explain(explanation)


def explain(text: str) -> None:
    """A page's plain-words explanation, in compact type (it sits above the main view); not with
    `hide=explain`."""
    if not links.hidden("explain"):
        st.container(key="explain").markdown(text)


def start(explanation: str | Callable[[Active, views.Points], str]) -> tuple[Active, views.Points]:
    """Title and plain-words explanation (a text, or a function of the model and its points, so that
    it speaks only of what this model has); then the active model and its encoded points, or a
    message and st.stop() when there is nothing to show."""
    run_app_first()
    st.title(title())
    got = views.require()
    if got is None:
        st.stop()
    explain(explanation if isinstance(explanation, str) else explanation(*got))
    return got


def two_dims(D: int, prefix: str, cols, disabled: bool = False, ranked=None) -> tuple[int, int]:
    """The x and y latent dims (select boxes `{prefix}.d0`, `{prefix}.d1`), never the same one: y
    offers every dim but x's. With `ranked` (views.ranked: the dims in KL order and their labels),
    the boxes list the dims in that order, labelled 'z3 · 2.1 nats', and start on the two dims
    that carry the most KL (the lower-numbered one on x). A 1-D latent gives (0, 0)."""
    if D < 2:
        return 0, 0
    order, labels = (list(range(D)), [f"z{d}" for d in range(D)]) if ranked is None else ranked[:2]
    by_kl = ranked is not None and ranked[2] is not None  # a plain AE has no KL: its own order
    label = dict(zip(order, labels))
    x0, y0 = sorted(order[:2])
    d0 = cols[0].selectbox("x axis", order, order.index(x0), format_func=label.get, key=f"{prefix}.d0",
                           disabled=disabled)
    others = [d for d in order if d != d0]
    if st.session_state.get(f"{prefix}.d1") not in others:  # x just took y's dim: y moves to the next free one
        st.session_state[f"{prefix}.d1"] = y0 if y0 != d0 else others[0]
    d1 = cols[1].selectbox("y axis", others, others.index(y0) if y0 in others else 0, format_func=label.get,
                           key=f"{prefix}.d1", disabled=disabled,
                           help="the dims are listed by the KL they carry, most first" if by_kl else None)
    return d0, d1
