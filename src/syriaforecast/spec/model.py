"""Scenario model files (TOML): schema, validation and the immutable :class:`ScenarioModel`.

Validation happens in two passes so that one run reports every problem:
pydantic checks the structure (required keys, types, unknown keys), then a
tolerant semantic pass checks what pydantic cannot see on its own (likelihoods
against the indicator type, scenario coverage, duplicate ids, priors summing to
one). Each problem names the file, the line and TOML key path, the field, the
bad value and what is allowed.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
import pydantic
import tomli_w

from syriaforecast._maths import logit, stable_expit
from syriaforecast.errors import ModelFileError, Problem
from syriaforecast.phrases import (
    DRIVER_EFFECTS,
    Band,
    allowed_phrases,
    band_logit_prior,
    driver_effect,
    elicited_logit,
    parse_phrase,
)
from syriaforecast.spec import periods
from syriaforecast.spec.clusters import (
    Cluster,
    ClusterSection,
    build_clusters,
    cluster_problems,
    cluster_warnings,
)
from syriaforecast.spec.tripwires import Tripwire, TripwireSection, build_tripwires, tripwire_problems

__all__ = [
    "Driver",
    "Indicator",
    "Scenario",
    "ScenarioModel",
    "elicitation_consensus",
    "load_model",
    "parse_model",
    "residual_default",
    "save_model",
]

IndicatorType = Literal["binary", "ordinal", "count"]
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_ID_ALLOWED = "a letter followed by up to 63 letters, digits, '_' or '-'"
#: Likelihoods closer than this to 0 or 1 are refused: they make one report decisive forever.
_PROB_FLOOR = 1e-6
_MAX_INDICATORS = 20_000
#: Labels pydantic gives the alternatives of a union in error locations.
_UNION_TAGS = ("float", "str", "dict[str,str]")
#: Defaults of ``[model] analyst_bias`` and ``analyst_noise`` (also the dataclass defaults).
_DEFAULT_ANALYST_BIAS = 0.5
_DEFAULT_ANALYST_NOISE = 1.0
#: Defaults of ``[model] transition_concentration`` and ``driver_uncertainty``.
_DEFAULT_TRANSITION_CONCENTRATION = 100.0
_DEFAULT_DRIVER_UNCERTAINTY = 0.5
#: Largest driver effect factor accepted (and smallest, its inverse).
_MAX_EFFECT = 1000.0


# --------------------------------------------------------------------------- schema (structure)
class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _ModelSection(_Section):
    id: str
    title: str
    question: str = ""
    source: str = ""
    period: Literal["month", "week", "quarter"] = "month"
    start: str
    horizon: dt.date
    persistence: float = pydantic.Field(gt=0.0, le=1.0)
    elicitation_error: float = pydantic.Field(ge=0.0, le=5.0)
    prior_concentration: float = pydantic.Field(default=10.0, gt=0.0, le=1e6)
    persistence_uncertainty: float = pydantic.Field(default=0.5, ge=0.0, le=5.0)
    analyst_bias: float = pydantic.Field(default=_DEFAULT_ANALYST_BIAS, gt=0.0, le=5.0)
    analyst_noise: float = pydantic.Field(default=_DEFAULT_ANALYST_NOISE, gt=0.0, le=5.0)
    elicitations: str | None = None
    transition_concentration: float = pydantic.Field(
        default=_DEFAULT_TRANSITION_CONCENTRATION, gt=0.0, le=1e6
    )
    driver_uncertainty: float = pydantic.Field(default=_DEFAULT_DRIVER_UNCERTAINTY, ge=0.0, le=5.0)

    @pydantic.field_validator("persistence", "elicitation_error", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @pydantic.field_validator("analyst_bias", "analyst_noise", mode="before")
    @classmethod
    def _scale(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("expected a finite number > 0 and <= 5 (a prior scale in logit units)")
        return value

    @pydantic.field_validator("horizon", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        # pydantic alone reads numbers (and numeric strings) as Unix timestamps: 0 is 1970-01-01.
        if isinstance(value, dt.date):  # a date-time too: pydantic then requires midnight
            return value
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
            return value.strip()
        raise ValueError("expected a date such as 2027-12-31")


class _ScenarioSection(_Section):
    id: str
    name: str
    prior: float | str
    description: str = ""
    resolution: str
    residual: pydantic.StrictBool = False


class _IndicatorSection(_Section):
    id: str
    group: str
    type: IndicatorType
    text: str
    basis: str = ""
    levels: list[str] | None = None
    # One of the two is required (checked in the semantic pass, which says so better).
    likelihood: dict[str, Any] | None = None
    elicitations: dict[str, Any] | None = None
    rationale: str | dict[str, str] = ""
    cluster: str | None = None

    @pydantic.field_validator("likelihood", "elicitations", mode="before")
    @classmethod
    def _table(cls, value: Any) -> Any:
        if value is None:  # only a mapping can say None; TOML has no null
            raise ValueError("expected a table")
        return value


class _DriverSection(_Section):
    id: str
    text: str
    description: str = ""
    effect: dict[str, Any]


class _File(_Section):
    model: _ModelSection
    scenarios: list[_ScenarioSection] = pydantic.Field(min_length=1)
    indicators: list[_IndicatorSection] = pydantic.Field(min_length=1)
    tripwires: list[TripwireSection] = pydantic.Field(default_factory=list)
    clusters: dict[str, ClusterSection] = pydantic.Field(default_factory=dict)
    transitions: dict[str, dict[str, Any]] = pydantic.Field(default_factory=dict)
    drivers: list[_DriverSection] = pydantic.Field(default_factory=list)


# --------------------------------------------------------------------------- public objects
@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: a possible future the forecast assigns probability to."""

    id: str
    name: str
    prior: float
    description: str = ""
    resolution: str = ""
    prior_phrase: str | None = None
    #: The model's "none of the above": the scenario set's honest residual (at most one per model).
    residual: bool = False

    def __repr__(self) -> str:
        extra = ", residual" if self.residual else ""
        return f"Scenario({self.id!r}, {self.name!r}, prior={self.prior:.3g}{extra})"


@dataclass(frozen=True, slots=True)
class Driver:
    """An exogenous condition that shifts the odds of moving between scenarios.

    ``effect`` maps scenario id to the elicitation as written (a positive
    number or a phrase of :data:`~syriaforecast.phrases.DRIVER_EFFECTS`): the
    factor by which the driver being on multiplies the odds of moving *into*
    that scenario in one period. Scenarios not listed are unaffected (factor 1).
    """

    id: str
    text: str
    effect: Mapping[str, float | str]
    description: str = ""

    def __repr__(self) -> str:
        return f"Driver({self.id!r}, effect on {', '.join(self.effect)})"

    def factor(self, scenario: str) -> float:
        """The elicited factor on moves into ``scenario`` (1 when not listed)."""
        value = self.effect.get(scenario)
        factor = driver_effect(value) if value is not None else 1.0
        assert factor is not None  # validated at load
        return factor


