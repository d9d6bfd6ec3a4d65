"""The server's long-lived objects kept out of the cyclic garbage collector's way.

A full (generation 2) collection walks every container object in the process, and with torch,
plotly, pandas and Streamlit loaded that is over a million: each one held the GIL for 200 to 600 ms,
about every 30 s under a class's load, and every session's script run waited for it (the whole p95
tail of bench_classroom --protocol). What is loaded once (modules, the shared models and caches) is
frozen out of those walks (gc.freeze) after the script run that loaded it; what sessions allocate
later is collected as before, and freed by reference counting as always.
"""
from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_frozen = 0  # len(sys.modules) at the last freeze


def settle() -> bool:
    """After a script run: if it imported modules since the last freeze (a server's first run, a page
    that needs a library the others don't), collect once and freeze what is alive. -> whether it did."""
    global _modules_frozen
    if len(sys.modules) == _modules_frozen:
        return False
    with _lock:
        if len(sys.modules) == _modules_frozen:
            return False
        gc.collect()  # garbage first: what is frozen is never examined again
        gc.freeze()
        _modules_frozen = len(sys.modules)
        return True
