"""Conditional forecasts: the horizon under an assumed future for the drivers.

``forecast(..., assume={"ceasefire": {"2026-06": 1}})`` fixes the ceasefire on
from June 2026 (until a later assumption changes it) instead of carrying its
last logged value forward; :func:`driver_contrast` shows, for every driver, the
horizon with the driver switched on and off from the period after the as-of
date, under the same posterior draws.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from syriaforecast.errors import SyriaforecastError
from syriaforecast.spec import periods
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "conditional_horizon",
    "driver_contrast",
    "forecast_assumptions",
    "parse_assume",
    "parse_assume_option",
]


def forecast_assumptions(result: Any) -> dict[str, dict[int, int]] | None:
    """The driver assumptions a forecast was made under, as period indices (None: unconditional).

    A conditional forecast records them in ``attrs["assume"]``; whatever re-evaluates its
    draws against its evidence (the report's contributions, sensitivity, what to collect)
    must arrange the evidence under them, or it explains the unconditional chain.
    """
    import json

    text = result.attrs.get("assume")
    if not text:
        return None
    return parse_assume(result.model, json.loads(text), result.as_of)


def parse_assume(
    model: ScenarioModel, assume: Mapping[str, Mapping[str, int]] | None, as_of: dt.date
) -> dict[str, dict[int, int]]:
    """Check an ``assume`` mapping and turn its period labels into period indices.

    Parameters
    ----------
    model : ScenarioModel
        The model (its drivers and periods).
    assume : mapping
        Driver id -> {period label (e.g. ``"2026-06"``): 0 or 1}.
    as_of : date
        The information date: assumed periods must come after its period.

    Raises
    ------
    SyriaforecastError
        Naming the driver, period or value that is not allowed, and what is.
    """
    out: dict[str, dict[int, int]] = {}
    if not assume:
        return out
    known = ", ".join(model.driver_ids) or "(the model has no drivers)"
    first = model.first_period
    asof_index = model.period_index(as_of)
    last = model.horizon_index
    for driver, timeline in assume.items():
        if driver not in model.driver_ids:
            raise SyriaforecastError(
                f"assume: {driver!r} is not a driver of model {model.id!r}; drivers: {known}"
            )
        if not isinstance(timeline, Mapping) or not timeline:
            raise SyriaforecastError(
                f"assume[{driver!r}]: expected {{period: 0 or 1}}, e.g. {{'2026-06': 1}}"
            )
        for label, value in timeline.items():
            try:
                period = periods.parse_start(str(label), model.period)
            except ValueError:
                raise SyriaforecastError(
                    f"assume[{driver!r}]: period {label!r} is not a {model.period} written as "
                    f"{periods.start_form(model.period)}"
                ) from None
            index = int((period - first).n)
            if not asof_index < index <= last:
                labels = model.period_labels(last + 1)
                after = labels[asof_index + 1] if asof_index + 1 <= last else "(none: as-of is the horizon)"
                raise SyriaforecastError(
                    f"assume[{driver!r}]: period {label!r} is outside the forecast's future; "
                    f"allowed: {after} .. {labels[last]}"
                )
            if isinstance(value, bool) or value not in (0, 1):
                raise SyriaforecastError(
                    f"assume[{driver!r}][{label!r}] = {value!r}: expected 0 (off) or 1 (on)"
                )
            out.setdefault(driver, {})[index] = int(value)
    return out


def parse_assume_option(texts: list[str] | None) -> dict[str, dict[str, int]]:
    """The CLI's ``--assume driver=VALUE@PERIOD`` options as an ``assume`` mapping."""
    out: dict[str, dict[str, int]] = {}
    for text in texts or []:
        driver, sep, rest = text.partition("=")
        value, at, period = rest.partition("@")
        if not (sep and at and driver.strip() and period.strip()) or value.strip() not in ("0", "1"):
            raise SyriaforecastError(
                f"--assume {text!r}: expected DRIVER=VALUE@PERIOD with VALUE 0 or 1, e.g. ceasefire=1@2026-06"
            )
        out.setdefault(driver.strip(), {})[period.strip()] = int(value)
    return out


def conditional_horizon(
    result: Any, assume: Mapping[str, Mapping[str, int]], *, max_draws: int | None = 1000
) -> np.ndarray:
    """Horizon probabilities (D, S) of a forecast's posterior draws under assumed drivers.

    ``result`` is a :class:`~syriaforecast.forecast.Forecast`.
    """
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws, posterior_parameters

    model = result.model
    indices = parse_assume(model, assume, result.as_of)
    arrays = build_model_arrays(model)
    T = model.horizon_index + 1
    data = build_engine_data(model, arrays, result.evidence, T, indices)
    n_draws = int(result.horizon.sizes["chain"] * result.horizon.sizes["draw"])
    params = posterior_parameters(model, result.posterior, n_draws, max_draws=max_draws)
    chain = chain_posterior(chain_terms_for_draws(model, data, params, arrays=arrays))
    return chain.filtered[:, -1]


def driver_contrast(result: Any, *, max_draws: int | None = 1000) -> pd.DataFrame:
    """Each driver switched off and on from the period after the as-of date, side by side.

    ``result`` is a :class:`~syriaforecast.forecast.Forecast`.

    Returns
    -------
    pandas.DataFrame
        One row per (driver, scenario): ``off`` and ``on`` (mean horizon
        probability), ``change`` (on - off) and ``from`` (the first period assumed).
        Empty when the model has no drivers or the as-of period is the horizon's.
    """
    model = result.model
    rows: list[dict[str, Any]] = []
    start = model.period_index(result.as_of) + 1
    if not model.drivers or start > model.horizon_index:
        return pd.DataFrame(rows, columns=["driver", "scenario", "from", "off", "on", "change"])
    label = model.period_labels(start + 1)[-1]
    horizon = _assumed_horizons(result, max_draws=max_draws)
    for driver in model.drivers:
        off = horizon({driver.id: {label: 0}}).mean(axis=0)
        on = horizon({driver.id: {label: 1}}).mean(axis=0)
        for s, sid in enumerate(model.scenario_ids):
            rows.append(
                {
                    "driver": driver.id,
                    "scenario": sid,
                    "from": label,
                    "off": float(off[s]),
                    "on": float(on[s]),
                    "change": float(on[s] - off[s]),
                }
            )
    return pd.DataFrame(rows)


def _assumed_horizons(result: Any, *, max_draws: int | None) -> Any:
    """:func:`conditional_horizon` for many assumptions, with the evidence's terms computed once.

    Drivers move only the transitions; the reports' emission terms do not depend on
    them (``engine.kernel.chain_terms_kernel`` computes the two apart), and the
    transitions do not depend on the reports. So the emissions are computed once,
    and each assumption's transitions from the same draws without the reports'
    cells; the forward-backward then gets the very arrays :func:`conditional_horizon`
    would give it, so the probabilities are the same to the last bit.
    """
    from syriaforecast.engine.data import build_engine_data, build_model_arrays, driver_states
    from syriaforecast.engine.evaluate import chain_terms_for_draws, posterior_parameters
    from syriaforecast.engine.hmm import forward_backward

    model = result.model
    arrays = build_model_arrays(model)
    T = model.horizon_index + 1
    data = build_engine_data(model, arrays, result.evidence, T)
    n_draws = int(result.horizon.sizes["chain"] * result.horizon.sizes["draw"])
    params = posterior_parameters(model, result.posterior, n_draws, max_draws=max_draws)
    evidence_terms = chain_terms_for_draws(model, data, params, arrays=arrays)
    no_cells = _without_cells(data)
    # Switching a driver to the value it carries forward anyway changes nothing: such
    # assumptions share one computation (the same inputs give the same numbers).
    done: dict[bytes, np.ndarray] = {}

    def horizon(assume: Mapping[str, Mapping[str, int]]) -> np.ndarray:
        driver_on = driver_states(model, result.evidence, T, parse_assume(model, assume, result.as_of))
        key = np.ascontiguousarray(driver_on, dtype=float).tobytes()
        if key not in done:
            assumed = dataclasses.replace(no_cells, driver_on=driver_on)
            moves = chain_terms_for_draws(model, assumed, params, arrays=arrays).log_transition
            chain = forward_backward(evidence_terms.log_initial, moves, evidence_terms.log_emission)
            done[key] = chain.filtered[:, -1]
        return done[key]

    return horizon


def _without_cells(data: Any) -> Any:
    """``data`` (an EngineData) with no cells or reports: what only the transitions need."""
    J = data.slots
    empty = np.zeros(0, dtype=np.int64)
    return dataclasses.replace(
        data,
        cell_period=empty,
        cell_indicator=empty,
        cell_count_values=np.zeros((0, J), dtype=np.int64),
        cell_slot_valid=np.zeros((0, J), dtype=bool),
        face_log_reading=np.zeros((0, J)),
        report_cell=empty,
        report_match=np.zeros((0, J)),
        report_noise=np.zeros((0, J)),
        report_reliability=empty,
        report_credibility=empty,
        report_joint=empty,
        cell_component=empty,
        cell_event=empty,
        event_cluster=empty,
        report_row=empty,
        report_source=empty,
        source_names=(),
    )
