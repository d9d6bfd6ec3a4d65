"""Widget values that survive a visit to another page.

Streamlit forgets the state of the widgets a page does not draw; so after each run the app copies
the values of the keys the pages keep (each page declares them in ui.sitemap), and the pages pass
the copy as the widgets' default (`kept(key, default)`) when they draw them again.
"""
from __future__ import annotations

import streamlit as st

from . import sitemap

KEPT = "widgets.kept"   # widget key -> its last value


def init() -> None:
    st.session_state.setdefault(KEPT, {})


def kept(key: str, default):
    """A widget's value from the last run that drew it, else `default`."""
    return st.session_state[KEPT].get(key, default)


def kept_index(options, key: str, default) -> int:
    """For a select box or radio: the index of the kept (or default) choice among `options`."""
    options, value = list(options), kept(key, default)
    return options.index(value if value in options else default)


def keep(key: str, value):
    """Remember a value that is not a widget's (an edited table, ...) for the next visit; returns it."""
    st.session_state[KEPT][key] = value
    return value


def put(key: str, value) -> None:
    """A widget's value before it is drawn (a lesson link, a choice made elsewhere), and its kept copy."""
    st.session_state[key] = value
    st.session_state[KEPT][key] = value


def remember() -> None:
    """After a run: copy the values of the kept widgets (ui.sitemap: each page's `kept`)."""
    st.session_state[KEPT].update({k: st.session_state[k] for k in list(st.session_state.keys())
                                   if isinstance(k, str) and sitemap.is_kept(k)})


def picked_points(chart_key: str) -> list[int]:
    """Dataset indices (customdata) of the points selected on a chart, read from session state, where
    Streamlit puts a chart's selection before the rerun it triggers."""
    import numpy as np

    points = (st.session_state.get(chart_key) or {}).get("selection", {}).get("points", [])
    return [int(np.ravel(p["customdata"])[0]) for p in points if "customdata" in p]
