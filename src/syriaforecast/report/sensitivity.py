"""How fragile the forecast is to the analyst's own elicitations.

Rule
----
Each elicited likelihood (indicator ``i``, scenario ``s``) is moved one ICD 203
band down and up (``steps`` bands in general) and the horizon probability of
the leading scenario (highest posterior mean) is recomputed:

* binary, written as a phrase: the neighbouring band's phrase;
* binary, written as a number: the logit midpoint of the band next to the
  number's band (``phrases.band_of``);
* ordinal: every cumulative logit moved by one *band step*, so higher levels
  become more (up) or less (down) likely;
* count: the log expected count moved by one band step.

A band step is the mean logit distance between neighbouring ICD 203 band
midpoints, ``(logit mid(almost certain) - logit mid(almost no chance)) / 6``
(about 1.26): the engine shifts ordinal cutpoints and log counts on the same
scale as binary logits. A move past either end of the scale leaves the value
unchanged (swing 0 in that direction; ``at_limit`` says so).

The recomputation uses the forecast's own parameter draws (evenly thinned to
``max_draws``) with only that elicitation changed: the change is averaged over
draws as paired differences and added to the headline probability (the mean
over all draws), so ``p_base`` is the headline. In exact mode this is exactly
the model file with the one elicitation edited; in hierarchical mode the draws'
elicitation errors are held fixed (no refit). An elicitation of an indicator that has no
reports up to the horizon cannot move the forecast: its swing is 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from syriaforecast._maths import expit, logit
from syriaforecast.engine.data import build_model_arrays, data_under
from syriaforecast.engine.evaluate import chain_terms_for_draws
from syriaforecast.errors import SyriaforecastError
from syriaforecast.phrases import BANDS, band_of, elicited_logit, parse_phrase, shift_band
from syriaforecast.report.influence import (
    check_max_draws,
    forward_log_filtered,
    indicator_label,
    indicator_only_arrays,
    prepare,
    variant_log_filtered,
)
from syriaforecast.spec.model import parse_model

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast
    from syriaforecast.spec.model import Indicator

__all__ = ["BAND_STEP", "elicitation_sensitivity", "linchpins", "shifted_elicitation"]


#: Mean logit distance between neighbouring ICD 203 band midpoints.
BAND_STEP = (logit(BANDS[-1].midpoint) - logit(BANDS[0].midpoint)) / (len(BANDS) - 1)
_FLOOR = 1e-6
_MAX_RATE = 1e4


def shifted_elicitation(indicator: Indicator, scenario: str, steps: int) -> tuple[Any, bool]:
    """An elicitation moved ``steps`` ICD 203 bands (negative: down), as a model file writes it.

    Returns
    -------
    value, at_limit
        The new likelihood (phrase, number, tuple of level probabilities or
        expected count) and whether the move ran past the end of the scale.
    """
    value = indicator.likelihood[scenario]
    if indicator.type == "binary":
        if isinstance(value, str):
            band = parse_phrase(value)
            assert band is not None  # validated when the model was loaded
            moved = shift_band(band, steps)
            return (value, True) if moved is band else (moved.phrase, False)
        band = band_of(float(value))  # type: ignore[arg-type]
        moved = shift_band(band, steps)
        if moved is band:
            return value, True
        return moved.midpoint, False
    delta = steps * BAND_STEP
    if indicator.type == "ordinal":
        return _shift_levels(value, delta), False  # type: ignore[arg-type]
    rate = float(value)  # type: ignore[arg-type]
    moved_rate = rate * math.exp(delta)
    limited = not (_FLOOR <= moved_rate <= _MAX_RATE)
    return min(max(moved_rate, _FLOOR), _MAX_RATE), limited


def _shift_levels(value: tuple[float, ...], delta: float) -> tuple[float, ...]:
    """Ordinal level probabilities moved up the levels by ``delta`` on the cumulative-logit scale."""
    probs = np.asarray(value, dtype=float)
    cumulative = np.clip(np.cumsum(probs)[:-1], 1e-12, 1 - 1e-12)
    moved_cum = [expit(logit(c) - delta) for c in cumulative]
    new = np.diff(np.concatenate([[0.0], moved_cum, [1.0]]))
    # Levels at the floor stay there and the others share what is left: dividing every level by
    # the sum after flooring (as before) pushed a floored level back below the floor, and the
    # edited model failed the model file's own check (probabilities of at least _FLOOR).
    floored = np.zeros(new.shape, dtype=bool)
    for _ in range(new.size):
        floored |= new < _FLOOR
        rest = ~floored
        new = np.where(floored, _FLOOR, new * (1.0 - _FLOOR * floored.sum()) / new[rest].sum())
        if not (new[rest] < _FLOOR).any():
            break
    return tuple(float(v) for v in new)


def _move_analysts(indicator: Indicator, scenario: str, steps: int, moved: Any) -> dict[str, dict[str, Any]]:
    """Every analyst's table with ``scenario`` moved by the amount the consensus moved.

    Moving all analysts together by one logit amount moves their consensus (what
    :func:`shifted_elicitation` moved) by that amount and leaves their
    disagreement, hence the pooled weights, unchanged.
    """
    tables: dict[str, dict[str, Any]] = {
        analyst: {sid: list(v) if isinstance(v, tuple) else v for sid, v in table.items()}
        for analyst, table in indicator.elicitations.items()
    }
    if indicator.type == "binary":
        delta = elicited_logit(moved) - elicited_logit(indicator.likelihood[scenario])  # type: ignore[arg-type]
        for table in tables.values():
            shifted = expit(elicited_logit(table[scenario]) + delta)
            table[scenario] = min(max(shifted, _FLOOR), 1 - _FLOOR)
    elif indicator.type == "ordinal":
        for table in tables.values():
            table[scenario] = list(_shift_levels(tuple(table[scenario]), steps * BAND_STEP))
    else:
        ratio = float(moved) / float(indicator.likelihood[scenario])  # type: ignore[arg-type]
        for table in tables.values():
            table[scenario] = min(max(float(table[scenario]) * ratio, _FLOOR), _MAX_RATE)
    return tables


def _as_written(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:.2f}" for v in value) + "]"
    return f"{float(value):.3g}"


def elicitation_sensitivity(
    forecast: Forecast, *, steps: int = 1, max_draws: int | None = 200
) -> pd.DataFrame:
    """How the leading scenario's horizon probability moves when each elicitation moves a band.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    steps : int
        ICD 203 bands to move each elicitation, down and up (default 1).
    max_draws : int or None
        Evenly thinned posterior draws to average over (None: all).

    Returns
    -------
    pandas.DataFrame
        One row per (indicator, scenario) elicitation, largest swing first:
        ``indicator``, ``label``, ``scenario``, ``scenario_name``, ``elicited``,
        ``down``, ``up`` (as written), ``p_base``, ``p_down``, ``p_up``
        (probability of the leading scenario at the horizon), ``swing`` (the
        larger absolute move), ``at_limit``. ``attrs`` name the leading scenario.
    """
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise SyriaforecastError(f"steps = {steps!r}: expected a whole number of bands >= 1")
    check_max_draws(max_draws)
    setup = prepare(forecast, max_draws=max_draws)
    model = setup.model
    terms = setup.terms
    H = setup.horizon_index
    scen = list(model.scenario_ids)
    leading = str(forecast.mean("horizon").idxmax("scenario").item())
    lead = scen.index(leading)
    base = np.exp(forward_log_filtered(terms.log_initial, terms.log_transition, terms.log_emission, H))[
        :, lead
    ]
    # A cell coupled to other indicators' cells by a multi-row report shares one likelihood
    # (its unit's); the what-if of such an indicator is evaluated with only its own move.
    unit = terms.data.cell_unit
    cells_of: dict[int, list[int]] = {}
    for c, i in enumerate(terms.data.cell_indicator):
        if int(unit[c]) not in cells_of.get(int(i), []):
            cells_of.setdefault(int(i), []).append(int(unit[c]))
    unit_indicators: dict[int, set[int]] = {}
    for c, i in enumerate(terms.data.cell_indicator):
        unit_indicators.setdefault(int(unit[c]), set()).add(int(i))
    coupled = {i for members in unit_indicators.values() if len(members) > 1 for i in members}
    periods = terms.data.cell_period
    full = terms.cell_log_likelihood  # (D, C, S)

    rows: list[dict[str, Any]] = []
    # Variants that touch no cell (an indicator never reported) leave the forecast as it is.
    variants: list[tuple[int, int, np.ndarray]] = []  # (row, column, cell log lik (D, C, S))
    for s, sid in enumerate(scen):
        moved_ll = {}
        moved_arrays = {}
        for direction in (-steps, steps):
            # One modified model per (scenario, direction) holds every indicator's move for
            # that scenario: a cell's likelihood depends on its own indicator's elicitations
            # only, so each variant reads just its own indicator's cells from it. All
            # scenario columns are read: a count's noise spread depends on every rate.
            data = model.to_dict()
            for entry, ind in zip(data["indicators"], model.indicators, strict=True):
                value, _ = shifted_elicitation(ind, sid, direction)
                if ind.elicitations:
                    entry["elicitations"] = _move_analysts(ind, sid, direction, value)
                else:
                    entry["likelihood"][sid] = list(value) if isinstance(value, tuple) else value
            modified = parse_model(data, source=f"<{model.id}: {sid} moved {direction:+d} band>")
            moved_arrays[direction] = build_model_arrays(modified)
            moved_ll[direction] = chain_terms_for_draws(
                modified,
                data_under(terms.data, setup.arrays, moved_arrays[direction]),
                setup.params,
                arrays=moved_arrays[direction],
            ).cell_log_likelihood
        for k, ind in enumerate(model.indicators):
            down_value, down_limit = shifted_elicitation(ind, sid, -steps)
            up_value, up_limit = shifted_elicitation(ind, sid, steps)
            if k in cells_of:
                for column, direction in enumerate((-steps, steps)):
                    moved = moved_ll[direction]
                    if k in coupled:
                        only = indicator_only_arrays(setup.arrays, moved_arrays[direction], k)
                        moved = chain_terms_for_draws(
                            model, data_under(terms.data, setup.arrays, only), setup.params, arrays=only
                        ).cell_log_likelihood
                    variants.append((len(rows), column, moved))
            rows.append(
                {
                    "indicator": ind.id,
                    "label": indicator_label(model, ind.id),
                    "scenario": sid,
                    "scenario_name": model.scenarios[s].name,
                    "elicited": _as_written(ind.likelihood[sid]),
                    "down": _as_written(down_value),
                    "up": _as_written(up_value),
                    "at_limit": "down" if down_limit else ("up" if up_limit else ""),
                }
            )
    # Paired differences over the thinned draws, added to the headline (all draws): the
    # baseline is the number the analyst already has, and pairing cancels most Monte Carlo noise.
    p_base = float(forecast.mean("horizon").sel(scenario=leading))
    means = np.full((len(rows), 2), p_base)
    D, T, S = terms.log_emission.shape
    chunk = max(1, 4_000_000 // (D * T * S))
    for start in range(0, len(variants), chunk):
        block = variants[start : start + chunk]
        emission = np.broadcast_to(terms.log_emission, (len(block), D, T, S)).copy()
        for v, (row, _, moved) in enumerate(block):
            k = model.indicator_ids.index(rows[row]["indicator"])
            for c in cells_of[k]:
                emission[v, :, periods[c]] += moved[:, c] - full[:, c]
        probs = np.exp(variant_log_filtered(setup, emission, H))[:, :, lead]  # (V, D)
        for v, (row, column, _) in enumerate(block):
            means[row, column] = p_base + float((probs[v] - base).mean())
    table = pd.DataFrame(rows)
    table["p_base"] = p_base
    table["p_down"] = means[:, 0]
    table["p_up"] = means[:, 1]
    table["swing"] = np.maximum(np.abs(means[:, 0] - p_base), np.abs(means[:, 1] - p_base))
    table = table.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs.update(
        {
            "leading": leading,
            "leading_name": model.scenarios[lead].name,
            "steps": int(steps),
            "band_step_logit": BAND_STEP,
            "n_draws": setup.n_draws,
            "rule": (
                "binary phrase -> neighbouring band; binary number -> midpoint of the neighbouring "
                f"band; ordinal cutpoints and count log rates shifted by {BAND_STEP:.3f} per band"
            ),
        }
    )
    return table


def linchpins(forecast: Forecast, *, n: int = 5, steps: int = 1, max_draws: int | None = 200) -> pd.DataFrame:
    """The ``n`` elicitations whose one-band move swings the leading scenario most.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    n : int
        How many to name.
    steps : int
        ICD 203 bands to move each elicitation.
    max_draws : int or None
        Evenly thinned posterior draws (None: all).

    Returns
    -------
    pandas.DataFrame
        The first ``n`` rows of :func:`elicitation_sensitivity` with a non-zero swing.
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise SyriaforecastError(f"n = {n!r}: expected a whole number >= 1")
    table = elicitation_sensitivity(forecast, steps=steps, max_draws=max_draws)
    top = table[table["swing"] > 0].head(n).reset_index(drop=True)
    top.attrs.update(table.attrs)
    return top
