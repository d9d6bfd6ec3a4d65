"""Diagnostics math against independent computations, export files that decode, the page in AppTest."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from vae_core import Config
from vae_core.diagnostics import beta_changes, collapsed_dims, dim_label, kl_order, pixel_error, ranked_dims
from vae_core.picture_files import gif_bytes, png_bytes
from vae_core.metrics import active_units, example_terms, iwae_bound, loss_terms
from vae_core.models import Autoencoder
from vae_core.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]


# --- active units and the KL ranking ---------------------------------------------------------------


def test_active_units_match_a_numpy_covariance():
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1.0, 0.5, 0.2, 0.05, 0.01, 0.0])  # variances 1, .25, .04, .0025, 1e-4, 0
    mu = torch.randn(2000, 6, generator=g) * scales + torch.randn(6, generator=g)
    n, var = active_units(mu, threshold=0.01)
    cov = np.cov(mu.numpy().T)  # (6, 6), unbiased like torch.var
    np.testing.assert_allclose(var.numpy(), np.diag(cov), rtol=1e-4, atol=1e-8)
    assert n == int((np.diag(cov) > 0.01).sum()) == 3


def test_ranked_dims_follow_the_kl_of_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(500, 5, generator=g) * torch.tensor([0.1, 2.0, 0.0, 1.0, 0.5])
    logvar = torch.log(torch.tensor([0.7, 0.1, 1.0, 0.3, 0.6])).expand(500, 5)
    order, labels, kl = ranked_dims(mu, logvar)
    q, p = torch.distributions.Normal(mu, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    reference = torch.distributions.kl_divergence(q, p).mean(0)  # (5,)
    torch.testing.assert_close(kl, reference, rtol=1e-5, atol=1e-6)
    assert order == [int(d) for d in torch.argsort(reference, descending=True)] == [1, 3, 4, 0, 2]
    assert labels[0] == f"z1 · {reference[1]:.1f} nats"
    assert labels == [dim_label(d, float(reference[d])) for d in order]
    assert collapsed_dims(kl) == [2]  # exactly the prior: KL 0


def test_ranked_dims_of_a_plain_code_keep_their_order_and_ties_keep_dim_order():
    assert ranked_dims(torch.randn(10, 3), None) == ([0, 1, 2], ["z0", "z1", "z2"], None)
    assert kl_order(torch.tensor([0.5, 2.0, 0.5, 0.0])) == [1, 0, 2, 3]
    assert dim_label(3, 2.14) == "z3 · 2.1 nats"


# --- IWAE against the exact log p(x) of a linear-Gaussian model ------------------------------------

SIGMA = 0.5
W = torch.tensor([[1.5, 0.0], [0.0, 0.8], [0.0, 0.0], [0.0, 0.0]])  # (4, 2), orthogonal columns
B = torch.tensor([0.3, -0.2, 0.1, 0.0])


def linear_gaussian(exact_posterior: bool) -> tuple[Autoencoder, Config]:
    """A VAE with linear encoder and decoder (hidden = ()) and p(x|z) = N(Wz + b, σ² I).

    With WᵀW diagonal the true posterior is a diagonal Gaussian: Σ = (I + WᵀW / σ²)⁻¹,
    mean Σ Wᵀ (x − b) / σ², so the encoder can hold it exactly; otherwise a perturbed one."""
    cfg = Config(dataset="toy2d", model="vae", hidden=(), latent_dim=2, likelihood="gaussian", sigma=SIGMA).validate()
    model = Autoencoder(cfg, (4,), 0)
    Sigma = torch.linalg.inv(torch.eye(2) + W.T @ W / SIGMA**2)  # (2, 2), diagonal
    A = Sigma @ W.T / SIGMA**2                                    # (2, 4): x -> posterior mean
    logvar = torch.log(torch.diagonal(Sigma))
    if not exact_posterior:
        A, logvar = 0.7 * A, logvar + 0.8  # a worse encoder: means shrunk, variances too wide
    with torch.no_grad():
        enc, dec = model.encoder.net[0], model.decoder.net[0]
        enc.weight.copy_(torch.cat([A, torch.zeros(2, 4)]))     # (2D, 4): mu rows, then logvar rows
        enc.bias.copy_(torch.cat([-A @ B, logvar]))
        dec.weight.copy_(W)
        dec.bias.copy_(B)
    return model.eval(), cfg


def data(n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """x drawn from the model itself, and its exact log p(x) = log N(x; b, W Wᵀ + σ² I)."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(n, 2, generator=g) @ W.T + B + SIGMA * torch.randn(n, 4, generator=g)
    exact = torch.distributions.MultivariateNormal(B, W @ W.T + SIGMA**2 * torch.eye(4)).log_prob(x)
    return x, exact


def test_iwae_of_the_exact_posterior_is_log_px_for_every_sample():
    model, cfg = linear_gaussian(exact_posterior=True)
    x, exact = data()
    torch.testing.assert_close(iwae_bound(model, x, None, cfg, k=1), exact, rtol=0, atol=1e-4)


