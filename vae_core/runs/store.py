"""The run store: a folder per workspace; a run is its checkpoint plus small JSON metadata.

    root/                          $VAE_CORE_RUNS, else ./runs
      <workspace id>/              random, unguessable (22 url-safe characters)
        workspace.json             {"active": run id, "settings": {name: small JSON value}}
        <run id>.json              metadata: name, config, status, times, metrics, beta changes
        <run id>.safetensors       the checkpoint (absent until the first one is written)
        datasets/                  the workspace's own datasets (runs.datasets)

File names are ids the store made, never user text; a display name is free text kept in the
metadata only. Every write is atomic (vae_core.atomic), so a killed process leaves the old file or
the new one. The pretrained models of checkpoints/ appear in every workspace, read-only, with ids
"zoo.<entry id>". Workers only produce checkpoints and messages; app servers write.

Several app servers (replicas behind a load balancer) may serve one root, on one machine or a shared
file system. Every read goes to the disk (nothing of a workspace is cached in a process), and every
read-modify-write of a workspace (a run's metadata, workspace.json, a quota check) holds the
workspace's lock: a thread lock within a process and an flock on root/_locks/<workspace>.lock
across processes. A run's job belongs to one replica, named in its metadata (Run.owner); only that
replica writes what the job reports (`by=` fences its writes), and another one takes the run over
(Workspace.claim) only once that replica is gone (runs.replicas).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .. import atomic, checkpoint, zoo
from ..checkpoint import Checkpoint, CheckpointError
from ..config import Config

STATUSES = ("queued", "running", "done", "stopped", "failed", "interrupted")
LIVE = ("queued", "running")          # a job is (or should be) working on it
FINISHED = ("done", "stopped")        # may become the active model on its own
ORIGINS = ("shipped", "trained", "uploaded", "shared")   # shared: another workspace's run, opened by its share link
MAX_NAME = 80

_RUN_ID = re.compile(r"[0-9a-f]{16}")
_ZOO_ID = re.compile(r"zoo\.[A-Za-z0-9_-]{1,64}")
_WS_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_SHARE_ID = re.compile(r"share\.[A-Za-z0-9_-]{22}")   # a run's read-only share link: a capability, not its workspace
SHARES = "_shares"                                      # root/_shares/<token>.json: {"ws": id, "run": id}
LOCKS = "_locks"                                        # root/_locks/<workspace>.lock: flocked across replicas

try:
    import fcntl
except ImportError:  # Windows: one server process per run store (no replicas), thread locks only
    fcntl = None


class RunStoreError(ValueError):
    """A run or workspace that does not exist, cannot be changed, or cannot be read."""


class RunTakenOver(RunStoreError):
    """A replica wrote for a run's job after another replica had taken the run over."""


def default_root() -> Path:
    return Path(os.environ.get("VAE_CORE_RUNS") or "runs")


def limits() -> tuple[float, int]:
    """Server settings: (bytes a workspace may hold, how many workspaces the server keeps)."""
    mb = float(os.environ.get("VAE_CORE_WORKSPACE_MB") or 500)
    return mb * 2**20, int(os.environ.get("VAE_CORE_MAX_WORKSPACES") or 10_000)


def new_workspace_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits, 22 characters


def valid_workspace_id(ws: str) -> bool:
    return isinstance(ws, str) and _WS_ID.fullmatch(ws) is not None


