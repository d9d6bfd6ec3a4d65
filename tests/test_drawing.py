"""vae_core.drawing: a drawing prepared as each dataset was made, checked against the datasets
themselves (MNIST digits, sprites, 8x8 bitmaps go through the pad and come back unchanged), the
resampling against its definition, and pictures that must be refused with a message."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from vae_core import drawing
from vae_core.data import load_mnist10k
from vae_core.data.sprites import make_sprites
from vae_core.latent import nearest

PAD = drawing.PAD


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def up(image: np.ndarray) -> np.ndarray:
    """A (h, w) picture in [0, 1] enlarged by whole pixels onto the pad, top left: a raster."""
    k = PAD // max(image.shape)
    raster = np.zeros((PAD, PAD), np.uint8)
    big = np.repeat(np.repeat(np.round(image * 255).astype(np.uint8), k, 0), k, 1)
    raster[:big.shape[0], :big.shape[1]] = big
    return raster


def stroke_raster(seed: int) -> np.ndarray:
    """A few random anti-aliased strokes, as a pad might hold."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (PAD, PAD), 0)
    d = ImageDraw.Draw(img)
    for _ in range(rng.integers(1, 4)):
        pts = [tuple(map(float, p)) for p in rng.uniform(10, PAD - 10, (rng.integers(2, 6), 2))]
        d.line(pts, fill=255, width=int(rng.integers(6, 30)), joint="curve")
    return np.asarray(img.filter(ImageFilter.GaussianBlur(1.5)))


def test_mnist_digits_come_back_unchanged_through_a_png_and_the_pad():
    """MNIST's own construction, checked against its data: each of 300 test digits, saved as a PNG,
    uploaded (8 x 8 pad pixels a pixel) and prepared, is the digit again, bit for bit."""
    x = load_mnist10k().x[:300, 0].numpy()
    rule = drawing.rule_for("mnist10k", (1, 28, 28))
    for i, digit in enumerate(x):
        raster = drawing.raster_from_image(png((digit * 255).round().astype(np.uint8)), f"digit {i}.png")
        np.testing.assert_array_equal(drawing.prepare(raster, rule)[0], digit, err_msg=f"digit {i}")


def test_sprites_come_back_unchanged():
    sprites = make_sprites(n=50).x[:, 0].numpy()
    rule = drawing.rule_for("sprites", (1, 32, 32))
    for s in sprites:
        np.testing.assert_array_equal(drawing.prepare(up(s), rule)[0], s)


def test_optdigits_counts_the_bitmaps_blocks():
    """A 32 x 32 bitmap filling its box (corners on), drawn on the pad: the 8 x 8 input is its 4 x 4
    block counts / 16, as the UCI digits were made."""
    rule = drawing.rule_for("digits", (1, 8, 8))
    rng = np.random.default_rng(0)
    for _ in range(20):
        bits = (rng.random((32, 32)) < 0.4).astype(float)
        bits[0, 0] = bits[-1, -1] = 1
        want = bits.reshape(8, 4, 8, 4).sum((1, 3)) / 16
        np.testing.assert_array_equal(drawing.prepare(up(bits), rule)[0], want)


@pytest.mark.parametrize("seed", range(8))
def test_the_mnist_rule_fits_20_pixels_and_centres_the_mass(seed):
    raster = stroke_raster(seed)
    x = drawing.prepare(raster, drawing.rule_for("mnist", (1, 28, 28)))[0].astype(np.float64)
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    extent = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    assert extent == 20 or (rows[0] == 0 or cols[0] == 0 or rows[-1] == 27 or cols[-1] == 27)  # cut off at an edge
    i, j = np.mgrid[:28, :28]
    com = np.array([(x * i).sum(), (x * j).sum()]) / x.sum()
    inside = rows[0] > 0 and cols[0] > 0 and rows[-1] < 27 and cols[-1] < 27
    if inside:
        assert np.all(np.abs(com - 14) <= 0.5 + 1e-9), com
    assert 0 <= x.min() and x.max() <= 1


def test_the_area_rule_keeps_grey_levels_and_channels():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (28, 28)) / 255
    x = drawing.prepare(up(image), drawing.rule_for("user:things", (3, 28, 28)))
    assert x.shape == (3, 28, 28)
    for c in range(3):
        np.testing.assert_allclose(x[c], image, atol=1e-6)


