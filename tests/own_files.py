"""Files a user might bring as a dataset, made here from the built-in digits: good ones of every format,
and hostile ones, each with the words its refusal must hold."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from vae_core.data import load_mnist10k


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under a runs root: its size and modification time (what a write would change), but
    not the store's bookkeeping that changes with time alone: the replicas' heartbeats and lock files."""
    from vae_core.runs.replicas import REPLICAS
    from vae_core.runs.store import LOCKS

    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] not in (REPLICAS, LOCKS)}


def digits(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The first n MNIST test digits: (n, 28, 28) uint8 light on dark, (n,) labels."""
    d = load_mnist10k()
    return (d.x[:n, 0].numpy() * 255).round().astype(np.uint8), d.y[:n].numpy()


def png(a: np.ndarray) -> bytes:
    """(H, W) uint8 grey, uint16 16-bit grey, (H, W, 3) RGB or (H, W, 4) RGBA."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def jpeg(a: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def labelled_pngs(x: np.ndarray, y: np.ndarray, top: str = "set", dark_on_light: bool = False) -> dict[str, bytes]:
    """{'set/<label>/<i>.png': PNG}: digits in folders named by their label."""
    return {f"{top}/{int(label)}/{i:04d}.png": png(255 - a if dark_on_light else a) for i, (a, label) in
            enumerate(zip(x, y))}


def folder_order(y: np.ndarray) -> np.ndarray:
    """The order a reader gives labelled_pngs' images: by folder, then by index (file names sort)."""
    return np.array(sorted(range(len(y)), key=lambda i: (str(int(y[i])), i)))


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=a.dtype.hasobject)
    return buf.getvalue()


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def idx(a: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}[a.dtype]
    big = a.astype(a.dtype.newbyteorder(">"))
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + big.tobytes()


def csv_text(rows: list[list], header: list[str] | None = None) -> bytes:
    lines = ([",".join(header)] if header else []) + [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header declares width x height grey pixels, with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_filtered(a: np.ndarray, filters: list[int]) -> bytes:
    """An 8-bit grey (H, W) or RGB (H, W, 3) PNG whose row r is filtered with filters[r] (0 None, 1 Sub,
    2 Up, 3 Average, 4 Paeth): written here from the PNG specification, independently of the decoder."""
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else 3
    rows = a.reshape(h, w * c).astype(np.int64)
    body, prev = b"", np.zeros(w * c, np.int64)
    for line, f in zip(rows, filters):
        left = np.concatenate([np.zeros(c, np.int64), line[:-c]])
        upleft = np.concatenate([np.zeros(c, np.int64), prev[:-c]])
        p = left + prev - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        predictor = [0, left, prev, (left + prev) // 2, paeth][f]
        body += bytes([f]) + ((line - predictor) % 256).astype(np.uint8).tobytes()
        prev = line
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(body)) + _chunk(b"IEND", b"")


def symlink_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("set/a/0.png", png(digits(1)[0][0]))
        info = zipfile.ZipInfo("set/a/link.png")
        info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777: a symbolic link, as zip -y writes it
        z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def lying_zip() -> bytes:
    """A zip whose directory declares 10 bytes for a member that inflates to 100,000."""
    raw = bytearray(zip_of({"x.csv": b"1,2\n" * 25_000}))
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory entry
        at = raw.find(sig)
        raw[at + size_at:at + size_at + 4] = struct.pack("<I", 10)
    return bytes(raw)


def huge_declared_zip() -> bytes:
    """A zip whose central directory declares 3 GB uncompressed for a small member."""
    raw = bytearray(zip_of({"x.npy": npy(np.zeros((4, 8, 8), np.uint8))}))
    at = raw.find(b"PK\x01\x02")
    raw[at + 24:at + 28] = struct.pack("<I", 3_000_000_000)
    return bytes(raw)


class Payload:
    """Unpickling this creates the marker file: a hostile pickle's stand-in."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def hostile_files(marker: Path) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, words its refusal holds). Unpickling the object arrays would create `marker`."""
    x, y = digits(8)
    good_png = png(x[0])
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = Payload(marker), 1
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(3), np.zeros(4)
    nan = x.astype(np.float32)
    nan[3, 4, 5] = np.nan
    return [
        ("text.png", b"these are not pixels, just words\n" * 4, "not a PNG or JPEG image"),
        ("broken.png", good_png[:len(good_png) // 2], "corrupt image"),
        ("bomb.png", png_declaring(50_000, 50_000), "decompression bomb"),
        ("zipbomb.zip", zip_of({"z.npy": npy(np.zeros((2000, 64, 64), np.uint8))}), "zip bomb"),
        ("declared.zip", huge_declared_zip(), "more than"),
        ("lying.zip", lying_zip(), "cannot be read from the archive"),
        ("gzbomb.npy.gz", gzip.compress(npy(np.zeros((2000, 64, 64), np.uint8))), "zip bomb"),
        ("escape.zip", zip_of({"set/a/0.png": good_png, "../evil.png": good_png}), "leads out of the archive"),
        ("absolute.zip", zip_of({"set/a/0.png": good_png, "/etc/evil.png": good_png}), "leads out of the archive"),
        ("link.zip", symlink_zip(), "symbolic link"),
        ("nested.zip", zip_of({"inner.zip": zip_of({"a.png": good_png})}), "archive inside the archive"),
        ("objects.npy", npy(obj), "pickle"),
        ("ragged.npy", npy(ragged), "ragged"),
        ("pickled.npz", zip_of({"x.npy": pickle.dumps(Payload(marker)), "y.npy": npy(y)}), "pickle"),
        ("nan.npy", npy(nan), "NaN"),
        ("inf.csv", csv_text([[0, 1], [2, "inf"], [3, 4]], ["a", "b"]), "'inf' is not a finite number"),
        ("ragged.csv", csv_text([[0, 1], [2, 3, 4], [5, 6]], ["a", "b"]), "ragged"),
        ("text.csv", csv_text([[0, 1], [2, "abc"], [5, 6]], ["a", "b"]), "row 3, column 'b': 'abc'"),
        ("labels.npz", npz(x=x, y=y[:-1]), "one label per example"),
        ("empty.npy", b"", "empty file"),
        ("empty.zip", zip_of({}), "no data"),
        ("one.npy", npy(x[:1]), "at least 2"),
        ("many.npy", _npy_header((100_001, 28, 28)), "more than the 100,000"),
        ("rows.csv", csv_text([[i, i] for i in range(100_001)], ["a", "b"]), "more than the 100,000"),
        ("bzip2.zip", zip_of({"x.npy": npy(x)}, zipfile.ZIP_BZIP2), "compression method"),
        ("tar.gz", gzip.compress(_tar_bytes()), "tar archive"),
    ]


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """A .npy header (magic included) declaring `shape` uint8, with no data after it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _tar_bytes() -> bytes:
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = png(digits(1)[0][0])
        info = tarfile.TarInfo("a.png")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
