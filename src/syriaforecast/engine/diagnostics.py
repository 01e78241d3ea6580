"""Rank-normalised R-hat and ESS for many quantities at once.

The same estimators as ArviZ (``arviz_stats.rhat``, ``ess(method="bulk")`` and
``ess(method="tail")``; Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021),
computed for every reported probability in one pass: the ranks, the normal
scores and the autocovariances (by FFT) of all quantities are batched, and only
Geyer's short truncation loop runs per quantity. ArviZ calls its estimators once
per quantity, which took most of a forecast's post-processing (about 100
probabilities per period table, 8,000 draws each). ``tests/test_diagnostics.py``
checks these against ArviZ.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021).
Rank-normalization, folding, and localization: an improved R-hat for assessing
convergence of MCMC. *Bayesian Analysis*, 16(2), 667-718.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import ndtri

__all__ = ["convergence_summary", "ess_bulk", "ess_mean", "ess_tail", "hdi_nearest", "mcse_mean", "rhat"]


def _split(values: np.ndarray) -> np.ndarray:
    """(chains, draws, K) -> (2 chains, draws // 2, K): each chain's first and last halves."""
    half = values.shape[1] // 2
    return np.concatenate([values[:, :half], values[:, values.shape[1] - half :]], axis=0)


def _z_scale(values: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (average ranks for ties), per quantity."""
    M, H, K = values.shape
    # Rank along contiguous rows (one per quantity): far faster than along a strided axis. No
    # stable sort is needed: tied values get the average of their positions below.
    n = M * H
    rows = np.ascontiguousarray(values.reshape(n, K).T)
    order = np.argsort(rows, axis=1)
    ordered = np.take_along_axis(rows, order, axis=1)
    # Untied ranks are 1..n in every row: their normal scores are one table of n values, put in
    # place by the sort order (the same numbers as ndtri of each rank, for a fraction of the work).
    score = np.empty_like(rows)
    table = ndtri((np.arange(1.0, n + 1) - 0.375) / (n + 0.25))
    np.put_along_axis(score, order, np.broadcast_to(table, rows.shape), axis=1)
    tied = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
    if tied.size:
        # Ties (e.g. resampled draws) share the average of the positions they take: in sorted
        # order a run of equal values from position a to b (0-based) has rank (a + b) / 2 + 1.
        runs = ordered[tied]
        position = np.broadcast_to(np.arange(n), runs.shape)
        starts = np.ones(runs.shape, dtype=bool)
        starts[:, 1:] = runs[:, 1:] != runs[:, :-1]
        ends = np.ones(runs.shape, dtype=bool)
        ends[:, :-1] = starts[:, 1:]
        first = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
        last = np.minimum.accumulate(np.where(ends, position, n - 1)[:, ::-1], axis=1)[:, ::-1]
        tied_rank = np.empty(runs.shape)
        np.put_along_axis(tied_rank, order[tied], (first + last) / 2.0 + 1.0, axis=1)
        score[tied] = ndtri((tied_rank - 0.375) / (n + 0.25))
    return np.ascontiguousarray(score.T).reshape(M, H, K)


def _rhat(values: np.ndarray) -> np.ndarray:
    n = values.shape[1]
    chain_mean = values.mean(axis=1)
    between = n * chain_mean.var(axis=0, ddof=1)
    within = values.var(axis=1, ddof=1).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def rhat(values: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of bulk and folded-tail), per quantity.

    Parameters
    ----------
    values : ndarray (chains, draws, K)

    Returns
    -------
    ndarray (K,)
    """
    split = _split(np.asarray(values, dtype=float))
    bulk = _rhat(_z_scale(split))
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    tail = _rhat(_z_scale(folded))
    return np.maximum(bulk, tail)


def _ess(values: np.ndarray) -> np.ndarray:
    """ESS of (chains, draws, K) values by Geyer's initial monotone sequence, as ArviZ computes it."""
    M, N, K = values.shape
    out = np.empty(K)
    spread = values.max(axis=(0, 1)) - values.min(axis=(0, 1))
    m = next_fast_len(2 * N)
    centred = np.ascontiguousarray((values - values.mean(axis=1, keepdims=True)).transpose(0, 2, 1))
    spectrum = rfft(centred, n=m, axis=2)  # (M, K, m // 2 + 1), transformed along contiguous rows
    acov = irfft(spectrum * np.conjugate(spectrum), n=m, axis=2)[:, :, :N] / N  # (M, K, N)
    mean_acov = acov.mean(axis=0).T  # (N, K)
    mean_var = mean_acov[0] * N / (N - 1.0)
    var_plus = mean_var * (N - 1.0) / N
    if M > 1:
        var_plus = var_plus + values.mean(axis=1).var(axis=0, ddof=1)
    resolution = np.finfo(float).resolution
    for k in range(K):
        if spread[k] < resolution:
            out[k] = M * N
            continue
        rho = np.zeros(N)
        mv, vp, ac = mean_var[k], var_plus[k], mean_acov[:, k]
        even, odd = 1.0, 1.0 - (mv - ac[1]) / vp
        rho[0], rho[1] = even, odd
        t = 1
        while t < N - 3 and even + odd > 0.0:
            even = 1.0 - (mv - ac[t + 1]) / vp
            odd = 1.0 - (mv - ac[t + 2]) / vp
            if even + odd >= 0:
                rho[t + 1], rho[t + 2] = even, odd
            t += 2
        max_t = t - 2
        if even > 0:
            rho[max_t + 1] = even
        t = 1
        while t <= max_t - 2:
            if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
                rho[t + 2] = rho[t + 1]
            t += 2
        total = M * N
        tau = float(-1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2]))
        tau = max(tau, 1 / math.log10(total))
        out[k] = np.nan if np.isnan(rho).any() else total / tau
    return out


