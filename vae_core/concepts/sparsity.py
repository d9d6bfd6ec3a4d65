"""The sparse autoencoder's activity penalties, on the mean activations rho_hat_j of its code units.

KL: sum_j KL(rho || rho_hat_j), each unit's mean activation (a sigmoid, in (0, 1)) held near a small
target rho (Ng's sparse autoencoder notes; losses.sparse_kl_penalty). L1: sum_j |a_j|, which for
units in (0, 1) averages to sum_j rho_hat_j: a straight line that pushes every unit towards 0.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import Config
from ..latent import encode
from ..losses import bernoulli_kl, sparse_kl_penalty
from ..models import Autoencoder

# The worked example: target rho = 0.2, three hidden units with these mean activations.
WORKED_RHO = 0.2
WORKED_ACTIVATIONS = (0.866, 0.096, 0.11)


def _check(rho: float, rho_hat) -> np.ndarray:
    rho_hat = np.asarray(rho_hat, dtype=float)
    if not 0 < rho < 1:
        raise ValueError(f"the target rho must be strictly between 0 and 1, got {rho}")
    if rho_hat.size == 0 or not np.all((rho_hat > 0) & (rho_hat < 1)):
        raise ValueError("mean activations must be strictly between 0 and 1 (sigmoid units)")
    return rho_hat


def kl_penalty(rho: float, rho_hat) -> np.ndarray:
    """KL(Bernoulli(rho) || Bernoulli(rho_hat)) per unit (losses.bernoulli_kl), elementwise."""
    rho_hat = _check(rho, rho_hat)
    return bernoulli_kl(rho, torch.as_tensor(rho_hat, dtype=torch.float64)).numpy()


def l1_penalty(rho_hat) -> np.ndarray:
    """The L1 penalty's average per unit, |a| averaged over examples = rho_hat for units in (0, 1)."""
    return np.abs(np.asarray(rho_hat, dtype=float))


def worked_table(rho: float, activations) -> dict:
    """Each unit's KL and L1 penalty, and the totals; the KL total is the loss's own
    losses.sparse_kl_penalty over a one-example batch whose code is the activations."""
    act = _check(rho, activations)
    total = sparse_kl_penalty(torch.as_tensor(act, dtype=torch.float64)[None, :], rho)
    return {"rho_hat": act, "kl": kl_penalty(rho, act), "l1": l1_penalty(act),
            "kl_total": float(total), "l1_total": float(act.sum())}


def sparse_config(rho: float, weight: float, units: int = 32, epochs: int = 20) -> Config:
    """A sparse AE (sigmoid code, KL penalty) on the digits small enough to train in seconds."""
    return Config(dataset="digits", model="sparse_ae", sparsity="kl", rho=rho, sparsity_weight=weight,
                  hidden=(64,), latent_dim=units, epochs=epochs, batch_size=64, lr=3e-3).validate()


def mean_activations(model: Autoencoder, x: torch.Tensor) -> np.ndarray:
    """rho_hat_j: each code unit's mean activation over the examples x, (H,)."""
    code, _ = encode(model, x)
    return code.mean(0).double().cpu().numpy()
