"""A drawing as a model's input: the ink on a pad, prepared the way the model's dataset was made.

The page draws on a PAD x PAD canvas and prepares its ink in JavaScript while the pen moves
(ui/decoder/prepare.js); this module is the same preparation in numpy: the reference the browser
tests hold the page to, and what the server uses (an uploaded picture, the drawing's neighbours,
models the page cannot encode). Both compute in float64, operation for operation in the same order
(no matrix products, no pairwise sums), so they agree to the last bit and take the same discrete
decisions (a box's size, a rounded shift, a pixel on or off).

A raster is (PAD, PAD) uint8: how much ink covers each pixel, 0..255 (the pad's alpha channel:
black ink on a transparent canvas). The rules, by dataset (`rule_for`):

  mnist      (mnist, mnist10k; LeCun et al. 1998, "the MNIST database"): the ink's bounding box
             scaled, keeping its shape, until its longer side is 20 px, grey levels by area (the
             anti-aliasing), then placed in 28 x 28 with its centre of mass on pixel (14, 14), in
             whole pixels (MNIST's digits: centre of mass 13.98 +- 0.29 in index units).
  optdigits  (digits; UCI optdigits, Alpaydin & Kaynak 1998, which scikit-learn's 8x8 digits are):
             a 32 x 32 black-and-white bitmap (a pixel of the pad is ink where half covered), the ink
             fitted to 32 px keeping its shape and centred, then each 4 x 4 block counted: 0..16.
  binary     (sprites): the whole pad is the 32 x 32 image; a pixel is on where ink covers at least
             half of it.
  area       (any other image data): the whole pad scaled to H x W, grey levels by area; the same
             grey in every channel.

An uploaded picture becomes a raster first (`raster_from_image`): decoded by Pillow, within limits,
light paper turned to dark, fitted into the pad.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np

PAD = 224                     # the pad's pixels per side: 28 x 8, 32 x 7, 8 x 28
MAX_FILE_BYTES = 20 * 2**20   # an upload larger than this is refused unread
MAX_PIXELS = 40_000_000       # ... and one declaring more pixels than this (a decompression bomb)


class DrawingError(ValueError):
    """A picture that cannot be a drawing; the message names the file and says why."""


@dataclass(frozen=True)
class Rule:
    """How a dataset's images were made from ink; `text` is said under the model's-eye view."""
    name: str                 # mnist | optdigits | binary | area: the page runs the one of this name
    shape: tuple[int, ...]    # (C, H, W) of the model's input
    text: str
    brush: int = 18           # the pad's default brush width, in pad pixels

    def header(self) -> dict:
        """What the page needs to run the same rule."""
        return {"name": self.name, "shape": list(self.shape), "text": self.text, "brush": self.brush, "pad": PAD}


def rule_for(dataset: str, shape) -> Rule | None:
    """The rule for a model of `dataset` whose input is `shape`; None for data that are not images."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        return None
    name = dataset.strip().lower()
    if name in ("mnist", "mnist10k") and shape == (1, 28, 28):
        return Rule("mnist", shape, "As MNIST was made: the ink's box scaled to fit 20 × 20 (its shape kept, grey "
                    "levels by area), then placed in 28 × 28 with its centre of mass at the centre.")
    if name == "digits" and shape == (1, 8, 8):
        return Rule("optdigits", shape, "As the 8 × 8 digits were made: the ink fitted to a 32 × 32 black-and-white "
                    "bitmap, then each 4 × 4 block counted: 0 to 16 pixels on, 17 grey levels.", brush=22)
    if name == "sprites":
        return Rule("binary", shape, f"As the sprites are drawn: the whole pad is the {shape[1]} × {shape[2]} image, "
                    "a pixel on where ink covers at least half of it. Sprites are filled shapes: fill yours in.",
                    brush=30)
    colour = " (the same grey in each colour channel)" if shape[0] > 1 else ""
    return Rule("area", shape, f"The whole pad scaled to {shape[1]} × {shape[2]}, grey levels by area{colour}.")


