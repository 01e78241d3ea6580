"""Where the analysts disagree, and which disagreements move the forecast.

For a model elicited by several analysts (``ScenarioModel.analysts``), each
indicator gets three numbers:

``spread``
    How far apart the analysts' elicitations are: the standard deviation
    across analysts (``ddof=1``) of the elicited location, averaged over
    scenarios. The location is on the engine's shift scale: the logit of
    P(seen) for a binary indicator (a phrase counts as its band's logit
    midpoint), minus the mean cumulative logit for an ordinal one (larger =
    higher levels), the log expected count for a count.
``diagnosticity_gap``
    The largest difference, over pairs of analysts and scenarios, in the
    indicator's diagnosticity as each analyst wrote it: the weight of evidence
    of the indicator "firing" in one period, ``10 log10(P(fire | s) / P(fire |
    not s))`` decibans, ``P(fire | not s)`` the prior-weighted average over the
    other scenarios ("firing": seen, the highest level, at least one count;
    as in :func:`~syriaforecast.report.diagnosticity`, here from the tables
    as written).
``swing``
    How much the horizon forecast moves when that indicator alone uses one
    analyst's table instead of the consensus: for each analyst, the largest
    change of any scenario's horizon probability, and the largest over
    analysts. It is computed in **exact mode** on the forecast's own evidence
    and as-of date (the model file's values taken as true: no sampling, cheap
    and deterministic), against the exact-mode consensus forecast, whatever
    the forecast's own mode. Only the indicator's own cells change, so each
    variant costs one forward pass. An indicator with no reports up to the
    as-of date cannot swing the forecast (its swing is 0) however much the
    analysts disagree about it.

Sorted by swing, these are the disagreements worth a meeting: a large spread
with no swing can wait, a large swing cannot.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from syriaforecast.conditional import forecast_assumptions
from syriaforecast.engine.data import build_engine_data, build_model_arrays, data_under
from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
from syriaforecast.errors import SyriaforecastError
from syriaforecast.phrases import elicited_logit
from syriaforecast.report.influence import forward_log_filtered, indicator_label, indicator_only_arrays
from syriaforecast.spec.analysts import analyst_model, consensus_model

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast
    from syriaforecast.spec.model import Indicator, ScenarioModel

__all__ = ["analyst_summary", "disagreement", "disagreement_rows"]

#: Decibans per natural-log unit: 10 / ln(10).
_DB_PER_NAT = 10.0 / math.log(10.0)


def _location(indicator: Indicator, value: Any) -> float:
    """An elicitation's location on the engine's shift scale (logit, -mean cutpoint, log rate)."""
    if indicator.type == "binary":
        try:
            return elicited_logit(value)
        except ValueError as exc:
            raise SyriaforecastError(f"{indicator.id}: {exc}") from None
    if indicator.type == "ordinal":
        cumulative = np.clip(np.cumsum(np.asarray(value, dtype=float))[:-1], 1e-12, 1 - 1e-12)
        return -float(np.mean(np.log(cumulative) - np.log1p(-cumulative)))
    return math.log(float(value))


def _fire(indicator: Indicator, value: Any) -> float:
    """P(the indicator fires in one period | scenario) from one table entry."""
    if indicator.type == "binary":
        return 1.0 / (1.0 + math.exp(-_location(indicator, value)))
    if indicator.type == "ordinal":
        return float(np.asarray(value, dtype=float)[-1])
    return -math.expm1(-float(value))


def _diagnosticity_db(fire: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Weight of evidence (dB) of firing for each scenario, against the prior-weighted others."""
    S = fire.shape[-1]
    out = np.empty(S)
    for s in range(S):
        others = [k for k in range(S) if k != s]
        if not others:
            out[s] = 0.0
            continue
        weights = prior[others] / prior[others].sum()
        out[s] = _DB_PER_NAT * (math.log(fire[s]) - math.log(float(weights @ fire[others])))
    return out


