"""Your own dataset (vae_core.data.own): every format read from files made here, the conversion rules
checked against independent computations (Pillow's resize and grey, numpy), the labels, the names a
config uses, and the refusals."""
from __future__ import annotations

import gzip
import io
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from hypothesis import given, settings
from hypothesis import strategies as st

from own_files import (csv_text, digits, folder_order, idx, jpeg, labelled_pngs, npy, npz, png, png_filtered,
                       zip_of)
from vae_core.config import Config
from vae_core.data import DatasetError, load_dataset, load_mnist10k, load_split, own, pin_split, spec_of
from vae_core.data.embedded import MNIST10K_DIR
from vae_core.data.own import DataRefused, Options, png as fast_png, stored
from vae_core.data.own.limits import MAX_SIDE


@pytest.fixture(scope="module")
def sixty():
    return digits(60)


def files(name: str, data: bytes, options: Options | None = None):
    return own.from_files([(name, data)], options)


# --- images --------------------------------------------------------------------------------------


def test_a_zip_of_labelled_pngs_reads_back_the_pixels_and_the_folders_as_labels(sixty):
    x, y = sixty
    conv = files("digits.zip", zip_of(labelled_pngs(x, y)))
    order = folder_order(y)
    assert conv.x.shape == (60, 1, 28, 28) and conv.x.dtype == np.uint8
    np.testing.assert_array_equal(conv.x[:, 0], x[order])              # light digits on dark: kept as they are
    assert conv.class_names == tuple(str(d) for d in sorted(set(y.tolist())))
    np.testing.assert_array_equal(np.array(conv.class_names)[conv.y], y[order].astype(str))
    r = conv.report.to_json()
    assert r["count"] == 60 and r["shape"] == [28, 28] and r["format"] == "PNG/JPEG images in a zip"
    assert r["labels"] == {str(k): int((y == k).sum()) for k in sorted(set(y.tolist()))}
    assert r["converted"]["invert"] is False and r["converted"]["colour"] == "grey"


def test_a_folder_and_its_zip_are_the_same_dataset(sixty, tmp_path):
    x, y = sixty
    members = labelled_pngs(x, y, dark_on_light=True)
    for name, data in members.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "set" / "README.md").write_text("not data")
    (tmp_path / "set" / ".DS_Store").write_bytes(b"\x00\x01")
    from_folder = own.from_path(tmp_path)
    from_zip = files("d.zip", zip_of(members))
    assert from_folder.digest == from_zip.digest
    np.testing.assert_array_equal(from_folder.x[:, 0], x[folder_order(y)])  # dark on light: inverted (auto)
    assert from_folder.report.converted["invert"] is True
    assert any("skipped 2 files" in n for n in from_folder.report.converted["notes"])


def test_class_names_sort_naturally_and_loose_images_are_labelled_none(sixty):
    x, _ = sixty
    conv = files("z.zip", zip_of({"top/10/a.png": png(x[0]), "top/2/b.png": png(x[1]), "top/c.png": png(x[2])}))
    assert conv.class_names == ("2", "10", "(none)")  # numbers by value, then words
    assert any("outside every sub-folder" in n for n in conv.report.converted["notes"])


def test_images_without_folders_have_one_class(sixty):
    x, _ = sixty
    conv = files("z.zip", zip_of({f"{i}.png": png(a) for i, a in enumerate(x[:5])}))
    assert conv.class_names == ("all",) and conv.report.labels is None and (conv.y == 0).all()


def test_sizes_28_and_32_match_pillows_bilinear_resize(sixty):
    x, y = sixty
    big = np.kron(x[:10], np.ones((2, 2), np.uint8))  # (10, 56, 56)
    for size in ("28", "32"):
        conv = files("z.zip", zip_of({f"a/{i}.png": png(a) for i, a in enumerate(big)}), Options(size=size))
        s = int(size)
        ref = np.stack([np.asarray(Image.fromarray(a).resize((s, s), Image.BILINEAR)) for a in big])
        assert conv.x.shape == (10, 1, s, s)
        assert np.abs(conv.x[:, 0].astype(int) - ref).max() <= 1


