"""Evaluate the chain for given parameter draws and any evidence: exact mode, what-ifs, reporting.

One PyTensor function, compiled once per process (and cached on disk by
PyTensor), computes the chain terms from parameter values, the model file's
arrays and the evidence arrays. Reporting uses it to ask "what if this report
were absent?" or "what if next month shows X?" under every posterior draw, and
exact mode uses it with the model file's point values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor
import pytensor.tensor as pt

from syriaforecast.engine.data import EngineData, ModelArrays, build_engine_data, build_model_arrays
from syriaforecast.engine.graph import (
    ElicitationTensors,
    EvidenceTensors,
    chain_terms,
    elicitation_shift,
)
from syriaforecast.engine.hmm import ChainPosterior, forward_backward
from syriaforecast.engine.pymc_model import exact_parameters
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = [
    "PARAMETER_NAMES",
    "DrawTerms",
    "chain_posterior",
    "chain_terms_for_draws",
    "exact_parameters_for",
    "forecast_parameters",
]

#: Parameters that determine the chain; a Forecast keeps their draws.
PARAMETER_NAMES = (
    "initial_probability",
    "persistence",
    "elicitation_sigma",
    "elicitation_eta",
    "source_reliability",
    "information_credibility",
)


@dataclass(frozen=True)
class DrawTerms:
    """Chain terms for each of ``D`` parameter draws."""

    log_initial: np.ndarray  # (D, S)
    log_transition: np.ndarray  # (D, S, S)
    log_emission: np.ndarray  # (D, T, S)
    cell_log_likelihood: np.ndarray  # (D, C, S): log P(reports of cell c | scenario)
    data: EngineData  # the cells (period, indicator) the last axis of cells refers to


class _Evaluator:
    def __init__(self) -> None:
        initial = pt.dvector("initial_probability")
        persistence = pt.dvector("persistence")
        sigma = pt.dvector("elicitation_sigma")
        eta = pt.dmatrix("elicitation_eta")
        kappa_rel = pt.dvector("source_reliability")
        kappa_cred = pt.dvector("information_credibility")
        n_periods = pt.lscalar("n_periods")
        elicitation = ElicitationTensors(
            cutpoints=pt.dtensor3("cutpoints"),
            log_rate=pt.dmatrix("log_rate"),
            band_sd=pt.dmatrix("band_sd"),
            group_of=pt.lvector("group_of"),
            is_count=pt.vector("is_count", dtype="bool"),
        )
        evidence = EvidenceTensors(
            cell_period=pt.lvector("cell_period"),
            cell_indicator=pt.lvector("cell_indicator"),
            cell_count_values=pt.lmatrix("cell_count_values"),
            cell_slot_valid=pt.matrix("cell_slot_valid", dtype="bool"),
            face_log_reading=pt.dmatrix("face_log_reading"),
            report_cell=pt.lvector("report_cell"),
            report_match=pt.dmatrix("report_match"),
            report_noise=pt.dmatrix("report_noise"),
            report_reliability=pt.lvector("report_reliability"),
            report_credibility=pt.lvector("report_credibility"),
        )
        terms = chain_terms(
            elicitation,
            initial.shape[0],
            n_periods,
            log_initial=pt.log(initial),
            persistence=persistence,
            shift=elicitation_shift(elicitation, sigma, eta),
            kappa_reliability=kappa_rel,
            kappa_credibility=kappa_cred,
            evidence=evidence,
        )
        self.parameter_inputs = [initial, persistence, sigma, eta, kappa_rel, kappa_cred]
        inputs = [*self.parameter_inputs, n_periods]
        inputs += [getattr(elicitation, name) for name in ElicitationTensors.fields()]
        inputs += [getattr(evidence, name) for name in EvidenceTensors.fields()]
        self._fn = pytensor.function(
            inputs,
            [
                terms.log_initial,
                terms.log_transition,
                terms.log_emission,
                terms.cell_log_likelihood,
            ],
            on_unused_input="ignore",
        )

    def __call__(
        self, params: Mapping[str, np.ndarray], arrays: ModelArrays, data: EngineData
    ) -> list[np.ndarray]:
        args: list[Any] = [np.asarray(params[name], dtype=float) for name in PARAMETER_NAMES]
        args.append(data.n_periods)
        args += [getattr(arrays, name) for name in ElicitationTensors.fields()]
        args += [getattr(data, name) for name in EvidenceTensors.fields()]
        return list(self._fn(*args))


_lock = threading.Lock()
_evaluator: _Evaluator | None = None


def _get_evaluator() -> _Evaluator:
    global _evaluator
    with _lock:
        if _evaluator is None:
            _evaluator = _Evaluator()
        return _evaluator


def exact_parameters_for(model: ScenarioModel) -> dict[str, np.ndarray]:
    """The model file's point values with a leading draw axis of length one."""
    return {k: v[None] for k, v in exact_parameters(build_model_arrays(model)).items()}


