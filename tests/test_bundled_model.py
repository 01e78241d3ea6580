"""The bundled Russia–Syria model as an analytic product (issue #20).

Checks that can fail when someone edits the bundled files: every evidence row has its
provenance (publication date, coder, link where known, one grade per report id), no row
leans on the analysis itself or is read as certain, the scenarios and indicators carry
their basis and rationale, and the sensitivity figures quoted in the README and the
review are what the API computes.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

import syriaforecast as sf

ROOT = Path(__file__).resolve().parents[1]
MODEL = sf.bundled_model()
EVIDENCE = sf.bundled_evidence()
REVIEW = ROOT / "docs" / "bundled-model-review.md"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def model() -> sf.ScenarioModel:
    return sf.load_model(MODEL)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with EVIDENCE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_row_has_provenance(rows: list[dict[str, str]]) -> None:
    reports: dict[str, set[str]] = {}
    for line, row in enumerate(rows, start=2):
        published = dt.date.fromisoformat(row["published"])
        assert published >= dt.date.fromisoformat(row["date"]), line
        assert row["url"] == "" or re.match(r"^https?://\S+$", row["url"]), line
        assert row["coder"], line
        if row["report"]:
            reports.setdefault(row["report"], set()).add(row["reliability"] + row["credibility"])
    # A report id names one source's reading of several cells, with one grade; an id used
    # once would be a typo (the loader accepts it, so this is the place to catch it).
    counts = {report: sum(row["report"] == report for row in rows) for report in reports}
    assert reports and min(counts.values()) >= 2, counts
    assert all(len(grades) == 1 for grades in reports.values()), reports


def test_no_row_cites_the_analysis_or_is_read_as_certain(rows: list[dict[str, str]]) -> None:
    for line, row in enumerate(rows, start=2):
        assert not row["source"].lower().startswith("analysis"), line
        assert "open-source review" not in row["source"].lower(), line
        assert row["reliability"] and row["credibility"], line


def test_scenarios_exclusive_by_order_and_indicators_explained(model: sf.ScenarioModel) -> None:
    assert model.scenario_ids == ("limited_return", "security_capture", "grand_bargain", "russian_exit")
    assert sum(s.prior for s in model.scenarios) == pytest.approx(1.0)
    for indicator in model.indicators:
        assert indicator.basis, indicator.id
        # Every indicator says why, scenario by scenario.
        assert isinstance(indicator.rationale, Mapping), indicator.id
        assert set(indicator.rationale) == set(model.scenario_ids), indicator.id
    # The removed condition must not come back: it drove the largest indicator on S2.
    capture = next(s for s in model.scenarios if s.id == "security_capture")
    assert "leader-level" not in capture.resolution


def _table(text: str, header: str) -> dict[float, list[float]]:
    """Rows ``| persistence | S1 | S2 | S3 | exit |`` of the table under ``header``."""
    block = text[text.index(header) :]
    out: dict[float, list[float]] = {}
    for line in block.splitlines()[1:]:
        match = re.match(r"^\|\s*([01]\.\d+|1\.0)\s*\|(.*)\|\s*$", line)
        if match:
            out[float(match.group(1))] = [float(v) for v in match.group(2).split("|")]
        elif out:
            break
    return out


@pytest.mark.parametrize("path", [README, REVIEW], ids=["README", "review"])
def test_quoted_sensitivity_is_what_the_api_computes(path: Path, model: sf.ScenarioModel) -> None:
    quoted = _table(path.read_text(encoding="utf-8"), "| persistence |")
    assert set(quoted) == {0.95, 0.98, 0.99, 1.0}
    evidence = sf.load_evidence(EVIDENCE, model)
    for persistence, figures in quoted.items():
        result = sf.forecast(dataclasses.replace(model, persistence=persistence), evidence, exact=True)
        computed = [100 * float(v) for v in result.mean("horizon").values]
        assert figures == pytest.approx(computed, abs=0.051), persistence
