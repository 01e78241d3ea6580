"""Proper scoring rules and calibration diagnostics for categorical scenario forecasts.

A set of forecasts is an array ``p`` of shape ``(n, S)``: row ``i`` gives the
probabilities of ``S`` mutually exclusive scenarios for case ``i`` and sums to 1.
The outcomes ``y`` are integer scenario indices ``0 .. S-1`` of shape ``(n,)``.
Every score is negatively oriented (lower is better) and is the mean over the
``n`` cases.

``p`` may also be an :class:`xarray.DataArray` with a ``scenario`` dimension and one
other (case) dimension; ``y`` may be a DataArray of the case dimension. Scores
are returned as Python floats; :func:`reliability_diagram` returns an
:class:`xarray.Dataset`.

References
----------
Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
*Monthly Weather Review*, 78(1), 1-3.

Epstein, E. S. (1969). A scoring system for probability forecasts of ranked
categories. *Journal of Applied Meteorology*, 8, 985-987.

Murphy, A. H. (1973). A new vector partition of the probability score.
*Journal of Applied Meteorology*, 12, 595-600.

Dimitriadis, T., Gneiting, T. and Jordan, A. I. (2021). Stable reliability
diagrams for probabilistic classifiers. *PNAS*, 118(8), e2016191118.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import xarray as xr
from scipy.optimize import isotonic_regression

from syriaforecast.errors import SyriaforecastError

__all__ = [
    "LOG_SCORE_EPS",
    "ROW_SUM_TOL",
    "BootstrapInterval",
    "MurphyDecomposition",
    "ScoringInputError",
    "bootstrap",
    "brier_score",
    "expected_calibration_error",
    "log_score",
    "murphy_decomposition",
    "prior_baseline",
    "ranked_probability_score",
    "reliability_diagram",
    "sharpness",
    "skill_score",
    "uniform_baseline",
]

#: Probabilities are clipped from below at this value in :func:`log_score`
#: (the float64 machine epsilon, about 2.2e-16, as in ``sklearn.metrics.log_loss``),
#: so a zero probability on the outcome scores ``-log(eps)``, about 36.04, not infinity.
LOG_SCORE_EPS: float = float(np.finfo(np.float64).eps)

#: Each forecast row must sum to 1 within this absolute tolerance.
ROW_SUM_TOL: float = 1e-6

# Probabilities this far outside [0, 1] are treated as rounding error and clipped.
_RANGE_TOL = 1e-12

ArrayLike = Any


class ScoringInputError(SyriaforecastError, ValueError):
    """Forecasts, outcomes or options passed to a scoring function are invalid."""


class MurphyDecomposition(NamedTuple):
    """Binned Murphy (1973) decomposition of the multi-class Brier score.

    Attributes
    ----------
    reliability : float
        REL, calibration error (lower is better).
    resolution : float
        RES, how much the outcome frequencies vary between forecast bins (higher is better).
    uncertainty : float
        UNC, ``sum_k o_k (1 - o_k)`` for the overall outcome frequencies ``o_k``.
    brier : float
        The multi-class Brier score of the unbinned forecasts, for comparison with
        ``reliability - resolution + uncertainty``.
    """

    reliability: float
    resolution: float
    uncertainty: float
    brier: float


class BootstrapInterval(NamedTuple):
    """A score on the full data with a percentile bootstrap interval.

    Attributes
    ----------
    estimate : float
        The score computed on all cases.
    low, high : float
        Lower and upper ends of the percentile bootstrap interval.
    """

    estimate: float
    low: float
    high: float


# --------------------------------------------------------------------------- validation


def _forecast_values(p: ArrayLike, name: str = "p") -> tuple[np.ndarray, list[Hashable] | None]:
    """Return ``p`` as a float array of shape (n, S) and the scenario labels, if any."""
    labels: list[Hashable] | None = None
    if isinstance(p, xr.DataArray):
        if "scenario" not in p.dims:
            raise ScoringInputError(
                f"{name}: DataArray with dims {p.dims} has no 'scenario' dimension; "
                "a DataArray of forecasts needs dims (case, 'scenario')"
            )
        p = p.transpose(..., "scenario")
        if "scenario" in p.coords:
            labels = [v.item() for v in p.coords["scenario"].values]
        p = p.values
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScoringInputError(
            f"{name}: cannot be read as an array of probabilities ({exc})"
        ) from None
    if arr.ndim != 2:
        raise ScoringInputError(
            f"{name}: has shape {arr.shape}; expected a 2-D array of shape (n, S) "
            "(one row per case, one column per scenario)"
        )
    n, S = arr.shape
    if n < 1 or S < 2:
        raise ScoringInputError(
            f"{name}: has shape {arr.shape}; need at least 1 case (row) and 2 scenarios (columns)"
        )
    if np.isnan(arr).any():
        i, k = np.argwhere(np.isnan(arr))[0]
        raise ScoringInputError(
            f"{name}: contains NaN (first at row {i}, column {k}); probabilities must be finite"
        )
    bad = (arr < -_RANGE_TOL) | (arr > 1 + _RANGE_TOL)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ScoringInputError(
            f"{name}: value {arr[i, k].item()!r} at row {i}, column {k} is outside [0, 1]; "
            "probabilities must lie in [0, 1]"
        )
    arr = np.clip(arr, 0.0, 1.0)
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > ROW_SUM_TOL
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ScoringInputError(
            f"{name}: row {i} sums to {sums[i]:.10g}; each row of the (n, S) = {arr.shape} "
            f"array must sum to 1 within {ROW_SUM_TOL:g} ({int(off.sum())} of {n} rows do not)"
        )
    return arr, labels


def _outcome_values(y: ArrayLike, n: int, S: int, *, soft: bool = False) -> np.ndarray:
    """Return ``y`` as integer indices of shape (n,), or as (n, S) probabilities if ``soft``."""
    if isinstance(y, xr.DataArray):
        if soft and "scenario" in y.dims:
            y = y.transpose(..., "scenario")
        y = y.values
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts almost anything
        raise ScoringInputError(f"y: cannot be read as an array ({exc})") from None
    if soft and arr.ndim == 2:
        if arr.shape != (n, S):
            raise ScoringInputError(
                f"y: has shape {arr.shape}; outcome probabilities must have the shape of p, "
                f"({n}, {S})"
            )
        return _forecast_values(arr, name="y")[0]
    allowed = f"integer scenario indices of shape ({n},)" + (
        f" or outcome probabilities of shape ({n}, {S})" if soft else ""
    )
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ScoringInputError(f"y: has shape {arr.shape} but p has {n} rows; expected {allowed}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ScoringInputError(f"y: has dtype {arr.dtype}; expected {allowed}")
    if np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr))[0])
            raise ScoringInputError(f"y: contains NaN (first at position {i}); expected {allowed}")
        frac = arr != np.round(arr)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ScoringInputError(
                f"y: value {arr[i].item()!r} at position {i} is not an integer; expected {allowed}"
            )
    out_of_range = (arr < 0) | (arr > S - 1)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise ScoringInputError(
            f"y: value {arr[i].item()!r} at position {i} is not a scenario index; "
            f"p has S = {S} scenarios, so y must lie in 0..{S - 1}"
        )
    return arr.astype(np.int64)


def _validate(p: ArrayLike, y: ArrayLike, *, soft: bool = False) -> tuple[np.ndarray, np.ndarray]:
    probs, _ = _forecast_values(p)
    n, S = probs.shape
    return probs, _outcome_values(y, n, S, soft=soft)


def _onehot(y: np.ndarray, S: int) -> np.ndarray:
    """One-hot encode integer outcomes; (n, S) outcome probabilities pass through."""
    if y.ndim == 2:
        return y
    return np.eye(S)[y]


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ScoringInputError(f"bins: got {bins!r}; expected a positive integer")
    return int(bins)


def _check_ci(ci: float) -> float:
    try:
        value = float(ci)
    except (TypeError, ValueError):
        value = math.nan
    if not (0.0 < value < 1.0):
        raise ScoringInputError(f"ci: got {ci!r}; expected a probability strictly in (0, 1)")
    return value


def _check_n_boot(n_boot: int, *, allow_zero: bool) -> int:
    lo = 0 if allow_zero else 1
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < lo:
        raise ScoringInputError(f"n_boot: got {n_boot!r}; expected an integer >= {lo}")
    return int(n_boot)


def _bin_index(x: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins on [0, 1]: bin ``b`` holds ``b/bins <= x < (b+1)/bins``; 1 goes last."""
    return np.minimum(np.floor(x * bins).astype(np.int64), bins - 1)