def clean_name(name: str) -> str:
    """Free text, made safe to store and show: no control characters, trimmed, at most MAX_NAME."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(name))
    text = " ".join(text.split())[:MAX_NAME]
    return text or "untitled"


def file_name(name: str, suffix: str = ".safetensors") -> str:
    """A download file name from a display name: letters, digits, '-', '_' and '.' only."""
    stem = re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-.")[:60] or "model"
    return stem + suffix


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    config: Config
    status: str                         # one of STATUSES
    origin: str = "trained"             # one of ORIGINS
    created: float = 0.0                # unix time
    finished: float | None = None
    metrics: dict = field(default_factory=dict, compare=False)
    beta_changes: tuple[tuple[int, float], ...] = ()   # (step, beta) set while it trained
    progress: dict = field(default_factory=dict, compare=False)  # step, epoch, total_steps
    message: str = ""                   # why it failed / was interrupted (an upload: why its timeline was dropped)
    about: str = ""                     # what to look at (pretrained models)
    group: str = ""                     # a sweep's id, shared by its members ("" = a single run)
    group_name: str = ""                # the sweep's display name, e.g. "β sweep · 7 runs"
    owner: str = ""                     # the replica (runs.replicas) whose executor works on it, while live
    job: str = ""                       # its job's id (the first run's id): a sweep batch's runs share one

    @property
    def readonly(self) -> bool:
        """Pretrained, or another workspace's run opened by its share link: never renamed or deleted here."""
        return self.origin in ("shipped", "shared")

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def to_json(self) -> dict:
        d = asdict(self)
        d["config"] = self.config.to_dict()
        d["beta_changes"] = [list(c) for c in self.beta_changes]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Run":
        try:
            cfg = Config.from_dict(d["config"])
            run = cls(**{**d, "config": cfg, "beta_changes": tuple((int(s), float(b)) for s, b in d.get("beta_changes", ()))})
        except (KeyError, TypeError, ValueError) as e:
            raise RunStoreError(f"run metadata is invalid: {e}") from None
        if run.status not in STATUSES or run.origin not in ORIGINS:
            raise RunStoreError(f"run {run.id}: unknown status {run.status!r} or origin {run.origin!r}")
        return run


class FolderLock:
    """A re-entrant lock that holds across threads (an RLock) and across processes (an flock on `path`,
    taken by the outermost holder only): replicas of the app serving one run store."""

    def __init__(self, path: Path):
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0           # nesting of the holding thread
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        self._thread.acquire()
        if self._depth == 0 and fcntl is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                self._thread.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)  # closing the file releases its flock
            self._fd = None
        self._thread.release()


