"""Calibration study: hierarchical vs exact-elicitation vs oracle on synthetic worlds.

Two designs; in both the true likelihoods sit off the elicited ones by logit noise
of scale 1, reports carry grades A1/B2/C3/ungraded, and the horizon is forecast
one month ahead.

* tests/data/synthetic_base.toml: 3 scenarios, 8 binary indicators, 12 months,
  persistence 0.85, 90% of indicators reported each month. The chain forgets its
  evidence within a few months, so little is attainable: even the correctly
  specified forecaster (``bayes``) improves on exact mode by only about 2% of the
  expected log score (400 worlds), while knowing the true likelihoods (``oracle``)
  is worth about 12%. The hierarchical model gains about half of the 2%.
* tests/data/synthetic_russia_syria.toml: the bundled Russia-Syria model's design
  (its 33 binary indicators and likelihoods, persistence 0.98, 36 months).

  - With sparse reports (30% of indicators a month, as in the bundled evidence)
    elicitation error matters a little: exact mode is overconfident and ``bayes``
    gains 9% of exact mode's expected log score, 0.058 nats [0.009, 0.110] (200
    worlds, 95% paired bootstrap). The hierarchical model gets about 40% of that at
    the default sampler settings (4 chains x 1,000 draws), -0.025 [90% -0.063,
    +0.015], and none at 2 chains x 200 draws: not clearly better. Its 90% intervals
    cover the oracle probability (88-89%) and its ECE is no worse.
  - With denser reports (60% of indicators a month) the evidence can expose the
    elicitation errors; this is the design the issues' claim describes (a correctly
    specified forecaster reaches about 0.75-0.8 of exact mode's log score there):
    ``bayes`` reaches 0.773 on the 200 worlds below (expected log score 0.476). At the
    default sampler settings the hierarchical model is clearly better than exact
    mode: on 200 worlds, expected log score -0.117 [95% -0.194, -0.052] (ratio
    0.810), expected Brier -0.069 [-0.114, -0.027], ECE 0.040 against 0.075, and its
    90% intervals cover the oracle probability 91.0% of the time (at the defaults of
    2026-12-01; at the earlier ones: ratio 0.846, ECE 0.058, coverage 90.8%). That is
    the claim of issues #3/#5, checked by a slow test (``test_dense_design_claim_200_worlds``).
    At small draws (2 chains x 120) the gain is lost (60 worlds: -0.050
    [90% -0.120, +0.011] against -0.078 [-0.164, -0.005] at the defaults on the same
    worlds). In some worlds two readings of the reports compete and chains started
    apart settle in different proportions on each (between-chain sd of the horizon
    probability above 0.1 in 4 of 16 worlds at the defaults), so few short chains
    give noisy forecasts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from syriaforecast import forecast, load_evidence, load_model, parse_model
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.engine.run import DEFAULT_DRAWS, DEFAULT_TUNE
from syriaforecast.errors import SyriaforecastError
from syriaforecast.scoring import brier_score, expected_calibration_error, log_score
from syriaforecast.studies.calibration import (
    METHODS,
    bayes_reference,
    calibration_study,
    case_scores,
    paired_difference,
    summarise_calibration,
)
from syriaforecast.studies.synthetic import grade_kappa, simulate_world

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def base():
    return load_model(DATA / "synthetic_base.toml")


def _as_of(model, lead):
    return (model.first_period + (model.horizon_index - lead)).end_time.date()


# --------------------------------------------------------------------------- pieces (no sampling)
def test_bayes_reference_is_exact_mode_when_elicitations_are_exact(base):
    world = simulate_world(base, seed=3, elicitation_noise=0.0, report_rate=0.9)
    as_of = _as_of(base, 1)
    p, ess = bayes_reference(world, as_of, n_draws=500, seed=0)
    exact = forecast(base, world.evidence, as_of, exact=True).horizon.values.reshape(-1)
    assert np.allclose(p, exact, atol=1e-10)
    assert ess == pytest.approx(500)


def test_bayes_reference_without_evidence_is_the_prior_forecast(base):
    world = simulate_world(base, seed=3, n_observed_periods=0)
    as_of = _as_of(base, 1)
    p, ess = bayes_reference(world, as_of, n_draws=200, seed=0)
    # No evidence: every draw weighs the same and the horizon is the chain run from the prior.
    prior = forecast(base, None, as_of, exact=True).horizon.values.reshape(-1)
    assert np.allclose(p, prior, atol=1e-12) and ess == pytest.approx(200)


@pytest.mark.parametrize(("indicator", "value", "grade"), [("airstrike", "1", ""), ("talks", "0", "C3")])
def test_bayes_reference_matches_quadrature_on_one_report(base, indicator, value, grade):
    """One report: P(s | r) is prior(s) times E[P(r | s)] over that cell's error, a 1-D integral."""
    # Horizon in the report's own month, so the report is not washed out by the chain.
    base = parse_model(
        base.to_dict() | {"model": base.to_dict()["model"] | {"horizon": dt.date(2025, 1, 31)}}
    )
    world = simulate_world(base, seed=12)
    report = pd.DataFrame(
        {
            "date": ["2025-01-15"],
            "indicator": [indicator],
            "value": [value],
            "reliability": [grade[:1]],
            "credibility": [grade[1:]],
        }
    )
    one = dataclasses.replace(world, evidence=load_evidence(report, base))
    kappa = grade_kappa(grade)[2]
    z, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    elicited = np.array([base.indicator(indicator).probability(s) for s in base.scenario_ids])
    seen = (1 / (1 + np.exp(-(np.log(elicited / (1 - elicited))[:, None] + z[None])))) @ weights
    says_one = kappa * seen + (1 - kappa) / 2
    like = says_one if value == "1" else 1 - says_one
    first = np.asarray(base.prior) * like
    first /= first.sum()
    expected = first
    p, _ = bayes_reference(one, base.horizon, n_draws=200_000, seed=1)
    assert np.allclose(p, expected, atol=2e-3)
    # ... and differs from exact mode, which takes the elicitation at face value.
    exact = forecast(base, one.evidence, base.horizon, exact=True).horizon.values.reshape(-1)
    assert np.abs(exact - expected).max() > 5 * 2e-3


