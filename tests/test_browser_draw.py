"""The drawing pad (ui/decoder/draw.js) in a real browser: strokes drawn with the mouse and with a
finger move the drawing's point on the map without a word to the server while the pen moves; what
the page computes (its preparation of the ink, mu, log sigma^2, recon and KL) equals vae_core's on the
same ink; an uploaded PNG of a test digit gets the mu vae_core gives that digit; a bad file is refused
with a message; the page's encoder equals vae_core's for every shipped model.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from browser_support import ROOT, app_server, browser_page, pick_run, require_chromium, wait_idle
from test_drawing import hostile_pictures, stroke_raster, up
from vae_core import drawing
from vae_core.data import load_dataset
from vae_core.latent import encode
from vae_core.metrics import example_terms
from vae_core.zoo import load_entry, load_manifest

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
ENTRIES = load_manifest()
DEFAULT = next(e for e in ENTRIES if e.default)  # MNIST VAE, 2-D

# strokes in pad fractions (x right, y down): a "7" and a "1" with a flag
SEVEN = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.62, 0.45), (0.5, 0.65), (0.42, 0.85)]


def frames_counter(page) -> list:
    frames: list = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    return frames


def open_draw(page, url: str) -> None:
    """The Latent space page with Draw beside the map, once the pad has its model's weights."""
    page.goto(url + "/latent")
    page.get_by_role("heading", name="Latent space").first.wait_for()
    wait_idle(page)
    page.get_by_role("radiogroup", name="Beside the map").get_by_text("Draw", exact=True).click()
    wait_idle(page)
    ready(page)


def pad(page):
    return page.locator("canvas.drawpad").first


def ready(page) -> None:
    page.wait_for_function("() => [...document.querySelectorAll('*')]"
                           ".some(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.drawpad[data-ready=\"true\"]'))")


def state(page) -> dict:
    """What the pad says: its mu, logvar, recon, KL, revision, the point's place on the map."""
    got = pad(page).evaluate("c => ({...c.dataset})")
    return {k: json.loads(got[k]) if k in ("mu", "logvar", "mapXy") and k in got else got.get(k)
            for k in ("mu", "logvar", "recon", "kl", "rev", "where", "mapXy")}


def raster(page) -> np.ndarray:
    """The pad's ink as the page holds it (the canvas's alpha)."""
    alpha = pad(page).evaluate("c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
                               ".filter((_, i) => i % 4 === 3))")
    return np.array(alpha, np.uint8).reshape(drawing.PAD, drawing.PAD)


def points(box: dict, path, steps: int = 8):
    """Page coordinates along the polyline `path` (pad fractions), `steps` per segment."""
    out = []
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        for i in range(steps):
            t = i / steps
            out.append((box["x"] + box["width"] * (x0 + t * (x1 - x0)), box["y"] + box["height"] * (y0 + t * (y1 - y0))))
    x, y = path[-1]
    return out + [(box["x"] + box["width"] * x, box["y"] + box["height"] * y)]


def mouse_stroke(page, path, frames: list) -> tuple[int, list]:
    """Draw `path` with the mouse: -> (frames sent while the button was down, the mu after each move)."""
    pad(page).evaluate("c => c.scrollIntoView({block: 'center'})")  # not under the app's sticky header
    at = points(pad(page).bounding_box(), path)
    page.mouse.move(*at[0])
    before = len(frames)
    page.mouse.down()
    seen = []
    for p in at[1:]:
        page.mouse.move(*p)
        seen.append(pad(page).get_attribute("data-mu"))
    during = len(frames) - before
    page.mouse.up()
    return during, seen


def vae_core_view(entry, ink: np.ndarray, label=None) -> dict:
    """vae_core's encoding of a raster for a shipped model: mu, logvar, recon and KL nats."""
    ckpt = load_entry(entry)
    model = ckpt.build_model("cpu")
    x = torch.from_numpy(drawing.prepare(ink, drawing.rule_for(ckpt.config.dataset, model.shape)))[None]
    y = torch.tensor([label or 0]) if model.n_cond else None
    mu, logvar = encode(model, x, y)
    terms = example_terms(model, x, y, ckpt.config)
    return {"mu": mu[0].numpy(), "logvar": None if logvar is None else logvar[0].numpy(),
            "recon": float(terms["recon"]), "kl": float(terms["kl"]) if "kl" in terms else None}


