"""Each analyst's track record over resolved cases: the posterior of their own elicitation noise.

In a model elicited by several analysts, analyst ``a``'s elicitations are read
as the true logit likelihood plus a bias plus their own noise of scale
``tau_a`` (see :mod:`syriaforecast.engine.data`). Every resolved case a backtest
replays updates ``tau_a``: from how far the analyst's tables sit from the
others', and from how well they predicted the reports. A backtest keeps, per
case and analyst, the posterior of ``tau_a`` at the case's last cutoff (all the
evidence the case had): its mean and 90% interval, and the mean and variance
of ``u = log tau_a`` (:func:`noise_posterior`).

Pooling the cases
-----------------
The cases are independent given ``tau_a``, so the posterior given all of them is

    p(u | cases)  ∝  p(u) * prod_c L_c(u),      u = log tau_a,

with ``L_c`` the likelihood case ``c`` gives ``u``: its posterior divided by
the prior it was fitted under (``HalfNormal(analyst_noise)`` of that case's
model file). A backtest stores each case's posterior mass of ``u`` in the
bins of :data:`LOG_NOISE_EDGES`; :func:`analyst_track_record` divides each
bin's mass by the prior's exact mass in that bin, multiplies the cases'
likelihoods and the prior of the first case naming the analyst, and
summarises. Histogram ratios make no assumption on the likelihood's shape,
which matters: with two analysts, disagreement pins down only the sum of their
noise variances, so one analyst's likelihood is often one-sided (flat towards
zero noise). Bins where a case has no draw get a likelihood of one thousandth
of that case's largest, so that no case can rule a bin out by sampling
chance alone. The pooled posterior treats the analyst's noise as the only
quantity the cases share.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import xarray as xr

from syriaforecast.errors import SyriaforecastError

__all__ = [
    "LOG_NOISE_EDGES",
    "analyst_track_record",
    "case_log_likelihood",
    "log_prior_density",
    "noise_posterior",
    "prior_bin_mass",
]

#: Bin edges of ``u = log tau`` (natural log of an analyst's noise scale, logit units): 0.005 to 20.
LOG_NOISE_EDGES = np.linspace(math.log(0.005), math.log(20.0), 121)
#: The probability of the per-case intervals a backtest stores.
INTERVAL_PROB = 0.9
#: A bin without draws keeps this fraction of the case's largest likelihood.
_EMPTY_BIN_LIKELIHOOD = 1e-3


def log_prior_density(log_noise: np.ndarray, scale: float) -> np.ndarray:
    """Log density of ``u = log tau`` when ``tau ~ HalfNormal(scale)`` (Jacobian ``tau``)."""
    log_noise = np.asarray(log_noise, dtype=float)
    tau = np.exp(log_noise)
    return (
        math.log(2.0) - 0.5 * math.log(2.0 * math.pi) - math.log(scale) - 0.5 * (tau / scale) ** 2 + log_noise
    )


def prior_bin_mass(scale: float) -> np.ndarray:
    """Exact prior mass of each bin of :data:`LOG_NOISE_EDGES` under ``HalfNormal(scale)``.

    As in :func:`noise_posterior`, the mass below the first edge and above the
    last belongs to the end bins.
    """
    cdf = scipy.special.erf(np.exp(LOG_NOISE_EDGES) / (scale * math.sqrt(2.0)))
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, probs: list[float]) -> np.ndarray:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    cumulative = (cumulative - 0.5 * weights[order]) / cumulative[-1]
    return np.interp(probs, cumulative, values[order])


def noise_posterior(noise_draws: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Summaries of each analyst's noise posterior from (importance-weighted) draws.

    Parameters
    ----------
    noise_draws : ndarray, shape (D, A)
        Posterior draws of each analyst's noise scale ``tau`` (> 0).
    weights : ndarray, shape (D,), optional
        Importance weights (PSIS-reweighted draws); equal by default.

    Returns
    -------
    dict of str to ndarray, each shape (A,)
        ``mean``, ``low`` and ``high`` of ``tau`` (equal-tailed
        :data:`INTERVAL_PROB` interval); and ``bin_mass`` (A, bins), the
        posterior mass in each bin of :data:`LOG_NOISE_EDGES` (mass outside
        the edges goes to the end bins).
    """
    tau = np.asarray(noise_draws, dtype=float)
    D, A = tau.shape
    w = np.full(D, 1.0 / D) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    u = np.log(tau)
    tail = (1.0 - INTERVAL_PROB) / 2.0
    quantiles = np.array([_weighted_quantiles(tau[:, a], w, [tail, 1.0 - tail]) for a in range(A)])
    n_bins = LOG_NOISE_EDGES.size - 1
    bins = np.clip(np.searchsorted(LOG_NOISE_EDGES, u, side="right") - 1, 0, n_bins - 1)
    bin_mass = np.stack([np.bincount(bins[:, a], weights=w, minlength=n_bins) for a in range(A)])
    return {"mean": w @ tau, "low": quantiles[:, 0], "high": quantiles[:, 1], "bin_mass": bin_mass}


