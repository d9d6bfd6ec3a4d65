"""The server's time for every script run, in its log: a load test reads it to tell the server's
share of the latency people see from the browsers' share.

    2026-11-23 11:20:01 script run · page latent · page · 84.2 ms · cpu 61.0 ms
    2026-11-23 11:20:02 script run · page train · fragment live · 9.1 ms · cpu 8.7 ms

After the page comes what set the run off: `open` (a session's first run), `page` (a switch to this
page), `rerun` (a widget of the page, or st.rerun), or `fragment NAME` (a rerun of that fragment
alone: a click on the Latent space map, the Train page's 1 s timer). The first figure is wall
time; the second the CPU time of the script's own thread, so that time spent waiting (for the GIL
or for a core other processes hold) shows as the difference.
"""
from __future__ import annotations

import functools
import logging
import time
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

PAGE = "timing.page"  # the page this session's last full run drew
LINE = r"script run · page (\w+) · (open|page|rerun|fragment \w+) · ([\d.]+) ms · cpu ([\d.]+) ms"

log = logging.getLogger("latent_explorer.script_runs")
if not log.handlers:  # Streamlit leaves INFO of other loggers unshown: this one writes to stderr itself
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


@contextmanager
def _logged(page: str, trigger: str):
    t, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        log.info("script run · page %s · %s · %.1f ms · cpu %.1f ms", page or "home", trigger,
                 (time.perf_counter() - t) * 1e3, (time.thread_time() - cpu) * 1e3)


@contextmanager
def timed(page: str):
    """Log how long the enclosed (full) script run took, also when it ends early (st.stop, st.rerun)."""
    last = st.session_state.get(PAGE)
    st.session_state[PAGE] = page
    with _logged(page, "open" if last is None else "page" if last != page else "rerun"):
        yield


def fragment(func=None, *, run_every: float | None = None):
    """st.fragment (as a decorator, bare or with run_every), whose own reruns are logged too."""
    def decorate(f):
        @functools.wraps(f)  # the same name and module: Streamlit's id for the fragment stays what it was
        def run(*args, **kwargs):
            ctx = get_script_run_ctx()
            if ctx is None or not ctx.fragment_ids_this_run:  # drawn by a full run, which is timed already
                return f(*args, **kwargs)
            with _logged(st.session_state.get(PAGE, ""), f"fragment {f.__name__}"):
                return f(*args, **kwargs)
        return st.fragment(run, run_every=run_every)
    return decorate if func is None else decorate(func)
