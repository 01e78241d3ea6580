"""Which of a model's tripwires a forecast has crossed.

A probability tripwire fires when the scenario's horizon probability (the
posterior mean the forecast reports) is strictly above its ``above`` line or
strictly below its ``below`` line; a probability exactly on the line has not
crossed it. An indicator tripwire fires when a report used by the forecast
(dated on or before the as-of date) reads its value: the value itself for a
binary indicator, that level or a higher one for an ordinal indicator, at least
that count for a count indicator. Any report counts, graded or not; the alert
lists the reports' grades so the analyst can judge them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from syriaforecast.spec.tripwires import Tripwire

# The Forecast is duck-typed (``model``, ``evidence``, ``mean``): Forecast.alerts() calls in
# here, and importing the forecast module back would tie the two into an import cycle.

if TYPE_CHECKING:
    from syriaforecast.spec.model import ScenarioModel

__all__ = ["newly_fired", "tripwire_alerts"]


def _state(model: ScenarioModel, wire: Tripwire) -> int:
    """The tripwire's value as the evidence table codes it (0/1, level index or count)."""
    indicator = model.indicator(str(wire.indicator))
    if indicator.type == "ordinal":
        return list(indicator.levels).index(str(wire.value))
    return int(str(wire.value))


def tripwire_alerts(forecast: Any) -> list[dict[str, Any]]:
    """The tripwires the forecast has crossed, in the model file's order.

    Parameters
    ----------
    forecast : Forecast
        A forecast whose model declares ``[[tripwires]]``.

    Returns
    -------
    list of dict
        One per crossed tripwire, with ``tripwire`` (its id), ``kind``
        (``"probability"`` or ``"indicator"``), ``text`` and ``description``;
        a probability alert adds ``scenario``, ``above`` or ``below`` and
        ``probability`` (the horizon mean); an indicator alert adds
        ``indicator``, ``value``, ``reports`` (how many reports read it),
        ``first_seen`` and ``last_seen`` (ISO dates) and ``grades`` (of those
        reports, ``"ungraded"`` for face-value ones).
    """
    model = forecast.model
    if not model.tripwires:
        return []
    means = forecast.mean("horizon")
    table = forecast.evidence.to_dataframe()
    alerts: list[dict[str, Any]] = []
    for wire in model.tripwires:
        base = {"tripwire": wire.id, "kind": wire.kind, "text": wire.text, "description": wire.describe()}
        if wire.kind == "probability":
            probability = float(means.sel(scenario=wire.scenario))
            if wire.crossed(probability):
                side = "above" if wire.above is not None else "below"
                alerts.append(
                    base | {"scenario": wire.scenario, side: wire.threshold, "probability": probability}
                )
            continue
        rows = table[table["indicator"] == wire.indicator]
        wanted = _state(model, wire)
        kind = model.indicator(str(wire.indicator)).type
        hits = rows[rows["state"] == wanted] if kind == "binary" else rows[rows["state"] >= wanted]
        if len(hits):
            grades = [
                f"{r}{c if c else ''}" or "ungraded"
                for r, c in zip(hits["reliability"], hits["credibility"], strict=True)
            ]
            alerts.append(
                base
                | {
                    "indicator": wire.indicator,
                    "value": wire.value,
                    "reports": len(hits),
                    "first_seen": min(hits["date"]).isoformat(),
                    "last_seen": max(hits["date"]).isoformat(),
                    "grades": sorted(set(grades)),
                }
            )
    return alerts


def newly_fired(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]]) -> list[str]:
    """Ids of the tripwires in ``current`` alerts that were not in ``previous`` (all when there is none)."""
    before = {a["tripwire"] for a in previous or []}
    return [a["tripwire"] for a in current if a["tripwire"] not in before]
