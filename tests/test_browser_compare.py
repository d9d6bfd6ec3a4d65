"""The Rate–distortion and Compare pages in a real browser: a click on a point of the rate–distortion
chart makes that run the active model (the sidebar says so); a box selection in one Compare map rings
the same examples in the others. Screenshots go to artifacts/screens/.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import re

import pytest

from browser_support import ROOT, point_position, served_page, wait_idle

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
TARGET = "zoo.digits-beta-0p5"
TARGET_NAME = "Digits β-VAE, β = 0.5 (sweep)"


@pytest.fixture(scope="module")
def app():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served_page(height=2600) as (url, page):
        yield url, page


def charts(page) -> int:
    return page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length")


def test_a_click_on_the_rate_distortion_chart_activates_that_run(app):
    url, page = app
    page.goto(url + "/rate_distortion")
    page.get_by_role("heading", name="Rate–distortion").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_idle(page)
    trace = page.evaluate("""(id) => document.querySelector('.js-plotly-plot')._fullData
        .findIndex(t => t.customdata && t.customdata[0] && t.customdata[0][0] === id)""", TARGET)
    assert trace >= 0, "the β = 0.5 sweep member is not on the chart"
    x, y = point_position(page, chart_index=0, trace=trace, point=0)
    page.mouse.click(x, y)
    page.get_by_text(f"Active: {TARGET_NAME}").first.wait_for()
    wait_idle(page)
    checked = page.locator('[data-testid="stSidebar"] [role="radiogroup"] label:has(input:checked)').first.inner_text()
    assert TARGET_NAME in checked, checked
    page.locator("img.picture").first.wait_for()  # its prior samples
    page.screenshot(path=str(SHOTS / "rate-distortion.png"), full_page=True)


def test_a_box_in_one_compare_map_rings_the_same_examples_in_the_others(app):
    url, page = app
    page.goto(url + "/compare")
    page.get_by_role("heading", name="Compare").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 4")
    wait_idle(page)
    # a box around the first map's middle (its drag mode is "select")
    box = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - box["width"] * 0.15, cy - box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(cx - box["width"] * 0.05, cy - box["height"] * 0.05, steps=5)
    page.mouse.move(cx, cy, steps=5)
    page.mouse.up()
    page.get_by_text(re.compile(r"\d+ selected")).first.wait_for()
    wait_idle(page)
    rings = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).slice(0, 3).map(gd => {
        const t = gd._fullData.find(t => (t.name || '').startsWith('selected'));
        return t ? Array.from(t.customdata).map(Number).sort((a, b) => a - b) : null; })""")
    assert rings[0], "the first map rings nothing"
    assert rings[1] == rings[0] and rings[2] == rings[0]
    n = int(re.search(r"(\d+) selected", page.locator('[data-testid="stMain"]').inner_text()).group(1))
    assert n == len(rings[0])
    page.screenshot(path=str(SHOTS / "compare-trio.png"), full_page=True)
