"""Declaring report ids and clusters on synthetic worlds whose rows share what they read (#16).

Design (:mod:`syriaforecast.studies.dependence`, where the calibration criterion was
fixed before the runs below): ``tests/data/synthetic_base.toml`` read as exact
(3 scenarios, 8 binary indicators, 12 months); both forecasters in exact mode, scored
on the filtered probability of the true scenario each month. Calibration is the
calibration slope of the multinomial logistic recalibration (1 calibrated, < 1
overconfident), compared by the gain in ``|1 - slope|`` with a paired bootstrap over
worlds; the classwise ECE (10 bins) is reported, not asserted.

Reports (:func:`dependence_study`): Poisson(2) reports a month, each coding 4 of the 8
indicators at grade C3 with one truthfulness (0.5625). ``declared`` keeps the report
ids, ``independent`` drops them. Clusters (:func:`cluster_study`): three members
added, each a noisy copy of one latent event (below); ``declared`` gives them
``cluster = "event"``.

Measured 2026-12-01 (seed 1, n_boot 500, exact mode, 2 shared cores at load 5-8; the
calls of ``test_declaring_report_ids_full_study`` and ``test_declaring_a_cluster_full_study``,
run as a script; 95% intervals):

- clusters, 3,000 worlds (166 CPU-s): log-score gain +0.0185 nats/month [0.0157, 0.0213];
  slope 0.998 [0.977, 1.022] declared vs 0.892 [0.873, 0.913] independent, gain in
  |1 - slope| +0.107 [0.065, 0.110]; ECE 0.0045 vs 0.0158, gain [0.0032, 0.0139].
- reports, 3,000 worlds (168 CPU-s): log-score gain +0.0428 nats/month [0.0378, 0.0478];
  slope 0.991 [0.968, 1.015] declared vs 0.939 [0.913, 0.962] independent, gain in
  |1 - slope| +0.052 [0.026, 0.065]; ECE 0.0066 vs 0.0102, gain [0.0003, 0.0062].
- without dependence, 1,000 worlds each: declaring nothing is the right model and is
  calibrated (slope 0.993 [0.958, 1.030] in cluster worlds, 0.990 [0.946, 1.033] in report
  worlds; 47 and 46 CPU-s); declaring anyway costs 0.0076 [0.0039, 0.0113] (cluster, slope
  1.046: underconfident) and 0.0407 [0.0321, 0.0493] nats/month (report ids, slope 0.916).
  Declaring nothing also reproduces the engine without the column / key exactly (below).
- a 200-world pilot (seed 101) before these runs: reports +0.053 [0.035, 0.072], slopes
  0.980 vs 0.902, gain [-0.067, 0.123]; with the earlier design (B2, three cells) +0.024
  [0.010, 0.038], slopes 0.944 vs 0.914; clusters +0.003 [-0.007, 0.013], slopes 1.033 vs 0.952.

Source recovery (:func:`source_recovery_study`, seed 3, five sources all graded B2,
single-cell reports, one source truthful 20% of the time instead of 77%, i.e. a
reliability of 0.23 instead of B's 0.88):

- hierarchical mode (each source's reliability a partially pooled parameter), six
  reports a month per source, 2 chains x 500 draws, 300 tuning steps: the bad
  source was identified (lowest posterior reliability, and the upper end of its
  90% interval below both the good sources' true 0.88 and their mean posterior
  reliability) in 97 of 100 worlds (97%, Wilson 95% interval [0.915, 0.990]);
  lowest posterior reliability in 100 of 100; mean posterior reliability 0.28
  (bad) against 0.88 (good); 831 s on 2 shared cores (2026-12-01);
- exact mode (no reliability learnt; ``truthful``, the share of its reports that
  read the truth given all the evidence, by Bayes' rule), three reports a month:
  lowest in 36 of 40 worlds (90%, Wilson [0.77, 0.96]); with one report a month
  5 of 10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for
from syriaforecast.studies.dependence import (
    calibration_slope,
    cluster_study,
    clustered_model,
    dependence_study,
    recalibrate,
    simulate_cluster_world,
    simulate_report_world,
    source_recovery_study,
    wilson_interval,
)

BASE = Path(__file__).parent / "data" / "synthetic_base.toml"


@pytest.fixture(scope="module")
def model() -> sf.ScenarioModel:
    return sf.load_model(BASE)


def test_declaring_report_ids_improves_the_log_score_small(model):
    """A smaller version: three reports a month coding six indicators each, so 40 worlds suffice."""
    study = dependence_study(model, 40, seed=2, report_rate=3.0, cells_per_report=6, n_boot=50)
    # Measured: gain +0.109 nats/month, 95% t interval [0.043, 0.175] (slope 1.06 declared vs 0.91
    # independent: at 40 worlds the calibration difference is not resolved).
    assert study.log_score_gain_low > 0


def test_declaring_nothing_is_the_engine_without_report_ids(model):
    rng = np.random.default_rng(5)
    path, rows = simulate_report_world(model, rng, dependent=False)
    params = exact_parameters_for(model)
    without_column = sf.load_evidence(rows.drop(columns="report"), model)
    blank_ids = sf.load_evidence(rows.assign(report=""), model)
    a = chain_posterior(chain_terms_for_draws(model, without_column, params)).filtered
    b = chain_posterior(chain_terms_for_draws(model, blank_ids, params)).filtered
    np.testing.assert_array_equal(a, b)
    assert path.shape == (model.horizon_index + 1,)


def test_calibration_slope_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 40_000)
    hits = (rng.random(p.size) < p).astype(float)
    assert calibration_slope(p, hits) == pytest.approx(1.0, abs=0.05)
    # A forecaster twice as extreme on the logit scale has slope 1/2.
    logit = np.log(p) - np.log1p(-p)
    extreme = 1 / (1 + np.exp(-2 * logit))
    assert calibration_slope(extreme, hits) == pytest.approx(0.5, abs=0.03)
    # Three scenarios: q proportional to p^2 is recalibrated by q^(1/2), intercepts 0.
    probs = rng.dirichlet([1.0, 1.0, 1.0], 40_000)
    outcome = (rng.random(probs.shape[0])[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    squared = probs**2 / (probs**2).sum(axis=1, keepdims=True)
    fit = recalibrate(squared, outcome)
    assert fit.slope == pytest.approx(0.5, abs=0.02)
    np.testing.assert_allclose(fit.intercepts, 0.0, atol=0.05)
    assert recalibrate(probs, outcome).slope == pytest.approx(1.0, abs=0.04)


def test_two_scenario_recalibration_is_coxs_logistic_regression():
    """Against scikit-learn's unpenalised logistic regression of the outcome on logit p."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.99, 5_000)
    logit = np.log(p) - np.log1p(-p)
    hits = (rng.random(p.size) < 1 / (1 + np.exp(-(0.3 + 0.7 * logit)))).astype(int)
    fit = recalibrate(np.column_stack([1 - p, p]), hits)
    peer = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(logit[:, None], hits)
    assert fit.slope == pytest.approx(peer.coef_[0, 0], rel=1e-6)
    assert fit.intercepts[1] == pytest.approx(peer.intercept_[0], abs=1e-6)


