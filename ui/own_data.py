"""This workspace's own datasets as the pages see them: their names in a select box, where a run's data
is read from, and a converted dataset's preview (the Your data page; vae_core.runs.datasets keeps them).

A config names a workspace's dataset `ws:<id>` (never a path); a page shows its display name
(ui.runs.dataset_label). The data of a run is read from its workspace's folder, or its owner's for a run opened by
its share link (`folder`): the folder is part of every cache key that holds such data, and is None
for a built-in dataset, so that every workspace shares one copy of MNIST.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from vae_core.data import own
from vae_core.data.own.limits import mb
from vae_core.runs import RunStoreError, data_folder, key_of

from . import picture, plots, runs, screen

PREVIEW = 64       # examples shown
MAP_POINTS = 5000  # points of a CSV shown in the preview's scatter


def folder(run_id: str, dataset: str) -> str | None:
    """The folder a run's own dataset is read from (vae_core.runs.data_folder), as text for a cache key;
    None for a built-in dataset."""
    return str(data_folder(runs.workspace(), run_id)) if own.is_own(dataset) else None


def names() -> dict[str, str]:
    """This workspace's datasets, newest first: their Config names ('ws:<id>') -> 'shoes · your data', as
    the Train form's box shows them."""
    return {d.dataset: f"{d.name} · your data" for d in runs.workspace().datasets()}


def is_points(dataset: str) -> bool:
    """Whether a workspace dataset holds points (a CSV), not images: its likelihood is Gaussian."""
    key = key_of(dataset)
    if key is None:
        return False
    try:
        return runs.workspace().dataset(key).report["converted"]["kind"] == "points"
    except RunStoreError:
        return False


def facts(report: dict, on_disk: int | None = None) -> None:
    """A dataset's numbers in one row: examples, shape, value range, labels, size."""
    c = report["converted"]
    labels = report["labels"]
    size = mb(on_disk if on_disk is not None else c["bytes"]) + (" on disk" if on_disk is not None else " stored")
    st.markdown(f"**{report['count']:,}** examples · each **{own.describe(c)}** · values **{c['range'][0]:.2f} to "
                f"{c['range'][1]:.2f}** · " + (f"**{len(labels):,}** labels" if labels else "**no labels**")
                + f" · {size}",
                help=f"Read from {plain(report['source'])} ({report['format']}): "
                     + "x".join(map(str, report["shape"])) + f" {report['dtype']}, values {report['range'][0]:g} to "
                     f"{report['range'][1]:g}. After conversion, pixels are in [0, 1] (kept as 8 bits), points in "
                     "[0.05, 0.95]; the space counts against this workspace's.")


def preview(conv: own.Converted, key: str = "data.preview", on_disk: int | None = None) -> None:
    """A converted dataset: its numbers, PREVIEW examples (every class shown) or, for points, the first two
    columns of all of them, the count of each label, and the notes of its conversion (inverted, resized,
    skipped files)."""
    prev, report = conv.preview(PREVIEW), conv.report.to_json()
    facts(report, on_disk)
    left, right = st.columns([3, 2])
    with left:
        if len(prev.image_shape) == 3:
            picture.show(prev.x, f"{len(prev.x)} examples as the models will see them, taken in turn from each class",
                         cols=16, size=64, stretch=True, download=f"{key}.png")
        else:
            x, y = conv.x, conv.y
            step = max(1, len(x) // MAP_POINTS)
            xy = x[::step, :2] if x.shape[1] > 1 else np.c_[x[::step, 0], np.full(len(x[::step]), 0.5)]
            screen.chart(plots.points_2d(xy, y[::step] if report["labels"] else None, height=320), key=f"{key}.points")
            columns = report["converted"].get("columns") or []
            st.caption(f"The points' first two columns ({', '.join(map(plain, columns[:2]))}), scaled into "
                       "[0.05, 0.95]" + (f"; {len(xy):,} of {len(x):,} shown" if step > 1 else ""))
    with right:
        if report["labels"]:
            screen.chart(plots.count_bars(prev.counts), key=f"{key}.counts")
            st.caption("Examples per label: the map is coloured by these.")
        else:
            st.caption(f"No labels: all {report['count']:,} examples are one class, `{own.conversion.UNLABELLED}`, "
                       "drawn in one colour on the map.")
        notes = report["converted"].get("notes") or []
        if notes:
            st.markdown("**What the conversion did**\n\n" + "\n".join(f"- {plain(n)}" for n in notes))


def plain(text: str) -> str:
    """Text from a file (its names) shown as itself, not as markdown."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!<>|~$" else ch for ch in str(text))
