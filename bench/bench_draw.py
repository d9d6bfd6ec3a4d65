"""Drawing on the pad in a real browser (Chromium through Playwright), encoded in the page (ui/decoder/draw.js):

  move    300 pointer moves of one stroke on the pad   -> the drawing prepared, encoded, decoded, its point
                                                          and ellipse moved on the map (p50 / p95)
  frames  websocket frames the page sends during the stroke (target 0)

for untrained 784-400-2 and 784-400-16 MLP models (bench/draw_app.py), then the same stroke on the app's
own Latent space page (Draw beside the map) with its pretrained MNIST VAE (2-D) and beta-VAE (16-D).
Times are taken inside the page from the input's timeStamp (its pointerrawupdate, which the pad draws
on where the browser has it, or its pointermove) to the pad's data-drawn being
written ("drawn": prepare + encode + decode + redraw of the pictures, numbers and the map's overlay)
and to the next animation frame ("frame"), and the page's own cost per move. Targets: p95 <= 16 ms,
0 frames. The last line is one JSON object.

    python bench/bench_draw.py [--moves 300]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_hover import pct, probe, report  # noqa: E402
from browser_support import app_server, browser_page, pick_run, wait_idle  # noqa: E402
from vae_core.zoo import load_manifest  # noqa: E402

PAD = "[...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.drawpad')).find(Boolean)"

def ready(page, model: str | None = None) -> None:
    """Until the pad has its weights (of `model`'s key, where given)."""
    page.wait_for_function(f"(m) => {{ const p = {PAD}; return p && p.dataset.ready === 'true' && "
                           "(!m || window.__latentExplorerModels.has('enc:' + m)); }", arg=model)


def stroke(page, frames: list, moves: int) -> dict:
    """One stroke of `moves` pointer moves: a zig-zag over the middle of the pad, button held."""
    page.evaluate(f"() => {PAD}.scrollIntoView({{block: 'center'}})")
    page.wait_for_timeout(300)
    page.get_by_role("button", name="clear the pad").click()
    page.wait_for_timeout(500)
    box = page.locator("canvas.drawpad").first.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.evaluate(probe(PAD, PAD))
    page.mouse.move(x0 + w * 0.2, y0 + h * 0.2)
    sent = len(frames)
    page.mouse.down()
    for i in range(moves):
        u = (i % 50) / 49
        page.mouse.move(x0 + w * (0.2 + 0.6 * (u if (i // 50) % 2 == 0 else 1 - u)), y0 + h * (0.2 + 0.6 * i / moves))
    page.wait_for_timeout(300)
    during = len(frames) - sent
    page.mouse.up()
    got = page.evaluate("() => window.__probe")
    wait_idle(page)
    return {"moves": moves, "decoded": len(got["drawn"]), "frames_sent": during,
            "drawn_ms": {"p50": pct(got["drawn"], 0.5), "p95": pct(got["drawn"], 0.95)},
            "next_frame_ms": {"p50": pct(got["frame"], 0.5), "p95": pct(got["frame"], 0.95)},
            "decode_draw_ms": {"p50": pct(got["cost"], 0.5), "p95": pct(got["cost"], 0.95)}}


def counted(page) -> list:
    frames: list = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(f)))
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=300)
    args = ap.parse_args()
    results = {"load_average": os.getloadavg(), "models": {}}
    with app_server(script="bench/draw_app.py") as url, browser_page() as page:
        page.set_default_timeout(60_000)
        frames = counted(page)
        page.goto(url)
        ready(page, "bench-784-400-2")
        wait_idle(page)
        results["models"]["784-400-2"] = stroke(page, frames, args.moves)
        page.get_by_role("combobox", name="Model").click()
        page.get_by_role("option", name="784-400-16").click()
        ready(page, "bench-784-400-16")
        wait_idle(page)
        results["models"]["784-400-16"] = stroke(page, frames, args.moves)
    entries = {e.id: e for e in load_manifest()}
    with app_server() as url, browser_page() as page:  # the app itself: Draw beside the Latent space map
        page.set_default_timeout(60_000)
        frames = counted(page)
        page.goto(url + "/latent")
        page.get_by_role("heading", name="Latent space").first.wait_for()
        wait_idle(page)
        page.get_by_role("radiogroup", name="Beside the map").get_by_text("Draw", exact=True).click()
        for name in ("mnist-vae-2d", "mnist-betavae-16d"):
            entry = entries[name]
            pick_run(page, entry.title)
            wait_idle(page)
            ready(page, entry.sha256)
            page.wait_for_timeout(1000)
            results["models"][f"app: {name}"] = stroke(page, frames, args.moves)
    results["load_average_after"] = os.getloadavg()

    report(results, "page", "drawn: move -> the pad's point, pictures and map overlay redrawn; frame: -> the next "
           "animation frame; page: the page's own time per move (prepare + encode + decode + draw)")


if __name__ == "__main__":
    main()
