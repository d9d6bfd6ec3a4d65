"""Train: pick a model and its knobs, press Start, and watch it learn (in a worker process)."""
import math
import time

import numpy as np
import streamlit as st

from ui import (access, decoder, knobs, messages, own_data, page, picture, plots, run_app_first, runs, screen, sidebar,
                sitemap, timeline, timing, widgets)
from ui.datasets import download_panel
from ui.presentation import style
from vae_core.config import KNOBS
from vae_core.data import DATASETS, TOY_SHAPES
from vae_core.diagnostics import beta_changes
from vae_core.registry import MODELS
from vae_core import sweep
from vae_core.runs import BATCH_STOP_RULE, LIVE, RunStoreError, submit_sweep

run_app_first()  # first: run alone by the old pages/ scheme, rerun through app.py (ui/__init__.py)
page.header(
    "Choose a dataset and a model, set its knobs and press **Start**. Each run trains in a worker process of "
    "its own and is kept in this workspace: leave the page, reload it, or start another run to compare. "
    "The curves show the loss terms in nats per example: **recon** = −log p(x|z), how well x is rebuilt; "
    "**kl** = KL(q(z|x) ‖ p(z)), what the code costs (VAE family: loss = recon + β·kl); **penalty** = the "
    "sparse / contractive regulariser. Try β = 0.1 versus β = 4 on the same data, or a latent_dim of 2 to "
    "watch the map form.")

DATASET_CHOICES = [d for d in DATASETS if d != "toy2d"] + [f"toy2d:{s}" for s in TOY_SHAPES]
MAX_SWEEP = 24  # runs one sweep may create: each is a worker's job and a checkpoint in the workspace
knobs.load()  # the form as this workspace last had it (a reload, a second tab)
form = knobs.Form()


def the_form():
    """The form, every input derived from its knob (ui.knobs); -> (Start pressed, Start sweep pressed,
    the places for their outcomes)."""
    f, key = form, knobs.key
    c = st.columns(4)
    mine = own_data.names()  # and this workspace's own datasets, by their names (ws:<id> in the Config)
    choices = DATASET_CHOICES + list(mine)
    if st.session_state.get(key("dataset"), "digits") not in choices:  # a dataset deleted meanwhile
        widgets.put(key("dataset"), "digits")
    dataset = c[0].selectbox("dataset", choices, widgets.kept_index(choices, key("dataset"), "digits"),
                             key=key("dataset"), on_change=knobs.reset_for_dataset, format_func=lambda d: mine.get(d, d),
                             help=" · ".join(f"{k}: {v}" for k, v in DATASETS.items())
                             + " · your own data: add it on the Your data page")
    model = c[1].selectbox("model", list(MODELS), widgets.kept_index(list(MODELS), key("model"), "vae"),
                           format_func=lambda m: MODELS[m].label, key=key("model"), on_change=knobs.reset_for_model)
    f.values.update(dataset=dataset, model=model)
    spec = MODELS[model]
    f.field(c[2], "latent_dim", knobs.default_text("latent_dim"))
    f.field(c[3], "likelihood", knobs.default_text("likelihood", dataset=dataset))
    st.caption(spec.about)
    if not download_panel(dataset):  # a dataset that needs files: where from, and a Download button
        f.problems.append(f"the {dataset} files are not here yet")
    c = st.columns(5)
    arch = f.field(c[0], "arch", "mlp", on_change=knobs.reset_for_arch)
    f.field(c[1], "hidden", knobs.default_text("hidden", arch=arch))
    f.field(c[2], "epochs", "20")
    f.field(c[3], "batch_size", knobs.default_text("batch_size"))
    f.field(c[4], "lr", knobs.default_text("lr"))
    # then every other knob this model (and likelihood) reads, in the order vae_core.config declares them
    rest = knobs.the_rest(f.values, model, f.values)
    for row in range(0, len(rest), 5):
        for col, name in zip(st.columns(5), rest[row:row + 5]):
            f.field(col, name, knobs.default_text(name, model=model))
    b = st.columns([1, 5])
    start = b[0].button("Start", type="primary", key="train.start", width="stretch", disabled=bool(f.problems))
    outcome = b[1].empty()  # filled below, once Start has been handled
    with st.expander("Sweep: one run per β and / or latent_dim value, over the settings above",
                     icon=":material/stacked_line_chart:", expanded=bool(st.session_state.get("train.sweep"))):
        start_sweep, sweep_outcome = sweep_form(spec)
    knobs.save(sitemap.spec("train").kept)
    return start, start_sweep, outcome, sweep_outcome


def sweep_lists(spec) -> tuple[list[float], list[int]]:
    """The β and latent_dim lists the user filled (blank: that knob keeps the form's value)."""
    betas = KNOBS["beta"].parse_list(st.session_state.get("train.sweep_betas", "")) if "beta" in spec.knobs else []
    return betas, KNOBS["latent_dim"].parse_list(st.session_state.get("train.sweep_dims", ""))


