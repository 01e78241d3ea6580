"""The compiled kernel against the PyTensor reference graph: values and autodiff gradients."""

from __future__ import annotations

import numpy as np
import pytensor
import pytest

import syriaforecast as sf
from syriaforecast.engine.kernel import log_likelihood_and_gradient
from syriaforecast.engine.reference.op import evidence_log_likelihood

from .kernel_args import (
    CHAIN_PARAMS,
    data_inputs,
    engine_inputs,
    kernel_args,
    python_only,
    reference_graph,
)
from .test_engine_exact import EVIDENCE_CASES, reports, small_model
from .test_scenario_dynamics import ROWS as DYNAMIC_ROWS
from .test_scenario_dynamics import dynamic_model


def _reference(model, evidence):
    """Autodiff log-likelihood and gradient from the PyTensor graph of the same maths."""
    arrays, data = engine_inputs(model, evidence)
    return arrays, data, reference_graph(arrays, data)


def _random_values(model, arrays, rng, data=None):
    S = len(model.scenarios)
    base = arrays.transition_base
    rows = np.where(base > 0, rng.uniform(0.05, 1.0, (S, S)), 0.0)  # zeros stay zero (absorbing)
    rows /= rows.sum(axis=1, keepdims=True)
    return {
        "log_initial": np.log(rng.dirichlet(np.ones(S) * 2)),
        "persistence": rng.uniform(0.5, 0.99, S),
        "shift": rng.normal(0, 0.8, (len(model.indicators), S)),
        "kappa_reliability": rng.uniform(0.2, 0.99, 6),
        "kappa_credibility": rng.uniform(0.2, 0.99, 6),
        # Every graded reading gets a source offset (the kernel reads them whatever the sources).
        "report_offset": rng.normal(0, 1, data.report_cell.shape[0] if data is not None else 0),
        "transition_base": rows,
        "log_effect": rng.normal(0, 0.8, arrays.log_effect.shape),
    }


def _kernel(values, arrays, data):
    return log_likelihood_and_gradient(*kernel_args(arrays, data, values))


def _matches_reference(values, arrays, data, reference) -> float:
    """Assert the kernel's value and gradient equal the reference's at ``values``; return the value."""
    expected = reference(*values.values())
    got = _kernel(values, arrays, data)
    assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
    for name, g_kernel, g_auto in zip(CHAIN_PARAMS, got[1:], expected[1:], strict=True):
        np.testing.assert_allclose(g_kernel, g_auto, rtol=1e-7, atol=1e-9, err_msg=name)
    return float(expected[0])


CASES = [*EVIDENCE_CASES, "elicited-rows-and-driver"]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_value_and_gradient_match_pytensor_autodiff(case):
    if case in EVIDENCE_CASES:
        model = small_model(persistence=0.85, months=6, elicitation_error=0.5)
        rows = EVIDENCE_CASES[case]
    else:
        model = dynamic_model(persistence=0.85, error=0.5)
        rows = DYNAMIC_ROWS
    evidence = sf.load_evidence(reports(rows), model)
    arrays, data, reference = _reference(model, evidence)
    rng = np.random.default_rng(7)
    for _ in range(3):
        _matches_reference(_random_values(model, arrays, rng, data), arrays, data, reference)


def test_op_gradient_passes_pytensor_verify_grad():
    """The Op's gradient (all eight parameters, elicited rows and a driver) against finite differences."""
    model = dynamic_model(persistence=0.85, months=4, error=0.5)
    rows = [r for r in DYNAMIC_ROWS if r[0] < "2025-05-01"]
    evidence = sf.load_evidence(reports(rows), model)
    arrays, data = engine_inputs(model, evidence)
    fixed = data_inputs(arrays, data)

    def loglik(*values):
        return evidence_log_likelihood(dict(zip(CHAIN_PARAMS, values, strict=True)), fixed)

    rng = np.random.default_rng(1)
    point = list(_random_values(model, arrays, rng, data).values())
    # finite differences must stay off the zeros of the absorbing row: nudge only positive entries
    base = CHAIN_PARAMS.index("transition_base")
    point[base] = np.where(point[base] > 0, point[base], 0.0)
    with python_only():
        pytensor.gradient.verify_grad(loglik, point, rng=rng, abs_tol=1e-6, rel_tol=1e-6)