# --------------------------------------------------------------------------- scores


def brier_score(p: ArrayLike, y: ArrayLike) -> float:
    r"""Multi-class Brier score, summed over scenarios and averaged over cases.

    .. math:: \mathrm{BS} = \frac1n \sum_{i=1}^n \sum_{k=0}^{S-1} (p_{ik} - 1\{y_i = k\})^2

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    y : array_like, shape (n,) or (n, S)
        Outcomes as integer scenario indices ``0 .. S-1``. An ``(n, S)`` array of
        outcome probabilities (one-hot rows, or e.g. a market's value for a question
        that has not resolved) is also accepted and replaces the indicator.

    Returns
    -------
    float
        The score on the original Brier (1950) scale, from 0 (perfect) to 2
        (all mass on a wrong scenario). The uniform forecast scores ``1 - 1/S``.
        For ``S = 2`` it is **twice** the binary squared error ``(f - o)^2`` of the
        probability ``f`` of scenario 1 (as reported by ``sklearn.metrics.brier_score_loss``
        or ForecastBench).
    """
    probs, obs = _validate(p, y, soft=True)
    onehot = _onehot(obs, probs.shape[1])
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def log_score(p: ArrayLike, y: ArrayLike, *, eps: float = LOG_SCORE_EPS) -> float:
    r"""Logarithmic score: mean negative natural log of the probability given to the outcome.

    .. math:: \mathrm{LS} = -\frac1n \sum_{i=1}^n \log \max(p_{i, y_i}, \varepsilon)

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    y : array_like, shape (n,)
        Outcomes as integer scenario indices ``0 .. S-1``.
    eps : float, optional
        Probabilities of the outcome below ``eps`` are raised to ``eps`` so that the
        score stays finite; default :data:`LOG_SCORE_EPS` (float64 machine epsilon,
        about 2.2e-16, giving at most about 36.04 nats per case).

    Returns
    -------
    float
        The score in nats, from 0 (all mass on the outcome) upward; lower is better.
    """
    if not (0.0 < float(eps) < 1.0):
        raise ScoringInputError(f"eps: got {eps!r}; expected a small positive number below 1")
    probs, obs = _validate(p, y)
    on_outcome = probs[np.arange(probs.shape[0]), obs]
    return float(np.mean(-np.log(np.maximum(on_outcome, eps))))


