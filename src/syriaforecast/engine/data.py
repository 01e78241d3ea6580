"""Turn a validated model and its evidence into the arrays the engine computes on.

Observation model (per period ``t`` and indicator ``i``)
------------------------------------------------------
The indicator has a true state ``x`` in period ``t`` whose distribution depends
on the scenario: a level (binary indicators are ordinal with levels 0 and 1) or
a count. Each report ``r`` is a noisy reading of ``x``: with probability
``kappa`` (the report's informativeness, set by its Admiralty grades) it reads
the truth, otherwise it is noise drawn independently of ``x`` (uniform over the
levels, or a geometric spread over counts). Reports of one cell share ``x``, so
a repeated report is not independent confirmation: the cell's likelihood is

    L(s) = sum_x P(x | s) * prod_k P(r_k | x).

For counts the sum over ``x`` is exact and finite: only the reported values and
one "any other count" slot can differ, so each count cell has one slot per
distinct reported value plus that slot.

An ungraded report is read at face value (``kappa = 1``); its contribution is
fixed, so it is computed here once, as ``face_log_reading``.

One report, several cells
-------------------------
Graded rows that share a ``report`` id within one period are one source's
reading with one truthfulness ``tau`` (``P(tau = 1) = kappa``): either the
source read every cell it coded truthfully, or none. Given the cells' true
states ``x``,

    P(readings | x) = kappa * prod_k [r_k = x_k] + (1 - kappa) * prod_k noise(r_k),

which is the per-row mixture when the report has one row. Such a report couples
the cells it codes; cells coupled by reports form *components* (connected
through shared reports; ``cell_component``, -1 for a cell coupled to nothing).
A component's likelihood sums the truthfulness of its multi-row reports out
exactly by enumeration,

    L_g(s) = sum_{tau in {0,1}^R_g} prod_r kappa_r^tau_r (1 - kappa_r)^(1 - tau_r)
             * prod_{c in g} sum_x P(x | s) * reading_c(x | tau),

where ``reading_c`` holds the cell's independent readings (face value and
single-row reports) and, for each multi-row report, its match (``tau_r = 1``)
or noise (``tau_r = 0``) probabilities. The cost is ``2^R_g`` cell sums per
component: one report over several cells (the usual case) costs two, and
components with more than :data:`MAX_JOINT_REPORTS` multi-row reports are
refused with a clear error rather than silently approximated. Rows of one report
in *different* periods are read with one truthfulness per period (the chain's
periods stay conditionally independent given the scenario path).

Sources (hierarchical mode)
---------------------------
Reports that name the same ``source`` share what is learnt about it. A graded
reading with a reliability letter and a source reads the truth with probability

    kappa_k = expit(logit kappa_rel[letter_k] + offset[source_k]) * kappa_cred[number_k],
    offset[s] = spread * z[s],  z[s] ~ StudentT(SOURCE_TAIL_DOF),
    spread ~ HalfNormal(SOURCE_SPREAD_SCALE),

so the source's reliability is its letter's informativeness moved on the logit
scale by an offset shared by all its reports, partially pooled through
``spread``. The Student-t lets one misgraded source sit far from its letter
without dragging the spread (and every other source) with it: on 10 recovery
worlds (:func:`~syriaforecast.studies.dependence.source_recovery_study`, six
reports a month per source) a source truthful with reliability 0.23 was learnt
at 0.20 on average with t(3) offsets and at 0.28 with normal ones. A source
with fewer than :data:`MIN_SOURCE_REPORTS` graded reports is read at its letter.

``report_source`` (K,) holds each reading's source index (-1: no source, no
reliability letter to move, or too few reports), ``source_names`` the sources
in order of first appearance. All readings of a multi-row report take the
source of its first row. Exact mode (and every view without sampled offsets)
reads each source at its letter's value: offsets 0.

Several analysts
----------------
When analysts elicited an indicator separately, the cutpoints / log rates above
come from their consensus (``Indicator.likelihood``), and each analyst's own
elicitation enters as an *offset* from that consensus in the units of the
engine's shift (see :func:`analyst_offset`), one entry per (analyst, indicator,
scenario), with the variance of its phrase band (0 for a number).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from syriaforecast._maths import logit
from syriaforecast.engine.clusters import cluster_arrays, link_cluster_events
from syriaforecast.phrases import band_logit_prior, parse_phrase
from syriaforecast.spec.evidence import CREDIBILITY_GRADES, RELIABILITY_GRADES, Evidence
from syriaforecast.spec.model import Indicator, ScenarioModel

__all__ = [
    "ANALYST_FIELDS",
    "CREDIBILITY_PRIOR_MEAN",
    "MIN_SOURCE_REPORTS",
    "RELIABILITY_PRIOR_MEAN",
    "RESIDUAL_SPREAD",
    "SOURCE_SPREAD_SCALE",
    "SOURCE_TAIL_DOF",
    "EngineData",
    "ModelArrays",
    "analyst_offset",
    "build_engine_data",
    "build_model_arrays",
    "data_under",
    "driver_states",
    "read_only_view",
    "reads_the_same",
]

#: Prior mean informativeness of a report by source reliability (A reliable .. F cannot be judged).
RELIABILITY_PRIOR_MEAN: dict[str, float] = {
    "A": 0.97,
    "B": 0.88,
    "C": 0.75,
    "D": 0.55,
    "E": 0.35,
    "F": 0.45,
}
#: Prior mean informativeness by information credibility (1 confirmed .. 6 cannot be judged).
CREDIBILITY_PRIOR_MEAN: dict[str, float] = {
    "1": 0.97,
    "2": 0.88,
    "3": 0.75,
    "4": 0.55,
    "5": 0.3,
    "6": 0.45,
}
#: Concentration of the Beta priors on informativeness (how firmly grades fix it).
GRADE_CONCENTRATION = 20.0
#: Index used for a blank grade: its factor in ``kappa`` is exactly 1.
BLANK = 6
#: Prior scale of the spread of sources around their letter's reliability, ``HalfNormal(.)`` on the
#: logit scale. Adjacent Admiralty letters sit about one logit apart here (logit of A-E's means:
#: 3.48, 1.99, 1.10, 0.20, -0.62), so a scale of 1 says a typical source is within about one letter
#: of its grade (median spread 0.67) and a two-letter miss is possible (95th percentile 1.96)
#: without being expected. A single report says little about its source, so such a source
#: stays near its letter; one that keeps contradicting the rest moves down.
SOURCE_SPREAD_SCALE = 1.0
#: Degrees of freedom of the sources' standardised offsets, ``z ~ StudentT(.)``.
SOURCE_TAIL_DOF = 3.0
#: Graded reports (with a reliability letter) a source needs for a reliability of its own. With one
#: report, the source's reliability and that report's truthfulness are one coin: the likelihood is
#: linear in kappa, so the report informs only the prior mean of kappa, and a parameter would add a
#: prior-dominated dimension whose logit-scale spread pulls that mean below the letter's (on the
#: bundled evidence, 78 single-report sources averaged 0.10 below their letter, up to 0.26). Such a
#: source is read at its letter, as in exact mode.
MIN_SOURCE_REPORTS = 2
#: Most multi-row reports one component may hold (the exact sum has 2**this terms per scenario).
MAX_JOINT_REPORTS = 12
#: What one pattern of a coupled component costs per density evaluation, per cell or multi-row
#: reading it holds, in plain single-row reports (:attr:`EngineData.coupled_work`). Measured on the
#: bundled model with one component of 1 to 12 two-row reports added (2026-12-03, best of 5 rounds
#: of 1,000 evaluations): 0.029-0.038 us per pattern and cell-or-reading against 0.046 us per plain
#: report, 0.62-0.82; a component of 12 reports added 5.0 ms to the model's 41 us.
PATTERN_COST = 0.75
#: Grade index of each reliability letter and credibility number (blank: :data:`BLANK`).
_RELIABILITY_INDEX = {letter: k for k, letter in enumerate(RELIABILITY_GRADES)} | {"": BLANK}
_CREDIBILITY_INDEX = {int(number): k for k, number in enumerate(CREDIBILITY_GRADES)} | {0: BLANK}

#: Elicitation sd (shift units: logit, or log rate) of a residual scenario's defaulted likelihood.
#: "None of the above" has no signature of its own: centred on the named scenarios' midrange
#: (:func:`~syriaforecast.spec.model.residual_default`), its true likelihood may sit anywhere in
#: the range they span and beyond. 1.5 logits puts 95% of the mass within +/- 3 logits
#: (0.05..0.95 around an even chance); a wider span of the named scenarios widens it to half
#: that span, so every named scenario's value lies within one sd.
RESIDUAL_SPREAD = 1.5
#: ModelArrays fields describing the analysts' elicitations, in the kernels' argument order.
ANALYST_FIELDS = (
    "elicitation_indicator",
    "elicitation_scenario",
    "elicitation_analyst",
    "elicitation_offset",
    "elicitation_bandvar",
)


@dataclass(frozen=True, slots=True)
class ModelArrays:
    """What the engine needs from the model file alone (no evidence)."""

    n_scenarios: int
    n_indicators: int
    n_groups: int
    group_of: np.ndarray  # (I,) group index of each indicator
    is_count: np.ndarray  # (I,) bool
    n_levels: np.ndarray  # (I,) levels of categorical indicators, 0 for counts
    max_levels: int
    # logit P(x <= l | s) for categorical indicators, padded with +inf: (I, S, max_levels - 1)
    cutpoints: np.ndarray
    log_rate: np.ndarray  # (I, S) log expected count (0 for categorical)
    band_sd: np.ndarray  # (I, S) logit sd of phrase elicitations (0 for numbers)
    noise_count_mean: np.ndarray  # (I,) mean of the count-noise distribution
    prior: np.ndarray  # (S,)
    persistence: float
    elicitation_error: float
    prior_concentration: float
    persistence_uncertainty: float
    # Several analysts (all empty / zero for a model without them). One entry e per
    # (analyst, indicator, scenario) the analyst elicited:
    n_analysts: int = 0
    analyst_bias_scale: float = 0.5  # prior scale of bias[a] ~ Normal(0, .)
    analyst_noise_scale: float = 1.0  # prior scale of noise[a] ~ HalfNormal(.)
    elicitation_indicator: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    elicitation_scenario: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    elicitation_analyst: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # offset d[e] from the consensus, in shift units, and its phrase-band variance
    elicitation_offset: np.ndarray = field(default_factory=lambda: np.zeros(0))
    elicitation_bandvar: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Elicited transition rows and drivers (see syriaforecast.engine.kernel): the point matrix
    # (S, S), which rows the file gives, the Dirichlet concentration of those rows, and the
    # drivers' elicited log effects on moving into each scenario with which ones the file lists.
    transition_base: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    row_elicited: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    transition_concentration: float = 100.0
    n_drivers: int = 0
    log_effect: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    effect_given: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    driver_uncertainty: float = 0.5

    @property
    def has_transition_parameters(self) -> bool:
        """Whether the model elicits transition rows or has drivers (extra chain parameters)."""
        return bool(self.row_elicited.any()) or self.n_drivers > 0


@dataclass(frozen=True, slots=True)
class EngineData:
    """Evidence arranged as cells (period x indicator with at least one report) and reports."""

    n_periods: int
    slots: int  # J: candidate true states per cell
    cell_period: np.ndarray  # (C,) int
    cell_indicator: np.ndarray  # (C,) int
    cell_count_values: np.ndarray  # (C, J) candidate counts for count cells (-1 = other/pad)
    cell_slot_valid: np.ndarray  # (C, J) bool: slot is a real candidate
    face_log_reading: np.ndarray  # (C, J) sum of log P(ungraded reports | x = slot)
    report_cell: np.ndarray  # (K,) graded reports only
    report_match: np.ndarray  # (K, J) 1.0 where the report reads slot j
    report_noise: np.ndarray  # (K, J) P(report | noise) (uniform level or geometric count)
    report_reliability: np.ndarray  # (K,) 0..5 for A..F, BLANK
    report_credibility: np.ndarray  # (K,) 0..5 for 1..6, BLANK
    # Multi-row reports (one truthfulness for several readings), see the module docstring:
    report_joint: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (K,) or -1
    cell_component: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (C,) or -1
    # Clusters of indicators that measure one event (see syriaforecast.engine.clusters):
    cell_event: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (C,) or -1
    event_cluster: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (V,)
    indicator_cluster: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (I,) or -1
    cluster_closeness: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (Q,) as declared
    # Not a kernel input: the evidence row (position in Evidence.to_dataframe()) of each reading.
    report_row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (K,)
    driver_on: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (T, R) 0/1 per period
    # Sources (a density input, not a likelihood kernel's): see "Sources" in the module docstring.
    report_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (K,) or -1
    source_names: tuple[str, ...] = ()

    @property
    def n_cells(self) -> int:
        """Number of (period, indicator) cells with at least one report."""
        return int(self.cell_period.shape[0])

    @property
    def coupled_work(self) -> int:
        """What the exact sums of coupled components add to a density evaluation, in reports.

        A component of ``n`` multi-row reports and cluster events is summed over its ``2^n``
        patterns, each pattern passing over its cells and multi-row readings again
        (:func:`syriaforecast.engine.kernel._components`), so it costs about
        :data:`PATTERN_COST` ``* 2^n * (cells + readings)`` plain reports, not its readings'
        count: a component of 12 two-row reports costs as much as some 100,000. This is that
        cost less the readings already counted as reports, summed over components (0 without
        any). The sampling work cap counts it (:func:`syriaforecast._checks.check_sampling_work`).
        """
        component = self.cell_component
        if component.size == 0 or component.max() < 0:
            return 0
        n_components = int(component.max()) + 1
        coupled = component >= 0
        cells = np.bincount(component[coupled], minlength=n_components)
        joint = self.report_joint >= 0
        reading_component = component[self.report_cell[joint]]
        readings = np.bincount(reading_component, minlength=n_components)
        # The pattern bits: each component's distinct multi-row reports and cluster events.
        reports = np.unique(np.stack([reading_component, self.report_joint[joint]]), axis=1)[0]
        bits = np.bincount(reports, minlength=n_components)
        if self.cell_event.size:
            with_event = coupled & (self.cell_event >= 0)
            events = np.unique(np.stack([component[with_event], self.cell_event[with_event]]), axis=1)[0]
            bits = bits + np.bincount(events, minlength=n_components)
        cost = np.ceil(PATTERN_COST * np.exp2(bits) * (cells + readings)).astype(np.int64)
        return int(np.maximum(cost - readings, 0).sum())

    @property
    def cell_unit(self) -> np.ndarray:
        """(C,) The cell whose ``cell_log_likelihood`` carries each cell's evidence.

        A cell coupled to others by a multi-row report shares one likelihood with
        them, stored on the component's first cell (the others hold 0); an
        independent cell is its own unit. A what-if that changes a cell must
        replace its unit's likelihood.
        """
        unit = np.arange(self.n_cells, dtype=np.int64)
        coupled = np.flatnonzero(self.cell_component >= 0)
        groups, first = np.unique(self.cell_component[coupled], return_index=True)
        unit[coupled] = coupled[first][np.searchsorted(groups, self.cell_component[coupled])]
        return unit


def _ordinal_cutpoints(probs: object) -> list[float]:
    cumulative = np.cumsum(np.asarray(probs, dtype=float))[:-1]
    return [logit(min(c, 1 - 1e-12)) for c in cumulative]


def analyst_offset(indicator: Indicator, value: object, reference: object) -> tuple[float, float]:
    """An analyst's elicitation as (offset from ``reference``, band variance), in shift units.

    The engine moves an elicitation by a ``shift`` on the logit / log-rate
    scale: a binary indicator's logit P(seen) by ``+shift``, an ordinal's
    cumulative logits by ``-shift`` (more mass on high levels), a count's log
    rate by ``+shift``. The offset is the shift that moves ``reference`` (the
    consensus, as written in ``Indicator.likelihood``) onto the analyst's value:

    - binary: ``logit p_a - logit p_ref``; a phrase counts as its band's logit
      midpoint and contributes its band variance (``band_sd^2``);
    - ordinal: the mean over cutpoints of ``cut_ref - cut_a`` (an analyst's
      table is not in general a pure shift of the reference; this is its
      least-squares shift);
    - count: ``log rate_a - log rate_ref``.
    """
    if indicator.type == "binary":
        mine, mine_sd = _binary_logit(value)
        ref, _ = _binary_logit(reference)
        return mine - ref, mine_sd**2
    if indicator.type == "ordinal":
        cut_a = _ordinal_cutpoints(value)
        cut_ref = _ordinal_cutpoints(reference)
        return float(np.mean(np.subtract(cut_ref, cut_a))), 0.0
    return math.log(float(value)) - math.log(float(reference)), 0.0  # type: ignore[arg-type]


def _binary_logit(value: object) -> tuple[float, float]:
    if isinstance(value, str):
        band = parse_phrase(value)
        if band is None:
            raise ValueError(f"not an ICD 203 phrase: {value!r}")
        return band_logit_prior(band)
    return logit(float(value)), 0.0  # type: ignore[arg-type]


class _ByIdentity:
    """A cache key that is its object's identity (a model is immutable but not hashable).

    The key holds its object, so a cached object stays alive and its ``id`` is not reused
    while the entry exists.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.obj is self.obj


