"""The two real datasets that ship with the code, so they load offline: scikit-learn's 8x8 digits and
`mnist10k`, the 10,000 digits of the MNIST test set stored in this package (mnist10k/README.md)."""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from .dataset import Dataset, DatasetError
from .readers import MNIST_CLASSES, MNIST_FILES, MNIST_MD5, content_md5, read_idx

MNIST10K_DIR = Path(__file__).resolve().parent / "mnist10k"  # the t10k .gz files, recompressed
MNIST_SOURCE = "the MNIST database, Yann LeCun and Corinna Cortes (http://yann.lecun.com/exdb/mnist/)"
MNIST_LICENCE = "CC BY-SA 3.0"


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (images (1797, 8, 8) in 0..16, labels (1797,)). Read straight from the
    file inside the installed scikit-learn (rows of 64 pixels then the label), found without importing
    it: `import sklearn` costs about a second, which a server paid on its first digits page."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is None or not path.is_file():  # another layout: ask scikit-learn itself
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        return bunch.images, bunch.target
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",")  # (1797, 65)
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


@functools.lru_cache(maxsize=1)
def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits, pixel values 0..16 scaled to [0, 1]."""
    images, labels = _digits_arrays()
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8)
    y = torch.tensor(labels, dtype=torch.int64)                        # (1797,)
    return Dataset(
        name="digits",
        x=x,
        y=y,
        class_names=MNIST_CLASSES,
        image_shape=(1, 8, 8),
        source="scikit-learn load_digits (UCI optical recognition of handwritten digits)",
    )


@functools.lru_cache(maxsize=1)
def load_mnist10k() -> Dataset:
    """The MNIST test set shipped in this package: (10000, 1, 28, 28) in [0, 1], checked by md5."""
    images_path, labels_path = (MNIST10K_DIR / f"{name}.gz" for name in MNIST_FILES["t10k"])
    for path in (images_path, labels_path):
        md5 = MNIST_MD5[path.name.removesuffix(".gz")]  # of the decompressed bytes
        if not path.is_file():
            raise DatasetError(f"mnist10k: {path} is missing; reinstall the package (pip install -e .)")
        if content_md5(path) != md5:
            raise DatasetError(f"mnist10k: {path} is damaged (md5 of its content is not {md5}); "
                               f"restore it with git checkout or reinstall the package")
    images = read_idx(images_path)  # (10000, 28, 28) uint8
    labels = read_idx(labels_path)  # (10000,) uint8
    return Dataset(
        name="mnist10k",
        x=torch.from_numpy(images).float().div_(255).unsqueeze(1),  # (10000, 1, 28, 28)
        y=torch.from_numpy(labels).long(),
        class_names=MNIST_CLASSES,
        image_shape=(1, 28, 28),
        source=f"MNIST test set (10k), {MNIST_SOURCE}, {MNIST_LICENCE}; built in",
    )