def test_bayes_reference_refuses_other_indicator_types():
    tiny = load_model(DATA / "tiny" / "model.toml")
    world = simulate_world(tiny, seed=1)
    with pytest.raises(SyriaforecastError, match="binary"):
        bayes_reference(world, tiny.horizon)


def _fake_study(rng, W=50):
    S = 3
    probability = rng.dirichlet(np.ones(S), size=(W, len(METHODS)))
    outcome = rng.integers(0, S, W)
    return xr.Dataset(
        {
            "probability": (("world", "forecaster", "scenario"), probability),
            "outcome": ("world", outcome),
            "oracle_probability": (("world", "scenario"), probability[:, 2]),
        },
        coords={"world": np.arange(W), "forecaster": list(METHODS), "scenario": ["a", "b", "c"]},
    )


def test_case_scores_agree_with_scoring_module():
    ds = _fake_study(np.random.default_rng(0))
    scores = case_scores(ds)
    y = ds["outcome"].values
    for method in METHODS:
        p = ds["probability"].sel(forecaster=method).values
        assert float(scores["brier"].sel(forecaster=method).mean()) == pytest.approx(brier_score(p, y))
        assert float(scores["log_score"].sel(forecaster=method).mean()) == pytest.approx(log_score(p, y))
        # Expected Brier against q is the Brier score with q as soft outcome (scoring accepts (n, S)).
        q = ds["oracle_probability"].values
        by_hand = np.mean(
            [np.sum(q[i] * np.sum((p[i][None] - np.eye(3)) ** 2, axis=1)) for i in range(len(y))]
        )
        assert float(scores["expected_brier"].sel(forecaster=method).mean()) == pytest.approx(by_hand)
        by_hand = np.mean([-np.sum(q[i] * np.log(p[i])) for i in range(len(y))])
        assert float(scores["expected_log_score"].sel(forecaster=method).mean()) == pytest.approx(by_hand)


