"""Several analysts: pooling beats the best single analyst and the plain average.

Design (chosen with the exact-mode version of the study first, ``exact=True``):
the bundled 3-scenario, 8-indicator synthetic base model; three analysts, two
good but biased in opposite directions and one poor, ``a = (bias +1.0, noise
0.6)``, ``b = (-1.0, 0.7)``, ``c = (0, 3.0)`` on the logit scale; shared
elicitation error 0.2; 90% of indicators reported per month, forecast one month
ahead (lead 1). Pooling can learn that ``c`` is poor (against the average) and
undo the relative biases of ``a`` and ``b`` (against each alone); the ``ideal``
forecaster (exact mode on the precision-weighted, de-biased consensus with the
true values) is what it could reach. Scores are expected Brier scores against
the oracle's probability (the outcome's noise averaged out exactly).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from syriaforecast import load_model
from syriaforecast.errors import SyriaforecastError
from syriaforecast.studies.analysts import analyst_study, ideal_model, summarise_analyst_study
from syriaforecast.studies.synthetic import simulate_world

DATA = Path(__file__).parent / "data"
SPEC = {"a": (1.0, 0.6), "b": (-1.0, 0.7), "c": (0.0, 3.0)}
OPTIONS = {"elicitation_noise": 0.2, "report_rate": 0.9, "lead": 1}


@pytest.fixture(scope="module")
def base():
    return load_model(DATA / "synthetic_base.toml")


@pytest.fixture(scope="module")
def study(base):
    """36 worlds, NUTS 100 + 100 draws x 2 chains per forecaster (5 fits per world)."""
    return analyst_study(base, 36, analysts=SPEC, seed=1, draws=100, tune=100, chains=2, **OPTIONS)


def _logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


@pytest.mark.slow  # the 36-world study: 46 s of a clean-clone make test (2026-12-01)
def test_pooled_beats_best_single_analyst_and_average(study):
    """Pooled vs the best single analyst (in hindsight) and the plain average, expected Brier.

    Measured (36 worlds, seed 1, about 60 s; mean over worlds; 90% paired bootstrap
    intervals of pooled minus the other, negative = pooled better):

    ============  ==============  =========  =====  =========
    forecaster    expected Brier  exp. log   Brier  log score
    ============  ==============  =========  =====  =========
    pooled        0.524           0.885      0.479  0.816
    average       0.610           1.019      0.530  0.893
    analyst:a     0.599           0.991      0.497  0.846
    analyst:b     0.551           0.923      0.481  0.819
    analyst:c     0.774           1.290      0.576  1.021
    ideal         0.527           0.890      0.488  0.830
    oracle        0.495           0.845      0.427  0.734
    ============  ==============  =========  =====  =========

    Expected Brier, pooled minus: best single (analyst:b) -0.028 [-0.047, -0.011];
    average -0.087 [-0.135, -0.044]; analyst:a -0.076 [-0.116, -0.041]; ideal
    -0.004 [-0.015, 0.006]; oracle +0.028 [0.019, 0.040]. (Against the realised
    outcomes the same ordering holds but 36 worlds do not separate it: Brier vs
    analyst:b -0.002 [-0.064, 0.053].) The same design passed with seeds 2, 3 and
    4 too (best single -0.051, -0.027, -0.018; upper ends -0.021, -0.007, -0.003).
    """
    summary = summarise_analyst_study(study)
    # The engine pooled the analysts (its posterior has their parameters).
    assert summary.attrs["pooled_has_analysts"] == 1
    diff = summary["difference"].sel(score="expected_brier")
    best = summary.attrs["best_single"]
    assert best in ("analyst:a", "analyst:b")
    for other in (best, "average"):
        estimate, low, high = diff.sel(versus=other).values
        assert high < 0, (other, estimate, low, high)
    # Nobody beats the oracle; pooling is close to the ideal pooling.
    assert float(diff.sel(versus="oracle", bound="low")) > 0
    ideal = float(diff.sel(versus="ideal", bound="estimate"))
    assert abs(ideal) < abs(float(diff.sel(versus=best, bound="estimate")))


@pytest.mark.slow  # the 36-world study: 46 s of a clean-clone make test (2026-12-01)
def test_pooled_fits_recover_each_analysts_noise_and_bias(study):
    """Posterior means over 36 worlds: noise 0.60, 0.60, 2.73 (true 0.6, 0.7, 3.0), bias 0.93, -0.90, 0.02."""
    summary = summarise_analyst_study(study)
    noise = summary["noise_mean"].sel(analyst=["a", "b", "c"]).values
    assert noise[2] > 2.0 > 1.0 > max(noise[:2])  # the poor analyst is found out
    assert np.all(np.abs(noise - [0.6, 0.7, 3.0]) < [0.25, 0.25, 0.6])
    # 90% intervals hold the truth in 89%, 81%, 72% of worlds: HalfNormal(1) pulls a noise of 3 down.
    assert np.all(summary["noise_coverage"].values >= [0.7, 0.7, 0.6])
    bias = summary["bias_mean"].sel(analyst=["a", "b", "c"]).values
    assert bias[0] > 0.5 and bias[1] < -0.5 and abs(bias[2]) < 0.4
    assert np.allclose(summary["noise_true"].values, [0.6, 0.7, 3.0])


def test_study_layout_and_exact_design(base):
    """The cheap exact-mode design: same layout, pooled is the consensus there, deterministic."""
    ds = analyst_study(base, 4, analysts=SPEC, seed=9, exact=True, **OPTIONS)
    again = analyst_study(base, 4, analysts=SPEC, seed=9, exact=True, **OPTIONS)
    assert list(ds["forecaster"].values) == [
        "pooled",
        "average",
        "analyst:a",
        "analyst:b",
        "analyst:c",
        "ideal",
        "oracle",
    ]
    assert list(ds["analyst"].values) == ["a", "b", "c"]
    assert np.array_equal(ds["probability"].values, again["probability"].values)
    assert np.allclose(ds["probability"].sum("scenario"), 1.0)
    assert np.array_equal(
        ds["probability"].sel(forecaster="pooled"), ds["probability"].sel(forecaster="average")
    )
    assert np.array_equal(ds["oracle_probability"], ds["probability"].sel(forecaster="oracle"))
    assert not ds["pooled_has_analysts"].any()
    assert ds["analyst_noise_mean"].isnull().all()
    assert np.array_equal(ds["analyst_noise"].isel(world=0), [0.6, 0.7, 3.0])
    summary = summarise_analyst_study(ds, n_boot=200)
    assert summary.sizes == {"forecaster": 7, "score": 4, "versus": 6, "bound": 3, "analyst": 3}
    assert summary.attrs["pooled_has_analysts"] == 0
    assert summary.attrs["best_single"].startswith("analyst:")
    assert np.isnan(summary["noise_coverage"]).all()
    assert np.allclose(
        summary["difference"].sel(score="expected_brier", versus="average", bound="estimate"), 0.0
    )
    with pytest.raises(SyriaforecastError, match="analysts"):
        analyst_study(base, 2, analysts=1, seed=1, exact=True)
    with pytest.raises(SyriaforecastError, match="lead"):
        analyst_study(base, 2, analysts=SPEC, seed=1, exact=True, lead=99)
    with pytest.raises(SyriaforecastError, match="reference"):
        summarise_analyst_study(ds, reference="nobody")


def test_ideal_model_by_hand(base):
    world = simulate_world(base, seed=4, analysts=SPEC, elicitation_noise=0.2)
    bias = np.array([1.0, -1.0, 0.0])
    noise = np.array([0.6, 0.7, 3.0])
    ideal = ideal_model(world.model, bias, noise)
    assert ideal.analysts == ()
    w = 1 / noise**2
    w /= w.sum()
    for ind in world.model.indicators:
        for s in base.scenario_ids:
            d = np.array([_logit(ind.elicitations[a][s]) for a in SPEC]) - bias
            assert _logit(ideal.indicator(ind.id).likelihood[s]) == pytest.approx(w @ d)
    # An analyst without noise takes all the weight: the ideal is the target itself.
    exact = ideal_model(world.model, bias, np.array([0.0, 0.7, 3.0]))
    for ind, target in zip(exact.indicators, base.indicators, strict=True):
        for s in base.scenario_ids:
            truth = _logit(ind.likelihood[s])
            assert truth == pytest.approx(_logit(world.model.indicator(ind.id).elicitations["a"][s]) - 1.0)
            eta = world.parameters["analyst_eta"][
                0, base.indicator_ids.index(ind.id), base.scenario_ids.index(s)
            ]
            assert truth == pytest.approx(_logit(target.likelihood[s]) + 0.6 * eta)


@pytest.mark.slow
def test_pooling_at_scale(base):
    """120 worlds, 200 + 200 draws: the same comparisons, with log scores too.

    Measured (seed 11, about 280 s): expected Brier pooled 0.501, average 0.558,
    analyst:a 0.571, analyst:b 0.530, analyst:c 0.729, ideal 0.493, oracle 0.465.
    Pooled minus best single (analyst:b) -0.029 [-0.041, -0.017], minus average
    -0.057 [-0.077, -0.035]; expected log score -0.040 [-0.056, -0.025] and -0.081
    [-0.110, -0.053]. Realised Brier vs best single -0.031 [-0.067, 0.003], log
    score -0.051 [-0.103, -0.003]. Noise posterior means 0.59, 0.65, 2.72 (true
    0.6, 0.7, 3.0), 90% intervals covering 93%, 93%, 73% of worlds.
    """
    ds = analyst_study(base, 120, analysts=SPEC, seed=11, draws=200, tune=200, chains=2, **OPTIONS)
    summary = summarise_analyst_study(ds)
    assert summary.attrs["pooled_has_analysts"] == 1
    best = summary.attrs["best_single"]
    for score in ("expected_brier", "expected_log_score"):
        diff = summary["difference"].sel(score=score)
        for other in (best, "average", "analyst:a", "analyst:b", "analyst:c"):
            assert float(diff.sel(versus=other, bound="high")) < 0, (score, other)
    noise = summary["noise_mean"].values
    assert np.all(np.abs(noise - [0.6, 0.7, 3.0]) < [0.2, 0.2, 0.5])
