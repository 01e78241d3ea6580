"""Exact mode against independent computations: brute force, hmmlearn, pgmpy, closed forms."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import poisson

import syriaforecast as sf
from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN
from syriaforecast.engine.hmm import forward_backward, forward_backward_numpy

from .kernel_args import python_only

SCENARIOS = ("calm", "tense", "war")
PRIOR = (0.5, 0.3, 0.2)
BINARY = {"a": (0.2, 0.5, 0.8), "b": (0.7, 0.4, 0.1), "c": (0.05, 0.3, 0.6)}
ORDINAL = {"calm": [0.7, 0.2, 0.1], "tense": [0.3, 0.4, 0.3], "war": [0.1, 0.3, 0.6]}
RATES = {"calm": 0.5, "tense": 2.0, "war": 5.0}


def small_model(*, persistence: float = 0.8, months: int = 6, elicitation_error: float = 0.0):
    """Three scenarios, binary + ordinal + count indicators, `months` periods from 2025-01."""
    end = pd.Period("2025-01", freq="M") + (months - 1)
    indicators = [
        {
            "id": ident,
            "group": "g1",
            "type": "binary",
            "text": ident,
            "likelihood": dict(zip(SCENARIOS, probs, strict=True)),
        }
        for ident, probs in BINARY.items()
    ]
    indicators.append(
        {
            "id": "level",
            "group": "g2",
            "type": "ordinal",
            "text": "level",
            "levels": ["low", "mid", "high"],
            "likelihood": ORDINAL,
        }
    )
    indicators.append({"id": "incidents", "group": "g2", "type": "count", "text": "n", "likelihood": RATES})
    return sf.parse_model(
        {
            "model": {
                "id": "small",
                "title": "Small",
                "period": "month",
                "start": "2025-01",
                "horizon": end.end_time.date(),
                "persistence": persistence,
                "elicitation_error": elicitation_error,
            },
            "scenarios": [
                {"id": s, "name": s.title(), "prior": p, "resolution": "r"}
                for s, p in zip(SCENARIOS, PRIOR, strict=True)
            ],
            "indicators": indicators,
        }
    )


def reports(rows):
    return pd.DataFrame(rows, columns=["date", "indicator", "value", "reliability", "credibility"])


def transition(persistence: float, S: int = 3) -> np.ndarray:
    A = np.full((S, S), (1 - persistence) / (S - 1))
    np.fill_diagonal(A, persistence)
    return A


def state_probability(indicator: str, value: str, s: int) -> float:
    """P(true state = value | scenario s), straight from the elicitation table."""
    if indicator in BINARY:
        p = BINARY[indicator][s]
        return p if value == "1" else 1 - p
    if indicator == "level":
        return ORDINAL[SCENARIOS[s]][["low", "mid", "high"].index(value)]
    return float(poisson.pmf(int(value), RATES[SCENARIOS[s]]))


def cell_likelihood(rows: list[tuple], s: int) -> float:
    """P(reports of one cell | scenario), summing the true state out by hand."""
    indicator = rows[0][1]
    if indicator in BINARY:
        states = ["0", "1"]
    elif indicator == "level":
        states = ["low", "mid", "high"]
    else:
        states = [str(k) for k in range(200)]
    total = 0.0
    for x in states:
        term = state_probability(indicator, x, s)
        for _, _, value, rel, cred in rows:
            if not rel and not cred:
                term *= 1.0 if value == x else 0.0
                continue
            kappa = RELIABILITY_PRIOR_MEAN.get(rel, 1.0) * CREDIBILITY_PRIOR_MEAN.get(str(cred), 1.0)
            if indicator in BINARY:
                noise = 0.5
            elif indicator == "level":
                noise = 1 / 3
            else:  # geometric with mean 2 * max rate + 1
                mean = 2 * max(RATES.values()) + 1
                theta = mean / (mean + 1)
                noise = (1 - theta) * theta ** int(value)
            term *= kappa * (value == x) + (1 - kappa) * noise
        total += term
    return total


def brute_force(model, rows: list[tuple], persistence: float):
    """Filtered and smoothed by enumerating every scenario path."""
    T = model.horizon_index + 1
    S = len(SCENARIOS)
    emission = np.ones((T, S))
    cells: dict[tuple[int, str], list[tuple]] = {}
    for row in rows:
        cells.setdefault((model.period_index(dt.date.fromisoformat(row[0])), row[1]), []).append(row)
    for (t, _), cell in cells.items():
        emission[t] *= [cell_likelihood(cell, s) for s in range(S)]
    A = transition(persistence)
    pi = np.array(PRIOR)

    def path_weight(path):
        w = pi[path[0]] * emission[0, path[0]]
        for t in range(1, len(path)):
            w *= A[path[t - 1], path[t]] * emission[t, path[t]]
        return w

    filtered = np.zeros((T, S))
    for t in range(T):
        for path in itertools.product(range(S), repeat=t + 1):
            filtered[t, path[-1]] += path_weight(path)
        filtered[t] /= filtered[t].sum()
    smoothed = np.zeros((T, S))
    evidence_probability = 0.0
    for path in itertools.product(range(S), repeat=T):
        w = path_weight(path)
        evidence_probability += w
        for t in range(T):
            smoothed[t, path[t]] += w
    return filtered, smoothed / evidence_probability, math.log(evidence_probability)


EVIDENCE_CASES = {
    "ungraded-binary": [
        ("2025-01-10", "a", "1", "", ""),
        ("2025-02-03", "b", "0", "", ""),
        ("2025-02-20", "c", "1", "", ""),
        ("2025-04-11", "a", "0", "", ""),
        ("2025-06-30", "b", "1", "", ""),
    ],
    "ungraded-all-types": [
        ("2025-01-10", "a", "1", "", ""),
        ("2025-01-12", "level", "high", "", ""),
        ("2025-03-01", "incidents", "4", "", ""),
        ("2025-03-05", "c", "0", "", ""),
        ("2025-05-09", "level", "low", "", ""),
        ("2025-05-10", "incidents", "0", "", ""),
    ],
    "graded-and-repeated": [
        ("2025-01-10", "a", "1", "B", "2"),
        ("2025-01-15", "a", "1", "C", "3"),
        ("2025-02-01", "a", "0", "E", "5"),
        ("2025-02-02", "level", "mid", "A", "1"),
        ("2025-02-03", "level", "high", "D", ""),
        ("2025-04-01", "incidents", "3", "B", "2"),
        ("2025-04-02", "incidents", "7", "C", "4"),
        ("2025-04-03", "incidents", "3", "", ""),
        ("2025-06-01", "b", "1", "", "2"),
    ],
}


@pytest.mark.parametrize("persistence", [0.8, 0.95, 1.0], ids=lambda p: f"persistence={p}")
@pytest.mark.parametrize("case", list(EVIDENCE_CASES), ids=str)
def test_exact_mode_equals_brute_force_enumeration(case, persistence):
    rows = EVIDENCE_CASES[case]
    model = small_model(persistence=persistence, months=6)
    evidence = sf.load_evidence(reports(rows), model)
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    filtered, smoothed, _ = brute_force(model, rows, persistence)
    np.testing.assert_allclose(result.filtered.values[0, 0], filtered, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.smoothed.values[0, 0], smoothed, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.horizon.values[0, 0], filtered[-1], atol=1e-10, rtol=0)


def test_log_likelihood_matches_brute_force():
    rows = EVIDENCE_CASES["graded-and-repeated"]
    model = small_model(persistence=0.9)
    evidence = sf.load_evidence(reports(rows), model)
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for

    terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
    _, _, log_evidence = brute_force(model, rows, 0.9)
    assert chain_posterior(terms).log_likelihood[0] == pytest.approx(log_evidence, abs=1e-10)


def test_pytensor_forward_algorithm_matches_numpy_forward_backward():
    """The sampler's log-likelihood (PyTensor scan) and the reporting path (numpy) agree."""
    import pytensor
    import pytensor.tensor as pt

    from syriaforecast.engine.reference.graph import ChainTerms, forward_log_likelihood

    rng = np.random.default_rng(3)
    T, S = 300, 4
    log_initial = np.log(rng.dirichlet(np.ones(S)))
    log_transition = np.log(rng.dirichlet(np.ones(S) * 3, size=S))
    log_emission = rng.normal(-3.0, 2.0, size=(T, S))
    symbols = [pt.dvector(), pt.dmatrix(), pt.dmatrix()]
    loglik = forward_log_likelihood(ChainTerms(*symbols, cell_log_likelihood=pt.dmatrix()))
    grad = pytensor.grad(loglik, symbols[2])
    with python_only():
        fn = pytensor.function(symbols, [loglik, grad])
    value, gradient = fn(log_initial, log_transition, log_emission)
    reference = forward_backward(log_initial[None], log_transition[None], log_emission[None])
    assert value == pytest.approx(reference.log_likelihood[0], rel=1e-12)
    # d log p(e) / d log e_t[s] is the smoothed posterior P(z_t = s | e): a closed-form check.
    np.testing.assert_allclose(gradient, reference.smoothed[0], atol=1e-10)