def test_expected_scores_are_the_mean_realised_scores():
    """Averaged over outcomes drawn from q, the realised scores equal the expected scores."""
    rng = np.random.default_rng(1)
    ds = _fake_study(rng, W=20)
    q = ds["oracle_probability"].values
    expected = case_scores(ds)
    # 2,000 copies of the 20 worlds, each copy's outcome drawn from its world's q (inverse CDF),
    # scored in one call: case_scores scores every world on its own. (One call per copy took
    # 42 s of wall time at load 4-5 on 2026-12-01, nearly all of it xarray's overhead.)
    R, W = 2000, q.shape[0]
    u = rng.random((R, W, 1))
    outcome = np.minimum((u > np.cumsum(q, axis=1)[None]).sum(axis=2), q.shape[1] - 1)
    copies = xr.Dataset(
        {
            "probability": (
                ("world", "forecaster", "scenario"),
                np.tile(ds["probability"].values, (R, 1, 1)),
            ),
            "outcome": ("world", outcome.reshape(-1)),
            "oracle_probability": (("world", "scenario"), np.tile(q, (R, 1))),
        },
        coords={
            "world": np.arange(R * W),
            "forecaster": ds["forecaster"].values,
            "scenario": ds["scenario"].values,
        },
    )
    realised = case_scores(copies)
    for name in ("brier", "log_score"):
        values = realised[name].transpose("world", "forecaster").values.reshape(R, W, -1)
        mean = values.mean(axis=0)
        sd = values.std(axis=0) / np.sqrt(R)
        target = expected["expected_" + name].transpose("world", "forecaster").values
        assert np.all(np.abs(mean - target) < 5 * sd + 1e-12)


def test_paired_difference_by_hand():
    ds = _fake_study(np.random.default_rng(2))
    scores = case_scores(ds)
    diff = (scores["brier"].sel(forecaster="hierarchical") - scores["brier"].sel(forecaster="exact")).values
    result = paired_difference(ds, score="brier", n_boot=4000, ci=0.9, rng=3)
    assert result.estimate == pytest.approx(diff.mean())
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert result.low == pytest.approx(diff.mean() - 1.645 * se, abs=0.35 * se)
    assert result.high == pytest.approx(diff.mean() + 1.645 * se, abs=0.35 * se)
    with pytest.raises(SyriaforecastError, match="score"):
        paired_difference(ds, score="rps")
    with pytest.raises(SyriaforecastError, match="reference"):
        paired_difference(ds, reference="nobody")


def test_bad_lead(base):
    with pytest.raises(SyriaforecastError, match="lead"):
        calibration_study(base, n_worlds=1, seed=0, lead=12)


# --------------------------------------------------------------------------- the study
STUDY_SEED = 20240601


@pytest.fixture(scope="module")
def study(base):
    # One compiled sampler serves all 60 worlds (about 1 s each after compiling).
    return calibration_study(
        base, n_worlds=60, seed=STUDY_SEED, draws=200, tune=200, chains=2, bayes_draws=20000
    )


def test_study_layout_and_oracle_route(study, base):
    assert study.sizes["world"] == 60
    assert list(study["forecaster"].values) == [*METHODS, "bayes"]
    assert np.allclose(study["probability"].sum("scenario"), 1.0)
    assert np.array_equal(study["oracle_probability"], study["probability"].sel(forecaster="oracle"))
    assert (study["hdi_low"] <= study["hdi_high"]).all()
    assert int(study["divergences"].sum()) <= 5
    # The oracle forecast of world 0 by another route: the elicited model with the true shift.
    world = simulate_world(
        base, seed=int(study["seed"][0]), report_rate=0.9, n_observed_periods=base.horizon_index
    )
    params = {k: np.asarray(v)[None] for k, v in world.parameters.items()}
    chain = chain_posterior(chain_terms_for_draws(base, world.evidence.up_to(_as_of(base, 1)), params))
    assert np.allclose(study["oracle_probability"][0], chain.filtered[0, -1], atol=1e-9)
    assert int(study["outcome"][0]) == world.path[-1]


