"""Pareto-smoothed importance sampling between posteriors of the same model.

With draws ``theta_d`` from the posterior given evidence ``E_old``, the posterior
given ``E_new`` (the same prior, a different likelihood) is reached by the
importance ratios

    w_d  ∝  p(E_new | theta_d) / p(E_old | theta_d),

where ``p(E | theta)`` is the chain's marginal likelihood (the latent scenario
path summed out by the forward algorithm). The ratios' upper tail is smoothed
by a generalised Pareto fit and its shape ``k`` says whether the weighted draws
can be trusted: ``k <= 0.7`` for the draw counts used here (Vehtari et al. 2024).
Both the backtest's replay between cutoffs and ``forecast(previous=...)`` use it.

References
----------
Vehtari, A., Simpson, D., Gelman, A., Yao, Y. and Gabry, J. (2024). Pareto
smoothed importance sampling. *Journal of Machine Learning Research*, 25(72).

Zhang, J. and Stephens, M. A. (2009). A new and efficient estimation method for
the generalized Pareto distribution. *Technometrics*, 51(3), 316-325.

The smoothing is arviz-stats' ``psislw`` (its ``_ps_tail`` and ``_gpdfit``),
written out here in NumPy: importing arviz-stats pulls in ``scipy.stats`` and
cost 1.3-2 CPU s on the first update of a process, many times the update
itself. ``tests/test_psis.py`` checks the two give the same log weights and
``k`` on light and heavy tails.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "K_THRESHOLD",
    "gpd_fit",
    "kish_ess",
    "psis_weights",
    "relative_efficiency",
    "smoothed_log_weights",
    "systematic_resample",
]

#: Largest Pareto k at which importance-weighted draws are used instead of refitting.
K_THRESHOLD = 0.7


def relative_efficiency(log_ratio: np.ndarray, chains: int, draws: int) -> float:
    """Relative ESS of the importance ratios over the MCMC draws (as ``loo`` computes ``r_eff``).

    Parameters
    ----------
    log_ratio : ndarray (chains * draws,)
        Log importance ratios in chain-major order.
    chains, draws : int
        The MCMC layout of the draws.

    Returns
    -------
    float
        In ``(0, 1]``; 1 when it cannot be estimated.
    """
    from syriaforecast.engine.diagnostics import ess_mean

    ratios = np.exp(log_ratio - log_ratio.max()).reshape(chains, draws)
    if chains * draws < 8 or draws < 4 or np.ptp(ratios) == 0:
        return 1.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        # ArviZ's ess(method="mean"): split chains, Geyer's initial monotone sequence.
        ess = float(ess_mean(ratios[:, :, None])[0])
    if not math.isfinite(ess) or ess <= 0:
        return 1.0
    return min(1.0, ess / (chains * draws))


def psis_weights(log_ratio: np.ndarray, *, r_eff: float = 1.0) -> tuple[np.ndarray | None, float]:
    """Pareto-smoothed, normalised importance weights and their Pareto ``k``.

    Parameters
    ----------
    log_ratio : ndarray (D,)
        Log importance ratios ``log p(E_new | theta_d) - log p(E_old | theta_d)``.
    r_eff : float
        Relative efficiency of the draws (1 for independent draws).

    Returns
    -------
    (weights, k)
        Weights summing to one, or ``None`` with ``k = inf`` when the ratios
        cannot be smoothed (non-finite values, too few draws).
    """
    log_ratio = np.asarray(log_ratio, dtype=float)
    if log_ratio.size < 10 or not np.all(np.isfinite(log_ratio)):
        return None, math.inf
    try:
        log_weights, k = smoothed_log_weights(log_ratio, r_eff=r_eff)
    except ValueError:
        return None, math.inf
    if not math.isfinite(k) or not np.all(np.isfinite(log_weights)):
        return None, math.inf
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum(), k


def _logsumexp(values: np.ndarray) -> float:
    top = float(np.max(values))
    return top + math.log(float(np.sum(np.exp(values - top))))


def gpd_fit(x: np.ndarray) -> tuple[float, float]:
    """Shape ``k`` and scale ``sigma`` of a generalised Pareto fit to sorted exceedances ``x >= 0``.

    Zhang and Stephens' (2009) empirical Bayes estimate, with the weakly
    informative prior on ``k`` (normal, centred at 0.5, worth 10 observations)
    of Vehtari et al. (2024), as arviz-stats' ``_gpdfit`` and loo's ``gpdfit``.

    Returns
    -------
    (k, sigma)
        ``(nan, nan)`` when the first quartile does not exceed the minimum (far
        from a generalised Pareto distribution); ``k = inf`` when the fit fails.
    """
    prior_bs, prior_k = 3, 10
    n = len(x)
    m = 30 + int(n**0.5)
    xstar = x[int((n / 4 + 0.5) - 1)]  # first quartile
    if xstar <= x[0]:
        return math.nan, math.nan
    b = 1 - np.sqrt(m / (np.arange(1, m + 1, dtype=float) - 0.5))
    b /= prior_bs * xstar
    b += 1 / x[-1]
    k = np.mean(np.log1p(-b[:, None] * x), axis=1)
    profile = n * (np.log(-b / k) - k - 1)  # profile log-likelihood of each candidate b
    w = np.exp(profile - _logsumexp(profile))
    keep = w >= 10 * np.finfo(float).eps  # negligible weights dropped
    if not np.all(keep):
        w, b = w[keep], b[keep]
    w /= w.sum()
    b_post = np.sum(b * w)
    k_post = float(np.mean(np.log1p(-b_post * x)))
    sigma = -k_post / b_post
    k_post = (n * k_post + prior_k * 0.5) / (n + prior_k)
    if math.isnan(k_post):
        return math.inf, math.nan
    return k_post, float(sigma)


def smoothed_log_weights(log_ratio: np.ndarray, *, r_eff: float = 1.0) -> tuple[np.ndarray, float]:
    """Pareto-smoothed log weights (normalised to log-sum-exp 0) and the tail's Pareto ``k``.

    The largest ``M = floor(3 sqrt(D / r_eff))`` ratios (``floor(D / 5)`` when
    ``D r_eff <= 225``) are replaced by the expected order statistics of a
    generalised Pareto fit to their exceedances over the next largest ratio,
    capped at the largest raw ratio (Vehtari et al. 2024, algorithm 1). When the
    fit is not finite the ratios are only normalised and ``k`` is returned as is.

    Raises
    ------
    ValueError
        Fewer than 5 tail draws, or all tail ratios equal (as arviz-stats).
    """
    ary = np.array(log_ratio, dtype=float).ravel()
    n = ary.size
    n_tail = math.floor(3 * (n / r_eff) ** 0.5) if n * r_eff > 225 else n // 5
    if n_tail < 5:
        raise ValueError("n_draws_tail must be at least 5")
    ary -= ary.max()
    order = np.argsort(ary)
    tail_index = order[n - n_tail :]
    tail = ary[tail_index]
    cutoff = ary[order[n - n_tail - 1]]  # the largest ratio below the tail
    max_tail, min_tail = tail.max(), tail.min()
    if abs(max_tail - min_tail) < np.finfo(float).tiny:
        raise ValueError("All tail values are the same")
    k, sigma = gpd_fit(np.exp(tail) - math.exp(cutoff))
    if math.isfinite(k):
        p = np.arange(0.5, n_tail) / n_tail
        # The fit's quantiles at p, above the cutoff (sigma <= 0 has none).
        if sigma <= 0:
            smoothed = np.full_like(p, np.nan)
        elif k == 0:
            smoothed = math.exp(cutoff) - sigma * np.log1p(-p)
        else:
            smoothed = math.exp(cutoff) + sigma * np.expm1(-k * np.log1p(-p)) / k
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = np.log(smoothed)
        smoothed[smoothed > max_tail] = max_tail
        ary[tail_index] = smoothed
    ary -= _logsumexp(ary)
    return ary, k


def kish_ess(weights: np.ndarray, *, r_eff: float = 1.0) -> float:
    """Effective sample size of self-normalised weights, ``r_eff / sum(w**2)``."""
    weights = np.asarray(weights, dtype=float)
    return float(r_eff / np.sum((weights / weights.sum()) ** 2))


def systematic_resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws resampled in proportion to ``weights`` (systematic resampling).

    Systematic resampling keeps every draw ``floor(n w_d)`` or ``ceil(n w_d)``
    times, the least extra Monte Carlo noise of the unbiased schemes (Douc,
    Cappé and Moulines 2005). The indices come back sorted, so runs of one
    original chain stay together.
    """
    weights = np.asarray(weights, dtype=float)
    cumulative = np.cumsum(weights / weights.sum())
    cumulative[-1] = 1.0
    positions = (rng.random() + np.arange(n)) / n
    return np.searchsorted(cumulative, positions, side="left")
