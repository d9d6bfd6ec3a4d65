"""AppTest of the pages' in-page decoders (ui.decoder): what the server sends the page, and the
server path that a model the page can't decode falls back to."""
from __future__ import annotations

import numpy as np

from test_app import default_key, open_app, pictures, texts, workspace
from vae_core import webdecoder


def decoders(at) -> dict[str, dict]:
    """The in-page decoders on the page: mode -> the header the server sent (with "payload": its bytes)."""
    found = {}
    for element in at.get("bidi_component"):
        if not element.proto.component_name.endswith("decoder"):  # e.g. ui.screen's, which draws nothing
            continue
        header, payload = webdecoder.unframe(element.proto.bytes)
        found[header["mode"]] = {**header, "payload": len(payload)}
    return found


def test_weights_go_to_the_page_once_per_model():
    at = open_app("pages/latent.py")
    first = decoders(at)["map"]
    model = default_key()
    assert first["model"] == model and first["payload"] == 4 * first["spec"]["size"] > 0
    assert first["chart"] == f"latent.map.{model}" and first["dims"] == [0, 1]
    at.switch_page("pages/manifold.py").run()
    again = decoders(at)["map"]
    assert again["model"] == model and again["payload"] == 0 and "spec" not in again
    at.switch_page("pages/interpolate.py").run()
    assert {d["payload"] for d in decoders(at).values()} == {0}


def test_other_dims_follow_the_selected_example():
    from vae_core import zoo

    sprites = next(e for e in zoo.load_manifest() if e.id == "sprites-betavae")
    at = open_app("pages/latent.py")
    workspace(at).active = f"zoo.{sprites.id}"
    at.run()
    bases = decoders(at)["map"]["bases"]
    assert [b["name"] for b in bases] == ["0 (select an example to use its μ)"] and bases[0]["z"] == [0.0] * 8
    at.session_state[f"latent.selected.{sprites.sha256}"] = [4]
    at.run()
    header = decoders(at)["map"]
    assert [b["name"] for b in header["bases"]] == ["μ of example #4", "0"]
    mu = np.array(header["bases"][0]["z"])
    assert np.abs(mu).sum() > 0 and header["xy"] == [mu[0], mu[1]]


def test_a_model_the_page_cannot_decode_is_decoded_on_the_server(monkeypatch):
    monkeypatch.setattr(webdecoder, "MAX_BYTES", 0)
    at = open_app("pages/interpolate.py")
    at.slider(key="interp.t").set_value(0.8).run()
    assert not at.exception and not decoders(at)
    assert "t = 0.80" in texts(at) and "decoded on the server" in texts(at)
    assert len(pictures(at)) >= 3  # z(t), the strip, the knobs: drawn by the server
    at.switch_page("pages/latent.py").run()
    at.session_state[f"latent.selected.{default_key()}"] = [5]
    at.run()
    assert "Example #5" in texts(at) and len(pictures(at)) == 1 and not decoders(at)


def live_page():
    """A stand-in for the Train page: a model that changes with each epoch, shown live; `loads`
    counts the checkpoints read."""
    import streamlit as st
    import torch

    from ui import decoder
    from vae_core import Config
    from vae_core.models import Autoencoder

    def latest():
        st.session_state["loads"] = st.session_state.get("loads", 0) + 1
        epoch = st.session_state.setdefault("epoch", 0)
        torch.manual_seed(epoch)
        return epoch, Autoencoder(Config(hidden=(16,), latent_dim=2), (1, 8, 8), 10).eval()

    decoder.live(latest, "run-1")


def test_a_training_model_is_read_and_reaches_the_page_at_most_once_a_second_and_per_epoch(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui import decoder

    clock = [100.0]
    monkeypatch.setattr(decoder.time, "monotonic", lambda: clock[0])
    at = AppTest.from_function(live_page, default_timeout=60).run()
    first = decoders(at)["pad"]
    assert first["model"] == "live:run-1:0" and first["payload"] > 0 and at.session_state["loads"] == 1
    at.session_state["epoch"] = 1
    clock[0] += 0.5  # a new epoch, but within the second: no checkpoint read, the page keeps its weights
    at.run()
    assert decoders(at)["pad"]["model"] == "live:run-1:0" and decoders(at)["pad"]["payload"] == 0
    assert at.session_state["loads"] == 1 and "epoch 0" in decoders(at)["pad"]["title"]
    clock[0] += 0.6
    at.run()
    second = decoders(at)["pad"]
    assert second["model"] == "live:run-1:1" and second["payload"] == first["payload"] and "epoch 1" in second["title"]
    assert at.session_state["loads"] == 2
    clock[0] += 5  # a second later, the same epoch: read again, nothing new to send
    at.run()
    assert decoders(at)["pad"]["model"] == "live:run-1:1" and decoders(at)["pad"]["payload"] == 0
    assert at.session_state["loads"] == 3
