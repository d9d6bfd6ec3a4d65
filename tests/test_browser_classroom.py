"""A classroom, in a real browser: every hostile file uploaded through the sidebar is refused with a
message and changes nothing; a server killed while a job trains comes back with the run interrupted
and resumable; twenty sessions opened and closed leave the server's memory within a stated bound.

Skipped where Chromium is missing, except in CI (CI=true), where that is a failure.
"""
from __future__ import annotations

import os
import re
import signal
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from browser_support import (ROOT, app_process, goto_page, launched, require_chromium,
                             start_training, wait_idle, wait_until)
from hostile import hostile_files

SCREENS = ROOT / "artifacts" / "screens"
MEMORY_BOUND_MIB = 60  # the server's growth over 20 sessions opened and closed after a first warm one
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    require_chromium()
    SCREENS.mkdir(parents=True, exist_ok=True)
    with launched() as b:
        yield b


def open_page(browser, url: str, heading: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(page)
    return page


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def run_list(page) -> str:
    return page.locator('[data-testid="stSidebar"] [role="radiogroup"]').inner_text()


def workspace_files(ws: str) -> list[str]:
    folder = Path(os.environ["VAE_CORE_RUNS"]) / ws
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_every_hostile_upload_is_refused_in_the_page_and_changes_nothing(chromium, tmp_path):
    marker = tmp_path / "unpickled"
    with app_process() as (url, _):
        page = open_page(chromium, url + "/latent", "Latent space")
        ws = parse_qs(urlparse(page.url).query)["ws"][0]
        before = (run_list(page), workspace_files(ws))
        active = page.locator('[data-testid="stSidebar"] [role="radiogroup"] input:checked').count()
        upload = page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]')
        for name, blob, words in hostile_files(marker):
            upload.set_input_files(files=[{"name": name, "mimeType": "application/octet-stream", "buffer": blob}])
            refusal = page.get_by_text(f"{name} was not opened:").first
            refusal.wait_for(timeout=30_000)
            wait_idle(page)
            assert words in refusal.inner_text(), (name, refusal.inner_text())
            assert (run_list(page), workspace_files(ws)) == before, name  # nothing listed, nothing written
            assert page.locator('[data-testid="stException"]').count() == 0, name
        page.screenshot(path=str(SCREENS / "13-hostile-upload.png"))
        # over the server's upload limit (.streamlit/config.toml: 32 MB): refused before it is sent
        upload.set_input_files(files=[{"name": "big.safetensors", "mimeType": "application/octet-stream",
                                       "buffer": b"\0" * (33 * 2**20)}])
        page.get_by_text(re.compile(r"File must be 32(\.0)? ?MB or smaller")).first.wait_for(timeout=30_000)
        page.screenshot(path=str(SCREENS / "13-too-big.png"))
        assert (run_list(page), workspace_files(ws)) == before
        # the app goes on: another page opens, with the same runs and active model
        goto_page(page, "Manifold")
        wait_idle(page)
        assert run_list(page) == before[0]
        assert page.locator('[data-testid="stSidebar"] [role="radiogroup"] input:checked').count() == active
    assert not marker.exists()  # nothing was unpickled


def test_a_server_killed_mid_run_comes_back_with_the_run_interrupted_and_resumable(chromium):
    with app_process() as (url, server):
        page = open_page(chromium, url + "/train", "Train")
        ws = parse_qs(urlparse(page.url).query)["ws"][0]
        start_training(page, 3000)
        wait_until(page, lambda: checkpointed_epoch(ws) >= 1, "a checkpoint at an epoch's end", timeout=120)
        server.send_signal(signal.SIGKILL)  # a crash, a laptop closed: no goodbye
        server.wait()
    with app_process() as (url, _):  # the same runs folder: $VAE_CORE_RUNS
        page = open_page(chromium, f"{url}/train?ws={ws}", "Train")
        page.get_by_text(re.compile("Status: interrupted")).first.wait_for(timeout=30_000)
        page.get_by_text("resume it from its last checkpoint").first.wait_for()
        assert "#1 VAE" in run_list(page)
        # the sidebar's list says so too (it was drawn before the page took the dead server's run over)
        wait_until(page, lambda: "interrupted" in run_list(page) and "running" not in run_list(page),
                   "the sidebar's list to say interrupted", timeout=30)
        page.screenshot(path=str(SCREENS / "13-after-server-restart.png"))
        page.get_by_role("button", name=re.compile("^Resume from epoch [1-9]")).click()
        page.get_by_text(re.compile(r"training · step [1-9].* resumed at step [1-9]")).first.wait_for(timeout=90_000)


def checkpointed_epoch(ws: str) -> int:
    """The epoch of the workspace's one run's last checkpoint on disk (0: none yet)."""
    from vae_core.runs import RunStore

    store = RunStore().workspace(ws)
    (run,) = [r for r in store.runs() if not r.readonly]
    return store.checkpoint(run.id, with_history=False).progress["epoch"] if store.has_checkpoint(run.id) else 0


def active_sessions(url: str) -> int:
    """The server's count of sessions with an open websocket (Streamlit's /_stcore/metrics)."""
    text = urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10).read().decode()
    return int(re.search(r"^active_sessions (\d+)$", text, re.M).group(1))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll `condition()` (no page to read: the server's own state); `timeout` only bounds a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.1)  # (the poll interval)


def test_twenty_sessions_opened_and_closed_stay_within_a_memory_bound(chromium):
    with app_process() as (url, server):
        def session():
            page = open_page(chromium, url + "/latent", "Latent space")
            page.locator(".js-plotly-plot").first.wait_for()
            wait_idle(page)
            page.context.close()

        session()  # the first one loads the shared models and caches
        until(lambda: active_sessions(url) == 0, "the first session to close")
        warm = _rss_mib(server.pid)
        for _ in range(20):
            session()
        until(lambda: active_sessions(url) == 0, "the 20 sessions to close")  # every websocket gone
        grown = _rss_mib(server.pid) - warm
        print(f"server RSS after the first session {warm:.0f} MiB; 20 sessions later +{grown:.1f} MiB")
        assert grown < MEMORY_BOUND_MIB
