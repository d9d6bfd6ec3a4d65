"""AppTest of the drawing pad (ui.draw): what the server sends the page (the rule, both weight
buffers once, the drawing's neighbours and pins, computed here by vae_core), the server path for a
model the page cannot run, and the drawing as the end A of the Interpolate page's path."""
from __future__ import annotations

import base64

import numpy as np
import torch

from test_app import default_key, open_app, texts
from test_decoder_app import decoders
from test_drawing import up
from vae_core import drawing, webdecoder, webencoder
from vae_core.config import Config
from vae_core.data import load_mnist10k, load_split
from vae_core.latent import encode, nearest
from vae_core.zoo import default_entry, load_entry, load_manifest

K = 3  # the test digit: mnist10k #3, drawn (uploaded) on the pad


def drawn(label=None) -> dict:
    raster = up(load_mnist10k().x[K, 0].numpy())
    return {"rev": "test-3", "raster": raster, "label": label,
            "png": "data:image/png;base64," + base64.b64encode(drawing.pad_png(raster)).decode()}


def draw_page(drawing_=None):
    at = open_app("pages/latent.py")
    if drawing_ is not None:
        at.session_state["draw.drawing"] = drawing_
    at.radio(key="latent.side").set_value("Draw").run()
    assert not at.exception, at.exception
    return at


def default_model():
    ckpt = load_entry(default_entry(load_manifest()))
    return ckpt, ckpt.build_model("cpu")


def test_the_pad_gets_the_rule_and_both_weight_buffers_once():
    at = draw_page()
    header = decoders(at)["draw"]
    ckpt, model = default_model()
    dec, _ = webdecoder.export(model)
    enc, _ = webencoder.export(model)
    assert header["rule"]["name"] == "mnist" and header["rule"]["shape"] == [1, 28, 28]
    assert header["rule"]["text"].startswith("As MNIST was made")
    assert header["encoder"]["key"] == "enc:" + default_key() and header["encoder"]["spec"] == enc
    # the hover decoder sent the decoder's weights on the page's first run: now only the encoder's
    assert "spec" not in header and header["payload"] == 4 * enc["size"] and header["encoder"]["offset"] == 0
    assert header["projection"] == {"A": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}
    assert header["drawing"] is None and header["pins"] == [] and not header.get("server")
    at.switch_page("pages/manifold.py").run()
    at.switch_page("pages/latent.py").run()
    again = decoders(at)["draw"]
    assert again["payload"] == 0 and "encoder" not in again and dec["size"] > 0


def test_a_drawing_gets_vae_cores_neighbours_and_can_be_pinned():
    at = draw_page(drawn())
    header = decoders(at)["draw"]
    ckpt, model = default_model()
    x = load_mnist10k().x[K:K + 1]
    mu, _ = encode(model, x)
    # the map's points of this model: the whole of mnist10k, train then validation split
    train, val = load_split(Config(dataset="mnist10k", seed=ckpt.config.seed, val_fraction=ckpt.config.val_fraction))
    codes, _ = encode(model, torch.cat([train.x, val.x]))
    near = nearest(codes.numpy(), mu[0].numpy(), 8)
    labels = torch.cat([train.y, val.y])[near].tolist()
    got = header["neighbours"]
    assert got["rev"] == "test-3" and got["labels"] == [str(k) for k in labels]
    np.testing.assert_allclose(got["z"], codes[near].numpy(), atol=1e-6)
    pixels = np.frombuffer(base64.b64decode(got["pixels"]), np.uint8).reshape(8, 1, 28, 28)
    np.testing.assert_array_equal(pixels, (torch.cat([train.x, val.x])[near].numpy() * 255).round())
    assert header["drawing"]["rev"] == "test-3"
    at.button(key="draw.pin").click().run()
    pins = decoders(at)["draw"]["pins"]
    assert [p["name"] for p in pins] == ["1"]
    np.testing.assert_allclose(pins[0]["mu"], mu[0].numpy(), atol=1e-6)
    assert at.button(key="draw.pin").disabled  # pinned already
    at.button(key="draw.unpin").click().run()
    assert decoders(at)["draw"]["pins"] == []


def test_a_model_the_page_cannot_run_is_encoded_on_the_server(monkeypatch):
    monkeypatch.setattr(webdecoder, "MAX_BYTES", 0)
    at = draw_page(drawn())
    header = decoders(at)["draw"]
    _, model = default_model()
    mu, logvar = encode(model, load_mnist10k().x[K:K + 1])
    assert "too many to send" in header["server"] and "encoded on the server" in texts(at)
    result = header["result"]
    assert result["rev"] == "test-3"
    np.testing.assert_allclose(result["mu"], mu[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(result["logvar"], logvar[0].numpy(), atol=1e-6)
    assert len(result["recon"]) == 784 and result["recon_nats"] > 0 and result["kl"] > 0


def test_the_drawing_is_the_interpolations_end_a():
    at = open_app("pages/interpolate.py")
    at.session_state["draw.drawing"] = drawn()
    at.radio(key="interp.how").set_value("my drawing as A").run()
    assert not at.exception, at.exception
    _, model = default_model()
    mu, _ = encode(model, load_mnist10k().x[K:K + 1])
    assert "**A** = your drawing" in texts(at)
    path = decoders(at)["path"]["path"]
    np.testing.assert_allclose(path[0], mu[0].numpy(), atol=1e-5)
    assert "draw" in decoders(at)


def test_points_have_no_pad():
    from test_app import workspace

    at = open_app("pages/latent.py")
    workspace(at).active = "zoo.toy2d-ae-2d"
    at.run()
    assert "latent.side" not in [r.key for r in at.radio] and "draw" not in decoders(at)
    at2 = open_app("pages/interpolate.py")
    workspace(at2).active = "zoo.toy2d-ae-2d"
    at2.run()
    assert "my drawing as A" not in at2.radio(key="interp.how").options
