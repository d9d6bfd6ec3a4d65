"""The screen a session draws on, and the one way the pages put a chart on it.

Plotly draws WebGL traces (every latent map's Scattergl points) into a canvas of `plotGlPixelRatio`
device pixels per CSS pixel, 2 unless told otherwise, whatever the screen. On a screen of ratio 1 (a
projector, most classroom PCs) that is four times the pixels for no visible gain, and a browser
without a GPU (SwiftShader) pays for them: on this machine a page switch drew its 10,000-point map
180 ms later (p50 551 against 370 ms, bench/bench_latency.py). On a Retina screen, a ratio of 1
blurs the points. So the charts here draw at the screen's own ratio, which only the browser knows:
a small component (nothing drawn) reports window.devicePixelRatio when it differs from what the
server used, which reruns the page once, on the first page of a session on a high-density screen.

    chart(fig, key=..., ...)   st.plotly_chart at the screen's pixel ratio
    report()                   once per script run (app.py): the browser tells its ratio
"""
from __future__ import annotations

import functools

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


def chart(fig, *, config: dict | None = None, **kwargs):
    """st.plotly_chart(fig, **kwargs), its WebGL layer drawn at the screen's own pixel ratio."""
    return st.plotly_chart(fig, config={"plotGlPixelRatio": pixel_ratio(), **(config or {})}, **kwargs)
