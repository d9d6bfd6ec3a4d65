"""Every student can use it (issue 25): axe-core's WCAG 2.1 A / AA rules on every page in both modes, a
keyboard-only walk through the core loop, a phone's touch on the latent map, no page wider than a
phone, the play button under reduced motion, training progress said at most every 10 s.

axe-core is the copy inside the `axe-playwright-python` package: nothing is fetched.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from a11y_support import MODES, audit, blocking, describe, open_page
from browser_support import explained, point_position, served_browser, settle, wait_drawn, wait_idle, wait_until
from ui.sitemap import PAGES

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)

# the focused element, as a test reads it
ACTIVE = """() => { let e = document.activeElement; while (e?.shadowRoot?.activeElement) e = e.shadowRoot.activeElement;
  if (!e || e === document.body) return null;
  return {tag: e.tagName, role: e.getAttribute('role') || '', type: e.type || '', testid: e.getAttribute('data-testid') || '',
          name: (e.getAttribute('aria-label') || e.innerText || '').trim().slice(0, 120), value: e.value ?? null,
          now: e.getAttribute('aria-valuenow'), checked: e.checked ?? null, expanded: e.getAttribute('aria-expanded')}; }"""


@pytest.fixture(scope="module")
def served():
    with served_browser() as (browser, url):
        yield browser, url


def new_page(browser, **options):
    context = browser.new_context(**({"viewport": {"width": 1280, "height": 720}} | options))
    page = context.new_page()
    page.set_default_timeout(120_000)
    return page


# --- axe --------------------------------------------------------------------------------------


def _open_menu(page, group: str) -> None:
    page.get_by_test_id("stTopNavSection").filter(has_text=group).first.click()
    page.get_by_role("menu").first.wait_for()


@pytest.mark.parametrize("mode", MODES)
def test_axe_finds_no_serious_or_critical_violation_on_any_page(served, mode):
    """Every page (ui.sitemap.PAGES) as it opens, each navigation menu open, and the Latent space page
    with its timeline, and with an example selected and its map shown as a table: 0 serious or
    critical violations."""
    browser, url = served
    page = new_page(browser)
    found = {}
    for spec in PAGES:
        open_page(page, url, spec.name, mode)
        found[spec.name] = blocking(audit(page))
    for group in dict.fromkeys(p.group for p in PAGES):
        _open_menu(page, group)
        found[f"{group} menu"] = blocking(audit(page))
        page.keyboard.press("Escape")
    open_page(page, url, "latent", mode, "timeline=on")  # the training timeline (ui.timeline) shown
    found["latent, timeline"] = blocking(audit(page))
    open_page(page, url, "latent", mode)
    select_by_keyboard(page)
    table = page.get_by_role("switch", name="show as table").first
    table.focus()  # by the keyboard: the switch's own input is a 13 px box under its label's track
    page.keyboard.press("Space")
    page.get_by_test_id("stDataFrame").first.wait_for()
    wait_drawn(page)
    found["latent, selected, as a table"] = blocking(audit(page))
    bad = {k: v for k, v in found.items() if v}
    assert not bad, f"serious / critical violations in {mode} mode:\n" + "\n".join(
        f"{k}:\n{describe(v)}" for k, v in bad.items())
    page.context.close()


def test_on_a_phone_the_sidebar_passes_axe_and_closes_after_a_choice(served):
    browser, url = served
    page = new_page(browser, **PHONE)
    open_page(page, url, "latent")
    page.get_by_test_id("stExpandSidebarButton").click()
    sidebar = page.get_by_test_id("stSidebar")
    radio = sidebar.get_by_role("radio", name="Digits VAE, 2-D latent")
    radio.wait_for()
    wait_until(page, lambda: sidebar.bounding_box()["width"] > 200, "the sidebar open")
    bad = blocking(audit(page))
    assert not bad, "serious / critical violations with the phone's sidebar open:\n" + describe(bad)
    page.get_by_text("Digits VAE, 2-D latent", exact=True).first.click()
    wait_until(page, lambda: page.evaluate("() => document.querySelector('[data-testid=stSidebar]')"
                                           ".getBoundingClientRect().right <= 1"), "the sidebar closed after the choice")
    wait_idle(page)
    assert radio.is_checked()  # the choice was made, and the page is in view again
    page.context.close()


# --- keyboard -----------------------------------------------------------------------------------


def tab_to(page, matches, what: str, limit: int = 80, back: bool = False) -> dict:
    """Press Tab (Shift+Tab) until the focused element satisfies `matches`; every press moves the focus
    (no trap) to something on screen or scrolled into view. -> the focused element."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = page.evaluate(ACTIVE)
        seen.append(now)
        if now is not None and matches(now):
            return now
        if len(seen) > 5 and all(x == seen[-1] for x in seen[-5:]) and seen[-1] is not None:
            raise AssertionError(f"the focus is trapped on {seen[-1]} looking for {what}")
    raise AssertionError(f"{what} not reached in {limit} presses of Tab; the focus went through:\n"
                         + "\n".join(map(str, seen)))


