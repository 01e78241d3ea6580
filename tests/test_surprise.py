"""The surprise monitor and the residual scenario on worlds inside and outside the scenario set.

Worlds: three named scenarios with distinct signatures on eight binary signposts,
plus a residual ("none of the above", likelihoods defaulted). *Inside* worlds
follow the model's own chain among the named scenarios; *outside* worlds leave
the set halfway for a hidden scenario that shows one named scenario's signature
on half the signposts and another's on the rest (the bundled analysis's "capture
while Damascus keeps its channel to Washington"). A world is caught when a
period after the switch has a predictive p-value below 0.01, or when the
residual's probability at the as-of date exceeds one half.

Measured (``test_surprise_study_full``: 400 inside and 400 outside worlds, 12 months,
n_simulations=1000, 2 cores, 8 min): false alarms (p < 0.01) in 0.25% of 4,800
inside periods (nominal 1%; binary reports make the test conservative); outside
worlds caught in 97.75% (the monitor alone 47.25%, the residual alone 95.75%);
the residual's mean horizon probability on inside worlds 0.072 (0.21 with no
evidence). The small study (40 worlds) measured 0.83% / 97.5% / 0.082.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for

NAMED = ("west", "capture", "limbo")
HIGH, LOW = 0.8, 0.2
#: P(seen) per scenario on signposts 1-4 and 5-8.
SIGNATURES = {"west": (HIGH, LOW), "capture": (LOW, HIGH), "limbo": (LOW, LOW)}
HIDDEN = (HIGH, HIGH)  # both signatures at once: no named scenario explains it
MONTHS = 12


def study_model() -> sf.ScenarioModel:
    indicators = [
        {
            "id": f"s{k + 1}",
            "group": "g",
            "type": "binary",
            "text": f"signpost {k + 1}",
            "likelihood": {sid: SIGNATURES[sid][k // 4] for sid in NAMED},
        }
        for k in range(8)
    ]
    scenarios = [
        {"id": sid, "name": sid.title(), "prior": p, "resolution": "r"}
        for sid, p in zip(NAMED, (0.35, 0.35, 0.25), strict=True)
    ]
    residual = {"id": "other", "name": "None of the above", "prior": 0.05, "residual": True}
    scenarios.append(residual | {"resolution": "r"})
    end = pd.Period("2025-01", freq="M") + (MONTHS - 1)
    return sf.parse_model(
        {
            "model": {
                "id": "study",
                "title": "Study",
                "start": "2025-01",
                "horizon": end.end_time.date(),
                "persistence": 0.9,
                "elicitation_error": 0.0,
            },
            "scenarios": scenarios,
            "indicators": indicators,
        }
    )


def simulate(model, rng, *, leave: bool, report_rate: float = 0.8) -> pd.DataFrame:
    """One world's evidence: inside (the model's chain among named scenarios) or leaving halfway."""
    A = np.array(model.transition_matrix())[:3, :3]
    A /= A.sum(axis=1, keepdims=True)
    prior = np.array(model.prior[:3]) / sum(model.prior[:3])
    s = rng.choice(3, p=prior)
    rows = []
    for t in range(MONTHS):
        if t > 0:
            s = rng.choice(3, p=A[s])
        hidden = leave and t >= MONTHS // 2
        signature = HIDDEN if hidden else SIGNATURES[NAMED[s]]
        for k in range(8):
            if rng.random() < report_rate:
                seen = int(rng.random() < signature[k // 4])
                rows.append((f"2025-{t + 1:02d}-15", f"s{k + 1}", str(seen), "", ""))
    return pd.DataFrame(rows, columns=["date", "indicator", "value", "reliability", "credibility"])


def run_study(n_worlds: int, *, seed: int, n_simulations: int) -> dict[str, float]:
    model = study_model()
    rng = np.random.default_rng(seed)
    alarms = periods = 0
    caught = by_monitor = by_residual = 0
    residual_inside: list[float] = []
    for w in range(n_worlds):
        inside = sf.forecast(model, simulate(model, rng, leave=False), as_of="2025-12-31", exact=True)
        p = inside.surprise(n_simulations=n_simulations, seed=w)["p_value"].to_numpy()
        alarms += int(np.sum(p < 0.01))
        periods += p.shape[0]
        residual_inside.append(float(inside.horizon.values[0, 0, 3]))
        outside = sf.forecast(model, simulate(model, rng, leave=True), as_of="2025-12-31", exact=True)
        q = outside.surprise(n_simulations=n_simulations, seed=w)["p_value"].to_numpy()
        monitor = bool(np.any(q[MONTHS // 2 :] < 0.01))
        residual = float(outside.horizon.values[0, 0, 3]) > 0.5
        by_monitor += monitor
        by_residual += residual
        caught += monitor or residual
    return {
        "false_alarm_rate": alarms / periods,
        "periods": periods,
        "detection_rate": caught / n_worlds,
        "by_monitor": by_monitor / n_worlds,
        "by_residual": by_residual / n_worlds,
        "residual_inside_mean": float(np.mean(residual_inside)),
    }


def test_log_predictives_add_up_to_the_chain_log_likelihood():
    """sum_t log p(e_t | e_<t) = log p(e): the monitor's densities are the engine's, period by period."""
    model = study_model()
    evidence = sf.load_evidence(simulate(model, np.random.default_rng(4), leave=True), model)
    result = sf.forecast(model, evidence, as_of="2025-12-31", exact=True)
    table = result.surprise(n_simulations=50)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, MONTHS)
    chain = chain_posterior(chain_terms_for_draws(model, data, exact_parameters_for(model), arrays=arrays))
    assert table["log_predictive"].sum() == pytest.approx(chain.log_likelihood[0], abs=1e-9)
    assert list(table["period"]) == model.period_labels(MONTHS)


def test_p_value_is_the_simulated_tail_share():
    """A period of one face-value report has two outcomes: the p-value is the predictive's tail."""
    model = study_model()
    columns = ["date", "indicator", "value", "reliability", "credibility"]
    rows = pd.DataFrame([("2025-01-10", "s1", "1", "", "")], columns=columns)
    result = sf.forecast(model, rows, as_of="2025-01-31", exact=True)
    prior = np.array(model.prior)
    seen = float(prior @ np.array([model.indicator("s1").probability(s) for s in model.scenario_ids]))
    p = float(result.surprise(n_simulations=20000)["p_value"].iloc[0])
    # outcome 1 is the less likely one (seen < 1/2): p = P(outcome 1), up to Monte Carlo error
    assert seen < 0.5
    assert p == pytest.approx(seen, abs=4 * math.sqrt(seen * (1 - seen) / 20000) + 1e-4)