# --- the preparation (mirrored line for line by ui/decoder/prepare.js) -------------------------


def spans(n_in: int, n_out: int) -> list[tuple[int, int, float]]:
    """Area resampling of n_in pixels to n_out: (out pixel, in pixel, weight) in the order summed.
    Output pixel o is the mean over [o n_in / n_out, (o + 1) n_in / n_out) of the input."""
    out = []
    for o in range(n_out):
        lo, hi = o * n_in / n_out, (o + 1) * n_in / n_out
        for r in range(math.floor(lo), math.ceil(hi)):
            out.append((o, r, (min(hi, r + 1) - max(lo, r)) * n_out / n_in))
    return out


def resample(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """(H0, W0) float64 -> (h, w) by area, rows first; each output sums its inputs in index order."""
    rows = np.zeros((h, a.shape[1]))
    for o, r, wt in spans(a.shape[0], h):
        rows[o] += wt * a[r]
    out = np.zeros((h, w))
    for o, c, wt in spans(a.shape[1], w):
        out[:, o] += wt * rows[:, c]
    return out


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) of the True pixels, or None."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _fit(h: int, w: int, side: int) -> tuple[int, int]:
    """(h, w) scaled, shape kept, until the longer side is `side`; rounded half up, at least 1."""
    longer = max(h, w)
    return max(1, math.floor(h * side / longer + 0.5)), max(1, math.floor(w * side / longer + 0.5))


def _mnist(raster: np.ndarray, field: int = 28, box: int = 20) -> np.ndarray:
    out = np.zeros((field, field))
    found = _box(raster > 0)
    if found is None:
        return out
    top, left, h, w = found
    bh, bw = _fit(h, w, box)
    digit = resample(raster[top:top + h, left:left + w] / 255, bh, bw)
    mass = my = mx = 0.0
    for i in range(bh):          # sums in index order, as the page sums them
        for j in range(bw):
            v = float(digit[i, j])
            mass += v
            my += v * i
            mx += v * j
    oy, ox = math.floor(field / 2 - my / mass + 0.5), math.floor(field / 2 - mx / mass + 0.5)
    # the box at (oy, ox); what falls outside the field is cut off, as in MNIST
    y0, x0 = max(0, oy), max(0, ox)
    y1, x1 = min(field, oy + bh), min(field, ox + bw)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = digit[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return out


def _optdigits(raster: np.ndarray, bitmap: int = 32, block: int = 4) -> np.ndarray:
    bits = np.zeros((bitmap, bitmap))
    on = raster >= 128
    found = _box(on)
    if found is not None:
        top, left, h, w = found
        bh, bw = _fit(h, w, bitmap)
        cover = resample(on[top:top + h, left:left + w].astype(np.float64), bh, bw)
        oy, ox = (bitmap - bh) // 2, (bitmap - bw) // 2
        bits[oy:oy + bh, ox:ox + bw] = cover >= 0.5
    n = bitmap // block
    return bits.reshape(n, block, n, block).sum((1, 3)) / (block * block)  # (8, 8) counts 0..16 / 16


def prepare(raster: np.ndarray, rule: Rule) -> np.ndarray:
    """A pad's raster (PAD, PAD) uint8 -> the model's input (C, H, W) float32 in [0, 1], by `rule`."""
    raster = np.asarray(raster)
    if raster.shape != (PAD, PAD):
        raise ValueError(f"a raster is {PAD} x {PAD}, got {raster.shape}")
    raster = raster.astype(np.float64)
    c, h, w = rule.shape
    if rule.name == "mnist":
        grey = _mnist(raster, field=h)
    elif rule.name == "optdigits":
        grey = _optdigits(raster, bitmap=4 * h)
    elif rule.name == "binary":
        grey = (resample(raster / 255, h, w) >= 0.5).astype(np.float64)
    elif rule.name == "area":
        grey = resample(raster / 255, h, w)
    else:
        raise ValueError(f"unknown rule {rule.name!r}")
    return np.repeat(grey[None], c, axis=0).astype(np.float32)


# --- pictures to rasters ------------------------------------------------------------------------


def _open(data: bytes, name: str, formats=("PNG", "JPEG")):
    """Pillow's image of `data`, its size checked before any pixel is decoded."""
    from PIL import Image

    if not data:
        raise DrawingError(f"{name}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DrawingError(f"{name}: {len(data) / 2**20:.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB a "
                           "drawing may be")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=list(formats))
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, ValueError, SyntaxError) as e:
        kinds = " or ".join(formats)
        if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise DrawingError(f"{name}: it declares more pixels than a picture may have ({e})") from None
        raise DrawingError(f"{name}: not a {kinds} picture Pillow can read") from None
    w, h = img.size
    if w < 1 or h < 1 or w * h > MAX_PIXELS:
        raise DrawingError(f"{name}: it declares {w:,} x {h:,} pixels; a drawing may have at most "
                           f"{MAX_PIXELS / 1e6:.0f} million")
    return img


