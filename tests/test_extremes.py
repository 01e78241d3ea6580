"""Numeric extremes: near-0/1 likelihoods, long chains, no evidence, contradiction, 1 and 8 scenarios."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf

SMALL = {"draws": 300, "tune": 300, "chains": 2, "seed": 11}


def make_model(
    n_scenarios: int,
    n_indicators: int,
    months: int,
    *,
    likelihood=None,
    persistence=0.9,
    elicitation_error=0.5,
    prior=None,
):
    ids = [f"s{k}" for k in range(n_scenarios)]
    prior = prior or [1.0 / n_scenarios] * n_scenarios
    rng = np.random.default_rng(n_scenarios * 1000 + n_indicators)
    indicators = []
    for k in range(n_indicators):
        probs = likelihood(k) if likelihood else rng.uniform(0.1, 0.9, n_scenarios)
        indicators.append(
            {
                "id": f"i{k}",
                "group": f"g{k % 3}",
                "type": "binary",
                "text": "t",
                "likelihood": {s: float(p) for s, p in zip(ids, probs, strict=True)},
            }
        )
    end = pd.Period("2000-01", freq="M") + (months - 1)
    return sf.parse_model(
        {
            "model": {
                "id": "extreme",
                "title": "Extreme",
                "period": "month",
                "start": "2000-01",
                "horizon": end.end_time.date(),
                "persistence": persistence,
                "elicitation_error": elicitation_error,
            },
            "scenarios": [
                {"id": s, "name": s.upper(), "prior": p, "resolution": "r"}
                for s, p in zip(ids, prior, strict=True)
            ],
            "indicators": indicators,
        }
    )


def monthly_reports(model, values_by_period, grade=("", "")):
    rows = []
    first = pd.Period("2000-01", freq="M")
    for t, values in enumerate(values_by_period):
        date = (first + t).start_time.date().isoformat()
        rows += [(date, ident, str(v), *grade) for ident, v in values.items()]
    frame = pd.DataFrame(rows, columns=["date", "indicator", "value", "reliability", "credibility"])
    return sf.load_evidence(frame, model)


def assert_proper(result):
    for values in (result.filtered.values, result.smoothed.values, result.horizon.values):
        assert np.isfinite(values).all()
        assert (values >= 0).all()
        np.testing.assert_allclose(values.sum(-1), 1.0, atol=1e-9)


def test_likelihoods_at_the_floor_and_ceiling_stay_finite():
    """1e-6 and 1 - 1e-6 make reports nearly decisive but never produce 0/0."""
    model = make_model(3, 4, 12, likelihood=lambda k: [1e-6, 0.5, 1 - 1e-6])
    periods = [{"i0": 1, "i1": 0}] * 6 + [{"i2": 1}] * 6
    evidence = monthly_reports(model, periods)
    exact = sf.forecast(model, evidence, exact=True)
    assert_proper(exact)
    # Seeing an indicator that is almost impossible under s0 rules s0 out, but not to exactly 0.
    assert 0 < exact.filtered.values[0, 0, 0, 0] < 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        sampled = sf.forecast(model, evidence, **SMALL)
    assert_proper(sampled)


def test_240_periods_40_indicators_without_nan_or_divergences():
    rng = np.random.default_rng(0)
    model = make_model(3, 40, 240, persistence=0.95)
    periods = [
        {f"i{k}": int(rng.random() < 0.5) for k in rng.choice(40, 8, replace=False)} for _ in range(240)
    ]
    evidence = monthly_reports(model, periods, grade=("B", "2"))
    exact = sf.forecast(model, evidence, exact=True)
    assert_proper(exact)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        sampled = sf.forecast(model, evidence, draws=150, tune=150, chains=2, seed=3)
    assert_proper(sampled)
    assert sampled.diagnostics.attrs["divergences"] == 0
    assert sampled.filtered.sizes["time"] == 240


def test_no_evidence_returns_the_prior_propagated():
    model = make_model(3, 3, 6, prior=[0.6, 0.3, 0.1], persistence=0.8)
    exact = sf.forecast(model, None, as_of="2000-06-30", exact=True)
    A = np.full((3, 3), 0.1)
    np.fill_diagonal(A, 0.8)
    expected = np.array([0.6, 0.3, 0.1]) @ np.linalg.matrix_power(A, 5)
    np.testing.assert_allclose(exact.horizon.values[0, 0], expected, atol=1e-12)
    np.testing.assert_allclose(exact.smoothed.values[0, 0], exact.filtered.values[0, 0], atol=1e-12)
    sampled = sf.forecast(model, None, as_of="2000-06-30", draws=500, tune=500, chains=4, seed=2)
    assert_proper(sampled)
    # Without evidence the posterior is the prior: the Dirichlet mean of the initial probabilities.
    np.testing.assert_allclose(
        sampled.posterior["initial_probability"].mean(("chain", "draw")), [0.6, 0.3, 0.1], atol=0.05
    )


def test_evidence_contradicting_the_prior_moves_it_without_nan():
    """A 99%-prior scenario facing 24 months of reports it makes very unlikely."""
    model = make_model(2, 5, 24, likelihood=lambda k: [0.05, 0.95], prior=[0.99, 0.01], persistence=0.99)
    evidence = monthly_reports(model, [{f"i{k}": 1 for k in range(5)}] * 24)
    exact = sf.forecast(model, evidence, exact=True)
    assert_proper(exact)
    assert exact.horizon.values[0, 0, 1] > 0.999
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        sampled = sf.forecast(model, evidence, **SMALL)
    assert_proper(sampled)
    assert float(sampled.mean().sel(scenario="s1")) > 0.95


def test_single_scenario_is_certain():
    model = make_model(1, 2, 6, prior=[1.0])
    evidence = monthly_reports(model, [{"i0": 1}, {"i1": 0}])
    for result in (sf.forecast(model, evidence, exact=True), sf.forecast(model, evidence, **SMALL)):
        assert_proper(result)
        np.testing.assert_allclose(result.horizon.values, 1.0)


def test_eight_scenarios():
    model = make_model(8, 12, 18)
    rng = np.random.default_rng(5)
    evidence = monthly_reports(
        model, [{f"i{k}": int(rng.random() < 0.5) for k in range(12)}] * 10, grade=("C", "3")
    )
    exact = sf.forecast(model, evidence, exact=True)
    assert_proper(exact)
    # Eight scenarios whose random likelihoods differ little are weakly identified once the
    # elicitations may be off: chains can settle on different scenarios. That must never pass
    # silently: either the diagnostics pass or the user is warned.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampled = sf.forecast(model, evidence, **SMALL)
    assert_proper(sampled)
    assert sampled.horizon.sizes["scenario"] == 8
    assert (sampled.mean() > 0).all()
    warned = any(issubclass(w.category, sf.ConvergenceWarning) for w in caught)
    assert sampled.converged != warned


def test_struggling_sampler_warns():
    model = make_model(3, 3, 6)
    evidence = monthly_reports(model, [{"i0": 1}])
    with pytest.warns(sf.ConvergenceWarning, match="R-hat|ESS"):
        sf.forecast(model, evidence, draws=15, tune=10, chains=2, seed=1)
