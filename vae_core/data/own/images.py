"""PNG and JPEG files: the header read first (format, size: a decompression bomb is refused before a
pixel is decoded), then the pixels, as 8-bit arrays (H, W, 1) or (H, W, 3).

Rules, the same for every image: transparent pixels are laid on white (as a browser shows them);
16-bit grey is scaled to 8 bits; a palette, CMYK or YCbCr image becomes RGB. The common PNG (8-bit
grey or RGB, not interlaced) is decoded in batches by own.png; everything else, and whatever that
decoder does not accept, by Pillow's PNG and JPEG decoders only, whatever a file calls itself.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import png
from .limits import MAX_PIXELS, DataRefused

FORMATS = ("PNG", "JPEG")
PNG_MAGIC, JPEG_MAGIC = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N")


def is_image(data: bytes) -> bool:
    return data.startswith(PNG_MAGIC) or data.startswith(JPEG_MAGIC)


@dataclass
class ImageFile:
    """One image, its header read, its pixels not yet decoded."""
    where: str
    label: str | None          # its sub-folder's name (None: no sub-folder)
    data: bytes
    size: tuple[int, int]      # (H, W)
    image: Image.Image | None  # Pillow's, opened lazily (size and mode known, nothing decoded); None for
    fast: int = 0              # ... a PNG that own.png decodes: its channels (1 or 3)

    @property
    def channels(self) -> int:
        if self.fast:
            return self.fast
        return 1 if self.image.mode in GREY_MODES else 3


def _check_size(w: int, h: int, where: str) -> None:
    if w < 1 or h < 1:
        raise DataRefused(where, f"an image of {w} x {h} pixels")
    if w * h > MAX_PIXELS:
        raise DataRefused(where, f"the image declares {w:,} x {h:,} pixels, more than the {MAX_PIXELS:,} an image "
                                 "may have: a decompression bomb, or a picture to shrink first; refused before "
                                 "decoding")


def open_image(data: bytes, where: str, label: str | None = None) -> ImageFile:
    """Read an image's header only; refuse a file that is not a PNG or JPEG, or that declares more
    than MAX_PIXELS pixels (checked here, before decoding, whatever Pillow's own limit)."""
    head = png.header(data)
    if png.fast(head):
        w, h = head[:2]
        _check_size(w, h, where)
        return ImageFile(where, label, data, (h, w), None, png.CHANNELS[head[3]])
    return ImageFile(where, label, data, *_pillow_open(data, where))


def _pillow_open(data: bytes, where: str) -> tuple[tuple[int, int], Image.Image]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataRefused(where, f"the image declares more than {Image.MAX_IMAGE_PIXELS:,} pixels: a decompression "
                                 "bomb; refused before decoding") from None
    except Exception as e:  # Pillow raises many kinds for a damaged header  # noqa: BLE001
        raise DataRefused(where, f"not a readable PNG or JPEG image ({type(e).__name__}: {e})") from None
    w, h = im.size
    _check_size(w, h, where)
    return (h, w), im


def decode(f: ImageFile, target: tuple[int, int] | None = None) -> np.ndarray:
    """The pixels by Pillow, (H, W, 1) or (H, W, 3) uint8. A JPEG larger than `target` is decoded at a
    reduced scale (its draft mode: 1/2 to 1/8, never below the target), much faster for photos."""
    if f.image is None:
        f.image = _pillow_open(f.data, f.where)[1]
    im = f.image
    try:
        if im.format == "JPEG" and target is not None:
            im.draft(im.mode, (target[1], target[0]))
        im.load()
        mode = im.mode
        if mode.startswith("I"):  # 16-bit (or 32-bit) grey
            a = np.asarray(im, dtype=np.float64)
            return np.clip(np.rint(a * (255 / 65535)), 0, 255).astype(np.uint8)[..., None]
        if "transparency" in im.info and mode in ("L", "RGB", "P"):  # a tRNS chunk: a colour that is transparent
            im = im.convert("LA" if mode == "L" else "RGBA")
            mode = im.mode
        if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
            im = _on_white(im)
        elif mode == "1":
            im = im.convert("L")
        elif mode not in ("L", "RGB"):
            im = im.convert("RGB")
        a = np.asarray(im)
    except DataRefused:
        raise
    except Exception as e:  # a truncated or corrupt stream, in any of Pillow's ways  # noqa: BLE001
        raise DataRefused(f.where, f"a corrupt image ({type(e).__name__}: {e})") from None
    finally:
        f.image.close()
    return a[..., None] if a.ndim == 2 else a


def _on_white(im: Image.Image) -> Image.Image:
    """An image with alpha laid on white: L for grey + alpha, RGB for colour + alpha."""
    grey = im.mode in ("LA", "La")
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    out = Image.alpha_composite(white, rgba)
    return out.convert("L") if grey else out.convert("RGB")
