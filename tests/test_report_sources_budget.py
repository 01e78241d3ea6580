"""The report's by-source table is bounded: above its work budget it is left out, and the page says why."""

from __future__ import annotations

import csv

import pytest

import syriaforecast as sf
from syriaforecast.report import html

from .conftest import DATA

TINY = DATA / "tiny"


@pytest.fixture(scope="module")
def exact():
    return sf.forecast(TINY / "model.toml", TINY / "evidence.csv", exact=True)


def _graded_and_rows() -> tuple[int, int]:
    with open(TINY / "evidence.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    return sum(1 for r in rows if r["reliability"].strip() or r["credibility"].strip()), len(rows)


def test_above_the_budget_sources_are_not_computed_and_the_page_says_why(exact, tmp_path, monkeypatch):
    graded, rows = _graded_and_rows()
    work = graded * rows * 1  # an exact forecast has one draw
    assert graded >= 1
    monkeypatch.setattr(html, "SOURCES_WORK_MAX", work - 1)

    def fail(*args, **kwargs):
        raise AssertionError("sources() ran above the budget")

    monkeypatch.setattr(html, "sources", fail)
    html.write_report(exact, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "The by-source table is left out" in page
    assert f"re-read all {rows:,} reports once per graded report ({graded:,})" in page
    assert f"{work:.2g} report-row draws" in page


def test_within_the_budget_the_table_is_shown(exact, tmp_path, monkeypatch):
    graded, rows = _graded_and_rows()
    monkeypatch.setattr(html, "SOURCES_WORK_MAX", graded * rows)
    html.write_report(exact, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "<h3>By source</h3>" in page and "by-source table is left out" not in page
