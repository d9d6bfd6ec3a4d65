"""Train: pick a model and its knobs, press Start, and watch it learn (in a worker process)."""
import math

import numpy as np
import streamlit as st

from ui import decoder, messages, picture, plots, run_app_first, runs, screen, sidebar, timing, widgets
from ui.datasets import download_panel
from ui.presentation import style
from vae_core.config import CORRUPTIONS, LIKELIHOODS, PRECISIONS, SPARSITIES, Config, in_range, parse_hidden, range_text
from vae_core.data import DATASETS, TOY_SHAPES
from vae_core.registry import MODELS
from vae_core import sweep
from vae_core.runs import submit_sweep
from vae_core.runs import BATCH_STOP_RULE, LIVE, RunStoreError

run_app_first()  # first: run alone by the old pages/ scheme, rerun through app.py (ui/__init__.py)
st.title("Train")
st.markdown(
    "Choose a dataset and a model, set its knobs and press **Start**. Each run trains in a worker process of "
    "its own and is kept in this workspace: leave the page, reload it, or start another run to compare. "
    "The curves show the loss terms in nats per example: **recon** = −log p(x|z), how well x is rebuilt; "
    "**kl** = KL(q(z|x) ‖ p(z)), what the code costs (VAE family: loss = recon + β·kl); **penalty** = the "
    "sparse / contractive regulariser. Try β = 0.1 versus β = 4 on the same data, or a latent_dim of 2 to "
    "watch the map form.")

kept, _at = widgets.kept, widgets.kept_index
DATASET_CHOICES = [d for d in DATASETS if d != "toy2d"] + [f"toy2d:{s}" for s in TOY_SHAPES]
MAX_SWEEP = 24  # runs one sweep may create: each is a worker's job and a checkpoint in the workspace
problems: list[str] = []  # out-of-range fields: shown next to each, and Start waits for them


def number(col, label: str, field: str, default, key: str, **kw):
    """A number field with its allowed range (from vae_core.config.RANGES) said next to it; a value
    outside it is shown as an error there, never silently replaced."""
    value = col.number_input(f"{label} ({range_text(field)})", value=kept(key, default), key=key, **kw)
    if not in_range(field, value):
        col.error(f"must be {range_text(field)}", icon=":material/error:")
        problems.append(f"{field} must be {range_text(field)}")
    return value


# widgets for the variant knobs a registry entry lists (beta and kl_warmup have their own)
KNOBS = {
    "corruption": lambda c: c.selectbox("corruption", list(CORRUPTIONS), _at(list(CORRUPTIONS), "train.corruption", "gaussian"), key="train.corruption"),
    "noise": lambda c: c.slider("noise (std or fraction)", 0.0, 0.9, kept("train.noise", 0.3), 0.05, key="train.noise"),
    "sparsity": lambda c: c.selectbox("sparsity penalty", SPARSITIES, _at(SPARSITIES, "train.sparsity", "kl"), key="train.sparsity"),
    "sparsity_weight": lambda c: number(c, "penalty weight", "sparsity_weight", 0.1, "train.sw"),
    "rho": lambda c: c.slider("target activation ρ", 0.01, 0.5, kept("train.rho", 0.05), 0.01, key="train.rho"),
    "contractive_weight": lambda c: number(c, "contraction weight λ", "contractive_weight", 0.01, "train.cw", format="%.4f"),
}

