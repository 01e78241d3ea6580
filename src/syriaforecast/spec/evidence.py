"""Evidence logs: coded reports (CSV or DataFrame), checked against their model.

One row is one coded report: on ``date``, a source said ``indicator`` took
``value``. ``reliability`` (Admiralty A-F) grades the source, ``credibility``
(1-6) the information; a report with both blank is read at face value. A binary
0 means "looked for and not seen"; a period with no row for an indicator is
"not assessed" and carries no evidence.

``date`` places a row in the period it describes; ``published`` (default: the
same day) says when it became known, and decides whether it is part of the
information set at an as-of date (:meth:`Evidence.up_to`). Rows that share a
``report`` id are one source's reading of several cells; ``url`` and ``coder``
are kept for the record.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from syriaforecast.errors import EvidenceError, Problem
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "ALL_COLUMNS",
    "COLUMNS",
    "PROVENANCE_COLUMNS",
    "Evidence",
    "append_evidence",
    "load_evidence",
    "save_evidence",
]

#: The evidence log's classic columns, in the order they are written.
COLUMNS: tuple[str, ...] = ("date", "indicator", "value", "reliability", "credibility", "source", "note")
#: Optional columns of issue #16 (publication date, report id, address, coder); written after
#: the classic columns, and only when some row fills them.
PROVENANCE_COLUMNS: tuple[str, ...] = ("published", "report", "url", "coder")
#: Every column an evidence log may have.
ALL_COLUMNS: tuple[str, ...] = COLUMNS + PROVENANCE_COLUMNS
_TEXT_FIELDS = ("source", "note", "report", "coder", "url")
_REQUIRED = ("date", "indicator", "value")
RELIABILITY_GRADES = "ABCDEF"
CREDIBILITY_GRADES = "123456"
_MAX_ROWS = 2_000_000
_MAX_COUNT = 1_000_000
_MAX_TEXT = 10_000
#: Indicator ids compared (in all) when suggesting a fix for an unknown indicator.
_HINT_BUDGET = 20_000
# ASCII only: str.isdigit() and date.fromisoformat() also take "²", "１２" or "2025-W01-1".
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True, slots=True, eq=False)
class Evidence:
    """Validated coded reports for one model; immutable.

    The table (see :meth:`to_dataframe`) has the user's columns plus ``line``
    (where the row came from), ``period`` (zero-based period index) and
    ``state`` (the value as a code: 0/1, a level index or a count).
    ``published`` is always filled (a blank cell reads as ``date``); ``report``,
    ``url`` and ``coder`` are ``""`` when blank.
    """

    model_id: str
    _table: pd.DataFrame = field(repr=False)
    source: str = "<dataframe>"
    sha256: str = ""
    raw: bytes = field(default=b"", repr=False)
    # Values derived from the table, computed once (the table never changes): "table_sha256"
    # (the rows' digest, which is ``sha256`` unless read from a file), "csv_text", "last_published".
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: The digest of the model the rows were validated against (its ``sha256``; "" unknown): its
    #: periods, levels and counts are in the table's ``period`` and ``state`` columns.
    model_sha256: str = field(default="", compare=False)

    def __repr__(self) -> str:
        table = self.to_dataframe()
        n = len(table)
        n_drivers = len(self._table) - n
        drivers = f"; {n_drivers} driver row{'s' * (n_drivers != 1)}" if n_drivers else ""
        if n == 0:
            return f"Evidence(model {self.model_id!r}: no reports{drivers})"
        dates = table["date"]
        n_ind = table["indicator"].nunique()
        n_per = table["period"].nunique()
        return (
            f"Evidence(model {self.model_id!r}: {n} report{'s' * (n != 1)} of "
            f"{n_ind} indicator{'s' * (n_ind != 1)}, {dates.min().isoformat()}.."
            f"{dates.max().isoformat()}, {n_per} period{'s' * (n_per != 1)}{drivers})"
        )

    def __len__(self) -> int:
        return len(self._table)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return self.model_id == other.model_id and self._table.equals(other._table)

    __hash__ = None  # type: ignore[assignment]

    def to_dataframe(self) -> pd.DataFrame:
        """A copy of the validated indicator reports (driver rows are in :attr:`drivers`)."""
        if "driver" not in self._table or not self._table["driver"].any():
            return self._table.drop(columns="driver", errors="ignore").copy()
        kept = self._table[~self._table["driver"]].reset_index(drop=True)
        return kept.drop(columns="driver")

    def _reports(self) -> pd.DataFrame:
        """The indicator reports without copying them, for code that only reads (the engine)."""
        if "driver" not in self._table or not self._table["driver"].any():
            return self._table
        return self._table[~self._table["driver"]].reset_index(drop=True)

    @property
    def n_reports(self) -> int:
        """Indicator reports in the log; ``len(evidence)`` counts its driver rows too."""
        if "driver" not in self._table:
            return len(self._table)
        return int((~self._table["driver"]).sum())

    @property
    def drivers(self) -> pd.DataFrame:
        """The logged driver values: ``date``, ``period``, ``indicator`` (the driver id), ``state`` (0/1)."""
        if "driver" not in self._table:
            return self._table.iloc[:0].copy()
        rows = self._table[self._table["driver"]].reset_index(drop=True)
        return rows.drop(columns="driver")

    @property
    def last_date(self) -> dt.date | None:
        """Date of the latest report (the period it describes), or ``None`` when there are none."""
        return None if self._table.empty else self._table["date"].max()

    @property
    def last_published(self) -> dt.date | None:
        """Publication date of the latest-published report, or ``None`` when there are none.

        This is the earliest as-of date at which every report is known.
        """
        if "last_published" not in self._derived:  # the table never changes
            # Python's max over the dates (every row has one): what Series.max returns, without its
            # object-column reduction (2,400 rows: 0.18 -> 0.10 ms CPU, measured 2026-12-01, load 2.8).
            self._derived["last_published"] = (
                None if self._table.empty else max(self._table["published"].tolist())
            )
        return self._derived["last_published"]

    def up_to(self, as_of: dt.date | str) -> Evidence:
        """Only the reports known at ``as_of``: published on or before it (the information set then).

        ``published`` is never earlier than ``date``, so every kept report also
        describes a period that has begun by ``as_of``. A report about an early
        period published after ``as_of`` is left out, which keeps a backtest at
        that cutoff free of hindsight.
        """
        cutoff = _as_date(as_of)
        last = self.last_published
        if (last is None or cutoff >= last) and self._table.index.equals(pd.RangeIndex(len(self._table))):
            if not self.raw:  # sha256 is already this table's digest: the result equals self
                return self
            # Nothing to drop from a file's reports: the same rows, carrying their digest (computed
            # once) instead of the file's, and sharing what was derived from them.
            digest = self._table_sha256()
            return Evidence(
                self.model_id, self._table, self.source, digest, b"", self._derived, self.model_sha256
            )
        kept = self._table[self._table["published"] <= cutoff].reset_index(drop=True)
        digest = _hash_table(kept)
        return Evidence(self.model_id, kept, self.source, digest, b"", model_sha256=self.model_sha256)

    def _table_sha256(self) -> str:
        """The digest of the rows (``sha256`` itself unless the evidence was read from a file)."""
        if not self.raw:
            return self.sha256
        if "table_sha256" not in self._derived:
            self._derived["table_sha256"] = _hash_table(self._table)
        return self._derived["table_sha256"]

    def late(self, as_of: dt.date | str) -> pd.DataFrame:
        """Reports known at ``as_of`` that were published after the day they describe.

        Returns the rows of :meth:`to_dataframe` whose ``published`` date is
        later than their ``date``, with ``days_late`` (``published - date``, in days).
        """
        table = self.up_to(as_of)._table
        late = table[table["published"] > table["date"]].copy()
        late["days_late"] = [(p - d).days for p, d in zip(late["published"], late["date"], strict=True)]
        return late.reset_index(drop=True)

    def append(self, rows: pd.DataFrame | Iterable[Mapping[str, Any]], model: ScenarioModel) -> Evidence:
        """New evidence with ``rows`` validated and added after the existing reports.

        Existing reports are neither reordered nor changed.
        """
        new = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if new.empty and len(new.index) == 0:  # nothing to add (a loop's empty batch): the same evidence
            return self
        # Number new rows after the last existing line, so no two reports share a number.
        first = int(self._table["line"].max()) + 1 if len(self._table) else (2 if self.raw else 1)
        added = _from_dataframe(new, model, source="<appended rows>", first_row=first)
        combined = pd.concat([self._table, added._table], ignore_index=True)
        problems = _conflicts(combined, model, "<appended rows>")
        if problems:
            raise EvidenceError(problems)
        return Evidence(
            self.model_id, combined, self.source, _hash_table(combined), b"", model_sha256=self.model_sha256
        )

    def for_model(self, model: ScenarioModel) -> Evidence:
        """The same rows validated against ``model``: its periods, levels, counts and indicators.

        Returns ``self`` when they were validated against this very model (the same
        digest). Otherwise the rows are read again, from the file's own bytes when
        the evidence came from a file (so problems name its lines), else from
        :meth:`to_csv_text`, and every problem with the new model is raised at once.

        Raises
        ------
        EvidenceError
            When some row does not fit ``model``.
        """
        if self.model_sha256 and self.model_sha256 == model.sha256:
            return self
        if self.raw:
            return _from_bytes(self.raw, self.source, model)
        rows, problems = _read_csv(self.to_csv_text(), self.source)
        if problems:
            raise EvidenceError(problems)
        return _validate_rows(rows, model, self.source)

    def to_csv_text(self) -> str:
        """The reports as evidence-log CSV text (the user's columns only).

        The optional ``published``, ``report``, ``url`` and ``coder`` columns are
        written when some report fills them, so a log without them reads as before.
        """
        if "csv_text" not in self._derived:  # computed once: the table never changes
            self._derived["csv_text"] = _csv_text(self._table, _written_columns(self._table))
        return self._derived["csv_text"]


def _csv_text(table: pd.DataFrame, columns: Iterable[str], newline: str = "\n") -> str:
    """Format reports as CSV text with a header of ``columns``, in that order."""
    columns = list(columns)
    dates = table["date"].tolist()
    text: dict[str, list[str]] = {
        "date": [d.isoformat() for d in dates],
        # A publication date equal to the event date is the default: written blank.
        "published": [
            "" if p == d else p.isoformat() for p, d in zip(table["published"].tolist(), dates, strict=True)
        ],
        "credibility": [str(c) if c else "" for c in table["credibility"].tolist()],
    }
    return _write_csv([text[c] if c in text else _as_text(table[c]) for c in columns], columns, newline)


def _as_text(column: pd.Series) -> list[str]:
    return [str(v) for v in column.tolist()]


def _write_csv(columns: list[list[str]], header: list[str], newline: str = "\n") -> str:
    """CSV text of text columns: the bytes ``DataFrame.to_csv(index=False)`` writes for them.

    pandas writes through the same ``csv`` module writer (minimal quoting, doubled
    quotes); formatting each column once in Python skips its per-cell conversions.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue()


def _written_columns(table: pd.DataFrame) -> tuple[str, ...]:
    """The columns a table is written with: the classic seven, plus any provenance column in use."""
    used = tuple(c for c in PROVENANCE_COLUMNS if _filled(table, c).any())
    return COLUMNS + used


def _filled(table: pd.DataFrame, column: str) -> pd.Series:
    if column == "published":
        published, dates = table["published"].to_numpy(dtype=object), table["date"].to_numpy(dtype=object)
        return pd.Series(published != dates, index=table.index, dtype=bool)
    if column == "credibility":
        return table[column] != 0
    return table[column] != ""


def load_evidence(
    source: str | Path | pd.DataFrame, model: ScenarioModel, *, as_of: dt.date | str | None = None
) -> Evidence:
    """Load and validate an evidence log against its model.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV file with columns ``date, indicator, value`` and optionally
        ``reliability, credibility, source, note, published, report, url,
        coder``; or a DataFrame with them.
    model : ScenarioModel
        The model the reports are coded against.
    as_of : date or str, optional
        Keep only reports published on or before this date.

    Returns
    -------
    Evidence

    Raises
    ------
    EvidenceError
        Listing every problem found, each with file, line, field, value and what is allowed.
    """
    if isinstance(source, pd.DataFrame):
        evidence = _from_dataframe(source, model, source="<dataframe>", first_row=1)
    else:
        evidence = _from_file(Path(source), model)
    return evidence.up_to(as_of) if as_of is not None else evidence


def save_evidence(evidence: Evidence, path: str | Path) -> Path:
    """Write evidence as CSV atomically; a file loaded from disk is rewritten byte for byte."""
    from syriaforecast._io import atomic_write_bytes

    data = evidence.raw if evidence.raw else evidence.to_csv_text().encode()
    return atomic_write_bytes(Path(path), data)


def append_evidence(
    path: str | Path, rows: pd.DataFrame | Iterable[Mapping[str, Any]], model: ScenarioModel
) -> Evidence:
    """Validate ``rows`` and append them to the CSV at ``path``, atomically.

    The existing bytes of the file are kept exactly as they were (no rewrite, no
    reordering); the new rows are added at the end. Nothing is written unless the
    whole file, old rows and new, validates.
    """
    from syriaforecast._io import atomic_write_bytes

    path = Path(path)
    name = str(path)
    existing = _from_file(path, model)
    combined = existing.append(rows, model)
    tail = combined.to_dataframe().iloc[len(existing) :]
    raw = existing.raw
    # The new rows follow the file's own header (its columns, order and line ending).
    header_row = next(csv.reader(io.StringIO(_decode(raw, name), newline="")))
    header = [h.strip().lower() for h in header_row]
    filled = {column: _filled(tail, column) for column in ALL_COLUMNS[3:]}
    lost = [c for c, used in filled.items() if c not in header and used.any()]
    if lost:
        raise EvidenceError(
            [
                Problem(
                    name,
                    "line 1",
                    "header",
                    ", ".join(lost),
                    "a column for every field the appended rows fill: add "
                    f"{', '.join(lost)} to the file's header first",
                )
            ]
        )
    end = raw.find(b"\n")
    newline = "\r\n" if end > 0 and raw[end - 1 : end] == b"\r" else "\n"
    lines = _csv_text(tail, header, newline).split(newline, 1)[1]
    if raw and not raw.endswith(b"\n"):
        raw += newline.encode()
    data = raw + lines.encode()
    # Validate exactly the bytes about to be written: nothing is written unless they load.
    evidence = _from_bytes(data, name, model)
    atomic_write_bytes(path, data)
    return evidence


# --------------------------------------------------------------------------- reading
def _as_date(value: dt.date | str | pd.Timestamp) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise EvidenceError([Problem("<as_of>", "", "as_of", repr(text), "an ISO date YYYY-MM-DD")]) from None


def _from_file(path: Path, model: ScenarioModel) -> Evidence:
    from syriaforecast._files import read_bounded

    name = str(path)
    # Regular files only, at most SYRIAFORECAST_MAX_EVIDENCE_BYTES (see syriaforecast._files).
    return _from_bytes(read_bounded(path, "evidence", lambda problem: EvidenceError([problem])), name, model)


def _from_bytes(raw: bytes, name: str, model: ScenarioModel) -> Evidence:
    """A file's bytes (named ``name`` in problems) validated against ``model``."""
    rows, problems = _read_csv(_decode(raw, name), name)
    if problems:
        raise EvidenceError(problems)
    evidence = _validate_rows(rows, model, name)
    # sha256 is the file's; the rows' digest, just computed, is kept for up_to (a forecast's evidence).
    derived = {"table_sha256": evidence.sha256}
    return Evidence(
        model.id, evidence._table, name, hashlib.sha256(raw).hexdigest(), raw, derived, model.sha256
    )


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 3 and raw[1:2] == b"\x00"):
        raise EvidenceError([Problem(name, "line 1", "encoding", "UTF-16", "save the file as UTF-8 CSV")])
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise EvidenceError([Problem(name, f"line {line}", "encoding", "NUL byte", "a UTF-8 text file")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        bad = raw[exc.start : exc.start + 4]
        raise EvidenceError(
            [
                Problem(
                    name,
                    f"line {line}",
                    "encoding",
                    repr(bad),
                    "UTF-8 text (this looks like Latin-1 or Windows-1252: re-save as UTF-8)",
                )
            ]
        ) from None


def _read_csv(text: str, name: str) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows as (line number, {column: text}), with header and shape problems."""
    problems: list[Problem] = []
    if not text.strip():
        return [], [Problem(name, "line 1", "header", "(empty file)", f"a header row: {','.join(COLUMNS)}")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        return [], [Problem(name, "line 1", "header", "", f"CSV syntax error: {exc}")]
    header = [h.strip().lower() for h in header]
    if len(header) == 1 and any(d in header[0] for d in (";", "\t", "|")):
        delimiter = next(d for d in (";", "\t", "|") if d in header[0])
        return [], [
            Problem(
                name,
                "line 1",
                "delimiter",
                repr(delimiter),
                "comma-separated columns (re-export the sheet as CSV with ',')",
            )
        ]
    unknown = [h for h in header if h not in ALL_COLUMNS]
    missing = [c for c in _REQUIRED if c not in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if unknown:
        problems.append(
            Problem(
                name,
                "line 1",
                "header",
                ", ".join(repr(u) for u in unknown),
                f"columns from {', '.join(ALL_COLUMNS)}",
            )
        )
    if missing:
        problems.append(
            Problem(
                name,
                "line 1",
                "header",
                "(missing) " + ", ".join(missing),
                f"the required columns {', '.join(_REQUIRED)}",
            )
        )
    if duplicated:
        problems.append(Problem(name, "line 1", "header", ", ".join(duplicated), "each column once"))
    if problems:
        return [], problems
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(rows) >= _MAX_ROWS:
                problems.append(
                    Problem(name, f"line {start}", "rows", f">{_MAX_ROWS}", f"at most {_MAX_ROWS} reports")
                )
                break
            if len(record) != len(header):
                problems.append(
                    Problem(
                        name,
                        f"line {start}",
                        "row",
                        f"{len(record)} fields",
                        f"{len(header)} fields like the header (quote text containing commas)",
                    )
                )
                continue
            rows.append((start, dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        problems.append(Problem(name, f"line {reader.line_num}", "row", "", f"CSV syntax error: {exc}"))
    return rows, problems


def _from_dataframe(frame: pd.DataFrame, model: ScenarioModel, *, source: str, first_row: int) -> Evidence:
    columns = [str(c).strip().lower() for c in frame.columns]
    problems = []
    unknown = [c for c in columns if c not in ALL_COLUMNS]
    missing = [c for c in _REQUIRED if c not in columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if unknown:
        problems.append(
            Problem(
                source,
                "columns",
                "columns",
                ", ".join(map(repr, unknown)),
                f"columns from {', '.join(ALL_COLUMNS)}",
            )
        )
    if missing:
        problems.append(
            Problem(
                source,
                "columns",
                "columns",
                "(missing) " + ", ".join(missing),
                f"the required columns {', '.join(_REQUIRED)}",
            )
        )
    if duplicated:
        problems.append(Problem(source, "columns", "columns", ", ".join(duplicated), "each column once"))
    if problems:
        raise EvidenceError(problems)
    frame = frame.set_axis(columns, axis=1)
    rows = []
    for k, record in enumerate(frame.to_dict(orient="records")):
        rows.append((first_row + k, {c: _cell_text(v) for c, v in record.items()}))
    evidence = _validate_rows(rows, model, source, row_word="row")
    return Evidence(model.id, evidence._table, source, evidence.sha256, b"", model_sha256=model.sha256)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _validate_rows(
    rows: list[tuple[int, dict[str, str]]], model: ScenarioModel, name: str, *, row_word: str = "line"
) -> Evidence:
    problems: list[Problem] = []
    first = model.first_period
    span_start = first.start_time.date()
    span_end = model.horizon
    indicators = {i.id: i for i in model.indicators}
    drivers = set(getattr(model, "driver_ids", ()))
    hints: dict[str, str] = {}
    by_case = {i.lower(): i for i in reversed(list(indicators))}
    hint_budget = _HINT_BUDGET
    records = []
    for line, row in rows:
        where = f"{row_word} {line}"
        ok = True
        date_text = row.get("date", "").strip()
        date: dt.date | None = None
        try:
            if not _ISO_DATE.fullmatch(date_text):
                raise ValueError
            date = dt.date.fromisoformat(date_text)
        except ValueError:
            problems.append(Problem(name, where, "date", repr(date_text), "an ISO date YYYY-MM-DD"))
            ok = False
            date = None
        if date is not None and not span_start <= date <= span_end:
            problems.append(
                Problem(
                    name,
                    where,
                    "date",
                    date_text,
                    f"a date within the model's span {span_start} .. {span_end}",
                )
            )
            ok = False
        ident = row.get("indicator", "").strip()
        indicator: Any = indicators.get(ident)
        is_driver = ident in drivers
        if is_driver:
            indicator = _DRIVER
            if row.get("reliability", "").strip() or row.get("credibility", "").strip():
                problems.append(
                    Problem(
                        name,
                        where,
                        "reliability" if row.get("reliability", "").strip() else "credibility",
                        repr(row.get("reliability", "").strip() or row.get("credibility", "").strip()),
                        f"blank: driver {ident!r} is taken as exact (no Admiralty grades)",
                    )
                )
                ok = False
        elif indicator is None:
            if ident not in hints:
                close = [by_case[ident.lower()]] if ident.lower() in by_case else []
                # difflib costs up to ~10 us per id compared: a fixed budget keeps a log
                # full of unknown ids fast against a model with thousands of indicators.
                if not close and len(ident) <= 64 and hint_budget >= len(indicators):
                    hint_budget -= len(indicators)
                    close = difflib.get_close_matches(ident, list(indicators), n=1)
                hints[ident] = f" (did you mean {close[0]!r}?)" if close else ""
            hint = hints[ident]
            what = "an indicator or driver id" if drivers else "an indicator id"
            allowed = f"{what} of model {model.id!r}{hint}"
            problems.append(Problem(name, where, "indicator", repr(ident), allowed))
            ok = False
        value_text = row.get("value", "").strip()
        state = None
        if indicator is not None:
            state, message = _parse_value(value_text, indicator)
            if message:
                problems.append(Problem(name, where, "value", repr(value_text), message))
                ok = False
        reliability = row.get("reliability", "").strip().upper()
        if reliability and (len(reliability) != 1 or reliability not in RELIABILITY_GRADES):
            problems.append(
                Problem(
                    name,
                    where,
                    "reliability",
                    repr(row.get("reliability")),
                    "an Admiralty source grade A-F, or blank",
                )
            )
            ok = False
        credibility = row.get("credibility", "").strip()
        if credibility and (len(credibility) != 1 or credibility not in CREDIBILITY_GRADES):
            problems.append(
                Problem(
                    name,
                    where,
                    "credibility",
                    repr(row.get("credibility")),
                    "an Admiralty information grade 1-6, or blank",
                )
            )
            ok = False
        published: dt.date | None = date
        published_text = row.get("published", "").strip()
        if published_text:
            try:
                if not _ISO_DATE.fullmatch(published_text):
                    raise ValueError
                published = dt.date.fromisoformat(published_text)
            except ValueError:
                problems.append(
                    Problem(
                        name, where, "published", repr(published_text), "an ISO date YYYY-MM-DD, or blank"
                    )
                )
                ok = False
                published = None
            if published is not None and date is not None and published < date:
                problems.append(
                    Problem(
                        name,
                        where,
                        "published",
                        published_text,
                        f"a date on or after the row's date {date_text} (a report cannot be "
                        "published before the day it describes), or blank for the same day",
                    )
                )
                ok = False
        url = row.get("url", "").strip()
        if url and not _valid_url(url):
            problems.append(
                Problem(
                    name,
                    where,
                    "url",
                    repr(url[:200]),
                    "an http:// or https:// address with a host and no spaces, or blank",
                )
            )
            ok = False
        for text_field in _TEXT_FIELDS:
            if len(row.get(text_field, "")) > _MAX_TEXT:
                problems.append(
                    Problem(
                        name,
                        where,
                        text_field,
                        f"{len(row[text_field])} characters",
                        f"at most {_MAX_TEXT} characters",
                    )
                )
                ok = False
            elif "\x00" in row.get(text_field, ""):  # a CSV file with a NUL byte does not load
                problems.append(Problem(name, where, text_field, "NUL character", "text without NUL"))
                ok = False
        if ok and date is not None and indicator is not None and state is not None:
            records.append(
                {
                    "line": line,
                    "date": date,
                    "period": model.period_index(date),
                    "indicator": ident,
                    "value": value_text,
                    "state": state,
                    "reliability": reliability,
                    "credibility": int(credibility) if credibility else 0,
                    "source": row.get("source", ""),
                    "note": row.get("note", ""),
                    "published": published,
                    "report": row.get("report", "").strip(),
                    "url": url,
                    "coder": row.get("coder", "").strip(),
                    "driver": is_driver,
                }
            )
    table = _table(records)
    problems += _conflicts(table, model, name, row_word=row_word)
    if problems:
        raise EvidenceError(problems, file=name)
    return Evidence(model.id, table, name, _hash_table(table), b"", model_sha256=model.sha256)


def _table(records: list[dict[str, Any]]) -> pd.DataFrame:
    columns = [
        "line",
        "date",
        "period",
        "indicator",
        "value",
        "state",
        "reliability",
        "credibility",
        "source",
        "note",
        "published",
        "report",
        "url",
        "coder",
        "driver",
    ]
    table = pd.DataFrame.from_records(records, columns=columns)
    table["driver"] = table["driver"].astype(bool)
    for col in ("line", "period", "state", "credibility"):
        table[col] = table[col].astype(np.int64)
    for col in ("indicator", "value", "reliability", "source", "note", "report", "url", "coder"):
        table[col] = table[col].astype(object)
    table["date"] = table["date"].astype(object)
    table["published"] = table["published"].astype(object)
    return table


def _valid_url(text: str) -> bool:
    """Light check: http(s) scheme, a host, no whitespace (the address is kept, never fetched)."""
    if any(ch.isspace() for ch in text) or len(text) > _MAX_TEXT:
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


class _DriverValue:
    """Stands in for an indicator when a row logs a driver: values 0 (off) or 1 (on)."""

    type = "driver"


_DRIVER = _DriverValue()


def _parse_value(text: str, indicator: Any) -> tuple[int | None, str | None]:
    if indicator.type == "driver":
        if text in ("0", "1"):
            return int(text), None
        return None, "0 (off) or 1 (on) for a driver (it keeps this value until a new row changes it)"
    if indicator.type == "binary":
        if text in ("0", "1"):
            return int(text), None
        return None, f"0 (looked for, not seen) or 1 (seen) for binary indicator {indicator.id!r}"
    if indicator.type == "ordinal":
        if text in indicator.levels:
            return indicator.levels.index(text), None
        lowered = [lv.lower() for lv in indicator.levels]
        if text.lower() in lowered:
            return lowered.index(text.lower()), None
        return None, f"one of the levels {list(indicator.levels)} of ordinal indicator {indicator.id!r}"
    if _WHOLE_NUMBER.fullmatch(text) and int(text) <= _MAX_COUNT:
        return int(text), None
    return None, f"a whole number 0..{_MAX_COUNT} for count indicator {indicator.id!r}"


def _conflicts(
    table: pd.DataFrame, model: ScenarioModel, name: str, *, row_word: str = "line"
) -> list[Problem]:
    """Ungraded reports are read as exact; two exact readings of one cell that disagree cannot both hold."""
    if table.empty:
        return []
    exact = table[(table["reliability"] == "") & (table["credibility"] == 0) & ~table["driver"]]
    problems = []
    for (period, ident), group in exact.groupby(["period", "indicator"], sort=False):
        if group["state"].nunique() > 1:
            lines = ", ".join(f"{row_word} {n}" for n in group["line"])
            label = model.period_labels(int(period) + 1)[-1]
            problems.append(
                Problem(
                    name,
                    lines,
                    "value",
                    ", ".join(map(repr, group["value"])),
                    f"ungraded reports are taken at face value, so reports of {ident!r} in "
                    f"{label} cannot disagree: grade them (reliability/credibility)",
                )
            )
    problems += _report_conflicts(table, name, row_word)
    return problems


def _report_conflicts(table: pd.DataFrame, name: str, row_word: str) -> list[Problem]:
    """Rows of one report are one source's reading: they carry one grade."""
    problems = []
    named = table[table["report"] != ""]
    for report, group in named.groupby("report", sort=False):
        grades = {(r, c) for r, c in zip(group["reliability"], group["credibility"], strict=True)}
        if len(grades) > 1:
            lines = ", ".join(f"{row_word} {n}" for n in group["line"])
            shown = ", ".join(sorted(f"{r}{c if c else ''}" or "ungraded" for r, c in grades))
            problems.append(
                Problem(
                    name,
                    lines,
                    "report",
                    repr(report),
                    f"one grade for all rows of a report (they are one source's reading); found {shown}: "
                    "give the rows the same reliability and credibility, or different report ids",
                )
            )
    return problems


def _hash_table(table: pd.DataFrame) -> str:
    columns = ["date", "indicator", "value", "reliability", "credibility", "source", "note"]
    # The provenance columns enter the digest only when used, so a log without them
    # keeps the digest it had before they existed.
    columns += [c for c in PROVENANCE_COLUMNS if c in table and _filled(table, c).any()]
    # The bytes of table[columns].to_csv(index=False) (tested equal), the digest's definition.
    return hashlib.sha256(_write_csv([_as_text(table[c]) for c in columns], columns).encode()).hexdigest()
