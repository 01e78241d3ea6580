"""Calibration study: hierarchical vs exact-elicitation vs oracle forecasts on synthetic worlds.

Each synthetic world (see :mod:`syriaforecast.studies.synthetic`) has true
likelihoods that sit off the elicited ones. Three forecasters see the same
reports up to the same as-of date, ``lead`` periods before the horizon:

``hierarchical``
    The engine's hierarchical model on the elicited model: it knows the
    elicitations are noisy (``elicitation_error``) and integrates over it.
``exact``
    Exact mode on the elicited model: the elicitations taken as true (the
    fixed Bayes net / HMM baseline).
``oracle``
    Exact mode on the oracle model: the true likelihoods, persistence, prior
    and grade informativeness. No forecaster can do better on average; its
    probability is also the target the hierarchical intervals should cover.

:func:`calibration_study` returns the forecasts as an :class:`xarray.Dataset`;
:func:`summarise_calibration` scores them (Brier, log score, ECE, interval
coverage of the oracle probability) and :func:`paired_difference` gives a paired
bootstrap interval for the difference of two methods' scores (or of their ECE).
:func:`bayes_reference` is the correctly specified forecaster (``bayes``), by
importance sampling for small designs or by Gibbs sampling for realistic ones.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from syriaforecast.engine.data import build_model_arrays
from syriaforecast.engine.hmm import forward_backward, forward_filter
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError
from syriaforecast.forecast import SAMPLE_DIMS, forecast, hdi_bounds
from syriaforecast.scoring import (
    LOG_SCORE_EPS,
    BootstrapInterval,
    brier_score,
    expected_calibration_error,
    log_score,
)
from syriaforecast.spec.evidence import RELIABILITY_GRADES
from syriaforecast.spec.model import ScenarioModel
from syriaforecast.studies.synthetic import SyntheticWorld, simulate_worlds

__all__ = [
    "METHODS",
    "bayes_reference",
    "calibration_study",
    "case_scores",
    "paired_difference",
    "summarise_calibration",
]

#: The forecasters compared, in the order of the ``forecaster`` dimension. (Not named
#: ``method``: ``DataArray.sel(method=...)`` is xarray's inexact-matching option.)
METHODS: tuple[str, ...] = ("hierarchical", "exact", "oracle")


def _as_of(model: ScenarioModel, lead: int) -> dt.date:
    """Last day of the period ``lead`` periods before the horizon's."""
    return (model.first_period + (model.horizon_index - lead)).end_time.date()


def _check_lead(model: ScenarioModel, lead: int) -> int:
    T = model.horizon_index + 1
    if isinstance(lead, bool) or not isinstance(lead, int | np.integer) or not 0 <= lead < T:
        raise SyriaforecastError(
            f"lead: got {lead!r}; expected a whole number of periods from 0 to {T - 1} "
            "between the as-of period and the horizon's"
        )
    return int(lead)


def _study_worlds(
    base: ScenarioModel,
    worlds: Sequence[SyntheticWorld] | None,
    *,
    n_worlds: int,
    seed: int,
    lead: int,
    **simulate: Any,
) -> list[SyntheticWorld]:
    """The given worlds, or ``n_worlds`` simulated from ``base`` with evidence up to ``lead``."""
    if worlds is None:
        worlds = simulate_worlds(
            base, n_worlds, seed=seed, n_observed_periods=base.horizon_index + 1 - lead, **simulate
        )
    worlds = list(worlds)
    if not worlds:
        raise SyriaforecastError("n_worlds: got 0; expected at least one world")
    return worlds


def _check_world(base: ScenarioModel, world: SyntheticWorld, w: int) -> None:
    if world.model.scenario_ids != base.scenario_ids or world.path.shape != (base.horizon_index + 1,):
        raise SyriaforecastError(
            f"worlds[{w}]: built from model {world.model.id!r}; expected worlds of {base.id!r}"
        )


def _sample_quietly(
    model: ScenarioModel, evidence: Any, as_of: dt.date, *, draws: int, tune: int, chains: int, seed: int
) -> Any:
    """A hierarchical forecast; small draws miss the ESS threshold by design, so no warning."""
    with warnings.catch_warnings():
        # Convergence is recorded per world by the caller.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return forecast(model, evidence, as_of, draws=draws, tune=tune, chains=chains, seed=seed, exact=False)


