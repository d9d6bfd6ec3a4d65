"""Decoding in the browser: the active model's decoder runs in the page (decoder.js beside this file,
an `st.components.v2` component, no iframe and nothing fetched), so hovering over the latent map or
dragging a slider redraws the decoding at the screen's frame rate and sends the server nothing.

The weights travel once per model and session (vae_core.webdecoder writes them); later runs send a
small header. Each function here draws its part of a page and returns True, or, where the model
can't be decoded in the page, says so and returns False, and the page draws its server picture.

    hover(a, chart_key, dims, bases, ...)   beside a latent map: the decoding under the pointer
    path(a, slider_key, z_a, z_b, ...)      the Interpolate slider, live while dragging; play
    knobs(a, z, slider_keys, ...)           the per-dimension knobs, live while dragging
    live(latest, run)                       the Train page: a model as it learns (own map)
    pad(model_key, model, header, ...)      the drawing pad, encoded in the page (ui.draw)
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from vae_core import webdecoder, webencoder
from vae_core.latent import PATHS
from vae_core.models import Autoencoder

from ..plots import in_plane
from ..views import nearest_class

HERE = Path(__file__).resolve().parent
PATH_POINTS = 101      # z(t) at t = 0, 0.01, ..., 1: the slider's own steps; linear in between
LIVE_EVERY = 1.0       # seconds between two sends of a training model's weights


JS = ("frame.js", "decoder.js", "prepare.js", "encoder.js", "draw.js")  # one module: the pad shares the model store
CSS = ("decoder.css", "draw.css")


@functools.cache
def _component():
    read = lambda names: "\n".join((HERE / n).read_text() for n in names)  # noqa: E731
    return st.components.v2.component("latent_explorer.decoder", css=read(CSS), js=read(JS))


def _models() -> dict:
    """This session's record: which models' weights the page has, and why a model can't be decoded."""
    return st.session_state.setdefault("decoder.models", {"sent": set(), "refused": {}})


def _resend() -> None:
    """The page asked for weights it should have (it was reloaded mid-run): send them again."""
    _models()["sent"].clear()


def _weights(model_key: str, export: Callable[[], tuple[dict, bytes]]) -> tuple[str | None, dict | None, bytes]:
    """(why the page can't run this part of the model, or None; its spec and weight bytes where they
    must go to the page now, else None and b""). `export` is asked only where needed."""
    models = _models()
    refused = models["refused"]
    if model_key in refused and (refused[model_key] or model_key in models["sent"]):
        return refused[model_key], None, b""
    try:
        spec, payload = export()
    except webdecoder.WebDecoderError as e:
        refused[model_key] = str(e)
        return str(e), None, b""
    refused[model_key] = None
    models["sent"].add(model_key)
    return None, spec, payload


def _mount(key: str, model_key: str, model: Autoencoder, header: dict, on_pick: Callable[[], None] | None = None) -> bool:
    reason, spec, payload = _weights(model_key, lambda: webdecoder.export(model))
    if reason:
        st.caption(f"This model is decoded on the server, not in your browser: {reason}.")
        return False
    header = {"model": model_key, "latent_dim": model.latent_dim, **header}
    if spec is not None:
        header["spec"] = spec
    _component()(data=webdecoder.frame(header, payload), key=key, on_missing_change=_resend,
                 **({"on_picked_change": on_pick} if on_pick else {}))
    return True


def picked(key: str = "decoder.hover") -> int | None:
    """The example chosen on the map without the mouse (a tap, Enter, Page Up / Down), in `hover`'s
    on_pick callback."""
    got = (st.session_state.get(key) or {}).get("picked")
    return int(got["index"]) if isinstance(got, dict) and isinstance(got.get("index"), (int, float)) else None


def pad(model_key: str, model: Autoencoder, header: dict, on_drawn: Callable[[], None], key: str,
        server: Callable[[], dict | None] = lambda: None) -> str | None:
    """The drawing pad (draw.js), which prepares, encodes and decodes the drawing in the page while the
    pen moves: the decoder's weights and the encoder's (key "enc:" + model_key) go once, as for
    hovering. `on_drawn` runs when the pen is lifted (the drawing is then in st.session_state[key]
    ["drawn"]). -> None, or why the page cannot encode this model (then the server does: the header
    says so, and its "result" carries `server()`: the server's encoding). ui.draw builds the header."""
    reason, spec, payload = _weights(model_key, lambda: webdecoder.export(model))
    enc_key = "enc:" + model_key
    enc_reason, enc_spec, enc_payload = _weights(enc_key, lambda: webencoder.export(model))
    header = {"mode": "draw", "model": model_key, "encoder_key": enc_key, "latent_dim": model.latent_dim, **header}
    if spec is not None:
        header["spec"] = spec
    if enc_spec is not None:
        header["encoder"] = {"key": enc_key, "spec": enc_spec, "offset": len(payload)}
    reason = reason or enc_reason
    if reason:
        header.update(server=reason, result=server())
    _component()(data=webdecoder.frame(header, payload + enc_payload), key=key, on_missing_change=_resend,
                 on_drawn_change=on_drawn)
    return reason


