"""Tests for vae_core datasets: containers, generated data, file readers, safe unpickling."""

import gzip
import hashlib
import io
import os
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core.config import Config
from vae_core.data import (
    DATASETS,
    DOWNLOADABLE,
    EMBEDDED,
    SPECS,
    TOY_SHAPES,
    Dataset,
    DatasetError,
    default_data_dir,
    load_dataset,
    load_split,
)
from vae_core.data.embedded import MNIST10K_DIR
from vae_core.data.readers import content_md5, read_cifar_batch, read_idx
from vae_core.data.sprites import SCALES, make_sprites
from vae_core.data.toy2d import make_toy2d

# the real MNIST test files: the package ships them (mnist10k), so these tests run everywhere
MNIST_DIR = MNIST10K_DIR
MNIST_T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def no_torchvision(monkeypatch):
    """Make `import torchvision` fail, so loaders cannot fall back to downloading."""
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


def link_mnist(folder: Path) -> None:
    """Symlink the real t10k files into folder (never copied into the repo)."""
    folder.mkdir(parents=True)
    for name in MNIST_T10K:
        (folder / name).symlink_to(MNIST_DIR / name)


# ---------------------------------------------------------------------------
# registry and container


def test_registry_names():
    assert list(DATASETS) == ["digits", "mnist10k", "sprites", "toy2d", "mnist", "fashion_mnist", "cifar10"]
    assert EMBEDDED == ("digits", "mnist10k", "sprites", "toy2d")
    assert DOWNLOADABLE == ("mnist", "fashion_mnist", "cifar10")
    assert TOY_SHAPES == ("moons", "circles", "spiral")


def test_every_registry_entry_is_complete():
    for name, spec in SPECS.items():
        assert DATASETS[name] == spec.about and spec.source and spec.licence
        assert len(spec.classes) in ((0,) if name == "toy2d" else (10, len(spec.classes)))
        if spec.files:  # downloadable: where to, from where, and what each file's content must be
            assert spec.folder and spec.mirrors and spec.torchvision
            assert {f.split for f in spec.files} == {"train", "test"}
            assert all(len(f.md5) == 32 and int(f.md5, 16) >= 0 for f in spec.files)
            assert len({f.md5 for f in spec.files}) == len(spec.files)
    assert "LeCun" in SPECS["mnist10k"].source and SPECS["mnist10k"].licence == "CC BY-SA 3.0"


@pytest.mark.parametrize("name", ["digits", "mnist10k", "toy2d:spiral"])
def test_registry_shape_and_classes_match_what_loads(name):
    ds, spec = load_dataset(name), SPECS[name.partition(":")[0]]
    assert ds.image_shape == spec.shape
    assert spec.classes in ((), ds.class_names)


def test_unknown_name_lists_valid_names():
    with pytest.raises(DatasetError) as err:
        load_dataset("imagenet")
    for name in ["digits", "sprites", "toy2d:spiral", "mnist", "fashion_mnist", "cifar10"]:
        assert name in str(err.value)
    with pytest.raises(DatasetError, match="spiral"):
        load_dataset("toy2d:triangle")


def test_default_data_dir(monkeypatch):
    monkeypatch.delenv("VAE_CORE_DATA", raising=False)
    assert default_data_dir() == Path("data")
    monkeypatch.setenv("VAE_CORE_DATA", "/somewhere/else")
    assert default_data_dir() == Path("/somewhere/else")


def test_split_reproducible_disjoint_and_complete():
    ds = make_toy2d("moons", n=101)
    train, val = ds.split(0.2, seed=3)
    assert len(val) == round(101 * 0.2) and len(train) + len(val) == 101
    # points are distinct floats, so use them to identify items
    train_rows = {tuple(p) for p in train.x.tolist()}
    val_rows = {tuple(p) for p in val.x.tolist()}
    assert not train_rows & val_rows
    assert train_rows | val_rows == {tuple(p) for p in ds.x.tolist()}

    again_train, again_val = ds.split(0.2, seed=3)
    assert torch.equal(again_val.x, val.x) and torch.equal(again_train.y, train.y)
    _, other_val = ds.split(0.2, seed=4)
    assert not torch.equal(other_val.x, val.x)
    assert len(ds.split(0.0001)[1]) == 1  # at least one validation item
    for bad in (0, 1, -0.5, 1.5):
        with pytest.raises(ValueError):
            ds.split(bad)


def test_subset_keeps_factors_aligned():
    ds = make_sprites(n=50, seed=1)
    sub = ds.subset([3, 7, 7])
    assert len(sub) == 3 and sub.name == ds.name and sub.image_shape == ds.image_shape
    assert torch.equal(sub.x[1], ds.x[7]) and torch.equal(sub.factors[0], ds.factors[3])
    assert sub.y.tolist() == [ds.y[3].item(), ds.y[7].item(), ds.y[7].item()]
    assert len(ds.subset(ds.y == 0)) == int((ds.y == 0).sum())
    assert len(ds.subset(slice(10, 20))) == 10