def test_an_empty_pad_is_an_empty_input():
    for name, shape in [("mnist10k", (1, 28, 28)), ("digits", (1, 8, 8)), ("sprites", (1, 32, 32))]:
        assert not drawing.prepare(np.zeros((PAD, PAD), np.uint8), drawing.rule_for(name, shape)).any()


def test_points_have_no_rule():
    assert drawing.rule_for("toy2d:moons", (2,)) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 120), st.integers(1, 40))
def test_area_resampling_weights_sum_to_one_and_keep_the_mass(n_in, n_out):
    weights = np.zeros(n_out)
    for o, r, w in drawing.spans(n_in, n_out):
        assert 0 <= r < n_in and w > 0
        weights[o] += w
    np.testing.assert_allclose(weights, 1, atol=1e-12)
    a = np.random.default_rng(n_in).random((n_in, n_in + 3))
    out = drawing.resample(a, n_out, 5)
    np.testing.assert_allclose(out.sum() * n_in * (n_in + 3) / (n_out * 5), a.sum(), rtol=1e-9)


def test_a_photo_of_dark_ink_on_grey_paper_becomes_ink_on_nothing():
    paper = np.full((300, 400), 200, np.uint8)  # light grey paper, larger than the pad
    paper[100:200, 190:210] = 20                # a dark bar
    raster = drawing.raster_from_image(png(paper), "photo.png")
    assert raster.shape == (PAD, PAD)
    assert abs(int(raster.max()) - 180 / 200 * 255) <= 1 and np.median(raster) == 0  # ink 20 on paper 200
    ink = np.argwhere(raster > 128)
    assert abs(ink[:, 1].mean() - PAD / 2) < 3  # the bar, in the middle


def test_a_jpeg_and_a_transparent_png_are_read():
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 30:34] = (0, 0, 0, 255)  # black ink on a transparent background
    assert drawing.raster_from_image(png(rgba, "RGBA"), "ink.png").max() == 255
    buf = io.BytesIO()
    Image.fromarray(np.where(np.arange(64)[None, :] % 16 < 4, 0, 255).astype(np.uint8).repeat(64, 0)).save(buf, "JPEG")
    assert drawing.raster_from_image(buf.getvalue(), "ink.jpg").max() > 200


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(w: int = 50_000, h: int = 50_000) -> bytes:
    """A PNG that declares w x h pixels and holds almost nothing."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def hostile_pictures() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, words its refusal holds)."""
    good = png(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    gif = io.BytesIO()
    Image.new("L", (8, 8)).save(gif, format="GIF")
    return [
        ("empty.png", b"", "empty"),
        ("notes.png", b"these are my notes, not a picture\n" * 20, "not a PNG or JPEG"),
        ("cut.png", good[:len(good) * 2 // 3], "damaged"),
        ("bomb.png", bomb_png(), "pixels"),
        ("animation.png", gif.getvalue(), "not a PNG or JPEG"),
    ]


@pytest.mark.parametrize("name, data, words", hostile_pictures(), ids=lambda v: v if isinstance(v, str) else "")
def test_bad_pictures_are_refused_with_their_name(name, data, words):
    with pytest.raises(drawing.DrawingError) as e:
        drawing.raster_from_image(data, name)
    assert name in str(e.value) and words in str(e.value)


def test_too_large_a_file_is_refused_unread(monkeypatch):
    monkeypatch.setattr(drawing, "MAX_FILE_BYTES", 100)
    with pytest.raises(drawing.DrawingError, match="MB"):
        drawing.raster_from_image(png(np.zeros((28, 28), np.uint8)) + b"\0" * 200, "big.png")


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_or_read_never_anything_else(data):
    try:
        raster = drawing.raster_from_image(b"\x89PNG\r\n\x1a\n" + data, "fuzz.png")
    except drawing.DrawingError:
        return
    assert raster.shape == (PAD, PAD) and raster.dtype == np.uint8


def test_the_pads_png_round_trips_and_a_wrong_size_is_refused():
    raster = stroke_raster(3)
    np.testing.assert_array_equal(drawing.raster_from_pad(drawing.pad_png(raster)), raster)
    with pytest.raises(drawing.DrawingError, match="224"):
        drawing.raster_from_pad(png(np.zeros((100, 100), np.uint8)))


def test_nearest_codes_are_sorted_by_distance():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 3))
    z = rng.normal(size=3)
    idx = nearest(codes, z, 8)
    d = np.linalg.norm(codes - z, axis=1)
    np.testing.assert_array_equal(idx, np.argsort(d)[:8])
