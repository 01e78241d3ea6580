"""Sources: how far each source's reports are believed, and how much they moved the forecast.

Posterior reliability
---------------------
A graded report (a row, or all rows of one report id in one period) reads the
truth with probability ``kappa`` (its grade's informativeness) and is noise
otherwise. Given all the evidence, the probability that it read the truth is,
by Bayes' rule,

    P(tau = 1 | E) = kappa * p(E | tau = 1) / p(E),

where ``p(E | tau = 1)`` is the evidence's likelihood with that report read at
face value (its noise replaced by its match) and ``p(E)`` the forward
algorithm's marginal likelihood, both per posterior draw with the draw's
parameters. A report that agrees with the rest of the evidence ends above its
prior ``kappa``; one that keeps contradicting it ends below. A source's
*posterior reliability* is the mean of this over its graded reports (per draw,
then summarised), next to the mean prior ``kappa`` of their grades; ungraded
rows are read at face value and have no reliability to learn.

This is what the model believes about each report under the grades' shared
informativeness; it is not (yet) a per-source parameter learnt with partial
pooling, so a source's other reports do not change how one of its reports is
read.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
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


def sources(forecast: Forecast, *, max_draws: int | None = 200, prob: float = 0.9) -> pd.DataFrame:
    """Each source's posterior reliability and how much its reports moved the forecast.

    Parameters
    ----------
    forecast : Forecast
        The forecast to explain.
    max_draws : int or None
        Evenly thinned posterior draws to use (None: all).
    prob : float
        Mass of the highest-density interval of the posterior reliability.

    Returns
    -------
    pandas.DataFrame
        One row per source (the evidence's ``source`` column; blank sources pool
        as ``"(no source)"``), indexed by source: ``n_rows``, ``n_graded``
        (graded reports: rows, or report ids per period), ``grades``,
        ``prior_reliability`` (mean prior informativeness of its graded
        reports), ``posterior_reliability`` with ``reliability_low`` and
        ``reliability_high`` (mean over its graded reports of P(read the truth |
        all evidence); NaN for a source with only ungraded rows), ``shift``
        (posterior minus prior), and ``db_<scenario>``: the decibans its rows
        together moved each scenario's horizon log odds (see
        :func:`~syriaforecast.report.evidence_contributions`, ``by="source"``).
        Sorted with the most discredited source (lowest ``shift``) first.
    """
    check_max_draws(max_draws)
    check_prob(prob)
    setup = prepare(forecast, max_draws=max_draws)
    data = setup.terms.data
    table = setup.table
    base = chain_posterior(setup.terms).log_likelihood  # (D,)
    rel = np.asarray(setup.params["source_reliability"], dtype=float)  # (D, 6)
    cred = np.asarray(setup.params["information_credibility"], dtype=float)
    # Units of truthfulness: a multi-row report (in one period), or one graded row.
    units: dict[tuple[str, int], list[int]] = {}
    for k in range(data.report_cell.shape[0]):
        key = ("joint", int(data.report_joint[k])) if data.report_joint[k] >= 0 else ("row", k)
        units.setdefault(key, []).append(k)
    truthful: dict[str, list[np.ndarray]] = {}
    prior: dict[str, list[float]] = {}
    for readings in units.values():
        noise = data.report_noise.copy()
        noise[readings] = data.report_match[readings]
        forced = dataclasses.replace(data, report_noise=noise)
        log_forced = chain_posterior(
            chain_terms_for_draws(setup.model, forced, setup.params, arrays=setup.arrays)
        ).log_likelihood
        k = readings[0]
        r, c = int(data.report_reliability[k]), int(data.report_credibility[k])
        kappa = (rel[:, r] if r < 6 else 1.0) * (cred[:, c] if c < 6 else 1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.clip(kappa * np.exp(log_forced - base), 0.0, 1.0)
        row = table.iloc[int(data.report_row[k])]
        name = str(row["source"]).strip() or NO_SOURCE
        truthful.setdefault(name, []).append(np.nan_to_num(p, nan=0.0))
        prior.setdefault(name, []).append(informativeness(row["reliability"], int(row["credibility"])))
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
            "n_graded": len(truthful.get(name, [])),
            "grades": ", ".join(sorted(grades)),
        }
        if name in truthful:
            per_draw = np.mean(truthful[name], axis=0)  # (D,)
            stats = summarise(draws_array(per_draw, (), {}), prob)
            record |= {
                "prior_reliability": float(np.mean(prior[name])),
                "posterior_reliability": float(stats["mean"]),
                "reliability_low": float(stats["hdi_low"]),
                "reliability_high": float(stats["hdi_high"]),
            }
        else:
            record |= dict.fromkeys(
                ("prior_reliability", "posterior_reliability", "reliability_low", "reliability_high"), np.nan
            )
        record["shift"] = float(record["posterior_reliability"]) - float(record["prior_reliability"])  # type: ignore[arg-type]
        for sid in scen:
            record[f"db_{sid}"] = float(by_source["mean"].sel(source=name, scenario=sid))
        rows.append(record)
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values("shift", kind="stable", na_position="last").set_index("source")
    out.attrs.update(
        {
            "definition": (
                "posterior_reliability: mean over the source's graded reports of P(report read the truth | "
                "all evidence) = kappa p(E | truthful) / p(E), per draw; db_<scenario>: decibans of the "
                "horizon log odds its rows moved together"
            ),
            "prob": float(prob),
            "n_draws": setup.n_draws,
            "as_of": forecast.as_of.isoformat(),
        }
    )
    return out
