"""Diagnostics: how the active model uses its latent dims, how tight its ELBO is, where it fails."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import page, plots, runs, screen, views
from ui.runs import Active
from vae_core.diagnostics import beta_changes, collapsed_dims, pixel_error
from vae_core.metrics import active_units, iwae_bound, loss_terms

AU_THRESHOLD = 0.01   # Burda et al. 2015: unit u active when Cov_x(E_q[z_u|x]) > 0.01
IWAE_EXAMPLES = 200   # validation examples the log p(x) estimate averages over
KS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]


def explanation(a: Active, pts: views.Points) -> str:
    return ("Numbers and pictures that tell how this model uses its latent space and where it fails"
            + (": which latent dims carry information, how far the ELBO it was trained on lies below the "
               "log-likelihood log p(x), which pixels it reconstructs worst, and how training went."
               if a.model.variational else
               ": which pixels it reconstructs worst and how training went. The KL and log p(x) views are "
               "for VAEs only (see below)."))


a, pts = page.start(explanation)
D = pts.mu.shape[1]
_, val = views.split_of(a.run.id, a.cfg)
y_val = val.y if a.model.n_cond else None


@st.cache_resource(show_spinner=False)
def _estimates() -> dict[tuple[str, int], float]:
    """(model key, k) -> the mean IWAE estimate over the first IWAE_EXAMPLES validation examples, for
    every session. Not an st.cache_data of the estimate itself: its progress bar would be replayed."""
    return {}


def iwae_estimate(k: int) -> float:
    """Mean L_k over the examples, computed once per model and k with a progress bar."""
    got = _estimates()
    if (a.key, k) not in got:
        text = f"Importance-weighted estimate with k = {k:,} samples for each of {n_iwae} examples"
        bar = st.progress(0.0, text=text + "…")
        value = iwae_bound(a.model, val.x[:n_iwae], None if y_val is None else y_val[:n_iwae], a.cfg, k,
                           progress=lambda f: bar.progress(f, text=f"{text}: {100 * f:.0f}%")).mean().item()
        bar.empty()
        got[(a.key, k)] = value
    return got[(a.key, k)]


@st.cache_resource(max_entries=16, show_spinner="Reconstructing the validation set…")
def _pixel_error(key: str, _a: Active) -> np.ndarray:
    return pixel_error(_a.model, val.x, y_val, _a.cfg).numpy()


@st.cache_resource(max_entries=16, show_spinner="Computing the ELBO…")
def _elbo(key: str, _a: Active, n: int) -> float:
    """The ELBO at β = 1 (one sample of z per example, the KL in closed form), nats per example."""
    terms = loss_terms(_a.model, val.x[:n], val.y[:n], _a.cfg, beta=1.0)
    return -(terms["recon"] + terms["kl"])


# --- KL per dim and active units ------------------------------------------------------------------
st.subheader("Latent dims: KL and active units")
if a.model.variational:
    order, labels, kl = views.ranked(a, pts)
    n_active, var = active_units(torch.from_numpy(pts.mu), AU_THRESHOLD)
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure(go.Bar(x=kl[order], y=labels, orientation="h", marker_color=plots.TERM_COLORS["kl"],
                               hovertemplate="%{y}<extra></extra>"))
        fig.update_layout(height=max(220, 26 * D + 80), margin=dict(l=10, r=10, t=30, b=10),
                          title="KL(q(z_d|x) ‖ N(0, 1)) per dim, largest first (nats)",
                          yaxis=dict(autorange="reversed"), xaxis_title="nats per example")
        screen.chart(plots.styled(fig), key="diag.kl")
    with right:
        st.metric("Active units", f"{n_active} of {D}",
                  help=f"Burda et al. (2015): dim u is active when the variance over the data of its mean code, "
                       f"Cov_x(E_q[z_u|x]), exceeds {AU_THRESHOLD}.")
        st.markdown(f"A dim is **active** when its mean code μ_u(x) varies across examples by more than "
                    f"**{AU_THRESHOLD}** (variance over the {pts.which}; the covariance criterion of Burda et al., "
                    f"2015). Each bar is the KL the dim pays on average: the information it carries about x.")
        inactive = [d for d in order if float(var[d]) <= AU_THRESHOLD]
        low_kl = collapsed_dims(kl)
        dead = sorted(set(inactive) | set(low_kl), key=order.index)
        if dead:
            st.warning(f"**{len(dead)} of {D} dims have collapsed to the prior** ("
                       + ", ".join(f"z{d}" for d in dead) + "): for every input the encoder gives them "
                       "q(z_d|x) ≈ N(0, 1), so they tell the decoder nothing and the decoder learns to ignore them. "
                       "This is what a large β does on purpose (it buys a smaller KL with unused dims); with β = 1 "
                       "it means the model needed fewer dims than it was given.")
        else:
            st.success(f"All {D} dims are in use: none has collapsed to the prior.")
else:
    st.info("A plain autoencoder has an encoder that gives one code z per input and no prior p(z): there is no "
            "posterior q(z|x) to compare with a prior, so there is no KL per dim, and without a prior there is no "
            "log p(x) to estimate. Both views below apply to the VAE family only.")

# --- ELBO and log p(x) ----------------------------------------------------------------------------
st.subheader("ELBO and log p(x)")
if a.model.variational:
    st.markdown("The VAE is trained on the **ELBO**, a lower bound on the log-likelihood log p(x). The "
                "**importance-weighted** estimate L_k (Burda et al., 2015) averages k samples of z ~ q(z|x) "
                "inside the log: L_1 is the ELBO, and L_k rises towards log p(x) as k grows. The **gap** "
                "log p(x) − ELBO is the KL from q(z|x) to the true posterior: how much the encoder's Gaussian "
                "guess costs.")
    c = st.columns([3, 1])
    k = c[0].select_slider("k, samples of z per example", KS, value=50, key="diag.k",
                           help="the estimate costs k decoder passes per example; large k is slow the first time, "
                                "then remembered for this model")
    n_iwae = min(IWAE_EXAMPLES, len(val))
    c[1].caption(f"over the first {n_iwae} validation examples, fixed noise seed")
    elbo = _elbo(a.key, a, n_iwae)
    estimate = iwae_estimate(k)
    m = st.columns(3)
    m[0].metric("ELBO (β = 1)", f"{elbo:.2f} nats")
    m[1].metric(f"log p(x) ≈ L_{k}", f"{estimate:.2f} nats")
    m[2].metric("gap", f"{estimate - elbo:.2f} nats", help="L_k − ELBO: a lower bound on log p(x) − ELBO")
    done = sorted(kk for key, kk in _estimates() if key == a.key)
    if len(done) > 1:
        fig = go.Figure(go.Scatter(x=done, y=[_estimates()[(a.key, kk)] for kk in done], mode="lines+markers",
                                   name="L_k"))
        fig.add_hline(y=elbo, line_dash="dot", annotation_text="ELBO", line_color=plots.TERM_COLORS["kl"])
        fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="log", xaxis_title="k",
                          yaxis_title="nats per example", title="L_k for the k computed so far")
        screen.chart(plots.styled(fig), key="diag.iwae")
else:
    st.caption("Does not apply: a plain autoencoder defines no p(x) (see above).")

# --- per-pixel error -------------------------------------------------------------------------------
st.subheader("Where reconstruction fails")
if val.is_image:
    err = _pixel_error(a.key, a)  # (C, H, W) nats
    left, right = st.columns([2, 3])
    with left:
        fig = go.Figure(go.Heatmap(z=err.sum(0), colorscale="Viridis", colorbar=dict(title="nats"),
                                   hovertemplate="row %{y}, column %{x}: %{z:.3f} nats<extra></extra>"))
        fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), title="mean −log p(x_i | z = μ) per pixel",
                          yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain"),
                          xaxis=dict(constrain="domain"))
        screen.chart(plots.styled(fig), key="diag.pixels")
    with right:
        st.markdown(f"Each pixel's reconstruction error, −log p(x_i | z), averaged over the **{len(val):,} "
                    f"validation examples** and decoded from z = {'μ(x)' if a.model.variational else 'enc(x)'}"
                    + (" (summed over the colour channels)" if err.shape[0] > 1 else "")
                    + f". Bright pixels are where the model is most often wrong; they add up to the "
                    f"reconstruction term, {err.sum():.1f} nats per example. Dark pixels are ones the model gets "
                    "right for every input, such as a border that is always blank.")
else:
    st.info(f"Does not apply: `{runs.dataset_label(a.cfg.dataset, a.run.id)}` examples are points, not images, so there is no picture of "
            "pixels. The Manifold page shows the decoded points in input space.")

# --- training history ------------------------------------------------------------------------------
st.subheader("Training history")
history = a.ckpt.history or {}
train_h, val_h = history.get("train", {}), history.get("val", {})
if train_h.get("step"):
    changes = beta_changes(history, a.run.beta_changes, warmup=a.cfg.kl_warmup)
    screen.chart(plots.curves(train_h, val_h, height=340, beta_changes=changes), key="diag.history")
    st.caption("Loss terms per training step (lines) and on the validation set at each epoch's end (diamonds), "
               "nats per example."
               + (f" Dashed lines: β changed during training ({len(changes)} time{'s' * (len(changes) != 1)})." if changes else
                  (" β was not changed during training." if a.model.variational else "")))
else:
    st.info("This model's checkpoint holds no training history.")
