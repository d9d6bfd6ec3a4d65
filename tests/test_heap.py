"""ui.heap: what a script run loaded is frozen out of the cyclic collector's full walks (a full
collection walked every module's objects and held every session for 200-600 ms), once per new
import, and garbage made afterwards is still collected."""
from __future__ import annotations

import gc
import sys
import types

from ui import heap


def test_settle_freezes_once_per_new_import_and_later_garbage_is_still_collected(monkeypatch):
    collections = []
    real_collect = gc.collect
    monkeypatch.setattr(heap.gc, "collect", lambda *a: collections.append(a) or real_collect(*a))
    monkeypatch.setattr(heap, "_modules_frozen", 0)
    try:
        assert heap.settle() and gc.get_freeze_count() > 0
        assert not heap.settle() and len(collections) == 1  # nothing new imported: no second walk
        monkeypatch.setitem(sys.modules, "a_page_library", types.ModuleType("a_page_library"))
        assert heap.settle() and len(collections) == 2  # a page imported something: frozen too

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after the freeze, then dropped: the collector finds it
        del a, b
        assert real_collect() >= 2
    finally:
        gc.unfreeze()
