"""What moved the forecast: the weight of each report, indicator or group, in decibans.

Definition
----------
The contribution of a set of reports R to scenario ``s`` is the change it makes
to the log odds of ``s`` at the target period (the horizon by default),

    W_R(s) = 10 * log10( O_s(all evidence) / O_s(all evidence except R) ),
    O_s(E) = P(Z = s | E) / (1 - P(Z = s | E)),

in decibans (dB; 10 dB is a factor of ten in the odds, 3 dB about two). It is
computed per posterior draw, with the draw's parameters held at their
full-evidence values (a leave-out, not a refit), then summarised by the mean
and a highest-density interval over draws. ``by="report"`` leaves out one
report at a time, ``by="indicator"`` all reports of one indicator, ``by="group"``
all reports of one indicator group. Contributions of different reports need not
add up to the total (``total``: all evidence against none): reports of one
period and indicator share one true state, and the chain links periods.

For one ungraded report ``x`` of a binary indicator with the scenario fixed
(persistence 1) the contribution is the likelihood ratio of the report,
``10 log10(P(x | s) / P(x | not s))``, where ``P(x | not s)`` is the
prior-weighted average over the other scenarios.

Leaving a report out only changes the likelihood of its own (period, indicator)
cell, so each variant costs one cell likelihood and one forward pass, computed
for all variants at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from syriaforecast.conditional import forecast_assumptions
from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    RELIABILITY_PRIOR_MEAN,
    ModelArrays,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.evaluate import DrawTerms, chain_terms_for_draws
from syriaforecast.engine.filtering import log_filtered_at
from syriaforecast.errors import SyriaforecastError
from syriaforecast.forecast import forecast_parameters
from syriaforecast.spec.evidence import load_evidence
from syriaforecast.spec.model import ScenarioModel

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = ["REPORT_WORK_MAX", "ReportBudgetError", "evidence_contributions", "since"]

#: Decibans per natural-log unit: 10 / ln(10).
DB_PER_NAT = 10.0 / np.log(10.0)
_BY = ("report", "indicator", "group", "report_id", "source")
_TARGETS = ("horizon", "as_of")
#: Largest variants x draws x periods x scenarios block held in memory at once.
_BLOCK = 4_000_000
#: Leave-one-out work budget of ``by="report"``: report rows re-evaluated over all distinct
#: variants (a cell's reports are re-read once per distinct report kind in it). Reports of one
#: cell with the same value and grade share one variant, so typical logs stay far below it.
REPORT_WORK_MAX = 200_000
#: Per-draw values kept for ``by="report"`` (reports x draws x scenarios floats) at most.
PER_DRAW_MAX = 20_000_000


# --------------------------------------------------------------------------- shared machinery
@dataclass(frozen=True)
class Setup:
    """A forecast's parameter draws and chain terms, ready for what-if evaluation."""

    model: ScenarioModel
    params: dict[str, np.ndarray]  # leading draw axis D
    arrays: ModelArrays
    terms: DrawTerms  # with the forecast's own evidence
    table: pd.DataFrame  # the forecast's reports (Evidence.to_dataframe())
    report_cell: np.ndarray  # (K,) cell of each report, -1 for reports after the horizon
    asof_index: int  # period of the as-of date, capped at the horizon

    @property
    def n_draws(self) -> int:
        """Number of parameter draws D."""
        return int(self.terms.log_initial.shape[0])

    @property
    def n_periods(self) -> int:
        """Periods of the chain, first to horizon."""
        return int(self.terms.log_emission.shape[1])

    @property
    def horizon_index(self) -> int:
        """Period index of the horizon."""
        return self.n_periods - 1

    def target_index(self, target: str) -> int:
        """Period index of ``"horizon"`` or ``"as_of"``."""
        if target not in _TARGETS:
            raise SyriaforecastError(f"target = {target!r}: expected one of {', '.join(_TARGETS)}")
        return self.horizon_index if target == "horizon" else self.asof_index


def check_max_draws(max_draws: int | None) -> None:
    """Refuse a ``max_draws`` that is not a positive whole number (or None)."""
    if max_draws is not None and (not isinstance(max_draws, int | np.integer) or max_draws < 1):
        raise SyriaforecastError(f"max_draws = {max_draws!r}: expected a whole number >= 1, or None")


