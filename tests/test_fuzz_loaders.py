"""Property tests for the loaders on hostile input.

Whatever bytes, text, rows or DataFrames they are given, ``parse_model``,
``load_model``, ``load_evidence``, ``Evidence.up_to`` and ``append_evidence``
either return a valid object or raise the library's own error
(:class:`~syriaforecast.errors.SyriaforecastError`) listing its problems: never
another exception type, and never a hang (each call is timed).

The default run takes well under a minute. A longer fuzz raises every test's
example count, e.g.::

    SYRIAFORECAST_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/test_fuzz_loaders.py \
        -p no:cacheprovider --hypothesis-show-statistics

``--hypothesis-show-statistics`` prints, per test, how often each outcome
(loaded, or refused on which field) occurred.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import os
import string
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from syriaforecast.errors import (
    EvidenceError,
    ModelFileError,
    Problem,
    SyriaforecastError,
    ValidationError,
)
from syriaforecast.spec.evidence import COLUMNS, Evidence, append_evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel, load_model, parse_model

TINY = Path(__file__).parent / "data" / "tiny"
TINY_TEXT = (TINY / "model.toml").read_text(encoding="utf-8")
TINY_EVIDENCE = (TINY / "evidence.csv").read_bytes()

#: SYRIAFORECAST_FUZZ_EXAMPLES=N runs every property with N examples instead of its default.
FUZZ_EXAMPLES = int(os.environ.get("SYRIAFORECAST_FUZZ_EXAMPLES", "0") or 0)
#: A single load of a small input taking longer than this counts as a hang.
CALL_LIMIT_SECONDS = 10.0

pytestmark = [
    pytest.mark.timeout(max(300, FUZZ_EXAMPLES // 2)),  # seconds
    # Reports of failing examples holding 10,000-character cells are long; that is fine.
    pytest.mark.filterwarnings("ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"),
]


def fuzz(default: int) -> Callable[[Any], Any]:
    """Hypothesis settings: ``default`` examples, or SYRIAFORECAST_FUZZ_EXAMPLES when set."""
    return settings(
        max_examples=FUZZ_EXAMPLES or default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


def _check_error(exc: SyriaforecastError, expected: type[SyriaforecastError]) -> None:
    assert isinstance(exc, expected), f"{type(exc).__name__} raised where {expected.__name__} was due"
    message = str(exc)
    assert message
    if isinstance(exc, ValidationError):
        assert exc.problems, "a validation error must list at least one problem"
        for problem in exc.problems:
            assert isinstance(problem, Problem)
            assert all(isinstance(getattr(problem, f), str) for f in problem.__slots__)
            assert problem.field
            assert problem.allowed
        event(f"refused: {', '.join(sorted({p.field for p in exc.problems}))[:60]}")


def outcome(
    fn: Callable[..., Any], *args: Any, expected: type[SyriaforecastError] = SyriaforecastError,
    **kwargs: Any,
) -> Any:
    """Call a loader: return its result, or the library error it raised. Anything else fails."""
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
        event("loaded")
    except SyriaforecastError as exc:
        _check_error(exc, expected)
        result = exc
    elapsed = time.perf_counter() - start
    assert elapsed < CALL_LIMIT_SECONDS, f"{fn.__name__} took {elapsed:.1f} s"
    return result


@functools.cache
def tiny_model() -> ScenarioModel:
    return load_model(TINY / "model.toml")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- strategies
MODEL_KEYS = ["id", "title", "question", "source", "period", "start", "horizon", "persistence",
              "elicitation_error", "prior_concentration", "persistence_uncertainty"]
SCENARIO_KEYS = ["id", "name", "prior", "description", "resolution"]
INDICATOR_KEYS = ["id", "group", "type", "text", "basis", "levels", "likelihood", "rationale"]
ALL_KEYS = sorted({*MODEL_KEYS, *SCENARIO_KEYS, *INDICATOR_KEYS, "calm", "storm", "fog"})
PHRASES = ["likely", "very unlikely", "almost certain", "roughly even chance", "Remote", "probable",
           "likelyish", ""]
ODD_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(',;"\'\n\r\t\x00\\[]{}=#. -_\ufeff\u202e\u00e9\u0660\u00b2\uff11')),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
)

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 0.0, 1.0, 0.5, 1e-7, 1 - 1e-7, 1e4, 1e5, -1.0, 0.3, 0.7, 2.5]),
    st.booleans(),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.sampled_from(["2025-01", "2025-W01", "2025-Q1", "2025-W53", "0000-01", "9999-12", "month",
                     "week", "quarter", "binary", "ordinal", "count", "calm", "storm", *PHRASES]),
    ODD_TEXT,
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(ALL_KEYS) | ODD_TEXT, inner, max_size=4),
    ),
    max_leaves=12,
)


def _literal(value: Any) -> str:
    """TOML text for a value: inline tables and arrays by hand, scalars by tomli_w."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_literal(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return tomli_w.dumps({"k": value}).split(" = ", 1)[1].strip()