def sweep_form(spec):
    """The sweep's two lists, what they will train (counted before Start), and its Start button;
    -> (Start sweep pressed, the place for its outcome)."""
    st.caption("Each value becomes a run of its own, grouped in the run list under the sweep's name; only the lists "
               "you fill are swept. Members that differ only in β train together in one worker, as one stacked "
               "model (7 of them cost about twice one run). Compare them afterwards: a larger β buys a smaller KL "
               "(rate) with a worse reconstruction (distortion).")
    c = st.columns([2, 2, 1])
    c[0].text_input(f"β values ({KNOBS['beta'].range_text()} each)", widgets.kept("train.sweep_betas", ""),
                    key="train.sweep_betas", disabled="beta" not in spec.knobs, placeholder="e.g. 0.25, 0.5, 1, 2, 4, 8, 16",
                    help="comma-separated; VAE-family models only" if "beta" in spec.knobs
                    else f"{spec.label} has no β: sweep latent_dim instead")
    c[1].text_input(f"latent_dim values ({KNOBS['latent_dim'].range_text()} each)", widgets.kept("train.sweep_dims", ""),
                    key="train.sweep_dims", placeholder="e.g. 2, 5, 10", help="comma-separated; blank keeps the latent_dim above")
    try:
        betas, dims = sweep_lists(spec)
        n = max(1, len(betas)) * max(1, len(dims))
        if not betas and not dims:
            st.caption("Fill one list or both: the sweep trains one run per value (both lists: every pair).")
        elif n > MAX_SWEEP:
            st.error(f"{n} runs is more than {MAX_SWEEP}; use fewer values", icon=":material/error:")
        else:
            st.markdown(f"**{sweep.plan_text(betas, dims)}**", help="what Start sweep will train")
        ok = bool(betas or dims) and n <= MAX_SWEEP
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        ok = False
    start_sweep = c[2].button("Start sweep", key="train.start_sweep", width="stretch", disabled=bool(form.problems) or not ok)
    return start_sweep, st.empty()


def start_run() -> None:
    try:
        cfg = form.config()
        ws = runs.workspace()
        n = sum(1 for r in ws.runs() if not r.readonly) + 1
        spec = MODELS[cfg.model]
        run = ws.create(cfg, f"#{n} {spec.label} · {runs.dataset_label(cfg.dataset)}"
                        + (f" · β {cfg.beta:g}" if "beta" in spec.knobs else "") + f" · {cfg.latent_dim}-D")
        runs.executor().submit(ws, run)
        st.session_state["train.run"] = run.id
        messages.clear("train")
    except (ValueError, RunStoreError) as e:  # a config the model cannot be built from, a full workspace
        messages.say("train", "error", f"Cannot start: {e}")
        return
    st.rerun()  # the live view comes first while it trains, and the sidebar (drawn before) lists the run


def start_a_sweep() -> None:
    try:
        base = form.config()
        spec = MODELS[base.model]
        betas, dims = sweep_lists(spec)
        cfgs = sweep.members(base, betas or None, dims or None)
        if len(cfgs) > MAX_SWEEP:
            raise ValueError(f"{len(cfgs)} runs is more than {MAX_SWEEP}; use fewer values")
        made = submit_sweep(runs.workspace(), runs.executor(), cfgs, label=f"{spec.label} · ")
        st.session_state["train.run"] = made[0].id
        st.session_state["train.sweep"] = made[0].group
        messages.clear("train.sweep")
        st.rerun()  # the sidebar, drawn before this page, lists the new runs
    except (ValueError, RunStoreError) as e:
        messages.say("train.sweep", "error", f"Cannot start the sweep: {e}")


ANNOUNCE_S = 10.0  # a screen reader hears the progress at most this often (and when the run ends)
REFRESH_S = 1.0  # the live view's refresh: these redraws were half the server's script time with 8
                 # sessions exploring and 2 training at 0.7 s (bench/bench_classroom.py --protocol)


def followed() -> str | None:
    """The run this page shows: the one started here, else (after a reload, a server restart) the
    newest one training, else the newest one this workspace trained, however it ended."""
    ws = runs.workspace()
    run_id = st.session_state.get("train.run")
    try:
        if run_id and ws.get(run_id):
            return run_id
    except RunStoreError:
        pass
    own = [r for r in ws.runs() if r.origin == "trained"]
    if not own:
        return None
    run = next((r for r in own if r.status in LIVE), own[0])
    st.session_state["train.run"] = run.id  # followed to its end, when it is no longer live
    return run.id


def _status(v) -> str:
    if v.status == "queued":
        return f"queued ({v.ahead} ahead)" if v.ahead else "queued (next)"
    return {"starting": "starting a worker…", "running": "training"}.get(v.status, v.status)


