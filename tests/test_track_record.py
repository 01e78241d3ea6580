"""Analysts' track record: noise posteriors per case and pooled over resolved cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import xarray as xr

from syriaforecast.backtest.track_record import (
    LOG_NOISE_EDGES,
    analyst_track_record,
    case_log_likelihood,
    log_prior_density,
    noise_posterior,
    prior_bin_mass,
)
from syriaforecast.errors import SyriaforecastError

EDGES = LOG_NOISE_EDGES
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5], ids=lambda s: f"scale={s}")
def test_prior_density_and_bin_mass_are_the_half_normal_in_log_space(scale):
    u = np.linspace(-5, 3, 50)
    expected = scipy.stats.halfnorm(scale=scale).logpdf(np.exp(u)) + u  # Jacobian d tau / d log tau
    assert np.allclose(log_prior_density(u, scale), expected, atol=1e-12)
    halfnorm = scipy.stats.halfnorm(scale=scale)
    cdf = halfnorm.cdf(np.exp(EDGES))
    cdf[0], cdf[-1] = 0.0, 1.0  # the end bins hold the mass beyond the edges
    assert np.allclose(prior_bin_mass(scale), np.diff(cdf), atol=1e-14)


def test_noise_posterior_summarises_weighted_draws():
    """Weights proportional to a Gaussian likelihood turn N(0, 1) draws of log tau into N(0.8, 0.2)."""
    rng = np.random.default_rng(1)
    u = rng.normal(0.0, 1.0, size=200_000)
    log_w = -0.5 * ((u - 1.0) / 0.5) ** 2
    weights = np.exp(log_w - log_w.max())
    summary = noise_posterior(np.exp(u)[:, None], weights)
    posterior = scipy.stats.norm(0.8, math.sqrt(0.2))
    assert np.abs(summary["bin_mass"][0] - np.diff(posterior.cdf(EDGES))).max() < 4e-3
    tau = scipy.stats.lognorm(s=math.sqrt(0.2), scale=math.exp(0.8))
    assert summary["mean"][0] == pytest.approx(tau.mean(), rel=0.02)
    assert summary["low"][0] == pytest.approx(tau.ppf(0.05), rel=0.02)
    assert summary["high"][0] == pytest.approx(tau.ppf(0.95), rel=0.02)


def _case_mass(log_likelihood: np.ndarray, scale: float) -> np.ndarray:
    """Exact posterior bin mass of a case: prior bin mass times a likelihood (evaluated at centres)."""
    mass = prior_bin_mass(scale) * np.exp(log_likelihood - log_likelihood.max())
    return mass / mass.sum()


def test_case_likelihood_is_recovered_from_posterior_draws():
    """Draws from prior x one-sided likelihood: the histogram ratio gives back that likelihood's shape."""
    rng = np.random.default_rng(2)
    scale = 1.0
    # One-sided: flat towards zero noise, falling above 0.5 (what two analysts' disagreement gives).
    log_lik = -np.logaddexp(0.0, 4.0 * (CENTRES - math.log(0.5)))
    prior_draws = np.abs(rng.normal(0.0, scale, size=400_000))
    u = np.log(prior_draws)
    log_w = -np.logaddexp(0.0, 4.0 * (u - math.log(0.5)))
    summary = noise_posterior(prior_draws[:, None], np.exp(log_w))
    recovered = case_log_likelihood(summary["bin_mass"][0], scale)
    well_sampled = summary["bin_mass"][0] > 5e-3
    difference = (recovered - log_lik)[well_sampled]
    assert well_sampled.sum() > 30
    assert np.ptp(difference) < 0.2  # equal up to a constant where draws are plentiful


def _result(masses, scales, analysts=("ann", "ben")) -> xr.Dataset:
    """A backtest result's analyst variables for case posteriors given as bin masses."""
    C, A = len(masses), len(analysts)
    stats = {name: np.full((C, A), np.nan) for name in ("mean", "low", "high")}
    bin_mass = np.full((C, A, CENTRES.size), np.nan)
    for c, row in enumerate(masses):
        for a, mass in enumerate(row):
            if mass is not None:
                bin_mass[c, a] = mass
                stats["mean"][c, a], stats["low"][c, a], stats["high"][c, a] = _summary(mass)
    return xr.Dataset(
        {f"analyst_noise_{k}": (("case", "analyst"), v) for k, v in stats.items()}
        | {
            "analyst_noise_bin_mass": (("case", "analyst", "log_noise_bin"), bin_mass),
            "analyst_noise_prior_scale": ("case", np.array(scales)),
        },
        coords={"case": [f"case{c}" for c in range(C)], "analyst": list(analysts)},
    )


def _summary(mass: np.ndarray) -> tuple[float, float, float]:
    """Mean and 90% interval of tau, mass spread evenly in log tau within each bin (by hand)."""
    mass = mass / mass.sum()
    mean = sum(
        m * (math.exp(b) - math.exp(a)) / (b - a) for m, a, b in zip(mass, EDGES[:-1], EDGES[1:], strict=True)
    )
    cdf = np.concatenate([[0.0], np.cumsum(mass)])
    low, high = np.interp([0.05, 0.95], cdf, EDGES)
    return float(mean), math.exp(low), math.exp(high)


