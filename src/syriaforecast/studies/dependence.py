"""Does declaring which rows depend on each other pay? Studies on synthetic worlds (#16).

Three questions, each answered on worlds simulated from a base model read as
exact (the truth is what the model file says), with the scenario chain of
:mod:`syriaforecast.studies.synthetic`:

- :func:`dependence_study`: multi-cell *reports* that share one truthfulness;
- :func:`cluster_study`: *clusters* of indicators that are noisy copies of one
  latent event;
- :func:`source_recovery_study`: is an unreliable *source* learnt to be weak?

Reports
-------
In each period every indicator has a true state drawn from its likelihood given
the period's scenario. With ``report_rate`` reports per period (Poisson), a
report codes ``cells_per_report`` distinct indicators at one Admiralty ``grade``.
Its truthfulness is one draw, ``tau ~ Bernoulli(kappa)`` with ``kappa`` the
grade's informativeness as exact mode reads it (reliability letter's prior mean
times credibility number's): a truthful report codes every cell's true state,
an untruthful one codes noise (uniform over the levels) in every cell, which is
exactly the engine's report likelihood (:mod:`syriaforecast.engine.data`). With
``dependent=False`` each row draws its own truthfulness instead. The default
design (grade C3, ``kappa`` = 0.5625, four of eight indicators per report, two
reports a month) is one where the shared truthfulness matters: a report of a
middling source coding half the signposts at once.

Clusters
--------
See :func:`clustered_model` and :func:`simulate_cluster_world`.

Forecasters, and why exact mode
-------------------------------
Each study runs two forecasters on the same rows of the same worlds: ``declared``
(report ids kept, or the cluster key given) and ``independent`` (ids dropped, or
no key: every row its own reading, the engine's old assumption). Both run in
exact mode with the model file's values. Exact mode is the sound comparison
here: the worlds are drawn from those very values, so in report worlds the
declared forecaster *is* the Bayesian posterior of the generating process (and
in cluster worlds the engine's event model at its default closeness, close to
it), and the two forecasters differ only in the dependence they assume. The
sampler would add Monte Carlo noise and the elicitation-error hierarchy, which
is another question (:mod:`syriaforecast.studies.calibration`), at ~100x the
cost per world.

Scores, chosen before the study was re-run
------------------------------------------
Each forecaster is scored on the filtered probability of every period's
scenario (what was knowable then), over all periods of all worlds.

- Log score: mean log P(true scenario) per world and period; the gain of
  declaring with a 95% t interval over worlds (worlds are independent; periods
  within a world are not).
- Calibration: the **calibration slope** ``b`` of the multinomial logistic
  recalibration ``log q_s = b log p_s + a_s - log sum(...)`` fitted by maximum
  likelihood (:func:`recalibrate`); with two scenarios it is Cox's (1958)
  logistic recalibration of the log-odds, ``logit q = a + b logit p``. Ignoring
  dependence multiplies likelihood ratios that should be partly shared, so the
  independent forecaster's log-odds are too extreme by a factor: ``b < 1``
  (overconfident). ``b`` estimates that factor directly, needs no bins, and uses
  the same outcomes' likelihood as the log score. The comparison is the gain in
  distance from 1, ``|1 - b_independent| - |1 - b_declared|``, with a 95%
  percentile interval of a *paired* bootstrap over worlds (both forecasters'
  slopes refitted on the same resampled worlds). The claim "declaring improves
  calibration" means that interval lies above 0. This measure was fixed before
  the large runs of 2026-12-01; earlier sessions reported the slope of the
  pooled one-vs-rest binary events and the ECE.
- The expected calibration error (classwise, 10 equal-width bins,
  :func:`syriaforecast.scoring.expected_calibration_error`) is reported too, with
  the same bootstrap, for continuity; it is not the criterion (binned, noisy).

Measured (seed 1, 3,000 worlds, 95% intervals; all figures and the runs without
dependence in ``tests/test_dependence_study.py``): declaring clusters gains +0.0185
nats/month [0.0157, 0.0213] and moves the slope from 0.892 to 0.998 (gain in
``|1 - b|`` [0.065, 0.110]); declaring report ids gains +0.0428 [0.0378, 0.0478] and
moves it from 0.939 to 0.991 (gain [0.026, 0.065]).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for
from syriaforecast.spec.evidence import load_evidence
from syriaforecast.spec.model import Indicator, ScenarioModel

__all__ = [
    "ClusterStudy",
    "DependenceStudy",
    "Reader",
    "Recalibration",
    "SourceRecovery",
    "World",
    "calibration_slope",
    "cluster_study",
    "clustered_model",
    "compare_readers",
    "dependence_study",
    "recalibrate",
    "simulate_cluster_world",
    "simulate_report_world",
    "simulate_source_world",
    "source_recovery_study",
    "wilson_interval",
]


def informativeness(grade: str) -> float:
    """Exact mode's informativeness of an Admiralty grade such as ``"B2"``: letter's times number's."""
    return RELIABILITY_PRIOR_MEAN[grade[0]] * CREDIBILITY_PRIOR_MEAN[grade[1:]]