def disagreement(result: Forecast, *, top: int | None = None) -> xr.Dataset:
    """The analysts' disagreements per indicator, sorted by how much they swing the forecast.

    Parameters
    ----------
    result : Forecast
        A forecast of a model elicited by several analysts (any mode: the
        swing is computed in exact mode on its evidence and as-of date).
    top : int, optional
        Keep only the ``top`` indicators with the largest swing.

    Returns
    -------
    xarray.Dataset
        Dimension ``indicator`` in order of decreasing ``swing`` (ties by
        ``diagnosticity_gap``), plus ``analyst`` and ``scenario``. Variables:
        ``swing`` (indicator) largest move of a horizon probability when the
        indicator alone uses one analyst's table; ``swing_analyst`` (indicator)
        whose table moves it most; ``move`` (indicator, analyst) each
        analyst's move (largest change of a horizon probability); ``horizon``
        (indicator, analyst, scenario) the exact horizon forecast with that
        analyst's table for the indicator;
        ``consensus`` (scenario) the exact horizon forecast on the consensus;
        ``spread`` (indicator) SD across analysts of the elicited location,
        averaged over scenarios (shift units: logit / log rate);
        ``diagnosticity`` (indicator, analyst, scenario) in decibans and
        ``diagnosticity_gap`` (indicator) its largest difference between two
        analysts; ``n_reports`` (indicator) reports up to the as-of date;
        ``label`` (indicator). Entries of an analyst who did not elicit an
        indicator are NaN. Attributes: ``model_id``, ``as_of``, ``mode``
        (``"exact"``: how the swing was computed), ``forecast_mode`` and ``rule``.

    Raises
    ------
    SyriaforecastError
        The forecast's model has no analysts, or ``top`` is not a whole number >= 1.
    """
    model: ScenarioModel = result.model
    ids = model.analysts
    if not ids:
        raise SyriaforecastError(
            f"disagreement: model {model.id!r} was elicited by one analyst (no "
            "[indicators.elicitations.<analyst>] tables); there is no disagreement to report"
        )
    if top is not None and (isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1):
        raise SyriaforecastError(f"top = {top!r}: expected a whole number >= 1 or None")
    S, I, A = len(model.scenarios), len(model.indicators), len(ids)
    prior = np.asarray(model.prior, dtype=float)

    # --- the tables: spread and diagnosticity
    location = np.full((I, A, S), np.nan)
    diag = np.full((I, A, S), np.nan)
    for i, ind in enumerate(model.indicators):
        for a, analyst in enumerate(ids):
            table = ind.elicitations.get(analyst)
            if table is None:
                continue
            location[i, a] = [_location(ind, table[sid]) for sid in model.scenario_ids]
            fire = np.array([_fire(ind, table[sid]) for sid in model.scenario_ids])
            diag[i, a] = _diagnosticity_db(fire, prior)
    counted = np.sum(~np.isnan(location[:, :, 0]), axis=1)
    spread = np.full(I, np.nan)
    gap = np.full(I, np.nan)
    for i in range(I):
        if counted[i] >= 2:
            spread[i] = float(np.nanstd(location[i], axis=0, ddof=1).mean())
            gap[i] = float(np.nanmax(np.nanmax(diag[i], axis=0) - np.nanmin(diag[i], axis=0)))

    # --- the swing: exact mode, one indicator's cells at a time
    consensus = consensus_model(model)
    params = exact_parameters_for(consensus)
    evidence = result.evidence.up_to(result.as_of)
    consensus_arrays = build_model_arrays(consensus)
    data = build_engine_data(  # under a conditional forecast's assumed drivers, as it was fitted
        consensus, consensus_arrays, evidence, consensus.horizon_index + 1, forecast_assumptions(result)
    )
    terms = chain_terms_for_draws(consensus, data, params, arrays=consensus_arrays)
    H = model.horizon_index
    base_p = np.exp(forward_log_filtered(terms.log_initial, terms.log_transition, terms.log_emission, H))[0]
    cell_indicator = terms.data.cell_indicator
    cell_period = terms.data.cell_period
    unit = terms.data.cell_unit
    unit_indicators: dict[int, set[int]] = {}
    for c, i in enumerate(cell_indicator):
        unit_indicators.setdefault(int(unit[c]), set()).add(int(i))
    base_arrays = build_model_arrays(consensus)
    n_reports = np.zeros(I, dtype=np.int64)
    table = evidence.to_dataframe()
    for i, ident in enumerate(model.indicator_ids):
        n_reports[i] = int((table["indicator"] == ident).sum())
    horizon = np.full((I, A, S), np.nan)
    for a, analyst in enumerate(ids):
        variant = analyst_model(model, analyst)
        variant_arrays = build_model_arrays(variant)
        # The same cells under the variant's elicitations (a count's noise spread follows its rates).
        variant_data = data_under(terms.data, base_arrays, variant_arrays)
        moved = chain_terms_for_draws(
            variant, variant_data, params, arrays=variant_arrays
        ).cell_log_likelihood
        for i, ind in enumerate(model.indicators):
            if analyst not in ind.elicitations:
                continue
            # A cell coupled to other indicators by a multi-row report shares its unit's
            # likelihood: there only this indicator's elicitation may move.
            cells = np.unique(unit[cell_indicator == i])
            moved_i = moved
            if any(len(unit_indicators[int(c)]) > 1 for c in cells):
                only = indicator_only_arrays(base_arrays, variant_arrays, i)
                only_data = data_under(terms.data, base_arrays, only)
                moved_i = chain_terms_for_draws(consensus, only_data, params, arrays=only).cell_log_likelihood
            emission = terms.log_emission.copy()
            for c in cells:
                emission[:, cell_period[c]] += moved_i[:, c] - terms.cell_log_likelihood[:, c]
            log_p = forward_log_filtered(terms.log_initial, terms.log_transition, emission, H)
            horizon[i, a] = np.exp(log_p[0])
    move = np.nanmax(np.abs(horizon - base_p), axis=2, initial=-np.inf)
    move = np.where(np.isfinite(move), move, np.nan)
    swing = np.array([np.nanmax(row) if np.any(~np.isnan(row)) else np.nan for row in move])
    who = np.array(
        [ids[int(np.nanargmax(row))] if np.any(~np.isnan(row)) else "" for row in move], dtype=object
    )

    # --- sort: swing first, then the diagnosticity gap (NaN last)
    order = np.lexsort((-np.nan_to_num(gap, nan=-np.inf), -np.nan_to_num(swing, nan=-np.inf)))
    if top is not None:
        order = order[: int(top)]
    indicators = [model.indicator_ids[k] for k in order]
    ds = xr.Dataset(
        {
            "swing": ("indicator", swing[order]),
            "swing_analyst": ("indicator", np.array(who[order], dtype=str)),
            "move": (("indicator", "analyst"), move[order]),
            "horizon": (("indicator", "analyst", "scenario"), horizon[order]),
            "consensus": ("scenario", base_p),
            "spread": ("indicator", spread[order]),
            "diagnosticity": (("indicator", "analyst", "scenario"), diag[order]),
            "diagnosticity_gap": ("indicator", gap[order]),
            "n_reports": ("indicator", n_reports[order]),
            "label": ("indicator", np.array([indicator_label(model, k) for k in indicators], dtype=str)),
        },
        coords={"indicator": indicators, "analyst": list(ids), "scenario": list(model.scenario_ids)},
        attrs={
            "model_id": model.id,
            "as_of": result.as_of.isoformat(),
            "mode": "exact",
            "forecast_mode": result.mode,
            "rule": (
                "swing: largest change of a horizon probability (exact mode, the forecast's evidence "
                "and as-of date) when one indicator uses one analyst's table instead of the consensus; "
                "spread: SD across analysts (ddof=1) of the elicited logit / -mean cutpoint logit / "
                "log rate, averaged over scenarios; diagnosticity_gap: largest difference between "
                "analysts of 10 log10(P(fire | s) / P(fire | not s)) in dB"
            ),
        },
    )
    return ds