def test_study_scores_by_hand(study):
    table = summarise_calibration(study)
    y = study["outcome"].values
    for method in table.index:
        p = study["probability"].sel(forecaster=method).values
        assert table.loc[method, "brier"] == pytest.approx(brier_score(p, y))
        assert table.loc[method, "ece"] == pytest.approx(expected_calibration_error(p, y))
    inside = (study["hdi_low"] <= study["oracle_probability"]) & (
        study["oracle_probability"] <= study["hdi_high"]
    )
    assert table.loc["hierarchical", "coverage"] == pytest.approx(float(inside.mean()))


def test_calibration_on_60_worlds(study):
    """Measured on 60 worlds (seed 20240601), 95% paired bootstrap intervals.

    hierarchical / exact / oracle / bayes:
      Brier 0.497 / 0.506 / 0.419 / 0.494; log score 0.877 / 0.892 / 0.773 / 0.872;
      ECE 0.117 / 0.110 / 0.115 / 0.109; expected log score (against the oracle's
      probabilities) 0.795 / 0.798 / 0.717 / 0.795.
      Hierarchical 90% HDI covers the oracle probability 95.0% (equal-tailed 96.7%).
      Expected log score, hierarchical - bayes: -0.0007 [-0.0076, 0.0061];
      hierarchical - exact: -0.0031 [-0.0195, 0.0152]; hierarchical - oracle: +0.077 [0.046, 0.119].
    60 worlds resolve differences of about 0.01-0.02 nats: they show the hierarchical
    model is as good as the correctly specified one and not worse than exact mode, but
    not the ~0.015 by which it beats exact mode (that takes the slow 400-world run).
    """
    table = summarise_calibration(study)
    print("\n" + table.round(4).T.to_string())
    vs_bayes = paired_difference(study, score="expected_log_score", reference="bayes", ci=0.95)
    vs_exact = paired_difference(study, score="expected_log_score", reference="exact", ci=0.95)
    vs_oracle = paired_difference(study, score="expected_log_score", reference="oracle", ci=0.95)
    brier_vs_bayes = paired_difference(study, score="expected_brier", reference="bayes", ci=0.95)
    print(vs_bayes, vs_exact, vs_oracle, brier_vs_bayes, sep="\n")
    # As good as the correctly specified forecaster, within 0.02 nats / 0.015 Brier.
    assert vs_bayes.low > -0.02 and vs_bayes.high < 0.02
    assert brier_vs_bayes.low > -0.015 and brier_vs_bayes.high < 0.015
    # Not worse than exact mode by more than 0.02 nats; clearly worse than the oracle.
    assert vs_exact.high < 0.02
    assert vs_oracle.low > 0.02
    # 90% intervals cover the oracle probability: 85-95% asked, 95.0% measured; 60 worlds
    # (180 correlated cells) give a standard error of about 2.5 points, hence 0.97 above.
    assert 0.85 <= table.loc["hierarchical", "coverage"] <= 0.97
    # ECE no worse than exact mode's beyond its 60-world noise (0.117 vs 0.110 measured).
    assert table.loc["hierarchical", "ece"] <= table.loc["exact", "ece"] + 0.03


def test_path_recovery_on_60_worlds(study):
    """Smoothed MAP path vs the true path over the 11 observed months (90% of indicators reported).

    Measured: hierarchical 80.6%, exact 80.6%, oracle 88.5% of periods; the hierarchical
    smoothed 90% HDIs cover the oracle's smoothed probabilities in 89.7% of
    (world, month, scenario) cells.
    """
    table = summarise_calibration(study)
    assert table.loc["hierarchical", "path_agreement"] >= 0.75
    assert table.loc["hierarchical", "path_agreement"] >= table.loc["oracle", "path_agreement"] - 0.12
    assert 0.85 <= table.loc["hierarchical", "smoothed_coverage"] <= 0.95


