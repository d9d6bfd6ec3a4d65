"""Drawing for the Compare and Rate–distortion pages: several runs at once (vae_core.compare computes)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from vae_core.compare import RDPoint, elbo_levels, example_indices, group_lines, iso_elbo_segment
from vae_core.data import Dataset, load_dataset
from vae_core.latent import encode
from vae_core.metrics import active_units
from vae_core.runs import Run

from . import plots, runs, views
from .presentation import style

COMPARE_POINTS = 2000  # examples encoded by every compared model (the same ones for all)


@st.cache_data(max_entries=256, show_spinner=False)
def _active_units(run_id: str, stamp: str) -> int | None:
    got = runs.latest_model(run_id)
    if got is None:
        return None
    ckpt, model = got
    if not model.variational:
        return None
    _, val = views.split_of(run_id, ckpt.config)
    mu, _ = encode(model, val.x, val.y if model.n_cond else None)
    return active_units(mu.cpu())[0]  # Burda et al., threshold 0.01 (vae_core.metrics)


def active_units_of(run: Run) -> int | None:
    """From the run's metrics, else computed once on its validation split and cached by checkpoint."""
    n = run.metrics.get("active_units")
    if isinstance(n, int):
        return n
    ws = runs.workspace()
    try:
        return _active_units(run.id, ws.checkpoint_stamp(run.id)) if ws.has_checkpoint(run.id) else None
    except (OSError, ValueError):
        return None


# --- the rate–distortion plane ------------------------------------------------------------------


