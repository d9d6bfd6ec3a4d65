"""Interpolate: walk the straight (or spherical) path between two codes; turn each latent knob."""
import numpy as np
import streamlit as st
import torch

from ui import decoder, draw, links, page, picture, plots, screen, sitemap, timing, views, widgets
from ui.offline import button as offline_button, views as offline_views
from ui.presentation import style
from vae_core.latent import PATHS, decode, grid_values, interpolate, traversals

a, pts = page.start(lambda a, pts: (
    "Pick two examples A and B. Their codes z_A and z_B are joined by a path and every point on it is "
    "decoded. **Linear**: z(t) = (1 − t) z_A + t z_B. **Spherical** (slerp) follows the arc between the two "
    "directions"
    + (", which keeps |z| typical of a Gaussian prior in many dimensions, where the straight line passes "
       "through the unlikely region near 0. " if a.model.variational else ", the length of z changing evenly. ")
    + ("Smooth, plausible frames all the way mean the space between the examples is filled with meaningful codes."
       if pts.data.is_image else
       "Decoded points that move smoothly from A's to B's mean the space between them is filled with meaningful codes.")))
N, D = pts.mu.shape
names = pts.data.class_names
labels = pts.data.y.numpy()
ends_key, map_key = sitemap.interp_ends_key(), f"interp.map.{a.key}"  # the ends are also link parameters
st.session_state.setdefault(ends_key, [0, int(np.argmax(labels != labels[0])) if (labels != labels[0]).any() else min(1, N - 1)])
ends = st.session_state[ends_key]

HOW = ["by index", "by class", "by clicking the map"] + ([draw.AS_A] if pts.data.is_image else [])
how = st.radio("Pick A and B", HOW, widgets.kept_index(HOW, "interp.how", HOW[0]), horizontal=True, key="interp.how")
c = st.columns(4)
if how in ("by index", draw.AS_A):  # (your drawing: A's index stays, unused while there is a drawing)
    ends = [ends[0] if how == draw.AS_A else c[0].number_input("A (index)", 0, N - 1, ends[0], key="interp.ia"),
            c[1].number_input("B (index)", 0, N - 1, ends[1], key="interp.ib")]
elif how == "by class":
    ka = c[0].selectbox("A is a", range(len(names)), int(labels[ends[0]]), format_func=lambda k: names[k], key="interp.ca")
    kb = c[1].selectbox("B is a", range(len(names)), int(labels[ends[1]]), format_func=lambda k: names[k], key="interp.cb")
    nth = c[2].number_input("which one", 0, 50, 0, key="interp.nth", help="the n-th example of each class")
    pick = lambda k: int(np.flatnonzero(labels == k)[min(nth, int((labels == k).sum()) - 1)])
    ends = [pick(ka), pick(kb)] if (labels == ka).any() and (labels == kb).any() else ends
else:  # by clicking: the map's selection is in session state before this run draws anything
    clicked = widgets.picked_points(map_key)
    if clicked and clicked[-1] != ends[1]:
        ends = [ends[1], clicked[-1]]  # the last two clicks
method = c[3].radio("Path", list(PATHS), widgets.kept_index(PATHS, "interp.method", "linear"), horizontal=True,
                    key="interp.method")
st.session_state[ends_key] = [int(e) for e in ends]
ia, ib = st.session_state[ends_key]

y = None
if a.model.n_cond:
    y = st.selectbox("Decode with label", range(len(names)), int(labels[ia]), format_func=lambda k: names[k],
                     key="interp.label")
xy, axes, to_view = views.view_of(a, pts, "PCA" if D > 2 else "two dims", (0, min(1, D - 1)))
drawn = draw.endpoint(a, pts, map_key, views.projection(a, pts, "PCA" if D > 2 else "two dims", (0, min(1, D - 1)))) \
    if how == draw.AS_A else None  # A is your drawing, encoded as you draw
z_a, z_b = torch.from_numpy(pts.mu[ia] if drawn is None else drawn.mu), torch.from_numpy(pts.mu[ib])
x_a, a_name, a_tag = (pts.data.x[ia].numpy(), f"#{ia} ({names[labels[ia]]})", str(ia)) if drawn is None else \
    (drawn.x, "your drawing", drawn.rev)

@timing.fragment
def slider_view() -> None:
    """Only this reruns as t moves: one decode, one image."""
    t = st.slider("t", 0.0, 1.0, 0.5, 0.01, key="interp.t",
                  help="0 = A, 1 = B; the output decodes as you move")
    if st.session_state.get(links.SEEN, {}).get("t") not in (None, f"{t:.2f}"):
        links.write()  # only this fragment reran: keep the address bar's t current
    if decoder.path(a, "interp.t", z_a, z_b, method, y, names, None if pts.data.is_image else pts.data.x, pts=pts):
        return  # decoded in the page while the slider moves
    z_t = PATHS[method](z_a, z_b, torch.tensor([t]))
    img = decode(a.model, z_t, y).cpu().numpy()
    if pts.data.is_image:
        picture.show(img, f"decoded z(t), t = {t:.2f}", size=224, alt=views.decoded_alt(pts, z_t[0], f"t = {t:.2f}, decoded"))
    else:
        st.markdown(f"decoded z(t) = ({img[0, 0]:.3f}, {img[0, 1]:.3f}), t = {t:.2f}")


