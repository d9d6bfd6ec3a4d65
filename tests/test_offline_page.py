"""The offline page's file (ui.offline): the app's own decoder.js inside it byte for byte, ≤ 3 MB for a
784-400-2 MNIST model with 10,000 points, float16 weights (the fallback above the budget) within 1/255
of float32 for every shipped model, and user text that stays text. The page in a real browser:
tests/test_browser_offline.py."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import types
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

from ui import offline
from ui.offline import views as offline_views
from ui.views import Points
from vae_core import runcard, webdecoder
from vae_core.checkpoint import Checkpoint
from vae_core.config import Config
from vae_core.data import Dataset
from vae_core.models import Autoencoder
from vae_core.zoo import load_entry, load_manifest

HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2"> & <!-- "quoted" \u2028'


def mnist_400(n: int = 10_000):
    """A 784-400-2 MNIST-shaped VAE and n points (their codes at random: the size does not depend on them)."""
    torch.manual_seed(0)
    cfg = Config(model="vae", dataset="mnist10k", hidden=(400,), latent_dim=2)
    model = Autoencoder(cfg, (1, 28, 28), 10).eval()
    rng = np.random.default_rng(0)
    data = Dataset("mnist10k", torch.zeros(1, 1, 28, 28).expand(n, -1, -1, -1), torch.from_numpy(rng.integers(0, 10, n)),
                   [str(k) for k in range(10)], (1, 28, 28))
    mu = rng.normal(0, 1.5, (n, 2)).astype(np.float32)
    pts = Points("whole dataset", data, mu, np.ones_like(mu), np.zeros(n), None)
    ckpt = Checkpoint(cfg, {"image_shape": [1, 28, 28], "class_names": data.class_names, "n_train": 9000,
                            "n_val": 1000}, model.state_dict(), metrics={"val_loss": 140.5, "val_recon": 135.0,
                                                                          "val_kl": 5.5})
    return model, pts, ckpt


def latent_page(model, pts, ckpt, caption="", name="run", dtype=None) -> str:
    a = types.SimpleNamespace(model=model)
    view = offline_views.latent(a, pts, "two dims", (0, 1), pts.mu, ("z0", "z1"), selected=[0], prior=True,
                                explain=name)
    return offline.page([view], model, "key", name, caption, runcard.card(ckpt, name), "http://127.0.0.1:8501/latent",
                        dtype)


class Scripts(HTMLParser):
    """Every element's tag and attributes, and each <script>'s text, as a browser's parser splits them."""

    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in = dict(attrs)
            self.scripts.append([dict(attrs), ""])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self.scripts[-1][1] += data


def parsed(html: str) -> Scripts:
    p = Scripts()
    p.feed(html)
    return p


def test_a_784_400_2_model_with_10000_points_fits_in_3_mb_with_its_float32_weights():
    model, pts, ckpt = mnist_400()
    html = latent_page(model, pts, ckpt)
    size = len(html.encode())
    data = json.loads(parsed(html).scripts[0][1])
    assert data["model"]["spec"]["dtype"] == "float32"  # the app's own bytes: the same pixels
    assert size <= offline.MAX_BYTES, size
    spec, weights = webdecoder.export(model, "float32")
    assert base64.b64decode(data["model"]["weights"]) == weights
    print(f"784-400-2 VAE, 10,000 points: {size / 2**20:.2f} MB")  # (the report's figure; -s shows it)


def test_the_page_runs_the_apps_own_decoder_js_not_a_copy():
    model, pts, ckpt = mnist_400(500)
    (_, code), = [s for s in parsed(latent_page(model, pts, ckpt)).scripts if s[0].get("type") == "module"]
    assert code.startswith((offline.DECODER / "decoder.js").read_text())
    assert (offline.HERE / "page.js").read_text() in code and code.rstrip().endswith("start();")


def test_coordinates_are_quantised_within_a_65535th_of_their_range():
    xy = np.random.default_rng(1).normal(0, 3, (1000, 2))
    q = offline.quantised(xy)
    u = np.frombuffer(base64.b64decode(q["data"]), "<u2").reshape(-1, 2)
    back = np.asarray(q["lo"]) + u / 65535 * (np.asarray(q["hi"]) - np.asarray(q["lo"]))
    assert np.abs(back - xy).max() <= (xy.max(0) - xy.min(0)).max() / 65535 / 2 + 1e-12


def test_user_text_is_data_never_markup_or_code():
    model, pts, ckpt = mnist_400(200)
    pts.data.class_names[3] = HOSTILE  # a class name from a user's dataset
    html = latent_page(model, pts, ckpt, caption=HOSTILE, name=HOSTILE)
    p = parsed(html)
    assert [t for t, _ in p.tags if t == "script"] == ["script", "script"]  # no script the text could open
    assert not any(t == "img" or any(k.startswith("on") for k in attrs) for t, attrs in p.tags)
    (attrs, text), module = p.scripts
    assert attrs == {"type": "application/json", "id": "latent-explorer-data"}
    assert re.search(r"[<>&\u2028]", text) is None
    data = json.loads(text)
    assert data["caption"] == data["title"] == HOSTILE and data["views"][0]["map"]["classes"][3] == HOSTILE
    # the policy lets no script run but the page's own, and nothing be fetched
    csp = next(a["content"] for t, a in p.tags if a.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(module[1].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in csp and csp.startswith("default-src 'none';")
    assert "unsafe" not in csp
    assert "innerHTML" not in module[1] and "insertAdjacentHTML" not in module[1]


@pytest.mark.parametrize("entry", load_manifest(), ids=lambda e: e.id)
def test_float16_weights_decode_within_1_255_of_float32(entry):
    """Above the budget the page carries float16 weights: every shipped model's pictures stay within
    one grey level of the float32 decoder's (the app's), over 200 codes of the prior's bulk."""
    model = load_entry(entry).build_model("cpu")
    spec32, w32 = webdecoder.export(model, "float32")
    spec16, w16 = webdecoder.export(model, "float16")
    z = np.random.default_rng(0).normal(0, 1.5, (200, model.latent_dim)).astype(np.float32)
    y = np.arange(200) % model.n_cond if model.n_cond else None
    a = webdecoder.reference_decode(spec32, webdecoder.weights(spec32, w32), z, y)
    b = webdecoder.reference_decode(spec16, webdecoder.weights(spec16, w16), z, y)
    if len(model.shape) == 3:
        grey = lambda v: np.round(np.clip(v, 0, 1) * 255)  # noqa: E731 (as decoder.js draws)
        assert np.abs(grey(a) - grey(b)).max() <= 1
    else:
        assert np.abs(a - b).max() <= 1 / 255


def test_float16_when_float32_does_not_fit_and_a_message_when_nothing_does(monkeypatch):
    model, pts, ckpt = mnist_400(1000)
    monkeypatch.setattr(offline, "MAX_BYTES", 1_500_000)  # between the float16 page (~1.0 MB) and float32 (~1.8 MB)
    data = json.loads(parsed(latent_page(model, pts, ckpt)).scripts[0][1])
    assert data["model"]["spec"]["dtype"] == "float16"
    monkeypatch.setattr(offline, "MAX_BYTES", 500_000)
    with pytest.raises(offline.OfflinePageError, match="over the 0 MB|MB an offline page may be"):
        latent_page(model, pts, ckpt)
    with pytest.raises(ValueError, match="unknown view kinds"):
        offline.page([{"kind": "timeline"}], model, "k", "t")