@pytest.mark.slow
@pytest.mark.timeout(3600)  # longer than the suite's 600 s limit
def test_calibration_on_400_worlds(base):
    """The Done-when figures, measured on 400 worlds (seed 7; about 11 minutes).

    hierarchical / exact / oracle / bayes:
      Brier 0.4447 / 0.4535 / 0.3848 / 0.4422; log score 0.7654 / 0.7788 / 0.6887 / 0.7637;
      ECE 0.052 / 0.058 / 0.052 / 0.055; expected log score 0.8367 / 0.8465 / 0.7354 / 0.8264;
      log score over exact's: 0.983 / 1 / 0.884 / 0.981.
      Hierarchical 90% HDI covers the oracle probability 93.8% (equal-tailed 96.3%).
    Paired (hierarchical - exact), 90% bootstrap: expected log score -0.0099 [-0.0185, -0.0012],
    expected Brier -0.0057 [-0.0123, +0.0011]; at 95% the log-score interval reaches +0.0005.
    The improvement is real but small because little is attainable: the correctly specified
    forecaster (bayes) gains 0.020 nats over exact mode, the hierarchical model 0.010 of it.
    """
    study = calibration_study(base, n_worlds=400, seed=7, bayes_draws=20000)
    table = summarise_calibration(study)
    print("\n" + table.round(4).T.to_string())
    vs_exact = paired_difference(study, score="expected_log_score", reference="exact", ci=0.9)
    vs_bayes = paired_difference(study, score="expected_log_score", reference="bayes", ci=0.95)
    vs_oracle = paired_difference(study, score="expected_log_score", reference="oracle", ci=0.95)
    print(vs_exact, vs_bayes, vs_oracle, sep="\n")
    for score in ("brier", "log_score", "expected_brier", "expected_log_score"):
        assert table.loc["hierarchical", score] < table.loc["exact", score], score
    assert vs_exact.high < 0
    assert vs_bayes.high < 0.02  # within 0.02 nats of the best attainable
    assert vs_oracle.low > 0.05  # knowing the true likelihoods is worth far more
    assert 0.85 <= table.loc["hierarchical", "coverage"] <= 0.95
    assert table.loc["hierarchical", "ece"] <= table.loc["exact", "ece"] + 0.01
    assert 0.8 < table.loc["oracle", "log_score_ratio"] < 0.95


# --------------------------------------------------------------------------- Gibbs reference
def test_gibbs_reference_agrees_with_importance_sampling(base):
    """Where importance sampling is reliable (8 indicators, 11 months) both give the same forecast."""
    as_of = _as_of(base, 1)
    for seed in (3, 4):
        world = simulate_world(base, seed=seed, report_rate=0.9, n_observed_periods=base.horizon_index)
        importance, ess = bayes_reference(world, as_of, n_draws=100_000, seed=0)
        gibbs, gibbs_ess = bayes_reference(world, as_of, n_draws=4000, seed=0, method="gibbs")
        assert ess > 1000 and gibbs_ess > 300
        assert np.allclose(gibbs, importance, atol=0.03)
        assert gibbs.sum() == pytest.approx(1.0)
    with pytest.raises(SyriaforecastError, match="method"):
        bayes_reference(world, as_of, method="mcmc")
    with pytest.raises(SyriaforecastError, match="bayes_method"):
        calibration_study(base, n_worlds=1, seed=0, bayes_method="mcmc")


def test_paired_ece_difference_by_hand():
    ds = _fake_study(np.random.default_rng(5))
    y = ds["outcome"].values
    result = paired_difference(ds, score="ece", n_boot=300, rng=1)
    by_hand = expected_calibration_error(
        ds["probability"].sel(forecaster="hierarchical").values, y
    ) - expected_calibration_error(ds["probability"].sel(forecaster="exact").values, y)
    assert result.estimate == pytest.approx(by_hand)
    assert result.low <= result.estimate <= result.high


# --------------------------------------------------------------------------- a realistic design
# tests/data/synthetic_russia_syria.toml: the bundled Russia-Syria model's design (3 scenarios,
# its 33 binary indicators and likelihoods, 7 groups, persistence 0.98, 36 months), with sparse
# reports (30% of indicators a month, about ten reports, as in its evidence file), lead 1.
REALISTIC_RATE = 0.3


