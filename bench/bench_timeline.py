"""The timeline (vae_core.timeline, ui/timeline): what it costs to keep and to scrub.

  training  a 2-D VAE of mnist10k with 2,000 validation digits (the largest subset a timeline keeps),
            trained twice from the same seed, with snapshots and without, epoch by epoch interleaved
            (A B B A ...) in this one process: wall time of each, the ratio (target: <= 1.05), the
            milliseconds of one snapshot and of one step; and the checkpoint a worker sends every epoch,
            to_bytes with and without its timeline
  bytes     that run's timeline (tensors), its checkpoint with and without it, what the page is sent;
            and each shipped model's (limit: 5 MB of tensors a run)
  scrub     that run's timeline in Chromium (bench/timeline_app.py): 200 moves of the scrubber (arrow
            keys, then pointer drags) -> the 2,000-point map redrawn, p50 / p95 from the input event's
            timeStamp to the canvas written and to the next animation frame, and the websocket frames
            sent meanwhile (targets: p95 <= 16 ms, 0 frames)

    python bench/bench_timeline.py [--epochs 60] [--moves 200]

The last line is one JSON object. Benchmarks on a shared machine are noisy: the load average is printed
with the figures, and the training ratio is measured within one run, interleaved.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vae_core import Config, Trainer, checkpoint  # noqa: E402
from vae_core.data import load_split  # noqa: E402
from vae_core.timeline import web  # noqa: E402
from vae_core.zoo import load_manifest  # noqa: E402

from bench_hover import pct  # noqa: E402  (percentiles, as the hover bench takes them)

PROBE = """(kind) => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('canvas.map'));
  const canvas = host.shadowRoot.querySelector('canvas.map');
  const p = window.__scrub = {at: null, drawn: [], frame: [], cost: []};
  window.addEventListener(kind, e => { p.at = e.timeStamp; }, {capture: true});
  new MutationObserver(() => {
    if (p.at === null) return;
    const t0 = p.at; p.at = null;
    p.drawn.push(parseFloat(canvas.dataset.drawn) - t0);
    p.cost.push(parseFloat(canvas.dataset.cost));
    requestAnimationFrame(() => p.frame.push(performance.now() - t0));
  }).observe(canvas, {attributes: true, attributeFilter: ['data-drawn']});
}"""


def figures(page, moves: int, frames_sent: int) -> dict:
    """What the probe saw: p50 / p95 of event -> canvas written, -> next frame, and the draw's own cost."""
    got = page.evaluate("() => window.__scrub")
    return {"moves": moves, "redrawn": len(got["drawn"]), "frames_sent": frames_sent,
            **{f"{name}_ms": {"p50": pct(got[key], 0.5), "p95": pct(got[key], 0.95)}
               for name, key in (("drawn", "drawn"), ("next_frame", "frame"), ("draw_cost", "cost"))}}


def epochs_of(trainer: Trainer):
    """The trainer's run, one epoch at a time: each next() trains an epoch and returns its seconds."""
    steps = trainer.run()
    while True:
        t0 = time.perf_counter()
        for report in steps:
            if report.val is not None:
                break
        else:
            return
        yield time.perf_counter() - t0