def test_dataset_rejects_mismatched_shapes():
    with pytest.raises(DatasetError):
        Dataset("bad", torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), ("a",), (2,))


def test_load_split_follows_the_config():
    cfg = Config(dataset="digits", seed=3, val_fraction=0.2)
    train, val = load_split(cfg)
    ref_train, ref_val = load_dataset("digits").split(0.2, 3)
    assert torch.equal(val.x, ref_val.x) and torch.equal(train.y, ref_train.y)
    _, other = load_split(cfg.replace(seed=4))
    assert not torch.equal(other.x, val.x)


def test_mnist10k_split_is_fixed_whatever_the_seed():
    train, val = load_split(Config(dataset="mnist10k", seed=0))
    _, val_other_seed = load_split(Config(dataset="mnist10k", seed=123))
    assert (len(train), len(val)) == (9000, 1000)
    assert torch.equal(val.x, val_other_seed.x) and torch.equal(val.y, val_other_seed.y)
    assert sorted(set(val.y.tolist())) == list(range(10))  # shuffled: every digit is in val


# ---------------------------------------------------------------------------
# built-in datasets


def test_mnist10k_ships_the_published_bytes(tmp_path, monkeypatch, no_torchvision):
    monkeypatch.setenv("VAE_CORE_DATA", str(tmp_path / "nothing here"))  # no data folder, no network
    assert content_md5(MNIST10K_DIR / "t10k-images-idx3-ubyte.gz") == "2646ac647ad5339dbf082846283269ea"
    assert content_md5(MNIST10K_DIR / "t10k-labels-idx1-ubyte.gz") == "27ae3e4e09519cfbb04c329615203637"
    readme = (MNIST10K_DIR / "README.md").read_text()
    assert "Yann LeCun" in readme and "Corinna Cortes" in readme and "CC BY-SA 3.0" in readme
    ds = load_dataset("mnist10k")
    assert ds.x.shape == (10000, 1, 28, 28) and ds.x.dtype == torch.float32
    assert ds.x.min() == 0 and ds.x.max() == 1
    assert ds.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the first test digits, as published
    assert np.bincount(ds.y.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # IDX stores 28x28 uint8 rows in order: pixel (r, c) of image i is byte 16 + 784 i + 28 r + c
    raw = gzip.decompress((MNIST10K_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert ds.x[1234, 0, 14, 9].item() == pytest.approx(raw[16 + 784 * 1234 + 28 * 14 + 9] / 255)


def test_a_damaged_mnist10k_is_a_clear_error(tmp_path, monkeypatch):
    from vae_core.data import embedded

    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((MNIST10K_DIR / name).read_bytes())
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # a valid label, the wrong one
    labels.write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr(embedded, "MNIST10K_DIR", tmp_path)
    embedded.load_mnist10k.cache_clear()
    try:
        with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz is damaged"):
            embedded.load_mnist10k()
    finally:
        embedded.load_mnist10k.cache_clear()


def test_digits():
    ds = load_dataset("digits")
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.float32
    assert ds.x.min() == 0 and ds.x.max() == 1
    assert ds.y.dtype == torch.int64 and set(ds.y.tolist()) == set(range(10))
    assert ds.class_names == tuple("0123456789") and ds.n_classes == 10 and ds.is_image


def test_digits_are_read_without_importing_scikit_learn_and_equal_its_loader():
    """`import sklearn` takes about a second; the digits come straight from its data file instead."""
    import subprocess

    code = ("import sys; from vae_core.data.embedded import load_digits; ds = load_digits(); "
            "print(len(ds.x), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1797", "False"]
    from sklearn.datasets import load_digits as sklearn_digits

    bunch, ds = sklearn_digits(), load_dataset("digits")
    assert torch.equal(ds.x, torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0)
    assert ds.y.tolist() == bunch.target.tolist()


def test_sprites_deterministic_by_seed():
    a, b, c = make_sprites(n=300, seed=0), make_sprites(n=300, seed=0), make_sprites(n=300, seed=1)
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.x, c.x)
    assert torch.equal(load_dataset("sprites").x[:5], make_sprites(seed=0).x[:5])


def test_sprites_factors_and_images():
    ds = make_sprites(n=2000, seed=5)
    assert ds.x.shape == (2000, 1, 32, 32) and ds.image_shape == (1, 32, 32)
    assert ds.class_names == ("square", "ellipse", "heart")
    assert ds.factor_names == ("shape", "scale", "rotation", "pos_x", "pos_y")
    shape, scale, angle, pos_x, pos_y = ds.factors.T
    assert torch.equal(shape.long(), ds.y) and set(ds.y.tolist()) == {0, 1, 2}
    assert torch.isin(scale, SCALES).all() and 0.5 <= scale.min() and scale.max() <= 1.0
    assert (angle >= 0).all() and (angle < 2 * np.pi).all()
    assert ((pos_x >= 0) & (pos_x <= 1) & (pos_y >= 0) & (pos_y <= 1)).all()

    # binary, every image has a shape, and nothing touches the frame
    assert set(ds.x.unique().tolist()) == {0.0, 1.0}
    area = ds.x.sum(dim=(1, 2, 3))
    assert (area >= 15).all()
    img = ds.x[:, 0]
    assert img[:, 0].sum() == img[:, -1].sum() == img[:, :, 0].sum() == img[:, :, -1].sum() == 0

    # shapes are 6-16 px across: lit extent along rows and columns
    rows, cols = img.amax(dim=2), img.amax(dim=1)  # (N, 32) each
    extent = torch.maximum(rows.sum(1), cols.sum(1))
    assert extent.min() >= 5 and extent.max() <= 17

    # areas follow the geometry: in units of the radius^2, square 2, ellipse pi/2, heart ~2.04
    relative = area / (scale * 8) ** 2
    expected = {0: 2.0, 1: np.pi / 2, 2: 2.04}
    for k, value in expected.items():
        assert relative[ds.y == k].mean() == pytest.approx(value, rel=0.1)
    assert area[(ds.y == 1) & (scale == 1)].mean() < area[(ds.y == 0) & (scale == 1)].mean()
    assert area[scale == 1].mean() > 3 * area[scale == 0.5].mean()

    # moving pos_x moves the shape's centre of mass to the right
    col_centre = (cols * torch.arange(32)).sum(1) / cols.sum(1)
    assert np.corrcoef(col_centre, pos_x)[0, 1] > 0.95


@pytest.mark.parametrize("shape,n_classes", [("moons", 2), ("circles", 2), ("spiral", 3)])
def test_toy2d(shape, n_classes):
    ds = load_dataset(f"toy2d:{shape}", seed=2)
    assert ds.name == f"toy2d:{shape}" and ds.image_shape == (2,) and not ds.is_image
    assert ds.x.shape == (2000, 2) and ds.x.dtype == torch.float32
    assert ds.x.min() >= 0.05 - 1e-6 and ds.x.max() <= 0.95 + 1e-6
    assert ds.n_classes == n_classes and set(ds.y.tolist()) == set(range(n_classes))
    assert torch.equal(ds.x, make_toy2d(shape, seed=2).x)
    assert not torch.equal(ds.x, make_toy2d(shape, seed=3).x)


def test_toy2d_defaults_to_moons_and_circles_are_nested():
    assert load_dataset("toy2d").name == "toy2d:moons"
    ds = make_toy2d("circles")
    radius = (ds.x - 0.5).norm(dim=1)
    assert radius[ds.y == 1].mean() < 0.7 * radius[ds.y == 0].mean()  # inner ring is class 1


# ---------------------------------------------------------------------------
# MNIST / IDX


def test_read_idx_real_mnist_t10k():
    raw_images = gzip.decompress((MNIST_DIR / MNIST_T10K[0]).read_bytes())
    raw_labels = gzip.decompress((MNIST_DIR / MNIST_T10K[1]).read_bytes())
    assert hashlib.md5(raw_images).hexdigest() == "2646ac647ad5339dbf082846283269ea"
    assert hashlib.md5(raw_labels).hexdigest() == "27ae3e4e09519cfbb04c329615203637"

    images, labels = read_idx(MNIST_DIR / MNIST_T10K[0]), read_idx(MNIST_DIR / MNIST_T10K[1])
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert images.tobytes() == raw_images[16:] and labels.tobytes() == raw_labels[8:]


@pytest.mark.parametrize("layout", ["mnist", "MNIST/raw"])
def test_load_mnist_from_t10k_files(tmp_path, layout, no_torchvision):
    link_mnist(tmp_path / layout)
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.x.shape == (10000, 1, 28, 28) and ds.image_shape == (1, 28, 28)
    assert ds.x.min() == 0 and ds.x.max() == 1
    assert ds.y.dtype == torch.int64 and ds.y.min() == 0 and ds.y.max() == 9
    assert ds.y[0] == 7
    assert "t10k" in ds.source and "test split" in ds.source


def test_uncompressed_idx_gives_same_array(tmp_path):
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress((MNIST_DIR / MNIST_T10K[1]).read_bytes()))
    assert np.array_equal(read_idx(plain), read_idx(MNIST_DIR / MNIST_T10K[1]))


def test_missing_mnist_names_files_and_folder(tmp_path, no_torchvision):
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert name in message
    assert str(tmp_path / "mnist") in message

    with pytest.raises(DatasetError) as err:
        load_dataset("fashion_mnist", data_dir=tmp_path)
    assert str(tmp_path / "fashion_mnist") in str(err.value) and "train-images-idx3-ubyte" in str(err.value)


def test_fashion_mnist_reads_its_own_folder(tmp_path, no_torchvision):
    images = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    folder = tmp_path / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    write_idx(folder / "train-images-idx3-ubyte", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels, compress=True)
    ds = load_dataset("fashion_mnist", data_dir=tmp_path)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert torch.equal(ds.x[:, 0], torch.from_numpy(images).float() / 255)
    assert ds.y.tolist() == list(range(6)) and "train" in ds.source


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    code = codes[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_read_idx_multibyte_types(tmp_path):
    ints = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    floats = np.linspace(0, 1, 5, dtype=np.float32)
    write_idx(tmp_path / "ints", ints)
    write_idx(tmp_path / "floats.gz", floats, compress=True)
    assert np.array_equal(read_idx(tmp_path / "ints"), ints)
    assert np.array_equal(read_idx(tmp_path / "floats.gz"), floats)


def test_read_idx_rejects_corrupt_files(tmp_path):
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "good", images)
    good = (tmp_path / "good").read_bytes()

    (tmp_path / "truncated").write_bytes(good[:-10])
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(tmp_path / "truncated")

    (tmp_path / "truncated.gz").write_bytes(gzip.compress(good)[:-20])
    with pytest.raises(DatasetError, match="gzip"):
        read_idx(tmp_path / "truncated.gz")

    (tmp_path / "not_idx").write_bytes(b"PK\x03\x04" + good[4:])
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(tmp_path / "not_idx")

    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DatasetError):
        read_idx(tmp_path / "empty")


