"""The model's maths as a PyTensor graph: the reference the compiled kernels are checked against.

:func:`chain_terms` turns parameter tensors and evidence tensors into the
chain's log initial probabilities, log transition matrix and per-period log
emission likelihoods, and :func:`forward_log_likelihood` marginalises the
latent scenario path in log space (stable for any number of periods; the
unnormalised forward algorithm overflows near 90 periods, see pymc-extras
issue 720). The library samples and evaluates through
:mod:`syriaforecast.engine.kernel`; the tests compare that kernel, value and
gradient, with this independent graph, and :func:`~syriaforecast.to_pymc`
builds its PyMC model from :func:`elicitation_shift` and the kernel's Op.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorConstant, TensorVariable

from syriaforecast.engine.names import ELICITATION_FIELDS, EVIDENCE_FIELDS

__all__ = [
    "ChainTerms",
    "ElicitationTensors",
    "EvidenceTensors",
    "chain_terms",
    "elicitation_shift",
    "forward_log_likelihood",
    "time_varying_transition",
]



@dataclass(frozen=True)
class EvidenceTensors:
    """Symbolic evidence arrays (shared data in PyMC, inputs in compiled functions)."""

    cell_period: TensorVariable
    cell_indicator: TensorVariable
    cell_count_values: TensorVariable
    cell_slot_valid: TensorVariable
    face_log_reading: TensorVariable
    report_cell: TensorVariable
    report_match: TensorVariable
    report_noise: TensorVariable
    report_reliability: TensorVariable
    report_credibility: TensorVariable
    report_joint: TensorVariable
    cell_component: TensorVariable
    cell_event: TensorVariable
    event_cluster: TensorVariable
    indicator_cluster: TensorVariable
    cluster_closeness: TensorVariable

    @staticmethod
    def fields() -> tuple[str, ...]:
        """Names of the evidence arrays, as on :class:`~syriaforecast.engine.data.EngineData`."""
        return EVIDENCE_FIELDS


@dataclass(frozen=True)
class ElicitationTensors:
    """Symbolic elicitation arrays: data, so one compiled graph serves every model of a structure."""

    cutpoints: TensorVariable  # (I, S, L-1)
    log_rate: TensorVariable  # (I, S)
    band_sd: TensorVariable  # (I, S)
    group_of: TensorVariable  # (I,) int
    is_count: TensorVariable  # (I,) bool

    @staticmethod
    def fields() -> tuple[str, ...]:
        """Names of the elicitation arrays, as on :class:`~syriaforecast.engine.data.ModelArrays`."""
        return ELICITATION_FIELDS


@dataclass(frozen=True)
class ChainTerms:
    """The hidden Markov chain's ingredients, all in log space."""

    log_initial: TensorVariable  # (S,)
    log_transition: TensorVariable  # (S, S), rows sum to one in probability
    log_emission: TensorVariable  # (T, S)
    cell_log_likelihood: TensorVariable  # (C, S): log P(reports of cell c | scenario)
    #: With elicited rows or drivers: the per-period moves (T, S, S) in probability (into t at [t]).
    transition: TensorVariable | None = None


def transition_from_persistence(persistence: TensorVariable) -> TensorVariable:
    """Log transition matrix: stay with probability ``persistence[s]``, else move evenly.

    With one scenario the only entry is the diagonal, log(1) = 0.
    """
    n = persistence.shape[0]
    eye = pt.eq(pt.arange(n)[:, None], pt.arange(n)[None, :])
    stay = pt.log(persistence)[:, None]
    move = (pt.log1p(-persistence) - pt.log(pt.maximum(n - 1, 1)))[:, None]
    return pt.switch(eye, stay, move)


def time_varying_transition(
    persistence: TensorVariable,
    transition_base: TensorVariable,
    row_elicited: TensorVariable,
    log_effect: TensorVariable,
    driver_on: TensorVariable,
) -> TensorVariable:
    """Per-period transition matrices (T, S, S), written straight from the issue's formula.

    Row ``i`` of ``A`` is the elicited row where ``row_elicited[i]``, else the
    persistence row. With ``m_t = exp(driver_on[t] @ log_effect)``,
    ``A_t[i, j] = A[i, j] m_t[j] / (A[i, i] + sum_{k != i} A[i, k] m_t[k])`` for
    ``j != i`` and ``A_t[i, i] = A[i, i] / (the same sum)``.
    """
    S = persistence.shape[0]
    eye = pt.eq(pt.arange(S)[:, None], pt.arange(S)[None, :])
    moves = (1.0 - persistence)[:, None] / pt.maximum(S - 1, 1)
    from_persistence = pt.switch(eye, persistence[:, None], moves)
    base = pt.switch(row_elicited[:, None], transition_base, from_persistence)
    m = pt.exp(pt.dot(driver_on, log_effect))  # (T, S)
    u = pt.switch(eye[None], 1.0, m[:, None, :])  # (T, S, S)
    numerator = base[None] * u
    return numerator / pt.sum(numerator, axis=2, keepdims=True)


