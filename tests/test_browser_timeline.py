"""The timeline in a real browser (ui/timeline): scrubbed to its first and last snapshot, the map's pixels
are the stored codes of those snapshots, and they differ; the keys and the pointer move it; play runs in
the page without a websocket frame, and under prefers-reduced-motion it steps without gliding; the
Compare page's trio stays synced by epoch.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from browser_support import ROOT, app_server, browser_page, require_chromium, wait_idle
from vae_core import zoo

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def timeline_of(name: str):
    return zoo.load_entry(next(e for e in zoo.load_manifest() if e.id == name)).timeline


@pytest.fixture(scope="module")
def app():
    """(url, page, frames): frames lists the websocket frames the page has sent to the server."""
    require_chromium()
    with app_server() as url, browser_page(width=1280, height=900) as page:
        page.set_default_timeout(60_000)
        frames: list = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
        page.goto(url + "/latent?model=mnist-vae-2d&timeline=on")
        page.get_by_role("heading", name="Latent space").first.wait_for()
        scrubber(page).wait_for()
        wait_idle(page)
        yield url, page, frames


def scrubber(page, n: int = 0):
    return page.get_by_label(re.compile("^timeline")).nth(n)


def the_map(page, n: int = 0) -> dict:
    """A map canvas: the step it shows, where codes go (box, plot), and its pixels (H, W, 3)."""
    got = page.locator("canvas.map").nth(n).evaluate("""c => ({step: +c.dataset.step, index: +c.dataset.index,
        blend: +c.dataset.blend, box: JSON.parse(c.dataset.box), plot: JSON.parse(c.dataset.plot), w: c.width, h: c.height,
        px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)})""")
    got["px"] = np.array(got["px"], np.uint8).reshape(got["h"], got["w"], 4)[..., :3]
    return got


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def assert_drawn_at_stored_codes(m: dict, xy: np.ndarray, labels: np.ndarray, r: int = 2) -> None:
    """Each code's pixel (where the page's box and plot put it) holds the colour of a code whose square
    (2r px, drawn class after class) covers that pixel: the map is the stored codes."""
    x0, x1, y0, y1 = m["box"]
    left, top, pw, ph = m["plot"]
    X = np.round(left + (xy[:, 0] - x0) * pw / (x1 - x0)).astype(int)
    Y = np.round(top + (y1 - xy[:, 1]) * ph / (y1 - y0)).astype(int)
    inside = (X >= 0) & (X < m["w"]) & (Y >= 0) & (Y < m["h"])
    assert inside.mean() > 0.95
    checked = 0
    for k in np.flatnonzero(inside)[::5]:
        cover = labels[(X - r <= X[k]) & (X[k] < X + r) & (Y - r <= Y[k]) & (Y[k] < Y + r)]
        assert tuple(m["px"][Y[k], X[k]]) in {rgb(COLOURS[c]) for c in cover}, f"code {k} not drawn at its place"
        checked += 1
    assert checked >= 100


def test_first_and_last_snapshots_are_the_stored_codes(app):
    _, page, _ = app
    tl = timeline_of("mnist-vae-2d")
    labels = tl.labels.numpy()
    s = scrubber(page)
    s.focus()
    page.keyboard.press("Home")
    assert s.get_attribute("data-step") == str(tl.steps[0]) == "0"
    first = the_map(page)
    assert first["step"] == 0 and first["index"] == 0
    assert_drawn_at_stored_codes(first, tl.mu[0].float().numpy(), labels)
    page.keyboard.press("End")
    assert s.get_attribute("data-step") == str(tl.steps[-1])
    assert "epoch 60" in s.get_attribute("aria-valuetext")
    last = the_map(page)
    assert last["index"] == len(tl) - 1
    assert_drawn_at_stored_codes(last, tl.mu[-1].float().numpy(), labels)
    assert (first["px"] != last["px"]).any(axis=2).mean() > 0.02  # the map formed: the points moved
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".timeline").first.screenshot(path=str(SHOTS / "timeline-mnist-vae-2d.png"))


def test_keys_and_the_pointer_move_it_without_a_frame(app):
    _, page, frames = app
    tl = timeline_of("mnist-vae-2d")
    s = scrubber(page)
    s.focus()
    before = len(frames)
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert s.get_attribute("data-step") == str(tl.steps[1])
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowLeft")
    assert s.get_attribute("data-step") == str(tl.steps[1])
    page.keyboard.press("PageUp")
    assert s.get_attribute("data-step") == str(tl.steps[1 + round(len(tl) / 10)])
    box = s.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    middle = round((len(tl) - 1) / 2)
    assert s.get_attribute("aria-valuenow") == str(middle) and s.get_attribute("data-step") == str(tl.steps[middle])
    page.wait_for_timeout(300)
    assert len(frames) == before


def test_play_runs_in_the_page_and_sends_nothing(app):
    _, page, frames = app
    tl = timeline_of("mnist-vae-2d")
    page.get_by_label("playback speed").select_option("4")
    page.wait_for_timeout(300)
    before = len(frames)
    play = page.get_by_role("button", name=re.compile("Play"))
    play.click()  # from the middle to the end, 16 snapshots a second
    blends = set()
    for _ in range(200):
        m = page.locator("canvas.map").first
        blends.add(float(m.get_attribute("data-blend")))
        if scrubber(page).get_attribute("data-step") == str(tl.steps[-1]):
            break
        page.wait_for_timeout(25)
    page.get_by_role("button", name=re.compile("Play")).wait_for()  # it stops itself at the end
    assert scrubber(page).get_attribute("data-step") == str(tl.steps[-1])
    assert max(blends) > 0  # it glided between snapshots
    page.wait_for_timeout(300)
    assert len(frames) == before, f"{len(frames) - before} websocket frames sent while playing"


def test_reduced_motion_steps_without_gliding(app):
    _, page, frames = app
    page.emulate_media(reduced_motion="reduce")
    try:
        s = scrubber(page)
        s.focus()
        page.keyboard.press("Home")
        page.get_by_role("button", name=re.compile("Play")).click()
        began = time.monotonic()
        blends, index = set(), 0
        while index < 2:  # (a bound on a hang only: 2 snapshots take 2 s)
            assert time.monotonic() - began < 30, "play did not move"
            m = page.locator("canvas.map").first
            blends.add(float(m.get_attribute("data-blend")))
            index = int(m.get_attribute("data-index"))
            page.wait_for_timeout(50)
        took = time.monotonic() - began
        page.get_by_role("button", name=re.compile("Pause")).click()
        assert blends == {0.0}  # whole snapshots only, no gliding
        assert took >= 1.5  # one snapshot a second, at most
        assert "Reduced motion is on" in page.locator(".timeline .note").first.inner_text()
    finally:
        page.emulate_media(reduced_motion="no-preference")


def test_the_compare_page_keeps_the_trio_in_step(app):
    url, page, _ = app
    trio = [timeline_of(n) for n in ("digits-trio-ae", "digits-trio-vae", "digits-trio-kl")]
    page.goto(url + "/compare")
    page.get_by_role("heading", name="Compare").first.wait_for()
    wait_idle(page)
    page.get_by_text("Replay their training side by side").click()
    scrubber(page).wait_for()
    wait_idle(page)
    s = scrubber(page)
    assert s.get_attribute("aria-label").startswith("timeline")
    s.focus()
    page.keyboard.press("End")
    maps = [the_map(page, i) for i in range(3)]
    assert [m["step"] for m in maps] == [tl.steps[-1] for tl in trio]
    page.keyboard.press("Home")
    for _ in range(len(trio[0]) // 2):
        page.keyboard.press("ArrowRight")
    epoch = float(s.get_attribute("data-epoch"))
    for i, tl in enumerate(trio):
        assert the_map(page, i)["index"] == tl.at_epoch(epoch)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".timeline").first.screenshot(path=str(SHOTS / "timeline-compare-trio.png"))
    assert not page.locator('[data-testid="stException"]').count()