def ranked_probability_score(p: ArrayLike, y: ArrayLike) -> float:
    r"""Ranked probability score (Epstein 1969) for scenarios in a meaningful order.

    .. math:: \mathrm{RPS} = \frac1n \sum_{i=1}^n \sum_{k=0}^{S-1}
              \bigl(F_{ik} - 1\{y_i \le k\}\bigr)^2, \qquad F_{ik} = \sum_{j \le k} p_{ij}

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities over scenarios ordered ``0 < 1 < ... < S-1``.
    y : array_like, shape (n,) or (n, S)
        Outcomes as integer scenario indices, or ``(n, S)`` outcome probabilities.

    Returns
    -------
    float
        The unnormalised score: the sum runs over all ``S`` cumulative terms (the last
        is 0 because both cumulative distributions end at 1) and is **not** divided by
        ``S - 1``, the convention of ``scoringrules.rps_score``. It ranges from 0 to
        ``S - 1``; for ``S = 2`` it equals the binary squared error, half the
        :func:`brier_score`.
    """
    probs, obs = _validate(p, y, soft=True)
    onehot = _onehot(obs, probs.shape[1])
    diff = np.cumsum(probs, axis=1) - np.cumsum(onehot, axis=1)
    return float(np.mean(np.sum(diff**2, axis=1)))


