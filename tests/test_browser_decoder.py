"""The decoder in the page (ui/decoder), in a real browser: its pictures equal vae_core.latent.decode
within 1/255 per pixel for every shipped model, hovering and the arrow keys decode without a word to
the server, and the Interpolate slider and play button decode while they move.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from browser_support import (ROOT, app_server, browser_page, goto_page, pick_run, require_chromium, settle,
                             start_training, wait_drawn, wait_idle, wait_until)
from vae_core.latent import decode
from vae_core.zoo import load_entry, load_manifest

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
ENTRIES = load_manifest()


@pytest.fixture(scope="module")
def app():
    """(page, frames): frames lists the websocket frames the page has sent to the server."""
    require_chromium()
    with app_server() as url, browser_page(height=1100) as page:
        page.set_default_timeout(60_000)
        frames: list = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
        page.goto(url + "/latent")  # the root is the first screen
        page.get_by_role("heading", name="Latent space").first.wait_for()
        yield page, frames


def picture(page):
    return page.locator("canvas.picture").first


def use_model(page, entry) -> None:
    """Pick a model in the sidebar and wait for its first decoding in the page."""
    pick_run(page, entry.title)
    wait_idle(page)
    page.wait_for_function("(key) => [...document.querySelectorAll('*')].some(e => e.shadowRoot && "
                           "e.shadowRoot.querySelector(`canvas.picture[data-model='${key}']`))", arg=entry.sha256)


def shown(page) -> tuple[list[float], np.ndarray | None, list[float] | None]:
    """The canvas: (its z, its pixels as (H, W, 3) uint8 or None, the decoded values for 2-D data)."""
    got = picture(page).evaluate("""c => ({z: JSON.parse(c.dataset.z), out: c.dataset.out ? JSON.parse(c.dataset.out) : null,
        w: c.width, h: c.height, px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)})""")
    pixels = np.array(got["px"], np.uint8).reshape(got["h"], got["w"], 4)[..., :3]
    return got["z"], pixels, got["out"]


def shown_z(page) -> list[float]:
    """The code the canvas shows now."""
    return picture(page).evaluate("c => c.dataset.z ? JSON.parse(c.dataset.z) : null")


def expected_pixels(images: np.ndarray) -> np.ndarray:
    """(C, H, W) means in [0, 1] -> (H, W, 3) grey levels, as ui.plots.to_uint8 draws them."""
    u8 = (np.clip(images, 0, 1) * 255).round()
    return np.repeat(u8, 3, axis=0).transpose(1, 2, 0) if u8.shape[0] == 1 else u8.transpose(1, 2, 0)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_the_page_decodes_like_vae_core(app, entry):
    page, _ = app
    use_model(page, entry)
    model = load_entry(entry).build_model("cpu")
    rng = np.random.default_rng(0)
    for z in [np.zeros(model.latent_dim), *rng.normal(0, 1.5, (3, model.latent_dim))]:
        label = int(rng.integers(model.n_cond)) if model.n_cond else None
        picture(page).evaluate("(c, [z, label]) => c.dispatchEvent(new CustomEvent('decode-at', {detail: {z, label}}))",
                               [z.tolist(), label])
        got_z, pixels, out = shown(page)
        np.testing.assert_allclose(got_z, z, atol=1e-12)
        want = decode(model, torch.tensor(z[None], dtype=torch.float32), label).numpy()[0]
        if len(model.shape) == 3:
            diff = np.abs(pixels.astype(int) - expected_pixels(want))
            assert diff.max() <= 1, f"{entry.id}: {diff.max()} grey levels off at z = {z}"
        else:
            np.testing.assert_allclose(out, want, atol=1 / 255)


def test_hovering_decodes_the_code_under_the_pointer_and_sends_nothing(app):
    page, frames = app
    entry = next(e for e in ENTRIES if e.id == "digits-vae-2d")
    use_model(page, entry)
    model = load_entry(entry).build_model("cpu")
    wait_drawn(page)
    page.get_by_label("latent map").first.wait_for()  # the decoder has found the map it decodes over
    gd = page.locator(".js-plotly-plot").first
    box = gd.bounding_box()
    # the last position's data coordinates, from the chart's own axes
    xy = gd.evaluate("""(gd, [cx, cy]) => { const L = gd._fullLayout, r = gd.getBoundingClientRect();
        return [L.xaxis.p2l(cx - r.left - L.xaxis._offset), L.yaxis.p2l(cy - r.top - L.yaxis._offset)]; }""",
                     [box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.6])
    before = len(frames)
    for i in range(60):  # a sweep over the map, with a stop to look at each tenth position
        page.mouse.move(box["x"] + box["width"] * (0.25 + 0.5 * i / 59), box["y"] + box["height"] * (0.3 + 0.3 * i / 59))
    wait_until(page, lambda: np.allclose(shown_z(page), xy, atol=0.02), "the decoding of the code under the pointer")
    settle(page)
    assert len(frames) == before, f"{len(frames) - before} websocket frames sent while hovering"
    z, pixels, _ = shown(page)
    np.testing.assert_allclose(z, xy, atol=0.02)
    want = decode(model, torch.tensor([z], dtype=torch.float32)).numpy()[0]
    assert np.abs(pixels.astype(int) - expected_pixels(want)).max() <= 1
    label = picture(page).get_attribute("aria-label")
    assert label.startswith("decoded") and f"{z[0]:.2f}" in label
    # a drag (the map pans) is no message either
    x_range = lambda: gd.evaluate("gd => gd._fullLayout.xaxis.range.slice()")  # noqa: E731
    panned_from = x_range()
    page.mouse.down()
    for i in range(20):
        page.mouse.move(box["x"] + box["width"] * (0.75 - 0.01 * i), box["y"] + box["height"] * 0.6)
    page.mouse.up()
    wait_until(page, lambda: x_range() != panned_from, "the map to pan")
    wait_drawn(page)
    assert len(frames) == before


def test_arrow_keys_move_the_point(app):
    page, frames = app
    latent_map = page.get_by_label("latent map").first
    latent_map.focus()
    z0, _, _ = shown(page)
    before = len(frames)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowUp")
    z1, _, _ = shown(page)
    assert z1[0] > z0[0] and z1[1] > z0[1]
    assert len(frames) == before


def test_the_pointer_between_two_clusters(app):
    """The screenshot for people: the pointer in the gap between two neighbouring clusters (of the
    pairs of class centres less than 1.6 apart, the midpoint farthest from any point), its decoding
    beside the map."""
    page, _ = app
    page.reload()  # a fresh session: the default model, the map not panned
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot && "
                           "e.shadowRoot.querySelector('canvas.picture[data-z]'))")
    wait_drawn(page)
    gd = page.locator(".js-plotly-plot").first
    x, y, pair, m = gd.evaluate("""gd => {
        const L = gd._fullLayout, r = gd.getBoundingClientRect();
        const classes = gd._fullData.filter(t => t.customdata && t.x.length > 20);
        const mean = a => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
        const all = classes.flatMap(t => Array.from(t.x, (x, i) => [x, t.y[i]]));
        let best = null;
        for (const a of classes) for (const b of classes) {
            if (a.name >= b.name) continue;
            const ca = [mean(a.x), mean(a.y)], cb = [mean(b.x), mean(b.y)], m = [(ca[0] + cb[0]) / 2, (ca[1] + cb[1]) / 2];
            const gap = Math.min(...all.map(p => Math.hypot(p[0] - m[0], p[1] - m[1])));
            const d = Math.hypot(ca[0] - cb[0], ca[1] - cb[1]);
            if (d < 1.6 && (!best || gap > best.gap)) best = {gap, m, pair: a.name + ' and ' + b.name};
        }
        return [r.left + L.xaxis._offset + L.xaxis.l2p(best.m[0]), r.top + L.yaxis._offset + L.yaxis.l2p(best.m[1]),
                best.pair, best.m];
    }""")
    page.mouse.move(x - 5, y)
    page.mouse.move(x, y)
    wait_until(page, lambda: np.allclose(shown_z(page), m, atol=0.05), "the decoding of the gap under the pointer")
    assert picture(page).get_attribute("aria-label").startswith("decoded from z = (")
    settle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"hover-between-{pair.replace(' ', '-')}.png"))


def test_interpolation_decodes_while_dragging_and_plays(app):
    page, frames = app
    goto_page(page, "Interpolate")
    wait_idle(page)
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot && "
                           "e.shadowRoot.querySelector('canvas.picture[data-z]'))")
    label = lambda: picture(page).get_attribute("aria-label")  # noqa: E731
    assert ", t = 0.50" in label()
    tb = page.locator(".st-key-interp-t input[type='range']").locator("xpath=../..").first.bounding_box()  # the thumb
    track = page.locator(".st-key-interp-t [role='group']").first.bounding_box()
    thumb = page.locator(".st-key-interp-t input[type='range']").first
    shown_t = lambda: label().split("t = ")[1].split(",")[0]  # noqa: E731
    follows = lambda: abs(float(shown_t()) - float(thumb.input_value())) <= 0.005 + 1e-9  # noqa: E731 (t to 2 places)
    before = len(frames)
    page.mouse.move(tb["x"] + tb["width"] / 2, tb["y"] + tb["height"] / 2)
    page.mouse.down()
    seen = set()
    for i in range(1, 16):
        page.mouse.move(tb["x"] + tb["width"] / 2 + i * track["width"] / 40, tb["y"] + tb["height"] / 2)
        wait_until(page, follows, "the picture to follow the thumb")
        seen.add(label())
    settle(page)
    assert len(frames) == before, "the server heard the slider before it was let go"
    assert len(seen) >= 5  # a new decoding as the thumb moves
    page.mouse.up()
    wait_until(page, lambda: len(frames) > before, "the slider's value sent once let go")  # Streamlit sends it
    wait_idle(page)
    t_kept = float(shown_t())
    assert t_kept > 0.6
    before = len(frames)
    page.locator("button.play").first.click()
    ts = set()

    def five_decodings() -> bool:
        ts.add(shown_t())
        return len(ts) >= 5

    wait_until(page, five_decodings, "five decodings while it plays")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "interpolate-playing.png"))
    page.locator("button.play").first.click()
    settle(page)
    assert len(frames) == before


def test_the_train_pages_live_decoder_fits_its_column(app):
    """While a run trains, the Train page decodes its model under the pointer in its narrow right
    column: the pad, the picture and the words all within the column, the words readable (they
    once stood beside the picture one word a line, running off the window)."""
    page, _ = app
    goto_page(page, "Train")
    wait_idle(page)
    start_training(page, 5000)
    try:
        words = page.get_by_text("decoded under the pointer").first
        words.wait_for()
        page.locator("canvas.pad").first.wait_for()
        column = page.locator('[data-testid="stMain"]').bounding_box()
        for part in (page.locator("canvas.pad").first, page.locator("canvas.picture").first, words):
            box = part.bounding_box()
            assert box["width"] > 100 and box["x"] + box["width"] <= column["x"] + column["width"], box
        # it decodes the code under the pointer, and keeps decoding that code as new weights arrive
        pad = page.locator("canvas.pad").first
        pad.scroll_into_view_if_needed()
        page.mouse.move(*center(pad))
        z = page.locator(".decoder .z").first
        wait_until(page, lambda: "(0.00, 0.00)" not in z.inner_text(), "the code under the pointer", timeout=30)
        held, epoch = z.inner_text(), words.inner_text()
        wait_until(page, lambda: words.inner_text() != epoch, "the next weights: another epoch's", timeout=30)
        assert z.inner_text() == held, (held, z.inner_text())
    finally:
        page.get_by_role("button", name="Stop", exact=True).click()
        page.get_by_text("stopped").first.wait_for()


def center(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3
