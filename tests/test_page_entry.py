"""Every page, opened by a link as a session's first request on a fresh server, runs through app.py.

Streamlit 1.67 runs a deep-linked script of pages/ ALONE (its old multipage scheme, `_mpa_v1`) until
some session has called st.navigation, and a class arriving together has several sessions inside
that scheme while another session's app.py turns it off (ui/__init__.py). AppTest shows a browser's
first run: it resets Streamlit's flag before each run, so a page opened first goes through `_mpa_v1`;
here another session's app.py is made to turn the flag off at the start of that very run.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from ui import sitemap

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))  # what the old scheme runs alone (not subfolders)
TITLES = {Path(p.target).name: "Latent Explorer" if p.default else p.title  # the first screen: the app's name
          for p in sitemap.PAGES if Path(p.target).parent.name == "pages"}
pytestmark = pytest.mark.fresh_server  # AppTest's own reset of the flag before each run is the point here


def test_every_page_is_declared_in_the_sitemap():
    assert PAGES == sorted(TITLES)


@pytest.fixture
def another_session_runs_app_first(monkeypatch):
    """Within the old scheme's run, before the page script starts, st.navigation of another session's
    app.py turns the process-wide flag off (what the flag alone cannot tell this run)."""
    old = script_runner._mpa_v1
    entered = []

    def raced(main_script_path):
        entered.append(main_script_path)
        PagesManager.uses_pages_directory = False
        old(main_script_path)

    monkeypatch.setattr(script_runner, "_mpa_v1", raced)
    return entered


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_first_while_another_session_turns_the_old_scheme_off(page, another_session_runs_app_first):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.switch_page(f"pages/{page}").run()  # the session's first run: the link
    assert another_session_runs_app_first, "the run did not go through the old scheme: nothing was tested"
    assert not at.exception, at.exception
    assert [t.value for t in at.title][:1] == [TITLES[page]]
    assert "ws" in at.session_state  # app.py's session set-up ran
    assert not PagesManager.uses_pages_directory
