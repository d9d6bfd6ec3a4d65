"""Denoising and contraction on the two moons: where a DAE sends corrupted points, and how strongly a
contractive AE's encoder reacts to its input compared with a plain AE's."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from ui import concept
from vae_core.concepts import contraction as C
from vae_core.data import load_dataset

concept.start(
    "Denoising and contraction",
    "A denoising AE sees a corrupted point x̃ and must rebuild the clean x, so it learns to point from x̃ back to "
    "the data. It only learns that where training put corrupted points, near the data: far from it nothing told "
    "it what to do, and its arrows go astray. A contractive AE instead penalises the Jacobian of its encoder, "
    "so its code barely moves as x moves, except along the data where it must still tell points apart.",
    r"\mathcal{L}_{\mathrm{DAE}} = \mathbb{E}\,\|x - g(f(\tilde x))\|^2,\;\tilde x = x + \epsilon"
    r"\qquad \mathcal{L}_{\mathrm{CAE}} = \|x - g(f(x))\|^2 + \lambda\,\Big\|\frac{\partial f(x)}{\partial x}\Big\|_F^2")

DATA = "toy2d:moons"
c = st.columns(4)
noise = concept.keep("den.noise", c[0].select_slider("DAE noise σ", [0.05, 0.1, 0.2], concept.kept("den.noise", 0.1),
                                                     key="den.noise"))
starts = concept.keep("den.from", c[1].radio("arrows from", ["corrupted data", "a grid over the plane"],
                                              ["corrupted data", "a grid over the plane"].index(
                                                  concept.kept("den.from", "a grid over the plane")),
                                              key="den.from", horizontal=True))
lam = concept.keep("den.lam", c[2].select_slider("contractive weight λ", [0.01, 0.1, 1.0], concept.kept("den.lam", 0.1),
                                                 key="den.lam"))
dae_cfg, cae_cfg, ae_cfg = (C.toy_config("dae", noise=noise), C.toy_config("contractive_ae", contractive_weight=lam),
                            C.toy_config("ae"))
models = concept.trained({"a denoising AE": dae_cfg, "a contractive AE": cae_cfg, "a plain AE": ae_cfg})
if models is None:
    st.stop()
dae, cae, ae = models.values()

N_GRID = 60


@st.cache_resource(max_entries=16)
def arrows(key: str, starts: str, noise: float, _model):
    data = load_dataset(DATA).x
    if starts == "corrupted data":
        x0 = C.corrupted(data[::8], noise, seed=1)  # (250, 2)
    else:
        x0 = C.plane(21)[1]                          # (441, 2)
    x1 = C.reconstruct(_model, x0)
    return x0.numpy(), x1.numpy(), C.distance_to(x0, data).numpy(), C.distance_to(x1, data).numpy()


@st.cache_resource(max_entries=16)
def jacobian_map(key: str, _model):
    axis, pts = C.plane(N_GRID)
    data = load_dataset(DATA).x
    return (axis.numpy(), C.jacobian_norm(_model, pts).view(N_GRID, N_GRID).numpy(),
            C.jacobian_norm(_model, data).numpy())


data = load_dataset(DATA).x.numpy()
x0, x1, d0, d1 = arrows(concept.key_of(dae_cfg), starts, noise, dae)
near = d0 <= 2 * noise
left, right = st.columns(2)
with left:
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=data[:, 0], y=data[:, 1], mode="markers", name="data", hoverinfo="skip",
                               marker=dict(size=3, color="#bbbbbb")))
    for mask, name, color in ((near, f"from within 2σ = {2 * noise:g} of the data", "#1f77b4"),
                              (~near, "from farther away", "#ff7f0e")):
        if not mask.any():
            continue
        xs = np.stack([x0[mask, 0], x1[mask, 0], np.full(mask.sum(), np.nan)], 1).ravel()
        ys = np.stack([x0[mask, 1], x1[mask, 1], np.full(mask.sum(), np.nan)], 1).ravel()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, hoverinfo="skip",
                                 line=dict(color=color, width=1.2),
                                 marker=dict(symbol="arrow", size=7, angleref="previous", color=color,
                                             opacity=[0, 1, 0] * int(mask.sum()))))
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=30, b=10), title="x̃ → the DAE's reconstruction",
                      legend=dict(orientation="h", y=-0.12), xaxis_range=list(C.PLANE), yaxis_range=list(C.PLANE))
    fig.update_yaxes(scaleanchor="x")
    st.plotly_chart(fig, key="den.arrows")
    parts = []
    for mask, where in ((near, "near the data"), (~near, "farther away")):
        if mask.any():
            parts.append(f"{where}, the distance to the nearest data point goes from {d0[mask].mean():.3f} to "
                         f"**{d1[mask].mean():.3f}** on average ({mask.sum()} arrows)")
    st.markdown("; ".join(parts).capitalize() + ".")
with right:
    axis, j_cae, on_cae = jacobian_map(concept.key_of(cae_cfg), cae)
    _, j_ae, on_ae = jacobian_map(concept.key_of(ae_cfg), ae)
    logs = np.log10(np.stack([j_cae, j_ae]) + 1e-6)
    lo, hi = float(logs.min()), float(logs.max())
    fig = make_subplots(1, 2, subplot_titles=(f"contractive AE, λ = {lam:g}", "plain AE"), horizontal_spacing=0.05)
    for col, j in ((1, logs[0]), (2, logs[1])):
        fig.add_trace(go.Heatmap(x=axis, y=axis, z=j, zmin=lo, zmax=hi, colorscale="Magma", showscale=col == 2,
                                 colorbar=dict(title="log₁₀ ‖J‖_F", len=0.8),
                                 hovertemplate="x=(%{x:.2f}, %{y:.2f})<br>log₁₀‖J‖=%{z:.2f}<extra></extra>"), 1, col)
        fig.add_trace(go.Scattergl(x=data[::4, 0], y=data[::4, 1], mode="markers", hoverinfo="skip", showlegend=False,
                                   marker=dict(size=2, color="rgba(120,220,255,0.8)")), 1, col)
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=40, b=10), title="")
    st.plotly_chart(fig, key="den.jacobian")
    m = st.columns(2)
    m[0].metric("‖J‖_F on the data, contractive", f"{np.median(on_cae):.2f}", help="median over the data points")
    m[1].metric("‖J‖_F on the data, plain", f"{np.median(on_ae):.2f}", help="median over the data points")
    st.caption("‖∂code/∂x‖_F at each point of the plane (colour, log scale shared by both maps), with the data "
               "in blue. A small norm: moving x there hardly changes the code.")
