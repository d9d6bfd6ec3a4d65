"""Downloads (vae_core.data.download and `python -m vae_core.data download`), against a local HTTP
server on 127.0.0.1 that serves the real MNIST t10k files (the package's mnist10k) and broken copies:
recompressed, corrupted, truncated, missing, stalling, trickling, and cut off mid-transfer."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from vae_core.data import SPECS, DatasetError, load_dataset
from vae_core.data.__main__ import main as data_cli
from vae_core.data.download import DownloadError, download, mirrors
from vae_core.data.embedded import MNIST10K_DIR
from vae_core.data.readers import read_idx

MNIST_DIR = MNIST10K_DIR  # the real t10k files, shipped in the package
T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _recompressed(blob: bytes) -> bytes:
    return gzip.compress(gzip.decompress(blob), compresslevel=1, mtime=0)


def _corrupted(blob: bytes) -> bytes:
    """Still a valid gzip file, but one pixel (or label) changed: only the md5 can tell."""
    raw = bytearray(gzip.decompress(blob))
    raw[-1] ^= 0x01
    return gzip.compress(bytes(raw), compresslevel=1, mtime=0)


class Mirror(ThreadingHTTPServer):
    """/<mode>/<file name>: good, recompressed, corrupt, truncated (a short file), cut (announces the
    whole file, sends half, hangs up), stall (headers, then nothing until released), trickle (a byte
    every 20 ms until released, which a per-read timeout never catches); anything else is a 404."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = {name: (MNIST_DIR / name).read_bytes() for name in T10K}
        self.hits: dict[str, int] = {}
        self.bodies: dict[str, bytes] = {}  # path -> what is sent (made once: recompressing is slow)
        self.release = threading.Event()  # set at teardown so stalled handlers end

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        server: Mirror = self.server
        server.hits[self.path] = server.hits.get(self.path, 0) + 1
        _, mode, name = (self.path.split("/", 2) + ["", ""])[:3]
        blob = server.files.get(name)
        body = {"good": lambda b: b, "recompressed": _recompressed, "corrupt": _corrupted,
                "truncated": lambda b: b[: len(b) // 2], "cut": lambda b: b, "stall": lambda b: b,
                "trickle": lambda b: b}.get(mode)
        if blob is None or body is None:
            self.send_error(404, "File not found")
            return
        data = server.bodies.setdefault(self.path, body(blob))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "stall":
            server.release.wait(10)  # (10 s: only a bound on a hang)
            return
        if mode == "trickle":
            for i in range(500):  # (at most 10 s: a bound on a hang; then it hangs up)
                self.wfile.write(data[i:i + 1])
                if server.release.wait(0.02):
                    return
            self.close_connection = True
            return
        self.wfile.write(data[: len(data) // 2] if mode == "cut" else data)
        if mode == "cut":
            self.close_connection = True


@pytest.fixture
def mirror(monkeypatch):
    """The local mirror, with the registry's real mirrors removed (CI may have a network)."""
    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], mirrors=()))
    monkeypatch.delenv("VAE_CORE_MIRROR", raising=False)
    server = Mirror()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_puts_verified_files_where_the_reader_looks(mirror, tmp_path):
    paths = download("mnist", split="test", dest=tmp_path, mirror=f"{mirror.url}/good/")
    assert [p.name for p in paths] == list(T10K)
    assert leftovers(tmp_path / "mnist") == sorted(T10K)  # no temporary files left
    for name in T10K:  # byte for byte what the server holds
        assert (tmp_path / "mnist" / name).read_bytes() == (MNIST_DIR / name).read_bytes()
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.x.shape == (10000, 1, 28, 28)
    assert np.array_equal(ds.y.numpy(), read_idx(MNIST_DIR / T10K[1]))

    hits = dict(mirror.hits)
    download("mnist", split="test", dest=tmp_path, mirror=f"{mirror.url}/good/")  # already there
    assert mirror.hits == hits


def test_a_recompressed_file_is_accepted_by_the_md5_of_its_content(mirror, tmp_path):
    download("mnist", split="test", dest=tmp_path, mirror=f"{mirror.url}/recompressed/")
    got = (tmp_path / "mnist" / T10K[0]).read_bytes()
    assert hashlib.md5(got).hexdigest() != hashlib.md5((MNIST_DIR / T10K[0]).read_bytes()).hexdigest()
    assert hashlib.md5(gzip.decompress(got)).hexdigest() == "2646ac647ad5339dbf082846283269ea"


@pytest.mark.parametrize("mode, cause", [
    ("corrupt", "md5 mismatch"),
    ("missing", "HTTP 404"),
    ("truncated", "EOFError"),
    ("cut", "closed"),
])
def test_a_bad_file_is_never_left_in_place(mirror, tmp_path, mode, cause):
    url = f"{mirror.url}/{mode}/"
    with pytest.raises(DownloadError) as err:
        download("mnist", split="test", dest=tmp_path, mirror=url)
    message = str(err.value)
    for name in T10K:  # each file, its URL and the cause
        assert f"could not download {name}: {url}{name}: " in message
    assert cause in message
    assert leftovers(tmp_path / "mnist") == []
    # one retry, except for a 404, which a retry would not change
    assert mirror.hits[f"/{mode}/{T10K[0]}"] == (1 if mode == "missing" else 2)


