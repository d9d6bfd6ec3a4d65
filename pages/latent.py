"""Latent space: every encoded example as a point; click one (or select many) to see what the model makes of it."""
import numpy as np
import streamlit as st
import torch

from ui import decoder, draw, example_hover, page, picture, plots, screen, timeline, timing, views, widgets
from ui.offline import button as offline_button, views as offline_views
from ui.presentation import style
from vae_core.data import own
from vae_core.latent import decode
from vae_core.thinning import thin, tile_size

SHOWN = 48  # selected examples shown at once
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def code(a) -> str:
    return "μ(x)" if a.model.variational else "enc(x)"


a, pts = page.start(lambda a, pts: (
    f"Each dot is one example **x**, placed at its code **z** = {code(a)}, where the encoder puts it, and coloured "
    + ("by its label (which this conditional VAE is also given as an input). " if a.model.n_cond else
       "by its label, which the model never saw. ")
    + "Classes that form their own islands mean "
    "the code has learned what tells them apart. "
    + ("For a VAE, q(z|x) = N(μ, σ²): the shaded ellipses show μ ± σ of the selected points, and the dotted "
       "circles the prior p(z) = N(0, I) that the KL term pulls every ellipse towards. " if a.model.variational else
       "A plain autoencoder has no prior: nothing pulls its codes towards any particular region. ")
    + "**Click a point** (or box / lasso-select several) to see its reconstruction"
    + (", or choose **Draw** beside the map and see where the model puts your own drawing." if pts.data.is_image
       else ".")))
D = pts.mu.shape[1]
data = pts.data

c1, c2, c3, c4, c5 = st.columns([1.5, 1.25, 1.25, 1.1, 1.6])  # the axis boxes wide enough for 'z0 · 2.8 nats'
view_options = views.VIEWS if D > 2 else views.VIEWS[:1]
view = c1.radio("View", view_options, widgets.kept_index(view_options, "latent.view", view_options[0]), horizontal=True, key="latent.view",
                help="Two chosen dims show true coordinates; PCA the best linear 2-D shadow; "
                     "t-SNE keeps neighbourhoods only (its axes mean nothing).")
d0, d1 = page.two_dims(D, "latent", (c2, c3), disabled=view != "two dims", ranked=views.ranked(a, pts))
if a.model.variational:
    show_prior = c4.toggle("Prior", widgets.kept("latent.prior", True), key="latent.prior",
                           disabled=view != "two dims", help="The prior p(z) = N(0, I): rings at 1, 2 and 3 σ."
                           ) and view == "two dims"
else:  # a plain autoencoder has no prior: the switch is shown off, and greyed out
    show_prior = c4.toggle("Prior", False, key="latent.prior.none", disabled=True,
                           help="A plain autoencoder has no prior p(z) to draw.")
colour_by = "label"
if data.factors is not None:  # sprites: colour by any true factor
    options = ["label", *data.factor_names[1:]] if data.factor_names[0] == "shape" else ["label", *data.factor_names]
    colour_by = c5.selectbox("Colour by", options, widgets.kept_index(options, "latent.colour", "label"),
                             key="latent.colour", format_func=lambda o: "shape (label)" if o == "label" else o,
                             help="The true factors the sprites were drawn from: does a latent direction follow one?")

xy, names, to_view = views.view_of(a, pts, view, (d0, d1))
values = None if colour_by == "label" else data.factors[:, data.factor_names.index(colour_by)].numpy()
if values is not None:
    st.caption(f"Colour: each sprite's true **{colour_by}**"
               + (" (radians)" if colour_by == "rotation" else " (0 … 1 across the image)" if colour_by.startswith("pos")
                  else "") + ", one of the factors it was drawn from; the model never saw it. A smooth colour "
               "gradient along one axis means that latent dim encodes this factor.")

# The classic picture: a few hundred examples drawn at their own codes, thinned so none overlap. (In the
# row of controls, where the sprites' colour box is not.)
draw_examples = pts.data.is_image and (c5 if data.factors is None else st).toggle(
    "Pictures", value=widgets.kept("latent.images", False), key="latent.images",
    help="A few hundred examples, far enough apart not to overlap, each drawn where the encoder puts it "
         "(in its class colour): see how the style changes across the map. Clicks still pick points.")
if draw_examples:
    spacing = tile_size(xy)
    drawn = thin(xy, spacing)  # (K,) indices of the examples drawn


@timing.fragment
def explorer() -> None:
    """The map and the inspection panel: a click reruns only this part of the page."""
    # The chart's selection is in session state before the script reruns: read it first, so one click
    # is one rerun that already draws the ellipses and the panel.
    chart_key = f"latent.map.{a.key}"
    sel_key = f"latent.selected.{a.key}"
    picked = widgets.picked_points(chart_key)
    if picked and picked != st.session_state.get(f"{sel_key}.chart"):  # a new click or box (not one seen)
        st.session_state[sel_key] = st.session_state[f"{sel_key}.chart"] = picked
    selected = st.session_state.get(sel_key, [])

    def chosen() -> None:  # an example chosen on the map by keyboard, a tap or a pen (decoder.js)
        if (i := decoder.picked()) is not None and 0 <= i < len(xy):
            st.session_state[sel_key] = [i]

    left, right = st.columns([3, 2])
    with right:  # the panel first: its deltas and image reach the browser before the map is even built
        if data.is_image and draw.side() == "Draw":  # your own drawing, encoded in the page as you draw
            draw.beside_map(a, pts, chart_key, view, (d0, d1))
        else:
            decoder.beside_map(a, pts, chart_key, (d0, d1), selected, enabled=view == "two dims",
                               on_pick=chosen)  # decoded in the page
            panel(selected)
    with left:
        screen.chart(the_map(selected), key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        config={"scrollZoom": True})
        if data.is_image and own.is_own(a.cfg.dataset) and example_hover.attach(
                chart_key, a.key, data.x.numpy(), data.y.numpy(), data.class_names):  # your own data: unfamiliar
            st.caption("Hover a point to see its example beside the pointer.")
        offline_button.download(a, "latent", f"{page.title()} · {a.run.name}", lambda: offline_views.latent(
            a, pts, view, (d0, d1), xy, names, selected, show_prior, values, colour_by, style().colors,
            "Each dot is one example, placed where the encoder puts it and coloured by its label. The picture is what "
            "the decoder makes of the code under the pointer" + (": the map's axes are latent dims." if view == "two dims"
                                                                  else ": here the nearest example's code.")))
    if len(selected) > 1:
        gallery(selected)


