"""Lesson links: the URL holds the page and its main settings, so a teacher can hand out a view.

    http://127.0.0.1:8501/manifold?model=digits-vae-2d&x=0&y=1&n=12&span=2.5&spacing=quantile&hide=sidebar,train&present=1

`read()` runs first in every run: when the URL's settings differ from the ones this session last
wrote, a link was just opened, and its `model`, `present` and `hide` take effect at once;
`restore(page)` then puts the page's settings into its widgets' session state before they are drawn,
so the page shows exactly that view. `write(page)` runs after the page and sets the URL to what is on
screen, so the address bar is always a link to the current view. Only the parameters named here are
ever set or removed: any other one (a workspace id, ...) stays as it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

import streamlit as st

from vae_core import zoo
from vae_core.latent import PATHS

from . import presentation, runs, views

HIDE = {"sidebar": "the sidebar", "nav": "the page list", "train": "the Train page",
        "explain": "the explanation under each title"}
SEEN = "links.seen"      # the settings this session last read or wrote, {param: text}
HIDDEN = "view.hide"     # set of HIDE flags, kept for the session
PAGE = "links.page"      # the url path of the page this run shows


@dataclass(frozen=True)
class Limits:
    """What a value in a link is checked against: the active model's sizes."""
    dims: int       # latent dims
    points: int     # examples on the map
    classes: int


@dataclass(frozen=True)
class Setting:
    param: str                                  # its name in the URL
    key: str                                    # the widget's session-state key
    parse: Callable[[str, Limits], object]      # URL text -> value; ValueError says what is allowed
    text: Callable[[object], str] = str         # value -> URL text


def integer(low: int, high: Callable[[Limits], int]):
    """Whole numbers in [low, high(limits))."""
    def parse(text: str, lim: Limits) -> int:
        value, top = int(text), high(lim)
        if not low <= value < top:
            raise ValueError(f"must be {low} … {top - 1}")
        return value
    return parse


