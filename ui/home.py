"""The first screen: what the app is, and three places to start."""
from __future__ import annotations

import streamlit as st

from . import runs


def render() -> None:
    st.title("Latent Explorer")
    st.markdown("Train autoencoders and variational autoencoders in the browser, and look inside the space of "
                "codes they learn: where each example lands, what every point decodes to, and what β changes.")
    a = runs.active()
    if a is not None:
        st.caption(f"The model open now: **{a.run.name}** (switch in the sidebar).")
    st.subheader("Where to start")
    steps = [
        ("pages/latent.py", ":material/scatter_plot:", "1 · Explore the map",
         "Every example as a point at its code. Click one to see what the model makes of it; drag a box to see a "
         "whole region."),
        ("pages/manifold.py", ":material/grid_view:", "2 · Open the manifold",
         "Decode a grid of codes: watch one class morph into the next, and see where the decoder runs out of data."),
        ("pages/train.py", ":material/model_training:", "3 · Train with a different β",
         "Train a β-VAE in a minute and compare its map: a larger β pulls the codes towards the prior and trades "
         "sharp reconstructions for a smoother, more disentangled space."),
    ]
    for col, (path, icon, label, text) in zip(st.columns(3), steps):
        with col.container(border=True):
            st.page_link(path, label=label, icon=icon)
            st.caption(text)
