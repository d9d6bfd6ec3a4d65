"""One declaration per knob (vae_core.config.KNOBS): the same range in the config's validation, the
command lines' --help, the Train form's label and the Train page's link parameter; and one parser
for typed numbers and lists."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from vae_core.cli import sweep as sweep_cli
from vae_core.cli import train as train_cli
from vae_core.config import KNOBS, Config
from vae_core.registry import MODELS
from ui import sitemap
from ui.params import Limits

ROOT = Path(__file__).resolve().parents[1]
FORM_KNOBS = [n for n in KNOBS if n not in ("dataset", "model")]  # dataset and model: open names


def refused(name: str):
    """A value just outside the knob's range (or not among its choices)."""
    k = KNOBS[name]
    if k.choices is not None:
        return "nonsense"
    if k.kind is tuple:
        return (int(k.high) + 1,)
    if math.isfinite(k.high):
        return k.kind(k.high * 2 if k.high > 0 else k.high + 1) if not k.high_open else k.kind(k.high)
    return k.kind(k.low) if k.low_open else k.kind(k.low - 1 if k.kind is int else k.low / 2)


def showing(name: str) -> dict:
    """Form settings under which the Train form shows knob `name`."""
    model = next((m for m, spec in MODELS.items() if name in spec.knobs), "vae")
    return {"train.model": model, **({"train.likelihood": "gaussian"} if name == "sigma" else {})}


@pytest.mark.parametrize("name", FORM_KNOBS)
def test_a_knob_has_one_range_in_the_config_the_cli_the_form_and_the_link(name):
    k = KNOBS[name]
    allowed, bad = k.range_text(), refused(name)
    assert allowed
    # the config refuses it, saying the range
    with pytest.raises(ValueError, match=re.escape(f"{name} must be {allowed}")):
        Config(**{name: bad}).validate()
    # the command lines' flags state it (a sweep's list flags too)
    for cli in (train_cli, sweep_cli):
        action = cli.build_parser()._option_string_actions[k.flag]
        assert allowed in action.help, (cli.__name__, action.help)
    # the Train form's field says it in its label (a select box lists exactly the choices)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/train.py").run()
    for key, value in showing(name).items():
        at.selectbox(key=key).set_value(value).run()
    if k.choices is not None:
        assert tuple(at.selectbox(key=f"train.{name}").options) == k.choices
    else:
        assert allowed in at.text_input(key=f"train.{name}").label
    # the Train page's link parameter (ui.sitemap) refuses it with the same words and takes a good one
    (param,) = [p for p in sitemap.spec("train").params if p.param == name]
    with pytest.raises(ValueError, match=re.escape(f"must be {allowed}")):
        param.parse(k.format(bad) if k.kind is not str else bad, Limits(2, 10, 10))
    assert param.parse(k.format(k.default), Limits(2, 10, 10)) == k.format(k.default)


def test_typed_numbers_parse_once_for_every_input():
    lr, epochs, hidden, beta = KNOBS["lr"], KNOBS["epochs"], KNOBS["hidden"], KNOBS["beta"]
    assert lr.parse("1e-6") == 1e-6 and lr.format(1e-6) == "1e-06"
    assert epochs.parse("1,000") == 1000 and epochs.parse("20.0") == 20
    for text in ("abc", "2.5", "1e9", "nan", "inf", ""):
        with pytest.raises(ValueError, match="epochs must be"):
            epochs.parse(text)
    assert hidden.parse("512, 256") == (512, 256) and hidden.format((512, 256)) == "512,256"
    assert beta.parse_list("0.25, 1; 4") == [0.25, 1.0, 4.0] and beta.parse_list(" ") == []
    with pytest.raises(ValueError, match=re.escape("beta must be 0 to 1,000,000, got -1")):
        beta.parse_list("1, -1")


def test_a_live_beta_is_checked_against_the_same_range(digits_split):
    from vae_core import Trainer
    from conftest import tiny

    trainer = Trainer(tiny("beta_vae"), *digits_split, device="cpu")
    with pytest.raises(ValueError, match=re.escape("beta must be 0 to 1,000,000, got 2,000,000")):
        trainer.set_beta(2e6)  # the next checkpoint could not have been saved with it
    trainer.set_beta(1e6)
    assert trainer.checkpoint().config.beta == 1e6
