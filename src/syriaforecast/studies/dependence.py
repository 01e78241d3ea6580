"""Does declaring which rows came from one report pay? A study on synthetic worlds (#16).

World
-----
A base model (exact elicitations: the truth is what the model file says) and
its scenario chain are simulated as in :mod:`syriaforecast.studies.synthetic`.
In each period every indicator has a true state drawn from its likelihood given
the period's scenario. Sources then publish *reports*: with probability
``report_rate`` per period a report codes ``cells_per_report`` distinct
indicators at grade B2. Its truthfulness is one draw,
``tau ~ Bernoulli(kappa)`` with ``kappa`` the B2 prior mean used by exact mode:
a truthful report codes every cell's true state, an untruthful one codes noise
(uniform over the levels) in every cell. With ``dependent=False`` each row
draws its own truthfulness instead (rows of a report are then independent
readings, the engine's old assumption).

Forecasters
-----------
Both run in exact mode on the same rows, and differ only in the ``report`` column:
``declared`` keeps the report ids (one truthfulness per report, the exact
likelihood of :mod:`syriaforecast.engine.data`), ``independent`` drops them
(each row its own truthfulness). Each is scored on the filtered probability of
the true scenario in every period (what was knowable then): mean log score per
world; and, over every period and scenario of all worlds together, the
expected calibration error (ECE, 10 equal-width bins) and the calibration slope
(:func:`calibration_slope`; below 1 = overconfident), each with a bootstrap
over worlds.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for
from syriaforecast.spec.evidence import load_evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "ClusterStudy",
    "DependenceStudy",
    "SourceRecovery",
    "calibration_slope",
    "cluster_study",
    "clustered_model",
    "dependence_study",
    "simulate_cluster_world",
    "simulate_report_world",
    "source_recovery_study",
]

KAPPA_B2 = RELIABILITY_PRIOR_MEAN["B"] * CREDIBILITY_PRIOR_MEAN["2"]


class DependenceStudy(NamedTuple):
    """Paired scores of the two forecasters over ``n_worlds`` worlds."""

    n_worlds: int
    log_score_declared: np.ndarray  # (W,) mean log P(true scenario) per world
    log_score_independent: np.ndarray  # (W,)
    log_score_gain: float  # mean of declared - independent
    log_score_gain_low: float  # 95% interval of the mean gain (t interval over worlds)
    log_score_gain_high: float
    ece_declared: float
    ece_independent: float
    ece_gain_low: float  # 95% bootstrap interval of ECE(independent) - ECE(declared)
    ece_gain_high: float
    slope_declared: float  # calibration slope (1 = calibrated, < 1 overconfident)
    slope_independent: float
    slope_gain_low: float  # 95% bootstrap interval of slope(declared) - slope(independent)
    slope_gain_high: float


def _levels(model: ScenarioModel) -> list[int]:
    return [ind.n_levels if ind.type != "count" else 0 for ind in model.indicators]


def _path(model: ScenarioModel, rng: np.random.Generator, S: int, T: int) -> np.ndarray:
    """A scenario path from the model's prior and persistence (the engine's chain)."""
    prior = np.asarray(model.prior, dtype=float)
    path = np.empty(T, dtype=np.int64)
    path[0] = rng.choice(S, p=prior)
    for t in range(1, T):
        stay = rng.random() < model.persistence
        path[t] = path[t - 1] if stay or S == 1 else rng.choice([s for s in range(S) if s != path[t - 1]])
    return path


def _likelihood_tables(model: ScenarioModel) -> list[np.ndarray]:
    """P(level | scenario) per indicator, (S, L), as exact mode reads the model file."""
    probs = []
    for ind in model.indicators:
        table = []
        for sid in model.scenario_ids:
            if ind.type == "binary":
                # Exact mode's reading: a phrase sits at its band's logit midpoint.
                p = 1.0 / (1.0 + math.exp(-ind.logit_prior(sid)[0]))
                table.append([1 - p, p])
            else:
                table.append(list(ind.likelihood[sid]))  # type: ignore[arg-type]
        probs.append(np.asarray(table))
    return probs


def simulate_report_world(
    model: ScenarioModel,
    rng: np.random.Generator,
    *,
    report_rate: float = 2.0,
    cells_per_report: int = 3,
    dependent: bool = True,
) -> tuple[np.ndarray, pd.DataFrame]:
    """One world: the scenario path (T,) and the coded rows (with a ``report`` column).

    ``report_rate`` is the mean number of reports per period (Poisson).
    Categorical indicators only (binary and ordinal).
    """
    levels = _levels(model)
    if any(n == 0 for n in levels):
        raise ValueError("the dependence study simulates categorical indicators only")
    S, T = len(model.scenarios), model.horizon_index + 1
    path = _path(model, rng, S, T)
    probs = _likelihood_tables(model)
    rows: list[dict[str, Any]] = []
    n_ind = len(model.indicators)
    k = min(cells_per_report, n_ind)
    for t in range(T):
        period = model.first_period + t
        day = period.start_time.date().isoformat()
        truth = [rng.choice(levels[i], p=probs[i][path[t]]) for i in range(n_ind)]
        for r in range(rng.poisson(report_rate)):
            cells = rng.choice(n_ind, size=k, replace=False)
            shared = rng.random() < KAPPA_B2
            for i in cells:
                truthful = shared if dependent else rng.random() < KAPPA_B2
                state = truth[i] if truthful else rng.integers(levels[i])
                ind = model.indicators[i]
                value = str(state) if ind.type == "binary" else ind.levels[state]
                rows.append(
                    {
                        "date": day,
                        "indicator": ind.id,
                        "value": value,
                        "reliability": "B",
                        "credibility": "2",
                        "report": f"t{t}-r{r}",
                    }
                )
    columns = ["date", "indicator", "value", "reliability", "credibility", "report"]
    return path, pd.DataFrame(rows, columns=columns)


def _filtered(model: ScenarioModel, rows: pd.DataFrame, params: dict[str, np.ndarray]) -> np.ndarray:
    evidence = load_evidence(rows, model)
    return chain_posterior(chain_terms_for_draws(model, evidence, params)).filtered[0]


def _ece(probs: np.ndarray, hits: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(probs[mask].mean() - hits[mask].mean())
    return total / probs.size


def calibration_slope(probs: np.ndarray, hits: np.ndarray) -> float:
    """Slope of the logistic recalibration ``logit P(hit) = a + b logit(p)`` (Cox 1958).

    ``b = 1`` for a calibrated forecaster; ``b < 1`` means overconfident (its
    probabilities are too extreme), ``b > 1`` underconfident. Fitted by Newton's
    method on the Bernoulli log likelihood.
    """
    p = np.clip(probs, 1e-9, 1 - 1e-9)
    x = np.log(p) - np.log1p(-p)
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([0.0, 1.0])
    for _ in range(50):
        eta = design @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = np.maximum(mu * (1 - mu), 1e-12)
        step = np.linalg.solve(design.T @ (design * w[:, None]), design.T @ (hits - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(beta[1])


def dependence_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    dependent: bool = True,
    report_rate: float = 2.0,
    cells_per_report: int = 3,
    n_boot: int = 2000,
) -> DependenceStudy:
    """Score the ``declared`` and ``independent`` forecasters on ``n_worlds`` simulated worlds.

    Parameters
    ----------
    model : ScenarioModel
        Base model with binary / ordinal indicators, read as exact.
    n_worlds : int
        Worlds simulated (each with its own seed from ``seed``).
    dependent : bool
        Whether a report's rows share one truthfulness (True) or draw their own.
    report_rate, cells_per_report : float, int
        Reports per period (Poisson mean) and indicators each report codes.
    n_boot : int
        Bootstrap resamples of worlds for the ECE interval.
    """
    from scipy import stats

    params = exact_parameters_for(model)
    seeds = np.random.SeedSequence(seed).spawn(n_worlds)
    score_d, score_i = np.empty(n_worlds), np.empty(n_worlds)
    probs_d, probs_i, hits = [], [], []
    S = len(model.scenarios)
    for w, child in enumerate(seeds):
        rng = np.random.default_rng(child)
        path, rows = simulate_report_world(
            model, rng, report_rate=report_rate, cells_per_report=cells_per_report, dependent=dependent
        )
        declared = _filtered(model, rows, params)
        independent = _filtered(model, rows.assign(report=""), params)
        T = path.size
        score_d[w] = np.log(np.maximum(declared[np.arange(T), path], 1e-300)).mean()
        score_i[w] = np.log(np.maximum(independent[np.arange(T), path], 1e-300)).mean()
        onehot = np.eye(S)[path]
        probs_d.append(declared.ravel())
        probs_i.append(independent.ravel())
        hits.append(onehot.ravel())
    gain = score_d - score_i
    half = stats.t.ppf(0.975, n_worlds - 1) * gain.std(ddof=1) / np.sqrt(n_worlds) if n_worlds > 1 else np.inf
    pd_, pi_, h_ = np.array(probs_d), np.array(probs_i), np.array(hits)
    rng = np.random.default_rng(seed + 1)
    boot = np.empty(n_boot)
    boot_slope = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(n_worlds, size=n_worlds)
        boot[b] = _ece(pi_[pick].ravel(), h_[pick].ravel()) - _ece(pd_[pick].ravel(), h_[pick].ravel())
        boot_slope[b] = calibration_slope(pd_[pick].ravel(), h_[pick].ravel()) - calibration_slope(
            pi_[pick].ravel(), h_[pick].ravel()
        )
    return DependenceStudy(
        n_worlds=n_worlds,
        log_score_declared=score_d,
        log_score_independent=score_i,
        log_score_gain=float(gain.mean()),
        log_score_gain_low=float(gain.mean() - half),
        log_score_gain_high=float(gain.mean() + half),
        ece_declared=_ece(pd_.ravel(), h_.ravel()),
        ece_independent=_ece(pi_.ravel(), h_.ravel()),
        ece_gain_low=float(np.quantile(boot, 0.025)),
        ece_gain_high=float(np.quantile(boot, 0.975)),
        slope_declared=calibration_slope(pd_.ravel(), h_.ravel()),
        slope_independent=calibration_slope(pi_.ravel(), h_.ravel()),
        slope_gain_low=float(np.quantile(boot_slope, 0.025)),
        slope_gain_high=float(np.quantile(boot_slope, 0.975)),
    )


class SourceRecovery(NamedTuple):
    """How often :func:`~syriaforecast.report.sources` singles out an unreliable source."""

    n_worlds: int
    identified: np.ndarray  # (W,) bool: the bad source has the lowest posterior reliability
    bad_posterior: np.ndarray  # (W,) its posterior reliability
    good_posterior: np.ndarray  # (W, n_good) the good sources'
    rate: float  # share of worlds where it was identified
    rate_low: float  # 95% Wilson interval of the rate
    rate_high: float


def source_recovery_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    n_good: int = 4,
    reports_per_source: float = 1.0,
    bad_truthfulness: float = 0.2,
) -> SourceRecovery:
    """Worlds where one source among ``n_good + 1``, all graded B2, reads the truth far less often.

    Each source codes ``Poisson(reports_per_source)`` single-cell reports per
    period (a random indicator); a good source reads the truth with the B2
    informativeness, the bad one with ``bad_truthfulness``, noise otherwise
    (uniform levels). The forecast is exact mode; the bad source is identified
    when its :func:`~syriaforecast.report.sources` posterior reliability is the lowest.
    """
    from syriaforecast.forecast import forecast
    from syriaforecast.report.sources import sources

    levels = _levels(model)
    S, T = len(model.scenarios), model.horizon_index + 1
    probs = _likelihood_tables(model)
    names = [f"good{k}" for k in range(n_good)] + ["bad"]
    seeds = np.random.SeedSequence(seed).spawn(n_worlds)
    identified = np.zeros(n_worlds, dtype=bool)
    bad = np.full(n_worlds, np.nan)
    good = np.full((n_worlds, n_good), np.nan)
    for w, child in enumerate(seeds):
        rng = np.random.default_rng(child)
        path = _path(model, rng, S, T)
        rows = []
        for t in range(T):
            day = (model.first_period + t).start_time.date().isoformat()
            truth = [rng.choice(levels[i], p=probs[i][path[t]]) for i in range(len(levels))]
            for name in names:
                rate = KAPPA_B2 if name != "bad" else bad_truthfulness
                for _ in range(rng.poisson(reports_per_source)):
                    i = int(rng.integers(len(levels)))
                    state = truth[i] if rng.random() < rate else int(rng.integers(levels[i]))
                    ind = model.indicators[i]
                    value = str(state) if ind.type == "binary" else ind.levels[state]
                    rows.append({"date": day, "indicator": ind.id, "value": value,
                                 "reliability": "B", "credibility": "2", "source": name})  # fmt: skip
        result = forecast(model, pd.DataFrame(rows), as_of=model.horizon, exact=True)
        table = sources(result)
        posterior = table["posterior_reliability"]
        if "bad" in posterior.index:
            bad[w] = posterior["bad"]
            for k in range(n_good):
                good[w, k] = posterior.get(f"good{k}", np.nan)
            identified[w] = bool(np.all(bad[w] < good[w][~np.isnan(good[w])]))
    n = n_worlds
    rate = float(identified.mean())
    z = 1.959963984540054
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return SourceRecovery(n, identified, bad, good, rate, centre - half, centre + half)


# --------------------------------------------------------------------------- clusters (#16, item 3)
#: The study's latent event: P(event | scenario) for the base model's scenarios, in order.
CLUSTER_EVENT = (0.1, 0.4, 0.8)
#: Each member's rate of firing on its own when it does not copy the event.
CLUSTER_NOISE = (0.05, 0.1, 0.2)


class ClusterStudy(NamedTuple):
    """Paired scores of ``declared`` (cluster key) and ``independent`` (no key) over ``n_worlds`` worlds."""

    n_worlds: int
    log_score_declared: np.ndarray  # (W,) mean log P(true scenario) per world and month
    log_score_independent: np.ndarray  # (W,)
    log_score_gain: float  # mean of declared - independent, nats per month
    log_score_gain_low: float  # 95% t interval over worlds
    log_score_gain_high: float
    ece_declared: float
    ece_independent: float
    ece_gain_low: float  # 95% bootstrap interval of ECE(independent) - ECE(declared)
    ece_gain_high: float
    slope_declared: float
    slope_independent: float
    slope_gain_low: float  # 95% bootstrap interval of |1 - slope(independent)| - |1 - slope(declared)|
    slope_gain_high: float


def clustered_model(
    model: ScenarioModel,
    *,
    event: tuple[float, ...] = CLUSTER_EVENT,
    noise: tuple[float, ...] = CLUSTER_NOISE,
    copy: float = 0.9,
    declare: bool = True,
    closeness: float | None = None,
) -> ScenarioModel:
    """``model`` plus one member indicator per ``noise`` rate, each a noisy copy of one event.

    Member ``m`` copies the event with probability ``copy`` and otherwise fires on
    its own with probability ``noise[m]``, so its likelihood (what an analyst
    who knows the world would elicit) is ``copy * event[s] + (1 - copy) *
    noise[m]``. With ``declare`` the members share ``cluster = "event"`` (and
    ``closeness`` when given; the default otherwise).
    """
    from syriaforecast.spec.model import parse_model

    data = model.to_dict()
    for m, rate in enumerate(noise):
        likelihood = {
            sid: round(copy * p + (1 - copy) * rate, 12)
            for sid, p in zip(model.scenario_ids, event, strict=True)
        }
        entry: dict[str, Any] = {"id": f"member{m}", "group": "event", "type": "binary"}
        entry["text"] = f"member {m}"
        entry |= {"likelihood": likelihood} | ({"cluster": "event"} if declare else {})
        data["indicators"].append(entry)
    if declare and closeness is not None:
        data["clusters"] = {"event": {"closeness": closeness}}
    return parse_model(data)


def simulate_cluster_world(
    model: ScenarioModel,
    rng: np.random.Generator,
    *,
    event: tuple[float, ...] = CLUSTER_EVENT,
    noise: tuple[float, ...] = CLUSTER_NOISE,
    copy: float = 0.9,
    dependent: bool = True,
    observe: float = 0.6,
) -> tuple[np.ndarray, pd.DataFrame]:
    """One world of :func:`clustered_model`'s indicators: the scenario path (T,) and the coded rows.

    Each period an event happens with probability ``event[s]``; each member
    copies it with probability ``copy`` and otherwise fires with probability
    ``noise[m]``. With ``dependent=False`` each member instead draws its state
    independently from its own likelihood (same marginals, no shared event).
    Every indicator (the base model's and the members) is coded in a period
    with probability ``observe``, by one row at grade B2 that reads the truth
    with the B2 informativeness and is noise (a fair coin) otherwise.
    """
    levels = _levels(model)
    if any(n == 0 for n in levels):
        raise ValueError("the cluster study simulates categorical indicators only")
    S, T = len(model.scenarios), model.horizon_index + 1
    path = _path(model, rng, S, T)
    probs = _likelihood_tables(model)
    members = {f"member{m}": m for m in range(len(noise))}
    rows: list[dict[str, Any]] = []
    for t in range(T):
        day = (model.first_period + t).start_time.date().isoformat()
        happened = rng.random() < event[path[t]]
        for i, ind in enumerate(model.indicators):
            if ind.id in members and dependent:
                m = members[ind.id]
                state = int(happened) if rng.random() < copy else int(rng.random() < noise[m])
            else:
                state = int(rng.choice(levels[i], p=probs[i][path[t]]))
            if rng.random() >= observe:
                continue
            reading = state if rng.random() < KAPPA_B2 else int(rng.integers(levels[i]))
            value = str(reading) if ind.type == "binary" else ind.levels[reading]
            rows.append({"date": day, "indicator": ind.id, "value": value, "reliability": "B",
                         "credibility": "2"})  # fmt: skip
    columns = ["date", "indicator", "value", "reliability", "credibility"]
    return path, pd.DataFrame(rows, columns=columns)


def cluster_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    dependent: bool = True,
    copy: float = 0.9,
    closeness: float | None = None,
    observe: float = 0.6,
    n_boot: int = 2000,
) -> ClusterStudy:
    """Score forecasters that declare the members' cluster, or not, on ``n_worlds`` simulated worlds.

    The world is :func:`simulate_cluster_world` on ``model`` plus three member
    indicators (:func:`clustered_model`); both forecasters read the members'
    true likelihoods in exact mode and differ only in the ``cluster`` key
    (``declared`` with ``closeness``, the default when None). Scores and
    intervals as in :func:`dependence_study`; the calibration-slope interval is
    of the gain in distance from a slope of 1.
    """
    from scipy import stats

    declared_model = clustered_model(model, copy=copy, declare=True, closeness=closeness)
    independent_model = clustered_model(model, copy=copy, declare=False)
    params_d = exact_parameters_for(declared_model)
    params_i = exact_parameters_for(independent_model)
    seeds = np.random.SeedSequence(seed).spawn(n_worlds)
    score_d, score_i = np.empty(n_worlds), np.empty(n_worlds)
    probs_d, probs_i, hits = [], [], []
    S = len(model.scenarios)
    for w, child in enumerate(seeds):
        rng = np.random.default_rng(child)
        path, rows = simulate_cluster_world(
            independent_model, rng, copy=copy, dependent=dependent, observe=observe
        )
        declared = _filtered(declared_model, rows, params_d)
        independent = _filtered(independent_model, rows, params_i)
        T = path.size
        score_d[w] = np.log(np.maximum(declared[np.arange(T), path], 1e-300)).mean()
        score_i[w] = np.log(np.maximum(independent[np.arange(T), path], 1e-300)).mean()
        probs_d.append(declared.ravel())
        probs_i.append(independent.ravel())
        hits.append(np.eye(S)[path].ravel())
    gain = score_d - score_i
    half = stats.t.ppf(0.975, n_worlds - 1) * gain.std(ddof=1) / np.sqrt(n_worlds) if n_worlds > 1 else np.inf
    pd_, pi_, h_ = np.array(probs_d), np.array(probs_i), np.array(hits)
    rng = np.random.default_rng(seed + 1)
    boot = np.empty(n_boot)
    boot_slope = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(n_worlds, size=n_worlds)
        d, i, h = pd_[pick].ravel(), pi_[pick].ravel(), h_[pick].ravel()
        boot[b] = _ece(i, h) - _ece(d, h)
        boot_slope[b] = abs(1 - calibration_slope(i, h)) - abs(1 - calibration_slope(d, h))
    return ClusterStudy(
        n_worlds=n_worlds,
        log_score_declared=score_d,
        log_score_independent=score_i,
        log_score_gain=float(gain.mean()),
        log_score_gain_low=float(gain.mean() - half),
        log_score_gain_high=float(gain.mean() + half),
        ece_declared=_ece(pd_.ravel(), h_.ravel()),
        ece_independent=_ece(pi_.ravel(), h_.ravel()),
        ece_gain_low=float(np.quantile(boot, 0.025)),
        ece_gain_high=float(np.quantile(boot, 0.975)),
        slope_declared=calibration_slope(pd_.ravel(), h_.ravel()),
        slope_independent=calibration_slope(pi_.ravel(), h_.ravel()),
        slope_gain_low=float(np.quantile(boot_slope, 0.025)),
        slope_gain_high=float(np.quantile(boot_slope, 0.975)),
    )