def _key(key: str) -> str:
    bare = key and all(c in string.ascii_letters + string.digits + "_-" for c in key)
    return key if bare else tomli_w.dumps({key: 0}).rsplit(" = ", 1)[0]


@st.composite
def tomlish_text(draw: st.DrawFn) -> str:
    """Lines that look like a model file: table headers and ``key = value`` with odd values."""
    lines = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(
                ["[model]", "[[scenarios]]", "[[indicators]]", "[indicators.likelihood]",
                 "[indicators.rationale]", "[scenarios]", "[[model]]", "[x.y]", "[[indicators.likelihood]]"]
            )))
        elif kind == 1:
            lines.append(draw(ODD_TEXT))  # junk
        else:
            key = draw(st.sampled_from(ALL_KEYS) | ODD_TEXT.map(_key))
            lines.append(f"{key} = {_literal(draw(toml_values))}")
    return "\n".join(lines)


@st.composite
def near_valid_model(draw: st.DrawFn) -> dict[str, Any]:
    """A model dict of the right shape whose values are sometimes wrong."""

    def maybe(value: Any) -> Any:  # the value, or one time in 25 something else
        return draw(scalars) if draw(st.integers(0, 24)) == 0 else value

    n_s = draw(st.integers(1, 4))
    sids = [maybe(f"s{k}") for k in range(n_s)]
    phrases = draw(st.integers(0, 3))  # 0: random phrases, 1: phrases that can sum to 1, else numbers
    fitting = {1: ["almost certain"], 2: ["likely", "unlikely"], 3: ["unlikely"] * 3, 4: ["unlikely"] * 4}
    priors = [
        maybe(draw(st.sampled_from(PHRASES[:6])) if phrases == 0 else fitting[n_s][j] if phrases == 1
              else 1 / n_s)
        for j in range(n_s)
    ]
    scenarios = [{"id": sid, "name": maybe("S"), "prior": p, "resolution": maybe("r")}
                 for sid, p in zip(sids, priors, strict=True)]
    indicators = []
    for k in range(draw(st.integers(1, 5))):
        kind = maybe(draw(st.sampled_from(["binary", "ordinal", "count"])))
        ind: dict[str, Any] = {"id": maybe(f"i{k}"), "group": maybe("g"), "type": kind, "text": "t"}
        n_levels = draw(st.integers(2, 4))
        if kind == "ordinal" or draw(st.integers(0, 29)) == 0:
            ind["levels"] = maybe([f"l{j}" for j in range(n_levels)])

        def cell(kind: Any = kind, n_levels: int = n_levels) -> Any:
            if kind == "ordinal":
                return maybe([1 / n_levels] * n_levels)
            if kind == "count":
                return maybe(draw(st.floats(1e-6, 1e4)))
            return maybe(draw(st.sampled_from([0.2, 0.5, 0.9, "likely", "unlikely"])))

        ind["likelihood"] = {str(sid): cell() for sid in sids if draw(st.integers(0, 49))}
        if draw(st.booleans()):
            ind["rationale"] = maybe({str(sid): "because" for sid in sids})
        indicators.append(ind)
    period = maybe(draw(st.sampled_from(["month", "week", "quarter"])))
    start = {"month": "2025-01", "week": "2025-W02", "quarter": "2025-Q1"}.get(str(period), "2025-01")
    model = {"id": maybe("m"), "title": maybe("T"), "period": period, "start": maybe(start),
             "horizon": maybe(dt.date(2026, 12, 31)), "persistence": maybe(0.9),
             "elicitation_error": maybe(0.5)}
    if draw(st.booleans()):
        model[draw(st.sampled_from([*MODEL_KEYS, "colour"]))] = draw(scalars)
    return {"model": model, "scenarios": scenarios, "indicators": indicators}


