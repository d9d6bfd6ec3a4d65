"""A real browser visits every Concepts page on a freshly started server, moves a control where it
matters, and saves a screenshot of each (artifacts/screens/concepts/, or $CONCEPT_SHOTS).

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_support import ROOT, goto_page, served_page, wait_drawn, wait_idle, wait_until

SHOTS = Path(os.environ.get("CONCEPT_SHOTS") or ROOT / "artifacts" / "screens" / "concepts")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with served_page(height=1900) as (url, page):
        page.goto(url + "/latent")  # the root is the first screen
        page.get_by_role("heading", name="Latent space").first.wait_for()
        yield page


def ready(page, n_charts: int = 1) -> None:
    """The formula is typeset, the charts are drawn (after any training), nothing is running."""
    page.locator(".katex").first.wait_for()
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {n_charts}", timeout=180_000)
    wait_idle(page, timeout=180_000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
    page.mouse.move(5, 5)      # no tooltip in the picture
    wait_drawn(page)
    assert not page.locator("[data-testid='stException']").count()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def press(page, label: str, key: str, times: int) -> None:
    """Move a slider with the keyboard, each press once the slider shows the last one's value."""
    slider = page.get_by_role("slider", name=label)
    for _ in range(times):
        before = slider.input_value()
        slider.focus()
        page.keyboard.press(key)
        wait_until(page, lambda: slider.input_value() != before, f"{label} to move ({key})")
    wait_idle(page)


def test_forward_vs_reverse_kl(page):
    goto_page(page, "Forward vs reverse KL")
    ready(page)
    page.get_by_text("picks one mode").first.wait_for()
    shot(page, "1-kl-direction")
    press(page, "mean 1", "ArrowRight", 20)  # -3 -> -1
    press(page, "mean 2", "ArrowLeft", 20)   # 3 -> 1
    page.get_by_text("straddles both modes").first.wait_for()
    ready(page)
    shot(page, "1b-kl-direction-close-means")


def test_the_elbo_is_a_bound(page):
    goto_page(page, "The ELBO is a bound")
    ready(page, 2)
    shot(page, "2-elbo")
    press(page, "q: μ₀", "ArrowRight", 40)
    ready(page, 2)
    shot(page, "2b-elbo-q-moved")
    page.get_by_role("button", name="q = the best Gaussian").click()
    ready(page, 2)
    shot(page, "2c-elbo-best-gaussian")


def test_reparameterization(page):
    goto_page(page, "Reparameterization")
    ready(page)
    shot(page, "3-reparam")


def test_gaussian_kl(page):
    goto_page(page, "Gaussian KL")
    ready(page)
    page.get_by_text("-0.5 * sum(1 + logvar - mu**2 - exp(logvar))").first.wait_for()
    shot(page, "4-gaussian-kl")


def test_sparsity(page):
    goto_page(page, "Sparsity")
    ready(page, 2)
    page.get_by_text("mean ρ̂, with the penalty").first.wait_for(timeout=180_000)
    ready(page, 2)
    shot(page, "5-sparsity")


def test_denoising_and_contraction(page):
    goto_page(page, "Denoising and contraction")
    ready(page, 2)
    page.get_by_text("‖J‖_F on the data, contractive").first.wait_for(timeout=180_000)
    ready(page, 2)
    shot(page, "6-denoising")