def check_prob(prob: float) -> None:
    """Refuse an interval mass outside (0, 1)."""
    if not 0.0 < float(prob) < 1.0:
        raise SyriaforecastError(f"prob = {prob!r}: expected an interval mass strictly between 0 and 1")


def prepare(forecast: Forecast, *, max_draws: int | None = 200) -> Setup:
    """Thin the forecast's draws and compute the chain terms with its evidence."""
    check_max_draws(max_draws)
    model = forecast.model
    params = forecast_parameters(forecast, max_draws=max_draws)
    arrays = build_model_arrays(model)
    # A conditional forecast's moves follow its assumed drivers: the same arrangement as its fit.
    data = build_engine_data(
        model, arrays, forecast.evidence, model.horizon_index + 1, forecast_assumptions(forecast)
    )
    terms = chain_terms_for_draws(model, data, params, arrays=arrays)
    table = forecast.evidence.to_dataframe().reset_index(drop=True)
    cells = {
        (int(p), int(i)): c
        for c, (p, i) in enumerate(zip(terms.data.cell_period, terms.data.cell_indicator, strict=True))
    }
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    report_cell = np.array(
        [
            cells.get((int(p), index[ident]), -1)
            for p, ident in zip(table["period"], table["indicator"], strict=True)
        ],
        dtype=np.int64,
    )
    asof_index = min(model.period_index(forecast.as_of), model.horizon_index)
    return Setup(model, params, arrays, terms, table, report_cell, asof_index)


def period_start(model: ScenarioModel, period: int) -> dt.date:
    """First day of a period (a date inside it that the evidence loader accepts)."""
    return (model.first_period + period).start_time.date()


def indicator_only_arrays(base: ModelArrays, moved: ModelArrays, indicator: int) -> ModelArrays:
    """``base`` with one indicator's elicitation arrays taken from ``moved`` (a what-if of that indicator).

    A cell coupled to others by a multi-row report shares one likelihood with
    them, so a what-if about one indicator must leave the others' elicitations alone.
    """
    out = {}
    for name in ("cutpoints", "log_rate", "band_sd", "noise_count_mean"):
        values = getattr(base, name).copy()
        values[indicator] = getattr(moved, name)[indicator]
        out[name] = values
    return dataclasses.replace(base, **out)


