"""The sidebar: this workspace's runs (pick one; rename, delete, download, resume it), the active
model's numbers, opening a checkpoint file, and a fresh workspace."""
from __future__ import annotations

import functools
import time
import re
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from vae_core import history
from vae_core.checkpoint import CheckpointError
from vae_core.registry import MODELS
from vae_core.runs import RunStoreError, file_name

from . import messages, runs

RESUMABLE = ("interrupted", "stopped")
# MB: a checkpoint with its Adam state (a 784-400-20 VAE: ~8 MB) fits. The server takes bigger files
# (server.maxUploadSize, for datasets: pages/datasets.py); this box refuses them, in the browser and here.
CHECKPOINT_MB = 32


def plain(text: str) -> str:
    """User text shown as itself, not as markdown (names are free text)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~$])", r"\\\1", text)


def loss_sum(cfg, metrics: dict) -> str | None:
    """'loss 23.96 = recon 20.96 + β 1 × KL 3.01': the validation loss as the sum it is."""
    m = {k[4:]: v for k, v in metrics.items() if k.startswith("val_") and isinstance(v, (int, float))}
    if "loss" not in m or "recon" not in m:
        return None
    if "kl" in m and "beta" not in MODELS[cfg.model].knobs:  # trained on the KL alone
        return f"loss **{m['loss']:.2f}** = KL {m['kl']:.2f} (recon {m['recon']:.2f}: reported, not optimised)"
    if "kl" in m:
        return f"loss **{m['loss']:.2f}** = recon {m['recon']:.2f} + β {cfg.beta:g} × KL {m['kl']:.2f}"
    if "penalty" in m:
        return f"loss **{m['loss']:.2f}** = recon {m['recon']:.2f} + penalty {m['penalty']:.2f}"
    return f"loss **{m['loss']:.2f}** = recon {m['recon']:.2f}"


def listed(run) -> str:
    """A run's line in the list: a sweep's members sit under the sweep's name ('β sweep · 7 runs › β 4')."""
    return plain(f"{run.group_name} › {run.name}" if run.group_name else run.name)


def _pick() -> None:
    run_id = st.session_state["sidebar.pick"]
    ws = runs.workspace()
    try:
        if not ws.has_checkpoint(run_id):
            messages.say("sidebar", "warning", f"{ws.get(run_id).name} has no model yet: it is queued or "
                                               "stopped before its first checkpoint.")
            return
    except RunStoreError as e:
        messages.say("sidebar", "error", str(e))
        return
    runs.activate(run_id)
    messages.clear("sidebar")


def _rename(run_id: str) -> None:
    try:
        runs.workspace().rename(run_id, st.session_state[f"sidebar.name.{run_id}"])
        messages.say("sidebar", "success", "Renamed.")
    except RunStoreError as e:
        messages.say("sidebar", "error", str(e))


def _delete(run_id: str) -> None:
    ws = runs.workspace()
    try:
        name = ws.get(run_id).name
        ws.delete(run_id)
        messages.say("sidebar", "success", f"Deleted {name}.")
    except RunStoreError as e:
        messages.say("sidebar", "error", str(e))


def resume(run_id: str) -> None:
    ws = runs.workspace()
    try:
        runs.executor().submit(ws, ws.get(run_id), resume=True)
        st.session_state["train.run"] = run_id
        messages.say("sidebar", "success", "Resumed from its last checkpoint: the Train page shows it.")
    except (RunStoreError, ValueError) as e:
        messages.say("sidebar", "error", f"Cannot resume: {e}")


def _share(run_id: str) -> None:
    try:
        runs.store().share(runs.workspace().id, run_id)
    except RunStoreError as e:
        messages.say("sidebar", "error", f"Cannot share: {e}")


def share_link(run) -> None:
    """A link that shows this run (its model on every page, its curves) to anyone who opens it, in their
    own workspace: read-only, and nothing else of this workspace."""
    token = (runs.workspace().setting("shares") or {}).get(run.id)
    if token is None:
        st.caption("Make a link that shows this run to anyone who opens it (a class, a colleague): they see its "
                   "model on every page and its curves, in their own workspace, and can neither rename nor delete it "
                   "nor see your other runs.")
        st.button("Make the link", key="sidebar.share", on_click=_share, args=(run.id,), icon=":material/link:")
        return
    parts = urlsplit(st.context.url or "")
    st.code(urlunsplit((parts.scheme, parts.netloc, "/latent", f"model=share.{token}", "")), language=None,
            wrap_lines=True)
    st.caption("Anyone with this link sees this run, read-only. The address of this workspace (with `ws=`) would "
               "give them your rights to all its runs: share this link instead.")


def _upload() -> None:
    up = st.session_state.get("sidebar.upload")
    if up is None:
        return
    if up.size > CHECKPOINT_MB * 2**20:
        messages.say("sidebar", "error", f"{plain(up.name)} was not opened: {up.size / 2**20:,.0f} MB is more than "
                                         f"the {CHECKPOINT_MB} MB a checkpoint may be")
        return
    try:
        run = runs.workspace().add_upload(up.name.rsplit(".", 1)[0], up.getvalue())
        runs.activate(run.id)
        if run.message:  # it opened, but its timeline was dropped
            messages.say("sidebar", "warning", f"Opened {plain(up.name)}, but {run.message}.")
        else:
            messages.say("sidebar", "success", f"Opened {up.name}.")
    except CheckpointError as e:
        messages.say("sidebar", "error", f"{plain(up.name)} was not opened: {e}")