@dataclass(frozen=True, slots=True)
class Indicator:
    """One signpost: a question coders answer each period, with elicited likelihoods.

    ``likelihood`` maps scenario id to the elicitation as written in the file:
    a probability or ICD 203 phrase (binary), a probability vector over
    ``levels`` (ordinal) or an expected count per period (count).

    ``elicitations`` maps analyst id to that analyst's own ``likelihood``
    table (same value forms, as written) when several analysts elicited the
    indicator; it is empty for a single elicitation. With several analysts
    ``likelihood`` holds their consensus, computed when the model is built
    (the plain average on the logit / log scale), which exact mode and every
    single-valued view of the model use:

    - binary: ``expit(mean_a logit p_a)``, a float, where ``p_a`` is analyst
      ``a``'s point elicitation (a phrase counts as its band's logit midpoint,
      ``band_logit_prior(band)[0]``);
    - ordinal: the analysts' cumulative logits ``logit P(level <= k)``
      averaged level by level and turned back into a probability vector (a
      tuple of floats);
    - count: the geometric mean of the analysts' rates.
    """

    id: str
    group: str
    type: IndicatorType
    text: str
    likelihood: Mapping[str, float | str | tuple[float, ...]]
    levels: tuple[str, ...] = ("0", "1")
    basis: str = ""
    rationale: str | Mapping[str, str] = ""
    elicitations: Mapping[str, Mapping[str, float | str | tuple[float, ...]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: The cluster (one event measured by several indicators) this indicator belongs to, or "".
    cluster: str = ""
    #: Scenarios whose likelihood the file left out (the residual's): ``likelihood`` then holds
    #: the default, centred on the named scenarios (:func:`residual_default`).
    defaulted: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Indicator({self.id!r}, group={self.group!r}, type={self.type!r})"

    @property
    def n_levels(self) -> int:
        """Number of distinct true states (2 for binary; unbounded counts report 0)."""
        return 0 if self.type == "count" else len(self.levels)

    def band(self, scenario: str) -> Band | None:
        """The ICD 203 band of a phrase-elicited binary likelihood, else ``None``."""
        value = self.likelihood[scenario]
        return parse_phrase(value) if isinstance(value, str) else None

    def logit_prior(self, scenario: str) -> tuple[float, float]:
        """Elicited logit-probability of a binary indicator as (mean, sd).

        A number is exact (sd 0); a phrase is a Normal over its band's logits.
        """
        value = self.likelihood[scenario]
        if isinstance(value, str):
            band = parse_phrase(value)
            assert band is not None  # validated at load
            return band_logit_prior(band)
        p = float(value)  # type: ignore[arg-type]
        return math.log(p) - math.log1p(-p), 0.0

    def probability(self, scenario: str) -> float:
        """Point elicitation of a binary indicator (a phrase gives its band's logit midpoint)."""
        mean, _ = self.logit_prior(scenario)
        return 1.0 / (1.0 + math.exp(-mean))


@dataclass(frozen=True, slots=True)
class ScenarioModel:
    """A validated scenario model: scenarios, indicators and the chain's priors.

    Build one with :func:`load_model` or :func:`parse_model`; it is immutable.
    """

    id: str
    title: str
    period: str
    start: str
    horizon: dt.date
    persistence: float
    elicitation_error: float
    scenarios: tuple[Scenario, ...]
    indicators: tuple[Indicator, ...]
    question: str = ""
    source: str = ""
    prior_concentration: float = 10.0
    persistence_uncertainty: float = 0.5
    #: Prior scale (logit units) of each analyst's systematic bias: ``bias ~ Normal(0, analyst_bias)``.
    analyst_bias: float = _DEFAULT_ANALYST_BIAS
    #: Prior scale of each analyst's own elicitation noise: ``noise ~ HalfNormal(analyst_noise)``.
    analyst_noise: float = _DEFAULT_ANALYST_NOISE
    #: Lines declared in advance (``[[tripwires]]``); see :mod:`syriaforecast.spec.tripwires`.
    tripwires: tuple[Tripwire, ...] = ()
    #: Clusters of indicators that measure one event (``cluster`` keys, ``[clusters.<id>]``).
    clusters: tuple[Cluster, ...] = ()
    #: Elicited transition rows: origin scenario id -> {destination id: per-period probability as
    #: written (number or ICD 203 phrase)}; origins not listed use ``persistence``.
    transitions: Mapping[str, Mapping[str, float | str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: Dirichlet concentration of each elicited row in the hierarchical model.
    transition_concentration: float = _DEFAULT_TRANSITION_CONCENTRATION
    drivers: tuple[Driver, ...] = ()
    #: Prior sd of each driver's log effect around its elicitation (hierarchical model).
    driver_uncertainty: float = _DEFAULT_DRIVER_UNCERTAINTY
    path: Path | None = field(default=None, compare=False)
    sha256: str = field(default="", compare=False)

    def __repr__(self) -> str:
        groups = len(self.groups)
        return (
            f"ScenarioModel({self.id!r}: {len(self.scenarios)} scenarios, "
            f"{len(self.indicators)} indicators in {groups} group{'s' * (groups != 1)}, "
            f"{self.period}ly from {self.start}, horizon {self.horizon.isoformat()})"
        )

    @property
    def scenario_ids(self) -> tuple[str, ...]:
        """Scenario ids in file order (the order of every ``scenario`` dimension)."""
        return tuple(s.id for s in self.scenarios)

    @property
    def scenario_names(self) -> tuple[str, ...]:
        """Scenario display names in file order."""
        return tuple(s.name for s in self.scenarios)

    @property
    def indicator_ids(self) -> tuple[str, ...]:
        """Indicator ids in file order."""
        return tuple(i.id for i in self.indicators)

    @property
    def analysts(self) -> tuple[str, ...]:
        """Analysts who gave their own elicitations, in order of first appearance (empty for one)."""
        return tuple(dict.fromkeys(a for i in self.indicators for a in i.elicitations))

    @property
    def driver_ids(self) -> tuple[str, ...]:
        """Driver ids in file order (the order of every ``driver`` dimension)."""
        return tuple(d.id for d in self.drivers)

    @property
    def residual(self) -> str | None:
        """The id of the residual scenario ("none of the above"), or ``None``."""
        return next((s.id for s in self.scenarios if s.residual), None)

    def transition_matrix(self) -> tuple[tuple[float, ...], ...]:
        """The per-period transition matrix as elicited, ``[origin][destination]``.

        A row given in ``[transitions.<origin>]`` moves to each listed scenario with
        its probability (a phrase at its band's logit midpoint) and stays with one
        minus the row's sum; any other row stays with ``persistence`` and spreads
        the rest evenly over the other scenarios.
        """
        ids = self.scenario_ids
        S = len(ids)
        rows = []
        for origin in ids:
            if origin in self.transitions:
                row = [_transition_probability(self.transitions[origin].get(j, 0.0)) for j in ids]
                row[ids.index(origin)] = max(0.0, 1.0 - math.fsum(row))
            else:
                move = (1.0 - self.persistence) / (S - 1) if S > 1 else 0.0
                row = [self.persistence if j == origin else move for j in ids]
            rows.append(tuple(row))
        return tuple(rows)

    @property
    def groups(self) -> tuple[str, ...]:
        """Indicator groups in order of first appearance."""
        return tuple(dict.fromkeys(i.group for i in self.indicators))

    @property
    def prior(self) -> tuple[float, ...]:
        """Prior scenario probabilities, summing to one."""
        return tuple(s.prior for s in self.scenarios)

    def indicator(self, indicator_id: str) -> Indicator:
        """Look up an indicator by id."""
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)

    @property
    def first_period(self) -> pd.Period:
        """The model's first period as a pandas Period."""
        return periods.parse_start(self.start, self.period)

    @property
    def horizon_index(self) -> int:
        """Zero-based index of the period containing the horizon date."""
        return periods.period_index(self.first_period, self.horizon)

    def period_index(self, date: dt.date | pd.Timestamp) -> int:
        """Zero-based index of the period containing ``date``."""
        return periods.period_index(self.first_period, date)

    def period_labels(self, n: int) -> list[str]:
        """Labels of the first ``n`` periods."""
        return periods.period_labels(self.first_period, n)

    def to_dict(self) -> dict[str, Any]:
        """The model as the plain data of its TOML file."""
        model: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.question:
            model["question"] = self.question
        if self.source:
            model["source"] = self.source
        model |= {
            "period": self.period,
            "start": self.start,
            "horizon": self.horizon,
            "persistence": self.persistence,
            "elicitation_error": self.elicitation_error,
            "prior_concentration": self.prior_concentration,
            "persistence_uncertainty": self.persistence_uncertainty,
        }
        # Written when they matter (or were changed), so one-analyst files keep their old TOML.
        if (
            self.analysts
            or self.analyst_bias != _DEFAULT_ANALYST_BIAS
            or self.analyst_noise != _DEFAULT_ANALYST_NOISE
        ):
            model |= {"analyst_bias": self.analyst_bias, "analyst_noise": self.analyst_noise}
        if self.transitions or self.transition_concentration != _DEFAULT_TRANSITION_CONCENTRATION:
            model["transition_concentration"] = self.transition_concentration
        if self.drivers or self.driver_uncertainty != _DEFAULT_DRIVER_UNCERTAINTY:
            model["driver_uncertainty"] = self.driver_uncertainty
        scenarios = []
        for s in self.scenarios:
            entry: dict[str, Any] = {"id": s.id, "name": s.name}
            entry["prior"] = s.prior_phrase if s.prior_phrase is not None else s.prior
            entry |= {"description": s.description, "resolution": s.resolution}
            if s.residual:
                entry["residual"] = True
            scenarios.append(entry)
        indicators = []
        for ind in self.indicators:
            entry = {"id": ind.id, "group": ind.group, "type": ind.type, "text": ind.text}
            if ind.basis:
                entry["basis"] = ind.basis
            if ind.type == "ordinal":
                entry["levels"] = list(ind.levels)
            if ind.elicitations:  # the consensus in ``likelihood`` is derived from these
                entry["elicitations"] = {
                    analyst: _table_dict(table) for analyst, table in ind.elicitations.items()
                }
            else:
                written = {k: v for k, v in ind.likelihood.items() if k not in ind.defaulted}
                entry["likelihood"] = _table_dict(written)
            if ind.rationale:
                entry["rationale"] = (
                    dict(ind.rationale) if isinstance(ind.rationale, Mapping) else ind.rationale
                )
            if ind.cluster:
                entry["cluster"] = ind.cluster
            indicators.append(entry)
        data: dict[str, Any] = {"model": model, "scenarios": scenarios, "indicators": indicators}
        if self.transitions:
            data["transitions"] = {origin: dict(row) for origin, row in self.transitions.items()}
        if self.drivers:
            data["drivers"] = [
                {"id": d.id, "text": d.text}
                | ({"description": d.description} if d.description else {})
                | {"effect": dict(d.effect)}
                for d in self.drivers
            ]
        if self.tripwires:
            types = {i.id: i.type for i in self.indicators}
            data["tripwires"] = [w.to_dict(types.get(w.indicator or "", "")) for w in self.tripwires]
        if self.clusters:
            data["clusters"] = {c.id: c.to_dict() for c in self.clusters}
        return data

    def to_toml(self) -> str:
        """The model as TOML text that :func:`parse_model` reads back to an equal model."""
        return tomli_w.dumps(self.to_dict())


def _transition_probability(value: float | str) -> float:
    """A transition-row entry as a probability (a phrase at its band's logit midpoint)."""
    if isinstance(value, str):
        band = parse_phrase(value)
        assert band is not None  # validated at load
        return band.midpoint
    return float(value)


def _table_dict(table: Mapping[str, Any]) -> dict[str, Any]:
    """A likelihood table as plain TOML data (ordinal vectors as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in table.items()}


# --------------------------------------------------------------------------- loading
def load_model(path: str | Path) -> ScenarioModel:
    """Load and validate a scenario model file.

    Parameters
    ----------
    path : str or Path
        A TOML model file (format: docs/model-format.md).

    Returns
    -------
    ScenarioModel

    Raises
    ------
    ModelFileError
        Listing every problem found, each with file, line/key, field, value and what is allowed.
    """
    from syriaforecast._files import read_bounded

    path = Path(path)
    # Regular files only, at most SYRIAFORECAST_MAX_MODEL_BYTES (see syriaforecast._files).
    raw = read_bounded(path, "model", lambda problem: ModelFileError([problem]))
    return parse_model(raw, source=str(path), path=path)


def parse_model(
    content: bytes | str | Mapping[str, Any],
    *,
    source: str = "<string>",
    path: Path | None = None,
) -> ScenarioModel:
    """Validate a model given as TOML bytes/text or as an already-parsed mapping.

    Parameters
    ----------
    content : bytes, str or Mapping
        TOML text (bytes must be UTF-8) or the parsed data.
    source : str
        Name used in error messages (a file name, or ``"<string>"``).
    path : Path, optional
        Where the model came from, recorded on the result.

    Returns
    -------
    ScenarioModel
    """
    text = ""
    if isinstance(content, Mapping):
        data: Any = content
        digest = ""  # set below from the validated model: the raw mapping may not be TOML-able
    else:
        raw = content.encode() if isinstance(content, str) else bytes(content)
        digest = hashlib.sha256(raw).hexdigest()
        text = _decode(raw, source)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            where = _toml_error_location(exc, text)
            raise ModelFileError(
                [Problem(source, where, "TOML syntax", _toml_error_line(where, text), str(exc))]
            ) from None
        except RecursionError:
            raise ModelFileError(
                [
                    Problem(
                        source,
                        "",
                        "TOML syntax",
                        "(deeply nested arrays or tables)",
                        "arrays and inline tables nested at most a few hundred levels deep",
                    )
                ]
            ) from None
    locator = _Locator(text)
    data, origins, csv_raw, problems = _merge_elicitations_csv(data, source, locator, path)
    if digest and csv_raw is not None:  # the model is both files: the digest covers both
        digest = hashlib.sha256(raw + csv_raw).hexdigest()
    problems += _structural_problems(data, source, locator)
    problems += _semantic_problems(data, source, locator, origins)
    if problems:
        raise ModelFileError(_dedupe(problems), file=source)
    model = _build(data, path=path, digest=digest)
    if model.clusters:
        import warnings

        from syriaforecast.errors import ClusterWarning

        for message in cluster_warnings(
            model.clusters, lambda i, s: model.indicator(i).probability(s), model.scenario_ids, source
        ):
            warnings.warn(message, ClusterWarning, stacklevel=2)
    if not digest:
        canonical = model.to_toml().encode()
        model = dataclasses.replace(model, sha256=hashlib.sha256(canonical).hexdigest())
    return model


def save_model(model: ScenarioModel, path: str | Path) -> Path:
    """Write a model as TOML, atomically (a crash never leaves a half-written file)."""
    from syriaforecast._io import atomic_write_bytes

    return atomic_write_bytes(Path(path), model.to_toml().encode())


def _decode(raw: bytes, source: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ModelFileError([Problem(source, "line 1", "encoding", "UTF-16", "save the file as UTF-8")])
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 4]
        raise ModelFileError(
            [Problem(source, f"line {line}", "encoding", repr(bad), "save the file as UTF-8")]
        ) from None


def _toml_error_location(exc: tomllib.TOMLDecodeError, text: str = "") -> str:
    lineno = getattr(exc, "lineno", None)
    if lineno is None:
        found = re.search(r"line (\d+)", str(exc))
        if found:
            return f"line {found.group(1)}"
        if "end of document" in str(exc):
            return f"line {max(len(text.splitlines()), 1)}"
        return ""
    return f"line {lineno}"


def _toml_error_line(where: str, text: str) -> str:
    """Return the text of the line a TOML syntax error points at (the problem's value)."""
    found = re.fullmatch(r"line (\d+)", where)
    lines = text.splitlines()
    if not found or not 1 <= int(found.group(1)) <= len(lines):
        return ""
    return _show(lines[int(found.group(1)) - 1])


class _Locator:
    """Find the line of a TOML key path in the file text (best effort, for messages)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: dict[str, list[int]] = {}
        for number, line in enumerate(self.lines, start=1):
            header = re.match(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]", line)
            if header:
                self.headers.setdefault(header.group(1), []).append(number)
        # Precomputed so that locating each of thousands of problems stays cheap.
        self.all_headers = sorted(n for rows in self.headers.values() for n in rows)
        self.model_line = next(
            (n for n, line in enumerate(self.lines, 1) if re.match(r"^\s*\[model\]", line)), None
        )

    def line(self, loc: tuple[Any, ...]) -> int | None:
        if not self.lines or not loc:
            return None
        start, stop = 1, len(self.lines)
        keys = list(loc)
        if len(keys) == 1 and keys[0] in self.headers:
            return self.headers[keys[0]][0]
        if len(keys) >= 2 and isinstance(keys[1], int) and keys[0] in self.headers:
            blocks = self.headers[keys[0]]
            if keys[1] >= len(blocks):
                return None
            start = blocks[keys[1]]
            after = bisect.bisect_right(self.all_headers, start)
            following = self.all_headers[after] if after < len(self.all_headers) else len(self.lines) + 1
            stop = following - 1
            keys = keys[2:]
            if not keys:
                return start
        elif keys[0] == "model":
            if self.model_line is not None:
                start = self.model_line
            keys = keys[1:]
            if not keys:
                return start
        # Narrow down key by key ("likelihood", then "calm"): each is a "key =" line or a
        # "[...key]" / "[...key.sub]" sub-table header (so "elicitations", then "alice", both
        # find "[indicators.elicitations.alice]"); a key not found leaves the line where it was.
        # Once a key is found, the next is looked for after that line, or on it only further
        # along the same header: in "[transitions.calm]" + "calm = 0.1" the key "calm" is the
        # second line, not the header that already matched the table's own "calm".
        line = start
        part = None  # the position in the current line's header of the last key found there
        for key in map(str, keys):
            k = re.escape(key)
            pattern = re.compile(
                rf"^\s*(?:(\"?){k}\1\s*=|\[\s*(?:[^\[\]]*\.\s*)?\"?{k}\"?\s*(?:\.[^\[\]]*)?\])"
            )
            for number in range(line, stop + 1):
                text = self.lines[number - 1]
                if number == line and part is not None:
                    later = _header_parts(text)[part + 1 :]
                    if key in later:
                        part += 1 + later.index(key)
                        break
                    continue
                if pattern.match(text):
                    line = number
                    parts = _header_parts(text)
                    part = parts.index(key) if key in parts else -1
                    break
        return line

    def where(self, loc: tuple[Any, ...], data: Any) -> str:
        path = ""
        for part in loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        label = _label(loc, data)
        line = self.line(loc)
        return ", ".join(x for x in (f"line {line}" if line else "", path + label) if x)


def _header_parts(line: str) -> list[str]:
    """The dotted keys of a ``[a.b."c"]`` table header line (none for any other line)."""
    match = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]", line)
    if not match:
        return []
    return [part.strip().strip('"') for part in match.group(1).split(".")]


def _label(loc: tuple[Any, ...], data: Any) -> str:
    """Name the scenario or indicator by its id, since an index alone is hard to find."""
    if len(loc) >= 2 and loc[0] in ("scenarios", "indicators", "tripwires", "drivers") and isinstance(
        loc[1], int
    ):
        try:
            ident = data[loc[0]][loc[1]]["id"]
        except (KeyError, IndexError, TypeError):
            return ""
        return f' (id "{ident}")' if isinstance(ident, str) else ""
    return ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, slots=True)
class _CsvOrigin:
    """Where an indicator's elicitations came from in the elicitations CSV."""

    file: str
    first: int  # line of the indicator's first row
    lines: dict[str, int]  # scenario id -> line of its row


_CSV_COLUMNS = ("indicator", "scenario")


def _merge_elicitations_csv(
    data: Any, source: str, locator: _Locator, path: Path | None
) -> tuple[Any, dict[int, _CsvOrigin], bytes | None, list[Problem]]:
    """Read ``[model] elicitations = "file.csv"`` and merge its tables into the indicators.

    Returns the merged data, where each merged indicator's cells came from, the
    CSV bytes (``None`` when there is no CSV) and the problems of the CSV itself.
    """
    model = data.get("model") if isinstance(data, Mapping) else None
    name = model.get("elicitations") if isinstance(model, Mapping) else None
    if not isinstance(name, str):
        return data, {}, None, []  # absent, or a wrong type pydantic reports
    problems: list[Problem] = []
    csv_path = ((path.parent if path is not None else Path.cwd()) / name) if name.strip() else None
    file = str(csv_path) if csv_path is not None else name
    loc = locator.where(("model", "elicitations"), data)

    def problem(where: str, field_name: str, value: Any, allowed: str) -> None:
        problems.append(Problem(file, where, field_name, _show(value), allowed))

    from syriaforecast._files import FileRefusedError, read_bounded

    try:
        if csv_path is None or not os.path.lexists(csv_path):
            raise FileNotFoundError
        csv_raw = read_bounded(csv_path, "elicitations", FileRefusedError)
    except (FileNotFoundError, ValueError, FileRefusedError) as exc:  # ValueError: a NUL byte in the name
        refused = exc.problem if isinstance(exc, FileRefusedError) else None
        reason = (
            "no such file"
            if refused is None
            else refused.allowed
            if refused.field == "file"
            else f"{refused.field} {refused.value}: not {refused.allowed}"
        )
        allowed = "the name of a readable CSV file next to the model file (relative to its folder)"
        problems.append(Problem(source, loc, "elicitations", _show(name), f"{reason}; {allowed}"))
        return data, {}, None, problems
    try:
        text = csv_raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = csv_raw[: exc.start].count(b"\n") + 1
        problem(f"line {line}", "encoding", csv_raw[exc.start : exc.start + 4], "save the file as UTF-8")
        return data, {}, csv_raw, problems
    if "\x00" in text:
        problem(
            f"line {text[: text.index(chr(0))].count(chr(10)) + 1}", "encoding", "NUL byte", "a text CSV file"
        )
        return data, {}, csv_raw, problems
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        problem(f"line {reader.line_num}", "CSV syntax", str(exc), "a well-formed CSV file (RFC 4180)")
        return data, {}, csv_raw, problems
    if not rows:
        problem("line 1", "header", "(empty file)", "a header indicator,scenario,<analyst>,...")
        return data, {}, csv_raw, problems
    header_line, header = rows[0]
    columns = [c.strip() for c in header]
    if [c.lower() for c in columns[:2]] != list(_CSV_COLUMNS) or len(columns) < 3:
        problem(
            f"line {header_line}",
            "header",
            ",".join(header),
            "the columns indicator,scenario then one column per analyst (at least one), named by analyst id",
        )
        return data, {}, csv_raw, problems
    analysts: list[tuple[int, str]] = []
    for j, analyst in enumerate(columns[2:], start=2):
        if not _ID.match(analyst):
            problem(f"line {header_line}", f"column {j + 1}", analyst, f"an analyst id: {_ID_ALLOWED}")
        elif analyst in (a for _, a in analysts):
            problem(f"line {header_line}", f"column {j + 1}", analyst, "analyst columns must be unique")
        else:
            analysts.append((j, analyst))
    indicators = data.get("indicators") if isinstance(data, Mapping) else None
    index: dict[str, int] = {}
    if isinstance(indicators, list):
        for k, ind in enumerate(indicators):
            if isinstance(ind, Mapping) and isinstance(ind.get("id"), str):
                index.setdefault(ind["id"], k)
    kinds = {k: ind.get("type") for k, ind in enumerate(indicators or []) if isinstance(ind, Mapping)}
    tables: dict[int, dict[str, dict[str, Any]]] = {}
    origins: dict[int, _CsvOrigin] = {}
    for line, row in rows[1:]:
        where = f"line {line}"
        if len(row) != len(header):
            problem(where, "row", ",".join(row), f"{len(header)} fields, as in the header")
            continue
        ident, sid = row[0].strip(), row[1].strip()
        if ident not in index:
            known = ", ".join(list(index)[:20]) + (", ..." if len(index) > 20 else "")
            problem(where, "indicator", ident, f"an indicator id of the model file ({known})")
            continue
        k = index[ident]
        ind = indicators[k]  # type: ignore[index]
        if k not in origins:
            if "likelihood" in ind or "elicitations" in ind:
                given = "likelihood" if "likelihood" in ind else "elicitations"
                problem(
                    where,
                    "indicator",
                    ident,
                    f"elicitations of an indicator that has {given} in the model file; "
                    "give each indicator's elicitations in one place",
                )
                index.pop(ident)
                continue
            origins[k] = _CsvOrigin(file, line, {})
            tables[k] = {}
        if sid in origins[k].lines:
            problem(
                where,
                "scenario",
                sid,
                f"one row per (indicator, scenario); {sid} is on line {origins[k].lines[sid]} too",
            )
            continue
        origins[k].lines[sid] = line
        for j, analyst in analysts:
            cell = row[j].strip()
            if cell:
                tables[k].setdefault(analyst, {})[sid] = _csv_cell(cell, kinds.get(k))
    if not tables:
        return data, origins, csv_raw, problems
    merged = dict(data)
    merged["indicators"] = [
        {**ind, "elicitations": tables[k]} if tables.get(k) else ind
        for k, ind in enumerate(indicators)  # type: ignore[arg-type]
    ]
    return merged, origins, csv_raw, problems


def _csv_cell(cell: str, kind: Any) -> Any:
    """A CSV cell as the TOML value it stands for (what cannot be read stays text)."""

    def number(text: str) -> float | str:
        try:
            return float(text)
        except ValueError:
            return text

    if kind == "ordinal":
        parts = [number(part.strip()) for part in cell.split(";")]
        return parts if all(isinstance(p, float) for p in parts) else cell
    return number(cell)


def _structural_problems(data: Any, source: str, locator: _Locator) -> list[Problem]:
    try:
        _File.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            # pydantic reports the alternatives of a union separately; the semantic pass
            # explains priors and likelihood cells better, so skip those here.
            loc = tuple(
                p
                for k, p in enumerate(loc)
                if not (k and loc[k - 1] in ("prior", "rationale") and p in _UNION_TAGS)
            )
            field_name = ".".join(str(p) for p in loc[-1:]) or "(file)"
            allowed = error["msg"]
            if error["type"] == "extra_forbidden":
                allowed = "unknown key (see docs/model-format.md for the keys allowed here)"
            elif error["type"] == "missing":
                allowed = "required key is missing"
            value = "(missing)" if error["type"] == "missing" else _show(error.get("input"))
            # ... but a missing prior is reported here (the semantic pass cannot tell it from null).
            if len(loc) >= 3 and loc[0] == "scenarios" and loc[2] == "prior" and error["type"] != "missing":
                continue
            problems.append(Problem(source, locator.where(loc, data), field_name, value, allowed))
        return problems
    return []


def _semantic_problems(
    data: Any, source: str, locator: _Locator, origins: Mapping[int, _CsvOrigin] | None = None
) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple[Any, ...], field_name: str, value: Any, allowed: str) -> None:
        origin = (origins or {}).get(loc[1]) if len(loc) >= 4 and loc[0] == "indicators" else None
        if origin is not None and loc[2] == "elicitations":  # a cell of the elicitations CSV
            line = origin.lines.get(loc[4], origin.first) if len(loc) >= 5 else origin.first
            where = f"line {line}, " + re.sub(r"^line \d+, ", "", locator.where(loc, data))
            problems.append(Problem(origin.file, where, field_name, _show(value), allowed))
            return
        problems.append(Problem(source, locator.where(loc, data), field_name, _show(value), allowed))

    if not isinstance(data, Mapping):
        return problems
    model = data.get("model")
    if isinstance(model, Mapping):
        ident = model.get("id")
        if isinstance(ident, str) and not _ID.match(ident):
            add(("model", "id"), "id", ident, _ID_ALLOWED)
        period = model.get("period", "month")
        start = model.get("start")
        if isinstance(period, str) and period in periods.FREQUENCIES and isinstance(start, str):
            try:
                first = periods.parse_start(start, period)
            except periods.NoSuchWeekError as exc:  # spelt right, but the year has 52 ISO weeks
                add(("model", "start"), "start", start, str(exc))
            except ValueError:
                add(("model", "start"), "start", start, f"a {period} written as {periods.start_form(period)}")
            else:
                horizon = model.get("horizon")
                if isinstance(horizon, dt.datetime):  # pydantic reports a non-midnight time
                    horizon = horizon.date()
                if isinstance(horizon, str):
                    try:
                        horizon = dt.date.fromisoformat(horizon.strip())
                    except ValueError:
                        horizon = None
                if isinstance(horizon, dt.date) and horizon < first.start_time.date():
                    add(
                        ("model", "horizon"),
                        "horizon",
                        horizon.isoformat(),
                        f"a date on or after the first period's start ({first.start_time.date()})",
                    )
                elif isinstance(horizon, dt.date) and periods.period_index(first, horizon) > 5000:
                    add(
                        ("model", "horizon"),
                        "horizon",
                        horizon.isoformat(),
                        "at most 5000 periods after start",
                    )

    scenario_ids: list[str] = []
    residual: str | None = None
    scenarios = data.get("scenarios")
    if isinstance(scenarios, list):
        priors: list[float | None] = []
        kinds: set[str] = set()
        for k, scenario in enumerate(scenarios):
            if not isinstance(scenario, Mapping):
                continue
            ident = scenario.get("id")
            if isinstance(ident, str):
                if not _ID.match(ident):
                    add(("scenarios", k, "id"), "id", ident, _ID_ALLOWED)
                elif ident in scenario_ids:
                    add(("scenarios", k, "id"), "id", ident, "scenario ids must be unique")
                scenario_ids.append(ident)
                if scenario.get("residual") is True:
                    if residual is not None:
                        add(
                            ("scenarios", k, "residual"),
                            "residual",
                            True,
                            f"at most one residual scenario ({residual!r} is already the residual)",
                        )
                    else:
                        residual = ident
            prior = scenario.get("prior")
            if isinstance(prior, bool) or prior is None:
                if "prior" in scenario:  # a bool, or None from a mapping (a missing key is structural)
                    add(("scenarios", k, "prior"), "prior", prior, "a probability or an ICD 203 phrase")
                priors.append(None)
            elif isinstance(prior, int | float):
                kinds.add("number")
                if not (math.isfinite(prior) and 0 < prior < 1) and not (prior == 1 and len(scenarios) == 1):
                    add(("scenarios", k, "prior"), "prior", prior, "a probability strictly between 0 and 1")
                    priors.append(None)
                else:
                    priors.append(float(prior))
            elif isinstance(prior, str):
                kinds.add("phrase")
                band = parse_phrase(prior)
                if band is None:
                    add(
                        ("scenarios", k, "prior"),
                        "prior",
                        prior,
                        f"a probability or one of the ICD 203 phrases {allowed_phrases()}",
                    )
                    priors.append(None)
                else:
                    priors.append(band.midpoint)
            else:
                add(("scenarios", k, "prior"), "prior", prior, "a probability or an ICD 203 phrase")
                priors.append(None)
        if len(kinds) > 1:
            add(
                ("scenarios",),
                "prior",
                "numbers and phrases mixed",
                "give every scenario's prior as a number, or every one as an ICD 203 phrase",
            )
        elif kinds == {"number"} and all(p is not None for p in priors) and priors:
            total = sum(p for p in priors if p is not None)
            if abs(total - 1.0) > 1e-6:
                add(("scenarios",), "prior", f"sum {total:.6g}", "scenario priors must sum to 1")
        elif kinds == {"phrase"} and all(p is not None for p in priors) and priors:
            bands = [parse_phrase(str(s.get("prior"))) for s in scenarios if isinstance(s, Mapping)]
            low = sum(b.low for b in bands if b is not None)
            high = sum(b.high for b in bands if b is not None)
            if not low <= 1.0 <= high:
                add(
                    ("scenarios",),
                    "prior",
                    f"bands summing to {low:.2f}..{high:.2f}",
                    "phrases whose bands can sum to 1 (the sum of lower ends <= 1 <= sum of upper ends)",
                )

    indicators = data.get("indicators")
    if isinstance(indicators, list):
        if len(indicators) > _MAX_INDICATORS:
            add(("indicators",), "indicators", len(indicators), f"at most {_MAX_INDICATORS} indicators")
            return problems
        seen: set[str] = set()
        for k, indicator in enumerate(indicators):
            if not isinstance(indicator, Mapping):
                continue
            ident = indicator.get("id")
            if isinstance(ident, str):
                if not _ID.match(ident):
                    add(("indicators", k, "id"), "id", ident, _ID_ALLOWED)
                elif ident in seen:
                    add(("indicators", k, "id"), "id", ident, "indicator ids must be unique")
                seen.add(ident)
            problems.extend(_indicator_problems(indicator, k, scenario_ids, add, residual))
    if residual is not None and len(scenario_ids) < 2:
        add(("scenarios",), "residual", residual, "a residual scenario beside at least one named scenario")
    _transition_problems(data, scenario_ids, add)
    _driver_problems(data, scenario_ids, add)
    tripwire_problems(data, add)
    cluster_problems(data, add)
    return problems


def _transition_problems(data: Mapping[str, Any], scenario_ids: list[str], add: Any) -> None:
    """Check ``[transitions.<origin>]`` rows: known scenarios, probabilities, sums at most 1."""
    transitions = data.get("transitions")
    if not isinstance(transitions, Mapping) or not scenario_ids:
        return
    known = ", ".join(dict.fromkeys(scenario_ids))
    for origin, row in transitions.items():
        loc = ("transitions", origin)
        if origin not in scenario_ids:
            add(loc, f"transitions.{origin}", origin, f"an origin scenario id ({known})")
            continue
        if not isinstance(row, Mapping):
            continue  # pydantic reports a row that is not a table
        total = 0.0
        ok = True
        for destination, value in row.items():
            cell = (*loc, destination)
            name = f"transitions.{origin}.{destination}"
            if destination == origin:
                add(
                    cell,
                    name,
                    value,
                    "moves to other scenarios only: the stay probability is one minus the row's sum",
                )
                ok = False
                continue
            if destination not in scenario_ids:
                add(cell, name, value, f"unknown scenario; scenarios are {known}")
                ok = False
                continue
            if isinstance(value, str):
                band = parse_phrase(value)
                if band is None:
                    allowed = f"a probability in [0, 1] or one of the ICD 203 phrases {allowed_phrases()}"
                    add(cell, name, value, allowed)
                    ok = False
                else:
                    total += band.midpoint
            elif isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and 0.0 <= value <= 1.0
            ):
                add(cell, name, value, "a per-period probability in [0, 1] (0: the move never happens)")
                ok = False
            else:
                total += float(value)
        # Checked even beside other problems in the row: more moves only raise the sum, so the
        # valid entries' sum above 1 is a problem whatever the others become.
        if total > 1.0 + 1e-9:
            add(
                loc,
                f"transitions.{origin}",
                f"sum {total:.6g}" if ok else f"sum {total:.6g} (of its valid entries)",
                "a row's move probabilities summing to at most 1 (the stay probability is one minus the sum)",
            )


def _driver_problems(data: Mapping[str, Any], scenario_ids: list[str], add: Any) -> None:
    """Check ``[[drivers]]``: ids unique and apart from indicator ids, effects known and positive."""
    drivers = data.get("drivers")
    if not isinstance(drivers, list):
        return
    indicators = data.get("indicators")
    indicator_ids = {
        i.get("id") for i in indicators if isinstance(i, Mapping)
    } if isinstance(indicators, list) else set()
    known = ", ".join(dict.fromkeys(scenario_ids))
    phrases = ", ".join(f'"{p}"' for p in DRIVER_EFFECTS)
    seen: set[str] = set()
    for k, driver in enumerate(drivers):
        if not isinstance(driver, Mapping):
            continue
        ident = driver.get("id")
        if isinstance(ident, str):
            if not _ID.match(ident):
                add(("drivers", k, "id"), "id", ident, _ID_ALLOWED)
            elif ident in seen:
                add(("drivers", k, "id"), "id", ident, "driver ids must be unique")
            elif ident in indicator_ids:
                add(
                    ("drivers", k, "id"),
                    "id",
                    ident,
                    "a driver id that is not also an indicator id (the evidence log names both in its "
                    "indicator column)",
                )
            seen.add(ident)
        effect = driver.get("effect")
        if not isinstance(effect, Mapping):
            continue
        for sid, value in effect.items():
            cell = ("drivers", k, "effect", sid)
            if scenario_ids and sid not in scenario_ids:
                add(cell, f"effect.{sid}", sid, f"unknown scenario; scenarios are {known}")
                continue
            if isinstance(value, str):
                if driver_effect(value) is None:
                    add(cell, f"effect.{sid}", value, f"a factor > 0 or one of the phrases {phrases}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and 1.0 / _MAX_EFFECT <= value <= _MAX_EFFECT
            ):
                add(
                    cell,
                    f"effect.{sid}",
                    value,
                    f"a factor on the odds of moving into the scenario, between {1 / _MAX_EFFECT:g} and "
                    f"{_MAX_EFFECT:g} (1: no effect), or one of the phrases {phrases}",
                )


def _indicator_problems(
    indicator: Mapping[str, Any], k: int, scenario_ids: list[str], add: Any, residual: str | None = None
) -> list[Problem]:
    kind = indicator.get("type")
    levels = indicator.get("levels")
    if kind == "ordinal":
        if not isinstance(levels, list) or len(levels) < 2 or not all(isinstance(v, str) for v in levels):
            add(("indicators", k, "levels"), "levels", levels, "a list of at least 2 level names")
            levels = None
        elif (
            len({v.strip().lower() for v in levels}) != len(levels)
            or any(not v.strip() or v != v.strip() for v in levels)
        ):
            # The evidence reads a level ignoring case (and its cells' spaces): "low" and "LOW"
            # would be one reading of two levels.
            add(
                ("indicators", k, "levels"),
                "levels",
                levels,
                "distinct, non-empty level names without surrounding spaces (compared ignoring case, as "
                "the evidence reads them)",
            )
            levels = None
    elif levels is not None:
        add(
            ("indicators", k, "levels"),
            "levels",
            levels,
            f"only ordinal indicators take levels (type is {kind!r})",
        )
    known = ", ".join(dict.fromkeys(scenario_ids))  # a duplicated id listed once
    likelihood = indicator.get("likelihood")
    if isinstance(likelihood, Mapping):
        cell_loc = ("indicators", k, "likelihood")
        _table_problems(likelihood, cell_loc, kind, levels, scenario_ids, add, residual)
    elicitations = indicator.get("elicitations")
    either = "either a likelihood table (one elicitation) or an elicitations table with one table per analyst"
    if "likelihood" in indicator and "elicitations" in indicator:
        add(
            ("indicators", k, "elicitations"),
            "elicitations",
            "likelihood and elicitations both given",
            f"{either}, not both",
        )
    elif "likelihood" not in indicator and "elicitations" not in indicator:
        add(("indicators", k), "likelihood", "(missing)", either)
    if isinstance(elicitations, Mapping):
        if not elicitations:
            add(
                ("indicators", k, "elicitations"),
                "elicitations",
                elicitations,
                "at least one analyst's table (or a likelihood table instead)",
            )
        for analyst, table in elicitations.items():
            loc = ("indicators", k, "elicitations", analyst)
            if not isinstance(analyst, str) or not _ID.match(analyst):
                add(loc, f"elicitations.{analyst}", analyst, f"an analyst id: {_ID_ALLOWED}")
            if not isinstance(table, Mapping):
                add(
                    loc,
                    f"elicitations.{analyst}",
                    table,
                    f"a table of this analyst's likelihoods, one per scenario ({known})",
                )
                continue
            _table_problems(table, loc, kind, levels, scenario_ids, add, residual)
        tables = [t for t in elicitations.values() if isinstance(t, Mapping)]
        if residual is not None and len({residual in t for t in tables}) > 1:
            add(
                ("indicators", k, "elicitations"),
                f"elicitations.*.{residual}",
                "given by some analysts only",
                "the residual scenario's likelihood in every analyst's table, or in none (then defaulted)",
            )
    rationale = indicator.get("rationale")
    if isinstance(rationale, Mapping) and scenario_ids:
        for sid in rationale:
            if sid not in scenario_ids:
                add(
                    ("indicators", k, "rationale", sid),
                    f"rationale.{sid}",
                    sid,
                    f"unknown scenario; scenarios are {known}",
                )
    return []


def _table_problems(
    table: Mapping[str, Any],
    loc: tuple[Any, ...],
    kind: Any,
    levels: list[str] | None,
    scenario_ids: list[str],
    add: Any,
    residual: str | None = None,
) -> None:
    """Check one likelihood table (the indicator's, or one analyst's) at key path ``loc``.

    The residual scenario's entry may be left out (it is then defaulted).
    """
    prefix = ".".join(str(p) for p in loc[2:])  # likelihood, or elicitations.<analyst>
    known = ", ".join(dict.fromkeys(scenario_ids))
    whose = "" if loc[-1] == "likelihood" else f" from analyst {loc[-1]}"
    for sid in scenario_ids:
        if sid not in table and sid != residual:
            add(loc, f"{prefix}.{sid}", "(missing)", f"a likelihood{whose} for every scenario ({known})")
    for sid, value in table.items():
        cell = (*loc, sid)
        if scenario_ids and sid not in scenario_ids:
            add(cell, f"{prefix}.{sid}", value, f"unknown scenario; scenarios are {known}")
            continue
        message = _cell_problem(kind, value, levels)
        if message:
            add(cell, f"{prefix}.{sid}", value, message)


def _cell_problem(kind: Any, value: Any, levels: list[str] | None) -> str | None:
    """Why one likelihood cell is not acceptable for the indicator type, or ``None``."""
    if kind == "binary":
        if isinstance(value, str):
            if parse_phrase(value) is None:
                return f"a probability in (0, 1) or one of the ICD 203 phrases {allowed_phrases()}"
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "a probability in (0, 1) or an ICD 203 phrase"
        if not (math.isfinite(value) and _PROB_FLOOR <= value <= 1 - _PROB_FLOOR):
            return (
                f"a probability strictly between 0 and 1 (within [{_PROB_FLOOR:g}, 1 - {_PROB_FLOOR:g}]): "
                "0 or 1 would make a single report decisive forever"
            )
        return None
    if kind == "ordinal":
        if not isinstance(value, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return "a list of probabilities, one per level"
        if levels is not None and len(value) != len(levels):
            return f"{len(levels)} probabilities, one per level {levels}"
        if not all(math.isfinite(v) and v >= _PROB_FLOOR for v in value):
            return f"probabilities of at least {_PROB_FLOOR:g} (no level may be impossible)"
        if abs(sum(value) - 1.0) > 1e-6:
            return f"probabilities summing to 1 (they sum to {sum(value):.6g})"
        return None
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "an expected count per period, a number > 0"
        if not (math.isfinite(value) and 1e-6 <= value <= 1e4):
            return "an expected count per period between 1e-6 and 1e4"
        return None
    return None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _build(data: Mapping[str, Any], *, path: Path | None, digest: str) -> ScenarioModel:
    parsed = _File.model_validate(data)
    m = parsed.model
    if all(isinstance(s.prior, str) for s in parsed.scenarios):
        mids = [parse_phrase(str(s.prior)).midpoint for s in parsed.scenarios]  # type: ignore[union-attr]
        priors = [x / sum(mids) for x in mids]
        phrases: list[str | None] = [str(s.prior) for s in parsed.scenarios]
    else:
        priors = [float(s.prior) for s in parsed.scenarios]
        phrases = [None] * len(priors)
    scenarios = tuple(
        Scenario(s.id, s.name, p, s.description, s.resolution, phrase, s.residual)
        for s, p, phrase in zip(parsed.scenarios, priors, phrases, strict=True)
    )
    all_ids = [s.id for s in scenarios]
    residual = next((s.id for s in scenarios if s.residual), None)
    indicators = []
    for ind in parsed.indicators:
        tables = list((ind.elicitations or {}).values()) or [ind.likelihood or {}]
        defaulted = residual is not None and residual not in tables[0]
        scenario_ids = [sid for sid in all_ids if sid != residual] if defaulted else all_ids
        elicitations = {
            analyst: MappingProxyType(_cells(table, scenario_ids))
            for analyst, table in (ind.elicitations or {}).items()
        }
        if elicitations:
            likelihood = elicitation_consensus(ind.type, list(elicitations.values()), scenario_ids)
        else:
            assert ind.likelihood is not None  # validated: one of the two is given
            likelihood = _cells(ind.likelihood, scenario_ids)
        if defaulted:
            assert residual is not None
            likelihood = {
                sid: likelihood[sid] if sid != residual else residual_default(ind.type, likelihood)
                for sid in all_ids
            }
        # An empty rationale table is no rationale (to_dict omits it, so it round-trips as "").
        rationale: str | Mapping[str, str] = (
            MappingProxyType(dict(ind.rationale)) if isinstance(ind.rationale, dict) else ind.rationale
        ) or ""
        levels = tuple(ind.levels) if ind.type == "ordinal" and ind.levels else ("0", "1")
        indicators.append(
            Indicator(
                id=ind.id,
                group=ind.group,
                type=ind.type,
                text=ind.text,
                likelihood=MappingProxyType(likelihood),
                levels=levels if ind.type != "count" else (),
                basis=ind.basis,
                rationale=rationale,
                elicitations=MappingProxyType(elicitations),
                cluster=ind.cluster or "",
                defaulted=(residual,) if defaulted and residual is not None else (),
            )
        )
    transitions = {
        origin: MappingProxyType(
            {
                sid: (value if isinstance(value, str) else float(value))
                for sid in all_ids
                if (value := row.get(sid)) is not None
            }
        )
        for origin in all_ids
        if (row := parsed.transitions.get(origin)) is not None
    }
    drivers = tuple(
        Driver(
            d.id,
            d.text,
            MappingProxyType(
                {
                    sid: (value if isinstance(value, str) else float(value))
                    for sid in all_ids
                    if (value := d.effect.get(sid)) is not None
                }
            ),
            d.description,
        )
        for d in parsed.drivers
    )
    return ScenarioModel(
        id=m.id,
        title=m.title,
        period=m.period,
        start=m.start,
        horizon=m.horizon,
        persistence=m.persistence,
        elicitation_error=m.elicitation_error,
        scenarios=scenarios,
        indicators=tuple(indicators),
        question=m.question,
        source=m.source,
        prior_concentration=m.prior_concentration,
        persistence_uncertainty=m.persistence_uncertainty,
        analyst_bias=m.analyst_bias,
        analyst_noise=m.analyst_noise,
        clusters=build_clusters([(i.id, i.cluster) for i in parsed.indicators], parsed.clusters),
        tripwires=build_tripwires(
            parsed.tripwires, {i.id: {"type": i.type, "levels": i.levels} for i in parsed.indicators}
        ),
        transitions=MappingProxyType(transitions),
        transition_concentration=m.transition_concentration,
        drivers=drivers,
        driver_uncertainty=m.driver_uncertainty,
        path=path,
        sha256=digest,
    )


def _cells(table: Mapping[str, Any], scenario_ids: list[str]) -> dict[str, float | str | tuple[float, ...]]:
    """A validated likelihood table in scenario order: vectors as tuples, numbers as floats."""
    cells: dict[str, float | str | tuple[float, ...]] = {}
    for sid in scenario_ids:
        value = table[sid]
        if isinstance(value, list | tuple):
            cells[sid] = tuple(float(v) for v in value)
        elif isinstance(value, str):
            cells[sid] = value
        else:
            cells[sid] = float(value)
    return cells


def residual_default(
    indicator_type: str, likelihood: Mapping[str, Any]
) -> float | tuple[float, ...]:
    """The residual scenario's likelihood when the file leaves it out: the named scenarios' midrange.

    "None of the above" is some other world, not an average one: its best single
    guess is the centre of the span the named scenarios map out, on the engine's
    scale, so that every named scenario's signature (and a mix of them) is equally
    plausible under it. The plain average would instead copy the majority (three
    scenarios with "low" on an indicator and one "high" would make the residual
    "low" too), leaving it unable to explain a world that shows one scenario's
    signature on some indicators and another's on the rest. Precisely:

    - binary: ``expit((min + max) / 2)`` of the named scenarios' logits (a phrase at its band's
      logit midpoint);
    - ordinal: each cumulative logit ``logit P(level <= k)`` at the midrange over scenarios;
    - count: the geometric midrange ``sqrt(min rate * max rate)``.

    The engine puts a wide error around this centre (``RESIDUAL_SPREAD`` in
    :mod:`syriaforecast.engine.data`, at least half the named span), so the
    hierarchical model may learn that the residual looks like none of them.
    """
    values = list(likelihood.values())
    if indicator_type == "binary":
        logits = [elicited_logit(v) for v in values]
        return stable_expit((min(logits) + max(logits)) / 2)
    if indicator_type == "ordinal":
        n_levels = len(values[0])
        mids = []
        for j in range(n_levels - 1):
            cuts = [logit(min(max(math.fsum(v[: j + 1]), 1e-16), 1.0 - 1e-16)) for v in values]
            mids.append((min(cuts) + max(cuts)) / 2)
        cumulative = [0.0, *(stable_expit(x) for x in mids), 1.0]
        return tuple(b - a for a, b in itertools.pairwise(cumulative))
    rates = [float(v) for v in values]
    return math.sqrt(min(rates) * max(rates))


def elicitation_consensus(
    indicator_type: str, tables: Sequence[Mapping[str, Any]], scenario_ids: Sequence[str]
) -> dict[str, float | str | tuple[float, ...]]:
    """Several analysts' consensus likelihood, as the loader computes ``Indicator.likelihood``.

    Parameters
    ----------
    indicator_type : {"binary", "ordinal", "count"}
        The indicator's type.
    tables : sequence of mappings
        One table per analyst (at least one), scenario id -> value in a model
        file's forms (already validated): a probability or ICD 203 phrase, a
        level-probability vector, or an expected count.
    scenario_ids : sequence of str
        The scenarios; every table must cover them.

    Returns
    -------
    dict
        Scenario id -> consensus, in ``scenario_ids`` order: binary
        ``expit(mean logit)`` (a phrase at its band's logit midpoint); ordinal
        the average cumulative logits as a tuple of level probabilities; count
        the geometric mean rate. Use this (rather than a re-implementation) to
        build models that must equal their ``parse_model(model.to_toml())``.
    """
    n = len(tables)
    consensus: dict[str, float | str | tuple[float, ...]] = {}
    for sid in scenario_ids:
        values = [table[sid] for table in tables]
        if indicator_type == "binary":
            consensus[sid] = stable_expit(math.fsum(elicited_logit(value) for value in values) / n)
        elif indicator_type == "ordinal":
            n_levels = len(values[0])
            # logit P(level <= j) for j below the top level, averaged over analysts.
            mean_logits = [
                math.fsum(logit(min(math.fsum(v[: j + 1]), 1.0 - 1e-16)) for v in values) / n
                for j in range(n_levels - 1)
            ]
            cumulative = [0.0, *(stable_expit(x) for x in mean_logits), 1.0]
            consensus[sid] = tuple(b - a for a, b in itertools.pairwise(cumulative))
        else:
            consensus[sid] = math.exp(math.fsum(math.log(float(v)) for v in values) / n)
    return consensus
