"""Tripwires: lines an analyst draws in advance, in the model file's ``[[tripwires]]``.

A tripwire is either a probability line on a scenario's horizon probability,

    [[tripwires]]
    id = "war-rising"
    scenario = "war"
    above = 0.3            # or: below = 0.1
    text = "Brief the minister if open war passes 30%."

or an indicator value seen in the evidence,

    [[tripwires]]
    id = "strikes-seen"
    indicator = "strikes"
    value = 1              # binary 0/1; an ordinal level name; a count
    text = "Any air strike is a signpost of escalation."

This module holds the parsed form (:class:`Tripwire`), the structural schema
the model loader validates with, and the semantic checks (known scenario or
indicator, one line, a probability in [0, 1], a value the indicator can take,
unique ids), each reported at its key path like every other model-file problem.
Whether a tripwire fires is decided from a forecast by
:func:`syriaforecast.alerts.tripwire_alerts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

__all__ = ["Tripwire", "build_tripwires", "tripwire_problems"]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_COUNT_MAX = 1_000_000


class TripwireSection(pydantic.BaseModel):
    """Structure only (unknown keys, ``id`` present, ``text`` a string); the rest is semantic."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    id: str
    scenario: Any = None
    above: Any = None
    below: Any = None
    indicator: Any = None
    value: Any = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Tripwire:
    """A line declared in advance; an alert is raised when a forecast crosses it.

    Attributes
    ----------
    id : str
        Unique among the model's tripwires.
    scenario : str or None
        Probability tripwire: the scenario whose horizon probability (posterior
        mean) is watched.
    above, below : float or None
        Probability tripwire: it fires when the probability is strictly above
        ``above`` (or strictly below ``below``); exactly one is set.
    indicator : str or None
        Indicator tripwire: the indicator watched.
    value : str or None
        Indicator tripwire: the value as the evidence log writes it (binary
        ``"0"``/``"1"``, an ordinal level name, a count). It fires when a report
        of the indicator reads this value (binary), this level or a higher one
        (ordinal), or at least this count (count).
    text : str
        What the analyst wants done or said when it fires.
    """

    id: str
    scenario: str | None = None
    above: float | None = None
    below: float | None = None
    indicator: str | None = None
    value: str | None = None
    text: str = ""

    @property
    def kind(self) -> Literal["probability", "indicator"]:
        """``"probability"`` (a scenario line) or ``"indicator"`` (a value seen)."""
        return "probability" if self.scenario is not None else "indicator"

    @property
    def threshold(self) -> float:
        """The probability line of a probability tripwire."""
        value = self.above if self.above is not None else self.below
        if value is None:
            raise ValueError(f"tripwire {self.id!r} is an indicator tripwire; it has no probability line")
        return value

    def crossed(self, probability: float) -> bool:
        """Whether a horizon probability is across this probability tripwire's line."""
        if self.above is not None:
            return probability > self.above
        return probability < self.threshold

    def describe(self) -> str:
        """One line saying what the tripwire watches."""
        if self.kind == "probability":
            side = "above" if self.above is not None else "below"
            return f"P({self.scenario}) {side} {self.threshold:g}"
        return f"{self.indicator} = {self.value}"

    def to_dict(self, value_type: str = "") -> dict[str, Any]:
        """The tripwire as the plain data of its ``[[tripwires]]`` table.

        ``value_type`` is the indicator's type: binary and count values are
        written as TOML integers, ordinal levels as strings.
        """
        out: dict[str, Any] = {"id": self.id}
        if self.kind == "probability":
            out["scenario"] = self.scenario
            out["above" if self.above is not None else "below"] = self.threshold
        else:
            out["indicator"] = self.indicator
            out["value"] = int(str(self.value)) if value_type in ("binary", "count") else self.value
        if self.text:
            out["text"] = self.text
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_problem(indicator: Mapping[str, Any], value: Any) -> tuple[str | None, str | None]:
    """(canonical value, None) when ``value`` is one the indicator can take, else (None, allowed)."""
    kind = indicator.get("type")
    if kind == "binary":
        text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else None
        if text in ("0", "1"):
            return text, None
        return None, "0 or 1 (a binary indicator: 1 = seen, 0 = looked for and not seen)"
    if kind == "ordinal":
        levels = indicator.get("levels")
        names = [str(v) for v in levels] if isinstance(levels, list) else []
        if isinstance(value, str):
            for level in names:
                if level.strip().lower() == value.strip().lower():
                    return level, None
        return None, "one of the indicator's levels " + ", ".join(repr(v) for v in names)
    if kind == "count":
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _COUNT_MAX:
            return str(value), None
        return None, f"a whole number of events 0..{_COUNT_MAX:,} (fires at this count or more)"
    return None, None  # the indicator's own type is reported elsewhere


