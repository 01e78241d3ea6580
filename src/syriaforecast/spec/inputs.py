"""What every entry point does first: a model and evidence from paths or objects, and the as-of date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from syriaforecast.errors import SyriaforecastError
from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel, load_model

__all__ = ["as_date", "information_date", "resolve_inputs"]


def as_date(value: dt.date | str | pd.Timestamp, what: str) -> dt.date:
    """``value`` as a date (a date, datetime, Timestamp or ISO text); ``what`` names it in the error."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date() if isinstance(value, dt.datetime) else value.to_pydatetime().date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SyriaforecastError(f"{what} = {value!r}: expected an ISO date YYYY-MM-DD") from None


def resolve_inputs(
    model: ScenarioModel | str | Path, evidence: Evidence | str | Path | pd.DataFrame | None
) -> tuple[ScenarioModel, Evidence]:
    """The model (loaded from a path if need be) and its validated evidence (none: no reports)."""
    if not isinstance(model, ScenarioModel):
        model = load_model(model)
    if evidence is None:
        empty = pd.DataFrame(columns=["date", "indicator", "value"])
        evidence = load_evidence(empty, model)
    elif not isinstance(evidence, Evidence):
        evidence = load_evidence(evidence, model)
    elif evidence.model_id != model.id:
        raise SyriaforecastError(
            f"evidence was validated against model {evidence.model_id!r}, not {model.id!r}: "
            "load it again with load_evidence(path, model)"
        )
    elif evidence.model_sha256 and model.sha256 and evidence.model_sha256 != model.sha256:
        # The same id, another model (an edited file, a variant): the rows' periods and states
        # were derived from the other one, so they are read again against this one.
        evidence = evidence.for_model(model)
    return model, evidence


def information_date(model: ScenarioModel, evidence: Evidence, as_of: dt.date | str | None) -> dt.date:
    """The as-of date: given, or the latest publication date (the model's start without reports)."""
    if as_of is None:
        date = evidence.last_published or model.first_period.start_time.date()
    else:
        date = as_date(as_of, "as_of")
    first_day = model.first_period.start_time.date()
    if date < first_day:
        raise SyriaforecastError(
            f"as_of = {date}: must be on or after the model's first period ({first_day})"
        )
    return date