def number(low: float, high: float, step: float):
    """Numbers in [low, high], rounded to the slider's step."""
    def parse(text: str, lim: Limits) -> float:
        value = float(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return round(round((value - low) / step) * step + low, 6)
    return parse


def choice(options: dict[str, object]):
    """One of a few words; `options` maps the URL word to the widget's value."""
    def parse(text: str, lim: Limits):
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return options[text]
    return parse


def word_of(options: dict[str, object]) -> Callable[[object], str]:
    return lambda value: next(w for w, v in options.items() if v == value)


def dims(prefix: str) -> list[Setting]:
    dim = integer(0, lambda lim: lim.dims)
    return [Setting("x", f"{prefix}.d0", dim), Setting("y", f"{prefix}.d1", dim)]


VIEW = {"dims": "two dims", "pca": "PCA", "tsne": "t-SNE"}
COLOUR = {w: w for w in ("label", "scale", "rotation", "pos_x", "pos_y")}
SPACING = {"linear": "linear", "quantile": "quantile"}
LABELS = {"one": "one label", "all": "all labels"}
PATH = {name: name for name in PATHS}

PAGES: dict[str, list[Setting]] = {
    "latent": [Setting("view", "latent.view", choice(VIEW), word_of(VIEW)), *dims("latent"),
               Setting("colour", "latent.colour", choice(COLOUR))],
    "manifold": [*dims("manifold"), Setting("n", "manifold.n", integer(3, lambda lim: 31)),
                 Setting("span", "manifold.span", number(0.5, 6.0, 0.25), lambda v: f"{v:g}"),
                 Setting("spacing", "manifold.spacing", choice(SPACING)),
                 Setting("labels", "manifold.labels", choice(LABELS), word_of(LABELS)),
                 Setting("label", "manifold.label", integer(0, lambda lim: lim.classes))],
    "interpolate": [Setting("path", "interp.method", choice(PATH)),
                    Setting("t", "interp.t", number(0.0, 1.0, 0.01), lambda v: f"{v:.2f}")],
}
ENDS = ("a", "b")        # the interpolation's end points, example indices (Interpolate page)
BETA = "beta"            # the β of the Train form (Train page, β-weighted models)
OURS = {"model", "present", "hide", BETA, *ENDS, *(s.param for page in PAGES.values() for s in page)}


# --- models by name ---------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _zoo_ids() -> dict[str, str]:
    """Shipped model id (checkpoints/manifest.json) -> its checkpoint's sha256."""
    try:
        return {e.id: e.sha256 for e in zoo.load_manifest() if e.ok}
    except zoo.ZooError:
        return {}


def model_ref(run: runs.Run) -> str:
    """The name a link gives a model: a pretrained model's id, else the run's id in its workspace."""
    return run.id.removeprefix("zoo.") if run.readonly else run.id


def _run_of(ref: str) -> str | None:
    """The run a link's `model` names, in this workspace: a pretrained id (or its sha256), or a run id."""
    by_sha = {sha: ident for ident, sha in _zoo_ids().items()}
    ref = by_sha.get(ref, ref)
    candidates = [f"zoo.{ref}"] if ref in _zoo_ids() else [ref]
    ws = runs.workspace()
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
    return {k: st.query_params[k] for k in st.query_params if k in OURS}


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
            problems.append(f"the model `{link['model'][:16]}` is not here: it is neither a pretrained model nor "
                            "a run of this workspace (open its workspace's address, or its checkpoint in the "
                            "sidebar, then the link again)")
    st.session_state["links.problems"] = problems
    return link


def restore(link: dict[str, str] | None, page: str) -> None:
    """Put the link's settings for `page` into the widgets' session state, before they are drawn."""
    st.session_state[PAGE] = page
    if link is None:
        return
    problems = st.session_state.pop("links.problems", [])
    limits = _limits()
    settings = PAGES.get(page, []) if limits else []
    for s in settings:
        if s.param in link:
            try:
                _set(s.key, s.parse(link[s.param], limits))
            except ValueError as e:
                problems.append(f"`{s.param}={link[s.param]}` {str(e).replace('invalid literal', 'is not a number')}")
    if page == "interpolate" and limits and set(ENDS) & set(link):
        problems += _restore_ends(link, limits)
    if page == "train" and BETA in link:
        problems += _restore_beta(link[BETA])
    if problems:
        st.warning("This link was opened, but not all of it applies here: " + "; ".join(problems) + ".",
                   icon=":material/link_off:")


def _set(key: str, value) -> None:
    """A widget's value before it is drawn; also its kept copy (ui.widgets), which pages pass as default."""
    st.session_state[key] = value
    st.session_state["widgets.kept"][key] = value


def _limits() -> Limits | None:
    got = runs.active()
    if got is None:
        return None
    try:
        pts = views.points(got)
    except (ValueError, OSError):  # the page itself says why it cannot show this model
        return None
    return Limits(pts.mu.shape[1], len(pts.mu), len(pts.data.class_names))


def _ends_key() -> str:
    a = runs.active()
    return f"interp.ends.{a.key if a else None}"


def _restore_ends(link: dict[str, str], limits: Limits) -> list[str]:
    index = integer(0, lambda lim: lim.points)
    ends = list(st.session_state.get(_ends_key(), [0, min(1, limits.points - 1)]))
    problems = []
    for k, param in enumerate(ENDS):
        if param in link:
            try:
                ends[k] = index(link[param], limits)
            except ValueError as e:
                problems.append(f"`{param}={link[param]}` {e}")
    st.session_state[_ends_key()] = ends
    _set("interp.how", "by index")
    _set("interp.ia", ends[0])
    _set("interp.ib", ends[1])
    return problems


def _train_beta_key() -> str:
    model = st.session_state.get("train.model", st.session_state["widgets.kept"].get("train.model", "vae"))  # as the form
    return f"train.beta.{model}"


def _restore_beta(text: str) -> list[str]:
    try:
        _set(_train_beta_key(), number(0.0, 100.0, 0.01)(text, Limits(0, 0, 0)))
        return []
    except ValueError as e:
        return [f"`beta={text}` {e}"]


# --- writing the view back ----------------------------------------------------------------------


def current(page: str | None = None) -> dict[str, str]:
    """The link parameters of what is on screen now."""
    page = st.session_state.get(PAGE, "") if page is None else page
    out = {}
    a = runs.active()
    if a is not None and page != "train":
        out["model"] = model_ref(a.run)
    for s in PAGES.get(page, []):
        value = st.session_state.get(s.key)
        if value is not None:
            out[s.param] = s.text(value)
    if page == "interpolate" and _ends_key() in st.session_state:
        out.update(zip(ENDS, map(str, st.session_state[_ends_key()])))
    if page == "train" and st.session_state.get(_train_beta_key()) is not None:
        out[BETA] = f"{st.session_state[_train_beta_key()]:g}"
    if presentation.is_on():
        out["present"] = "1"
    if st.session_state.get(HIDDEN):
        out["hide"] = ",".join(sorted(st.session_state[HIDDEN]))
    return out


def write(page: str | None = None) -> None:
    """Set the URL to the current view: our parameters only, the others left as they are."""
    values = current(page)
    qp = st.query_params
    for k in OURS:
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
