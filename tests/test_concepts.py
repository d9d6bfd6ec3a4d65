"""The Concepts computations, each against an independent one: brute-force grid searches for both KL
fits, the grid evidence against ELBO + gap and against IWAE at large k, estimator variances against
quadrature of their definitions, the closed-form KL against torch.distributions and Monte Carlo, the
sparsity penalties against the formula written out, Jacobian norms against autograd's jacobian."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_core import zoo
from vae_core.concepts import contraction as C
from vae_core.concepts import elbo as E
from vae_core.concepts import kl_closed_form as K
from vae_core.concepts import kl_direction as kd
from vae_core.concepts import live
from vae_core.concepts import reparam as R
from vae_core.concepts import sparsity as S
from vae_core.data import load_dataset
from vae_core.models import Autoencoder

# --- forward vs reverse KL: brute force over a (mu, sigma) grid, integrals as sums over x ------

X = np.linspace(-16, 16, 3201)  # dx = 0.01
DX = X[1] - X[0]


def mixture_pdf(x, w, m, s):
    return sum(wk * np.exp(-0.5 * ((x - mk) / sk) ** 2) / (sk * math.sqrt(2 * math.pi)) for wk, mk, sk in zip(w, m, s))


def brute_force(w, m, s, mus, sigmas):
    """KL(p || q) and KL(q || p) for every q = N(mu, sigma^2) of the grid, (len(sigmas), len(mus)) each,
    both by numerical integration of the definitions over X."""
    p = mixture_pdf(X, w, m, s)
    log_p = np.log(p)
    fwd, rev = np.empty((len(sigmas), len(mus))), np.empty((len(sigmas), len(mus)))
    for i, sigma in enumerate(sigmas):
        log_q = -0.5 * ((X[None, :] - mus[:, None]) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))  # (M, X)
        q = np.exp(log_q)
        fwd[i] = (p * (log_p - log_q)).sum(1) * DX
        rev[i] = (q * (log_q - log_p)).sum(1) * DX
    return fwd, rev


def local_minima(values, mus, sigmas):
    """(mu, sigma, value) of every grid point strictly below its 8 neighbours (borders excluded)."""
    out = []
    for i in range(1, len(sigmas) - 1):
        for j in range(1, len(mus) - 1):
            block = values[i - 1:i + 2, j - 1:j + 2]
            if values[i, j] == block.min() and (block == values[i, j]).sum() == 1:
                out.append((mus[j], sigmas[i], values[i, j]))
    return out


MIXTURES = [((0.5, 0.5), (-3.0, 3.0), (1.0, 1.0)),    # the page's opening example
            ((0.3, 0.7), (-1.0, 2.5), (0.5, 1.2)),
            ((0.5, 0.5), (-1.0, 1.0), (1.0, 1.0))]    # close modes: one straddling optimum
STEP = 0.05
MUS, SIGMAS = np.arange(-5, 5 + 1e-9, STEP), np.arange(0.3, 5 + 1e-9, STEP)


@pytest.fixture(scope="module", params=range(len(MIXTURES)), ids=["opening", "asymmetric", "close"])
def case(request):
    w, m, s = MIXTURES[request.param]
    return kd.Mixture(w, m, s), brute_force(w, m, s, MUS, SIGMAS)


def test_moment_match_is_the_brute_force_minimum_of_the_forward_kl(case):
    p, (fwd, _) = case
    i, j = np.unravel_index(fwd.argmin(), fwd.shape)
    f = kd.moment_match(p)
    assert abs(f.mu - MUS[j]) <= STEP and abs(f.sigma - SIGMAS[i]) <= STEP
    assert f.forward <= fwd.min() + 1e-4  # nothing on the grid does better
    assert f.forward == pytest.approx(brute_force(p.weights, p.means, p.sigmas, np.array([f.mu]), [f.sigma])[0][0, 0], abs=1e-4)


def test_reverse_fits_are_the_brute_force_local_minima_of_the_reverse_kl(case):
    p, (_, rev) = case
    fits = kd.reverse_fits(p)
    grid_minima = local_minima(rev, MUS, SIGMAS)
    assert len(fits) == len(grid_minima)
    for f in fits:  # each optimum found is a grid local minimum, to the grid's resolution
        assert any(abs(f.mu - mu) <= STEP and abs(f.sigma - s) <= STEP for mu, s, _ in grid_minima)
        direct = brute_force(p.weights, p.means, p.sigmas, np.array([f.mu]), [f.sigma])
        assert f.reverse == pytest.approx(direct[1][0, 0], abs=1e-4)
        assert f.forward == pytest.approx(direct[0][0, 0], abs=1e-4)
    assert fits[0].reverse <= rev.min() + 1e-4  # the best is the global minimum
    assert [f.reverse for f in fits] == sorted(f.reverse for f in fits)


def test_reverse_fit_switches_from_straddling_to_one_mode_where_brute_force_says():
    d_star = kd.switch_separation(0.5, 1.0, 1.0)
    assert 3 < d_star < 8
    for d, picks in ((d_star - 0.3, False), (d_star + 0.3, True)):
        _, rev = brute_force((0.5, 0.5), (-d / 2, d / 2), (1.0, 1.0), MUS, SIGMAS)
        i, j = np.unravel_index(rev.argmin(), rev.shape)
        assert (abs(MUS[j]) > 0.5) == picks  # the global minimum sits on a mode only beyond d*
        p = kd.two_gaussians(0.5, -d / 2, 1.0, d / 2, 1.0)
        assert kd.straddles(p, kd.reverse_fits(p)[0]) != picks


def test_mixture_rejects_bad_parameters():
    with pytest.raises(ValueError, match="weights"):
        kd.Mixture((0.5, 0.6), (0, 1), (1, 1))
    with pytest.raises(ValueError, match="widths"):
        kd.two_gaussians(0.5, 0, 0.0, 1, 1)


# --- the ELBO is a bound, on the shipped digits VAE ------------------------------------------


@pytest.fixture(scope="module")
def digits_vae():
    entry = next(e for e in zoo.load_manifest() if e.id == "digits-vae-2d")
    ckpt = zoo.load_entry(entry)
    cfg = ckpt.config
    val = load_dataset(cfg.dataset).split(cfg.val_fraction, cfg.seed)[1]
    return ckpt.build_model(torch.device("cpu")).eval(), cfg, val


@pytest.mark.parametrize("i", [0, 2])
def test_grid_evidence_equals_elbo_plus_gap_for_any_q(digits_vae, i):
    model, cfg, val = digits_vae
    x = val.x[i:i + 1]
    grid = E.posterior_grid(model, x, cfg)
    assert grid.edge_mass() < 1e-8
    mu, sigma = E.encoder_q(model, x)
    for m, s in ((mu, sigma), (mu + [0.5, -0.3], sigma * 1.5), (mu - 0.2, sigma * 0.5)):
        terms = E.elbo(model, x, cfg, m, s)
        gap = float(E.gap(grid, m, s))
        assert gap >= 0 and terms["elbo"] < grid.log_px
        assert terms["elbo"] + gap == pytest.approx(grid.log_px, abs=5e-3)
    # the best Gaussian closes the gap at least as well as the encoder
    bm, bs = E.best_gaussian(grid, mu, sigma)
    assert float(E.gap(grid, bm, bs)) <= float(E.gap(grid, mu, sigma)) + 1e-9


def test_elbo_quadrature_agrees_with_monte_carlo(digits_vae):
    model, cfg, val = digits_vae
    x = val.x[:1]
    mu, sigma = E.encoder_q(model, x)
    terms = E.elbo(model, x, cfg, mu, sigma)
    eps = torch.randn(20000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    log_lik = E._log_likelihood(model, x, torch.tensor(mu) + torch.tensor(sigma) * eps, cfg)
    assert terms["expected_log_lik"] == pytest.approx(float(log_lik.mean()), abs=4 * float(log_lik.std()) / math.sqrt(20000))


def test_iwae_with_large_k_reaches_the_grid_evidence(digits_vae):
    model, cfg, val = digits_vae
    x = val.x[2:3]  # the example with the widest gap of the two above
    log_px = E.posterior_grid(model, x, cfg).log_px
    rows = E.iwae_curve(model, x, cfg, ks=(1, 5000), draws=20000)
    elbo_like, large = rows
    assert elbo_like["bound"] < log_px - 0.3  # L_1 (the ELBO on average) is clearly below
    assert large["bound"] == pytest.approx(log_px, abs=max(0.05, 4 * large["se"]))


def test_elbo_refuses_a_model_without_a_2d_latent(digits_vae):
    _, cfg, val = digits_vae
    ae = Autoencoder(cfg.replace(model="ae"), (1, 8, 8), 10)
    with pytest.raises(ValueError, match="2-D latent"):
        E.posterior_grid(ae, val.x[:1], cfg)


# --- reparameterization vs score function ----------------------------------------------------


def quadrature_variances(mu, sigma, nodes=60):
    """Variance of each estimator's two components by Gauss-Hermite quadrature of their definitions."""
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    z = mu + sigma * t
    reparam = np.stack([2 * z, 2 * z * t])                                          # f'(z) dz/dtheta
    score = np.stack([z**2 * (z - mu) / sigma**2, z**2 * ((z - mu) ** 2 / sigma**3 - 1 / sigma)])  # f(z) dlog q/dtheta
    var = lambda e: w @ (e**2).T - (w @ e.T) ** 2
    return var(reparam), var(score)


