"""axe-core (WCAG 2.1 A and AA rules) on every page, in the default and presentation modes, on a freshly
started server: one line per page and mode with the count of violations by impact and the rule ids.

    python bench/accessibility.py                      # every page, both modes, 1280x720
    python bench/accessibility.py --pages latent,train --modes present --width 390 --height 844 --phone
    python bench/accessibility.py --json out.json      # every violation's rule, impact and targets

axe-core is the copy inside the `axe-playwright-python` package (nothing is fetched). The browser tests
(tests/test_browser_a11y.py) assert what this prints: 0 serious or critical on every page.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from a11y_support import MODES, audit, open_page  # noqa: E402
from browser_support import CHROMIUM, CHROMIUM_ARGS, app_server  # noqa: E402
from ui.sitemap import PAGES  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", default=",".join(s.name for s in PAGES), help="comma-separated page names")
    p.add_argument("--modes", default=",".join(MODES), help="default,present")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--phone", action="store_true", help="a touch phone (is_mobile, has_touch)")
    p.add_argument("--json", default="", help="write every violation here")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    found = {}
    with app_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for mode in args.modes.split(","):
            context = browser.new_context(viewport={"width": args.width, "height": args.height},
                                          is_mobile=args.phone, has_touch=args.phone)
            page = context.new_page()
            page.set_default_timeout(120_000)
            for name in args.pages.split(","):
                open_page(page, url, name, mode)
                violations = audit(page)
                found[f"{name}/{mode}"] = violations
                by = {i: sum(v["impact"] == i for v in violations) for i in ("critical", "serious", "moderate", "minor")}
                rules = ", ".join(f"{v['id']}({v['impact'][0]}{len(v['nodes'])})" for v in violations)
                print(f"{name:16} {mode:8} critical {by['critical']} serious {by['serious']} moderate "
                      f"{by['moderate']} minor {by['minor']}  {rules}", flush=True)
            context.close()
        browser.close()
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