def chain_terms_for_draws(
    model: ScenarioModel,
    evidence: Evidence | EngineData,
    params: Mapping[str, np.ndarray],
    *,
    n_periods: int | None = None,
    arrays: ModelArrays | None = None,
) -> DrawTerms:
    """Chain terms under each parameter draw.

    Parameters
    ----------
    model : ScenarioModel
        The model (its elicitations).
    evidence : Evidence or EngineData
        The reports to evaluate (already arranged, or to be arranged here).
    params : mapping of name to ndarray
        Draws with a leading axis ``D``, named as in :data:`PARAMETER_NAMES`.
    n_periods : int, optional
        Periods of the chain (default: the model's whole span).
    arrays : ModelArrays, optional
        Precomputed model arrays (e.g. a model with one elicitation changed).
    """
    arrays = arrays if arrays is not None else build_model_arrays(model)
    if n_periods is None:
        n_periods = model.horizon_index + 1
    data = (
        evidence
        if isinstance(evidence, EngineData)
        else build_engine_data(model, arrays, evidence, n_periods)
    )
    evaluator = _get_evaluator()
    D = len(next(iter(params.values())))
    outputs: list[list[np.ndarray]] = [[], [], [], []]
    for d in range(D):
        results = evaluator({name: params[name][d] for name in PARAMETER_NAMES}, arrays, data)
        for bucket, value in zip(outputs, results, strict=True):
            bucket.append(value)
    stacked = [np.stack(bucket) for bucket in outputs]
    return DrawTerms(*stacked, data=data)


def chain_posterior(terms: DrawTerms) -> ChainPosterior:
    """Filtered and smoothed probabilities from chain terms (forward-backward per draw)."""
    return forward_backward(terms.log_initial, terms.log_transition, terms.log_emission)


def forecast_parameters(result: Forecast, *, max_draws: int | None = None) -> dict[str, np.ndarray]:
    """The forecast's parameter draws, flattened to a leading draw axis.

    Parameters fixed by the model (persistence of 1, a single scenario's
    initial probability) are filled in from the model file. ``max_draws``
    thins evenly-spaced draws for expensive what-if analyses.
    """
    exact = exact_parameters(build_model_arrays(result.model))
    posterior = result.posterior
    chains, draws = result.horizon.sizes["chain"], result.horizon.sizes["draw"]
    D = chains * draws
    params = {}
    for name in PARAMETER_NAMES:
        if name in posterior:
            values = np.asarray(posterior[name])
            params[name] = values.reshape((D, *values.shape[2:]))
        else:
            params[name] = np.broadcast_to(exact[name], (D, *exact[name].shape)).copy()
    if max_draws is not None and max_draws < D:
        keep = np.linspace(0, D - 1, max_draws).round().astype(int)
        params = {k: v[keep] for k, v in params.items()}
    return params
