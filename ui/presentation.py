"""Presentation mode: readable on a projector from the back of a room.

Larger fonts (the whole page scales, Streamlit sizes text in rem), bigger markers, thicker lines,
high-contrast colours, the sidebar collapsed. On with `?present=1` in the URL (ui.links) or the
toggle at the bottom of the sidebar; kept for the session. ui.plots asks `style()` for every figure.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

KEY = "view.present"          # the mode, kept for the session (not a widget's key: it outlives the toggle)


@dataclass(frozen=True)
class Style:
    """How figures look: ui.plots reads these."""
    font: int                    # px, every text of a figure
    marker: float                # marker size factor
    line: float                  # line width factor
    colors: tuple[str, ...]      # one per class
    ink: str                     # axes, rings, paths


# Matplotlib / D3's "category10": the familiar default.
SCREEN = Style(12, 1.0, 1.0, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                              "#7f7f7f", "#bcbd22", "#17becf"), "#222222")
# Okabe & Ito's colour-blind-safe set (2008) with black and two darker tones: strong on a washed-out
# projector, and no two neighbours that differ only in red vs green.
PROJECTOR = Style(20, 1.8, 2.5, ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#000000", "#56B4E9",
                                 "#8B6508", "#F0E442", "#6A3D9A"), "#000000")

# Always: the first screen is for the page's main view (a map, a grid, the live curves), so the page
# starts near the top of the window and its title and explanation take few lines.
BASE_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.2rem; padding-bottom: 2rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2rem; padding: 0.25rem 0 0.5rem 0; }
.st-key-explain p { font-size: 0.92rem; line-height: 1.45; margin-bottom: 0.2rem; }
</style>"""
CSS = """<style>
html { font-size: 22px; }                                  /* Streamlit sizes text in rem */
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMarkdownContainer"] { color: #000; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #111 !important; font-size: 0.95rem; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding-top: 3.2rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.7rem; }
</style>"""


def is_on() -> bool:
    try:
        return bool(st.session_state.get(KEY, False))
    except Exception:  # no script run (plots used outside the app): the screen style
        return False


def style() -> Style:
    return PROJECTOR if is_on() else SCREEN


def apply() -> None:
    """Once per run, before the page: the page CSS when the mode is on, and the sidebar collapsed on the
    run that turns it on (not on every run: a teacher who opens the sidebar to switch models keeps it)."""
    collapsed = f"{KEY}.collapsed"
    st.html(BASE_CSS)
    if is_on():
        if not st.session_state.get(collapsed):
            st.set_page_config(initial_sidebar_state="collapsed")
            st.session_state[collapsed] = True
        st.html(CSS)
    elif st.session_state.get(collapsed):
        st.set_page_config(initial_sidebar_state="auto")
        st.session_state[collapsed] = False


def _flip() -> None:
    st.session_state[KEY] = st.session_state[f"{KEY}.toggle"]


def toggle() -> None:
    """The switch (in the sidebar, under the page's link)."""
    st.toggle("Presentation mode", is_on(), key=f"{KEY}.toggle", on_change=_flip, help="Larger text and markers, thicker lines, high-contrast colours, "
              "the sidebar collapsed: for a projector. The same as `present=1` in the link.")
