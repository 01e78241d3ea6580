"""The forward filter in log space, compiled, for many chains at once (the reports' what-ifs).

The reports ask one question many times: the filtered scenario probabilities at
one period when the evidence is changed a little (a report removed, an
elicitation moved, a cluster's members merged), for every posterior draw. That
is a batch of ``variants x draws`` forward passes over the same transitions.
:func:`~syriaforecast.engine.hmm.forward_filter` does it with NumPy, building
``(variants, draws, S, S)`` temporaries and calling SciPy's ``logsumexp`` every
period; on the bundled model's report it took 7.5 of the report's 18 seconds (cProfile,
2026-12-02).
Here one compiled loop walks each chain in turn.

The arithmetic is the NumPy recursion's, in log space (each message normalised
by its log-sum), so the results agree with it to rounding and stay exact where
probabilities underflow (a scenario at ``exp(-800)`` keeps its log). Inputs with
any leading batch axes are broadcast as NumPy would, without copying: each input
keeps its own rows and the loop looks up the row of each chain.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["log_filtered_at"]


@numba.njit(cache=True, nogil=True)
def _log_sum(values: np.ndarray) -> float:
    top = values.max()
    if top == -np.inf:
        return -np.inf
    total = 0.0
    for value in values:
        total += math.exp(value - top)
    return top + math.log(total)


@numba.njit(cache=True, nogil=True)
def _filter_rows(log_initial, log_transition, log_emission, upto, row_initial, row_transition, row_emission):
    """Log filtered probabilities at ``upto`` of each chain ``b`` (rows of the inputs given per chain).

    ``log_transition`` is (rows, T', S, S): the move into period t at ``[row, t]`` when T' > 1,
    the one matrix at ``[row, 0]`` when T' = 1.
    """
    B = row_initial.shape[0]
    S = log_initial.shape[1]
    varying = log_transition.shape[1] > 1
    out = np.empty((B, S))
    message = np.empty(S)
    moved = np.empty(S)
    column = np.empty(S)
    for b in range(B):
        i0, it, ie = row_initial[b], row_transition[b], row_emission[b]
        for s in range(S):
            message[s] = log_initial[i0, s] + log_emission[ie, 0, s]
        norm = _log_sum(message)
        for s in range(S):
            message[s] -= norm
        for t in range(1, upto + 1):
            step = log_transition[it, t if varying else 0]
            for j in range(S):
                for i in range(S):
                    column[i] = message[i] + step[i, j]
                moved[j] = _log_sum(column) + log_emission[ie, t, j]
            norm = _log_sum(moved)
            for s in range(S):
                message[s] = moved[s] - norm
        out[b] = message
    return out


def _rows(lead: tuple[int, ...], own: tuple[int, ...]) -> np.ndarray:
    """For each chain of the broadcast batch ``lead``, the row of an input whose batch axes are ``own``."""
    index = np.arange(math.prod(own), dtype=np.int64).reshape(own)
    return np.ascontiguousarray(np.broadcast_to(index, lead).reshape(-1))


def log_filtered_at(
    log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray, upto: int
) -> np.ndarray:
    """``log P(z_upto | evidence in periods <= upto)`` for a batch of chains, compiled.

    Parameters
    ----------
    log_initial : ndarray (..., S)
    log_transition : ndarray (..., S, S) or (..., T, S, S)
        ``log P(z_t = j | z_{t-1} = i)`` at ``[..., i, j]``; with one more axis than
        ``log_emission`` the transitions vary over time, the move into period ``t``
        at ``[..., t, i, j]``.
    log_emission : ndarray (..., T, S)
    upto : int
        The period to filter to, ``0 <= upto < T``.

    Returns
    -------
    ndarray (..., S)
        The leading axes broadcast together, as
        :func:`~syriaforecast.engine.hmm.forward_filter` gives them at ``upto``.
    """
    log_initial = np.asarray(log_initial, dtype=float)
    log_transition = np.asarray(log_transition, dtype=float)
    log_emission = np.asarray(log_emission, dtype=float)
    T, S = log_emission.shape[-2:]
    if not 0 <= upto < T:
        raise ValueError(f"upto={upto} is outside the {T} periods")
    varying = log_transition.ndim == log_emission.ndim + 1
    if varying and log_transition.shape[-3] != T:
        # The compiled loop does not check its indices: a short stack must not be read past its end.
        raise ValueError(f"log_transition has {log_transition.shape[-3]} periods, log_emission {T}")
    if not varying:
        log_transition = log_transition[..., None, :, :]
    lead_initial, lead_transition, lead_emission = (
        log_initial.shape[:-1],
        log_transition.shape[:-3],
        log_emission.shape[:-2],
    )
    lead = np.broadcast_shapes(lead_initial, lead_transition, lead_emission)
    out = _filter_rows(
        np.ascontiguousarray(log_initial.reshape(-1, S)),
        np.ascontiguousarray(log_transition.reshape(-1, *log_transition.shape[-3:])),
        np.ascontiguousarray(log_emission.reshape(-1, T, S)),
        int(upto),
        _rows(lead, lead_initial),
        _rows(lead, lead_transition),
        _rows(lead, lead_emission),
    )
    return out.reshape(*lead, S)
