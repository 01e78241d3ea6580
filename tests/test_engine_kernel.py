"""The compiled kernel against the PyTensor reference graph: values and autodiff gradients."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.kernel import log_likelihood_and_gradient
from syriaforecast.engine.reference.graph import (
    ElicitationTensors,
    EvidenceTensors,
    chain_terms,
    forward_log_likelihood,
)
from syriaforecast.engine.reference.op import evidence_log_likelihood

from .test_engine_exact import EVIDENCE_CASES, reports, small_model
from .test_scenario_dynamics import ROWS as DYNAMIC_ROWS
from .test_scenario_dynamics import dynamic_model

PARAMS = (
    "log_initial",
    "persistence",
    "shift",
    "kappa_reliability",
    "kappa_credibility",
    "transition_base",
    "log_effect",
)


def _reference(model, evidence):
    """Autodiff log-likelihood and gradient from the PyTensor graph of the same maths."""
    arrays = build_model_arrays(model)
    T = model.horizon_index + 1
    data = build_engine_data(model, arrays, evidence, T)
    symbols = {
        "log_initial": pt.dvector(),
        "persistence": pt.dvector(),
        "shift": pt.dmatrix(),
        "kappa_reliability": pt.dvector(),
        "kappa_credibility": pt.dvector(),
        "transition_base": pt.dmatrix(),
        "log_effect": pt.dmatrix(),
    }
    elicitation = ElicitationTensors(
        **{n: pt.as_tensor(getattr(arrays, n)) for n in ElicitationTensors.fields()}
    )
    evidence_t = EvidenceTensors(**{n: pt.as_tensor(getattr(data, n)) for n in EvidenceTensors.fields()})
    terms = chain_terms(
        elicitation,
        len(model.scenarios),
        T,
        log_initial=symbols["log_initial"],
        persistence=symbols["persistence"],
        shift=symbols["shift"],
        kappa_reliability=symbols["kappa_reliability"],
        kappa_credibility=symbols["kappa_credibility"],
        evidence=evidence_t,
        transition_base=symbols["transition_base"],
        row_elicited=pt.as_tensor(arrays.row_elicited),
        log_effect=symbols["log_effect"],
        driver_on=pt.as_tensor(data.driver_on),
    )
    loglik = forward_log_likelihood(terms)
    fn = pytensor.function(list(symbols.values()), [loglik, *pytensor.grad(loglik, list(symbols.values()))])
    return arrays, data, fn


def _random_values(model, arrays, rng):
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
        "transition_base": rows,
        "log_effect": rng.normal(0, 0.8, arrays.log_effect.shape),
    }


def _kernel(values, arrays, data):
    return log_likelihood_and_gradient(
        *(values[n] for n in PARAMS[:5]),
        arrays.cutpoints,
        arrays.log_rate,
        arrays.is_count,
        data.n_periods,
        *(getattr(data, n) for n in EvidenceTensors.fields()),
        values["transition_base"],
        arrays.row_elicited,
        values["log_effect"],
        data.driver_on,
    )


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
        values = _random_values(model, arrays, rng)
        expected = reference(*values.values())
        got = _kernel(values, arrays, data)
        assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
        for name, g_kernel, g_auto in zip(PARAMS, got[1:], expected[1:], strict=True):
            np.testing.assert_allclose(g_kernel, g_auto, rtol=1e-7, atol=1e-9, err_msg=name)


def test_op_gradient_passes_pytensor_verify_grad():
    """The Op's gradient (all seven parameters, elicited rows and a driver) against finite differences."""
    model = dynamic_model(persistence=0.85, months=4, error=0.5)
    rows = [r for r in DYNAMIC_ROWS if r[0] < "2025-05-01"]
    evidence = sf.load_evidence(reports(rows), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    fixed = {n: getattr(data, n) for n in EvidenceTensors.fields()}
    fixed |= {
        "cutpoints": arrays.cutpoints,
        "log_rate": arrays.log_rate,
        "is_count": arrays.is_count,
        "n_periods": np.int64(data.n_periods),
        "row_elicited": arrays.row_elicited,
        "driver_on": data.driver_on,
    }

    def loglik(*values):
        return evidence_log_likelihood(dict(zip(PARAMS, values, strict=True)), fixed)

    rng = np.random.default_rng(1)
    point = list(_random_values(model, arrays, rng).values())
    # finite differences must stay off the zeros of the absorbing row: nudge only positive entries
    point[5] = np.where(point[5] > 0, point[5], 0.0)
    pytensor.gradient.verify_grad(loglik, point, rng=rng, abs_tol=1e-6, rel_tol=1e-6)