# ---------------------------------------------------------------------------
# CIFAR-10 and safe unpickling


class Py2Pickler(pickle._Pickler):
    """Writes str and bytes the way Python 2's cPickle wrote str, like the real CIFAR files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        obj = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def fake_cifar_batch(n: int, seed: int) -> tuple[dict, np.ndarray]:
    data = np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [i % 10 for i in range(n)]
    return {b"batch_label": b"fake", b"data": data, b"labels": labels}, data


def test_load_cifar10_from_fake_batches(tmp_path, no_torchvision):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch1, data1 = fake_cifar_batch(7, seed=0)
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch1, protocol=2))
    # batch 2 as Python 2 wrote it: str opcodes and the numpy 1.x module path
    batch2, data2 = fake_cifar_batch(3, seed=1)
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(batch2)
    py2 = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in py2
    (folder / "data_batch_2").write_bytes(py2)
    (folder / "test_batch").write_bytes(b"not used while data batches exist")

    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.x.shape == (10, 3, 32, 32) and ds.image_shape == (3, 32, 32) and ds.n_classes == 10
    assert ds.class_names[0] == "airplane" and ds.class_names[9] == "truck"
    assert ds.y.dtype == torch.int64 and ds.y.tolist() == list(range(7)) + list(range(3))
    expected = torch.from_numpy(np.concatenate([data1, data2])).float() / 255
    assert torch.equal(ds.x.reshape(10, -1), expected)
    # channel layout: the first 1024 values of a row are the red plane
    assert torch.equal(ds.x[0, 0].flatten(), expected[0, :1024])


def test_cifar_test_batch_used_when_no_data_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch, _ = fake_cifar_batch(4, seed=2)
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert len(ds) == 4 and "test_batch" in ds.source


def test_missing_cifar_names_folder(tmp_path, no_torchvision):
    with pytest.raises(DatasetError) as err:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "data_batch_1" in str(err.value) and str(tmp_path / "cifar-10-batches-py") in str(err.value)


class RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class RunsPython:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


@pytest.mark.parametrize("payload", [RunsShell, RunsPython])
def test_malicious_pickle_is_refused(tmp_path, payload):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": payload(marker), b"labels": [0]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="refusing"):
        load_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(DatasetError, match="refusing"):
        read_cifar_batch(folder / "data_batch_1")
    assert not marker.exists()


def test_cifar_rejects_garbage_and_wrong_shapes(tmp_path):
    (tmp_path / "garbage").write_bytes(b"\x80\x02}q\x00(")  # truncated pickle
    with pytest.raises(DatasetError):
        read_cifar_batch(tmp_path / "garbage")
    batch = {b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}
    (tmp_path / "wrong").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="3072"):
        read_cifar_batch(tmp_path / "wrong")