@pytest.fixture(scope="module")
def realistic():
    return load_model(DATA / "synthetic_russia_syria.toml")


def _coverage_allowance(n_worlds: int) -> float:
    """Two standard errors of a 90% coverage measured on ``n_worlds`` worlds.

    A world's scenario cells are correlated (their probabilities sum to one), so
    count two independent cells per world of three scenarios.
    """
    return 2.0 * float(np.sqrt(0.9 * 0.1 / (2 * n_worlds)))


def _realistic_results(study, ci):
    table = summarise_calibration(study)
    print("\n" + table.round(4).T.to_string())
    refs = [r for r in ("exact", "bayes", "oracle") if r in study["forecaster"].values]
    results = {
        (score, ref): paired_difference(study, score=score, reference=ref, ci=ci)
        for score in ("expected_log_score", "expected_brier", "ece")
        for ref in refs
    }
    for key, value in results.items():
        print(key, value)
    return table, results


def _check_claim(study, ci):
    """Issues #3/#5: clearly better than exact mode, ECE no worse, 90% intervals cover 85-95%."""
    table, results = _realistic_results(study, ci)
    assert results["expected_log_score", "exact"].high < 0
    assert results["expected_brier", "exact"].high < 0
    assert results["ece", "exact"].low < 0
    allowance = _coverage_allowance(study.sizes["world"])
    assert 0.85 - allowance <= table.loc["hierarchical", "coverage"] <= 0.95 + allowance


REALISTIC_WORLDS = 100


@pytest.fixture(scope="module")
def realistic_study(realistic):
    # About 0.6 s a world after compiling (small draws: the posterior mean and 90% HDI of
    # the horizon are all the study uses); no bayes reference (the slow test has it).
    return calibration_study(
        realistic,
        n_worlds=REALISTIC_WORLDS,
        seed=STUDY_SEED,
        report_rate=REALISTIC_RATE,
        draws=120,
        tune=150,
        chains=2,
    )


# The default suite's calibration check is the 60-world study above; this one is the longest
# single fixture of the suite (93 s and 154 s of setup in two clean-clone runs on this 2-core
# machine under other load, 2026-12-01).
@pytest.mark.slow
def test_realistic_design_100_worlds(realistic_study):
    """Realistic design, 100 worlds (seed 20240601; 2 chains x 120 draws; about 70 s).

    Measured, hierarchical / exact / oracle: expected log score 0.5889 / 0.6195 / 0.2969
    (ratios to exact 0.951 / 1 / 0.479), expected Brier ratio 0.957 / 1 / 0.428;
    90% HDI coverage of the oracle probability 90.7% (equal-tailed 94.3%).
    Paired 90% bootstrap, hierarchical - exact: expected log score -0.031 [-0.072, +0.014],
    expected Brier -0.015 [-0.044, +0.016], ECE +0.019 [-0.019, +0.034].
    So 100 worlds show the hierarchical model is not worse than exact mode, with covering
    intervals, but not that it is better; the claim is checked on the denser design below.
    """
    table, results = _realistic_results(realistic_study, ci=0.9)
    assert int(realistic_study["divergences"].sum()) <= REALISTIC_WORLDS // 10
    # Not clearly worse than exact mode; ECE no worse within its paired interval.
    assert results["expected_log_score", "exact"].low < 0
    assert results["expected_brier", "exact"].low < 0
    assert results["ece", "exact"].low < 0
    # 90% intervals cover the oracle probability 85-95% of the time, within what 100 worlds resolve.
    allowance = _coverage_allowance(REALISTIC_WORLDS)
    assert 0.85 - allowance <= table.loc["hierarchical", "coverage"] <= 0.95 + allowance
    # Knowing the true likelihoods is worth far more than anything else here.
    assert results["expected_log_score", "oracle"].low > 0.1


