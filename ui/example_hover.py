"""The example's own picture beside the pointer on a latent map: for a workspace's own dataset, where
nobody knows the examples by heart (example_hover.js beside this file: a components.v2 component, no
iframe, nothing drawn until the pointer is over a point).

The pictures of all the map's points go to the page once per map and session, as one PNG atlas; a
map whose atlas would be over ATLAS_BYTES gets none (and says so): a click still shows any point.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from vae_core.webdecoder import frame

from . import plots

ATLAS_BYTES = 8 * 2**20   # the most one map's pictures may take to send
SENT = "example_hover.sent"


@functools.cache
def _component():
    here = Path(__file__).parent
    js = (here / "decoder" / "frame.js").read_text() + "\n" + (here / "example_hover.js").read_text()
    return st.components.v2.component("latent_explorer.example_hover", js=js)


@st.cache_resource(max_entries=8, show_spinner=False)
def atlas(key: str, _images: np.ndarray) -> tuple[bytes, dict]:
    """(PNG of every image (N, C, H, W) in [0, 1] as tiles, 100 a row; {n, w, h, cols}), by `key`."""
    n, _, h, w = _images.shape
    cols = min(n, 100)
    rows = -(-n // cols)
    tiles = plots.to_uint8(_images, size=w)  # (N, h, w) or (N, h, w, 3), 8-bit
    sheet = np.zeros((rows * h, cols * w, *tiles.shape[3:]), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue(), {"n": int(n), "w": int(w), "h": int(h), "cols": int(cols)}


def _resend() -> None:
    st.session_state.get(SENT, set()).clear()


def attach(chart_key: str, key: str, images: np.ndarray, labels: np.ndarray, names) -> bool:
    """Beside the map drawn with key `chart_key` (whose points' customdata are indices into `images`
    (N, C, H, W)): the picture of the example under the pointer. `key` names the map's points (a
    model's). -> False (and a caption) where the pictures are too many to send."""
    png, h = atlas(key, images)
    if len(png) > ATLAS_BYTES:
        st.caption(f"{len(images):,} pictures are too many to show under the pointer; click a point to see it.")
        return False
    sent = st.session_state.setdefault(SENT, set())
    header, payload = {"key": key, "chart": chart_key}, b""
    if key not in sent:  # the pictures and their labels, once
        header.update(h, labels=np.asarray(labels).tolist(), names=[str(c) for c in names])
        payload = png
        sent.add(key)
    _component()(data=frame(header, payload), key=f"example_hover.{chart_key}", on_missing_change=_resend)
    return True