def the_map(selected: list[int]):
    """The latent map with the selection drawn on it: rings, and for a VAE the μ ± σ ellipses."""
    fig = plots.latent_map(xy, data.y.numpy(), data.class_names, axis_names=names, values=values,
                           value_name=colour_by, title=f"{len(xy)} points · {pts.which}")
    # the points only change with the model and the view: with the same datarevision, Plotly.react
    # redraws just the shapes (ellipses, rings) on a click, not thousands of WebGL points
    fig.update_layout(datarevision=f"{a.key}/{view}/{d0}/{d1}/{colour_by}", uirevision=a.key)
    if show_prior:
        plots.add_prior_contours(fig)
    if selected and pts.sigma is not None and view == "two dims":
        sel = np.array(selected[:50])
        plots.add_ellipses(fig, xy[sel], pts.sigma[sel][:, [d0, d1]], data.y[sel].tolist())
    if selected:
        plots.add_rings(fig, xy[np.array(selected[:50])], radius=0.02 * float(np.ptp(xy[:, 0])))
    if draw_examples:
        plots.add_thumbnails(fig, xy[drawn], pts.data.x[drawn].numpy(), pts.data.y[drawn].numpy(), spacing)
    return fig


def panel(selected: list[int]) -> None:
    """The first selected example: original, reconstruction, its numbers, mu and sigma per dim."""
    if not selected:
        st.info("Click a point on the map to inspect it, or pick the box / lasso tool above the map and "
                "drag over a region to see all its examples.")
        return
    i = selected[0]
    x, y = data.x[i:i + 1], data.y[i:i + 1]
    label = data.class_names[int(y)]
    mu = torch.from_numpy(pts.mu[i:i + 1])
    recon = decode(a.model, mu, y if a.model.n_cond else None).cpu().numpy()
    st.markdown(f"**Example #{i}** · label **{label}**" + (f" · {len(selected)} selected" if len(selected) > 1 else ""))
    if data.is_image:
        picture.show(np.concatenate([x.numpy(), recon]), f"original x  ·  reconstruction from z = {code(a)}", size=128,
                     alt=f"example #{i}, a {label}, and its " + views.decoded_alt(pts, pts.mu[i], "reconstruction"))
    else:
        coords = lambda v: ", ".join(f"{c:.3f}" for c in np.ravel(v)[:8]) + (", …" if np.size(v) > 8 else "")  # noqa: E731
        st.markdown(f"x = ({coords(x[0].numpy())}) → x̂ = ({coords(recon[0])})")
    m = st.columns(3)
    m[0].metric("recon, nats", f"{pts.recon[i]:.2f}", help=f"−log p(x | z = {code(a)})")
    if pts.kl is not None:
        m[1].metric("KL, nats", f"{pts.kl[i]:.2f}", help="KL(q(z|x) ‖ p(z)), summed over dims")
        m[2].metric("mean σ", f"{pts.sigma[i].mean():.3f}")
    screen.chart(plots.per_dim_bars(pts.mu[i], None if pts.sigma is None else pts.sigma[i]), key="latent.bars")
    if a.model.variational:
        st.caption("μ is where the encoder puts this example; σ how unsure it is. A dim whose σ ≈ 1 and μ ≈ 0 "
                   "for every example carries no information (an inactive unit).")
    else:
        st.caption("The code z is where the encoder puts this example, one number per latent dim.")


def gallery(selected: list[int]) -> None:
    """Every selected example, or SHOWN of them spread evenly over the selection: what a region holds."""
    chosen = np.array(selected)
    shown = chosen[np.linspace(0, len(chosen) - 1, min(SHOWN, len(chosen))).round().astype(int)]
    counts = np.bincount(data.y[chosen].numpy(), minlength=len(data.class_names))
    mix = " · ".join(f"{data.class_names[k]} ×{c}" for k, c in sorted(enumerate(counts), key=lambda kc: -kc[1]) if c)
    more = f"{len(shown)} of {len(chosen)}, spread evenly over the selection" if len(chosen) > SHOWN else f"all {len(chosen)}"
    st.markdown(f"**{len(chosen)} selected** · showing {more}  \nlabels in the selection: {mix}")
    if data.is_image:
        picture.show(data.x[shown].numpy(), "the selected examples, as the data hold them",
                     cols=min(len(shown), 16), size=48)
    else:
        st.dataframe({"example": shown, "label": [data.class_names[k] for k in data.y[shown].tolist()],
                      **{"x" + str(d + 1).translate(SUBSCRIPT): data.x[shown, d].numpy() for d in range(min(8, data.x.shape[1]))}},
                     hide_index=True, height=240)


explorer()
timeline.panel(a)  # how this map formed: the run's snapshots, scrubbed and played in the page
