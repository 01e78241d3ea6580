"""Replay resolved cases at a series of cutoffs, forecast their horizons, and score them.

No look-ahead, by construction
------------------------------
At every cutoff the engine sees ``case.evidence.up_to(cutoff)`` and nothing
else: the sampler is run with ``as_of=cutoff`` on those reports, and importance
weights are computed from them alone. Reports dated after a cutoff therefore
cannot change that cutoff's forecast (``tests/test_backtest.py`` proves it with a
contradictory late report).

Efficient replay (PSIS)
-----------------------
Between cutoffs the posterior changes only through the reports added since the
last fit. With posterior draws ``theta_d`` of a fit on the evidence ``E_f`` up
to cutoff ``f``, the posterior given the evidence ``E_c`` up to a later cutoff
``c`` is the same prior times a different likelihood, so

    w_d  ∝  p(E_c | theta_d) / p(E_f | theta_d)

re-weights the old draws to the new posterior, where ``p(E | theta)`` is the
chain's marginal likelihood (the latent scenario path summed out by the
forward algorithm). The ratios are Pareto-smoothed (PSIS; Vehtari et al. 2024)
and the Pareto ``k`` of their tail decides: ``k <= k_threshold`` (0.7) and the
forecast at ``c`` is the self-normalised weighted mean of each draw's horizon
probabilities given ``E_c``; otherwise the model is refitted at ``c``, and later
cutoffs are weighted against that fit. This is the PSIS leave-future-out scheme
of Bürkner, Gabry and Vehtari (2020), run forward over the cutoffs.

Seeds
-----
Every sampler run has its own seed, drawn from
``numpy.random.SeedSequence([seed, sha256(case id), cutoff date ordinal])``.
It depends only on the backtest seed, the case and the cutoff date, never on
which worker runs the case or in what order, so a backtest gives the same
numbers, bit for bit, on any executor, and a fit at a given cutoff is the same
fit whether it was the first one or a refit.

References
----------
Bürkner, P.-C., Gabry, J. and Vehtari, A. (2020). Approximate leave-future-out
cross-validation for Bayesian time series models. *Journal of Statistical
Computation and Simulation*, 90(14), 2499-2523.

Vehtari, A., Simpson, D., Gelman, A., Yao, Y. and Gabry, J. (2024). Pareto
smoothed importance sampling. *Journal of Machine Learning Research*, 25(72).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from syriaforecast.backtest.cases import Case, collect_cases
from syriaforecast.engine.psis import K_THRESHOLD, psis_weights, relative_efficiency
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError

__all__ = [
    "CaseTask",
    "ReplaySettings",
    "backtest",
    "cutoff_seed",
    "overall_scores",
    "reliability",
    "replay_case",
    "score_table",
    "scores_by_lead",
]

METHODS = ("hierarchical", "exact")

# The engine's compiled samplers and caches are per process and not designed for
# concurrent use, so threads of one process (a Dask worker with several threads)
# take turns; parallelism comes from processes.
_ENGINE_LOCK = threading.RLock()


# --------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class ReplaySettings:
    """How each case is replayed (the same for every case of a backtest)."""

    method: str = "hierarchical"
    draws: int | None = None
    tune: int | None = None
    chains: int = 4
    target_accept: float = 0.9
    seed: int = 0
    reweight: bool = True
    k_threshold: float = K_THRESHOLD


@dataclass(frozen=True)
class CaseTask:
    """One case's work, as plain text and numbers so that it travels to any worker.

    The model and evidence are sent as their TOML and CSV text and parsed again
    by the worker (a :class:`~syriaforecast.ScenarioModel` does not pickle); the
    serial executor takes the same route, so every executor computes on
    identical inputs.
    """

    case_id: str
    model_toml: str
    evidence_csv: str
    cutoffs: tuple[dt.date, ...]  # chronological
    settings: ReplaySettings


@dataclass
class CaseReplay:
    """What a worker returns for one case (arrays over its cutoffs)."""

    case_id: str
    cutoffs: tuple[dt.date, ...]
    forecast: np.ndarray  # (K, S) horizon probabilities
    mcse: np.ndarray  # (K, S) Monte Carlo standard error of ``forecast``
    fitted: np.ndarray  # (K,) bool: the sampler ran at this cutoff
    pareto_k: np.ndarray  # (K,) PSIS k (at a refit: the k that forced it; NaN: first fit, nothing new)
    ess: np.ndarray  # (K,) effective sample size behind the forecast
    converged: np.ndarray  # (K,) bool: the fit behind the forecast passed its diagnostics
    reports: np.ndarray  # (K,) reports dated on or before the cutoff
    sampler_seed: np.ndarray  # (K,) seed of the fit run at this cutoff (-1 if none)
    prior_forecast: np.ndarray  # (S,) exact-mode horizon forecast from no evidence
    # Several analysts (hierarchical mode): each analyst's noise posterior given the case's
    # evidence at its last cutoff (track_record.noise_posterior), and the prior scale it had.
    analysts: tuple[str, ...] = ()
    noise_posterior: dict[str, np.ndarray] = field(default_factory=dict)  # each (A,)
    noise_prior_scale: float = math.nan
    timings: dict[str, float] = field(default_factory=dict)
    sampler: dict[str, int] = field(default_factory=dict)  # draws and tune the fits used
    exact: bool = False  # every cutoff computed in exact mode (no sampler run)


def cutoff_seed(seed: int, case_id: str, cutoff: dt.date) -> int:
    """The sampler seed for ``case_id`` at ``cutoff``; independent of scheduling.

    Parameters
    ----------
    seed : int
        The backtest's seed (a non-negative integer).
    case_id : str
        The case.
    cutoff : datetime.date
        The cutoff date.

    Returns
    -------
    int
        A seed in ``[0, 2**31)``.
    """
    case_key = int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "little")
    sequence = np.random.SeedSequence([int(seed), case_key, cutoff.toordinal()])
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> 1)


@dataclass
class _Fit:
    params: dict[str, np.ndarray]
    log_likelihood: np.ndarray  # (D,) log p(evidence at the fit | theta_d)
    chains: int
    draws: int
    converged: bool
    tune: int


def _mcse_and_ess(horizon: np.ndarray) -> tuple[np.ndarray, float]:
    """MCSE of the mean per scenario and the smallest bulk ESS, for (chain, draw, S) draws."""
    import arviz_stats

    values = xr.DataArray(horizon, dims=("chain", "draw", "scenario"))
    spread = np.ptp(horizon.reshape(-1, horizon.shape[-1]), axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # A probability fixed at one value has no Monte Carlo error; arviz warns there.
        warnings.simplefilter("ignore", RuntimeWarning)
        mcse = np.asarray(arviz_stats.mcse(values, sample_dims=["chain", "draw"]))
        ess = np.asarray(arviz_stats.ess(values, sample_dims=["chain", "draw"]))
    mcse = np.where(spread > 1e-12, mcse, 0.0)
    ess_min = float(np.nanmin(np.where(spread > 1e-12, ess, np.nan))) if (spread > 1e-12).any() else math.nan
    return mcse, ess_min


def _fit(
    model: Any, arrays: Any, evidence: Any, cutoff: dt.date, settings: ReplaySettings, seed: int
) -> tuple[_Fit, np.ndarray]:
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.forecast import forecast, forecast_parameters

    with warnings.catch_warnings():
        # The verdict is kept per fit (``converged``) and summarised once by backtest().
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = forecast(
            model,
            evidence,
            as_of=cutoff,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=seed,
            exact=False,
            target_accept=settings.target_accept,
        )
    params = forecast_parameters(result)
    terms = chain_terms_for_draws(model, evidence, params, arrays=arrays)
    log_likelihood = chain_posterior(terms).log_likelihood
    fit = _Fit(
        params,
        log_likelihood,
        int(result.horizon.sizes["chain"]),
        int(result.horizon.sizes["draw"]),
        bool(result.converged),
        int(result.attrs.get("sampler_tune", -1)),
    )
    return fit, np.asarray(result.horizon.values)


def _parse_task_inputs(task: CaseTask) -> tuple[Any, Any]:
    from syriaforecast.spec.evidence import load_evidence
    from syriaforecast.spec.model import parse_model

    model = parse_model(task.model_toml, source=f"<case {task.case_id}: model.toml>")
    frame = pd.read_csv(io.StringIO(task.evidence_csv), dtype=str, keep_default_na=False)
    evidence = load_evidence(frame, model)
    return model, evidence


def replay_case(task: CaseTask) -> CaseReplay:
    """Replay one case over its cutoffs (runs in a worker).

    Parameters
    ----------
    task : CaseTask
        The case, its cutoffs in chronological order and the settings.

    Returns
    -------
    CaseReplay
    """
    with _ENGINE_LOCK:
        return _replay_case(task)


def _replay_case(task: CaseTask) -> CaseReplay:
    from syriaforecast.engine.data import build_model_arrays
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.forecast import forecast

    started = time.perf_counter()
    settings = task.settings
    model, evidence = _parse_task_inputs(task)
    arrays = build_model_arrays(model)
    K, S = len(task.cutoffs), len(model.scenarios)
    out = CaseReplay(
        task.case_id,
        task.cutoffs,
        forecast=np.full((K, S), np.nan),
        mcse=np.zeros((K, S)),
        fitted=np.zeros(K, dtype=bool),
        pareto_k=np.full(K, np.nan),
        ess=np.full(K, np.nan),
        converged=np.ones(K, dtype=bool),
        reports=np.zeros(K, dtype=np.int64),
        sampler_seed=np.full(K, -1, dtype=np.int64),
        prior_forecast=np.asarray(forecast(model, None, exact=True).horizon.values[0, 0]),
    )
    # A model with elicitation_error = 0 is exact: there is nothing to sample (as in forecast()).
    out.exact = settings.method == "exact" or model.elicitation_error == 0
    fit_seconds = weight_seconds = 0.0
    fit: _Fit | None = None
    # Importance weights of the fit's draws behind the latest forecast (None: equal weights).
    latest_weights: np.ndarray | None = None
    for j, cutoff in enumerate(task.cutoffs):
        # The only evidence this cutoff ever sees.
        seen = evidence.up_to(cutoff)
        out.reports[j] = len(seen)
        if out.exact:  # computed, not fitted: ``fitted`` stays False
            result = forecast(model, seen, as_of=cutoff, exact=True)
            out.forecast[j] = result.horizon.values[0, 0]
            continue
        if fit is not None and settings.reweight:
            tick = time.perf_counter()
            terms = chain_terms_for_draws(model, seen, fit.params, arrays=arrays)
            chain = chain_posterior(terms)
            horizon = chain.filtered[:, -1, :]
            log_ratio = chain.log_likelihood - fit.log_likelihood
            weight_seconds += time.perf_counter() - tick
            if np.ptp(log_ratio) == 0.0:
                # No new report: the posterior over parameters is the fit's own.
                out.forecast[j] = horizon.mean(axis=0)
                out.mcse[j], out.ess[j] = _mcse_and_ess(horizon.reshape(fit.chains, fit.draws, S))
                out.converged[j] = fit.converged
                latest_weights = None
                continue
            r_eff = relative_efficiency(log_ratio, fit.chains, fit.draws)
            weights, k = psis_weights(log_ratio, r_eff=r_eff)
            out.pareto_k[j] = k
            if weights is not None and k <= settings.k_threshold:
                mean = weights @ horizon
                out.forecast[j] = mean
                # Self-normalised importance sampling error, inflated for autocorrelated draws.
                out.mcse[j] = np.sqrt((weights[:, None] ** 2 * (horizon - mean) ** 2).sum(axis=0) / r_eff)
                out.ess[j] = r_eff / float(np.sum(weights**2))
                out.converged[j] = fit.converged
                latest_weights = weights
                continue
        tick = time.perf_counter()
        seed = cutoff_seed(settings.seed, task.case_id, cutoff)
        fit, draws = _fit(model, arrays, seen, cutoff, settings, seed)
        fit_seconds += time.perf_counter() - tick
        out.forecast[j] = draws.mean(axis=(0, 1))
        out.mcse[j], out.ess[j] = _mcse_and_ess(draws)
        out.fitted[j] = True
        out.converged[j] = fit.converged
        out.sampler_seed[j] = seed
        out.sampler = {"draws": fit.draws, "tune": fit.tune}
        latest_weights = None
    if fit is not None and "analyst_noise" in fit.params:
        from syriaforecast.backtest.track_record import noise_posterior

        out.analysts = tuple(model.analysts)
        out.noise_posterior = noise_posterior(fit.params["analyst_noise"], latest_weights)
        out.noise_prior_scale = float(model.analyst_noise)
    out.timings = {
        "total": time.perf_counter() - started,
        "fit": fit_seconds,
        "reweight": weight_seconds,
    }
    return out


# --------------------------------------------------------------------------- cutoffs
@dataclass(frozen=True)
class CutoffPlan:
    """The cutoff axis of a backtest and each case's cutoff dates on it."""

    kind: str  # "lead" or "date"
    labels: tuple[Any, ...]  # leads (int, decreasing) or dates (increasing)
    dates: dict[str, dict[int, dt.date]]  # case id -> {column: cutoff date}


