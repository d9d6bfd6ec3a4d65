"""KL(N(mu, sigma^2) || N(0, 1)), the VAE's regulariser, three ways: the closed form the losses use
(losses.gaussian_kl, Kingma & Welling 2014, Appendix B), a Monte Carlo estimate with its standard
error, and the one line of code with the numbers put in.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..losses import gaussian_kl


def _check(sigma) -> None:
    if not np.all(np.asarray(sigma) > 0):
        raise ValueError(f"sigma must be > 0, got {sigma}")


def closed_form(mu, sigma) -> np.ndarray:
    """-1/2 (1 + log sigma^2 - mu^2 - sigma^2), elementwise over arrays of mu and sigma."""
    _check(sigma)
    mu, sigma = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(sigma, dtype=torch.float64)
    return gaussian_kl(mu, 2 * torch.log(sigma)).numpy()


def surface(mus: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """The closed form on a grid: (len(sigmas), len(mus)), row i for sigmas[i]."""
    return closed_form(np.asarray(mus)[None, :], np.asarray(sigmas)[:, None])


def monte_carlo(mu: float, sigma: float, n: int, seed: int = 0) -> tuple[float, float]:
    """E_q[log q(z) - log p(z)] from n draws z ~ q: (estimate, standard error)."""
    _check(sigma)
    if n < 2:
        raise ValueError(f"at least 2 samples are needed, got {n}")
    z = mu + sigma * torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    eps = (z - mu) / sigma
    log_ratio = (-0.5 * eps**2 - math.log(sigma)) - (-0.5 * z**2)  # log q - log p; the log 2 pi cancels
    return float(log_ratio.mean()), float(log_ratio.std() / math.sqrt(n))


CODE = "-0.5 * sum(1 + logvar - mu**2 - exp(logvar))"


def code_line(mu: float, sigma: float) -> list[str]:
    """The code, then the same line with mu and logvar = log sigma^2 substituted, then each term, then
    the value (one latent dim, so the sum has one term)."""
    _check(sigma)
    lv = math.log(sigma**2)
    kl = -0.5 * (1 + lv - mu**2 - math.exp(lv))
    return [
        f"kl = {CODE}",
        f"   = -0.5 * sum(1 + ({lv:.3f}) - ({mu:.3f})**2 - exp({lv:.3f}))",
        f"   = -0.5 * (1 + ({lv:.3f}) - {mu**2:.3f} - {math.exp(lv):.3f})",
        f"   = {kl:.4f}",
    ]
