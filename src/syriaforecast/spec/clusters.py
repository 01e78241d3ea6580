"""Clusters of indicators that measure one event: the ``cluster`` key and the ``[clusters.<id>]`` tables.

Several signposts often record one happening: one White House visit fires "a
US channel opens", "a sanctions-relief step" and "Western security alignment".
Declaring them one cluster,

.. code-block:: toml

    [[indicators]]
    id = "damascus_us_channel"
    cluster = "us_rapprochement"
    # ...

    [clusters.us_rapprochement]
    closeness = 0.9          # optional, 0 < closeness <= 1 (default 0.9, near-copies)
    text = "One US-Syria rapprochement event per month"

tells the engine that the members are conditionally independent given one
latent event of the cluster per period, whose probability depends on the
scenario (the event model is derived from the members' own likelihoods, see
:func:`syriaforecast.engine.clusters.event_model`). Members must be binary
indicators, and a cluster needs at least two of them.

:func:`cluster_problems` reports misuse in the model file's validation pass;
:func:`cluster_warnings` says when members' elicitations are hard to reconcile
with one shared event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

__all__ = [
    "DEFAULT_CLOSENESS",
    "Cluster",
    "ClusterSection",
    "build_clusters",
    "cluster_problems",
    "cluster_warnings",
]

#: Closeness of a cluster that does not declare one: members are near-copies of the event.
DEFAULT_CLOSENESS = 0.9
#: Under one scenario, members whose likelihoods differ by more than this share an event only weakly.
SPREAD_WARNING = 0.5
#: Members whose odds move in opposite directions between two scenarios by more than this factor.
DIRECTION_WARNING = 2.0

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


class ClusterSection(pydantic.BaseModel):
    """The schema of one ``[clusters.<id>]`` table."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    closeness: float = DEFAULT_CLOSENESS
    text: str = ""


