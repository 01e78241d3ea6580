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
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["K_THRESHOLD", "kish_ess", "psis_weights", "relative_efficiency", "systematic_resample"]

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
    from arviz_stats.base import array_stats

    ratios = np.exp(log_ratio - log_ratio.max()).reshape(chains, draws)
    if chains * draws < 8 or np.ptp(ratios) == 0:
        return 1.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        ess = float(array_stats.ess(ratios, chain_axis=0, draw_axis=1, method="mean"))
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
    from arviz_stats.base import array_stats

    log_ratio = np.asarray(log_ratio, dtype=float)
    if log_ratio.size < 10 or not np.all(np.isfinite(log_ratio)):
        return None, math.inf
    try:
        # psislw smooths the tail of exp(-x) (it is written for leave-one-out ratios 1/p).
        log_weights, khat = array_stats.psislw(-log_ratio, r_eff=r_eff)
    except ValueError:
        return None, math.inf
    k = float(khat)
    if not math.isfinite(k) or not np.all(np.isfinite(log_weights)):
        return None, math.inf
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum(), k


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
