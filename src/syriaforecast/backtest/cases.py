"""Resolved cases: a model, its evidence log and the scenario that came true.

A case lives in a folder holding three files:

``model.toml``
    The scenario model as it stood when the forecasts were made.
``evidence.csv``
    The coded reports (every report, including those dated after any cutoff:
    :func:`~syriaforecast.backtest.backtest` hides the later ones itself).
``outcome.toml``
    The resolution::

        scenario = "calm"        # id of the scenario that held at the model's horizon
        date = 2026-01-15        # when the outcome was known (TOML date or "YYYY-MM-DD")
        note = "..."             # optional free text
        source = "..."           # optional free text

    ``date`` must fall on or after the model's horizon: a case is scored on the
    scenario at the horizon, which cannot be known before it.

A :class:`~syriaforecast.studies.synthetic.SyntheticWorld` is a case too, whose
outcome is known by construction (:func:`as_case`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syriaforecast.errors import Problem, SyriaforecastError, ValidationError
from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel, load_model

__all__ = ["CASE_FILES", "Case", "CaseFileError", "as_case", "load_case", "load_cases"]

#: The files of a case folder.
CASE_FILES = ("model.toml", "evidence.csv", "outcome.toml")
_OUTCOME_KEYS = {"scenario", "date", "note", "source"}


class CaseFileError(ValidationError):
    """A case folder is incomplete, or its ``outcome.toml`` is malformed."""

    kind = "case"


@dataclass(frozen=True, eq=False)
class Case:
    """One resolved forecasting question.

    Attributes
    ----------
    id : str
        Name of the case (its folder name for a loaded case); unique within a backtest.
    model : ScenarioModel
        The scenario model.
    evidence : Evidence
        All reports; a backtest uses only those dated on or before each cutoff.
    outcome : str
        Id of the scenario that held at the model's horizon.
    resolved : datetime.date
        When the outcome became known (on or after the horizon).
    path : Path or None
        The case folder, if loaded from disk.
    note : str
        Free text from ``outcome.toml``.
    """

    id: str
    model: ScenarioModel
    evidence: Evidence
    outcome: str
    resolved: dt.date
    path: Path | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model, ScenarioModel):
            raise SyriaforecastError(
                f"case {self.id!r}: model is a {type(self.model).__name__}; expected a ScenarioModel"
            )
        if not isinstance(self.evidence, Evidence):
            raise SyriaforecastError(
                f"case {self.id!r}: evidence is a {type(self.evidence).__name__}; expected Evidence "
                "(load it with syriaforecast.load_evidence(path, model))"
            )
        if self.evidence.model_id != self.model.id:
            raise SyriaforecastError(
                f"case {self.id!r}: evidence was validated against model {self.evidence.model_id!r}, "
                f"not {self.model.id!r}"
            )
        if self.outcome not in self.model.scenario_ids:
            raise SyriaforecastError(
                f"case {self.id!r}: outcome = {self.outcome!r} is not a scenario of model "
                f"{self.model.id!r} (one of {', '.join(self.model.scenario_ids)})"
            )
        if self.resolved < self.model.horizon:
            raise SyriaforecastError(
                f"case {self.id!r}: resolved = {self.resolved.isoformat()} is before the model's "
                f"horizon {self.model.horizon.isoformat()}; the scenario at the horizon is known "
                "on or after it"
            )

    def __repr__(self) -> str:
        return (
            f"Case({self.id!r}: model {self.model.id!r}, {len(self.evidence)} reports, "
            f"outcome {self.outcome!r} resolved {self.resolved.isoformat()})"
        )

    @property
    def outcome_index(self) -> int:
        """Index of the outcome in the model's scenario order."""
        return self.model.scenario_ids.index(self.outcome)