class RunStore:
    """All workspaces under one root folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self._locks: dict[str, FolderLock] = {}
        self._guard = threading.Lock()
        self._new_workspaces = FolderLock(self.root / LOCKS / "_new.lock")  # the cap on workspaces

    def workspace(self, ws: str) -> "Workspace":
        """The workspace `ws`. The first time this store opens it, the temporary files a killed
        writer left there are removed; not on every call (every script run and every message from a
        training worker asks for its workspace)."""
        if not valid_workspace_id(ws):
            raise RunStoreError("not a workspace id")
        with self._guard:
            first = ws not in self._locks
            lock = self._locks.setdefault(ws, FolderLock(self.root / LOCKS / f"{ws}.lock"))
        folder = self.root / ws
        if first and folder.is_dir():
            atomic.clean_stale(folder)
        return Workspace(folder, ws, lock, self)

    def workspaces(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and valid_workspace_id(p.name))

    def exists(self, ws: str) -> bool:
        """Whether anything was ever saved in workspace `ws` (a fresh one has no folder yet)."""
        return valid_workspace_id(ws) and (self.root / ws).is_dir()

    # --- read-only share links: a random token names one run, without its workspace's id ------

    def share(self, ws: str, run_id: str) -> str:
        """The share id ("share.<token>") of a run of workspace `ws`, made once and kept: whoever has it
        sees that run (its model, its curves) and nothing else of the workspace, and can change nothing."""
        owner = self.workspace(ws)
        with owner._lock:
            run = owner._writable(run_id)
            made = owner.setting("shares") or {}
            if run_id in made and (self.root / SHARES / f"{made[run_id]}.json").is_file():
                return f"share.{made[run_id]}"
            token = secrets.token_urlsafe(16)
            atomic.write_json(self.root / SHARES / f"{token}.json", {"ws": ws, "run": run.id})
            owner.set_setting("shares", {**made, run_id: token})
            return f"share.{token}"

    def shared(self, share_id: str) -> tuple["Workspace", str]:
        """(the owner's workspace, the run's id there) of a share id; RunStoreError if it names none."""
        if not _SHARE_ID.fullmatch(share_id or ""):
            raise RunStoreError("not a share link")
        try:
            target = json.loads(_read_own(self.root / SHARES / f"{share_id[6:]}.json"))
            owner = self.workspace(target["ws"])
            owner.get(target["run"])
        except (OSError, ValueError, KeyError, TypeError):
            raise RunStoreError("this shared run is no longer there: its owner may have deleted it") from None
        return owner, target["run"]


class Workspace:
    """One workspace's runs. Safe across threads and processes (one FolderLock per workspace)."""

    def __init__(self, folder: Path, ws_id: str, lock: FolderLock, store: RunStore):
        self.folder, self.id, self._lock, self._store = folder, ws_id, lock, store

    # --- reading ------------------------------------------------------------------------------

    def runs(self) -> list[Run]:
        """This workspace's runs, newest first, then the pretrained models (read-only, default first)."""
        own = read_each(self.folder, _RUN_ID, self._read)
        own.sort(key=lambda r: r.created, reverse=True)
        return [*own, *self._opened_shares(), *shipped_runs()]

    def open_shared(self, share_id: str) -> Run:
        """Add another workspace's run, by its share id, to this workspace's list (read-only)."""
        run = self.get(share_id)  # RunStoreError if it names nothing
        with self._lock:
            opened = self.setting("opened") or []
            if share_id not in opened:
                self.set_setting("opened", [*opened, share_id][-20:])
        return run

    def _opened_shares(self) -> list[Run]:
        out = []
        for share_id in self.setting("opened") or []:
            try:
                out.append(self.get(share_id))
            except RunStoreError:
                continue  # deleted by its owner: it leaves the list
        return out

    def get(self, run_id: str) -> Run:
        if _SHARE_ID.fullmatch(run_id or ""):
            owner, rid = self._store.shared(run_id)
            return replace(owner.get(rid), id=run_id, origin="shared", group="", group_name="")
        if _ZOO_ID.fullmatch(run_id or ""):
            for r in shipped_runs():
                if r.id == run_id:
                    return r
        elif _RUN_ID.fullmatch(run_id or "") and self._meta_path(run_id).exists():
            return self._read(run_id)
        raise RunStoreError(f"no run {run_id!r} in this workspace")

    def _owner(self, run_id: str) -> tuple["Workspace", str]:
        """Where a run's files are: here, or (a shared run) in its owner's workspace."""
        return self._store.shared(run_id) if _SHARE_ID.fullmatch(run_id or "") else (self, run_id)

    def has_checkpoint(self, run_id: str) -> bool:
        ws, rid = self._owner(run_id)
        return ws.get(rid).origin == "shipped" or ws._ckpt_path(rid).exists()

    def blob(self, run_id: str) -> bytes:
        """The run's checkpoint file, for download (or to load)."""
        ws, run_id = self._owner(run_id)
        if ws is not self:
            return ws.blob(run_id)
        run = self.get(run_id)
        if run.readonly:
            return _zoo_entry(run_id).path.read_bytes()
        try:
            return _read_own(self._ckpt_path(run_id))
        except FileNotFoundError:
            raise RunStoreError(f"run {run.name!r} has no checkpoint yet") from None
        except OSError as e:
            raise RunStoreError(f"the checkpoint of {run.name!r} cannot be read: {e.strerror or e}") from None

    def checkpoint(self, run_id: str, with_history: bool = True) -> Checkpoint:
        """The run's checkpoint; with_history=False leaves its training history unread (empty)."""
        ws, run_id = self._owner(run_id)
        if ws is not self:
            return ws.checkpoint(run_id, with_history)
        if self.get(run_id).readonly:
            return zoo.load_entry(_zoo_entry(run_id))
        try:
            return checkpoint.from_bytes(self.blob(run_id), with_history)
        except CheckpointError as e:
            raise RunStoreError(f"the checkpoint of this run cannot be read: {e}") from None

    def checkpoint_stamp(self, run_id: str) -> str:
        """Changes whenever the run's checkpoint file does: a cache key for models built from it."""
        ws, run_id = self._owner(run_id)
        if ws is not self:
            return ws.checkpoint_stamp(run_id)
        if self.get(run_id).readonly:
            return _zoo_entry(run_id).sha256
        st = self._ckpt_path(run_id).stat()
        return f"{run_id}:{st.st_mtime_ns}:{st.st_size}"

    def _meta(self) -> dict:
        """workspace.json: {"active": run id, and settings such as the Train form's}."""
        try:
            meta = json.loads((self.folder / "workspace.json").read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _set_meta(self, name: str, value) -> None:
        with self._lock:
            atomic.write_json(self.folder / "workspace.json", {**self._meta(), name: value})

    @property
    def active(self) -> str | None:
        active = self._meta().get("active")
        return active if isinstance(active, str) else None

    @active.setter
    def active(self, run_id: str | None) -> None:
        self._set_meta("active", run_id)

    def _settings(self) -> dict:
        settings = self._meta().get("settings")
        return settings if isinstance(settings, dict) else {}

    def setting(self, name: str):
        """A small value this workspace keeps for its pages (e.g. the Train form), or None."""
        return self._settings().get(name)

    def set_setting(self, name: str, value) -> None:
        """Keep a small JSON value (a few KB at most) with the workspace."""
        with self._lock:
            self._set_meta("settings", {**self._settings(), name: value})

    # --- writing ------------------------------------------------------------------------------

    def create(self, cfg: Config, name: str, origin: str = "trained", status: str = "queued",
               group: str = "", group_name: str = "") -> Run:
        run = Run(id=secrets.token_hex(8), name=clean_name(name), config=cfg.validate(), status=status,
                  origin=origin, created=time.time(), group=group, group_name=clean_name(group_name) if group else "")
        with self._lock:
            self._room_for(0)
            self._write(run)
        return run

    def add_upload(self, name: str, blob: bytes) -> Run:
        """Validate an uploaded checkpoint (never unpickled) and keep it as a new run; raises
        CheckpointError with the reason, having written nothing."""
        ckpt = checkpoint.from_bytes(blob)
        run = Run(id=secrets.token_hex(8), name=clean_name(name), config=ckpt.config, status="done",
                  origin="uploaded", created=time.time(), finished=time.time(), metrics=ckpt.metrics,
                  progress=dict(ckpt.progress), message=ckpt.timeline_dropped)  # a bad timeline: why it was dropped
        with self._lock:
            self._room_for(len(blob))
            atomic.write_bytes(self._ckpt_path(run.id), blob)
            self._write(run)
        return run

    def update(self, run_id: str, by: str | None = None, **changes) -> Run:
        """Change a run's metadata. `by`: the replica writing for the run's job, refused
        (RunStoreError) if another one has taken the run over since."""
        with self._lock:
            run = self._writable(run_id, by)
            if "name" in changes:
                changes["name"] = clean_name(changes["name"])
            if "beta_changes" in changes:
                changes["beta_changes"] = tuple((int(s), float(b)) for s, b in changes["beta_changes"])
            if changes.get("status", run.status) not in STATUSES:
                raise RunStoreError(f"unknown status {changes['status']!r}")
            run = replace(run, **changes)
            self._write(run)
            return run

    def rename(self, run_id: str, name: str) -> Run:
        return self.update(run_id, name=name)

    def save_checkpoint(self, run_id: str, blob: bytes, by: str | None = None) -> None:
        with self._lock:
            self._writable(run_id, by)
            atomic.write_bytes(self._ckpt_path(run_id), blob)

    def delete(self, run_id: str) -> None:
        with self._lock:
            run = self._writable(run_id)
            if run.live:
                raise RunStoreError(f"{run.name!r} is still training: stop it first")
            self._ckpt_path(run_id).unlink(missing_ok=True)
            self._meta_path(run_id).unlink(missing_ok=True)
            if self.active == run_id:
                self.active = None

    def reconcile(self, alive: set[str]) -> list[str]:
        """Runs the store believes are queued or running but no job is working on (the server or the
        worker died): mark them interrupted. Returns their ids. (One server; with replicas,
        Executor.reconcile asks each run's owner first.)"""
        changed = []
        for run in self.runs():
            if run.live and run.id not in alive:
                self.interrupt(run.id)
                changed.append(run.id)
        return changed

    def interrupt(self, run_id: str) -> Run:
        """Mark a live run that no job works on any more interrupted, saying whether it can resume, and
        from where: its progress is its checkpoint's (a server killed between writing a checkpoint and
        the run's record leaves the record one checkpoint behind)."""
        changes = {}
        if resumable := self._ckpt_path(run_id).exists():
            try:
                changes["progress"] = dict(self.checkpoint(run_id, with_history=False).progress)
            except RunStoreError:  # unreadable: the resume will say so; the record keeps what it had
                pass
        return self.update(run_id, status="interrupted", finished=time.time(), **changes,
                           message="training stopped when the server or its worker process did"
                                   + ("; resume it from its last checkpoint" if resumable else
                                      " before its first checkpoint; start it again"))

    def claim(self, run_id: str, owner: str, orphaned) -> list[Run]:
        """Take a live run over for replica `owner` once its job's owner is gone (`orphaned(run)`),
        with the other live runs of its job (a sweep batch's): each now names `owner`. [] where the
        run is not live or its owner is not gone. Under the workspace's lock, so of two replicas
        claiming at once one gets the runs and the other sees them owned."""
        with self._lock:
            try:
                run = self.get(run_id)
            except RunStoreError:
                return []
            if run.readonly or not run.live or not orphaned(run):
                return []
            members = [r for r in self.runs() if r.live and not r.readonly and r.job == run.job] if run.job else [run]
            return [self.update(r.id, owner=owner) for r in members]

    def written(self, run_id: str) -> float:
        """When the run's metadata was last written (unix time; 0 if it is gone)."""
        try:
            return self._meta_path(run_id).stat().st_mtime
        except OSError:
            return 0.0

    def used_bytes(self) -> int:
        """Bytes on disk: runs, checkpoints and the workspace's own datasets."""
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file()) + self._datasets.used_bytes()

    # --- the workspace's own datasets (runs.datasets) -----------------------------------------------

    @property
    def _datasets(self):
        from .datasets import WorkspaceDatasets  # runs.datasets builds on this module
        return WorkspaceDatasets(self)

    def add_dataset(self, name: str, data, options=None):
        """Convert and keep a dataset: `data` is uploaded files [(name, bytes)] converted with
        `options` (vae_core.data.own.Options), or an own.Converted already made (an upload page's
        preview). -> DatasetInfo; its `.dataset` ("ws:<id>") is what a Config names. Refused data
        (own.DataRefused) or a full workspace (RunStoreError): nothing is written."""
        return self._datasets.add(name, data, options)

    def datasets(self) -> list:
        """This workspace's datasets (DatasetInfo), newest first."""
        return self._datasets.list()

    def dataset(self, dataset_id: str):
        return self._datasets.get(dataset_id)

    def dataset_preview(self, dataset_id: str, n: int = 64):
        """own.Preview: n examples (every class in turn), counts per label, shape, range."""
        return self._datasets.preview(dataset_id, n)

    def dataset_blob(self, dataset_id: str) -> bytes:
        """The stored file (safetensors), to send to a worker or download."""
        return self._datasets.blob(dataset_id)

    def delete_dataset(self, dataset_id: str) -> None:
        """Refused while a run on it trains; finished runs on it stay, unable to show their data."""
        self._datasets.delete(dataset_id)

    def _room_for(self, nbytes: int) -> None:
        """Refuse a new run past the workspace's quota, or a new workspace past the server's cap (a new
        workspace's folder is made here, under the store's lock: replicas count the same folders)."""
        quota, max_workspaces = limits()
        used = self.used_bytes()  # first: a refusal makes no workspace folder
        if used + nbytes > quota:
            raise RunStoreError(f"this workspace holds {used / 2**20:.1f} MB of runs and datasets and its limit "
                                f"is {quota / 2**20:.0f} MB: delete some runs or datasets first")
        if not self.folder.is_dir():
            with self._store._new_workspaces:
                if not self.folder.is_dir() and len(self._store.workspaces()) >= max_workspaces:
                    raise RunStoreError(f"this server already keeps its limit of {max_workspaces} workspaces: ask "
                                        "its administrator, or work in an existing workspace")
                self.folder.mkdir(parents=True, exist_ok=True)

    # --- files ----------------------------------------------------------------------------------

    def _meta_path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def _ckpt_path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.safetensors"

    def _read(self, run_id: str) -> Run:
        try:
            d = json.loads(_read_own(self._meta_path(run_id)))
        except (OSError, ValueError) as e:
            raise RunStoreError(f"cannot read run {run_id}: {e}") from None
        if not isinstance(d, dict) or d.get("id") != run_id:
            raise RunStoreError(f"run {run_id}: metadata does not belong to it")
        return Run.from_json(d)

    def _write(self, run: Run) -> None:
        atomic.write_json(self._meta_path(run.id), run.to_json())

    def _writable(self, run_id: str, by: str | None = None) -> Run:
        run = self.get(run_id)
        if run.readonly:
            raise RunStoreError(f"{run.name!r} is a pretrained model: it cannot be changed or deleted")
        if by is not None and run.owner not in ("", by):
            raise RunTakenOver(f"{run.name!r} was taken over by another server of this site")
        return run