def _follow_status(run_id: str, status: str) -> None:
    """A status other than the one this page last drew (queued -> running -> done; running ->
    interrupted when a dead server's run is taken over) reruns the whole page: the sidebar's list,
    drawn outside the live view, follows."""
    seen = st.session_state.setdefault("train.seen_status", {})
    if seen.setdefault(run_id, status) != status:
        seen[run_id] = status
        st.rerun(scope="app")


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds <= 0:
        return ""
    return f" · {seconds:.0f} s left" if seconds < 120 else f" · {seconds / 60:.0f} min left"


@timing.fragment(run_every=REFRESH_S)
def live() -> None:
    """The followed run, redrawn every REFRESH_S. Only drawn while there is one: a page that reruns on a
    timer with nothing to show would race the first press of Start for nothing."""
    run_id = followed()
    if run_id is None:  # it ended in another tab, or was deleted: the next full run says so
        st.rerun(scope="app")
    ws = runs.workspace()
    run = ws.get(run_id)
    handle = runs.handle(run)  # (replicas: re-attached here when its server died)
    st.subheader(run.name)
    if handle is None:  # trained before the server last started: what the store knows
        if run.live:  # read again: taking over a dead server's run may have just marked it interrupted
            run = ws.get(run_id)
        _follow_status(run_id, run.status)
        st.markdown(f"Status: **{run.status}**" + (f" at epoch {run.progress.get('epoch')}" if run.progress else ""))
        if run.message:
            (st.error if run.status in ("failed", "interrupted") else st.warning)(run.message)
        if run.live:  # replicas: another server's job (this page takes it over if that server stops)
            st.caption("It trains under another server of this site, which shows it live; this page shows its "
                       "last checkpoint, and takes the run over if that server stops.")
        epoch = run.progress.get("epoch", 0) if run.progress else 0
        if run.status in sidebar.RESUMABLE and ws.has_checkpoint(run_id) and epoch < run.config.epochs:
            st.button(f"Resume from epoch {epoch}", key="train.resume", on_click=sidebar.resume, args=(run_id,),
                      icon=":material/play_arrow:")
        saved_curves(ws, run)
        timeline.after_training(run_id)  # the run's timeline (issue 24)
        return
    if run.group:
        _sweep_progress(ws, run)
    v = handle.view
    rate = f" · {v.images_per_s:,.0f} images/s" if v.images_per_s else ""
    where = f" · {v.device}, {v.threads} thread{'s' * (v.threads != 1)}" if v.device else ""
    resumed = f" · resumed at step {v.start_step}" if v.start_step else ""
    st.progress(v.fraction, text=f"{_status(v)} · step {v.step}/{v.total_steps or '?'} · epoch {v.epoch}/{v.epochs}"
                                 f"{rate}{_eta(v.eta_s) if not v.finished else ''}{where}{resumed}")
    announce_progress(run_id, v)
    if v.status in ("failed", "interrupted"):
        st.error(v.message)
    elif v.message:  # done, with a warning (every dim collapsed)
        st.warning(v.message)
    _follow_status(run_id, v.status)
    if not v.finished:
        c = st.columns([1, 4])
        c[0].button("Stop", key="train.stop", on_click=handle.stop, width="stretch",
                    help=BATCH_STOP_RULE if handle.batched else None)
        if "beta" in MODELS[handle.cfg.model].knobs:
            c[1].slider("β while training", 0.0, max(10.0, handle.beta), handle.beta, 0.1,
                        key=f"train.live_beta.{run_id}", on_change=_set_beta, args=(run_id,),
                        help="applied from the next step; the curves show the effect")
    if not v.history:
        return
    left, right = st.columns([3, 2])
    with left:
        changes = beta_changes({"train": v.history}, warmup=handle.cfg.kl_warmup)
        screen.chart(plots.curves(v.history, v.val, beta_changes=changes), key="train.curves")
        if v.val.get("kl_per_dim"):
            screen.chart(plots.kl_bars(v.val["kl_per_dim"][-1]), key="train.kl")
    with right:
        if v.originals is not None and v.recons is not None and len(np.shape(v.originals)) == 4:
            picture.show(np.concatenate([v.originals, v.recons]), cols=len(v.originals), size=48,
                         caption="validation examples (top) and their reconstructions now (bottom)")
            if MODELS[handle.cfg.model].variational:
                picture.show(v.samples, "decoded samples z ~ N(0, I), the same z each time", size=48)
        if v.latent is not None:
            screen.chart(_live_map(v), key="train.map")
        if not v.finished and v.originals is not None and len(np.shape(v.originals)) == 4:
            decoder.live(lambda: _newest(run_id), run_id, class_names=v.class_names)  # under the pointer
    if v.finished:
        timeline.after_training(run_id)  # the run's timeline, once it has ended (issue 24)


