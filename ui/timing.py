"""The server's time for every script run, in its log: a load test reads it to tell the server's
share of the latency people see from the browsers' share.

    2026-11-23 11:20:01 script run · page latent · 84.2 ms
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager

log = logging.getLogger("latent_explorer.script_runs")
if not log.handlers:  # Streamlit leaves INFO of other loggers unshown: this one writes to stderr itself
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


@contextmanager
def timed(page: str):
    """Log how long the enclosed script run took, also when it ends early (st.stop, st.rerun)."""
    t = time.perf_counter()
    try:
        yield
    finally:
        log.info("script run · page %s · %.1f ms", page or "home", (time.perf_counter() - t) * 1e3)