def elicitation_shift(
    elicitation: ElicitationTensors, sigma: TensorVariable, eta: TensorVariable
) -> TensorVariable:
    """Logit-scale distance of the true likelihoods from the elicited ones, shape (I, S).

    Two independent normal errors add up: the group's elicitation error
    ``Normal(0, sigma[g])`` and, for a phrase, the spread over its ICD 203 band
    ``Normal(0, band_sd)``. Their sum is ``Normal(0, sqrt(sigma[g]^2 + band_sd^2))``,
    so one standard normal ``eta[i, s]`` per cell carries both (non-centred).
    Sampling the two separately would leave a ridge along which only their sum is
    identified, and NUTS mixes poorly on such ridges.
    """
    scale = pt.sqrt(sigma[elicitation.group_of][:, None] ** 2 + elicitation.band_sd**2)
    return scale * eta


def chain_terms(
    elicitation: ElicitationTensors,
    n_scenarios: int | TensorVariable,
    n_periods: int | TensorVariable,
    *,
    log_initial: TensorVariable,
    persistence: TensorVariable,
    shift: TensorVariable,
    kappa_reliability: TensorVariable,
    kappa_credibility: TensorVariable,
    evidence: EvidenceTensors,
    cluster_closeness: TensorVariable | None = None,
    transition_base: TensorVariable | None = None,
    row_elicited: TensorVariable | None = None,
    log_effect: TensorVariable | None = None,
    driver_on: TensorVariable | None = None,
) -> ChainTerms:
    """Build the chain's log initial, log transition and log emission terms.

    Parameters
    ----------
    elicitation : ElicitationTensors
        The model's elicitations as (symbolic) arrays.
    n_scenarios : int or scalar tensor
        Number of scenarios S.
    n_periods : int or scalar tensor
        Number of periods the chain runs over (the model's whole span).
    log_initial : tensor (S,)
        Log probability of each scenario in the first period.
    persistence : tensor (S,)
        Probability of staying in each scenario from one period to the next.
    shift : tensor (I, S)
        Elicitation shift on the logit / log-rate scale (0 = elicitations exact).
    kappa_reliability, kappa_credibility : tensor (6,)
        Informativeness factors by Admiralty grade (A-F, 1-6).
    evidence : EvidenceTensors
        The reports, arranged by :func:`~syriaforecast.engine.data.build_engine_data`.
    cluster_closeness : tensor (Q,), optional
        Each cluster's closeness (default: the declared ``evidence.cluster_closeness``).
    transition_base, row_elicited, log_effect, driver_on : tensors, optional
        Elicited rows (S, S), which rows are elicited (S,), log driver effects (R, S)
        and driver states (T, R): all four give time-varying transitions
        (:func:`time_varying_transition`, in ``ChainTerms.transition``).
    """
    S = n_scenarios
    neg_inf = np.float64(-np.inf)
    el = elicitation
    n_indicators = el.cutpoints.shape[0]
    max_levels = el.cutpoints.shape[2] + 1

    # P(level | scenario) for categorical indicators from shifted cutpoints:
    # logit P(x <= l | s) = cut[i, s, l] - shift[i, s]; padded cutpoints are +inf.
    cumulative = pt.sigmoid(el.cutpoints - shift[:, :, None])
    zeros = pt.zeros((n_indicators, S, 1))
    ones = pt.ones((n_indicators, S, 1))
    level_prob = pt.diff(pt.concatenate([zeros, cumulative, ones], axis=2), axis=2)
    log_level = pt.log(pt.maximum(level_prob, 1e-300))  # (I, S, L)

    e = evidence
    slots = e.face_log_reading.shape[1]
    # Categorical candidates: slot j is level j; levels beyond L are padded away below.
    cat = log_level[e.cell_indicator]  # (C, S, L)
    pad = pt.full((cat.shape[0], S, pt.maximum(slots - max_levels, 0)), neg_inf)
    cat = pt.concatenate([cat, pad], axis=2)[:, :, :slots].dimshuffle(0, 2, 1)  # (C, J, S)

    # Count candidates: Poisson log pmf at each reported value; the extra slot
    # ("any other count") takes the remaining mass, log(1 - sum of the others).
    log_rate = (el.log_rate + shift)[e.cell_indicator]  # (C, S)
    values = pt.maximum(e.cell_count_values, 0).astype("float64")[:, :, None]
    poisson = (
        values * log_rate[:, None, :] - pt.exp(log_rate)[:, None, :] - pt.gammaln(values + 1.0)
    )
    is_value = (e.cell_count_values >= 0)[:, :, None]
    at_values = pt.switch(is_value, poisson, neg_inf)
    taken = pt.logsumexp(at_values, axis=1, keepdims=True)  # (C, 1, S)
    other = pt.log1mexp(pt.minimum(taken, -1e-12))
    count = pt.switch(is_value, poisson, other)

    is_count_cell = el.is_count[e.cell_indicator][:, None, None]
    log_state = pt.switch(is_count_cell, count, cat)
    log_state = pt.switch(e.cell_slot_valid[:, :, None], log_state, neg_inf)

    # Graded reports: with probability kappa the report reads the truth, otherwise noise.
    rel = pt.concatenate([kappa_reliability, pt.ones(1)])[e.report_reliability]
    cred = pt.concatenate([kappa_credibility, pt.ones(1)])[e.report_credibility]
    kappa = (rel * cred)[:, None]
    report_prob = kappa * e.report_match + (1.0 - kappa) * e.report_noise
    # Rows of multi-row reports are summed over their shared truthfulness below.
    independent = pt.lt(e.report_joint, 0)[:, None]
    graded = pt.inc_subtensor(
        pt.zeros_like(e.face_log_reading)[e.report_cell],
        pt.switch(independent, pt.log(pt.maximum(report_prob, 1e-300)), 0.0),
    )
    log_reading = e.face_log_reading + graded  # (C, J)

    cell_loglik = pt.logsumexp(log_state + log_reading[:, :, None], axis=1)  # (C, S)
    closeness = e.cluster_closeness if cluster_closeness is None else cluster_closeness
    log_cond = _cluster_states(e, el, shift, closeness)
    cell_loglik = _joint_reports(e, kappa[:, 0], log_state, log_reading, cell_loglik, log_cond)
    log_emission = pt.inc_subtensor(pt.zeros((n_periods, S))[e.cell_period], cell_loglik)
    return ChainTerms(
        log_initial=log_initial,
        log_transition=transition_from_persistence(persistence),
        log_emission=log_emission,
        cell_log_likelihood=cell_loglik,
        transition=(
            time_varying_transition(persistence, transition_base, row_elicited, log_effect, driver_on)
            if transition_base is not None
            and row_elicited is not None
            and log_effect is not None
            and driver_on is not None
            else None
        ),
    )