@pytest.fixture(scope="module")
def app():
    require_chromium()
    with app_server() as url, browser_page(width=1280, height=900) as page:
        page.set_default_timeout(60_000)
        frames = frames_counter(page)
        open_draw(page, url)
        yield url, page, frames


def test_a_mouse_stroke_moves_the_point_with_no_message_and_equals_vae_core(app):
    _, page, frames = app
    during, seen = mouse_stroke(page, SEVEN, frames)
    assert during == 0, f"{during} websocket frames sent while the pen moved"
    moved = [m for m in seen if m]
    assert len(set(moved)) >= 10, "mu should change as the pen moves"
    wait_idle(page)
    got, ink = state(page), raster(page)
    assert got["where"] == "page" and got["mapXy"] is not None
    want = vae_core_view(DEFAULT, ink)
    np.testing.assert_allclose(got["mu"], want["mu"], atol=1e-4)
    np.testing.assert_allclose(got["logvar"], want["logvar"], atol=1e-4)
    assert float(got["recon"]) == pytest.approx(want["recon"], abs=2e-3)
    assert float(got["kl"]) == pytest.approx(want["kl"], abs=1e-4)
    # the server heard of it once the pen was up: its neighbours are listed under the map
    page.get_by_text("nearest examples").first.wait_for()


def test_a_move_is_drawn_as_it_arrives_not_at_the_next_frame(app):
    """Chromium has pointerrawupdate (on a secure page: localhost): the pad draws each move in its
    handler, so the point and pictures are written before the same input's frame-aligned pointermove
    is dispatched (both carry the input's timeStamp)."""
    _, page, frames = app
    page.get_by_role("button", name="clear the pad").click()
    wait_idle(page)
    pad(page).evaluate("""c => { const log = c.__log = [];
        for (const type of ['pointerrawupdate', 'pointermove'])
            c.addEventListener(type, e => log.push([type, e.timeStamp]), {capture: true});
        new MutationObserver(() => log.push(['drawn', log.length ? log[log.length - 1][1] : null]))
            .observe(c, {attributes: true, attributeFilter: ['data-drawn']}); }""")
    during, _ = mouse_stroke(page, SEVEN, frames)
    log = pad(page).evaluate("c => c.__log")
    assert during == 0
    moves = {t for kind, t in log if kind == "pointermove"}
    early = 0  # writes of an input's drawing before its pointermove came
    for i, (kind, t) in enumerate(log):
        if kind == "drawn" and t in moves and log[i - 1][0] == "pointerrawupdate":
            early += ("pointermove", t) not in [tuple(e) for e in log[:i]]
    drawn = sum(kind == "drawn" for kind, _ in log)
    assert drawn >= 30 and early >= 0.9 * drawn, f"{early} of {drawn} drawn before their pointermove: {log[:12]}"


def test_a_browser_without_pointerrawupdate_draws_on_pointermove(app):
    """Firefox and Safari have no pointerrawupdate (nor has Chromium on a page served over plain http):
    the pad draws on pointermove, once a frame, with no message either."""
    with another_page(app, 1280, 900) as (url, page):
        page.add_init_script("for (const o of [window, Window.prototype, Document.prototype, HTMLElement.prototype])"
                             " delete o.onpointerrawupdate;")
        frames = frames_counter(page)
        open_draw(page, url)
        assert page.evaluate("() => 'onpointerrawupdate' in window") is False
        during, seen = mouse_stroke(page, SEVEN, frames)
        assert during == 0 and len({m for m in seen if m}) >= 10
        wait_idle(page)
        np.testing.assert_allclose(state(page)["mu"], vae_core_view(DEFAULT, raster(page))["mu"], atol=1e-4)