def decoded(page, key: str = "decoder-hover") -> dict:
    """The in-page decoder's picture: its z, the example selected from the map, its accessible name."""
    return page.locator(f".st-key-{key} canvas.picture").evaluate(
        "c => ({z: JSON.parse(c.dataset.z || 'null'), selected: c.dataset.selected ?? null, name: c.getAttribute('aria-label')})")


def on_map(page) -> None:
    """The focus is on the latent map: where a rerun drew the map anew, it is back within 5 s."""
    wait_until(page, lambda: (page.evaluate(ACTIVE) or {}).get("role") == "application", "the focus on the map", 5)


def select_by_keyboard(page) -> dict:
    """Tab to the latent map and press Enter: the example nearest the decoded point is selected."""
    tab_to(page, lambda a: a["role"] == "application" and a["name"].startswith("latent map"), "the latent map")
    page.keyboard.press("Enter")
    wait_until(page, lambda: decoded(page)["selected"] is not None, "a selection made with Enter")
    i = decoded(page)["selected"]
    page.get_by_text(re.compile(rf"Example #{i}\b")).first.wait_for()
    return decoded(page)


def test_the_core_loop_by_keyboard_alone(served):
    """Choose a model, open a page, select a point on the map and step through its neighbours, move along
    the manifold and the interpolation, start and stop training and change β while it trains: Tab,
    arrows, Enter and Space only, the focus and the state checked after each key."""
    browser, url = served
    page = new_page(browser)
    open_page(page, url, "latent")

    # choose a model: the sidebar's run list is one radio group; an arrow key moves to the next run
    now = tab_to(page, lambda a: a["type"] == "radio" and a["checked"], "the active model's radio")
    page.keyboard.press("ArrowDown")
    now = page.evaluate(ACTIVE)
    assert now["type"] == "radio" and now["checked"], now
    page.get_by_role("radio", name="MNIST autoencoder, 2-D code").wait_for()
    wait_until(page, lambda: page.get_by_role("radio", name="MNIST autoencoder, 2-D code").is_checked(),
               "the autoencoder chosen with ArrowDown")
    wait_idle(page)
    page.keyboard.press("ArrowUp")
    wait_until(page, lambda: page.get_by_role("radio", name="MNIST VAE, 2-D latent").is_checked(),
               "the VAE chosen again with ArrowUp")
    wait_idle(page)
    assert page.evaluate(ACTIVE)["type"] == "radio"

    # select a point on the map (Enter) and step through its neighbours (Page Down / Up)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.length > 1")
    before = decoded(page)["z"]
    tab_to(page, lambda a: a["role"] == "application" and a["name"].startswith("latent map"), "the latent map")
    page.keyboard.press("ArrowRight")
    after = decoded(page)
    assert after["z"][0] > before[0] and after["z"][1] == pytest.approx(before[1]), (before, after)
    assert page.evaluate(ACTIVE)["role"] == "application"  # the focus stays on the map
    assert "nearest example a" in after["name"]
    page.keyboard.press("Enter")
    wait_until(page, lambda: decoded(page)["selected"] is not None, "Enter selecting the nearest example")
    first = decoded(page)["selected"]
    page.get_by_text(re.compile(rf"Example #{first}\b")).first.wait_for()  # the server's panel shows it
    wait_idle(page)
    on_map(page)  # still on the map after the rerun
    order = [first]
    for _ in range(3):
        page.keyboard.press("PageDown")
        wait_until(page, lambda: decoded(page)["selected"] not in order, "Page Down to the next neighbour")
        order.append(decoded(page)["selected"])
        page.get_by_text(re.compile(rf"Example #{order[-1]}\b")).first.wait_for()
        wait_idle(page)
        on_map(page)
    # the neighbours come nearest first (in the map's proportions): their distances from the first grow
    d = page.evaluate("""(ids) => { const gd = document.querySelector('.js-plotly-plot'), L = gd._fullLayout;
        const sx = L.xaxis.range[1] - L.xaxis.range[0], sy = L.yaxis.range[1] - L.yaxis.range[0], at = {};
        for (const t of gd._fullData) if (t.customdata && t.mode === 'markers')
          for (let i = 0; i < t.x.length; i++) if (ids.includes(+t.customdata[i])) at[+t.customdata[i]] = [t.x[i], t.y[i]];
        return ids.map(i => Math.hypot((at[i][0] - at[ids[0]][0]) / sx, (at[i][1] - at[ids[0]][1]) / sy)); }""",
                      [int(i) for i in order])
    assert d == sorted(d), d
    page.keyboard.press("PageUp")
    wait_until(page, lambda: decoded(page)["selected"] == order[-2], "Page Up back to the previous neighbour")

    # open a page: the top navigation's menu, by keyboard
    tab_to(page, lambda a: a["testid"] == "stTopNavSection" and a["name"] == "Explore", "the Explore menu", back=True)
    page.keyboard.press("Enter")
    page.get_by_role("menu").first.wait_for()
    wait_until(page, lambda: (page.evaluate(ACTIVE) or {}).get("role") == "menuitem", "the focus in the menu")
    for _ in range(6):
        if page.evaluate(ACTIVE)["name"].endswith("Manifold"):
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate(ACTIVE)["name"].endswith("Manifold")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Manifold").first.wait_for()
    wait_drawn(page)

    # move along the manifold: its map decodes under the arrow keys too
    tab_to(page, lambda a: a["role"] == "application" and a["name"].startswith("latent map"), "the manifold's map")
    z0 = decoded(page)["z"]
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowLeft")
    z1 = decoded(page)["z"]
    assert z1[1] > z0[1] and z1[0] < z0[0], (z0, z1)

    # the interpolation: the t slider by arrows (decoded in the page as it moves), then play with Space
    page.goto(f"{url}/interpolate")
    page.get_by_role("heading", name="Interpolate").first.wait_for()
    wait_drawn(page)
    slider = tab_to(page, lambda a: a["type"] == "range" and a["name"] == "t", "the t slider")
    t0 = float(slider["value"])
    page.keyboard.press("ArrowRight")
    assert float(page.evaluate(ACTIVE)["value"]) == pytest.approx(t0 + 0.01)
    wait_until(page, lambda: f"t = {t0 + 0.01:.2f}" in decoded(page, "decoder-path")["name"], "the decoding at t + 0.01")
    tab_to(page, lambda a: a["tag"] == "BUTTON" and "play" in a["name"], "the play button")
    page.keyboard.press("Space")
    wait_until(page, lambda: page.evaluate(ACTIVE)["name"].endswith("stop"), "play started by Space")
    page.keyboard.press("Space")
    assert page.evaluate(ACTIVE)["name"].endswith("play")

    # start training, change β while it trains (and hear the progress at most every 10 s), stop it
    page.goto(f"{url}/train")
    page.get_by_role("heading", name="Train").first.wait_for()
    wait_idle(page)
    tab_to(page, lambda a: a["tag"] == "INPUT" and a["name"].startswith("epochs"), "the epochs field", limit=120)
    page.keyboard.press("Control+A")
    page.keyboard.type("2000")
    page.keyboard.press("Enter")
    wait_until(page, lambda: page.evaluate(ACTIVE)["value"] == "2000", "2000 typed into the epochs field")
    wait_idle(page)
    tab_to(page, lambda a: a["tag"] == "BUTTON" and a["name"] == "Start", "Start", limit=80)
    page.keyboard.press("Enter")
    explained(page, lambda: page.get_by_text(re.compile(r"training · step [1-9]")).first.wait_for(timeout=120_000),
              "no training step after Start pressed by keyboard", "a11y-start-training")
    page.evaluate("""() => { window.__said = []; const r = document.querySelector('.st-key-train-announce [role=status]')
        || [...document.querySelectorAll('.st-key-train-announce *')].map(e => e.shadowRoot).filter(Boolean)
           .map(s => s.querySelector('[role=status]')).find(Boolean);
        window.__said.push([performance.now(), r.textContent]);
        new MutationObserver(() => window.__said.push([performance.now(), r.textContent]))
          .observe(r, {childList: true, characterData: true, subtree: true}); }""")
    beta = tab_to(page, lambda a: a["type"] == "range", "the β slider (the live view's one slider)", limit=60)
    assert "β" in beta["name"], beta
    page.keyboard.press("ArrowRight")
    assert float(page.evaluate(ACTIVE)["value"]) == pytest.approx(float(beta["value"]) + 0.1)
    wait_until(page, lambda: any("β → 1.1" in (n or "") for n in page.locator(".st-key-train-curves [data-testid=stPlotlyChart]")
                                 .evaluate_all("cs => cs.map(c => c.getAttribute('aria-label'))")),
               "the β change marked on the curves (and said in their text alternative)")
    deadline = time.monotonic() + 25  # (training goes on meanwhile: the announcements are counted)
    wait_until(page, lambda: time.monotonic() > deadline, "25 s of training")
    said = page.evaluate("() => window.__said")[1:]  # (the first: what the region said when the test began)
    gaps = [b[0] - a[0] for a, b in zip(said, said[1:])]
    assert len(said) >= 2 and all(g >= 9_500 for g in gaps), said
    assert all(re.match(r"(starting a worker…|training): epoch \d+ of 2000, \d+% done(, training loss [\d.]+ nats)?$", s[1])
               for s in said), "\n".join(map(str, said))
    assert said[-1][1].startswith("training: epoch")
    tab_to(page, lambda a: a["tag"] == "BUTTON" and a["name"] == "Stop", "Stop", back=True, limit=10)
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"\bstopped\b")).first.wait_for(timeout=60_000)
    page.context.close()