KAPPA_B2 = informativeness("B2")


# --------------------------------------------------------------------------- worlds
class World(NamedTuple):
    """One simulated world: the true scenario per period and the coded evidence rows."""

    path: np.ndarray  # (T,) scenario index per period
    rows: pd.DataFrame


class _Truth(NamedTuple):
    """What every simulator starts from: levels, likelihood tables and a scenario path."""

    levels: list[int]  # levels per indicator
    probs: list[np.ndarray]  # P(level | scenario) per indicator, (S, L)
    path: np.ndarray  # (T,)


def _truth(model: ScenarioModel, rng: np.random.Generator, study: str) -> _Truth:
    """Draw a scenario path from the model's prior and persistence (the engine's chain)."""
    levels = [ind.n_levels if ind.type != "count" else 0 for ind in model.indicators]
    if any(n == 0 for n in levels):
        raise ValueError(f"the {study} study simulates categorical indicators only")
    S, T = len(model.scenarios), model.horizon_index + 1
    prior = np.asarray(model.prior, dtype=float)
    path = np.empty(T, dtype=np.int64)
    path[0] = rng.choice(S, p=prior)
    for t in range(1, T):
        stay = rng.random() < model.persistence
        path[t] = path[t - 1] if stay or S == 1 else rng.choice([s for s in range(S) if s != path[t - 1]])
    return _Truth(levels, _likelihood_tables(model), path)


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


def _row(
    model: ScenarioModel, t: int, ind: Indicator, state: int, grade: str, **extra: str
) -> dict[str, str]:
    """One evidence row: period ``t``'s first day, the level as the file writes it, the grade."""
    day = (model.first_period + t).start_time.date().isoformat()
    value = str(state) if ind.type == "binary" else ind.levels[state]
    return {"date": day, "indicator": ind.id, "value": value, "reliability": grade[0],
            "credibility": grade[1:]} | extra  # fmt: skip


def _rows(rows: list[dict[str, str]], *extra: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["date", "indicator", "value", "reliability", "credibility", *extra])