def test_forward_backward_is_stable_over_many_periods():
    """2,400 periods of strong evidence: no overflow, no NaN (unnormalised forward overflows near 90)."""
    rng = np.random.default_rng(0)
    T, S = 2400, 3
    log_emission = rng.normal(-40.0, 10.0, size=(1, T, S))
    chain = forward_backward(np.log(np.full((1, S), 1 / S)), np.log(transition(0.9))[None], log_emission)
    assert np.isfinite(chain.filtered).all() and np.isfinite(chain.smoothed).all()
    np.testing.assert_allclose(chain.filtered.sum(-1), 1.0, atol=1e-12)
    assert np.isfinite(chain.log_likelihood).all() and chain.log_likelihood[0] < -40 * T / 2


def test_compiled_forward_backward_equals_the_numpy_recursion():
    """The compiled batch (scaled messages) against the NumPy log-space recursion, draw by draw."""
    rng = np.random.default_rng(3)
    D, T, S = 50, 40, 4
    log_initial = np.log(rng.dirichlet(np.ones(S), size=D))
    log_initial[0, 1] = -np.inf  # a scenario the prior rules out
    log_transition = np.log(rng.dirichlet(np.ones(S) * 2, size=(D, S)))
    log_emission = rng.normal(-3.0, 4.0, size=(D, T, S))
    log_emission[:, 5] = 0.0  # a period without reports
    compiled = forward_backward(log_initial, log_transition, log_emission)
    reference = forward_backward_numpy(log_initial, log_transition, log_emission)
    np.testing.assert_allclose(compiled.filtered, reference.filtered, atol=1e-12)
    np.testing.assert_allclose(compiled.smoothed, reference.smoothed, atol=1e-12)
    np.testing.assert_allclose(compiled.log_likelihood, reference.log_likelihood, rtol=1e-12)
    assert compiled.smoothed[0, 0, 1] == 0.0 == compiled.filtered[0, 0, 1]