if how == "by clicking the map":
    st.info("Click a point on the map: it becomes B, and the previous B becomes A.")
st.markdown(f"**A** = {a_name} · **B** = #{ib} ({names[labels[ib]]})")
left, right = st.columns([1, 2])
with left:
    slider_view()
with right:
    path = to_view(interpolate(z_a, z_b, 32, method).numpy())
    fig = plots.latent_map(xy, labels, names, axis_names=axes, size=4, opacity=0.35, height=420,
                           title="the path on the map" + (" (PCA of the codes)" if D > 2 else ""))
    fig.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines", name=f"{method} path",
                    line=dict(color=style().ink, width=3 * style().line))
    plots.add_marks(fig, to_view(np.stack([z_a.numpy(), pts.mu[ib]])), text=["A", "B"], name="A, B", symbol="circle-open")
    screen.chart(fig, key=map_key, on_select="rerun", selection_mode=("points",))
offline_button.download(a, "interpolate", f"{page.title()} · {a.run.name}", lambda: offline_views.interpolation(
    a, pts, z_a, z_b, method, y, float(st.session_state.get("interp.t", 0.5)), xy, axes, to_view,
    int(st.session_state.get("interp.frames", 10)), style().colors,
    f"The path from A = {a_name} to B = #{ib} ({names[labels[ib]]}), {method}, decoded in this page."),
    caption=f"{a_name} to #{ib}")

if pts.data.is_image:  # 2-D points have no strip of frames: the path on the map shows them
    frames = st.slider("frames in the strip", 3, 16, widgets.kept("interp.frames", 10), key="interp.frames")
    strip = decode(a.model, interpolate(z_a, z_b, frames, method), y).cpu().numpy()
    picture.show(np.concatenate([x_a[None], strip, pts.data.x[ib:ib + 1].numpy()]),
                 "original A · the decoded path from z_A to z_B · original B", size=96, download="interpolation.png")
    picture.gif_button(strip, "interpolation", size=96, label="GIF (A → B → A)")

st.subheader("Latent knobs")
st.markdown("One slider per latent dimension, starting at A's code"
            + (", the dims that carry most information (KL to the prior) first" if a.model.variational else "")
            + ". Move one and watch which property of the output it controls" + ("; in a disentangled (β-)VAE each knob tends to change one thing."
                                    if a.model.variational else "."))


order, dim_names, _ = views.ranked(a, pts)  # dims by KL, largest first (a VAE); labels 'z3 · 2.1 nats'


@timing.fragment
def knobs() -> None:
    shown = order[:12]
    cols = st.columns([2, 3])
    with cols[0]:
        z = z_a.clone()
        for d, name in zip(shown, dim_names):
            z[d] = st.slider(name, -4.0, 4.0, min(4.0, max(-4.0, float(z_a[d]))), 0.05, key=f"knob.{a.key}.{d}.{a_tag}")
        if D > len(shown):
            st.caption(f"the {D - len(shown)} dims of least KL held at A's code")
    with cols[1]:
        keys = [f"knob.{a.key}.{d}.{a_tag}" if d in shown else "" for d in range(D)]  # by dim; "" = no knob
        if decoder.knobs(a, z, keys, y, names, None if pts.data.is_image else pts.data.x):
            return  # decoded in the page while a knob moves
        img = decode(a.model, z[None], y).cpu().numpy()
        if pts.data.is_image:
            picture.show(img, "decoded from the knobs", size=256, alt=views.decoded_alt(pts, z, "decoded from the knobs"))
        else:
            st.markdown(f"decoded = ({img[0, 0]:.3f}, {img[0, 1]:.3f})")


knobs()

if pts.data.is_image:
    st.subheader("Traversals")
    st.markdown("Each row decodes A's code with only one z_d swept from −3 to 3: all knobs at once"
                + (", rows in KL order, largest first" if a.model.variational else "") + ". A row that never "
                "changes is an unused dimension (its KL ≈ 0); in a disentangled model each row moves one factor.")
    steps = grid_values(9, 3.0)
    rows = traversals(a.model, z_a, order[:12], steps, y).cpu().numpy()  # (R, 9, C, H, W)
    picture.show(rows, "rows: " + ", ".join(dim_names[:len(rows)]) + "  ·  columns: −3 … 3", size=64,
                 download="traversal.png")
    picture.gif_button(rows.swapaxes(0, 1), "traversal", cols=1, size=64, label="GIF (all rows sweep together)")
