"""Leave-one-report-out in time linear in the number of reports.

A cell's likelihood (one period and indicator) is a sum over the cell's true
state ``j`` (a level, or a reported count or "any other count"):

    P(reports of the cell | s) = sum_j P(j | s) * exp(face_j + sum_k rho_kj),

with ``face_j`` the ungraded reports' term (0 or -inf: they are read at face
value and agree) and ``rho_kj = log(kappa_k match_kj + (1 - kappa_k) noise_kj)``
for each graded report ``k`` (``kappa_k`` its informativeness under the draw).
Leaving report ``k`` out subtracts ``rho_kj`` inside the sum; leaving one of
``n`` identical ungraded reports out changes nothing unless ``n = 1`` (then
``face`` is 0). So with ``P(j | s)`` and the per-state readings of every cell
in hand, each leave-out costs one sum over the cell's states, whatever the
number of reports in the cell: the work is linear in the reports (through the
per-kind reading sums) plus one evaluation per distinct (cell, value, grade).

``P(j | s)`` comes from the engine itself (pseudo-cells with one state each),
and the reconstruction of every cell's likelihood is checked against the
engine's own before it is used; if it does not match (a future engine change),
:func:`report_removals` returns ``None`` and the caller uses the direct route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from syriaforecast.engine.data import EngineData
from syriaforecast.engine.evaluate import chain_terms_for_draws

#: A report.influence.Setup (not imported: influence imports this module).
Setup = Any

__all__ = ["report_removals"]

_TINY = 1e-300  # the kernel's floor
#: Largest kinds x draws x states x scenarios block held at once.
_BLOCK = 4_000_000
#: Tolerance of the reconstructed cell likelihoods against the engine's.
_CHECK_ATOL = 1e-7


def _log_state(setup: Setup) -> np.ndarray:
    """Log P(state j | scenario s) per draw and cell: (D, C, J, S); -inf for invalid slots."""
    data = setup.terms.data
    C, J = data.cell_slot_valid.shape
    cells, slots = np.nonzero(data.cell_slot_valid)
    n = len(cells)
    one_hot = np.zeros((n, J), dtype=bool)
    one_hot[np.arange(n), slots] = True
    pseudo = EngineData(
        n_periods=setup.n_periods,
        slots=J,
        cell_period=np.zeros(n, dtype=np.int64),
        cell_indicator=data.cell_indicator[cells],
        cell_count_values=data.cell_count_values[cells],
        cell_slot_valid=one_hot,
        face_log_reading=np.zeros((n, J)),
        report_cell=np.zeros(0, dtype=np.int64),
        report_match=np.zeros((0, J)),
        report_noise=np.zeros((0, J)),
        report_reliability=np.zeros(0, dtype=np.int64),
        report_credibility=np.zeros(0, dtype=np.int64),
        report_joint=np.zeros(0, dtype=np.int64),
        cell_component=np.full(n, -1, dtype=np.int64),
        report_row=np.zeros(0, dtype=np.int64),
    )
    single = chain_terms_for_draws(
        setup.model, pseudo, setup.params, n_periods=setup.n_periods, arrays=setup.arrays
    ).cell_log_likelihood  # (D, n, S): log of the one valid slot's "state" alone
    D, S = single.shape[0], single.shape[2]
    value = np.full((D, C, J, S), -np.inf)
    value[:, cells, slots] = single
    out = np.full((D, C, J, S), -np.inf)
    is_count = setup.arrays.is_count[data.cell_indicator]
    for c in range(C):
        valid = np.flatnonzero(data.cell_slot_valid[c])
        if is_count[c]:
            counted = [j for j in valid if data.cell_count_values[c, j] >= 0]
            other = [j for j in valid if data.cell_count_values[c, j] < 0]
            out[:, c, counted] = value[:, c, counted]
            if other:
                taken = np.exp(value[:, c, counted]).sum(axis=1)  # (D, S)
                out[:, c, other[0]] = np.log(np.maximum(1.0 - taken, _TINY))
        else:
            # Alone, slot j gives the cumulative probability up to level j: difference them.
            cumulative = np.exp(value[:, c, valid])  # (D, L, S)
            previous = np.concatenate([np.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], axis=1)
            out[:, c, valid] = np.log(np.maximum(cumulative - previous, _TINY))
    return out


def _cell_log_likelihood(log_state: np.ndarray, log_reading: np.ndarray) -> np.ndarray:
    """Log sum_j P(j | s) exp(reading_j), floored as the kernel floors it (relative to the top reading).

    ``log_state`` (D, C, J, S), ``log_reading`` (D, C, J) with -inf on invalid slots.
    """
    top = np.max(log_reading, axis=2)  # (D, C)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = logsumexp(log_state + (log_reading - top[..., None])[..., None], axis=2)
    return np.maximum(total, np.log(_TINY)) + top[..., None]


def report_removals(
    setup: Setup,
    representatives: np.ndarray,
    *,
    upto: int,
    forward: Callable[[Setup, np.ndarray, int], np.ndarray],
) -> np.ndarray | None:
    """Log filtered probabilities at ``upto`` with each representative report left out: (V, D, S).

    ``forward`` is the forward pass over variants of the emission terms
    (:func:`syriaforecast.report.influence.variant_log_filtered`). ``None`` when
    the reconstruction of the cells' likelihoods does not match the engine's.
    """
    data = setup.terms.data
    if (np.asarray(data.report_joint) >= 0).any() or (np.asarray(data.cell_component) >= 0).any():
        return None  # multi-row reports link cells: leaving one row out is not a per-cell change
    table = setup.table
    C, J = data.cell_slot_valid.shape
    params = setup.params
    D = setup.n_draws
    # Graded reports in the engine's order: by cell, then by row.
    rel = table["reliability"].to_numpy().astype(str)
    cred = table["credibility"].to_numpy()
    in_chain = setup.report_cell >= 0
    graded = in_chain & ~((rel == "") & (np.asarray([str(c) in ("0", "") for c in cred])))
    graded_rows = np.flatnonzero(graded)
    order = np.lexsort((graded_rows, setup.report_cell[graded_rows]))
    engine_index = np.full(len(table), -1, dtype=np.int64)
    engine_index[graded_rows[order]] = np.arange(len(graded_rows))
    K = data.report_cell.shape[0]
    in_engine_order = setup.report_cell[graded_rows[order]]
    if len(graded_rows) != K or (K and not np.array_equal(data.report_cell, in_engine_order)):
        return None
    # Graded report kinds: same cell, grade and reading rows give the same rho.
    if K:
        key = np.column_stack(
            [data.report_cell, data.report_reliability, data.report_credibility, data.report_match,
             data.report_noise]
        )  # fmt: skip
        kinds, kind_of, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        kind_of = kind_of.ravel()
        first = np.zeros(len(kinds), dtype=np.int64)
        first[kind_of[::-1]] = np.arange(K)[::-1]
        k_rel = data.report_reliability[first]
        k_cred = data.report_credibility[first]
        kr = np.asarray(params["source_reliability"], dtype=float)
        kc = np.asarray(params["information_credibility"], dtype=float)
        r = np.where(k_rel[None] < 6, kr[:, np.minimum(k_rel, 5)], 1.0)
        q = np.where(k_cred[None] < 6, kc[:, np.minimum(k_cred, 5)], 1.0)
        kappa = r * q  # (D, Ke)
        match, noise = data.report_match[first][None], data.report_noise[first][None]
        p = kappa[:, :, None] * match + (1 - kappa[:, :, None]) * noise
        rho = np.log(np.maximum(p, _TINY))  # (D, Ke, J)
        rho = np.where(data.cell_slot_valid[data.report_cell[first]][None], rho, 0.0)
        rho_sum = np.zeros((C, D, J))  # cells first: np.add.at scatters along the first axis
        np.add.at(rho_sum, data.report_cell[first], np.moveaxis(rho * counts[None, :, None], 1, 0))
        rho_sum = np.moveaxis(rho_sum, 0, 1)
    else:
        kind_of = np.zeros(0, dtype=np.int64)
        rho = np.zeros((D, 0, J))
        rho_sum = np.zeros((D, C, J))
    valid_slots = data.cell_slot_valid[None]
    log_reading = np.where(valid_slots, data.face_log_reading[None] + rho_sum, -np.inf)
    log_state = _log_state(setup)  # (D, C, J, S)
    rebuilt = _cell_log_likelihood(log_state, log_reading)
    expected = setup.terms.cell_log_likelihood
    if not np.allclose(rebuilt, expected, atol=_CHECK_ATOL, rtol=1e-9):
        return None
    # Ungraded reports per cell: leaving one out matters only when it is the cell's only one.
    ungraded = in_chain & ~graded
    n_ungraded = np.bincount(setup.report_cell[ungraded], minlength=C)
    base = setup.terms.log_emission
    periods = data.cell_period
    V = len(representatives)
    S = base.shape[2]
    out = np.empty((V, D, S))
    step = max(1, _BLOCK // max(1, D * max(J, base.shape[1]) * S))
    for start in range(0, V, step):
        rows = representatives[start : start + step]
        cells = setup.report_cell[rows]
        reading = log_reading[:, cells].copy()  # (D, B, J)
        k = engine_index[rows]
        is_graded = k >= 0
        if is_graded.any():
            reading[:, is_graded] -= rho[:, kind_of[k[is_graded]]]
        alone = ~is_graded & (n_ungraded[cells] == 1)
        if alone.any():  # its cell's face term goes: only the graded readings remain
            valid = data.cell_slot_valid[cells[alone]][None]
            reading[:, alone] = np.where(valid, rho_sum[:, cells[alone]], -np.inf)
        left = _cell_log_likelihood(log_state[:, cells], reading)  # (D, B, S)
        emission = np.broadcast_to(base, (len(rows), *base.shape)).copy()
        delta = np.moveaxis(left - expected[:, cells], 1, 0)  # (B, D, S)
        emission[np.arange(len(rows)), :, periods[cells]] += delta
        out[start : start + len(rows)] = forward(setup, emission, upto)
    return out
