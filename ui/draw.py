"""Your own hand: draw (or upload) a picture and see where the model puts it.

The pad runs in the page (ui/decoder/draw.js): while the pen moves, the page prepares the ink as the
model's dataset was made, encodes it, decodes mu and moves the drawing's point and posterior ellipse
on the map, telling the server nothing. When the pen is lifted the drawing comes here once (a PNG of
the pad); the server prepares it again with vae_core.drawing (the reference the page is tested
against), encodes it with vae_core and finds its neighbours among the map's examples. A model the
page cannot encode is encoded here instead (the server path), and the page says so.

    beside_map(a, pts, chart_key, view, dims)   the Latent space page: the pad, its neighbours, pins, upload
    endpoint(a, pts, ...)                       the Interpolate page: the drawing as the path's end A
"""
from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from vae_core import drawing
from vae_core.latent import decode, encode, nearest
from vae_core.metrics import example_terms

from . import decoder, picture, views
from .runs import Active

DRAWING = "draw.drawing"        # this session's drawing: {"rev", "raster" (PAD, PAD) uint8, "label", "png"}
PINS = "draw.pins"              # drawings pinned to the map, oldest first
ERROR = "draw.error"            # what was wrong with the last upload (or drawing), shown until the next one
SIDE = "draw.side"              # the Latent space page's choice beside the map, kept across pages
UPLOAD = "draw.upload"
NEIGHBOURS = 8
MAX_PINS = 8
SIDES = ("Decode & inspect", "Draw")
AS_A = "my drawing as A"        # the Interpolate page's choice of A


@dataclass(frozen=True)
class Encoded:
    """A drawing as the active model sees it: its input, posterior, numbers and reconstruction."""
    rev: str                      # which drawing (its revision)
    x: np.ndarray                 # (C, H, W) the model's input
    mu: np.ndarray                # (D,)
    logvar: np.ndarray | None     # (D,), the VAE family only
    label: int | None             # a conditional model's label
    recon: float                  # -log p(x | z = mu), nats
    kl: float | None              # KL(q(z|x) || p(z)), nats
    out: np.ndarray               # (C, H, W) the decoding of mu

    @property
    def sigma(self) -> np.ndarray | None:
        return None if self.logvar is None else np.exp(0.5 * self.logvar)


def _set(raster: np.ndarray, rev: str, label) -> None:
    empty = not raster.any()
    st.session_state[DRAWING] = None if empty else {
        "rev": rev, "raster": raster, "label": label,
        "png": "data:image/png;base64," + base64.b64encode(drawing.pad_png(raster)).decode()}
    st.session_state.pop(ERROR, None)


def _drawn(key: str) -> None:
    """The pen was lifted (or undo, clear, a new label): the page's drawing, as a PNG of the pad."""
    got = (st.session_state.get(key) or {}).get("drawn")
    if not isinstance(got, dict) or not isinstance(got.get("rev"), str):
        return
    label = got.get("label")
    label = int(label) if isinstance(label, (int, float)) and 0 <= label < 1000 else None
    png = got.get("png")
    try:
        if png is None:
            raster = np.zeros((drawing.PAD, drawing.PAD), np.uint8)
        elif isinstance(png, str) and png.startswith("data:image/png;base64,"):
            raster = drawing.raster_from_pad(base64.b64decode(png.partition(",")[2], validate=True))
        else:
            raise drawing.DrawingError("the drawing: the page sent no PNG")
    except (drawing.DrawingError, ValueError) as e:
        st.session_state[ERROR] = str(e)
        return
    _set(raster, got["rev"][:32], label)


def _uploaded() -> None:
    """A picture uploaded as a drawing: checked and prepared here (Pillow), then shown on the pad."""
    f = st.session_state.get(UPLOAD)
    if f is None:
        return
    data = f.getvalue()
    try:
        raster = drawing.raster_from_image(data, f.name)
    except drawing.DrawingError as e:
        st.session_state[ERROR] = str(e)
        return
    label = (st.session_state.get(DRAWING) or {}).get("label")
    _set(raster, "up-" + hashlib.sha256(data).hexdigest()[:16], label)


def encoded(a: Active, d: dict) -> Encoded:
    """vae_core's view of a drawing: prepared by the model's rule, encoded, decoded, its numbers."""
    rule = drawing.rule_for(a.cfg.dataset, a.model.shape)
    x = torch.from_numpy(drawing.prepare(d["raster"], rule))[None]  # (1, C, H, W)
    label = d["label"] if d["label"] is not None and 0 <= d["label"] < a.model.n_cond else 0
    y = torch.tensor([label]) if a.model.n_cond else None
    mu, logvar = encode(a.model, x, y)
    terms = example_terms(a.model, x, y, a.cfg)
    out = decode(a.model, mu, y)
    return Encoded(d["rev"], x[0].numpy(), mu[0].cpu().numpy(), None if logvar is None else logvar[0].cpu().numpy(),
                   int(y) if y is not None else None, float(terms["recon"]),
                   float(terms["kl"]) if "kl" in terms else None, out[0].cpu().numpy())


def _vector(v) -> list[float] | None:
    return None if v is None else [float(u) for u in np.asarray(v, np.float64).ravel()]