@pytest.mark.parametrize("mu,sigma", [(1.0, 1.0), (-2.0, 0.5), (0.3, 2.0)])
def test_estimator_variances_match_their_analytic_values(mu, sigma):
    analytic = R.analytic_variance(mu, sigma)
    q_rep, q_score = quadrature_variances(mu, sigma)
    np.testing.assert_allclose(analytic["reparam"], q_rep, rtol=1e-9)
    np.testing.assert_allclose(analytic["score"], q_score, rtol=1e-9)
    n = 400_000
    est = R.estimators(mu, sigma, n, seed=1)
    exact = R.exact_gradient(mu, sigma)
    for key in ("reparam", "score"):
        np.testing.assert_allclose(est.var(key), analytic[key], rtol=0.05)
        assert np.all(np.abs(est.mean(key) - exact) < 5 * np.sqrt(analytic[key] / n))  # unbiased
    assert np.all(analytic["score"] > analytic["reparam"])


def test_reparameterized_sample_gradients_are_one_and_eps():
    d = R.reparameterize(0.7, 1.3, 50, seed=3)
    np.testing.assert_allclose(d["z"], 0.7 + 1.3 * d["eps"])
    np.testing.assert_allclose(d["dz_dmu"], 1.0)
    np.testing.assert_allclose(d["dz_dsigma"], d["eps"])
    with pytest.raises(ValueError, match="sigma"):
        R.estimators(0.0, 0.0, 10)