def announce_progress(run_id: str, v) -> None:
    """The progress in a polite live region, said at most every ANNOUNCE_S seconds (the bar above it
    changes every refresh, which a screen reader would read out without end), and when the run ends."""
    said = st.session_state.setdefault("train.announced", {})  # run -> (when, text)
    loss = v.history["loss"] if "loss" in v.history else None
    text = (f"{_status(v)}: epoch {v.epoch} of {v.epochs}, {v.fraction:.0%} done"
            + (f", training loss {loss[-1]:.1f} nats" if loss is not None and len(loss) else ""))
    last = said.get(run_id)
    if last is None or (v.finished and not last[2]) or time.monotonic() - last[0] >= ANNOUNCE_S:
        said[run_id] = last = (time.monotonic(), text, v.finished)
    access.announce(last[1], key="train.announce", min_s=ANNOUNCE_S, now=last[2])


def saved_curves(ws, run) -> None:
    """The curves of a run no job is working on (interrupted, stopped, trained before the server last
    started), as its last checkpoint holds them."""
    got = runs.latest_model(run.id)
    history = got[0].history if got is not None else {}
    if not history.get("train", {}).get("step"):
        st.caption("No curves: it stopped before its first checkpoint.")
        return
    changes = beta_changes(history, run.beta_changes, warmup=run.config.kl_warmup)
    screen.chart(plots.curves(history["train"], history.get("val"), beta_changes=changes), key="train.curves")
    st.caption(f"The curves up to its last checkpoint (epoch {got[0].progress.get('epoch', 0)}), nats per example.")


def _live_map(v):
    """The validation codes' map, built again only when the worker has sent new codes (every few
    seconds), not on every refresh."""
    drawn = st.session_state.get("live.map")  # (the codes, the style, their figure)
    if drawn is None or drawn[0] is not v.latent or drawn[1] is not style():
        drawn = st.session_state["live.map"] = (v.latent, style(), plots.latent_map(
            v.latent, v.labels, v.class_names, height=340, size=4, title="2-D latent map (validation), live"))
    return drawn[2]


def _newest(run_id: str):
    """(epoch, model) of the run's newest checkpoint (its last epoch), or None before the first."""
    got = runs.latest_model(run_id, with_history=False)
    return None if got is None else (got[0].progress.get("epoch"), got[1])


def _sweep_progress(ws, run) -> None:
    """One bar per member of the followed run's sweep (the store's view, so a reload keeps it)."""
    members = sorted((r for r in ws.runs() if r.group == run.group), key=lambda r: r.created)
    done = sum(r.status == "done" for r in members)
    st.markdown(f"**{run.group_name}**: {done} of {len(members)} done. Below them, the member shown in detail.")
    for r in members:
        h = runs.handle(r)
        v = h.view if h is not None else None
        frac = v.fraction if v is not None else (1.0 if r.status == "done" else 0.0)
        status = _status(v) if v is not None and not v.finished else r.status
        st.progress(min(1.0, frac), text=f"{r.name} · {status}"
                    + (f" · val loss {r.metrics['val_loss']:.2f}" if "val_loss" in r.metrics else ""))
    st.divider()


def _set_beta(run_id: str) -> None:
    """Only a move of the slider sends a beta: drawing the slider again never does."""
    handle = runs.executor().handle(run_id)
    if handle is not None and not handle.view.finished:
        handle.set_beta(st.session_state[f"train.live_beta.{run_id}"])


def form_section() -> None:
    """The form, its Start buttons handled, and their outcomes."""
    start, start_sweep, outcome, sweep_outcome = the_form()
    if start:
        start_run()
    if start_sweep:
        start_a_sweep()
    if (start or start_sweep) and not training and followed() is not None:  # (issue 25) it started: the page
        st.rerun()  # is drawn again with its live view first, where the keyboard's next Tab finds Stop and β
    with outcome.container():
        messages.show("train")
    with sweep_outcome.container():
        messages.show("train.sweep")


# While a run trains, its live view comes first (on a projector it is what the room looks at) and the
# form waits, folded, below it; otherwise the form comes first. The two have a place each, an st.empty
# that a rerun empties as soon as it reaches it: a rerun otherwise leaves the last run's elements on the
# page until it rewrites them, and when a run's start or end swaps the two, the live view (its Stop)
# would meanwhile stand twice.
followed_id = followed()
training = followed_id is not None and runs.workspace().get(followed_id).status in LIVE
first, second = st.empty(), st.empty()
if training:
    with first.container():
        live()
    with second.container(), st.expander("Start another run", icon=":material/add:"):
        form_section()
else:
    with first.container(border=True):
        form_section()
    with second.container():
        if followed_id is None:
            st.info("No run yet in this workspace. The sidebar's pretrained models are ready to explore meanwhile.")
        else:
            live()
