"""Download the file-based datasets (mnist, fashion_mnist, cifar10) and check every byte.

    download("mnist", split="test", dest="data")  # -> the paths now in place

With torchvision importable (and no mirror asked for), torchvision fetches the files. Otherwise the
standard library does, from the mirrors in the registry, in order, with `mirror` or
$VAE_CORE_MIRROR first. A file is accepted only when the md5 of its *decompressed* bytes matches
the published value (a mirror may recompress it). It is written under a temporary name in the
target folder and renamed only once verified, so the readers never see a half-written or corrupt
file. Each URL gets one retry, except from a mirror that stalled: fewer than STALL_BYTES in `timeout`
seconds (silence, or a trickle of bytes that a per-read timeout never catches) gives that mirror up
for the rest of the download, so a stalling mirror costs `timeout` seconds once, not per file and
attempt. Errors are DownloadError (a DatasetError) naming the file, the URL and the cause.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

from .dataset import DatasetError
from .readers import content_md5
from .registry import DOWNLOADABLE, SPLITS, DatasetSpec, Remote, default_data_dir, spec_of

TIMEOUT = 30.0   # seconds in which at least STALL_BYTES must arrive
STALL_BYTES = 1 << 16  # 64 KiB: under ~2 KB/s for 30 s is a stalled mirror
ATTEMPTS = 2     # per URL: the first try and one retry
CHUNK = 1 << 16

# (file name, bytes so far, total bytes or None when the server does not say)
Progress = Callable[[str, int, "int | None"], None]


class DownloadError(DatasetError):
    """A file could not be put in place; the message names it, the URL(s) and the cause."""


class Stalled(TimeoutError):
    """Fewer than STALL_BYTES arrived in `timeout` seconds."""


def mirrors(spec: DatasetSpec, mirror: str | None = None) -> list[str]:
    """Base URLs to try, in order: `mirror`, then $VAE_CORE_MIRROR, then the registry's (torchvision's)."""
    first = [m for m in (mirror, os.environ.get("VAE_CORE_MIRROR")) if m]
    urls = [m if m.endswith("/") else m + "/" for m in first + list(spec.mirrors)]
    return list(dict.fromkeys(urls))  # without repeats, order kept


def wanted(spec: DatasetSpec, split: str = "all") -> list[Remote]:
    """The registry's files for a split: "train", "test" or "all"."""
    if split not in (*SPLITS, "all"):
        raise DatasetError(f"unknown split {split!r}; choose train, test or all")
    return [f for f in spec.files if split in ("all", f.split)]


def in_place(folder: Path, remote: Remote) -> Path | None:
    """The file already in `folder` (as named, or unzipped) whose content has the right md5, else None."""
    for path in (folder / remote.name, folder / remote.name.removesuffix(".gz")):
        if path.is_file() and content_md5(path) == remote.md5:
            return path
    return None


