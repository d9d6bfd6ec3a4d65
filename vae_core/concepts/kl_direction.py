"""Forward vs reverse KL: the best single Gaussian q for a mixture of 1-D Gaussians p, both ways.

KL(p || q) ("forward") is minimised by matching p's mean and variance, in closed form: q must put
mass wherever p has some, so it covers every mode (mass-covering).
KL(q || p) ("reverse", the direction of the VAE's ELBO, with p = p(z|x)) has no closed form; it is
minimised numerically from several starting points. q pays log q/p wherever it puts mass, so when
p's modes are far apart q settles on one of them (mode-seeking), and each mode is a local optimum.

Expectations under a Gaussian are sums over a fine grid of standard-normal nodes,
E_N(m, s^2)[f] = sum_i w_i f(m + s t_i): log p has a near-kink between far-apart modes, where
Gauss-Hermite quadrature converges slowly (0.006 nats off with 96 nodes), a fine grid does not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

_T = np.linspace(-9, 9, 1201)  # standard-normal nodes, dt = 0.015
_W = np.exp(-0.5 * _T**2)
_W = _W / _W.sum()             # sum(_W) = 1: an expectation under N(0, 1), mass beyond 9 sd dropped
HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)  # entropy of N(0, 1)


@dataclass(frozen=True)
class Mixture:
    """p(x) = sum_k w_k N(x; m_k, s_k^2)."""
    weights: tuple[float, ...]
    means: tuple[float, ...]
    sigmas: tuple[float, ...]

    def __post_init__(self):
        if not (len(self.weights) == len(self.means) == len(self.sigmas) >= 1):
            raise ValueError("a mixture needs as many weights, means and widths, at least one of each")
        if any(w <= 0 for w in self.weights) or not math.isclose(sum(self.weights), 1.0, abs_tol=1e-9):
            raise ValueError(f"mixture weights must be > 0 and sum to 1, got {self.weights}")
        if any(not s > 0 for s in self.sigmas):
            raise ValueError(f"mixture widths must be > 0, got {self.sigmas}")

    def _terms(self, x: np.ndarray) -> np.ndarray:
        """log w_k + log N(x; m_k, s_k^2): (..., K)."""
        w, m, s = (np.asarray(v, dtype=float) for v in (self.weights, self.means, self.sigmas))
        x = np.asarray(x, dtype=float)[..., None]
        return np.log(w) - np.log(s) - 0.5 * math.log(2 * math.pi) - 0.5 * ((x - m) / s) ** 2

    def log_pdf(self, x) -> np.ndarray:
        """log p(x), stable far in the tails (log-sum-exp over components)."""
        return self.log_pdf_and_grad(x)[0]

    def log_pdf_and_grad(self, x) -> tuple[np.ndarray, np.ndarray]:
        """log p(x), and d/dx log p(x) = sum_k r_k(x) (m_k - x) / s_k^2 with r_k the responsibilities."""
        a = self._terms(x)                     # (..., K)
        top = a.max(-1, keepdims=True)
        e = np.exp(a - top)
        total = e.sum(-1, keepdims=True)
        m, s = np.asarray(self.means), np.asarray(self.sigmas)
        grad = ((e / total) * (m - np.asarray(x, dtype=float)[..., None]) / s**2).sum(-1)
        return (top + np.log(total))[..., 0], grad

    @property
    def mean(self) -> float:
        return float(np.dot(self.weights, self.means))

    @property
    def var(self) -> float:
        """Law of total variance: E[s_k^2] + Var[m_k]."""
        w, m, s = (np.asarray(v, dtype=float) for v in (self.weights, self.means, self.sigmas))
        return float(w @ (s**2 + m**2) - (w @ m) ** 2)

    def neg_entropy(self) -> float:
        """E_p[log p] = sum_k w_k E_{N(m_k, s_k^2)}[log p] (no closed form for a mixture)."""
        return float(sum(w * _W @ self.log_pdf(m + s * _T) for w, m, s in zip(self.weights, self.means, self.sigmas)))


def two_gaussians(w1: float, m1: float, s1: float, m2: float, s2: float) -> Mixture:
    """w1 N(m1, s1^2) + (1 - w1) N(m2, s2^2), the page's sliders."""
    return Mixture((w1, 1.0 - w1), (m1, m2), (s1, s2))


@dataclass(frozen=True)
class Fit:
    """A Gaussian q = N(mu, sigma^2) and both KL divergences between it and p, in nats."""
    mu: float
    sigma: float
    forward: float   # KL(p || q)
    reverse: float   # KL(q || p)


def forward_kl(p: Mixture, mu: float, sigma: float) -> float:
    """KL(p || q) = E_p[log p] - E_p[log q]; E_p[log q] needs only p's mean and variance."""
    e_log_q = -0.5 * math.log(2 * math.pi * sigma**2) - (p.var + (p.mean - mu) ** 2) / (2 * sigma**2)
    return p.neg_entropy() - e_log_q


