"""Several app servers (replicas) on one run store: which one owns a run's job, and whether it lives.

    root/_replicas/<replica id>     one empty file per replica, touched every lease_s / 5 (a heartbeat)

Each executor is a replica with an id of its own (host, process, a random part). A run's metadata
names the replica working on it (Run.owner), and only that replica writes what its job reports.
Another replica may take a live run over (Executor.adopt: re-attach to its Ray actor, or mark it
interrupted) only when the run is orphaned: its owner's heartbeat is older than the lease
($VAE_CORE_LEASE_S, default 15 s) or missing, and its metadata was not written within the lease
either (a run just created, its owner not yet written, is not orphaned). The replicas' clocks must
agree to well within the lease (NTP), as the heartbeats are file times on the shared store.
"""
from __future__ import annotations

import atexit
import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path

REPLICAS = "_replicas"
STALE_FILE_S = 86_400.0  # heartbeat files of replicas gone this long are removed


def lease_s() -> float:
    return float(os.environ.get("VAE_CORE_LEASE_S") or 15.0)


class Replica:
    """This process's identity on the run store at `root`, and its heartbeat (a daemon thread)."""

    def __init__(self, root: Path, lease: float | None = None):
        host = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname())[:40] or "host"
        self.id = f"{host}-{os.getpid()}-{secrets.token_hex(3)}"
        self.folder = Path(root) / REPLICAS
        self.lease_s = lease if lease is not None else lease_s()
        self._stopped = threading.Event()
        self._beat()
        threading.Thread(target=self._heartbeat, daemon=True, name=f"heartbeat-{self.id}").start()
        atexit.register(self.stop)

    def _path(self, replica_id: str) -> Path:
        return self.folder / replica_id

    def _beat(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._path(self.id).touch()
        except OSError:  # a full or unreachable disk: the next beat tries again
            pass

    def _heartbeat(self) -> None:
        pruned = 0.0
        while not self._stopped.wait(self.lease_s / 5):
            self._beat()
            if time.time() - pruned > 3600:
                pruned = time.time()
                self._prune()

    def _prune(self) -> None:
        for p in self.folder.glob("*"):
            try:
                if time.time() - p.stat().st_mtime > STALE_FILE_S:
                    p.unlink()
            except OSError:
                pass

    def alive(self, replica_id: str) -> bool:
        """Whether replica `replica_id` beat within the lease (this one: while not stopped)."""
        if replica_id == self.id:
            return not self._stopped.is_set()
        if not replica_id or "/" in replica_id or replica_id.startswith("."):
            return False
        try:
            return time.time() - self._path(replica_id).stat().st_mtime < self.lease_s
        except OSError:
            return False

    def orphaned(self, owner: str, written: float) -> bool:
        """Whether a live run owned by `owner`, its metadata written at `written` (unix time), is
        nobody's: its owner is gone and the lease has passed since the run last changed."""
        return not self.alive(owner) and time.time() - written >= self.lease_s

    def stop(self) -> None:
        """No more heartbeats; the file goes, so other replicas see this one gone at once."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._path(self.id).unlink(missing_ok=True)
