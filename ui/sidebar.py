"""The sidebar: the active model, the model switcher, upload and download."""
from __future__ import annotations

import streamlit as st

from vae_core.checkpoint import CheckpointError
from vae_core.registry import MODELS

from . import state

ORIGIN = {"shipped": "pretrained", "trained": "trained here", "uploaded": "uploaded"}


def _switch() -> None:
    st.session_state["model.active"] = st.session_state["sidebar.pick"]


def render() -> None:
    items = state.library()
    a = state.active()
    with st.sidebar:
        st.subheader("Model")
        if not items:
            st.info("No model yet: train one on the Train page.")
            return
        st.session_state["sidebar.pick"] = a.key  # follow the active model, also when a page changed it
        st.selectbox("Active model", list(items), key="sidebar.pick", on_change=_switch,
                     format_func=lambda k: f"{items[k].label} · {ORIGIN[items[k].origin]}")
        cfg, ckpt = a.cfg, a.item.ckpt
        m = ckpt.metrics
        beta = f" · β = {cfg.beta:g}" if MODELS[cfg.model].variational else ""
        st.markdown(f"**{MODELS[cfg.model].label}** on **{cfg.dataset}**  \n"
                    f"latent_dim = {cfg.latent_dim}{beta}  \n"
                    f"{ckpt.progress['epoch']} epochs · {cfg.likelihood} likelihood · {cfg.arch} {list(cfg.hidden)}")
        terms = [f"{k} **{m[f'val_{k}']:.2f}**" for k in ("loss", "recon", "kl", "penalty") if f"val_{k}" in m]
        if terms:
            st.markdown("validation, nats per example:  \n" + " · ".join(terms))
        if a.item.about:
            st.caption(a.item.about)
        st.caption(f"running on **{state.device_name()}**")
        st.download_button("Download checkpoint", a.item.blob, file_name=f"{a.item.label.split(' (')[0]}.safetensors",
                           mime="application/octet-stream", key="sidebar.download", width="stretch")
        up = st.file_uploader("Open a checkpoint (.safetensors)", type=["safetensors"], key="sidebar.upload")
        if up is not None and up.file_id not in st.session_state["upload.seen"]:
            st.session_state["upload.seen"].add(up.file_id)
            try:
                state.add_upload(up.name.rsplit(".", 1)[0], up.getvalue())
                st.rerun()
            except CheckpointError as e:
                st.error(f"Not loaded: {e}")
        for msg in state.shipped()[1]:
            st.warning(f"A pretrained model is unavailable: {msg}")