def _report_cells(world: SyntheticWorld, as_of: dt.date) -> dict[tuple[int, int], np.ndarray]:
    """Per cell (period, indicator): ``[P(reports | x = 0), P(reports | x = 1)]`` of a binary model."""
    model = world.model
    params = world.parameters
    table = world.evidence.up_to(as_of).to_dataframe()
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    rel = np.append(params["source_reliability"], 1.0)
    cred = np.append(params["information_credibility"], 1.0)
    cells: dict[tuple[int, int], np.ndarray] = {}
    for period, ident, state, r, c in zip(
        table["period"],
        table["indicator"],
        table["state"],
        table["reliability"],
        table["credibility"],
        strict=True,
    ):
        kappa = rel[RELIABILITY_GRADES.index(r) if r else 6] * cred[int(c) - 1 if c else 6]
        reading = np.array([kappa * (state == 0) + (1 - kappa) / 2, kappa * (state == 1) + (1 - kappa) / 2])
        key = (int(period), index[ident])
        cells[key] = cells.get(key, np.ones(2)) * reading
    return cells


def _gibbs_reference(
    elicited: np.ndarray,
    scale: np.ndarray,
    cells: dict[tuple[int, int], np.ndarray],
    log_initial: np.ndarray,
    log_transition: np.ndarray,
    n_periods: int,
    *,
    n_draws: int,
    chains: int,
    burn: int,
    rng: np.random.Generator,
    grid: int = 161,
) -> tuple[np.ndarray, float]:
    """Gibbs sampler of the correctly specified model: path | errors, then errors | path.

    Given the path, the error of (indicator ``i``, scenario ``s``) only meets
    the reports of ``i`` in the periods spent in ``s``, so each error's full
    conditional is one-dimensional and is sampled on a grid of ``grid`` points
    over [-6, 6] standard deviations (then jittered within its grid cell). The
    path is drawn by forward filtering, backward sampling. The horizon forecast
    is Rao-Blackwellised: the filtered horizon probability given each draw of
    the errors, averaged.
    """
    I, S = elicited.shape
    T = n_periods
    C = int(chains)
    iters = max(1, -(-int(n_draws) // C))
    keys = list(cells)
    L = len(keys)
    t_of = np.array([k[0] for k in keys], dtype=np.int64)
    i_of = np.array([k[1] for k in keys], dtype=np.int64)
    R = np.array([cells[k] for k in keys]).reshape(L, 2)
    g = np.linspace(-6.0, 6.0, grid)
    step = g[1] - g[0]

    # (L, S, G): log P(cell's reports | its indicator's error at grid point g, scenario s)
    p_grid = 1.0 / (1.0 + np.exp(-(elicited[i_of][:, :, None] + scale[i_of][:, :, None] * g)))
    V = np.log(p_grid * R[:, None, None, 1] + (1 - p_grid) * R[:, None, None, 0])
    eta = rng.standard_normal((C, I, S)) * 0.5
    horizon = np.empty((iters, C, S))
    for it in range(burn + iters):
        p = 1.0 / (1.0 + np.exp(-(elicited + scale * eta)))  # (C, I, S)
        log_emission = np.zeros((C, T, S))
        if L:
            lc = np.log(p[:, i_of, :] * R[None, :, None, 1] + (1 - p[:, i_of, :]) * R[None, :, None, 0])
            # Periods repeat (several indicators a period): add.at sums them (a view, by period).
            np.add.at(log_emission.transpose(1, 0, 2), t_of, lc.transpose(1, 0, 2))
        log_filtered = np.empty((C, T, S))
        messages = forward_filter(log_initial[None], log_transition[None], log_emission)
        for t, (message, _) in enumerate(messages):
            log_filtered[:, t] = message
        if it >= burn:
            horizon[it - burn] = np.exp(log_filtered[:, -1])
        if not L:
            eta = rng.standard_normal((C, I, S))
            continue
        path = np.empty((C, T), dtype=np.int64)
        u = rng.random((C, T))
        prob = np.exp(log_filtered[:, -1])
        path[:, -1] = np.minimum((u[:, -1, None] > np.cumsum(prob, axis=1)).sum(axis=1), S - 1)
        for t in range(T - 2, -1, -1):
            lw = log_filtered[:, t] + log_transition[:, path[:, t + 1]].T
            prob = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
            path[:, t] = np.minimum((u[:, t, None] > np.cumsum(prob, axis=1)).sum(axis=1), S - 1)
        # Sum each cell's grid log likelihood into its (indicator, scenario in that period).
        scenario_at = path[:, t_of]  # (C, L)
        log_post = np.zeros((C, I * S, grid))
        np.add.at(
            log_post,
            (np.repeat(np.arange(C), L), (i_of * S + scenario_at).reshape(-1)),
            V[np.arange(L), scenario_at].reshape(C * L, grid),
        )
        log_post = log_post.reshape(C, I, S, grid) - 0.5 * g**2
        cdf = np.cumsum(np.exp(log_post - log_post.max(axis=-1, keepdims=True)), axis=-1)
        k = (rng.random((C, I, S, 1)) * cdf[..., -1:] > cdf).sum(axis=-1)
        eta = g[np.minimum(k, grid - 1)] + step * (rng.random((C, I, S)) - 0.5)
    chain_means = horizon.mean(axis=0)  # (C, S)
    between = chain_means.var(axis=0, ddof=1) if C > 1 else np.zeros(S)
    total = horizon.reshape(-1, S).var(axis=0)
    ok = between > 0
    ess = float(np.min(C * total[ok] / between[ok])) if ok.any() else float(C * iters)
    return horizon.mean(axis=(0, 1)), min(ess, float(C * iters))


def bayes_reference(
    world: SyntheticWorld,
    as_of: dt.date,
    *,
    n_draws: int = 20000,
    seed: int = 0,
    method: str = "importance",
    chains: int = 16,
    burn: int = 100,
) -> tuple[np.ndarray, float]:
    """The best forecast possible without knowing the true likelihoods (binary indicators only).

    The correctly specified Bayesian forecaster knows everything the
    simulation fixed (prior, persistence, grade informativeness and the scale
    of the elicitation error) but not the errors themselves: it averages the
    horizon forecast over ``eta ~ Normal(0, 1)`` per (indicator, scenario),
    weighted by the likelihood of the evidence. On average no forecaster
    without the true likelihoods scores better, so its gap to exact mode is
    the most the hierarchical model can gain, and its gap to the oracle is the
    price of not knowing the truth.

    Parameters
    ----------
    world : SyntheticWorld
        A world of a model whose indicators are all binary.
    as_of : datetime.date
        Reports dated after it are ignored.
    n_draws : int
        Draws of the elicitation errors: importance-sampling draws from the
        prior (``method="importance"``), or retained Gibbs draws over all
        chains (``method="gibbs"``; a few thousand suffice).
    seed : int
        Seed of the draws.
    method : {"importance", "gibbs"}
        ``"importance"`` samples the errors from their prior and weights each
        draw by the likelihood of the evidence: exact in the limit and fast,
        but its effective sample size collapses once there are more than about
        ten indicators or a year of reports (the posterior of a hundred errors
        is far narrower than their prior). ``"gibbs"`` alternates the scenario
        path given the errors (forward filtering, backward sampling) and each
        error given the path (a one-dimensional full conditional, sampled on a
        fine grid); use it for realistic designs.
    chains, burn : int
        Parallel Gibbs chains and the iterations each discards first
        (``method="gibbs"`` only).

    Returns
    -------
    (probability, ess)
        Horizon scenario probabilities (S,) and the effective sample size
        (importance sampling's, or for Gibbs the batch-means estimate from the
        spread of the chains' means, the smallest over scenarios). Small values
        mean an unreliable estimate.
    """
    model = world.model
    if any(ind.type != "binary" for ind in model.indicators):
        raise SyriaforecastError(
            f"world: model {model.id!r} has non-binary indicators; bayes_reference handles "
            "binary indicators only"
        )
    if method not in ("importance", "gibbs"):
        raise SyriaforecastError(f"method: got {method!r}; expected 'importance' or 'gibbs'")
    params = world.parameters
    arrays = build_model_arrays(model)
    S, T = arrays.n_scenarios, model.horizon_index + 1
    rng = np.random.default_rng(seed)
    scale = np.sqrt(params["elicitation_sigma"][arrays.group_of][:, None] ** 2 + arrays.band_sd**2)
    elicited = -arrays.cutpoints[:, :, 0]  # logit P(seen | s)
    cells = _report_cells(world, as_of)
    persistence = np.asarray(params["persistence"], dtype=float)
    transition = np.where(
        np.eye(S, dtype=bool), persistence[:, None], ((1 - persistence) / max(S - 1, 1))[:, None]
    )
    if method == "gibbs":
        return _gibbs_reference(
            elicited,
            np.broadcast_to(scale, elicited.shape),
            cells,
            np.log(params["initial_probability"]),
            np.log(transition),
            T,
            n_draws=n_draws,
            chains=chains,
            burn=burn,
            rng=rng,
        )
    # One error per (indicator, scenario), shared by every period: the truth does not drift.
    true_logit = elicited + scale * rng.standard_normal((n_draws, *elicited.shape))
    log_emission = np.zeros((n_draws, T, S))
    for (period, i), reading in cells.items():
        p_seen = 1.0 / (1.0 + np.exp(-true_logit[:, i]))
        log_emission[:, period] += np.log(p_seen * reading[1] + (1 - p_seen) * reading[0])
    chain = forward_backward(
        np.broadcast_to(np.log(params["initial_probability"]), (n_draws, S)),
        np.broadcast_to(np.log(transition), (n_draws, S, S)),
        log_emission,
    )
    weights = np.exp(chain.log_likelihood - chain.log_likelihood.max())
    weights /= weights.sum()
    return weights @ chain.filtered[:, -1, :], float(1.0 / np.sum(weights**2))


def calibration_study(
    base: ScenarioModel,
    *,
    n_worlds: int,
    seed: int,
    elicitation_noise: float = 1.0,
    report_rate: float = 0.9,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    lead: int = 1,
    draws: int = 200,
    tune: int = 200,
    chains: int = 2,
    prob: float = 0.9,
    bayes_draws: int = 0,
    bayes_method: str = "importance",
    worlds: Sequence[SyntheticWorld] | None = None,
) -> xr.Dataset:
    """Forecast the horizon of synthetic worlds with each method.

    Parameters
    ----------
    base : ScenarioModel
        The elicited model the worlds are built from (its ``elicitation_error``
        is the hierarchical model's prior scale of the elicitation error).
    n_worlds : int
        Number of worlds.
    seed : int
        Master seed for the worlds and the samplers.
    elicitation_noise, report_rate, grades
        Passed to :func:`~syriaforecast.studies.synthetic.simulate_world`.
    lead : int
        Periods between the as-of period (the last with reports) and the
        horizon's: the horizon is forecast, not observed. The defaults (one
        period ahead, 90% of indicators reported) keep forecasts away from
        both the prior and certainty; at longer leads the forecasts mostly
        reflect persistence and all methods draw together.
    draws, tune, chains : int
        Sampler settings of the hierarchical forecasts (small: one compiled
        sampler serves every world, each then takes about a second).
    prob : float
        Mass of the highest-density intervals.
    bayes_draws : int
        When positive, add the ``bayes`` forecaster (:func:`bayes_reference`
        with this many draws; binary indicators only): the best forecast
        possible without the true likelihoods.
    bayes_method : {"importance", "gibbs"}
        How :func:`bayes_reference` integrates over the elicitation errors.
        Importance sampling collapses (``bayes_ess`` of a few) beyond about ten
        indicators or a year of reports; use ``"gibbs"`` there (then a few
        thousand ``bayes_draws`` suffice, about 2-4 s per world for 33
        indicators over 24 months).
    worlds : sequence of SyntheticWorld, optional
        Use these worlds instead of simulating ``n_worlds`` (``base``'s
        structure; their evidence after the as-of date is ignored).

    Returns
    -------
    xarray.Dataset
        Dimensions ``world``, ``forecaster`` (:data:`METHODS`), ``scenario`` and
        ``time`` (periods up to the as-of). Variables: ``probability`` (world,
        forecaster, scenario) horizon forecasts (the posterior mean for
        hierarchical); ``outcome`` (world) index of the true horizon scenario;
        ``oracle_probability`` (world, scenario); ``hdi_low`` / ``hdi_high``
        (world, scenario) hierarchical highest-density intervals of the horizon
        probability (the intervals forecasts report) and ``eti_low`` /
        ``eti_high`` the equal-tailed ones;
        ``smoothed`` (world, forecaster, time, scenario) and ``smoothed_hdi_low`` /
        ``smoothed_hdi_high`` (world, time, scenario) for the periods up to the
        as-of; ``path`` (world, time) true scenario index; ``seed``,
        ``n_reports``, ``divergences``, ``converged`` and ``seconds`` (world).
        Attributes record the settings.
    """
    lead = _check_lead(base, lead)
    if bayes_method not in ("importance", "gibbs"):
        raise SyriaforecastError(f"bayes_method: got {bayes_method!r}; expected 'importance' or 'gibbs'")
    T = base.horizon_index + 1
    worlds = _study_worlds(
        base,
        worlds,
        n_worlds=n_worlds,
        seed=seed,
        lead=lead,
        elicitation_noise=elicitation_noise,
        report_rate=report_rate,
        grades=grades,
    )
    as_of = _as_of(base, lead)
    n_time = T - lead
    S = len(base.scenarios)
    methods = METHODS + (("bayes",) if bayes_draws > 0 else ())
    W, M = len(worlds), len(methods)
    probability = np.empty((W, M, S))
    smoothed = np.empty((W, M, n_time, S))
    hdi = np.empty((2, W, S))
    eti = np.empty((2, W, S))
    smoothed_hdi = np.empty((2, W, n_time, S))
    outcome = np.empty(W, dtype=np.int64)
    path = np.empty((W, n_time), dtype=np.int64)
    seeds = np.empty(W, dtype=np.int64)
    n_reports = np.empty(W, dtype=np.int64)
    divergences = np.empty(W, dtype=np.int64)
    converged = np.empty(W, dtype=bool)
    seconds = np.empty(W)
    bayes_ess = np.full(W, np.nan)
    sampler_seeds = np.random.SeedSequence(int(seed)).generate_state(W, dtype=np.uint32)
    for w, world in enumerate(worlds):
        _check_world(base, world, w)
        start = time.perf_counter()
        evidence = world.evidence.up_to(as_of)
        hier = _sample_quietly(
            base, evidence, as_of, draws=draws, tune=tune, chains=chains, seed=int(sampler_seeds[w])
        )
        runs = (
            hier,
            forecast(base, evidence, as_of, exact=True),
            forecast(world.oracle, evidence, as_of, exact=True),
        )
        for m, run in enumerate(runs):
            probability[w, m] = run.horizon.mean(SAMPLE_DIMS).values
            smoothed[w, m] = run.smoothed.mean(SAMPLE_DIMS).values
        if bayes_draws > 0:
            probability[w, -1], bayes_ess[w] = bayes_reference(
                world, as_of, n_draws=bayes_draws, seed=int(sampler_seeds[w]), method=bayes_method
            )
            smoothed[w, -1] = np.nan  # the reference forecasts the horizon only
        low, high = hdi_bounds(hier.horizon, prob=prob)
        hdi[:, w] = low.values, high.values
        draws_flat = hier.horizon.values.reshape(-1, S)
        eti[:, w] = np.quantile(draws_flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        low, high = hdi_bounds(hier.smoothed, prob=prob)
        smoothed_hdi[:, w] = (
            low.transpose("time", "scenario").values,
            high.transpose("time", "scenario").values,
        )
        outcome[w] = world.path[-1]
        path[w] = world.path[:n_time]
        seeds[w] = world.seed
        n_reports[w] = len(evidence)
        divergences[w] = int(hier.diagnostics.attrs.get("divergences", 0))
        converged[w] = hier.converged
        seconds[w] = time.perf_counter() - start
    coords = {
        "world": np.arange(W),
        "forecaster": list(methods),
        "scenario": list(base.scenario_ids),
        "time": base.period_labels(n_time),
    }
    return xr.Dataset(
        {
            "probability": (("world", "forecaster", "scenario"), probability),
            "outcome": ("world", outcome),
            "oracle_probability": (("world", "scenario"), probability[:, METHODS.index("oracle")]),
            "hdi_low": (("world", "scenario"), hdi[0]),
            "hdi_high": (("world", "scenario"), hdi[1]),
            "eti_low": (("world", "scenario"), eti[0]),
            "eti_high": (("world", "scenario"), eti[1]),
            "smoothed": (("world", "forecaster", "time", "scenario"), smoothed),
            "smoothed_hdi_low": (("world", "time", "scenario"), smoothed_hdi[0]),
            "smoothed_hdi_high": (("world", "time", "scenario"), smoothed_hdi[1]),
            "path": (("world", "time"), path),
            "seed": ("world", seeds),
            "n_reports": ("world", n_reports),
            "divergences": ("world", divergences),
            "converged": ("world", converged),
            "seconds": ("world", seconds),
            "bayes_ess": ("world", bayes_ess),
        },
        coords=coords,
        attrs={
            **_study_attrs(
                base, worlds, report_rate=report_rate, lead=lead, as_of=as_of,
                draws=draws, tune=tune, chains=chains, prob=prob, seed=seed,
            ),
            "bayes_draws": bayes_draws,
            "bayes_method": bayes_method if bayes_draws > 0 else "",
        },
    )


def _study_attrs(
    base: ScenarioModel,
    worlds: Sequence[SyntheticWorld],
    *,
    report_rate: float,
    lead: int,
    as_of: dt.date,
    draws: int,
    tune: int,
    chains: int,
    prob: float,
    seed: int,
) -> dict[str, Any]:
    """The settings a synthetic-world study records in its attributes (netCDF-safe)."""
    parameters = worlds[0].parameters
    noise = float(parameters.get("elicitation_sigma", [np.nan])[0]) if parameters else np.nan
    return {
        "model_id": base.id,
        "elicitation_error": base.elicitation_error,
        "elicitation_noise": noise,
        "report_rate": report_rate,
        "lead": lead,
        "as_of": as_of.isoformat(),
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "prob": prob,
        "seed": seed,
    }


def case_scores(ds: xr.Dataset) -> xr.Dataset:
    """Per-world scores of each method (their means over worlds are the study's scores).

    Besides the scores against the realised outcome, each world's *expected*
    score given its evidence and true parameters is known exactly: the horizon
    scenario is distributed as the oracle's probabilities ``q``. So
    ``expected_brier = sum_k (p_k - q_k)^2 + 1 - sum_k q_k^2`` and
    ``expected_log_score = -sum_k q_k log p_k`` have the same expectation over
    worlds as ``brier`` and ``log_score`` (the outcome's noise averaged out
    exactly, a Rao-Blackwellisation), with much less variance.

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`calibration_study` result.

    Returns
    -------
    xarray.Dataset
        ``brier``, ``log_score``, ``expected_brier`` and ``expected_log_score``
        with dimensions (world, forecaster).
    """
    p = ds["probability"]
    q = ds["oracle_probability"]
    onehot = xr.DataArray(
        np.eye(ds.sizes["scenario"])[ds["outcome"].values],
        dims=("world", "scenario"),
        coords={"world": ds["world"], "scenario": ds["scenario"]},
    )
    log_p = xr.apply_ufunc(np.log, p.clip(min=LOG_SCORE_EPS))
    return xr.Dataset(
        {
            "brier": ((p - onehot) ** 2).sum("scenario"),
            "log_score": -(log_p * onehot).sum("scenario"),
            "expected_brier": ((p - q) ** 2).sum("scenario") + 1.0 - (q**2).sum("scenario"),
            "expected_log_score": -(q * log_p).sum("scenario"),
        }
    )


def paired_difference(
    ds: xr.Dataset,
    *,
    score: str = "brier",
    method: str = "hierarchical",
    reference: str = "exact",
    n_boot: int = 2000,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = 0,
    bins: int = 10,
) -> BootstrapInterval:
    """Mean score of ``method`` minus ``reference`` over the same worlds, with a bootstrap interval.

    Worlds are resampled with replacement and both methods keep the same
    worlds, so the interval reflects the paired difference (negative = ``method``
    better, scores being negatively oriented).

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`calibration_study` result.
    score : {"brier", "log_score", "expected_brier", "expected_log_score", "ece"}
        The score (see :func:`case_scores`). ``"ece"`` is the classwise expected
        calibration error against the outcomes, which is not a mean over worlds:
        each replicate recomputes both methods' ECE on the resampled worlds.
    method, reference : str
        Methods compared (see :data:`METHODS`).
    n_boot : int
        Bootstrap replicates.
    ci : float
        Interval mass.
    rng : int or numpy.random.Generator, optional
        Seed or generator for resampling.
    bins : int
        Bins of the expected calibration error (``score="ece"`` only).

    Returns
    -------
    BootstrapInterval
    """
    scores = case_scores(ds)
    if score not in scores and score != "ece":
        raise SyriaforecastError(f"score: got {score!r}; expected one of {[*scores.data_vars, 'ece']}")
    for name, value in (("method", method), ("reference", reference)):
        if value not in ds["forecaster"].values:
            raise SyriaforecastError(f"{name}: got {value!r}; expected one of {list(METHODS)}")
    if not 0 < ci < 1:
        raise SyriaforecastError(f"ci: got {ci!r}; expected a probability in (0, 1)")
    generator = np.random.default_rng(rng)
    W = ds.sizes["world"]
    idx = generator.integers(0, W, size=(int(n_boot), W))
    if score == "ece":
        y = ds["outcome"].values
        p_m = ds["probability"].sel(forecaster=method).values
        p_r = ds["probability"].sel(forecaster=reference).values

        def ece_gap(rows: np.ndarray) -> float:
            return expected_calibration_error(p_m[rows], y[rows], bins=bins) - (
                expected_calibration_error(p_r[rows], y[rows], bins=bins)
            )

        estimate = ece_gap(np.arange(W))
        reps = np.array([ece_gap(rows) for rows in idx])
    else:
        diff = (scores[score].sel(forecaster=method) - scores[score].sel(forecaster=reference)).values
        estimate = float(diff.mean())
        reps = diff[idx].mean(axis=1)
    low, high = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2])
    return BootstrapInterval(float(estimate), float(low), float(high))


def summarise_calibration(ds: xr.Dataset, *, bins: int = 10) -> pd.DataFrame:
    """Score each method of a calibration study.

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`calibration_study` result.
    bins : int
        Bins of the expected calibration error.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``brier``, ``log_score`` and ``ece`` (classwise)
        against the outcomes; ``expected_brier`` and ``expected_log_score``
        against the oracle's probabilities (see :func:`case_scores`);
        ``log_score_ratio`` (log score over the exact method's) and
        ``expected_log_score_ratio`` / ``expected_brier_ratio`` (the same for
        the expected scores: the share of exact mode's score a method keeps);
        ``overconfidence`` (mean of the top probability minus the oracle's
        probability of that scenario: 0 when calibrated, positive when
        overconfident); ``coverage`` and ``coverage_eti`` (share of world x
        scenario oracle horizon probabilities inside the method's 90%
        highest-density / equal-tailed interval; NaN for point forecasts);
        ``smoothed_coverage`` (the same, HDI, for every period up to the
        as-of); ``path_agreement`` (share of periods up to the as-of whose
        highest smoothed probability is the true scenario) and ``n_worlds``.
    """
    y = ds["outcome"].values
    exact_log = log_score(ds["probability"].sel(forecaster="exact").values, y)
    oracle = ds["oracle_probability"]
    oracle_smoothed = ds["smoothed"].sel(forecaster="oracle")
    scores = case_scores(ds).mean("world")
    rows: dict[str, dict[str, Any]] = {}
    for method in ds["forecaster"].values:
        p = ds["probability"].sel(forecaster=method)
        logs = log_score(p.values, y)
        top = p.argmax("scenario")
        row: dict[str, Any] = {
            "brier": brier_score(p.values, y),
            "log_score": logs,
            "ece": expected_calibration_error(p.values, y, bins=bins),
            "expected_brier": float(scores["expected_brier"].sel(forecaster=method)),
            "expected_log_score": float(scores["expected_log_score"].sel(forecaster=method)),
            "log_score_ratio": logs / exact_log,
            "expected_log_score_ratio": float(scores["expected_log_score"].sel(forecaster=method))
            / float(scores["expected_log_score"].sel(forecaster="exact")),
            "expected_brier_ratio": float(scores["expected_brier"].sel(forecaster=method))
            / float(scores["expected_brier"].sel(forecaster="exact")),
            "overconfidence": float((p.max("scenario") - oracle.isel(scenario=top)).mean()),
            "coverage": np.nan,
            "coverage_eti": np.nan,
            "smoothed_coverage": np.nan,
        }
        if method == "hierarchical":
            inside = (ds["hdi_low"] <= oracle) & (oracle <= ds["hdi_high"])
            row["coverage"] = float(inside.mean())
            if "eti_low" in ds:
                inside = (ds["eti_low"] <= oracle) & (oracle <= ds["eti_high"])
                row["coverage_eti"] = float(inside.mean())
            inside = (ds["smoothed_hdi_low"] <= oracle_smoothed) & (
                oracle_smoothed <= ds["smoothed_hdi_high"]
            )
            row["smoothed_coverage"] = float(inside.mean())
        smoothed = ds["smoothed"].sel(forecaster=method)
        if bool(smoothed.notnull().all()):
            row["path_agreement"] = float((smoothed.argmax("scenario") == ds["path"]).mean())
        else:
            row["path_agreement"] = np.nan
        row["n_worlds"] = int(ds.sizes["world"])
        rows[str(method)] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "method"
    return frame
