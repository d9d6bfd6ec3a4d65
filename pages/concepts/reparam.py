"""Reparameterization: z = mu + sigma * eps, its gradients, and why it beats the score-function estimator."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ui import concept, screen
from vae_core.concepts import reparam as R

concept.start(
    "A VAE needs the gradient of an expectation over q = N(μ, σ²) with respect to μ and σ, but a sample drawn "
    "from q is not a differentiable function of them. Drawing ε ~ N(0, 1) and setting **z = μ + σ ε** moves the "
    "randomness into ε: now ∂z/∂μ = 1 and ∂z/∂σ = ε, and back-propagation goes straight through the sample. "
    "The alternative, the score-function (REINFORCE) estimator, needs no derivative of f but is much noisier: "
    "compare both on f(z) = z², whose exact gradient is (2μ, 2σ).",
    r"z = \mu + \sigma\varepsilon,\;\varepsilon\sim\mathcal{N}(0,1) \qquad "
    r"\nabla_\theta\,\mathbb{E}_q[f(z)] \approx \underbrace{f'(z)\,\tfrac{\partial z}{\partial\theta}}_{\text{reparameterized}}"
    r"\quad\text{or}\quad \underbrace{f(z)\,\nabla_\theta \log q(z;\theta)}_{\text{score function}}"
    r"\qquad \nabla_{\mu,\sigma}\,\mathbb{E}_q[z^2] = (2\mu,\;2\sigma)",
    "z equals mu plus sigma times epsilon, with epsilon drawn from the standard normal. The gradient of the "
    "expectation of f of z is estimated either by f prime of z times the derivative of z with respect to "
    "theta, the reparameterized estimator, or by f of z times the gradient of log q of z, the score-function "
    "estimator. The gradient of the expectation of z squared with respect to mu and sigma is 2 mu and 2 "
    "sigma.")

mu, sigma, n, seed = concept.gaussian_draws("rep", 1.0, 1.0, 0.1, 0.1, [10, 100, 1000, 10000])

draws = R.reparameterize(mu, sigma, n, seed)
est = R.estimators(mu, sigma, n, seed)
exact, var = R.exact_gradient(mu, sigma), R.analytic_variance(mu, sigma)

left, right = st.columns([1, 1])
with left:
    st.markdown("**The first draws**, with each sample's gradients taken by autograd through z = μ + σε:")
    st.dataframe(pd.DataFrame({"ε": draws["eps"][:6], "z = μ + σε": draws["z"][:6], "∂z/∂μ": draws["dz_dmu"][:6],
                               "∂z/∂σ": draws["dz_dsigma"][:6]}).round(3), hide_index=True, key="rep.draws")
    st.markdown(f"Over all {n} draws: ∂z/∂μ is 1 every time, and ∂z/∂σ equals ε every time "
                f"(largest difference {np.abs(draws['dz_dsigma'] - draws['eps']).max():.1e}).")
    rows = []
    for name, key in (("reparameterized", "reparam"), ("score function", "score")):
        for j, p in enumerate(("μ", "σ")):
            rows.append({"estimator": name, "∂/∂": p, "exact": exact[j], "mean": est.mean(key)[j],
                         "variance": est.var(key)[j], "exact variance": var[key][j]})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="rep.table",
                 column_config={k: st.column_config.NumberColumn(format="%.3f")
                                for k in ("exact", "mean", "variance", "exact variance")})
    st.caption(f"mean and variance over the {n} draws; the variance is that of one draw's estimate "
               f"(the mean of {n} has 1/{n} of it)")
    ratio = var["score"] / var["reparam"]
    st.markdown(f"Both are unbiased, but one score-function sample is **{ratio[0]:.0f}×** (for μ) and "
                f"**{ratio[1]:.0f}×** (for σ) as variable as a reparameterized one: it would need that many more "
                f"samples for the same precision.")
with right:
    fig = make_subplots(1, 2, subplot_titles=("estimates of ∂/∂μ", "estimates of ∂/∂σ"))
    for j in range(2):
        samples = np.concatenate([est.reparam[:, j], est.score[:, j]])
        lo, hi = np.percentile(samples, [1, 99])  # the score function's long tails would hide everything
        edges = np.linspace(lo, hi, 61)
        for key, name, color in (("reparam", "reparameterized", "#1f77b4"), ("score", "score function", "#ff7f0e")):
            counts, _ = np.histogram(getattr(est, key)[:, j], edges)  # binned here: 60 bars, not n samples
            fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts / (n * (edges[1] - edges[0])), name=name,
                                 width=edges[1] - edges[0], marker_color=color, opacity=0.6, showlegend=j == 0,
                                 legendgroup=key), 1, j + 1)
        fig.add_vline(x=exact[j], line=dict(color="black", dash="dash"), row=1, col=j + 1)
    fig.update_yaxes(title_text="density", col=1)
    fig.update_layout(barmode="overlay", bargap=0, height=420, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.15))
    screen.chart(fig, key="rep.hist")
    st.caption("One estimate per draw (central 98% shown); the dashed line is the exact gradient. The narrower "
               "the histogram, the fewer samples an accurate gradient needs.")
