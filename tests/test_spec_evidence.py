"""Tests for syriaforecast.spec.evidence: evidence logs (CSV or DataFrame) against the tiny model.

Broken logs are built here from a header and rows, so the line a problem must
name is known independently of the loader: the header is line 1 and row ``k``
(0-based) is line ``k + 2``.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from syriaforecast.errors import EvidenceError, SyriaforecastError
from syriaforecast.spec.evidence import (
    COLUMNS,
    append_evidence,
    load_evidence,
    save_evidence,
)
from syriaforecast.spec.model import ScenarioModel, load_model

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "broken"
HEADER = ",".join(COLUMNS)
GOOD = "2025-01-06,talks,1,,,,"  # a valid row, to surround the broken one


@pytest.fixture
def model(tiny_model_path: Path) -> ScenarioModel:
    return load_model(tiny_model_path)


def write(tmp_path: Path, content: str | bytes, name: str = "evidence.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@dataclass(frozen=True)
class Case:
    """A broken evidence log and the problem it must produce."""

    id: str
    content: str | bytes
    field: str  # Problem.field, exactly
    value: str  # a substring of Problem.value
    line: int | None  # the line Problem.location must start with
    allowed: str  # a substring of Problem.allowed


def log(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def _case(id, content, field, value, line, allowed):
    return Case(id, content, field, value, line, allowed)


EVIDENCE_CASES = [
    # --- indicators and values
    _case("unknown-indicator-did-you-mean", log(GOOD, "2025-01-07,talk,1,,,,"),
          "indicator", "'talk'", 3, "(did you mean 'talks'?)"),
    _case("unknown-indicator-no-close-match", log("2025-01-07,zzzzzz,1,,,,"),
          "indicator", "'zzzzzz'", 2, "an indicator id of model 'tiny'"),
    _case("ordinal-level-unknown", log("2025-02-03,tension,severe,,,,"),
          "value", "'severe'", 2, "one of the levels ['low', 'medium', 'high']"),
    _case("ordinal-level-as-index", log("2025-02-03,tension,1,,,,"),
          "value", "'1'", 2, "one of the levels"),
    _case("count-not-whole", log(GOOD, GOOD, "2025-02-10,incidents,2.5,,,,"),
          "value", "'2.5'", 4, "a whole number 0..1000000"),
    _case("count-negative", log("2025-02-10,incidents,-1,,,,"),
          "value", "'-1'", 2, "a whole number 0..1000000"),
    _case("count-too-large", log("2025-02-10,incidents,1000001,,,,"),
          "value", "'1000001'", 2, "a whole number 0..1000000"),
    _case("count-thousands-separator", log('2025-02-10,incidents,"1,000",,,,'),
          "value", "'1,000'", 2, "a whole number"),
    _case("count-superscript-digit", log("2025-02-10,incidents,²,,,,"),
          "value", "'²'", 2, "a whole number"),
    _case("count-fullwidth-digits", log("2025-02-10,incidents,１２,,,,"),
          "value", "'１２'", 2, "a whole number"),
    _case("count-five-thousand-digits", log("2025-02-10,incidents," + "9" * 5000 + ",,,,"),
          "value", "99999", 2, "a whole number"),
    _case("binary-value-2", log("2025-01-06,talks,2,,,,"),
          "value", "'2'", 2, "0 (looked for, not seen) or 1 (seen)"),
    _case("binary-value-yes", log("2025-01-06,talks,yes,,,,"),
          "value", "'yes'", 2, "0 (looked for, not seen) or 1 (seen)"),
    _case("binary-value-blank", log("2025-01-06,talks,,,,,"),
          "value", "''", 2, "0 (looked for, not seen) or 1 (seen)"),
    # --- dates
    _case("date-slashes", log("2025/01/06,talks,1,,,,"), "date", "'2025/01/06'", 2, "ISO date YYYY-MM-DD"),
    _case("date-impossible-feb-30", log(GOOD, "2025-02-30,talks,1,,,,"),
          "date", "'2025-02-30'", 3, "ISO date YYYY-MM-DD"),
    _case("date-compact", log("20250106,talks,1,,,,"), "date", "'20250106'", 2, "ISO date"),
    _case("date-iso-week-form", log("2025-W02-1,talks,1,,,,"), "date", "'2025-W02-1'", 2, "ISO date"),
    _case("date-with-time", log("2025-01-06T10:00,talks,1,,,,"), "date", "'2025-01-06T10:00'", 2,
          "ISO date"),
    _case("date-before-start", log("2024-12-31,talks,1,,,,"),
          "date", "2024-12-31", 2, "within the model's span 2025-01-01 .. 2025-12-31"),
    _case("date-after-horizon", log(GOOD, "2026-01-01,talks,1,,,,"),
          "date", "2026-01-01", 3, "within the model's span 2025-01-01 .. 2025-12-31"),
    # --- grades
    _case("reliability-G", log("2025-01-06,talks,1,G,2,,"), "reliability", "'G'", 2, "A-F, or blank"),
    _case("reliability-two-letters", log("2025-01-06,talks,1,AB,2,,"), "reliability", "'AB'", 2, "A-F"),
    _case("credibility-7", log("2025-01-06,talks,1,B,7,,"), "credibility", "'7'", 2, "1-6, or blank"),
    _case("credibility-0", log("2025-01-06,talks,1,B,0,,"), "credibility", "'0'", 2, "1-6, or blank"),
    _case("credibility-letter", log("2025-01-06,talks,1,B,B,,"), "credibility", "'B'", 2, "1-6"),
    # --- CSV shape
    _case("semicolon-delimiter", log("2025-01-06;talks;1;;;;", header=HEADER.replace(",", ";")),
          "delimiter", "';'", 1, "comma-separated"),
    _case("tab-delimiter", log("2025-01-06\ttalks\t1\t\t\t\t", header=HEADER.replace(",", "\t")),
          "delimiter", "'\\t'", 1, "comma-separated"),
    _case("missing-column-value", log("2025-01-06,talks", header="date,indicator"),
          "header", "(missing) value", 1, "the required columns date, indicator, value"),
    _case("unknown-column", log("2025-01-06,talks,1,3", header="date,indicator,value,weight"),
          "header", "'weight'", 1, "columns from date, indicator, value"),
    _case("duplicated-column", log("2025-01-06,talks,1,2", header="date,indicator,value,value"),
          "header", "value", 1, "each column once"),
    _case("row-too-few-fields", log(GOOD, "2025-01-07,talks,1"),
          "row", "3 fields", 3, "7 fields like the header"),
    _case("row-too-many-fields-unquoted-comma", log(GOOD, GOOD, "2025-01-08,talks,1,,,Agency, via wire,"),
          "row", "8 fields", 4, "quote text containing commas"),
    _case("unterminated-quote", log(GOOD, '2025-01-07,talks,1,,,"Agency,'),
          "row", "", 3, "CSV syntax error"),
    _case("empty-file", "", "header", "(empty file)", 1, "a header row"),
    _case("blank-lines-only", "\n\n  \n", "header", "(empty file)", 1, "a header row"),
    # --- encodings
    _case("utf16-file", log(GOOD).encode("utf-16"), "encoding", "UTF-16", 1, "UTF-8"),
    _case("utf16-le-without-bom", log(GOOD).encode("utf-16-le"), "encoding", "UTF-16", 1, "UTF-8"),
    _case("latin1-bytes", log(GOOD, "2025-01-07,talks,1,,,Alépo,").encode("latin-1"),
          "encoding", r"\xe9", 3, "Latin-1"),
    _case("nul-byte", log(GOOD, "2025-01-07,talks,1,,,\x00,"), "encoding", "NUL byte", 3, "UTF-8"),
    # --- face-value reports
    _case("conflicting-ungraded-reports-in-one-month",
          log("2025-01-06,talks,1,,,,", "2025-02-01,talks,0,,,,", "2025-01-30,talks,0,,,,"),
          "value", "'1', '0'", 2,
          "ungraded reports are taken at face value, so reports of 'talks' in 2025-01"),
]


@pytest.mark.parametrize("case", EVIDENCE_CASES, ids=[c.id for c in EVIDENCE_CASES])
def test_broken_evidence_is_refused_with_a_precise_problem(
    case: Case, model: ScenarioModel, tmp_path: Path
) -> None:
    path = write(tmp_path, case.content)
    with pytest.raises(EvidenceError) as info:
        load_evidence(path, model)
    error = info.value
    assert isinstance(error, SyriaforecastError)
    found = [p for p in error.problems if p.field == case.field and case.value in p.value]
    assert found, f"no {case.field!r} problem with value ~{case.value!r} in:\n{error}"
    problem = found[0]
    assert problem.file == str(path)
    assert case.allowed in problem.allowed, problem.allowed
    if case.line is not None:
        assert problem.location.split(",")[0] == f"line {case.line}", problem.location
    assert str(error).startswith(f"{len(error.problems)} problem")
    assert all(str(p) in str(error) for p in error.problems)


def test_broken_evidence_ids_are_unique() -> None:
    ids = [c.id for c in EVIDENCE_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30


def test_conflict_names_both_lines(model: ScenarioModel, tmp_path: Path) -> None:
    path = write(tmp_path, log(GOOD, "2025-01-20,talks,0,,,,"))
    with pytest.raises(EvidenceError) as info:
        load_evidence(path, model)
    (problem,) = info.value.problems
    assert problem.location == "line 2, line 3"


@pytest.mark.parametrize(
    "rows",
    [
        ("2025-01-06,talks,1,,,,", "2025-01-20,talks,0,B,,,"),  # one graded: both kept
        ("2025-01-06,talks,1,,,,", "2025-01-20,talks,0,,4,,"),
        ("2025-01-06,talks,1,,,,", "2025-02-01,talks,0,,,,"),  # different months
        ("2025-01-06,talks,1,,,,", "2025-01-20,talks,1,,,,"),  # agreeing
        ("2025-02-03,tension,high,,,,", "2025-02-07,tension,HIGH,,,,"),  # same level, any case
    ],
    ids=["graded-reliability", "graded-credibility", "two-months", "agreeing", "level-case"],
)
def test_several_reports_in_one_period_are_fine_unless_ungraded_and_disagreeing(
    rows: tuple[str, ...], model: ScenarioModel, tmp_path: Path
) -> None:
    evidence = load_evidence(write(tmp_path, log(*rows)), model)
    assert len(evidence) == len(rows)


def test_all_problems_in_one_file_are_reported_together(model: ScenarioModel) -> None:
    path = BROKEN / "five_problems.csv"
    with pytest.raises(EvidenceError) as info:
        load_evidence(path, model)
    problems = info.value.problems
    assert len(problems) == 5, str(info.value)
    assert [(p.location, p.field) for p in problems] == [
        ("line 3", "indicator"),
        ("line 4", "date"),
        ("line 5", "value"),
        ("line 6", "reliability"),
        ("line 6", "credibility"),
    ]
    assert str(info.value).startswith(f"5 problems in evidence file {path}:")


def test_missing_file_is_an_evidence_error(model: ScenarioModel, tmp_path: Path) -> None:
    with pytest.raises(EvidenceError) as info:
        load_evidence(tmp_path / "nowhere.csv", model)
    assert "cannot be read" in info.value.problems[0].allowed


# --------------------------------------------------------------------------- what loads
def test_tiny_evidence_loads_with_states_and_periods(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    rows = list(csv.DictReader(io.StringIO(tiny_evidence_path.read_text())))
    table = evidence.to_dataframe()
    assert len(evidence) == len(rows) == 6
    assert list(table["line"]) == list(range(2, 8))
    assert [d.isoformat() for d in table["date"]] == [r["date"] for r in rows]
    assert list(table["indicator"]) == [r["indicator"] for r in rows]
    # period = months since January 2025
    assert list(table["period"]) == [int(r["date"][5:7]) - 1 for r in rows]
    # state: binary as written, ordinal level index (any case), count as written
    levels = ["low", "medium", "high"]
    expected = [
        levels.index(r["value"].lower()) if r["indicator"] == "tension" else int(r["value"]) for r in rows
    ]
    assert list(table["state"]) == expected
    assert list(table["reliability"]) == [r["reliability"] for r in rows]
    assert list(table["credibility"]) == [int(r["credibility"] or 0) for r in rows]
    assert list(table["source"]) == [r["source"] for r in rows]
    assert evidence.last_date == dt.date(2025, 3, 14)


def test_header_only_is_no_evidence(model: ScenarioModel, tmp_path: Path) -> None:
    evidence = load_evidence(write(tmp_path, HEADER + "\n"), model)
    assert len(evidence) == 0
    assert evidence.last_date is None
    assert repr(evidence) == "Evidence(model 'tiny': no reports)"


def test_required_columns_only_in_any_order(model: ScenarioModel, tmp_path: Path) -> None:
    path = write(tmp_path, "Value , INDICATOR,date\n1,talks,2025-01-06\n")
    (row,) = load_evidence(path, model).to_dataframe().to_dict(orient="records")
    assert (row["date"], row["indicator"], row["state"], row["reliability"]) == (
        dt.date(2025, 1, 6), "talks", 1, ""
    )


def test_bom_and_crlf_are_accepted(model: ScenarioModel, tiny_evidence_path: Path, tmp_path: Path) -> None:
    text = tiny_evidence_path.read_text()
    plain = load_evidence(tiny_evidence_path, model)
    bom = load_evidence(write(tmp_path, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()), model)
    assert bom == plain
    # Equality is not vacuous.
    assert load_evidence(write(tmp_path, text.replace("2025-03-14", "2025-03-15"), "x.csv"), model) != plain


def test_zero_and_missing_rows_mean_different_things(model: ScenarioModel, tmp_path: Path) -> None:
    """A 0 is a report ("looked for, not seen"); a month with no row has no report at all."""
    evidence = load_evidence(write(tmp_path, log("2025-01-06,talks,0,,,,")), model)
    table = evidence.to_dataframe()
    assert list(zip(table["period"], table["state"], strict=True)) == [(0, 0)]
    assert (table["period"] == 1).sum() == 0


def test_up_to_filters_by_date(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    rows = list(csv.DictReader(io.StringIO(tiny_evidence_path.read_text())))
    for cutoff in ["2024-12-31", "2025-01-06", "2025-01-19", "2025-02-10", "2025-12-31"]:
        kept = evidence.up_to(cutoff)
        expected = [r["date"] for r in rows if r["date"] <= cutoff]  # ISO dates sort as text
        assert [d.isoformat() for d in kept.to_dataframe()["date"]] == expected
        assert kept == evidence.up_to(dt.date.fromisoformat(cutoff))
        assert kept == load_evidence(tiny_evidence_path, model, as_of=cutoff)
    assert evidence.up_to(pd.Timestamp("2025-02-03 23:00")) == evidence.up_to("2025-02-03")


@pytest.mark.parametrize("as_of", ["2025-02-30", "yesterday", "2025-W05-1", ""])
def test_bad_as_of_is_an_evidence_error(as_of: str, model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    with pytest.raises(EvidenceError) as info:
        evidence.up_to(as_of)
    assert info.value.problems[0].field == "as_of"
    assert info.value.problems[0].value == repr(as_of)


# --------------------------------------------------------------------------- DataFrame input
def test_dataframe_input_equals_csv_input(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    from_file = load_evidence(tiny_evidence_path, model).to_dataframe()
    frame = pd.read_csv(tiny_evidence_path, dtype=str, keep_default_na=False)
    from_frame = load_evidence(frame, model).to_dataframe()
    assert list(from_frame["line"]) == list(range(1, 7))  # rows, not file lines
    pd.testing.assert_frame_equal(from_frame.drop(columns="line"), from_file.drop(columns="line"))


def test_dataframe_with_native_types(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Date": pd.to_datetime(["2025-01-06", "2025-02-10", "2025-03-01"]),
            "indicator": ["talks", "incidents", "tension"],
            "value": [1, 2, "low"],
            "reliability": [None, "C", np.nan],
            "credibility": [np.nan, 3.0, None],
        }
    )
    table = load_evidence(frame, model).to_dataframe()
    assert list(table["date"]) == [dt.date(2025, 1, 6), dt.date(2025, 2, 10), dt.date(2025, 3, 1)]
    assert list(table["state"]) == [1, 2, 0]
    assert list(table["reliability"]) == ["", "C", ""]
    assert list(table["credibility"]) == [0, 3, 0]


def test_dataframe_problems_name_rows_and_columns(model: ScenarioModel) -> None:
    bad = pd.DataFrame({"date": ["2025-01-06", pd.NaT], "indicator": ["talks", "talks"], "value": [1, 1.5]})
    with pytest.raises(EvidenceError) as info:
        load_evidence(bad, model)
    assert [(p.file, p.location, p.field) for p in info.value.problems] == [
        ("<dataframe>", "row 2", "date"), ("<dataframe>", "row 2", "value")
    ]
    # A NUL is refused here too: saved as CSV it would make the file unloadable.
    nul = pd.DataFrame({"date": ["2025-01-06"], "indicator": ["talks"], "value": [1], "note": ["a\x00b"]})
    with pytest.raises(EvidenceError) as info:
        load_evidence(nul, model)
    (problem,) = info.value.problems
    assert (problem.location, problem.field, problem.value) == ("row 1", "note", "NUL character")
    columns = pd.DataFrame([["2025-01-06", "talks", 1, 1]], columns=["date", "indicator", "value", "Value"])
    with pytest.raises(EvidenceError) as info:
        load_evidence(columns, model)
    assert [(p.field, p.value, p.allowed) for p in info.value.problems] == [
        ("columns", "value", "each column once")
    ]
    with pytest.raises(EvidenceError) as info:
        load_evidence(pd.DataFrame({"when": ["2025-01-06"]}), model)
    assert {p.value for p in info.value.problems} == {"'when'", "(missing) date, indicator, value"}


# --------------------------------------------------------------------------- append
NEW_ROWS = [
    {"date": "2025-01-02", "indicator": "tension", "value": "low"},  # earlier than every existing row
    {"date": "2025-04-01", "indicator": "incidents", "value": 5, "reliability": "D", "credibility": 4,
     "source": "Local, unverified", "note": 'said "five"'},
]


def test_append_keeps_existing_rows_in_order(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    before = evidence.to_dataframe()
    combined = evidence.append(NEW_ROWS, model)
    after = combined.to_dataframe()
    assert len(combined) == len(evidence) + 2
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    assert [d.isoformat() for d in after["date"].iloc[len(before) :]] == ["2025-01-02", "2025-04-01"]
    assert list(after["line"].iloc[len(before) :]) == [8, 9]  # numbered after the last line
    # The original object is unchanged.
    pd.testing.assert_frame_equal(evidence.to_dataframe(), before)
    # A DataFrame of rows works the same way.
    assert evidence.append(pd.DataFrame(NEW_ROWS), model) == combined


def test_append_refuses_a_conflict_with_existing_rows(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    with pytest.raises(EvidenceError) as info:
        evidence.append([{"date": "2025-03-02", "indicator": "incidents", "value": 4}], model)
    (problem,) = info.value.problems
    assert problem.location == "line 6, line 8"
    assert problem.value == "'0', '4'"


@pytest.mark.parametrize(
    "original",
    [
        "tiny",
        "no-final-newline",
        "crlf",
        "bom",
        "subset-of-columns-reordered",
    ],
)
def test_append_evidence_keeps_existing_bytes(
    original: str, model: ScenarioModel, tiny_evidence_path: Path, tmp_path: Path
) -> None:
    text = tiny_evidence_path.read_text()
    rows = NEW_ROWS
    raw = {
        "tiny": text.encode(),
        "no-final-newline": text.rstrip("\n").encode(),
        "crlf": text.replace("\n", "\r\n").encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "subset-of-columns-reordered": b"value,indicator,date\n1,talks,2025-01-06\n",
    }[original]
    if original == "subset-of-columns-reordered":
        rows = [{k: v for k, v in r.items() if k in ("date", "indicator", "value")} for r in NEW_ROWS]
    path = write(tmp_path, raw)
    n_before = len(load_evidence(path, model))
    result = append_evidence(path, rows, model)
    data = path.read_bytes()
    expected_prefix = raw if raw.endswith(b"\n") else raw + b"\n"
    assert data[: len(expected_prefix)] == expected_prefix
    assert (b"\r\n" in data[len(raw) :]) == (original == "crlf")
    reloaded = load_evidence(path, model)
    assert reloaded == result
    assert len(reloaded) == n_before + 2
    table = reloaded.to_dataframe()
    assert list(table["indicator"].iloc[-2:]) == ["tension", "incidents"]
    assert list(table["state"].iloc[-2:]) == [0, 5]
    if original != "subset-of-columns-reordered":
        assert table["note"].iloc[-1] == 'said "five"'
        assert table["credibility"].iloc[-1] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.csv"]


@pytest.mark.parametrize(
    "rows",
    [
        [{"date": "2025-02-30", "indicator": "talks", "value": 1}],
        [{"date": "2025-03-02", "indicator": "incidents", "value": 4}],  # conflicts with line 6
        [{"date": "2025-03-02", "indicator": "nope", "value": 1}],
        [{"when": "2025-03-02"}],
    ],
    ids=["bad-date", "conflict", "unknown-indicator", "bad-columns"],
)
def test_append_evidence_leaves_the_file_unchanged_on_bad_rows(
    rows: list[dict], model: ScenarioModel, tiny_evidence_path: Path, tmp_path: Path
) -> None:
    path = write(tmp_path, tiny_evidence_path.read_bytes())
    before = path.read_bytes()
    with pytest.raises(EvidenceError):
        append_evidence(path, rows, model)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.csv"]


def test_append_evidence_refuses_fields_the_file_has_no_column_for(
    model: ScenarioModel, tmp_path: Path
) -> None:
    path = write(tmp_path, "date,indicator,value\n2025-01-06,talks,1\n")
    before = path.read_bytes()
    with pytest.raises(EvidenceError) as info:
        append_evidence(path, [{"date": "2025-02-01", "indicator": "talks", "value": 0, "reliability": "B"}],
                        model)
    (problem,) = info.value.problems
    assert (problem.location, problem.field, problem.value) == ("line 1", "header", "reliability")
    assert path.read_bytes() == before


def test_append_evidence_is_atomic_when_the_write_fails(
    model: ScenarioModel, tiny_evidence_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, tiny_evidence_path.read_bytes())
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        append_evidence(path, NEW_ROWS, model)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.csv"]


def test_save_evidence_round_trip(model: ScenarioModel, tiny_evidence_path: Path, tmp_path: Path) -> None:
    loaded = load_evidence(tiny_evidence_path, model)
    copy = save_evidence(loaded, tmp_path / "copy.csv")
    assert copy.read_bytes() == tiny_evidence_path.read_bytes()  # a loaded file is kept byte for byte
    built = load_evidence(pd.read_csv(tiny_evidence_path, dtype=str, keep_default_na=False), model)
    written = save_evidence(built, tmp_path / "built.csv")
    again = load_evidence(written, model).to_dataframe().drop(columns="line")
    pd.testing.assert_frame_equal(again, built.to_dataframe().drop(columns="line"))


# --------------------------------------------------------------------------- objects
def test_evidence_is_immutable(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    with pytest.raises(dataclasses.FrozenInstanceError):
        evidence.model_id = "other"  # type: ignore[misc]
    copy = evidence.to_dataframe()
    copy.loc[0, "value"] = "0"
    assert evidence.to_dataframe().loc[0, "value"] == "1"
    with pytest.raises(TypeError):
        hash(evidence)


def test_evidence_repr_is_readable(model: ScenarioModel, tiny_evidence_path: Path) -> None:
    evidence = load_evidence(tiny_evidence_path, model)
    assert repr(evidence) == (
        "Evidence(model 'tiny': 6 reports of 3 indicators, 2025-01-06..2025-03-14, 3 periods)"
    )
    assert repr(evidence.up_to("2025-01-06")) == (
        "Evidence(model 'tiny': 1 report of 1 indicator, 2025-01-06..2025-01-06, 1 period)"
    )



# --------------------------------------------------------------------------- another model, the same id
def test_evidence_of_an_edited_model_with_the_same_id_is_read_again_against_it(tmp_path):
    """Rows validated against one model carry its periods and states: another model reads them afresh."""
    import syriaforecast as sf

    data = Path(__file__).parent / "data"
    text = (data / "report_tiny.toml").read_text()
    log = data / "report_tiny_evidence.csv"
    old = sf.load_model(data / "report_tiny.toml")
    evidence = sf.load_evidence(log, old)
    # One month earlier start: every report sits one period later.
    earlier = tmp_path / "earlier.toml"
    earlier.write_text(text.replace('start = "2025-01"', 'start = "2024-12"'))
    new = sf.load_model(earlier)
    assert new.id == old.id and new.sha256 != old.sha256
    ours = sf.forecast(new, evidence, exact=True)
    theirs = sf.forecast(new, sf.load_evidence(log, new), exact=True)
    np.testing.assert_array_equal(ours.filtered.values, theirs.filtered.values)
    assert list(ours.evidence.to_dataframe()["period"]) == [p + 1 for p in evidence.to_dataframe()["period"]]
    # A model without one of the logged indicators refuses the rows, naming the file's line.
    without = tmp_path / "without.toml"
    start = text.index('[[indicators]]\nid = "incidents"')
    end = text.index("[[indicators]]", start + 1)
    without.write_text(text[:start] + text[end:])
    with pytest.raises(EvidenceError, match=r"line 5: indicator = 'incidents'"):
        sf.forecast(sf.load_model(without), evidence, exact=True)
    # The same model loaded again: the evidence is used as it is.
    assert evidence.for_model(sf.load_model(data / "report_tiny.toml")) is evidence
