"""The server's time for every script run, in its log: a load test reads it to tell the server's
share of the latency people see from the browsers' share.

    2026-11-23 11:20:01 script run · page latent · 84.2 ms · cpu 61.0 ms

The first figure is wall time; the second the CPU time of the script's own thread, so that time spent
waiting (for the GIL or for a core other processes hold) shows as the difference.
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
    t, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        log.info("script run · page %s · %.1f ms · cpu %.1f ms", page or "home", (time.perf_counter() - t) * 1e3,
                 (time.thread_time() - cpu) * 1e3)