def simulate_report_world(
    model: ScenarioModel,
    rng: np.random.Generator,
    *,
    report_rate: float = 2.0,
    cells_per_report: int = 4,
    grade: str = "C3",
    dependent: bool = True,
) -> World:
    """One world of :func:`dependence_study`: the scenario path and the coded rows (with ``report`` ids).

    ``report_rate`` is the mean number of reports per period (Poisson), each
    coding ``cells_per_report`` distinct indicators at ``grade`` with one
    truthfulness (``dependent``) or one per row. Categorical indicators only.
    """
    truth = _truth(model, rng, "report")
    kappa = informativeness(grade)
    n_ind = len(model.indicators)
    k = min(cells_per_report, n_ind)
    rows = []
    for t, s in enumerate(truth.path):
        states = [rng.choice(n, p=table[s]) for n, table in zip(truth.levels, truth.probs, strict=True)]
        for r in range(rng.poisson(report_rate)):
            cells = rng.choice(n_ind, size=k, replace=False)
            shared = rng.random() < kappa
            for i in cells:
                truthful = shared if dependent else rng.random() < kappa
                state = states[i] if truthful else rng.integers(truth.levels[i])
                rows.append(_row(model, t, model.indicators[i], int(state), grade, report=f"t{t}-r{r}"))
    return World(truth.path, _rows(rows, "report"))


# --------------------------------------------------------------------------- paired comparison
class Reader(NamedTuple):
    """One forecaster of a paired study: the model it reads, in exact mode, and the rows it sees."""

    model: ScenarioModel
    params: dict[str, np.ndarray]
    drop_reports: bool = False  # read every row as its own report

    @classmethod
    def exact(cls, model: ScenarioModel, *, drop_reports: bool = False) -> Reader:
        """A reader of ``model`` at the model file's values (exact mode)."""
        return cls(model, exact_parameters_for(model), drop_reports)

    def filtered(self, rows: pd.DataFrame) -> np.ndarray:
        """Filtered scenario probabilities (T, S) given ``rows``."""
        if self.drop_reports:
            rows = rows.assign(report="")
        evidence = load_evidence(rows, self.model)
        return chain_posterior(chain_terms_for_draws(self.model, evidence, self.params)).filtered[0]


class Recalibration(NamedTuple):
    """Multinomial logistic recalibration ``log q_s = slope * log p_s + intercept_s - log sum(...)``."""

    slope: float  # 1 = calibrated, < 1 overconfident, > 1 underconfident
    intercepts: np.ndarray  # (S,), the first 0


