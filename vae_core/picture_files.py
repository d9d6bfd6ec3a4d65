"""Pictures as files to download: a tiled grid as a PNG, frames as an animated GIF (Pillow)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def _image(picture: np.ndarray) -> Image.Image:
    """(h, w) grey or (h, w, 3) RGB uint8 -> a PIL image."""
    picture = np.asarray(picture)
    if picture.dtype != np.uint8 or picture.ndim not in (2, 3) or (picture.ndim == 3 and picture.shape[2] != 3):
        raise ValueError(f"a picture must be (h, w) or (h, w, 3) uint8, got {picture.dtype} {picture.shape}")
    return Image.fromarray(picture)


def png_bytes(picture: np.ndarray) -> bytes:
    """One picture (h, w) or (h, w, 3) uint8 -> the bytes of a PNG file."""
    buf = io.BytesIO()
    _image(picture).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames, duration_ms: int = 120, bounce: bool = True) -> bytes:
    """Frames, each (h, w) or (h, w, 3) uint8 of one size -> an animated GIF that loops forever.

    bounce: play forward then back (A -> B -> A), so the loop has no jump; T frames become 2T - 2.
    """
    images = [_image(f) for f in frames]
    if not images:
        raise ValueError("a GIF needs at least one frame")
    if len({im.size for im in images}) > 1:
        raise ValueError("all frames of a GIF must have the same size")
    if bounce and len(images) > 2:
        images = images + images[-2:0:-1]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return buf.getvalue()
