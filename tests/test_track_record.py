"""Analysts' track record: noise posteriors per case and pooled over resolved cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from syriaforecast.backtest.track_record import (
    LOG_NOISE_GRID,
    analyst_track_record,
    log_noise_density,
    log_prior_density,
)
from syriaforecast.errors import SyriaforecastError

GRID = LOG_NOISE_GRID


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5], ids=lambda s: f"scale={s}")
def test_prior_density_is_the_half_normal_in_log_space(scale):
    tau = np.exp(GRID)
    expected = scipy.stats.halfnorm(scale=scale).logpdf(tau) + GRID  # Jacobian d tau / d log tau
    assert np.allclose(log_prior_density(GRID, scale), expected, atol=1e-12)


def test_kernel_density_recovers_a_log_normal_posterior():
    rng = np.random.default_rng(0)
    mu, sd = math.log(0.5), 0.3
    n = 40_000
    draws = np.exp(rng.normal(mu, sd, size=(n, 1)))
    density = log_noise_density(draws)[0]
    assert np.trapezoid(density, GRID) == pytest.approx(1.0, abs=1e-9)
    # A Gaussian kernel of Silverman's bandwidth h convolves N(mu, sd^2) into N(mu, sd^2 + h^2).
    bandwidth = 1.06 * sd * n ** (-0.2)
    expected = scipy.stats.norm(mu, math.hypot(sd, bandwidth)).pdf(GRID)
    assert np.abs(density - expected).max() < 0.04 * expected.max()


def test_importance_weights_move_the_density():
    """Weights proportional to a Gaussian likelihood turn N(0, 1) draws into the known posterior."""
    rng = np.random.default_rng(1)
    u = rng.normal(0.0, 1.0, size=20000)
    log_w = -0.5 * ((u - 1.0) / 0.5) ** 2
    weights = np.exp(log_w - log_w.max())
    weights /= weights.sum()
    density = log_noise_density(np.exp(u)[:, None], weights)[0]
    # N(0, 1) prior times N(1, 0.5^2) likelihood: N(0.8, 0.2).
    mean = np.trapezoid(GRID * density, GRID)
    assert mean == pytest.approx(0.8, abs=0.02)


def _result(densities: np.ndarray, scales: list[float], analysts=("ann", "ben")) -> xr.Dataset:
    C = densities.shape[0]
    return xr.Dataset(
        {
            "analyst_noise_density": (("case", "analyst", "log_noise"), densities),
            "analyst_noise_prior_scale": ("case", np.array(scales)),
        },
        coords={"case": [f"case{c}" for c in range(C)], "analyst": list(analysts), "log_noise": GRID},
    )


def _normalised(log_density: np.ndarray) -> np.ndarray:
    density = np.exp(log_density - log_density.max())
    return density / np.trapezoid(density, GRID)


def _mean_tau(density: np.ndarray) -> float:
    return float(np.trapezoid(np.exp(GRID) * density, GRID))


def test_pooling_multiplies_the_case_likelihoods_under_one_prior():
    """Case posteriors built as prior x Gaussian likelihood pool to prior x product of likelihoods."""
    likelihoods = [(-1.0, 0.4), (-0.6, 0.5), (-0.9, 0.3)]  # log-tau centre and width per case
    scales = [1.0, 0.5, 2.0]  # each case's model has its own prior scale
    log_lik = [scipy.stats.norm(m, s).logpdf(GRID) for m, s in likelihoods]
    posts = [_normalised(log_prior_density(GRID, sc) + ll) for sc, ll in zip(scales, log_lik, strict=True)]
    densities = np.stack([np.stack([p, p]) for p in posts])
    densities[2, 1] = np.nan  # ben did not elicit case 2
    record = analyst_track_record(_result(densities, scales))

    pooled_ann = _normalised(log_prior_density(GRID, scales[0]) + sum(log_lik))
    pooled_ben = _normalised(log_prior_density(GRID, scales[0]) + log_lik[0] + log_lik[1])
    assert float(record["pooled_mean"].sel(analyst="ann")) == pytest.approx(_mean_tau(pooled_ann), rel=1e-6)
    assert float(record["pooled_mean"].sel(analyst="ben")) == pytest.approx(_mean_tau(pooled_ben), rel=1e-6)
    assert record["n_cases"].values.tolist() == [3, 2]
    for c, post in enumerate(posts):
        assert float(record["noise_mean"].values[c, 0]) == pytest.approx(_mean_tau(post), rel=1e-6)
    assert np.isnan(record["noise_mean"].values[2, 1])
    # Pooling sharpens: the interval given every case is narrower than any single case's.
    width = record["noise_high"] - record["noise_low"]
    pooled_width = record["pooled_high"] - record["pooled_low"]
    assert float(pooled_width.sel(analyst="ann")) < float(width.sel(analyst="ann").min())


def test_one_case_pools_to_itself():
    post = _normalised(log_prior_density(GRID, 1.0) + scipy.stats.norm(-0.5, 0.3).logpdf(GRID))
    record = analyst_track_record(_result(post[None, None, :], [1.0], analysts=("ann",)))
    for stat in ("mean", "low", "high"):
        assert float(record[f"pooled_{stat}"][0]) == pytest.approx(float(record[f"noise_{stat}"][0, 0]))
    # The 90% interval is equal-tailed: check against the grid CDF directly.
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (post[1:] + post[:-1]) * np.diff(GRID))])
    cdf /= cdf[-1]
    assert math.log(float(record["noise_low"][0, 0])) == pytest.approx(np.interp(0.05, cdf, GRID))


def test_track_record_refuses_results_without_analysts():
    with pytest.raises(SyriaforecastError, match="several analysts"):
        analyst_track_record(xr.Dataset({"brier": ("case", [0.1])}))
    post = np.full((1, 1, GRID.size), 1.0)
    with pytest.raises(SyriaforecastError, match="prob"):
        analyst_track_record(_result(post, [1.0], analysts=("ann",)), prob=1.5)