def recalibrate(probs: np.ndarray, outcome: np.ndarray, *, floor: float = 1e-12) -> Recalibration:
    """Fit the calibration slope and intercepts of ``probs`` (N, S) against ``outcome`` (N,) indices.

    Maximum likelihood by Newton's method: the log likelihood is concave in
    ``(slope, intercepts)`` (a conditional logit whose covariate is ``log p_s``).
    Every scenario must occur among the outcomes (``ValueError`` otherwise).
    With two scenarios this is Cox's (1958) logistic recalibration
    ``logit q = a + b logit p`` (``a = intercept_1``). Probabilities are floored
    at ``floor`` before the log.
    """
    x = np.log(np.clip(np.asarray(probs, dtype=float), floor, 1.0))
    y = np.asarray(outcome, dtype=np.int64)
    N, S = x.shape
    if np.bincount(y, minlength=S).min() == 0:
        # Its intercept would run to minus infinity: no finite maximum.
        raise ValueError("recalibration needs every scenario to occur at least once among the outcomes")
    rows = np.arange(N)
    onehot = np.eye(S)[y]

    def loglik(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log likelihood, gradient and information (minus the Hessian) at ``(slope, a_1, ...)``."""
        eta = theta[0] * x
        eta[:, 1:] += theta[1:]
        eta -= eta.max(axis=1, keepdims=True)
        log_pi = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        pi = np.exp(log_pi)
        mean_x = (pi * x).sum(axis=1)
        grad = np.concatenate([[(x[rows, y] - mean_x).sum()], (onehot - pi)[:, 1:].sum(axis=0)])
        info = np.empty((S, S))
        info[0, 0] = ((pi * x * x).sum(axis=1) - mean_x**2).sum()
        info[0, 1:] = info[1:, 0] = (pi[:, 1:] * (x[:, 1:] - mean_x[:, None])).sum(axis=0)
        info[1:, 1:] = np.diag(pi[:, 1:].sum(axis=0)) - pi[:, 1:].T @ pi[:, 1:]
        return float(log_pi[rows, y].sum()), grad, info

    theta = np.zeros(S)
    theta[0] = 1.0
    value, grad, info = loglik(theta)
    for _ in range(100):
        step = np.linalg.solve(info, grad)
        scale = 1.0
        while True:  # Newton with step halving: never accept a lower likelihood
            candidate = theta + scale * step
            new_value, new_grad, new_info = loglik(candidate)
            if new_value >= value - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        theta, value, grad, info = candidate, new_value, new_grad, new_info
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    return Recalibration(float(theta[0]), np.concatenate([[0.0], theta[1:]]))


def calibration_slope(probs: np.ndarray, outcome: np.ndarray) -> float:
    """Calibration slope of :func:`recalibrate` (1 calibrated, < 1 overconfident).

    ``probs`` is (N, S) with ``outcome`` the scenario indices, or (N,) binary
    probabilities with ``outcome`` the 0/1 hits (Cox's logistic recalibration).
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    return recalibrate(p, np.asarray(outcome).astype(np.int64)).slope


class DependenceStudy(NamedTuple):
    """Paired scores of ``declared`` and ``independent`` forecasters over ``n_worlds`` worlds.

    Intervals are 95%: the log-score gain's a t interval over worlds, the others
    percentile intervals of a paired bootstrap over worlds.
    """

    n_worlds: int
    log_score_declared: np.ndarray  # (W,) mean log P(true scenario) per world and period
    log_score_independent: np.ndarray  # (W,)
    log_score_gain: float  # mean of declared - independent, nats per period
    log_score_gain_low: float
    log_score_gain_high: float
    slope_declared: float  # calibration slope, all worlds pooled (1 = calibrated, < 1 overconfident)
    slope_declared_low: float
    slope_declared_high: float
    slope_independent: float
    slope_independent_low: float
    slope_independent_high: float
    slope_gain: float  # |1 - slope_independent| - |1 - slope_declared| (> 0: declaring is better calibrated)
    slope_gain_low: float
    slope_gain_high: float
    ece_declared: float  # classwise ECE, 10 bins (reported, not the criterion)
    ece_independent: float
    ece_gain_low: float  # of ECE(independent) - ECE(declared)
    ece_gain_high: float

    def summary(self) -> str:
        """The figures in one paragraph (for notes and test output)."""
        return (
            f"{self.n_worlds} worlds: log-score gain {self.log_score_gain:+.4f} nats/period "
            f"[{self.log_score_gain_low:+.4f}, {self.log_score_gain_high:+.4f}]; calibration slope "
            f"declared {self.slope_declared:.3f} "
            f"[{self.slope_declared_low:.3f}, {self.slope_declared_high:.3f}], "
            f"independent {self.slope_independent:.3f} "
            f"[{self.slope_independent_low:.3f}, {self.slope_independent_high:.3f}], gain in |1 - slope| "
            f"{self.slope_gain:+.3f} [{self.slope_gain_low:+.3f}, {self.slope_gain_high:+.3f}]; ECE declared "
            f"{self.ece_declared:.4f}, independent {self.ece_independent:.4f}, gain "
            f"[{self.ece_gain_low:+.4f}, {self.ece_gain_high:+.4f}]"
        )


#: The cluster study's results have the same fields.
ClusterStudy = DependenceStudy


def compare_readers(
    simulate: Callable[[np.random.Generator], World],
    declared: Reader,
    independent: Reader,
    n_worlds: int,
    *,
    seed: int = 0,
    n_boot: int = 1000,
) -> DependenceStudy:
    """Simulate ``n_worlds`` worlds and score two forecasters on each (the studies' one world loop).

    World ``w`` is ``simulate(rng_w)`` with ``rng_w`` the ``w``-th child of
    ``numpy.random.SeedSequence(seed)``; the bootstrap draws from ``seed + 1``.
    """
    from scipy import stats

    from syriaforecast.scoring import expected_calibration_error

    if n_worlds < 2:
        raise ValueError(f"n_worlds must be at least 2 (got {n_worlds})")
    S = len(declared.model.scenarios)
    T = declared.model.horizon_index + 1
    paths = np.empty((n_worlds, T), dtype=np.int64)
    probs = {"declared": np.empty((n_worlds, T, S)), "independent": np.empty((n_worlds, T, S))}
    for w, child in enumerate(np.random.SeedSequence(seed).spawn(n_worlds)):
        world = simulate(np.random.default_rng(child))
        paths[w] = world.path
        probs["declared"][w] = declared.filtered(world.rows)
        probs["independent"][w] = independent.filtered(world.rows)
    hit = {k: np.take_along_axis(v, paths[:, :, None], axis=2)[:, :, 0] for k, v in probs.items()}
    score = {k: np.log(np.maximum(v, 1e-300)).mean(axis=1) for k, v in hit.items()}
    gain = score["declared"] - score["independent"]
    half = stats.t.ppf(0.975, n_worlds - 1) * gain.std(ddof=1) / np.sqrt(n_worlds)

    def figures(pick: np.ndarray) -> np.ndarray:
        """Slopes and ECEs of both forecasters on the worlds ``pick``."""
        y = paths[pick].ravel()
        out = []
        for key in ("declared", "independent"):
            p = probs[key][pick].reshape(-1, S)
            out += [calibration_slope(p, y), expected_calibration_error(p, y)]
        return np.array(out)  # slope_d, ece_d, slope_i, ece_i

    rng = np.random.default_rng(seed + 1)
    boot = np.array([figures(rng.integers(n_worlds, size=n_worlds)) for _ in range(n_boot)])
    slope_gain = np.abs(1 - boot[:, 2]) - np.abs(1 - boot[:, 0])
    point = figures(np.arange(n_worlds))

    def ci(values: np.ndarray) -> tuple[float, float]:
        low, high = np.quantile(values, [0.025, 0.975])
        return float(low), float(high)

    return DependenceStudy(
        n_worlds,
        score["declared"],
        score["independent"],
        float(gain.mean()),
        float(gain.mean() - half),
        float(gain.mean() + half),
        float(point[0]),
        *ci(boot[:, 0]),
        float(point[2]),
        *ci(boot[:, 2]),
        float(abs(1 - point[2]) - abs(1 - point[0])),
        *ci(slope_gain),
        float(point[1]),
        float(point[3]),
        *ci(boot[:, 3] - boot[:, 1]),
    )


def dependence_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    dependent: bool = True,
    report_rate: float = 2.0,
    cells_per_report: int = 4,
    grade: str = "C3",
    n_boot: int = 1000,
) -> DependenceStudy:
    """Score forecasters that keep the report ids (``declared``) or drop them on simulated worlds.

    Parameters
    ----------
    model : ScenarioModel
        Base model with binary / ordinal indicators, read as exact.
    n_worlds : int
        Worlds simulated (each with its own seed from ``seed``).
    dependent : bool
        Whether a report's rows share one truthfulness (True) or draw their own.
    report_rate, cells_per_report, grade : float, int, str
        Reports per period (Poisson mean), indicators each report codes, their grade.
    n_boot : int
        Bootstrap resamples of worlds for the calibration intervals.
    """

    def simulate(rng: np.random.Generator) -> World:
        return simulate_report_world(
            model, rng, report_rate=report_rate, cells_per_report=cells_per_report, grade=grade,
            dependent=dependent,
        )  # fmt: skip

    declared, independent = Reader.exact(model), Reader.exact(model, drop_reports=True)
    return compare_readers(simulate, declared, independent, n_worlds, seed=seed, n_boot=n_boot)


class SourceRecovery(NamedTuple):
    """How often :func:`~syriaforecast.report.sources` singles out an unreliable source."""

    n_worlds: int
    identified: np.ndarray  # (W,) bool: see source_recovery_study
    bad_posterior: np.ndarray  # (W,) its posterior reliability (exact mode: P(read the truth))
    good_posterior: np.ndarray  # (W, n_good) the good sources'
    rate: float  # share of worlds where it was identified
    rate_low: float  # 95% Wilson interval of the rate
    rate_high: float
    bad_high: np.ndarray  # (W,) upper end of its reliability interval (hierarchical mode; NaN in exact)
    good_level: float  # the good sources' true reliability (their letter's prior mean)
    seconds: float  # wall time of the study


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927), 95% by default."""
    if n == 0:
        return 0.0, 1.0
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def simulate_source_world(
    model: ScenarioModel,
    rng: np.random.Generator,
    *,
    n_good: int = 4,
    reports_per_source: float = 1.0,
    bad_truthfulness: float = 0.2,
) -> World:
    """One world of :func:`source_recovery_study`: the scenario path and the coded rows."""
    truth = _truth(model, rng, "source")
    names = [f"good{k}" for k in range(n_good)] + ["bad"]
    rows = []
    for t, s in enumerate(truth.path):
        states = [rng.choice(n, p=table[s]) for n, table in zip(truth.levels, truth.probs, strict=True)]
        for name in names:
            rate = KAPPA_B2 if name != "bad" else bad_truthfulness
            for _ in range(rng.poisson(reports_per_source)):
                i = int(rng.integers(len(truth.levels)))
                state = states[i] if rng.random() < rate else int(rng.integers(truth.levels[i]))
                rows.append(_row(model, t, model.indicators[i], int(state), "B2", source=name))
    return World(truth.path, _rows(rows, "source"))


def source_recovery_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    n_good: int = 4,
    reports_per_source: float = 1.0,
    bad_truthfulness: float = 0.2,
    exact: bool = True,
    sampler: dict[str, Any] | None = None,
    prob: float = 0.9,
) -> SourceRecovery:
    """Worlds where one source among ``n_good + 1``, all graded B2, reads the truth far less often.

    Each source codes ``Poisson(reports_per_source)`` single-cell reports per
    period (a random indicator); a good source reads the truth with the B2
    informativeness (reliability ``B``'s 0.88 times credibility ``2``'s 0.88), the
    bad one with ``bad_truthfulness`` (a reliability of ``bad_truthfulness / 0.88``),
    noise otherwise (uniform levels).

    - ``exact=True``: exact mode learns no reliability; the bad source is
      identified when the share of its reports that read the truth given all the
      evidence (:func:`~syriaforecast.report.sources` ``truthful``) is the lowest.
    - ``exact=False``: the hierarchical model learns each source's reliability
      (``sampler``: keyword arguments of :func:`~syriaforecast.forecast`, e.g.
      draws, tune, chains, seed). The bad source is identified when its posterior
      reliability is the lowest of all *and* the upper end of its ``prob``
      interval is below the good sources' level: both their true reliability
      (``B``'s prior mean, ``good_level``) and the mean of their posterior means.
    """
    import time
    import warnings

    from syriaforecast.errors import ConvergenceWarning
    from syriaforecast.forecast import forecast
    from syriaforecast.report.sources import sources

    start = time.perf_counter()
    seeds = np.random.SeedSequence(seed).spawn(n_worlds)
    identified = np.zeros(n_worlds, dtype=bool)
    bad = np.full(n_worlds, np.nan)
    bad_high = np.full(n_worlds, np.nan)
    good = np.full((n_worlds, n_good), np.nan)
    good_level = RELIABILITY_PRIOR_MEAN["B"]
    column = "truthful" if exact else "posterior_reliability"
    for w, child in enumerate(seeds):
        rng = np.random.default_rng(child)
        _, rows = simulate_source_world(
            model, rng, n_good=n_good, reports_per_source=reports_per_source,
            bad_truthfulness=bad_truthfulness,
        )  # fmt: skip
        with warnings.catch_warnings():
            # Each world is judged on its own posterior; the study reports no convergence verdicts.
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = forecast(model, rows, as_of=model.horizon, exact=exact, **(sampler or {}))
        table = sources(result, prob=prob, truthful=exact)
        posterior = table[column]
        if "bad" not in posterior.index:
            continue
        bad[w] = posterior["bad"]
        for k in range(n_good):
            good[w, k] = posterior.get(f"good{k}", np.nan)
        others = good[w][~np.isnan(good[w])]
        identified[w] = bool(np.all(bad[w] < others))
        if not exact:
            bad_high[w] = table.loc["bad", "reliability_high"]
            level = min(good_level, float(np.mean(others))) if others.size else good_level
            identified[w] &= bool(bad_high[w] < level)
    low, high = wilson_interval(int(identified.sum()), n_worlds)
    return SourceRecovery(
        n_worlds, identified, bad, good, float(identified.mean()), low, high, bad_high, good_level,
        time.perf_counter() - start,
    )  # fmt: skip


# --------------------------------------------------------------------------- clusters (#16, item 3)
#: The study's latent event: P(event | scenario) for the base model's scenarios, in order.
CLUSTER_EVENT = (0.1, 0.4, 0.8)
#: Each member's rate of firing on its own when it does not copy the event.
CLUSTER_NOISE = (0.05, 0.1, 0.2)


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
) -> World:
    """One world of :func:`clustered_model`'s indicators: the scenario path and the coded rows.

    Each period an event happens with probability ``event[s]``; each member
    copies it with probability ``copy`` and otherwise fires with probability
    ``noise[m]``. With ``dependent=False`` each member instead draws its state
    independently from its own likelihood (same marginals, no shared event).
    Every indicator (the base model's and the members) is coded in a period
    with probability ``observe``, by one row at grade B2 that reads the truth
    with the B2 informativeness and is noise (a fair coin) otherwise.
    """
    truth = _truth(model, rng, "cluster")
    members = {f"member{m}": m for m in range(len(noise))}
    rows = []
    for t, s in enumerate(truth.path):
        happened = rng.random() < event[s]
        for i, ind in enumerate(model.indicators):
            if ind.id in members and dependent:
                m = members[ind.id]
                state = int(happened) if rng.random() < copy else int(rng.random() < noise[m])
            else:
                state = int(rng.choice(truth.levels[i], p=truth.probs[i][s]))
            if rng.random() >= observe:
                continue
            reading = state if rng.random() < KAPPA_B2 else int(rng.integers(truth.levels[i]))
            rows.append(_row(model, t, ind, reading, "B2"))
    return World(truth.path, _rows(rows))


def cluster_study(
    model: ScenarioModel,
    n_worlds: int,
    *,
    seed: int = 0,
    dependent: bool = True,
    copy: float = 0.9,
    closeness: float | None = None,
    observe: float = 0.6,
    n_boot: int = 1000,
) -> DependenceStudy:
    """Score forecasters that declare the members' cluster, or not, on ``n_worlds`` simulated worlds.

    The world is :func:`simulate_cluster_world` on ``model`` plus three member
    indicators (:func:`clustered_model`); both forecasters read the members'
    true likelihoods in exact mode and differ only in the ``cluster`` key
    (``declared`` with ``closeness``, the default when None). Scores and
    intervals as in :func:`compare_readers`.
    """
    declared = Reader.exact(clustered_model(model, copy=copy, declare=True, closeness=closeness))
    independent = Reader.exact(clustered_model(model, copy=copy, declare=False))

    def simulate(rng: np.random.Generator) -> World:
        return simulate_cluster_world(independent.model, rng, copy=copy, dependent=dependent, observe=observe)

    return compare_readers(simulate, declared, independent, n_worlds, seed=seed, n_boot=n_boot)
