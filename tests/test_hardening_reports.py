"""Per-report contributions: one leave-out per distinct (cell, value, grade); work bounded, refused above."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.report import influence
from syriaforecast.report.influence import ReportBudgetError, evidence_contributions, log_odds_db

from .conftest import DATA

ROWS = [
    ("2025-01-06", "talks", "1", "B", "2"),
    ("2025-01-08", "talks", "1", "B", "2"),  # the same kind as the row before
    ("2025-01-09", "talks", "0", "C", "3"),
    ("2025-01-10", "talks", "1", "B", "2"),
    ("2025-02-03", "tension", "high", "A", "1"),
    ("2025-02-05", "tension", "high", "A", "1"),
    ("2025-02-10", "incidents", "2", "", ""),
    ("2025-02-11", "incidents", "2", "", ""),
]


@pytest.fixture(scope="module")
def model():
    return sf.load_model(DATA / "tiny" / "model.toml")


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["date", "indicator", "value", "reliability", "credibility"])


def test_identical_reports_share_one_leave_out_that_matches_brute_force(model):
    raw = frame(ROWS)
    result = sf.forecast(model, raw, exact=True)
    out = evidence_contributions(result, by="report")
    assert out.attrs["n_kinds"] == 4 and out.sizes["report"] == len(ROWS)
    assert out.attrs["route"] == "per-state readings"  # the linear route, checked against brute force
    full = log_odds_db(np.log(result.horizon.values.reshape(-1, 2)[0]))  # takes log probabilities
    for k in range(len(ROWS)):
        without = sf.forecast(model, raw.drop(index=k), as_of=result.as_of, exact=True)
        expected = full - log_odds_db(np.log(without.horizon.values.reshape(-1, 2)[0]))
        np.testing.assert_allclose(out["mean"].sel(report=k + 1).values, expected, atol=1e-9)
        np.testing.assert_allclose(out["decibans"].sel(report=k + 1).values[0], expected, atol=1e-9)


def test_work_grows_linearly_with_copies_of_a_log(model):
    from syriaforecast.report.influence import prepare, report_kinds

    works = []
    for copies in (1, 4, 16):
        result = sf.forecast(model, frame(ROWS * copies), exact=True)
        setup = prepare(result)
        kind_of, representatives, work = report_kinds(setup, np.flatnonzero(setup.report_cell >= 0))
        assert len(representatives) == 4 and len(kind_of) == len(ROWS) * copies
        works.append(work)
    assert works == [works[0], 4 * works[0], 16 * works[0]]


def test_over_the_budget_by_report_is_refused_and_the_report_shows_indicators(model, tmp_path, monkeypatch):
    from syriaforecast.report import leave_one_out
    from syriaforecast.report.html import write_report

    result = sf.forecast(model, frame(ROWS), exact=True)
    # Should the linear route ever disagree with the engine, the direct route runs within a budget.
    monkeypatch.setattr(leave_one_out, "report_removals", lambda *args, **kwargs: None)
    assert evidence_contributions(result, by="report").attrs["route"] == "direct"
    monkeypatch.setattr(influence, "REPORT_WORK_MAX", 3)
    with pytest.raises(ReportBudgetError, match=r'above the budget of 3.*by="indicator"'):
        evidence_contributions(result, by="report")
    write_report(result, tmp_path)
    assert "single reports are not shown" in (tmp_path / "report.html").read_text()
    monkeypatch.setattr(influence, "PER_DRAW_MAX", 1)
    monkeypatch.setattr(influence, "REPORT_WORK_MAX", 10**6)
    out = evidence_contributions(result, by="report")
    assert "decibans" not in out and "decibans_omitted" in out.attrs


def test_linear_route_matches_the_direct_route_on_sampled_draws(model, monkeypatch):
    from syriaforecast.report import leave_one_out

    rows = [*ROWS, ("2025-03-03", "incidents", "5", "D", "4"), ("2025-03-04", "incidents", "1", "", ""),
            ("2025-03-05", "tension", "low", "F", "6")]  # fmt: skip
    with pytest.warns(sf.ConvergenceWarning):  # few draws: only the arithmetic matters here
        result = sf.forecast(model, frame(rows), draws=30, tune=30, chains=1, seed=3)
    fast = evidence_contributions(result, by="report", max_draws=20)
    assert fast.attrs["route"] == "per-state readings"
    monkeypatch.setattr(leave_one_out, "report_removals", lambda *args, **kwargs: None)
    direct = evidence_contributions(result, by="report", max_draws=20)
    assert direct.attrs["route"] == "direct"
    np.testing.assert_allclose(fast["decibans"].values, direct["decibans"].values, atol=1e-8)