@pytest.mark.parametrize("mode, sent", [("stall", "0"), ("trickle", "[1-9][0-9,]*")])
def test_a_stalling_mirror_is_given_up_once_with_a_message(mirror, tmp_path, mode, sent):
    """Silence, or a trickle (bytes keep coming, 64 KiB never do): the first file's first attempt gives
    the mirror up after `timeout` seconds; no retry, and the second file does not ask it again."""
    url = f"{mirror.url}/{mode}/"
    with pytest.raises(DownloadError) as err:
        download("mnist", split="test", dest=tmp_path, mirror=url, timeout=0.3)
    first, second = str(err.value).splitlines()
    assert re.fullmatch(rf"could not download {T10K[0]}: {url}{T10K[0]}: under 64 KiB in 0.3 s, after {sent} "
                        r"bytes \(stalled\)", first), first
    assert second.startswith(f"could not download {T10K[1]}: {url}{T10K[1]}: not asked (it stalled: under 64 KiB")
    assert mirror.hits == {f"/{mode}/{T10K[0]}": 1}
    assert leftovers(tmp_path / "mnist") == []  # nothing half-written


def test_after_a_stalling_mirror_the_next_one_serves_every_file(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CORE_MIRROR", f"{mirror.url}/good/")
    download("mnist", split="test", dest=tmp_path, mirror=f"{mirror.url}/trickle/", timeout=0.3)
    assert mirror.hits == {f"/trickle/{T10K[0]}": 1, f"/good/{T10K[0]}": 1, f"/good/{T10K[1]}": 1}
    assert leftovers(tmp_path / "mnist") == sorted(T10K)


def test_mirrors_are_tried_in_order_until_one_has_the_file(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CORE_MIRROR", f"{mirror.url}/good")  # no trailing slash: one is added
    download("mnist", split="test", dest=tmp_path, mirror=f"{mirror.url}/missing/")
    assert mirror.hits[f"/missing/{T10K[0]}"] == 1 and mirror.hits[f"/good/{T10K[0]}"] == 1
    assert leftovers(tmp_path / "mnist") == sorted(T10K)


def test_mirror_order(monkeypatch):
    monkeypatch.setenv("VAE_CORE_MIRROR", "http://env.example/")
    urls = mirrors(SPECS["mnist"], "http://flag.example")
    assert urls[:2] == ["http://flag.example/", "http://env.example/"]
    assert urls[2:] == list(SPECS["mnist"].mirrors) and urls[2].startswith("https://ossci-datasets")


def test_cli_exit_status_and_messages(mirror, tmp_path, capsys):
    dest = tmp_path / "data"
    assert data_cli(["download", "mnist", "--split", "test", "--dest", str(dest),
                     "--mirror", f"{mirror.url}/good/"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(dest / "mnist" / name) for name in T10K]
    assert "100.0%" in err  # the progress bar reached the end

    # --split all also wants the 60k training files, which this mirror lacks: exit 1, and the
    # test files already in place stay there
    assert data_cli(["download", "mnist", "--dest", str(dest), "--mirror", f"{mirror.url}/good/"]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: could not download train-") for line in lines)
    assert f"{mirror.url}/good/train-images-idx3-ubyte.gz: HTTP 404" in err
    assert leftovers(dest / "mnist") == sorted(T10K)


def test_cli_refuses_what_cannot_be_downloaded(capsys):
    with pytest.raises(SystemExit) as stop:
        data_cli(["download", "digits"])
    assert stop.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(DatasetError, match="built in"):
        download("mnist10k")


def panel_script(dest: str) -> None:
    from pathlib import Path

    from ui.datasets import download_panel

    download_panel("mnist", Path(dest))


def test_app_download_panel(mirror, tmp_path, monkeypatch):
    """The app's panel (ui/datasets.py): a button, a progress bar, the files in place; a clear error else."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setitem(SPECS, "mnist", dataclasses.replace(SPECS["mnist"], files=tuple(
        f for f in SPECS["mnist"].files if f.split == "test")))  # the mirror holds the test files only
    monkeypatch.setenv("VAE_CORE_MIRROR", f"{mirror.url}/missing/")
    at = AppTest.from_function(panel_script, args=(str(tmp_path),), default_timeout=60).run()
    assert "not on this machine yet" in at.info[0].value and "CC BY-SA 3.0" in at.info[0].value
    at.button[0].click().run()
    assert "Download failed" in at.error[0].value and f"{mirror.url}/missing/{T10K[0]}: HTTP 404" in at.error[0].value
    assert leftovers(tmp_path / "mnist") == []

    monkeypatch.setenv("VAE_CORE_MIRROR", f"{mirror.url}/good/")
    at.button[0].click().run()
    assert not at.error and not at.exception
    assert leftovers(tmp_path / "mnist") == sorted(T10K)
    assert "all files in place" in at.get("progress")[0].proto.text
    assert not AppTest.from_function(panel_script, args=(str(tmp_path),)).run().button  # nothing left to fetch
