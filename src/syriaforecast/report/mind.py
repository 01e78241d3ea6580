"""What would change my mind: the fewest plausible reports that would overturn the forecast.

For the leading scenario, and for each tripwire not yet crossed, the search
looks for the smallest set of next-period reports that would change which
scenario leads at the horizon (or push the tripwire across its line):

* **Candidates.** The ``candidates`` indicators with the highest collection
  priority (:func:`~syriaforecast.report.collection.collection_priorities`),
  each with its *plausible* readings: the values whose predictive probability
  for one ungraded report in the period after the as-of date is at least
  ``min_probability``. At most one report per indicator (reports of one
  indicator in one period read the same true state). An indicator tripwire's
  own indicator is always a candidate for that tripwire, whatever its priority.
* **Effect.** Ungraded (face-value) reports ``x`` in the next period ``n``
  change the horizon forecast, per posterior draw ``d``, to

      P_d(Z_H | E, x) ∝ sum_z P_d(Z_n = z | E) prod_i P_d(x_i | z) A_d^(H-n)[z, Z_H],

  where readings of several members of one cluster enter through their joint
  likelihood (they share the period's event:
  :func:`~syriaforecast.report.influence.group_log_likelihoods`), not the
  product of their own likelihoods; and over draws, weighted by how well each
  draw predicted the reports,
  ``P(Z_H | E, x) = sum_d P_d(x) P_d(Z_H | E, x) / sum_d P_d(x)`` (the
  parameters learn from the new reports as a refit would; in exact mode there
  is one draw and this is exactly the forecast with the reports added).
* **Order.** Sets of one report first, then two, and so on up to
  ``max_reports``; among sets of the smallest size that succeed, the one with
  the highest predictive probability ``P(x | E)`` (mean over draws).

The search is exhaustive over the candidates, so "no set found" means none of
at most ``max_reports`` plausible readings of the top ``candidates`` indicators
would do it.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from syriaforecast.report.collection import collection_priorities, outcome_likelihoods, predicted_and_ahead
from syriaforecast.report.influence import (
    Setup,
    check_max_draws,
    forward_log_filtered,
    group_log_likelihoods,
    period_start,
    prepare,
)

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = ["what_would_change_my_mind"]


def _fires(kind: str, levels: tuple[str, ...], label: str, value: str) -> bool:
    """Whether a report reading ``label`` trips an indicator tripwire on ``value``."""
    if label.startswith("more than"):
        return kind == "count"  # every count above the listed ones is at least the value
    if label.startswith("fewer than"):  # counts 0 .. k - 1: all at least the value only if it is 0
        return kind == "count" and int(value) <= 0
    if kind == "count" and "-" in label:  # a range of counts "a-b": all at least the value if a is
        return int(label.split("-")[0]) >= int(value)
    if kind == "binary":
        return label == value
    if kind == "ordinal":
        return levels.index(label) >= levels.index(value)
    return int(label) >= int(value)


def what_would_change_my_mind(
    forecast: Forecast,
    *,
    candidates: int = 8,
    max_reports: int = 3,
    min_probability: float = 0.05,
    max_draws: int | None = 200,
    priorities: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The smallest plausible set of next-period reports that would change the lead or trip a wire.

    Parameters
    ----------
    forecast : Forecast
        The current forecast.
    candidates : int
        How many of the top collection priorities to combine (default 8).
    max_reports : int
        Largest set of reports tried (default 3).
    min_probability : float
        A reading is plausible when its predictive probability is at least
        this (default 0.05).
    max_draws : int or None
        Evenly thinned posterior draws (None: all).
    priorities : pandas.DataFrame, optional
        The forecast's :func:`~syriaforecast.report.collection.collection_priorities`,
        if already computed (saves computing them again).

    Returns
    -------
    pandas.DataFrame
        One row per target reached, indexed by ``target``: ``"lead"`` (the
        leading scenario changes) or a tripwire id. Columns: ``kind``
        (``"lead"`` or ``"tripwire"``), ``reports`` (tuple of
        ``(indicator, value)`` pairs, values as the evidence log writes them),
        ``n_reports``, ``probability`` (predictive probability of seeing all
        of them), ``date`` (first day of the next period: date them there),
        ``leader`` (the scenario leading after them), ``description`` (what
        the target is) and one column per scenario with its horizon
        probability after the reports. ``attrs`` hold ``leader`` and
        ``horizon`` (now), ``next_period``, ``unreached`` (targets no set of
        at most ``max_reports`` reached, with why), the settings and the
        definition.
    """
    check_max_draws(max_draws)
    if not (isinstance(candidates, int) and candidates >= 1):
        raise ValueError(f"candidates = {candidates!r}: expected a whole number >= 1")
    if not (isinstance(max_reports, int) and max_reports >= 1):
        raise ValueError(f"max_reports = {max_reports!r}: expected a whole number >= 1")
    if not 0.0 <= float(min_probability) < 1.0:
        raise ValueError(f"min_probability = {min_probability!r}: expected a probability in [0, 1)")
    setup = prepare(forecast, max_draws=max_draws)
    model = setup.model
    scenarios = list(model.scenario_ids)
    H = setup.horizon_index
    next_period = model.period_index(forecast.as_of) + 1
    terms = setup.terms
    now_draws = np.exp(forward_log_filtered(terms.log_initial, terms.log_transition, terms.log_emission, H))
    now = now_draws.mean(axis=0)
    leader = scenarios[int(np.argmax(now))]
    columns = ["kind", "reports", "n_reports", "probability", "date", "leader", "description", *scenarios]
    attrs: dict[str, Any] = {
        "leader": leader,
        "horizon": dict(zip(scenarios, now.tolist(), strict=True)),
        "candidates": candidates,
        "max_reports": max_reports,
        "min_probability": float(min_probability),
        "n_draws": setup.n_draws,
        "definition": (
            "smallest set of ungraded next-period reports (plausible readings of the top collection "
            "priorities) after which the horizon leader changes, or a tripwire not yet crossed is crossed; "
            "ties broken by the predictive probability of the reports"
        ),
    }
    targets: dict[str, tuple[str, Any]] = {"lead": ("lead", None)}
    for wire in model.tripwires:
        if wire.kind == "probability" and not wire.crossed(float(now[scenarios.index(str(wire.scenario))])):
            targets[wire.id] = ("tripwire", wire)
    fired = {a["tripwire"] for a in forecast.alerts()}
    for wire in model.tripwires:
        if wire.kind == "indicator" and wire.id not in fired:
            targets[wire.id] = ("tripwire", wire)
    if next_period > H:
        attrs |= {
            "next_period": None,
            "unreached": {t: "no period left before the horizon" for t in targets},
        }
        return pd.DataFrame(columns=columns).rename_axis("target").pipe(_with_attrs, attrs)
    attrs["next_period"] = model.period_labels(next_period + 1)[next_period]
    date = period_start(model, next_period)
    log_f = forward_log_filtered(terms.log_initial, terms.log_transition, terms.log_emission, next_period - 1)
    # P_d(Z_next | E) and the move on to the horizon (period by period when drivers vary it)
    predicted, ahead = predicted_and_ahead(np.exp(log_f), np.exp(terms.log_transition), next_period, H)
    likelihoods = outcome_likelihoods(setup)

    def readings(ident: str, wanted: Any = None) -> list[tuple[str, np.ndarray, float]]:
        labels, L = likelihoods[ident]  # (D, X, S)
        indicator = model.indicator(ident)
        out = []
        for k, label in enumerate(labels):
            if label.startswith(("more than", "fewer than")):  # a count's tails are not one reading
                continue
            p = float(np.mean(np.einsum("ds,ds->d", predicted, L[:, k])))
            if wanted is not None:
                if _fires(indicator.type, indicator.levels, label, str(wanted.value)):
                    out.append((label, L[:, k], p))
            elif p >= min_probability:
                out.append((label, L[:, k], p))
        return out

    if priorities is None:
        priorities = collection_priorities(forecast, max_draws=max_draws)
    top = [str(i) for i in priorities.index[:candidates] if priorities.loc[i, "gain_bits"] > 0]
    pool = {ident: readings(ident) for ident in top}

    items = [(ident, label, L, p) for ident, options in pool.items() for label, L, p in options]
    cluster_joint = _cluster_joints(setup, items, max_reports)

    def evaluate(choice: tuple[tuple[str, str, np.ndarray, float], ...]) -> tuple[np.ndarray, float]:
        weight = predicted.copy()
        by_cluster: dict[str, list[tuple[str, str, np.ndarray]]] = {}
        for ident, label, L, _ in choice:
            by_cluster.setdefault(model.indicator(ident).cluster or f" {ident}", []).append((ident, label, L))
        for group in by_cluster.values():
            if len(group) == 1:
                weight = weight * group[0][2]
            else:  # members of one cluster: their joint likelihood through the shared event
                weight = weight * cluster_joint[tuple(sorted((i, label) for i, label, _ in group))]
        joint = weight.sum(axis=1)  # P_d(x)
        horizon = np.einsum("dz,dzh->dh", weight / joint[:, None], ahead)
        return (joint @ horizon) / joint.sum(), float(joint.mean())

    def reached(target: str, after: np.ndarray) -> bool:
        kind, wire = targets[target]
        if kind == "lead":
            return scenarios[int(np.argmax(after))] != leader
        return bool(wire.kind == "probability" and wire.crossed(float(after[scenarios.index(wire.scenario)])))

    rows: dict[str, dict[str, Any]] = {}
    open_targets = [t for t, (_, w) in targets.items() if w is None or w.kind == "probability"]
    for size in range(1, max_reports + 1):
        if not open_targets:
            break
        best: dict[str, tuple[float, Any, np.ndarray]] = {}
        for combo in itertools.combinations(items, size):
            if len({c[0] for c in combo}) < size:
                continue  # one report per indicator
            after, probability = evaluate(combo)
            for target in open_targets:
                if reached(target, after) and probability > best.get(target, (-1.0, None, None))[0]:
                    best[target] = (probability, combo, after)
        for target, (probability, combo, after) in best.items():
            rows[target] = _row(targets[target], combo, probability, after, date, scenarios, leader)
        open_targets = [t for t in open_targets if t not in best]
    for target, (_, wire) in targets.items():
        if wire is None or wire.kind != "indicator":
            continue
        options = readings(str(wire.indicator), wanted=wire)
        if options:
            label, L, _ = max(options, key=lambda o: o[2])
            combo = ((str(wire.indicator), label, L, 0.0),)
            after, probability = evaluate(combo)
            rows[target] = _row(targets[target], combo, probability, after, date, scenarios, leader)
    attrs["unreached"] = {
        t: f"no set of at most {max_reports} plausible reports of the top {candidates} indicators"
        for t in targets
        if t not in rows
    }
    order = [t for t in targets if t in rows]
    table = pd.DataFrame([rows[t] for t in order], index=pd.Index(order, name="target"), columns=columns)
    return _with_attrs(table, attrs)


