"""The Train form's inputs, derived from the knobs' one declaration (vae_core.config.KNOBS).

A knob with choices is a select box; a number (or the hidden sizes) is a text field whose label
states its range. Its text is parsed as typed: '1e-6' reads as a number and shows as 1e-06, '1e9'
for a whole number of epochs or 'abc' is refused next to the field with the range, never replaced
by some other value, and Start waits for it. Each widget's key is `train.<knob>`; its text is kept
across page visits (ui.sitemap) and across reloads (the workspace keeps the form: `save`, `load`).
"""
from __future__ import annotations

import streamlit as st

from vae_core.config import KNOBS, Config
from vae_core.registry import MODELS, spec_of

from . import own_data, runs, widgets

PREFIX = "train."
FORM = "train_form"   # the workspace's copy of the form: {widget key: text}


def key(name: str) -> str:
    return PREFIX + name


def default_text(name: str, model: str | None = None, dataset: str | None = None, arch: str | None = None) -> str:
    """A knob's starting text: the model's own default (a β-VAE's β 4), a points dataset's likelihood
    (toy2d, or a workspace's CSV), the architecture's hidden sizes; else the config's."""
    k = KNOBS[name]
    if model is not None and name in spec_of(model).defaults:
        return k.format(spec_of(model).defaults[name])
    if name == "likelihood" and dataset is not None and (dataset.startswith("toy2d") or own_data.is_points(dataset)):
        return "gaussian"
    if name == "hidden" and arch == "conv":
        return "32,64"
    return k.format(k.default)


class Form:
    """The values the form holds this run ({knob: value}) and what is wrong with them."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self.problems: list[str] = []

    def field(self, where, name: str, default: str, label: str | None = None, **kw):
        """The input of knob `name` in `where` (a column), its value parsed (None if refused)."""
        k, wkey = KNOBS[name], key(name)
        text_now = widgets.kept(wkey, default)
        title = label or k.title
        if k.choices is not None:
            value = where.selectbox(title, k.choices, k.choices.index(text_now) if text_now in k.choices else
                                    k.choices.index(default), key=wkey, help=k.help, **kw)
        else:
            text = where.text_input(f"{title} ({k.range_text()})" if k.range_text() else title, text_now, key=wkey,
                                    help=k.help + (f" ({k.unit})" if k.unit else ""), **kw)
            try:
                value = k.parse(text)
            except ValueError as e:
                where.error(str(e), icon=":material/error:")
                self.problems.append(str(e))
                value = None
        self.values[name] = value
        return value

    def config(self, **fixed) -> Config:
        """The form's values (and `fixed` ones) as a checked Config; ValueError names a bad field."""
        if self.problems:
            raise ValueError("; ".join(self.problems))
        return Config(**{**{k: v for k, v in self.values.items() if v is not None}, **fixed}).validate()


def the_rest(shown, model: str, values: dict) -> list[str]:
    """The knobs the form has not drawn yet that this model reads: every general one, the variant
    knobs of this model (vae_core.registry: a β for the VAE family, λ for the contractive AE, ...),
    and a knob that matters only under another's value (σ: a Gaussian likelihood) only then. A new
    knob declared in vae_core.config appears here without any edit to the form."""
    variant = {k for spec in MODELS.values() for k in spec.knobs}
    return [name for name, k in KNOBS.items()
            if name not in shown and (name not in variant or name in spec_of(model).knobs)
            and (not k.when or values.get(k.when[0]) == k.when[1])]


def reset_for_model() -> None:
    """When the model changes: its own defaults (β 4 for a β-VAE) replace the form's values."""
    model = st.session_state[key("model")]
    for name, value in spec_of(model).defaults.items():
        widgets.put(key(name), KNOBS[name].format(value))


def reset_for_dataset() -> None:
    """When the dataset changes: the likelihood that suits it (Gaussian for 2-D points)."""
    widgets.put(key("likelihood"), default_text("likelihood", dataset=st.session_state[key("dataset")]))


def reset_for_arch() -> None:
    """When the architecture changes: hidden sizes it can take (conv: channels per layer)."""
    widgets.put(key("hidden"), default_text("hidden", arch=st.session_state[key("arch")]))


def load() -> None:
    """Once per session: the form as this workspace last had it (a reload, a second tab)."""
    if st.session_state.get("train.form_loaded") == runs.workspace().id:
        return
    st.session_state["train.form_loaded"] = runs.workspace().id
    saved = runs.workspace().setting(FORM)
    for k, text in saved.items() if isinstance(saved, dict) else ():
        if k.startswith(PREFIX) and isinstance(text, str) and k not in st.session_state[widgets.KEPT]:
            st.session_state[widgets.KEPT][k] = text


def save(keys) -> None:
    """Keep the form's texts (the kept `keys`, ui.sitemap) in the workspace when they change: not on
    every run, which would be a disk write each time."""
    texts = {k: st.session_state[k] for k in keys if isinstance(st.session_state.get(k), str)}
    if texts and texts != st.session_state.get("train.form_saved"):
        runs.workspace().set_setting(FORM, texts)
        st.session_state["train.form_saved"] = texts