def tripwire_problems(data: Mapping[str, Any], add: Callable[[tuple[Any, ...], str, Any, str], None]) -> None:
    """Report each semantic problem of ``[[tripwires]]`` through ``add(loc, field, value, allowed)``."""
    tripwires = data.get("tripwires")
    if not isinstance(tripwires, list):
        return  # absent, or a wrong type the structural pass reports
    scenarios = [s.get("id") for s in data.get("scenarios") or [] if isinstance(s, Mapping)]
    scenario_ids = [s for s in scenarios if isinstance(s, str)]
    indicators = {
        i.get("id"): i
        for i in data.get("indicators") or []
        if isinstance(i, Mapping) and isinstance(i.get("id"), str)
    }
    known_scenarios = ", ".join(dict.fromkeys(scenario_ids))
    known_indicators = ", ".join(str(i) for i in list(indicators)[:20]) + (
        ", ..." if len(indicators) > 20 else ""
    )
    seen: set[str] = set()
    either = "a scenario with above or below (a probability line), or an indicator with a value"
    for k, wire in enumerate(tripwires):
        if not isinstance(wire, Mapping):
            continue
        ident = wire.get("id")
        if isinstance(ident, str):
            if not _ID.match(ident):
                add(
                    ("tripwires", k, "id"),
                    "id",
                    ident,
                    "a letter followed by up to 63 letters, digits, '_' or '-'",
                )
            elif ident in seen:
                add(("tripwires", k, "id"), "id", ident, "tripwire ids must be unique")
            seen.add(ident)
        has_scenario, has_indicator = "scenario" in wire, "indicator" in wire
        if has_scenario and has_indicator:
            add(("tripwires", k, "indicator"), "indicator", wire["indicator"], f"{either}, not both")
            continue
        if not has_scenario and not has_indicator:
            add(("tripwires", k), "scenario", "(missing)", either)
            continue
        if has_scenario:
            scenario = wire["scenario"]
            if scenario_ids and scenario not in scenario_ids:
                add(
                    ("tripwires", k, "scenario"),
                    "scenario",
                    scenario,
                    f"a scenario id: one of {known_scenarios}",
                )
            if "value" in wire:
                add(
                    ("tripwires", k, "value"), "value", wire["value"], "only indicator tripwires take a value"
                )
            lines = [key for key in ("above", "below") if key in wire]
            if len(lines) == 2:
                add(
                    ("tripwires", k, "below"),
                    "below",
                    wire["below"],
                    "one line per tripwire: above or below, not both (declare two tripwires)",
                )
            elif not lines:
                add(("tripwires", k), "above", "(missing)", "above or below: the probability line to watch")
            for key in lines:
                line = wire[key]
                if not (_is_number(line) and math.isfinite(line) and 0.0 <= line <= 1.0):
                    add(("tripwires", k, key), key, line, "a probability between 0 and 1")
            continue
        name = wire["indicator"]
        for key in ("above", "below"):
            if key in wire:
                add(
                    ("tripwires", k, key),
                    key,
                    wire[key],
                    "only scenario tripwires take a probability line (indicator tripwires take a value)",
                )
        if not isinstance(name, str) or name not in indicators:
            add(
                ("tripwires", k, "indicator"),
                "indicator",
                name,
                f"an indicator id: one of {known_indicators}",
            )
            continue
        if "value" not in wire:
            add(("tripwires", k), "value", "(missing)", "the value of the indicator that trips the wire")
            continue
        _, allowed = _value_problem(indicators[name], wire["value"])
        if allowed:
            add(("tripwires", k, "value"), "value", wire["value"], allowed)


def build_tripwires(
    sections: Sequence[TripwireSection], indicators: Mapping[str, Mapping[str, Any]]
) -> tuple[Tripwire, ...]:
    """Validated tripwire tables as :class:`Tripwire` objects (values in canonical form)."""
    out = []
    for wire in sections:
        value = None
        if wire.indicator is not None:
            value, _ = _value_problem(indicators[wire.indicator], wire.value)
        out.append(
            Tripwire(
                id=wire.id,
                scenario=wire.scenario,
                above=None if wire.above is None else float(wire.above),
                below=None if wire.below is None else float(wire.below),
                indicator=wire.indicator,
                value=value,
                text=wire.text,
            )
        )
    return tuple(out)