with st.container(border=True):
    c = st.columns(4)
    dataset = c[0].selectbox("dataset", DATASET_CHOICES, _at(DATASET_CHOICES, "train.dataset", "digits"), key="train.dataset",
                             help=" · ".join(f"{k}: {v}" for k, v in DATASETS.items()))
    model = c[1].selectbox("model", list(MODELS), _at(list(MODELS), "train.model", "vae"), format_func=lambda m: MODELS[m].label,
                           key="train.model")
    latent_dim = number(c[2], "latent_dim", "latent_dim", 2, "train.latent_dim")
    likelihood = c[3].selectbox("likelihood", LIKELIHOODS,
                                _at(LIKELIHOODS, f"train.likelihood.{dataset}", "gaussian" if dataset.startswith("toy2d") else "bernoulli"),
                                key=f"train.likelihood.{dataset}",
                                help="bernoulli: BCE on logits (pixels in [0, 1]); gaussian: MSE with fixed σ")
    spec = MODELS[model]
    st.caption(spec.about)
    if not download_panel(dataset):  # a dataset that needs files: where from, and a Download button
        problems.append(f"the {dataset} files are not here yet")
    c = st.columns(4)
    arch = c[0].selectbox("architecture", ["mlp", "conv"], _at(["mlp", "conv"], "train.arch", "mlp"), key="train.arch",
                          help="conv needs images whose side divides by 2^(number of layers)")
    hidden = c[1].text_input("hidden sizes", kept(f"train.hidden.{arch}", "400" if arch == "mlp" else "32,64"),
                             key=f"train.hidden.{arch}", help="MLP: widths, e.g. 400 or 512,256; conv: channels, e.g. 32,64")
    epochs = number(c[2], "epochs", "epochs", 20, "train.epochs")
    batch_size = number(c[3], "batch size", "batch_size", 128, "train.batch")
    c = st.columns(5)
    lr = number(c[0], "learning rate", "lr", 1e-3, "train.lr", format="%.4f")
    seed = number(c[1], "seed", "seed", 0, "train.seed")
    precision = c[2].selectbox("precision", PRECISIONS, _at(PRECISIONS, "train.precision", "fp32"), key="train.precision",
                               help="bf16: mixed precision (matmuls in bfloat16), faster on recent CPUs and GPUs")
    knobs = {}
    if "beta" in spec.knobs:
        knobs["beta"] = number(c[3], "β", "beta", float(spec.defaults.get("beta", 1.0)), f"train.beta.{model}", step=0.1)
        knobs["kl_warmup"] = number(c[4], "warm-up steps", "kl_warmup", 0, "train.warmup",
                                    help="β ramps linearly from 0 over this many steps")
    extra = [k for k in spec.knobs if k in KNOBS]
    if extra:
        for col, k in zip(st.columns(len(extra)), extra):
            knobs[k] = KNOBS[k](col)
    b = st.columns([1, 5])
    start = b[0].button("Start", type="primary", key="train.start", width="stretch", disabled=bool(problems))
    outcome = b[1].empty()  # filled below, once Start has been handled


def form_config() -> Config:
    """The form's values as a checked Config (ValueError names a bad field and its range)."""
    return Config(dataset=dataset, model=model, arch=arch, hidden=parse_hidden(hidden), latent_dim=int(latent_dim),
                  likelihood=likelihood, epochs=int(epochs), batch_size=int(batch_size), lr=float(lr),
                  precision=precision, seed=int(seed), **knobs).validate()


if start:
    try:
        cfg = form_config()
        ws = runs.workspace()
        n = sum(1 for r in ws.runs() if not r.readonly) + 1
        run = ws.create(cfg, f"#{n} {MODELS[model].label} · {dataset}"
                        + (f" · β {cfg.beta:g}" if "beta" in spec.knobs else "") + f" · {cfg.latent_dim}-D")
        runs.executor().submit(ws, run)
        st.session_state["train.run"] = run.id
        messages.clear("train")
    except ValueError as e:  # a bad hidden list, a config the model cannot be built from
        messages.say("train", "error", f"Cannot start: {e}")
with outcome.container():
    messages.show("train")


