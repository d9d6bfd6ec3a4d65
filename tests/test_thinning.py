"""The examples drawn at their places: thinning (vae_core.thinning) and the picture (ui.plots.add_thumbnails)."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ui import plots
from vae_core.thinning import thin, tile_size


def max_norm_distances(xy: np.ndarray) -> np.ndarray:
    """(K, K) Chebyshev distances, the brute-force reference; the diagonal is inf."""
    d = np.abs(xy[:, None, :] - xy[None, :, :]).max(axis=2)
    np.fill_diagonal(d, np.inf)
    return d


@pytest.mark.parametrize("seed", [0, 1])
def test_kept_points_never_overlap_and_nothing_else_fits(seed):
    xy = np.random.default_rng(seed).normal(size=(3000, 2)) * [2.0, 0.5]  # anisotropic cloud
    spacing = 0.3
    keep = thin(xy, spacing, max_points=10_000, seed=seed)
    assert len(set(keep.tolist())) == len(keep)
    assert max_norm_distances(xy[keep]).min() >= spacing  # squares of side `spacing` do not overlap
    # greedy and maximal: every point left out overlaps a kept one
    left_out = np.setdiff1d(np.arange(len(xy)), keep)
    d = np.abs(xy[left_out, None, :] - xy[None, keep, :]).max(axis=2)  # (N - K, K)
    assert (d.min(axis=1) < spacing).all()


def test_thinning_is_seeded_bounded_and_skips_non_finite_points():
    xy = np.random.default_rng(0).uniform(size=(2000, 2))
    xy[5] = np.nan
    a, b = thin(xy, 0.05, max_points=50, seed=3), thin(xy, 0.05, max_points=50, seed=3)
    assert np.array_equal(a, b) and len(a) == 50 and 5 not in a
    assert not np.array_equal(a, thin(xy, 0.05, max_points=50, seed=4))
    assert len(thin(xy, 10.0)) == 1  # everything overlaps one square
    assert thin(np.zeros((0, 2)), 1.0).shape == (0,)
    with pytest.raises(ValueError):
        thin(xy, 0.0)


def test_tile_size_ignores_outliers():
    xy = np.random.default_rng(0).uniform(0, 10, size=(1000, 2))
    assert tile_size(xy, per_axis=20) == pytest.approx(10 / 20, rel=0.05)
    xy[:3] = 1e6  # a few codes far away do not shrink every picture
    assert tile_size(xy, per_axis=20) == pytest.approx(10 / 20, rel=0.05)


def decoded(source: str) -> np.ndarray:
    assert source.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def test_thumbnails_land_at_their_points_in_their_class_colour():
    xy = np.array([[0.0, 0.0], [3.0, 1.0]])
    images = np.zeros((2, 1, 8, 8), np.float32)
    images[0, 0, 0, 0] = 1.0   # top-left pixel of the first image
    images[1, 0, 7, 7] = 0.5   # bottom-right pixel of the second, half grey
    fig = plots.latent_map(xy, np.array([0, 1]), ["a", "b"])
    plots.add_thumbnails(fig, xy, images, np.array([0, 1]), spacing=1.0)
    (layout_image,) = fig.layout.images
    canvas = decoded(layout_image.source)  # (H, W, 4) RGBA
    px = 24  # 8x8 upscaled by 3
    # the picture spans from the first square's top-left corner, 1 map unit = px pixels
    assert (layout_image.x, layout_image.y) == (-0.5, 1.5)
    assert layout_image.sizex * px == pytest.approx(canvas.shape[1])
    assert layout_image.sizey * px == pytest.approx(canvas.shape[0])
    # first image: its corner pixel, opaque, in class 0's colour; at map (-0.5, 0.5) = pixel row 24, col 0
    assert canvas[px, 0].tolist() == [*bytes.fromhex(plots.color(0)[1:]), 255]
    # second: centred on (3, 1), its bottom-right 3x3 block ends at map (3.5, 0.5) = row 24, col 96
    assert canvas[px - 1, 4 * px - 1].tolist() == [*bytes.fromhex(plots.color(1)[1:]), 128]
    assert canvas[..., 3].astype(bool).sum() == 9 + 9  # nothing else drawn
    assert all(t.marker.opacity == 0.04 for t in fig.data)  # the points fade behind the pictures


# --- long training curves, drawn as bucket means (ui/plots.py) --------------------------------


@pytest.mark.parametrize("n_steps", [10, 1000, 1001, 99_999])
def test_a_long_curve_is_drawn_as_bucket_means(n_steps):
    from ui.plots import CURVE_POINTS, bucket_means

    rng = np.random.default_rng(0)
    steps = np.arange(1, n_steps + 1)
    values = rng.normal(size=n_steps).cumsum()
    xs, ys = bucket_means(steps, values)
    assert len(xs) == len(ys) <= 2 * CURVE_POINTS
    assert xs[-1] == n_steps and np.all(np.diff(xs) > 0)
    if n_steps <= CURVE_POINTS:
        assert np.array_equal(ys, values)
        return
    k = int(xs[0])  # the first bucket ends at step k: it is the mean of steps 1..k
    for x, y in zip(xs, ys):  # each point: the mean of the steps since the previous point
        lo = int(x) - k if x <= (n_steps // k) * k else int(x) - 1
        assert y == pytest.approx(values[lo:int(x)].mean())