def training(epochs: int) -> tuple[dict, Trainer]:
    torch.set_num_threads(1)
    cfg = Config(dataset="mnist10k", model="vae", hidden=(256,), latent_dim=2, epochs=epochs, val_fraction=0.2, seed=0)
    train, val = load_split(cfg)
    on, off = Trainer(cfg, train, val, "cpu"), Trainer(cfg, train, val, "cpu", snapshots=False)
    runs, times = {"on": epochs_of(on), "off": epochs_of(off)}, {"on": [], "off": []}
    for e in range(epochs):
        for which in (("on", "off") if e % 2 == 0 else ("off", "on")):  # A B B A: drift cancels
            times[which].append(next(runs[which]))
    t_on, t_off = sum(times["on"]), sum(times["off"])
    # one snapshot, and one step, alone
    snap = []
    for _ in range(7):
        t0 = time.perf_counter()
        on.recorder.take(on.timeline.copy(), on.model, on.step, on.epoch, 1.0, {})
        snap.append(time.perf_counter() - t0)
    step_s = t_off / off.step
    ckpt = on.checkpoint()
    ser = {"with": [], "without": []}
    for _ in range(5):
        for name, c in (("with", ckpt), ("without", replace(ckpt, timeline=None))):
            t0 = time.perf_counter()
            checkpoint.to_bytes(c)
            ser[name].append(time.perf_counter() - t0)
    out = {"epochs": epochs, "steps": on.step, "snapshots": len(on.timeline), "subset": on.timeline.n,
           "with_snapshots_s": round(t_on, 2), "without_s": round(t_off, 2), "ratio": round(t_on / t_off, 4),
           "epoch_pairs_ratio_median": round(statistics.median(a / b for a, b in zip(times["on"], times["off"])), 4),
           "one_snapshot_ms": round(1000 * statistics.median(snap), 2), "one_step_ms": round(1000 * step_s, 3),
           "expected_ratio": round(1 + len(on.timeline) * statistics.median(snap) / t_off, 4),
           "to_bytes_ms": {k: round(1000 * statistics.median(v), 2) for k, v in ser.items()},
           "same_weights": all(torch.equal(v, off.model.state_dict()[k]) for k, v in on.model.state_dict().items())}
    return out, on


def sizes(trainer: Trainer) -> dict:
    ckpt = trainer.checkpoint().without_optimizer()
    spec, data = web.export(ckpt.timeline, ckpt.history)
    bench = {"timeline_bytes": ckpt.timeline.nbytes(), "checkpoint_bytes": len(checkpoint.to_bytes(ckpt)),
             "checkpoint_without_timeline_bytes": len(checkpoint.to_bytes(replace(ckpt, timeline=None))),
             "page_bytes": len(data)}
    shipped = {}
    for e in load_manifest():
        c = checkpoint.load(e.path)
        shipped[e.id] = {"snapshots": len(c.timeline) if c.timeline else 0,
                         "timeline_bytes": c.timeline.nbytes() if c.timeline else 0, "file_bytes": e.path.stat().st_size}
    return {"bench_run": bench, "shipped": shipped}


def scrub(path: Path, moves: int) -> dict:
    from browser_support import app_server, browser_page, wait_idle

    os.environ["BENCH_TIMELINE"] = str(path)
    out = {}
    with app_server(script="bench/timeline_app.py") as url, browser_page(width=1280, height=900) as page:
        page.set_default_timeout(60_000)
        frames: list = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda f: frames.append(f)))
        page.goto(url)
        slider = page.get_by_label("timeline of bench run")
        slider.wait_for()
        wait_idle(page)
        page.wait_for_timeout(1500)  # the page's one report of its map's width, and its rerun
        n = int(slider.get_attribute("aria-valuemax")) + 1
        slider.focus()
        page.keyboard.press("Home")
        page.evaluate(PROBE, "keydown")
        sent = len(frames)
        for i in range(moves):  # right to the end, then back
            page.keyboard.press("ArrowRight" if (i // (n - 1)) % 2 == 0 else "ArrowLeft")
        page.wait_for_timeout(300)
        out["keys"] = figures(page, moves, len(frames) - sent)
        box = slider.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 1, y)
        page.mouse.down()
        page.evaluate(PROBE, "pointermove")
        sent = len(frames)
        for i in range(moves):  # a drag to and fro, each move onto another snapshot
            u = (i % (n - 1)) / (n - 1)
            page.mouse.move(box["x"] + box["width"] * (u if (i // (n - 1)) % 2 == 0 else 1 - u), y)
        page.mouse.up()
        page.wait_for_timeout(300)
        out["drag"] = figures(page, moves, len(frames) - sent)
        points = page.locator("canvas.map").first.evaluate("c => c.width * c.height")
        out["map_pixels"], out["points"] = points, 2000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60, help="epochs of the bench run (the shipped MNIST VAE's 60)")
    ap.add_argument("--moves", type=int, default=200)
    args = ap.parse_args()
    results = {"load_average_before": os.getloadavg()}
    results["training"], trainer = training(args.epochs)
    print(json.dumps(results["training"]), flush=True)
    results["bytes"] = sizes(trainer)
    print(json.dumps(results["bytes"]["bench_run"]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoint.save(trainer.checkpoint().without_optimizer(), Path(tmp) / "bench.safetensors")
        results["scrub"] = scrub(path, args.moves)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
