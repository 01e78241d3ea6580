"""The surprise monitor: how improbable each period's evidence was given everything before it.

For period ``t`` the one-step-ahead predictive density of its reports is

    p(e_t | e_<t) = sum_s P(z_t = s | e_<t) L_t(s),   P(z_t | e_<t) = filtered_{t-1} A_t,

with ``L_t(s)`` the reports' likelihood under scenario ``s`` (the engine's cell
likelihoods: the true state summed out, each report read through its Admiralty
informativeness). A small density alone means little (a period with many reports
always has a small one), so it is calibrated by simulation under the model: the
same reports (same indicators, same grades) are drawn again from the predictive,
and the p-value is the share of draws whose predictive density is at most the
observed one, ``(1 + #{sim <= obs}) / (1 + n)``. Under the model it is uniform
(up to the discreteness of the reports), so p < 0.01 happens in 1% of periods by
chance; evidence that no scenario explains makes it small.

The monitor takes the model file as exact (the scenarios as elicited, grades at
their prior means): it asks whether the evidence fits the scenarios the analyst
wrote down, whatever mode the forecast itself was made in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp

from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    RELIABILITY_PRIOR_MEAN,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, exact_parameters_for
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = ["SURPRISE_LEVEL", "PeriodSurprise", "surprise"]

#: p-values below this are reported as surprising (about one period in a hundred by chance).
SURPRISE_LEVEL = 0.01


@dataclass(frozen=True)
class PeriodSurprise:
    """One period's surprise: its label, predictive p-value and log predictive density."""

    period: str
    p_value: float
    log_predictive: float


def _level_probabilities(cutpoints: np.ndarray) -> np.ndarray:
    """P(level | scenario) (I, S, L) from cutpoints padded with +inf."""
    with np.errstate(over="ignore"):
        cumulative = 1.0 / (1.0 + np.exp(-cutpoints))
    I, S, _ = cumulative.shape
    full = np.concatenate([np.zeros((I, S, 1)), cumulative, np.ones((I, S, 1))], axis=2)
    return np.maximum(np.diff(full, axis=2), 1e-300)


def _report_log_likelihood(
    kind_count: bool,
    n_levels: int,
    level_prob: np.ndarray,  # (S, L) for categorical
    rate: np.ndarray,  # (S,) for counts
    noise_mean: float,
    readings: np.ndarray,  # (N, K) int
    kappa: np.ndarray,  # (K,)
) -> np.ndarray:
    """Log P(readings of one cell | scenario), shape (N, S), the true state summed out."""
    N, K = readings.shape
    S = rate.shape[0]
    if not kind_count:
        uniform = 1.0 / n_levels
        terms = np.empty((N, n_levels, S))
        for x in range(n_levels):
            read = np.prod(kappa * (readings == x) + (1 - kappa) * uniform, axis=1)  # (N,)
            terms[:, x, :] = read[:, None] * level_prob[None, :, x]
        return np.log(np.maximum(terms.sum(axis=1), 1e-300))
    theta = noise_mean / (noise_mean + 1.0)
    log_rate = np.log(rate)
    # Everything in logs: a count far in every scenario's tail has a probability below 1e-308
    # under each, and so does a far noise reading, which in probability space floored every
    # scenario alike (as the kernel once did).
    log_noise = math.log1p(-theta) + readings * math.log(theta)  # (N, K)
    with np.errstate(divide="ignore"):  # log 0 = -inf is the value meant (an impossible term)
        log_kappa, log_miss = np.log(kappa), np.log1p(-kappa)
        # the readings when the truth is none of the values: each one noise
        log_other = np.sum(log_miss + log_noise, axis=1)
        log_total = np.full((N, S), -np.inf)
        taken = np.zeros((N, S))
        for k in range(K):
            # distinct candidate values: each report's value, counted once per row
            v = readings[:, k]
            first = np.ones(N, dtype=bool)
            for j in range(k):
                first &= readings[:, j] != v
            log_pmf = v[:, None] * log_rate[None] - rate[None] - gammaln(v + 1.0)[:, None]  # (N, S)
            hit = np.where(readings == v[:, None], log_kappa, -np.inf)
            log_read = np.sum(np.logaddexp(hit, log_miss + log_noise), axis=1)  # (N,)
            term = log_pmf + log_read[:, None]
            log_total = np.where(first[:, None], np.logaddexp(log_total, term), log_total)
            taken += np.where(first[:, None], np.exp(log_pmf), 0.0)
        rest = np.log(np.maximum(1.0 - taken, 0.0)) + log_other[:, None]
        log_total = np.logaddexp(log_total, rest)
    return np.where(np.isneginf(log_total), math.log(1e-300), log_total)


