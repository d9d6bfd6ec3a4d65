"""A real browser and what a class shares: a run's read-only link opened in another browser, a
mistyped workspace address, the sweep form's count before Start, and a number field refusing what it
cannot take (issue 21)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from browser_support import goto_page, served_browser, wait_idle
from vae_core import zoo

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with served_browser() as got:
        yield got


def new_page(browser, width: int = 1280, height: int = 900):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(60_000)
    return page


def workspace_of(page) -> str:
    page.wait_for_function("() => new URLSearchParams(location.search).get('ws')")
    return parse_qs(urlparse(page.url).query)["ws"][0]


def test_a_read_only_link_shows_the_run_to_another_browser_without_rename_or_delete(browser, tmp_path):
    b, url = browser
    teacher = new_page(b)
    teacher.goto(url + "/latent")
    teacher.get_by_role("heading", name="Latent space").first.wait_for()
    ws = workspace_of(teacher)
    checkpoint = tmp_path / "class model.safetensors"
    checkpoint.write_bytes(zoo.load_manifest()[-1].path.read_bytes())
    teacher.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(checkpoint))
    teacher.get_by_text("Opened class model.safetensors").wait_for()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    code = teacher.locator("code").filter(has_text="model=share.").first
    make = teacher.get_by_role("button", name="Make the link").filter(visible=True)
    closed = teacher.locator('button:enabled:not([aria-expanded="true"])').filter(has_text="Share read-only",
                                                                                  visible=True)
    for _ in range(6):  # what a person does: open the popover, make the link, read it (again, should a rerun
        wait_idle(teacher)  # have raced a press or closed the popover)
        if code.is_visible():
            break
        if make.count():
            make.first.click()
        elif closed.count():
            closed.first.click()
        try:
            code.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            pass
    link = code.inner_text().strip()
    assert "/latent?model=share." in link and ws not in link  # the run's link, never the workspace's address

    student = new_page(b)
    student.goto(link)
    student.get_by_role("heading", name="Latent space").first.wait_for()
    wait_idle(student)
    assert workspace_of(student) != ws  # a workspace of their own
    sidebar = student.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("class model").first.wait_for()  # the shared run is there, the active model ...
    sidebar.get_by_text("Shared with you by its link: read-only").wait_for()
    for word in ("Rename", "Delete", "Share read-only"):  # ... which they cannot change
        assert student.get_by_role("button", name=re.compile(word)).count() == 0, word
    goto_page(student, "Diagnostics")  # its model on another page too
    assert "class model" in student.locator('[data-testid="stSidebar"]').inner_text()


def test_a_truncated_workspace_address_says_so(browser):
    b, url = browser
    page = new_page(b)
    page.goto(url + "/latent?ws=abc123")
    page.get_by_text(re.compile("is not a workspace id")).first.wait_for()
    assert workspace_of(page) != "abc123"


def test_the_sweep_form_counts_what_it_will_train_and_a_bad_number_is_refused_with_its_range(browser):
    b, url = browser
    page = new_page(b)
    page.goto(url + "/train")
    page.get_by_role("heading", name="Train").first.wait_for()
    wait_idle(page)
    field = page.get_by_role("textbox", name=re.compile("^epochs"))
    field.fill("1e9")
    field.press("Enter")
    page.get_by_text("epochs must be 1 to 10,000, got 1,000,000,000").first.wait_for()
    assert page.get_by_role("button", name="Start", exact=True).is_disabled()
    field.fill("20")
    field.press("Enter")
    wait_idle(page)
    page.get_by_text(re.compile("Sweep: one run per")).first.click()
    dims = page.get_by_role("textbox", name=re.compile("^latent_dim values"))
    dims.fill("2, 16")
    dims.press("Enter")
    page.get_by_text("2 runs: latent_dim 2, 16").first.wait_for()  # only the list filled: no β product
    betas = page.get_by_role("textbox", name=re.compile("^β values"))
    betas.fill("0.25, 0.5, 1, 16")
    betas.press("Enter")
    page.get_by_text("8 runs: β 0.25, 0.5, 1, 16 × latent_dim 2, 16").first.wait_for()
