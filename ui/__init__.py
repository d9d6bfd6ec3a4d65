"""Streamlit helpers shared by the pages: session state, the sidebar, figures. No model code.

Deep links on a fresh server (streamlit pinned to 1.67.0). Streamlit sees the `pages/` folder beside
app.py and sets PagesManager.uses_pages_directory, a process-wide class attribute; until some
session's run has called `st.navigation` it runs a deep-linked page script ALONE, by the old
multipage scheme (`_mpa_v1` in streamlit/runtime/scriptrunner/script_runner.py), without app.py: no
session defaults, no workspace. With a class arriving at once, several sessions are inside that
scheme together, so the global flag says nothing about the run at hand (another session may already
have turned it off). The mark is per run instead: app.py runs its page through `run_page`, and every
script in pages/ calls `run_app_first()` first, which reruns through app.py when the mark is absent.
"""
from __future__ import annotations

import contextvars
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

APP = Path(__file__).resolve().parents[1] / "app.py"
_IN_APP: contextvars.ContextVar[bool] = contextvars.ContextVar("ui.in_app", default=False)  # per script thread


def run_page(page) -> None:
    """app.py's `page.run()`, marked: the page script knows that app.py's session set-up ran first."""
    token = _IN_APP.set(True)
    try:
        page.run()
    finally:  # also when the page stops early (st.stop, st.rerun)
        _IN_APP.reset(token)


def run_app_first() -> None:
    """Every script in pages/ calls this before anything else: run without app.py around it (the old
    pages/ scheme on a fresh server), it turns that scheme off for the process, as st.navigation
    would, and reruns this session, now through app.py, whose st.navigation brings it back to this
    page with its query parameters. A script run on its own (`streamlit run pages/x.py`,
    AppTest.from_function) is left alone: its main script is not app.py, and a rerun would not help."""
    ctx = get_script_run_ctx()
    if ctx is None or _IN_APP.get() or Path(ctx.main_script_path).resolve() != APP:
        return
    PagesManager.uses_pages_directory = False
    st.rerun()
