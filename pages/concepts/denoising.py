"""Denoising and contraction on the two moons: where a DAE sends corrupted points, and how strongly a
contractive AE's encoder reacts to its input compared with a plain AE's."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ui import concept, screen, widgets
from vae_core.concepts import contraction as C
from vae_core.data import load_dataset

concept.start(
    "A denoising AE sees a corrupted point x̃ and must rebuild the clean x, so it learns to point from x̃ back to "
    "the data. It only learns that where training put corrupted points, within a few σ of the data: from farther "
    "away nothing told it what to do, and its arrows head roughly for the data but land wide of it. A contractive AE instead penalises the Jacobian of its encoder, "
    "so its code barely moves as x moves, except along the data where it must still tell points apart.",
    r"\mathcal{L}_{\mathrm{DAE}} = \mathbb{E}\,\|x - g(f(\tilde x))\|^2,\;\tilde x = x + \epsilon"
    r"\qquad \mathcal{L}_{\mathrm{CAE}} = \|x - g(f(x))\|^2 + \lambda\,\Big\|\frac{\partial f(x)}{\partial x}\Big\|_F^2",
    "the denoising loss is the expected squared distance between x and g of f of x tilde, where x tilde is x "
    "plus noise epsilon; the contractive loss is the squared distance between x and g of f of x, plus lambda "
    "times the squared Frobenius norm of the Jacobian of f at x.")

DATA = "toy2d:moons"
LANDED = 0.05  # an arrow "lands on the data" when its end is this close to a data point
c = st.columns(4)
noise = concept.steps(c[0], "DAE noise σ", [0.05, 0.1, 0.2], 0.05, "den.noise")
FROM = ["a grid over the plane", "corrupted data"]
starts = c[1].radio("arrows from", FROM, widgets.kept_index(FROM, "den.from", FROM[0]), key="den.from", horizontal=True)
lam = concept.steps(c[2], "contractive weight λ", [0.01, 0.1, 1.0], 0.1, "den.lam")
dae_cfg, cae_cfg, ae_cfg = (C.toy_config("dae", noise=noise), C.toy_config("contractive_ae", contractive_weight=lam),
                            C.toy_config("ae"))
models = concept.trained({"a denoising AE": dae_cfg, "a contractive AE": cae_cfg, "a plain AE": ae_cfg})
if models is None:
    st.stop()
dae, cae, ae = models.values()

N_GRID = 60


@st.cache_resource(max_entries=16, show_spinner="Sending points through the autoencoder…")
def arrows(key: str, starts: str, noise: float, _model):
    data = load_dataset(DATA).x
    if starts == "corrupted data":
        x0 = C.corrupted(data[::8], noise, seed=1)  # (250, 2)
    else:
        x0 = C.plane(19, *C.WIDE_PLANE)[1]          # (361, 2)
    got = C.arrows(_model, x0, data)
    bands = C.by_distance(got["d_start"], got["d_end"], [0, 2 * noise, 0.5, 1.0, float("inf")])
    return {k: v.numpy() for k, v in got.items()}, bands


@st.cache_resource(max_entries=16, show_spinner="Measuring the encoder's Jacobian over the plane…")
def jacobian_map(key: str, _model):
    axis, pts = C.plane(N_GRID)
    data = load_dataset(DATA).x
    return (axis.numpy(), C.jacobian_norm(_model, pts).view(N_GRID, N_GRID).numpy(),
            C.jacobian_norm(_model, data).numpy())


data = load_dataset(DATA).x.numpy()
got, bands = arrows(concept.key_of(dae_cfg), starts, noise, dae)
x0, x1, landed = got["start"], got["end"], got["d_end"] <= LANDED
left, right = st.columns(2)
with left:
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=data[:, 0], y=data[:, 1], mode="markers", name="data", hoverinfo="skip",
                               marker=dict(size=3, color="#999999")))
    for mask, name, color in ((landed, f"lands on the data (within {LANDED:g})", "#1f77b4"),
                              (~landed, "lands wide of it", "#d62728")):
        if not mask.any():
            continue
        k = int(mask.sum())
        xs = np.stack([x0[mask, 0], x1[mask, 0], np.full(k, np.nan)], 1).ravel()
        ys = np.stack([x0[mask, 1], x1[mask, 1], np.full(k, np.nan)], 1).ravel()
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, hoverinfo="skip",
                                 line=dict(color=color, width=1), opacity=0.8,
                                 marker=dict(symbol="arrow", size=8, angleref="previous", color=color,
                                             opacity=[0, 1, 0] * k)))
    lo, hi = C.WIDE_PLANE if starts == FROM[0] else C.PLANE
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=30, b=10), title="x̃ → the DAE's reconstruction",
                      legend=dict(orientation="h", y=-0.1), xaxis_range=[lo, hi], yaxis_range=[lo, hi])
    fig.update_yaxes(scaleanchor="x")
    screen.chart(fig, key="den.arrows")
    st.markdown("Where the arrows land, by how far from the data they start (distance to the nearest data point):  \n" +
                "  \n".join(f"from {b['from']:g}–{b['to']:g} away" .replace("–inf", "+") +
                           f" ({b['n']} arrows): lands **{b['d_end']:.3f}** from the data on average"
                           for b in bands))
with right:
    axis, j_cae, on_cae = jacobian_map(concept.key_of(cae_cfg), cae)
    _, j_ae, on_ae = jacobian_map(concept.key_of(ae_cfg), ae)
    logs = np.log10(np.stack([j_cae, j_ae]) + 1e-6)
    lo, hi = float(logs.min()), float(logs.max())
    fig = make_subplots(1, 2, subplot_titles=(f"contractive AE, λ = {lam:g}", "plain AE"), horizontal_spacing=0.05)
    for col, j in ((1, logs[0]), (2, logs[1])):
        fig.add_trace(go.Heatmap(x=axis, y=axis, z=j, zmin=lo, zmax=hi, colorscale="Magma", showscale=col == 2,
                                 colorbar=dict(title=dict(text="log₁₀‖J‖", side="right"), len=0.9, thickness=12),
                                 hovertemplate="x=(%{x:.2f}, %{y:.2f})<br>log₁₀‖J‖=%{z:.2f}<extra></extra>"), 1, col)
        fig.add_trace(go.Scattergl(x=data[::4, 0], y=data[::4, 1], mode="markers", hoverinfo="skip", showlegend=False,
                                   marker=dict(size=2, color="rgba(120,220,255,0.8)")), 1, col)
    fig.update_xaxes(range=list(C.PLANE), constrain="domain")
    fig.update_yaxes(range=list(C.PLANE), constrain="domain")
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
    screen.chart(fig, key="den.jacobian")
    m = st.columns(2)
    m[0].metric("‖J‖_F on the data, contractive", f"{np.median(on_cae):.2f}", help="median over the data points")
    m[1].metric("‖J‖_F on the data, plain", f"{np.median(on_ae):.2f}", help="median over the data points")
    st.caption("‖∂code/∂x‖_F at each point of the plane (colour, log scale shared by both maps), with the data "
               "in blue. A small norm: moving x there hardly changes the code.")