def test_undo_and_clear_redraw_the_pad(app):
    _, page, frames = app
    before = state(page)["mu"]
    mouse_stroke(page, [(0.3, 0.5), (0.7, 0.55)], frames)
    assert state(page)["mu"] != before
    page.get_by_role("button", name="undo the last stroke").click()
    np.testing.assert_allclose(state(page)["mu"], before, atol=1e-9)  # the same ink again, the same mu
    page.get_by_role("button", name="clear the pad").click()
    assert state(page)["mu"] is None and not raster(page).any()
    assert pad(page).get_attribute("aria-label").startswith("drawing pad")
    assert page.locator("canvas.modelinput").first.get_attribute("aria-label").startswith("model input")


def test_the_ink_lands_under_the_pointer(app):
    """A dot (a click) a quarter across and three quarters down the pad's drawing area (inside its
    border): its ink is centred there, in pad pixels, to a fraction of a pixel."""
    _, page, _ = app
    page.get_by_role("button", name="clear the pad").click()
    x0, y0, w, h = pad(page).evaluate("c => { const r = c.getBoundingClientRect(); "
                                      "return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth, c.clientHeight]; }")
    page.mouse.click(x0 + w * 0.25, y0 + h * 0.75)
    ink = raster(page).astype(float)
    i, j = np.mgrid[:drawing.PAD, :drawing.PAD]
    centre = np.array([(ink * j).sum(), (ink * i).sum()]) / ink.sum()  # (x, y), pixel i covers [i, i + 1)
    np.testing.assert_allclose(centre + 0.5, [0.25 * drawing.PAD, 0.75 * drawing.PAD], atol=0.6)
    wait_idle(page)


def test_the_pages_preparation_equals_vae_cores_bit_for_bit(app):
    """Every rule on rasters of random strokes, an empty pad, ink at the very edges."""
    _, page, _ = app
    rules = [drawing.rule_for(n, s) for n, s in [("mnist10k", (1, 28, 28)), ("digits", (1, 8, 8)),
                                                  ("sprites", (1, 32, 32)), ("user:any", (3, 20, 24))]]
    edge = np.zeros((drawing.PAD, drawing.PAD), np.uint8)
    edge[0, :] = 255
    edge[:, -1] = 90
    rasters = [stroke_raster(s) for s in range(6)] + [np.zeros_like(edge), edge, up(np.eye(28)[::-1])]
    for rule in rules:
        for ink in rasters:
            got = page.evaluate("([rule, r]) => window.__latentExplorerPrepare(rule, r)", [rule.header(), ink.ravel().tolist()])
            np.testing.assert_array_equal(np.array(got, np.float32), drawing.prepare(ink, rule).ravel(), err_msg=rule.name)


