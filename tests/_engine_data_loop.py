"""The loop implementation of ``build_engine_data`` and ``driver_states`` (before vectorising).

Kept verbatim as an independent reference: tests/test_engine_data_vectorised.py checks
that the vectorised code in :mod:`syriaforecast.engine.data` builds exactly the same
arrays on many evidence tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from syriaforecast.engine.clusters import cluster_arrays, link_cluster_events
from syriaforecast.engine.data import (
    BLANK,
    MAX_JOINT_REPORTS,
    EngineData,
    ModelArrays,
    _joint_reports,
    _report_sources,
    geometric_log_pmf,
)
from syriaforecast.spec.evidence import CREDIBILITY_GRADES, RELIABILITY_GRADES, Evidence
from syriaforecast.spec.model import ScenarioModel


def driver_states_loop(
    model: ScenarioModel,
    evidence: Evidence,
    n_periods: int,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> np.ndarray:
    """Each driver's value (0/1) in each period, shape (T, R).

    A driver is off until its first logged row and then keeps its last logged
    value (the latest row dated in or before the period) until a new row changes
    it. ``assume`` maps a driver id to {period index: value}: from each such
    period on, the assumed value replaces the logged one (a conditional forecast).
    """
    ids = model.driver_ids
    on = np.zeros((n_periods, len(ids)))
    if not ids:
        return on
    rows = evidence.drivers
    for r, ident in enumerate(ids):
        changes: dict[int, int] = {}
        mine = rows[rows["indicator"] == ident].sort_values(["date", "line"], kind="stable")
        for period, state in zip(mine["period"], mine["state"], strict=True):
            changes[int(period)] = int(state)  # the latest row of a period wins
        for period, state in sorted((assume or {}).get(ident, {}).items()):
            changes = {p: v for p, v in changes.items() if p < period}
            changes[int(period)] = int(state)
        value = 0
        for t in range(n_periods):
            value = changes.get(t, value)
            on[t, r] = value
    return on


def build_engine_data_loop(
    model: ScenarioModel,
    arrays: ModelArrays,
    evidence: Evidence,
    n_periods: int,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> EngineData:
    """Arrange the reports dated in the first ``n_periods`` periods into cells and slots.

    The engine always runs the chain over the model's whole span (first period to
    the horizon's): periods with no report carry no evidence, so the filtered
    and smoothed probabilities up to the as-of period are exactly those given
    the evidence to date, while every array keeps one shape for any as-of date
    and a compiled sampler can be reused.
    """
    table = evidence.to_dataframe()
    table = table[table["period"] < n_periods]
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    cells: dict[tuple[int, int], list[int]] = {}
    for row, (period, ident) in enumerate(zip(table["period"], table["indicator"], strict=True)):
        cells.setdefault((int(period), index[ident]), []).append(row)
    states = table["state"].to_numpy()
    rel = table["reliability"].to_numpy()
    cred = table["credibility"].to_numpy()

    # Candidate states per cell: every level, or the distinct reported counts plus "other".
    keys = sorted(cells)
    count_values: list[list[int]] = []
    for period, i in keys:
        if arrays.is_count[i]:
            count_values.append(sorted({int(states[r]) for r in cells[(period, i)]}))
        else:
            count_values.append([])
    slots = max([arrays.max_levels] + [len(v) + 1 for v in count_values])
    C = len(keys)
    cell_period = np.array([k[0] for k in keys], dtype=np.int64)
    cell_indicator = np.array([k[1] for k in keys], dtype=np.int64)
    cell_values = np.full((C, slots), -1, dtype=np.int64)
    valid = np.zeros((C, slots), dtype=bool)
    face = np.zeros((C, slots))
    report_cell, match_rows, noise_rows, rel_idx, cred_idx = [], [], [], [], []
    report_row: list[int] = []
    for c, (period, i) in enumerate(keys):
        if arrays.is_count[i]:
            values = count_values[c]
            cell_values[c, : len(values)] = values
            valid[c, : len(values) + 1] = True  # the extra slot is "any other count"
        else:
            valid[c, : arrays.n_levels[i]] = True
            # A dummy count keeps the (unused) count branch finite for categorical
            # cells: NaN there would leak into gradients through the switch.
            cell_values[c, 0] = 0
        for r in cells[(period, i)]:
            state = int(states[r])
            if arrays.is_count[i]:
                match = (cell_values[c] == state).astype(float)
                match[len(count_values[c])] = 0.0  # "other" never equals a reported value
                noise = np.full(slots, math.exp(geometric_log_pmf(state, arrays.noise_count_mean[i])))
            else:
                match = np.zeros(slots)
                match[state] = 1.0
                noise = np.full(slots, 1.0 / arrays.n_levels[i])
            if rel[r] == "" and cred[r] == 0:
                with np.errstate(divide="ignore"):
                    face[c] += np.where(valid[c], np.log(match), 0.0)
            else:
                report_cell.append(c)
                report_row.append(r)
                match_rows.append(match)
                noise_rows.append(noise)
                rel_idx.append(RELIABILITY_GRADES.index(rel[r]) if rel[r] else BLANK)
                cred_idx.append(CREDIBILITY_GRADES.index(str(cred[r])) if cred[r] else BLANK)
    face[~valid] = 0.0
    K = len(report_cell)
    label = lambda c: model.period_labels(int(cell_period[c]) + 1)[-1]  # noqa: E731
    report_joint, cell_component = _joint_reports(table, report_row, report_cell, C, label)
    report_source, source_names = _report_sources(table, report_row, rel_idx, report_joint)
    indicator_cluster, closeness = cluster_arrays(model)
    n_report_bits = np.zeros(int(cell_component.max(initial=-1)) + 1, dtype=np.int64)
    for r in np.unique(report_joint[report_joint >= 0]):
        n_report_bits[cell_component[report_cell[int(np.flatnonzero(report_joint == r)[0])]]] += 1
    cell_event, event_cluster, cell_component = link_cluster_events(
        cell_period, cell_indicator, indicator_cluster, cell_component, n_report_bits,
        MAX_JOINT_REPORTS, label,
    )  # fmt: skip
    return EngineData(
        n_periods=n_periods,
        slots=slots,
        cell_period=cell_period,
        cell_indicator=cell_indicator,
        cell_count_values=cell_values,
        cell_slot_valid=valid,
        face_log_reading=face,
        report_cell=np.asarray(report_cell, dtype=np.int64),
        report_match=np.asarray(match_rows, dtype=float).reshape(K, slots),
        report_noise=np.asarray(noise_rows, dtype=float).reshape(K, slots),
        report_reliability=np.asarray(rel_idx, dtype=np.int64),
        report_credibility=np.asarray(cred_idx, dtype=np.int64),
        report_joint=report_joint,
        cell_component=cell_component,
        cell_event=cell_event,
        event_cluster=event_cluster,
        indicator_cluster=indicator_cluster,
        cluster_closeness=closeness,
        report_row=np.asarray(table.index.to_numpy()[report_row] if K else [], dtype=np.int64),
        driver_on=driver_states_loop(model, evidence, n_periods, assume),
        report_source=report_source,
        source_names=source_names,
    )
