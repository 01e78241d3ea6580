"""What to collect next, and how diagnostic each indicator is.

Collection priority
-------------------
For each indicator ``i``, the expected information gain about the horizon
scenario ``Z_H`` from one ungraded (exact) report of ``i`` in the period after
the as-of date:

    MI(Z_H; X_i) = H(Z_H) - sum_x P(x) H(Z_H | x)        (bits),

with ``P`` the forecast's chain given the evidence to date. It is computed per
posterior draw (that draw's parameters) and then averaged over draws, as the
issue asks: the mean over draws of the per-draw mutual information, not the
mutual information of the posterior predictive. A count indicator's outcomes are
the counts within 12 standard deviations of every draw's and scenario's rate (read in
4,000 equal ranges when they are more), the two tails (each below 1e-20) kept as one
"fewer than" and one "more than" outcome.
When the next period is past the horizon, the horizon forecast (filtered at the
horizon) cannot use it: the gain is 0.

Diagnosticity (the quantitative ACH matrix)
-------------------------------------------
For each indicator and scenario, the weight of evidence in decibans of the
indicator "firing" in one period, ``10 log10(P(fire | s) / P(fire | not s))``,
with ``P(fire | not s)`` the prior-weighted average over the other scenarios,
averaged over draws. "Firing" is: seen (binary), the highest level (ordinal), at
least one (count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from syriaforecast.report.influence import (
    Setup,
    check_max_draws,
    check_prob,
    draws_array,
    forward_log_filtered,
    group_log_likelihoods,
    indicator_label,
    prepare,
    summarise,
)

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast
    from syriaforecast.spec.model import Indicator

__all__ = ["collection_priorities", "diagnosticity", "outcome_likelihoods"]

_TAIL = 1e-9
_MAX_COUNT = 2_000
#: Most outcomes a count indicator is read in (:func:`_count_window`): D x this x S numbers.
_MAX_OUTCOMES = 4_000


def _rows(indicator: Indicator, values: list[str]) -> list[pd.DataFrame]:
    return [
        pd.DataFrame({"indicator": [indicator.id], "value": [v], "reliability": [""], "credibility": [0]})
        for v in values
    ]


def outcome_likelihoods(setup: Setup) -> dict[str, tuple[list[str], np.ndarray]]:
    """P(one ungraded report reads x | scenario) for every outcome of every indicator.

    Returns
    -------
    dict
        Indicator id -> (outcome labels, probabilities (D, X, S)). For counts the
        last outcome is ``"more than K"`` with the remaining mass (and the first
        ``"fewer than k"`` when the rates are far from 0).
    """
    model = setup.model
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    plan: list[tuple[str, list[str]]] = []
    for ind in model.indicators:
        if ind.type == "binary":
            plan.append((ind.id, ["0", "1"]))
        elif ind.type == "ordinal":
            plan.append((ind.id, list(ind.levels)))
        else:
            plan.append((ind.id, [str(k) for k in range(model.horizon_index + 1)]))
    groups = [g for ident, values in plan for g in _rows(model.indicator(ident), values)]
    values = np.exp(group_log_likelihoods(model, setup.params, setup.arrays, groups))
    start = 0
    for ident, labels in plan:
        out[ident] = (labels, values[:, start : start + len(labels)])
        start += len(labels)
    for ind in model.indicators:
        if ind.type != "count":
            continue
        windowed = _count_window(setup, ind, out[ind.id])
        if windowed is not None:
            out[ind.id] = windowed
            continue
        labels, probs = out[ind.id]
        while 1.0 - probs.sum(axis=1).min() > _TAIL and len(labels) < _MAX_COUNT:
            more = [str(k) for k in range(len(labels), len(labels) + 4 * (model.horizon_index + 1))]
            extra = np.exp(group_log_likelihoods(model, setup.params, setup.arrays, _rows(ind, more)))
            labels, probs = labels + more, np.concatenate([probs, extra], axis=1)
        rest = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, None)
        out[ind.id] = ([*labels, f"more than {len(labels) - 1}"], np.concatenate([probs, rest], axis=1))
    return out


def _count_window(
    setup: Setup, indicator: Indicator, first: tuple[list[str], np.ndarray]
) -> tuple[list[str], np.ndarray] | None:
    """A count's outcomes over the bulk of every draw's and scenario's rate, in closed form.

    One ungraded count is read at face value, so ``P(x | s)`` under a draw is Poisson in
    ``x`` with that draw's rate ``lam`` (the elicited rate moved by the draw's shift),
    which two probes give: ``lam = 2 P(2) / P(1)``. The outcomes are the counts within
    12 standard deviations (and 10) of the smallest and largest rate, with "fewer than"
    and "more than" outcomes for the two tails (each below 1e-20). Counting up from 0
    instead stopped at 2,000 outcomes, so a rate in the thousands put nearly all its
    mass in one "more than" outcome and the indicator's gain came out 0 bits.
    Returns None, and the caller counts up from 0, if the probes do not give back the
    likelihoods already computed for 0, 1, 2, ... (then the law is not the Poisson).
    """
    from scipy.stats import poisson

    probes = np.asarray(
        group_log_likelihoods(setup.model, setup.params, setup.arrays, _rows(indicator, ["1", "2"]))
    )
    with np.errstate(over="ignore", invalid="ignore"):
        lam = 2.0 * np.exp(probes[:, 1] - probes[:, 0])  # (D, S)
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0.0):
        return None
    labels, probs = first
    counts = np.arange(len(labels))
    expected = poisson.pmf(counts[None, :, None], lam[:, None, :])
    if not np.allclose(probs, expected, rtol=1e-8, atol=1e-300):
        return None
    low, high = float(lam.min()), float(lam.max())
    lo = max(0, int(np.floor(low - 12.0 * np.sqrt(low) - 10.0)))
    hi = int(np.ceil(high + 12.0 * np.sqrt(high) + 10.0))
    # Draws far apart (a large elicitation error on large rates) can span a million counts: past
    # _MAX_OUTCOMES the counts are read in equal ranges, so memory stays D x _MAX_OUTCOMES x S.
    # A range is coarser than its counts, so the gain is then a lower bound.
    width = max(1, -(-(hi - lo + 1) // _MAX_OUTCOMES))
    starts = np.arange(lo, hi + 1, width)
    ends = np.minimum(starts + width - 1, hi)
    if width == 1:
        window = poisson.pmf(starts[None, :, None], lam[:, None, :])
        labels = [str(v) for v in starts]
    else:
        window = poisson.cdf(ends[None, :, None], lam[:, None, :]) - poisson.cdf(
            starts[None, :, None] - 1, lam[:, None, :]
        )
        labels = [f"{a}-{b}" for a, b in zip(starts, ends, strict=True)]
    above = poisson.sf(hi, lam)[:, None, :]
    parts, names = [window, above], [*labels, f"more than {hi}"]
    if lo > 0:
        parts.insert(0, poisson.cdf(lo - 1, lam)[:, None, :])
        names.insert(0, f"fewer than {lo}")
    return names, np.concatenate(parts, axis=1)


def _entropy_bits(p: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def predicted_and_ahead(
    filtered: np.ndarray, transition: np.ndarray, next_period: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """P(Z_next | evidence) (D, S) and the move from the next period to the horizon (D, S, S).

    ``filtered`` (D, S) is the filtered distribution of the period before
    ``next_period``; ``transition`` is (D, S, S), or (D, T, S, S) with the move into
    period ``t`` at ``[:, t]`` when drivers or elicited rows make it vary.
    """
    if transition.ndim == 4:
        predicted = np.einsum("ds,dsz->dz", filtered, transition[:, next_period])
        ahead = np.broadcast_to(np.eye(transition.shape[-1]), transition[:, 0].shape).copy()
        for t in range(next_period + 1, horizon + 1):  # next period -> horizon, period by period
            ahead = np.einsum("dij,djk->dik", ahead, transition[:, t])
        return predicted, ahead
    predicted = np.einsum("ds,dsz->dz", filtered, transition)
    return predicted, _matrix_power(transition, horizon - next_period)


def _matrix_power(A: np.ndarray, k: int) -> np.ndarray:
    out = np.broadcast_to(np.eye(A.shape[-1]), A.shape).copy()
    for _ in range(k):
        out = out @ A
    return out


def collection_priorities(
    forecast: Forecast, *, max_draws: int | None = 200, prob: float = 0.9
) -> pd.DataFrame:
    """Rank indicators by the expected information one report next period gives about the horizon.

    Parameters
    ----------
    forecast : Forecast
        The current forecast.
    max_draws : int or None
        Evenly thinned posterior draws to average over (None: all).
    prob : float
        Mass of the highest-density interval over draws.

    Returns
    -------
    pandas.DataFrame
        Indexed by indicator id, best first: ``rank``, ``label``, ``group``,
        ``type``, ``text``, ``gain_bits`` (mean over draws of the mutual
        information between the horizon scenario and the report, in bits),
        ``gain_low`` / ``gain_high`` (interval over draws) and ``share`` (the
        gain as a fraction of the horizon forecast's entropy, mean over draws).
        ``attrs`` hold ``units``, ``next_period``, ``entropy_bits`` (mean horizon
        entropy) and ``n_draws``.
    """
    check_max_draws(max_draws)
    check_prob(prob)
    setup = prepare(forecast, max_draws=max_draws)
    model = setup.model
    terms = setup.terms
    H_idx = setup.horizon_index
    next_period = model.period_index(forecast.as_of) + 1
    log_f = forward_log_filtered(
        terms.log_initial, terms.log_transition, terms.log_emission, min(next_period - 1, H_idx)
    )
    A_all = np.exp(terms.log_transition)  # (D, S, S), or (D, T, S, S) when drivers make it vary
    horizon_now = np.exp(
        forward_log_filtered(terms.log_initial, terms.log_transition, terms.log_emission, H_idx)
    )
    entropy = _entropy_bits(horizon_now)  # (D,)
    D = setup.n_draws
    gains = np.zeros((D, len(model.indicators)))
    if next_period <= H_idx:
        predicted, ahead = predicted_and_ahead(np.exp(log_f), A_all, next_period, H_idx)
        likelihoods = outcome_likelihoods(setup)
        for k, ind in enumerate(model.indicators):
            _, L = likelihoods[ind.id]  # (D, X, S)
            joint_next = predicted[:, None, :] * L  # P(x, Z_next)
            joint = np.einsum("dxz,dzh->dxh", joint_next, ahead)  # P(x, Z_H)
            p_x = joint.sum(axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                conditional = np.where(p_x[..., None] > 0, joint / p_x[..., None], 0.0)
            gains[:, k] = np.clip(entropy - (p_x * _entropy_bits(conditional)).sum(axis=1), 0.0, None)
    ids = list(model.indicator_ids)
    stats = summarise(draws_array(gains, ("indicator",), {"indicator": ids}), prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(entropy[:, None] > 0, gains / entropy[:, None], 0.0).mean(axis=0)
    table = pd.DataFrame(
        {
            "label": [indicator_label(model, i) for i in ids],
            "group": [i.group for i in model.indicators],
            "type": [i.type for i in model.indicators],
            "text": [i.text for i in model.indicators],
            "gain_bits": stats["mean"].to_numpy(),
            "gain_low": stats["hdi_low"].to_numpy(),
            "gain_high": stats["hdi_high"].to_numpy(),
            "share": share,
        },
        index=pd.Index(ids, name="indicator"),
    )
    table = table.sort_values("gain_bits", ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    labels = model.period_labels(max(next_period + 1, 1))
    table.attrs.update(
        {
            "units": "bits",
            "definition": (
                "mean over posterior draws of MI(Z_H; X) = H(Z_H) - sum_x P(x) H(Z_H | x) for one "
                "ungraded report of the indicator in the period after the as-of date"
            ),
            "next_period": labels[next_period],
            "entropy_bits": float(entropy.mean()),
            "n_draws": D,
            "prob": float(prob),
        }
    )
    return table


def diagnosticity(forecast: Forecast, *, max_draws: int | None = 200, prob: float = 0.9) -> xr.Dataset:
    """The quantitative ACH matrix: decibans for each scenario when an indicator fires.

    Parameters
    ----------
    forecast : Forecast
        The forecast (its draws carry what the evidence taught about the likelihoods).
    max_draws : int or None
        Evenly thinned posterior draws (None: all).
    prob : float
        Mass of the highest-density interval over draws.

    Returns
    -------
    xarray.Dataset
        Dims ``indicator`` and ``scenario``: ``mean``, ``hdi_low``, ``hdi_high``
        (decibans of ``P(fire | s) / P(fire | not s)``, ``not s`` weighted by the
        draw's initial scenario probabilities), ``p_fire_mean`` (P(fire | s)),
        coordinates ``label``, ``group``, ``fires`` (what counts as firing) and
        ``name`` (scenario names).
    """
    check_max_draws(max_draws)
    check_prob(prob)
    setup = prepare(forecast, max_draws=max_draws)
    model = setup.model
    likelihoods = outcome_likelihoods(setup)
    weights = np.exp(setup.terms.log_initial)  # (D, S)
    D, S = weights.shape
    fire = np.zeros((D, len(model.indicators), S))
    fires = []
    for k, ind in enumerate(model.indicators):
        _, L = likelihoods[ind.id]
        if ind.type == "binary":
            fire[:, k] = L[:, 1]
            fires.append("seen")
        elif ind.type == "ordinal":
            fire[:, k] = L[:, -1]
            fires.append(f"level {ind.levels[-1]!r}")
        else:
            fire[:, k] = 1.0 - L[:, 0]
            fires.append("at least 1")
    db = np.zeros_like(fire)
    if S > 1:
        for s in range(S):
            others = [o for o in range(S) if o != s]
            w = weights[:, others] / weights[:, others].sum(axis=1, keepdims=True)
            alternative = np.einsum("dio,do->di", fire[:, :, others], w)
            db[:, :, s] = 10.0 * (np.log10(fire[:, :, s]) - np.log10(alternative))
    ids = list(model.indicator_ids)
    coords = {"indicator": ids, "scenario": list(model.scenario_ids)}
    stats = summarise(draws_array(db, ("indicator", "scenario"), coords), prob)
    out = stats.assign(p_fire_mean=(("indicator", "scenario"), fire.mean(axis=0)))
    out = out.assign_coords(
        label=("indicator", [indicator_label(model, i) for i in ids]),
        group=("indicator", [i.group for i in model.indicators]),
        fires=("indicator", fires),
        name=("scenario", list(model.scenario_names)),
    )
    out.attrs.update(
        {
            "units": "decibans",
            "definition": (
                "10*log10(P(fire | s) / P(fire | not s)), not s weighted by the prior; mean over draws"
            ),
            "n_draws": D,
            "prob": float(prob),
        }
    )
    return out