# --- a phone ------------------------------------------------------------------------------------


def test_on_a_phone_a_tap_on_the_map_selects_and_decodes_and_a_drag_moves_the_decoded_point(served):
    browser, url = served
    page = new_page(browser, **PHONE)
    open_page(page, url, "latent")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')?._fullData?.length > 1")
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    settle(page)
    ranges = "() => { const L = document.querySelector('.js-plotly-plot')._fullLayout; return [L.xaxis.range, L.yaxis.range]; }"
    axes = page.evaluate(ranges)
    before = decoded(page)
    x, y = point_position(page, 0, 1, 0)  # a point of class 0
    page.touchscreen.tap(x, y)
    wait_until(page, lambda: decoded(page)["selected"] is not None, "the tap selecting an example")
    tapped = decoded(page)
    assert tapped["z"] != before["z"]
    i = tapped["selected"]
    page.get_by_text(re.compile(rf"Example #{i}\b")).first.wait_for()  # selected on the server too
    wait_idle(page)
    # a drag: the decoded point follows the finger, the picture stays in view, the chart does not pan
    cdp = page.context.new_cdp_session(page)
    touch = lambda kind, p: cdp.send("Input.dispatchTouchEvent", {  # noqa: E731
        "type": kind, "touchPoints": [] if p is None else [{"x": p[0], "y": p[1], "id": 1}]})
    path = [(x + 4 * k, y - 3 * k) for k in range(12)]
    touch("touchStart", path[0])
    zs = []
    for p in path[1:]:
        touch("touchMove", p)
        zs.append(decoded(page)["z"])
    floating = page.locator(".st-key-decoder-hover canvas.float").evaluate(
        "c => { const r = c.getBoundingClientRect(); return [getComputedStyle(c).display, r.top, r.bottom, r.left, r.right]; }")
    touch("touchEnd", None)
    assert zs[-1][0] > zs[0][0] and zs[-1][1] > zs[0][1], zs  # right and up, as the finger
    assert len({tuple(z) for z in zs}) >= 8
    assert floating[0] == "block" and floating[1] >= 0 and floating[2] <= 844 and floating[3] >= 0 and floating[4] <= 390
    assert page.evaluate(ranges) == axes  # no pan
    assert decoded(page)["selected"] == i  # a drag does not select
    # behind the switch (below the map: the tap scrolls to it, and the switch brings the map back into
    # view), the chart's own pan; the decoded point stays
    switch = page.locator(".st-key-decoder-hover button.panmode")
    switch.tap()
    assert switch.get_attribute("aria-pressed") == "true"
    in_view = "() => { const r = document.querySelector('.js-plotly-plot').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    wait_until(page, lambda: page.evaluate(in_view), "the map in view again after the switch")
    settle(page)
    x, y = point_position(page, 0, 1, 0)
    z = decoded(page)["z"]
    touch("touchStart", (x, y))
    for k in range(1, 12):
        touch("touchMove", (x + 4 * k, y - 3 * k))
    touch("touchEnd", None)
    wait_until(page, lambda: page.evaluate(ranges) != axes, "the chart panned in pan / zoom mode")
    (x0, x1), (y0, y1) = axes
    (u0, u1), (v0, v1) = page.evaluate(ranges)
    assert u0 < x0 and v0 < y0 and u1 - u0 == pytest.approx(x1 - x0), (axes, page.evaluate(ranges))  # dragged right and up
    assert decoded(page)["z"] == z and decoded(page)["selected"] == i
    page.context.close()


