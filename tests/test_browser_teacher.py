"""A real browser, as a teacher uses the app (issue 7): the first screen, a lesson link that restores its
view (and the link the app gives back), presentation mode, the cVAE's all-labels grid, sprites coloured
by rotation, a box selection. Screenshots go to $SHOTS (default artifacts/screens/)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from browser_support import ROOT, app_server, browser_page, goto_page, require_chromium, wait_drawn, wait_idle

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SHOTS", ROOT / "artifacts" / "screens"))


@pytest.fixture(scope="module")
def app():
    require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with app_server() as url, browser_page(height=1400) as page:
        page.set_default_timeout(90_000)
        yield url, page


def open_view(page, url: str, title: str, chart: bool = False) -> None:
    page.goto(url)
    page.get_by_role("heading", name=title).first.wait_for()
    wait_idle(page)
    if chart:
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullLayout")
    wait_drawn(page)  # Plotly draws after the script is done


def shot(page, name: str) -> None:
    wait_drawn(page)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def no_error(page) -> None:
    body = page.locator("body").inner_text()
    assert "encountered an error" not in body and "Traceback" not in body


def test_the_first_screen(app):
    url, page = app
    open_view(page, url, "Latent Explorer")
    main = page.locator('[data-testid="stMain"]')
    for name in ("Explore the map", "Open the manifold", "Train with a different β"):
        main.get_by_role("link", name=re.compile(name)).first.wait_for()
    shot(page, "first-screen")
    main.get_by_role("link", name=re.compile("Explore the map")).first.click()
    page.get_by_role("heading", name="Latent space").first.wait_for()
    no_error(page)


def view_of(page) -> dict:
    """What the Manifold page shows: its dims (the dim of a box's 'z2 · 1.2 nats'), grid size and
    spacing, read from the widgets."""
    main = page.locator('[data-testid="stMain"]')
    spacing = main.locator('[data-testid="stRadio"] label:has(input:checked)').first.inner_text()
    dim = lambda name: main.get_by_role("combobox", name=name).input_value().split(" · ")[0]  # noqa: E731
    return {"x": dim("x axis"), "y": dim("y axis"),
            "n": main.get_by_role("slider", name="grid size").input_value(), "spacing": spacing.strip()}


def test_a_lesson_link_restores_its_view_and_the_app_gives_it_back(app):
    url, page = app
    open_view(page, f"{url}/manifold?model=sprites-betavae&x=2&y=5&n=9&spacing=quantile&room=12", "Manifold")
    no_error(page)
    view = view_of(page)
    assert view == {"x": "z2", "y": "z5", "n": "9", "spacing": "Gaussian quantile"}, view
    assert "β-VAE" in page.locator('[data-testid="stSidebar"]').inner_text() or "sprites" in \
        page.locator('[data-testid="stSidebar"]').inner_text()
    query = parse_qs(urlsplit(page.url).query)
    assert query["room"] == ["12"] and len(query["ws"][0]) == 22  # kept: a parameter links don't own, the workspace
    assert query["n"] == ["9"] and query["model"] == ["sprites-betavae"]
    # the link the app offers, opened in a fresh session, shows the same view
    page.get_by_text("Link to this view").first.click()
    box = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="Link to this view")
    link = box.locator('[data-testid="stCode"] code').first.inner_text().strip()
    assert link.startswith(url + "/manifold?")
    shot(page, "lesson-link-restored")
    other = page.context.browser.new_page(viewport={"width": 1500, "height": 1400})  # a session of its own
    open_view(other, link, "Manifold")
    assert view_of(other) == view
    other.close()


def test_presentation_mode(app):
    url, page = app
    open_view(page, f"{url}/latent?model=digits-vae-2d&present=1", "Latent space", chart=True)
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "22px"
    assert page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "true"
    assert page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.font.size") == 20
    shot(page, "presentation-mode")


def test_the_cvae_all_labels_grid(app):
    url, page = app
    open_view(page, f"{url}/manifold?model=digits-cvae-2d&labels=all&n=10", "Manifold")
    page.get_by_text("row = label").first.wait_for()
    page.locator("img.picture").first.wait_for()
    no_error(page)
    shot(page, "cvae-all-labels")


def test_sprites_coloured_by_rotation(app):
    url, page = app
    open_view(page, f"{url}/latent?model=sprites-betavae&colour=rotation", "Latent space", chart=True)
    bar = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData[0].marker.colorbar.title.text")
    assert bar == "rotation"
    shot(page, "sprites-by-rotation")


def test_a_box_selection_shows_all_selected_examples(app):
    url, page = app
    open_view(page, f"{url}/latent?model=digits-vae-2d", "Latent space", chart=True)
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    page.locator('.modebar-btn[data-val="select"]').first.click()
    box = page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot'), L = gd._fullLayout;
        const r = gd.getBoundingClientRect();
        return [r.left + L.xaxis._offset, r.top + L.yaxis._offset, L.xaxis._length, L.yaxis._length]; }""")
    left, top, width, height = box
    page.mouse.move(left + 0.40 * width, top + 0.40 * height)
    page.mouse.down()
    page.mouse.move(left + 0.55 * width, top + 0.55 * height, steps=8)
    page.mouse.up()
    page.get_by_text(re.compile(r"\d+ selected · showing")).first.wait_for()
    # the panel's picture and the gallery's: elements reach the browser one by one, so wait for the second
    page.locator("img.picture").nth(1).wait_for()
    no_error(page)
    shot(page, "box-selection")