def test_smoothed_equals_hmmlearn_predict_proba():
    hmm = pytest.importorskip("hmmlearn.hmm")
    persistence, months = 0.85, 24
    model = small_model(persistence=persistence, months=months)
    rng = np.random.default_rng(11)
    values = rng.integers(0, 2, size=months)
    dates = pd.period_range("2025-01", periods=months, freq="M").to_timestamp() + pd.Timedelta(days=9)
    evidence = sf.load_evidence(
        reports([(d.date().isoformat(), "a", str(v), "", "") for d, v in zip(dates, values, strict=True)]),
        model,
    )
    result = sf.forecast(model, evidence, as_of=dates[-1].date(), exact=True)
    reference = hmm.CategoricalHMM(n_components=3, init_params="", params="")
    reference.startprob_ = np.array(PRIOR)
    reference.transmat_ = transition(persistence)
    p = np.array(BINARY["a"])
    reference.emissionprob_ = np.column_stack([1 - p, p])
    expected = reference.predict_proba(values.reshape(-1, 1))
    np.testing.assert_allclose(result.smoothed.values[0, 0], expected, atol=1e-8, rtol=0)


def test_fixed_scenario_equals_pgmpy_variable_elimination():
    pgmpy_models = pytest.importorskip("pgmpy.models")
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    rows = EVIDENCE_CASES["ungraded-binary"] + [("2025-03-15", "level", "mid", "", "")]
    model = small_model(persistence=1.0, months=6)
    evidence = sf.load_evidence(reports(rows), model)
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)

    network = pgmpy_models.DiscreteBayesianNetwork()
    network.add_node("Z")
    cpds = [TabularCPD("Z", 3, [[p] for p in PRIOR])]
    observed = {}
    for k, (_, indicator, value, _, _) in enumerate(rows):
        node = f"x{k}"
        network.add_edge("Z", node)
        if indicator in BINARY:
            p = np.array(BINARY[indicator])
            table = [list(1 - p), list(p)]
            observed[node] = int(value)
        else:
            table = [[ORDINAL[s][level] for s in SCENARIOS] for level in range(3)]
            observed[node] = ["low", "mid", "high"].index(value)
        cpds.append(TabularCPD(node, len(table), table, evidence=["Z"], evidence_card=[3]))
    network.add_cpds(*cpds)
    posterior = VariableElimination(network).query(["Z"], evidence=observed, show_progress=False).values
    np.testing.assert_allclose(result.horizon.values[0, 0], posterior, atol=1e-12)
    np.testing.assert_allclose(result.smoothed.values[0, 0, 0], posterior, atol=1e-12)


