"""What every explorer page starts with: its title, its explanation, and the active model."""
from __future__ import annotations

import streamlit as st

from . import views
from .runs import Active


def start(title: str, explanation: str) -> tuple[Active, views.Points]:
    """Title and plain-words explanation; then the active model and its encoded points, or a
    message and st.stop() when there is nothing to show."""
    st.title(title)
    st.markdown(explanation)
    got = views.require()
    if got is None:
        st.stop()
    return got