def reverse_kl(p: Mixture, mu: float, sigma: float) -> float:
    """KL(q || p) = -H(q) - E_q[log p], H(q) = log sigma + log(2 pi e) / 2."""
    return -math.log(sigma) - HALF_LOG_2PI_E - float(_W @ p.log_pdf(mu + sigma * _T))


def fit(p: Mixture, mu: float, sigma: float) -> Fit:
    return Fit(float(mu), float(sigma), float(forward_kl(p, mu, sigma)), float(reverse_kl(p, mu, sigma)))


def shares(p: Mixture, q: Fit) -> np.ndarray:
    """How much of q lies on each component, relative to that component's weight: E_q[r_k(x)] / w_k,
    r_k(x) = w_k N_k(x) / p(x). All about 1 when q straddles every mode; near 0 for a mode it skips."""
    a = p._terms(q.mu + q.sigma * _T)  # (nodes, K)
    r = np.exp(a - a.max(-1, keepdims=True))
    r /= r.sum(-1, keepdims=True)
    return (_W @ r) / np.asarray(p.weights)


def straddles(p: Mixture, q: Fit) -> bool:
    """q covers every component with at least half the share it would get by covering p exactly."""
    return bool(shares(p, q).min() >= 0.5)


def moment_match(p: Mixture) -> Fit:
    """argmin_q KL(p || q) over Gaussians: q = N(E_p[x], Var_p[x])."""
    return fit(p, p.mean, math.sqrt(p.var))


def _reverse_objective(theta: np.ndarray, p: Mixture) -> tuple[float, np.ndarray]:
    """KL(q || p) and its gradient in theta = (mu, log sigma); x = mu + sigma t (reparameterized):
    d/dmu = -E[g(x)], d/dlog sigma = -1 - sigma E[t g(x)], g = d log p / dx."""
    mu, sigma = theta[0], math.exp(theta[1])
    log_p, g = p.log_pdf_and_grad(mu + sigma * _T)
    value = -theta[1] - HALF_LOG_2PI_E - float(_W @ log_p)
    return value, np.array([-(_W @ g), -1.0 - sigma * (_W @ (_T * g))])


def _descend(p: Mixture, mu0: float, sigma0: float, gtol: float = 1e-9):
    """BFGS on KL(q || p) over (mu, log sigma) from (mu0, sigma0): scipy's result."""
    return minimize(_reverse_objective, np.array([mu0, math.log(sigma0)]), args=(p,), jac=True,
                    method="BFGS", options={"gtol": gtol, "maxiter": 500})


def _minimum(p: Mixture, mu0: float, sigma0: float) -> np.ndarray | None:
    """A local minimum of KL(q || p) from (mu0, sigma0) as (mu, log sigma); None at a saddle."""
    theta = _descend(p, mu0, sigma0).x
    # a start on a symmetry axis can stall on a saddle: keep only points where the Hessian
    # (central differences of the exact gradient) is positive definite
    h = 1e-4
    hess = np.stack([(_reverse_objective(theta + h * e, p)[1] - _reverse_objective(theta - h * e, p)[1]) / (2 * h)
                     for e in np.eye(2)])
    return theta if np.linalg.eigvalsh(0.5 * (hess + hess.T)).min() > 1e-9 else None


def _starts(p: Mixture) -> list[tuple[float, float]]:
    """On each component, and on the moment match nudged off the middle (a symmetric start would
    stay on the symmetry axis)."""
    spread = math.sqrt(p.var)
    return [*zip(p.means, p.sigmas), (p.mean + 0.05 * spread, spread), (p.mean - 0.05 * spread, 0.5 * spread)]


def reverse_fits(p: Mixture) -> list[Fit]:
    """Every local minimum of KL(q || p) reached from `_starts`, best (lowest KL(q || p)) first,
    duplicates merged."""
    spread = math.sqrt(p.var)
    found: list[np.ndarray] = []
    for mu0, s0 in _starts(p):
        theta = _minimum(p, mu0, s0)
        if theta is not None and not any(np.allclose(theta, t, atol=1e-3 * max(spread, 1e-3)) for t in found):
            found.append(theta)
    fits = [fit(p, t[0], math.exp(t[1])) for t in found]
    return sorted(fits, key=lambda f: f.reverse)


def switch_separation(w1: float, s1: float, s2: float, tol: float = 0.05) -> float | None:
    """The distance between the two means beyond which the best reverse fit picks one mode instead
    of straddling both (bisection on `straddles`); None if it still straddles at 30 widths apart."""
    def picks_one(d: float) -> bool:  # the lowest point reached from the starts, looser tolerance
        p = two_gaussians(w1, -d / 2, s1, d / 2, s2)
        best = min((_descend(p, mu0, s0, gtol=1e-6) for mu0, s0 in _starts(p)), key=lambda r: r.fun)
        return not straddles(p, Fit(best.x[0], math.exp(best.x[1]), math.nan, best.fun))

    lo, hi = 0.0, 12 * max(s1, s2)
    if not picks_one(hi):
        lo, hi = hi, 30 * max(s1, s2)
        if not picks_one(hi):
            return None
    while hi - lo > tol * max(s1, s2):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if picks_one(mid) else (mid, hi)
    return hi
