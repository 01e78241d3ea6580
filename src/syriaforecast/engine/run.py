"""Run the engine: exact mode, or NUTS through nutpie on the compiled posterior density."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.evaluate import (
    ANALYST_PARAMETER_NAMES,
    PARAMETER_NAMES,
    TRANSITION_PARAMETER_NAMES,
    chain_posterior,
    chain_terms_for_draws,
    exact_parameters_for,
)
from syriaforecast.engine.hmm import ChainPosterior
from syriaforecast.engine.sampler import build_sampler_model
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = ["EngineRun", "SamplerSettings", "run_engine"]

@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings. The defaults give R-hat <= 1.01 and ESS_bulk >= 400 on the bundled model."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    seed: int | None = None

    def as_attrs(self) -> dict[str, Any]:
        """Settings as netCDF-safe attributes."""
        return {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
            "seed": -1 if self.seed is None else self.seed,
        }


@dataclass
class EngineRun:
    """What the engine hands to :class:`~syriaforecast.forecast.Forecast`."""

    mode: str  # "hierarchical" or "exact"
    n_asof: int  # periods 0..n_asof-1 are reported
    horizon_index: int
    chain: ChainPosterior  # arrays with a draw axis of chains * draws
    chains: int
    draws: int
    parameters: dict[str, np.ndarray] = field(default_factory=dict)  # (chains, draws, ...)
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)  # (chains, draws)
    timings: dict[str, float] = field(default_factory=dict)


def n_chain_periods(model: ScenarioModel) -> int:
    """The chain runs from the first period through the horizon's period."""
    return model.horizon_index + 1


def asof_periods(model: ScenarioModel, as_of: dt.date) -> int:
    """Number of reported periods: first period through the as-of date's (capped at the horizon)."""
    return max(1, min(model.period_index(as_of) + 1, n_chain_periods(model)))


def _coords(model: ScenarioModel) -> dict[str, list[str]]:
    coords = {
        "scenario": list(model.scenario_ids),
        "scenario_to": list(model.scenario_ids),
        "indicator": list(model.indicator_ids),
        "group": list(model.groups),
        "period": model.period_labels(n_chain_periods(model)),
    }
    if model.analysts:
        coords["analyst"] = list(model.analysts)
    if model.drivers:
        coords["driver"] = list(model.driver_ids)
    return coords


# --------------------------------------------------------------------------- run
def run_engine(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    *,
    exact: bool,
    settings: SamplerSettings,
    progress: bool = False,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> EngineRun:
    """Compute the chain posterior given the evidence dated on or before ``as_of``.

    ``assume`` (driver id -> {period index: 0 or 1}) fixes drivers from those
    periods on: a conditional forecast. Assumptions change only the moves into
    those periods, so they should lie after ``as_of`` (the caller checks).
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    data = build_engine_data(model, arrays, evidence.up_to(as_of), n_periods, assume)
    n_asof = asof_periods(model, as_of)
    timings["prepare"] = time.perf_counter() - start

    if exact:
        start = time.perf_counter()
        params = exact_parameters_for(model)
        terms = chain_terms_for_draws(model, data, params, arrays=arrays)
        chain = chain_posterior(terms)
        timings["compute"] = time.perf_counter() - start
        return EngineRun(
            "exact",
            n_asof,
            n_periods - 1,
            chain,
            1,
            1,
            parameters={k: v[None] for k, v in params.items()},
            timings=timings,
        )

    import nutpie

    start = time.perf_counter()

    compiled = build_sampler_model(arrays, data, _coords(model))
    timings["compile"] = time.perf_counter() - start

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=settings.seed if settings.seed is not None else 0,
            target_accept=settings.target_accept,
            progress_bar=progress,
            cores=min(settings.chains, 2),
        )
    timings["sample"] = time.perf_counter() - start

    start = time.perf_counter()
    posterior = trace["posterior"] if not hasattr(trace, "posterior") else trace.posterior
    stats = trace["sample_stats"] if not hasattr(trace, "sample_stats") else trace.sample_stats
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    D = chains * draws

    names = PARAMETER_NAMES + ANALYST_PARAMETER_NAMES + TRANSITION_PARAMETER_NAMES
    parameters = {name: np.asarray(posterior[name]) for name in names if name in posterior}
    fixed = exact_parameters_for(model)
    flat = {
        name: (
            parameters[name].reshape((D, *parameters[name].shape[2:]))
            if name in parameters
            else np.broadcast_to(fixed[name][0], (D, *fixed[name].shape[1:]))
        )
        for name in PARAMETER_NAMES
    }
    flat |= {
        name: parameters[name].reshape((D, *parameters[name].shape[2:]))
        for name in ANALYST_PARAMETER_NAMES + TRANSITION_PARAMETER_NAMES
        if name in parameters
    }
    chain = chain_posterior(chain_terms_for_draws(model, data, flat, arrays=arrays))
    sample_stats = {
        name: np.asarray(stats[name])
        for name in ("diverging", "depth", "n_steps", "energy", "step_size", "mean_tree_accept")
        if name in stats
    }
    timings["postprocess"] = time.perf_counter() - start
    return EngineRun(
        "hierarchical",
        n_asof,
        n_periods - 1,
        chain,
        chains,
        draws,
        parameters=parameters,
        sample_stats=sample_stats,
        timings=timings,
    )
