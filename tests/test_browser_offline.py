"""The offline page in a real browser: downloaded from the app's Latent space, Manifold and Interpolate
pages ("Download this view as a page", a hostile caption typed first), opened from file:// in a fresh
context whose every other request is aborted, and inside an <iframe> of a local page. The pointer,
a touch and the arrow keys decode; no request leaves the page; the pixels at a fixed z equal the
app's in-page decoder's and vae_core's within 1/255; the caption stays text.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from browser_support import (CHROMIUM, CHROMIUM_ARGS, ROOT, app_server, goto_page, require_chromium, wait_drawn,
                             wait_idle, wait_until)
from test_browser_decoder import expected_pixels
from ui import offline
from vae_core.latent import decode
from vae_core.zoo import load_entry, load_manifest

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
HOSTILE = 'Week 3 </script><script>window.pwned=1</script><img src=x onerror="window.pwned=2"> & <b>bold</b>'
PAGES = {"latent": "Latent space", "manifold": "Manifold", "interpolate": "Interpolate"}
Z = [[0.4, -1.1], [-1.6, 0.7]]  # fixed codes to compare pixels at


def pixels_at(picture, z) -> np.ndarray:
    """Decode z on a page's picture canvas (decoder.js's 'decode-at' event) -> its pixels (H, W, 3)."""
    got = picture.evaluate("""(c, z) => { c.dispatchEvent(new CustomEvent('decode-at', {detail: {z}}));
        return {z: JSON.parse(c.dataset.z), w: c.width, h: c.height,
                px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)}; }""", z)
    assert np.allclose(got["z"], z, atol=1e-12)
    return np.array(got["px"], np.uint8).reshape(got["h"], got["w"], 4)[..., :3]


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory):
    """(browser, folder, {page: path of its downloaded page}, app pixels at each of Z) from one app session."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("offline")
    with app_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        app = browser.new_page(viewport={"width": 1500, "height": 1100})
        app.set_default_timeout(60_000)
        app.goto(url + "/latent")
        app.get_by_role("heading", name="Latent space").first.wait_for()
        wait_drawn(app)
        picture = app.locator("canvas.picture[data-z]").first
        picture.wait_for()
        app_pixels = [pixels_at(picture, z) for z in Z]
        files = {}
        for name, title in PAGES.items():
            if name != "latent":
                goto_page(app, title)
                wait_drawn(app)
            field = app.get_by_role("textbox", name="Caption on the page")
            field.fill(HOSTILE)
            field.press("Enter")
            wait_idle(app)
            files[name] = folder / f"{name}.html"
            wait_until(app, lambda: saved_with_caption(download(app), files[name]), "a page with the new caption", 60)
        yield browser, folder, files, app_pixels
        browser.close()


def download(app, tries: int = 3):
    """Press "Download this view as a page" -> the download. A press that raced the rerun the caption set
    off (Streamlit gives a deferred download a new id each run, and drops the old one at the run's
    end) brings no file: pressed again, up to `tries` times; the timeout only bounds a hang."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        try:
            with app.expect_download(timeout=20_000) as got:
                app.get_by_role("button", name=re.compile("^Download this view as a page")).click()
            return got.value
        except PlaywrightTimeout:
            if attempt + 1 == tries:
                raise
            wait_idle(app)


def saved_with_caption(got, path) -> bool:
    """Save the download to `path`; whether it carries HOSTILE as its caption (a press that beat the rerun
    the caption's Enter set off still has the one before)."""
    got.save_as(path)
    data = re.search(r'<script type="application/json" id="latent-explorer-data">(.*?)</script>', path.read_text())
    return json.loads(data.group(1))["caption"] == HOSTILE


def open_offline(browser, url: str, allowed: set[str], **context):
    """A fresh context where every request but the `allowed` file URLs is aborted -> (page, blocked, seen):
    `blocked` lists the aborted requests, `seen` every request the page made."""
    ctx = browser.new_context(**context)
    blocked, seen = [], []

    def route(r):
        if r.request.url in allowed:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()
    ctx.route("**/*", route)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("request", lambda r: seen.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.errors = errors
    return page, blocked, seen


def hover_changes_the_picture(page, scope, where=((0.35, 0.4), (0.65, 0.7))) -> None:
    """The pointer at two places of the map: the decoded picture (its code and pixels) changes."""
    picture = scope.locator("canvas.picture[data-z]").first
    picture.wait_for()
    box = scope.get_by_label("latent map").first.bounding_box()
    shown = []
    for fx, fy in where:
        before = picture.get_attribute("data-z")
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        wait_until(page, lambda: picture.get_attribute("data-z") != before, "the picture to follow the pointer", 20)
        shown.append((picture.get_attribute("data-z"),
                      picture.evaluate("c => c.toDataURL()")))
    assert shown[0][0] != shown[1][0] and shown[0][1] != shown[1][1]
    assert picture.get_attribute("aria-label").startswith("decoded")


@pytest.mark.parametrize("name", PAGES)
def test_the_page_works_from_disk_with_the_network_off(downloaded, name):
    browser, _, files, app_pixels = downloaded
    path = files[name]
    size = path.stat().st_size
    assert size <= offline.MAX_BYTES, size
    print(f"{name}.html: {size / 2**20:.2f} MB")
    page, blocked, seen = open_offline(browser, path.as_uri(), {path.as_uri()}, viewport={"width": 1280, "height": 720})
    hover_changes_the_picture(page, page)
    assert blocked == [] and seen == [path.as_uri()], (blocked, seen)
    assert page.evaluate("window.pwned") is None and page.errors == []
    assert page.locator("#caption").text_content() == HOSTILE
    assert page.locator("#caption b, #caption img, #caption script").count() == 0
    # the same pixels as the app's decoder, and as vae_core, at fixed codes
    entry = next(e for e in load_manifest() if e.id == "mnist-vae-2d")  # the app's first model
    model = load_entry(entry).build_model("cpu")
    picture = page.locator("canvas.picture").first
    for z, theirs in zip(Z, app_pixels):
        ours = pixels_at(picture, z)
        assert np.abs(ours.astype(int) - theirs).max() <= 1, f"{name}: the app's pixels differ at z = {z}"
        want = expected_pixels(decode(model, torch.tensor([z])).numpy()[0])
        assert np.abs(ours.astype(int) - want).max() <= 1
    assert blocked == []
    if name == "latent":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "offline-latent-1280.png"))
    page.context.close()