def test_recalibration_needs_every_scenario_to_occur():
    with pytest.raises(ValueError, match="every scenario to occur"):
        recalibrate(np.full((4, 3), 1 / 3), np.array([0, 1, 0, 1]))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_declaring_report_ids_full_study(model):
    """The #16 claim for report ids: 3,000 worlds, then 1,000 without dependence (about 10 CPU-min)."""
    dependent = dependence_study(model, 3000, seed=1, n_boot=500)
    print(dependent.summary())
    assert dependent.log_score_gain_low > 0
    assert dependent.slope_gain_low > 0  # declared is closer to a slope of 1, at the 95% level
    # Without dependence (each row its own truthfulness) declaring nothing is the right model:
    # its slope is consistent with 1, and declaring ids there costs.
    independent = dependence_study(model, 1000, seed=1, dependent=False, n_boot=500)
    print(independent.summary())
    assert independent.slope_independent_low < 1 < independent.slope_independent_high
    assert independent.log_score_gain_high < 0


@pytest.mark.slow
def test_an_unreliable_source_is_singled_out_in_exact_mode(model):
    study = source_recovery_study(model, 40, seed=3, reports_per_source=3.0)
    assert study.rate_low > 0.5


# ----------------------------------------------------------------------------- clusters (item 3)
# Design (:func:`cluster_study`): the base model read as exact plus three member indicators,
# each a noisy copy of one latent event (P(event | calm, tense, war) = 0.1, 0.4, 0.8; a member
# copies it with probability 0.9, otherwise fires on its own at 0.05, 0.1 or 0.2). Every
# indicator is coded in a month with probability 0.6 by one B2 row. ``declared`` gives the
# members ``cluster = "event"`` (default closeness 0.9), ``independent`` does not; both read the
# members' true likelihoods in exact mode. Figures: module docstring.