def _values(text: str, kind) -> list:
    """'0.25, 1, 4' -> [0.25, 1.0, 4.0]; a blank field -> [] (that knob keeps the form's value)."""
    try:
        return [kind(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of numbers") from None


with st.expander("Sweep: one run per β and / or latent_dim value, over the settings above",
                 icon=":material/stacked_line_chart:", expanded=bool(st.session_state.get("train.sweep"))):
    st.caption("Each value becomes a run of its own, grouped in the run list under the sweep's name. Members that "
               "differ only in β train together in one worker, as one stacked model (7 of them cost about twice "
               "one run). Compare them afterwards: a larger β buys a smaller KL (rate) with a worse "
               "reconstruction (distortion).")
    c = st.columns([2, 2, 1])
    sweep_betas = c[0].text_input("β values", kept("train.sweep_betas", "0.25, 0.5, 1, 2, 4, 8, 16"),
                                  key="train.sweep_betas", disabled="beta" not in spec.knobs,
                                  help="comma-separated; VAE-family models only" if "beta" in spec.knobs
                                  else f"{spec.label} has no β: sweep latent_dim instead")
    sweep_dims = c[1].text_input("latent_dim values", kept("train.sweep_dims", ""), key="train.sweep_dims",
                                 help="comma-separated, e.g. 2, 5, 10; blank keeps the latent_dim above")
    start_sweep = c[2].button("Start sweep", key="train.start_sweep", width="stretch", disabled=bool(problems))
    sweep_outcome = st.empty()

if start_sweep:
    try:
        base = form_config()
        betas = _values(sweep_betas, float) if "beta" in spec.knobs else []
        dims = _values(sweep_dims, int)
        if not betas and not dims:
            raise ValueError("give at least one β or latent_dim value")
        cfgs = sweep.members(base, betas or None, dims or None)
        if len(cfgs) > MAX_SWEEP:
            raise ValueError(f"{len(cfgs)} runs is more than {MAX_SWEEP}; use fewer values")
        ws = runs.workspace()
        made = submit_sweep(ws, runs.executor(), cfgs, label=f"{MODELS[model].label} · ")
        st.session_state["train.run"] = made[0].id
        st.session_state["train.sweep"] = made[0].group
        messages.clear("train.sweep")
        st.rerun()  # the sidebar, drawn before this page, lists the new runs
    except ValueError as e:
        messages.say("train.sweep", "error", f"Cannot start the sweep: {e}")
with sweep_outcome.container():
    messages.show("train.sweep")


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
    handle = runs.executor().handle(run_id)
    st.subheader(run.name)
    if handle is None:  # trained before the server last started: what the store knows
        st.markdown(f"Status: **{run.status}**" + (f" at epoch {run.progress.get('epoch')}" if run.progress else ""))
        if run.message:
            (st.error if run.status in ("failed", "interrupted") else st.warning)(run.message)
        epoch = run.progress.get("epoch", 0) if run.progress else 0
        if run.status in sidebar.RESUMABLE and ws.has_checkpoint(run_id) and epoch < run.config.epochs:
            st.button(f"Resume from epoch {epoch}", key="train.resume", on_click=sidebar.resume, args=(run_id,),
                      icon=":material/play_arrow:")
        return
    if run.group:
        _sweep_progress(ws, run)
    v = handle.view
    rate = f" · {v.images_per_s:,.0f} images/s" if v.images_per_s else ""
    where = f" · {v.device}, {v.threads} thread{'s' * (v.threads != 1)}" if v.device else ""
    resumed = f" · resumed at step {v.start_step}" if v.start_step else ""
    st.progress(v.fraction, text=f"{_status(v)} · step {v.step}/{v.total_steps or '?'} · epoch {v.epoch}/{v.epochs}"
                                 f"{rate}{_eta(v.eta_s) if not v.finished else ''}{where}{resumed}")
    if v.status in ("failed", "interrupted"):
        st.error(v.message)
    elif v.message:  # done, with a warning (every dim collapsed)
        st.warning(v.message)
    seen = st.session_state.setdefault("train.seen_status", {})
    if seen.setdefault(run_id, v.status) != v.status:  # queued -> running -> done: the sidebar's list follows
        seen[run_id] = v.status
        st.rerun(scope="app")
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
        screen.chart(plots.curves(v.history, v.val), key="train.curves")
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
        h = runs.executor().handle(r.id)
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


if followed() is None:
    st.info("No run yet in this workspace. The sidebar's pretrained models are ready to explore meanwhile.")
else:
    live()