def test_pooling_multiplies_the_case_likelihoods_under_one_prior():
    """Case posteriors = prior x likelihood pool to the first prior x the product of likelihoods.

    Within 0.5%: a bin's likelihood is floored at 1e-3 of the case's largest, which adds a
    little mass in the tails.
    """
    log_liks = [
        scipy.stats.norm(-1.0, 0.4).logpdf(CENTRES),
        -np.logaddexp(0.0, 4.0 * (CENTRES + 0.5)),  # one-sided
        scipy.stats.norm(-0.9, 0.3).logpdf(CENTRES),
    ]
    scales = [1.0, 0.5, 2.0]  # each case's model has its own prior scale
    masses = [_case_mass(ll, sc) for ll, sc in zip(log_liks, scales, strict=True)]
    record = analyst_track_record(_result([[m, m] for m in masses[:2]] + [[masses[2], None]], scales))

    expected_ann = _summary(_case_mass(sum(log_liks), scales[0]))
    expected_ben = _summary(_case_mass(log_liks[0] + log_liks[1], scales[0]))
    for k, stat in enumerate(("mean", "low", "high")):
        assert float(record[f"pooled_{stat}"].sel(analyst="ann")) == pytest.approx(expected_ann[k], rel=5e-3)
        assert float(record[f"pooled_{stat}"].sel(analyst="ben")) == pytest.approx(expected_ben[k], rel=5e-3)
    assert record["n_cases"].values.tolist() == [3, 2]
    assert np.isnan(record["noise_mean"].values[2, 1])


def test_one_case_pools_to_itself():
    mass = _case_mass(scipy.stats.norm(-0.5, 0.3).logpdf(CENTRES), 1.0)
    record = analyst_track_record(_result([[mass]], [1.0], analysts=("ann",)))
    for stat in ("mean", "low", "high"):
        assert float(record[f"pooled_{stat}"][0]) == pytest.approx(
            float(record[f"noise_{stat}"][0, 0]), rel=5e-3
        )


def test_track_record_refuses_results_without_analysts():
    with pytest.raises(SyriaforecastError, match="several analysts"):
        analyst_track_record(xr.Dataset({"brier": ("case", [0.1])}))
    mass = prior_bin_mass(1.0)
    with pytest.raises(SyriaforecastError, match="prob"):
        analyst_track_record(_result([[mass]], [1.0], analysts=("ann",)), prob=1.5)


# --------------------------------------------------------------------------- end to end
def test_backtest_reports_each_analysts_noise_over_the_cases():
    """Three synthetic cases elicited by three analysts of known noise: the pooled record finds them.

    Measured (seed 4, 150 draws x 2 chains per fit): pooled means 0.24, 0.61, 1.51 for true
    noise 0.2, 0.6, 1.5 (0.23, 0.61, 1.52 after the kernel of 2026-12-01), each 90% interval
    covering the truth; narrower (in log terms) than any single case's for the two noisier
    analysts, and than the median case's for the careful one (see below).
    """
    from pathlib import Path

    from syriaforecast import load_model
    from syriaforecast.backtest import backtest
    from syriaforecast.backtest.cli import backtest_json
    from syriaforecast.studies import simulate_worlds

    base = load_model(Path(__file__).parent / "data" / "synthetic_base.toml")
    true_noise = {"careful": 0.2, "middling": 0.6, "careless": 1.5}
    worlds = simulate_worlds(base, 3, seed=4, analysts=true_noise, report_rate=0.9)
    import warnings

    from syriaforecast.errors import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains on purpose
        result = backtest(
            worlds, cutoffs=[1], draws=150, tune=150, chains=2, executor="serial", progress=False
        )
    assert result["analyst_noise_mean"].dims == ("case", "analyst")
    record = analyst_track_record(result)
    assert record["n_cases"].values.tolist() == [3, 3, 3]
    pooled = [float(record["pooled_mean"].sel(analyst=a)) for a in true_noise]
    assert pooled == sorted(pooled)
    for analyst, noise in true_noise.items():
        assert (
            float(record["pooled_low"].sel(analyst=analyst))
            < noise
            < float(record["pooled_high"].sel(analyst=analyst))
        )
    # Pooling three cases narrows the interval (on the log scale) below the narrowest single case's
    # where the cases identify the noise. The careful analyst's lower end sits near 0, where the
    # prior sets it in every case, so pooling narrows that interval less: below the median case's
    # (measured after the kernel of 2026-12-01: pooled 2.44 against single cases 2.42, 2.80,
    # 2.91; middling 0.45 against 0.72-1.26; careless 0.31 against 0.41-0.49).
    log_width = np.log(record["noise_high"] / record["noise_low"])
    pooled_log_width = np.log(record["pooled_high"] / record["pooled_low"])
    identified = ["middling", "careless"]
    assert (pooled_log_width.sel(analyst=identified) < log_width.sel(analyst=identified).min("case")).all()
    careful = float(log_width.sel(analyst="careful").median("case"))
    assert float(pooled_log_width.sel(analyst="careful")) < careful
    payload = backtest_json(result)
    rows = {row["analyst"]: row for row in payload["analysts"]}
    assert rows["careless"]["noise_mean"] == pytest.approx(pooled[2], abs=1e-6)
    assert set(rows["careful"]["by_case"]) == {str(c) for c in result["case"].values}