def _constant(x: TensorVariable) -> np.ndarray | None:
    """The value of a constant or shared tensor (None when it is symbolic)."""
    if isinstance(x, TensorConstant):
        return np.asarray(x.data)
    if hasattr(x, "get_value"):
        return np.asarray(x.get_value())
    return None


def _cluster_states(
    e: EvidenceTensors, el: ElicitationTensors, shift: TensorVariable, closeness: TensorVariable
) -> tuple[TensorVariable, TensorVariable] | None:
    """Log P(member cell state | event, s) for e = 1 and e = 0 (each (C, J, S)), and log P(e = 1 | s) (V, S).

    The event model of :mod:`syriaforecast.engine.clusters`, written as array
    maths: ``pi = lo / (1 - hi + lo)``, ``P(seen | e = 1) = p + rho (1 - hi)``,
    ``P(seen | e = 0) = p - rho lo``. ``None`` when the model has no clusters.
    """
    member = _constant(e.indicator_cluster)
    event_cluster = _constant(e.event_cluster)
    cell_event = _constant(e.cell_event)
    indicators = _constant(e.cell_indicator)
    if member is None or event_cluster is None or cell_event is None or indicators is None:
        raise NotImplementedError("the reference graph needs the evidence structure as constants")
    if member.size == 0 or member.max() < 0 or event_cluster.size == 0:
        return None
    seen = pt.sigmoid(shift - el.cutpoints[:, :, 0])  # (I, S)
    n_clusters = int(member.max()) + 1
    low = pt.stack([pt.min(seen[np.flatnonzero(member == q)], axis=0) for q in range(n_clusters)])
    high = pt.stack([pt.max(seen[np.flatnonzero(member == q)], axis=0) for q in range(n_clusters)])
    log_event = pt.log(low / (1.0 - high + low))[event_cluster]  # (V, S)
    q_of_cell = np.where(cell_event >= 0, event_cluster[np.maximum(cell_event, 0)], 0)
    rho = closeness[q_of_cell][:, None]
    p = seen[indicators]  # (C, S)
    slots = e.face_log_reading.shape[1]
    pad = pt.full((p.shape[0], pt.maximum(slots - 2, 0), p.shape[1]), -np.inf)

    def as_state(yes: TensorVariable) -> TensorVariable:
        yes = pt.clip(yes, 1e-300, 1.0 - 1e-16)
        return pt.concatenate([pt.log1p(-yes)[:, None, :], pt.log(yes)[:, None, :], pad], axis=1)[:, :slots]

    happened = as_state(p + rho * (1.0 - high[q_of_cell]))
    not_happened = as_state(p - rho * low[q_of_cell])
    return pt.stack([not_happened, happened]), log_event


