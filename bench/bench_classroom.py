"""A class on one server, in real browsers (Chromium through Playwright, async):

  open      10 sessions open the app at once on a warm server -> seconds until each shows its first
            page with its map (target: all 10 within 10 s)
  explore   8 sessions explore (map clicks, a slider on Interpolate, page switches) while 2 train,
            for --minutes -> end-to-end p50 / p95 per action, errors and blank pages (target 0),
            cross-session leaks (an explorer's run list showing a trainer's run; target 0)
  server    the server's own time per script run from its log (ui/timing.py) during `explore`:
            p50 / p95 (target p95 <= 300 ms) of every run, and of full runs and fragment reruns
            apart, and the CPU seconds the server, its workers and the browsers each took, to tell
            the server's share of the latency from the browsers'

The last line is one JSON object. Not a test: it takes minutes and loads every core.

    python bench/bench_classroom.py [--minutes 3] [--explorers 8] [--trainers 2] [--openers 10] [--split-cores]
    python bench/bench_classroom.py --protocol [--browsers 1] [--think 2]
    python bench/bench_classroom.py --protocol --deployment /tmp/lx [--kill-replica-after 60]

--url URL sends the class to a server already running (a load balancer in front of replicas);
--deployment STATE to a deployment of deploy/school.py (its URL, and each replica's log and processes
for the server figures, given per replica and together, and the memory per session); with
--kill-replica-after S its first replica is SIGKILLed S seconds into `explore`: its sessions
reconnect (bench/streamlit_session.py), and the figures say how many did and what their runs became.

--protocol drives the server as a class does, without a browser per student: every session speaks the
page's own websocket protocol (bench/streamlit_session.py: the same script runs, widget values and
page switches a browser sends), so the server has the machine to itself as it has in a classroom,
where each browser runs on its student's computer. `open` is then the server's share (until every
message of each first page has arrived); --browsers real Chromium sessions explore beside them and
give end-to-end figures. Each explorer pauses --think seconds (0.5x to 1.5x at random) between
actions, as a student looks at what came back; --think 0 is a stress test, not a class.

On this one machine the browsers take most of the CPU; in a class each runs on its student's own
computer. Chromium runs in a session of its own, and Linux's autogroup scheduler shares the CPU
evenly between sessions, so here the browsers get about half the cores and the server with its
training workers the other half (the workers below the pages: threads.WORKER_NICE). With
--split-cores the server and its workers get a core of their own and the browsers the rest, which
stands in for a class's server (its browsers elsewhere) at the price of slower browsers.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from browser_support import CHROMIUM, CHROMIUM_ARGS, NAV_LINKS, app_process  # noqa: E402
from streamlit_session import Session  # noqa: E402
from ui.sitemap import PAGES  # noqa: E402
from ui.timing import LINE  # noqa: E402

LOG_LINE = re.compile(LINE)
IDLE = ("() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, round(p * (len(xs) - 1)))], 1) if xs else float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes and of their children that ended (utime, stime, cutime, cstime)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])
        except (FileNotFoundError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes alive at the end spent since `before` (one that ended meanwhile is
    counted in its parent's, when its parent waited for it; otherwise not at all)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def descendants(pid: int) -> list[int]:
    kids = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (FileNotFoundError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def chromium_pids() -> list[int]:
    pids = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"chrom" in cmd.read_bytes().split(b"\0")[0]:
                pids.append(int(cmd.parent.name))
        except (FileNotFoundError, ValueError):
            pass
    return pids


class Tally:
    def __init__(self):
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.blank = 0
        self.leaks = 0
        self.reconnects = 0
        self.outcomes: dict[str, int] = {}  # what each trainer's run was at the end (its Stop, or why none)
        self.workspaces: list[str] = []     # the trainers' workspaces

    def add(self, action: str, ms: float) -> None:
        self.times.setdefault(action, []).append(ms)


async def idle(page, timeout: float = 60_000) -> None:
    await page.wait_for_timeout(150)  # let a rerun begin before waiting for its end
    await page.wait_for_function(IDLE, timeout=timeout)


async def check(page, tally: Tally, heading: str) -> None:
    if await page.locator('[data-testid="stException"]').count():
        tally.errors.append(f"exception on {heading}")
    if not await page.get_by_role("heading", name=heading).count():
        tally.blank += 1


async def new_page(browser):
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(90_000)
    return page


async def opener(browser, url: str, problems: list[str] | None = None) -> float:
    """Seconds until a new session shows the Latent space page with its map; inf (and a line in
    `problems`, with what the page said, and a screenshot under artifacts/) when it never does."""
    page = await new_page(browser)
    t = time.perf_counter()
    try:
        await page.goto(url + "/latent")
        await page.get_by_role("heading", name="Latent space").first.wait_for()
        await page.locator(".js-plotly-plot").first.wait_for()
        took = time.perf_counter() - t
    except Exception as e:  # noqa: BLE001 - counted and described, the benchmark goes on
        took = float("inf")
        if problems is not None:
            shot = ROOT / "artifacts" / f"bench-open-{len(problems)}.png"
            shot.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(shot))
            said = (await page.locator("body").inner_text())[:300].replace("\n", " | ")
            problems.append(f"{type(e).__name__} after {time.perf_counter() - t:.0f} s; page: {said!r}; {shot.name}")
    await page.context.close()
    return took


async def timed(tally: Tally, action: str, coro) -> None:
    t = time.perf_counter()
    try:
        await coro
        tally.add(action, (time.perf_counter() - t) * 1e3)
    except Exception as e:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
        tally.errors.append(f"{action}: {type(e).__name__}: {str(e)[:120]}")


async def goto_page(page, title: str) -> None:
    """As tests/browser_support.goto_page: the top navigation's menu of the page's group first."""
    link = page.locator(NAV_LINKS).filter(has_text=re.compile(re.escape(title) + r"\s*$")).first
    if not await link.is_visible() and await page.get_by_test_id("stTopNavSection").count():
        group = next(p.group for p in PAGES if p.title == title)
        await page.get_by_test_id("stTopNavSection").filter(has_text=group).first.click()
    await link.click()
    await page.get_by_role("heading", name=title).first.wait_for()
    await idle(page)


async def click_map(page, rng_step: int) -> None:
    gd = page.locator(".js-plotly-plot").first
    box = await gd.bounding_box()
    x = box["x"] + box["width"] * (0.3 + 0.4 * ((rng_step * 37) % 10) / 10)
    y = box["y"] + box["height"] * (0.3 + 0.4 * ((rng_step * 53) % 10) / 10)
    await page.mouse.click(x, y)
    await idle(page)


async def look(think: float) -> None:
    """A student looking at what came back before the next action: 0.5x to 1.5x `think` seconds."""
    await asyncio.sleep(think * random.uniform(0.5, 1.5))


async def explorer(browser, url: str, tally: Tally, until: float, think: float = 0.0) -> None:
    page = await new_page(browser)
    await page.goto(url + "/latent")
    await page.get_by_role("heading", name="Latent space").first.wait_for()
    await idle(page)
    step = 0
    while time.monotonic() < until:
        step += 1
        await timed(tally, "map click", click_map(page, step))
        await check(page, tally, "Latent space")
        await look(think)
        await timed(tally, "page switch", goto_page(page, "Interpolate"))
        slider = page.get_by_role("slider").first

        async def move() -> None:
            await slider.focus()
            await page.keyboard.press("ArrowRight")
            await idle(page)

        await look(think)
        await timed(tally, "slider", move())
        await check(page, tally, "Interpolate")
        await look(think)
        await timed(tally, "page switch", goto_page(page, "Latent space"))
        await look(think)
        sidebar = await page.locator('[data-testid="stSidebar"]').inner_text()
        tally.leaks += "#1 " in sidebar  # a run trained in another session's workspace
    await page.context.close()


async def trainer(browser, url: str, tally: Tally, until: float) -> None:
    page = await new_page(browser)
    try:
        await train(page, url, tally, until)
    except Exception as e:  # noqa: BLE001 - a browser too starved to train is counted, the others go on
        tally.errors.append(f"trainer: {type(e).__name__}: {str(e)[:120]}")
    await page.context.close()


async def train(page, url: str, tally: Tally, until: float) -> None:
    await page.goto(url + "/train")
    await page.get_by_role("heading", name="Train").first.wait_for()
    await idle(page)
    field = page.get_by_role("textbox", name=re.compile("^epochs"))
    await field.fill("5000")
    await field.press("Enter")
    await idle(page)
    await page.get_by_role("button", name="Start", exact=True).click()
    await page.get_by_text(re.compile(r"training · step [1-9]")).first.wait_for(timeout=120_000)
    while time.monotonic() < until:
        await page.wait_for_timeout(2000)
        await check(page, tally, "Train")
        if not await page.get_by_text(re.compile(r"training · step")).count():
            tally.blank += 1
    await page.get_by_role("button", name="Stop", exact=True).click(timeout=30_000)


async def protocol_opener(url: str, problems: list[str]) -> float:
    """Seconds until a new session's first page (Latent space, with its map) has fully arrived."""
    try:
        async with Session(url) as s:
            took = await s.open("latent")
            if s.errors or not any(w.kind == "plotly_chart" for w in s.widgets):
                problems.append(f"first page: errors {s.errors}, {s.elements} elements")
            return took
    except Exception as e:  # noqa: BLE001 - counted and described, the benchmark goes on
        problems.append(f"{type(e).__name__}: {str(e)[:120]}")
        return float("inf")