def disagreement_rows(result: Forecast, *, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` disagreements worth a meeting, one row each, for tables (CLI, HTML report).

    Each row names the indicator (``indicator``, ``label``), the analyst whose
    table moves the horizon most (``analyst``), the scenario it moves most
    (``scenario``, ``scenario_name``) and by how much (``change``, a signed
    probability), with ``swing``, ``spread`` and ``reports``. Empty for a model
    without analysts.
    """
    if not result.model.analysts:
        return []
    table = disagreement(result, top=top)
    model = result.model
    names = dict(zip(model.scenario_ids, model.scenario_names, strict=True))
    rows = []
    for k, indicator in enumerate(table["indicator"].values):
        analyst = str(table["swing_analyst"].values[k])
        moved = (table["horizon"].sel(indicator=indicator, analyst=analyst) - table["consensus"]).values
        most = int(abs(moved).argmax())
        scenario = model.scenario_ids[most]
        rows.append(
            {
                "indicator": str(indicator),
                "label": str(table["label"].values[k]),
                "swing": float(table["swing"].values[k]),
                "analyst": analyst,
                "scenario": scenario,
                "scenario_name": names[scenario],
                "change": float(moved[most]),
                "spread": float(table["spread"].values[k]),
                "reports": int(table["n_reports"].values[k]),
            }
        )
    return rows


def analyst_summary(result: Forecast, *, prob: float = 0.9) -> list[dict[str, Any]]:
    """Each analyst's posterior bias and own noise (logit units): mean and ``prob`` HDI.

    One row per analyst with ``bias_mean``, ``bias_hdi_low``, ``bias_hdi_high``,
    ``noise_mean``, ``noise_hdi_low`` and ``noise_hdi_high``. Empty when the
    forecast has no analyst parameters (no analysts, or exact mode).
    """
    from syriaforecast.forecast import hdi_bounds

    posterior = result.posterior
    if "analyst_noise" not in posterior:
        return []
    rows = []
    for analyst in posterior["analyst"].values:
        entry: dict[str, Any] = {"analyst": str(analyst)}
        for name in ("analyst_bias", "analyst_noise"):
            draws = posterior[name].sel(analyst=analyst)
            low, high = hdi_bounds(draws, prob=prob)
            key = name.removeprefix("analyst_")
            entry |= {
                f"{key}_mean": float(draws.mean()),
                f"{key}_hdi_low": float(low),
                f"{key}_hdi_high": float(high),
            }
        rows.append(entry)
    return rows
