"""A link to a page works on a freshly started server (issue 7, fault 1).

Until `st.navigation` has run once in a process, Streamlit 1.67 treats the `pages/` folder beside
app.py as an old-style pages directory and runs a deep-linked page script without app.py. Each case
starts its own server, so the URL under test is the very first thing the process serves.
"""
from __future__ import annotations

import pytest

from browser_support import app_server, browser_page, nav_link, require_chromium, wait_idle
from ui.sitemap import PAGES

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
        groups = page.get_by_test_id("stTopNavSection").all_inner_texts()  # the top navigation, from ui.sitemap
        assert [g.strip() for g in groups] == list(dict.fromkeys(p.group for p in PAGES)), groups
        for title in NAV:  # its first menu: the Explore pages, by their titles
            nav_link(page, title).wait_for()
        assert page.url.rstrip("/").split("?")[0].endswith("/" + path)
