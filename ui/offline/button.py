""""Download this view as a page" on the Latent space, Manifold and Interpolate pages: a caption the
user may edit and a button whose file (ui.offline.page) is made when it is pressed, not on every rerun."""
from __future__ import annotations

import re
from typing import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from .. import links, runs
from . import OfflinePageError, page

LABEL = "Download this view as a page"


def link_back(page_name: str) -> str:
    """The live app's address of this view (its link parameters; never the workspace id, which gives
    its runs away)."""
    parts = urlsplit(st.context.url or "")
    if not parts.scheme.startswith("http"):
        return ""
    return urlunsplit((parts.scheme, parts.netloc, f"/{page_name}", urlencode(links.current(page_name)), ""))


def _html_of(make: Callable[[], dict], a, page_name: str, title: str, holder: dict) -> Callable[[], bytes]:
    card = runs.card(a)
    link = link_back(page_name)

    def html() -> bytes:  # runs when the button is pressed (no script context: nothing from st here)
        try:
            return page([make()], a.model, a.key, title, holder.get("caption", ""), card, link).encode()
        except OfflinePageError as e:
            return f"<!doctype html><meta charset=utf-8><title>Not made</title><p>{e}</p>".encode()
    return html


def download(a, page_name: str, title: str, make: Callable[[], dict], caption: str = "") -> None:
    """The caption field and the button. `make()` -> the view (ui.offline.views), called on the press;
    `caption`: the field's first text."""
    key = f"offline.{page_name}"
    holder = st.session_state.setdefault(f"{key}.holder", {})
    left, right = st.columns(2, vertical_alignment="bottom")
    holder["caption"] = left.text_input(
        "Caption on the page", caption, key=f"{key}.caption", max_chars=400,
        help="Shown above the map on the downloaded page, as plain text.")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{page_name}-{a.run.name}").strip("-")[:80]
    right.download_button(LABEL, _html_of(make, a, page_name, title, holder), file_name=f"{stem}.html",
                          mime="text/html", on_click="ignore", icon=":material/download:", key=f"{key}.download",
                          width="stretch",
                          help="One HTML file that works offline: the map, this model's decoder and your caption. "
                               "Open it from disk, put it on a course page or in an <iframe>.")