def read_each(folder: Path, ids: re.Pattern, read) -> list:
    """`read(id)` of every `<id>.json` in `folder` whose id matches `ids`; a damaged one (RunStoreError)
    is left out, not the list."""
    out = []
    if folder.is_dir():
        for p in folder.glob("*.json"):
            if ids.fullmatch(p.stem):
                try:
                    out.append(read(p.stem))
                except RunStoreError:
                    continue
    return out


def _read_own(path: Path) -> bytes:
    """A file's bytes, refusing a symbolic link: nothing the store reads may lead out of its folder."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


# --- the pretrained models, read-only in every workspace --------------------------------------


def _zoo_entry(run_id: str) -> zoo.ZooEntry:
    entry = _shipped()["entries"].get(run_id)
    if entry is None:
        raise RunStoreError(f"no pretrained model {run_id!r}")
    return entry


_shipped_cache: dict = {}


def _shipped() -> dict:
    """The usable entries of checkpoints/manifest.json ({"entries": run id -> ZooEntry, "runs": the
    read-only runs, the default first}), read again only when the manifest changes: every script run
    asks for them (the run list, the active model's cache key). A checkpoint file is still hashed
    when it is loaded (zoo.load_entry), so one replaced behind the manifest's back is caught there."""
    try:
        stamp = (zoo.ZOO_DIR / zoo.MANIFEST).stat().st_mtime_ns
    except OSError:
        return {"entries": {}, "runs": []}
    if _shipped_cache.get("stamp") != stamp:
        try:
            entries = [e for e in zoo.load_manifest() if e.ok]
        except zoo.ZooError:
            entries = []
        default = zoo.default_entry(entries)
        runs = []
        for e in sorted(entries, key=lambda e: e is not default):
            try:
                cfg = Config.from_dict(e.config) if e.config else None
            except ValueError:
                cfg = None
            if cfg is None:
                continue
            runs.append(Run(id=f"zoo.{e.id}", name=e.title, config=cfg, status="done", origin="shipped",
                            metrics=e.metrics, progress={"epoch": e.epochs or cfg.epochs}, about=e.description,
                            group=e.group))  # titles name their group ("... (sweep)"): no group_name
        _shipped_cache.update(stamp=stamp, runs=runs, entries={f"zoo.{e.id}": e for e in entries})
    return _shipped_cache


def shipped_runs() -> list[Run]:
    """Each usable entry of checkpoints/manifest.json as a read-only run (the default first)."""
    return list(_shipped()["runs"])