def load_case(path: str | Path) -> Case:
    """Load a case folder (``model.toml``, ``evidence.csv``, ``outcome.toml``).

    Parameters
    ----------
    path : str or Path
        The case folder; its name becomes the case id.

    Returns
    -------
    Case

    Raises
    ------
    CaseFileError
        A file is missing or ``outcome.toml`` is malformed (every problem is listed).
    ModelFileError, EvidenceError
        The model or the evidence does not validate.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise CaseFileError(
            [
                Problem(
                    str(folder), "", "case folder", str(folder), "a folder holding " + ", ".join(CASE_FILES)
                )
            ]
        )
    missing = [name for name in CASE_FILES if not (folder / name).is_file()]
    if missing:
        raise CaseFileError(
            [
                Problem(
                    str(folder / name),
                    "",
                    "file",
                    name,
                    "missing: a case folder holds " + ", ".join(CASE_FILES),
                )
                for name in missing
            ],
            file=str(folder),
        )
    model = load_model(folder / "model.toml")
    evidence = load_evidence(folder / "evidence.csv", model)
    scenario, resolved, note = _read_outcome(folder / "outcome.toml", model)
    return Case(folder.name, model, evidence, scenario, resolved, folder, note)


def _read_outcome(path: Path, model: ScenarioModel) -> tuple[str, dt.date, str]:
    name = str(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CaseFileError([Problem(name, "", "encoding", "(not UTF-8)", "a UTF-8 TOML file")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseFileError([Problem(name, "", "TOML syntax", "", str(exc))]) from None
    problems: list[Problem] = []
    for key in sorted(set(data) - _OUTCOME_KEYS):
        problems.append(Problem(name, key, "key", key, "one of " + ", ".join(sorted(_OUTCOME_KEYS))))
    scenario = data.get("scenario")
    if scenario is None:
        problems.append(Problem(name, "scenario", "scenario", "(missing)", _scenario_allowed(model)))
    elif not isinstance(scenario, str) or scenario not in model.scenario_ids:
        problems.append(Problem(name, "scenario", "scenario", repr(scenario), _scenario_allowed(model)))
    raw_date = data.get("date")
    resolved: dt.date | None = None
    if raw_date is None:
        problems.append(Problem(name, "date", "date", "(missing)", "an ISO date, e.g. 2026-01-15"))
    else:
        resolved = _parse_date(raw_date)
        if resolved is None:
            problems.append(
                Problem(name, "date", "date", repr(raw_date), "an ISO date, e.g. 2026-01-15 (no time)")
            )
        elif resolved < model.horizon:
            problems.append(
                Problem(
                    name,
                    "date",
                    "date",
                    resolved.isoformat(),
                    f"on or after the model's horizon {model.horizon.isoformat()} "
                    "(the outcome is the scenario at the horizon)",
                )
            )
    for key in ("note", "source"):
        if key in data and not isinstance(data[key], str):
            problems.append(Problem(name, key, key, repr(data[key]), "text"))
    if problems:
        raise CaseFileError(problems, file=name)
    assert resolved is not None and isinstance(scenario, str)
    note = " ".join(str(data[k]) for k in ("note", "source") if data.get(k))
    return scenario, resolved, note


def _scenario_allowed(model: ScenarioModel) -> str:
    return f"the id of a scenario of model {model.id!r}: one of " + ", ".join(model.scenario_ids)


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
        except ValueError:
            return None
    return None


def load_cases(folder: str | Path) -> list[Case]:
    """Load every case folder inside ``folder``, sorted by name.

    Parameters
    ----------
    folder : str or Path
        A folder holding one sub-folder per case (hidden folders are skipped).
        A folder that is itself a case (it holds ``model.toml``) gives one case.

    Returns
    -------
    list of Case

    Raises
    ------
    CaseFileError
        The folder does not exist or holds no case folders.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CaseFileError(
            [Problem(str(root), "", "cases folder", str(root), "an existing folder of case folders")]
        )
    if (root / "model.toml").is_file():
        return [load_case(root)]
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not subfolders:
        raise CaseFileError(
            [
                Problem(
                    str(root),
                    "",
                    "cases folder",
                    "(no case folders)",
                    "one folder per case, each holding " + ", ".join(CASE_FILES),
                )
            ]
        )
    return [load_case(p) for p in subfolders]


def as_case(item: Any, *, default_id: str | None = None) -> Case:
    """A :class:`Case` from a case, a case folder, or a synthetic world.

    Parameters
    ----------
    item : Case, str, Path or SyntheticWorld
        A synthetic world becomes a case named ``world-<seed>``, resolved at its
        model's horizon, with its simulated evidence.
    default_id : str, optional
        Id for a synthetic world (default ``world-<seed>``).

    Returns
    -------
    Case
    """
    if isinstance(item, Case):
        return item
    if isinstance(item, str | Path):
        return load_case(item)
    # Duck-typed so that this module does not need the synthetic module.
    if all(hasattr(item, name) for name in ("model", "evidence", "outcome", "seed", "path")):
        model = item.model
        return Case(
            default_id or f"world-{item.seed}",
            model,
            item.evidence,
            item.outcome,
            model.horizon,
            None,
            f"synthetic world, seed {item.seed}",
        )
    raise SyriaforecastError(
        f"cases: got a {type(item).__name__}; expected a case folder path, a Case or a SyntheticWorld"
    )


def collect_cases(cases: Any) -> list[Case]:
    """Normalise the ``cases`` argument of :func:`~syriaforecast.backtest.backtest`.

    A single folder path means a folder of case folders (or one case folder);
    otherwise an iterable of cases, case folders or synthetic worlds. Case ids
    must be unique.
    """
    if isinstance(cases, str | Path):
        out = load_cases(cases)
    elif isinstance(cases, Case) or hasattr(cases, "oracle"):
        out = [as_case(cases)]
    elif isinstance(cases, Iterable):
        out = [as_case(item) for item in cases]
    else:
        raise SyriaforecastError(
            f"cases: got a {type(cases).__name__}; expected a folder of case folders, or a list of "
            "case folders, Case objects or SyntheticWorld objects"
        )
    if not out:
        raise SyriaforecastError("cases: no cases given; a backtest needs at least one resolved case")
    seen: dict[str, int] = {}
    for case in out:
        seen[case.id] = seen.get(case.id, 0) + 1
    duplicated = sorted(k for k, n in seen.items() if n > 1)
    if duplicated:
        raise SyriaforecastError(
            f"cases: case ids must be unique; repeated: {', '.join(duplicated)} "
            "(rename the folders, or give Case objects distinct ids)"
        )
    return out
