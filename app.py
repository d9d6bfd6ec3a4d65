"""Latent Explorer: train autoencoders and VAEs live, and look inside their latent spaces.

    streamlit run app.py
"""
import streamlit as st

from ui import access, heap, links, presentation, recent, run_page, runs, screen, sidebar, sitemap, timing, widgets

st.set_page_config(page_title="Latent Explorer", page_icon="🧭", layout="wide")
widgets.init()
runs.init()
link = links.read()  # a lesson link just opened: its model, presentation mode, hidden parts
presentation.apply()
access.apply()  # contrast, focus, touch targets, reduced motion; charts' text alternatives

groups: dict[str, list] = {}
for spec in sitemap.PAGES:
    if not (spec.hide and links.hidden(spec.hide)):
        groups.setdefault(spec.group, []).append(
            st.Page(spec.target, title=spec.title, icon=spec.icon, url_path=spec.name, default=spec.default))
# the pages along the top (a menu per group), so the sidebar holds the runs and the link to this view
page = st.navigation(groups, position="hidden" if links.hidden("nav") else "top")
links.restore(link, page.url_path)  # ... and its settings for this page, before its widgets are drawn
recent.remember_and_offer(page.url_path)  # a malformed or empty workspace address is said, with the recent ones
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