def render() -> None:
    a = runs.active()
    all_runs = runs.all_runs()
    by_id = {r.id: r for r in all_runs}
    with st.sidebar:
        st.subheader("Runs")
        messages.show("sidebar")
        if a is None:
            st.info("No model yet: train one on the Train page.")
        else:
            st.session_state["sidebar.pick"] = a.run.id  # follow the active model, also when a page changed it
        with st.container(height=260, border=False):
            st.radio("Active model", list(by_id), key="sidebar.pick", on_change=_pick, label_visibility="collapsed",
                     format_func=lambda i: listed(by_id[i]), captions=[runs.describe_run(r) for r in all_runs])
        if a is not None:
            _active_model(a)
        st.file_uploader("Open a checkpoint (.safetensors)", type=["safetensors"], key="sidebar.upload",
                         on_change=_upload, max_upload_size=CHECKPOINT_MB)
        st.caption(f"running on **{runs.device_name()}** · this workspace's address keeps your runs: bookmark it")
        st.link_button("New empty workspace", runs.new_workspace_url(), width="stretch")


def _history_out(a: runs.Active) -> None:
    """The run's history for other tools (vae_core.history: CSV, TensorBoard, card) and the command that
    trains it again (vae_core.runcard); the zip is made when its button is pressed."""
    card = runs.card(a)
    with st.expander("History: CSV, TensorBoard, command", icon=":material/table_chart:"):
        st.caption("Every logged step and the validation terms as CSV, TensorBoard event files "
                   "(`tensorboard --logdir` the folder), the run's card, and the command that trains it again:")
        st.code(card["command"], language="bash", wrap_lines=True)
        for caveat in card["caveats"]:
            st.caption(f"Not the same run: {caveat}.")
        st.download_button("Download the history (zip)", functools.partial(
            history.bundle, a.ckpt, card, a.run.finished or a.run.created or time.time()), file_name=file_name(a.run.name, "-history.zip"),
            mime="application/zip", on_click="ignore", icon=":material/download:", key="sidebar.history")


def _active_model(a: runs.Active) -> None:
    run, cfg = a.run, a.cfg
    st.markdown(f"**{plain(run.name)}**  \n{MODELS[cfg.model].label} on **{plain(runs.dataset_label(cfg.dataset, run.id))}** · latent_dim = {cfg.latent_dim}"
                + (f" · β = {cfg.beta:g}" if MODELS[cfg.model].variational else "")
                + f"  \n{a.ckpt.progress.get('epoch', 0)} epochs · {cfg.likelihood} likelihood · {cfg.arch} {list(cfg.hidden)}")
    total = loss_sum(cfg, a.ckpt.metrics or run.metrics)
    if total:
        st.markdown("validation, nats per example:  \n" + total)
    if run.about:
        st.caption(run.about)
    # the bytes are read when the button is pressed: given here, every rerun would read the checkpoint and
    # every page would fetch it (the browser loads a download's data eagerly), 1.9 MB for an MNIST model.
    # A press reruns nothing: the page has nothing to change, and a rerun racing the fetch on a busy
    # server could replace the button before its file was served (seen once in CI, no download in 90 s)
    st.download_button("Download", functools.partial(runs.workspace().blob, run.id), file_name=file_name(run.name),
                       icon=":material/download:", mime="application/octet-stream", key="sidebar.download",
                       on_click="ignore", width="stretch")
    _history_out(a)
    if run.origin == "shared":
        st.caption("Shared with you by its link: read-only. Your own runs stay in your workspace.")
    if run.readonly:
        return
    # keyed: its identity, so whether it is open, survives the rerun that "Make the link" starts
    with st.popover("Share read-only", icon=":material/share:", width="stretch", key=f"sidebar.sharing.{run.id}"):
        share_link(run)
    c = st.columns(2)
    with c[0].popover("Rename", icon=":material/edit:", width="stretch"):
        st.text_input("Name", run.name, key=f"sidebar.name.{run.id}", max_chars=80)
        st.button("Save", key="sidebar.rename", on_click=_rename, args=(run.id,))
    with c[1].popover("Delete", icon=":material/delete:", width="stretch"):
        st.markdown(f"Delete **{plain(run.name)}** and its checkpoint for good?")
        st.button("Delete", type="primary", key="sidebar.delete", on_click=_delete, args=(run.id,))
    if run.status in RESUMABLE and a.ckpt.progress.get("epoch", 0) < cfg.epochs:
        st.button(f"Resume ({run.status} at epoch {a.ckpt.progress.get('epoch', 0)} of {cfg.epochs})",
                  key="sidebar.resume", on_click=resume, args=(run.id,), width="stretch")
