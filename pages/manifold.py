"""Manifold: decode a grid of codes and lay it over the map, to see which region decodes to what."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from ui import decoder, page, picture, plots, views, widgets
from vae_core.latent import manifold_grid

a, pts = page.start(
    "Manifold",
    "The decoder turns every point of latent space into an output. Here an **n × n grid** of codes over two "
    "latent dims (the others held fixed) is decoded in one batch, so you can walk the learned manifold. "
    "**Linear** spacing puts the codes evenly in [−span, span]; **Gaussian-quantile** spacing puts them at "
    "evenly spaced quantiles of N(0, 1), as in Kingma & Welling's figure 4, so each cell holds equal prior "
    "mass. Where the grid leaves the data (the dots), a plain autoencoder decodes nonsense; a VAE, pulled "
    "towards its prior, decodes something plausible almost everywhere.")
D = pts.mu.shape[1]
if not pts.data.is_image:
    st.info("This model's data are 2-D points, not images: its decoded grid is drawn as points in input space.")

c = st.columns([1, 1, 1, 1, 2])
d0 = c[0].selectbox("x dim", range(D), 0, format_func=lambda i: f"z{i}", key="manifold.d0")
d1 = c[1].selectbox("y dim", range(D), min(1, D - 1), format_func=lambda i: f"z{i}", key="manifold.d1")
n = c[2].slider("grid size", 3, 30, widgets.kept("manifold.n", 15), key="manifold.n")
span = c[3].slider("span", 0.5, 6.0, widgets.kept("manifold.span", 3.0), 0.25, key="manifold.span",
                   help="half-width of the grid in latent units (prior standard deviations for a VAE)")
spacing = c[4].radio("spacing", ["linear", "quantile"], widgets.kept_index(["linear", "quantile"], "manifold.spacing", "linear"),
                     horizontal=True, key="manifold.spacing",
                     format_func=lambda s: {"linear": "linear", "quantile": "Gaussian quantile"}[s])
if d0 == d1:
    st.warning("Choose two different dims.")
    st.stop()

base, base_note = None, "0"
if D > 2:
    fix = st.radio("Other dims fixed at", ["0 (the prior mean)", "a sample's μ"], horizontal=True, key="manifold.fix")
    if fix != "0 (the prior mean)":
        i = st.number_input("sample index", 0, len(pts.mu) - 1, 0, key="manifold.sample")
        base, base_note = torch.from_numpy(pts.mu[i]), f"μ of example #{i}"

y = None
if a.model.n_cond:
    y = st.selectbox("Condition on label", range(len(pts.data.class_names)),
                     format_func=lambda k: pts.data.class_names[k], key="manifold.label")

images, z = manifold_grid(a.model, (d0, d1), n, span, spacing, base, y)
images = images.cpu().numpy()
vals = z[0, :, d0].numpy()  # the column coordinates, increasing

left, right = st.columns(2)
with left:
    decoder.beside_map(a, pts, "manifold.map", (d0, d1), base=base, base_name=base_note, label=y)  # in the page
    if pts.data.is_image:
        picture.show(images, f"decoded grid · others at {base_note}", size=max(16, 640 // n), stretch=True)
    else:
        st.plotly_chart(plots.points_2d(images.reshape(-1, 2), None, title="decoded grid in input space"),
                        key="manifold.points")
with right:
    fig = plots.latent_map(pts.mu[:, [d0, d1]], pts.data.y.numpy(), pts.data.class_names,
                           axis_names=(f"z{d0}", f"z{d1}"), size=4, opacity=0.6, title="grid over the map")
    if pts.data.is_image and spacing == "linear":
        h = (vals[-1] - vals[0]) / max(n - 1, 1)  # one cell: tiles are centred on the grid codes
        picture = Image.fromarray(plots.tile(images, size=max(16, 640 // n), pad=0))
        fig.add_layout_image(source=picture, xref="x", yref="y", x=vals[0] - h / 2, y=vals[-1] + h / 2,
                             sizex=vals[-1] - vals[0] + h, sizey=vals[-1] - vals[0] + h, sizing="stretch",
                             opacity=0.55, layer="below")
    gz = z.reshape(-1, z.shape[-1]).numpy()
    fig.add_trace(go.Scattergl(x=gz[:, d0], y=gz[:, d1], mode="markers", name="grid codes", hoverinfo="skip",
                               marker=dict(symbol="cross", size=5, color="black", opacity=0.5)))
    lim = max(span, float(np.abs(pts.mu[:, [d0, d1]]).max())) * 1.05
    fig.update_xaxes(range=[-lim, lim])
    fig.update_yaxes(range=[-lim, lim])
    st.plotly_chart(fig, key="manifold.map")
st.caption("Left: the decoded grid, top row = highest z%d, left column = lowest z%d. Right: the same grid "
           "(faded, crosses mark its codes) under the encoded data." % (d1, d0))
