"""What the pages' figures carry, built the fast way (typed arrays, layout shapes set at once, kept
nearest classes), checked against the plain computation: the data a screen reader's table lists, the
words a chart is named by, the marks on a map, the class named under a decoded picture."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from ui import plots, screen
from ui.views import Points, nearest_class
from vae_core.data import Dataset


def a_map(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = (rng.normal(size=(n, 2)) * [3.0, 0.5]).astype(np.float32)
    labels = rng.integers(0, 10, n)
    return xy, labels, plots.latent_map(xy, labels, [f"c{k}" for k in range(10)])


def test_a_typed_map_lists_every_point_and_sends_what_plotly_would():
    xy, labels, fig = a_map()
    rows = screen.table(fig)
    assert len(rows) == len(xy)
    for k in range(10):  # each class's points, in their order, exactly (float32 as given)
        got = rows[rows.series == f"c{k}"]
        np.testing.assert_array_equal(got[["x", "y"]].to_numpy(), xy[labels == k])
    # what the page receives decodes to the same numbers as plotly's own conversion of the arrays
    sent = json.loads(pio.to_json(fig, validate=False))["data"]
    plain = json.loads(pio.to_json(go.Figure(data=[dict(type="scattergl", x=xy[labels == k, 0],
                                                        customdata=np.flatnonzero(labels == k))
                                                   for k in range(10)]), validate=False))["data"]
    for s, p in zip(sent, plain):
        for key in ("x", "customdata"):
            np.testing.assert_array_equal(screen._array(s[key]), screen._array(p[key]))


def test_the_words_of_a_map_give_its_ranges_and_series():
    xy, labels, fig = a_map()
    words = screen.describe(fig)
    assert f"x axis z0 from {xy[:, 0].min():.3g} to {xy[:, 0].max():.3g}" in words
    assert f"y axis z1 from {xy[:, 1].min():.3g} to {xy[:, 1].max():.3g}" in words
    assert f"c3 ({(labels == 3).sum()} points)" in words
    # a heatmap: one row a cell, its x and y from the axes
    heat = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3), x=[10, 20, 30], y=[1, 2], name="h"))
    table = screen.table(heat)
    assert table[["x", "y", "z"]].to_numpy().tolist() == [[10, 1, 0], [20, 1, 1], [30, 1, 2], [10, 2, 3],
                                                          [20, 2, 4], [30, 2, 5]]
    assert "x axis from 10 to 30" in screen.describe(heat)
    # names on a category axis are not numbers: no range, still a series
    bars = go.Figure(go.Bar(x=["a", "b"], y=[3, 4], name="b"))
    assert screen.describe(bars) == "y axis from 3 to 4; b (2 points)"


def test_marks_added_at_once_are_the_marks_added_one_by_one():
    xy, labels, fig = a_map(200)
    one_by_one = go.Figure(fig)
    for r in (1, 2, 3):
        one_by_one.add_shape(type="circle", x0=-r, y0=-r, x1=r, y1=r, layer="below",
                             line=dict(color="rgba(80,80,80,0.5)", width=plots.style().line, dash="dot"))
    one_by_one.add_annotation(x=3 * 0.71, y=3 * 0.71, text="prior 1σ/2σ/3σ", showarrow=False,
                              font=dict(size=plots.style().font - 2, color="gray"))
    for x, y in xy[:4]:
        one_by_one.add_shape(type="circle", x0=x - 0.1, x1=x + 0.1, y0=y - 0.1, y1=y + 0.1,
                             line=dict(color=plots.style().ink, width=2 * plots.style().line))
    at_once = plots.add_rings(plots.add_prior_contours(go.Figure(fig)), xy[:4], 0.1)
    assert at_once.layout.shapes == one_by_one.layout.shapes  # the same shapes, in the same order
    assert at_once.layout.annotations == one_by_one.layout.annotations
    assert len(plots.add_layout(at_once).layout.shapes) == 7  # nothing to add: unchanged


def points(n: int = 2000, d: int = 3, seed: int = 0) -> Points:
    rng = np.random.default_rng(seed)
    y = torch.as_tensor(rng.integers(0, 10, n))
    data = Dataset("t", torch.zeros(n, 2), y, tuple(f"k{c}" for c in range(10)), (2,))
    return Points("validation split", data, rng.normal(size=(n, d)).astype(np.float32), None,
                  np.zeros(n), None)


@pytest.mark.parametrize("d", [2, 5])
def test_nearest_class_is_the_class_of_the_nearest_example(d):
    pts = points(d=d)
    rng = np.random.default_rng(1)
    for k in (1, 101):
        zs = rng.normal(size=(k, d)) * 1.5
        dist = ((zs[:, None, :].astype(np.float64) - pts.mu[None].astype(np.float64)) ** 2).sum(2)  # (K, N)
        want = [f"k{int(pts.data.y[i])}" for i in dist.argmin(1)]
        assert nearest_class(pts, zs) == want
        assert nearest_class(pts, zs) == want  # kept: the same again
    assert nearest_class(pts, pts.mu[7]) == [f"k{int(pts.data.y[7])}"]  # one code, an example's own
    for i in range(100):  # the memo stays bounded whatever the codes asked
        nearest_class(pts, rng.normal(size=(1, d)))
    assert len(pts.memo) <= 66
