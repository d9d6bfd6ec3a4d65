"""Start the app on 127.0.0.1 and drive Debian's Chromium with Playwright: shared by the browser test
and the latency benchmark (bench/bench_latency.py)."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the app's own modules (ui.sitemap), for the bench scripts that use this
    sys.path.insert(0, str(ROOT))
# Debian's Chromium; VAE_CORE_CHROMIUM names another (a missing path: how a test hides it)
CHROMIUM = os.environ.get("VAE_CORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def require_chromium() -> None:
    """Skip the calling test where Chromium is missing; under CI (CI=true) that is a failure."""
    from needs import unavailable

    if not Path(CHROMIUM).is_file():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")


def free_port() -> int:
    """A port of 127.0.0.1 free now (another process may take it before the server binds it: app_process
    checks that the server answering is its own, and starts again on another port when it is not)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_RUNNING: dict[int, Path] = {}  # pid -> log, of each app server running now
_KEEP: set[Path] = set()         # logs a failed test pointed at: left on disk


def running_logs() -> list[Path]:
    """The logs of the app servers running now (conftest names them under a failed test), kept on disk."""
    _KEEP.update(_RUNNING.values())
    return list(_RUNNING.values())


def _listening_inodes(port: int) -> set[str] | None:
    """The inodes of the sockets listening on 127.0.0.1:port (Linux's /proc/net/tcp; None elsewhere)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    local = f"0100007F:{port:04X}"
    return {f[9] for f in map(str.split, lines) if f[1] == local and f[3] == "0A"}  # 0A: LISTEN


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    """Whether process `pid` has one of these sockets open."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _serving(proc: subprocess.Popen, port: int, log: Path) -> bool:
    """Whether `proc` serves on `port`: its own log says it bound the port, the socket listening there
    is its own (not another process's that took the port first), and it answers the health check."""
    if f"URL: http://127.0.0.1:{port}" not in log.read_text(errors="replace"):
        return False
    inodes = _listening_inodes(port)
    if inodes is not None and not _holds_socket(proc.pid, inodes):
        return False
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def _wait_serving(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> bool:
    """Until `proc` serves on `port` (True), or it exits or `timeout` s pass (False)."""
    deadline = time.monotonic() + timeout
    while not _serving(proc, port, log):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.3)  # (polling; the timeout only bounds a hang)
    return True


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def app_server(timeout: float = 60.0, script: str = "app.py"):
    """`streamlit run <script>` (default app.py) on a free port of 127.0.0.1; yields the URL; stops it by its PID."""
    with app_process(timeout, script) as (url, _):
        yield url


@contextlib.contextmanager
def app_process(timeout: float = 60.0, script: str = "app.py", tries: int = 5):
    """As app_server, yielding (URL, the server's Popen): for tests that kill it or read its memory.

    The server writes to a log of its own (a temporary file, `proc.log_path`), removed when all went
    well; a failure inside the block names it (and keeps it). A port another process took before the
    server could bind it means another port, up to `tries` times."""
    for attempt in range(tries):
        port = free_port()
        fd, name = tempfile.mkstemp(prefix=f"vae-core-app-{port}-", suffix=".log")
        log = Path(name)
        with os.fdopen(fd, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
                 "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
                 "--server.fileWatcherType", "none"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        proc.log_path = log
        if _wait_serving(proc, port, log, timeout):
            break
        _stop(proc)
        if f"Port {port} is not available" in log.read_text(errors="replace") and attempt + 1 < tries:
            log.unlink()
            continue  # another process took the port first
        raise RuntimeError(f"the app did not start on port {port} within {timeout:.0f} s (exit status "
                           f"{proc.returncode}); its log, {log}, ends:\n{_tail(log)}")
    _RUNNING[proc.pid] = log
    failed = False
    try:
        yield f"http://127.0.0.1:{port}", proc
    except GeneratorExit:
        raise
    except BaseException as e:  # (pytest.fail's exception is a BaseException)
        failed = True
        e.add_note(f"the app server's log: {log}")
        raise
    finally:
        del _RUNNING[proc.pid]
        _stop(proc)
        if not failed and log not in _KEEP:
            log.unlink(missing_ok=True)


@contextlib.contextmanager
def browser_page(width: int = 1500, height: int = 1000, scale: float = 1, **options):
    """One Chromium page, `scale` device pixels per CSS pixel (2: a Retina screen); `options` go to
    Playwright's new_page (has_touch=True, is_mobile=True: a phone)."""
    with launched() as browser:
        yield browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale, **options)


@contextlib.contextmanager
def launched():
    """One headless Chromium (Debian's, CHROMIUM_ARGS), closed on the way out: yields the browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def served_browser():
    """A fresh app server and one headless Chromium on it (each test makes its own contexts): yields
    (the browser, the URL)."""
    require_chromium()
    with app_server() as url, launched() as browser:
        yield browser, url


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


NAV_LINKS = '[data-testid="stTopNavDropdownLink"], [data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]'


def nav_link(page, title: str):
    """The navigation's link to the page called `title`: in the top navigation, inside the menu of the
    page's group (ui.sitemap), which is opened first; on a narrow screen, in the sidebar."""
    from ui.sitemap import PAGES

    link = page.locator(NAV_LINKS).filter(has_text=re.compile(re.escape(title) + r"\s*$")).first
    if not link.is_visible() and page.get_by_test_id("stTopNavSection").count():
        group = next(p.group for p in PAGES if p.title == title)
        page.get_by_test_id("stTopNavSection").filter(has_text=group).first.click()
    return link


# every Plotly chart on the page laid out, with no drawing or transition pending
PLOTS_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')].every(gd =>
    gd._fullLayout && gd._fullData && !gd._transitioning && !(gd._promises && gd._promises.length))"""


def settle(page) -> None:
    """Two animation frames of the page: what the last input or message set off in the page (a redraw,
    a request, a websocket frame) has been issued."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def wait_drawn(page, timeout: float = 30_000) -> None:
    """Until Streamlit is idle, every Plotly chart is drawn and the page has painted since: what a
    screenshot, or a check that nothing more happens, should see."""
    wait_idle(page, timeout)
    page.wait_for_function(PLOTS_DRAWN, timeout=timeout)
    settle(page)


def wait_until(page, condition, what: str, timeout: float = 60.0) -> None:
    """Poll `condition()` (it may read the page) until it holds; Playwright delivers the page's events
    (websocket frames, requests) meanwhile. `timeout` s only bound a hang: then fail, naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        page.wait_for_timeout(50)  # (the poll interval)


def goto_page(page, title: str, timeout: float = 30_000) -> None:
    """Click a page in the navigation and wait for its title."""
    nav_link(page, title).click()
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
    field = page.get_by_role("textbox", name=re.compile("^epochs"))
    field.fill(str(epochs))
    field.press("Enter")
    wait_idle(page)
    sent = re.compile(rf"[?&]epochs={epochs}(&|$)")  # the address bar holds what the server has (ui.links)
    try:
        wait_until(page, lambda: sent.search(page.url), f"epochs={epochs} in the address", timeout=20)
    except AssertionError:  # the edit's rerun was dropped (another rerun raced it): a person types it again
        warnings.warn("the epochs typed did not reach the server; typed again")
        field.fill(str(epochs))
        field.press("Enter")
        wait_until(page, lambda: sent.search(page.url), f"epochs={epochs} in the address", timeout=60)
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
