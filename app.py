"""Latent Explorer: train autoencoders and VAEs live, and look inside their latent spaces.

    streamlit run app.py
"""
import streamlit as st

from ui import concept, runs, sidebar, widgets

st.set_page_config(page_title="Latent Explorer", page_icon=":material/explore:", layout="wide")
widgets.init()
runs.init()

pages = st.navigation({"Explore": [
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:", default=True),
    st.Page("pages/manifold.py", title="Manifold", icon=":material/grid_view:"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
], "Concepts": concept.pages()})
sidebar.render()
try:
    pages.run()
finally:  # also when a page stops early (st.stop) or reruns
    widgets.remember()