def test_a_cell_read_hundreds_of_times_or_by_trusted_readers_who_disagree_matches_the_reference():
    """The kernel multiplies a cell's readings; the reference graph sums their logs.

    The kernel divides a cell's products by their largest when it falls below
    ``kernel._RESCALE``, reading that report in logs, so a product that would underflow
    never does. 600 graded readings of one cell take its
    products below 1e-260 (log-likelihood -649), so they are divided on the way;
    readers graded A1 at a reliability and credibility of exactly 1 who disagree give
    readings of probability 0 (floored at 1e-300 by both), whose product underflows at
    the second.
    """
    model = small_model(persistence=0.85, months=2, elicitation_error=0.5)
    levels = ("low", "mid", "high")
    many = [
        (f"2025-01-{1 + k % 28:02d}", "level", levels[k % 3] if k % 5 else "mid", "B", "2")
        for k in range(600)
    ]
    disagree = [
        ("2025-02-01", "a", "1", "A", "1"),
        ("2025-02-02", "a", "0", "A", "1"),
        ("2025-02-03", "level", "low", "A", "1"),
        ("2025-02-04", "level", "mid", "A", "1"),
        ("2025-02-05", "level", "high", "A", "1"),
    ]
    evidence = sf.load_evidence(reports(many + disagree), model)
    arrays, data, reference = _reference(model, evidence)
    rng = np.random.default_rng(11)
    values = _random_values(model, arrays, rng, data)
    expected = reference(*values.values())
    got = _kernel(values, arrays, data)
    assert float(expected[0]) < -600  # the products went below kernel._RESCALE = 1e-150
    assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
    for name, g_kernel, g_auto in zip(CHAIN_PARAMS, got[1:], expected[1:], strict=True):
        np.testing.assert_allclose(g_kernel, g_auto, rtol=1e-7, atol=1e-9, err_msg=name)
    values["kappa_reliability"][0] = values["kappa_credibility"][0] = 1.0  # grade A1 read as certain
    saturated = _kernel(values, arrays, data)[0]
    assert np.isfinite(saturated)
    assert saturated == pytest.approx(float(reference(*values.values())[0]), rel=1e-10)


def test_a_count_far_beyond_every_rate_is_read_in_logs_and_matches_the_reference():
    """A count whose Poisson probability is below 1e-308 under every scenario still tells them apart.

    At rates 0.5, 2 and 5 a count of 400 has log-probabilities of about -2,000 to -1,300:
    taken in probability space every scenario's likelihood underflowed to the same floor
    and the report counted for nothing. The reference graph sums logs; here one count read
    at face value, one graded, and one beside a graded report of a plausible count.
    """
    model = small_model(persistence=0.85, months=3, elicitation_error=0.5)
    rows = [
        ("2025-01-10", "incidents", "400", "", ""),
        ("2025-02-10", "incidents", "600", "B", "2"),
        ("2025-03-03", "incidents", "900", "C", "3"),
        ("2025-03-04", "incidents", "3", "B", "2"),
    ]
    evidence = sf.load_evidence(reports(rows), model)
    arrays, data, reference = _reference(model, evidence)
    rng = np.random.default_rng(5)
    for _ in range(3):
        log_likelihood = _matches_reference(_random_values(model, arrays, rng, data), arrays, data, reference)
        assert log_likelihood < -1000


def test_exact_mode_reads_a_far_tail_count_as_bayes_rule_does():
    # Rates 1000 and 1001: a count of 2500 is below 1e-340 under both, yet favours the higher
    # rate by 2500 log(1.001) - 1 nats; at rates 0.5 and 3.5 a count of 1000 makes war certain.
    from scipy.special import expit
    from scipy.stats import poisson

    def model_with(rates):
        return sf.parse_model(
            {
                "model": {
                    "id": "tail",
                    "title": "t",
                    "period": "month",
                    "start": "2025-01",
                    "horizon": "2025-01-31",
                    "persistence": 0.9,
                    "elicitation_error": 0.5,
                },
                "scenarios": [{"id": s, "name": s, "prior": 0.5, "resolution": "r"} for s in ("calm", "war")],
                "indicators": [
                    {"id": "n", "group": "g", "type": "count", "text": "n", "likelihood": dict(rates)}
                ],
            }
        )

    for rates, value in (({"calm": 1000.0, "war": 1001.0}, 2500), ({"calm": 0.5, "war": 3.5}, 1000)):
        model = model_with(rates)
        evidence = sf.load_evidence(reports([("2025-01-05", "n", str(value), "", "")]), model)
        war = float(sf.forecast(model, evidence, exact=True).horizon.values[0, 0, 1])
        log_odds = poisson.logpmf(value, rates["war"]) - poisson.logpmf(value, rates["calm"])
        assert poisson.pmf(value, rates["war"]) == 0.0  # below what a double holds
        assert war == pytest.approx(expit(log_odds), rel=1e-9)
