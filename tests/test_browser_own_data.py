"""Your own data in a real browser: a zip of images uploaded on the Your data page, previewed, added,
trained for one epoch from the Train page, and its map shown, with each example's own picture beside
the pointer; one hostile file of each kind uploaded through the page, each refused with its message,
and nothing written under the runs root.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import torch

import own_files as of
from browser_support import ROOT, explained, goto_page, point_position, served_browser, wait_drawn, wait_idle
from vae_core.data import load_split
from vae_core.runs import RunStore
from vae_core.runs.store import default_root

pytestmark = pytest.mark.browser
SHOTS = ROOT / "artifacts" / "screens"
UPLOAD = ".st-key-data-upload-0 input[type=file]"


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served_browser() as (b, url):
        yield b, url


def new_page(browser, width: int = 1400, height: int = 1200):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(60_000)
    return page


def open_datasets(page, url: str) -> str:
    """The Your data page of a new workspace; -> its id."""
    page.goto(url + "/datasets")
    page.get_by_role("heading", name="Your data").first.wait_for()
    wait_idle(page)
    page.wait_for_function("() => new URLSearchParams(location.search).get('ws')")
    return parse_qs(urlparse(page.url).query)["ws"][0]


def test_a_zip_is_uploaded_previewed_trained_for_one_epoch_and_mapped(browser):
    b, url = browser
    page = new_page(b)
    x, y = of.digits(300)
    ws_id = open_datasets(page, url)
    page.locator(UPLOAD).set_input_files(files=[{"name": "my-digits.zip", "mimeType": "application/zip",
                                                 "buffer": of.zip_of(of.labelled_pngs(x, y, dark_on_light=True))}])
    page.get_by_role("img", name=re.compile("^64 examples")).wait_for()
    main = page.locator('[data-testid="stMain"]')
    page.get_by_text("300 examples").first.wait_for()
    assert "1x28x28 grey, inverted" in main.inner_text() and "light background: inverted" in main.inner_text()
    wait_drawn(page)
    page.screenshot(path=str(SHOTS / "own-data-preview.png"))
    page.get_by_role("button", name="Add to this workspace").click()
    page.get_by_text("Added my-digits").first.wait_for()
    ws = RunStore().workspace(ws_id)
    (info,) = ws.datasets()

    goto_page(page, "Train")
    wait_idle(page)
    # the Train form's dataset: the one just added, by its name
    assert page.get_by_role("combobox", name="dataset", exact=True).input_value() == "my-digits · your data"
    epochs = page.get_by_role("textbox", name=re.compile("^epochs"))
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('epochs') === '1'")  # its rerun is over
    wait_idle(page)
    page.get_by_role("button", name="Start", exact=True).click()  # one epoch: 3 steps, over in seconds
    explained(page, lambda: page.get_by_text(re.compile(r"done · step \d+/\d+")).first.wait_for(timeout=240_000),
              "no finished run", "own-data-train")
    (run,) = [r for r in ws.runs() if r.origin == "trained"]
    assert run.config.dataset == info.dataset and run.config.epochs == 1 and "my-digits" in run.name

    goto_page(page, "Latent space")
    wait_drawn(page)
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                           ".filter(t => t.type === 'scattergl').map(t => [t.name, t.x.length])")
    assert [name for name, _ in traces] == list(info.labels)  # coloured by label, every class
    assert sum(n for _, n in traces) == 300  # fewer than 5,000 held out: the whole dataset
    # hover a point: its own picture beside the pointer, pixel for pixel the example the map's index names
    train, val = load_split(ws.checkpoint(run.id).config, workspace=ws.folder)
    examples = torch.cat([train.x, val.x]).numpy()  # the map's order (ui.views: train, then validation)
    page.wait_for_function("() => window.__latentExplorerAtlases && window.__latentExplorerAtlases.size > 0")
    page.evaluate("() => document.querySelector('.js-plotly-plot').on('plotly_hover', "
                  "e => { window.__hovered = e.points[0].customdata; })")  # the point Plotly says is hovered
    box = page.locator(".latent-example-hover")
    for k in (0, 7):
        px, py = point_position(page, 0, k % len(traces), k)
        page.mouse.move(px - 2, py)
        page.mouse.move(px, py)
        page.wait_for_function("() => window.__hovered !== undefined && document.querySelector("
                               "'.latent-example-hover')?.dataset.index === String(window.__hovered)")
        assert box.is_visible()
        i = int(box.get_attribute("data-index"))
        pixels = np.array(page.evaluate("""() => {
            const c = document.querySelector('.latent-example-hover canvas'), s = c.width / 28;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = [];
            for (let r = 0; r < 28; r++) for (let q = 0; q < 28; q++) out.push(d[4 * ((r * s + (s >> 1)) * c.width + q * s + (s >> 1))]);
            return out; }"""), np.uint8).reshape(28, 28)
        assert np.array_equal(pixels, np.round(examples[i, 0] * 255).astype(np.uint8)), i
    page.screenshot(path=str(SHOTS / "own-data-map.png"))


def test_one_hostile_file_of_each_kind_is_refused_in_the_page_and_nothing_is_written(browser, tmp_path):
    b, url = browser
    page = new_page(b)
    open_datasets(page, url)
    root = default_root()
    marker = tmp_path / "unpickled"
    before = of.files_under(root)
    main = page.locator('[data-testid="stMain"]')
    for name, blob, words in of.hostile_files(marker):
        page.locator(UPLOAD).set_input_files(files=[{"name": name, "mimeType": "application/octet-stream",
                                                     "buffer": blob}])
        alert = page.get_by_test_id("stAlert").filter(has_text="nothing was kept")
        explained(page, lambda: alert.first.wait_for(), f"no refusal of {name}", "own-data-hostile")
        said = alert.first.inner_text()
        assert name in said and words in said, (name, said)
        assert page.get_by_role("button", name="Add to this workspace").count() == 0
        page.get_by_role("button", name=f"Remove {name}").click()  # the next file alone
        alert.first.wait_for(state="detached")
        wait_idle(page)
    assert of.files_under(root) == before and not marker.exists()
    assert "Traceback" not in main.inner_text()