def _decoded(img, name: str, mode: str):
    """The image's pixels in `mode`, or a DrawingError for a truncated or damaged file."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if img.format == "JPEG":
                img.draft("L", (PAD, PAD))  # decode at a reduced size where JPEG allows it
            img = ImageOps.exif_transpose(img)  # a phone's photo, the right way up
            if mode == "L" and (img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)  # transparent -> white paper
            return img.convert(mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as e:
        raise DrawingError(f"{name}: the picture is damaged or cut short ({e})") from None


def raster_from_image(data: bytes, name: str = "the picture") -> np.ndarray:
    """An uploaded PNG or JPEG -> a raster (PAD, PAD) uint8. Grey levels; a light border (paper) means
    dark ink, which is turned to ink on nothing: the border's median shade becomes 0 and black 255.
    Fitted into the pad keeping its shape, centred: enlarged by a whole factor (pixels stay crisp, so
    a 28 x 28 digit covers the pad 8 x 8 a pixel), or reduced by area."""
    from PIL import Image

    grey = np.asarray(_decoded(_open(data, name), name, "L"), dtype=np.float64) / 255  # (h, w), 1 = white
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 0.5:
        grey = 1 - grey  # dark ink on light paper
        border = 1 - border
    paper = float(np.median(border))
    ink = np.clip((grey - paper) / (1 - paper), 0, 1) if paper < 1 else np.zeros_like(grey)
    h, w = ink.shape
    if max(h, w) <= PAD:
        k = PAD // max(h, w)
        big = np.repeat(np.repeat(np.round(ink * 255), k, axis=0), k, axis=1)
    else:
        scale = PAD / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = Image.fromarray(np.round(ink * 255).astype(np.uint8)).resize(size, Image.Resampling.BOX)
        big = np.asarray(small, dtype=np.float64)
    raster = np.zeros((PAD, PAD), np.uint8)
    top, left = (PAD - big.shape[0]) // 2, (PAD - big.shape[1]) // 2
    raster[top:top + big.shape[0], left:left + big.shape[1]] = big
    return raster


def raster_from_pad(data: bytes) -> np.ndarray:
    """The page's pad as the PNG it sends (canvas.toDataURL: black ink, the coverage in alpha) -> raster."""
    img = _open(data, "the drawing", formats=("PNG",))
    if img.size != (PAD, PAD):
        raise DrawingError(f"the drawing: {img.size[0]} x {img.size[1]} pixels, not the pad's {PAD} x {PAD}")
    return np.asarray(_decoded(img, "the drawing", "RGBA"))[..., 3].copy()


def pad_png(raster: np.ndarray) -> bytes:
    """A raster as the page's pad holds it: black ink whose alpha is the coverage (PNG, lossless)."""
    from PIL import Image

    rgba = np.zeros((*raster.shape, 4), np.uint8)
    rgba[..., 3] = raster
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()
