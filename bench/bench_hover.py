"""Hover-to-decode in a real browser (Chromium through Playwright), decoded in the page (ui/decoder):

  move    300 pointer moves across the map      -> the canvas holds the new decoding (p50 / p95)
  frames  websocket frames the page sends during those moves (target 0)
  switch  another model chosen in the select box -> its first in-page decoding (target <= 500 ms)
  bytes   the weights sent for each model (target <= 1.5 MB for 784-400-2)

for untrained 784-400-2 and 784-400-16 MLP decoders (bench/hover_app.py), then the same moves on the
app's own Latent space page with its default pretrained model. Times are taken inside the page from
the pointer event's timeStamp to the canvas being written ("drawn") and to the next animation frame
("frame"), and the decoder's own cost per move (decode + draw). Targets: p95 <= 16 ms (60 frames per second). The last line is one JSON object.

    python bench/bench_hover.py [--moves 300]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from browser_support import app_server, browser_page, pick_run, wait_idle  # noqa: E402
from vae_core.zoo import load_manifest  # noqa: E402

def probe(element: str, heard_on: str = "window") -> str:
    """In-page probe: each move's input timeStamp (heard on `heard_on`, as pointerrawupdate where the
    browser has it, as it arrives, and as pointermove, at the next frame: the same input, the same
    timeStamp); each time the view writes the `element`'s data-drawn attribute, the delay from the last
    move to the write and to the next animation frame callback (the frame that paints it), and the view's
    own cost (data-cost). In window.__probe."""
    return """() => {
  const canvas = %s;
  const p = window.__probe = {move: null, drawn: [], frame: [], cost: []};
  for (const type of ['pointerrawupdate', 'pointermove'])
    %s.addEventListener(type, e => { p.move = e.timeStamp; }, {capture: true});
  new MutationObserver(() => {
    if (p.move === null) return;
    const t0 = p.move; p.move = null;
    p.drawn.push(parseFloat(canvas.dataset.drawn) - t0);
    p.cost.push(parseFloat(canvas.dataset.cost));
    requestAnimationFrame(() => p.frame.push(performance.now() - t0));
  }).observe(canvas, {attributes: true, attributeFilter: ['data-drawn']});
}""" % (element, heard_on)


CANVAS = "[...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.picture')).find(Boolean)"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, round(p * (len(xs) - 1)))], 2) if xs else float("nan")


def hover(page, frames: list, moves: int) -> dict:
    """`moves` pointer moves on a zig-zag over the plot area of the first Plotly chart."""
    gd = page.locator(".js-plotly-plot").first
    box = gd.evaluate("gd => { const L = gd._fullLayout, r = gd.getBoundingClientRect(); "
                      "return [r.left + L.xaxis._offset, r.top + L.yaxis._offset, L.xaxis._length, L.yaxis._length]; }")
    x0, y0, w, h = box
    page.mouse.move(x0 + 5, y0 + 5)
    page.wait_for_timeout(300)
    page.evaluate(probe(CANVAS))
    sent = len(frames)
    for i in range(moves):
        u = (i % 50) / 49
        page.mouse.move(x0 + w * (0.1 + 0.8 * (u if (i // 50) % 2 == 0 else 1 - u)), y0 + h * (0.1 + 0.8 * i / moves))
    page.wait_for_timeout(300)
    got = page.evaluate("() => window.__probe")
    return {"moves": moves, "decoded": len(got["drawn"]), "frames_sent": len(frames) - sent,
            "drawn_ms": {"p50": pct(got["drawn"], 0.5), "p95": pct(got["drawn"], 0.95)},
            "next_frame_ms": {"p50": pct(got["frame"], 0.5), "p95": pct(got["frame"], 0.95)},
            "decode_draw_ms": {"p50": pct(got["cost"], 0.5), "p95": pct(got["cost"], 0.95)}}


def switch(page, name: str, key: str, box: str = "Model") -> float:
    """Milliseconds from the click on another model to the canvas showing its decoding."""
    if box != "Active model":  # the bench page's select box; the app's run list is one click
        page.get_by_role("combobox", name=box).click()
        page.wait_for_timeout(300)
    page.evaluate("""(key) => { const p = window.__switch = {start: null, end: null};
        document.addEventListener('mousedown', e => { p.start = e.timeStamp; }, {capture: true, once: true});
        const poll = () => { const c = %s; if (c && c.dataset.model === key) p.end = performance.now();
                             else requestAnimationFrame(poll); };
        requestAnimationFrame(poll); }""" % CANVAS, key)
    if box != "Active model":
        page.get_by_role("option", name=name).click()
    else:
        pick_run(page, name)
    page.wait_for_function("() => window.__switch.end !== null", timeout=30_000)
    ms = page.evaluate("() => window.__switch.end - window.__switch.start")
    wait_idle(page)
    return round(ms, 1)


def weight_bytes() -> dict:
    import torch

    from vae_core import Config, webdecoder
    from vae_core.models import Autoencoder

    out = {}
    for name, d in (("784-400-2", 2), ("784-400-16", 16)):
        torch.manual_seed(0)
        spec, data = webdecoder.export(Autoencoder(Config(hidden=(400,), latent_dim=d), (1, 28, 28), 10))
        out[name] = {"bytes": len(data), "dtype": spec["dtype"], "macs": webdecoder.macs(spec)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=300)
    args = ap.parse_args()
    results = {"load_average": os.getloadavg(), "weights": weight_bytes(), "models": {}}
    with app_server(script="bench/hover_app.py") as url, browser_page() as page:
        page.set_default_timeout(60_000)
        frames: list = []
        received: list = []
        page.on("websocket", lambda ws: (ws.on("framesent", lambda f: frames.append(f)),
                                         ws.on("framereceived", lambda f: received.append(len(f)))))
        page.goto(url)
        page.wait_for_function(f"() => {{ const c = {CANVAS}; return c && c.dataset.model === 'bench-784-400-2'; }}")
        wait_idle(page)
        results["models"]["784-400-2"] = hover(page, frames, args.moves)
        before = len(received)
        results["models"]["784-400-16"] = {"switch_ms": switch(page, "784-400-16", "bench-784-400-16")}
        results["models"]["784-400-16"]["largest_message_bytes"] = max(received[before:])
        results["models"]["784-400-16"].update(hover(page, frames, args.moves))
        results["models"]["784-400-2"]["switch_back_ms"] = switch(page, "784-400-2", "bench-784-400-2")
    with app_server() as url, browser_page() as page:  # the app itself, its default pretrained model
        page.set_default_timeout(60_000)
        frames = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(f)))
        page.goto(url + "/latent")  # the root is the first screen
        page.wait_for_function(f"() => {{ const c = {CANVAS}; return c && c.dataset.model; }}")
        wait_idle(page)
        page.wait_for_timeout(1000)
        default = next(e for e in load_manifest() if e.default)
        results["models"][f"app: {default.id} (10,000 points)"] = hover(page, frames, args.moves)
        ae, vae = (next(e for e in load_manifest() if e.id == i) for i in ("digits-ae-2d", "digits-vae-2d"))
        results["models"]["app: digits-ae-2d"] = {  # its first visit also encodes the map's points
            "switch_ms": switch(page, ae.title, ae.sha256, "Active model")}
        results["models"]["app: digits-vae-2d"] = {"switch_ms": switch(page, vae.title, vae.sha256, "Active model")}
    results["load_average_after"] = os.getloadavg()

    report(results, "decode", "switch ms: to the model (back to it, where that is all that ran); drawn: move -> canvas "
           "written; frame: -> the next animation frame; decode: the decoder's own time per move")


def report(results: dict, cost: str, legend: str) -> None:
    """The load, one row per model (moves, redraws, frames sent, p50 / p95 of drawn, frame and `cost`),
    the legend, and last the results as one JSON object."""
    print(f"load average {results['load_average'][0]:.2f} (after: {results['load_average_after'][0]:.2f}) on "
          f"{os.cpu_count()} cores")
    print(f"{'model':22s} {'moves':>5s} {'drawn':>5s} {'frames':>6s} {'drawn p50/p95 ms':>17s} {'frame p50/p95 ms':>17s} "
          f"{cost + ' p50/p95 ms':>17s} {'switch ms':>9s}")
    for name, r in results["models"].items():
        sw = r.get("switch_ms", r.get("switch_back_ms", ""))
        if "moves" not in r:
            print(f"{name:22s} {'':85s} {sw:>9}")
            continue
        print(f"{name:22s} {r['moves']:5d} {r['decoded']:5d} {r['frames_sent']:6d} "
              f"{r['drawn_ms']['p50']:8.2f}/{r['drawn_ms']['p95']:<8.2f} {r['next_frame_ms']['p50']:8.2f}/"
              f"{r['next_frame_ms']['p95']:<8.2f} {r['decode_draw_ms']['p50']:8.2f}/{r['decode_draw_ms']['p95']:<8.2f} {sw:>9}")
    print(legend)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