def test_declaring_a_cluster_improves_the_log_score_small(model):
    """A smaller version: every indicator coded every month, so 60 worlds suffice."""
    study = cluster_study(model, 60, seed=2, observe=1.0, n_boot=200)
    # Measured: gain +0.052 nats/month [0.024, 0.080]; slope 0.900 declared vs 0.749
    # [0.647, 0.888] independent (seed 3: gain [0.013, 0.063], independent slope high 0.943).
    assert study.log_score_gain_low > 0
    # Treating the members as independent is overconfident at the 95% level.
    assert study.slope_independent_high < 1


def test_the_cluster_worlds_have_the_members_likelihoods(model):
    """The members' elicitations are their true marginal frequencies in the simulated worlds."""
    plain = clustered_model(model, declare=False)
    rng = np.random.default_rng(0)
    seen: dict[tuple[int, str], list[int]] = {}
    for _ in range(400):
        path, rows = simulate_cluster_world(plain, rng, observe=1.0)
        # Read through the B2 noise: P(row says 1) = kappa p + (1 - kappa) / 2.
        for date, ident, value in zip(rows["date"], rows["indicator"], rows["value"], strict=True):
            if ident.startswith("member"):
                t = plain.period_index(pd.Timestamp(date))
                seen.setdefault((int(path[t]), ident), []).append(int(value))
    from syriaforecast.studies.dependence import KAPPA_B2

    for (s, ident), values in seen.items():
        p = plain.indicator(ident).probability(plain.scenario_ids[s])
        expected = KAPPA_B2 * p + (1 - KAPPA_B2) / 2
        assert np.mean(values) == pytest.approx(expected, abs=4 * np.sqrt(0.25 / len(values)))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_declaring_a_cluster_full_study(model):
    """The #16 claim for clusters: 3,000 worlds, then 1,000 without dependence (about 5 CPU-min)."""
    dependent = cluster_study(model, 3000, seed=1, n_boot=500)
    print(dependent.summary())
    assert dependent.log_score_gain_low > 0
    assert dependent.slope_gain_low > 0  # declared is closer to a slope of 1, at the 95% level
    # Without the shared event, declaring nothing is the right model (its slope is consistent with 1)
    # and declaring the cluster costs; declaring nothing is the engine without the key.
    independent = cluster_study(model, 1000, seed=1, dependent=False, n_boot=500)
    print(independent.summary())
    assert independent.slope_independent_low < 1 < independent.slope_independent_high
    assert independent.log_score_gain_high < 0


#: Sampler settings of the hierarchical recovery study (about 8 s a world on 2 shared cores).
RECOVERY_SAMPLER = {"draws": 500, "tune": 300, "chains": 2, "seed": 1}


def test_an_unreliable_source_is_learnt_to_be_weak_small(model):
    """Three worlds of the slow study below (its first three): identified in all three there."""
    study = source_recovery_study(
        model, 3, seed=3, reports_per_source=6.0, exact=False, sampler=RECOVERY_SAMPLER
    )
    assert np.all(study.bad_posterior < study.good_posterior.min(axis=1))
    assert study.identified.sum() >= 2
    assert np.all(study.bad_high < study.good_level)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_an_unreliable_source_is_learnt_to_be_weak(model):
    """The rate quoted in the module docstring and docs/model-format.md: 97 of 100 worlds."""
    study = source_recovery_study(
        model, 100, seed=3, reports_per_source=6.0, exact=False, sampler=RECOVERY_SAMPLER
    )
    print(f"identified {study.identified.sum()}/100, Wilson [{study.rate_low:.3f}, {study.rate_high:.3f}]")
    assert study.rate_low > 0.8
    assert np.nanmean(study.bad_posterior) < 0.5 < np.nanmean(study.good_posterior)


def test_wilson_interval_matches_scipy():
    from scipy.stats import binomtest

    for successes, n in ((97, 100), (36, 40), (0, 10), (10, 10)):
        reference = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(successes, n) == pytest.approx((reference.low, reference.high), abs=1e-9)
