"""Forward vs reverse KL: fit one Gaussian to a two-Gaussian mixture, each way, and watch them differ."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import concept, screen
from vae_core.concepts import kl_direction as kd

concept.start(
    "p is a mixture of two Gaussians; q is a single Gaussian, so it cannot match p and must compromise. "
    "**KL(p‖q)** charges q wherever p has mass that q misses, so its best q (matching p's mean and variance) "
    "spreads over both modes. **KL(q‖p)** charges q wherever q puts mass that p lacks, so its best q "
    "hides inside one mode when the modes are far apart: each mode is then a local optimum. "
    "A VAE fits its encoder q(z|x) to the true posterior p(z|x) with the reverse KL, because that is the one "
    "it can compute: E_q[log q − log p(x, z)] needs only samples from q, while KL(p(z|x)‖q) would need "
    "samples from the intractable posterior itself.",
    r"\mathrm{KL}(p\,\|\,q) = \int p(x)\log\frac{p(x)}{q(x)}\,dx \qquad "
    r"\mathrm{KL}(q\,\|\,p) = \int q(x)\log\frac{q(x)}{p(x)}\,dx \qquad q = \mathcal{N}(\mu, \sigma^2)",
    "the forward KL, from p to q, is the integral of p of x times log of p of x over q of x; the reverse KL, "
    "from q to p, is the integral of q of x times log of q of x over p of x; q is a normal with mean mu and "
    "variance sigma squared.")


@st.cache_data(max_entries=256, show_spinner="Fitting both Gaussians…")
def fits(w1: float, m1: float, s1: float, m2: float, s2: float):
    p = kd.two_gaussians(w1, m1, s1, m2, s2)
    return kd.moment_match(p), kd.reverse_fits(p)


@st.cache_data(max_entries=256, show_spinner="Finding where the reverse fit switches…")
def switch(w1: float, s1: float, s2: float):
    return kd.switch_separation(w1, s1, s2)


c = st.columns(5)
w1 = concept.slider(c[0], "weight of mode 1", 0.05, 0.95, 0.5, 0.05, "kl.w1")
m1 = concept.slider(c[1], "mean 1", -6.0, 6.0, -3.0, 0.1, "kl.m1")
s1 = concept.slider(c[2], "width 1 (σ)", 0.2, 3.0, 1.0, 0.1, "kl.s1")
m2 = concept.slider(c[3], "mean 2", -6.0, 6.0, 3.0, 0.1, "kl.m2")
s2 = concept.slider(c[4], "width 2 (σ)", 0.2, 3.0, 1.0, 0.1, "kl.s2")

p = kd.two_gaussians(w1, m1, s1, m2, s2)
forward, reverse = fits(w1, m1, s1, m2, s2)
best = reverse[0]
d, d_star = abs(m2 - m1), switch(w1, s1, s2)

left, right = st.columns([3, 2])
with left:
    lo, hi = min(m1, m2) - 4 * max(s1, s2), max(m1, m2) + 4 * max(s1, s2)
    x = np.linspace(lo, hi, 600)
    normal = lambda f: np.exp(-0.5 * ((x - f.mu) / f.sigma) ** 2) / (f.sigma * np.sqrt(2 * np.pi))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=np.exp(p.log_pdf(x)), name="p (the mixture)", fill="tozeroy",
                             line=dict(color="#444", width=2), fillcolor="rgba(120,120,120,0.25)"))
    fig.add_trace(go.Scatter(x=x, y=normal(forward), name="argmin KL(p‖q): moment match",
                             line=dict(color="#1f77b4", width=3)))
    names = ["moment match"] + ["reverse: best" if i == 0 else
                                ("reverse: equally good" if f.reverse - best.reverse < 1e-6 else f"reverse: local {i + 1}")
                                for i, f in enumerate(reverse)]
    for i, f in enumerate(reverse):
        fig.add_trace(go.Scatter(x=x, y=normal(f), name=f"argmin KL(q‖p), {names[i + 1]}" if i == 0 else
                                 f"KL(q‖p), {names[i + 1]}",
                                 line=dict(color="#d62728", width=3 if i == 0 else 1.5, dash="solid" if i == 0 else "dash")))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="x", yaxis_title="density",
                      legend=dict(orientation="h", y=-0.2), title="p and the two best Gaussians")
    screen.chart(fig, key="kl.plot")
with right:
    fitted = [forward, *reverse]
    st.dataframe(pd.DataFrame({"fit": names, "μ": [round(f.mu, 6) + 0.0 for f in fitted], "σ": [f.sigma for f in fitted],
                               "KL(p‖q)": [f.forward for f in fitted], "KL(q‖p)": [f.reverse for f in fitted]}),
                 hide_index=True, key="kl.table",
                 column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("μ", "σ", "KL(p‖q)", "KL(q‖p)")})
    a, b = st.columns(2)
    a.metric("KL(p‖q) of the moment match", f"{forward.forward:.3f} nats",
             help="the smallest KL(p‖q) any Gaussian reaches")
    b.metric("KL(q‖p) of the best reverse fit", f"{best.reverse:.3f} nats",
             help="the smallest KL(q‖p) any Gaussian reaches")
    mass = kd.shares(p, best) * np.array(p.weights)  # the fraction of q's mass on each mode
    if d_star is None:
        where = "With these weights and widths the best reverse fit straddles both modes however far apart they are."
    else:
        now = "straddles both modes" if kd.straddles(p, best) else "picks one mode"
        where = (f"With these weights and widths the best reverse fit straddles both modes while the means are less "
                 f"than about **{d_star:.1f}** apart and picks one mode beyond that; they are **{d:.2f}** apart now, so it "
                 f"**{now}** (it puts {mass[0]:.0%} of its mass on mode 1 and {mass[1]:.0%} on mode 2).")
    st.markdown(where + " Far apart, the space between the modes has almost no p, and log q/p there is huge: "
                "q pulls in to one mode. The moment match always spans both, even where p is nearly zero.")
st.caption(f"{len(reverse)} local optim{'um' if len(reverse) == 1 else 'a'} of KL(q‖p) found by quasi-Newton (BFGS) "
           "optimisation from starts on each mode and near the middle; the moment match is exact. "
           "Try: move the two means towards each other.")