@pytest.fixture(scope="module")
def realistic_study_200(realistic):
    return calibration_study(
        realistic,
        n_worlds=200,
        seed=2,
        report_rate=REALISTIC_RATE,
        draws=200,
        tune=200,
        chains=2,
        bayes_draws=3000,
        bayes_method="gibbs",
    )


@pytest.mark.slow
@pytest.mark.timeout(3600)  # longer than the suite's 600 s limit
def test_realistic_design_200_worlds(realistic_study_200):
    """Realistic design, 200 worlds (seed 2; 2 chains x 200 draws, bayes by Gibbs; about 21 min).

    Measured, hierarchical / exact / oracle / bayes: expected log score
    0.6542 / 0.6538 / 0.3035 / 0.5955 (ratios to exact 1.001 / 1 / 0.464 / 0.911);
    expected Brier 0.3747 / 0.3808 / 0.1514 / 0.3467; ECE 0.061 / 0.070 / 0.029 / 0.041;
    overconfidence (top probability minus the oracle's) +0.020 / +0.037 / 0 / -0.014;
    hierarchical 90% HDI covers the oracle probability 88.3% (equal-tailed 92.2%).
    Paired 95% bootstrap: bayes - exact -0.058 [-0.110, -0.009] (elicitation error matters
    here); hierarchical - exact +0.0004 [-0.057, +0.064]; hierarchical - bayes +0.059
    [+0.019, +0.104]; hierarchical - oracle +0.351 [0.281, 0.430].
    Most of the shortfall sits in a dozen worlds where the hierarchical model is confident
    in a wrong scenario (at the default settings: expected log score 2.06 against exact
    mode's 2.03 and bayes's 1.64 on the 12 worst). There its four chains agree, also when
    started from each scenario's own fitted explanation of the reports; bayes hedges
    instead (e.g. 0.27 / 0.70 where the hierarchical model says 0.11 / 0.87), but with a
    Gibbs ESS of 19-25 in those worlds, so how much of its hedge is the posterior and how
    much is unmixed chains averaged is not known.
    """
    study = realistic_study_200
    table, results = _realistic_results(study, ci=0.95)
    # Elicitation error matters here: the correctly specified forecaster clearly beats exact
    # mode on expected log score, and exact mode is overconfident where it is not.
    bayes_vs_exact = paired_difference(study, score="expected_log_score", method="bayes", ci=0.95)
    print("bayes - exact", bayes_vs_exact)
    assert bayes_vs_exact.high < 0
    assert table.loc["exact", "overconfidence"] > 0 > table.loc["bayes", "overconfidence"]
    assert table.loc["bayes", "expected_log_score_ratio"] < 0.95
    # The hierarchical model is not clearly worse than exact mode (its shortfall against bayes is
    # printed, not asserted); its intervals cover; knowing the truth is worth most.
    assert results["expected_log_score", "exact"].low < 0
    assert results["ece", "exact"].low < 0
    allowance = _coverage_allowance(200)
    assert 0.85 - allowance <= table.loc["hierarchical", "coverage"] <= 0.95 + allowance
    assert results["expected_log_score", "oracle"].low > 0.2


# --------------------------------------------------------------------------- the claim of issues #3/#5
# The same design with denser reports: 60% of indicators a month, so each indicator is
# reported about 20 times over the 35 reported months and the reports can expose its
# elicitation error.
DENSE_RATE = 0.6


@pytest.fixture(scope="module")
def dense_study_200(realistic):
    # The library's default sampler settings: at small draws the gain is lost (module docstring).
    # (Explicit draws: the study's fits are not continued when they fail the check.)
    return calibration_study(
        realistic,
        n_worlds=200,
        seed=2,
        report_rate=DENSE_RATE,
        draws=DEFAULT_DRAWS,
        tune=DEFAULT_TUNE,
        chains=4,
    )