def _joint_reports(
    e: EvidenceTensors,
    kappa: TensorVariable,
    log_state: TensorVariable,
    log_reading: TensorVariable,
    cell_loglik: TensorVariable,
    clusters: tuple[TensorVariable, TensorVariable] | None = None,
) -> TensorVariable:
    """Replace the likelihood of coupled cells with the exact sum over truthfulness and cluster events.

    Written independently of the kernel's loops: every (component, pattern of
    report truthfulness and cluster events) pair ``q`` is a row of a design
    built here in NumPy, so the graph is plain gathers, matrix products and
    log-sum-exps. It needs the evidence's structure (``report_joint``,
    ``report_cell``, ``cell_component``, ``cell_event``) as constants.
    """
    joint = _constant(e.report_joint)
    component = _constant(e.cell_component)
    report_cell = _constant(e.report_cell)
    cell_event = _constant(e.cell_event)
    if joint is None or component is None or report_cell is None or cell_event is None:
        raise NotImplementedError("the reference graph needs the evidence structure as constants")
    if component.size == 0 or component.max() < 0:
        return cell_loglik
    n_joint = int(joint.max()) + 1 if joint.size else 0
    n_events = int(cell_event.max()) + 1 if cell_event.size else 0
    n_components = int(component.max()) + 1
    C = int(component.shape[0])
    representative = np.array([int(np.flatnonzero(joint == r)[0]) for r in range(n_joint)], dtype=np.int64)
    reports_of = [
        sorted({int(joint[k]) for k in np.flatnonzero(joint >= 0) if component[report_cell[k]] == g})
        for g in range(n_components)
    ]
    events_of = [sorted({int(v) for v in cell_event[component == g] if v >= 0}) for g in range(n_components)]
    cells_of = [np.flatnonzero(component == g) for g in range(n_components)]
    bits: list[np.ndarray] = []
    members: list[np.ndarray] = []
    event_bits: list[np.ndarray] = []
    event_members: list[np.ndarray] = []
    pattern_component: list[int] = []
    pair_pattern: list[int] = []
    pair_cell: list[int] = []
    pair_state: list[int] = []  # row of [log_state; log P(. | e = 0); log P(. | e = 1)] the pair uses
    for g in range(n_components):
        reports, events = reports_of[g], events_of[g]
        for pattern in itertools.product((0, 1), repeat=len(reports) + len(events)):
            row, member = np.zeros(n_joint), np.zeros(n_joint)
            row[reports] = pattern[: len(reports)]
            member[reports] = 1.0
            ev_row, ev_member = np.zeros(n_events), np.zeros(n_events)
            ev_row[events] = pattern[len(reports) :]
            ev_member[events] = 1.0
            for cell in cells_of[g]:
                pair_pattern.append(len(bits))
                pair_cell.append(int(cell))
                v = int(cell_event[cell])
                pair_state.append(int(cell) if v < 0 else int(cell) + C * (1 + int(ev_row[v])))
            bits.append(row)
            members.append(member)
            event_bits.append(ev_row)
            event_members.append(ev_member)
            pattern_component.append(g)
    B, M = np.array(bits).reshape(-1, n_joint), np.array(members).reshape(-1, n_joint)
    Q, P = B.shape[0], len(pair_cell)
    joint_rows = np.flatnonzero(joint >= 0)
    take_match = np.zeros((P, joint_rows.size))
    take_noise = np.zeros((P, joint_rows.size))
    for p, (q, c) in enumerate(zip(pair_pattern, pair_cell, strict=True)):
        for col, k in enumerate(joint_rows):
            if report_cell[k] == c:
                truthful = B[q, joint[k]] == 1
                take_match[p, col] = 1.0 if truthful else 0.0
                take_noise[p, col] = 0.0 if truthful else 1.0
    kappa_r = kappa[representative]
    log_w = pt.dot(B * M, pt.log(pt.maximum(kappa_r, 1e-300))) + pt.dot(
        (1.0 - B) * M, pt.log(pt.maximum(1.0 - kappa_r, 1e-300))
    )  # (Q,)
    log_match = pt.log(pt.maximum(e.report_match[joint_rows], 1e-300))
    log_noise = pt.log(pt.maximum(e.report_noise[joint_rows], 1e-300))
    extra = pt.dot(take_match, log_match) + pt.dot(take_noise, log_noise)  # (P, J)
    cells = np.array(pair_cell)
    states = log_state
    event_term = 0.0
    if clusters is not None:
        log_cond, log_event = clusters
        states = pt.concatenate([log_state, log_cond[0], log_cond[1]], axis=0)  # (3C, J, S)
        EB, EM = np.array(event_bits), np.array(event_members)
        log_no_event = pt.log1p(-pt.exp(log_event))
        event_term = pt.dot(EB * EM, log_event) + pt.dot((1.0 - EB) * EM, log_no_event)  # (Q, S)
    log_m = pt.logsumexp(
        states[np.array(pair_state)] + (log_reading[cells] + extra)[:, :, None], axis=1
    )  # (P, S)
    term = (
        pt.inc_subtensor(pt.zeros((Q, log_m.shape[1]))[np.array(pair_pattern)], log_m)
        + log_w[:, None]
        + event_term
    )
    owner = np.array(pattern_component)[None]
    in_component = np.where(np.arange(n_components)[:, None] == owner, 0.0, -np.inf)
    component_ll = pt.logsumexp(term[None, :, :] + in_component[:, :, None], axis=1)  # (G, S)
    first = np.array([int(c[0]) for c in cells_of])
    coupled = (component >= 0)[:, None]
    out = pt.switch(coupled, 0.0, cell_loglik)
    return pt.set_subtensor(out[first], component_ll)