def test_a_wide_image_is_cut_to_its_centre():
    a = np.zeros((28, 56), np.uint8)
    a[:, :14] = 255   # the left quarter: cut away by the centre 28 x 28 of a 28 x 56 image
    a[:, 20:36] = 200  # the middle: kept
    b = np.full((28, 56), 0, np.uint8)
    conv = files("z.zip", zip_of({"0.png": png(a), "1.png": png(b)}), Options(size="28", invert="no"))
    out = conv.x[0, 0]
    assert out[:, :6].max() == 0 and out[:, 6:22].min() == 200 and out[:, 22:].max() == 0


def test_kept_size_is_the_most_common_and_larger_images_are_resized_with_a_note(sixty):
    x, _ = sixty
    odd = np.zeros((30, 20), np.uint8)
    conv = files("z.zip", zip_of({**{f"{i}.png": png(a) for i, a in enumerate(x[:4])}, "odd.png": png(odd)}))
    assert conv.x.shape == (5, 1, 28, 28)
    assert conv.report.shapes == {"28x28": 4, "30x20": 1}
    assert any("1 image of other sizes fitted to 28x28" in n for n in conv.report.converted["notes"])
    large = np.random.default_rng(0).integers(0, 255, (3, 100, 80), dtype=np.uint8)
    conv = files("big.zip", zip_of({f"{i}.png": png(a) for i, a in enumerate(large)}))
    assert conv.x.shape == (3, 1, MAX_SIDE, round(80 * MAX_SIDE / 100))
    assert any(f"at most {MAX_SIDE} pixels" in n for n in conv.report.converted["notes"])


def test_colour_auto_grey_and_colour():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    data = zip_of({f"{i}.png": png(a) for i, a in enumerate(rgb)})
    auto = files("c.zip", data, Options(invert="no"))
    assert auto.x.shape == (4, 3, 16, 16) and auto.report.converted["colour"] == "colour"
    np.testing.assert_array_equal(auto.x, rgb.transpose(0, 3, 1, 2))
    grey = files("c.zip", data, Options(colour="grey", invert="no"))
    pil = np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in rgb])
    assert grey.x.shape == (4, 1, 16, 16) and np.abs(grey.x[:, 0].astype(int) - pil).max() <= 1
    same = np.repeat(rgb[..., :1], 3, axis=3)  # RGB files whose pixels are all grey: one channel
    conv = files("g.zip", zip_of({f"{i}.png": png(a) for i, a in enumerate(same)}), Options(invert="no"))
    assert conv.x.shape == (4, 1, 16, 16)
    np.testing.assert_array_equal(conv.x[:, 0], rgb[..., 0])


