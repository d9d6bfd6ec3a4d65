"""Readers for datasets stored as files: MNIST / Fashion-MNIST (IDX) and CIFAR-10 (pickle).

Files are looked for under a data folder in the layouts people usually have (our own `mnist/`,
torchvision's `MNIST/raw/`, ...). Reading never touches the network: when nothing is found, the
error names the files, the folder, and the command that downloads them (see download.py).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import pickle
from pathlib import Path

import numpy as np
import torch

from .dataset import Dataset, DatasetError

# ---------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)
# Format: 2 zero bytes, a dtype code, the number of dims, then one big-endian
# uint32 per dim, then the values in C order, big-endian.

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def content_md5(path: str | Path) -> str:
    """md5 of a file's content: of its decompressed bytes when it is gzipped (mirrors may recompress,
    so this is the checksum that identifies the data)."""
    digest = hashlib.md5()
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a native-endian numpy array."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DatasetError(f"{path}: broken gzip file ({e}); delete it and fetch it again") from e
    return parse_idx(raw, str(path))


def is_idx(raw: bytes) -> bool:
    """Whether `raw` starts like an IDX file: two zero bytes, a known dtype code, 1 to 4 dims."""
    return len(raw) >= 4 and raw[:2] == b"\x00\x00" and raw[2] in _IDX_DTYPES and 1 <= raw[3] <= 4


def parse_idx(raw: bytes, where: str) -> np.ndarray:
    """The array in the (decompressed) bytes of an IDX file; `where` names it in errors. The header's
    shape is checked against the bytes before anything is allocated."""
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{where} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{where}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"{where}: IDX header says shape {dims} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes; it is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


MNIST_FILES = {  # split -> (images, labels), each may also end in .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# md5 of each file's decompressed bytes, as first published (mirrors may recompress the .gz files)
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
FASHION_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def mnist_folders(data_dir: Path, fashion: bool = False) -> list[Path]:
    """Folders searched for the IDX files, in order."""
    if fashion:  # data_dir itself is left to MNIST, so the two are never confused
        return [data_dir / "fashion_mnist", data_dir / "FashionMNIST" / "raw"]
    return [data_dir / "mnist", data_dir / "MNIST" / "raw", data_dir]


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _find_mnist_pair(folders: list[Path]) -> tuple[str, Path, Path] | None:
    """The first (split, images, labels) found, preferring the 60k train split anywhere."""
    for split, (images_name, labels_name) in MNIST_FILES.items():
        for folder in folders:
            images, labels = _find(folder, images_name), _find(folder, labels_name)
            if images and labels:
                return split, images, labels
    return None


def load_mnist(data_dir: str | Path, fashion: bool = False) -> Dataset:
    """MNIST or Fashion-MNIST as (N, 1, 28, 28) in [0, 1]: the train split if present, else t10k."""
    data_dir = Path(data_dir)
    name = "fashion_mnist" if fashion else "mnist"
    folders = mnist_folders(data_dir, fashion)
    found = _find_mnist_pair(folders)
    if found is None:
        raise DatasetError(_mnist_help(name, folders))

    split, images_path, labels_path = found
    images, labels = read_idx(images_path), read_idx(labels_path)  # (N, 28, 28) uint8, (N,) uint8
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise DatasetError(f"{images_path} and {labels_path} do not match: shapes {images.shape} and {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: labels must be 0..9, found {labels.max()}")

    note = "" if split == "train" else " (train files not found, so using the 10k test split)"
    return Dataset(
        name=name,
        x=torch.from_numpy(images).float().div_(255).unsqueeze(1),  # (N, 1, 28, 28)
        y=torch.from_numpy(labels).long(),                          # (N,)
        class_names=FASHION_CLASSES if fashion else MNIST_CLASSES,
        image_shape=(1, 28, 28),
        source=f"{images_path.parent}/{split}-*{note}",
    )


def _mnist_help(name: str, folders: list[Path]) -> str:
    images, labels = MNIST_FILES["train"]
    test_images, test_labels = MNIST_FILES["t10k"]
    others = ", ".join(f"{f}/" for f in folders[1:])
    return (
        f"{name} files not found: put {images}.gz and {labels}.gz (or {test_images}.gz and "
        f"{test_labels}.gz; unzipped also works) in {folders[0]}/ (also searched: {others}), "
        f"or download them: python -m vae_core.data download {name} --dest {folders[0].parent}"
    )


# ---------------------------------------------------------------------------
# CIFAR-10: python pickles holding {b"data": uint8 (N, 3072), b"labels": [N ints], ...}
# They were written by Python 2's cPickle. Unpickling can run arbitrary code,
# so only the handful of globals a numpy array needs are allowed.


try:
    from numpy._core.multiarray import _reconstruct  # numpy >= 2
except ImportError:
    from numpy.core.multiarray import _reconstruct  # numpy 1.x


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """Stand-in for _codecs.encode, which Python 3 protocol-2 pickles use for bytes."""
    if encoding != "latin1":
        raise DatasetError(f"refusing _codecs.encode with encoding {encoding!r} in a CIFAR batch")
    return text.encode("latin1")


_CIFAR_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and nothing else."""

    def find_class(self, module: str, name: str):
        try:
            return _CIFAR_GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(
                f"refusing to unpickle {module}.{name}: a CIFAR-10 batch only holds numpy arrays, "
                f"so this file is not one (or has been tampered with)"
            ) from None


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Safely read one CIFAR-10 python batch: images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except DatasetError as e:
        raise DatasetError(f"{path}: {e}") from None
    except Exception as e:  # unpickling a damaged file can fail in many ways
        raise DatasetError(f"{path} is not a readable CIFAR-10 batch ({type(e).__name__}: {e})") from e

    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (len(labels), 3072):
        raise DatasetError(f"{path}: b'data' should be uint8 of shape ({len(labels)}, 3072)")
    if len(labels) and not 0 <= labels.min() <= labels.max() <= 9:
        raise DatasetError(f"{path}: labels must be 0..9")
    return data.reshape(-1, 3, 32, 32), labels  # rows are 1024 R, then G, then B values


CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"  # holds CIFAR_FOLDER/<batch> for each batch below
CIFAR_MD5 = {  # md5 of each batch file as it comes out of the archive
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


def _find_cifar_batches(folder: Path) -> list[Path]:
    batches = [folder / f"data_batch_{i}" for i in range(1, 6)]
    batches = [p for p in batches if p.is_file()]
    if not batches and (folder / "test_batch").is_file():
        batches = [folder / "test_batch"]
    return batches


def load_cifar10(data_dir: str | Path) -> Dataset:
    """CIFAR-10 as (N, 3, 32, 32) in [0, 1], from the training batches (test_batch if there are none)."""
    data_dir = Path(data_dir)
    folder = data_dir / CIFAR_FOLDER
    help_text = (
        f"cifar10 files not found: put data_batch_1 .. data_batch_5 (or test_batch) in {folder}/ "
        f"(unpack {CIFAR_ARCHIVE} into {data_dir}/), or download them: "
        f"python -m vae_core.data download cifar10 --dest {data_dir}"
    )
    batches = _find_cifar_batches(folder)
    if not batches:
        raise DatasetError(help_text)

    parts = [read_cifar_batch(p) for p in batches]
    images = np.concatenate([images for images, _ in parts])  # (N, 3, 32, 32) uint8
    labels = np.concatenate([labels for _, labels in parts])  # (N,)
    return Dataset(
        name="cifar10",
        x=torch.from_numpy(images).float().div_(255),
        y=torch.from_numpy(labels),
        class_names=CIFAR_CLASSES,
        image_shape=(3, 32, 32),
        source=f"{folder}/ ({', '.join(p.name for p in batches)})",
    )
