"""The pretrained model zoo: small checkpoints shipped in the repo's checkpoints/ folder.

`checkpoints/make.py` trains them with vae_core on the built-in datasets and writes
`checkpoints/manifest.json`; this module reads that manifest and checks it, so the app can open on
a trained model with no training and no download.

    entries = load_manifest()                # every entry, in manifest order; never raises per entry
    for e in entries:
        if not e.ok:
            print(f"{e.id}: {e.problem}")    # missing file, sha256 mismatch, bad entry ...
    ckpt = load_entry(default_entry(entries))

A broken entry (missing keys, missing file, sha256 mismatch) stays in the list with `problem` set,
so the app can show why it is unavailable; only a missing or unreadable manifest raises ZooError.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import Checkpoint, CheckpointError, from_bytes

ZOO_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
MANIFEST = "manifest.json"
# key -> the JSON type(s) its value must have
REQUIRED = {"id": str, "file": str, "title": str, "description": str, "model": str, "dataset": str,
            "latent_dim": int, "sha256": str}
OPTIONAL = {"beta": (int, float), "epochs": int, "metrics": dict, "config": dict, "default": bool,
            "group": str}


class ZooError(ValueError):
    """The manifest, or one model of it, cannot be used; the message says why."""


@dataclass(frozen=True)
class ZooEntry:
    id: str                        # the file stem, e.g. "digits-vae-2d"
    title: str                     # short human name
    description: str               # one sentence on what to look at
    path: Path                     # absolute path of the .safetensors file
    model: str                     # registry name: "vae", "ae", ...
    dataset: str                   # load_dataset name: "digits", "sprites", "toy2d:moons"
    latent_dim: int
    sha256: str
    beta: float | None = None
    epochs: int | None = None
    default: bool = False
    group: str | None = None       # models meant to be compared together, e.g. "digits-beta-sweep"
    metrics: dict = field(default_factory=dict, hash=False, compare=False)  # val metrics from make.py
    config: dict = field(default_factory=dict, hash=False, compare=False)   # Config.to_dict()
    problem: str | None = None     # why the entry cannot be loaded; None when it can

    @property
    def ok(self) -> bool:
        return self.problem is None


_digests: dict[str, tuple[tuple, str]] = {}  # path -> ((mtime_ns, size, inode), sha256): a page reads the manifest often


def _sha256(path: Path) -> str:
    """The file's sha256, hashed again only when the file changed (load_entry hashes the bytes it
    loads regardless, so a file swapped between the two is still caught)."""
    st = path.stat()
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    known = _digests.get(str(path))
    if known is None or known[0] != stamp:  # one entry per file: a changed file replaces its old digest
        known = _digests[str(path)] = (stamp, hashlib.sha256(path.read_bytes()).hexdigest())
    return known[1]


def _is(value, kind) -> bool:
    """isinstance for JSON values, where a bool is not a number."""
    return isinstance(value, kind) and (isinstance(value, bool) == (kind is bool))


def _entry(raw, folder: Path, seen: set[str], index: int) -> ZooEntry:
    """One manifest entry -> ZooEntry, with `problem` set instead of raising."""
    if not isinstance(raw, dict):
        return ZooEntry(f"#{index}", f"entry {index}", "", folder, "", "", 0, "",
                        problem=f"manifest entry {index} is not a JSON object")

    def get(key: str, kind, default):
        return raw[key] if _is(raw.get(key), kind) else default

    ident = get("id", str, f"#{index}")
    name = get("file", str, "")
    entry = ZooEntry(
        id=ident, title=get("title", str, ident), description=get("description", str, ""),
        path=folder / name, model=get("model", str, ""), dataset=get("dataset", str, ""),
        latent_dim=get("latent_dim", int, 0), sha256=get("sha256", str, ""),
        beta=float(raw["beta"]) if get("beta", (int, float), None) is not None else None,
        epochs=get("epochs", int, None), default=get("default", bool, False), group=get("group", str, None),
        metrics=get("metrics", dict, {}), config=get("config", dict, {}),
    )

    def broken(reason: str) -> ZooEntry:
        return dataclasses.replace(entry, problem=reason)

    bad = [k for k, kind in REQUIRED.items() if not _is(raw.get(k), kind)]
    if bad:
        return broken(f"manifest entry {ident!r} lacks or mistypes {', '.join(bad)}")
    bad = [k for k, kind in OPTIONAL.items() if k in raw and not _is(raw[k], kind)]
    if bad:
        return broken(f"manifest entry {ident!r} mistypes {', '.join(bad)}")
    if ident in seen:
        return broken(f"model id {ident!r} appears twice in the manifest")
    seen.add(ident)
    if Path(name).name != name or not name.endswith(".safetensors"):
        return broken(f"{ident}: file must be a .safetensors file name inside the zoo folder, got {name!r}")
    if not entry.path.is_file():
        return broken(f"{ident}: checkpoint file {name} is missing from {folder}")
    try:
        digest = _sha256(entry.path)
    except OSError as e:
        return broken(f"{ident}: cannot read {name}: {e.strerror or e}")
    if digest != entry.sha256.lower():
        return broken(f"{ident}: {name} is damaged or was replaced (sha256 {digest[:12]}..., "
                      f"the manifest expects {entry.sha256[:12]}...); run `python checkpoints/make.py`")
    return entry


def load_manifest(folder: str | Path | None = None) -> list[ZooEntry]:
    """Every model listed in `folder`/manifest.json (default: the repo's checkpoints/), checked.

    Entries that cannot be used are returned with `problem` set (see ZooEntry.ok); a missing or
    malformed manifest raises ZooError.
    """
    folder = Path(folder).resolve() if folder is not None else ZOO_DIR
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ZooError(f"no model zoo manifest at {path}; run `python checkpoints/make.py`") from None
    except OSError as e:
        raise ZooError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ZooError(f"{path} is not valid JSON: {e}") from None
    models = doc.get("models") if isinstance(doc, dict) else doc
    if not isinstance(models, list):
        raise ZooError(f"{path} must hold a list of models, or an object with a 'models' list")
    seen: set[str] = set()
    return [_entry(raw, folder, seen, i) for i, raw in enumerate(models)]


def default_entry(entries: list[ZooEntry]) -> ZooEntry | None:
    """The usable entry marked default, else the first usable one, else None."""
    usable = [e for e in entries if e.ok]
    return next((e for e in usable if e.default), usable[0] if usable else None)


def load_entry(entry: ZooEntry) -> Checkpoint:
    """The entry's checkpoint, verified: the bytes read are the bytes hashed, and the config inside
    must agree with the manifest. Raises ZooError (a ValueError) with the reason otherwise."""
    if not entry.ok:
        raise ZooError(entry.problem)
    try:
        blob = entry.path.read_bytes()
    except OSError as e:
        raise ZooError(f"{entry.id}: cannot read {entry.path.name}: {e.strerror or e}") from None
    if hashlib.sha256(blob).hexdigest() != entry.sha256.lower():
        raise ZooError(f"{entry.id}: {entry.path.name} changed since the manifest was read (sha256 mismatch)")
    try:
        ckpt = from_bytes(blob)  # what checkpoint.load does, on the bytes just verified
    except CheckpointError as e:
        raise ZooError(f"{entry.id}: {e}") from None
    cfg = ckpt.config
    if (cfg.model, cfg.dataset, cfg.latent_dim) != (entry.model, entry.dataset, entry.latent_dim):
        raise ZooError(f"{entry.id}: the checkpoint holds a {cfg.model} on {cfg.dataset} with latent_dim "
                       f"{cfg.latent_dim}, the manifest says {entry.model} on {entry.dataset} with "
                       f"latent_dim {entry.latent_dim}")
    return ckpt