@dataclass(frozen=True, slots=True)
class Cluster:
    """Indicators that measure one event (one latent event per period).

    Attributes
    ----------
    id : str
        The cluster id, as in the indicators' ``cluster`` key.
    members : tuple of str
        Its indicators' ids, in file order (at least two binary indicators).
    closeness : float
        How closely members follow the event, in (0, 1]: 1 makes members with
        equal likelihoods exact copies, 0 would make them independent.
    text : str
        What the event is (optional).
    """

    id: str
    members: tuple[str, ...]
    closeness: float = DEFAULT_CLOSENESS
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``[clusters.<id>]`` table (members are named by the indicators' ``cluster`` key)."""
        out: dict[str, Any] = {"closeness": self.closeness}
        if self.text:
            out["text"] = self.text
        return out


def cluster_problems(data: Mapping[str, Any], add: Callable[[tuple[Any, ...], str, Any, str], None]) -> None:
    """Report each semantic problem of the ``cluster`` keys and ``[clusters]`` tables through ``add``."""
    indicators = data.get("indicators")
    tables = data.get("clusters", {})
    members: dict[str, list[int]] = {}
    if isinstance(indicators, list):
        for k, indicator in enumerate(indicators):
            if not isinstance(indicator, Mapping) or "cluster" not in indicator:
                continue
            name = indicator.get("cluster")
            if not isinstance(name, str) or not _ID.match(name):
                add(
                    ("indicators", k, "cluster"),
                    "cluster",
                    name,
                    "a cluster id: a letter followed by up to 63 letters, digits, '_' or '-'",
                )
                continue
            members.setdefault(name, []).append(k)
            kind = indicator.get("type")
            if kind != "binary":
                add(
                    ("indicators", k, "cluster"),
                    "cluster",
                    name,
                    f"only binary indicators can share a cluster's event (type is {kind!r})",
                )
    for name, ks in members.items():
        if len(ks) == 1:
            add(
                ("indicators", ks[0], "cluster"),
                "cluster",
                name,
                "a cluster needs at least two member indicators (give another indicator "
                f'cluster = "{name}", or remove the key)',
            )
    if not isinstance(tables, Mapping):
        return  # a wrong type the structural pass reports
    known = ", ".join(sorted(members)) or "none"
    for name, table in tables.items():
        if name not in members:
            add(
                ("clusters", name),
                f"clusters.{name}",
                name,
                f"a cluster some indicator names in its cluster key (clusters named: {known})",
            )
        if not isinstance(table, Mapping):
            continue
        closeness = table.get("closeness", DEFAULT_CLOSENESS)
        if isinstance(closeness, bool) or not isinstance(closeness, int | float):
            continue  # the structural pass reports the type
        if not (math.isfinite(closeness) and 0.0 < closeness <= 1.0):
            add(
                ("clusters", name, "closeness"),
                "closeness",
                closeness,
                "a number with 0 < closeness <= 1 (1: members with equal likelihoods are exact copies "
                f"of the event; default {DEFAULT_CLOSENESS})",
            )


def build_clusters(
    indicators: Sequence[tuple[str, str | None]], tables: Mapping[str, ClusterSection]
) -> tuple[Cluster, ...]:
    """Clusters in order of first member, from (indicator id, cluster) pairs and the declared tables."""
    members: dict[str, list[str]] = {}
    for ident, name in indicators:
        if name:
            members.setdefault(name, []).append(ident)
    out = []
    for name, ids in members.items():
        table = tables.get(name, ClusterSection())
        out.append(Cluster(name, tuple(ids), float(table.closeness), table.text))
    return tuple(out)


def cluster_warnings(
    clusters: Sequence[Cluster],
    probability: Callable[[str, str], float],
    scenario_ids: Sequence[str],
    source: str = "<string>",
) -> list[str]:
    """Messages for clusters whose members' elicitations sit badly with one shared event.

    Members of one event should rise and fall together across scenarios, and
    be about as likely as each other under each scenario. Two signs that they
    do not:

    - **opposite directions**: between two scenarios one member's odds rise
      and another's fall, each by more than a factor :data:`DIRECTION_WARNING`;
    - **spread**: under one scenario the members' likelihoods differ by more
      than :data:`SPREAD_WARNING`. The event can then tie them only weakly:
      members covary by at most ``closeness^2 * lo * (1 - hi)``.

    Parameters
    ----------
    clusters : sequence of Cluster
    probability : callable
        ``probability(indicator_id, scenario_id)``, the member's point likelihood.
    scenario_ids : sequence of str
    source : str
        The model file, for the message's location.
    """
    out = []
    for cluster in clusters:
        where = f"{source}: clusters.{cluster.id} (members {', '.join(cluster.members)})"
        table = {m: [probability(m, s) for s in scenario_ids] for m in cluster.members}
        for k, s in enumerate(scenario_ids):
            values = {m: table[m][k] for m in cluster.members}
            lo = min(values, key=values.__getitem__)
            hi = max(values, key=values.__getitem__)
            if values[hi] - values[lo] > SPREAD_WARNING:
                out.append(
                    f"{where}: under scenario {s!r} the members' likelihoods range from "
                    f"{values[lo]:.3g} ({lo}) to {values[hi]:.3g} ({hi}); one shared event can tie them "
                    f"only weakly (at most {1 - values[hi] + values[lo]:.2f} of a copy). Check the "
                    "elicitations, or declare them as separate indicators"
                )
        logit = {m: [math.log(p) - math.log1p(-p) for p in table[m]] for m in cluster.members}
        found = False
        for a in range(len(scenario_ids)):
            for b in range(a + 1, len(scenario_ids)):
                moves = {m: logit[m][b] - logit[m][a] for m in cluster.members}
                up = max(moves, key=moves.__getitem__)
                down = min(moves, key=moves.__getitem__)
                limit = math.log(DIRECTION_WARNING)
                if not found and moves[up] > limit and moves[down] < -limit:
                    found = True
                    sa, sb = scenario_ids[a], scenario_ids[b]
                    out.append(
                        f"{where}: members disagree on which scenario makes the event likelier: "
                        f"{up} is likelier under {sb!r} than {sa!r} "
                        f"({table[up][a]:.3g} -> {table[up][b]:.3g}), "
                        f"{down} less likely ({table[down][a]:.3g} -> {table[down][b]:.3g}); members of one "
                        "event should move together. Check the elicitations, or remove one from the cluster"
                    )
    return out