def forward_log_likelihood(terms: ChainTerms) -> TensorVariable:
    """Log P(evidence | parameters), the latent scenario path summed out exactly.

    The forward recursion runs in log space,
    ``log a_t = e_t + logsumexp_s'(log a_{t-1}[s'] + log A[s', s])``,
    so no probability is ever formed that could under- or overflow. With
    time-varying transitions (``terms.transition``) it runs on normalised
    probability messages instead, ``a_t = (a_{t-1} A_t) * exp(e_t - max e_t)``,
    whose gradient stays finite where an absorbing row has zeros.
    """
    if terms.transition is not None:

        def step_tv(
            log_emission_t: TensorVariable, transition_t: TensorVariable, message: TensorVariable
        ) -> list[TensorVariable]:
            top = pt.max(log_emission_t)
            unnormalised = pt.dot(message, transition_t) * pt.exp(log_emission_t - top)
            norm = pt.sum(unnormalised)
            return [unnormalised / norm, pt.log(norm) + top]

        top0 = pt.max(terms.log_initial + terms.log_emission[0])
        first = pt.exp(terms.log_initial + terms.log_emission[0] - top0)
        norm0 = pt.sum(first)
        _, logs = pytensor.scan(
            step_tv,
            sequences=[terms.log_emission[1:], terms.transition[1:]],
            outputs_info=[first / norm0, None],
            strict=True,
            return_updates=False,
        )
        return pt.log(norm0) + top0 + pt.sum(logs)

    def step(
        log_emission_t: TensorVariable, log_alpha: TensorVariable, log_transition: TensorVariable
    ) -> TensorVariable:
        return log_emission_t + pt.logsumexp(log_alpha[:, None] + log_transition, axis=0)

    first = terms.log_initial + terms.log_emission[0]
    alphas = pytensor.scan(
        step,
        sequences=[terms.log_emission[1:]],
        outputs_info=[first],
        non_sequences=[terms.log_transition],
        strict=True,
        return_updates=False,
    )
    last = pt.concatenate([first[None, :], alphas], axis=0)[-1]
    return pt.logsumexp(last)
