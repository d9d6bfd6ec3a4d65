"""Link parameters: what a value in a lesson link may be, and where it goes in the page's state.

Each page declares its parameters once (ui.sitemap); ui.links reads them from the URL into the
widgets' session state before the page draws, and writes them back after. A parameter's `parse`
takes the URL's text and the active model's sizes (`Limits`) and raises ValueError saying what is
allowed; `text` turns a value back into the URL's text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from vae_core.config import KNOBS


@dataclass(frozen=True)
class Limits:
    """What a value in a link is checked against: the active model's sizes."""
    dims: int       # latent dims
    points: int     # examples on the map
    classes: int


@dataclass(frozen=True)
class Param:
    """One link parameter: `param` in the URL is the widget value at session-state `key`."""
    param: str                                  # its name in the URL
    key: str                                    # the widget's session-state key
    parse: Callable[[str, Limits], object]      # URL text -> value; ValueError says what is allowed
    text: Callable[[object], str] = str         # value -> URL text
    implies: dict = field(default_factory=dict)  # other keys set with it (e.g. the mode that shows it)

    def read(self):
        """The value on screen now (None: not drawn)."""
        return st.session_state.get(self.key)

    def apply(self, value, lim: Limits, put: Callable[[str, object], None]) -> None:
        """Put a link's value into session state with `put(key, value)` (ui.widgets.put: the widget's
        state and its kept copy), with what it implies."""
        put(self.key, value)
        for key, also in self.implies.items():
            put(key, also)


@dataclass(frozen=True)
class ListItem(Param):
    """A parameter kept as item `index` of a list in session state (the interpolation's two ends,
    `[a, b]`); `key` names the list and is a function (the list's key may depend on the model)."""
    index: int = 0
    default: Callable[[Limits], list] = lambda lim: [0, min(1, lim.points - 1)]
    mirror: str = ""   # a widget that shows this item (the end's index box): given the value too

    def read(self):
        items = st.session_state.get(self.key())
        return None if items is None else items[self.index]

    def apply(self, value, lim: Limits, put: Callable[[str, object], None]) -> None:
        items = list(st.session_state.get(self.key()) or self.default(lim))
        items[self.index] = value
        st.session_state[self.key()] = items
        if self.mirror:
            put(self.mirror, value)
        for key, also in self.implies.items():
            put(key, also)


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


def knob(name: str, key: str) -> Param:
    """A config knob as a link parameter: its range, parser and format are the knob's (vae_core.config).
    The value is the knob's text, as its form field (ui.knobs) holds it."""
    k = KNOBS[name]

    def parse(text: str, lim: Limits) -> str:
        try:
            return k.format(k.parse(text))
        except ValueError as e:  # '… must be 0 to 1,000,000, got -1': said as the link's own words
            raise ValueError(str(e).removeprefix(f"{name} ")) from None
    return Param(name, key, parse)


def dims(prefix: str) -> list[Param]:
    """The map's x and y latent dims (select boxes `{prefix}.d0`, `{prefix}.d1`)."""
    dim = integer(0, lambda lim: lim.dims)
    return [Param("x", f"{prefix}.d0", dim), Param("y", f"{prefix}.d1", dim)]
