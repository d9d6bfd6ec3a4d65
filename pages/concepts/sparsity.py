"""Sparsity: the KL(rho || rho_hat) and L1 penalties, a worked example, and a sparse AE trained live."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import concept, screen, widgets
from vae_core.concepts import sparsity as S
from vae_core.data import load_dataset

concept.start(
    "A sparse autoencoder wants each hidden unit to be off most of the time. With sigmoid units, the mean "
    "activation ρ̂ⱼ of unit j over the data is the fraction of time it is \"on\"; the KL penalty treats it as a "
    "coin and charges its distance from a small target ρ: zero at ρ̂ = ρ, steep as ρ̂ nears 1. The L1 penalty "
    "instead charges every bit of activity alike, pushing all units towards 0 rather than towards ρ.",
    r"\Omega_{\mathrm{KL}} = \sum_j \rho\log\frac{\rho}{\hat\rho_j} + (1-\rho)\log\frac{1-\rho}{1-\hat\rho_j}"
    r"\qquad \Omega_{L1} = \sum_j \mathbb{E}_x|a_j(x)| = \sum_j \hat\rho_j \;\;(0 < a_j < 1)"
    r"\qquad \hat\rho_j = \mathbb{E}_x[a_j(x)]",
    "the KL sparsity penalty sums over units j: rho times log of rho over rho hat j, plus one minus rho times"
    " log of one minus rho over one minus rho hat j. The L1 penalty sums over units the mean absolute "
    "activation, which equals the sum of rho hat j for activations between 0 and 1. Rho hat j is the mean "
    "activation of unit j over the data.")

rho = concept.slider(st, "target ρ", 0.01, 0.5, S.WORKED_RHO, 0.01, "sp.rho")
left, right = st.columns([3, 2])
with right:
    st.markdown("**Mean activations** of the hidden units (edit them, add rows):")
    edited = st.data_editor(pd.DataFrame({"ρ̂": widgets.kept("sp.acts", list(S.WORKED_ACTIVATIONS))}),
                            num_rows="dynamic", key="sp.editor", hide_index=True,
                            column_config={"ρ̂": st.column_config.NumberColumn(min_value=0.0, max_value=1.0,
                                                                              step=0.001, format="%.3f")})
    acts = [float(v) for v in edited["ρ̂"].dropna()]
    try:
        table = S.worked_table(rho, acts)
    except ValueError as e:
        st.error(f"{e}. Got: {', '.join(f'{a:g}' for a in acts) or 'no values'}.")
        table = None
    else:
        widgets.keep("sp.acts", acts)
        st.dataframe(pd.DataFrame({"unit": [f"j = {k + 1}" for k in range(len(acts))] + ["sum"],
                                   "ρ̂": [f"{a:.3f}" for a in table["rho_hat"]] + [""],
                                   "KL(ρ‖ρ̂)": [*table["kl"], table["kl_total"]],
                                   "L1": [*table["l1"], table["l1_total"]]}),
                     hide_index=True, key="sp.table",
                     column_config={k: st.column_config.NumberColumn(format="%.4f") for k in ("KL(ρ‖ρ̂)", "L1")})
        st.markdown(f"Total KL penalty **{table['kl_total']:.4f}** nats; most of it from the unit that is on "
                    f"{table['rho_hat'][np.argmax(table['kl'])]:.0%} of the time instead of {rho:.0%}.")
with left:
    grid = np.linspace(0.001, 0.999, 500)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=grid, y=S.kl_penalty(rho, grid), name="KL(ρ‖ρ̂)", line=dict(color="#d62728", width=3)))
    fig.add_trace(go.Scatter(x=grid, y=S.l1_penalty(grid), name="L1: ρ̂", line=dict(color="#1f77b4", width=2, dash="dash")))
    if table is not None:
        fig.add_trace(go.Scatter(x=table["rho_hat"], y=table["kl"], mode="markers+text", name="the units",
                                 text=[f"j={k + 1}" for k in range(len(acts))],
                                 textposition=[("top left", "top right")[k % 2] for k in range(len(acts))],
                                 marker=dict(color="black", size=10)))
    fig.add_vline(x=rho, line=dict(color="gray", dash="dot"), annotation_text=f"ρ = {rho:.2f}")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="mean activation ρ̂",
                      yaxis_title="penalty per unit (nats)", yaxis_range=[0, 3], title="penalty of one unit",
                      legend=dict(orientation="h", y=-0.2))
    screen.chart(fig, key="sp.curve")

st.subheader("A sparse autoencoder, trained here")
st.markdown("A 64-unit MLP encoder with a code of 32 sigmoid units on the 8×8 digits, trained for a few seconds "
            "with the KL penalty (weight β below), and the same network trained without it. Each bar counts units "
            "by their mean activation over the digits: the penalty herds them towards ρ.")
c = st.columns(3)
rho_t = concept.steps(c[0], "target ρ for training", [0.02, 0.05, 0.1, 0.2], 0.05, "sp.rho_t")
weight = concept.steps(c[1], "penalty weight β", [0.1, 0.3, 1.0, 3.0], 1.0, "sp.w")
models = concept.trained({"the sparse AE": S.sparse_config(rho_t, weight),
                          "the same AE without the penalty": S.sparse_config(0.05, 0.0)})


@st.cache_resource(max_entries=32, show_spinner="Measuring the units' mean activations…")
def activations(key: str, _model):
    return S.mean_activations(_model, load_dataset("digits").x)


if models is not None:
    sparse, plain = models.values()
    a_sparse = activations(concept.key_of(S.sparse_config(rho_t, weight)), sparse)
    a_plain = activations(concept.key_of(S.sparse_config(0.05, 0.0)), plain)
    fig = go.Figure()
    bins = dict(start=0, end=1, size=0.02)
    fig.add_trace(go.Histogram(x=a_plain, xbins=bins, name="no penalty", marker_color="#7f7f7f", opacity=0.6))
    fig.add_trace(go.Histogram(x=a_sparse, xbins=bins, name=f"KL penalty, β = {weight:g}", marker_color="#d62728",
                               opacity=0.75))
    fig.add_vline(x=rho_t, line=dict(color="black", dash="dash"), annotation_text=f"ρ = {rho_t:g}")
    fig.update_layout(barmode="overlay", height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_range=[0, 1],
                      xaxis_title="mean activation ρ̂ⱼ of a code unit", yaxis_title="units",
                      legend=dict(orientation="h", y=-0.25))
    m = st.columns([1, 3])
    m[0].metric("mean ρ̂, with the penalty", f"{a_sparse.mean():.3f}",
                help=f"its KL penalty: {S.kl_penalty(rho_t, np.clip(a_sparse, 1e-6, 1 - 1e-6)).sum():.2f} nats")
    m[0].metric("mean ρ̂, without", f"{a_plain.mean():.3f}",
                help=f"the KL penalty it would pay: {S.kl_penalty(rho_t, np.clip(a_plain, 1e-6, 1 - 1e-6)).sum():.2f} nats")
    with m[1]:
        screen.chart(fig, key="sp.hist")
