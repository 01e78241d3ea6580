"""Declaring report ids on synthetic worlds whose multi-cell reports share truthfulness (#16).

Design (:mod:`syriaforecast.studies.dependence`): ``tests/data/synthetic_base.toml``
read as exact (3 scenarios, 8 binary indicators, 12 months), Poisson(2) reports
per month, each coding 3 indicators at grade B2 with one truthfulness. The
``declared`` forecaster keeps the report ids, ``independent`` drops them; both
exact mode, scored on the filtered probability of the true scenario each month.

Measured (300 worlds, seed 1, 2 cores, 2026-11-30):

- dependent worlds: mean log-score gain of declaring 0.0227 nats per month,
  95% t interval [0.0129, 0.0326]; ECE declared 0.0112 vs independent 0.0093,
  bootstrap interval of the difference [-0.0078, 0.0057]; calibration slope
  0.974 vs 0.956, difference [-0.008, 0.042]: the calibration gain is NOT
  shown at the 95% level (nor with reports coding 5 cells: ECE 0.0121 vs
  0.0079, slope 0.960 vs 0.953, 400 worlds);
- worlds without dependence (each row its own truthfulness): declaring report
  ids costs 0.0154 nats per month [0.0050, 0.0258], and declaring nothing is
  the old engine exactly (checked below), so it costs nothing.

Source recovery (:func:`source_recovery_study`, 40 worlds, seed 3, five B2
sources with three single-cell reports a month, one truthful 20% of the time):
the bad source had the lowest posterior reliability in 36 of 40 worlds (90%,
Wilson 95% interval [0.77, 0.96]); its mean posterior reliability 0.62 against
0.77 for the good sources. With one report a month each: 5 of 10 worlds.
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
    simulate_cluster_world,
    simulate_report_world,
    source_recovery_study,
)

BASE = Path(__file__).parent / "data" / "synthetic_base.toml"


@pytest.fixture(scope="module")
def model() -> sf.ScenarioModel:
    return sf.load_model(BASE)


def test_declaring_report_ids_improves_the_log_score_small(model):
    study = dependence_study(model, 40, seed=1, n_boot=100)
    # Measured: gain 0.0370, 95% interval [0.0109, 0.0631] on these 40 worlds.
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


@pytest.mark.slow
def test_declaring_report_ids_full_study(model):
    dependent = dependence_study(model, 300, seed=1, n_boot=300)
    assert dependent.log_score_gain_low > 0
    independent = dependence_study(model, 300, seed=1, dependent=False, n_boot=300)
    # Without dependence, declaring ids is wrong and costs; declaring nothing is right.
    assert independent.log_score_gain_high < 0


@pytest.mark.slow
def test_an_unreliable_source_is_singled_out(model):
    study = source_recovery_study(model, 40, seed=3, reports_per_source=3.0)
    assert study.rate_low > 0.5


# ----------------------------------------------------------------------------- clusters (item 3)
# Design (:func:`cluster_study`): the base model read as exact plus three member indicators,
# each a noisy copy of one latent event (P(event | calm, tense, war) = 0.1, 0.4, 0.8; a member
# copies it with probability 0.9, otherwise fires on its own at 0.05, 0.1 or 0.2). Every
# indicator is coded in a month with probability 0.6 by one B2 row. ``declared`` gives the
# members ``cluster = "event"`` (default closeness 0.9), ``independent`` does not; both read the
# members' true likelihoods in exact mode.
#
# Measured (seed 1, 2 cores, 2026-12-01; `cluster_study(model, n, seed=1, dependent=..., n_boot=300)`):
# - 1,000 dependent worlds (216 s): log-score gain 0.0208 nats per month, 95% t interval
#   [0.0162, 0.0255]; calibration slope 1.019 declared vs 0.904 independent, bootstrap interval of
#   the gain in |1 - slope| [0.006, 0.116]; ECE 0.0053 vs 0.0141, difference [-0.0012, 0.0146].
#   300 worlds: gain 0.0236 [0.0153, 0.0319], slope gain [-0.039, 0.137] (not shown at 300).
# - 1,000 worlds without dependence (196 s): declaring the cluster costs 0.0076 [0.0039, 0.0113];
#   300 worlds: 0.0075 [0.0004, 0.0146]. Declaring nothing is the engine without the key.


def test_declaring_a_cluster_improves_the_log_score_small(model):
    study = cluster_study(model, 100, seed=1, n_boot=50)
    # Measured: gain 0.0208 nats per month, 95% interval [0.0079, 0.0338] (about 15 s on 2 cores).
    assert study.log_score_gain_low > 0


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
def test_declaring_a_cluster_full_study(model):
    """1,000 dependent worlds (about 3.5 min on 2 cores) and 300 without dependence (about 1 min)."""
    dependent = cluster_study(model, 1000, seed=1, n_boot=300)
    assert dependent.log_score_gain_low > 0
    # Treating the members as independent is overconfident (slope 0.90 against 1.02 declared):
    # the declared forecaster's slope is closer to 1 at the 95% level.
    assert dependent.slope_gain_low > 0
    # Without the shared event, declaring the cluster is wrong and may cost; declaring nothing is the
    # engine without the key (tests/test_clusters.py: a closeness near 0 is no cluster at all).
    independent = cluster_study(model, 300, seed=1, dependent=False, n_boot=300)
    assert independent.log_score_gain_high < dependent.log_score_gain_low
