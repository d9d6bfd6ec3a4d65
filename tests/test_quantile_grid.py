"""The Gaussian-quantile manifold grid (issue 7, fault 7): points at the (k + 1/2)/n quantiles of
N(0, 1), so that each of the n cells holds the same prior mass, checked against scipy."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from vae_core.latent import grid_values


@pytest.mark.parametrize("n", [1, 2, 5, 15, 30])
def test_quantile_points_are_the_half_step_quantiles_of_the_standard_normal(n):
    q = grid_values(n, 3.0, "quantile").double().numpy()
    expected = stats.norm.ppf((np.arange(n) + 0.5) / n)  # independent: scipy's inverse CDF
    np.testing.assert_allclose(q, expected, rtol=1e-6, atol=1e-6)
    # the span does not move them: n alone sets the points
    np.testing.assert_array_equal(q, grid_values(n, 0.5, "quantile").double().numpy())


@pytest.mark.parametrize("n", [3, 15, 30])
def test_each_quantile_cell_holds_equal_prior_mass(n):
    q = grid_values(n, 3.0, "quantile").double()
    # cell k runs between the midpoints of its neighbours in probability: its edges are the k/n
    # quantiles, so its mass is 1/n and its point is its median
    edges = stats.norm.ppf(np.arange(n + 1) / n)                   # -inf ... inf
    mass = np.diff(stats.norm.cdf(edges))
    np.testing.assert_allclose(mass, np.full(n, 1 / n), atol=1e-12)
    below = stats.norm.cdf(q.numpy()) - stats.norm.cdf(edges[:-1])   # prior mass from the lower edge to the point
    np.testing.assert_allclose(below, np.full(n, 0.5 / n), atol=1e-6)
    # the outer points stay inside the grid's cells: never at the lowest or highest quantile edge
    assert np.isfinite(q.numpy()).all() and q[0] > torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(1e-3)).item()