async def protocol_explorer(url: str, tally: Tally, until: float, think: float, seed: int) -> None:
    """Map clicks, the Interpolate and Manifold pages and back, a pause to look after each."""
    rng = random.Random(seed)
    async with Session(url) as s:

        async def act(action: str, step) -> bool:
            """-> False where the connection dropped and was made again meanwhile (the action is
            timed as "reconnect": what the student waited, the page coming back)."""
            before = s.reconnects
            await timed(tally, action, step)
            if s.reconnects != before:
                tally.reconnects += s.reconnects - before
                tally.times["reconnect"] = tally.times.get("reconnect", []) + [tally.times[action].pop()]
            tally.errors += [f"{action}: {e}" for e in s.errors]  # what the page showed, too
            tally.leaks += any(m.lstrip("\\").startswith("#") for m in s.models)  # a run trained in another
            # workspace (the radio's options are markdown: "\\#1 VAE · ...")
            return s.reconnects == before

        await s.open("latent")
        while time.monotonic() < until:
            index = rng.randrange(10_000)
            if await act("map click", s.select("latent.map", index)) and not any(f"#{index}**" in t for t in s.text):
                tally.errors.append(f"map click: the panel does not show example #{index}")
            for title in ("Interpolate", "Manifold", "Latent space"):
                await look(think)
                await act("page switch", s.switch(title))
            await look(think)