def test_an_uploaded_png_of_a_test_digit_gets_vae_cores_mu_and_a_bad_file_is_refused(app):
    _, page, _ = app
    digits = load_dataset("mnist10k")
    k = 7
    digit = digits.x[k, 0].numpy()
    buf = io.BytesIO()
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(buf, format="PNG")
    upload = page.locator(".st-key-draw-upload input[type='file']")
    upload.set_input_files(files=[{"name": "digit.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    page.wait_for_function("() => [...document.querySelectorAll('*')].some(e => e.shadowRoot && "
                           "(e.shadowRoot.querySelector('canvas.drawpad')?.dataset.rev || '').startsWith('up-'))")
    model = load_entry(DEFAULT).build_model("cpu")
    mu, _ = encode(model, digits.x[k:k + 1])
    np.testing.assert_allclose(state(page)["mu"], mu[0].numpy(), atol=1e-4)
    rev = state(page)["rev"]
    name, data, words = next(h for h in hostile_pictures() if h[0] == "notes.png")
    upload.set_input_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])
    page.get_by_text(words).first.wait_for()
    assert state(page)["rev"] == rev  # the drawing is as it was


@contextlib.contextmanager
def another_page(app, width: int, height: int, **options):
    """A second page in the fixture's browser, on its server (a phone: has_touch, is_mobile)."""
    url, first, _ = app
    page = first.context.browser.new_page(viewport={"width": width, "height": height}, **options)
    try:
        page.set_default_timeout(60_000)
        yield url, page
    finally:
        page.close()


def test_a_touch_stroke_on_a_phone_moves_the_point_with_no_message(app):
    """A 390 px phone (touch events from CDP, as a finger's): the pad takes the touch (the page does
    not scroll), the point moves, nothing is sent until the finger lifts."""
    with another_page(app, 390, 844, has_touch=True, is_mobile=True) as (url, page):
        frames = frames_counter(page)
        open_draw(page, url)
        pad(page).scroll_into_view_if_needed()
        pad(page).evaluate("c => { c.__types = []; c.addEventListener('pointermove', e => c.__types.push(e.pointerType)); }")
        scrolled = """c => { let e = c.getRootNode().host;
            for (; e && e !== document.body; e = e.parentElement) {
                const s = getComputedStyle(e).overflowY;
                if ((s === 'auto' || s === 'scroll') && e.scrollHeight > e.clientHeight) return e.scrollTop; }
            return window.scrollY; }"""
        top = pad(page).evaluate(scrolled)
        at = points(pad(page).bounding_box(), SEVEN)
        cdp = page.context.new_cdp_session(page)
        touch = lambda kind, p: cdp.send("Input.dispatchTouchEvent", {  # noqa: E731
            "type": kind, "touchPoints": [] if p is None else [{"x": p[0], "y": p[1], "id": 1}]})
        before = len(frames)
        touch("touchStart", at[0])
        seen = set()
        for p in at[1:]:
            touch("touchMove", p)
            seen.add(pad(page).get_attribute("data-mu"))
        during = len(frames) - before
        touch("touchEnd", None)
        assert during == 0, f"{during} websocket frames sent while the finger moved"
        assert len(seen - {None}) >= 10
        assert "touch" in pad(page).evaluate("c => c.__types")
        assert pad(page).evaluate(scrolled) == top, "the page scrolled under the finger"
        wait_idle(page)
        np.testing.assert_allclose(state(page)["mu"], vae_core_view(DEFAULT, raster(page))["mu"], atol=1e-4)


def test_a_pen_draws_too(app):
    """A pen (CDP mouse events of pointerType "pen", as a stylus's): a stroke, mu from the page, no frame."""
    _, page, frames = app
    page.get_by_role("button", name="clear the pad").click()
    wait_idle(page)
    pad(page).evaluate("c => { c.__types = new Set(); c.addEventListener('pointermove', e => c.__types.add(e.pointerType)); }")
    at = points(pad(page).bounding_box(), [(0.3, 0.3), (0.7, 0.4), (0.4, 0.8)])
    cdp = page.context.new_cdp_session(page)
    pen = lambda kind, p, buttons=1: cdp.send("Input.dispatchMouseEvent", {  # noqa: E731
        "type": kind, "x": p[0], "y": p[1], "button": "left", "buttons": buttons, "clickCount": 1, "pointerType": "pen"})
    before = len(frames)
    pen("mousePressed", at[0])
    for p in at[1:]:
        pen("mouseMoved", p)
    during = len(frames) - before
    pen("mouseReleased", at[-1], 0)
    assert during == 0 and pad(page).evaluate("c => [...c.__types]") == ["pen"]
    wait_idle(page)
    np.testing.assert_allclose(state(page)["mu"], vae_core_view(DEFAULT, raster(page))["mu"], atol=1e-4)


IMAGE_ENTRIES = [e for e in ENTRIES if len(load_entry(e).build_model("cpu").shape) == 3]


def test_the_pages_encoder_equals_vae_cores_for_every_shipped_model(app):
    """Each shipped model of pictures: mu and log sigma^2 from the page's encoder on dataset examples
    and random inputs, against vae_core.latent.encode, within 1e-4. The 2-D points model has no pad."""
    require_chromium()
    url, page, _ = app
    rng = np.random.default_rng(0)
    for entry in ENTRIES:
        pick_run(page, entry.title)
        wait_idle(page)
        ckpt = load_entry(entry)
        model = ckpt.build_model("cpu")
        if entry not in IMAGE_ENTRIES:  # no Draw beside the map
            page.get_by_role("radiogroup", name="Beside the map").wait_for(state="detached")
            continue
        key = "enc:" + entry.sha256
        try:
            page.wait_for_function("(key) => window.__latentExplorerModels?.has(key)", arg=key, timeout=120_000)  # a first visit encodes the map (10 s and more on a busy machine)
        except Exception:
            raise AssertionError(f"{entry.id}: the page has " + str(page.evaluate(
                "() => [...(window.__latentExplorerModels?.keys() ?? [])]")))
        data = load_dataset(ckpt.config.dataset)
        x = torch.cat([data.x[:3], torch.rand(2, *model.shape, generator=torch.Generator().manual_seed(1))])
        y = torch.tensor(rng.integers(0, model.n_cond, len(x))) if model.n_cond else None
        mu, logvar = encode(model, x, y)
        for i in range(len(x)):
            got = page.evaluate("([k, x, y]) => window.__latentExplorerEncode(k, x, y)",
                                [key, x[i].ravel().tolist(), None if y is None else int(y[i])])
            np.testing.assert_allclose(got["mu"], mu[i].numpy(), atol=1e-4, err_msg=entry.id)
            if logvar is None:
                assert got["logvar"] is None
            else:
                np.testing.assert_allclose(got["logvar"], logvar[i].numpy(), atol=1e-4, err_msg=entry.id)
    pick_run(page, DEFAULT.title)
    wait_idle(page)


def test_screenshots_of_a_drawing_between_two_clusters(app):
    """For people (artifacts/screens): a drawn digit whose nearest examples are of two classes (the
    point between two clusters), with its neighbours, on a 1280 x 720 screen and on a 390 px phone."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    candidates = [  # strokes people draw for 4, 9, 7, 3 and 5: the first whose neighbours mix two classes
        [[(0.55, 0.15), (0.25, 0.6), (0.75, 0.6)], [(0.6, 0.35), (0.6, 0.9)]],
        [[(0.7, 0.3), (0.5, 0.15), (0.3, 0.3), (0.5, 0.45), (0.7, 0.3), (0.65, 0.85)]],
        [SEVEN],
        [[(0.3, 0.2), (0.65, 0.25), (0.45, 0.48), (0.7, 0.7), (0.35, 0.85)]],
        [[(0.7, 0.15), (0.35, 0.15), (0.3, 0.45), (0.65, 0.5), (0.6, 0.8), (0.3, 0.85)]],
    ]
    for name, size, options in [("drawing-1280x720", (1280, 720), {}),
                                ("drawing-phone-390", (390, 844), {"has_touch": True, "is_mobile": True})]:
        with another_page(app, *size, **options) as (url, page):
            frames = frames_counter(page)
            open_draw(page, url)
            for strokes in candidates:
                page.get_by_role("button", name="clear the pad").click()
                for s in strokes:
                    mouse_stroke(page, s, frames)
                wait_idle(page)
                caption = page.get_by_text("nearest examples").first
                caption.wait_for()
                page.wait_for_timeout(500)
                if len(set(caption.inner_text().split(":")[-1].replace(",", " ").split())) >= 2:
                    break
            if size[0] > 600:
                page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
                page.evaluate("() => document.querySelector('.js-plotly-plot').scrollIntoView({block: 'start'})")
            else:  # the pad at the top: the map is out of sight, its copy under the pad
                page.get_by_role("radiogroup", name="Beside the map").evaluate("""e => { e.scrollIntoView({block: 'start'});
                    for (let p = e.parentElement; p; p = p.parentElement) if (p.scrollTop > 0) { p.scrollTop -= 70; break; } }""")
            page.wait_for_timeout(500)
            page.screenshot(path=str(SHOTS / f"{name}.png"))
