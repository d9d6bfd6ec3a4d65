"""A real browser: start the app on 127.0.0.1, train a tiny model through the UI, click a point on the
latent map, move the interpolation slider, and save a screenshot of every page (artifacts/screens/).

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import re

import pytest

from ui.timing import LINE

from browser_support import (ROOT, app_process, browser_page, goto_page, point_position, require_chromium,
                             start_training, wait_drawn, wait_idle)

SCREENS = ROOT / "artifacts" / "screens"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    """(URL, the server's own log)."""
    require_chromium()
    with app_process() as (url, proc):
        yield url, proc.log_path


@pytest.fixture(scope="module")
def page(server):
    SCREENS.mkdir(parents=True, exist_ok=True)
    with browser_page(height=2000) as page:  # tall: Streamlit scrolls inside the page
        page.set_default_timeout(60_000)
        page.goto(server[0] + "/latent")  # the root is the first screen (pages/home.py)
        yield page


def shot(page, name: str) -> None:
    wait_drawn(page)
    page.screenshot(path=str(SCREENS / f"{name}.png"))


def test_opens_on_a_populated_latent_map(page):
    page.get_by_role("heading", name="Latent space").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    n = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.reduce((s, t) => s + (t._length || 0), 0)")
    assert n >= 1000
    shot(page, "1-latent")


def test_clicking_a_point_shows_its_reconstruction(page, server):
    log = server[1]
    page.locator(".js-plotly-plot").first.wait_for()
    top = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.length - 1")  # drawn last
    x, y = point_position(page, chart_index=0, trace=top, point=0)
    wait_idle(page)
    log_from = log.stat().st_size
    page.mouse.click(x, y)
    title = page.get_by_text(re.compile(r"Example #\d+")).first
    title.wait_for()
    page.get_by_text("reconstruction from z").first.wait_for()
    wait_idle(page)
    with open(log, "rb") as f:  # the click reran the map's fragment alone, and the server's log says so
        f.seek(log_from)
        runs = re.findall(LINE, f.read().decode(errors="replace"))
    assert [(page_, trigger) for page_, trigger, *_ in runs] == [("latent", "fragment explorer")], runs
    # among 10,000 points the click may pick a neighbour drawn at the same spot: the one shown must be there
    index = int(re.search(r"#(\d+)", title.inner_text()).group(1))
    trace, point = page.evaluate("""(i) => { const d = document.querySelector('.js-plotly-plot')._fullData;
        for (const [t, tr] of d.entries()) { const p = Array.from(tr.customdata || []).indexOf(i);
                                             if (p >= 0) return [t, p]; } }""", index)
    px, py = point_position(page, chart_index=0, trace=trace, point=point)
    assert abs(px - x) <= 8 and abs(py - y) <= 8, (index, (px, py), (x, y))
    shot(page, "2-latent-clicked")


def test_manifold_page(page):
    goto_page(page, "Manifold")
    page.locator("img.picture").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    shot(page, "3-manifold")


def test_interpolation_slider_decodes_live(page):
    goto_page(page, "Interpolate")
    page.get_by_text("t = 0.50").first.wait_for()
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.get_by_text("t = 0.55").first.wait_for()
    shot(page, "4-interpolate")


def test_training_a_tiny_model_through_the_ui(page):
    goto_page(page, "Train")
    start_training(page, 60)
    shot(page, "5-train-running")
    # leave the page while it trains, come back: the job is still there, further along or done
    goto_page(page, "Latent space")
    goto_page(page, "Train")
    page.get_by_text(re.compile(r"(training|done) · step [1-9]")).first.wait_for(timeout=30_000)
    assert page.get_by_role("textbox", name=re.compile("^epochs")).input_value() == "60"  # the form kept its values too
    page.get_by_text("done ·").first.wait_for(timeout=180_000)
    # the trained model became the active one
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"]').innerText.includes('60 epochs')", timeout=30_000)
    shot(page, "6-train-done")
    goto_page(page, "Latent space")
    page.locator(".js-plotly-plot").first.wait_for()
    shot(page, "7-latent-of-trained-model")
