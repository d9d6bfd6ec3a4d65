"""Latency as a user feels it, measured in a real browser (Chromium through Playwright):

  click   a point on the latent map      -> its decoded panel is shown
  slider  the interpolation t moves      -> the new decoded image is shown
  page    a page is picked in the sidebar -> its chart is drawn

Prints p50 / p95 in milliseconds. Targets on a 2-core machine: p50 <= 300 ms for click and slider.

    python bench/bench_latency.py [--n 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_support import app_server, browser_page, goto_page, point_position, wait_idle  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def measure_clicks(page, n: int) -> list[float]:
    out = []
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.length")
    for k in range(n):
        trace, point = k % min(traces, 10), 1 + k // 10
        ix = page.evaluate(f"() => document.querySelector('.js-plotly-plot')._fullData[{trace}].customdata[{point}]")
        x, y = point_position(page, 0, trace, point)
        t0 = time.perf_counter()
        page.mouse.click(x, y)
        page.get_by_text(f"Example #{ix}").first.wait_for()
        page.locator("[data-testid='stImage'] img").first.wait_for()
        out.append(1000 * (time.perf_counter() - t0))
        wait_idle(page)
    return out


def measure_slider(page, n: int) -> list[float]:
    out = []
    slider = page.get_by_role("slider").first
    slider.focus()
    t = round(float(slider.get_attribute("aria-valuenow")), 2)
    for k in range(n):
        step = 1 if t < 0.95 else -1
        before = page.locator("[data-testid='stImage'] img").first.get_attribute("src")
        t0 = time.perf_counter()
        page.keyboard.press("ArrowRight" if step > 0 else "ArrowLeft")
        t = round(t + 0.01 * step, 2)
        page.get_by_text(f"t = {t:.2f}").first.wait_for()
        page.wait_for_function(
            "(b) => { const i = document.querySelector(\"[data-testid='stImage'] img\"); return i && i.src !== b; }",
            arg=before)
        out.append(1000 * (time.perf_counter() - t0))
        wait_idle(page)
    return out


def measure_pages(page, n: int) -> list[float]:
    out = []
    for k in range(n):
        title = ("Manifold", "Interpolate", "Latent space")[k % 3]
        t0 = time.perf_counter()
        goto_page(page, title)
        page.locator(".js-plotly-plot").first.wait_for()
        wait_idle(page)
        out.append(1000 * (time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="repetitions of each interaction")
    args = ap.parse_args()
    with app_server() as url, browser_page() as page:
        page.set_default_timeout(60_000)
        page.goto(url)
        page.locator(".js-plotly-plot").first.wait_for()
        wait_idle(page)
        results = {"click -> decoded panel": measure_clicks(page, args.n)}
        goto_page(page, "Interpolate")
        page.get_by_text("t = 0.50").first.wait_for()
        wait_idle(page)
        results["slider -> new image"] = measure_slider(page, args.n)
        results["page switch -> chart drawn"] = measure_pages(page, args.n)
    print(f"{'interaction':30s} {'n':>3s} {'p50 ms':>8s} {'p95 ms':>8s} {'target':>8s}")
    for name, xs in results.items():
        target = "300" if not name.startswith("page") else "-"
        ok = "" if target == "-" else ("  PASS" if statistics.median(xs) <= 300 else "  FAIL")
        print(f"{name:30s} {len(xs):3d} {pct(xs, 0.5):8.0f} {pct(xs, 0.95):8.0f} {target:>8s}{ok}")


if __name__ == "__main__":
    main()