def build_model_arrays(model: ScenarioModel) -> ModelArrays:
    """Arrays derived from the model file: elicitations as cutpoints and log rates.

    Computed once per model object (the last 16 models asked for) and shared: a
    :class:`~syriaforecast.spec.model.ScenarioModel` never changes, and a forecast
    asks for its arrays several times. The arrays stay writable, as Numba types a
    read-only array apart (see :func:`read_only_view`): do not modify them in place
    (build the arrays of a changed model instead, or ``dataclasses.replace`` a field).
    """
    return _model_arrays(_ByIdentity(model))


@functools.lru_cache(maxsize=16)
def _model_arrays(key: _ByIdentity) -> ModelArrays:
    return _build_model_arrays(key.obj)  # type: ignore[arg-type]


def _build_model_arrays(model: ScenarioModel) -> ModelArrays:
    S, I = len(model.scenarios), len(model.indicators)
    groups = {g: k for k, g in enumerate(model.groups)}
    max_levels = max([i.n_levels for i in model.indicators if i.type != "count"], default=2)
    cutpoints = np.full((I, S, max(max_levels - 1, 1)), np.inf)
    log_rate = np.zeros((I, S))
    band_sd = np.zeros((I, S))
    noise_mean = np.ones(I)
    for i, ind in enumerate(model.indicators):
        for s, sid in enumerate(model.scenario_ids):
            if ind.type == "binary":
                mean, sd = ind.logit_prior(sid)
                # logit P(x <= 0) = logit P(not seen) = -logit P(seen)
                cutpoints[i, s, 0] = -mean
                band_sd[i, s] = sd
            elif ind.type == "ordinal":
                cut = _ordinal_cutpoints(ind.likelihood[sid])
                cutpoints[i, s, : len(cut)] = cut
            else:
                log_rate[i, s] = math.log(float(ind.likelihood[sid]))  # type: ignore[arg-type]
        if ind.type == "count":
            rates = [float(ind.likelihood[sid]) for sid in model.scenario_ids]  # type: ignore[arg-type]
            noise_mean[i] = 2.0 * max(rates) + 1.0
    analysts = {a: k for k, a in enumerate(model.analysts)}
    entries: list[tuple[int, int, int, float, float]] = []
    for i, ind in enumerate(model.indicators):
        for analyst, table in ind.elicitations.items():
            for s, sid in enumerate(model.scenario_ids):
                if sid in table:
                    offset, bandvar = analyst_offset(ind, table[sid], ind.likelihood[sid])
                    entries.append((i, s, analysts[analyst], offset, bandvar))
    columns = list(zip(*entries, strict=True)) if entries else [(), (), (), (), ()]
    residual = model.residual
    if residual is not None:
        r = model.scenario_ids.index(residual)
        for i, ind in enumerate(model.indicators):
            if residual in ind.defaulted:
                spread = max(
                    abs(analyst_offset(ind, ind.likelihood[sid], ind.likelihood[residual])[0])
                    for sid in model.scenario_ids
                    if sid != residual
                )
                band_sd[i, r] = max(RESIDUAL_SPREAD, spread)
    sids = model.scenario_ids
    effects = np.array([[math.log(d.factor(sid)) for sid in sids] for d in model.drivers]).reshape(-1, S)
    given = np.array([[sid in d.effect for sid in sids] for d in model.drivers], dtype=bool).reshape(-1, S)
    return ModelArrays(
        n_scenarios=S,
        n_indicators=I,
        n_groups=len(groups),
        group_of=np.array([groups[i.group] for i in model.indicators], dtype=np.int64),
        is_count=np.array([i.type == "count" for i in model.indicators]),
        n_levels=np.array([i.n_levels for i in model.indicators], dtype=np.int64),
        max_levels=max_levels,
        cutpoints=cutpoints,
        log_rate=log_rate,
        band_sd=band_sd,
        noise_count_mean=noise_mean,
        prior=np.asarray(model.prior, dtype=float),
        persistence=model.persistence,
        elicitation_error=model.elicitation_error,
        prior_concentration=model.prior_concentration,
        persistence_uncertainty=model.persistence_uncertainty,
        n_analysts=len(analysts),
        analyst_bias_scale=float(model.analyst_bias),
        analyst_noise_scale=float(model.analyst_noise),
        elicitation_indicator=np.array(columns[0], dtype=np.int64),
        elicitation_scenario=np.array(columns[1], dtype=np.int64),
        elicitation_analyst=np.array(columns[2], dtype=np.int64),
        elicitation_offset=np.array(columns[3], dtype=float),
        elicitation_bandvar=np.array(columns[4], dtype=float),
        transition_base=np.array(model.transition_matrix(), dtype=float).reshape(S, S),
        row_elicited=np.array([sid in model.transitions for sid in sids], dtype=bool),
        transition_concentration=float(model.transition_concentration),
        n_drivers=len(model.drivers),
        log_effect=effects,
        effect_given=given,
        driver_uncertainty=float(model.driver_uncertainty),
    )


