"""The screen a session draws on, and the one way the pages put a chart on it.

Plotly draws WebGL traces (every latent map's Scattergl points) into a canvas of `plotGlPixelRatio`
device pixels per CSS pixel, 2 unless told otherwise, whatever the screen. On a screen of ratio 1 (a
projector, most classroom PCs) that is four times the pixels for no visible gain, and a browser
without a GPU (SwiftShader) pays for them: on this machine a page switch drew its 10,000-point map
180 ms later (p50 551 against 370 ms, bench/bench_latency.py). On a Retina screen, a ratio of 1
blurs the points. So the charts here draw at the screen's own ratio, which only the browser knows:
a small component (nothing drawn) reports window.devicePixelRatio when it differs from what the
server used, which reruns the page once, on the first page of a session on a high-density screen.

    chart(fig, key=..., alt=..., ...)   st.plotly_chart at the screen's pixel ratio, with a text alternative
    report()                   once per script run (app.py): the browser tells its ratio

Every chart also has a text alternative for screen readers: what it shows and its key numbers (`alt`,
said first) and what the figure itself says (its title, axes and their ranges, its series and their
sizes: `describe`), put in the figure's layout.meta.alt, which ui.access makes the chart's aria-label;
and, under a chart with a key, a "show as table" switch that lists its data (`table`).
"""
from __future__ import annotations

import base64
import functools

import numpy as np
import pandas as pd
import streamlit as st

KEY = "screen"          # the component's state: {"ratio": what the browser said}
RATIO = "screen.ratio"  # a copy that outlives runs which don't draw the component (a page that stops early)
JS = """export default function ({ data, setStateValue }) {
  const ratio = window.devicePixelRatio || 1;
  if (Math.abs(ratio - data.ratio) > 0.01) setStateValue("ratio", ratio);
}"""


@functools.cache
def _component():
    return st.components.v2.component("latent_explorer.screen", js=JS)


def pixel_ratio() -> float:
    """The browser's device pixel ratio, as Plotly takes it (1 to 4); 1 until the browser has said."""
    told = st.session_state.get(RATIO)
    try:
        return min(4.0, max(1.0, float(told)))
    except (TypeError, ValueError):  # not told yet, or nonsense from the page
        return 1.0


def _told() -> None:
    st.session_state[RATIO] = (st.session_state.get(KEY) or {}).get("ratio")


def report() -> None:
    _component()(data={"ratio": pixel_ratio()}, key=KEY, on_ratio_change=_told, height=0)


def chart(fig, *, alt: str = "", config: dict | None = None, **kwargs):
    """st.plotly_chart(fig, **kwargs), its WebGL layer drawn at the screen's own pixel ratio, named for a
    screen reader by `alt` (what it shows, its key numbers) and `describe(fig)`; with a key, a "show as
    table" switch under it lists the data."""
    fig.update_layout(meta={"alt": "; ".join(t for t in (alt, describe(fig)) if t)})
    event = st.plotly_chart(fig, config={"plotGlPixelRatio": pixel_ratio(), **(config or {})}, **kwargs)
    key = kwargs.get("key")
    if key and st.toggle("show as table", key=f"{key}.table"):  # the data, for a screen reader row by row
        st.dataframe(table(fig), hide_index=True, height=240)
    return event


def _number(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


def _array(v) -> np.ndarray:
    """A trace's x, y or z as a flat or 2-D array: numbers as numbers (no per-element objects: a map has
    ten thousand), plotly's typed-array form ({"dtype", "bdata"[, "shape"]}, ui.plots.typed) decoded."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        return a.reshape([int(n) for n in str(shape).split(",")]) if shape else a
    try:
        return np.asarray(v)
    except ValueError:  # ragged: rows of unequal length
        return np.asarray(v, dtype=object)


def _plain(fig) -> tuple[list[dict], dict]:
    """The figure's traces and layout as the plain dicts it holds (a copy): read here, they cost a
    fraction of the figure's own attribute look-ups (2 ms of server time a map's words, against 0.3)."""
    L = fig.layout  # (its parts read here: the whole layout would copy its template too)
    return [t.to_plotly_json() for t in fig.data], {
        **{k: L[k].to_plotly_json() for k in ("title", "xaxis", "yaxis", "scene")},
        "annotations": [a.to_plotly_json() for a in L.annotations]}


def _text(d: dict | None, *path: str) -> str:
    """d[path[0]][path[1]]..., or "" where any part is missing."""
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    return d if isinstance(d, str) else ""


def _traces(traces: list[dict]):
    """The traces (_plain) with data, each as (its name, its columns {x, y[, z]} as flat arrays)."""
    for i, t in enumerate(traces):
        cols = {axis: _array(t[axis]) for axis in ("x", "y", "z") if t.get(axis) is not None and not isinstance(t[axis], str)}
        if t.get("type") in ("heatmap", "contour", "surface") and "z" in cols:  # a grid: one row per cell
            z = cols["z"]
            ny, nx = z.shape[:2]
            xs = cols.get("x", np.arange(nx)).ravel()[:nx]
            ys = cols.get("y", np.arange(ny)).ravel()[:ny]
            cols = {"x": np.tile(xs, ny), "y": np.repeat(ys, nx), "z": z.ravel()}
        if cols:
            cols = {k: c.ravel() for k, c in cols.items()}
            n = min(len(c) for c in cols.values())
            yield (t.get("name") or f"series {i + 1}"), {k: c[:n] for k, c in cols.items()}


def _numeric(values: np.ndarray) -> np.ndarray:
    """The values as floats, or none where they are not numbers (category names, dates)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.zeros(0)


def describe(fig) -> str:
    """The figure in words: its title, each axis with its title and the range of its data, its series
    with their sizes (at most 12 named) and the texts marked on it."""
    traces, L = _plain(fig)
    parts = [t for t in [_text(L, "title", "text")] if t]
    series = list(_traces(traces))
    three_d = any(t.get("type") in ("surface", "scatter3d") for t in traces)  # its axes are the scene's
    for axis in ("x", "y", "z") if three_d else ("x", "y"):
        title = _text(L.get("scene") if three_d else L, f"{axis}axis", "title", "text")
        values = np.concatenate([_numeric(c[axis]) for _, c in series if axis in c] or [np.zeros(0)])
        values = values[np.isfinite(values)]
        if title or len(values):
            parts.append(f"{axis} axis {title}".rstrip() + (f" from {_number(values.min())} to {_number(values.max())}"
                                                              if len(values) else ""))
    if series:
        named = ", ".join(f"{name} ({len(next(iter(c.values())))} points)" for name, c in series[:12])
        more = f" and {len(series) - 12} more" if len(series) > 12 else ""
        parts.append(f"{len(series)} series: {named}{more}" if len(series) > 1 else named)
    notes = [a["text"] for a in L.get("annotations", ()) if a.get("text")]
    if notes:  # marks on the chart (a β changed while training, a point's name)
        parts.append("marked: " + ", ".join(notes[:8]) + (f" and {len(notes) - 8} more" if len(notes) > 8 else ""))
    return "; ".join(parts)


def table(fig) -> pd.DataFrame:
    """Every data point of the figure, one a row: its series, x, y (and z for a grid or a 3-D plot)."""
    frames = [pd.DataFrame({"series": name, **cols}) for name, cols in _traces(_plain(fig)[0])]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"series": []})
