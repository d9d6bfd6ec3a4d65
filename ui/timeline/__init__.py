"""Watch it learn: a run's timeline (vae_core.timeline) in the page. timeline.js beside this file, an
`st.components.v2` component, scrubs and plays it; each run's snapshots are sent once per session
(vae_core.timeline.web writes them, like the decoder's weights: ui/decoder), later runs of the page
send a small header, and scrubbing or playing sends the server nothing.

    panel(a, page)             the Latent space page: the active run's timeline, behind a switch
    after_training(run_id)     the Train page, once a run has ended
    side_by_side(items)        the Compare page: two to four runs, synced by epoch
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from vae_core.checkpoint import Checkpoint
from vae_core.timeline import Timeline, frames, web
from vae_core.webdecoder import frame

from .. import page as page_parts
from .. import runs, widgets
from ..presentation import style

HERE = Path(__file__).resolve().parent
SENT = "timeline.sent"      # run keys whose snapshots this session's page has
WIDTH = "timeline.width"    # the map's width in the page, CSS px (the exports' size)
VIEWS = {"pca": "PCA of the final step", "dims": "two dims"}


@functools.cache
def _component():
    return st.components.v2.component("latent_explorer.timeline", css=(HERE / "timeline.css").read_text(),
                                      js=(HERE / "timeline.js").read_text())


@dataclass(frozen=True)
class Track:
    """One run on the timeline: `key` names its snapshots in the page (its checkpoint and the view)."""
    key: str
    name: str
    ckpt: Checkpoint
    view: str = "dims"
    dims: tuple[int, int] = (0, 1)


@st.cache_resource(max_entries=16, show_spinner="Preparing the timeline…")
def _export(key: str, _ckpt: Checkpoint, view: str, dims: tuple[int, int]) -> tuple[dict, bytes]:
    return web.export(_ckpt.timeline, _ckpt.history, view, dims, _ckpt.config.kl_warmup)


def _resend() -> None:
    """The page lacks a run it should have (it was reloaded): send every run again."""
    st.session_state.setdefault(SENT, set()).clear()


def _told_width(key: str) -> None:
    width = (st.session_state.get(key) or {}).get("width")
    if isinstance(width, (int, float)) and 100 <= width <= 4000:
        st.session_state[WIDTH] = int(width)


def mount(tracks: list[Track], key: str, sync: str = "index") -> None:
    """The component for `tracks` (one run, or several synced by epoch), sending each run's snapshots
    only where this session's page does not have them yet."""
    sent = st.session_state.setdefault(SENT, set())
    header, chunks, at = [], [], 0
    for t in tracks:
        entry = {"key": t.key, "name": t.name}
        if t.key not in sent:
            spec, data = _export(t.key, t.ckpt, t.view, t.dims)
            entry["spec"] = {**spec, "at": at}
            chunks.append(data)
            at += len(data)
            sent.add(t.key)
        header.append(entry)
    s = style()
    message = {"tracks": header, "sync": sync, "colors": list(s.colors), "font": s.font + 1,
               "width": st.session_state.get(WIDTH)}
    _component()(data=frame(message, b"".join(chunks)), key=key, on_missing_change=_resend,
                 on_width_change=functools.partial(_told_width, key))


def _choose_view(tl: Timeline, prefix: str) -> tuple[str, tuple[int, int]]:
    """For a latent of more than 2 dims: the map in the final step's PCA or in two chosen dims."""
    D = tl.latent_dim
    if D <= 2:
        return "dims", (0, min(1, D - 1))
    c = st.columns([2, 1, 1])
    options = list(VIEWS)
    view = c[0].radio("Timeline map", options, widgets.kept_index(options, f"{prefix}.view", "pca"),
                      format_func=VIEWS.get, key=f"{prefix}.view", horizontal=True,
                      help="PCA: the two principal directions of the final step's codes, fitted once, so the axes "
                           "stay put while the codes move; or two latent dims as they are.")
    d0, d1 = page_parts.two_dims(D, prefix, (c[1], c[2]), disabled=view != "dims")
    return view, (d0, d1)