def _vector(z) -> list[float]:
    return [float(v) for v in np.asarray(z, dtype=np.float64).ravel()]


def _cloud(x: torch.Tensor | np.ndarray | None, n: int = 400) -> dict:
    """2-D data: their bounding box (x0, x1, y0, y1) and up to n of the points, drawn behind the decoded
    point so that it is seen among the data."""
    if x is None:
        return {}
    x = in_plane(np.asarray(x, dtype=np.float64))  # (N, 2): 1-D points along x
    lo, hi = x.min(0), x.max(0)
    pad = 0.1 * (hi - lo + 1e-9)
    step = max(1, len(x) // n)
    return {"bounds": [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])],
            "cloud": np.round(x[::step], 3).tolist()}


def _labels(model: Autoencoder, class_names, label: int | None, choose: bool) -> dict:
    if not model.n_cond:
        return {}
    return {"classes": [str(c) for c in class_names], "label": int(label or 0), "choose_label": choose}


def map_header(a, chart_key: str, dims: tuple[int, int], bases: dict[str, np.ndarray] | None = None,
               start: np.ndarray | None = None, label: int | None = None, class_names=(), choose_label: bool = True,
               data_x=None) -> dict:
    """The header of `hover` (also the offline page's, ui.offline): what the page decodes over the map."""
    D = a.model.latent_dim
    bases = bases or {"0": np.zeros(D)}
    start = np.zeros(D) if start is None else np.asarray(start)
    return {"mode": "map", "chart": chart_key, "dims": [int(d) for d in dims],
            "bases": [{"name": n, "z": _vector(z)} for n, z in bases.items()],
            "xy": [float(start[dims[0]]), float(start[dims[1]])], **_cloud(data_x),
            "title": "decoded under the pointer",
            "note": "Move the pointer over the map (or a finger: tap to select), or click it and use the arrow keys "
                    "(Shift: bigger steps), Enter to select, Page Down / Up for the neighbours.",
            **_labels(a.model, class_names, label, choose_label)}


def hover(a, chart_key: str, dims: tuple[int, int], bases: dict[str, np.ndarray] | None = None,
          start: np.ndarray | None = None, label: int | None = None, class_names=(), choose_label: bool = True,
          data_x=None, key: str = "decoder.hover", on_pick: Callable[[], None] | None = None) -> bool:
    """Beside the Plotly map drawn with `st.plotly_chart(key=chart_key)` (x = z[dims[0]], y = z[dims[1]]):
    the decoding of the code under the pointer, live. The map gets aria-label "latent map" (then the
    chart's text alternative), the arrow keys, Enter (select the nearest example) and Page Down / Up
    (step through its neighbours); a touch or a pen taps to select and drags to move the decoded point.
    A selection made so calls `on_pick` (the example: `picked(key)`). Other dims are held at one of
    `bases` (name -> (D,) code; a toggle when several). `start`: the code shown before the pointer
    moves. `data_x`: the data, when they are 2-D points."""
    header = map_header(a, chart_key, dims, bases, start, label, class_names, choose_label, data_x)
    return _mount(key, a.key, a.model, header, on_pick)


def beside_map_header(a, pts, chart_key: str, dims: tuple[int, int], selected=(), base=None,
                      base_name: str | None = None, label: int | None = None) -> dict:
    """`map_header` for a map of `pts` (ui.views.Points): other dims held at `base` (None: 0) named
    `base_name` where the page chooses them, else at the first selected example's mu or 0, a toggle. A
    conditional model decodes with `label` where the page chooses it, else with a label picked beside
    the picture (the selected example's at first)."""
    D = pts.mu.shape[1]
    first = int(selected[0]) if len(selected) else None
    if base_name is not None:
        bases = {base_name: np.zeros(D) if base is None else np.asarray(base)}
    elif first is not None:
        bases = {f"μ of example #{first}": pts.mu[first], "0": np.zeros(D)}
    else:
        bases = {"0 (select an example to use its μ)": np.zeros(D)}
    start = pts.mu[first] if first is not None else next(iter(bases.values()))
    if label is None and first is not None:
        label = int(pts.data.y[first])
    return map_header(a, chart_key, dims, bases, start, label, pts.data.class_names, choose_label=base_name is None,
                      data_x=None if pts.data.is_image else pts.data.x)


