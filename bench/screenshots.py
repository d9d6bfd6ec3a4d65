"""Screenshots of every page, as a person sees them: at a size (1280x720: a projector; 390x844: a
phone), in the default or presentation mode, on a freshly started server.

    python bench/screenshots.py --out /tmp/shots                       # 1280x720, default mode
    python bench/screenshots.py --out /tmp/shots --present             # presentation mode
    python bench/screenshots.py --out /tmp/shots --width 390 --height 844 --phone
    python bench/screenshots.py --out /tmp/shots --pages latent,train --model digits-vae-2d

One PNG per page (the first screen only, not the whole page: what is above the fold is the point),
named <page>[-present][-<width>].png; prints each file and how long its page took to settle.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM, CHROMIUM_ARGS, app_server, wait_idle  # noqa: E402

try:  # the pages as the app declares them
    from ui.sitemap import PAGES
    NAMES = [p.name for p in PAGES]
except ImportError:  # an older checkout, before ui.sitemap: its pages by address
    NAMES = ["home", "latent", "manifold", "interpolate", "train", "compare", "rate_distortion", "diagnostics",
             "kl_direction", "elbo", "reparam", "gaussian_kl", "sparsity", "denoising"]


# the page is drawn: Streamlit's placeholders gone and every Plotly chart has its SVG
DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]')
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--present", action="store_true", help="presentation mode (present=1)")
    p.add_argument("--phone", action="store_true", help="a touch phone (is_mobile, has_touch)")
    p.add_argument("--pages", default=",".join(NAMES), help="comma-separated page names")
    p.add_argument("--model", default="", help="a model for every page's link (default: the app's default)")
    p.add_argument("--extra", default="", help="more link parameters, e.g. hide=explain")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to wait after the page is idle (charts draw)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    query = "&".join(q for q in (f"model={args.model}" if args.model else "", "present=1" if args.present else "",
                                 args.extra) if q)
    with app_server() as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": args.width, "height": args.height},
                                      is_mobile=args.phone, has_touch=args.phone)
        page = context.new_page()
        page.set_default_timeout(120_000)
        for name in args.pages.split(","):
            t0 = time.monotonic()
            page.goto(f"{url}/{'' if name == 'home' else name}{'?' + query if query else ''}")
            page.locator("h1").first.wait_for()
            wait_idle(page, 120_000)
            page.wait_for_function(DRAWN, timeout=120_000)  # no skeleton left, every chart drawn
            time.sleep(args.settle)  # animations and pictures finish (a picture, not a test)
            suffix = ("-present" if args.present else "") + (f"-{args.width}" if args.width != 1280 else "")
            path = out / f"{name}{suffix}.png"
            page.screenshot(path=str(path))
            wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            print(f"{path}  {time.monotonic() - t0:.1f} s" + ("  WIDER THAN THE SCREEN" if wide else ""))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