def surprise(
    model: ScenarioModel,
    evidence: Evidence,
    n_periods: int,
    *,
    n_simulations: int = 2000,
    seed: int = 0,
) -> list[PeriodSurprise]:
    """Predictive p-value of each period's evidence given the evidence before it.

    Parameters
    ----------
    model : ScenarioModel
        The model, taken as exact.
    evidence : Evidence
        The reports (driver rows set the transitions as in the forecast).
    n_periods : int
        Report on periods ``0 .. n_periods - 1`` (the forecast's reported periods).
    n_simulations : int
        Simulated replicates of each period's reports (Monte Carlo error of a
        p-value near 0.01 is about ``sqrt(0.01 / n)``, 0.002 at the default).
    seed : int
        Seed of the simulations (the result is reproducible).

    Returns
    -------
    list of PeriodSurprise
        One per reported period, oldest first; a period without reports has p-value 1.
    """
    rng = np.random.default_rng(seed)
    arrays = build_model_arrays(model)
    T = model.horizon_index + 1
    params = exact_parameters_for(model)
    data = build_engine_data(model, arrays, evidence, T)
    terms = chain_terms_for_draws(model, data, params, arrays=arrays)
    chain = chain_posterior(terms)
    filtered = chain.filtered[0]
    log_transition = terms.log_transition[0]
    level_prob = _level_probabilities(arrays.cutpoints)
    rates = np.exp(arrays.log_rate)
    table = evidence.to_dataframe()
    labels = model.period_labels(n_periods)
    rel = {g: RELIABILITY_PRIOR_MEAN[g] for g in RELIABILITY_PRIOR_MEAN}
    cred = {int(g): CREDIBILITY_PRIOR_MEAN[g] for g in CREDIBILITY_PRIOR_MEAN}
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    out = []
    for t in range(n_periods):
        rows = table[table["period"] == t]
        if rows.empty:
            out.append(PeriodSurprise(labels[t], 1.0, 0.0))
            continue
        if t == 0:
            predictive = np.asarray(model.prior, dtype=float)
        else:
            step = log_transition[t] if log_transition.ndim == 3 else log_transition
            log_previous = np.log(np.maximum(filtered[t - 1], 1e-300))
            predictive = np.exp(logsumexp(log_previous[:, None] + step, axis=0))
        predictive = predictive / predictive.sum()
        S = predictive.shape[0]
        scenario = rng.choice(S, size=n_simulations, p=predictive)
        obs_ll = np.zeros(S)
        sim_ll = np.zeros((n_simulations, S))
        for ident, cell in rows.groupby("indicator", sort=False):
            i = index[str(ident)]
            kappa = np.array(
                [
                    rel.get(str(r), 1.0) * cred.get(int(c), 1.0)
                    for r, c in zip(cell["reliability"], cell["credibility"], strict=True)
                ]
            )
            K = kappa.shape[0]
            count = bool(arrays.is_count[i])
            L = int(arrays.n_levels[i])
            # simulate the cell's true state per replicate, then each report's reading of it
            if count:
                truth = rng.poisson(rates[i, scenario])
                theta = arrays.noise_count_mean[i] / (arrays.noise_count_mean[i] + 1.0)
                noise = rng.geometric(1.0 - theta, size=(n_simulations, K)) - 1
            else:
                cdf = np.cumsum(level_prob[i, :, :L], axis=1)[scenario]
                truth = (rng.random(n_simulations)[:, None] > cdf[:, :-1]).sum(axis=1)
                noise = rng.integers(L, size=(n_simulations, K))
            faithful = rng.random((n_simulations, K)) < kappa[None]
            readings = np.where(faithful, truth[:, None], noise)
            observed = cell["state"].to_numpy(dtype=np.int64)[None]
            lp = level_prob[i, :, :L] if not count else level_prob[i, :, :1]
            noise_mean = float(arrays.noise_count_mean[i])
            obs_ll += _report_log_likelihood(count, L, lp, rates[i], noise_mean, observed, kappa)[0]
            sim_ll += _report_log_likelihood(count, L, lp, rates[i], noise_mean, readings, kappa)
        with np.errstate(divide="ignore"):  # a scenario the chain cannot reach: log 0 = -inf, meant
            log_pred = np.log(predictive)
        observed_stat = float(logsumexp(log_pred + obs_ll))
        simulated = logsumexp(log_pred[None] + sim_ll, axis=1)
        p_value = (1.0 + np.sum(simulated <= observed_stat + 1e-9)) / (1.0 + n_simulations)
        out.append(PeriodSurprise(labels[t], float(p_value), observed_stat))
    return out
