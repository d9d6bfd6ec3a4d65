"""This browser's workspace, its runs and the active model.

The workspace id lives in the URL (`?ws=...`): a reload, a bookmark or a second tab brings back the
same runs and the same active model, which are kept in the run store on disk, not in the session.
The store and the executor are shared by every session of the server (st.cache_resource); a
session holds nothing but ids. Several servers (replicas) may serve one run store: a run trained by
another replica is found through the store, and its job taken over when that replica is gone
(`handle`, vae_core.runs.queue).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from vae_core import runcard, threads
from vae_core.checkpoint import Checkpoint
from vae_core.device import describe, pick_device
from vae_core.models import Autoencoder
from vae_core.registry import MODELS
from vae_core.runs import (Run, RunStore, RunStoreError, Workspace, data_folder, key_of, label_of, make_executor,
                            new_workspace_id, valid_workspace_id)
from vae_core.runs.executor import Executor, JobHandle


@st.cache_resource(show_spinner=False)
def store() -> RunStore:
    return RunStore()  # runs/ or $VAE_CORE_RUNS


@st.cache_resource(show_spinner=False)
def executor() -> Executor:
    """One executor for the whole server: the global cap on concurrent jobs holds across sessions."""
    return make_executor(store())


@st.cache_resource(show_spinner=False)
def device() -> torch.device:
    threads.use(threads.UI_THREADS)  # the app's own inference: see vae_core/threads.py
    return pick_device()


def device_name() -> str:
    return describe(device())


# --- the workspace ------------------------------------------------------------------------------


def init() -> None:
    """Once per script run: the workspace id from the URL (made, and put in the URL, on a first
    visit), and stale runs of a server or worker that died marked interrupted. An id in the URL that
    is malformed, or names a workspace nothing was ever saved in, is said (`address_problem`)."""
    url_ws = st.query_params.get("ws")
    ws = url_ws if valid_workspace_id(url_ws) else None
    if url_ws is not None and ws is None:
        st.session_state["ws.problem"] = (f"The address names the workspace `{url_ws[:40]}`, which is not a workspace "
                                          "id (22 letters, digits, - or _): perhaps it was cut short when copied. "
                                          "A new, empty workspace is open instead.")
    elif ws is not None and ws != st.session_state.get("ws") and ws not in st.session_state.get("ws.made", ()) \
            and not store().exists(ws):
        st.session_state["ws.problem"] = (f"Nothing was ever saved in the workspace `{ws}`: it is empty. If you "
                                          "expected runs here, the address may be mistyped.")
    if ws is None:
        ws = st.session_state.get("ws") or new_workspace_id()
        st.session_state.setdefault("ws.made", set()).add(ws)  # ours: empty because it is new
    if st.query_params.get("ws") != ws:
        st.query_params["ws"] = ws  # kept in the URL across page switches too
    if st.session_state.get("ws") != ws:
        st.session_state["ws"] = ws
        executor().reconcile(workspace())  # stale runs interrupted; another replica's orphans adopted


def handle(run: Run) -> JobHandle | None:
    """The job of `run` (this workspace's): this server's, or one whose server died, re-attached
    (Ray) when its owner's lease has run out; None for a run no job here works on (finished, or
    training under another replica that still lives)."""
    ex = executor()
    return ex.handle(run.id) or ex.adopt(workspace(), run)


def address_problem() -> str | None:
    """What was wrong with the workspace address this session was opened with (said once), or None."""
    return st.session_state.pop("ws.problem", None)


def workspace() -> Workspace:
    return store().workspace(st.session_state["ws"])


def new_workspace_url() -> str:
    return f"?ws={new_workspace_id()}"


def all_runs() -> list[Run]:
    return workspace().runs()


def describe_run(run: Run) -> str:
    """What tells runs apart: model, dataset, beta (variational models), latent_dim, status."""
    cfg = run.config
    parts = [MODELS[cfg.model].label, dataset_label(cfg.dataset, run.id)]
    if MODELS[cfg.model].variational:
        parts.append(f"β {cfg.beta:g}")
    parts.append(f"{cfg.latent_dim}-D")
    parts.append({"shipped": "pretrained", "shared": "shared, read-only"}.get(run.origin, run.status))
    return " · ".join(parts)


def dataset_label(dataset: str, run_id: str | None = None) -> str:
    """A config's dataset as a page names it: a workspace dataset's display name (vae_core.runs.label_of),
    looked up where the data of run `run_id` are (a shared run's: in its owner's workspace)."""
    ws = workspace()
    if run_id is not None and key_of(dataset) is not None:
        ws = store().workspace(data_folder(ws, run_id).name)
    return label_of(ws, dataset)


# --- the active model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Active:
    run: Run
    ckpt: Checkpoint
    model: Autoencoder
    device: torch.device
    key: str                     # changes whenever the model's weights do (a cache key)

    @property
    def cfg(self):
        return self.ckpt.config


@st.cache_resource(max_entries=32, show_spinner="Loading the model…")
def _load(key: str, _ws: Workspace, run_id: str, with_history: bool = True) -> tuple[Checkpoint, Autoencoder]:
    ckpt = _ws.checkpoint(run_id, with_history).without_optimizer()
    return ckpt, ckpt.build_model(device())


@st.cache_resource(max_entries=64, show_spinner=False)
def _card(key: str, name: str, changes: tuple, _ckpt: Checkpoint) -> dict:
    return runcard.card(_ckpt, name, changes)


def card(a: Active) -> dict:
    """The active run's card (vae_core.runcard), kept by its checkpoint, name and β changes: the sidebar
    and the offline button show it on every rerun. Shared by the sessions: read it, don't change it."""
    return _card(a.key, a.run.name, a.run.beta_changes, a.ckpt)


def latest_model(run_id: str, with_history: bool = True) -> tuple[Checkpoint, Autoencoder] | None:
    """A run's model as of its latest checkpoint (a run still training: its last epoch), or None.
    with_history=False: without its training history (the Train page's live decoder reads a new
    checkpoint every few seconds, and the history's JSON grows by a row a step)."""
    ws = workspace()
    try:
        if not ws.has_checkpoint(run_id):
            return None
        return _load(ws.checkpoint_stamp(run_id), ws, run_id, with_history)
    except (RunStoreError, OSError, ValueError):
        return None  # e.g. a checkpoint being replaced right now: the next refresh gets it


def activate(run_id: str) -> None:
    workspace().active = run_id


def active() -> Active | None:
    """The workspace's active model, loaded on the device: the one chosen last, else the default
    pretrained one. A run that cannot be loaded falls back to the default with a message."""
    ws = workspace()
    runs = {r.id: r for r in ws.runs()}
    chosen = ws.active
    order = ([chosen] if chosen in runs else []) + [r.id for r in runs.values() if r.readonly]
    for run_id in order:
        run = runs[run_id]
        try:
            if not ws.has_checkpoint(run_id):
                continue
            key = ws.checkpoint_stamp(run_id)
            ckpt, model = _load(key, ws, run_id)
            return Active(run, ckpt, model, device(), key)
        except (RunStoreError, OSError, ValueError) as e:
            st.session_state["runs.load_error"] = f"{run.name} cannot be loaded: {e}"
    return None
