"""Pictures inline in the page (PNG data URIs) rather than st.image's separate media request.

On a click or a slider move the image then arrives in the same message as the text around it:
measured in Chromium on 2 cores, a click's decoded panel went from p50 ~330 ms to ~175 ms, the
extra HTTP round trip being most of the difference (bench/bench_latency.py).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from vae_core.picture_files import gif_bytes, png_bytes

from . import plots


_URIS: OrderedDict[bytes, str] = OrderedDict()  # a picture's digest -> its data URI, the newest last
_URIS_LOCK = threading.Lock()                     # every session's script thread shares them
_uris_chars = 0                                   # the characters of the URIs kept, in all
URIS_KEPT = 256                                   # at most this many URIs ...
URIS_BYTES = 16 * 2**20                           # ... of at most this many characters in all


def data_uri(picture: np.ndarray) -> str:
    """(h, w) or (h, w, 3) uint8 -> 'data:image/png;base64,...'. The newest are kept (URIS_KEPT,
    URIS_BYTES), by content: pages draw the same pictures again on every rerun (a traversal, a
    manifold grid, the Train page's every refresh), and every session on the same model draws the
    same ones."""
    picture = np.ascontiguousarray(picture)
    key = f"{picture.shape}{picture.dtype.str}".encode() + hashlib.blake2b(picture.data, digest_size=16).digest()
    with _URIS_LOCK:
        if key in _URIS:
            _URIS.move_to_end(key)
            return _URIS[key]
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    global _uris_chars
    with _URIS_LOCK:
        if key not in _URIS:  # (another session may have encoded it meanwhile)
            _URIS[key] = uri
            _uris_chars += len(uri)
        while len(_URIS) > URIS_KEPT or _uris_chars > URIS_BYTES:
            _uris_chars -= len(_URIS.popitem(last=False)[1])
    return uri


def _file_name(text: str, ext: str) -> str:
    """'decoded grid · others at 0' -> 'decoded-grid-others-at-0.png'."""
    stem = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "picture"
    return f"{stem}.{ext}"


def _download(label: str, make: Callable[[], bytes], source: np.ndarray, name: str, mime: str) -> None:
    """A download button for the file `make()` encodes from `source`. The file is made when the button
    is pressed, not on every rerun (the browser would also fetch it at once); clicking does not rerun
    the page."""
    digest = hashlib.md5(np.ascontiguousarray(source).tobytes()).hexdigest()[:12]
    st.download_button(label, make, file_name=name, mime=mime, on_click="ignore", icon=":material/download:",
                       key=f"download.{name}.{digest}")


def show(images: np.ndarray, caption: str = "", cols: int | None = None, size: int = 64, pad: int = 1,
         stretch: bool = False, download: str | bool | None = None, alt: str = "") -> None:
    """Tile images (N, C, H, W) or a grid (R, K, C, H, W) in [0, 1] and show them, crisp, with a caption.
    `alt`: what a screen reader says of the picture (a decoded one: its z and the nearest class), else
    the caption.

    A grid of more than one image gets a button that downloads it as a PNG (file name `download`,
    else one made from the caption; none with download=False)."""
    picture = plots.tile(images, cols=cols, size=size, pad=pad)
    style = "width:100%;" if stretch else f"max-width:100%;width:{picture.shape[1]}px;"
    st.markdown(f'<img class="picture" alt="{html.escape(alt or caption)}" style="{style}image-rendering:pixelated" '
                f'src="{data_uri(picture)}">', unsafe_allow_html=True)
    if caption:
        st.caption(caption)
    n = np.asarray(images).shape[0] * (np.asarray(images).shape[1] if np.asarray(images).ndim == 5 else 1)
    if n > 1 and download is not False:
        _download("PNG", functools.partial(png_bytes, picture), picture, download or _file_name(caption, "png"),
                  "image/png")


def gif_button(frames: np.ndarray, name: str, cols: int | None = None, size: int = 64, label: str = "GIF") -> None:
    """A button that downloads `frames` as a looping animated GIF: (T, N, C, H, W), frame t the N
    images tiled (one row of a traversal each), or (T, C, H, W), one image a frame."""
    frames = np.asarray(frames)

    def make() -> bytes:
        return gif_bytes([plots.tile(f if f.ndim == 4 else f[None], cols=cols, size=size) for f in frames])

    _download(label, make, frames, _file_name(name, "gif"), "image/gif")