def murphy_decomposition(p: ArrayLike, y: ArrayLike, *, bins: int = 10) -> MurphyDecomposition:
    r"""Binned reliability-resolution-uncertainty decomposition of the multi-class Brier score.

    For each scenario ``k`` (one-vs-rest), the forecasts ``p[:, k]`` are put in
    ``bins`` equal-width bins on [0, 1] (bin ``b`` holds ``b/bins <= x < (b+1)/bins``,
    the last bin also holds 1). With ``n_b`` cases in bin ``b``, mean forecast
    :math:`\bar f_b`, observed frequency :math:`\bar o_b` and overall frequency
    :math:`\bar o`,

    .. math::
        \mathrm{REL} = \sum_k \sum_b \frac{n_b}{n} (\bar f_b - \bar o_b)^2,\quad
        \mathrm{RES} = \sum_k \sum_b \frac{n_b}{n} (\bar o_b - \bar o)^2,\quad
        \mathrm{UNC} = \sum_k \bar o (1 - \bar o).

    Then ``brier_score(p, y) ≈ REL - RES + UNC``. The identity is exact when all
    forecasts of a scenario that share a bin are equal (for instance when forecasts
    take only bin-centre values, or a few distinct values in distinct bins);
    otherwise the gap is the within-bin variance and covariance terms of
    Stephenson, Coelho and Jolliffe (2008).

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    y : array_like, shape (n,)
        Outcomes as integer scenario indices ``0 .. S-1``.
    bins : int, optional
        Number of equal-width bins on [0, 1]; default 10.

    Returns
    -------
    MurphyDecomposition
        Named tuple ``(reliability, resolution, uncertainty, brier)``, all on the
        sum-over-scenarios Brier scale (0..2).
    """
    bins = _check_bins(bins)
    probs, obs = _validate(p, y)
    n, S = probs.shape
    onehot = _onehot(obs, S)
    rel = res = unc = 0.0
    for k in range(S):
        idx = _bin_index(probs[:, k], bins)
        counts = np.bincount(idx, minlength=bins).astype(np.float64)
        used = counts > 0
        f_bar = np.bincount(idx, weights=probs[:, k], minlength=bins)[used] / counts[used]
        o_bar = np.bincount(idx, weights=onehot[:, k], minlength=bins)[used] / counts[used]
        w = counts[used] / n
        base = onehot[:, k].mean()
        rel += float(np.sum(w * (f_bar - o_bar) ** 2))
        res += float(np.sum(w * (o_bar - base) ** 2))
        unc += float(base * (1.0 - base))
    brier = float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))
    return MurphyDecomposition(reliability=rel, resolution=res, uncertainty=unc, brier=brier)


def _binned_abs_gap(x: np.ndarray, hit: np.ndarray, bins: int) -> float:
    idx = _bin_index(x, bins)
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    sum_x = np.bincount(idx, weights=x, minlength=bins)
    sum_hit = np.bincount(idx, weights=hit, minlength=bins)
    # sum_b (n_b / n) |mean_x_b - mean_hit_b| = (1/n) sum_b |sum_x_b - sum_hit_b|
    return float(np.sum(np.abs(sum_x - sum_hit)) / counts.sum())


def expected_calibration_error(
    p: ArrayLike,
    y: ArrayLike,
    *,
    bins: int = 10,
    kind: Literal["classwise", "top-label"] = "classwise",
) -> float:
    r"""Compute the expected calibration error: equal-width bins on [0, 1], weighted by counts.

    Bin ``b`` holds probabilities ``b/bins <= x < (b+1)/bins`` (the last bin also
    holds 1). Within a bin with ``n_b`` cases the gap is ``|mean forecast - observed
    frequency|`` and the ECE is :math:`\sum_b (n_b / n)\,\mathrm{gap}_b`.

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    y : array_like, shape (n,)
        Outcomes as integer scenario indices ``0 .. S-1``.
    bins : int, optional
        Number of equal-width bins on [0, 1]; default 10.
    kind : {"classwise", "top-label"}, optional
        ``"classwise"`` (default): the ECE of each scenario's probability against
        its indicator (one-vs-rest), **averaged** over the ``S`` scenarios (Kull et
        al. 2019). ``"top-label"``: the ECE of the largest probability of each row
        against whether its scenario occurred (ties go to the lowest index; Guo et
        al. 2017).

    Returns
    -------
    float
        The ECE, between 0 (calibrated within bins) and 1.
    """
    bins = _check_bins(bins)
    if kind not in ("classwise", "top-label"):
        raise ScoringInputError(f"kind: got {kind!r}; expected 'classwise' or 'top-label'")
    probs, obs = _validate(p, y)
    n, S = probs.shape
    if kind == "top-label":
        top = np.argmax(probs, axis=1)
        conf = probs[np.arange(n), top]
        return _binned_abs_gap(conf, (top == obs).astype(np.float64), bins)
    onehot = _onehot(obs, S)
    return float(np.mean([_binned_abs_gap(probs[:, k], onehot[:, k], bins) for k in range(S)]))