# --- Gaussian KL --------------------------------------------------------------------------------


def test_closed_form_kl_matches_torch_distributions_and_monte_carlo():
    mus, sigmas = np.linspace(-3, 3, 13), np.linspace(0.1, 3, 11)
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(torch.tensor(mus)[None, :], torch.tensor(sigmas)[:, None]),
        torch.distributions.Normal(0.0, 1.0)).numpy()
    np.testing.assert_allclose(K.surface(mus, sigmas), ref, rtol=1e-10, atol=1e-12)
    for mu, sigma in ((0.5, 0.8), (-2.0, 0.2), (1.0, 2.5)):
        mc, se = K.monte_carlo(mu, sigma, 200_000, seed=2)
        assert abs(mc - float(K.closed_form(mu, sigma))) < 4 * se
        assert float(K.code_line(mu, sigma)[-1].split("=")[-1]) == pytest.approx(float(K.closed_form(mu, sigma)), abs=1e-4)
    assert float(K.closed_form(0.0, 1.0)) == 0.0


# --- sparsity -------------------------------------------------------------------------------


def test_worked_sparsity_example_matches_the_formula():
    rho, acts = S.WORKED_RHO, S.WORKED_ACTIVATIONS
    table = S.worked_table(rho, acts)
    direct = [rho * math.log(rho / a) + (1 - rho) * math.log((1 - rho) / (1 - a)) for a in acts]
    np.testing.assert_allclose(table["kl"], direct, rtol=1e-9)
    assert table["kl_total"] == pytest.approx(sum(direct), rel=1e-9)
    assert table["l1_total"] == pytest.approx(sum(acts))
    assert np.argmax(table["kl"]) == 0  # the unit far above rho pays nearly all of it
    assert float(S.kl_penalty(rho, [rho])[0]) == pytest.approx(0.0, abs=1e-12)
    for bad in ([0.5, 1.2], [], [0.0]):
        with pytest.raises(ValueError):
            S.worked_table(rho, bad)


def test_the_kl_penalty_pulls_trained_mean_activations_towards_rho():
    data = load_dataset("digits")
    rho = 0.05
    sparse = live.train(S.sparse_config(rho, 1.0, units=8, epochs=8), data)
    plain = live.train(S.sparse_config(rho, 0.0, units=8, epochs=8), data)
    a_sparse, a_plain = S.mean_activations(sparse, data.x), S.mean_activations(plain, data.x)
    assert np.abs(a_sparse - rho).mean() < 0.5 * np.abs(a_plain - rho).mean()


# --- denoising and contraction -----------------------------------------------------------------


@pytest.mark.parametrize("model", ["ae", "contractive_ae"])
def test_jacobian_norms_match_autograd_functional_jacobian(model):
    torch.manual_seed(0)
    net = Autoencoder(C.toy_config(model), (2,), 2).eval()
    points = torch.rand(20, 2) * 1.6 - 0.3
    ours = C.jacobian_norm(net, points)
    ref = torch.stack([torch.autograd.functional.jacobian(lambda x: net.encode(x[None])[0][0], p).norm() for p in points])
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)


def test_denoising_ae_points_back_to_the_data_near_it_only_and_contraction_shrinks_the_jacobian():
    data = load_dataset("toy2d:moons")
    dae = live.train(C.toy_config("dae", noise=0.05, epochs=15), data)
    x0 = C.corrupted(data.x[::10], 0.05, seed=1)
    before, after = C.distance_to(x0, data.x), C.distance_to(C.reconstruct(dae, x0), data.x)
    assert after.mean() < 0.6 * before.mean()
    grid = C.arrows(dae, C.plane(15, *C.WIDE_PLANE)[1], data.x)
    near, far = C.by_distance(grid["d_start"], grid["d_end"], [0, 0.1, 1.0, float("inf")])[::2]
    assert near["to"] == 0.1 and far["from"] == 1.0
    assert far["d_end"] > 3 * near["d_end"]  # far from the data it lands wide of it
    cae = live.train(C.toy_config("contractive_ae", contractive_weight=1.0, epochs=15), data)
    ae = live.train(C.toy_config("ae", epochs=15), data)
    assert C.jacobian_norm(cae, data.x).median() < 0.5 * C.jacobian_norm(ae, data.x).median()


def test_live_training_uses_one_thread_and_puts_the_count_back():
    before = torch.get_num_threads()
    with live.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
