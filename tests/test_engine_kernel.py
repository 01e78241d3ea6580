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

PARAMS = ("log_initial", "persistence", "shift", "kappa_reliability", "kappa_credibility", "report_offset")


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
        "report_offset": pt.dvector(),
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
        report_offset=symbols["report_offset"],
    )
    loglik = forward_log_likelihood(terms)
    fn = pytensor.function(list(symbols.values()), [loglik, *pytensor.grad(loglik, list(symbols.values()))])
    return arrays, data, fn


@pytest.mark.parametrize("case", list(EVIDENCE_CASES), ids=str)
def test_kernel_value_and_gradient_match_pytensor_autodiff(case):
    model = small_model(persistence=0.85, months=6, elicitation_error=0.5)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES[case]), model)
    arrays, data, reference = _reference(model, evidence)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = {
            "log_initial": np.log(rng.dirichlet(np.ones(3) * 2)),
            "persistence": rng.uniform(0.5, 0.99, 3),
            "shift": rng.normal(0, 0.8, (len(model.indicators), 3)),
            "kappa_reliability": rng.uniform(0.2, 0.99, 6),
            "kappa_credibility": rng.uniform(0.2, 0.99, 6),
            "report_offset": rng.normal(0, 1, data.report_cell.shape[0]),
        }
        expected = reference(*values.values())
        got = log_likelihood_and_gradient(
            *values.values(),
            arrays.cutpoints,
            arrays.log_rate,
            arrays.is_count,
            data.n_periods,
            *(getattr(data, n) for n in EvidenceTensors.fields()),
        )
        assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
        for name, g_kernel, g_auto in zip(PARAMS, got[1:], expected[1:], strict=True):
            np.testing.assert_allclose(g_kernel, g_auto, rtol=1e-7, atol=1e-9, err_msg=name)


def test_op_gradient_passes_pytensor_verify_grad():
    model = small_model(persistence=0.85, months=4, elicitation_error=0.5)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"][:6]), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    fixed = {n: getattr(data, n) for n in EvidenceTensors.fields()}
    fixed |= {
        "cutpoints": arrays.cutpoints,
        "log_rate": arrays.log_rate,
        "is_count": arrays.is_count,
        "n_periods": np.int64(data.n_periods),
    }

    def loglik(log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset):
        values = (log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset)
        params = dict(zip(PARAMS, values, strict=True))
        return evidence_log_likelihood(params, fixed)

    rng = np.random.default_rng(1)
    point = [
        np.log([0.5, 0.3, 0.2]),
        np.array([0.9, 0.8, 0.7]),
        rng.normal(0, 0.5, (5, 3)),
        rng.uniform(0.3, 0.9, 6),
        rng.uniform(0.3, 0.9, 6),
        rng.normal(0, 1, data.report_cell.shape[0]),
    ]
    pytensor.gradient.verify_grad(loglik, point, rng=rng, abs_tol=1e-6, rel_tol=1e-6)
