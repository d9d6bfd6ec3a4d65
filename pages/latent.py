"""Latent space: every encoded example as a point; click one to see what the model makes of it."""
import numpy as np
import streamlit as st
import torch

from ui import decoder, page, picture, plots, views, widgets
from vae_core.latent import decode
from vae_core.thinning import thin, tile_size

a, pts = page.start(
    "Latent space",
    "Each dot is one example **x**, placed at its code **z** = μ(x), the centre of what the encoder "
    "returns, and coloured by its label (which the model never saw, except a conditional VAE). "
    "Classes that form their own islands mean the code has learned what tells them apart. "
    "For a VAE, q(z|x) = N(μ, σ²): the shaded ellipses show μ ± σ of the selected points, and the dotted "
    "circles the prior p(z) = N(0, I) that the KL term pulls every ellipse towards. "
    "**Click a point** (or box / lasso-select several) to see its reconstruction.")
D = pts.mu.shape[1]

c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
view_options = views.VIEWS if D > 2 else views.VIEWS[:1]
view = c1.radio("View", view_options, widgets.kept_index(view_options, "latent.view", view_options[0]), horizontal=True, key="latent.view",
                help="Two chosen dims show true coordinates; PCA the best linear 2-D shadow; "
                     "t-SNE keeps neighbourhoods only (its axes mean nothing).")
d0 = c2.selectbox("x axis", range(D), index=0, format_func=lambda i: f"z{i}", key="latent.d0", disabled=view != "two dims")
d1 = c3.selectbox("y axis", range(D), index=min(1, D - 1), format_func=lambda i: f"z{i}", key="latent.d1",
                  disabled=view != "two dims")
show_prior = c4.toggle("Prior contours", value=widgets.kept("latent.prior", True) and a.model.variational, key="latent.prior",
                       disabled=not a.model.variational or view != "two dims")

with st.spinner("t-SNE of the codes (a few seconds, once per model)…") if view == "t-SNE" else st.empty():
    xy, names, to_view = views.view_of(a, pts, view, (d0, d1))

# The classic picture: a few hundred examples drawn at their own codes, thinned so none overlap.
draw_examples = pts.data.is_image and st.toggle(
    "Draw the examples at their places", value=widgets.kept("latent.images", False), key="latent.images",
    help="A few hundred examples, far enough apart not to overlap, each drawn where the encoder puts it "
         "(in its class colour): see how the style changes across the map. Clicks still pick points.")
if draw_examples:
    spacing = tile_size(xy)
    drawn = thin(xy, spacing)  # (K,) indices of the examples drawn

@st.fragment
def explorer() -> None:
    """The map and the inspection panel: a click reruns only this part of the page."""
    # The chart's selection is in session state before the script reruns: read it first, so one click
    # is one rerun that already draws the ellipses and the panel.
    chart_key = f"latent.map.{a.key}"
    sel_key = f"latent.selected.{a.key}"
    picked = widgets.picked_points(chart_key)
    if picked:
        st.session_state[sel_key] = picked
    selected = st.session_state.get(sel_key, [])

    fig = plots.latent_map(xy, pts.data.y.numpy(), pts.data.class_names, axis_names=names,
                           title=f"{len(xy)} points · {pts.which}")
    # the points only change with the model and the view: with the same datarevision, Plotly.react
    # redraws just the shapes (ellipses, rings) on a click, not thousands of WebGL points
    fig.update_layout(datarevision=f"{a.key}/{view}/{d0}/{d1}", uirevision=a.key)
    if show_prior and view == "two dims":
        plots.add_prior_contours(fig)
    if selected and pts.sigma is not None and view == "two dims":
        sel = np.array(selected[:50])
        plots.add_ellipses(fig, xy[sel], pts.sigma[sel][:, [d0, d1]], pts.data.y[sel].tolist())
    if selected:
        plots.add_rings(fig, xy[np.array(selected[:50])], radius=0.02 * float(np.ptp(xy[:, 0])))
    if draw_examples:
        plots.add_thumbnails(fig, xy[drawn], pts.data.x[drawn].numpy(), pts.data.y[drawn].numpy(), spacing)

    left, right = st.columns([3, 2])
    with right:  # the panel first: its deltas and image reach the browser before the map redraws
        decoder.beside_map(a, pts, chart_key, (d0, d1), selected, enabled=view == "two dims")  # decoded in the page
        panel(selected)
    with left:
        st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        config={"scrollZoom": True})


def panel(selected: list[int]) -> None:
    """The first selected example: original, reconstruction, its numbers, mu and sigma per dim."""
    if not selected:
        st.info("Click a point on the map to inspect it.")
        return
    i = selected[0]
    x, y = pts.data.x[i:i + 1], pts.data.y[i:i + 1]
    label = pts.data.class_names[int(y)]
    mu = torch.from_numpy(pts.mu[i:i + 1])
    recon = decode(a.model, mu, y if a.model.n_cond else None).cpu().numpy()
    st.markdown(f"**Example #{i}** · label **{label}**" + (f" · {len(selected)} selected" if len(selected) > 1 else ""))
    if pts.data.is_image:
        picture.show(np.concatenate([x.numpy(), recon]), "original x  ·  reconstruction from z = μ(x)", size=128)
    else:
        st.markdown(f"x = ({x[0, 0]:.3f}, {x[0, 1]:.3f}) → x̂ = ({recon[0, 0]:.3f}, {recon[0, 1]:.3f})")
    m = st.columns(3)
    m[0].metric("recon, nats", f"{pts.recon[i]:.2f}", help="−log p(x | z = μ(x))")
    if pts.kl is not None:
        m[1].metric("KL, nats", f"{pts.kl[i]:.2f}", help="KL(q(z|x) ‖ p(z)), summed over dims")
        m[2].metric("mean σ", f"{pts.sigma[i].mean():.3f}")
    st.plotly_chart(plots.per_dim_bars(pts.mu[i], None if pts.sigma is None else pts.sigma[i]), key="latent.bars")
    st.caption("μ is where the encoder puts this example; σ how unsure it is. A dim whose σ ≈ 1 and μ ≈ 0 "
               "for every example carries no information (an inactive unit).")

explorer()
