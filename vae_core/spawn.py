"""Starting a child process from anywhere: a Streamlit page, a job worker, a script.

Two things stand in the way, each undone for the moment of `Process.start()` only (the first
matters to spawned children only, the second to forked ones too):
- a spawned child re-runs the parent's `__main__` file before it does anything else. Under
  Streamlit, `__main__` is the page script being run (Streamlit installs it there), so a worker
  would run the app; a script without a main guard would run itself again. While a child starts,
  `__main__` is an empty module;
- multiprocessing forbids a daemonic process (the app's job workers are) children, lest they outlive
  it. Ours exit when the pipe to their parent closes, so they cannot.
"""
from __future__ import annotations

import multiprocessing as mp
import sys
import threading
import types
from contextlib import contextmanager

_START = threading.Lock()


@contextmanager
def starting():
    """Around `Process.start()` (see the module's doc)."""
    me = mp.current_process()
    with _START:
        saved, daemon = sys.modules.get("__main__"), me._config.get("daemon")
        sys.modules["__main__"] = types.ModuleType("__main__")
        me._config["daemon"] = False
        try:
            yield
        finally:
            sys.modules["__main__"] = saved
            if daemon is None:
                me._config.pop("daemon", None)
            else:
                me._config["daemon"] = daemon