@st.composite
def mutated_tiny_model(draw: st.DrawFn) -> bytes:
    """The tiny model file with a few random edits: lines dropped, doubled, swapped or rewritten."""
    lines = TINY_TEXT.split("\n")
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        op = draw(st.integers(0, 7))
        if op == 0:
            del lines[at]
        elif op == 1:
            lines.insert(at, lines[at])
        elif op == 2:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == 3 and " = " in lines[at]:
            key = lines[at].split(" = ", 1)[0]
            lines[at] = f"{key} = {_literal(draw(toml_values))}"
        elif op == 4:
            cut = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:cut] + draw(ODD_TEXT) + lines[at][cut:]
        elif op == 5:
            lines[at] = lines[at].upper() if draw(st.booleans()) else lines[at].replace('"', "'")
        elif op == 6:
            lines = lines[: at + 1]  # truncated file
        else:
            lines.insert(at, f"{_key(draw(ODD_TEXT))} = {_literal(draw(toml_values))}")
    raw = "\n".join(lines).encode("utf-8")
    if draw(st.integers(0, 4)) == 0 and raw:  # corrupt a few bytes
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        raw = bytes(data)
    return raw


# --------------------------------------------------------------------------- model files
@fuzz(200)
@given(st.binary(max_size=3000))
def test_parse_model_on_arbitrary_bytes(raw: bytes) -> None:
    result = outcome(parse_model, raw, expected=ModelFileError)
    assert isinstance(result, ModelFileError | ScenarioModel)


@fuzz(200)
@given(tomlish_text())
def test_parse_model_on_tomlish_text(text: str) -> None:
    outcome(parse_model, text, expected=ModelFileError)


@fuzz(200)
@given(raw=mutated_tiny_model())
def test_load_model_on_mutated_valid_files(raw: bytes, workdir: Path) -> None:
    path = workdir / "mutated.toml"
    path.write_bytes(raw)
    result = outcome(load_model, path, expected=ModelFileError)
    if isinstance(result, ModelFileError):
        assert all(p.file == str(path) for p in result.problems)
    else:
        assert parse_model(result.to_toml()) == result


@fuzz(200)
@given(near_valid_model(), st.booleans())
def test_parse_model_on_near_valid_models(data: dict[str, Any], as_text: bool) -> None:
    if as_text:
        try:
            content: Any = tomli_w.dumps(data)
        except (TypeError, ValueError):  # e.g. a NUL in a key tomli_w cannot write
            return
    else:
        content = data
    result = outcome(parse_model, content, expected=ModelFileError)
    if isinstance(result, ScenarioModel):
        # Whatever loads survives the round trip and has priors summing to one.
        assert parse_model(result.to_toml()) == result
        assert math.isclose(sum(result.prior), 1.0, abs_tol=1e-6)
        # The written TOML is valid TOML that names every scenario and indicator.
        written = tomllib.loads(result.to_toml())
        assert [s["id"] for s in written["scenarios"]] == list(result.scenario_ids)


# --------------------------------------------------------------------------- evidence logs
ODD_VALUES = [
    "nan", "NaN", "inf", "-inf", "Infinity", "1e309", "1e3", "-0", "+1", "0x10", "1_000", "0001",
    "9" * 30, "9" * 5000, "1000000", "1000001", "٣", "²", "１", " 1", "1 ", "", "true", "None", "NULL",
    "low", "LOW", "Medium", "high ", "0.0", "1.0",
]
ODD_DATES = [
    "2025-01-06", "2025-02-28", "2025-02-29", "2024-02-29", "2025-02-30", "2025-13-01", "2025-00-10",
    "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01", "-2025-01-01", "+2025-01-01",
    "2025-W02-1", "2025-001", "20250106", "2025-1-6", "06/01/2025", "2025-01-06T00:00",
    "2025-01-06 ", "٢٠٢٥-01-06", "", "NaT", "1677-09-21", "2262-04-12",
]