def case_log_likelihood(bin_mass: np.ndarray, scale: float) -> np.ndarray:
    """Log likelihood of each bin of ``log tau`` from one case: posterior mass over prior mass.

    Parameters
    ----------
    bin_mass : ndarray, shape (bins,)
        The case's posterior mass per bin of :data:`LOG_NOISE_EDGES`.
    scale : float
        The ``HalfNormal`` prior scale the case was fitted under.

    Returns
    -------
    ndarray, shape (bins,)
        Up to a constant; bins without mass get the log of
        ``1e-3 * max likelihood``.
    """
    prior = prior_bin_mass(scale)
    ratio = np.divide(bin_mass, prior, out=np.zeros_like(prior, dtype=float), where=prior > 0)
    floor = _EMPTY_BIN_LIKELIHOOD * ratio.max()
    return np.log(np.maximum(ratio, floor))


def _summary(log_mass: np.ndarray, prob: float) -> tuple[float, float, float]:
    """Mean and equal-tailed interval of ``tau`` from log masses of the bins of ``log tau``.

    Mass is spread evenly in ``log tau`` within a bin.
    """
    mass = np.exp(log_mass - log_mass.max())
    mass /= mass.sum()
    edges = LOG_NOISE_EDGES
    cdf = np.concatenate([[0.0], np.cumsum(mass)])
    tail = (1.0 - prob) / 2.0
    low, high = np.interp([tail, 1.0 - tail], cdf, edges)
    width = np.diff(edges)
    mean_in_bin = (np.exp(edges[1:]) - np.exp(edges[:-1])) / width  # E[tau] for u uniform in the bin
    return float(mass @ mean_in_bin), float(np.exp(low)), float(np.exp(high))


def analyst_track_record(result: xr.Dataset, *, prob: float = 0.9) -> xr.Dataset:
    """Each analyst's noise scale, per resolved case and pooled over all cases.

    Parameters
    ----------
    result : xarray.Dataset
        A hierarchical :func:`~syriaforecast.backtest.backtest` result of cases
        whose models name analysts (it carries the ``analyst_noise_*``
        variables).
    prob : float
        Probability mass of the pooled equal-tailed intervals (the per-case
        intervals are the backtest's :data:`INTERVAL_PROB`).

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
        When the result has no analyst variables, or ``prob`` is not in (0, 1).
    """
    if "analyst_noise_bin_mass" not in result:
        raise SyriaforecastError(
            "result: has no analyst_noise_bin_mass; the track record needs a hierarchical backtest of "
            "cases whose model files name several analysts ([indicators.elicitations.<analyst>])"
        )
    if not 0.0 < prob < 1.0:
        raise SyriaforecastError(f"prob: got {prob!r}; expected a probability between 0 and 1")

    def values(name: str) -> np.ndarray:
        return result[name].transpose("case", "analyst", ...).values

    bin_mass = values("analyst_noise_bin_mass")
    scales = result["analyst_noise_prior_scale"].values
    cases, analysts = result["case"].values, result["analyst"].values
    pooled = np.full((3, len(analysts)), np.nan)
    n_cases = np.zeros(len(analysts), dtype=np.int64)
    for a in range(len(analysts)):
        log_posterior = np.zeros(LOG_NOISE_EDGES.size - 1)
        first_scale = None
        for c in range(len(cases)):
            if not np.all(np.isfinite(bin_mass[c, a])):
                continue
            log_posterior += case_log_likelihood(bin_mass[c, a], float(scales[c]))
            first_scale = float(scales[c]) if first_scale is None else first_scale
            n_cases[a] += 1
        if first_scale is not None:
            with np.errstate(divide="ignore"):
                log_prior = np.log(prior_bin_mass(first_scale))
            pooled[:, a] = _summary(log_posterior + log_prior, prob)
    case_dims = ("case", "analyst")
    return xr.Dataset(
        {
            "noise_mean": (case_dims, values("analyst_noise_mean")),
            "noise_low": (case_dims, values("analyst_noise_low")),
            "noise_high": (case_dims, values("analyst_noise_high")),
            "pooled_mean": ("analyst", pooled[0]),
            "pooled_low": ("analyst", pooled[1]),
            "pooled_high": ("analyst", pooled[2]),
            "n_cases": ("analyst", n_cases),
        },
        coords={"case": cases, "analyst": analysts},
        attrs={
            "prob": prob,
            "case_prob": INTERVAL_PROB,
            "units": "logit (binary, ordinal) or log rate (count)",
        },
    )