def group_log_likelihoods(
    model: ScenarioModel,
    params: dict[str, np.ndarray],
    arrays: ModelArrays,
    groups: Sequence[pd.DataFrame],
) -> np.ndarray:
    """Log likelihood of each group of reports read as one unit (a cell, or cells a report couples).

    Parameters
    ----------
    model : ScenarioModel
        The model the reports belong to.
    params : dict
        Parameter draws (leading axis D).
    arrays : ModelArrays
        The model's (possibly modified) elicitation arrays.
    groups : sequence of DataFrame
        Each with columns ``indicator``, ``value``, ``reliability`` and
        ``credibility`` (0 or '' = blank), and optionally ``report``; the rows of
        a group are read as one period's reports (of one indicator, or of several
        coupled by multi-row reports).

    Returns
    -------
    ndarray (D, G, S)
        ``log P(reports of group g | scenario s)`` under each draw; 0 for an empty group.
        Readings of several members of one cluster within a group are read jointly
        (through the cluster's event); separate groups never share an event.

    Notes
    -----
    A cell's likelihood does not depend on its period, so the groups are laid
    out in distinct pseudo-periods (a few rounds when an indicator has more
    groups than the model has periods) and evaluated with one engine call per
    draw and round.
    """
    D = len(next(iter(params.values())))
    out = np.zeros((D, len(groups), arrays.n_scenarios))
    n_periods = model.horizon_index + 1
    # Each group gets a pseudo-period none of its indicators uses yet. Members of one cluster
    # share the period's latent event, so a cluster is one occupant: two groups reading
    # different members of a cluster in one pseudo-period would be read jointly.
    occupant = {ind.id: f"cluster {ind.cluster}" if ind.cluster else ind.id for ind in model.indicators}
    next_free: Counter[str] = Counter()
    taken: dict[int, set[str]] = {}
    rounds: dict[int, list[tuple[int, int, pd.DataFrame]]] = {}
    for g, rows in enumerate(groups):
        if len(rows) == 0:
            continue
        indicators = {occupant[str(i)] for i in rows["indicator"]}
        slot = max(next_free[i] for i in indicators)
        while taken.get(slot, set()) & indicators:
            slot += 1
        taken.setdefault(slot, set()).update(indicators)
        for i in indicators:
            next_free[i] = slot + 1
        rounds.setdefault(slot // n_periods, []).append((g, slot % n_periods, rows))
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    for members in rounds.values():
        frames, where = [], {}
        for g, period, rows in members:
            reports = rows["report"] if "report" in rows else pd.Series([""] * len(rows))
            frame = pd.DataFrame(
                {
                    "date": [period_start(model, period).isoformat()] * len(rows),
                    "indicator": list(rows["indicator"]),
                    "value": [str(v) for v in rows["value"]],
                    "reliability": [str(r) for r in rows["reliability"]],
                    "credibility": [str(c) if c not in (0, "0", "") else "" for c in rows["credibility"]],
                    # Report ids stay within their group: groups never share a truthfulness.
                    "report": [f"{g}/{r}" if r else "" for r in reports],
                }
            )
            frames.append(frame)
            for ident in set(rows["indicator"]):
                where[(period, index[str(ident)])] = g
        evidence = load_evidence(pd.concat(frames, ignore_index=True), model)
        terms = chain_terms_for_draws(model, evidence, params, n_periods=n_periods, arrays=arrays)
        for c, (p, i) in enumerate(zip(terms.data.cell_period, terms.data.cell_indicator, strict=True)):
            # A coupled unit's likelihood sits on its first cell, the others hold 0: sum them.
            out[:, where[(int(p), int(i))]] += terms.cell_log_likelihood[:, c]
    return out


def forward_log_filtered(
    log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray, upto: int
) -> np.ndarray:
    """Log P(Z_upto | evidence in periods <= upto) for a batch of chains.

    Arrays carry any leading batch axes: ``log_initial (..., S)``,
    ``log_transition (..., S, S)`` or, when drivers make it vary, ``(..., T, S, S)``
    (the move into period t at ``[..., t, :, :]``), ``log_emission (..., T, S)``.
    Compiled (:func:`~syriaforecast.engine.filtering.log_filtered_at`); the same
    numbers as the NumPy recursion :func:`~syriaforecast.engine.hmm.forward_filter`.
    """
    return log_filtered_at(log_initial, log_transition, log_emission, upto)


def log_odds_db(log_p: np.ndarray) -> np.ndarray:
    """Log odds in decibans of each scenario from log probabilities over the last axis.

    ``log(1 - p_s)`` is the log-sum of the other scenarios, which stays exact
    near 0 and 1; a single scenario has odds +inf.
    """
    S = log_p.shape[-1]
    if S == 1:
        return np.full_like(log_p, np.inf)
    others = np.empty_like(log_p)
    for s in range(S):
        rest = np.delete(log_p, s, axis=-1)
        others[..., s] = logsumexp(rest, axis=-1)
    return DB_PER_NAT * (log_p - others)


def variant_log_filtered(setup: Setup, log_emission: np.ndarray, upto: int) -> np.ndarray:
    """Forward pass for variants of the emission terms, in blocks that fit in memory.

    ``log_emission`` is (V, D, T, S); returns log filtered at ``upto`` as (V, D, S).
    """
    V, D, T, S = log_emission.shape
    out = np.empty((V, D, S))
    step = max(1, _BLOCK // max(1, D * T * S))
    for start in range(0, V, step):
        block = log_emission[start : start + step]
        out[start : start + step] = forward_log_filtered(
            setup.terms.log_initial[None], setup.terms.log_transition[None], block, upto
        )
    return out


def removal_log_filtered(setup: Setup, removals: Sequence[Iterable[int]], *, upto: int) -> np.ndarray:
    """Log filtered probabilities at ``upto`` with each set of reports removed.

    Parameters
    ----------
    setup : Setup
        The forecast's draws and terms.
    removals : sequence of iterables of int
        Row positions in ``setup.table`` to leave out, one set per variant.
    upto : int
        Target period.

    Returns
    -------
    ndarray (V, D, S)
    """
    table = setup.table
    # A unit is a cell, or the cells a multi-row report couples (its likelihood on the first).
    unit_of = setup.terms.data.cell_unit
    row_unit = np.where(setup.report_cell >= 0, unit_of[np.maximum(setup.report_cell, 0)], -1)
    by_cell: dict[int, list[int]] = {}
    for row, cell in enumerate(row_unit):
        if cell >= 0:
            by_cell.setdefault(int(cell), []).append(row)
    # Every distinct (unit, remaining reports) pair is evaluated once.
    keys: dict[tuple[int, tuple[int, ...]], int] = {}
    plans: list[list[tuple[int, int]]] = []
    for removed in removals:
        removed_set = {int(r) for r in removed}
        cells = sorted({int(row_unit[r]) for r in removed_set if row_unit[r] >= 0})
        plan = []
        for cell in cells:
            remaining = tuple(r for r in by_cell[cell] if r not in removed_set)
            key = (cell, remaining)
            if key not in keys:
                keys[key] = len(keys)
            plan.append((cell, keys[key]))
        plans.append(plan)
    groups = [table.iloc[list(remaining)] for (_, remaining) in keys]
    replaced = group_log_likelihoods(setup.model, setup.params, setup.arrays, groups)
    base = setup.terms.log_emission
    full = setup.terms.cell_log_likelihood
    periods = setup.terms.data.cell_period
    # Variants' emission terms are built block by block: memory stays near _BLOCK floats.
    D, T, S = base.shape
    out = np.empty((len(plans), D, S))
    step = max(1, _BLOCK // max(1, D * T * S))
    for start in range(0, len(plans), step):
        block = plans[start : start + step]
        emission = np.broadcast_to(base, (len(block), *base.shape)).copy()
        for v, plan in enumerate(block):
            for cell, g in plan:
                emission[v, :, periods[cell]] += replaced[:, g] - full[:, cell]
        out[start : start + len(block)] = variant_log_filtered(setup, emission, upto)
    return out


def draws_array(values: np.ndarray, dims: Sequence[str], coords: dict[str, Any]) -> xr.DataArray:
    """Per-draw values (D, ...) as a DataArray with chain and draw dims for interval helpers."""
    return xr.DataArray(values[None], dims=("chain", "draw", *dims), coords=coords)


def summarise(samples: xr.DataArray, prob: float) -> xr.Dataset:
    """Mean and highest-density interval over chains and draws."""
    from syriaforecast.forecast import hdi_bounds

    with np.errstate(invalid="ignore"):
        low, high = hdi_bounds(samples, prob=prob)
    return xr.Dataset({"mean": samples.mean(("chain", "draw")), "hdi_low": low, "hdi_high": high})


def grade_label(reliability: str, credibility: int) -> str:
    """Admiralty grade as written (``"B2"``), or ``"ungraded"``."""
    text = f"{reliability}{credibility if credibility else ''}"
    return text or "ungraded"


def informativeness(reliability: str, credibility: int) -> float:
    """Prior mean probability that a report with this grade reads the truth (1 when ungraded)."""
    k = RELIABILITY_PRIOR_MEAN[reliability] if reliability else 1.0
    return k * (CREDIBILITY_PRIOR_MEAN[str(credibility)] if credibility else 1.0)


def indicator_label(model: ScenarioModel, ident: str) -> str:
    """A short human label for an indicator: its id with spaces (case kept: ids hold acronyms)."""
    del model  # the id is the label; kept in the signature for a future display name
    return ident.replace("_", " ")


class ReportBudgetError(SyriaforecastError):
    """Per-report contributions would exceed :data:`REPORT_WORK_MAX`; the message says why."""


def report_kinds(setup: Setup, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Group reports by (cell, value, grade): the kind of each report, one representative per kind, work.

    Leaving out one report changes only its cell, and identical reports of a
    cell leave identical remainders, so one leave-out per kind is exact.
    ``work`` is the number of report rows the distinct variants re-evaluate.
    """
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0
    table = setup.table
    frame = pd.DataFrame(
        {
            "cell": setup.report_cell[rows],
            "value": table["value"].to_numpy()[rows].astype(str),
            "reliability": table["reliability"].to_numpy()[rows].astype(str),
            "credibility": table["credibility"].to_numpy()[rows].astype(str),
            # Rows of one multi-row report share a truthfulness: never pooled with other rows.
            "report": (
                table["report"].to_numpy()[rows].astype(str) if "report" in table else np.full(len(rows), "")
            ),
        }
    )
    kind_of = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(kind_of, return_index=True)
    representatives = rows[first]
    per_cell = np.bincount(setup.report_cell[setup.report_cell >= 0])
    work = int(per_cell[setup.report_cell[representatives]].sum())
    return kind_of.astype(np.int64), representatives, work


# --------------------------------------------------------------------------- contributions
def evidence_contributions(
    forecast: Forecast,
    *,
    by: str = "report",
    target: str = "horizon",
    max_draws: int | None = 200,
    prob: float = 0.9,
) -> xr.Dataset:
    """How much each report (or indicator, or group) moved each scenario's log odds.

    Parameters
    ----------
    forecast : Forecast
        The forecast to explain.
    by : {"report", "indicator", "group", "report_id", "source"}
        Leave out one row (``"report"``), all rows of one indicator, of one
        group, of one report id (rows coded from one document; a row without an
        id stands alone) or of one source (the ``source`` column; blank sources
        pool as ``"(no source)"``).
    target : {"horizon", "as_of"}
        Explain the horizon forecast (default) or the as-of (filtered) probability.
    max_draws : int or None
        Evenly thinned posterior draws to use (None: all).
    prob : float
        Mass of the highest-density interval.

    Returns
    -------
    xarray.Dataset
        Dimension ``by`` (one entry per report/indicator/group that has reports
        up to the horizon) and ``scenario``: ``mean``, ``hdi_low``, ``hdi_high``
        (decibans) and ``decibans`` (per draw, dims ``sample, by, scenario``);
        ``total_mean``, ``total_low``, ``total_high`` (all evidence against none).
        For reports, coordinates ``date``, ``indicator``, ``value``, ``grade``,
        ``line``, ``published``, ``report_id``, ``source``, ``url``, ``coder``;
        for indicators and groups, ``label`` and ``n_reports``.
        Scenario coordinate ``name`` has the scenario names. Attributes state
        the units and definition.

    Notes
    -----
    The contribution of reports R to scenario s is
    ``10 log10(O_s(all) / O_s(all but R))`` with ``O_s`` the odds of s at the
    target period, per draw with that draw's parameters (no refit).
    """
    if by not in _BY:
        raise SyriaforecastError(f"by = {by!r}: expected one of {', '.join(_BY)}")
    check_prob(prob)
    setup = prepare(forecast, max_draws=max_draws)
    upto = setup.target_index(target)
    model = setup.model
    table = setup.table
    used = setup.report_cell >= 0
    labels: list[Any]
    kind_of: np.ndarray | None = None
    fast: np.ndarray | None = None
    if by == "report":
        rows_used = np.flatnonzero(used)
        labels = [int(v) for v in table["line"].to_numpy()[rows_used]]
        # Leaving out any one of several identical reports of a cell (same value and grade) gives
        # the same variant: evaluate each distinct kind once and give every report its kind's result.
        kind_of, representatives, work = report_kinds(setup, rows_used)
        from syriaforecast.report.leave_one_out import report_removals

        # Linear route: each kind's leave-out from the cells' per-state readings (checked against
        # the engine; None when they disagree, then the direct route below, within a budget).
        fast = (
            report_removals(setup, representatives, upto=upto, forward=variant_log_filtered)
            if len(representatives)
            else None
        )
        if fast is None and work > REPORT_WORK_MAX:
            raise ReportBudgetError(
                f"contributions by report: {len(rows_used)} reports in {len(representatives)} distinct "
                f"(cell, value, grade) kinds would re-evaluate {work} report rows, above the budget of "
                f"{REPORT_WORK_MAX} (work grows with reports per cell x kinds per cell); "
                'use by="indicator" or by="group", or a shorter as_of window'
            )
        items = [[int(r)] for r in representatives]
    elif by in ("report_id", "source"):
        # Rows without a report id are their own report ("line N"); blank sources pool as one.
        items, labels = [], []
        positions: dict[str, int] = {}
        for r in np.flatnonzero(used):
            value = str(table[by if by == "source" else "report"].iloc[r]).strip()
            if by == "report_id":
                key = value or f"line {int(table['line'].iloc[r])}"
            else:
                key = value or "(no source)"
            if key not in positions:
                positions[key] = len(items)
                items.append([])
                labels.append(key)
            items[positions[key]].append(int(r))
    else:
        key = (
            table["indicator"]
            if by == "indicator"
            else table["indicator"].map({i.id: i.group for i in model.indicators})
        )
        order = list(model.indicator_ids) if by == "indicator" else list(model.groups)
        items, labels = [], []
        for name in order:  # labels: indicator or group names
            rows = [int(r) for r in np.flatnonzero(used & (key == name).to_numpy())]
            if rows:
                items.append(rows)
                labels.append(name)
    full = forward_log_filtered(
        setup.terms.log_initial, setup.terms.log_transition, setup.terms.log_emission, upto
    )
    if by == "report" and fast is not None:
        removed = fast
    else:
        removed = removal_log_filtered(setup, items, upto=upto) if items else np.zeros((0, *full.shape))
    none = forward_log_filtered(
        setup.terms.log_initial,
        setup.terms.log_transition,
        np.zeros_like(setup.terms.log_emission),
        upto,
    )
    with np.errstate(invalid="ignore"):
        full_db = log_odds_db(full)
        decibans = full_db[None] - log_odds_db(removed)  # (V, D, S)
        total = full_db - log_odds_db(none)
    # One scenario: odds are infinite with or without evidence; nothing can move them.
    decibans = np.nan_to_num(decibans, nan=0.0)
    total = np.nan_to_num(total, nan=0.0)

    scen = list(model.scenario_ids)
    variant_labels = labels if kind_of is None else list(range(len(items)))
    coords: dict[str, Any] = {by: variant_labels, "scenario": scen}
    per_draw = draws_array(np.moveaxis(decibans, 1, 0), (by, "scenario"), coords)
    stats = summarise(per_draw, prob)
    totals = summarise(draws_array(total, ("scenario",), {"scenario": scen}), prob)
    samples = np.moveaxis(decibans, 1, 0)  # (D, V, S)
    if kind_of is not None:  # back from kinds to reports (summaries are per kind, so per report)
        stats = stats.isel({by: kind_of}).assign_coords({by: labels})
        keep = len(labels) * samples.shape[0] * len(scen) <= PER_DRAW_MAX
        samples = samples[:, kind_of] if keep else None
    data: dict[str, Any] = {
        "mean": stats["mean"],
        "hdi_low": stats["hdi_low"],
        "hdi_high": stats["hdi_high"],
        "total_mean": totals["mean"],
        "total_low": totals["hdi_low"],
        "total_high": totals["hdi_high"],
    }
    if samples is not None:
        data["decibans"] = (("sample", by, "scenario"), samples)
    out = xr.Dataset(data)
    out = out.assign_coords(name=("scenario", list(model.scenario_names)))
    if by == "report":
        rows = table.iloc[rows_used]
        out = out.assign_coords(
            date=(by, [d.isoformat() for d in rows["date"]]),
            indicator=(by, list(rows["indicator"])),
            value=(by, [str(v) for v in rows["value"]]),
            grade=(
                by,
                [grade_label(r, c) for r, c in zip(rows["reliability"], rows["credibility"], strict=True)],
            ),
            line=(by, labels),
            published=(by, [d.isoformat() for d in rows["published"]]),
            report_id=(by, [str(v) for v in rows["report"]]),
            source=(by, [str(v) for v in rows["source"]]),
            url=(by, [str(v) for v in rows["url"]]),
            coder=(by, [str(v) for v in rows["coder"]]),
        )
        out.attrs["n_kinds"] = len(items)
        out.attrs["route"] = "per-state readings" if fast is not None else "direct"
        if samples is None:
            out.attrs["decibans_omitted"] = (
                f"per-draw values of {len(labels)} reports x {setup.n_draws} draws exceed {PER_DRAW_MAX}"
            )
    else:
        out = out.assign_coords(
            label=(by, [indicator_label(model, str(n)) if by == "indicator" else str(n) for n in labels]),
            n_reports=(by, [len(r) for r in items]),
        )
    out.attrs.update(
        {
            "units": "decibans (10 log10 of the odds ratio)",
            "definition": (
                "10*log10(O_s(all evidence) / O_s(all evidence except the left-out reports)), "
                "O_s the odds of scenario s at the target period; per draw, parameters held at "
                "their full-evidence values"
            ),
            "by": by,
            "target": target,
            "target_period": model.period_labels(setup.n_periods)[upto],
            "prob": float(prob),
            "n_draws": setup.n_draws,
            "as_of": forecast.as_of.isoformat(),
            "mode": forecast.mode,
        }
    )
    return out


# --------------------------------------------------------------------------- since
def _report_keys(table: pd.DataFrame) -> list[tuple[Any, ...]]:
    columns = ["date", "indicator", "value", "reliability", "credibility", "source", "note"]
    columns += [c for c in ("published", "report") if c in table]
    return [tuple(row) for row in table[columns].itertuples(index=False, name=None)]


def _difference(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> list[int]:
    """Positions in ``a`` of reports not in ``b`` (as a multiset: repeats count)."""
    left = Counter(b)
    out = []
    for k, key in enumerate(a):
        if left[key]:
            left[key] -= 1
        else:
            out.append(k)
    return out


def since(
    previous: Forecast,
    current: Forecast,
    *,
    max_draws: int | None = 200,
    prob: float = 0.9,
) -> xr.Dataset:
    """What changed between two forecasts of one model, and which reports did it.

    Parameters
    ----------
    previous, current : Forecast
        Two forecasts of the same model (typically two as-of dates).
    max_draws : int or None
        Thinned posterior draws used for the leave-out computations.
    prob : float
        Mass of the highest-density interval of ``new_evidence_low/high``.

    Returns
    -------
    xarray.Dataset
        Over ``scenario``: ``previous`` and ``current`` (posterior mean horizon
        probabilities), ``change`` (current - previous), ``change_db`` (change of
        the log odds of the means, decibans), ``new_evidence_db`` (mean over the
        current draws of the joint contribution of the added reports, see
        :func:`evidence_contributions`) with ``new_evidence_low/high``,
        ``removed_evidence_db`` (minus the joint contribution, in the previous
        forecast, of reports no longer present) and ``other_db``, the rest: the
        parameters' re-estimation, driver values logged or changed between the two
        (``attrs["n_driver_changes"]`` counts those rows), Monte Carlo error and interactions.
        Over ``report`` (added and removed reports): ``contribution`` (decibans;
        for removed reports, the effect of removing them) with coordinates
        ``status``, ``date``, ``published``, ``indicator``, ``value``, ``grade``,
        ``report_id`` and ``rewrites_earlier``: an added report about a period
        the previous forecast already covered (``date`` on or before its as-of
        date) that was published after it, i.e. a late report that rewrote an
        earlier period. ``attrs["n_late"]`` counts them and
        ``attrs["late_periods"]`` lists the periods they rewrote.
    """
    if previous.model.to_toml() != current.model.to_toml():
        raise SyriaforecastError(
            f"since(previous, current): the forecasts use different models "
            f"({previous.model.id!r} sha256 {previous.model.sha256[:12]}, "
            f"{current.model.id!r} sha256 {current.model.sha256[:12]}); compare forecasts of one model"
        )
    check_prob(prob)
    model = current.model
    upto = model.horizon_index
    prev_setup = prepare(previous, max_draws=max_draws)
    cur_setup = prepare(current, max_draws=max_draws)
    prev_keys, cur_keys = _report_keys(prev_setup.table), _report_keys(cur_setup.table)
    added = _difference(cur_keys, prev_keys)
    removed = _difference(prev_keys, cur_keys)

    def joint_and_single(setup: Setup, rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
        full = forward_log_filtered(
            setup.terms.log_initial, setup.terms.log_transition, setup.terms.log_emission, upto
        )
        variants = [rows, *[[r] for r in rows]]
        left_out = removal_log_filtered(setup, variants, upto=upto)
        with np.errstate(invalid="ignore"):
            db = np.nan_to_num(log_odds_db(full)[None] - log_odds_db(left_out), nan=0.0)
        return db[0], db[1:]  # (D, S), (R, D, S)

    added_joint, added_single = joint_and_single(cur_setup, added)
    removed_joint, removed_single = joint_and_single(prev_setup, removed)
    scen = list(model.scenario_ids)
    p_prev = previous.mean("horizon").sel(scenario=scen).to_numpy()
    p_cur = current.mean("horizon").sel(scenario=scen).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change_db = np.nan_to_num(
            log_odds_db(np.log(np.clip(p_cur, 1e-300, None)))
            - log_odds_db(np.log(np.clip(p_prev, 1e-300, None))),
            nan=0.0,
        )
    new = summarise(draws_array(added_joint, ("scenario",), {"scenario": scen}), prob)
    gone = -removed_joint.mean(axis=0)
    other = change_db - new["mean"].to_numpy() - gone

    tables = [cur_setup.table.iloc[added], prev_setup.table.iloc[removed]]
    rows = pd.concat(tables, ignore_index=True)
    contribution = np.concatenate([added_single.mean(axis=1), -removed_single.mean(axis=1)], axis=0).reshape(
        len(rows), len(scen)
    )
    late = [
        status == "added" and d <= previous.as_of
        for status, d in zip(["added"] * len(added) + ["removed"] * len(removed), rows["date"], strict=True)
    ]
    labels = model.period_labels(model.horizon_index + 1)
    late_periods = sorted({labels[int(p)] for p, flag in zip(rows["period"], late, strict=True) if flag})
    published = rows["published"] if "published" in rows else rows["date"]
    report_ids = rows["report"] if "report" in rows else pd.Series([""] * len(rows))
    out = xr.Dataset(
        {
            "previous": ("scenario", p_prev),
            "current": ("scenario", p_cur),
            "change": ("scenario", p_cur - p_prev),
            "change_db": ("scenario", change_db),
            "new_evidence_db": ("scenario", new["mean"].to_numpy()),
            "new_evidence_low": ("scenario", new["hdi_low"].to_numpy()),
            "new_evidence_high": ("scenario", new["hdi_high"].to_numpy()),
            "removed_evidence_db": ("scenario", gone),
            "other_db": ("scenario", other),
            "contribution": (("report", "scenario"), contribution),
        },
        coords={
            "scenario": scen,
            "name": ("scenario", list(model.scenario_names)),
            "report": np.arange(len(rows)),
            "status": ("report", ["added"] * len(added) + ["removed"] * len(removed)),
            "date": ("report", [d.isoformat() for d in rows["date"]]),
            "published": ("report", [d.isoformat() for d in published]),
            "report_id": ("report", [str(r) for r in report_ids]),
            "rewrites_earlier": ("report", np.asarray(late, dtype=bool)),
            "indicator": ("report", [str(i) for i in rows["indicator"]]),
            "value": ("report", [str(v) for v in rows["value"]]),
            "grade": (
                "report",
                [grade_label(r, c) for r, c in zip(rows["reliability"], rows["credibility"], strict=True)],
            ),
        },
        attrs={
            "units": "probability (previous, current, change); decibans (*_db, contribution)",
            "previous_as_of": previous.as_of.isoformat(),
            "current_as_of": current.as_of.isoformat(),
            "n_added": len(added),
            "n_removed": len(removed),
            "n_late": int(sum(late)),
            "late_periods": ", ".join(late_periods),
            "n_driver_changes": _driver_changes(previous, current),
            "prob": float(prob),
        },
    )
    return out


def _driver_changes(previous: Forecast, current: Forecast) -> int:
    """Driver values logged, removed or changed between two forecasts' evidence, counted once each.

    Driver rows are not reports: they change the moves between scenarios, not the readings,
    so what they change lands in ``other_db``; the count lets a reader see that it may. A
    driver holds one value per period, so rows compare by (period, driver, value): a row moved
    within its period changes nothing, and an edited value is one change, not a removal and
    an addition.
    """
    columns = ["period", "indicator", "state"]

    def rows(forecast: Forecast) -> Counter[tuple[str, ...]]:
        table = forecast.evidence.drivers
        return Counter(map(tuple, table[columns].astype(str).to_numpy().tolist()))

    before, after = rows(previous), rows(current)
    return max(sum((before - after).values()), sum((after - before).values()))
