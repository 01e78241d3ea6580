"""Each analyst's track record over resolved cases: the posterior of their own elicitation noise.

In a model elicited by several analysts, analyst ``a``'s elicitations are read
as the true logit likelihood plus a bias plus their own noise of scale
``tau_a`` (see :mod:`syriaforecast.engine.data`). Every resolved case a backtest
replays updates ``tau_a``: from how far the analyst's tables sit from the
others', and from how well they predicted the reports. A backtest keeps, per
case, the posterior density of ``log tau_a`` at the case's last cutoff (all the
evidence the case had), on the fixed grid :data:`LOG_NOISE_GRID`.

Pooling the cases
-----------------
The cases are independent given ``tau_a``, so the posterior given all of them is

    p(tau | cases)  ∝  p(tau) * prod_c L_c(tau),   L_c(tau) ∝ p_c(tau | case c) / p_c(tau),

each case's likelihood being its posterior divided by the prior it was fitted
under (``HalfNormal(analyst_noise)`` of that case's model file). This
:func:`analyst_track_record` evaluates on the grid. It is exact for the
marginal posteriors the cases report, and approximate in one respect: it treats
``tau_a``'s marginal likelihood in each case as if the case's other parameters
(bias, true likelihoods) were fixed at their conditional values, which holds
well when each case's posterior of ``tau_a`` is unimodal, as it is in practice.
The pooled posterior is reported under the prior of the first case naming the
analyst.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from syriaforecast.errors import SyriaforecastError

__all__ = ["LOG_NOISE_GRID", "analyst_track_record", "log_noise_density", "log_prior_density"]

#: Grid of ``log tau`` (natural log of an analyst's noise scale, logit units): 0.01 to 10.
LOG_NOISE_GRID = np.linspace(math.log(0.01), math.log(10.0), 241)
_TINY = 1e-300


def log_prior_density(log_noise: np.ndarray, scale: float) -> np.ndarray:
    """Log density of ``u = log tau`` when ``tau ~ HalfNormal(scale)`` (Jacobian ``tau``)."""
    tau = np.exp(log_noise)
    return (
        math.log(2.0) - 0.5 * math.log(2.0 * math.pi) - math.log(scale) - 0.5 * (tau / scale) ** 2 + log_noise
    )


def log_noise_density(noise_draws: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Density of ``log tau`` on :data:`LOG_NOISE_GRID` from weighted posterior draws.

    A Gaussian kernel density estimate with Silverman's bandwidth computed from
    the weighted standard deviation and the importance-sampling effective
    sample size, normalised to integrate to one over the grid.

    Parameters
    ----------
    noise_draws : ndarray, shape (D, A)
        Posterior draws of each analyst's noise scale ``tau`` (> 0).
    weights : ndarray, shape (D,), optional
        Normalised importance weights (PSIS-reweighted draws); equal by default.

    Returns
    -------
    ndarray, shape (A, G)
    """
    draws = np.log(np.asarray(noise_draws, dtype=float))
    D, A = draws.shape
    w = np.full(D, 1.0 / D) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    n_eff = 1.0 / float(np.sum(w**2))
    grid = LOG_NOISE_GRID
    out = np.empty((A, grid.size))
    for a in range(A):
        mean = float(w @ draws[:, a])
        sd = math.sqrt(max(float(w @ (draws[:, a] - mean) ** 2), 1e-12))
        bandwidth = max(1.06 * sd * n_eff ** (-0.2), 1e-3)
        z = (grid[:, None] - draws[None, :, a]) / bandwidth
        density = np.exp(-0.5 * z**2) @ w / (bandwidth * math.sqrt(2 * math.pi))
        out[a] = density / np.trapezoid(density, grid)
    return out


def _summary(log_density: np.ndarray, prob: float) -> tuple[float, float, float]:
    """Mean and equal-tailed interval of ``tau`` from a density of ``log tau`` on the grid."""
    grid = LOG_NOISE_GRID
    density = np.exp(log_density - log_density.max())
    density /= np.trapezoid(density, grid)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    tail = (1.0 - prob) / 2.0
    low, high = np.interp([tail, 1.0 - tail], cdf, grid)
    mean = float(np.trapezoid(np.exp(grid) * density, grid))
    return mean, float(np.exp(low)), float(np.exp(high))


def analyst_track_record(result: xr.Dataset, *, prob: float = 0.9) -> xr.Dataset:
    """Each analyst's noise scale, per resolved case and pooled over all cases.

    Parameters
    ----------
    result : xarray.Dataset
        A hierarchical :func:`~syriaforecast.backtest.backtest` result of cases
        whose models name analysts (it carries ``analyst_noise_density``).
    prob : float
        Probability mass of the equal-tailed intervals.

    Returns
    -------
    xarray.Dataset
        Dimension ``analyst``, and ``case`` for the per-case variables:
        ``noise_mean``, ``noise_low``, ``noise_high`` (case, analyst): the
        posterior of the analyst's noise given that case's evidence (NaN where
        the analyst did not elicit the case); ``pooled_mean``, ``pooled_low``,
        ``pooled_high`` (analyst): the posterior given every case; ``n_cases``
        (analyst). Noise is in logit units: about 0.5 means the analyst's
        likelihoods are typically off by a factor of e^0.5 ≈ 1.6 in odds.

    Raises
    ------
    SyriaforecastError
        When the result has no analyst densities, or ``prob`` is not in (0, 1).
    """
    if "analyst_noise_density" not in result:
        raise SyriaforecastError(
            "result: has no analyst_noise_density; the track record needs a hierarchical backtest of "
            "cases whose model files name several analysts ([indicators.elicitations.<analyst>])"
        )
    if not 0.0 < prob < 1.0:
        raise SyriaforecastError(f"prob: got {prob!r}; expected a probability between 0 and 1")
    density = result["analyst_noise_density"].transpose("case", "analyst", "log_noise").values
    scales = result["analyst_noise_prior_scale"].values
    grid = LOG_NOISE_GRID
    cases, analysts = result["case"].values, result["analyst"].values
    per_case = np.full((3, len(cases), len(analysts)), np.nan)
    pooled = np.full((3, len(analysts)), np.nan)
    n_cases = np.zeros(len(analysts), dtype=np.int64)
    for a in range(len(analysts)):
        log_posterior = np.zeros(grid.size)
        first_scale = None
        for c in range(len(cases)):
            if not np.all(np.isfinite(density[c, a])):
                continue
            log_case = np.log(np.maximum(density[c, a], _TINY))
            per_case[:, c, a] = _summary(log_case, prob)
            log_posterior += log_case - log_prior_density(grid, float(scales[c]))
            first_scale = float(scales[c]) if first_scale is None else first_scale
            n_cases[a] += 1
        if first_scale is not None:
            pooled[:, a] = _summary(log_posterior + log_prior_density(grid, first_scale), prob)
    case_dims = ("case", "analyst")
    return xr.Dataset(
        {
            "noise_mean": (case_dims, per_case[0]),
            "noise_low": (case_dims, per_case[1]),
            "noise_high": (case_dims, per_case[2]),
            "pooled_mean": ("analyst", pooled[0]),
            "pooled_low": ("analyst", pooled[1]),
            "pooled_high": ("analyst", pooled[2]),
            "n_cases": ("analyst", n_cases),
        },
        coords={"case": cases, "analyst": analysts},
        attrs={"prob": prob, "units": "logit (binary, ordinal) or log rate (count)"},
    )