def _neighbours(pts: views.Points, enc: Encoded, near: np.ndarray) -> dict:
    """The drawing's nearest examples, for the page to show beside the pad and ring on the map."""
    data = pts.data
    got = {"rev": enc.rev, "z": pts.mu[near].tolist(), "labels": [data.class_names[int(k)] for k in data.y[near].tolist()],
           "dist": np.sqrt(((pts.mu[near] - enc.mu) ** 2).sum(1)).round(4).tolist(), "which": pts.which}
    if data.is_image:
        px = (np.clip(data.x[near].numpy(), 0, 1) * 255).round().astype(np.uint8)  # (K, C, H, W)
        got.update(shape=list(px.shape[1:]), pixels=base64.b64encode(px.tobytes()).decode())
    return got


def _pad(a: Active, pts: views.Points, chart_key: str | None, projection: dict | None, key: str) -> Encoded | None:
    """The pad and what it needs (the pages offer it for models of pictures); then the upload.
    -> the drawing as vae_core encodes it, None before there is one."""
    rule = drawing.rule_for(a.cfg.dataset, a.model.shape)
    d = st.session_state.get(DRAWING)
    enc = encoded(a, d) if d else None
    near = nearest(pts.mu, enc.mu, NEIGHBOURS) if enc is not None else np.zeros(0, int)
    pins = [(i, encoded(a, p)) for i, p in enumerate(st.session_state.get(PINS, []), 1)]
    header = {"rule": rule.header(), "chart": chart_key, "projection": projection, "sigma": float(a.cfg.sigma),
              "drawing": {"rev": d["rev"], "png": d["png"]} if d else None,
              "neighbours": _neighbours(pts, enc, near) if enc else None,
              "pins": [{"name": str(i), "mu": _vector(p.mu), "sigma": _vector(p.sigma)} for i, p in pins]}
    if a.model.n_cond:
        header.update(classes=[str(c) for c in pts.data.class_names], label=enc.label if enc is not None else 0)

    def server() -> dict | None:  # the server path: this drawing as vae_core encodes it
        return enc and {"rev": d["rev"], "mu": _vector(enc.mu), "logvar": _vector(enc.logvar),
                        "recon": _vector(enc.out), "recon_nats": enc.recon, "kl": enc.kl}

    reason = decoder.pad(a.key, a.model, header, functools.partial(_drawn, key), key, server)
    if reason:
        st.caption(f"This model is encoded on the server, not in your browser ({reason}): lift the pen to see "
                   "where your drawing lands.")
    if st.session_state.get(ERROR):
        st.error(st.session_state[ERROR])
    return enc


def upload() -> None:
    st.file_uploader("Or upload a picture as a drawing (PNG or JPEG)", type=["png", "jpg", "jpeg"], key=UPLOAD,
                     on_change=_uploaded,
                     help="Fitted into the pad and prepared like a drawing. A photo or scan of dark ink on light "
                          "paper works: the paper's shade (its border) becomes the background.")


def side() -> str:
    """The Latent space page's choice beside the map (kept across pages)."""
    choice = st.radio("Beside the map", SIDES, SIDES.index(st.session_state.get(SIDE, SIDES[0])), horizontal=True,
                      key="latent.side", help="Decode what is under the pointer and inspect clicked examples, or "
                                              "draw your own and see where the model puts it.")
    st.session_state[SIDE] = choice
    return choice


def beside_map(a: Active, pts: views.Points, chart_key: str, view: str, dims: tuple[int, int]) -> None:
    """The Latent space page: the pad beside its map (the drawing's point and ellipse drawn on the map,
    in the view's own coordinates; its nearest examples beside the pad), the pins, an upload."""
    projection = views.projection(a, pts, view, dims)
    if projection is None:
        st.caption("t-SNE places only the examples it was given: your drawing is not drawn on this view "
                   "(choose two dims or PCA).")
    _pad(a, pts, chart_key, projection, "draw.pad")
    pins_row(a)
    upload()


def _pin() -> None:
    d, pins = st.session_state.get(DRAWING), st.session_state.setdefault(PINS, [])
    if d is not None and all(p["rev"] != d["rev"] for p in pins):
        pins.append(d)
        del pins[:-MAX_PINS]


def pins_row(a: Active) -> None:
    """Pin the drawing (it stays on the map, numbered, while you draw another), or clear the pins."""
    d = st.session_state.get(DRAWING)
    pins = st.session_state.setdefault(PINS, [])
    c = st.columns(2)
    c[0].button("Pin it", key="draw.pin", icon=":material/push_pin:", on_click=_pin, width="stretch",
                disabled=d is None or any(p["rev"] == d["rev"] for p in pins),
                help="Keep this drawing on the map, numbered, while you draw another.")
    c[1].button("Clear pins", key="draw.unpin", on_click=pins.clear, disabled=not pins, width="stretch")
    if pins:
        rule = drawing.rule_for(a.cfg.dataset, a.model.shape)
        picture.show(np.stack([drawing.prepare(p["raster"], rule) for p in pins]),
                     "pinned drawings, numbered on the map: " + ", ".join(str(i) for i in range(1, len(pins) + 1)),
                     size=40, download="pinned-drawings.png")


def endpoint(a: Active, pts: views.Points, chart_key: str | None, projection: dict | None) -> Encoded | None:
    """The Interpolate page: the pad, whose drawing is the path's end A; None (and a word) until
    something is drawn."""
    enc = _pad(a, pts, chart_key, projection, "draw.interp")
    upload()
    if enc is None:
        st.info("Draw on the pad (or upload a picture): when you lift the pen your drawing becomes A. Until then A "
                "is the example chosen before.")
    return enc
