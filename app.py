"""Latent Explorer: train autoencoders and VAEs live, and look inside their latent spaces.

    streamlit run app.py
"""
import streamlit as st

from ui import concept, heap, home, links, presentation, run_page, runs, screen, sidebar, timing, widgets

st.set_page_config(page_title="Latent Explorer", page_icon="🧭", layout="wide")
widgets.init()
runs.init()
link = links.read()  # a lesson link just opened: its model, presentation mode, hidden parts
presentation.apply()

explore = [
    st.Page(home.render, title="Start here", icon=":material/home:", url_path="home", default=True),
    st.Page("pages/latent.py", title="Latent space", icon=":material/scatter_plot:"),
    st.Page("pages/manifold.py", title="Manifold", icon=":material/grid_view:"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
]
compare = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/rate_distortion.py", title="Rate–distortion", icon=":material/show_chart:", url_path="rate_distortion"),
    st.Page("pages/diagnostics.py", title="Diagnostics", icon=":material/monitor_heart:"),
]
page = st.navigation({"Explore": [p for p in explore if p.title != "Train" or not links.hidden("train")],
                      "Compare": compare,
                      "Concepts": concept.pages()},
                     position="hidden" if links.hidden("nav") else "sidebar",
                     expanded=True)  # every page in view: no "View 3 more" hiding the Concepts
links.restore(link, page.url_path)  # ... and its settings for this page, before its widgets are drawn
if links.hidden("sidebar"):
    st.html('<style>[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none}</style>')
with timing.timed(page.url_path):
    sidebar.render()
    try:
        run_page(page)  # page.run(), marked as run through app.py (ui/__init__.py: deep links on a fresh server)
        links.write(page.url_path)  # the address bar: a link to what is on screen
        with st.sidebar:
            links.share()
            presentation.toggle()
            screen.report()  # the browser's pixel ratio, for the charts' WebGL layers
    finally:  # also when a page stops early (st.stop) or reruns
        widgets.remember()
        heap.settle()
