"""The ELBO is a bound: log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)), computed, for a 2-D latent.

With two latent dims, p(x) = integral p(x|z) p(z) dz can be done by brute force: decode a fine
grid of z once, sum p(x|z) p(z) times the cell area. The true posterior p(z|x) = p(x|z) p(z) / p(x)
then lives on that grid too, and the gap KL(q || p(z|x)) of any Gaussian q is a sum over it.
The ELBO itself is computed apart, the way a VAE does: E_q[log p(x|z)] (Gauss-Hermite quadrature)
minus the closed-form KL(q || p(z)), so "the three numbers add up" is a check, not an identity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from ..config import Config
from ..latent import device_of, encode
from ..losses import gaussian_kl, recon_nll
from ..metrics import iwae_bound
from ..models import Autoencoder

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True, eq=False)
class PosteriorGrid:
    """log p(x, z) on an n x n grid over z = (z0, z1), float64 on the CPU."""
    axis: torch.Tensor        # (n,) coordinates, the same for both dims
    log_joint: torch.Tensor   # (n, n) log p(x|z) + log p(z); row i is z1 = axis[i], column j z0 = axis[j]
    log_px: float             # log of the grid sum of p(x, z) dA

    @property
    def cell(self) -> float:
        """dA, the area of one grid cell."""
        return float(self.axis[1] - self.axis[0]) ** 2

    @property
    def log_posterior(self) -> torch.Tensor:
        """log p(z|x) on the grid, (n, n)."""
        return self.log_joint - self.log_px

    def posterior_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (2,) and standard deviation (2,) of p(z|x) per dim."""
        w = (self.log_posterior.exp() * self.cell)  # (n, n), sums to 1
        z0, z1 = self.axis[None, :], self.axis[:, None]
        m = torch.stack([(w * z0).sum(), (w * z1).sum()])
        v = torch.stack([(w * (z0 - m[0]) ** 2).sum(), (w * (z1 - m[1]) ** 2).sum()])
        return m.numpy(), v.sqrt().numpy()

    def edge_mass(self) -> float:
        """Posterior mass on the grid's border cells: near 0 when the grid holds the posterior."""
        w = self.log_posterior.exp() * self.cell
        return float(w[0].sum() + w[-1].sum() + w[1:-1, 0].sum() + w[1:-1, -1].sum())