def test_no_page_is_wider_than_a_phone_and_its_controls_are_44_px(served):
    browser, url = served
    page = new_page(browser, **PHONE)
    wide, small = {}, {}
    for spec in PAGES:
        open_page(page, url, spec.name)
        if page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth"):
            wide[spec.name] = page.evaluate("() => document.documentElement.scrollWidth")
        # what a finger touches: a visually hidden radio, checkbox or switch is tapped through its label, a
        # visually hidden range input through its slider's track (the area that takes the drag, touch-action: none)
        tiny = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stMain] :is(button, select, input, [role=slider], [role=radio], [role=switch], [role=checkbox], [role=menuitem])')]
            .map(e => { let t = e;
                        if (e.matches('input[type=radio], input[type=checkbox], [role=switch]')) t = e.closest('label') || e;
                        else if (e.matches('input[type=range]'))
                          for (let a = e.parentElement; a && !a.matches('[data-testid=stSlider]'); a = a.parentElement)
                            if (getComputedStyle(a).touchAction === 'none') t = a;
                        const r = t.getBoundingClientRect(); return [t, r]; })
            .filter(([t, r]) => r.width > 0 && r.height > 0 && getComputedStyle(t).visibility !== 'hidden' && (r.height < 44 || r.width < 24))
            .map(([t, r]) => (t.getAttribute('aria-label') || t.innerText || t.tagName).slice(0, 30) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))""")
        if tiny:
            small[spec.name] = tiny
    assert not wide, f"pages wider than a 390 px screen: {wide}"
    assert not small, f"touch targets under 44 px: {json.dumps(small, indent=1)}"
    page.context.close()


# --- motion -------------------------------------------------------------------------------------


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_play_honours_reduced_motion(served, motion):
    """Where the system asks for reduced motion, play shows five still frames, A to B, and stops by
    itself; otherwise t moves continuously until stopped."""
    browser, url = served
    page = new_page(browser, reduced_motion=motion)
    open_page(page, url, "interpolate")
    play = page.locator(".st-key-decoder-path button.play")
    play.click()
    ts = set()
    deadline = time.monotonic() + 7
    while time.monotonic() < deadline and (motion != "reduce" or play.get_attribute("aria-pressed") == "true"):
        m = re.search(r"t = ([0-9.]+)", decoded(page, "decoder-path")["name"])
        ts.add(float(m.group(1)))
        page.wait_for_timeout(40)  # (sampling the picture's name; the loop's deadline bounds it)
    if motion == "reduce":
        assert ts <= {0.0, 0.25, 0.5, 0.75, 1.0} and len(ts) >= 3, ts
        assert play.get_attribute("aria-pressed") == "false"  # it stopped by itself
        assert page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stMain]')).transitionDuration")\
            in ("1e-05s", "0.00001s", "0s")
    else:
        assert len(ts) > 10, ts
        assert play.get_attribute("aria-pressed") == "true"
    page.context.close()