def fetch(url: str, target: Path, timeout: float = TIMEOUT, progress: Progress | None = None,
          label: str = "") -> None:
    """Stream `url` into `target`, reporting (label, bytes, total) to `progress`. Raises Stalled when
    fewer than STALL_BYTES arrive in `timeout` seconds, OSError (URLError, HTTPError, connect timeout),
    http.client.HTTPException, or ValueError (a transfer that ends before the Content-Length the
    server announced)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        sock = getattr(getattr(response.fp, "raw", None), "_sock", None)  # the socket under the buffered file
        done, window = 0, 0  # bytes: in all, and since the no-progress clock last restarted
        deadline = time.monotonic() + timeout
        while True:
            if sock is not None:  # a blocked read ends at the deadline, not `timeout` after the last byte
                sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            try:
                block = response.read1(CHUNK)  # what has arrived, at most CHUNK: one read of the socket
            except TimeoutError:
                raise Stalled(f"under {STALL_BYTES // 1024} KiB in {timeout:g} s, after {done:,} bytes "
                              "(stalled)") from None
            if not block:
                break
            out.write(block)
            done += len(block)
            window += len(block)
            if window >= STALL_BYTES:
                window, deadline = 0, time.monotonic() + timeout
            if progress:
                progress(label or target.name, done, total)
    if total is not None and done < total:
        raise ValueError(f"the connection closed after {done:,} of {total:,} bytes")


def _why(e: BaseException, timeout: float) -> str:
    """The cause of a failed attempt, in a few words."""
    reason = e.reason if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError) else e
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, Stalled):
        return str(e)
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return f"no data for {timeout:g} s (timed out)"
    if isinstance(e, urllib.error.URLError):
        return f"cannot connect ({reason})"
    if isinstance(e, http.client.IncompleteRead):
        return f"the connection closed after {len(e.partial):,} bytes, before the end of the file"
    if isinstance(e, ValueError):
        return str(e)
    return f"{type(e).__name__}: {e}"  # e.g. EOFError: a gzip stream that ends too early


def _attempts(name: str, urls: list[str], folder: Path, check: Callable[[Path], None], timeout: float,
              progress: Progress | None, stalled: dict[str, str]) -> Path:
    """Try each mirror in `urls` (base URLs; one retry each) for the file `name` until a download
    passes `check`; -> the verified temporary file. A mirror that stalls goes into `stalled` (base
    URL -> why), shared by the files of one download, and is not asked again."""
    failures = []
    for base in urls:
        url = base + name
        if base in stalled:
            failures.append(f"{url}: not asked (it stalled: {stalled[base]})")
            continue
        for attempt in range(ATTEMPTS):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
            os.close(fd)
            tmp = Path(tmp)
            try:
                fetch(url, tmp, timeout, progress, name)
                check(tmp)
                tmp.chmod(0o644)  # mkstemp makes it private; the data are not
                return tmp
            except (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException, tarfile.TarError) as e:
                tmp.unlink(missing_ok=True)
                failures.append(f"{url}: {_why(e, timeout)}")
                if attempt and failures[-1] == failures[-2]:
                    failures[-2:] = [f"{failures[-1]} (twice)"]
                if isinstance(e, Stalled):
                    stalled[base] = str(e)
                    break  # the server's fault, not the file's: a retry would wait as long again
                if isinstance(e, urllib.error.HTTPError) and 400 <= e.code < 500:
                    break  # not there: asking again will not help
    raise DownloadError(f"could not download {name}: " + "; ".join(failures))


def _md5_check(remote: Remote) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        got = content_md5(path)
        if got != remote.md5:
            raise ValueError(f"md5 mismatch: the decompressed content has md5 {got}, expected {remote.md5}")
    return check


def _fetch_file(remote: Remote, urls: list[str], folder: Path, timeout: float, progress, stalled) -> Path:
    """One IDX .gz file: download, verify, rename into place."""
    tmp = _attempts(remote.name, urls, folder, _md5_check(remote), timeout, progress, stalled)
    return tmp.replace(folder / remote.name)


def _fetch_archive(archive: str, members: list[Remote], urls: list[str], folder: Path, timeout: float,
                   progress, stalled) -> list[Path]:
    """Files shipped inside one .tar.gz (CIFAR-10): download it once, verify each member, move them in."""
    staging = Path(tempfile.mkdtemp(prefix=".unpack.", dir=folder))

    def extract_and_check(path: Path) -> None:
        with tarfile.open(path, "r:gz") as tar:
            by_name = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for remote in members:
                if remote.name not in by_name:
                    raise ValueError(f"{remote.name} is not in the archive")
                with tar.extractfile(by_name[remote.name]) as src, open(staging / remote.name, "wb") as dst:
                    shutil.copyfileobj(src, dst)  # copied by name: no path from the archive is trusted
                _md5_check(remote)(staging / remote.name)

    try:
        tmp = _attempts(archive, urls, folder, extract_and_check, timeout, progress, stalled)
        tmp.unlink()
        return [(staging / r.name).replace(folder / r.name) for r in members]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _with_torchvision(spec: DatasetSpec, split: str, dest: Path) -> bool:
    """Let torchvision fetch the files (into its own layout, which the readers search); False if it
    does not import."""
    try:
        import torchvision.datasets  # optional: never needed, and broken on some CPU-only installs
    except Exception:
        return False
    for train in {"train": [True], "test": [False], "all": [True, False]}[split]:
        try:
            getattr(torchvision.datasets, spec.torchvision)(root=str(dest), train=train, download=True)
        except Exception as e:  # typically no network
            raise DownloadError(f"torchvision could not download {spec.torchvision} into {dest}: {e}") from e
    return True


def _torchvision_folder(spec: DatasetSpec, dest: Path) -> Path:
    return dest / spec.folder if spec.folder.startswith("cifar") else dest / spec.torchvision / "raw"


def download(name: str, split: str = "all", dest: str | Path | None = None, mirror: str | None = None,
             timeout: float = TIMEOUT, progress: Progress | None = None) -> list[Path]:
    """Put the files of dataset `name` (split "train", "test" or "all") under `dest`, verified.

    Files already in place with the right md5 are kept. Returns their paths; raises DownloadError
    (naming each file, URL and cause) unless every requested file is in place.
    """
    spec = spec_of(name)
    if not spec.files:
        raise DatasetError(f"{name} is built in or generated: there is nothing to download "
                           f"(downloadable: {', '.join(DOWNLOADABLE)})")
    files = wanted(spec, split)
    dest = Path(dest) if dest is not None else default_data_dir()
    folder = dest / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    urls = mirrors(spec, mirror)

    missing = [f for f in files if in_place(folder, f) is None]
    if missing and not (mirror or os.environ.get("VAE_CORE_MIRROR")) and _with_torchvision(spec, split, dest):
        folder = _torchvision_folder(spec, dest)
        missing = [f for f in files if in_place(folder, f) is None]

    errors, stalled = [], {}
    archives = {f.archive for f in missing if f.archive}
    for f in missing:
        if f.archive:
            continue
        try:
            _fetch_file(f, urls, folder, timeout, progress, stalled)
        except DownloadError as e:
            errors.append(str(e))
    for archive in sorted(archives):
        try:
            _fetch_archive(archive, [f for f in missing if f.archive == archive], urls, folder, timeout, progress,
                           stalled)
        except DownloadError as e:
            errors.append(str(e))
    if errors:
        raise DownloadError("\n".join(errors))  # one line per file that failed
    return [in_place(folder, f) for f in files]
