"""Clusters of indicators that measure one event: the engine's arrays and the event model.

Model
-----
Members ``m`` of cluster ``q`` (binary indicators) are conditionally independent
given a latent event ``e`` of the cluster in each period, whose probability
depends on the scenario. Analysts elicit each member's own likelihood
``p_m(s) = P(m seen | s)`` as for any indicator; the event model is derived from
them and the cluster's closeness ``rho`` in (0, 1]. With ``lo(s) = min_m p_m(s)``
and ``hi(s) = max_m p_m(s)``:

    P(e = 1 | s)         = pi(s) = lo / (1 - hi + lo)
    P(m seen | e = 1, s) = p_m(s) + rho (1 - hi(s))
    P(m seen | e = 0, s) = p_m(s) - rho lo(s)

Why this form:

- each member keeps its elicited marginal exactly, ``pi (p_m + rho (1 - hi)) +
  (1 - pi)(p_m - rho lo) = p_m``, so a lone member's report moves the forecast
  exactly as it would outside the cluster, and the members' elicitation errors
  (the hierarchical model's shift) act on what analysts elicited;
- both conditionals are probabilities for every ``rho`` in [0, 1] and every set of
  marginals: no elicitation is ever refused;
- members covary given ``s`` by ``rho^2 lo (1 - hi)``: at ``rho = 1`` the least and most
  likely members are as dependent as their marginals allow (the Frechet bound;
  members with equal likelihoods are exact copies), at ``rho = 0`` members are
  independent as without the cluster. ``pi`` is the choice of event probability
  that makes this reach the bound.

Likelihood of a period's cluster observations given scenario ``s``: the members'
cells ``c`` (with their readings, grades and reports as for any cell) satisfy

    P(obs | s) = sum_e P(e | s) prod_c sum_x P(x_c | e, s) P(readings_c | x_c),

because the members' true states are independent given ``(e, s)`` and each
cell's readings depend on its own true state only. Members with no report in
the period drop out (their sum over ``x`` is 1). The kernel
(:func:`syriaforecast.engine.kernel._components`) evaluates this exactly, jointly
with the truthfulness of multi-row reports when a report codes a member.

Exact mode uses the declared (or default) closeness; the hierarchical model
samples it, ``closeness ~ Beta`` with mean the declared value (capped at
:data:`CLOSENESS_PRIOR_CAP`) and concentration :data:`CLOSENESS_CONCENTRATION`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "CLOSENESS_CONCENTRATION",
    "CLOSENESS_PRIOR_CAP",
    "ClusterArrays",
    "EventModel",
    "closeness_prior",
    "cluster_arrays",
    "event_model",
    "link_cluster_events",
]

#: Concentration of the Beta prior on each cluster's closeness (hierarchical mode).
CLOSENESS_CONCENTRATION = 20.0
#: The prior's mean is the declared closeness, at most this (a Beta cannot have mean 1).
CLOSENESS_PRIOR_CAP = 0.98


class ClusterArrays(NamedTuple):
    """Each indicator's cluster index (I,) (-1 for none) and each cluster's closeness (Q,)."""

    indicator_cluster: np.ndarray
    cluster_closeness: np.ndarray


class EventModel(NamedTuple):
    """A cluster's derived event model, each array (S,) or (members, S)."""

    event: np.ndarray  # P(e = 1 | s)
    seen_if_event: np.ndarray  # P(member seen | e = 1, s), (M, S)
    seen_if_not: np.ndarray  # P(member seen | e = 0, s), (M, S)


def cluster_arrays(model: ScenarioModel) -> ClusterArrays:
    """The kernel's view of the model's clusters."""
    index = {c.id: q for q, c in enumerate(model.clusters)}
    member = np.array([index.get(i.cluster, -1) for i in model.indicators], dtype=np.int64)
    closeness = np.array([c.closeness for c in model.clusters], dtype=float)
    return ClusterArrays(member, closeness)


