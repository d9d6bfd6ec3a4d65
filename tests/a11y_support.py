"""axe-core in the browser, as the accessibility tests and bench/accessibility.py run it: the copy inside
the `axe-playwright-python` package (nothing fetched), WCAG 2.1 A and AA rules only."""
from __future__ import annotations

from browser_support import wait_drawn, wait_idle

MODES = ("default", "present")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

# the page is drawn: Streamlit's placeholders gone and every Plotly chart has its SVG
DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]')
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


def open_page(page, url: str, name: str, mode: str = "default", query: str = "") -> None:
    """Open page `name` (ui.sitemap) in `mode` and wait until it is drawn."""
    q = "&".join(x for x in ("present=1" if mode == "present" else "", query) if x)
    page.goto(f"{url}/{'' if name == 'home' else name}{'?' + q if q else ''}")
    page.locator("h1").first.wait_for()
    # app.py draws the sidebar's presentation switch after the page's script: the whole page has run
    page.get_by_text("Presentation mode").first.wait_for(state="attached", timeout=120_000)
    wait_idle(page, 120_000)
    page.wait_for_function(DRAWN, timeout=120_000)
    wait_drawn(page, 120_000)


def audit(page, context=None) -> list[dict]:
    """axe's violations of the WCAG 2.1 A / AA rules on the page as it is now: [{id, impact, help,
    nodes: [{target, html, summary}]}]."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    result = Axe().run(page, context=context, options=options).response
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [{"target": n["target"], "html": n["html"][:200], "summary": n.get("failureSummary", "")}
                       for n in v["nodes"]]}
            for v in result["violations"]]


def blocking(violations: list[dict]) -> list[dict]:
    """The serious and critical ones."""
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    """Each violation's rule id, impact and targets, one a line (a failing test's message)."""
    return "\n".join(f"  {v['id']} ({v['impact']}): " + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:8])
                     + (f" … {len(v['nodes'])} in all" if len(v["nodes"]) > 8 else "") for v in violations)