#: Valid values per indicator of the tiny model (level names ignore case).
VALID_VALUES = {"talks": ["0", "1"], "tension": ["low", "medium", "high", "HIGH", "Low"],
                "incidents": ["0", "1", "2", "17", "999999", "1000000"]}
CLEAN_TEXT = ODD_TEXT.map(lambda text: text.replace("\x00", ""))  # a NUL refuses the whole file


@st.composite
def report_row(draw: st.DrawFn, odd_one_in: int = 12) -> dict[str, str]:
    """One report: each cell valid, except one time in ``odd_one_in`` something odd.

    Mostly valid rows make whole files load often enough to check what loads.
    """

    def pick(valid: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> str:
        return draw(odd if draw(st.integers(0, odd_one_in - 1)) == 0 else valid)

    indicator = draw(st.sampled_from(sorted(VALID_VALUES)))
    in_span = st.dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)).map(dt.date.isoformat)
    return {
        "date": pick(in_span, st.sampled_from(ODD_DATES) | st.dates().map(dt.date.isoformat) | ODD_TEXT),
        "indicator": pick(st.just(indicator),
                          st.sampled_from(["talk", "Talks", "TALKS", " talks", "tensions", ""]) | ODD_TEXT),
        "value": pick(st.sampled_from(VALID_VALUES[indicator]),
                      st.sampled_from(ODD_VALUES) | st.integers(-5, 10**7).map(str) | ODD_TEXT),
        "reliability": pick(st.sampled_from([*"ABCDEFabcdef", "", "", "", ""]),
                            st.sampled_from(["G", "AA", " A", "0", "-"]) | ODD_TEXT),
        "credibility": pick(st.sampled_from([*"123456", "", "", "", ""]),
                            st.sampled_from(["0", "7", "1.0", "A", "12"]) | ODD_TEXT),
        "source": pick(st.sampled_from(["", "Wire", "Agency, via wire", 'said "hi"\nthen left']) | CLEAN_TEXT,
                       st.just("x" * 10_001) | ODD_TEXT),
        "note": pick(st.just("") | CLEAN_TEXT, ODD_TEXT),
    }


@st.composite
def evidence_csv(draw: st.DrawFn) -> bytes:
    """Mostly valid reports with odd cells; usually quoted properly; header and encoding sometimes off."""
    header = list(COLUMNS)
    choice = draw(st.integers(0, 19))
    if choice == 0:
        header = draw(st.permutations(header))
    elif choice == 1:
        header = ["date", "indicator", "value"]
    elif choice == 2:
        header = draw(st.lists(st.sampled_from([*COLUMNS, "weight", "Date", ""]), max_size=9))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        report = draw(report_row())
        row = [report.get(column, "") for column in header]
        if draw(st.integers(0, 19)) == 0:  # a ragged row
            if draw(st.booleans()):
                row.extend(draw(st.lists(ODD_TEXT, min_size=1, max_size=2)))
            else:
                del row[-1:]
        rows.append(row)
    out = io.StringIO()
    if draw(st.integers(0, 3)):
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([header, *rows])
    else:  # naive joining: commas, quotes and line breaks in cells break the row
        out.write("\n".join(draw(st.sampled_from([",", ",", ";", "\t"])).join(r) for r in [header, *rows]))
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "latin-1"]))
    return out.getvalue().encode(encoding, errors="replace")


@fuzz(200)
@given(raw=st.binary(max_size=3000))
def test_load_evidence_on_arbitrary_bytes(raw: bytes, workdir: Path) -> None:
    path = workdir / "bytes.csv"
    path.write_bytes(raw)
    outcome(load_evidence, path, tiny_model(), expected=EvidenceError)