@pytest.mark.parametrize("name", ["latent", "interpolate"])
def test_touch_and_the_arrow_keys_decode(downloaded, name):
    browser, _, files, _ = downloaded
    path = files[name]
    page, blocked, _ = open_offline(browser, path.as_uri(), {path.as_uri()}, viewport={"width": 390, "height": 844},
                                    has_touch=True, is_mobile=True, device_scale_factor=2)
    picture = page.locator("canvas.picture[data-z]").first
    picture.wait_for()
    latent_map = page.get_by_label("latent map").first
    box = latent_map.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5  # the map fits a phone's width
    before = picture.get_attribute("data-z")
    page.touchscreen.tap(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    wait_until(page, lambda: picture.get_attribute("data-z") != before, "a touch to decode", 20)
    label = lambda: picture.get_attribute("aria-label")  # noqa: E731
    if name == "latent":
        z0 = np.array(json.loads(picture.get_attribute("data-z")))
        latent_map.press("ArrowRight")
        latent_map.press("Shift+ArrowUp")
        z1 = np.array(json.loads(picture.get_attribute("data-z")))
        assert z1[0] > z0[0] and z1[1] > z0[1]
    else:
        t0 = float(label().split("t = ")[1].split(",")[0])
        latent_map.press("ArrowRight")
        latent_map.press("ArrowRight")
        assert float(label().split("t = ")[1].split(",")[0]) == pytest.approx(min(1.0, t0 + 0.02), abs=1e-9)
    assert blocked == [] and page.errors == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"offline-{name}-390.png"), full_page=True)
    page.context.close()


HOST = """<!doctype html><html><head><meta charset="utf-8"><title>A course page</title>
<style>body {{ font-family: sans-serif; margin: 1rem; }} iframe {{ width: min(100%, 720px); height: 420px;
border: 1px solid #888; }}</style></head><body><h2>Week 3: what a VAE learns</h2>
<p>The map below is a file beside this page: it works with the network off.</p>
<iframe src="{src}" title="the latent map of an MNIST VAE"></iframe><p>After the frame.</p></body></html>"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_inside_an_iframe_of_a_local_page(downloaded, width):
    browser, folder, files, _ = downloaded
    host = folder / "course.html"
    host.write_text(HOST.format(src=files["latent"].name))
    allowed = {host.as_uri(), files["latent"].as_uri()}
    page, blocked, seen = open_offline(browser, host.as_uri(), allowed, viewport={"width": width, "height": 720})
    frame = page.frame_locator("iframe")
    hover_changes_the_picture(page, frame)
    frame_box = page.locator("iframe").bounding_box()
    map_box = frame.get_by_label("latent map").first.bounding_box()
    assert frame_box["x"] <= map_box["x"] and map_box["x"] + map_box["width"] <= frame_box["x"] + frame_box["width"] + 0.5
    assert map_box["width"] > 0.3 * frame_box["width"]  # it scales to its box
    assert blocked == [] and set(seen) == allowed, (blocked, seen)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"offline-iframe-{width}.png"))
    page.context.close()
