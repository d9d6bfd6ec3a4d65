"""Gaussian KL: the VAE's KL term in closed form, as a surface, against Monte Carlo, and as the code line."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import concept, screen
from vae_core.concepts import kl_closed_form as K

concept.start(
    "The KL term of a VAE's loss pulls each q(z|x) = N(μ, σ²) towards the prior N(0, 1). For two Gaussians it "
    "has a closed form, so no sampling is needed: it is zero only at μ = 0, σ = 1, grows with μ² (codes far "
    "from the origin) and blows up as σ → 0 (a q that is too sure). Move the point on the surface and compare the "
    "formula with a Monte Carlo estimate, which only gets there on average.",
    r"\mathrm{KL}\big(\mathcal{N}(\mu,\sigma^2)\,\|\,\mathcal{N}(0,1)\big) = "
    r"-\tfrac12\left(1 + \log\sigma^2 - \mu^2 - \sigma^2\right) = "
    r"\mathbb{E}_q\!\left[\log q(z) - \log p(z)\right]",
    "the KL divergence from a normal with mean mu and variance sigma squared to the standard normal equals "
    "minus one half times, 1 plus log sigma squared minus mu squared minus sigma squared; which is the "
    "expectation under q of log q of z minus log p of z.")

mu, sigma, n, seed = concept.gaussian_draws("gkl", 0.5, 0.8, 0.05, 0.05, [10, 100, 1000, 10000, 100000],
                                            "Monte Carlo samples")

exact = float(K.closed_form(mu, sigma))
mc, se = K.monte_carlo(mu, sigma, n, seed)
ref = float(torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma), torch.distributions.Normal(0.0, 1.0)))

left, right = st.columns([1, 1])
with left:
    m = st.columns(3)
    m[0].metric("closed form", f"{exact:.4f}")
    m[1].metric(f"Monte Carlo, n = {n}", f"{mc:.4f}", delta=f"± {se:.4f} (1 SE)", delta_color="off",
                delta_arrow="off")
    m[2].metric("torch.distributions", f"{ref:.4f}")
    st.markdown(f"The Monte Carlo estimate is off by **{abs(mc - exact) / se:.1f}** standard errors; "
                "more samples shrink the error as 1/√n, the closed form has none.")
    st.markdown("The line in `vae_core/losses.py`, with this μ and log σ² substituted (in nats):")
    st.code("\n".join(K.code_line(mu, sigma)), language="python", wrap_lines=True)
with right:
    mus, sigmas = np.linspace(-3, 3, 61), np.linspace(0.05, 3, 60)
    fig = go.Figure(go.Surface(x=mus, y=sigmas, z=K.surface(mus, sigmas), colorscale="Viridis", opacity=0.9,
                               colorbar=dict(title="KL", len=0.6), contours=dict(z=dict(show=True, usecolormap=True,
                                                                                       project_z=True))))
    fig.add_trace(go.Scatter3d(x=[mu], y=[sigma], z=[exact], mode="markers", name="(μ, σ)",
                               marker=dict(size=7, color="#d62728", line=dict(color="white", width=2))))
    fig.update_layout(height=480, margin=dict(l=0, r=0, t=30, b=0), title="KL over (μ, σ)", showlegend=False,
                      scene=dict(xaxis_title="μ", yaxis_title="σ", zaxis_title="KL (nats)",
                                 camera=dict(eye=dict(x=1.5, y=-1.5, z=0.9))), uirevision="keep")
    screen.chart(fig, key="gkl.surface")
