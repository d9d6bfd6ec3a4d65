"""vae_core.webdecoder: the decoder the page runs, as a spec and weight bytes, checked against
vae_core.latent.decode (torch) for MLP, conv and conditional models and every shipped model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import tiny
from vae_core import webdecoder
from vae_core.latent import decode
from vae_core.models import Autoencoder
from vae_core.zoo import load_entry, load_manifest


def model_of(name: str = "vae", shape=(1, 8, 8), n_classes: int = 10, seed: int = 0, **changes) -> Autoencoder:
    torch.manual_seed(seed)
    return Autoencoder(tiny(name, **changes), shape, n_classes).eval()


def codes(n: int, d: int, seed: int = 1) -> torch.Tensor:
    return 2 * torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


CASES = {
    "mlp bernoulli": dict(name="vae"),
    "mlp two hidden, gaussian": dict(name="ae", hidden=(24, 16), likelihood="gaussian"),
    "conv": dict(name="beta_vae", arch="conv", hidden=(4, 8), shape=(1, 8, 8)),
    "conv colour": dict(name="vae", arch="conv", hidden=(3,), shape=(3, 4, 6)),
    "conditional mlp": dict(name="cvae"),
    "conditional conv": dict(name="cvae", arch="conv", hidden=(4, 8)),
    "points, not images": dict(name="ae", shape=(2,), hidden=(16, 16), latent_dim=2, likelihood="gaussian"),
}


@pytest.mark.parametrize("case", CASES)
def test_reference_equals_torch_decode(case):
    kw = dict(CASES[case])
    model = model_of(kw.pop("name"), kw.pop("shape", (1, 8, 8)), **kw)
    spec, data = webdecoder.export(model, "float32")
    z = codes(7, model.latent_dim)
    y = torch.arange(7) % 10 if model.n_cond else None
    want = decode(model, z, y).numpy()
    got = webdecoder.reference_decode(spec, webdecoder.weights(spec, data), z.numpy(), None if y is None else y.numpy())
    assert got.shape == want.shape == (7, *model.shape)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_the_label_changes_a_conditional_decoding():
    model = model_of("cvae")
    spec, data = webdecoder.export(model)
    z = codes(1, model.latent_dim).numpy()
    a, b = (webdecoder.reference_decode(spec, webdecoder.weights(spec, data), z, y) for y in (2, 7))
    assert np.abs(a - b).max() > 1e-3
    with pytest.raises(ValueError, match="label"):
        webdecoder.reference_decode(spec, webdecoder.weights(spec, data), z)


def test_weight_bytes_round_trip_to_the_state_dict():
    """Every parameter of the decoder, in order, at the offsets the spec names."""
    model = model_of("cvae", arch="conv", hidden=(4, 8))
    spec, data = webdecoder.export(model, "float32")
    flat = webdecoder.weights(spec, data)
    params = [p.detach().numpy().ravel() for p in model.decoder.parameters()]
    assert len(data) == 4 * sum(p.size for p in params) == 4 * spec["size"]
    offsets = [o for layer in spec["layers"] for o in (layer.get("weight"), layer.get("bias")) if o is not None]
    for offset, p in zip(offsets, params, strict=True):
        np.testing.assert_array_equal(flat[offset:offset + p.size], p)


def test_float16_halves_the_bytes_and_stays_within_a_grey_level():
    model = model_of("vae", hidden=(64,))
    s32, d32 = webdecoder.export(model, "float32")
    s16, d16 = webdecoder.export(model, "float16")
    assert len(d16) * 2 == len(d32) and s16["dtype"] == "float16"
    z = codes(50, model.latent_dim).numpy()
    a = webdecoder.reference_decode(s32, webdecoder.weights(s32, d32), z)
    b = webdecoder.reference_decode(s16, webdecoder.weights(s16, d16), z)
    assert 0 < np.abs(a - b).max() < 1 / 255


def test_the_784_400_2_model_sends_under_1_5_mb_as_float32():
    model = model_of("vae", shape=(1, 28, 28), hidden=(400,), latent_dim=2)
    spec, data = webdecoder.export(model)
    assert spec["dtype"] == "float32" and len(data) == 4 * (3 * 400 + 401 * 784) < 1.5e6
    assert webdecoder.macs(spec) == 2 * 400 + 400 * 784


def test_too_large_or_unknown_decoders_are_refused_with_a_reason(monkeypatch):
    model = model_of("vae", hidden=(64,))
    monkeypatch.setattr(webdecoder, "MAX_BYTES", 100)
    with pytest.raises(webdecoder.WebDecoderError, match="too many"):
        webdecoder.export(model)
    monkeypatch.undo()
    model.decoder.net[1] = torch.nn.Tanh()
    with pytest.raises(webdecoder.WebDecoderError, match="Tanh"):
        webdecoder.export(model)
    with pytest.raises(ValueError, match="dtype"):
        webdecoder.export(model_of(), "int8")


def test_frame_round_trip_is_aligned_for_typed_arrays():
    for text in ("", "x", "xy", "xyz"):
        header = {"model": text, "z": [0.5, -1.25]}
        message = webdecoder.frame(header, b"\1\2\3\4")
        got, payload = webdecoder.unframe(message)
        assert got == header and payload == b"\1\2\3\4"
        assert (len(message) - len(payload)) % 4 == 0  # a Float32Array can view the payload in place


@pytest.mark.parametrize("entry", load_manifest(), ids=lambda e: e.id)
def test_every_shipped_model_decodes_the_same_in_the_reference(entry):
    model = load_entry(entry).build_model("cpu")
    spec, data = webdecoder.export(model)
    assert spec["dtype"] == "float32"
    z = codes(16, model.latent_dim, seed=3)
    y = torch.arange(16) % model.n_cond if model.n_cond else None
    want = decode(model, z, y).numpy()
    got = webdecoder.reference_decode(spec, webdecoder.weights(spec, data), z.numpy(), None if y is None else y.numpy())
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