def closeness_prior(closeness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta(alpha, beta) parameters of the hierarchical prior on each cluster's closeness."""
    mean = np.minimum(np.asarray(closeness, dtype=float), CLOSENESS_PRIOR_CAP)
    return mean * CLOSENESS_CONCENTRATION, (1.0 - mean) * CLOSENESS_CONCENTRATION


def event_model(seen: np.ndarray, closeness: float) -> EventModel:
    """The event model of one cluster from its members' likelihoods ``seen`` (M, S).

    See the module docstring; this is the same arithmetic as the kernel's
    :func:`~syriaforecast.engine.kernel._cluster_states`, for reports and tests.
    """
    seen = np.asarray(seen, dtype=float)
    lo, hi = seen.min(axis=0), seen.max(axis=0)
    return EventModel(
        lo / (1.0 - hi + lo), seen + closeness * (1.0 - hi), seen - closeness * lo
    )


def link_cluster_events(
    cell_period: np.ndarray,
    cell_indicator: np.ndarray,
    indicator_cluster: np.ndarray,
    cell_component: np.ndarray,
    n_report_bits: np.ndarray,
    max_bits: int,
    label: object,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give member cells their event (one per cluster and period) and join them into components.

    Parameters
    ----------
    cell_period, cell_indicator : ndarray (C,)
    indicator_cluster : ndarray (I,)
        Cluster of each indicator, -1 for none.
    cell_component : ndarray (C,)
        Components of cells coupled by multi-row reports (-1: none).
    n_report_bits : ndarray (G,)
        Multi-row reports in each of those components.
    max_bits : int
        Most reports plus events one component may hold (the exact sum has 2**this terms).
    label : callable
        ``label(c)``, the period label of cell ``c``, for the error message.

    Returns
    -------
    cell_event : ndarray (C,)
        Event of each member cell (-1 for other cells).
    event_cluster : ndarray (V,)
        Cluster of each event.
    cell_component : ndarray (C,)
        Components renumbered so that the cells of one event share one.
    """
    from syriaforecast.errors import SyriaforecastError

    C = int(cell_period.shape[0])
    cell_event = np.full(C, -1, dtype=np.int64)
    if C == 0 or indicator_cluster.size == 0 or indicator_cluster.max() < 0:
        return cell_event, np.zeros(0, dtype=np.int64), cell_component
    events: dict[tuple[int, int], int] = {}
    for c in range(C):
        q = int(indicator_cluster[cell_indicator[c]])
        if q >= 0:
            cell_event[c] = events.setdefault((q, int(cell_period[c])), len(events))
    event_cluster = np.array([q for q, _ in events], dtype=np.int64)
    # Union-find over cells: a component's cells stay joined, an event joins its member cells.
    parent = list(range(C))

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    first_of_component: dict[int, int] = {}
    first_of_event: dict[int, int] = {}
    for c in range(C):
        if cell_component[c] >= 0:
            parent[find(c)] = find(first_of_component.setdefault(int(cell_component[c]), c))
        if cell_event[c] >= 0:
            parent[find(c)] = find(first_of_event.setdefault(int(cell_event[c]), c))
    component = np.full(C, -1, dtype=np.int64)
    roots: dict[int, int] = {}
    for c in range(C):
        if cell_component[c] >= 0 or cell_event[c] >= 0:
            component[c] = roots.setdefault(find(c), len(roots))
    bits = np.zeros(len(roots), dtype=np.int64)
    for g, c in first_of_component.items():
        bits[component[c]] += int(n_report_bits[g])
    for c in first_of_event.values():
        bits[component[c]] += 1
    for g in map(int, np.flatnonzero(bits > max_bits)):
        c = int(np.flatnonzero(component == g)[0])
        raise SyriaforecastError(
            f"{label(c)}: {int(bits[g])} multi-row reports and cluster events are linked in one group "  # type: ignore[operator]
            f"of cells; the exact likelihood sums over 2^n patterns and allows at most {max_bits}: "
            "split the period's reports or drop report ids that do not share a source reading"
        )
    return cell_event, event_cluster, component
