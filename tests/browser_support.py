"""Start the app on 127.0.0.1 and drive Debian's Chromium with Playwright: shared by the browser test
and the latency benchmark (bench/bench_latency.py)."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def require_chromium() -> None:
    """Skip the calling test where Chromium is missing; under CI (CI=true) that is a failure."""
    import pytest

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(timeout: float = 60.0, script: str = "app.py"):
    """`streamlit run <script>` (default app.py) on a free port of 127.0.0.1; yields the URL; stops it by its PID."""
    with app_process(timeout, script) as (url, _):
        yield url


@contextlib.contextmanager
def app_process(timeout: float = 60.0, script: str = "app.py"):
    """As app_server, yielding (URL, the server's Popen): for tests that kill it or read its memory."""
    port = free_port()
    log = open(ROOT / ".streamlit-test.log", "w") if os.access(ROOT, os.W_OK) else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start (see {ROOT / '.streamlit-test.log'})")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log is not subprocess.DEVNULL:
            log.close()


@contextlib.contextmanager
def browser_page(width: int = 1500, height: int = 1000, scale: float = 1, **options):
    """One Chromium page, `scale` device pixels per CSS pixel (2: a Retina screen); `options` go to
    Playwright's new_page (has_touch=True, is_mobile=True: a phone)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale, **options)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def served_page(height: int = 1000):
    """A fresh app server and one Chromium page on it (60 s default timeout): yields (URL, page)."""
    require_chromium()
    with app_server() as url, browser_page(height=height) as page:
        page.set_default_timeout(60_000)
        yield url, page


def wait_idle(page, timeout: float = 30_000) -> None:
    """Until Streamlit says it is no longer running the script."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout)


def goto_page(page, title: str, timeout: float = 30_000) -> None:
    """Click a page in the sidebar navigation and wait for its title."""
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout)


def point_position(page, chart_index: int = 0, trace: int = 0, point: int = 0) -> tuple[float, float]:
    """Page pixel coordinates of a data point of a Plotly chart, from the chart's own axes (once the
    chart has that trace: mid-redraw, Plotly's _fullData can be briefly short)."""
    page.wait_for_function("([ci, ti]) => document.querySelectorAll('.js-plotly-plot')[ci]?._fullData?.[ti]",
                           arg=[chart_index, trace])
    return page.evaluate(
        """([ci, ti, pi]) => {
            const gd = document.querySelectorAll('.js-plotly-plot')[ci];
            const L = gd._fullLayout, xa = L.xaxis, ya = L.yaxis, box = gd.getBoundingClientRect();
            const t = gd._fullData[ti], x = t.x[pi], y = t.y[pi];
            return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
        }""", [chart_index, trace, point])


def pick_run(page, name: str) -> None:
    """Make a run (a pretrained model's title, or a trained run's name) the active model, through the
    sidebar's run list."""
    page.locator('[data-testid="stSidebar"] [role="radiogroup"]').get_by_text(name, exact=True).first.click()


def start_training(page, epochs: int) -> None:
    """On the Train page: set the epochs, press Start, wait until it trains."""
    field = page.get_by_label(re.compile("^epochs"))
    field.fill(str(epochs))
    field.press("Enter")
    wait_idle(page)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.get_by_role("button", name="Start", exact=True).click()
    try:
        page.get_by_text(re.compile(r"(queued|starting a worker|training)[^·]* · step")).first.wait_for(timeout=20_000)
    except PlaywrightTimeout:  # a press Streamlit dropped (a rerun raced it): a person presses again
        warnings.warn("the first press of Start did not reach the server; pressed again")
        page.get_by_role("button", name="Start", exact=True).click()
    explained(page, lambda: page.get_by_text(re.compile(r"training · step [1-9]")).first.wait_for(timeout=90_000),
              "no training step 90 s after Start", "start-training-timeout")


def explained(page, action, what: str, shot: str):
    """Run a Playwright `action`; if it times out, fail with what the page said and a screenshot
    (artifacts/<shot>.png), so a failure in CI can be read afterwards."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return action()
    except PlaywrightTimeout as e:
        (ROOT / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "artifacts" / f"{shot}.png"), full_page=True)
        raise AssertionError(f"{what} ({str(e).splitlines()[0]}); the page said:\n"
                             + page.locator('[data-testid="stMain"]').inner_text()[:3000]) from None