def test_a_train_link_sets_the_forms_beta(app):
    url, page = app
    open_view(page, f"{url}/train?beta=3.5", "Train")
    no_error(page)
    from playwright.sync_api import expect  # (the widgets' code loads after the script has run: wait for it)

    expect(page.get_by_role("textbox", name=re.compile(r"^β \("))).to_have_value("3.5")  # as typed, the knob's format
    assert parse_qs(urlsplit(page.url).query)["beta"] == ["3.5"]


def test_the_sidebar_download_is_the_checkpoint_and_no_page_fetches_it_unasked(app):
    """The checkpoint is read when Download is pressed: a page that loaded it eagerly made every visit
    fetch (and the server gzip) 1.9 MB for an MNIST model."""
    url, page = app
    fetched: list[str] = []
    listen = lambda r: fetched.append(r.url) if "/media/" in r.url and r.url.endswith(".bin") else None  # noqa: E731
    page.on("request", listen)
    try:
        open_view(page, f"{url}/latent?model=mnist-vae-2d", "Latent space", chart=True)
        button = page.locator('[data-testid="stSidebar"] [data-testid="stDownloadButton"]').first
        button.wait_for()
        wait_drawn(page)  # the page as drawn: whatever it would fetch on its own has been asked for
        assert fetched == []
        with page.expect_download() as got:
            button.click()
        assert Path(got.value.path()).read_bytes() == (ROOT / "checkpoints" / "mnist-vae-2d.safetensors").read_bytes()
        assert got.value.suggested_filename.endswith(".safetensors")
    finally:
        page.remove_listener("request", listen)
    no_error(page)


def test_the_app_asks_nothing_of_any_other_host(app):
    """Every request stays on the app's own server: a classroom without internet loses nothing, and no
    third party learns of a student's visit. (A Material icon as the page icon was fetched from
    fonts.gstatic.com on every script run.)"""
    url, page = app
    own = urlsplit(url).netloc
    elsewhere: list[str] = []
    listen = lambda r: elsewhere.append(r.url) if urlsplit(r.url).scheme in ("http", "https", "ws", "wss") \
        and urlsplit(r.url).netloc != own else None  # noqa: E731
    page.on("request", listen)
    try:
        open_view(page, url, "Latent Explorer")
        for path, title in (("latent", "Latent space"), ("manifold", "Manifold"), ("interpolate", "Interpolate"),
                            ("train", "Train"), ("diagnostics", "Diagnostics")):
            goto_page(page, title)
            wait_drawn(page)  # each page as drawn: whatever it would fetch has been asked for
    finally:
        page.remove_listener("request", listen)
    assert elsewhere == []
    no_error(page)


def test_maps_are_drawn_at_the_screens_own_pixel_ratio(app):
    """A Retina screen (2 device pixels per CSS pixel) gets its map's WebGL points drawn at 2, a plain
    screen at 1: not Plotly's default of 2 everywhere, four times the pixels a projector can show."""
    url, page = app
    ratio = "() => { const g = document.querySelector('.js-plotly-plot'), c = g && g.querySelector('canvas');" \
            " return g && g._context && c ? [g._context.plotGlPixelRatio, c.width / c.clientWidth] : null; }"
    for scale in (2, 1):
        other = page.context.browser.new_page(viewport={"width": 1500, "height": 1000}, device_scale_factor=scale)
        try:
            other.set_default_timeout(90_000)
            open_view(other, url + "/latent", "Latent space", chart=True)
            other.wait_for_function(f"() => ({ratio})()?.[0] === {scale}")  # after the one rerun it asks for
            wait_idle(other)
            assert other.evaluate(ratio) == [scale, scale]
            no_error(other)
        finally:
            other.close()
