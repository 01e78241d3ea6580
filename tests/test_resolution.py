"""Scoring issued forecasts on resolution: hand-computed scores, time averages, the team record."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import syriaforecast as sf
from syriaforecast.backtest.resolution import score_entries, score_journal, standing_days, team_track_record
from syriaforecast.cli import main
from syriaforecast.errors import SyriaforecastError
from syriaforecast.journal import JournalEntry, open_journal

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tripwires_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"


def _entry(number: int, issued: str, probs: dict[str, float], model_id: str = "q") -> JournalEntry:
    when = dt.datetime.fromisoformat(issued).replace(tzinfo=dt.UTC)
    return JournalEntry(
        number=number,
        issued=when,
        as_of=when.date(),
        model_id=model_id,
        model_sha256="",
        horizon_date=dt.date(2025, 6, 30),
        mode="exact",
        scenarios={s: s for s in probs},
        horizon=probs,
    )


ENTRIES = [
    _entry(1, "2025-01-10T08:00", {"a": 0.5, "b": 0.3, "c": 0.2}),
    _entry(2, "2025-01-10T17:00", {"a": 0.6, "b": 0.3, "c": 0.1}),  # replaces #1 the same day
    _entry(3, "2025-01-20T12:00", {"a": 0.2, "b": 0.7, "c": 0.1}),
    _entry(4, "2025-02-05T09:00", {"a": 0.1, "b": 0.85, "c": 0.05}),
    _entry(5, "2025-03-02T09:00", {"a": 0.05, "b": 0.9, "c": 0.05}),  # after the resolution date
]
RESOLVED = dt.date(2025, 2, 28)


def test_per_forecast_scores_equal_hand_computation() -> None:
    scores = score_entries(ENTRIES, "b", RESOLVED)
    # Entry 3: Brier (0.2-0)^2 + (0.7-1)^2 + (0.1-0)^2 = 0.04 + 0.09 + 0.01; log score -ln 0.7.
    row = scores.forecasts.loc[3]
    assert row["brier"] == pytest.approx(0.14, abs=1e-12)
    assert row["log_score"] == pytest.approx(-math.log(0.7), abs=1e-12)
    row = scores.forecasts.loc[1]
    assert row["brier"] == pytest.approx(0.25 + 0.49 + 0.04, abs=1e-12)
    assert row["log_score"] == pytest.approx(-math.log(0.3), abs=1e-12)
    assert list(scores.forecasts.index) == [1, 2, 3, 4, 5]
    assert scores.outcome == "b" and scores.scenarios == ("a", "b", "c")


def _direct_time_average(
    entries: list[JournalEntry], outcome: str, resolved: dt.date
) -> tuple[float, float, int]:
    """Walk the days one by one and score the forecast standing on each."""
    day = min(e.issued.date() for e in entries)
    briers, logs = [], []
    while day <= resolved:
        standing = [e for e in entries if e.issued.date() <= day]
        latest = max(standing, key=lambda e: e.issued).horizon
        briers.append(sum((p - (s == outcome)) ** 2 for s, p in latest.items()))
        logs.append(-math.log(latest[outcome]))
        day += dt.timedelta(days=1)
    return sum(briers) / len(briers), sum(logs) / len(logs), len(briers)


def test_time_averaged_scores_equal_a_direct_computation() -> None:
    scores = score_entries(ENTRIES, "b", RESOLVED)
    brier, log, days = _direct_time_average(ENTRIES, "b", RESOLVED)
    assert scores.days == days == (RESOLVED - dt.date(2025, 1, 10)).days + 1 == 50
    assert scores.brier == pytest.approx(brier, abs=1e-12)
    assert scores.log_score == pytest.approx(log, abs=1e-12)
    # Days each stood: #1 none (replaced the same day), #2 10 days, #3 16, #4 24, #5 none (after resolution).
    assert list(scores.forecasts["days"]) == [0, 10, 16, 24, 0]


def test_standing_days_edge_cases() -> None:
    d = dt.date
    assert list(standing_days([d(2025, 1, 1)], d(2025, 1, 1))) == [1]
    assert list(standing_days([d(2025, 1, 1), d(2025, 1, 1)], d(2025, 1, 3))) == [0, 3]
    assert list(standing_days([d(2025, 1, 5)], d(2025, 1, 1))) == [0]
    with pytest.raises(SyriaforecastError, match="order of issue"):
        standing_days([d(2025, 1, 2), d(2025, 1, 1)], d(2025, 1, 3))
    with pytest.raises(SyriaforecastError, match="after the resolution date"):
        score_entries(ENTRIES[-1:], "b", RESOLVED)
    with pytest.raises(SyriaforecastError, match="not a scenario"):
        score_entries(ENTRIES, "z", RESOLVED)
    with pytest.raises(SyriaforecastError, match="several models"):
        score_entries(
            [*ENTRIES[:2], _entry(9, "2025-01-11T00:00", {"a": 0.5, "b": 0.5}, "other")], "a", RESOLVED
        )


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 60), min_size=1, max_size=8).map(sorted),
    resolved_offset=st.integers(-5, 90),
)
def test_standing_days_partition_the_open_days(offsets: list[int], resolved_offset: int) -> None:
    start = dt.date(2025, 1, 1)
    issued = [start + dt.timedelta(days=k) for k in offsets]
    resolved = start + dt.timedelta(days=resolved_offset)
    days = standing_days(issued, resolved)
    assert days.sum() == max(0, (resolved - issued[0]).days + 1)
    # Day by day: each open day belongs to the last forecast issued on or before it.
    expect = [0] * len(issued)
    day = issued[0]
    while day <= resolved:
        expect[max(i for i, d in enumerate(issued) if d <= day)] += 1
        day += dt.timedelta(days=1)
    assert list(days) == expect


def test_team_track_record_pools_questions() -> None:
    one = score_entries(ENTRIES, "b", RESOLVED)
    other = [
        _entry(1, "2025-01-01T00:00", {"x": 0.7, "y": 0.3}, "q2"),
        _entry(2, "2025-01-15T00:00", {"x": 0.4, "y": 0.6}, "q2"),
    ]
    two = score_entries(other, "x", dt.date(2025, 1, 31))
    record = team_track_record([one, two], n_boot=0)
    assert record.brier == pytest.approx((one.brier + two.brier) / 2, abs=1e-12)
    assert record.log_score == pytest.approx((one.log_score + two.log_score) / 2, abs=1e-12)
    data = record.reliability.sel(scenario="all scenarios")
    assert data.sizes["point"] == 5 * 3 + 2 * 2  # every scenario probability of every issued forecast
    # The pooled binary Brier of the points is the sum of the multi-class Brier scores over points.
    total = sum(one.forecasts["brier"]) + sum(two.forecasts["brier"])
    assert float(data["brier"]) * data.sizes["point"] == pytest.approx(total, abs=1e-12)
    assert float(data["outcome"].sum()) == 5 + 2
    with pytest.raises(SyriaforecastError, match="twice"):
        team_track_record([one, one])


def test_score_journal_and_cli_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    for as_of, issued in (
        ("2025-02-28", "2025-03-01"),
        ("2025-04-30", "2025-05-01"),
        ("2025-06-30", "2025-07-01"),
    ):
        sf.issue(sf.forecast(model, evidence, as_of=as_of, exact=True), tmp_path / "q1", issued=issued)
    (tmp_path / "q1" / "outcome.toml").write_text('scenario = "war"\ndate = 2025-09-10\n')
    scores = score_journal(tmp_path / "q1", tmp_path / "q1" / "outcome.toml")
    assert scores.days == (dt.date(2025, 9, 10) - dt.date(2025, 3, 1)).days + 1
    direct = _direct_time_average(open_journal(tmp_path / "q1").entries(), "war", dt.date(2025, 9, 10))
    assert scores.brier == pytest.approx(direct[0], abs=1e-12)

    # A second question (same model, another id) makes a team record; outcome.toml is found in each folder.
    other = sf.parse_model(model.to_toml().replace('id = "tripwires_tiny"', 'id = "tripwires_tiny_2"'))
    other_fc = sf.forecast(other, sf.load_evidence(EVIDENCE, other), as_of="2025-03-31", exact=True)
    sf.issue(other_fc, tmp_path / "q2", issued="2025-04-01")
    (tmp_path / "q2" / "outcome.toml").write_text('scenario = "calm"\ndate = 2025-08-31\n')
    monkeypatch.chdir(tmp_path)
    code = main(
        ["journal", str(tmp_path / "q1"), str(tmp_path / "q2"), "--json", "--out", str(tmp_path / "plots")]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = [r for r in out["forecasts"] if r["model_id"] == "tripwires_tiny"]
    for row, (_, expect) in zip(rows, scores.forecasts.iterrows(), strict=True):
        assert row["brier"] == pytest.approx(expect["brier"], abs=1e-6)
        assert row["log_score"] == pytest.approx(expect["log_score"], abs=1e-6)
    assert [q["question"] for q in out["questions"]] == ["tripwires_tiny", "tripwires_tiny_2"]
    assert out["questions"][0]["time_averaged_brier"] == pytest.approx(scores.brier, abs=1e-6)
    assert out["team"]["questions"] == 2 and out["team"]["forecasts"] == 4
    assert [r["issued"] for r in out["forecasts"]] == sorted(r["issued"] for r in out["forecasts"])
    names = sorted(Path(p).name for p in out["plots"])
    assert names == ["journal_tripwires_tiny.png", "journal_tripwires_tiny_2.png", "track_record.png"]