@fuzz(200)
@given(raw=evidence_csv())
def test_load_evidence_on_random_rows(raw: bytes, workdir: Path) -> None:
    path = workdir / "rows.csv"
    path.write_bytes(raw)
    result = outcome(load_evidence, path, tiny_model(), expected=EvidenceError)
    if isinstance(result, Evidence):
        table = result.to_dataframe()
        model = tiny_model()
        assert set(table["indicator"]) <= set(model.indicator_ids)
        assert table["period"].between(0, model.horizon_index).all()
        assert all(model.first_period.start_time.date() <= d <= model.horizon for d in table["date"])
        assert set(table["reliability"]) <= set("ABCDEF") | {""}
        assert set(table["credibility"]) <= set(range(7))


NATIVE_ODD = st.sampled_from([None, np.nan, pd.NaT, pd.NA, math.inf, -1.5, 2.5, True, 10**30, 1e300,
                               dt.datetime(2025, 3, 1, 12), np.int64(-3), [1], ("x",)])


@st.composite
def native_row(draw: st.DrawFn) -> dict[str, Any]:
    """A report whose cells are sometimes native Python/pandas values instead of text."""
    row: dict[str, Any] = draw(report_row())
    for column, text in list(row.items()):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            row[column] = draw(NATIVE_ODD)
        elif choice == 1 and column == "date" and _is_iso_date(text):
            row[column] = draw(st.sampled_from([pd.Timestamp(text), dt.date.fromisoformat(text)]))
        elif choice == 1 and text.isascii() and text.isdigit() and len(text) < 8:
            row[column] = draw(st.sampled_from([int(text), float(text), np.int64(text)]))
        elif choice == 2 and column in ("reliability", "credibility", "source", "note") and not text:
            row[column] = draw(st.sampled_from([None, np.nan, pd.NA]))
        elif choice == 3 and column not in ("date", "indicator", "value"):
            del row[column]
    return row


def _is_iso_date(text: str) -> bool:
    try:
        return len(text) == 10 and dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


@fuzz(150)
@given(rows=st.lists(native_row(), max_size=10), upper=st.booleans())
def test_load_evidence_on_dataframes_of_mixed_types(rows: list[dict[str, Any]], upper: bool) -> None:
    frame = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(columns=["date"])
    if upper:
        frame.columns = [str(c).upper() for c in frame.columns]
    result = outcome(load_evidence, frame, tiny_model(), expected=EvidenceError)
    if isinstance(result, Evidence):
        assert len(result) == len(rows)
        assert list(result.to_dataframe()["line"]) == list(range(1, len(rows) + 1))


@fuzz(150)
@given(st.sampled_from(ODD_DATES) | ODD_TEXT | st.dates().map(dt.date.isoformat))
def test_up_to_on_arbitrary_dates(as_of: str) -> None:
    evidence = load_evidence(TINY / "evidence.csv", tiny_model())
    result = outcome(evidence.up_to, as_of, expected=EvidenceError)
    if isinstance(result, Evidence):
        assert all(d.isoformat() <= as_of.strip() for d in result.to_dataframe()["date"])


@fuzz(100)
@given(
    rows=st.lists(report_row(odd_one_in=40), min_size=1, max_size=4),
    keep=st.sets(st.sampled_from(COLUMNS[3:])),
)
def test_append_evidence_keeps_the_file_or_only_adds(
    rows: list[dict[str, str]], keep: set[str], workdir: Path
) -> None:
    keep |= {"date", "indicator", "value"}
    rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
    path = workdir / "append.csv"
    path.write_bytes(TINY_EVIDENCE)
    result = outcome(append_evidence, path, rows, tiny_model(), expected=EvidenceError)
    data = path.read_bytes()
    if isinstance(result, EvidenceError):
        assert data == TINY_EVIDENCE
        # Refused because the rows are bad, not because of how they would be written.
        with pytest.raises(EvidenceError):
            load_evidence(TINY / "evidence.csv", tiny_model()).append(rows, tiny_model())
    else:
        assert data.startswith(TINY_EVIDENCE)
        assert len(result) == len(load_evidence(TINY / "evidence.csv", tiny_model())) + len(rows)
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".append")) == []


# --------------------------------------------------------------------------- a very large model
N_BIG = 10_000


