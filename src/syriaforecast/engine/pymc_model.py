"""Build the hierarchical PyMC model and the exact-mode parameter set.

Parameters (all continuous; the latent scenario path is summed out exactly):

- ``initial_probability ~ Dirichlet(prior_concentration * prior)``: the first
  period's scenario probabilities, centred on the analysts' priors.
- ``persistence[s] = expit(logit(persistence) + persistence_uncertainty * z[s])``:
  the probability of staying in scenario ``s``; the rest of the row is spread
  evenly. A logit-normal rather than a Dirichlet row keeps NUTS away from the
  boundary when persistence is close to one.
- ``elicitation_sigma[g] ~ HalfNormal(elicitation_error)`` and
  ``elicitation_eta[i, s] ~ Normal(0, 1)``: non-centred elicitation error, shared
  in scale by the indicators of a group; a phrase elicitation adds the spread
  of its ICD 203 band to that scale.
- ``source_reliability[A..F]``, ``information_credibility[1..6]`` ~ Beta: the
  informativeness factors of graded reports, with means set by the grade.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    GRADE_CONCENTRATION,
    RELIABILITY_PRIOR_MEAN,
    EngineData,
    ModelArrays,
)
from syriaforecast.engine.graph import (
    EvidenceTensors,
    chain_terms,
    elicitation_shift,
    forward_log_likelihood,
)

__all__ = ["build_pymc_model", "exact_parameters"]


def _grade_means() -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array(list(RELIABILITY_PRIOR_MEAN.values())),
        np.array(list(CREDIBILITY_PRIOR_MEAN.values())),
    )


def build_pymc_model(
    arrays: ModelArrays, data: EngineData, coords: dict[str, list[str]]
) -> pm.Model:
    """The hierarchical model, with the evidence as shared data for warm re-sampling.

    Parameters
    ----------
    arrays : ModelArrays
        The model file's elicitations.
    data : EngineData
        The evidence (any as-of date: shapes of parameters do not depend on it).
    coords : dict
        ``scenario``, ``indicator``, ``group`` and ``period`` labels.
    """
    S = arrays.n_scenarios
    rel_mean, cred_mean = _grade_means()
    with pm.Model(coords=coords | {"reliability_grade": list("ABCDEF"),
                                   "credibility_grade": list("123456")}) as model:
        evidence = EvidenceTensors(
            **{name: pm.Data(name, getattr(data, name)) for name in EvidenceTensors.fields()}
        )
        if S > 1:
            initial = pm.Dirichlet(
                "initial_probability", a=arrays.prior_concentration * arrays.prior, dims="scenario"
            )
            log_initial = pt.log(initial)
        else:
            log_initial = pt.zeros(1)
        if S > 1 and arrays.persistence < 1.0 and arrays.persistence_uncertainty > 0:
            z = pm.Normal("persistence_z", 0.0, 1.0, dims="scenario")
            centre = math.log(arrays.persistence) - math.log1p(-arrays.persistence)
            persistence = pm.Deterministic(
                "persistence", pt.sigmoid(centre + arrays.persistence_uncertainty * z), dims="scenario"
            )
        else:
            persistence = pt.as_tensor(np.full(S, arrays.persistence))
        sigma = pm.HalfNormal("elicitation_sigma", sigma=arrays.elicitation_error, dims="group")
        eta = pm.Normal("elicitation_eta", 0.0, 1.0, dims=("indicator", "scenario"))
        kappa_rel = pm.Beta(
            "source_reliability",
            alpha=rel_mean * GRADE_CONCENTRATION,
            beta=(1 - rel_mean) * GRADE_CONCENTRATION,
            dims="reliability_grade",
        )
        kappa_cred = pm.Beta(
            "information_credibility",
            alpha=cred_mean * GRADE_CONCENTRATION,
            beta=(1 - cred_mean) * GRADE_CONCENTRATION,
            dims="credibility_grade",
        )
        shift = elicitation_shift(arrays, sigma, eta)
        terms = chain_terms(
            arrays,
            len(coords["period"]),
            log_initial=log_initial,
            persistence=persistence,
            shift=shift,
            kappa_reliability=kappa_rel,
            kappa_credibility=kappa_cred,
            evidence=evidence,
        )
        pm.Potential("evidence_log_likelihood", forward_log_likelihood(terms))
        pm.Deterministic("log_initial", terms.log_initial, dims="scenario")
        pm.Deterministic("log_transition", terms.log_transition, dims=("scenario", "scenario_to"))
        pm.Deterministic("log_emission", terms.log_emission, dims=("period", "scenario"))
    return model


def exact_parameters(arrays: ModelArrays) -> dict[str, np.ndarray]:
    """Point values that take the model file as exact.

    Scenario priors and ``persistence`` as written, elicitation shift zero (a
    phrase sits at its band's logit midpoint), and each grade's prior mean
    informativeness.
    """
    rel_mean, cred_mean = _grade_means()
    return {
        "log_initial": np.log(arrays.prior),
        "persistence": np.full(arrays.n_scenarios, arrays.persistence),
        "shift": np.zeros((arrays.n_indicators, arrays.n_scenarios)),
        "kappa_reliability": rel_mean,
        "kappa_credibility": cred_mean,
    }
