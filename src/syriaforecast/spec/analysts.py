"""Several analysts' elicitations: build a multi-analyst model, or view it as one table.

The model loader (:mod:`syriaforecast.spec.model`) reads analysts' tables from
model files; these helpers build the same objects in code (simulations, what-if
analyses) and take single-table views of them (the consensus, or one analyst's
own reading), for comparisons and reports.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from syriaforecast.errors import SyriaforecastError
from syriaforecast.spec.model import ScenarioModel, elicitation_consensus

__all__ = ["analyst_model", "consensus_model", "with_analysts"]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


def _frozen_table(table: Mapping[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(
        {
            k: tuple(float(x) for x in v) if isinstance(v, list | tuple | np.ndarray) else v
            for k, v in table.items()
        }
    )


def with_analysts(
    base: ScenarioModel, elicitations: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> ScenarioModel:
    """The base model with several analysts' elicitations and their consensus as ``likelihood``.

    Parameters
    ----------
    base : ScenarioModel
        The model whose structure (ids, types, levels, chain) is kept.
    elicitations : mapping
        Indicator id -> analyst id -> scenario id -> value (the layout of
        :attr:`Indicator.elicitations`). Indicators not named keep their
        single elicitation and no ``elicitations``.

    Returns
    -------
    ScenarioModel
        ``base`` with each named indicator's ``elicitations`` set and its
        ``likelihood`` replaced by their consensus, computed as the model
        loader does (:func:`syriaforecast.spec.model.elicitation_consensus`:
        mean logit, average cumulative logits, geometric mean rate), so the
        model equals ``parse_model(model.to_toml())``; ``analysts``
        lists the analysts in order of first appearance.
    """
    unknown = sorted(set(elicitations) - set(base.indicator_ids))
    if unknown:
        raise SyriaforecastError(
            f"elicitations: unknown indicators {unknown}; indicators are {list(base.indicator_ids)}"
        )
    indicators = []
    for ind in base.indicators:
        tables = elicitations.get(ind.id)
        if not tables:
            indicators.append(ind)
            continue
        for analyst in tables:
            if not (isinstance(analyst, str) and _ID.match(analyst)):
                raise SyriaforecastError(
                    f"elicitations of {ind.id!r}: analyst id {analyst!r}; expected a letter followed "
                    "by up to 63 letters, digits, '_' or '-'"
                )
            missing = [sid for sid in base.scenario_ids if sid not in tables[analyst]]
            if missing:
                raise SyriaforecastError(
                    f"elicitations of {ind.id!r}: analyst {analyst!r} has no value for scenarios {missing}"
                )
        frozen = {a: _frozen_table(t) for a, t in tables.items()}
        indicators.append(
            dataclasses.replace(
                ind,
                elicitations=MappingProxyType(frozen),
                likelihood=MappingProxyType(
                    elicitation_consensus(ind.type, list(frozen.values()), base.scenario_ids)
                ),
            )
        )
    return dataclasses.replace(base, indicators=tuple(indicators))


def consensus_model(model: ScenarioModel) -> ScenarioModel:
    """The model as one table: the consensus ``likelihood`` kept, the analysts dropped.

    Parameters
    ----------
    model : ScenarioModel
        A model with or without analysts.

    Returns
    -------
    ScenarioModel
        Same ids and structure, every indicator's ``elicitations`` empty.
    """
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    return dataclasses.replace(
        model, indicators=tuple(dataclasses.replace(i, elicitations=empty) for i in model.indicators)
    )


def analyst_model(model: ScenarioModel, analyst: str) -> ScenarioModel:
    """The model as one analyst wrote it: that analyst's tables, no other analysts.

    Parameters
    ----------
    model : ScenarioModel
        A model with analysts.
    analyst : str
        One of ``model.analysts``. An indicator the analyst did not elicit
        keeps the model's ``likelihood`` (the consensus of those who did).

    Returns
    -------
    ScenarioModel
        Same ids and structure, every indicator's ``elicitations`` empty.
    """
    if analyst not in model.analysts:
        raise SyriaforecastError(
            f"analyst: got {analyst!r}; model {model.id!r} has analysts {list(model.analysts)}"
        )
    empty: MappingProxyType[str, Any] = MappingProxyType({})
    indicators = []
    for ind in model.indicators:
        table = ind.elicitations.get(analyst)
        likelihood = _frozen_table(table) if table is not None else ind.likelihood
        indicators.append(dataclasses.replace(ind, likelihood=likelihood, elicitations=empty))
    return dataclasses.replace(model, indicators=tuple(indicators))