def _period_end(model: Any, index: int) -> dt.date:
    return min((model.first_period + index).end_time.date(), model.horizon)


def _as_cutoff_date(value: Any) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).date()
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SyriaforecastError(
            f"cutoffs: {value!r} is neither an ISO date YYYY-MM-DD nor a whole number of periods "
            "before the horizon (a lead time)"
        ) from None


def _is_lead(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def plan_cutoffs(cases: Sequence[Case], cutoffs: Any = None) -> CutoffPlan:
    """Work out each case's cutoff dates.

    Parameters
    ----------
    cases : sequence of Case
        The cases.
    cutoffs : None, sequence of int, or sequence of dates
        ``None``: the end of every period from the period of the case's first
        report through the horizon's period, labelled by lead time. Integers:
        lead times, ``k`` meaning the end of the period ``k`` periods before the
        horizon's (``0`` = the horizon itself). Dates (``datetime.date`` or ISO
        strings): the same dates for every case. A period end after the horizon
        is moved back to the horizon date.

    Returns
    -------
    CutoffPlan
    """
    if cutoffs is not None and (
        isinstance(cutoffs, str | dt.date | int) or not isinstance(cutoffs, Iterable)
    ):
        cutoffs = [cutoffs]
    values = None if cutoffs is None else list(cutoffs)
    if values is not None and not values:
        raise SyriaforecastError("cutoffs: an empty list; give dates, lead times, or None for every period")
    if values is None or all(_is_lead(v) for v in values):
        if values is None:
            wanted: set[int] = set()
            per_case_leads = {}
            for case in cases:
                periods = case.evidence.to_dataframe()["period"]
                first = min(int(periods.min()), case.model.horizon_index) if len(periods) else 0
                leads = list(range(case.model.horizon_index - first, -1, -1))
                per_case_leads[case.id] = set(leads)
                wanted |= set(leads)
        else:
            bad = [v for v in values if int(v) < 0]
            if bad:
                raise SyriaforecastError(
                    f"cutoffs: lead time {bad[0]} is negative; a lead time is a whole number of periods "
                    "before the horizon (0 = at the horizon)"
                )
            wanted = {int(v) for v in values}
            per_case_leads = {case.id: wanted for case in cases}
        labels = tuple(sorted(wanted, reverse=True))
        dates: dict[str, dict[int, dt.date]] = {}
        for case in cases:
            H = case.model.horizon_index
            dates[case.id] = {
                col: _period_end(case.model, H - lead)
                for col, lead in enumerate(labels)
                if lead in per_case_leads[case.id] and H - lead >= 0
            }
        unused = [lead for col, lead in enumerate(labels) if not any(col in d for d in dates.values())]
        if unused:
            raise SyriaforecastError(
                f"cutoffs: lead time {unused[0]} reaches back before the first period of every case "
                f"(the longest case spans {max(c.model.horizon_index for c in cases) + 1} periods)"
            )
        return CutoffPlan("lead", labels, dates)
    if any(_is_lead(v) for v in values):
        raise SyriaforecastError(
            "cutoffs: mixes lead times (whole numbers) and dates; give one kind or the other"
        )
    parsed = sorted({_as_cutoff_date(v) for v in values})
    dates = {}
    for case in cases:
        first_day = case.model.first_period.start_time.date()
        dates[case.id] = {
            col: day for col, day in enumerate(parsed) if first_day <= day <= case.model.horizon
        }
    unused_dates = [day for col, day in enumerate(parsed) if not any(col in d for d in dates.values())]
    if unused_dates:
        spans = ", ".join(
            f"{c.id}: {c.model.first_period.start_time.date()}..{c.model.horizon}" for c in cases[:5]
        )
        raise SyriaforecastError(
            f"cutoffs: {unused_dates[0].isoformat()} falls outside every case's span from its first "
            f"period to its horizon ({spans}{', ...' if len(cases) > 5 else ''})"
        )
    return CutoffPlan("date", tuple(parsed), dates)


# --------------------------------------------------------------------------- backtest
def backtest(
    cases: Any,
    *,
    cutoffs: Any = None,
    method: str = "hierarchical",
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    seed: int = 0,
    reweight: bool = True,
    k_threshold: float = K_THRESHOLD,
    target_accept: float = 0.9,
    executor: Any = None,
    progress: bool = True,
) -> xr.Dataset:
    """Replay resolved cases at each cutoff, forecast their horizons and score the forecasts.

    Parameters
    ----------
    cases : path, or sequence of paths, Case or SyntheticWorld
        A folder holding one folder per case (``model.toml``, ``evidence.csv``,
        ``outcome.toml``), case folders, :class:`Case` objects, or synthetic
        worlds (cases whose outcome is known by construction).
    cutoffs : None, sequence of int, or sequence of dates
        When each forecast is made; only reports dated on or before a cutoff
        are used for it. ``None`` (default): the end of every period from the
        case's first report to its horizon. Integers are lead times: ``k`` is
        the end of the period ``k`` periods before the horizon's (0 = the
        horizon), comparable across cases with different dates. Dates apply to
        every case whose span (first period to horizon) contains them.
    method : {"hierarchical", "exact"}
        ``"hierarchical"`` samples the model; ``"exact"`` takes the model file
        as exact (deterministic, milliseconds per cutoff).
    draws, tune : int, optional
        Posterior draws and tuning steps per chain for each fit (the defaults
        of :func:`syriaforecast.forecast`).
    chains : int
        Chains per fit.
    seed : int
        Master seed; each fit's seed is derived from it, the case id and the
        cutoff date (:func:`cutoff_seed`).
    reweight : bool
        Reuse the previous fit's draws by PSIS between cutoffs (default); with
        ``False`` every cutoff is refitted.
    k_threshold : float
        Refit when the Pareto ``k`` of the importance weights exceeds this (0.7).
    target_accept : float
        NUTS target acceptance rate.
    executor : None, "serial", "processes", int, Executor or dask Client
        Where cases run, one task per case (see
        :func:`syriaforecast.backtest.executors.run_tasks`). Default: local
        processes (two workers) when there is more than one case.
    progress : bool
        Show a progress bar (on standard error).

    Returns
    -------
    xarray.Dataset
        Dimensions ``case``, ``cutoff`` (lead times or dates, see ``cutoffs``;
        its ``kind`` attribute says which) and ``scenario``. Variables:
        ``forecast`` (case, cutoff, scenario), the mean probability of each
        scenario at the horizon, NaN where a cutoff does not apply to a case;
        ``forecast_mcse``; ``brier`` and ``log_score`` (case, cutoff);
        ``cutoff_date``, ``lead`` (periods from the cutoff's to the horizon's),
        ``reports`` (reports used), ``fitted`` (the sampler ran there; never
        in exact mode),
        ``pareto_k`` (of the PSIS weights; at a refit, the k that forced it;
        NaN at the first fit and where no report is new),
        ``ess``, ``converged``, ``sampler_seed``; per case ``outcome``,
        ``outcome_index``, ``model``, ``horizon``, ``exact`` (replayed in exact
        mode: ``method="exact"``, or the case's model has ``elicitation_error = 0``),
        ``n_fits`` (sampler runs; 0 for a case replayed in exact mode), ``n_refits``,
        ``prior_forecast`` (the horizon forecast from no evidence, exact mode)
        and ``seconds`` (wall time). When the cases' models name several
        analysts (hierarchical mode), ``analyst_noise_mean``, ``_low``,
        ``_high`` (case, analyst), ``analyst_noise_bin_mass`` (case, analyst,
        log_noise_bin) and ``analyst_noise_prior_scale`` (case) describe each
        analyst's noise posterior per case, for :func:`analyst_track_record`. The
        attributes record the settings and the overall mean scores. Summaries: :func:`score_table`,
        :func:`scores_by_lead`, :func:`overall_scores`, :func:`reliability`.

    Warns
    -----
    ConvergenceWarning
        Once, when some fits failed the sampler's diagnostics (see ``converged``).
    """
    from syriaforecast.backtest.executors import describe_executor, run_tasks

    if method not in METHODS:
        raise SyriaforecastError(f"method: got {method!r}; expected one of {', '.join(METHODS)}")
    from syriaforecast._checks import check_sampler_options

    check_sampler_options(draws=draws, tune=tune, chains=chains, target_accept=target_accept)
    if not _is_lead(seed) or not 0 <= seed < 2**63:
        raise SyriaforecastError(f"seed: got {seed!r}; expected a whole number from 0 to {2**63 - 1}")
    try:
        k_threshold = float(k_threshold)
    except (TypeError, ValueError):
        raise SyriaforecastError(f"k_threshold: got {k_threshold!r}; expected a number such as 0.7") from None
    if math.isnan(k_threshold):
        raise SyriaforecastError("k_threshold: got NaN; expected a number such as 0.7")
    case_list = collect_cases(cases)
    plan = plan_cutoffs(case_list, cutoffs)
    settings = ReplaySettings(
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=float(target_accept),
        seed=int(seed),
        reweight=bool(reweight),
        k_threshold=k_threshold,
    )
    tasks = []
    for case in case_list:
        columns = sorted(plan.dates[case.id], key=lambda col: plan.dates[case.id][col])
        tasks.append(
            CaseTask(
                case.id,
                case.model.to_toml(),
                case.evidence.to_csv_text(),
                tuple(plan.dates[case.id][col] for col in columns),
                settings,
            )
        )
    replays = run_tasks(
        replay_case,
        tasks,
        executor=executor,
        progress=progress,
        labels=[case.id for case in case_list],
        description=f"backtest ({method})",
    )
    result = _assemble(case_list, plan, replays, settings)
    result.attrs["executor"] = describe_executor(executor, len(tasks))
    if method == "hierarchical":
        # Said in the result (and by the CLI): these cases were replayed in exact mode.
        result.attrs["exact_cases"] = ",".join(c.id for c in case_list if c.model.elicitation_error == 0)
    if method == "hierarchical":
        fitted = result["fitted"].values
        bad = int(np.sum(fitted & ~result["converged"].values))
        if bad:
            warnings.warn(
                f"{bad} of {int(fitted.sum())} fits failed the sampler's diagnostics (R-hat <= 1.01, "
                "ESS_bulk >= 400, no divergences); see the result's 'converged' variable. Try more "
                "draws and tuning (e.g. draws=4000, tune=1000, chains=4).",
                ConvergenceWarning,
                stacklevel=2,
            )
    return result


def _assemble(
    cases: Sequence[Case], plan: CutoffPlan, replays: Sequence[CaseReplay], settings: ReplaySettings
) -> xr.Dataset:
    from syriaforecast.scoring import brier_score, log_score

    scenarios: list[str] = list(dict.fromkeys(s for case in cases for s in case.model.scenario_ids))
    N, K, S = len(cases), len(plan.labels), len(scenarios)
    forecast = np.full((N, K, S), np.nan)
    mcse = np.full((N, K, S), np.nan)
    brier = np.full((N, K), np.nan)
    logs = np.full((N, K), np.nan)
    cutoff_date = np.full((N, K), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
    lead = np.full((N, K), np.nan)
    reports = np.full((N, K), np.nan)
    fitted = np.zeros((N, K), dtype=bool)
    pareto_k = np.full((N, K), np.nan)
    ess = np.full((N, K), np.nan)
    converged = np.ones((N, K), dtype=bool)
    sampler_seed = np.full((N, K), -1, dtype=np.int64)
    prior = np.full((N, S), np.nan)
    for n, (case, replay) in enumerate(zip(cases, replays, strict=True)):
        cols = [scenarios.index(s) for s in case.model.scenario_ids]
        by_date = {d: i for i, d in enumerate(replay.cutoffs)}
        prior[n, cols] = replay.prior_forecast
        for k, day in plan.dates[case.id].items():
            i = by_date[day]
            forecast[n, k, cols] = replay.forecast[i]
            mcse[n, k, cols] = replay.mcse[i]
            row = replay.forecast[i][None, :]
            brier[n, k] = brier_score(row, [case.outcome_index])
            logs[n, k] = log_score(row, [case.outcome_index])
            cutoff_date[n, k] = np.datetime64(day, "ns")
            lead[n, k] = case.model.horizon_index - case.model.period_index(day)
            reports[n, k] = replay.reports[i]
            fitted[n, k] = replay.fitted[i]
            pareto_k[n, k] = replay.pareto_k[i]
            ess[n, k] = replay.ess[i]
            converged[n, k] = replay.converged[i]
            sampler_seed[n, k] = replay.sampler_seed[i]
    n_fits = np.array([int(r.fitted.sum()) for r in replays])
    periods = sorted({case.model.period for case in cases})
    if plan.kind == "lead":
        cutoff_coord = xr.Variable(
            "cutoff",
            np.array(plan.labels, dtype=np.int64),
            {"kind": "lead", "description": "periods between the cutoff's period and the horizon's"},
        )
    else:
        cutoff_coord = xr.Variable(
            "cutoff",
            np.array([np.datetime64(d, "ns") for d in plan.labels]),
            {"kind": "date", "description": "information date: reports dated on or before it are used"},
        )
    dims2, dims3 = ("case", "cutoff"), ("case", "cutoff", "scenario")
    ds = xr.Dataset(
        {
            "forecast": (dims3, forecast, {"description": "mean probability of the scenario at the horizon"}),
            "forecast_mcse": (dims3, mcse, {"description": "Monte Carlo standard error of forecast"}),
            "brier": (dims2, brier, {"description": "multi-class Brier score (0 best, 2 worst)"}),
            "log_score": (dims2, logs, {"description": "negative log probability of the outcome, nats"}),
            "cutoff_date": (dims2, cutoff_date, {"description": "reports dated on or before it are used"}),
            "lead": (dims2, lead, {"description": f"periods ({'/'.join(periods)}) from cutoff to horizon"}),
            "reports": (dims2, reports, {"description": "reports used"}),
            "fitted": (dims2, fitted, {"description": "the sampler ran here (never in exact mode)"}),
            "pareto_k": (
                dims2,
                pareto_k,
                {"description": "Pareto k of the PSIS weights (at a refit: the k that forced it)"},
            ),
            "ess": (dims2, ess, {"description": "effective sample size behind forecast"}),
            "converged": (dims2, converged, {"description": "the fit behind forecast passed diagnostics"}),
            "sampler_seed": (
                dims2,
                sampler_seed,
                {"description": "seed of the fit at this cutoff, -1 if none"},
            ),
            "outcome": ("case", np.array([c.outcome for c in cases], dtype=object)),
            "outcome_index": ("case", np.array([scenarios.index(c.outcome) for c in cases], dtype=np.int64)),
            "model": ("case", np.array([c.model.id for c in cases], dtype=object)),
            "horizon": ("case", np.array([np.datetime64(c.model.horizon, "ns") for c in cases])),
            "exact": (
                "case",
                np.array([r.exact for r in replays], dtype=bool),
                {"description": "replayed in exact mode: every cutoff computed, no sampler run"},
            ),
            "n_fits": ("case", n_fits, {"description": "sampler runs (0 for a case replayed in exact mode)"}),
            "n_refits": ("case", np.maximum(n_fits - 1, 0), {"description": "sampler runs after the first"}),
            "prior_forecast": (
                ("case", "scenario"),
                prior,
                {"description": "horizon forecast from the model's priors alone (exact mode)"},
            ),
            "seconds": ("case", np.array([r.timings.get("total", math.nan) for r in replays])),
            "fit_seconds": ("case", np.array([r.timings.get("fit", math.nan) for r in replays])),
            "reweight_seconds": ("case", np.array([r.timings.get("reweight", math.nan) for r in replays])),
        },
        coords={"case": [c.id for c in cases], "cutoff": cutoff_coord, "scenario": scenarios},
    )
    analysts = list(dict.fromkeys(a for r in replays for a in r.analysts))
    if analysts:
        from syriaforecast.backtest.track_record import LOG_NOISE_EDGES

        descriptions = {
            "mean": "posterior mean of the analyst's own elicitation noise (logit units) given the "
            "case's evidence at its last cutoff; NaN: the analyst did not elicit the case",
            "low": "lower end of its 90% equal-tailed interval",
            "high": "upper end of its 90% equal-tailed interval",
        }
        for stat, description in descriptions.items():
            table = np.full((N, len(analysts)), np.nan)
            for n, replay in enumerate(replays):
                for a, name in enumerate(replay.analysts):
                    table[n, analysts.index(name)] = replay.noise_posterior[stat][a]
            ds[f"analyst_noise_{stat}"] = xr.DataArray(
                table,
                dims=("case", "analyst"),
                coords={"analyst": analysts},
                attrs={"description": description},
            )
        mass = np.full((N, len(analysts), LOG_NOISE_EDGES.size - 1), np.nan)
        for n, replay in enumerate(replays):
            for a, name in enumerate(replay.analysts):
                mass[n, analysts.index(name)] = replay.noise_posterior["bin_mass"][a]
        ds["analyst_noise_bin_mass"] = xr.DataArray(
            mass,
            dims=("case", "analyst", "log_noise_bin"),
            coords={"log_noise_bin": 0.5 * (LOG_NOISE_EDGES[1:] + LOG_NOISE_EDGES[:-1])},
            attrs={
                "description": "posterior mass of log(noise) per bin (coordinate: bin centre), for "
                "analyst_track_record"
            },
        )
        ds["analyst_noise_prior_scale"] = (
            "case",
            np.array([r.noise_prior_scale for r in replays]),
            {"description": "HalfNormal prior scale of analyst noise in the case's model file"},
        )
    valid = np.isfinite(brier)
    ds.attrs = {
        "method": settings.method,
        "seed": settings.seed,
        # What the fits used (the library's defaults when not given); -1 in exact mode.
        "draws": max((r.sampler.get("draws", -1) for r in replays), default=-1),
        "tune": max((r.sampler.get("tune", -1) for r in replays), default=-1),
        "chains": settings.chains,
        "target_accept": settings.target_accept,
        "reweight": int(settings.reweight),
        "k_threshold": settings.k_threshold,
        "cutoff_kind": plan.kind,
        "period": periods[0] if len(periods) == 1 else "mixed",
        "n_cases": N,
        "n_forecasts": int(valid.sum()),
        "brier": float(np.mean(brier[valid])),
        "log_score": float(np.mean(logs[valid])),
    }
    return ds


# --------------------------------------------------------------------------- summaries
def _valid(result: xr.Dataset) -> np.ndarray:
    return np.isfinite(result["brier"].values)


def score_table(result: xr.Dataset) -> pd.DataFrame:
    """One row per (case, cutoff) forecast made.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`backtest`.

    Returns
    -------
    pandas.DataFrame
        Columns ``case``, ``cutoff``, ``cutoff_date``, ``lead``, ``reports``,
        ``outcome``, ``p_outcome`` (probability given to what happened), one
        ``p_<scenario>`` column per scenario, ``brier``, ``log_score``,
        ``fitted``, ``pareto_k`` and ``ess``.
    """
    valid = _valid(result)
    rows = []
    cutoffs = result["cutoff"].values
    for n, case in enumerate(result["case"].values):
        outcome_index = int(result["outcome_index"].values[n])
        for k in np.flatnonzero(valid[n]):
            probs = result["forecast"].values[n, k]
            label = cutoffs[k]
            row: dict[str, Any] = {
                "case": str(case),
                "cutoff": int(label)
                if result["cutoff"].attrs.get("kind") == "lead"
                else pd.Timestamp(label).date(),
                "cutoff_date": pd.Timestamp(result["cutoff_date"].values[n, k]).date(),
                "lead": int(result["lead"].values[n, k]),
                "reports": int(result["reports"].values[n, k]),
                "outcome": str(result["outcome"].values[n]),
                "p_outcome": float(probs[outcome_index]),
            }
            for s, sid in enumerate(result["scenario"].values):
                row[f"p_{sid}"] = float(probs[s])
            row |= {
                "brier": float(result["brier"].values[n, k]),
                "log_score": float(result["log_score"].values[n, k]),
                "fitted": bool(result["fitted"].values[n, k]),
                "pareto_k": float(result["pareto_k"].values[n, k]),
                "ess": float(result["ess"].values[n, k]),
            }
            rows.append(row)
    return pd.DataFrame(rows)


def _reference_scores(result: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Brier and log scores per case of the prior-only and the uniform forecasts."""
    from syriaforecast.scoring import brier_score, log_score

    N = result.sizes["case"]
    prior_b, prior_l, unif_b, unif_l = (np.empty(N) for _ in range(4))
    for n in range(N):
        prior = result["prior_forecast"].values[n]
        present = np.isfinite(prior)
        y = [int(np.flatnonzero(present).tolist().index(int(result["outcome_index"].values[n])))]
        row = prior[present][None, :]
        uniform = np.full_like(row, 1.0 / row.shape[1])
        prior_b[n], prior_l[n] = brier_score(row, y), log_score(row, y)
        unif_b[n], unif_l[n] = brier_score(uniform, y), log_score(uniform, y)
    return prior_b, prior_l, unif_b, unif_l


def _cluster_bootstrap(
    values: np.ndarray, clusters: np.ndarray, n_boot: int, ci: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values``, resampling whole clusters (cases)."""
    ids = np.unique(clusters)
    if n_boot == 0 or ids.size < 2:
        return math.nan, math.nan
    members = [values[clusters == c] for c in ids]
    sums = np.array([m.sum() for m in members])
    counts = np.array([m.size for m in members])
    picks = rng.integers(0, ids.size, size=(n_boot, ids.size))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(means, [(1 - ci) / 2, (1 + ci) / 2])
    return float(low), float(high)


def _score_summary(
    result: xr.Dataset,
    mask: np.ndarray,
    refs: tuple[np.ndarray, ...],
    n_boot: int,
    ci: float,
    rng: np.random.Generator,
) -> dict[str, float]:
    from syriaforecast.scoring import skill_score

    case_index = np.broadcast_to(np.arange(result.sizes["case"])[:, None], mask.shape)[mask]
    out: dict[str, float] = {"n": float(mask.sum()), "n_cases": float(np.unique(case_index).size)}
    prior_b, prior_l, unif_b, unif_l = refs
    for name, prior_ref, uniform_ref in (("brier", prior_b, unif_b), ("log_score", prior_l, unif_l)):
        values = result[name].values[mask]
        out[name] = float(values.mean()) if values.size else math.nan
        out[f"{name}_low"], out[f"{name}_high"] = _cluster_bootstrap(values, case_index, n_boot, ci, rng)
        # References scored on the same (case, cutoff) rows: a case counts once per forecast.
        out[f"prior_{name}"] = float(prior_ref[case_index].mean()) if values.size else math.nan
        out[f"uniform_{name}"] = float(uniform_ref[case_index].mean()) if values.size else math.nan
        reference = out[f"prior_{name}"]
        out[f"{name}_skill_vs_prior"] = (
            float(skill_score(out[name], reference)) if values.size and reference > 0 else math.nan
        )
    return out


def overall_scores(
    result: xr.Dataset, *, n_boot: int = 1000, ci: float = 0.9, rng: int | np.random.Generator | None = 0
) -> pd.Series:
    """Mean scores over every forecast, with case-bootstrap intervals and reference scores.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`backtest`.
    n_boot : int
        Bootstrap replicates (cases are resampled whole, because one case's
        forecasts at different cutoffs are not independent); 0 skips intervals.
    ci : float
        Coverage of the intervals.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the bootstrap.

    Returns
    -------
    pandas.Series
        ``n`` (forecasts), ``n_cases``, ``brier`` with ``brier_low``/``brier_high``,
        ``log_score`` with its interval, the same scores of the prior-only
        forecast (``prior_brier``, ``prior_log_score``) and of the uniform
        forecast, and the skill against the prior-only forecast
        (``brier_skill_vs_prior``, ``log_score_skill_vs_prior``; 1 is perfect, 0 no gain).
    """
    generator = np.random.default_rng(rng)
    summary = _score_summary(result, _valid(result), _reference_scores(result), n_boot, ci, generator)
    return pd.Series(summary, name="overall")


def scores_by_lead(
    result: xr.Dataset, *, n_boot: int = 1000, ci: float = 0.9, rng: int | np.random.Generator | None = 0
) -> xr.Dataset:
    """Mean scores by lead time (periods from cutoff to horizon).

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`backtest`.
    n_boot, ci, rng
        Case-bootstrap settings, as in :func:`overall_scores`.

    Returns
    -------
    xarray.Dataset
        Dimension ``lead`` (increasing) with the variables of :func:`overall_scores`.
    """
    generator = np.random.default_rng(rng)
    valid = _valid(result)
    leads = result["lead"].values
    refs = _reference_scores(result)
    unique = sorted({int(v) for v in leads[valid]})
    rows = [_score_summary(result, valid & (leads == lead), refs, n_boot, ci, generator) for lead in unique]
    names = list(rows[0]) if rows else []
    return xr.Dataset(
        {name: ("lead", np.array([row[name] for row in rows])) for name in names},
        coords={
            "lead": xr.Variable(
                "lead", np.array(unique, dtype=np.int64), {"units": result.attrs.get("period", "")}
            )
        },
        attrs={"ci": ci, "n_boot": n_boot, "bootstrap": "cases resampled whole"},
    )


def reliability(
    result: xr.Dataset,
    *,
    leads: Sequence[int] | None = None,
    pooled: bool | None = None,
    n_boot: int = 200,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = 0,
) -> xr.Dataset:
    """CORP reliability diagram data of the backtest's forecasts.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`backtest`.
    leads : sequence of int, optional
        Only forecasts at these lead times (default all).
    pooled : bool, optional
        ``True``: one diagram for every scenario probability against whether
        that scenario occurred (needed when cases have different scenarios;
        the default then). ``False``: one diagram per scenario.
    n_boot : int
        Replicates of the consistency bands (0 skips them).
    ci : float
        Coverage of the consistency bands.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the bands.

    Returns
    -------
    xarray.Dataset
        As :func:`syriaforecast.scoring.reliability_diagram`. The bands treat
        every forecast as independent; forecasts of one case at nearby cutoffs
        are not, so read the bands as optimistic (too narrow).
    """
    from syriaforecast.scoring import reliability_diagram

    mask = _valid(result)
    if leads is not None:
        mask &= np.isin(result["lead"].values, list(leads))
    if not mask.any():
        raise SyriaforecastError("reliability: no forecasts at the requested lead times")
    probs = result["forecast"].values[mask]  # (n, S) with NaN for scenarios a case lacks
    outcomes = np.broadcast_to(result["outcome_index"].values[:, None], mask.shape)[mask]
    complete = bool(np.isfinite(probs).all())
    if pooled is None:
        pooled = not complete
    if not pooled and not complete:
        raise SyriaforecastError(
            "reliability: pooled=False needs every case to have the same scenarios; use pooled=True"
        )
    if pooled:
        present = np.isfinite(probs)
        x = probs[present]
        hit = (np.arange(probs.shape[1])[None, :] == outcomes[:, None])[present]
        p2 = xr.DataArray(
            np.stack([1.0 - x, x], axis=1),
            dims=("case", "scenario"),
            coords={"scenario": ["(other)", "all scenarios"]},
        )
        data = reliability_diagram(
            p2, hit.astype(np.int64), scenario="all scenarios", n_boot=n_boot, ci=ci, rng=rng
        )
    else:
        p = xr.DataArray(probs, dims=("case", "scenario"), coords={"scenario": result["scenario"].values})
        data = reliability_diagram(p, outcomes, n_boot=n_boot, ci=ci, rng=rng)
    data.attrs |= {
        "n_forecasts": int(mask.sum()),
        "pooled": int(pooled),
        "leads": "all" if leads is None else ",".join(str(int(v)) for v in leads),
        "note": "forecasts of one case at different cutoffs are not independent: bands are optimistic",
    }
    return data
