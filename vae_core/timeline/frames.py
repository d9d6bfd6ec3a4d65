"""A timeline as pictures, for export: one frame per snapshot (the map at that step, its step, epoch and
β written above it, the 8 reconstructions under it), as PNG files in a zip or one animated GIF.

The page draws the same frame in a canvas (ui/timeline/timeline.js); here it is drawn with numpy and
Pillow at a given width (the page's view size), so the files need no browser.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..picture_files import gif_bytes, png_bytes
from .snapshots import Timeline, project
from .web import bounds

BACKGROUND, GRID, INK = (250, 250, 250), (196, 196, 196), (34, 34, 34)


def _rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return tuple(int(c[i:i + 2], 16) for i in (0, 2, 4))


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def draw_map(xy: np.ndarray, labels: np.ndarray, colours, box, size: int, prior: bool = False) -> np.ndarray:
    """Codes (N, 2) in the box (x0, x1, y0, y1) -> a size x size uint8 RGB map: a square per code in its
    class colour (classes drawn in order, as the page does), 0 axes, the prior's 1σ and 2σ circles."""
    img = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(img)
    x0, x1, y0, y1 = box

    def px(x, y):
        return (x - x0) / (x1 - x0) * (size - 1), (y1 - y) / (y1 - y0) * (size - 1)
    ox, oy = px(0.0, 0.0)
    draw.line([(ox, 0), (ox, size)], fill=GRID)
    draw.line([(0, oy), (size, oy)], fill=GRID)
    if prior:
        for r in (1, 2):
            a, b = px(-r, r)
            c, d = px(r, -r)
            draw.ellipse([a, b, c, d], outline=GRID)
    out = np.asarray(img).copy()
    r = max(1, size // 240)
    cx = np.round((xy[:, 0] - x0) / (x1 - x0) * (size - 1)).astype(int)
    cy = np.round((y1 - xy[:, 1]) / (y1 - y0) * (size - 1)).astype(int)
    for c in np.unique(labels):
        sel = labels == c
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                u, v = cx[sel] + dx, cy[sel] + dy
                ok = (u >= 0) & (u < size) & (v >= 0) & (v < size)
                out[v[ok], u[ok]] = _rgb(colours[int(c) % len(colours)])
    return out


def _strip(recon: np.ndarray, width: int) -> np.ndarray | None:
    """R pictures (R, C, H, W) in [0, 1] -> one row `width` wide, each scaled by whole pixels."""
    if recon.ndim != 4:
        return None
    R, C, H, W = recon.shape
    scale = max(1, width // (R * W))
    u8 = (np.clip(recon, 0, 1) * 255).round().astype(np.uint8).repeat(scale, 2).repeat(scale, 3)
    u8 = np.repeat(u8, 3, axis=1) if C == 1 else u8
    row = np.concatenate(list(u8.transpose(0, 2, 3, 1)), axis=1)   # (H*s, R*W*s, 3)
    pad = width - row.shape[1]
    return np.pad(row, ((2, 2), (pad // 2, pad - pad // 2), (0, 0)), constant_values=255)


def caption(tl: Timeline, s: int) -> str:
    """'step 64 · epoch 0.90 · beta 1' (Pillow's built-in font has no β)."""
    e = tl.epochs[s]
    epoch = f"{e:.0f}" if e == int(e) else f"{e:.2f}"
    return f"step {tl.steps[s]:,} · epoch {epoch} · beta {tl.betas[s]:g}"


def frames(tl: Timeline, colours, size: int = 480, view: str = "dims", dims: tuple[int, int] = (0, 1),
           zoom: str = "run") -> list[np.ndarray]:
    """One (H, size, 3) uint8 frame per snapshot. zoom "run": one box for every frame; "step": each its own."""
    size = int(min(max(size, 120), 2048))
    xy, axes, _ = project(tl, view, dims)
    run_box, each = bounds(xy)
    labels = tl.labels.numpy()
    prior = tl.variational and axes[0].startswith("z")
    font = _font(max(11, size // 32))
    band = max(18, size // 20)
    out = []
    for s in range(len(tl)):
        picture = draw_map(xy[s], labels, colours, run_box if zoom == "run" else each[s], size, prior)
        head = Image.new("RGB", (size, band), (255, 255, 255))
        ImageDraw.Draw(head).text((6, band // 2), caption(tl, s) + f"   ({axes[0]} across, {axes[1]} up)"
                                  if axes[1] else caption(tl, s), fill=INK, font=font, anchor="lm")
        parts = [np.asarray(head), picture]
        strip = _strip(tl.recon[s].float().numpy(), size)
        if strip is not None:
            parts.append(strip)
        out.append(np.concatenate(parts, axis=0))
    return out


def gif(frames_: list[np.ndarray], per_frame_ms: int = 200) -> bytes:
    """The frames as a looping GIF, the last one held a second longer."""
    return gif_bytes(frames_ + [frames_[-1]] * max(1, 1000 // per_frame_ms), duration_ms=per_frame_ms, bounce=False)


def png_zip(tl: Timeline, frames_: list[np.ndarray]) -> bytes:
    """Every frame as a PNG file, named by its step, in one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        for s, f in enumerate(frames_):
            z.writestr(f"step-{tl.steps[s]:07d}.png", png_bytes(f))
    return buf.getvalue()
