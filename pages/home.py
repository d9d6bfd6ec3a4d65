"""Start here: the first screen: what the app is, and three places to start."""
import streamlit as st

from ui import page, run_app_first, runs, sitemap

run_app_first()
st.title("Latent Explorer")  # the app's name, not the page's ("Start here" in the navigation)
page.explain("Train autoencoders and variational autoencoders in the browser, and look inside the space of codes "
             "they learn: where each example lands, what every point decodes to, and what β changes.")
a = runs.active()
if a is not None:
    st.caption(f"The model open now: **{a.run.name}** (switch in the sidebar).")
st.subheader("Where to start")
STEPS = [
    ("latent", "1 · Explore the map",
     "Every example as a point at its code. Click one to see what the model makes of it; drag a box to see a "
     "whole region."),
    ("manifold", "2 · Open the manifold",
     "Decode a grid of codes: watch one class morph into the next, and see where the decoder runs out of data."),
    ("train", "3 · Train with a different β",
     "Train a β-VAE in a minute and compare its map: a larger β pulls the codes towards the prior and trades "
     "sharp reconstructions for a smoother, more disentangled space."),
]
for col, (name, label, text) in zip(st.columns(3), STEPS):
    spec = sitemap.spec(name)
    with col.container(border=True):
        st.page_link(spec.target, label=label, icon=spec.icon)
        st.caption(text)