async def protocol_trainer(url: str, tally: Tally, until: float) -> None:
    """The Train page: 5,000 epochs, Start, the live view's timer re-running its fragment, Stop (where
    the page has none at the end, e.g. its replica died and its run was interrupted, what it says)."""
    try:
        async with Session(url) as s:
            await s.open("train")
            await s.set_text("epochs", "5000")
            await s.press("Start")
            if not any(m.lstrip("\\").startswith("#") for m in s.models):  # what the explorers' leak check looks for
                tally.errors.append("trainer: its own run is not in its list: the leak check could not see a leak")
            tally.workspaces.append(dict(q.split("=", 1) for q in s.query.split("&") if "=" in q).get("ws", ""))
            while time.monotonic() < until:
                if s.auto_rerun is None:
                    raise RuntimeError("the Train page set no timer after Start")
                await asyncio.sleep(s.auto_rerun[0])
                await s.tick()
                tally.errors += [f"train: {e}" for e in s.errors]
            tally.reconnects += s.reconnects
            try:
                await s.press("Stop")
                outcome = "stopped by its Stop"
            except LookupError:
                said = " ".join(s.text)
                outcome = next((f"no Stop: {w}" for w in ("interrupted", "queued", "another server") if w in said),
                               f"no Stop: {said[:60]}")
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
    except Exception as e:  # noqa: BLE001
        tally.errors.append(f"trainer: {type(e).__name__}: {str(e)[:120]}")


def script_runs(log: Path, start: int, column: int = 3, kind: str | None = None) -> list[float]:
    """The server's time (ms) of each script run logged after byte `start` of its log: wall time
    (column 3) or the script thread's CPU time (column 4); `kind`: only the runs a fragment set off
    ("fragment"), or only the full runs ("full")."""
    with open(log, "rb") as f:
        f.seek(start)
        found = LOG_LINE.finditer(f.read().decode(errors="replace"))
        return [float(m.group(column)) for m in found
                if kind is None or (kind == "fragment") == m.group(2).startswith("fragment")]


class Servers:
    """What the class talks to: `url`, and for the server-side figures each app process's log and PID
    (one started here, or a deployment's replicas) and the other processes that train (Ray nodes)."""

    def __init__(self, url: str, logs: list[Path], replicas: list[int], others: list[int] = (), deployment=None):
        self.url, self.logs, self.replicas, self.others, self.deployment = url, logs, replicas, list(others), deployment

    def pids(self) -> list[int]:
        """The replicas, their training workers, the Ray nodes and their workers, now."""
        return [p for root in (*self.replicas, *self.others) for p in descendants(root)]

    def rss_mb(self) -> float:
        """Resident memory of the app processes themselves (not their training workers)."""
        return sum(rss_mb(pid) for pid in self.replicas)

    def workers_rss_mb(self) -> float:
        return sum(rss_mb(pid) for pid in self.pids() if pid not in self.replicas)

    def marks(self) -> list[int]:
        return [log.stat().st_size for log in self.logs]

    def runs(self, marks: list[int], column: int = 3, kind: str | None = None) -> list[list[float]]:
        """Each replica's script runs since `marks` (script_runs)."""
        return [script_runs(log, m, column, kind) for log, m in zip(self.logs, marks)]


