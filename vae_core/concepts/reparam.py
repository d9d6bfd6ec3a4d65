"""The reparameterization trick, and why a VAE uses it.

Sampling z ~ N(mu, sigma^2) as z = mu + sigma * eps, eps ~ N(0, 1), moves the randomness into eps,
so z is a differentiable function of (mu, sigma): dz/dmu = 1, dz/dsigma = eps (Kingma & Welling
2014, section 2.4). For the gradient of E_q[f(z)] that gives the estimator f'(z) (1, eps). The
alternative that needs no derivative of f, the score-function (REINFORCE, Williams 1992) estimator
f(z) d/dtheta log q(z), is unbiased too but far noisier. Here f(z) = z^2, so everything is exact:
E_q[z^2] = mu^2 + sigma^2, whose gradient is (2 mu, 2 sigma).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _check(mu: float, sigma: float, n: int) -> None:
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if n < 2:
        raise ValueError(f"at least 2 samples are needed, got {n}")


def _eps(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def reparameterize(mu: float, sigma: float, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """n samples eps, z = mu + sigma eps, and each sample's dz/dmu and dz/dsigma, by autograd."""
    _check(mu, sigma, n)
    eps = _eps(n, seed)
    m = torch.full((n,), float(mu), dtype=torch.float64, requires_grad=True)  # one copy per sample,
    s = torch.full((n,), float(sigma), dtype=torch.float64, requires_grad=True)  # so grads stay per sample
    z = m + s * eps
    dz_dmu, dz_dsigma = torch.autograd.grad(z.sum(), (m, s))
    return {"eps": eps.numpy(), "z": z.detach().numpy(), "dz_dmu": dz_dmu.numpy(), "dz_dsigma": dz_dsigma.numpy()}


def f(z: torch.Tensor) -> torch.Tensor:
    """The test function f(z) = z^2."""
    return z**2


def exact_gradient(mu: float, sigma: float) -> np.ndarray:
    """d/d(mu, sigma) of E_q[z^2] = mu^2 + sigma^2."""
    return np.array([2 * mu, 2 * sigma])


def analytic_variance(mu: float, sigma: float) -> dict[str, np.ndarray]:
    """Per-sample variance of each estimator's (d/dmu, d/dsigma), from the moments of N(0, 1)
    (E eps^2 = 1, E eps^4 = 3, E eps^6 = 15, E eps^8 = 105):
    reparameterized 2z (1, eps): (4 sigma^2, 4 mu^2 + 8 sigma^2);
    score function z^2 (eps, eps^2 - 1) / sigma: (mu^4/sigma^2 + 14 mu^2 + 15 sigma^2,
    2 mu^4/sigma^2 + 60 mu^2 + 74 sigma^2)."""
    m2, s2 = mu**2, sigma**2
    return {"reparam": np.array([4 * s2, 4 * m2 + 8 * s2]),
            "score": np.array([m2**2 / s2 + 14 * m2 + 15 * s2, 2 * m2**2 / s2 + 60 * m2 + 74 * s2])}


@dataclass(frozen=True)
class Estimates:
    """Per-sample gradient estimates (n, 2) of d/d(mu, sigma) E_q[f(z)], and their summaries."""
    reparam: np.ndarray
    score: np.ndarray

    def mean(self, which: str) -> np.ndarray:
        return getattr(self, which).mean(0)

    def var(self, which: str) -> np.ndarray:
        """Sample variance of one sample's estimate; the mean of n has var / n."""
        return getattr(self, which).var(0, ddof=1)


def estimators(mu: float, sigma: float, n: int, seed: int = 0) -> Estimates:
    """Both estimators on the same n draws, each sample's gradient taken by autograd:
    reparameterized d f(mu + sigma eps) / d theta; score function f(z) d log q(z; theta) / d theta."""
    _check(mu, sigma, n)
    eps = _eps(n, seed)
    m = torch.full((n,), float(mu), dtype=torch.float64, requires_grad=True)
    s = torch.full((n,), float(sigma), dtype=torch.float64, requires_grad=True)
    z = m + s * eps
    reparam = torch.stack(torch.autograd.grad(f(z).sum(), (m, s)), 1)  # (n, 2)
    log_q = torch.distributions.Normal(m, s).log_prob(z.detach())      # z held fixed: only q's density moves
    score = f(z.detach())[:, None] * torch.stack(torch.autograd.grad(log_q.sum(), (m, s)), 1)
    return Estimates(reparam.numpy(), score.numpy())