def rd_figure(points: list[RDPoint], units: dict[str, int | None], active_id: str | None,
              height: int = 520) -> go.Figure:
    """Rate (x) against distortion (y), faint labelled lines of equal -ELBO, groups joined by a line.
    customdata of the point traces holds run ids (the page reads a click from it)."""
    fig = go.Figure()
    s = style()
    rates = np.array([p.rate for p in points])
    dists = np.array([p.distortion for p in points])
    pad_r = 0.08 * max(np.ptp(rates), 1.0)
    pad_d = 0.08 * max(np.ptp(dists), 1.0)
    r_range = (max(rates.min() - pad_r, 0.0), rates.max() + pad_r)
    d_range = (max(dists.min() - pad_d, 0.0), dists.max() + pad_d)
    for level in elbo_levels(points):
        r, d = iso_elbo_segment(float(level), r_range)
        if len(r) == 0:
            continue
        fig.add_trace(go.Scatter(x=r, y=d, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(color="rgba(120,120,120,0.35)", width=1, dash="dot")))
        # the label inside the plot, where the line enters it: at the left edge, else at the top edge
        x_lab = r_range[0] if float(level) - r_range[0] <= d_range[1] else float(level) - d_range[1]
        if x_lab < r_range[1] - 0.2 * np.ptp(r_range) and float(level) - x_lab >= d_range[0]:
            fig.add_annotation(x=x_lab, y=float(level) - x_lab, text=f"−ELBO = {level:g}", showarrow=False,
                               xanchor="left", yanchor="top", textangle=0, xshift=4,
                               font=dict(size=s.font - 3, color="gray"))
    lines = group_lines(points)
    grouped = {p.run_id for members in lines.values() for p in members}
    for i, (group, members) in enumerate(lines.items()):
        fig.add_trace(go.Scatter(x=[p.rate for p in members], y=[p.distortion for p in members], mode="lines",
                                 name=group, hoverinfo="skip", line=dict(color=plots.color(i), width=1.5)))
    labels = _labels(points, np.ptp(r_range), np.ptp(d_range), set(grouped))
    for p in points:
        au = units.get(p.run_id)
        chosen = p.run_id == active_id
        fig.add_trace(go.Scatter(
            x=[p.rate], y=[p.distortion], mode="markers+text", text=[labels[p.run_id]],
            textposition="top right" if p.run_id in grouped else "bottom right",
            customdata=[[p.run_id, p.name, p.beta, p.latent_dim, "?" if au is None else au]], showlegend=False,
            marker=dict(size=16 if chosen else 11, color=s.ink if chosen else "#1f77b4",
                        symbol="star" if chosen else "circle", line=dict(width=1, color="white")),
            hovertemplate="<b>%{customdata[1]}</b><br>β = %{customdata[2]}, latent_dim = %{customdata[3]}, "
                          "active units = %{customdata[4]}<br>rate %{x:.2f} nats · distortion %{y:.2f} nats"
                          "<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="rate: val KL(q(z|x) ‖ p(z)), nats",
                      yaxis_title="distortion: val −log p(x|z), nats", clickmode="event+select",
                      legend=dict(x=0.99, xanchor="right", y=0.85, yanchor="top"), xaxis_range=r_range, yaxis_range=d_range)
    return plots.styled(fig)


def _labels(points: list[RDPoint], x_span: float, y_span: float, in_sweeps: set[str]) -> dict[str, str]:
    """'β 0.5' beside each sweep member, the model's kind beside other points ('VAE 2-D'); points
    within 2% of the axes of each other (collapsed models all at rate 0) share one label
    'β 4, 8, 16' on the first of them, so labels never overlap."""
    labels: dict[str, str] = {}
    clusters: list[list[RDPoint]] = []
    for p in sorted(points, key=lambda p: p.beta):
        for c in clusters:
            if abs(c[0].rate - p.rate) < 0.02 * x_span and abs(c[0].distortion - p.distortion) < 0.02 * y_span:
                c.append(p)
                break
        else:
            clusters.append([p])
    for c in clusters:
        sweep = [p for p in c if p.run_id in in_sweeps]
        others = [f"{p.kind} {p.latent_dim}-D" for p in c if p.run_id not in in_sweeps]
        labels[c[0].run_id] = " · ".join((["β " + ", ".join(f"{p.beta:g}" for p in sweep)] if sweep else []) + others)
        labels.update({p.run_id: "" for p in c[1:]})
    return labels


# --- the compared models on the same examples ------------------------------------------------------


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def compare_data(dataset: str, folder: str | None = None) -> Dataset:
    """The same COMPARE_POINTS examples of the dataset for every compared model (fixed indices). `folder`:
    where a workspace's own dataset is read from (ui.own_data.folder)."""
    data = load_dataset(dataset, workspace=folder)
    return data.subset(torch.from_numpy(example_indices(len(data), COMPARE_POINTS, seed=0)))


@st.cache_resource(max_entries=16, show_spinner="Encoding the examples…")
def codes(stamp: str, run_id: str, dataset: str, folder: str | None = None) -> np.ndarray:
    """The run's codes mu(x) of compare_data(dataset, folder), (N, D); cached by checkpoint stamp."""
    got = runs.latest_model(run_id)
    ckpt, model = got
    data = compare_data(dataset, folder)
    mu, _ = encode(model, data.x, data.y if model.n_cond else None)
    return mu.cpu().numpy()


def in_two_dims(mu: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    """(N, D) codes -> (N, 2) for the map: the dims themselves when D <= 2, else PCA (as the Latent space page)."""
    if mu.shape[1] == 1:
        return np.concatenate([mu, np.zeros_like(mu)], 1), ("z0", "")
    if mu.shape[1] == 2:
        return mu, ("z0", "z1")
    from vae_core.projection import PCA
    pca = PCA.fit(mu)
    return pca.apply(mu), ("PC1", "PC2")


def compare_map(xy: np.ndarray, data: Dataset, names, selected: list[int]) -> go.Figure:
    """A latent map coloured by class (the same colours on every map), the shared selection ringed."""
    fig = plots.latent_map(xy, data.y.numpy(), data.class_names, axis_names=names, height=270, size=5,
                           opacity=0.6)
    if selected:
        sel = np.asarray(selected)
        fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=f"selected ({len(sel)})",
                                   hoverinfo="skip", customdata=sel,
                                   marker=dict(size=8, color="rgba(0,0,0,0)", line=dict(width=1, color=style().ink))))
    fig.update_layout(dragmode="select", showlegend=False)
    return fig


def history_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], term: str, height: int = 320) -> go.Figure:
    """Each run's curve of one term on one epoch axis."""
    fig = go.Figure()
    for i, (name, (x, y)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=plots.color(i), width=1.5)))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="epoch",
                      yaxis_title=f"validation {term}, nats per example", legend=dict(orientation="h", y=1.15))
    return plots.styled(fig)