def test_surprise_study_small():
    """40 worlds each: a quick check of the same claims, with their Monte Carlo allowance."""
    figures = run_study(40, seed=1, n_simulations=400)
    se = math.sqrt(0.01 * 0.99 / figures["periods"])
    assert figures["false_alarm_rate"] <= 0.01 + 3 * se
    assert figures["detection_rate"] >= 0.85
    assert figures["residual_inside_mean"] < 0.10  # 0.21 with no evidence


@pytest.mark.slow
def test_surprise_study_full():
    """400 worlds each: false alarms at most 1% + 2 MC se per period, detection at least 90%."""
    figures = run_study(400, seed=2, n_simulations=1000)
    print(figures)
    se = math.sqrt(0.01 * 0.99 / figures["periods"])
    assert figures["false_alarm_rate"] <= 0.01 + 2 * se
    assert figures["detection_rate"] >= 0.90
    assert figures["residual_inside_mean"] < 0.10  # 0.21 with no evidence


def test_json_and_plain_words(capsys):
    from syriaforecast.cli import forecast_json

    model = study_model()
    frame = simulate(model, np.random.default_rng(11), leave=True)
    result = sf.forecast(model, frame, as_of="2025-12-31", exact=True)
    out = forecast_json(result)
    assert [row["period"] for row in out["surprise"]] == model.period_labels(MONTHS)
    assert all(set(row) == {"period", "p_value"} and 0 < row["p_value"] <= 1 for row in out["surprise"])
    table = pd.DataFrame(out["surprise"])
    note = result.surprise_note(table=table.assign(p_value=[0.5] * (MONTHS - 1) + [0.001]))
    assert "2025-12 (p = 0.001)" in note and "may no longer fit" in note and "residual" in note
    assert result.surprise_note(table=table.assign(p_value=[0.5] * MONTHS)) == ""


def test_a_count_reading_likelihood_equals_the_sum_over_true_counts_even_far_in_the_tail():
    # P(readings | s) = sum over the true count x of Poisson(x | rate_s) times each reading's
    # kappa [r = x] + (1 - kappa) noise(r), summed here by brute force over x = 0..5000 in logs.
    # Readings of 1,000 and 2,500 make every term below 1e-300, which floored them at one value.
    from scipy.special import logsumexp
    from scipy.stats import geom, poisson

    from syriaforecast.engine.surprise import _report_log_likelihood

    rate = np.array([0.5, 2.0, 5.0])
    noise_mean, kappa = 1.5, np.array([0.8, 0.6])
    theta = noise_mean / (noise_mean + 1.0)
    readings = np.array([[3, 3], [3, 7], [1000, 1000], [2500, 4]])
    got = _report_log_likelihood(True, 0, np.zeros((3, 1)), rate, noise_mean, readings, kappa)
    x = np.arange(5001)
    for n, row in enumerate(readings):
        log_read = sum(
            np.logaddexp(np.where(r == x, np.log(k), -np.inf), np.log(1 - k) + geom.logpmf(r + 1, 1 - theta))
            for r, k in zip(row, kappa, strict=True)
        )
        expected = [logsumexp(poisson.logpmf(x, lam) + log_read) for lam in rate]
        np.testing.assert_allclose(got[n], expected, rtol=1e-10)