def _exports(track: Track, name: str) -> None:
    """The timeline as an animated GIF and as PNG frames, at the map's size in the page."""
    width = st.session_state.get(WIDTH) or 460
    tl, colours = track.ckpt.timeline, list(style().colors)

    def made() -> list:
        return frames.frames(tl, colours, width, track.view, track.dims)

    stem = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:40] or "timeline"
    c = st.columns(2)
    c[0].download_button("GIF of the timeline", lambda: frames.gif(made()), file_name=f"{stem}-timeline.gif",
                         mime="image/gif", on_click="ignore", icon=":material/download:", key=f"{track.key}.gif",
                         help=f"{len(tl)} frames, {width} px wide: the map's size in this page")
    c[1].download_button("PNG frames (zip)", lambda: frames.png_zip(tl, made()), file_name=f"{stem}-frames.zip",
                         mime="application/zip", on_click="ignore", icon=":material/download:", key=f"{track.key}.zip")


ABOUT = ("Every run keeps snapshots of its latent space as it trains: dense in the first steps, then at epoch ends. "
         "Drag the timeline (or focus it and use the arrow, Home and End keys) or press Play: the map, the "
         "reconstructions, the KL of each dim and the cursor on the loss curves follow, all in your browser. "
         "Purple marks on the timeline are β changes made while it trained; a shaded start is the KL warm-up.")


def _no_timeline(ckpt: Checkpoint) -> bool:
    """Say why there is nothing to show; True when there is nothing."""
    if ckpt.timeline_dropped:
        st.warning(f"This checkpoint's timeline was not loaded: {ckpt.timeline_dropped.removeprefix('its timeline was dropped ')}")
    if ckpt.timeline is None:
        if not ckpt.timeline_dropped:
            st.caption("This run keeps no timeline (it was trained before timelines were kept, or its latent is too "
                       "wide to keep one within 5 MB).")
        return True
    return False


def _one(ckpt: Checkpoint, stamp: str, name: str, prefix: str) -> None:
    view, dims = _choose_view(ckpt.timeline, prefix)
    track = Track(f"{stamp}:{view}:{dims[0]}:{dims[1]}", name, ckpt, view, dims)
    mount([track], key=f"{prefix}.component")
    _exports(track, name)


def panel(a, prefix: str = "latent.timeline") -> None:
    """The Latent space page: the active run's timeline, behind a switch (its snapshots are sent only
    when it is on)."""
    st.subheader("Watch it learn")
    if _no_timeline(a.ckpt):
        return
    tl = a.ckpt.timeline
    on = st.toggle(f"Replay how this map formed ({len(tl)} snapshots, step 0 to {tl.steps[-1]:,})",
                   widgets.kept(prefix, False), key=prefix)
    if not on:
        st.caption("Turn it on to scrub through the training of this model, or play it.")
        return
    st.caption(ABOUT)
    _one(a.ckpt, a.key, a.run.name, prefix)


def after_training(run_id: str, prefix: str = "train.timeline") -> None:
    """The Train page, once a run has ended: its timeline from its last checkpoint."""
    got = runs.latest_model(run_id)
    if got is None:
        return
    ckpt = got[0]
    st.subheader("Replay this run")
    if _no_timeline(ckpt):
        return
    st.caption(ABOUT)
    _one(ckpt, runs.workspace().checkpoint_stamp(run_id), runs.workspace().get(run_id).name, prefix)


def side_by_side(items: list[tuple[str, str, Checkpoint]], key: str = "compare.timeline") -> None:
    """The Compare page: runs (id, name, checkpoint) side by side on one timeline synced by epoch (each
    shows its last snapshot at or before the epoch on the scrubber); > 2-D latents in their final PCA."""
    st.subheader("Watch them learn, side by side")
    have = [(i, name, ckpt) for i, name, ckpt in items if ckpt.timeline is not None]
    missing = [name for i, name, ckpt in items if ckpt.timeline is None]
    if missing:
        st.caption(f"No timeline kept for: {', '.join(missing)}.")
    if len(have) < 2:
        st.info("Pick at least two runs that keep a timeline to replay them side by side.")
        return
    if not st.toggle("Replay their training side by side, synced by epoch", widgets.kept(key, False), key=key):
        return
    st.caption("One timeline for all: at each epoch every map shows its run's snapshot at or before it. Maps of more "
               "than 2 latent dims use the final step's PCA, fitted once. " + ABOUT.split(". ", 1)[1])
    ws = runs.workspace()
    tracks = []
    for i, name, ckpt in have:
        view = "pca" if ckpt.timeline.latent_dim > 2 else "dims"
        tracks.append(Track(f"{ws.checkpoint_stamp(i)}:{view}:0:1", name, ckpt, view, (0, 1)))
    mount(tracks, key=f"{key}.component", sync="epoch")