def convergence_summary(
    values: np.ndarray, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rhat, ess_bulk, ess_tail)`` of (chains, draws, K) values, sharing the rank normalisation.

    ``threads > 1`` splits the quantities between threads (sorting, FFTs and normal
    scores release the GIL); every estimator works quantity by quantity, so the
    numbers are the same.
    """
    values = np.asarray(values, dtype=float)
    K = values.shape[2]
    threads = max(1, min(threads, K // 16))
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(convergence_summary, np.array_split(values, threads, axis=2)))
        r, bulk, tail = (np.concatenate([part[i] for part in parts]) for i in range(3))
        return r, bulk, tail
    split = _split(values)
    z = _z_scale(split)
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    r = np.maximum(_rhat(z), _rhat(_z_scale(folded)))
    return r, _ess(z), ess_tail(values)


def ess_bulk(values: np.ndarray) -> np.ndarray:
    """Bulk ESS (rank-normalised split chains), per quantity of (chains, draws, K) values."""
    return _ess(_z_scale(_split(np.asarray(values, dtype=float))))


def ess_tail(values: np.ndarray, prob: float = 0.89) -> np.ndarray:
    """Tail ESS: the smaller ESS of the ``prob`` and ``1 - prob`` quantile indicators, per quantity.

    The default 0.89 is ArviZ's default ``stats.ci_prob`` (what forecasts reported before).
    """
    values = np.asarray(values, dtype=float)
    flat = values.reshape(-1, values.shape[2])
    # Both quantiles from one partial sort of each quantity's draws.
    quantiles = np.quantile(flat, sorted((prob, 1 - prob)), axis=0)
    out = [_ess(_split((values <= quantile).astype(float))) for quantile in quantiles]
    return np.minimum(*out)


def ess_mean(values: np.ndarray) -> np.ndarray:
    """ESS of the mean (split chains, no rank normalisation), per quantity of (chains, draws, K) values.

    ArviZ's ``ess(method="mean")``.
    """
    return _ess(_split(np.asarray(values, dtype=float)))


def mcse_mean(values: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the mean, per quantity of (chains, draws, K) values.

    ArviZ's ``mcse(method="mean")``: the pooled standard deviation (ddof 1) over the
    square root of the ESS of the mean (split chains, no rank normalisation).
    """
    values = np.asarray(values, dtype=float)
    sd = values.reshape(-1, values.shape[2]).std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sd / np.sqrt(_ess(_split(values)))


def hdi_nearest(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the narrowest interval of draws holding ``prob`` of them, per column.

    ArviZ's ``hdi(method="nearest")`` for (N, K) values: the draws sorted, the
    interval spanning ``floor(prob N)`` positions with the least width.
    """
    ordered = np.sort(np.asarray(values, dtype=float), axis=0)
    n = ordered.shape[0]
    inc = min(math.floor(prob * n), n - 1)
    width = np.subtract(ordered[inc:], ordered[: n - inc], dtype=np.float64)
    low = np.argmin(width, axis=0)
    columns = np.arange(ordered.shape[1])
    return ordered[low, columns], ordered[low + inc, columns]
