"""The outcome of the last action in each area of the page (start a run, upload, rename, ...).

An action replaces its area's message, success or error, so an error never outlives the next
action that succeeds. An error stays until then; a success is shown once.
"""
from __future__ import annotations

import streamlit as st

KINDS = {"error": st.error, "success": st.success, "info": st.info, "warning": st.warning}


def _all() -> dict:
    return st.session_state.setdefault("messages", {})


def say(area: str, kind: str, text: str) -> None:
    _all()[area] = (kind, text)


def clear(area: str) -> None:
    _all().pop(area, None)


def show(area: str) -> None:
    if area in _all():
        kind, text = _all()[area]
        KINDS[kind](text)
        if kind == "success":
            clear(area)
