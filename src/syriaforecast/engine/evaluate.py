"""Evaluate the chain for given parameter draws and any evidence: exact mode, what-ifs, reporting.

A compiled kernel (:mod:`syriaforecast.engine.kernel`, cached on disk by Numba)
computes the chain terms from parameter values, the model file's arrays and the
evidence arrays. Reporting uses it to ask "what if this report
were absent?" or "what if next month shows X?" under every posterior draw, and
exact mode uses it with the model file's point values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from syriaforecast.engine.data import (
    ANALYST_FIELDS,
    EngineData,
    ModelArrays,
    build_engine_data,
    build_model_arrays,
    read_only_view,
)
from syriaforecast.engine.hmm import ChainPosterior, forward_backward
from syriaforecast.engine.kernel import chain_terms_batch_kernel, pooled_shift_batch
from syriaforecast.engine.names import (
    ANALYST_PARAMETER_NAMES,
    CLUSTER_PARAMETER_NAMES,
    EVIDENCE_FIELDS,
    PARAMETER_NAMES,
    SOURCE_PARAMETER_NAMES,
    TRANSITION_PARAMETER_NAMES,
)
from syriaforecast.engine.parameters import exact_parameters
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "ANALYST_PARAMETER_NAMES",
    "CLUSTER_PARAMETER_NAMES",
    "PARAMETER_NAMES",
    "SOURCE_LABELS",
    "SOURCE_PARAMETER_NAMES",
    "TRANSITION_PARAMETER_NAMES",
    "DrawTerms",
    "chain_posterior",
    "chain_terms_for_draws",
    "exact_parameters_for",
    "posterior_parameters",
    "reading_offsets",
]

#: Key of a parameter mapping that names the sources along ``source_offset``'s last axis.
SOURCE_LABELS = "source"

@dataclass(frozen=True)
class DrawTerms:
    """Chain terms for each of ``D`` parameter draws."""

    log_initial: np.ndarray  # (D, S)
    log_transition: np.ndarray  # (D, S, S), or (D, T, S, S) when drivers make it vary (move into t at [t])
    log_emission: np.ndarray  # (D, T, S)
    cell_log_likelihood: np.ndarray  # (D, C, S): log P(reports of cell c | scenario)
    data: EngineData  # the cells (period, indicator) the last axis of cells refers to


def _evaluate(params: Mapping[str, np.ndarray], arrays: ModelArrays, data: EngineData) -> list[np.ndarray]:
    """Chain terms for D parameter draws (leading axis D), in one compiled call."""
    initial = np.asarray(params["initial_probability"], dtype=float)
    with np.errstate(divide="ignore"):
        log_initial = np.log(initial)
    sigma = np.asarray(params["elicitation_sigma"], dtype=float)  # (D, G)
    if arrays.n_analysts and all(name in params for name in ANALYST_PARAMETER_NAMES):
        # Several analysts: the shift of the cells they elicited is pooled (as in the density).
        shift = pooled_shift_batch(
            *map(
                read_only_view,  # one compiled specialisation whatever the flags (read_only_view)
                (
                    np.asarray(params["analyst_bias"], dtype=float),
                    np.asarray(params["analyst_noise"], dtype=float),
                    sigma,
                    np.asarray(params["elicitation_eta"], dtype=float),
                    arrays.group_of,
                    arrays.band_sd,
                    *(getattr(arrays, name) for name in ANALYST_FIELDS),
                ),
            )
        )
    else:
        # One elicitation per cell, or the analysts' consensus (exact mode).
        scale = np.sqrt(sigma[:, arrays.group_of][:, :, None] ** 2 + arrays.band_sd[None] ** 2)
        shift = scale * np.asarray(params["elicitation_eta"], dtype=float)
    D = initial.shape[0]
    base = params.get("transition")
    transition_base = (
        np.asarray(base, dtype=float)
        if base is not None
        else np.broadcast_to(arrays.transition_base, (D, *arrays.transition_base.shape))
    )
    effect = params.get("driver_effect")
    with np.errstate(divide="ignore"):
        log_effect = (
            np.log(np.asarray(effect, dtype=float))
            if effect is not None
            else np.broadcast_to(arrays.log_effect, (D, *arrays.log_effect.shape))
        )
    driver_on = data.driver_on if data.driver_on.shape[0] == data.n_periods else np.zeros((data.n_periods, 0))
    if driver_on.shape[1] != log_effect.shape[1]:
        driver_on = np.zeros((data.n_periods, log_effect.shape[1]))
    C = data.cell_period.shape[0]
    evidence = {name: getattr(data, name) for name in EVIDENCE_FIELDS}
    if evidence["cell_event"].shape[0] != C:  # arrays built by hand (what-ifs) without clusters
        evidence["cell_event"] = np.full(C, -1, dtype=np.int64)
    declared = np.asarray(evidence["cluster_closeness"], dtype=float)
    closeness = params.get("cluster_closeness")
    evidence["cluster_closeness"] = np.ascontiguousarray(
        np.broadcast_to(declared, (D, declared.shape[0])) if closeness is None else closeness, dtype=float
    )
    arguments = [
        np.ascontiguousarray(log_initial),
        np.ascontiguousarray(params["persistence"], dtype=float),
        np.ascontiguousarray(shift),
        np.ascontiguousarray(params["source_reliability"], dtype=float),
        np.ascontiguousarray(params["information_credibility"], dtype=float),
        reading_offsets(params, data, initial.shape[0]),
        arrays.cutpoints,
        arrays.log_rate,
        arrays.is_count,
        data.n_periods,
        *evidence.values(),
        np.ascontiguousarray(transition_base),
        arrays.row_elicited if arrays.row_elicited.shape[0] else np.zeros(initial.shape[1], dtype=bool),
        np.ascontiguousarray(log_effect),
        np.ascontiguousarray(driver_on, dtype=float),
    ]
    # Every array read-only: one compiled specialisation whatever the callers' flags (see read_only_view).
    log_transition, log_emission, cell_ll = chain_terms_batch_kernel(*map(read_only_view, arguments))
    moves = log_transition[:, 1:]
    if moves.shape[1] == 0 or np.array_equal(moves, np.broadcast_to(moves[:, :1], moves.shape)):
        log_transition = log_transition[:, -1]  # the same every period: the usual (D, S, S)
    return [log_initial, log_transition, log_emission, cell_ll]


def reading_offsets(params: Mapping[str, np.ndarray], data: EngineData, n_draws: int) -> np.ndarray:
    """Each graded reading's source offset under each draw, (D, K); zeros without ``source_offset``.

    ``params["source_offset"]`` (D, M) is matched to the evidence's sources by name
    through ``params["source"]`` (:data:`SOURCE_LABELS`) when present, so a what-if
    on a subset of the reports reads every source with its own offset. A source
    the draws do not know (new since the fit) reads at its letter's value (offset
    0, the median of its prior). Without names the offsets must be the
    evidence's own, in its order.
    """
    K = int(data.report_cell.shape[0])
    out = np.zeros((n_draws, K))
    offset = params.get("source_offset")
    if offset is None or K == 0 or not data.source_names:
        return out
    offset = np.asarray(offset, dtype=float).reshape(n_draws, -1)
    labels = params.get(SOURCE_LABELS)
    if labels is None:
        if offset.shape[1] != len(data.source_names):
            raise ValueError(
                f"source_offset has {offset.shape[1]} sources and the evidence {len(data.source_names)}; "
                f"give their names as params[{SOURCE_LABELS!r}]"
            )
        position = np.arange(len(data.source_names))
    else:
        where = {str(name): m for m, name in enumerate(np.asarray(labels).tolist())}
        position = np.array([where.get(name, -1) for name in data.source_names], dtype=np.int64)
    column = np.where(data.report_source >= 0, position[np.maximum(data.report_source, 0)], -1)
    known = column >= 0
    out[:, known] = offset[:, column[known]]
    return out


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
        Draws with a leading axis ``D``, named as in :data:`PARAMETER_NAMES`, plus
        :data:`ANALYST_PARAMETER_NAMES` for a model elicited by several analysts:
        with them the analysts' elicitations are pooled as in the sampled density;
        without them (exact mode) the consensus elicitation is the reference.
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
    log_initial, log_transition, log_emission, cell_ll = _evaluate(params, arrays, data)
    return DrawTerms(log_initial, log_transition, log_emission, cell_ll, data=data)


def chain_posterior(terms: DrawTerms) -> ChainPosterior:
    """Filtered and smoothed probabilities from chain terms (forward-backward per draw)."""
    return forward_backward(terms.log_initial, terms.log_transition, terms.log_emission)


def posterior_parameters(
    model: ScenarioModel,
    posterior: Mapping[Any, Any],
    n_draws: int,
    *,
    max_draws: int | None = None,
) -> dict[str, np.ndarray]:
    """Parameter draws flattened to a leading draw axis.

    Parameters
    ----------
    model : ScenarioModel
        The model the draws belong to.
    posterior : mapping of name to array
        Draws with leading ``(chain, draw)`` axes, ``n_draws`` in all (a
        Forecast's ``posterior``). Parameters fixed by the model (persistence
        of 1, a single scenario's initial probability) may be absent and are
        filled in from the model file; the analysts' and the sources'
        parameters are included when present (with the sources' names under
        :data:`SOURCE_LABELS`).
    n_draws : int
        Chains times draws.
    max_draws : int, optional
        Keep this many evenly spaced draws (for expensive what-if analyses).
    """
    exact = exact_parameters(build_model_arrays(model))
    D = n_draws
    params = {}
    for name in PARAMETER_NAMES:
        if name in posterior:
            values = np.asarray(posterior[name])
            params[name] = values.reshape((D, *values.shape[2:]))
        else:
            params[name] = np.broadcast_to(exact[name], (D, *exact[name].shape)).copy()
    optional = ANALYST_PARAMETER_NAMES + TRANSITION_PARAMETER_NAMES + CLUSTER_PARAMETER_NAMES
    for name in optional + SOURCE_PARAMETER_NAMES:
        if name in posterior:
            values = np.asarray(posterior[name])
            params[name] = values.reshape((D, *values.shape[2:]))
    if max_draws is not None and max_draws < D:
        keep = np.linspace(0, D - 1, max_draws).round().astype(int)
        params = {k: v[keep] for k, v in params.items()}
    coords = getattr(posterior.get("source_offset"), "coords", {})
    if SOURCE_LABELS in coords:
        # The sources' names travel with their offsets (see reading_offsets).
        params[SOURCE_LABELS] = np.asarray(coords[SOURCE_LABELS].values, dtype=str)
    return params
