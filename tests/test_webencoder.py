"""vae_core.webencoder: the encoder the page runs, as a spec and float32 weight bytes, checked against
vae_core.latent.encode (torch) for MLP, conv, conditional and sparse models and every shipped model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny
from vae_core import webdecoder, webencoder
from vae_core.latent import encode
from vae_core.models import Autoencoder
from vae_core.zoo import load_entry, load_manifest


def model_of(name: str = "vae", shape=(1, 8, 8), n_classes: int = 10, seed: int = 0, **changes) -> Autoencoder:
    torch.manual_seed(seed)
    return Autoencoder(tiny(name, **changes), shape, n_classes).eval()


CASES = {
    "mlp vae": dict(name="vae"),
    "mlp ae, two hidden": dict(name="ae", hidden=(24, 16)),
    "sparse ae, sigmoid code": dict(name="sparse_ae", sparsity="kl"),
    "conv": dict(name="beta_vae", arch="conv", hidden=(4, 8)),
    "conv colour": dict(name="vae", arch="conv", hidden=(3,), shape=(3, 4, 6)),
    "conditional mlp": dict(name="cvae"),
    "conditional conv": dict(name="cvae", arch="conv", hidden=(4, 8)),
}


def check(model: Autoencoder, x: torch.Tensor, y=None) -> None:
    spec, data = webencoder.export(model)
    mu, logvar = webencoder.reference_encode(spec, webencoder.weights(spec, data), x.numpy(),
                                             None if y is None else np.asarray(y))
    want_mu, want_logvar = encode(model, x, y)
    np.testing.assert_allclose(mu, want_mu.numpy(), atol=1e-5, rtol=1e-5)
    if model.variational:
        np.testing.assert_allclose(logvar, want_logvar.numpy(), atol=1e-5, rtol=1e-5)
    else:
        assert logvar is None and want_logvar is None


@pytest.mark.parametrize("case", CASES)
def test_reference_equals_torch_encode(case):
    kw = dict(CASES[case])
    model = model_of(kw.pop("name"), kw.pop("shape", (1, 8, 8)), **kw)
    x = torch.rand(7, *model.shape, generator=torch.Generator().manual_seed(1))
    check(model, x, torch.arange(7) % 10 if model.n_cond else None)


@pytest.mark.parametrize("entry", load_manifest(), ids=lambda e: e.id)
def test_every_shipped_encoder_exports_and_matches(entry):
    model = load_entry(entry).build_model("cpu")
    x = torch.rand(5, *model.shape, generator=torch.Generator().manual_seed(2))
    check(model, x, torch.tensor([1, 0, 3, 2, 1]) if model.n_cond else None)


def test_weight_bytes_are_the_encoders_parameters_in_order():
    model = model_of("cvae", arch="conv", hidden=(4, 8))
    spec, data = webencoder.export(model)
    flat = webencoder.weights(spec, data)
    params = [p.detach().numpy().ravel() for p in model.encoder.parameters()]
    assert spec["dtype"] == "float32" and len(data) == 4 * sum(p.size for p in params)
    offsets = [o for layer in spec["layers"] for o in (layer.get("weight"), layer.get("bias")) if o is not None]
    for offset, p in zip(offsets, params, strict=True):
        np.testing.assert_array_equal(flat[offset:offset + p.size], p)
    ops = [layer["op"] for layer in spec["layers"]]
    assert ops == ["conv", "relu", "conv", "relu", "cond", "linear"]  # the label joins after the convolutions


def test_macs_count_each_layer():
    model = model_of("vae", arch="conv", hidden=(4, 8), shape=(1, 8, 8))  # 8x8 -> 4x4 -> 2x2 -> 2 * 3 outputs
    spec, _ = webencoder.export(model)
    assert webencoder.macs(spec) == 4 * 4 * 4 * 1 * 16 + 8 * 2 * 2 * 4 * 16 + 8 * 2 * 2 * 6


def test_too_large_an_encoder_is_refused_with_its_size(monkeypatch):
    monkeypatch.setattr(webencoder, "MAX_BYTES", 1000)
    with pytest.raises(webdecoder.WebDecoderError, match="encoder weights are"):
        webencoder.export(model_of("vae"))