def driver_states(
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
    logged: dict[str, dict[int, int]] = {ident: {} for ident in ids}
    columns = ("date", "line", "indicator", "period", "state")
    for _, _, ident, period, state in sorted(zip(*(rows[c].tolist() for c in columns), strict=True)):
        if ident in logged:
            logged[ident][int(period)] = int(state)  # in (date, line) order: the latest row of a period wins
    for r, ident in enumerate(ids):
        changes = logged[ident]
        for period, state in sorted((assume or {}).get(ident, {}).items()):
            changes = {p: v for p, v in changes.items() if p < period}
            changes[int(period)] = int(state)
        for period in sorted(p for p in changes if p >= 0):  # each change holds until the next
            on[period:, r] = changes[period]
    return on


def geometric_log_pmf(value: int, mean: float) -> float:
    """Log pmf of a geometric distribution on 0, 1, 2, ... with the given mean."""
    theta = mean / (mean + 1.0)
    return math.log1p(-theta) + value * math.log(theta)


def build_engine_data(
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

    Cells are ordered by (period, indicator) and graded readings by cell, then
    by their row in the evidence; the arrays are built by sorting and grouping
    (no loop over reports), so a long log costs milliseconds.

    The last result is kept and handed out again for the same model, arrays,
    evidence rows and ``n_periods`` without assumptions (a forecast and the
    reports on it ask for the same cells several times). Like the model's arrays,
    its arrays are shared: do not modify them in place.
    """
    global _LAST_ENGINE_DATA
    last = _LAST_ENGINE_DATA
    rows = evidence._derived  # shared only by Evidence objects that hold the same rows (see up_to)
    # Compared by identity, never equality (equal-looking records of different rows are not the same).
    if (
        last is not None
        and not assume
        and last[0] is model
        and last[1] is arrays
        and last[2] is rows
        and last[3] == n_periods
    ):
        return last[4]
    data = _build_engine_data(model, arrays, evidence, n_periods, assume)
    if not assume:
        _LAST_ENGINE_DATA = (model, arrays, rows, n_periods, data)  # replaced at once: thread-safe
    return data


def reads_the_same(a: EngineData, b: EngineData) -> bool:
    """Whether the likelihood reads ``a`` and ``b`` alike: every field it uses is equal.

    Only :attr:`EngineData.report_row` (where each reading sits in the evidence
    table) is left out: it names rows and enters no density. Two evidence logs that
    differ only in what the engine does not read (a report's note, a date moved
    within its period) arrange into equal data, and so give every parameter draw
    the same likelihood, to the bit.
    """
    for item in dataclasses.fields(EngineData):
        if item.name == "report_row":
            continue
        x, y = getattr(a, item.name), getattr(b, item.name)
        if isinstance(x, np.ndarray):
            same = isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
            if not same:
                return False
        elif x != y:
            return False
    return True


def data_under(data: EngineData, base: ModelArrays, arrays: ModelArrays) -> EngineData:
    """``data``, arranged under ``base``, as :func:`build_engine_data` arranges it under ``arrays``.

    For what-ifs that move elicitations of the same indicators (sensitivity,
    disagreement): the cells, slots and readings depend on the indicators' kinds and
    levels only, so they are kept; what depends on the elicited values is a count
    reading's noise, the geometric spread around its indicator's rates, recomputed
    here. Rebuilding from the evidence gives the same arrays (the tests compare
    them) at the cost of sorting the reports again, about 10 ms per what-if on the
    bundled model.

    Raises
    ------
    ValueError
        When ``arrays`` are not of the same indicators (kinds or levels differ).
    """
    if not (
        np.array_equal(base.is_count, arrays.is_count)
        and np.array_equal(base.n_levels, arrays.n_levels)
        and base.max_levels == arrays.max_levels
    ):
        raise ValueError(
            "data_under: the arrays are of other indicators (kinds or levels differ); rebuild the data"
        )
    reading_indicator = data.cell_indicator[data.report_cell]
    count = np.flatnonzero(arrays.is_count[reading_indicator])
    if count.size == 0 or np.array_equal(
        base.noise_count_mean[reading_indicator[count]], arrays.noise_count_mean[reading_indicator[count]]
    ):
        return data
    slot = np.argmax(data.report_match[count], axis=1)
    values = data.cell_count_values[data.report_cell[count], slot]
    noise = data.report_noise.copy()
    noise[count] = _count_noise(reading_indicator[count], values, arrays.noise_count_mean)[:, None]
    return dataclasses.replace(data, report_noise=noise)


def _count_noise(indicator: np.ndarray, count: np.ndarray, noise_count_mean: np.ndarray) -> np.ndarray:
    """Noise value of each count reading: the geometric pmf of its count around its indicator's mean.

    With Python's math (as before), once per distinct (indicator, count).
    """
    keys = list(zip(indicator.tolist(), count.tolist(), strict=True))
    pmf = {key: math.exp(geometric_log_pmf(key[1], noise_count_mean[key[0]])) for key in set(keys)}
    return np.array([pmf[key] for key in keys], dtype=float)


#: The last :func:`build_engine_data` result without assumptions, after what it was built from:
#: the model, its arrays and the evidence's ``_derived`` record, compared by identity.
_LAST_ENGINE_DATA: tuple[Any, ...] | None = None


def _build_engine_data(
    model: ScenarioModel,
    arrays: ModelArrays,
    evidence: Evidence,
    n_periods: int,
    assume: Mapping[str, Mapping[int, int]] | None,
) -> EngineData:
    table = evidence._reports()  # read only: no copy
    period = table["period"].to_numpy(dtype=np.int64)
    if period.size and int(period.max()) >= n_periods:
        kept = period < n_periods
        table, period = table[kept], period[kept]
    N = len(table)
    index = {ident: k for k, ident in enumerate(model.indicator_ids)}
    codes, names = pd.factorize(table["indicator"])  # then one dict lookup per distinct id
    indicator = np.array([index[name] for name in names], dtype=np.int64)[codes].reshape(N)
    states = table["state"].to_numpy(dtype=np.int64)
    rel = table["reliability"].to_numpy(dtype=object)
    cred = table["credibility"].to_numpy(dtype=np.int64)

    # Cells: the distinct (period, indicator) pairs in sorted order; rows sorted stably by them
    # (one stable sort of period * I + indicator: the order of np.lexsort((indicator, period))).
    cell_key = period * len(index) + indicator
    order = np.argsort(cell_key, kind="stable")
    sorted_key = cell_key[order]
    first = np.ones(N, dtype=bool)
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=first[1:])
    cell_of_sorted = np.cumsum(first) - 1
    row_cell = np.empty(N, dtype=np.int64)
    row_cell[order] = cell_of_sorted
    cell_period = period[order][first]
    cell_indicator = indicator[order][first]
    C = int(cell_period.shape[0])
    cell_count = arrays.is_count[cell_indicator]
    row_count = arrays.is_count[indicator]

    # Candidate states per cell: every level, or the distinct reported counts plus "other".
    counted = np.flatnonzero(row_count)
    cell_values = np.full((C, arrays.max_levels), -1, dtype=np.int64)
    row_slot = states.copy()  # the slot each row reads: its level, or its count's place in its cell
    limit = arrays.n_levels[cell_indicator]
    slots = arrays.max_levels
    if counted.size:
        # The distinct (cell, count) pairs in lexicographic order, unique over one int64 key (counts
        # are at most 1e6 and cells at most the rows, so it cannot overflow): the order and inverse
        # of np.unique(axis=0) on the pairs, without its row-view sort.
        width = int(states[counted].max()) + 1
        keys, pair_of = np.unique(row_cell[counted] * width + states[counted], return_inverse=True)
        pair_cell, pair_count = keys // width, keys % width
        n_distinct = np.bincount(pair_cell, minlength=C)
        slots = max(slots, int((n_distinct + 1).max(initial=0)))
        pair_slot = np.arange(keys.shape[0]) - np.searchsorted(pair_cell, pair_cell)
        cell_values = np.full((C, slots), -1, dtype=np.int64)
        cell_values[pair_cell, pair_slot] = pair_count
        row_slot[counted] = pair_slot[pair_of.reshape(-1)]
        limit = np.where(cell_count, n_distinct + 1, limit)  # "other" slot for counts
    # A dummy count keeps the (unused) count branch finite for categorical
    # cells: NaN there would leak into gradients through the switch.
    cell_values[~cell_count, 0] = 0
    valid = np.arange(slots)[None, :] < limit[:, None]

    graded = (rel != "") | (cred != 0)
    ungraded = ~graded
    # An ungraded report is read at face value: every valid slot it does not read is impossible.
    n_face = np.bincount(row_cell[ungraded], minlength=C)
    face_hits = np.bincount(row_cell[ungraded] * slots + row_slot[ungraded], minlength=C * slots)
    face = np.where(valid & (face_hits.reshape(C, slots) < n_face[:, None]), -np.inf, 0.0)

    report_row = order[graded[order]]  # graded rows, by cell then by row
    K = int(report_row.shape[0])
    report_cell = row_cell[report_row]
    match = np.zeros((K, slots))
    match[np.arange(K), row_slot[report_row]] = 1.0
    # Noise: uniform over the levels, or the geometric spread over counts.
    reading_indicator = indicator[report_row]
    count_readings = row_count[report_row]
    noise_value = np.ones(K)
    np.divide(1.0, arrays.n_levels[reading_indicator], out=noise_value, where=~count_readings)
    if count_readings.any():
        noise_value[count_readings] = _count_noise(
            reading_indicator[count_readings], states[report_row[count_readings]], arrays.noise_count_mean
        )
    noise = np.repeat(noise_value[:, None], slots, axis=1)
    rel_idx = [_RELIABILITY_INDEX[letter] for letter in rel[report_row]]
    cred_idx = [_CREDIBILITY_INDEX[int(number)] for number in cred[report_row]]

    label = lambda c: model.period_labels(int(cell_period[c]) + 1)[-1]  # noqa: E731
    rows, cells = report_row.tolist(), report_cell.tolist()
    report_joint, cell_component = _joint_reports(table, rows, cells, C, label)
    report_source, source_names = _report_sources(table, rows, rel_idx, report_joint)
    indicator_cluster, closeness = cluster_arrays(model)
    n_report_bits = np.zeros(0, dtype=np.int64)
    if K and cell_component.max() >= 0:
        # Multi-row reports per component: count each report once, at its first reading's cell.
        joint_ids, first_reading = np.unique(report_joint, return_index=True)
        first_reading = first_reading[joint_ids >= 0]
        n_report_bits = np.bincount(
            cell_component[report_cell[first_reading]], minlength=int(cell_component.max()) + 1
        ).astype(np.int64)
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
        report_cell=report_cell,
        report_match=match,
        report_noise=noise,
        report_reliability=np.asarray(rel_idx, dtype=np.int64),
        report_credibility=np.asarray(cred_idx, dtype=np.int64),
        report_joint=report_joint,
        cell_component=cell_component,
        cell_event=cell_event,
        event_cluster=event_cluster,
        indicator_cluster=indicator_cluster,
        cluster_closeness=closeness,
        report_row=table.index.to_numpy().astype(np.int64)[report_row],
        driver_on=driver_states(model, evidence, n_periods, assume),
        report_source=report_source,
        source_names=source_names,
    )


def _report_sources(
    table: object, report_row: list[int], rel_idx: list[int], report_joint: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each graded reading's source index (-1 for none) and the source names, in order of appearance.

    Only readings with a reliability letter get a source: the source's offset moves
    the letter's informativeness, and a reading without a letter has none to move.
    Readings of one multi-row report take the source of its first reading. A source
    needs :data:`MIN_SOURCE_REPORTS` such reports (a multi-row report counts once
    per period) to get a reliability of its own; see that constant.
    """
    import pandas as pd

    assert isinstance(table, pd.DataFrame)
    K = len(report_row)
    out = np.full(K, -1, dtype=np.int64)
    if K == 0 or "source" not in table:
        return out, ()
    names = table["source"].astype(str).str.strip().to_numpy()
    reading_name: list[str] = []
    first_of_report: dict[int, str] = {}
    reports: dict[str, int] = {}
    for k, r in enumerate(report_row):
        joint = int(report_joint[k])
        if joint >= 0 and joint in first_of_report:
            reading_name.append(first_of_report[joint])
            continue
        name = str(names[r]) if rel_idx[k] != BLANK else ""
        reading_name.append(name)
        if joint >= 0:
            first_of_report[joint] = name
        if name:
            reports[name] = reports.get(name, 0) + 1
    index: dict[str, int] = {}
    for k, name in enumerate(reading_name):
        if name and reports[name] >= MIN_SOURCE_REPORTS:
            out[k] = index.setdefault(name, len(index))
    return out, tuple(index)


def _joint_reports(
    table: object, report_row: list[int], report_cell: list[int], n_cells: int, label: object
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-row reports (graded rows sharing a report id in one period) and the components they couple."""
    import pandas as pd

    from syriaforecast.errors import SyriaforecastError

    assert isinstance(table, pd.DataFrame)
    K = len(report_row)
    joint = np.full(K, -1, dtype=np.int64)
    component = np.full(n_cells, -1, dtype=np.int64)
    if K == 0 or "report" not in table:
        return joint, component
    ids = table["report"].to_numpy()
    periods = table["period"].to_numpy()
    groups: dict[tuple[str, int], list[int]] = {}
    for k, r in enumerate(report_row):
        if ids[r]:
            groups.setdefault((str(ids[r]), int(periods[r])), []).append(k)
    multi = [readings for readings in groups.values() if len(readings) > 1]
    if not multi:
        return joint, component
    # Union-find over cells: a multi-row report joins the cells it reads.
    parent = list(range(n_cells))

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for j, readings in enumerate(multi):
        for k in readings:
            joint[k] = j
        first = find(report_cell[readings[0]])
        for k in readings[1:]:
            parent[find(report_cell[k])] = first
    roots: dict[int, int] = {}
    for readings in multi:
        for k in readings:
            c = report_cell[k]
            component[c] = roots.setdefault(find(c), len(roots))
    per_component: dict[int, list[str]] = {}
    for (report, _), readings in ((key, v) for key, v in groups.items() if len(v) > 1):
        per_component.setdefault(int(component[report_cell[readings[0]]]), []).append(report)
    for g, reports in per_component.items():
        if len(reports) > MAX_JOINT_REPORTS:
            c = int(np.flatnonzero(component == g)[0])
            raise SyriaforecastError(
                f"{label(c)}: {len(reports)} reports coding several indicators share cells "  # type: ignore[operator]
                f"({', '.join(sorted(reports)[:5])}, ...); the exact likelihood sums over 2^n truthfulness "
                f"patterns and allows at most {MAX_JOINT_REPORTS} per group of linked cells: "
                "split the period's reports or drop report ids that do not share a source reading"
            )
    return joint, component


def read_only_view(value: Any) -> Any:
    """``value`` as a C-contiguous read-only array view (copied only when not contiguous); scalars as is.

    Numba compiles (and caches on disk) one specialisation per combination of
    argument types, and an array's writeable flag is part of its type. Callers
    hand over arrays with any flags: exact mode's are fresh and writable, broadcast
    parameters are read-only (and before 2026-12-01 the sampler's callback also
    marked the model's and evidence's arrays read-only in place). Without
    this, exact mode's first call in a process compiled its own specialisation
    of the chain-terms kernels (26.9 CPU s on the benchmark's T = 2400 chain,
    measured 2026-12-01 with a Numba cache filled by a hierarchical forecast)
    even when a hierarchical forecast had already cached the kernels.
    """
    if not isinstance(value, np.ndarray):
        return value
    view = np.ascontiguousarray(value).view()
    view.flags.writeable = False
    return view