def sharpness(p: ArrayLike, *, kind: Literal["max-prob", "entropy"] = "max-prob") -> float:
    """Sharpness of forecasts, a property of the forecasts alone (no outcomes).

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    kind : {"max-prob", "entropy"}, optional
        ``"max-prob"`` (default): the mean over rows of the largest probability,
        from ``1/S`` (uniform forecasts) to 1 (certain forecasts); higher is sharper.
        ``"entropy"``: the mean Shannon entropy of the rows in nats
        (``0 log 0 = 0``), from 0 (certain) to ``log S`` (uniform); lower is sharper.

    Returns
    -------
    float
        The chosen summary.
    """
    if kind not in ("max-prob", "entropy"):
        raise ScoringInputError(f"kind: got {kind!r}; expected 'max-prob' or 'entropy'")
    probs, _ = _forecast_values(p)
    if kind == "max-prob":
        return float(np.mean(np.max(probs, axis=1)))
    plogp = np.zeros_like(probs)
    pos = probs > 0
    plogp[pos] = probs[pos] * np.log(probs[pos])
    return float(np.mean(-np.sum(plogp, axis=1)))


# --------------------------------------------------------------------------- CORP


def _pav(x: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Isotonic (PAV) fit of ``hit`` on ``x``; cases with equal ``x`` get equal fitted values.

    Returns the fitted values in the original case order.
    """
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=hit) / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    return np.clip(fitted, 0.0, 1.0)[inverse]


def _consistency_band(
    x: np.ndarray, n_boot: int, ci: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise consistency band at ``x`` under the hypothesis that ``x`` is calibrated.

    Each replicate resamples the forecast values with replacement, draws outcomes
    ``o* ~ Bernoulli(x*)``, refits PAV and evaluates the fit at ``x`` by linear
    interpolation between the fitted points (constant beyond them).
    """
    n = x.shape[0]
    curves = np.empty((n_boot, n))
    for b in range(n_boot):
        xs = x[rng.integers(0, n, size=n)]
        os = (rng.random(n) < xs).astype(np.float64)
        values, inverse, counts = np.unique(xs, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=os) / counts
        fit = isotonic_regression(means, weights=counts.astype(np.float64)).x
        curves[b] = np.interp(x, values, fit)
    lo, hi = np.quantile(curves, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return lo, hi


def reliability_diagram(
    p: ArrayLike,
    y: ArrayLike,
    *,
    scenario: Hashable | Sequence[Hashable] | None = None,
    n_boot: int = 0,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = None,
) -> xr.Dataset:
    r"""CORP reliability diagram data and Brier score decomposition, per scenario.

    For each scenario ``k`` (one-vs-rest) the outcome indicator :math:`o_i = 1\{y_i = k\}`
    is regressed on the forecast :math:`x_i = p_{ik}` by isotonic regression
    (pool-adjacent-violators, ``scipy.optimize.isotonic_regression``; equal
    forecasts are pooled first so they share one recalibrated value), giving the
    recalibrated probabilities :math:`\hat x_i` (Dimitriadis, Gneiting and Jordan
    2021, "CORP"). With the binary Brier (squared error) scores
    :math:`\bar S_x = \mathrm{mean}(x - o)^2`, :math:`\bar S_c = \mathrm{mean}(\hat x - o)^2`
    and :math:`\bar S_r = \mathrm{mean}(\bar o - o)^2`,

    .. math::
        \mathrm{MCB} = \bar S_x - \bar S_c,\quad
        \mathrm{DSC} = \bar S_r - \bar S_c,\quad
        \mathrm{UNC} = \bar S_r,\qquad \bar S_x = \mathrm{MCB} - \mathrm{DSC} + \mathrm{UNC}

    exactly, with ``MCB >= 0`` and ``DSC >= 0``. Summed over all scenarios the
    ``brier`` values give :func:`brier_score`.

    Parameters
    ----------
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1. Scenario labels are taken from
        the DataArray's ``scenario`` coordinate when present, else ``0 .. S-1``.
    y : array_like, shape (n,)
        Outcomes as integer scenario indices ``0 .. S-1``.
    scenario : label or sequence of labels, optional
        The scenarios to include (by label); default all.
    n_boot : int, optional
        Number of bootstrap replicates for the consistency bands; 0 (default) skips them.
        Each replicate resamples the forecast values, draws outcomes from them as if
        they were calibrated, refits PAV and interpolates it at the forecast values.
    ci : float, optional
        Coverage of the pointwise consistency band; default 0.9.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the bootstrap.

    Returns
    -------
    xarray.Dataset
        Dimensions ``scenario`` and ``point`` (the ``n`` cases, sorted by forecast
        within each scenario). Variables: ``forecast`` and ``recalibrated``
        (scenario, point), ``outcome`` (the indicator), ``case`` (the row of ``p``
        each point comes from), and per scenario ``brier`` (binary squared error),
        ``mcb``, ``dsc``, ``unc``. With ``n_boot > 0`` also ``consistency_low`` and
        ``consistency_high`` (scenario, point).
    """
    n_boot = _check_n_boot(n_boot, allow_zero=True)
    ci = _check_ci(ci)
    probs, labels = _forecast_values(p)
    n, S = probs.shape
    obs = _outcome_values(y, n, S)
    all_labels: list[Hashable] = labels if labels is not None else list(range(S))
    if scenario is None:
        wanted = list(all_labels)
    elif isinstance(scenario, str) or not isinstance(scenario, Sequence):
        wanted = [scenario]
    else:
        wanted = list(scenario)
    columns = []
    for label in wanted:
        matches = [j for j, lab in enumerate(all_labels) if lab == label]
        if not matches:
            raise ScoringInputError(
                f"scenario: {label!r} is not one of the scenarios {all_labels!r}"
            )
        columns.append(matches[0])
    generator = np.random.default_rng(rng)

    m = len(columns)
    forecast = np.empty((m, n))
    recal = np.empty((m, n))
    outcome = np.empty((m, n))
    case = np.empty((m, n), dtype=np.int64)
    band_lo = np.empty((m, n))
    band_hi = np.empty((m, n))
    brier = np.empty(m)
    mcb = np.empty(m)
    dsc = np.empty(m)
    unc = np.empty(m)
    for j, k in enumerate(columns):
        x = probs[:, k]
        o = (obs == k).astype(np.float64)
        fitted = _pav(x, o)
        s_x = np.mean((x - o) ** 2)
        s_c = np.mean((fitted - o) ** 2)
        s_r = np.mean((o.mean() - o) ** 2)
        brier[j], mcb[j], dsc[j], unc[j] = s_x, s_x - s_c, s_r - s_c, s_r
        order = np.argsort(x, kind="stable")
        forecast[j], recal[j], outcome[j], case[j] = x[order], fitted[order], o[order], order
        if n_boot:
            band_lo[j], band_hi[j] = _consistency_band(x[order], n_boot, ci, generator)

    dims2 = ("scenario", "point")
    data_vars: dict[str, Any] = {
        "forecast": (dims2, forecast, {"description": "forecast probability, sorted"}),
        "recalibrated": (dims2, recal, {"description": "isotonic (PAV) recalibrated probability"}),
        "outcome": (dims2, outcome, {"description": "1 if the scenario occurred, else 0"}),
        "case": (dims2, case, {"description": "row of p this point comes from"}),
        "brier": ("scenario", brier, {"description": "binary squared error, mean over cases"}),
        "mcb": ("scenario", mcb, {"description": "CORP miscalibration, S_x - S_c"}),
        "dsc": ("scenario", dsc, {"description": "CORP discrimination, S_r - S_c"}),
        "unc": ("scenario", unc, {"description": "CORP uncertainty, S_r"}),
    }
    if n_boot:
        data_vars["consistency_low"] = (dims2, band_lo, {"description": f"{ci:g} band, lower"})
        data_vars["consistency_high"] = (dims2, band_hi, {"description": f"{ci:g} band, upper"})
    return xr.Dataset(
        data_vars,
        coords={"scenario": [all_labels[k] for k in columns], "point": np.arange(n)},
        attrs={
            "method": "CORP (Dimitriadis, Gneiting & Jordan 2021), PAV isotonic regression",
            "identity": "brier = mcb - dsc + unc",
            "n_boot": n_boot,
            "ci": ci,
        },
    )


# --------------------------------------------------------------------------- skill, baselines


def skill_score(score: ArrayLike, reference: ArrayLike) -> Any:
    """Skill of a negatively oriented score relative to a reference forecast.

    Parameters
    ----------
    score : float or array_like
        The forecaster's score (lower is better).
    reference : float or array_like
        The reference forecaster's score on the same cases, e.g. of
        :func:`uniform_baseline` or :func:`prior_baseline`. Must be nonzero.

    Returns
    -------
    float or array_like
        ``1 - score / reference``: 1 for a perfect forecaster, 0 for no improvement
        on the reference, negative when worse.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if np.any(ref == 0) or np.any(~np.isfinite(ref)):
        raise ScoringInputError(
            f"reference: got {reference!r}; the reference score must be finite and nonzero"
        )
    out = 1.0 - score / reference
    return float(out) if np.ndim(out) == 0 else out


def uniform_baseline(n: int, S: int) -> np.ndarray:
    """Uniform forecasts, probability ``1/S`` for every scenario in every case.

    Parameters
    ----------
    n : int
        Number of cases.
    S : int
        Number of scenarios (at least 2).

    Returns
    -------
    numpy.ndarray, shape (n, S)
        The forecasts.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ScoringInputError(f"n: got {n!r}; expected a positive integer number of cases")
    if isinstance(S, bool) or not isinstance(S, int | np.integer) or S < 2:
        raise ScoringInputError(f"S: got {S!r}; expected an integer number of scenarios >= 2")
    return np.full((int(n), int(S)), 1.0 / S)


def prior_baseline(prior: ArrayLike, n: int) -> np.ndarray:
    """Repeat the same prior (e.g. base-rate) forecast for every case.

    Parameters
    ----------
    prior : array_like, shape (S,)
        Scenario probabilities summing to 1.
    n : int
        Number of cases.

    Returns
    -------
    numpy.ndarray, shape (n, S)
        The forecasts.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ScoringInputError(f"n: got {n!r}; expected a positive integer number of cases")
    arr = np.asarray(prior.values if isinstance(prior, xr.DataArray) else prior, dtype=float)
    if arr.ndim != 1:
        raise ScoringInputError(
            f"prior: has shape {arr.shape}; expected a 1-D array of S scenario probabilities"
        )
    row, _ = _forecast_values(arr[np.newaxis, :], name="prior")
    return np.repeat(row, int(n), axis=0)


# --------------------------------------------------------------------------- bootstrap


def bootstrap(
    score_fn: Callable[[np.ndarray, np.ndarray], float],
    p: ArrayLike,
    y: ArrayLike,
    *,
    n_boot: int = 1000,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = None,
) -> BootstrapInterval:
    """Percentile bootstrap interval for any score, resampling cases with replacement.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(p, y) -> float``, e.g. :func:`brier_score`. It receives numpy
        arrays (``p`` of shape (n, S), ``y`` as given, both indexed by case).
    p : array_like or xarray.DataArray, shape (n, S)
        Forecast probabilities, rows summing to 1.
    y : array_like, shape (n,) or (n, S)
        Outcomes.
    n_boot : int, optional
        Number of bootstrap replicates; default 1000.
    ci : float, optional
        Coverage of the interval; default 0.9 (the 5% and 95% percentiles).
    rng : int or numpy.random.Generator, optional
        Seed or generator.

    Returns
    -------
    BootstrapInterval
        Named tuple ``(estimate, low, high)``: the score on all cases and the
        percentile interval of the replicates.
    """
    if not callable(score_fn):
        raise ScoringInputError(f"score_fn: got {score_fn!r}; expected a callable score_fn(p, y)")
    n_boot = _check_n_boot(n_boot, allow_zero=False)
    ci = _check_ci(ci)
    probs, _ = _forecast_values(p)
    n, S = probs.shape
    obs_raw = y.values if isinstance(y, xr.DataArray) else np.asarray(y)
    _outcome_values(obs_raw, n, S, soft=True)  # validate only
    generator = np.random.default_rng(rng)
    estimate = float(score_fn(probs, obs_raw))
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = generator.integers(0, n, size=n)
        reps[b] = score_fn(probs[idx], obs_raw[idx])
    low, high = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2])
    return BootstrapInterval(estimate=estimate, low=float(low), high=float(high))
