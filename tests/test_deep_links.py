"""A link to a page works on a freshly started server (issue 7, fault 1).

Until `st.navigation` has run once in a process, Streamlit 1.67 treats the `pages/` folder beside
app.py as an old-style pages directory and runs a deep-linked page script without app.py. Each case
starts its own server, so the URL under test is the very first thing the process serves.
"""
from __future__ import annotations

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, app_process, app_server, browser_page, explained, nav_link, require_chromium, wait_idle
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



CROWD = 8  # a class's browsers opening one lesson link at the same moment


@pytest.mark.parametrize("path, title, model", [
    ("latent?model=mnist-vae-2d", "Latent space", "MNIST VAE, 2-D latent"),
    ("manifold?model=digits-vae-2d", "Manifold", "Digits VAE, 2-D latent"),
    ("train", "Train", None),
])
def test_a_crowd_opening_one_link_on_a_fresh_server_all_get_the_page(path, title, model):
    """Every session's first run on a fresh server goes through Streamlit's old pages/ scheme (the page
    script alone) until some session has run app.py: each must still come out on the page, with its
    map (or, on Train, its Start button), whatever order the sessions' runs interleave in (issue 21)."""
    from playwright.sync_api import sync_playwright

    with app_process() as (url, server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            pages = [browser.new_context(viewport={"width": 1280, "height": 900}).new_page() for _ in range(CROWD)]
            for page in pages:  # all of them under way before any is waited for
                page.set_default_timeout(180_000)
                page.goto(f"{url}/{path}", wait_until="commit")
            for i, page in enumerate(pages):
                def shown():
                    page.get_by_role("heading", name=title).first.wait_for()
                    if model:  # the map, drawn, with the linked model in the sidebar
                        page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.length")
                        page.locator('[data-testid="stSidebar"]').get_by_text(model).first.wait_for()
                    else:
                        page.get_by_role("button", name="Start", exact=True).wait_for()
                    wait_idle(page, timeout=180_000)
                explained(page, shown, f"session {i} of {CROWD} did not show {path}", f"crowd-{title}-{i}")
                body = page.locator('[data-testid="stMain"]').inner_text()
                assert "encountered an error" not in body and "Traceback" not in body, (i, body[:2000])
            (ROOT / "artifacts").mkdir(exist_ok=True)
            pages[-1].screenshot(path=str(ROOT / "artifacts" / f"crowd-{path.split('?')[0]}.png"))
        finally:
            browser.close()
        log = server.log_path.read_text(errors="replace")  # the server's own output, before it is removed
    assert "Traceback" not in log and "Error" not in log, log[-3000:]
