"""Lesson links: the URL holds the page and its main settings, so a teacher can hand out a view.

    http://127.0.0.1:8501/manifold?model=digits-vae-2d&x=0&y=1&n=12&span=2.5&spacing=quantile&hide=sidebar,train&present=1

`read()` runs first in every run: when the URL's settings differ from the ones this session last
wrote, a link was just opened, and its `model`, `present` and `hide` take effect at once;
`restore(page)` then puts the page's settings into its widgets' session state before they are drawn,
so the page shows exactly that view. `write(page)` runs after the page and sets the URL to what is on
screen, so the address bar is always a link to the current view. Each page declares its parameters
in ui.sitemap (with `model`, `present` and `hide` on every page); only those are ever set or
removed: any other one (a workspace id, ...) stays as it is.
"""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from vae_core import zoo

from . import presentation, runs, sitemap, views, widgets
from .params import Limits

HIDE = {"sidebar": "the sidebar", "nav": "the page list", "train": "the Train and Your data pages",
        "explain": "the explanation under each title"}
SEEN = "links.seen"      # the settings this session last read or wrote, {param: text}
HIDDEN = "view.hide"     # set of HIDE flags, kept for the session
PAGE = "links.page"      # the url path of the page this run shows
EVERY_PAGE = ("model", "present", "hide")


def _ours() -> set[str]:
    """Every parameter the app owns in the URL: every page's (ui.sitemap) and `model`, `present`, `hide`."""
    return {*EVERY_PAGE, *(p.param for page in sitemap.PAGES for p in page.params)}


# --- models by name ---------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _zoo_ids() -> dict[str, str]:
    """Shipped model id (checkpoints/manifest.json) -> its checkpoint's sha256."""
    try:
        return {e.id: e.sha256 for e in zoo.load_manifest() if e.ok}
    except zoo.ZooError:
        return {}


def model_ref(run: runs.Run) -> str:
    """The name a link gives a model: a pretrained model's id, a shared run's share id, else the run's
    id in its workspace."""
    return run.id.removeprefix("zoo.") if run.origin == "shipped" else run.id


def _run_of(ref: str) -> str | None:
    """The run a link's `model` names, in this workspace: a pretrained id (or its sha256), another
    workspace's run by its share id (added to this workspace's list, read-only), or a run id."""
    ws = runs.workspace()
    if ref.startswith("share."):
        try:
            return ws.open_shared(ref).id
        except runs.RunStoreError:
            return None
    by_sha = {sha: ident for ident, sha in _zoo_ids().items()}
    ref = by_sha.get(ref, ref)
    candidates = [f"zoo.{ref}"] if ref in _zoo_ids() else [ref]
    for run_id in candidates:
        try:
            if ws.has_checkpoint(run_id):
                return run_id
        except runs.RunStoreError:
            pass
    return None


# --- reading a link ---------------------------------------------------------------------------


def ours() -> dict[str, str]:
    """This module's parameters in the URL, as text (a repeated one: its last value)."""
    ours = _ours()
    return {k: st.query_params[k] for k in st.query_params if k in ours}


def hidden(part: str) -> bool:
    """Whether a link asked to hide `part` (a HIDE flag)."""
    return part in st.session_state.get(HIDDEN, ())


def read() -> dict[str, str] | None:
    """First thing in a run. When a link was just opened (the URL's settings are not those this
    session last wrote), apply its model, presentation mode and hidden parts, and return its
    settings for `restore`; else None. A value that cannot be used is named in a warning."""
    link = ours()
    if link == st.session_state.get(SEEN):
        return None
    st.session_state[SEEN] = link
    problems = []
    if "present" in link:
        st.session_state[presentation.KEY] = link["present"].lower() in ("1", "true", "yes", "on")
    if "hide" in link:
        flags = {f.strip() for f in link["hide"].split(",") if f.strip()}
        st.session_state[HIDDEN] = flags & set(HIDE)
        if flags - set(HIDE):
            problems.append(f"`hide` knows {', '.join(HIDE)}; not {', '.join(sorted(flags - set(HIDE)))}")
    if "model" in link:
        run_id = _run_of(link["model"])
        if run_id is not None:
            runs.activate(run_id)
        else:
            problems.append(f"the model `{link['model'][:16]}` is not here: it is neither a pretrained model, "
                            "a run shared by its link, nor a run of this workspace (ask for its share link, or open "
                            "its checkpoint in the sidebar, then the link again)")
    st.session_state["links.problems"] = problems
    return link


def restore(link: dict[str, str] | None, page: str) -> None:
    """Put the link's settings for `page` into the widgets' session state, before they are drawn."""
    st.session_state[PAGE] = page
    if link is None:
        return
    problems = st.session_state.pop("links.problems", [])
    limits = _limits()
    for p in sitemap.params_of(page) if limits else ():
        if p.param in link:
            try:
                p.apply(p.parse(link[p.param], limits), limits, widgets.put)
            except ValueError as e:
                problems.append(f"`{p.param}={link[p.param]}` {str(e).replace('invalid literal', 'is not a number')}")
    if problems:
        st.warning("This link was opened, but not all of it applies here: " + "; ".join(problems) + ".",
                   icon=":material/link_off:")


def _limits() -> Limits | None:
    got = runs.active()
    if got is None:
        return None
    try:
        pts = views.points(got)
    except (ValueError, OSError):  # the page itself says why it cannot show this model
        return None
    return Limits(pts.mu.shape[1], len(pts.mu), len(pts.data.class_names))


# --- writing the view back ----------------------------------------------------------------------


def current(page: str | None = None) -> dict[str, str]:
    """The link parameters of what is on screen now."""
    page = st.session_state.get(PAGE, "") if page is None else page
    out = {}
    a = runs.active()
    if a is not None and page != "train":
        out["model"] = model_ref(a.run)
    for p in sitemap.params_of(page):
        value = p.read()
        if value is not None:
            out[p.param] = p.text(value)
    if presentation.is_on():
        out["present"] = "1"
    if st.session_state.get(HIDDEN):
        out["hide"] = ",".join(sorted(st.session_state[HIDDEN]))
    return out


def write(page: str | None = None) -> None:
    """Set the URL to the current view: our parameters only, the others left as they are."""
    values = current(page)
    qp = st.query_params
    for k in _ours():
        if k in values:
            if qp.get(k) != values[k]:
                qp[k] = values[k]
        elif k in qp:
            del qp[k]
    st.session_state[SEEN] = values


def share() -> None:
    """"Link to this view": the full URL in a code box, which has a copy button."""
    page = st.session_state.get(PAGE, "")
    base = st.context.url or f"/{page}"
    with st.expander("Link to this view", icon=":material/link:"):
        st.code(f"{base}?{urlencode(current())}", language=None, wrap_lines=True)
        st.caption("Copy it with the icon at its right. Opening it shows this page with these settings. Add "
                   "`&present=1` for presentation mode, `&hide=sidebar,train` to hide parts "
                   f"({', '.join(HIDE)}).")