@pytest.mark.slow
@pytest.mark.timeout(7200)  # longer than the suite's 600 s limit; 51 min measured under load
def test_dense_design_claim_200_worlds(dense_study_200):
    """The claim: clearly better than exact mode, ECE no worse, intervals that cover.

    200 worlds (seed 2), 4 chains x 1,000 draws after 300 tuning steps (the defaults since
    2026-12-01), measured on commit a004c34 (2026-12-01; the kernel changed afterwards only
    by rounding, 2e-15): 3,085 s wall, 3,599 CPU s, sharing the 2 cores with other work.
    Hierarchical / exact / oracle: expected log score 0.4995 / 0.6167 / 0.2222 (ratios
    0.810 / 1 / 0.360), expected Brier 0.2804 / 0.3489 / 0.1040 (ratio 0.804); against the
    outcomes Brier 0.2396 / 0.3184 / 0.0856 and log score 0.4486 / 0.5751 / 0.1954;
    ECE 0.040 / 0.075 / 0.030; overconfidence +0.021 / +0.099 / 0. Paired 95% bootstrap,
    hierarchical - exact: expected log score -0.117 [-0.194, -0.052], expected Brier -0.069
    [-0.114, -0.027], Brier -0.079 [-0.127, -0.033], log score -0.126 [-0.211, -0.049], ECE
    -0.035 [-0.053, -0.0001]; hierarchical - oracle expected log score +0.277 [+0.209,
    +0.360]. The 90% HDI covers the oracle probability 91.0% of the time (equal-tailed
    94.2%). No divergences. Run again at commit 0977f8d (2026-12-03, idle machine, 1,136 s
    wall, 1,341 CPU s): expected log score 0.5004 / 0.6167 / 0.2222 (ratio 0.811), expected
    Brier 0.2819 (ratio 0.808), ECE 0.054 / 0.075 / 0.030, overconfidence +0.015, coverage
    91.2% (equal-tailed 94.2%); hierarchical - exact expected log score -0.116 [-0.191,
    -0.051], expected Brier -0.067 [-0.113, -0.027], ECE -0.021 [-0.044, +0.008]. No worse
    than the figures at the earlier defaults (1,000 draws after 1,000 tuning steps), which were:

    28-32 minutes on this 2-core machine. Hierarchical / exact / oracle: expected log
    score 0.5218 / 0.6167 / 0.2222
    (ratios 0.846 / 1 / 0.360), expected Brier 0.2930 / 0.3489 / 0.1040 (ratio 0.840);
    against the outcomes Brier 0.2520 / 0.3184 / 0.0856 and log score 0.4690 / 0.5751 /
    0.1954; ECE 0.058 / 0.075 / 0.030; overconfidence +0.031 / +0.099 / 0.
    Paired 95% bootstrap, hierarchical - exact: expected log score -0.095 [-0.168, -0.030],
    expected Brier -0.056 [-0.101, -0.015], Brier -0.066 [-0.115, -0.022], log score
    -0.106 [-0.193, -0.031], ECE -0.017 [-0.040, +0.009]; hierarchical - oracle expected
    log score +0.300 [+0.226, +0.391]. The hierarchical 90% HDI covers the oracle
    probability 90.8% of the time (equal-tailed 93.8%). No divergences; 55% of worlds
    pass every convergence threshold (R-hat <= 1.01, ESS >= 400 on every period).
    The correctly specified forecaster (``bayes``, Gibbs with 3,000 draws, run separately
    on the same worlds, 21 min; median ESS 104): expected log score 0.4764 (ratio 0.773),
    bayes - exact -0.140 [90% -0.205, -0.083], hierarchical - bayes +0.045 [+0.015, +0.082]:
    the hierarchical model gets about two thirds of the attainable gain.
    """
    study = dense_study_200
    _check_claim(study, ci=0.95)
    table = summarise_calibration(study)
    for score in ("brier", "log_score"):  # against the realised outcomes, too
        assert paired_difference(study, score=score, ci=0.95).high < 0, score
    assert table.loc["hierarchical", "expected_log_score_ratio"] < 0.9
    assert table.loc["hierarchical", "overconfidence"] < table.loc["exact", "overconfidence"]
    assert int(study["divergences"].sum()) == 0
    assert paired_difference(study, score="expected_log_score", reference="oracle", ci=0.95).low > 0.2