def _check(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    if not model.variational or model.latent_dim != 2 or model.n_cond:
        raise ValueError("the ELBO page needs an unconditional VAE with a 2-D latent")
    if x.shape != (1, *model.shape):
        raise ValueError(f"one example of shape {tuple(model.shape)} is needed, got {tuple(x.shape)}")
    return x.to(device_of(model))


@torch.no_grad()
def _log_likelihood(model: Autoencoder, x: torch.Tensor, z: torch.Tensor, cfg: Config,
                    batch_size: int = 16384) -> torch.Tensor:
    """log p(x|z) for one x (1, *shape) and many z (M, 2) -> (M,), float64."""
    z = z.to(device_of(model), torch.float32)
    out = []
    for i in range(0, len(z), batch_size):
        logits = model.decode(z[i:i + batch_size])  # (B, *shape)
        out.append(-recon_nll(logits, x.expand_as(logits), cfg.likelihood, cfg.sigma))
    return torch.cat(out).double().cpu()


def posterior_grid(model: Autoencoder, x: torch.Tensor, cfg: Config, span: float = 4.5, n: int = 181) -> PosteriorGrid:
    """Decode every z of the grid [-span, span]^2 (n^2 points, one batched pass) for one x (1, *shape)."""
    x = _check(model, x)
    axis = torch.linspace(-span, span, n, dtype=torch.float64)
    z1, z0 = torch.meshgrid(axis, axis, indexing="ij")     # (n, n) each
    z = torch.stack([z0, z1], -1).view(-1, 2)               # (n*n, 2)
    log_prior = -0.5 * (LOG_2PI * 2 + z.pow(2).sum(1))      # log N(z; 0, I)
    log_joint = (_log_likelihood(model, x, z, cfg) + log_prior).view(n, n)
    cell = float(axis[1] - axis[0]) ** 2
    return PosteriorGrid(axis, log_joint, float(torch.logsumexp(log_joint.flatten(), 0)) + math.log(cell))


def log_q(axis: torch.Tensor, mu, sigma) -> torch.Tensor:
    """log N(z; mu, diag(sigma^2)) on the grid, (n, n); mu, sigma of length 2 (tensors keep grad)."""
    mu, sigma = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(sigma, dtype=torch.float64)
    a0 = -0.5 * ((axis - mu[0]) / sigma[0]) ** 2 - torch.log(sigma[0])  # (n,) along z0
    a1 = -0.5 * ((axis - mu[1]) / sigma[1]) ** 2 - torch.log(sigma[1])  # (n,) along z1
    return a1[:, None] + a0[None, :] - LOG_2PI


def gap(grid: PosteriorGrid, mu, sigma) -> torch.Tensor:
    """KL(q || p(z|x)) = sum over the grid of q (log q - log p(z|x)) dA.

    q is a product q0(z0) q1(z1), so the sum factorises: sum q log q = (sum q0 log q0)(sum q1) +
    (sum q1 log q1)(sum q0), and sum q log p(z|x) = q1^T log p(z|x) q0, an O(n^2) matrix product
    instead of n^2 exponentials (the same number as the full double sum, much faster)."""
    mu, sigma = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(sigma, dtype=torch.float64)
    h = grid.axis[1] - grid.axis[0]
    l0 = -0.5 * ((grid.axis - mu[0]) / sigma[0]) ** 2 - torch.log(sigma[0]) - 0.5 * LOG_2PI  # (n,) log q0
    l1 = -0.5 * ((grid.axis - mu[1]) / sigma[1]) ** 2 - torch.log(sigma[1]) - 0.5 * LOG_2PI  # (n,) log q1
    q0, q1 = l0.exp() * h, l1.exp() * h  # cell masses along each axis
    neg_entropy = (q0 * l0).sum() * q1.sum() + (q1 * l1).sum() * q0.sum()
    return neg_entropy - q1 @ grid.log_posterior @ q0


@torch.no_grad()
def elbo(model: Autoencoder, x: torch.Tensor, cfg: Config, mu, sigma, nodes: int = 48) -> dict[str, float]:
    """ELBO(q) = E_q[log p(x|z)] - KL(q || N(0, I)) for q = N(mu, diag(sigma^2)), in nats.

    E_q by a nodes x nodes Gauss-Hermite product rule; the KL in closed form (losses.gaussian_kl).
    """
    x = _check(model, x)
    t, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)  # an expectation under N(0, 1)
    t1, t0 = np.meshgrid(t, t, indexing="ij")
    eps = torch.tensor(np.stack([t0.ravel(), t1.ravel()], 1))             # (nodes^2, 2)
    weights = torch.tensor(np.outer(w, w).ravel())                         # (nodes^2,)
    mu, sigma = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(sigma, dtype=torch.float64)
    expected = float(weights @ _log_likelihood(model, x, mu + sigma * eps, cfg))
    kl = float(gaussian_kl(mu, 2 * torch.log(sigma)).sum())
    return {"expected_log_lik": expected, "kl_prior": kl, "elbo": expected - kl}


def encoder_q(model: Autoencoder, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's q(z|x): mu (2,) and sigma (2,)."""
    mu, logvar = encode(model, _check(model, x))
    return mu[0].double().cpu().numpy(), (0.5 * logvar[0]).exp().double().cpu().numpy()


def best_gaussian(grid: PosteriorGrid, mu0, sigma0) -> tuple[np.ndarray, np.ndarray]:
    """The diagonal Gaussian closest to the grid posterior, argmin KL(q || p(z|x)) (the best q an
    encoder could output for this x), by BFGS over (mu, log sigma) from (mu0, sigma0), with the
    gradient of the grid sum from autograd."""
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.tensor(theta, requires_grad=True)
        value = gap(grid, t[:2], t[2:].exp())
        (g,) = torch.autograd.grad(value, t)
        return value.item(), g.numpy()

    start = np.concatenate([np.asarray(mu0, dtype=float), np.log(np.asarray(sigma0, dtype=float))])
    theta = minimize(objective, start, jac=True, method="BFGS", options={"gtol": 1e-7}).x
    return theta[:2], np.exp(theta[2:])


def iwae_curve(model: Autoencoder, x: torch.Tensor, cfg: Config, ks=(1, 10, 100, 1000), draws: int = 8000,
               seed: int = 0) -> list[dict]:
    """The IWAE bound L_k with the encoder's q for each k: mean and standard error over
    max(8, draws // k) independent estimates (metrics.iwae_bound on copies of x)."""
    x = _check(model, x)
    rows = []
    for k in ks:
        repeats = max(8, draws // k)
        est = iwae_bound(model, x.expand(repeats, *x.shape[1:]), None, cfg, k=k, seed=seed).double()
        rows.append({"k": k, "bound": float(est.mean()), "se": float(est.std() / math.sqrt(repeats)), "n": repeats})
    return rows
