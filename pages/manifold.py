"""Manifold: decode a grid of codes and lay it over the map, to see which region decodes to what."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from ui import decoder, page, picture, plots, screen, views, widgets
from ui.offline import button as offline_button, views as offline_views
from ui.presentation import style
from ui.runs import Active
from vae_core.latent import grid_values, label_grid


def explanation(a: Active, pts: views.Points) -> str:
    image = pts.data.is_image
    return (
        "The decoder turns every point of latent space into an output. Here an **n × n grid** of codes over two "
        "latent dims (the others held fixed) is decoded in one batch, so you can walk the learned manifold"
        + ("." if image else f": each code decodes to a {pts.data.x.shape[1]}-D point, drawn in input space"
           + (" (its first two coordinates)." if pts.data.x.shape[1] > 2 else "."))
        + " **Linear** spacing puts the codes evenly in [−span, span]; **Gaussian-quantile** spacing puts them at "
        "the (k + ½)/n quantiles of N(0, 1), as in Kingma & Welling's figure 4, so each cell of the grid holds "
        "the same prior mass. "
        + ("Where the grid leaves the data (the dots), the decoder is guessing; a VAE, pulled towards its prior, "
           "decodes something plausible almost everywhere." if a.model.variational else
           "Where the grid leaves the data (the dots), this plain autoencoder is guessing: nothing trained it to "
           "decode codes it never produced."))


a, pts = page.start(explanation)
D = pts.mu.shape[1]
names = pts.data.class_names
if D < 2:
    st.info("This model has a single latent dim: there is no 2-D grid to decode. The Interpolate page's knob "
            "shows what that dim does.")
    st.stop()

c = st.columns([1, 1, 1, 1, 2])
d0, d1 = page.two_dims(D, "manifold", c[:2], ranked=views.ranked(a, pts))
n = c[2].slider("grid size", 3, 30, widgets.kept("manifold.n", 15), key="manifold.n")
spacing = c[4].radio("spacing", ["linear", "quantile"], widgets.kept_index(["linear", "quantile"], "manifold.spacing", "linear"),
                     horizontal=True, key="manifold.spacing",
                     format_func=lambda s: {"linear": "linear", "quantile": "Gaussian quantile"}[s])
span = c[3].slider("span", 0.5, 6.0, widgets.kept("manifold.span", 3.0), 0.25, key="manifold.span",
                   disabled=spacing == "quantile",
                   help="half-width of the linear grid in latent units"
                        + (" (prior standard deviations)" if a.model.variational else "")
                        + "; Gaussian-quantile spacing ignores it")
if spacing == "quantile":
    edge = float(grid_values(n, 1.0, "quantile")[-1])
    c[4].caption(f"The grid size alone sets the quantile points: the outer ones sit at ±{edge:.2f} for n = {n}. "
                 "The span slider does not apply.")

base, base_note = None, "0"
if D > 2:
    fix = st.radio("Other dims fixed at", ["0 (the prior mean)" if a.model.variational else "0", "a sample's code"],
                   horizontal=True, key="manifold.fix")
    if fix == "a sample's code":
        i = st.number_input("sample index", 0, len(pts.mu) - 1, 0, key="manifold.sample")
        base, base_note = torch.from_numpy(pts.mu[i]), f"the code of example #{i}"

y, all_labels = None, False
if a.model.n_cond:
    cc = st.columns([1, 2])
    all_labels = cc[0].radio("Labels", ["one label", "all labels"], widgets.kept_index(["one label", "all labels"],
                             "manifold.labels", "one label"), horizontal=True, key="manifold.labels") == "all labels"
    if not all_labels:
        y = cc[1].selectbox("Condition on label", range(len(names)), format_func=lambda k: names[k], key="manifold.label")


def all_labels_view() -> None:
    """A conditional model: the same codes decoded with every label. Rows are the classes, columns
    share one z each: what the label decides, and what z (the style) decides."""
    k = min(n, 12)
    z = torch.zeros(k, D) if base is None else base.float().expand(k, -1).clone()
    z[:, d0] = grid_values(k, span, spacing)  # one code per column, along the x dim
    images = label_grid(a.model, z, range(len(names))).cpu().numpy()  # (C, k, ...)
    st.markdown(f"**All labels** · row = label ({', '.join(map(str, names))}) · column = one code z, the same in "
                f"every row: z{d0} from {float(z[0, d0]):.2f} to {float(z[-1, d0]):.2f}, the others at {base_note}.")
    if pts.data.is_image:
        picture.show(images, "rows: the labels, top to bottom · columns: the same z in each row", size=max(24, 720 // k))
    else:
        labels = np.repeat(np.arange(len(names)), k)
        screen.chart(plots.points_2d(images.reshape(-1, images.shape[-1]), labels, title="the same codes, one colour per label"),
                        key="manifold.labelpoints")
    st.caption("Down a column only the label changes: the class follows the label while what z encodes (slant, "
               "thickness: the style) stays. Along a row only z changes.")


def grid_view() -> None:
    """The n x n grid decoded (left) and laid over the map (right)."""
    images, z = views.grid(a, (d0, d1), n, span, spacing, base, y)
    vals = z[0, :, d0].numpy()  # the column coordinates, increasing

    left, right = st.columns(2)
    with left:  # the grid first: the page's picture, in the first screen also in presentation mode
        if pts.data.is_image:
            picture.show(images, f"decoded grid · others at {base_note}", size=max(16, 640 // n), stretch=True)
        else:
            screen.chart(plots.points_2d(images.reshape(-1, images.shape[-1]), None, title="decoded grid in input space"),
                            key="manifold.points")
        decoder.beside_map(a, pts, "manifold.map", (d0, d1), base=base, base_name=base_note, label=y)  # in the page
    with right:
        fig = plots.latent_map(pts.mu[:, [d0, d1]], pts.data.y.numpy(), names,
                               axis_names=(f"z{d0}", f"z{d1}"), size=4, opacity=0.6, title="grid over the map")
        if pts.data.is_image and spacing == "linear":
            h = (vals[-1] - vals[0]) / max(n - 1, 1)  # one cell: tiles are centred on the grid codes
            tiles = picture.data_uri(plots.tile(images, size=max(16, 640 // n), pad=0))  # (its PNG kept)
            fig.add_layout_image(source=tiles, xref="x", yref="y", x=vals[0] - h / 2, y=vals[-1] + h / 2,
                                 sizex=vals[-1] - vals[0] + h, sizey=vals[-1] - vals[0] + h, sizing="stretch",
                                 opacity=0.55, layer="below")
        gz = z.reshape(-1, z.shape[-1]).numpy()
        fig.add_trace(go.Scattergl(x=gz[:, d0], y=gz[:, d1], mode="markers", name="grid codes", hoverinfo="skip",
                                   marker=dict(symbol="cross", size=5, color="black", opacity=0.5)))
        lim = max(float(np.abs(vals).max()), float(np.abs(pts.mu[:, [d0, d1]]).max())) * 1.05
        fig.update_xaxes(range=[-lim, lim])
        fig.update_yaxes(range=[-lim, lim])
        screen.chart(fig, key="manifold.map")
    if pts.data.is_image:
        st.caption("Left: the decoded grid, top row = highest z%d, left column = lowest z%d; under it, the code under "
                   "the pointer decoded. Right: the same grid (faded, crosses mark its codes) under the encoded data."
                   % (d1, d0))
    else:
        st.caption("Left: the grid's decoded points in input space. Right: the grid's codes (crosses) over the "
                   "encoded data.")


if all_labels:
    all_labels_view()
else:
    grid_view()
offline_button.download(a, "manifold", f"{page.title()} · {a.run.name}", lambda: offline_views.manifold(
    a, pts, (d0, d1), n, span, spacing, base, base_note, y, all_labels, style().colors,
    "A grid of codes over two latent dims, decoded in this page and laid over the map of the encoded data. The "
    "picture is what the decoder makes of the code under the pointer."))
