"""Sources: how far each source is believed, and how much its reports moved the forecast.

Posterior reliability (the source's parameter)
----------------------------------------------
In hierarchical mode every source named on readings with a reliability letter
has its own reliability, shared by all its reports and partially pooled around
its letter's (see "Sources" in :mod:`syriaforecast.engine.data`):

    r_source = expit(logit kappa_rel[letter] + offset[source]),

and a report of it reads the truth with probability ``r_source *
kappa_cred[number]``. ``posterior_reliability`` is the posterior of
``r_source`` (per draw, averaged over the source's graded reports when they
carry different letters), summarised by its mean and highest-density interval;
``prior_reliability`` is its letter's prior mean. A source that keeps
contradicting the rest ends well below its letter; a source with a single
report stays near it. Exact mode reads every source at its letter's value
(no offsets), so the interval there is a point.

Did its reports read the truth?
-------------------------------
Given all the evidence, the probability that a graded report (a row, or all
rows of one report id in one period) read the truth is, by Bayes' rule,

    P(tau = 1 | E) = kappa * p(E | tau = 1) / p(E),

where ``p(E | tau = 1)`` is the evidence's likelihood with that report read at
face value (its noise replaced by its match) and ``p(E)`` the forward
algorithm's marginal likelihood, both per posterior draw with the draw's
parameters (the source's offset included). ``truthful`` is the mean of this
over the source's graded reports, next to ``prior_truthful``, their grades'
mean prior ``kappa``. It is what the evidence says about this source's own
reports even in exact mode, where no reliability is learnt.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from syriaforecast.engine.data import BLANK, RELIABILITY_PRIOR_MEAN
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, reading_offsets
from syriaforecast.report.influence import (
    check_max_draws,
    check_prob,
    draws_array,
    evidence_contributions,
    grade_label,
    informativeness,
    prepare,
    summarise,
)

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = ["sources"]

NO_SOURCE = "(no source)"
_LETTER_MEAN = np.array(list(RELIABILITY_PRIOR_MEAN.values()))


def sources(
    forecast: Forecast, *, max_draws: int | None = 200, prob: float = 0.9, truthful: bool = True
) -> pd.DataFrame:
    """Each source's posterior reliability and how much its reports moved the forecast.

    Parameters
    ----------
    forecast : Forecast
        The forecast to explain.
    max_draws : int or None
        Evenly thinned posterior draws to use (None: all).
    prob : float
        Mass of the highest-density intervals.
    truthful : bool
        Compute ``truthful`` (one likelihood evaluation per graded report and
        draw); False leaves it and ``prior_truthful`` NaN, for speed.

    Returns
    -------
    pandas.DataFrame
        One row per source (the evidence's ``source`` column; blank sources pool
        as ``"(no source)"``), indexed by source: ``n_rows``, ``n_graded``
        (graded reports: rows, or report ids per period), ``grades``;
        ``prior_reliability`` (its letter's prior mean), ``posterior_reliability``
        with ``reliability_low`` and ``reliability_high`` (the source's reliability
        parameter: mean and HDI over the draws) and ``shift`` (posterior minus
        prior), NaN for a source without a reliability letter;
        ``prior_truthful`` and ``truthful`` (mean over its graded reports of the
        grade's prior ``kappa`` and of P(read the truth | all evidence)); and
        ``db_<scenario>``, the decibans its rows together moved each scenario's
        horizon log odds (:func:`~syriaforecast.report.evidence_contributions`,
        ``by="source"``). Sorted with the most discredited source first (lowest
        ``shift``, then lowest ``truthful - prior_truthful``).
    """
    check_max_draws(max_draws)
    check_prob(prob)
    setup = prepare(forecast, max_draws=max_draws)
    data = setup.terms.data
    table = setup.table
    base = chain_posterior(setup.terms).log_likelihood if truthful else None  # (D,)
    rel = np.asarray(setup.params["source_reliability"], dtype=float)  # (D, 6)
    cred = np.asarray(setup.params["information_credibility"], dtype=float)
    D = rel.shape[0]
    offsets = reading_offsets(setup.params, data, D)  # (D, K)
    # Units of truthfulness: a multi-row report (in one period), or one graded row.
    units: dict[tuple[str, int], list[int]] = {}
    for k in range(data.report_cell.shape[0]):
        key = ("joint", int(data.report_joint[k])) if data.report_joint[k] >= 0 else ("row", k)
        units.setdefault(key, []).append(k)
    read_truth: dict[str, list[np.ndarray]] = {}
    prior_truthful: dict[str, list[float]] = {}
    n_graded: dict[str, int] = {}
    reliability: dict[str, list[np.ndarray]] = {}
    prior_reliability: dict[str, list[float]] = {}
    for readings in units.values():
        k = readings[0]
        r, c = int(data.report_reliability[k]), int(data.report_credibility[k])
        letter = _reliability(rel, r, offsets[:, k])
        kappa = letter * (cred[:, c] if c < BLANK else 1.0)
        row = table.iloc[int(data.report_row[k])]
        name = str(row["source"]).strip() or NO_SOURCE
        n_graded[name] = n_graded.get(name, 0) + 1
        if truthful:
            noise = data.report_noise.copy()
            noise[readings] = data.report_match[readings]
            forced = dataclasses.replace(data, report_noise=noise)
            log_forced = chain_posterior(
                chain_terms_for_draws(setup.model, forced, setup.params, arrays=setup.arrays)
            ).log_likelihood
            with np.errstate(over="ignore", invalid="ignore"):
                p = np.clip(kappa * np.exp(log_forced - base), 0.0, 1.0)
            read_truth.setdefault(name, []).append(np.nan_to_num(p, nan=0.0))
            grade_kappa = informativeness(row["reliability"], int(row["credibility"]))
            prior_truthful.setdefault(name, []).append(grade_kappa)
        if r < BLANK:
            reliability.setdefault(name, []).append(letter)
            prior_reliability.setdefault(name, []).append(float(_LETTER_MEAN[r]))
    by_source = evidence_contributions(forecast, by="source", max_draws=max_draws, prob=prob)
    scen = list(setup.model.scenario_ids)
    rows = []
    for name in by_source["source"].values:
        mask = table["source"].astype(str).str.strip().replace("", NO_SOURCE) == name
        graded = table[mask & ((table["reliability"] != "") | (table["credibility"] != 0))]
        pairs = zip(graded["reliability"], graded["credibility"], strict=True)
        grades = {grade_label(a, b) for a, b in pairs}
        record: dict[str, object] = {
            "source": str(name),
            "n_rows": int(mask.sum()),
            "n_graded": int(n_graded.get(name, 0)),
            "grades": ", ".join(sorted(grades)),
        }
        prior = float(np.mean(prior_reliability[name])) if name in prior_reliability else np.nan
        mean, low, high = _mean_and_interval(reliability.get(name), prob)
        record |= {
            "prior_reliability": prior,
            "posterior_reliability": mean,
            "reliability_low": low,
            "reliability_high": high,
            "shift": mean - prior,
            "prior_truthful": float(np.mean(prior_truthful[name])) if name in prior_truthful else np.nan,
            "truthful": _mean_and_interval(read_truth.get(name), prob)[0],
        }
        for sid in scen:
            record[f"db_{sid}"] = float(by_source["mean"].sel(source=name, scenario=sid))
        rows.append(record)
    out = pd.DataFrame(rows)
    if len(out):
        order = pd.DataFrame({"a": out["shift"], "b": out["truthful"] - out["prior_truthful"]})
        out = out.loc[order.sort_values(["a", "b"], kind="stable", na_position="last").index]
        out = out.set_index("source")
    out.attrs.update(
        {
            "definition": (
                "posterior_reliability: the source's reliability expit(logit kappa_rel[letter] + offset) "
                "(hierarchical mode; its letter's value in exact mode), mean and HDI over the draws; "
                "truthful: mean over its graded reports of P(report read the truth | all evidence) = "
                "kappa p(E | truthful) / p(E), per draw; db_<scenario>: decibans of the horizon log odds "
                "its rows moved together"
            ),
            "prob": float(prob),
            "n_draws": setup.n_draws,
            "as_of": forecast.as_of.isoformat(),
        }
    )
    return out


def _reliability(rel: np.ndarray, grade: int, offset: np.ndarray) -> np.ndarray:
    """A reading's reliability factor per draw: its letter's value moved by its source's offset."""
    if grade >= BLANK:
        return np.ones(rel.shape[0])
    letter = np.clip(rel[:, grade], 1e-300, 1 - 1e-16)
    return 1.0 / (1.0 + np.exp(-(np.log(letter) - np.log1p(-letter) + offset)))


def _mean_and_interval(per_unit: list[np.ndarray] | None, prob: float) -> tuple[float, float, float]:
    """Mean and HDI over the draws of a per-draw quantity averaged over a source's reports."""
    if not per_unit:
        return np.nan, np.nan, np.nan
    stats = summarise(draws_array(np.mean(per_unit, axis=0), (), {}), prob)
    return float(stats["mean"]), float(stats["hdi_low"]), float(stats["hdi_high"])
