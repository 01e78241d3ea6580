"""Run the engine: exact mode, or NUTS through nutpie with a compiled-model cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt

from syriaforecast.engine.data import EngineData, ModelArrays, build_engine_data, build_model_arrays
from syriaforecast.engine.graph import EvidenceTensors, chain_terms
from syriaforecast.engine.hmm import ChainPosterior, forward_backward
from syriaforecast.engine.pymc_model import build_pymc_model, exact_parameters
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = ["EngineRun", "SamplerSettings", "run_engine"]

#: Parameters whose posterior draws are kept (the rest are recomputable from them).
PARAMETER_NAMES = (
    "initial_probability",
    "persistence",
    "elicitation_sigma",
    "elicitation_eta",
    "source_reliability",
    "information_credibility",
)


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings. The defaults give R-hat <= 1.01 and ESS_bulk >= 400 on the bundled model."""

    draws: int = 500
    tune: int = 500
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
    compiled_from_cache: bool = False


def model_key(model: ScenarioModel) -> str:
    """Identity of a model's structure and elicitations (what a compiled sampler depends on)."""
    return hashlib.sha256(model.to_toml().encode()).hexdigest()


def n_chain_periods(model: ScenarioModel) -> int:
    """The chain runs from the first period through the horizon's period."""
    return model.horizon_index + 1


def asof_periods(model: ScenarioModel, as_of: dt.date) -> int:
    """Number of reported periods: first period through the as-of date's (capped at the horizon)."""
    return max(1, min(model.period_index(as_of) + 1, n_chain_periods(model)))


# --------------------------------------------------------------------------- exact terms
class _TermsFunction:
    """The chain terms compiled once per model as a plain PyTensor function."""

    def __init__(self, arrays: ModelArrays, n_periods: int) -> None:
        self.arrays = arrays
        S, I = arrays.n_scenarios, arrays.n_indicators
        log_initial = pt.vector("log_initial", shape=(S,))
        persistence = pt.vector("persistence", shape=(S,))
        shift = pt.matrix("shift", shape=(I, S))
        kappa_rel = pt.vector("kappa_reliability", shape=(6,))
        kappa_cred = pt.vector("kappa_credibility", shape=(6,))
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
            arrays,
            n_periods,
            log_initial=log_initial,
            persistence=persistence,
            shift=shift,
            kappa_reliability=kappa_rel,
            kappa_credibility=kappa_cred,
            evidence=evidence,
        )
        inputs = [log_initial, persistence, shift, kappa_rel, kappa_cred]
        inputs += [getattr(evidence, name) for name in EvidenceTensors.fields()]
        self._fn = pytensor.function(
            inputs,
            [terms.log_initial, terms.log_transition, terms.log_emission],
            on_unused_input="ignore",
        )

    def __call__(
        self, params: dict[str, np.ndarray], data: EngineData
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        args = [params[k] for k in ("log_initial", "persistence", "shift", "kappa_reliability",
                                    "kappa_credibility")]
        args += [getattr(data, name) for name in EvidenceTensors.fields()]
        log_initial, log_transition, log_emission = self._fn(*args)
        return log_initial, log_transition, log_emission


# --------------------------------------------------------------------------- caches
_lock = threading.Lock()
_terms_cache: dict[str, _TermsFunction] = {}
_sampler_cache: dict[str, Any] = {}


def _cached(cache: dict[str, Any], key: str, build: Callable[[], Any]) -> tuple[Any, bool]:
    with _lock:
        if key in cache:
            return cache[key], True
    value = build()
    with _lock:
        cache.setdefault(key, value)
        return cache[key], False


def clear_caches() -> None:
    """Forget compiled functions and samplers (frees memory; the next run recompiles)."""
    with _lock:
        _terms_cache.clear()
        _sampler_cache.clear()


def _coords(model: ScenarioModel) -> dict[str, list[str]]:
    return {
        "scenario": list(model.scenario_ids),
        "scenario_to": list(model.scenario_ids),
        "indicator": list(model.indicator_ids),
        "group": list(model.groups),
        "period": model.period_labels(n_chain_periods(model)),
    }


# --------------------------------------------------------------------------- run
def run_engine(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    *,
    exact: bool,
    settings: SamplerSettings,
    progress: bool = False,
) -> EngineRun:
    """Compute the chain posterior given the evidence dated on or before ``as_of``."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    data = build_engine_data(model, arrays, evidence.up_to(as_of), n_periods)
    n_asof = asof_periods(model, as_of)
    key = model_key(model)
    timings["prepare"] = time.perf_counter() - start

    if exact:
        start = time.perf_counter()
        fn, hit = _cached(_terms_cache, key, lambda: _TermsFunction(arrays, n_periods))
        timings["compile"] = time.perf_counter() - start
        start = time.perf_counter()
        log_initial, log_transition, log_emission = fn(exact_parameters(arrays), data)
        chain = forward_backward(log_initial[None], log_transition[None], log_emission[None])
        timings["compute"] = time.perf_counter() - start
        return EngineRun("exact", n_asof, n_periods - 1, chain, 1, 1, timings=timings,
                         compiled_from_cache=hit)

    import nutpie

    start = time.perf_counter()

    def compile_sampler() -> Any:
        pymc_model = build_pymc_model(arrays, data, _coords(model))
        return nutpie.compile_pymc_model(pymc_model, freeze_model=False)

    compiled, hit = _cached(_sampler_cache, key, compile_sampler)
    compiled = compiled.with_data(**{name: getattr(data, name) for name in EvidenceTensors.fields()})
    timings["compile"] = time.perf_counter() - start

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        trace = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=settings.seed if settings.seed is not None else int(np.random.SeedSequence().entropy % 2**63),
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

    def flat(name: str) -> np.ndarray:
        values = np.asarray(posterior[name])
        return values.reshape((D, *values.shape[2:]))

    chain = forward_backward(flat("log_initial"), flat("log_transition"), flat("log_emission"))
    parameters = {
        name: np.asarray(posterior[name]) for name in PARAMETER_NAMES if name in posterior
    }
    sample_stats = {
        name: np.asarray(stats[name])
        for name in ("diverging", "tree_depth", "energy", "step_size")
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
        compiled_from_cache=hit,
    )