def _horizon_log_odds(model, rows) -> float:
    evidence = sf.load_evidence(reports(rows), model)
    p = sf.forecast(model, evidence, as_of="2025-06-30", exact=True).horizon.values[0, 0]
    return float(np.log(p[2]) - logsumexp(np.log(p[:2])))


@pytest.mark.parametrize("grade", [("B", "2"), ("C", "3"), ("A", "")], ids=lambda g: "".join(g) or "x")
def test_second_report_of_same_cell_moves_less_than_the_first(grade):
    model = small_model(persistence=0.9)
    first = [("2025-03-10", "a", "1", *grade)]
    second = [*first, ("2025-03-20", "a", "1", *grade)]
    base = _horizon_log_odds(model, [])
    move_first = _horizon_log_odds(model, first) - base
    move_second = _horizon_log_odds(model, second) - _horizon_log_odds(model, first)
    assert move_first > 0
    assert 0 <= move_second < move_first


def test_second_ungraded_report_adds_nothing():
    """Face-value reports are exact readings: repeating one is not new evidence."""
    model = small_model(persistence=0.9)
    first = [("2025-03-10", "a", "1", "", "")]
    assert _horizon_log_odds(model, [*first, ("2025-03-28", "a", "1", "", "")]) == pytest.approx(
        _horizon_log_odds(model, first), abs=1e-12
    )


def test_looked_and_not_seen_is_evidence_but_missing_is_not():
    model = small_model(persistence=0.9)
    base = _horizon_log_odds(model, [])
    seen_zero = _horizon_log_odds(model, [("2025-03-10", "a", "0", "", "")])
    # "a" is seen with probability 0.2/0.5/0.8: a 0 lowers the odds of "war".
    assert seen_zero < base - 0.1


def test_evidence_after_as_of_is_ignored():
    model = small_model(persistence=0.9)
    early = [("2025-02-10", "a", "1", "", "")]
    late = [*early, ("2025-05-10", "b", "0", "", ""), ("2025-05-11", "c", "1", "", "")]
    a = sf.forecast(model, sf.load_evidence(reports(early), model), as_of="2025-03-31", exact=True)
    b = sf.forecast(model, sf.load_evidence(reports(late), model), as_of="2025-03-31", exact=True)
    assert np.array_equal(a.horizon.values, b.horizon.values)
    assert np.array_equal(a.filtered.values, b.filtered.values)
    assert a.filtered.sizes["time"] == 3


def test_horizon_propagates_the_last_filtered_through_the_transition_matrix():
    model = small_model(persistence=0.8, months=6)
    rows = [("2025-02-10", "a", "1", "", ""), ("2025-02-11", "c", "1", "", "")]
    result = sf.forecast(model, sf.load_evidence(reports(rows), model), as_of="2025-02-28", exact=True)
    last = result.filtered.values[0, 0, -1]
    expected = last @ np.linalg.matrix_power(transition(0.8), 4)
    np.testing.assert_allclose(result.horizon.values[0, 0], expected, atol=1e-12)
