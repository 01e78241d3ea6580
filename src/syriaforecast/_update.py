"""Updating a forecast from the previous one: ``forecast(model, evidence, previous=fc)``.

When the new evidence only adds reports to the previous forecast's (or moves the
as-of date forward), the posterior changes only through the added reports'
likelihood, so the previous draws are reweighted to it by Pareto-smoothed
importance sampling (:mod:`syriaforecast.engine.psis`). The reweighting is kept
only when it can be trusted: Pareto ``k <= 0.7``, the previous fit passed its
convergence check, and every reported probability keeps an effective sample
size of at least 400 after weighting. Otherwise the model is refitted, with the
chains started from the previous draws and the step size adaptation from the
previous fit's step size, so a shorter tuning phase suffices.

The path taken is recorded in the forecast's attributes (and so in the saved
file): ``update_path`` is ``"psis"`` (previous draws reweighted),
``"refit"`` (sampled again, warm-started) or ``"fit"`` (sampled from scratch:
nothing could be reused), with ``update_reason`` in words, ``update_pareto_k``
(for a refit: the ``k`` that ruled the reweighting out; NaN when none was
computed) and ``update_ess`` (the weights' effective sample size).

A reweighted forecast's draws are the previous draws resampled in proportion to
their weights (systematic resampling), so every downstream computation (means,
intervals, what-ifs) reads it as any other forecast. Its diagnostics are those
of the previous draws under the new evidence (R-hat across the previous
chains), with every ESS scaled by the weights' efficiency ``ESS_IS / D``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.evaluate import (
    ANALYST_PARAMETER_NAMES,
    PARAMETER_NAMES,
    chain_posterior,
    chain_terms_for_draws,
)
from syriaforecast.engine.psis import (
    K_THRESHOLD,
    kish_ess,
    psis_weights,
    relative_efficiency,
    systematic_resample,
)
from syriaforecast.engine.run import (
    EngineRun,
    SamplerSettings,
    asof_periods,
    n_chain_periods,
    run_engine,
)
from syriaforecast.engine.sampler import pack_draws
from syriaforecast.errors import SyriaforecastError
from syriaforecast.forecast import (
    Forecast,
    _assemble,
    _diagnostic_failures,
    forecast_parameters,
    load_forecast,
)
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = ["UPDATE_PATHS", "WARM_TUNE", "update"]

#: The ways a forecast with ``previous=`` can be made (recorded as ``update_path``).
UPDATE_PATHS = ("psis", "refit", "fit")
#: Tuning steps of a refit started from the previous posterior (at most the requested tuning).
WARM_TUNE = 400


def _record(result: Forecast, path: str, reason: str, k: float = np.nan, ess: float = np.nan) -> Forecast:
    result.attrs |= {
        "update_path": path,
        "update_reason": reason,
        "update_pareto_k": float(k),
        "update_ess": float(ess),
    }
    return result


def _fit(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    settings: SamplerSettings,
    progress: bool,
    **warm: Any,
) -> Forecast:
    run = run_engine(model, evidence, as_of, exact=False, settings=settings, progress=progress, **warm)
    return _assemble(model, evidence, as_of, run, settings)


def _not_reusable(previous: Forecast, model: ScenarioModel) -> str | None:
    """Why the previous forecast's draws cannot even start the chains (None: they can)."""
    if previous.mode != "hierarchical":
        return f"the previous forecast is in {previous.mode} mode (no posterior draws to reuse)"
    if previous.model.to_toml() != model.to_toml():
        return "the model differs from the previous forecast's"
    return None


def _not_extension(previous: Forecast, evidence: Evidence, as_of: dt.date) -> str | None:
    """Why the new information is not the previous one plus reports (None: it is)."""
    if as_of < previous.as_of:
        return f"the as-of date {as_of} is before the previous forecast's ({previous.as_of})"
    if evidence.up_to(previous.as_of).to_csv_text() != previous.evidence.to_csv_text():
        return (
            f"the reports dated on or before the previous as-of date ({previous.as_of}) "
            "differ from the previous forecast's (changed or removed reports)"
        )
    return None


