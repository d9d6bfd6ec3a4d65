"""Every registry model, built for every architecture and data shape it supports."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from conftest import tiny
from vae_core import MODELS, Config
from vae_core.models import Autoencoder

# (arch, hidden, data shape): digits, sprites-like, colour 32x32, and 2-D points (mlp only)
LAYOUTS = [
    ("mlp", (32,), (1, 8, 8)),
    ("conv", (4, 8), (1, 8, 8)),
    ("mlp", (32, 16), (1, 32, 32)),
    ("conv", (4, 8, 8), (1, 32, 32)),
    ("mlp", (32,), (3, 32, 32)),
    ("conv", (4, 8), (3, 32, 32)),
    ("mlp", (16, 16), (2,)),
]
B, LATENT, N_CLASSES = 5, 3, 4


def make(name: str, arch: str, hidden, shape, **changes) -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(tiny(name, arch=arch, hidden=hidden, latent_dim=LATENT, **changes), shape, N_CLASSES)


@pytest.mark.parametrize("arch,hidden,shape", LAYOUTS, ids=[f"{a}-{'x'.join(map(str, s))}" for a, _, s in LAYOUTS])
@pytest.mark.parametrize("name", list(MODELS))
def test_shapes(name, arch, hidden, shape):
    spec = MODELS[name]
    model = make(name, arch, hidden, shape)
    x = torch.rand(B, *shape)
    y = torch.arange(B) % N_CLASSES
    out = model(x, y)
    assert set(out) == {"logits", "z", "mu", "logvar"}
    assert out["logits"].shape == (B, *shape)
    assert out["z"].shape == out["mu"].shape == (B, LATENT)
    mu, logvar = model.encode(x, y)
    assert mu.shape == (B, LATENT)
    if spec.variational:
        assert out["logvar"].shape == logvar.shape == (B, LATENT)
    else:
        assert out["logvar"] is None and logvar is None
        assert torch.equal(out["z"], out["mu"])  # a plain AE does not sample
    assert model.decode(torch.randn(7, LATENT), torch.arange(7) % N_CLASSES).shape == (7, *shape)
    assert all(torch.isfinite(v).all() for v in out.values() if v is not None)

    if spec.conditional:
        z = torch.randn(1, LATENT).expand(N_CLASSES, LATENT)
        per_label = model.decode(z, torch.arange(N_CLASSES))  # same z, every label
        for a in range(N_CLASSES):
            for b in range(a + 1, N_CLASSES):
                assert not torch.allclose(per_label[a], per_label[b]), "the decoder ignores the label"
        assert not torch.allclose(model.encode(x, y)[0], model.encode(x, (y + 1) % N_CLASSES)[0])
        for call in (lambda: model(x), lambda: model.encode(x), lambda: model.decode(z)):
            with pytest.raises(ValueError, match="label"):
                call()
    else:
        torch.testing.assert_close(model.decode(mu), model.decode(mu, y))  # labels are ignored


@pytest.mark.parametrize("arch,hidden,shape", LAYOUTS)
def test_sparse_kl_codes_lie_in_0_1(arch, hidden, shape):
    model = make("sparse_ae", arch, hidden, shape, sparsity="kl")
    code, _ = model.encode(torch.rand(64, *shape))  # data in [0, 1]
    assert torch.all((code > 0) & (code < 1))
    far, _ = model.encode(100 * torch.rand(64, *shape))  # float32 sigmoid saturates to 0 or 1 out here
    assert torch.all((far >= 0) & (far <= 1))
    l1 = make("sparse_ae", arch, hidden, shape, sparsity="l1")  # no sigmoid for the l1 penalty
    assert (l1.encode(100 * torch.rand(64, *shape))[0] < 0).any()


@pytest.mark.parametrize("shape,hidden", [
    ((1, 28, 28), (8, 16, 32)),  # 28 is not divisible by 8
    ((1, 8, 12), (4, 8, 8)),
    ((3, 30, 30), (4,)),         # 30 / 2 = 15, fine, ...
    ((2,), (4,)),                # points are not images
])
def test_conv_with_bad_sizes_raises(shape, hidden):
    cfg = tiny("vae", arch="conv", hidden=hidden)
    if shape == (3, 30, 30):
        Autoencoder(cfg, shape, 10)  # ... so this one builds
        with pytest.raises(ValueError, match="divisible"):
            Autoencoder(cfg.replace(hidden=(4, 4)), shape, 10)  # 15 / 2 is not whole
        return
    with pytest.raises(ValueError):
        Autoencoder(cfg, shape, 10)


def test_default_mlp_is_pytorch_examples_vae():
    """pytorch/examples vae/main.py: fc1 784->400, fc21 and fc22 400->20, fc3 20->400, fc4 400->784."""
    cfg = Config(model="vae", latent_dim=20)
    assert cfg.hidden == (400,) and cfg.arch == "mlp" and cfg.likelihood == "bernoulli"
    model = Autoencoder(cfg, (1, 28, 28), 10)
    linear = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linear == [(784, 400), (400, 40), (20, 400), (400, 784)]  # fc21 and fc22 as one 400 -> 2x20
    example = [(784, 400), (400, 20), (400, 20), (20, 400), (400, 784)]
    n_example = sum(i * o + o for i, o in example)
    assert sum(p.numel() for p in model.parameters()) == n_example == 652_824
    activations = [type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh))]
    assert activations == [nn.ReLU, nn.ReLU]  # relu(fc1), relu(fc3); sigmoid lives in the likelihood
    out = model(torch.rand(3, 1, 28, 28))
    assert out["mu"].shape == out["logvar"].shape == (3, 20) and out["logits"].shape == (3, 1, 28, 28)
    assert math.prod(out["logits"].shape[1:]) == 784