def _cluster_joints(
    setup: Setup, items: list[tuple[str, str, np.ndarray, float]], max_reports: int
) -> dict[tuple[tuple[str, str], ...], np.ndarray]:
    """Joint likelihood (D, S) of every set of 2..``max_reports`` readings of distinct members of one cluster.

    Keys are the sorted (indicator, reading) pairs; all sets are evaluated in one batch.
    """
    model = setup.model
    by_cluster: dict[str, dict[str, list[str]]] = {}
    for ident, label, _, _ in items:
        cluster = model.indicator(ident).cluster
        if cluster:
            by_cluster.setdefault(cluster, {}).setdefault(ident, []).append(label)
    keys: list[tuple[tuple[str, str], ...]] = []
    for members in by_cluster.values():
        for size in range(2, min(max_reports, len(members)) + 1):
            for idents in itertools.combinations(sorted(members), size):
                for labels in itertools.product(*(members[i] for i in idents)):
                    keys.append(tuple(zip(idents, labels, strict=True)))
    if not keys:
        return {}
    groups = [
        pd.DataFrame({"indicator": [i for i, _ in key], "value": [v for _, v in key],
                      "reliability": [""] * len(key), "credibility": [0] * len(key)})
        for key in keys
    ]  # fmt: skip
    values = np.exp(group_log_likelihoods(model, setup.params, setup.arrays, groups))  # (D, G, S)
    return {key: values[:, g] for g, key in enumerate(keys)}


def _with_attrs(table: pd.DataFrame, attrs: dict[str, Any]) -> pd.DataFrame:
    table.attrs.update(attrs)
    return table


def _row(
    target: tuple[str, Any],
    combo: tuple[tuple[str, str, np.ndarray, float], ...],
    probability: float,
    after: np.ndarray,
    date: Any,
    scenarios: list[str],
    leader: str,
) -> dict[str, Any]:
    kind, wire = target
    description = f"the lead moves from {leader}" if kind == "lead" else wire.describe()
    return {
        "kind": kind,
        "reports": tuple((ident, label) for ident, label, _, _ in combo),
        "n_reports": len(combo),
        "probability": probability,
        "date": date,
        "leader": scenarios[int(np.argmax(after))],
        "description": description,
    } | {s: float(after[k]) for k, s in enumerate(scenarios)}
