"""Tests for syriaforecast.spec.model: TOML model files, validation and the model objects.

Every broken file is the tiny valid model (tests/data/tiny/model.toml) with a
few lines edited, so the line a problem must point at is found here by plain
text search in the edited file, independently of the loader's own locator.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from syriaforecast.errors import ModelFileError, Problem, SyriaforecastError
from syriaforecast.phrases import BANDS, parse_phrase
from syriaforecast.spec.model import (
    Indicator,
    Scenario,
    ScenarioModel,
    load_model,
    parse_model,
    save_model,
)

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny" / "model.toml"
BROKEN = DATA / "broken"
TINY_TEXT = TINY.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- helpers
def edit(text: str, old: str, new: str) -> str:
    """Replace the one line equal to ``old`` by ``new`` (several lines, or none if empty)."""
    lines = text.split("\n")
    assert lines.count(old) == 1, f"{old!r} must be exactly one line of the tiny model"
    at = lines.index(old)
    lines[at : at + 1] = new.split("\n") if new else []
    return "\n".join(lines)


def line_of(text: str, marker: str, occurrence: int = 0) -> int:
    """1-based number of the ``occurrence``-th line equal to ``marker``."""
    numbers = [n for n, line in enumerate(text.split("\n"), 1) if line == marker]
    assert len(numbers) > occurrence, f"{marker!r} not in the edited file"
    return numbers[occurrence]


def write(tmp_path: Path, content: str | bytes, name: str = "model.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@dataclass(frozen=True)
class Case:
    """A broken model file and the problem it must produce."""

    id: str
    edits: tuple[tuple[str, str], ...]
    field: str  # Problem.field, exactly
    value: str  # a substring of Problem.value
    path: str | None  # the TOML key path that must appear in Problem.location (None: no path)
    line: tuple[str, int] | None  # (marker line, occurrence) whose number the location names
    allowed: str  # a substring of Problem.allowed
    encode: Callable[[str], bytes] = field(default=lambda text: text.encode("utf-8"))

    def text(self) -> str:
        text = TINY_TEXT
        for old, new in self.edits:
            text = edit(text, old, new)
        return text


def _case(id, edits, field, value, path, line, allowed, encode=None):
    kwargs = {"encode": encode} if encode else {}
    line = (line, 0) if isinstance(line, str) else line
    return Case(id, tuple(edits), field, value, path, line, allowed, **kwargs)


TITLE = 'title = "Tiny test model"'
PRIOR_CALM, PRIOR_STORM = "prior = 0.7", "prior = 0.3"
TALKS_STORM = "storm = 0.2"
TENSION_CALM = "calm = [0.6, 0.3, 0.1]"
COUNT_CALM, COUNT_STORM = "calm = 0.5", "storm = 3.0"
LEVELS = 'levels = ["low", "medium", "high"]'
START, PERIOD, HORIZON = 'start = "2025-01"', 'period = "month"', "horizon = 2025-12-31"
BASIS = 'basis = "Wire reports"'

MODEL_CASES = [
    # --- file level: syntax and encoding
    _case("toml-syntax-unterminated-string", [(TITLE, 'title = "Tiny test model')],
          "TOML syntax", 'title = "Tiny test model', None, 'title = "Tiny test model', "line 6"),
    _case("toml-syntax-duplicate-key", [("persistence = 0.9", "persistence = 0.9\npersistence = 0.8")],
          "TOML syntax", "persistence = 0.8", None, "persistence = 0.8", "overwrite"),
    _case("toml-syntax-missing-value", [(BASIS, "basis =")],
          "TOML syntax", "basis =", None, "basis =", "Invalid value"),
    _case("utf16-file", [], "encoding", "UTF-16", None, None, "UTF-8",
          encode=lambda text: text.encode("utf-16")),
    _case("latin1-bytes", [(TITLE, 'title = "Tiny tést model"')], "encoding", r"\xe9", None,
          'title = "Tiny tést model"', "UTF-8", encode=lambda text: text.encode("latin-1")),
    # --- structure: unknown and missing keys, types
    _case("unknown-key-in-model", [(TITLE, TITLE + '\ncolour = "blue"')],
          "colour", "'blue'", "model.colour", 'colour = "blue"', "unknown key"),
    _case("unknown-key-in-indicator", [(BASIS, 'bassis = "Wire reports"')],
          "bassis", "'Wire reports'", "indicators[0].bassis", 'bassis = "Wire reports"', "unknown key"),
    _case("unknown-top-level-table", [(COUNT_STORM, COUNT_STORM + "\n\n[extras]\nnote = 1")],
          "extras", "{'note': 1}", "extras", "[extras]", "unknown key"),
    _case("missing-key-title", [(TITLE, "")],
          "title", "(missing)", "model.title", "[model]", "required key is missing"),
    _case("missing-key-horizon", [(HORIZON, "")],
          "horizon", "(missing)", "model.horizon", "[model]", "required key is missing"),
    _case("missing-key-scenario-resolution", [('resolution = "10 or more incidents reported in 2025."', "")],
          "resolution", "(missing)", "scenarios[1].resolution", ("[[scenarios]]", 1),
          "required key is missing"),
    _case("missing-key-scenario-prior", [(PRIOR_STORM, "")],
          "prior", "(missing)", "scenarios[1].prior", ("[[scenarios]]", 1), "required key is missing"),
    _case("missing-key-indicator-text", [('text = "How many incidents are reported?"', "")],
          "text", "(missing)", "indicators[2].text", ("[[indicators]]", 2), "required key is missing"),
    _case("unknown-indicator-type", [('type = "count"', 'type = "counts"')],
          "type", "'counts'", "indicators[2].type", 'type = "counts"', "'binary', 'ordinal' or 'count'"),
    _case("persistence-above-one", [("persistence = 0.9", "persistence = 1.5")],
          "persistence", "1.5", "model.persistence", "persistence = 1.5", "less than or equal to 1"),
    _case("persistence-nan", [("persistence = 0.9", "persistence = nan")],
          "persistence", "nan", "model.persistence", "persistence = nan", "finite"),
    _case("persistence-not-a-number", [("persistence = 0.9", 'persistence = "high"')],
          "persistence", "'high'", "model.persistence", 'persistence = "high"', "valid number"),
    _case("elicitation-error-negative", [("elicitation_error = 0.5", "elicitation_error = -0.1")],
          "elicitation_error", "-0.1", "model.elicitation_error", "elicitation_error = -0.1",
          "greater than or equal to 0"),
    # --- ids
    _case("bad-model-id-space", [('id = "tiny"', 'id = "tiny model"')],
          "id", "'tiny model'", "model.id", 'id = "tiny model"', "a letter followed by"),
    _case("bad-scenario-id-digit-first", [('id = "storm"', 'id = "9storm"')],
          "id", "'9storm'", "scenarios[1].id", 'id = "9storm"', "a letter followed by"),
    _case("bad-indicator-id-punctuation", [('id = "talks"', 'id = "talks!"')],
          "id", "'talks!'", "indicators[0].id", 'id = "talks!"', "a letter followed by"),
    _case("indicator-id-too-long", [('id = "incidents"', 'id = "' + "i" * 65 + '"')],
          "id", "i" * 65, "indicators[2].id", 'id = "' + "i" * 65 + '"', "up to 63"),
    _case("duplicate-scenario-id", [('id = "storm"', 'id = "calm"')],
          "id", "'calm'", "scenarios[1].id", ('id = "calm"', 1), "scenario ids must be unique"),
    _case("duplicate-indicator-id", [('id = "tension"', 'id = "talks"')],
          "id", "'talks'", "indicators[1].id", ('id = "talks"', 1), "indicator ids must be unique"),
    # --- scenario priors
    _case("priors-sum-above-one", [(PRIOR_CALM, "prior = 0.8")],
          "prior", "sum 1.1", "scenarios", ("[[scenarios]]", 0), "must sum to 1"),
    _case("prior-zero", [(PRIOR_STORM, "prior = 0.0")],
          "prior", "0.0", "scenarios[1].prior", "prior = 0.0", "strictly between 0 and 1"),
    _case("prior-boolean", [(PRIOR_STORM, "prior = true")],
          "prior", "True", "scenarios[1].prior", "prior = true", "a probability or an ICD 203 phrase"),
    _case("priors-mixed-number-and-phrase", [(PRIOR_CALM, 'prior = "likely"')],
          "prior", "numbers and phrases mixed", "scenarios", ("[[scenarios]]", 0),
          "every one as an ICD 203 phrase"),
    _case("phrase-priors-bands-above-one",
          [(PRIOR_CALM, 'prior = "likely"'), (PRIOR_STORM, 'prior = "likely"')],
          "prior", "bands summing to 1.10..1.60", "scenarios", ("[[scenarios]]", 0), "can sum to 1"),
    _case("phrase-priors-bands-below-one",
          [(PRIOR_CALM, 'prior = "very unlikely"'), (PRIOR_STORM, 'prior = "unlikely"')],
          "prior", "bands summing to 0.25..0.65", "scenarios", ("[[scenarios]]", 0), "can sum to 1"),
    _case("unknown-phrase-prior",
          [(PRIOR_CALM, 'prior = "pretty likely"'), (PRIOR_STORM, 'prior = "unlikely"')],
          "prior", "'pretty likely'", "scenarios[0].prior", 'prior = "pretty likely"', '"almost certain"'),
    # --- likelihoods
    _case("unknown-phrase-likelihood", [('calm = "likely"', 'calm = "quite likely"')],
          "likelihood.calm", "'quite likely'", "indicators[0].likelihood.calm", 'calm = "quite likely"',
          '"roughly even chance"'),
    _case("binary-likelihood-zero", [(TALKS_STORM, "storm = 0.0")],
          "likelihood.storm", "0.0", "indicators[0].likelihood.storm", "storm = 0.0",
          "0 or 1 would make a single report decisive"),
    _case("binary-likelihood-one", [(TALKS_STORM, "storm = 1")],
          "likelihood.storm", "1", "indicators[0].likelihood.storm", "storm = 1",
          "0 or 1 would make a single report decisive"),
    _case("binary-likelihood-vector", [(TALKS_STORM, "storm = [0.2, 0.8]")],
          "likelihood.storm", "[0.2, 0.8]", "indicators[0].likelihood.storm", "storm = [0.2, 0.8]",
          "a probability in (0, 1)"),
    _case("ordinal-vector-too-short", [(TENSION_CALM, "calm = [0.6, 0.4]")],
          "likelihood.calm", "[0.6, 0.4]", "indicators[1].likelihood.calm", "calm = [0.6, 0.4]",
          "3 probabilities, one per level"),
    _case("ordinal-vector-not-summing-to-one", [(TENSION_CALM, "calm = [0.6, 0.3, 0.2]")],
          "likelihood.calm", "[0.6, 0.3, 0.2]", "indicators[1].likelihood.calm", "calm = [0.6, 0.3, 0.2]",
          "summing to 1 (they sum to 1.1)"),
    _case("ordinal-level-impossible", [(TENSION_CALM, "calm = [0.7, 0.3, 0.0]")],
          "likelihood.calm", "[0.7, 0.3, 0.0]", "indicators[1].likelihood.calm", "calm = [0.7, 0.3, 0.0]",
          "no level may be impossible"),
    _case("ordinal-duplicate-levels", [(LEVELS, 'levels = ["low", "low", "high"]')],
          "levels", "['low', 'low', 'high']", "indicators[1].levels", 'levels = ["low", "low", "high"]',
          "distinct"),
    _case("ordinal-levels-differing-in-case", [(LEVELS, 'levels = ["low", "LOW", "high"]')],
          "levels", "['low', 'LOW', 'high']", "indicators[1].levels", 'levels = ["low", "LOW", "high"]',
          "ignoring case"),
    _case("ordinal-level-with-spaces", [(LEVELS, 'levels = [" low ", "medium", "high"]')],
          "levels", "[' low ', 'medium', 'high']", "indicators[1].levels",
          'levels = [" low ", "medium", "high"]', "without surrounding spaces"),
    _case("ordinal-single-level", [(LEVELS, 'levels = ["all"]')],
          "levels", "['all']", "indicators[1].levels", 'levels = ["all"]', "at least 2"),
    _case("count-expected-zero", [(COUNT_CALM, "calm = 0")],
          "likelihood.calm", "0", "indicators[2].likelihood.calm", "calm = 0", "between 1e-6 and 1e4"),
    _case("count-expected-negative", [(COUNT_STORM, "storm = -3.0")],
          "likelihood.storm", "-3.0", "indicators[2].likelihood.storm", "storm = -3.0",
          "between 1e-6 and 1e4"),
    _case("count-expected-phrase", [(COUNT_STORM, 'storm = "many"')],
          "likelihood.storm", "'many'", "indicators[2].likelihood.storm", 'storm = "many"', "a number > 0"),
    _case("levels-on-binary", [(BASIS, BASIS + '\nlevels = ["no", "yes"]')],
          "levels", "['no', 'yes']", "indicators[0].levels", 'levels = ["no", "yes"]',
          "only ordinal indicators take levels (type is 'binary')"),
    _case("levels-on-count", [('type = "count"', 'type = "count"\nlevels = ["few", "many"]')],
          "levels", "['few', 'many']", "indicators[2].levels", 'levels = ["few", "many"]',
          "only ordinal indicators take levels (type is 'count')"),
    _case("missing-scenario-in-likelihood", [(TALKS_STORM, "")],
          "likelihood.storm", "(missing)", "indicators[0].likelihood", ("[indicators.likelihood]", 0),
          "a likelihood for every scenario (calm, storm)"),
    _case("unknown-scenario-in-likelihood", [(TALKS_STORM, TALKS_STORM + "\nfog = 0.5")],
          "likelihood.fog", "0.5", "indicators[0].likelihood.fog", "fog = 0.5",
          "unknown scenario; scenarios are calm, storm"),
    _case("unknown-scenario-in-rationale",
          [('storm = "Storm months are mostly high."',
            'storm = "Storm months are mostly high."\nfog = "No."')],
          "rationale.fog", "'fog'", "indicators[1].rationale.fog", 'fog = "No."', "unknown scenario"),
    # --- periods and dates
    _case("bad-period", [(PERIOD, 'period = "year"')],
          "period", "'year'", "model.period", 'period = "year"', "'month', 'week' or 'quarter'"),
    _case("start-month-not-zero-padded", [(START, 'start = "2025-1"')],
          "start", "'2025-1'", "model.start", 'start = "2025-1"', '"YYYY-MM"'),
    _case("start-month-13", [(START, 'start = "2025-13"')],
          "start", "'2025-13'", "model.start", 'start = "2025-13"', '"YYYY-MM"'),
    _case("start-week-spelling-in-monthly-model", [(START, 'start = "2025-W01"')],
          "start", "'2025-W01'", "model.start", 'start = "2025-W01"', "a month written as"),
    _case("start-month-spelling-in-weekly-model", [(PERIOD, 'period = "week"')],
          "start", "'2025-01'", "model.start", START, 'a week written as "YYYY-Www"'),
    _case("start-week-53-of-52-week-year", [(PERIOD, 'period = "week"'), (START, 'start = "2025-W53"')],
          "start", "'2025-W53'", "model.start", 'start = "2025-W53"', "an ISO week of 2025, which has 52"),
    _case("start-quarter-without-dash", [(PERIOD, 'period = "quarter"'), (START, 'start = "2025Q1"')],
          "start", "'2025Q1'", "model.start", 'start = "2025Q1"', '"YYYY-Qn"'),
    _case("start-non-ascii-digits", [(START, 'start = "٢٠٢٥-01"')],
          "start", "'٢٠٢٥-01'", "model.start", 'start = "٢٠٢٥-01"', '"YYYY-MM"'),
    _case("horizon-before-start", [(HORIZON, "horizon = 2024-06-30")],
          "horizon", "2024-06-30", "model.horizon", "horizon = 2024-06-30",
          "on or after the first period's start (2025-01-01)"),
    _case("horizon-quoted-with-spaces-before-start", [(HORIZON, 'horizon = " 2024-06-30 "')],
          "horizon", "2024-06-30", "model.horizon", 'horizon = " 2024-06-30 "', "on or after"),
    _case("horizon-not-a-date", [(HORIZON, 'horizon = "soon"')],
          "horizon", "'soon'", "model.horizon", 'horizon = "soon"', "expected a date such as 2027-12-31"),
    _case("horizon-unix-timestamp", [(HORIZON, "horizon = 1767139200")],
          "horizon", "1767139200", "model.horizon", "horizon = 1767139200", "expected a date"),
    _case("horizon-zero", [(HORIZON, "horizon = 0")],
          "horizon", "0", "model.horizon", "horizon = 0", "expected a date"),
    _case("horizon-too-far", [(HORIZON, "horizon = 2600-01-01")],
          "horizon", "2600-01-01", "model.horizon", "horizon = 2600-01-01", "at most 5000 periods"),
]


def _problem_matching(problems: tuple[Problem, ...], case: Case) -> Problem:
    found = [
        p for p in problems
        if p.field == case.field and case.value in p.value
        and (case.path is None or re.search(rf"(^|, ){re.escape(case.path)}( |$)", p.location))
    ]
    assert found, f"no problem with field {case.field!r}, value ~{case.value!r}, path {case.path!r} in:\n" + \
        "\n".join(map(str, problems))
    return found[0]


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.id for c in MODEL_CASES])
def test_broken_model_is_refused_with_a_precise_problem(case: Case, tmp_path: Path) -> None:
    text = case.text()
    path = write(tmp_path, case.encode(text))
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    error = info.value
    assert isinstance(error, SyriaforecastError)
    assert error.problems, "a ModelFileError must list its problems"
    problem = _problem_matching(error.problems, case)
    assert problem.file == str(path)
    assert case.allowed in problem.allowed
    if case.line is not None:
        expected = line_of(text, *case.line)
        assert re.match(rf"line {expected}(,|$)", problem.location), (problem.location, expected)
    # The message shows every problem, with the file name and what is allowed.
    assert str(path) in str(error)
    assert all(str(p) in str(error) for p in error.problems)


def test_broken_model_ids_are_unique() -> None:
    ids = [c.id for c in MODEL_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30


def test_parse_model_from_text_names_the_source() -> None:
    text = edit(TINY_TEXT, PRIOR_CALM, "prior = 0.8")
    with pytest.raises(ModelFileError) as info:
        parse_model(text, source="pasted.toml")
    assert info.value.file == "pasted.toml"
    assert all(p.file == "pasted.toml" for p in info.value.problems)
    assert str(info.value).startswith("1 problem in model file pasted.toml:")


def test_all_problems_in_one_file_are_reported_together() -> None:
    path = BROKEN / "five_problems.toml"
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    problems = info.value.problems
    expected = {
        ("colour", "model.colour"),
        ("prior", "scenarios"),
        ("likelihood.storm", "indicators[0].likelihood.storm"),
        ("likelihood.calm", "indicators[1].likelihood.calm"),
        ("likelihood.storm", "indicators[2].likelihood.storm"),
    }
    assert len(problems) == 5, "\n".join(map(str, problems))
    got = {(p.field, re.sub(r"^line \d+, | \(id .*\)$", "", p.location)) for p in problems}
    assert got == expected
    # Five different places in the file, each named by its own line.
    lines = [int(re.match(r"line (\d+)", p.location).group(1)) for p in problems]
    assert len(set(lines)) == 5
    text = path.read_text().split("\n")
    assert {text[n - 1].split("=")[0].strip() for n in lines} == {
        "colour", "[[scenarios]]", "storm", "calm",
    }
    assert str(info.value).startswith(f"5 problems in model file {path}:")


def test_empty_model_file_lists_the_three_missing_sections(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as info:
        load_model(write(tmp_path, ""))
    assert {(p.field, p.value) for p in info.value.problems} == {
        ("model", "(missing)"), ("scenarios", "(missing)"), ("indicators", "(missing)")
    }


def test_missing_file_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as info:
        load_model(tmp_path / "nowhere.toml")
    (problem,) = info.value.problems
    assert problem.field == "file"
    assert "cannot be read" in problem.allowed


def test_deeply_nested_toml_is_refused_not_a_recursion_error() -> None:
    text = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ModelFileError) as info:
        parse_model(text)
    assert info.value.problems[0].field == "TOML syntax"


def test_horizon_with_time_of_day_is_a_problem_not_a_crash() -> None:
    text = edit(TINY_TEXT, HORIZON, "horizon = 2025-12-31T05:00:00")
    with pytest.raises(ModelFileError) as info:
        parse_model(text)
    (problem,) = info.value.problems
    assert problem.field == "horizon"
    assert "zero time" in problem.allowed
    # Midnight is a plain date.
    model = parse_model(edit(TINY_TEXT, HORIZON, "horizon = 2025-12-31T00:00:00"))
    assert model.horizon == load_model(TINY).horizon


@pytest.mark.parametrize("value", ['["month"]', "{ kind = \"month\" }", "12"])
def test_period_of_the_wrong_type_is_a_problem_not_a_crash(value: str) -> None:
    with pytest.raises(ModelFileError) as info:
        parse_model(edit(TINY_TEXT, PERIOD, f"period = {value}"))
    assert [p.field for p in info.value.problems] == ["period"]


# --------------------------------------------------------------------------- accepted variants
def test_tiny_model_loads_with_the_values_written(tiny_model_path: Path) -> None:
    model = load_model(tiny_model_path)
    raw = tomllib.loads(tiny_model_path.read_text())
    assert model.id == raw["model"]["id"] == "tiny"
    assert model.scenario_ids == ("calm", "storm")
    assert model.prior == (0.7, 0.3)
    assert model.indicator_ids == ("talks", "tension", "incidents")
    assert model.groups == ("politics", "security")
    talks, tension, incidents = model.indicators
    assert talks.likelihood["calm"] == "likely" and talks.likelihood["storm"] == 0.2
    likely = parse_phrase("likely")
    assert talks.band("calm") == likely and talks.band("storm") is None
    # A phrase is its band's midpoint on the logit scale.
    lo, hi = math.log(0.55 / 0.45), math.log(0.8 / 0.2)
    assert talks.probability("calm") == pytest.approx(1 / (1 + math.exp(-(lo + hi) / 2)))
    assert talks.probability("storm") == pytest.approx(0.2)
    assert tension.levels == ("low", "medium", "high")
    assert tension.likelihood["storm"] == (0.1, 0.3, 0.6)
    assert tension.rationale["calm"] == "Calm months are mostly low."
    assert incidents.levels == () and incidents.n_levels == 0
    assert model.horizon_index == 11
    assert model.period_labels(3) == ["2025-01", "2025-02", "2025-03"]
    assert model.path == tiny_model_path
    import hashlib

    assert model.sha256 == hashlib.sha256(tiny_model_path.read_bytes()).hexdigest()


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    with_bom = load_model(write(tmp_path, b"\xef\xbb\xbf" + TINY_TEXT.encode()))
    assert with_bom == load_model(TINY)


def test_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    crlf = load_model(write(tmp_path, TINY_TEXT.replace("\n", "\r\n")))
    assert crlf == load_model(TINY)


def test_phrase_priors_are_normalised_band_midpoints() -> None:
    text = edit(edit(TINY_TEXT, PRIOR_CALM, 'prior = "Likely"'), PRIOR_STORM, 'prior = "improbable"')
    model = parse_model(text)
    mids = [parse_phrase("likely").midpoint, parse_phrase("unlikely").midpoint]
    assert model.prior == pytest.approx([m / sum(mids) for m in mids])
    assert sum(model.prior) == pytest.approx(1.0)
    assert [s.prior_phrase for s in model.scenarios] == ["Likely", "improbable"]


@pytest.mark.parametrize(
    ("period", "start", "horizon", "n"),
    [("week", "2025-W02", "2025-03-30", 11), ("quarter", "2025-Q1", "2026-12-31", 7),
     ("week", "2020-W53", "2021-01-03", 0)],
)
def test_weekly_and_quarterly_models(period: str, start: str, horizon: str, n: int) -> None:
    text = edit(edit(edit(TINY_TEXT, PERIOD, f'period = "{period}"'), START, f'start = "{start}"'),
                HORIZON, f"horizon = {horizon}")
    model = parse_model(text)
    assert model.horizon_index == n
    assert model.period_labels(1) == [start]


def test_mapping_input_equals_text_input() -> None:
    from_text = parse_model(TINY_TEXT)
    from_mapping = parse_model(tomllib.loads(TINY_TEXT))
    assert from_mapping == from_text
    assert len(from_mapping.sha256) == 64


def test_mapping_input_with_non_toml_values_is_a_model_file_error() -> None:
    data = tomllib.loads(TINY_TEXT)
    data["model"]["title"] = None
    data["scenarios"][0]["resolution"] = object()
    data["scenarios"][1]["prior"] = None
    with pytest.raises(ModelFileError) as info:
        parse_model(data)
    assert {p.field for p in info.value.problems} == {"title", "resolution", "prior"}


# --------------------------------------------------------------------------- round trips
def _phrase_model_text() -> str:
    text = edit(TINY_TEXT, PRIOR_CALM, 'prior = "likely"')
    return edit(text, PRIOR_STORM, 'prior = "unlikely"')


@pytest.mark.parametrize("text", [TINY_TEXT, _phrase_model_text()], ids=["numbers", "phrases"])
def test_to_toml_round_trip(text: str) -> None:
    model = parse_model(text)
    again = parse_model(model.to_toml())
    assert again == model
    assert again.to_toml() == model.to_toml()
    # Equality is not vacuous: a changed elicitation is a different model.
    changed = parse_model(edit(text, TALKS_STORM, "storm = 0.25"))
    assert changed != model


def test_empty_rationale_table_round_trips_as_no_rationale() -> None:
    text = edit(edit(TINY_TEXT, 'calm = "Calm months are mostly low."', ""),
                'storm = "Storm months are mostly high."', "")
    model = parse_model(text)
    assert model.indicators[1].rationale == ""
    assert parse_model(model.to_toml()) == model


def test_save_model_then_load_model(tmp_path: Path) -> None:
    model = load_model(TINY)
    path = save_model(model, tmp_path / "sub" / "saved.toml")
    loaded = load_model(path)
    assert loaded == model
    assert loaded.path == path
    assert path.read_text() == model.to_toml()
    assert [p.name for p in path.parent.iterdir()] == ["saved.toml"]  # no temp file left


def test_save_model_is_atomic_when_the_write_fails(tmp_path: Path, monkeypatch) -> None:
    import os

    target = tmp_path / "model.toml"
    target.write_bytes(b"original")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_model(load_model(TINY), target)
    assert target.read_bytes() == b"original"
    assert [p.name for p in tmp_path.iterdir()] == ["model.toml"]


# --------------------------------------------------------------------------- objects
def test_model_objects_are_immutable() -> None:
    model = load_model(TINY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.scenarios[0].prior = 0.5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.indicators[0].type = "count"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.indicators[0].likelihood["calm"] = 0.5  # type: ignore[index]
    with pytest.raises(TypeError):
        model.indicators[1].rationale["calm"] = "changed"  # type: ignore[index]
    assert isinstance(model.scenarios, tuple) and isinstance(model.indicators, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Problem("f", "line 1", "x", "1", "y").value = "2"  # type: ignore[misc]


def test_reprs_are_readable() -> None:
    model = load_model(TINY)
    assert repr(model) == (
        "ScenarioModel('tiny': 2 scenarios, 3 indicators in 2 groups, monthly from 2025-01, "
        "horizon 2025-12-31)"
    )
    assert repr(model.scenarios[0]) == "Scenario('calm', 'Calm', prior=0.7)"
    assert repr(model.indicators[1]) == "Indicator('tension', group='politics', type='ordinal')"
    assert str(Problem("m.toml", "line 3, model.id", "id", "'x y'", "a letter")) == (
        "m.toml: line 3, model.id: id = 'x y': a letter"
    )


def test_public_types_are_exported() -> None:
    from syriaforecast import spec

    assert spec.ScenarioModel is ScenarioModel
    assert spec.Scenario is Scenario and spec.Indicator is Indicator
    assert len(BANDS) == 7
