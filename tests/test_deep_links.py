"""A link to a page works on a freshly started server (issue 7, fault 1).

Until `st.navigation` has run once in a process, Streamlit 1.67 treats the `pages/` folder beside
app.py as an old-style pages directory and runs a deep-linked page script without app.py. Each case
starts its own server, so the URL under test is the very first thing the process serves.
"""
from __future__ import annotations

import pytest

from browser_support import app_server, browser_page, require_chromium, wait_idle

pytestmark = pytest.mark.browser

NAV = ["Start here", "Latent space", "Manifold", "Interpolate", "Train"]


@pytest.fixture(autouse=True)
def chromium():
    require_chromium()


@pytest.mark.parametrize("path, title", [("train", "Train"), ("manifold", "Manifold"), ("interpolate", "Interpolate")])
def test_a_deep_link_is_the_first_request_of_a_fresh_server(path, title):
    with app_server() as url, browser_page() as page:
        page.set_default_timeout(60_000)
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=title).first.wait_for()
        wait_idle(page)
        body = page.locator("body").inner_text()
        assert "encountered an error" not in body and "Traceback" not in body
        nav = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
        names = [n.strip().split("\n")[-1] for n in nav]  # (each link: its icon's name, then its title)
        assert names[:len(NAV)] == NAV and len(names) == len(NAV) + 3 + 6, nav  # then Compare (3) and the six Concepts pages
        assert page.url.rstrip("/").split("?")[0].endswith("/" + path)
