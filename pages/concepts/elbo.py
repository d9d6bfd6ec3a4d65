"""The ELBO is a bound: log p(x) by brute force on a grid over the digits VAE's 2-D latent, against
the ELBO of a Gaussian q the user moves, and the IWAE bound closing the gap."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from ui import concept, picture, screen, widgets
from vae_core import zoo
from vae_core.concepts import elbo as E
from vae_core.data import load_split

MODEL_ID = "digits-vae-2d"

concept.start(
    "With a 2-D latent, p(x) = ∫ p(x|z) p(z) dz can be computed by brute force: decode a fine grid of z and "
    "add up. The shipped digits VAE then gives the true posterior p(z|x) too, and for any Gaussian q(z|x) the "
    "evidence splits exactly into the **ELBO** and the **gap** KL(q‖p(z|x)) ≥ 0, so the ELBO is never above "
    "log p(x). The encoder's q comes close; move q away and the ELBO falls by exactly what the gap grows. "
    "The IWAE bound averages k importance weights inside the log and climbs to log p(x) as k grows.",
    r"\log p(x) \;=\; \underbrace{\mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z))}_{\text{ELBO}}"
    r"\;+\; \underbrace{\mathrm{KL}(q(z|x)\,\|\,p(z|x))}_{\text{gap}\;\ge\;0}",
    "log p of x equals the ELBO, which is the expectation under q of z given x of log p of x given z, minus "
    "the KL divergence from q of z given x to the prior p of z; plus the gap, the KL divergence from q of z "
    "given x to the true posterior p of z given x, which is never negative.")


@st.cache_resource(show_spinner="Loading the digits VAE…")
def setup():
    """The shipped digits VAE (eval mode, CPU) and the validation examples it never trained on."""
    entry = next((e for e in zoo.load_manifest() if e.id == MODEL_ID), None)
    if entry is None:
        raise zoo.ZooError(f"{MODEL_ID} is not in the model zoo manifest")
    ckpt = zoo.load_entry(entry)
    cfg = ckpt.config
    model = ckpt.build_model(torch.device("cpu")).eval()
    return model, cfg, load_split(cfg)[1]


@st.cache_resource(max_entries=32, show_spinner="Integrating over the latent grid for this example…")
def example(i: int):
    """Everything that depends on the example only: its grid posterior, encoder q and IWAE curve."""
    model, cfg, val = setup()
    x = val.x[i:i + 1]
    with torch.no_grad():
        return E.posterior_grid(model, x, cfg), E.encoder_q(model, x), E.iwae_curve(model, x, cfg)


try:
    model, cfg, val = setup()
except (zoo.ZooError, ValueError) as e:
    st.error(f"The digits VAE cannot be loaded: {e}")
    st.stop()

top = st.columns([1, 1, 1, 1, 1, 1.4])
i = top[0].number_input("example (validation set)", 0, len(val) - 1, widgets.kept("elbo.i", 0), key="elbo.i")
grid, (mu_enc, sigma_enc), iwae = example(i)
x = val.x[i:i + 1]

keys = [f"elbo.{name}.{i}" for name in ("mu0", "mu1", "s0", "s1")]  # per example: q starts at the encoder's


def snap(mu, sigma) -> None:
    for k, v in zip(keys, [*np.clip(mu, -2.5, 2.5), *np.clip(sigma, 0.05, 0.6)]):
        st.session_state[k] = round(float(v), 2)


def snap_best() -> None:
    m, s = [st.session_state.get(k) for k in keys[:2]], [st.session_state.get(k) for k in keys[2:]]
    snap(*E.best_gaussian(grid, m, s))


for k, v in zip(keys, [*mu_enc, *sigma_enc]):
    st.session_state.setdefault(k, round(float(np.clip(v, *((-2.5, 2.5) if "mu" in k else (0.05, 0.6)))), 2))
mu = [top[1].slider("q: μ₀", -2.5, 2.5, step=0.01, key=keys[0]), top[2].slider("q: μ₁", -2.5, 2.5, step=0.01, key=keys[1])]
sigma = [top[3].slider("q: σ₀", 0.05, 0.6, step=0.01, key=keys[2]), top[4].slider("q: σ₁", 0.05, 0.6, step=0.01, key=keys[3])]
with top[5]:
    st.button("q = the encoder's output", on_click=snap, args=(mu_enc, sigma_enc), key="elbo.reset", width="stretch",
              help="μ and σ as the encoder returns them for this x, rounded to the sliders' steps of 0.01")
    st.button("q = the best Gaussian", on_click=snap_best, key="elbo.best", width="stretch",
              help="argmin of KL(q‖p(z|x)) on the grid over diagonal Gaussians: the best any encoder could do for this x")

terms = E.elbo(model, x, cfg, mu, sigma)
gap = float(E.gap(grid, mu, sigma))
c = st.columns([1, 1, 1, 1, 2])
c[0].metric("log p(x), by the grid", f"{grid.log_px:.3f}")
c[1].metric("ELBO", f"{terms['elbo']:.3f}", help=f"E_q[log p(x|z)] = {terms['expected_log_lik']:.3f} "
            f"(Gauss-Hermite quadrature), minus KL(q‖p(z)) = {terms['kl_prior']:.3f} (closed form)")
c[2].metric("gap KL(q‖p(z|x))", f"{gap:.3f}", help="by the grid")
c[3].metric("ELBO + gap", f"{terms['elbo'] + gap:.3f}", delta=f"{terms['elbo'] + gap - grid.log_px:+.4f} vs log p(x)",
            delta_color="off", delta_arrow="off")
c[4].markdown(f"In nats, for this **{val.class_names[int(val.y[i])]}**. The ELBO and the gap are computed apart "
              f"(quadrature and closed form vs a sum over {len(grid.axis)}² grid points), yet they add up to log p(x).")

left, right = st.columns([3, 2])
with left:
    pm, ps = grid.posterior_moments()
    half = float(max(4 * ps.max(), *(np.abs(np.array(mu) - pm) + 4 * np.array(sigma)), 0.5))
    fig = make_subplots(1, 2, subplot_titles=("the whole latent plane", "zoomed in on x's posterior"),
                        horizontal_spacing=0.08)
    axis = grid.axis.numpy()
    # the posterior as a "radius" sqrt(-2 log(p / max p)): its contours 1, 2, 3 are the 1σ, 2σ, 3σ lines
    # of a Gaussian; prior and q are Gaussians, drawn exactly as circles and ellipses
    log_post = grid.log_posterior.numpy()
    radius = np.sqrt(np.maximum(-2 * (log_post - log_post.max()), 0))
    inside = [(axis >= pm[d] - half) & (axis <= pm[d] + half) for d in range(2)]
    shapes = []
    for col, (xs, ys, r) in ((1, (axis[::3], axis[::3], radius[::3, ::3])),
                             (2, (axis[inside[0]], axis[inside[1]], radius[np.ix_(inside[1], inside[0])]))):
        fig.add_trace(go.Contour(x=xs, y=ys, z=r, contours=dict(start=1, end=3, size=1, coloring="none"),
                                 line=dict(color="#222222", width=1.8), showscale=False, name="true posterior p(z|x)",
                                 showlegend=col == 1, hoverinfo="skip"), 1, col)
        ref = dict(xref="x" if col == 1 else "x2", yref="y" if col == 1 else "y2", type="circle")
        for k in (1, 2, 3):  # collected and set at once: fig.add_shape rebuilds the layout each call
            shapes.append(dict(ref, x0=-k, x1=k, y0=-k, y1=k, line=dict(color="#7f7f7f", width=1.2, dash="dot")))
            shapes.append(dict(ref, x0=mu[0] - k * sigma[0], x1=mu[0] + k * sigma[0], y0=mu[1] - k * sigma[1],
                               y1=mu[1] + k * sigma[1], line=dict(color="#d62728", width=2.2)))
        fig.add_trace(go.Scatter(x=[mu[0]], y=[mu[1]], mode="markers", marker=dict(color="#d62728", size=8),
                                 name="q(z|x): μ and 1, 2, 3σ", showlegend=col == 1), 1, col)
        fig.add_trace(go.Scatter(x=[mu_enc[0]], y=[mu_enc[1]], mode="markers", name="encoder's μ",
                                 marker=dict(color="black", symbol="x", size=9), showlegend=col == 1), 1, col)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="prior p(z): 1, 2, 3σ",
                             line=dict(color="#7f7f7f", dash="dot")), 1, 1)
    fig.update_xaxes(range=[-4.5, 4.5], row=1, col=1)
    fig.update_yaxes(range=[-4.5, 4.5], row=1, col=1)
    fig.update_xaxes(range=[pm[0] - half, pm[0] + half], row=1, col=2)
    fig.update_yaxes(range=[pm[1] - half, pm[1] + half], row=1, col=2)
    fig.update_xaxes(title_text="z₀")
    fig.update_yaxes(title_text="z₁", col=1)
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(height=430, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.18),
                      shapes=shapes)
    screen.chart(fig, key="elbo.contours")
    st.caption("Contours at 1, 2 and 3 standard deviations of each density (for the non-Gaussian posterior: "
               "where it falls to e^(−½), e^(−2), e^(−4.5) of its peak).")
with right:
    picture.show(x.numpy(), f"example #{i}, label {val.class_names[int(val.y[i])]}", size=96)
    ks = [r["k"] for r in iwae]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ks, y=[r["bound"] for r in iwae], mode="lines+markers", name="IWAE L_k",
                             error_y=dict(type="data", array=[2 * r["se"] for r in iwae]), line=dict(color="#9467bd")))
    fig.add_trace(go.Scatter(x=[ks[0], ks[-1]], y=[grid.log_px] * 2, mode="lines", name="log p(x), by the grid",
                             line=dict(color="black", dash="dash")))
    fig.update_xaxes(type="log", title_text="k (samples from the encoder's q)")
    fig.update_layout(height=290, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="nats",
                      title="IWAE bound, encoder's q (± 2 SE)", legend=dict(orientation="h", y=-0.35))
    screen.chart(fig, key="elbo.iwae")
    st.dataframe(pd.DataFrame({"k": ks, "L_k": [r["bound"] for r in iwae], "± SE": [r["se"] for r in iwae],
                               "log p(x) − L_k": [grid.log_px - r["bound"] for r in iwae]}).round(3),
                 hide_index=True, key="elbo.iwae_table")
    st.caption("Each L_k is random: shown is the mean of several estimates (up to 8,000 decoder calls per k) with its "
               "standard error. Its expectation is a lower bound that climbs to log p(x) as k grows; the mean of a "
               "few estimates can overshoot by a standard error or two.")
if grid.edge_mass() > 1e-4:
    st.warning(f"{grid.edge_mass():.1%} of this posterior lies on the edge of the grid: log p(x) is underestimated.")