@functools.cache
def big_model() -> ScenarioModel:
    """10,000 indicators of the three types, built programmatically."""
    indicators = []
    for k in range(N_BIG):
        kind = ("binary", "ordinal", "count")[k % 3]
        ind: dict[str, Any] = {"id": f"ind{k:05d}", "group": f"g{k % 11}", "type": kind, "text": "t"}
        if kind == "binary":
            ind["likelihood"] = {"a": 0.3, "b": "likely"}
        elif kind == "ordinal":
            ind |= {"levels": ["lo", "mid", "hi"], "likelihood": {"a": [0.2, 0.3, 0.5], "b": [0.5, 0.3, 0.2]}}
        else:
            ind["likelihood"] = {"a": 1.0, "b": 2.5}
        indicators.append(ind)
    data = {
        "model": {"id": "big", "title": "Big", "period": "week", "start": "2025-W01",
                  "horizon": dt.date(2026, 12, 31), "persistence": 0.9, "elicitation_error": 0.5},
        "scenarios": [{"id": "a", "name": "A", "prior": 0.5, "resolution": "r"},
                      {"id": "b", "name": "B", "prior": 0.5, "resolution": "r"}],
        "indicators": indicators,
    }
    model = parse_model(tomli_w.dumps(data), source="<big>")
    assert len(model.indicators) == N_BIG
    return model


@st.composite
def big_rows(draw: st.DrawFn) -> bytes:
    """Reports against the big model: mostly valid, with near-miss ids, odd values and dates."""
    lines = [",".join(COLUMNS)]
    for _ in range(draw(st.integers(0, 40))):
        k = draw(st.integers(0, N_BIG - 1))
        kind = ("binary", "ordinal", "count")[k % 3]
        odd = draw(st.integers(0, 9)) == 0
        if odd and draw(st.booleans()):
            ident = draw(st.sampled_from([f"ind{k:04d}", f"Ind{k:05d}", f"ind{k:05d}x", f"idn{k:05d}"]))
        else:
            ident = f"ind{k:05d}"
        valid = {"binary": ["0", "1"], "ordinal": ["lo", "mid", "HI"], "count": ["0", "3", "250"]}[kind]
        odd_values = ["nan", "inf", "99999999", "-1", "x", "lo", "1"]
        value = draw(st.sampled_from(odd_values if odd and draw(st.booleans()) else valid))
        date = draw(st.sampled_from(ODD_DATES) if odd and draw(st.booleans())
                    else st.dates(dt.date(2024, 12, 30), dt.date(2026, 12, 31)).map(dt.date.isoformat))
        grade = draw(st.sampled_from(["", "A", "F", "B", "Z" if odd else ""]))
        lines.append(f"{date},{ident},{value},{grade},,,")
    return "\n".join(lines).encode()


@fuzz(25)  # 0.2 s an example (a 10,000-indicator model); `make fuzz` runs 5,000
@given(raw=big_rows())
def test_load_evidence_against_a_10000_indicator_model(raw: bytes, workdir: Path) -> None:
    path = workdir / "big.csv"
    path.write_bytes(raw)
    result = outcome(load_evidence, path, big_model(), expected=EvidenceError)
    if isinstance(result, EvidenceError):
        unknown = [p for p in result.problems if p.field == "indicator"]
        # A near miss of an id gets a did-you-mean hint naming a real indicator.
        for problem in unknown:
            if "did you mean" in problem.allowed:
                suggested = problem.allowed.split("did you mean '")[1].split("'")[0]
                assert suggested in big_model().indicator_ids


def test_big_model_round_trips_and_loads_fast() -> None:
    model = big_model()
    start = time.perf_counter()
    assert parse_model(model.to_toml()) == model
    assert time.perf_counter() - start < CALL_LIMIT_SECONDS
    # Thousands of unknown indicators: the hint search is bounded, so this stays fast.
    rows = "\n".join(f"2025-03-01,unknown{k},1,,,," for k in range(3000))
    start = time.perf_counter()
    with pytest.raises(EvidenceError) as info:
        load_evidence(pd.read_csv(io.StringIO(",".join(COLUMNS) + "\n" + rows), dtype=str,
                                  keep_default_na=False), model)
    assert len(info.value.problems) == 3000
    assert time.perf_counter() - start < CALL_LIMIT_SECONDS