def rss_mb(pid: int) -> float:
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return 0.0


@contextlib.contextmanager
def servers(args):
    """A server started here (app_process), or the one --url / --deployment names."""
    if args.deployment:
        sys.path.insert(0, str(ROOT / "deploy"))
        from school import Deployment

        dep = Deployment(args.deployment)
        yield Servers(args.url or dep.url, dep.replica_logs(), [r.pid for r in dep.replicas()],
                      [n.pid for n in dep.ray_nodes()], dep)
    elif args.url:
        yield Servers(args.url, [], [])
    else:
        with app_process() as (url, server):
            yield Servers(url, [server.log_path], [server.pid])  # the server's own log (browser_support.app_process)


def flat(per_replica: list[list[float]]) -> list[float]:
    return [x for runs in per_replica for x in runs]


async def kill_replica_later(target: Servers, after_s: float, killed: list) -> None:
    await asyncio.sleep(after_s)
    target.deployment.kill_replica(0)
    killed.append(round(after_s, 1))


async def main_async(args) -> dict:
    from playwright.async_api import async_playwright

    everything = os.sched_getaffinity(0)
    if args.split_cores:  # the server (and the training workers it spawns) inherit core 0 ...
        os.sched_setaffinity(0, {min(everything)})
    with servers(args) as target:
        url = target.url
        if args.split_cores:  # ... and Playwright's Chromium the others
            os.sched_setaffinity(0, everything - {min(everything)})
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for _ in range(max(1, len(target.replicas))):  # warm: each replica's shared models and caches
                await protocol_opener(url, []) if args.protocol else await opener(browser, url)
            one_browser = await opener(browser, url) if args.protocol else None  # one tab, end to end
            marks, server_cpu, rss0 = target.marks(), cpu_seconds(target.pids()), target.rss_mb()
            t = time.perf_counter()
            open_problems: list[str] = []
            opened = await asyncio.gather(*(protocol_opener(url, open_problems) if args.protocol
                                            else opener(browser, url, open_problems) for _ in range(args.openers)))
            open_all = time.perf_counter() - t
            open_runs = flat(target.runs(marks))
            open_server_cpu = cpu_seconds(target.pids()) - server_cpu

            tally, seen = Tally(), Tally()  # the sessions; what the real browsers saw, end to end
            marks, rss_open = target.marks(), target.rss_mb()
            cpu0 = (cpu_by_pid(target.pids()), cpu_by_pid(chromium_pids()))
            wall = time.perf_counter()
            until = time.monotonic() + 60 * args.minutes
            memory: dict = {}

            async def sample_memory() -> None:  # the class's memory once all its sessions are open
                await asyncio.sleep(min(60.0, 30 * args.minutes))
                memory.update(app=target.rss_mb(), workers=target.workers_rss_mb())

            killed: list = []
            faults = ([kill_replica_later(target, args.kill_replica_after, killed)]
                      if args.kill_replica_after is not None and target.deployment else [])
            if args.protocol:
                await asyncio.gather(*(protocol_trainer(url, tally, until) for _ in range(args.trainers)),
                                     *(protocol_explorer(url, tally, until, args.think, k) for k in range(args.explorers)),
                                     *(explorer(browser, url, seen, until, args.think) for _ in range(args.browsers)),
                                     sample_memory(), *faults)
            else:
                await asyncio.gather(*(trainer(browser, url, tally, until) for _ in range(args.trainers)),
                                     *(explorer(browser, url, tally, until, args.think) for _ in range(args.explorers)),
                                     sample_memory(), *faults)
            wall = time.perf_counter() - wall
            cpu1 = (cpu_by_pid(target.pids()), cpu_by_pid(chromium_pids()))
            await browser.close()
        per_replica = target.runs(marks)
        runs, runs_cpu = flat(per_replica), flat(target.runs(marks, column=4))
        full, fragments = flat(target.runs(marks, kind="full")), flat(target.runs(marks, kind="fragment"))
        kept = kept_runs(target, tally.workspaces) if target.deployment else None
    actions = lambda t: {a: {"n": len(v), "p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95)} for a, v in t.times.items()}  # noqa: E731
    sessions = args.explorers + args.trainers + (args.browsers if args.protocol else 0)
    return {
        "sessions": ("protocol (no browser per student)" + f", {args.browsers} real browser(s) beside them"
                     if args.protocol else "real browsers"),
        "open": {"sessions": args.openers, "all_shown_s": round(open_all, 1),
                 "each_s": [round(x, 1) for x in sorted(opened)], "target_s": 10, "problems": open_problems,
                 "server_script_runs": len(open_runs), "server_run_p50_ms": pct(open_runs, 0.5),
                 "server_run_max_ms": pct(open_runs, 1.0), "server_cpu_s": round(open_server_cpu, 2),
                 **({"one_browser_alone_s": round(one_browser, 1)} if one_browser is not None else {})},
        "explore": {"minutes": args.minutes, "explorers": args.explorers, "trainers": args.trainers,
                    "think_s": args.think, **actions(tally),
                    "errors": len(tally.errors) + len(seen.errors), "first_errors": (tally.errors + seen.errors)[:5],
                    "blank": tally.blank + seen.blank, "leaks": tally.leaks + seen.leaks},
        **({"browsers": {"n": args.browsers, **actions(seen)}} if args.protocol else {}),
        "server": {"script_runs": len(runs), "p50_ms": pct(runs, 0.5), "p95_ms": pct(runs, 0.95), "target_p95_ms": 300,
                   "cpu_p50_ms": pct(runs_cpu, 0.5), "cpu_p95_ms": pct(runs_cpu, 0.95),
                   "full_runs": {"n": len(full), "p50_ms": pct(full, 0.5), "p95_ms": pct(full, 0.95)},
                   "fragment_runs": {"n": len(fragments), "p50_ms": pct(fragments, 0.5), "p95_ms": pct(fragments, 0.95)},
                   "cpu_cores_server_and_workers": round(cpu_spent(cpu0[0], cpu1[0]) / wall, 2),
                   "cpu_cores_browsers": round(cpu_spent(cpu0[1], cpu1[1]) / wall, 2),
                   "per_replica": [{"script_runs": len(r), "p50_ms": pct(r, 0.5), "p95_ms": pct(r, 0.95)}
                                   for r in per_replica]},
        "memory": {"app_mb_before": round(rss0, 1), "app_mb_class": round(memory.get("app", float("nan")), 1),
                   "sessions": sessions,
                   "per_session_mb": round((memory.get("app", float("nan")) - rss_open) / sessions, 2) if sessions else None,
                   "training_workers_mb": round(memory.get("workers", float("nan")), 1)},
        "faults": {"replica_killed_at_s": killed, "reconnects": tally.reconnects + seen.reconnects,
                   "trainers_at_the_end": tally.outcomes, **({"runs_kept": kept} if kept is not None else {})},
        "load_average": os.getloadavg()[0], "cores": os.cpu_count(),
        "split_cores": "server and workers on 1 core, browsers on the rest" if args.split_cores else "shared",
    }


def kept_runs(target: Servers, workspaces: list[str]) -> dict:
    """What the store holds of each trainer's run after the class: its status, and whether it has a
    checkpoint (nothing lost: each run is there, stopped or resumable)."""
    from vae_core.runs import RunStore

    store, out = RunStore(target.deployment.d["runs"]), {}
    for ws in workspaces:
        for run in store.workspace(ws).runs() if ws else []:
            if run.origin == "trained":
                key = f"{run.status}{'' if store.workspace(ws).has_checkpoint(run.id) else ' without a checkpoint'}"
                out[key] = out.get(key, 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--explorers", type=int, default=8)
    ap.add_argument("--trainers", type=int, default=2)
    ap.add_argument("--openers", type=int, default=10)
    ap.add_argument("--protocol", action="store_true",
                    help="sessions speak the websocket protocol instead of each being a Chromium (see above)")
    ap.add_argument("--browsers", type=int, default=1, help="with --protocol: real browsers exploring beside them")
    ap.add_argument("--think", type=float, default=2.0,
                    help="seconds an explorer looks at a result before its next action (0: a stress test)")
    ap.add_argument("--url", help="a server already running (e.g. a load balancer): no server-side figures")
    ap.add_argument("--deployment", help="a deploy/school.py state folder: its URL, replicas' logs and processes")
    ap.add_argument("--kill-replica-after", type=float, help="with --deployment: SIGKILL its first replica this "
                                                               "many seconds into `explore`")
    ap.add_argument("--split-cores", action="store_true",
                    help="the server and its training workers on one core, the browsers on the others: the "
                         "server's figures as on a class's server, whose browsers run on students' machines")
    result = asyncio.run(main_async(ap.parse_args()))
    for name, value in result.items():
        print(f"{name:>8}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