def test_iwae_climbs_from_the_elbo_to_log_px():
    model, cfg = linear_gaussian(exact_posterior=False)
    x, exact = data()
    log_px = exact.mean().item()
    terms = loss_terms(model, x, torch.zeros(len(x), dtype=torch.long), cfg, beta=1.0)
    elbo = -(terms["recon"] + terms["kl"])
    l1, l10, l1000 = (iwae_bound(model, x, None, cfg, k=k).mean().item() for k in (1, 10, 1000))
    assert abs(l1 - elbo) < 0.1            # L_1 is an estimate of the ELBO
    assert elbo < l10 < l1000 < log_px + 0.01
    assert log_px - elbo > 0.3             # the perturbed encoder leaves a real gap ...
    assert log_px - l1000 < 0.02           # ... that k = 1000 samples close


def test_iwae_reports_progress_up_to_one():
    model, cfg = linear_gaussian(exact_posterior=False)
    x, _ = data(50)
    seen = []
    iwae_bound(model, x, None, cfg, k=1000, progress=seen.append)  # 8 examples per chunk
    assert len(seen) == math.ceil(50 / 8) and seen == sorted(seen) and seen[-1] == 1.0


# --- per-pixel error and β changes --------------------------------------------------------------


def test_pixel_error_adds_up_to_the_reconstruction_term(trained_vae):
    model, cfg, data = trained_vae
    x = data.x[:300]
    err = pixel_error(model, x, None, cfg, batch_size=128)
    assert err.shape == x.shape[1:] and (err >= 0).all()
    logits = model.decode(model.encode(x)[0])  # independent: BCE of the mean code's decoding, pixel by pixel
    reference = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(0)
    torch.testing.assert_close(err, reference.detach(), rtol=1e-4, atol=1e-5)
    assert err.sum().item() == pytest.approx(example_terms(model, x, None, cfg)["recon"].mean().item(), rel=1e-4)


def test_beta_changes_skip_the_warmup_ramp():
    history = {"train": {"step": [1, 2, 3, 4, 5, 6, 7], "beta": [0.25, 0.5, 0.75, 1.0, 1.0, 4.0, 4.0]}}
    assert beta_changes(history, warmup=4) == [(6, 4.0)]
    assert beta_changes(history, extra=[(8, 2.0)], warmup=4) == [(6, 4.0), (8, 2.0)]  # after the history: counted
    assert beta_changes({}) == []


def test_each_live_beta_change_counts_once():
    """The store records a change at the step it was asked (5); the history's column has it where it
    first applied (6): one change, not two."""
    history = {"train": {"step": [1, 2, 3, 4, 5, 6, 7, 8, 9], "beta": [1, 1, 1, 1, 1, 4, 4, 2, 2]}}
    assert beta_changes(history, extra=[(5, 4.0), (7, 2.0)]) == [(6, 4.0), (8, 2.0)]


# --- export --------------------------------------------------------------------------------------


def test_png_decodes_at_its_size():
    grey = (np.arange(30 * 50) % 256).astype(np.uint8).reshape(30, 50)
    image = Image.open(io.BytesIO(png_bytes(grey)))
    assert image.format == "PNG" and image.size == (50, 30)
    np.testing.assert_array_equal(np.asarray(image), grey)
    rgb = np.zeros((20, 10, 3), np.uint8)
    assert Image.open(io.BytesIO(png_bytes(rgb))).mode == "RGB"
    with pytest.raises(ValueError, match="uint8"):
        png_bytes(np.zeros((4, 4)))


def test_gif_has_its_frames_and_size():
    frames = [np.full((16, 24), 20 * t, np.uint8) for t in range(6)]
    image = Image.open(io.BytesIO(gif_bytes(frames, duration_ms=80)))
    assert image.format == "GIF" and image.size == (24, 16)
    assert image.n_frames == 2 * 6 - 2  # forward and back
    assert image.info["loop"] == 0 and image.info["duration"] == 80
    image.seek(3)
    assert np.asarray(image.convert("L"))[0, 0] == 60
    assert Image.open(io.BytesIO(gif_bytes(frames, bounce=False))).n_frames == 6
    with pytest.raises(ValueError, match="same size"):
        gif_bytes([frames[0], np.zeros((8, 8), np.uint8)])


# --- the page -------------------------------------------------------------------------------------


def open_diagnostics(run_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    RunStore().workspace(at.session_state["ws"]).active = run_id
    at.switch_page("pages/diagnostics.py").run()
    assert not at.exception, at.exception
    return at


def test_page_shows_collapsed_dims_of_the_16d_beta_vae():
    at = open_diagnostics("zoo.mnist-betavae-16d")
    metrics = {m.label: m.value for m in at.metric}
    active = int(metrics["Active units"].split(" of ")[0])
    assert metrics["Active units"].endswith("of 16") and active < 16
    assert any("collapsed to the prior" in w.value for w in at.warning)
    elbo, log_px = (float(metrics[k].split()[0]) for k in ("ELBO (β = 1)", "log p(x) ≈ L_50"))
    assert elbo < log_px
    at.select_slider(key="diag.k").set_value(5).run()
    assert not at.exception and "log p(x) ≈ L_5" in [m.label for m in at.metric]


def test_page_says_why_kl_does_not_apply_to_a_plain_autoencoder():
    at = open_diagnostics("zoo.digits-ae-2d")
    assert not at.metric and not at.select_slider
    assert any("no KL per dim" in i.value for i in at.info)
    assert [c.proto.id for c in at.get("plotly_chart")]  # pixel error and history still drawn
    assert any("Training history" == h.value for h in at.subheader)