def _resampled(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    chains, draws = values.shape[:2]
    flat = values.reshape((chains * draws, *values.shape[2:]))
    return flat[index].reshape(values.shape)


def _reweighted(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    previous: Forecast,
    settings: SamplerSettings,
) -> tuple[Forecast | None, str, float, float]:
    """The previous draws reweighted to the new evidence, or None with the reason it was refused."""
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    params = forecast_parameters(previous)
    chains, draws = int(previous.horizon.sizes["chain"]), int(previous.horizon.sizes["draw"])
    D = chains * draws
    old = build_engine_data(model, arrays, previous.evidence.up_to(previous.as_of), n_periods)
    new = build_engine_data(model, arrays, evidence.up_to(as_of), n_periods)
    log_old = chain_posterior(chain_terms_for_draws(model, old, params, arrays=arrays)).log_likelihood
    chain = chain_posterior(chain_terms_for_draws(model, new, params, arrays=arrays))
    log_ratio = chain.log_likelihood - log_old

    run = EngineRun(
        "hierarchical",
        asof_periods(model, as_of),
        n_periods - 1,
        chain,
        chains,
        draws,
        parameters={
            name: np.asarray(previous.posterior[name])
            for name in PARAMETER_NAMES + ANALYST_PARAMETER_NAMES
            if name in previous.posterior
        },
        sample_stats={str(name): np.asarray(previous.sample_stats[name]) for name in previous.sample_stats},
    )
    unweighted = _assemble(model, evidence, as_of, run, settings)
    if not np.all(np.isfinite(log_ratio)):
        return None, "the new reports are impossible under some previous draws", np.inf, np.nan
    if np.ptp(log_ratio) == 0.0:
        # Nothing new to weigh: the posterior over parameters is the previous one.
        reason = "no new reports since the previous forecast: its draws are reused as they are"
        return unweighted, reason, np.nan, float(D)
    r_eff = relative_efficiency(log_ratio, chains, draws)
    weights, k = psis_weights(log_ratio, r_eff=r_eff)
    if weights is None:
        return None, "the importance ratios could not be Pareto-smoothed", k, np.nan
    ess = kish_ess(weights, r_eff=r_eff)
    if k > K_THRESHOLD:
        return None, f"Pareto k {k:.2f} > {K_THRESHOLD}: the new reports move the posterior too far", k, ess
    efficiency = min(1.0, ess / D)
    diagnostics = unweighted.diagnostics.copy()
    for name in list(diagnostics.data_vars):
        if "_ess_" in str(name):
            diagnostics[name] = diagnostics[name] * efficiency
    index = systematic_resample(weights, D, np.random.default_rng(settings.seed))

    def resample(array: xr.DataArray) -> xr.DataArray:
        return array.copy(data=_resampled(np.asarray(array.values), index))

    result = dataclasses.replace(
        unweighted,
        filtered=resample(unweighted.filtered),
        smoothed=resample(unweighted.smoothed),
        horizon=resample(unweighted.horizon),
        posterior=unweighted.posterior.map(resample),
        sample_stats=unweighted.sample_stats.map(resample),
        diagnostics=diagnostics,
        attrs=dict(unweighted.attrs),
    )
    failures = _diagnostic_failures(diagnostics)
    if failures:
        return None, f"after reweighting (Pareto k {k:.2f}): " + "; ".join(failures), k, ess
    return result, f"previous draws reweighted by PSIS (Pareto k {k:.2f} <= {K_THRESHOLD})", k, ess


def _previous_settings(previous: Forecast, seed: int | None) -> SamplerSettings:
    attrs = previous.attrs
    return SamplerSettings(
        draws=int(attrs.get("sampler_draws", previous.horizon.sizes["draw"])),
        tune=int(attrs.get("sampler_tune", 0)),
        chains=int(attrs.get("sampler_chains", previous.horizon.sizes["chain"])),
        target_accept=float(attrs.get("sampler_target_accept", 0.8)),
        seed=seed,
    )


def update(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    previous: Forecast | str | Path,
    *,
    exact: bool,
    settings: SamplerSettings,
    progress: bool = False,
) -> Forecast:
    """A forecast that reuses ``previous`` where that is sound (see the module docstring).

    Parameters
    ----------
    model, evidence, as_of
        What to forecast (``evidence`` already cut at ``as_of``).
    previous : Forecast or path
        The last forecast of the same model (a path is loaded with
        :func:`~syriaforecast.load_forecast`).
    exact : bool
        Exact mode: nothing is sampled, so nothing is reused.
    settings : SamplerSettings
        Settings of a fit; a warm refit tunes for at most :data:`WARM_TUNE` steps.
    progress : bool
        Show the sampler's progress bar.

    Returns
    -------
    Forecast
        With ``update_path``, ``update_reason``, ``update_pareto_k`` and
        ``update_ess`` in its attributes.
    """
    if not isinstance(previous, Forecast):
        if not isinstance(previous, str | Path):
            raise SyriaforecastError(
                f"previous: got {type(previous).__name__}; expected a Forecast or the path of a saved one"
            )
        previous = load_forecast(previous)
    start = time.perf_counter()
    if exact:
        run = run_engine(model, evidence, as_of, exact=True, settings=settings)
        result = _assemble(model, evidence, as_of, run, settings)
        return _record(result, "fit", "exact mode samples nothing, so there is nothing to reuse")
    why_not = _not_reusable(previous, model)
    if why_not is not None:
        return _record(_fit(model, evidence, as_of, settings, progress), "fit", why_not)

    k, ess = np.nan, np.nan
    why_not = _not_extension(previous, evidence, as_of)
    if why_not is None:
        reweighted, reason, k, ess = _reweighted(
            model, evidence, as_of, previous, _previous_settings(previous, settings.seed)
        )
        if reweighted is not None:
            reweighted.attrs["time_reweight"] = time.perf_counter() - start
            return _record(reweighted, "psis", reason, k, ess)
        why_not = reason

    params = forecast_parameters(previous)
    init_points = pack_draws(build_model_arrays(model), params)
    step = previous.sample_stats.get("step_size")
    initial_step = float(np.median(np.asarray(step)[:, -1])) if step is not None else None
    warm = dataclasses.replace(settings, tune=min(settings.tune, WARM_TUNE))
    result = _fit(model, evidence, as_of, warm, progress, init_points=init_points, initial_step=initial_step)
    return _record(result, "refit", f"refitted from the previous draws: {why_not}", k, ess)
