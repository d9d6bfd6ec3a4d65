"""A real browser on the Diagnostics page (a β-VAE with collapsed dims, a plain AE) and the picture
downloads (a PNG and a GIF that decode). Screenshots go to artifacts/screens/.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from browser_support import ROOT, app_server, browser_page, goto_page, pick_run, require_chromium, wait_drawn

SCREENS = ROOT / "artifacts" / "screens"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    require_chromium()
    with app_server() as url, browser_page(height=2200) as page:
        page.set_default_timeout(90_000)
        page.goto(url + "/latent")
        page.get_by_role("heading", name="Latent space").first.wait_for()
        yield page


def shot(page, name: str) -> None:
    wait_drawn(page, timeout=90_000)
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_diagnostics_of_a_beta_vae_with_collapsed_dims(page):
    pick_run(page, "MNIST beta-VAE, 16-D latent (beta = 4)")
    goto_page(page, "Diagnostics")
    page.get_by_text("collapsed to the prior").first.wait_for()
    page.get_by_text("z0 ·").first.wait_for(state="attached")  # the KL bars, labelled
    page.get_by_text("of 16").first.wait_for(state="attached")
    page.locator('[data-testid="stMetricValue"]').nth(2).wait_for()  # log p(x) ≈ L_50
    shot(page, "diagnostics-betavae-16d")
    assert not page.locator('[data-testid="stException"]').count()


def test_diagnostics_of_a_plain_autoencoder(page):
    pick_run(page, "Digits autoencoder, 2-D code")
    page.get_by_text("no KL per dim").first.wait_for()
    page.get_by_role("heading", name="Training history").first.wait_for()
    shot(page, "diagnostics-digits-ae")
    assert not page.locator('[data-testid="stException"]').count()


def test_traversal_downloads_as_png_and_gif(page):
    pick_run(page, "MNIST beta-VAE, 16-D latent (beta = 4)")
    goto_page(page, "Interpolate")
    traversal = page.get_by_role("heading", name="Traversals").first
    traversal.wait_for()
    traversal.scroll_into_view_if_needed()
    shot(page, "interpolate-downloads")
    with page.expect_download() as got:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="GIF (all rows").first.click()
    gif = Image.open(io.BytesIO(Path(got.value.path()).read_bytes()))
    assert got.value.suggested_filename == "traversal.gif" and gif.n_frames == 2 * 9 - 2
    with page.expect_download() as got:
        page.locator('[data-testid="stDownloadButton"]').filter(has_text="PNG").last.click()
    png = Image.open(io.BytesIO(Path(got.value.path()).read_bytes()))
    assert got.value.suggested_filename == "traversal.png" and png.format == "PNG"
    assert png.size == (9 * 57 + 1, 12 * 57 + 1)  # 9 steps x 12 dims of 28 px digits at 2x, 1 px borders
    assert not page.locator('[data-testid="stException"]').count()
