"""Compiled kernels: the evidence likelihood, the forward algorithm and their analytic gradient.

Why hand-written: letting PyTensor generate Numba code for the evidence graph
and its scan cost 30-100 s of compilation for every new model structure. These
kernels are compiled once per machine (``cache=True``) for every size of model,
and the gradient comes in closed form from the forward-backward recursions:

- d log p(e) / d log e_t[s] = gamma_t[s], the smoothed probability (the forward
  and backward passes run on normalised messages, stable for any length);
- d log p(e) / d log A[i, j] = sum_t xi_t[i, j], the expected transitions;
- within a cell, d cell_ll[s] / d log(state j) = w[j, s], the posterior of the
  true state given the scenario, and the chain rule carries the rest to the
  elicitation shift, the persistence and the report informativeness;
- cells coupled by a multi-row report (one truthfulness for all its rows) are
  summed over the report's truthfulness exactly (:func:`_components`); there the
  state posterior is averaged over truthfulness patterns and
  d log L / d kappa_r = E[tau_r] / kappa_r - (1 - E[tau_r]) / (1 - kappa_r);
- a reading whose source has a logit offset ``o_k`` (``report_offset``, hierarchical
  mode; see "Sources" in :mod:`syriaforecast.engine.data`) has reliability factor
  ``r_k = expit(logit kappa_rel[g] + o_k)`` and ``kappa_k = r_k q_k``. With
  ``G_k = d log L / d kappa_k`` as above (per row, or once per multi-row report),
  ``d log L / d o_k = G_k q_k r_k (1 - r_k)`` and
  ``d log L / d kappa_rel[g] = sum_k G_k q_k e^o_k / (1 - kappa_rel[g] + kappa_rel[g] e^o_k)^2``
  (``r_k = b e^o / (1 - b + b e^o)`` with ``b = kappa_rel[g]``, finite at ``b`` = 0 or 1),
  which is ``G_k q_k`` when ``o_k = 0`` (then ``r_k = kappa_rel[g]``). The density
  maps ``o_k = spread * z[source_k]`` to its coordinates (:func:`_source_block`).

Time-varying transitions (elicited rows and drivers)
----------------------------------------------------
The base matrix ``A`` takes row ``i`` from ``transition_base`` where
``row_elicited[i]`` and from ``persistence[i]`` otherwise (stay ``p``, move
``(1 - p) / (S - 1)``). Drivers on in period ``t`` multiply the odds of moving
into ``j`` by ``m_t[j] = exp(sum_r on[t, r] log_effect[r, j])``; with ``u_j = m_t[j]``
for ``j != i`` and ``u_i = 1``, the move from ``t - 1`` to ``t`` is
``A_t[i, j] = A[i, j] u_j / Z_i``, ``Z_i = sum_k A[i, k] u_k``. With
``G_t[i, j] = d log p / d A_t[i, j] = alpha_{t-1}[i] e_t[j] beta_t[j] / c_t``
(normalised messages, finite even where ``A_t`` is 0) and
``s_i = sum_j G_t[i, j] A_t[i, j]``:

- ``d log p / d A[i, k] = sum_t (u_k / Z_i) (G_t[i, k] - s_i)``;
- ``d log p / d log m_t[k] = sum_{i != k} A_t[i, k] (G_t[i, k] - s_i)``, and
  ``d / d log_effect[r, k] = sum_t on[t, r] d log p / d log m_t[k]``;
- ``d log p / d persistence[i] = dA[i, i] - sum_{j != i} dA[i, j] / (S - 1)``.

A zero in ``A`` stays zero in every ``A_t``: an absorbing scenario stays absorbing.

With no driver on in any period ``t >= 1`` every move is the one matrix ``A_t = A``
(stored as a stack of one, ``T' = 1``); ``A_t`` depends on ``A`` alone, so the
formulas above hold with ``G = sum_t G_t`` in place of each ``G_t``, and
``xi = A * G`` are the expected transition counts. For a persistence row this is
``d log p / d persistence[i] = xi[i, i] / p - sum_{j != i} xi[i, j] / (1 - p)``
(``A[i, i] = p``, ``A[i, j] = (1 - p) / (S - 1)``), written as
``G[i, i] - sum_{j != i} G[i, j] / (S - 1)`` so it stays finite at ``p`` = 0 or 1;
the projection ``s_i`` cancels from it.

A PyTensor graph of the same maths (:mod:`syriaforecast.engine.reference.graph`) is kept as
an independent reference; the test suite checks that both agree, gradients
included.

Cost: on the bundled model (211 coordinates, 124 cells, 126 readings, 21 coupled
components) one density and gradient through the compiled callback took 69 us of
thread CPU (fastest of 11 runs of 3,000 calls), against 90 us for the kernel before
the changes for #14 in the same session (2026-12-01, 2-core AMD EPYC with a load
average of about 5 from other jobs, so an idle machine should do better).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "analyst_pool",
    "chain_terms_batch_kernel",
    "chain_terms_kernel",
    "log_density_and_gradient",
    "log_likelihood_and_full_gradient",
    "log_likelihood_and_gradient",
    "log_likelihood_kernel",
    "pooled_shift_batch",
    "source_offsets",
    "source_offsets_batch",
    "transition_block_sizes",
    "unpack",
    "unpack_batch",
    "unpack_transitions",
    "unpack_transitions_batch",
]

_TINY = 1e-300
#: A cell's readings are read in logs and divided by their largest when it falls below this
#: (:func:`_cells`).
_RESCALE = 1e-150
#: A count cell's law whose largest allowed term is below this (in logs, e^-345 = 1e-150) is
#: divided by that term (:func:`_cells`), so a count far in every scenario's tail cannot underflow.
_LOG_RESCALE = math.log(_RESCALE)
#: Below this a component's largest pattern term may have underflowed: it is summed in logs
#: (:func:`_components`).
_UNDERFLOW = 1e-280


@numba.njit(cache=True, nogil=True)
def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@numba.njit(cache=True, nogil=True)
def _drivers_move(driver_on):
    """Whether a driver is on in some period ``t >= 1`` (then the moves differ by period)."""
    for t in range(1, driver_on.shape[0]):
        for r in range(driver_on.shape[1]):
            if driver_on[t, r] != 0.0:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _same_drivers(driver_on, t, u):
    """Whether the same drivers are on (to the same degree) in periods ``t`` and ``u``."""
    for r in range(driver_on.shape[1]):  # noqa: SIM110 (Numba compiles no generator into all())
        if driver_on[t, r] != driver_on[u, r]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _transition_stack(persistence, transition_base, row_elicited, log_effect, driver_on):
    """Base matrix ``A`` (S, S) and the moves ``A_t`` (T', S, S).

    With a driver on in some period, ``T' = T`` and the move into period ``t`` is at
    ``[t]`` (``[0]`` unused); otherwise ``T' = 1`` and ``[0]`` is every period's move.
    Either way a row is normalised by its ``Z_i``, so the gradient below holds for both.
    """
    S = persistence.shape[0]
    R = log_effect.shape[0]
    base = np.zeros((S, S))
    for i in range(S):
        if row_elicited[i]:
            for j in range(S):
                base[i, j] = transition_base[i, j]
        elif S == 1:
            base[i, i] = 1.0
        else:
            for j in range(S):
                base[i, j] = persistence[i] if i == j else (1.0 - persistence[i]) / (S - 1)
    n_moves = driver_on.shape[0] if _drivers_move(driver_on) else 1
    stack = np.empty((n_moves, S, S))
    u = np.ones(S)
    for t in range(n_moves):
        if n_moves > 1:
            if t > 0 and _same_drivers(driver_on, t - 1, t):
                # Drivers held over from the previous period: the same move, no exp.
                for i in range(S):
                    for j in range(S):
                        stack[t, i, j] = stack[t - 1, i, j]
                continue
            for j in range(S):
                acc = 0.0
                for r in range(R):
                    acc += driver_on[t, r] * log_effect[r, j]
                u[j] = math.exp(acc)
        for i in range(S):
            z = 0.0
            for k in range(S):
                z += base[i, k] * (u[k] if k != i else 1.0)
            z = max(z, _TINY)
            for j in range(S):
                stack[t, i, j] = base[i, j] * (u[j] if j != i else 1.0) / z
    return base, stack


@numba.njit(cache=True, nogil=True)
def _transition_gradient(base, stack, g_stack, row_elicited, log_effect, driver_on):
    """Chain ``G_t = d log p / d A_t`` back to the base rows, the persistence and the log effects.

    ``g_stack`` has the shape of ``stack``: with one matrix (``T' = 1``) its ``[0]`` is
    ``sum_t G_t``, and no driver is on, so ``u = 1`` and the log effects get no gradient.
    """
    n_moves, S, _ = stack.shape
    R = log_effect.shape[0]
    g_base = np.zeros((S, S))
    g_log_effect = np.zeros((R, S))
    g_log_m = np.zeros(S)
    u = np.ones(S)
    g_run = np.empty((S, S))
    t = 1 if n_moves > 1 else 0
    while t < n_moves:
        # A run of periods with the same drivers has one move A_t and everything below is
        # linear in G_t: sum the run's G_t and chain the sum back once.
        for i in range(S):
            for j in range(S):
                g_run[i, j] = g_stack[t, i, j]
        end = t + 1
        while n_moves > 1 and end < n_moves and _same_drivers(driver_on, t, end):
            for i in range(S):
                for j in range(S):
                    g_run[i, j] += g_stack[end, i, j]
            end += 1
        for k in range(S):
            if n_moves > 1:
                acc = 0.0
                for r in range(R):
                    acc += driver_on[t, r] * log_effect[r, k]
                u[k] = math.exp(acc)
            g_log_m[k] = 0.0
        for i in range(S):
            z = 0.0
            for k in range(S):
                z += base[i, k] * (u[k] if k != i else 1.0)
            z = max(z, _TINY)
            s_i = 0.0
            for j in range(S):
                s_i += g_run[i, j] * stack[t, i, j]
            for k in range(S):
                uk = u[k] if k != i else 1.0
                g_base[i, k] += uk / z * (g_run[i, k] - s_i)
                if k != i:
                    g_log_m[k] += stack[t, i, k] * (g_run[i, k] - s_i)
        if n_moves > 1:
            for r in range(R):
                if driver_on[t, r] != 0.0:
                    for k in range(S):
                        g_log_effect[r, k] += driver_on[t, r] * g_log_m[k]
        t = end
    g_persistence = np.zeros(S)
    g_rows = np.zeros((S, S))
    for i in range(S):
        if row_elicited[i]:
            for j in range(S):
                g_rows[i, j] = g_base[i, j]
        elif S > 1:
            moved = 0.0
            for j in range(S):
                if j != i:
                    moved += g_base[i, j]
            g_persistence[i] = g_base[i, i] - moved / (S - 1)
    return g_persistence, g_rows, g_log_effect


@numba.njit(cache=True, nogil=True)
def _reading_reliability(kappa_rel, grade, offset):
    """A reading's reliability factor: its letter's ``kappa_rel``, moved by its source's logit offset.

    ``expit(logit b + o) = b e^o / (1 - b + b e^o)``, written without the logit so a
    letter's value at 0 or 1 (a saturated sampler coordinate) stays finite.
    """
    return _reliability_and_factor(kappa_rel, grade, offset)[0]


@numba.njit(cache=True, nogil=True)
def _reliability_and_factor(kappa_rel, grade, offset):
    """:func:`_reading_reliability` and ``e^o`` (clipped as there), which its gradient needs too."""
    if grade >= 6:
        return 1.0, 1.0
    base = kappa_rel[grade]
    if offset == 0.0:
        return base, 1.0
    e = math.exp(min(max(offset, -50.0), 50.0))
    return base * e / (1.0 - base + base * e), e


@numba.njit(cache=True, nogil=True)
def _cells(
    shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    want_posterior=False,
):  # fmt: skip
    """Per-cell state and reading probabilities, and log P(reports of the cell | s).

    Within a cell the sum over the true state runs in probability space with
    the readings rescaled by their maximum, which needs no exp or log per
    (slot, scenario) pair: the kernel's hot loop is multiply-add. A count cell's
    law for a scenario is divided by its largest term the readings allow when
    that is below 1e-150 (``count_scale``, added back in logs), so a count in
    every scenario's far tail still tells them apart.

    Returns ``state`` (C, J, S) = P(state j | s), ``reading`` (C, J) = P(reports | j)
    / exp(``reading_max``), ``cell_ll`` (C, S), the cumulative level probabilities
    per indicator (I, S, L) for the gradient, the count cells' remaining mass
    (C, S), each report's informativeness ``kappa`` (K,) and the clusters' event
    model (:func:`_cluster_states`).

    Readings of multi-row reports (``report_joint >= 0``) are left out of
    ``reading``; the cells they couple, and the cells of a cluster's members in
    one period (``cell_event >= 0``), get their likelihood from
    :func:`_components`, stored on each component's first cell (0 on the others).
    With ``want_posterior`` it also returns that function's posteriors (empty
    otherwise), so the gradient needs one pass.
    """
    C, J = face_log_reading.shape
    I, S, Lm1 = cutpoints.shape
    # Level probabilities depend on (indicator, scenario) only: compute them once.
    cumulative = np.ones((I, S, Lm1 + 1))
    for i in range(I):
        if is_count[i]:
            continue
        for s in range(S):
            for l in range(Lm1):
                cut = cutpoints[i, s, l]
                # Levels past an indicator's last are padded with +inf cutpoints, where the
                # sigmoid is exactly 1 (the value already there): no exp for them.
                if cut != np.inf:
                    cumulative[i, s, l] = _sigmoid(cut - shift[i, s])
    state = np.zeros((C, J, S))
    other_mass = np.zeros((C, S))
    # A count cell's state law is kept in logs until its readings are known (see count_scale).
    has_count = False
    for i in range(I):
        has_count = has_count or is_count[i]
    log_count = np.empty((C if has_count else 0, J, S))
    for c in range(C):
        i = cell_indicator[c]
        if is_count[i]:
            for s in range(S):
                lr = log_rate[i, s] + shift[i, s]
                lam = math.exp(lr)
                taken = 0.0
                other = -1
                for j in range(J):
                    log_count[c, j, s] = -np.inf
                    if not cell_slot_valid[c, j]:
                        continue
                    v = cell_count_values[c, j]
                    if v >= 0:
                        log_pmf = v * lr - lam - math.lgamma(v + 1.0)
                        log_count[c, j, s] = log_pmf
                        taken += math.exp(log_pmf)
                    else:
                        other = j
                remaining = 1.0 - taken
                # other_mass stays 0 where the rest was floored: its gradient is then left out.
                other_mass[c, s] = remaining if remaining > _TINY else 0.0
                if other >= 0:
                    state[c, other, s] = max(remaining, _TINY)  # as is, unless rescaled below
                    log_count[c, other, s] = math.log(state[c, other, s])
        else:
            for s in range(S):
                previous = 0.0
                for j in range(J):
                    if not cell_slot_valid[c, j]:
                        continue
                    current = cumulative[i, s, j] if j < Lm1 else 1.0
                    state[c, j, s] = max(current - previous, _TINY)
                    previous = current
    seen, low, high, low_at, high_at, event_prob, cond = _cluster_states(
        shift, cutpoints, cell_indicator, cell_event, event_cluster, indicator_cluster, cluster_closeness, J
    )  # fmt: skip
    # The readings are multiplied in probability space, each cell's slots divided by their
    # largest whenever it gets small: one log per cell read instead of one log per reading and
    # slot and one exp per slot (bundled model: at most 86 calls against 313 per evaluation).
    # ``reading_max`` accumulates the log of what was divided out.
    reading = np.zeros((C, J))
    reading_max = np.zeros(C)
    for c in range(C):
        for j in range(J):
            if cell_slot_valid[c, j]:
                face = face_log_reading[c, j]
                reading[c, j] = 1.0 if face == 0.0 else math.exp(face)
    K = report_cell.shape[0]
    kappa = np.empty(K)
    reliability = np.empty((K, 2))  # each reading's reliability factor r and e^o, for the gradient
    product = np.empty(J)
    for k in range(K):
        r, e = _reliability_and_factor(kappa_rel, report_reliability[k], report_offset[k])
        reliability[k, 0] = r
        reliability[k, 1] = e
        q = kappa_cred[report_credibility[k]] if report_credibility[k] < 6 else 1.0
        kappa[k] = r * q
        if report_joint[k] >= 0:
            continue
        c = report_cell[k]
        top = 0.0
        for j in range(J):
            product[j] = 0.0
            if cell_slot_valid[c, j]:
                p = kappa[k] * report_match[k, j] + (1.0 - kappa[k]) * report_noise[k, j]
                product[j] = reading[c, j] * max(p, _TINY)
                top = max(top, product[j])
        if top >= _RESCALE:
            for j in range(J):
                reading[c, j] = product[j]
            continue
        # Small (a cell read many times, or a reading of p near 1e-300 at a saturated kappa, where
        # the product may have underflowed): this report's factors in logs, divided by the largest.
        log_top = -np.inf
        for j in range(J):
            product[j] = -np.inf
            if cell_slot_valid[c, j] and reading[c, j] > 0.0:
                p = kappa[k] * report_match[k, j] + (1.0 - kappa[k]) * report_noise[k, j]
                product[j] = math.log(reading[c, j]) + math.log(max(p, _TINY))
                log_top = max(log_top, product[j])
        if log_top == -np.inf:
            for j in range(J):
                reading[c, j] = 0.0
            reading_max[c] = -np.inf
            continue
        for j in range(J):
            reading[c, j] = math.exp(product[j] - log_top)
        reading_max[c] += log_top
    for c in range(C):
        top = 0.0
        for j in range(J):
            top = max(top, reading[c, j])
        if top > 0.0 and top != 1.0:
            for j in range(J):
                reading[c, j] /= top
            reading_max[c] += math.log(top)
    # A count far above (or below) every scenario's rate has a Poisson probability below 1e-308
    # under each: taken as is, every scenario's likelihood underflowed to the same floor and the
    # report counted for nothing. So each count cell's law for scenario s is divided by its
    # largest term among the slots its readings allow, count_scale[c, s] (in logs; 0 for other
    # cells), added back to the cell's log likelihood. The gradient reads state, other_mass and
    # the cell totals as ratios, in which the factor cancels.
    count_scale = np.zeros((C, S))
    for c in range(log_count.shape[0]):
        if not is_count[cell_indicator[c]]:
            continue
        for s in range(S):
            top = -np.inf
            for j in range(J):
                if cell_slot_valid[c, j] and reading[c, j] > 0.0:
                    top = max(top, log_count[c, j, s])
            if top >= _LOG_RESCALE or top == -np.inf:
                # Nothing near underflow (or no slot the readings allow, which a validated log
                # cannot give): the law as computed, to the bit what it was before the scale.
                for j in range(J):
                    if cell_slot_valid[c, j] and cell_count_values[c, j] >= 0:
                        state[c, j, s] = math.exp(log_count[c, j, s])
                continue
            count_scale[c, s] = top
            for j in range(J):
                if cell_slot_valid[c, j]:
                    # Only a slot the readings rule out (reading 0) can lie far above the largest
                    # allowed one: capped, so it stays finite and adds exactly 0 (a slot read
                    # with p > 0 is at most e^690 here, the floored rest being >= 1e-300).
                    state[c, j, s] = math.exp(min(log_count[c, j, s] - top, 700.0))
            if other_mass[c, s] > 0.0:
                other_mass[c, s] *= math.exp(-top)
    cell_ll = np.zeros((C, S))
    cell_total = np.ones((C, S))  # exp(cell_ll - reading_max) of each independent cell, for the gradient
    for c in range(C):
        if cell_component[c] >= 0:
            continue
        for s in range(S):
            total = 0.0
            for j in range(J):
                total += state[c, j, s] * reading[c, j]
            total = max(total, _TINY)
            cell_total[c, s] = total
            cell_ll[c, s] = math.log(total) + reading_max[c] + count_scale[c, s]
    post = np.zeros((0, J, S))
    truthful = np.zeros((0, S))
    event_post = np.zeros((0, S))
    cond_post = np.zeros((0, 2, J, S))
    if C > 0 and cell_component.max() >= 0:
        comp_ll, first, post, truthful, cond_post, event_post = _components(
            state, reading, reading_max, kappa, report_cell, report_match, report_noise, report_joint,
            cell_component, cell_slot_valid, cell_event, event_cluster, event_prob, cond, want_posterior,
        )  # fmt: skip
        for g in range(comp_ll.shape[0]):
            for s in range(S):
                cell_ll[first[g], s] = comp_ll[g, s]
        if has_count:  # the scales of a component's count cells, on its first cell
            for c in range(C):
                g = cell_component[c]
                if g >= 0:
                    for s in range(S):
                        cell_ll[first[g], s] += count_scale[c, s]
    clusters = (seen, low, high, low_at, high_at, event_prob, cond, cond_post, event_post)
    return (
        state, reading, reading_max, cell_ll, cumulative, other_mass, kappa, post, truthful, clusters,
        cell_total, reliability,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _cluster_states(
    shift, cutpoints, cell_indicator, cell_event, event_cluster, indicator_cluster, cluster_closeness, J
):  # fmt: skip
    """The event model of each cluster, derived from its members' own likelihoods.

    A cluster ``q`` of binary indicators (members) has a latent event ``e`` per
    period. Its members are independent given ``e`` (and the scenario) and
    follow it with closeness ``rho`` in (0, 1]. With ``p_m(s) = P(member m seen |
    s)`` (the member's own, possibly shifted, likelihood), ``lo(s) = min_m p_m(s)``
    and ``hi(s) = max_m p_m(s)``:

        P(e = 1 | s)      = pi(s) = lo / (1 - hi + lo),
        P(m seen | e = 1, s) = p_m + rho (1 - hi),
        P(m seen | e = 0, s) = p_m - rho lo.

    Each member's marginal is kept exactly, ``pi (p_m + rho (1 - hi)) + (1 - pi)
    (p_m - rho lo) = p_m``, so an analyst's elicitation means what it meant
    without the cluster, and both conditionals are probabilities for any rho in
    [0, 1]. Two members covary by ``rho^2 lo (1 - hi)`` given s: at rho = 1 the two
    extreme members are as dependent as their marginals allow (the Frechet
    bound), members with equal likelihoods are exact copies of the event, and
    rho = 0 makes them independent as if no cluster were declared.

    Returns, per (cluster, scenario), ``seen`` (I, S) = p_m, ``low``, ``high``,
    their members ``low_at`` / ``high_at`` (indicator indices, first on ties; the
    gradient flows to them), ``event_prob`` = pi, and ``cond`` (C, 2, J, S) = P(member
    cell in state j | e, s) for member cells (zero elsewhere).
    """
    I, S, _ = cutpoints.shape
    Q = cluster_closeness.shape[0]
    C = cell_indicator.shape[0]
    seen = np.zeros((I, S))
    low = np.ones((Q, S))
    high = np.zeros((Q, S))
    low_at = np.full((Q, S), -1, dtype=np.int64)
    high_at = np.full((Q, S), -1, dtype=np.int64)
    for i in range(indicator_cluster.shape[0]):
        q = indicator_cluster[i]
        if q < 0:
            continue
        for s in range(S):
            p = _sigmoid(shift[i, s] - cutpoints[i, s, 0])
            seen[i, s] = p
            if low_at[q, s] < 0 or p < low[q, s]:
                low[q, s] = p
                low_at[q, s] = i
            if high_at[q, s] < 0 or p > high[q, s]:
                high[q, s] = p
                high_at[q, s] = i
    event_prob = np.zeros((Q, S))
    for q in range(Q):
        for s in range(S):
            # 0 / 0 when one member is certainly seen and another certainly not: then both
            # conditionals below equal the marginals, the event changes nothing, and 0 will do.
            d = 1.0 - high[q, s] + low[q, s]
            event_prob[q, s] = low[q, s] / d if d > 0.0 else 0.0
    # No allocation per call for a model without clusters; rows of cells outside every cluster
    # are never read, so only the member cells' rows are filled.
    cond = np.empty((C if Q > 0 else 0, 2, J, S))
    for c in range(cond.shape[0]):
        ev = cell_event[c]
        if ev < 0:
            continue
        i = cell_indicator[c]
        q = event_cluster[ev]
        rho = cluster_closeness[q]
        cond[c] = 0.0
        for s in range(S):
            yes = min(max(seen[i, s] + rho * (1.0 - high[q, s]), _TINY), 1.0 - 1e-16)
            no = min(max(seen[i, s] - rho * low[q, s], _TINY), 1.0 - 1e-16)
            cond[c, 1, 1, s] = yes
            cond[c, 1, 0, s] = 1.0 - yes
            cond[c, 0, 1, s] = no
            cond[c, 0, 0, s] = 1.0 - no
    return seen, low, high, low_at, high_at, event_prob, cond


@numba.njit(cache=True, nogil=True)
def _components(
    state, reading, reading_max, kappa, report_cell, report_match, report_noise, report_joint,
    cell_component, cell_slot_valid, cell_event, event_cluster, event_prob, cond, want_posterior,
):  # fmt: skip
    """Exact likelihood of each component of cells coupled by multi-row reports or cluster events.

    A multi-row report ``r`` is truthful (``tau_r = 1``, probability ``kappa_r``)
    for all its cells or for none; a cluster's event ``e_v`` in one period
    happened (probability ``pi_v(s)``, :func:`_cluster_states`) for all its
    member cells or for none. With ``tau`` and ``e`` fixed the cells are
    independent, so for scenario ``s``

        L_g(s) = sum_{tau, e} w(tau) u(e | s) prod_{c in g} M_c(s | tau, e),
        w(tau) = prod_r kappa_r^tau_r (1 - kappa_r)^(1 - tau_r),
        u(e | s) = prod_v pi_v(s)^e_v (1 - pi_v(s))^(1 - e_v),
        M_c(s | tau, e) = sum_j P(j | s [, e_v(c)]) reading_c[j]
                          * prod_{joint k in c} (match_k if tau_r(k) else noise_k)[j],

    where a member cell's state distribution is its conditional given its
    event and any other cell's is ``P(j | s)``. With one member cell and no
    report this is ``sum_j P(j | s) reading[j]``: a cluster changes nothing for a
    lone observation. The ``2^(R_g + V_g)`` patterns are enumerated (``R_g + V_g <=
    MAX_JOINT_REPORTS``, checked when the data are built).

    Returns ``comp_ll`` (G, S), the first cell of each component (G,), and, when
    ``want_posterior``, the gradient's ingredients: ``post`` (C, J, S), the
    posterior of cell state j given s and the component's readings;
    ``truthful`` (R, S) = ``P(tau_r = 1 | s, readings)``; ``cond_post`` (C, 2, J, S),
    the posterior of (event, state j) of member cells, which divided by
    ``cond`` is ``d log L_g / d cond``; and ``event_post`` (V, S) = ``P(e_v = 1 | s,
    readings)``. Since ``log L_g`` is a log-sum over patterns of terms in which
    ``kappa_r`` appears as ``tau_r log kappa_r + (1 - tau_r) log(1 - kappa_r)``,
    ``d log L_g / d kappa_r = E[tau_r] / kappa_r - (1 - E[tau_r]) / (1 - kappa_r)``,
    and likewise for ``pi_v(s)``; the cells' own parameters enter through ``M_c``
    with weights ``post``, exactly as for an independent cell.
    """
    C, J, S = state.shape
    K = report_cell.shape[0]
    G = cell_component.max() + 1
    R = 0
    for k in range(K):
        R = max(R, report_joint[k] + 1)
    V = event_cluster.shape[0]
    # Cells of each component and joint readings of each cell, as CSR lists.
    cell_start = np.zeros(G + 1, dtype=np.int64)
    for c in range(C):
        if cell_component[c] >= 0:
            cell_start[cell_component[c] + 1] += 1
    for g in range(G):
        cell_start[g + 1] += cell_start[g]
    cells = np.empty(cell_start[G], dtype=np.int64)
    fill = cell_start[:G].copy()
    for c in range(C):
        g = cell_component[c]
        if g >= 0:
            cells[fill[g]] = c
            fill[g] += 1
    read_start = np.zeros(C + 1, dtype=np.int64)
    for k in range(K):
        if report_joint[k] >= 0:
            read_start[report_cell[k] + 1] += 1
    for c in range(C):
        read_start[c + 1] += read_start[c]
    reads = np.empty(read_start[C], dtype=np.int64)
    cursor = read_start[:C].copy()
    for k in range(K):
        if report_joint[k] >= 0:
            reads[cursor[report_cell[k]]] = k
            cursor[report_cell[k]] += 1
    # Each joint report's kappa and its position (bit) among its component's reports.
    joint_kappa = np.ones(R)
    local = np.full(R, -1, dtype=np.int64)
    n_local = np.zeros(G, dtype=np.int64)
    for k in range(K):
        r = report_joint[k]
        if r >= 0 and local[r] < 0:
            g = cell_component[report_cell[k]]
            local[r] = n_local[g]
            n_local[g] += 1
            joint_kappa[r] = kappa[k]
    # Joint reports of each component, in local (bit) order.
    member_start = np.zeros(G + 1, dtype=np.int64)
    for g in range(G):
        member_start[g + 1] = member_start[g] + n_local[g]
    members_flat = np.empty(member_start[G], dtype=np.int64)
    for k in range(K):
        r = report_joint[k]
        if r >= 0:
            members_flat[member_start[cell_component[report_cell[k]]] + local[r]] = r
    # Cluster events: their bits follow the component's report bits.
    event_bit = np.full(V, -1, dtype=np.int64)
    event_component = np.full(V, -1, dtype=np.int64)
    n_events = np.zeros(G, dtype=np.int64)
    for c in range(C):
        v = cell_event[c]
        if v >= 0 and event_bit[v] < 0:
            g = cell_component[c]
            event_bit[v] = n_local[g] + n_events[g]
            event_component[v] = g
            n_events[g] += 1
    event_start = np.zeros(G + 1, dtype=np.int64)
    for g in range(G):
        event_start[g + 1] = event_start[g] + n_events[g]
    events_flat = np.empty(event_start[G], dtype=np.int64)
    for v in range(V):
        g = event_component[v]
        if g >= 0:
            events_flat[event_start[g] + event_bit[v] - n_local[g]] = v
    comp_ll = np.zeros((G, S))
    first = np.empty(G, dtype=np.int64)
    # Only the component cells' rows of post (and the member cells' of cond_post) are read.
    post = np.empty((C, J, S)) if want_posterior else np.zeros((0, J, S))
    cond_post = np.empty((C, 2, J, S)) if want_posterior and V > 0 else np.zeros((0, 2, J, S))
    if want_posterior:
        for q in range(cells.shape[0]):
            post[cells[q]] = 0.0
            if V > 0 and cell_event[cells[q]] >= 0:
                cond_post[cells[q]] = 0.0
    truthful = np.zeros((R, S))
    event_post = np.zeros((V, S))
    # The weights of each truthfulness and event outcome, once rather than once per pattern.
    # A pattern's term is their product with its cells' M_c, in probability space: no exp or
    # log per pattern (bundled model: 84 log calls per evaluation against 402 logs and 416 exps).
    truth_weight = np.zeros((R, 2))
    for r in range(R):
        truth_weight[r, 0] = max(1.0 - joint_kappa[r], _TINY)
        truth_weight[r, 1] = max(joint_kappa[r], _TINY)
    event_weight = np.zeros((V, 2, S))
    for v in range(V):
        if event_component[v] < 0:
            continue
        for s in range(S):
            pv = event_prob[event_cluster[v], s]
            event_weight[v, 0, s] = max(1.0 - pv, _TINY)
            event_weight[v, 1, s] = max(pv, _TINY)
    # Work arrays for the largest component: each pattern's cell readings and M_c (kept for the
    # posterior pass, which then repeats no arithmetic), and its weights.
    most_patterns = 1
    most_cells = 1
    for g in range(G):
        most_patterns = max(most_patterns, 1 << (n_local[g] + n_events[g]))
        most_cells = max(most_cells, cell_start[g + 1] - cell_start[g])
    term = np.empty((most_patterns, S))
    rds = np.empty((most_patterns, most_cells, J))
    totals = np.empty((most_patterns, most_cells, S))
    product = np.empty(S)
    total_of = np.empty(S)  # the sum of a component's terms for s (in logs: 0, see below)
    in_logs = np.zeros(S, dtype=np.bool_)
    per_total = np.empty(S)
    for g in range(G):
        first[g] = cells[cell_start[g]]
        n_cells = cell_start[g + 1] - cell_start[g]
        n_patterns = 1 << (n_local[g] + n_events[g])
        m0, e0 = member_start[g], event_start[g]
        for pattern in range(n_patterns):
            w = 1.0
            for m in range(n_local[g]):
                w *= truth_weight[members_flat[m0 + m], (pattern >> m) & 1]
            for s in range(S):
                acc = w
                for m in range(n_events[g]):
                    v = events_flat[e0 + m]
                    acc *= event_weight[v, (pattern >> event_bit[v]) & 1, s]
                term[pattern, s] = acc
                product[s] = 1.0
            for ci in range(n_cells):
                c = cells[cell_start[g] + ci]
                for j in range(J):
                    rds[pattern, ci, j] = reading[c, j]
                for q in range(read_start[c], read_start[c + 1]):
                    k = reads[q]
                    truth = (pattern >> local[report_joint[k]]) & 1
                    for j in range(J):
                        rds[pattern, ci, j] *= report_match[k, j] if truth else report_noise[k, j]
                ev = cell_event[c]
                # A member cell's state law is its conditional given the pattern's event. Invalid
                # slots hold 0 in both laws and in the readings: summing them adds exact zeros.
                if ev >= 0:
                    happened = (pattern >> event_bit[ev]) & 1
                    for s in range(S):
                        total = 0.0
                        for j in range(J):
                            total += cond[c, happened, j, s] * rds[pattern, ci, j]
                        totals[pattern, ci, s] = total
                        product[s] *= max(total, _TINY)
                else:
                    for s in range(S):
                        total = 0.0
                        for j in range(J):
                            total += state[c, j, s] * rds[pattern, ci, j]
                        totals[pattern, ci, s] = total
                        product[s] *= max(total, _TINY)
            for s in range(S):
                term[pattern, s] *= product[s]
        offset = 0.0
        for ci in range(n_cells):
            offset += reading_max[cells[cell_start[g] + ci]]
        for s in range(S):
            top = 0.0
            acc = 0.0
            for pattern in range(n_patterns):
                top = max(top, term[pattern, s])
                acc += term[pattern, s]
            # Every factor is at most 1, so a largest term of at least _UNDERFLOW lost nothing that
            # matters to underflow (a term that did is below 1e-28 of it). Otherwise this s is
            # summed in logs, each factor's log taken on its own.
            in_logs[s] = top < _UNDERFLOW
            if not in_logs[s]:
                total_of[s] = acc
                comp_ll[g, s] = math.log(acc) + offset
                continue
            top = -np.inf
            for pattern in range(n_patterns):
                log_term = 0.0
                for m in range(n_local[g]):
                    log_term += math.log(truth_weight[members_flat[m0 + m], (pattern >> m) & 1])
                for m in range(n_events[g]):
                    v = events_flat[e0 + m]
                    log_term += math.log(event_weight[v, (pattern >> event_bit[v]) & 1, s])
                for ci in range(n_cells):
                    log_term += math.log(max(totals[pattern, ci, s], _TINY))
                term[pattern, s] = log_term
                top = max(top, log_term)
            acc = 0.0
            for pattern in range(n_patterns):
                acc += math.exp(term[pattern, s] - top)
            comp_ll[g, s] = top + math.log(acc) + offset
        if not want_posterior:
            continue
        for pattern in range(n_patterns):
            for s in range(S):
                if in_logs[s]:
                    weight = math.exp(term[pattern, s] + offset - comp_ll[g, s])
                else:
                    weight = term[pattern, s] / total_of[s]
                term[pattern, s] = weight  # the pattern's posterior weight from here on
                for m in range(n_local[g]):
                    if (pattern >> m) & 1:
                        truthful[members_flat[m0 + m], s] += weight
                for m in range(n_events[g]):
                    v = events_flat[e0 + m]
                    if (pattern >> event_bit[v]) & 1:
                        event_post[v, s] += weight
            for ci in range(n_cells):
                c = cells[cell_start[g] + ci]
                ev = cell_event[c]
                happened = (pattern >> event_bit[ev]) & 1 if ev >= 0 else 0
                for s in range(S):
                    weight = term[pattern, s]
                    total = totals[pattern, ci, s]
                    per_total[s] = weight / total if weight != 0.0 and total > 0.0 else 0.0
                # Scenarios innermost: the laws and posteriors are (..., J, S) arrays, so this walks
                # them contiguously (slots outermost took about twice as long on the bundled model).
                for j in range(J):
                    rd = rds[pattern, ci, j]
                    if not cell_slot_valid[c, j] or rd == 0.0:
                        continue
                    if ev >= 0:
                        for s in range(S):
                            share = per_total[s] * cond[c, happened, j, s] * rd
                            cond_post[c, happened, j, s] += share
                            post[c, j, s] += share
                    else:
                        for s in range(S):
                            post[c, j, s] += per_total[s] * state[c, j, s] * rd
    return comp_ll, first, post, truthful, cond_post, event_post


@numba.njit(cache=True, nogil=True)
def _cluster_gradient(
    gamma, cell_period, cell_indicator, cell_event, event_cluster, cluster_closeness, clusters,
    g_shift, g_closeness,
):  # fmt: skip
    """Add the clusters' part of the gradient to ``g_shift`` (I, S) and ``g_closeness`` (Q,).

    With ``a_m = p_m + rho (1 - hi)``, ``b_m = p_m - rho lo`` and ``pi = lo / (1 -
    hi + lo)`` (:func:`_cluster_states`), and ``G_a``, ``G_b``, ``G_pi`` the
    derivatives of log p(e) with respect to them (``gamma_t[s]`` times the
    component's posterior of each (event, state) divided by its probability,
    and ``E[e] / pi - (1 - E[e]) / (1 - pi)``):

        d/dp_m  = G_a[m] + G_b[m] + [m = argmax] (-rho sum G_a + G_pi lo / D^2)
                  + [m = argmin] (-rho sum G_b + G_pi (1 - hi) / D^2),   D = 1 - hi + lo,
        d/drho  = sum_m G_a[m] (1 - hi) - G_b[m] lo,

    and ``d p_m / d shift_m = p_m (1 - p_m)``.
    """
    seen, low, high, low_at, high_at, event_prob, cond, cond_post, event_post = clusters
    Q = cluster_closeness.shape[0]
    if Q == 0:
        return
    I, S = seen.shape
    C = cell_period.shape[0]
    g_seen = np.zeros((I, S))
    sum_a = np.zeros((Q, S))
    sum_b = np.zeros((Q, S))
    g_pi = np.zeros((Q, S))
    for c in range(C):
        v = cell_event[c]
        if v < 0:
            continue
        i = cell_indicator[c]
        q = event_cluster[v]
        t = cell_period[c]
        for s in range(S):
            w = gamma[t, s]
            if w == 0.0:
                continue
            ga = w * (cond_post[c, 1, 1, s] / cond[c, 1, 1, s] - cond_post[c, 1, 0, s] / cond[c, 1, 0, s])
            gb = w * (cond_post[c, 0, 1, s] / cond[c, 0, 1, s] - cond_post[c, 0, 0, s] / cond[c, 0, 0, s])
            g_seen[i, s] += ga + gb
            sum_a[q, s] += ga
            sum_b[q, s] += gb
    event_period = np.full(event_cluster.shape[0], -1, dtype=np.int64)
    for c in range(C):
        if cell_event[c] >= 0:
            event_period[cell_event[c]] = cell_period[c]
    for v in range(event_cluster.shape[0]):
        q = event_cluster[v]
        t = event_period[v]
        if t < 0:
            continue
        for s in range(S):
            pv = min(max(event_prob[q, s], _TINY), 1.0 - 1e-16)
            e = event_post[v, s]
            g_pi[q, s] += gamma[t, s] * (e / pv - (1.0 - e) / (1.0 - pv))
    for q in range(Q):
        rho = cluster_closeness[q]
        for s in range(S):
            lo, hi = low[q, s], high[q, s]
            d = 1.0 - hi + lo
            g_seen[high_at[q, s], s] += -rho * sum_a[q, s]
            g_seen[low_at[q, s], s] += -rho * sum_b[q, s]
            if d > 0.0:
                # lo / D^2 and (1 - hi) / D^2 as pi / D and (1 - pi) / D: D^2 underflows to 0 for
                # D below 1e-162 (saturated members), where these stay finite.
                pi = lo / d
                g_seen[high_at[q, s], s] += g_pi[q, s] * pi / d
                g_seen[low_at[q, s], s] += g_pi[q, s] * (1.0 - pi) / d
            g_closeness[q] += sum_a[q, s] * (1.0 - hi) - sum_b[q, s] * lo
    for i in range(I):
        for s in range(S):
            if g_seen[i, s] != 0.0:
                g_shift[i, s] += g_seen[i, s] * seen[i, s] * (1.0 - seen[i, s])


@numba.njit(cache=True, nogil=True)
def _emission(cell_ll, cell_period, n_periods):
    S = cell_ll.shape[1]
    out = np.zeros((n_periods, S))
    for c in range(cell_ll.shape[0]):
        for s in range(S):
            out[cell_period[c], s] += cell_ll[c, s]
    return out


@numba.njit(cache=True, nogil=True)
def _scaled_forward(log_initial, transition, log_emission):
    """Forward pass on normalised messages: alpha_hat (T, S), the scales c (T,) and log p(e).

    ``transition`` (T', S, S) holds the move into period ``t`` at ``[t]`` when ``T' = T``
    (transitions that vary over time), or one matrix for every move at ``[0]`` when
    ``T' = 1``. Each period's emissions are divided by their maximum and each message
    by its sum, so no quantity can under- or overflow however long the chain; the log
    evidence is the sum of the logs of what was divided out.
    """
    T, S = log_emission.shape
    varying = transition.shape[0] > 1
    emission = np.empty((T, S))
    total = 0.0
    for t in range(T):
        top = -np.inf
        for s in range(S):
            top = max(top, log_emission[t, s])
        total += top
        for s in range(S):
            emission[t, s] = math.exp(log_emission[t, s] - top)
    alpha = np.empty((T, S))
    scale = np.empty(T)
    norm = 0.0
    for s in range(S):
        alpha[0, s] = math.exp(log_initial[s]) * emission[0, s]
        norm += alpha[0, s]
    norm = max(norm, _TINY)
    scale[0] = norm
    for s in range(S):
        alpha[0, s] /= norm
    for t in range(1, T):
        move = transition[t] if varying else transition[0]
        norm = 0.0
        for j in range(S):
            acc = 0.0
            for i in range(S):
                acc += alpha[t - 1, i] * move[i, j]
            alpha[t, j] = acc * emission[t, j]
            norm += alpha[t, j]
        norm = max(norm, _TINY)
        scale[t] = norm
        for j in range(S):
            alpha[t, j] /= norm
    for t in range(T):
        total += math.log(scale[t])
    return alpha, scale, emission, transition, total


@numba.njit(cache=True, nogil=True)
def _scaled_beta(scale, emission, transition):
    """The scaled backward messages beta (T, S) of :func:`_scaled_forward`'s scales: one pass."""
    T, S = emission.shape
    varying = transition.shape[0] > 1
    beta = np.ones((T, S))
    for t in range(T - 2, -1, -1):
        move = transition[t + 1] if varying else transition[0]
        for i in range(S):
            acc = 0.0
            for j in range(S):
                acc += move[i, j] * emission[t + 1, j] * beta[t + 1, j]
            beta[t, i] = acc / scale[t + 1]
    return beta


@numba.njit(cache=True, nogil=True)
def _scaled_backward(alpha, scale, emission, transition):
    """Smoothed probabilities gamma (T, S) and ``G = d log p / d transition`` (T', S, S).

    ``G_t[i, j] = alpha_{t-1}[i] e_t[j] beta_t[j] / c_t``. With ``T' = T`` the result
    holds ``G_t`` at ``[t]`` (``G_0 = 0``); with one matrix (``T' = 1``) it holds
    ``sum_t G_t`` at ``[0]``, so ``xi = A * G[0]`` are the expected transition counts.
    """
    T, S = alpha.shape
    varying = transition.shape[0] > 1
    beta = _scaled_beta(scale, emission, transition)
    gamma = alpha * beta
    g_transition = np.zeros(transition.shape)
    for t in range(1, T):
        k = t if varying else 0
        for i in range(S):
            for j in range(S):
                g_transition[k, i, j] += alpha[t - 1, i] * emission[t, j] * beta[t, j] / scale[t]
    return gamma, g_transition


@numba.njit(cache=True, nogil=True)
def _smoothed(alpha, scale, emission, transition):
    """:func:`_scaled_backward`'s ``gamma`` alone: the same recursion, without the gradient.

    The posteriors need no ``d log p / d transition``; :func:`_scaled_backward`, which the
    sampler's gradient calls, adds it.
    """
    return alpha * _scaled_beta(scale, emission, transition)


@numba.njit(cache=True, nogil=True)
def forward_backward_batch(log_initial, log_transition, log_emission):
    """Filtered (D, T, S), smoothed (D, T, S) and log p(e) (D,) for D parameter sets at once.

    ``log_transition`` (D, T', S, S): the move into period ``t`` at ``[d, t]`` when
    ``T' = T``, or one matrix per draw at ``[d, 0]`` when ``T' = 1``. The sampler's own
    scaled recursions (:func:`_scaled_forward`, and :func:`_scaled_backward`'s without the
    gradient: :func:`_smoothed`) run draw by draw in one compiled call, so the
    post-processing of a fit and exact mode pay no Python loop over periods.
    """
    D, T, S = log_emission.shape
    filtered = np.empty((D, T, S))
    smoothed = np.empty((D, T, S))
    log_likelihood = np.empty(D)
    for d in range(D):
        alpha, scale, emission, transition, total = _scaled_forward(
            log_initial[d], np.exp(log_transition[d]), log_emission[d]
        )
        gamma = _smoothed(alpha, scale, emission, transition)
        _store_posteriors(alpha, gamma, filtered[d], smoothed[d])
        log_likelihood[d] = total
    return filtered, smoothed, log_likelihood


@numba.njit(cache=True, nogil=True)
def _store_posteriors(alpha, gamma, filtered, smoothed):
    """Copy the normalised forward messages and the renormalised smoothed ones into place."""
    T, S = alpha.shape
    for t in range(T):
        norm = 0.0
        for s in range(S):
            norm += gamma[t, s]
        norm = max(norm, _TINY)
        for s in range(S):
            filtered[t, s] = alpha[t, s]
            smoothed[t, s] = gamma[t, s] / norm


@numba.njit(cache=True, nogil=True)
def log_likelihood_kernel(
    log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    """Log P(evidence | parameters), the scenario path summed out exactly."""
    _, _, _, cell_ll, _, _, _, _, _, _, _, _ = _cells(
        shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count, cell_indicator,
        cell_count_values,
        cell_slot_valid, face_log_reading, report_cell, report_match, report_noise, report_reliability,
        report_credibility, report_joint, cell_component, cell_event, event_cluster, indicator_cluster,
        cluster_closeness,
    )  # fmt: skip
    log_emission = _emission(cell_ll, cell_period, n_periods)
    _, stack = _transition_stack(persistence, transition_base, row_elicited, log_effect, driver_on)
    _, _, _, _, total = _scaled_forward(log_initial, stack, log_emission)
    return total


@numba.njit(cache=True, nogil=True)
def chain_terms_kernel(
    log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    """Log transitions (T, S, S; the move into period t at [t]), log emission (T, S), cell lls (C, S)."""
    _, _, _, cell_ll, _, _, _, _, _, _, _, _ = _cells(
        shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count, cell_indicator,
        cell_count_values,
        cell_slot_valid, face_log_reading, report_cell, report_match, report_noise, report_reliability,
        report_credibility, report_joint, cell_component, cell_event, event_cluster, indicator_cluster,
        cluster_closeness,
    )  # fmt: skip
    S = persistence.shape[0]
    log_stack = np.full((n_periods, S, S), -np.inf)
    _, stack = _transition_stack(persistence, transition_base, row_elicited, log_effect, driver_on)
    varying = stack.shape[0] > 1
    for t in range(stack.shape[0] if varying else n_periods):
        if t > 0 and (not varying or _same_drivers(driver_on, t - 1, t)):
            # The same move as the period before (_transition_stack copied it): copy its logs too.
            for i in range(S):
                for j in range(S):
                    log_stack[t, i, j] = log_stack[t - 1, i, j]
            continue
        move = stack[t] if varying else stack[0]
        for i in range(S):
            for j in range(S):
                if move[i, j] > 0.0:
                    log_stack[t, i, j] = math.log(move[i, j])
    return log_stack, _emission(cell_ll, cell_period, n_periods), cell_ll


@numba.njit(cache=True, nogil=True)
def log_likelihood_and_gradient(
    log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    """Log-likelihood and its gradient with respect to the eight parameter inputs.

    Returns the value and the gradients with respect to ``log_initial``,
    ``persistence``, ``shift``, ``kappa_rel``, ``kappa_cred``, ``report_offset``,
    ``transition_base`` (only the elicited rows; zero elsewhere) and ``log_effect``.
    """
    total, g0, g1, g2, g3, g4, g5, g6, g7, _ = log_likelihood_and_full_gradient(
        log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
        n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
        report_cell, report_match, report_noise, report_reliability, report_credibility,
        report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
        transition_base, row_elicited, log_effect, driver_on,
    )  # fmt: skip
    return total, g0, g1, g2, g3, g4, g5, g6, g7


@numba.njit(cache=True, nogil=True)
def log_likelihood_and_full_gradient(
    log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    """:func:`log_likelihood_and_gradient` plus the gradient with respect to the clusters' closeness (Q,)."""
    (
        state, reading, _, cell_ll, cumulative, other_mass, kappa, post, truthful, clusters,
        cell_total, reliability,
    ) = _cells(
        shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count, cell_indicator,
        cell_count_values,
        cell_slot_valid, face_log_reading, report_cell, report_match, report_noise, report_reliability,
        report_credibility, report_joint, cell_component, cell_event, event_cluster, indicator_cluster,
        cluster_closeness, True,
    )  # fmt: skip
    log_emission = _emission(cell_ll, cell_period, n_periods)
    S = log_emission.shape[1]
    base, stack = _transition_stack(persistence, transition_base, row_elicited, log_effect, driver_on)
    alpha, scale, emission, _, total = _scaled_forward(log_initial, stack, log_emission)
    gamma, g_stack = _scaled_backward(alpha, scale, emission, stack)
    g_persistence, g_rows, g_log_effect = _transition_gradient(
        base, stack, g_stack, row_elicited, log_effect, driver_on
    )
    g_log_initial = gamma[0].copy()

    C, J, _ = state.shape
    Lm1 = cutpoints.shape[2]
    g_shift = np.zeros(shift.shape)
    g_level = np.zeros((shift.shape[0], S, J))  # d log p / d log P(level j | s), summed over cells
    g_reading = np.zeros((C, J))  # d log p / d log P(reports of cell | state j)
    weight_of = np.empty(S)
    norm_of = np.empty(S)
    lam_of = np.zeros(S)
    for c in range(C):
        i = cell_indicator[c]
        t = cell_period[c]
        joint_cell = cell_component[c] >= 0
        for s in range(S):
            weight_of[s] = gamma[t, s]
            norm_of[s] = 1.0 if joint_cell else cell_total[c, s]
            if is_count[i]:
                lam_of[s] = math.exp(log_rate[i, s] + shift[i, s])
        # Scenarios innermost: state and post are (C, J, S), walked contiguously (slots outermost
        # took about twice as long). For each (cell, slot) the sums over s run in the same order.
        for j in range(J):
            if not cell_slot_valid[c, j]:
                continue
            for s in range(S):
                weight_t = weight_of[s]
                if weight_t == 0.0:
                    continue
                # w = posterior of true state j given scenario s and the cell's (component's) reports
                if joint_cell:
                    g_state = weight_t * post[c, j, s]
                else:
                    g_state = weight_t * state[c, j, s] * reading[c, j] / norm_of[s]
                g_reading[c, j] += g_state
                if g_state == 0.0 or cell_event[c] >= 0:
                    # A cluster member's state law comes from its event model (_cluster_gradient).
                    continue
                if is_count[i]:
                    lam = lam_of[s]
                    v = cell_count_values[c, j]
                    if v >= 0:
                        g_shift[i, s] += g_state * (v - lam)
                    elif other_mass[c, s] > 0.0:  # 0 where the rest was floored (_cells)
                        # d log(1 - sum pmf) = -sum pmf_v (v - lam) / (1 - sum pmf)
                        acc = 0.0
                        for jj in range(J):
                            vv = cell_count_values[c, jj]
                            if cell_slot_valid[c, jj] and vv >= 0:
                                acc += state[c, jj, s] * (vv - lam)
                        g_shift[i, s] += g_state * (-acc / other_mass[c, s])
                else:
                    g_level[i, s, j] += g_state
    for i in range(shift.shape[0]):
        if is_count[i]:
            continue
        for s in range(S):
            for j in range(min(J, Lm1 + 1)):
                if g_level[i, s, j] == 0.0:
                    continue
                # P_j = F_j - F_{j-1}, dF/dshift = -F (1 - F); the top level has F = 1.
                upper = cumulative[i, s, j] if j < Lm1 else 1.0
                lower = cumulative[i, s, j - 1] if j > 0 else 0.0
                d_upper = -upper * (1.0 - upper) if j < Lm1 else 0.0
                d_lower = -lower * (1.0 - lower) if j > 0 else 0.0
                prob = upper - lower
                if prob > _TINY:
                    g_shift[i, s] += g_level[i, s, j] * (d_upper - d_lower) / prob

    g_kappa_rel = np.zeros(kappa_rel.shape[0])
    g_kappa_cred = np.zeros(kappa_cred.shape[0])
    g_report_offset = np.zeros(report_offset.shape[0])
    done = np.zeros(truthful.shape[0], dtype=np.bool_)
    for k in range(report_cell.shape[0]):
        c = report_cell[k]
        g_kappa = 0.0
        r_joint = report_joint[k]
        if r_joint >= 0:
            # One truthfulness for the report's rows:
            # d log L / d kappa = E[tau] / kappa - (1 - E[tau]) / (1 - kappa).
            if done[r_joint]:
                continue
            done[r_joint] = True
            t = cell_period[c]
            kk = min(max(kappa[k], _TINY), 1.0 - 1e-16)
            for s in range(S):
                e = truthful[r_joint, s]
                g_kappa += gamma[t, s] * (e / kk - (1.0 - e) / (1.0 - kk))
        for j in range(J):
            if r_joint >= 0:
                break
            if cell_slot_valid[c, j] and g_reading[c, j] != 0.0:
                p = kappa[k] * report_match[k, j] + (1.0 - kappa[k]) * report_noise[k, j]
                if p > _TINY:
                    g_kappa += g_reading[c, j] * (report_match[k, j] - report_noise[k, j]) / p
        rel, cred = report_reliability[k], report_credibility[k]
        r = reliability[k, 0]
        q = kappa_cred[cred] if cred < 6 else 1.0
        if rel < 6:
            # r = b e^o / (1 - b + b e^o): dr/do = r (1 - r), dr/db = e^o / (1 - b + b e^o)^2.
            g_report_offset[k] = g_kappa * q * r * (1.0 - r)
            b = kappa_rel[rel]
            e = reliability[k, 1]
            g_kappa_rel[rel] += g_kappa * q * e / ((1.0 - b + b * e) * (1.0 - b + b * e))
        if cred < 6:
            g_kappa_cred[cred] += g_kappa * r
    g_closeness = np.zeros(cluster_closeness.shape[0])
    _cluster_gradient(
        gamma, cell_period, cell_indicator, cell_event, event_cluster, cluster_closeness, clusters,
        g_shift, g_closeness,
    )  # fmt: skip
    return (
        total, g_log_initial, g_persistence, g_shift, g_kappa_rel, g_kappa_cred, g_report_offset, g_rows,
        g_log_effect, g_closeness,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def chain_terms_batch_kernel(
    log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate, is_count,
    n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    """:func:`chain_terms_kernel` for D parameter draws at once.

    The parameters, ``cluster_closeness`` (D, Q), ``transition_base`` and ``log_effect``
    carry a leading axis D; ``row_elicited`` and ``driver_on`` are shared. The log
    transitions are (D, T, S, S), the move into period t at ``[:, t]``, when a driver
    is on in some period t >= 1; otherwise every move is the same and they are
    (D, 1, S, S): the values :func:`chain_terms_kernel` repeats over its T periods,
    without taking T times as many logs.
    """
    D, S = log_initial.shape
    C = cell_period.shape[0]
    n_moves = n_periods if _drivers_move(driver_on) else 1
    log_transition = np.full((D, n_moves, S, S), -np.inf)
    log_emission = np.empty((D, n_periods, S))
    cell_ll = np.empty((D, C, S))
    for d in range(D):
        _, _, _, cells, _, _, _, _, _, _, _, _ = _cells(
            shift[d], kappa_rel[d], kappa_cred[d], report_offset[d], cutpoints, log_rate, is_count,
            cell_indicator, cell_count_values, cell_slot_valid, face_log_reading, report_cell,
            report_match, report_noise, report_reliability, report_credibility, report_joint,
            cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness[d],
        )  # fmt: skip
        _, stack = _transition_stack(
            persistence[d], transition_base[d], row_elicited, log_effect[d], driver_on
        )
        # As chain_terms_kernel: the log of each move's positive entries (-inf elsewhere), taken
        # once per run of periods with the same drivers (a run's moves are copies of its first).
        for t in range(min(n_moves, stack.shape[0])):
            if t > 0 and _same_drivers(driver_on, t - 1, t):
                for i in range(S):
                    for j in range(S):
                        log_transition[d, t, i, j] = log_transition[d, t - 1, i, j]
                continue
            for i in range(S):
                for j in range(S):
                    if stack[t, i, j] > 0.0:
                        log_transition[d, t, i, j] = math.log(stack[t, i, j])
        log_emission[d] = _emission(cells, cell_period, n_periods)
        cell_ll[d] = cells
    return log_transition, log_emission, cell_ll


# Density kernels live in this file on purpose: Numba's on-disk cache does not notice when a
# cached function's callee in another file changes, so caller and callees must share a file.
@numba.njit(cache=True, nogil=True)
def _softmax_with_zero(y: np.ndarray) -> np.ndarray:
    S = y.shape[0] + 1
    top = 0.0
    for v in y:
        top = max(top, v)
    out = np.empty(S)
    total = 0.0
    for k in range(S - 1):
        out[k] = math.exp(y[k] - top)
        total += out[k]
    out[S - 1] = math.exp(-top)
    total += out[S - 1]
    return out / total


@numba.njit(cache=True, nogil=True)
def unpack(
    x, n_scenarios, n_groups, n_indicators, sample_persistence, persistence_fixed,
    persistence_centre, persistence_scale, group_of, band_sd,
):  # fmt: skip
    """Constrained parameters from the unconstrained vector."""
    S, G, I = n_scenarios, n_groups, n_indicators
    pos = 0
    if S > 1:
        initial = _softmax_with_zero(x[pos : pos + S - 1])
        pos += S - 1
    else:
        initial = np.ones(1)
    persistence = persistence_fixed.copy()
    if sample_persistence:
        for s in range(S):
            persistence[s] = _sigmoid(persistence_centre + persistence_scale * x[pos + s])
        pos += S
    sigma = np.exp(x[pos : pos + G])
    pos += G
    eta = x[pos : pos + I * S].copy().reshape((I, S))
    pos += I * S
    kappa_rel = np.empty(6)
    kappa_cred = np.empty(6)
    for k in range(6):
        kappa_rel[k] = _sigmoid(x[pos + k])
        kappa_cred[k] = _sigmoid(x[pos + 6 + k])
    scale = np.empty((I, S))
    for i in range(I):
        for s in range(S):
            scale[i, s] = math.sqrt(sigma[group_of[i]] ** 2 + band_sd[i, s] ** 2)
    return initial, persistence, sigma, eta, kappa_rel, kappa_cred, scale


@numba.njit(cache=True, nogil=True)
def unpack_batch(
    positions, n_scenarios, n_groups, n_indicators, sample_persistence, persistence_fixed,
    persistence_centre, persistence_scale, group_of, band_sd,
):  # fmt: skip
    """:func:`unpack` of D positions (D, ndim) in one call, each draw exactly as alone.

    Returns ``initial``, ``persistence`` (D, S), ``sigma`` (D, G), ``eta`` (D, I, S),
    ``kappa_rel`` and ``kappa_cred`` (D, 6).
    """
    D = positions.shape[0]
    S, G, I = n_scenarios, n_groups, n_indicators
    initial = np.empty((D, S))
    persistence = np.empty((D, S))
    sigma = np.empty((D, G))
    eta = np.empty((D, I, S))
    kappa_rel = np.empty((D, 6))
    kappa_cred = np.empty((D, 6))
    for d in range(D):
        a, p, g, e, r, c, _ = unpack(
            positions[d], S, G, I, sample_persistence, persistence_fixed, persistence_centre,
            persistence_scale, group_of, band_sd,
        )  # fmt: skip
        initial[d] = a
        persistence[d] = p
        sigma[d] = g
        eta[d] = e
        kappa_rel[d] = r
        kappa_cred[d] = c
    return initial, persistence, sigma, eta, kappa_rel, kappa_cred


@numba.njit(cache=True, nogil=True)
def analyst_pool(
    bias, tau, sigma, group_of, band_sd,
    elicitation_indicator, elicitation_scenario, elicitation_analyst, elicitation_offset,
    elicitation_bandvar,
):  # fmt: skip
    """Pool several analysts' elicitations of each (indicator, scenario), the common target integrated out.

    Analyst ``a`` reports ``d[a] = c + bias[a] + N(0, tau[a]^2 + bandvar[a])`` (offsets
    from the consensus, in shift units); ``c`` has a flat prior and the truth is
    ``c + sigma_g eta``. With ``w[a] = 1 / (tau[a]^2 + bandvar[a])``, ``W = sum w``:

    - ``location = sum w (d - bias) / W`` and ``scale = sqrt(1 / W + sigma_g^2)``, so
      ``shift = location + scale * eta``; cells no analyst elicited keep
      ``location = 0``, ``scale = sqrt(sigma_g^2 + band_sd^2)``;
    - ``marginal`` (I, S): log density of the elicitations with ``c`` integrated
      out, ``-1/2 sum w (d - bias - location)^2 + 1/2 sum log w - 1/2 log W``
      (dropping ``-(n - 1)/2 log 2 pi``); zero for cells with fewer than two analysts.

    Returns ``location``, ``scale``, ``weight_total`` (W), ``count`` (analysts per cell)
    and ``marginal``, all (I, S).
    """
    I, S = band_sd.shape
    E = elicitation_indicator.shape[0]
    weight_total = np.zeros((I, S))
    location = np.zeros((I, S))
    count = np.zeros((I, S), dtype=np.int64)
    for e in range(E):
        i, s, a = elicitation_indicator[e], elicitation_scenario[e], elicitation_analyst[e]
        w = 1.0 / (tau[a] * tau[a] + elicitation_bandvar[e])
        weight_total[i, s] += w
        location[i, s] += w * (elicitation_offset[e] - bias[a])
        count[i, s] += 1
    scale = np.empty((I, S))
    for i in range(I):
        sg = sigma[group_of[i]]
        for s in range(S):
            if count[i, s] > 0:
                location[i, s] /= weight_total[i, s]
                scale[i, s] = math.sqrt(1.0 / weight_total[i, s] + sg * sg)
            else:
                scale[i, s] = math.sqrt(sg**2 + band_sd[i, s] ** 2)
    marginal = np.zeros((I, S))
    for e in range(E):
        i, s, a = elicitation_indicator[e], elicitation_scenario[e], elicitation_analyst[e]
        if count[i, s] < 2:
            continue
        w = 1.0 / (tau[a] * tau[a] + elicitation_bandvar[e])
        r = elicitation_offset[e] - bias[a] - location[i, s]
        marginal[i, s] += -0.5 * w * r * r + 0.5 * math.log(w)
    for i in range(I):
        for s in range(S):
            if count[i, s] >= 2:
                marginal[i, s] -= 0.5 * math.log(weight_total[i, s])
    return location, scale, weight_total, count, marginal


@numba.njit(cache=True, nogil=True)
def pooled_shift_batch(
    bias, tau, sigma, eta, group_of, band_sd,
    elicitation_indicator, elicitation_scenario, elicitation_analyst, elicitation_offset,
    elicitation_bandvar,
):  # fmt: skip
    """``location + scale * eta`` of :func:`analyst_pool` for D draws (leading axis D), shape (D, I, S)."""
    D = eta.shape[0]
    shift = np.empty(eta.shape)
    for d in range(D):
        location, scale, _, _, _ = analyst_pool(
            bias[d], tau[d], sigma[d], group_of, band_sd, elicitation_indicator, elicitation_scenario,
            elicitation_analyst, elicitation_offset, elicitation_bandvar,
        )  # fmt: skip
        shift[d] = location + scale * eta[d]
    return shift


@numba.njit(cache=True, nogil=True)
def source_offsets(x, start, n_sources, report_source):
    """The source block of the unconstrained vector as offsets: ``(offset, spread, report_offset)``.

    Coordinates ``x[start : start + n]`` are ``z`` and ``x[start + n]`` is ``log spread``;
    ``offset[s] = spread * z[s]`` (non-centred: with few reports per source the
    posterior of ``z`` stays close to its prior, and there is no funnel between
    ``z`` and ``spread``), and each reading takes its source's offset (0 without one).
    """
    K = report_source.shape[0]
    offset = np.zeros(n_sources)
    spread = 0.0
    report_offset = np.zeros(K)
    if n_sources == 0:
        return offset, spread, report_offset
    spread = math.exp(x[start + n_sources])
    for s in range(n_sources):
        offset[s] = spread * x[start + s]
    for k in range(K):
        if report_source[k] >= 0:
            report_offset[k] = offset[report_source[k]]
    return offset, spread, report_offset


@numba.njit(cache=True, nogil=True)
def source_offsets_batch(positions, start, n_sources, report_source):
    """The sources' offsets (D, M) and spreads (D,) of D positions, each as :func:`source_offsets`."""
    D = positions.shape[0]
    offset = np.empty((D, n_sources))
    spread = np.empty(D)
    for d in range(D):
        o, sp, _ = source_offsets(positions[d], start, n_sources, report_source)
        offset[d] = o
        spread[d] = sp
    return offset, spread


@numba.njit(cache=True, nogil=True)
def _source_block(x, start, n_sources, spread_scale, tail_dof, report_source, g_report_offset, grad):
    """Log prior of the source block; writes its gradient (prior and likelihood) into ``grad``.

    ``z ~ StudentT(nu, 0, 1)`` (``nu = tail_dof``; log density ``-(nu + 1) / 2 log(1 + z^2 / nu)``
    up to a constant) and ``spread ~ HalfNormal(spread_scale)`` with its log
    transform (Jacobian ``spread``). With ``G_s = sum_{k: source_k = s} d log L / d o_k``,
    ``d / d z_s = -(nu + 1) z_s / (nu + z_s^2) + spread G_s`` and
    ``d / d log spread = -(spread / scale)^2 + 1 + spread sum_s z_s G_s``.
    """
    if n_sources == 0:
        return 0.0
    g_source = np.zeros(n_sources)
    for k in range(report_source.shape[0]):
        if report_source[k] >= 0:
            g_source[report_source[k]] += g_report_offset[k]
    spread = math.exp(x[start + n_sources])
    ratio = spread / spread_scale
    total = -0.5 * ratio * ratio + x[start + n_sources]
    g_log_spread = -ratio * ratio + 1.0
    for s in range(n_sources):
        z = x[start + s]
        total += -0.5 * (tail_dof + 1.0) * math.log1p(z * z / tail_dof)
        grad[start + s] = -(tail_dof + 1.0) * z / (tail_dof + z * z) + spread * g_source[s]
        g_log_spread += spread * z * g_source[s]
    grad[start + n_sources] = g_log_spread
    return total


@numba.njit(cache=True, nogil=True)
def transition_block_sizes(row_elicited, row_support, effect_given, effect_scale):
    """Coordinates of the elicited rows (one fewer than each row's nonzero entries) and of the effects."""
    S = row_elicited.shape[0]
    n_rows = 0
    for i in range(S):
        if row_elicited[i]:
            k = 0
            for j in range(S):
                if row_support[i, j]:
                    k += 1
            n_rows += max(k - 1, 0)
    n_effects = 0
    if effect_scale > 0:
        for r in range(effect_given.shape[0]):
            for j in range(effect_given.shape[1]):
                if effect_given[r, j]:
                    n_effects += 1
    return n_rows, n_effects


@numba.njit(cache=True, nogil=True)
def unpack_transitions(
    x, end, row_elicited, row_support, transition_fixed, log_effect_centre, effect_given, effect_scale
):  # fmt: skip
    """Elicited rows (S, S) and log driver effects (R, S) from the block of ``x`` ending at ``end``.

    Row ``i`` is a softmax over its nonzero entries (the last one the reference),
    so a zero stays zero; a row with one nonzero entry (absorbing) is fixed. An
    effect not listed in the file stays at 0 (factor 1), and so does every effect
    when ``effect_scale`` is 0.
    """
    n_rows, n_effects = transition_block_sizes(row_elicited, row_support, effect_given, effect_scale)
    pos = end - n_rows - n_effects
    S = row_elicited.shape[0]
    rows = transition_fixed.copy()
    for i in range(S):
        if not row_elicited[i]:
            continue
        k = 0
        for j in range(S):
            if row_support[i, j]:
                k += 1
        if k < 2:
            continue
        top = 0.0
        for q in range(k - 1):
            top = max(top, x[pos + q])
        total = 0.0
        q = 0
        for j in range(S):
            if row_support[i, j]:
                value = math.exp((x[pos + q] if q < k - 1 else 0.0) - top)
                rows[i, j] = value
                total += value
                q += 1
            else:
                rows[i, j] = 0.0
        for j in range(S):
            rows[i, j] /= total
        pos += k - 1
    log_effect = log_effect_centre.copy()
    if effect_scale > 0:
        for r in range(effect_given.shape[0]):
            for j in range(effect_given.shape[1]):
                if effect_given[r, j]:
                    log_effect[r, j] = x[pos]
                    pos += 1
    return rows, log_effect


@numba.njit(cache=True, nogil=True)
def unpack_transitions_batch(
    positions, end, row_elicited, row_support, transition_fixed, log_effect_centre, effect_given, effect_scale
):  # fmt: skip
    """:func:`unpack_transitions` of D positions: rows (D, S, S) and log effects (D, R, S)."""
    D = positions.shape[0]
    rows = np.empty((D, transition_fixed.shape[0], transition_fixed.shape[1]))
    log_effect = np.empty((D, log_effect_centre.shape[0], log_effect_centre.shape[1]))
    for d in range(D):
        r, e = unpack_transitions(
            positions[d], end, row_elicited, row_support, transition_fixed, log_effect_centre, effect_given,
            effect_scale,
        )  # fmt: skip
        rows[d] = r
        log_effect[d] = e
    return rows, log_effect


@numba.njit(cache=True, nogil=True)
def log_density_and_gradient(
    x, n_scenarios, n_groups, n_indicators, sample_persistence, persistence_fixed,
    persistence_centre, persistence_scale, prior_alpha, elicitation_scale, group_of, band_sd,
    rel_alpha, rel_beta, cred_alpha, cred_beta,
    cutpoints, log_rate, is_count, n_periods,
    cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    n_analysts, analyst_bias_scale, analyst_noise_scale,
    elicitation_indicator, elicitation_scenario, elicitation_analyst, elicitation_offset,
    elicitation_bandvar,
    row_elicited, row_support, row_alpha, transition_fixed, log_effect_centre, effect_given, effect_scale,
    driver_on, closeness_alpha, closeness_beta,
    report_source, n_sources, source_spread_scale, source_tail_dof,
):  # fmt: skip
    """Unnormalised log posterior density and its gradient on the unconstrained scale.

    With analysts (``n_analysts > 0``) the vector ends with their biases and log
    noise scales, and the shift of the cells they elicited is pooled
    (:func:`analyst_pool`); with none, nothing changes. Elicited transition rows
    (``Dirichlet(row_alpha)`` over each row's nonzero entries) and uncertain log
    driver effects (``Normal(log_effect_centre, effect_scale)``) sit just before the
    analysts' block (:func:`unpack_transitions`); a model with neither has no such block.
    With clusters of indicators (Q = ``closeness_alpha.shape[0]`` > 0) the vector
    ends, after the analysts' block, with each cluster's ``logit closeness``
    (``closeness ~ Beta(alpha, beta)``, Jacobian ``closeness (1 - closeness)``), which
    replaces the declared ``cluster_closeness``.
    With sources (``n_sources > 0``) the source block (:func:`source_offsets`) follows
    the informativeness logits and moves each reading's reliability; with none, the
    vector and the density are those of the engine without sources.
    """
    S, G, I = n_scenarios, n_groups, n_indicators
    initial, persistence, sigma, eta, kappa_rel, kappa_cred, scale = unpack(
        x, S, G, I, sample_persistence, persistence_fixed, persistence_centre, persistence_scale,
        group_of, band_sd,
    )  # fmt: skip
    A = n_analysts
    Q = closeness_alpha.shape[0]
    closeness_pos = x.shape[0] - Q
    analyst_pos = closeness_pos - 2 * A
    closeness = cluster_closeness.copy()
    for q in range(Q):
        closeness[q] = _sigmoid(x[closeness_pos + q])
    n_row_coords, n_effect_coords = transition_block_sizes(
        row_elicited, row_support, effect_given, effect_scale
    )
    transition_pos = analyst_pos - n_row_coords - n_effect_coords
    rows, log_effect = unpack_transitions(
        x, analyst_pos, row_elicited, row_support, transition_fixed, log_effect_centre, effect_given,
        effect_scale,
    )  # fmt: skip
    bias = x[analyst_pos : analyst_pos + A]
    tau = np.exp(x[analyst_pos + A : analyst_pos + 2 * A])
    if A > 0:
        location, scale, weight_total, count, marginal = analyst_pool(
            bias, tau, sigma, group_of, band_sd, elicitation_indicator, elicitation_scenario,
            elicitation_analyst, elicitation_offset, elicitation_bandvar,
        )  # fmt: skip
        shift = location + scale * eta
    else:
        shift = scale * eta
        location = weight_total = marginal = np.zeros((0, 0))
        count = np.zeros((0, 0), dtype=np.int64)
    log_initial = np.log(initial)
    source_start = (S - 1 if S > 1 else 0) + (S if sample_persistence else 0) + G + I * S + 12
    _, _, report_offset = source_offsets(x, source_start, n_sources, report_source)
    loglik, g_log_initial, g_persistence, g_shift, g_rel, g_cred, g_offset, g_rows, g_log_effect, g_close = (
        log_likelihood_and_full_gradient(
            log_initial, persistence, shift, kappa_rel, kappa_cred, report_offset, cutpoints, log_rate,
            is_count, n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid,
            face_log_reading, report_cell, report_match, report_noise, report_reliability,
            report_credibility, report_joint, cell_component, cell_event, event_cluster, indicator_cluster,
            closeness, rows, row_elicited, log_effect, driver_on,
        )
    )  # fmt: skip
    grad = np.zeros(x.shape[0])
    total = loglik
    pos = 0
    if S > 1:
        # Dirichlet(alpha) with the ALR Jacobian: sum_k alpha_k log pi_k; d/dy_j = alpha_j - A pi_j.
        alpha_total = 0.0
        g_total = 0.0
        for k in range(S):
            total += prior_alpha[k] * log_initial[k]
            alpha_total += prior_alpha[k]
            g_total += g_log_initial[k]
        for j in range(S - 1):
            grad[pos + j] = (prior_alpha[j] - alpha_total * initial[j]) + (
                g_log_initial[j] - g_total * initial[j]
            )
        pos += S - 1
    if sample_persistence:
        for s in range(S):
            z = x[pos + s]
            p = persistence[s]
            total += -0.5 * z * z
            grad[pos + s] = -z + g_persistence[s] * p * (1.0 - p) * persistence_scale
        pos += S
    # HalfNormal(scale) on sigma with log transform (Jacobian sigma).
    g_sigma = np.zeros(G)
    for i in range(I):
        for s in range(S):
            if scale[i, s] > 0:
                g_sigma[group_of[i]] += g_shift[i, s] * eta[i, s] * sigma[group_of[i]] / scale[i, s]
    for g in range(G):
        ratio = sigma[g] / elicitation_scale
        total += -0.5 * ratio * ratio + x[pos + g]
        grad[pos + g] = -ratio * ratio + 1.0 + g_sigma[g] * sigma[g]
    pos += G
    for i in range(I):
        for s in range(S):
            e = eta[i, s]
            total += -0.5 * e * e
            grad[pos + i * S + s] = -e + g_shift[i, s] * scale[i, s]
    pos += I * S
    # Beta(a, b) on kappa with logit transform: a log kappa + b log(1 - kappa).
    for k in range(6):
        kr = kappa_rel[k]
        total += rel_alpha[k] * math.log(kr) + rel_beta[k] * math.log1p(-kr)
        grad[pos + k] = rel_alpha[k] * (1.0 - kr) - rel_beta[k] * kr + g_rel[k] * kr * (1.0 - kr)
        kc = kappa_cred[k]
        total += cred_alpha[k] * math.log(kc) + cred_beta[k] * math.log1p(-kc)
        grad[pos + 6 + k] = cred_alpha[k] * (1.0 - kc) - cred_beta[k] * kc + g_cred[k] * kc * (1.0 - kc)
    total += _source_block(
        x, source_start, n_sources, source_spread_scale, source_tail_dof, report_source, g_offset, grad
    )
    pos = transition_pos
    # Each elicited row ~ Dirichlet(alpha) over its nonzero entries, softmax-coded as the initial
    # probabilities are: density with Jacobian sum alpha log pi, d/dy_j = alpha_j - A pi_j, and the
    # likelihood's d/dy_j = g_j pi_j - pi_j sum_k g_k pi_k with g = d log p / d pi.
    for i in range(S):
        if not row_elicited[i]:
            continue
        k_count = 0
        for j in range(S):
            if row_support[i, j]:
                k_count += 1
        if k_count < 2:
            continue
        alpha_total = 0.0
        g_total = 0.0
        for j in range(S):
            if row_support[i, j]:
                total += row_alpha[i, j] * math.log(rows[i, j])
                alpha_total += row_alpha[i, j]
                g_total += g_rows[i, j] * rows[i, j]
        q = 0
        for j in range(S):
            if row_support[i, j] and q < k_count - 1:
                pi = rows[i, j]
                grad[pos + q] = (row_alpha[i, j] - alpha_total * pi) + (g_rows[i, j] * pi - g_total * pi)
                q += 1
        pos += k_count - 1
    if effect_scale > 0:
        for r in range(effect_given.shape[0]):
            for j in range(effect_given.shape[1]):
                if effect_given[r, j]:
                    z = (log_effect[r, j] - log_effect_centre[r, j]) / effect_scale
                    total += -0.5 * z * z
                    grad[pos] = -z / effect_scale + g_log_effect[r, j]
                    pos += 1
    if A > 0:
        # shift = m + q eta with m = sum w (d - b) / W, q = sqrt(1 / W + sigma^2), w = 1 / (tau^2 + bandvar):
        # dm/db_a = -w_a / W, dm/dw_a = (d_a - b_a - m) / W, dq/dw_a = -1 / (2 q W^2);
        # the marginal M has dM/db_a = w_a r_a, dM/dw_a = -r_a^2 / 2 + 1 / (2 w_a) - 1 / (2 W)
        # (m's own derivative drops out, sum w r = 0); dw/dlog tau = -2 tau^2 w^2.
        g_bias = np.zeros(A)
        g_log_tau = np.zeros(A)
        for e in range(elicitation_indicator.shape[0]):
            i, s, a = elicitation_indicator[e], elicitation_scenario[e], elicitation_analyst[e]
            w = 1.0 / (tau[a] * tau[a] + elicitation_bandvar[e])
            W = weight_total[i, s]
            r = elicitation_offset[e] - bias[a] - location[i, s]
            gs = g_shift[i, s]
            g_bias[a] -= gs * w / W
            g_w = gs * (r / W - eta[i, s] / (2.0 * scale[i, s] * W * W))
            if count[i, s] >= 2:
                g_bias[a] += w * r
                g_w += -0.5 * r * r + 0.5 / w - 0.5 / W
            g_log_tau[a] -= g_w * 2.0 * tau[a] * tau[a] * w * w
        for i in range(I):
            for s in range(S):
                total += marginal[i, s]
        # bias ~ Normal(0, analyst_bias_scale); tau ~ HalfNormal(analyst_noise_scale), log transform.
        for a in range(A):
            b = bias[a] / analyst_bias_scale
            total += -0.5 * b * b
            grad[analyst_pos + a] = -b / analyst_bias_scale + g_bias[a]
            ratio = tau[a] / analyst_noise_scale
            total += -0.5 * ratio * ratio + x[analyst_pos + A + a]
            grad[analyst_pos + A + a] = -ratio * ratio + 1.0 + g_log_tau[a]
    for q in range(Q):
        # Beta(a, b) on closeness with logit transform, as for kappa.
        rho = min(max(closeness[q], _TINY), 1.0 - 1e-16)
        total += closeness_alpha[q] * math.log(rho) + closeness_beta[q] * math.log1p(-rho)
        grad[closeness_pos + q] = (
            closeness_alpha[q] * (1.0 - rho) - closeness_beta[q] * rho + g_close[q] * rho * (1.0 - rho)
        )
    return total, grad
