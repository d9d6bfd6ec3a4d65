"""The workspaces this browser used recently, kept in the browser (localStorage), never on the server:
offered when an address names a workspace that is malformed or empty (a truncated link, a typo).

    remember_and_offer()   once per script run (app.py): remembers this workspace once something is
                           saved in it, and under a bad address lists the others as links
"""
from __future__ import annotations

import functools

import streamlit as st

from . import runs

KEY = "recent"              # the component's state: {"recent": [workspace ids]}
PROBLEM = "recent.problem"  # (the address problem, the page it was met on), said on that page
JS = """export default function ({ data, setStateValue }) {
  const KEY = "latent_explorer.workspaces";
  let list = [];
  try { list = JSON.parse(window.localStorage.getItem(KEY) || "[]"); } catch (e) { list = []; }
  if (!Array.isArray(list)) list = [];
  list = list.filter(w => typeof w === "string" && /^[A-Za-z0-9_-]{22}$/.test(w));
  if (data.want) setStateValue("recent", list.filter(w => w !== data.ws));
  if (data.remember) {
    list = [data.ws, ...list.filter(w => w !== data.ws)].slice(0, 8);
    try { window.localStorage.setItem(KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
  }
}"""


@functools.cache
def _component():
    return st.components.v2.component("latent_explorer.recent", js=JS)


def remember_and_offer(page: str) -> None:
    """Say what is wrong with the address (once, on the page it was opened on) with the workspaces this
    browser used recently as links; and remember this workspace once something is saved in it."""
    problem = runs.address_problem()
    if problem:
        st.session_state[PROBLEM] = (problem, page)
    said = st.session_state.get(PROBLEM)
    want = bool(said) and said[1] == page
    if want:
        recent = [w for w in (st.session_state.get(KEY) or {}).get("recent") or [] if runs.store().exists(w)]
        links = " · ".join(f"[{w[:8]}…](?ws={w})" for w in recent)
        st.warning(said[0] + (f" Workspaces this browser used recently: {links}." if recent else
                              " This browser has used no other workspace here."), icon=":material/folder_off:")
    ws = st.session_state["ws"]
    _component()(data={"ws": ws, "want": want, "remember": runs.store().exists(ws)}, key=KEY, height=0,
                 on_recent_change=lambda: None)
