"""Streamlit helpers shared by the pages: session state, the sidebar, figures. No model code.

Every page imports this package first, so the one guard below runs before any page code.
"""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

# Deep links on a fresh server (streamlit pinned to 1.67.0). Streamlit sees the `pages/` folder
# beside app.py and sets PagesManager.uses_pages_directory, a process-wide class attribute; until
# `st.navigation` has run once in the process it then runs the deep-linked page script alone, by the
# old multipage scheme (`_mpa_v1`), without app.py: no session defaults, raw file names in the
# navigation. The first page script to import `ui` turns the old scheme off and reruns, so app.py
# runs and its st.navigation resolves the URL. (It only happens once per process; a module that
# raises during import is not kept, so this runs again, harmlessly, on the rerun.) ui.page.start
# checks again on every run: AppTest resets the flag before each run, and so tests what a browser sees.


def run_app_first() -> None:
    """Rerun through app.py when Streamlit ran a page script alone (the old pages/ scheme)."""
    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:  # (not in a plain import)
        PagesManager.uses_pages_directory = False
        st.rerun()


run_app_first()
