"""Pictures inline in the page (PNG data URIs) rather than st.image's separate media request.

On a click or a slider move the image then arrives in the same message as the text around it:
measured in Chromium on 2 cores, a click's decoded panel went from p50 ~330 ms to ~175 ms, the
extra HTTP round trip being most of the difference (bench/bench_latency.py).
"""
from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st
from PIL import Image

from . import plots


def data_uri(picture: np.ndarray) -> str:
    """(h, w) or (h, w, 3) uint8 -> 'data:image/png;base64,...'."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def show(images: np.ndarray, caption: str = "", cols: int | None = None, size: int = 64, pad: int = 1,
         stretch: bool = False) -> None:
    """Tile images (N, C, H, W) or a grid (R, K, C, H, W) in [0, 1] and show them, crisp, with a caption."""
    picture = plots.tile(images, cols=cols, size=size, pad=pad)
    style = "width:100%;" if stretch else f"max-width:100%;width:{picture.shape[1]}px;"
    st.markdown(f'<img class="picture" alt="{caption}" style="{style}image-rendering:pixelated" '
                f'src="{data_uri(picture)}">', unsafe_allow_html=True)
    if caption:
        st.caption(caption)