def beside_map(a, pts, chart_key: str, dims: tuple[int, int], selected=(), base=None, base_name: str | None = None,
               label: int | None = None, enabled: bool = True, key: str = "decoder.hover",
               on_pick: Callable[[], None] | None = None) -> bool:
    """The Latent space and Manifold pages: `hover` beside their map of `pts` (ui.views.Points), with
    the header `beside_map_header` makes; `on_pick` as `hover`'s."""
    if not enabled or pts.mu.shape[1] < 2:
        st.caption("Hover-to-decode works in the two-dims view of two latent dims, where the map's axes are z.")
        return False
    return _mount(key, a.key, a.model, beside_map_header(a, pts, chart_key, dims, selected, base, base_name, label),
                  on_pick)


def path_header(a, slider_key: str, z_a: torch.Tensor, z_b: torch.Tensor, method: str, label: int | None = None,
                class_names=(), data_x=None, t: float = 0.5, pts=None) -> dict:
    """The header of `path` (also the offline page's): z(t) at PATH_POINTS evenly spaced t; with `pts`
    (ui.views.Points), the class of the example nearest each z(t), which the picture's name says."""
    z = PATHS[method](z_a.float(), z_b.float(), torch.linspace(0, 1, PATH_POINTS))  # (PATH_POINTS, D)
    return {"mode": "path", "slider": slider_key, "t": float(t),
            "path": [_vector(p) for p in z], **_cloud(data_x), "title": "decoded z(t)",
            **({"near": nearest_class(pts, z.numpy())} if pts is not None else {}),
            "note": "Drag the t slider or press play: decoded in your browser as it moves.",
            **_labels(a.model, class_names, label, False)}


def path(a, slider_key: str, z_a: torch.Tensor, z_b: torch.Tensor, method: str, label: int | None = None,
         class_names=(), data_x=None, key: str = "decoder.path", pts=None) -> bool:
    """Decode z(t) in the page while the Streamlit slider `slider_key` (t in [0, 1]) is dragged, with a
    play button that runs t from A to B and back (five still frames where the system asks for reduced
    motion). The server hears t only where the slider is let go. `pts`: as path_header's."""
    header = path_header(a, slider_key, z_a, z_b, method, label, class_names, data_x,
                         float(st.session_state.get(slider_key, 0.5)), pts)
    return _mount(key, a.key, a.model, header)


def knobs(a, z: torch.Tensor, slider_keys: list[str], label: int | None = None, class_names=(), data_x=None,
          key: str = "decoder.knobs") -> bool:
    """Decode in the page while the knob sliders (`slider_keys[d]` sets z[d]) move; the other dims of `z`
    stay as they are."""
    header = {"mode": "knobs", "sliders": list(slider_keys), "z": _vector(z), **_cloud(data_x),
              "title": "decoded from the knobs", "note": "Decoded in your browser as you drag a knob.",
              **_labels(a.model, class_names, label, False)}
    return _mount(key, a.key, a.model, header)


def live(latest: Callable[[], tuple[int | None, Autoencoder] | None], run: str, span: float = 3.0,
         class_names=(), data_x=None, key: str = "decoder.live") -> bool:
    """For the Train page, called on every rerun while `run` trains: a square map of z[0], z[1] in
    [-span, span] (other dims 0) and the decoding under the pointer, of the model as it is now.
    `latest()` gives (epoch, model) as of the run's newest checkpoint, or None; it is asked at most
    once every LIVE_EVERY seconds (reading a checkpoint cost the Train page's 0.7 s refresh more
    than all it draws besides), and new weights go to the page only when the epoch has moved on; in
    between, the page keeps decoding the weights it has. The model is only read."""
    record = st.session_state.setdefault("decoder.live", {})
    now = time.monotonic()
    last = record.get(run)  # (time asked, epoch, version, model)
    if last is None or now - last[0] >= LIVE_EVERY:
        got = latest()
        if got is not None and (last is None or got[0] is None or got[0] != last[1]):
            last = (now, got[0], 0 if last is None else last[2] + 1, got[1])
        elif last is not None:
            last = (now, *last[1:])
        if last is not None:
            record[run] = last
    if last is None or last[3].latent_dim < 2:
        return False
    _, epoch, version, model = last
    header = {"mode": "pad", "dims": [0, 1], "span": float(span), "xy": [0.0, 0.0], **_cloud(data_x),
              "title": "decoded under the pointer" + (f", epoch {epoch}" if epoch is not None else ""),
              "note": "The model as it trains: move the pointer over the square (z0 across, z1 up).",
              **_labels(model, class_names, 0, True)}
    return _mount(key, f"live:{run}:{version}", model, header)