def test_jpeg_and_transparency_and_16_bit(sixty):
    x, _ = sixty
    conv = files("j.zip", zip_of({f"{i}.jpg": jpeg(a) for i, a in enumerate(x[:5])}), Options(invert="no"))
    ref = np.stack([np.asarray(Image.open(io.BytesIO(jpeg(a)))) for a in x[:5]])
    np.testing.assert_array_equal(conv.x[:, 0], ref)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 3] = 0          # fully transparent: white
    rgba[2:6, 2:6] = (0, 0, 0, 255)  # an opaque black square
    conv = files("t.zip", zip_of({"0.png": png(rgba), "1.png": png(rgba)}), Options(invert="no"))
    assert conv.x[0, 0, 0, 0] == 255 and conv.x[0, 0, 3, 3] == 0
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    conv = files("d.zip", zip_of({"0.png": png(deep), "1.png": png(deep)}), Options(invert="no"))
    np.testing.assert_array_equal(conv.x[0, 0], np.rint(deep.astype(np.float64) * 255 / 65535).astype(np.uint8))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3]), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_the_batch_png_decoder_equals_the_images_for_every_filter(h, w, c, n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    images[:, : h // 2] //= 16  # some smooth rows too, where the filters' predictions matter
    datas = [png_filtered(a[..., 0] if c == 1 else a, rng.integers(0, 5, h).tolist()) for a in images]
    pixels, failed = fast_png.decode_batch(datas, h, w, c)
    assert failed == []
    np.testing.assert_array_equal(pixels, images)
    pillow = np.stack([np.asarray(Image.open(io.BytesIO(d))).reshape(h, w, c) for d in datas])
    np.testing.assert_array_equal(pillow, images)  # the test's encoder is a valid PNG writer


def test_the_batch_decoder_leaves_what_it_does_not_check_to_pillow(sixty):
    x, _ = sixty
    good = png(x[0])
    bad_crc = bytearray(good)
    bad_crc[-20] ^= 0xFF  # inside IDAT: its CRC fails
    with_trns = png_filtered(x[1], [0] * 28)
    trns = b"tRNS\x00\x00"  # grey 0 is transparent: Pillow lays it on white
    with_trns = with_trns[:33] + struct.pack(">I", 2) + trns + struct.pack(">I", zlib.crc32(trns)) + with_trns[33:]
    pixels, failed = fast_png.decode_batch([good, bytes(bad_crc), with_trns], 28, 28, 1)
    assert failed == [1, 2]
    np.testing.assert_array_equal(pixels[0, ..., 0], x[0])
    conv = files("t.zip", zip_of({"0.png": with_trns, "1.png": good}), Options(invert="no"))
    np.testing.assert_array_equal(conv.x[0, 0], np.where(x[1] == 0, 255, x[1]))
    with pytest.raises(DataRefused, match="corrupt image"):  # Pillow then says why
        files("z.zip", zip_of({"0.png": good, "1.png": bytes(bad_crc)}))


def test_progress_goes_from_reading_to_converting_and_ends_at_one(sixty):
    x, y = sixty
    seen = []
    own.from_files([("z.zip", zip_of(labelled_pngs(x, y)))], progress=lambda f, what: seen.append((f, what)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 <= fractions[0] < 0.3
    assert [w for w in dict.fromkeys(w for _, w in seen)] == ["reading the archive", "reading the image headers",
                                                              "converting"]


def test_invert_yes_and_no(sixty):
    x, y = sixty
    data = zip_of(labelled_pngs(x[:6], y[:6]))
    yes = files("z.zip", data, Options(invert="yes"))
    no = files("z.zip", data, Options(invert="no"))
    np.testing.assert_array_equal(yes.x, 255 - no.x)


# --- arrays ----------------------------------------------------------------------------------------


def test_npz_of_uint8_and_labels_is_exact(sixty):
    x, y = sixty
    conv = files("d.npz", npz(x=x, y=y))
    np.testing.assert_array_equal(conv.x[:, 0], x)
    np.testing.assert_array_equal(np.array(conv.class_names)[conv.y], y.astype(str))
    assert conv.report.format == "numpy arrays" and conv.report.dtype == "uint8"


def test_npy_floats_channels_and_scales(sixty):
    x, _ = sixty
    f01 = x.astype(np.float32) / 255
    np.testing.assert_array_equal(files("a.npy", npy(f01)).x[:, 0], x)
    f255 = x.astype(np.float64)
    conv = files("b.npy", npy(f255))
    np.testing.assert_array_equal(conv.x[:, 0], x)
    assert any("divided by 255" in n for n in conv.report.converted["notes"])
    signed = f01 * 2 - 1  # [-1, 1]
    conv = files("c.npy", npy(signed))
    assert np.abs(conv.x[:, 0].astype(int) - x).max() <= 1
    assert any("scaled to [0, 1]" in n for n in conv.report.converted["notes"])
    rgb = np.random.default_rng(2).integers(0, 256, (6, 3, 12, 12), dtype=np.uint8)  # channels first
    conv = files("d.npy", npy(rgb), Options(invert="no"))
    np.testing.assert_array_equal(conv.x, rgb)
    assert any("channels first" in n for n in conv.report.converted["notes"])
    flat = x.reshape(60, 784)
    np.testing.assert_array_equal(files("e.npy", npy(flat)).x[:, 0], x)


def test_npz_with_class_names_and_text_labels(sixty):
    x, y = sixty
    names = np.array([f"digit {d}" for d in range(10)])
    conv = files("n.npz", npz(images=x, labels=y, class_names=names))
    assert conv.class_names == tuple(names.tolist())
    np.testing.assert_array_equal(conv.y, y)
    text = np.array(["cat", "dog"])[y % 2]
    conv = files("t.npz", npz(x=x, y=text))
    assert conv.class_names == ("cat", "dog") and (np.array(conv.class_names)[conv.y] == text).all()


def test_idx_files_raw_and_gzipped_equal_mnist10k(tmp_path):
    ref = load_mnist10k()
    conv = own.from_path(MNIST10K_DIR / "t10k-images-idx3-ubyte.gz")  # its labels file is found beside it
    assert conv.report.format == "IDX arrays" and conv.report.count == 10_000
    np.testing.assert_array_equal(conv.x.astype(np.float32) / 255, ref.x.numpy())
    np.testing.assert_array_equal(conv.y, ref.y.numpy())
    raw = gzip.decompress((MNIST10K_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())[: 16 + 784 * 50]
    raw = raw[:4] + (50).to_bytes(4, "big") + raw[8:]
    labels = idx(ref.y.numpy()[:50].astype(np.uint8))
    conv = own.from_files([("imgs-idx3-ubyte", raw), ("labels-idx1-ubyte", labels)])
    np.testing.assert_array_equal(conv.x.astype(np.float32) / 255, ref.x[:50].numpy())


def test_csv_points_with_header_and_labels():
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(40, 3)) * [1, 10, 100]
    lab = np.where(pts[:, 0] > 0, "right", "left")
    rows = [[*p, l] for p, l in zip(pts, lab)]
    conv = files("p.csv", csv_text(rows, ["a", "b", "c", "label"]))
    lo, hi = pts.min(0), pts.max(0)
    np.testing.assert_allclose(conv.x, 0.05 + 0.9 * (pts - lo) / (hi - lo), atol=1e-6)
    assert conv.x.dtype == np.float32 and conv.image_shape == (3,)
    assert conv.class_names == ("left", "right") and (np.array(conv.class_names)[conv.y] == lab).all()
    assert conv.report.converted["columns"] == ["a", "b", "c"]
    plain = files("q.csv", csv_text([list(p) for p in pts]))
    np.testing.assert_allclose(plain.x, conv.x, atol=1e-6)
    assert plain.class_names == ("all",)


def test_a_csv_of_784_pixel_columns_reads_as_28x28_images(sixty):
    x, y = sixty
    rows = [[int(label), *a.reshape(-1).tolist()] for a, label in zip(x[:20], y[:20])]
    conv = files("mnist.csv", csv_text(rows, ["label", *(f"pixel{i}" for i in range(784))]))
    assert conv.x.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(conv.x[:, 0], x[:20])


# --- names, the registry, loading ---------------------------------------------------------------


def test_names_parse_and_pin(tmp_path, sixty):
    x, y = sixty
    path = tmp_path / "d.npz"
    path.write_bytes(npz(x=x, y=y))
    assert own.parse("icon@2x.png").path == "icon@2x.png"
    assert own.parse(f"{path}@size=32,invert=no").options == Options(size="32", invert="no")
    for bad in (f"{path}@size=30", f"{path}@siz=28", "ws:nothex", f"{path}@digest=123"):
        with pytest.raises(DatasetError):
            spec_of(bad)
    with pytest.raises(DatasetError, match="or your own data"):
        spec_of("dijits")
    cfg = Config(dataset=str(path), seed=3)
    pinned, train, val = pin_split(cfg, read_files=True)
    assert pinned.dataset.startswith(f"{path.resolve()}@size=kept,colour=grey,invert=no,digest=")
    t2, v2 = load_split(pinned, read_files=True)
    assert torch.equal(v2.x, val.x) and torch.equal(t2.y, train.y)
    path.write_bytes(npz(x=x[::-1].copy(), y=y[::-1].copy()))  # the same file name, other data
    with pytest.raises(DatasetError, match="the file has changed"):
        load_split(pinned, read_files=True)


def test_without_read_files_a_path_is_never_opened(tmp_path, sixty):
    x, y = sixty
    path = tmp_path / "d.npz"
    path.write_bytes(npz(x=x, y=y))
    for call in (lambda: load_dataset(str(path)), lambda: load_split(Config(dataset=str(path)), workspace=tmp_path)):
        with pytest.raises(DatasetError, match="only this workspace's datasets are read"):
            call()


def test_stored_round_trip_and_tampering(sixty):
    x, y = sixty
    conv = files("d.npz", npz(x=x, y=y))
    blob = stored.to_bytes(conv)
    back = stored.from_bytes(blob, "d")
    assert back.digest == conv.digest and np.array_equal(back.x, conv.x) and back.class_names == conv.class_names
    tampered = bytearray(blob)
    tampered[-100] ^= 0xFF  # a pixel changed: the digest no longer matches
    with pytest.raises(DataRefused, match="does not match its digest"):
        stored.from_bytes(bytes(tampered), "d")
    ds = load_dataset(f"ws:{conv.digest}", workspace={conv.digest: blob})
    assert ds.image_shape == (1, 28, 28) and torch.equal(ds.x, torch.from_numpy(x[:, None]).float() / 255)


def test_preview_takes_every_class_in_turn(sixty):
    x, y = sixty
    p = files("d.npz", npz(x=x, y=y)).preview(20)
    assert p.x.shape == (20, 1, 28, 28) and p.x.dtype == np.float32 and 0 <= p.x.min() and p.x.max() <= 1
    assert set(p.y.tolist()) == set(range(len(p.class_names)))
    assert sum(p.counts.values()) == 60 and p.image_shape == (1, 28, 28)


# --- refusals that need a folder or a limit ------------------------------------------------------


def test_symlinks_in_a_folder_are_refused(tmp_path, sixty):
    x, _ = sixty
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(png(x[0]))
    os.symlink("/etc/passwd", tmp_path / "a" / "1.png")
    with pytest.raises(DataRefused, match="symbolic link"):
        own.from_path(tmp_path)
    (tmp_path / "a" / "1.png").unlink()
    os.symlink("/etc", tmp_path / "b")
    with pytest.raises(DataRefused, match="symbolic link"):
        own.from_path(tmp_path)


def test_more_than_the_converted_limit_is_refused(monkeypatch, sixty):
    x, y = sixty
    monkeypatch.setattr("vae_core.data.own.conversion.MAX_BYTES", 60 * 28 * 28 - 1)
    with pytest.raises(DataRefused, match="after conversion"):
        files("d.npz", npz(x=x, y=y))


def test_a_zip_of_jpeg_that_is_a_png_by_name_is_read_by_content(sixty):
    x, _ = sixty
    conv = files("z.zip", zip_of({"0.jpg": png(x[0]), "1.jpg": png(x[1])}))
    np.testing.assert_array_equal(conv.x[:, 0], x[:2])


def test_bad_options_are_refused():
    with pytest.raises(DatasetError, match="size must be one of"):
        Options(size="30")
    with pytest.raises(DatasetError, match="unknown option"):
        Options.parse("shape=28")
    assert Options.parse(Options(size="32", colour="grey").text()) == Options(size="32", colour="grey")


def test_the_members_together_are_bounded(monkeypatch):
    monkeypatch.setattr("vae_core.data.own.sources.MAX_INPUT_BYTES", 3000)
    data = zip_of({"a.csv": b"1,2\n" * 500, "b.csv": b"3,4\n" * 500}, zipfile.ZIP_STORED)
    with pytest.raises(DataRefused, match="the limit"):
        files("z.zip", data)
