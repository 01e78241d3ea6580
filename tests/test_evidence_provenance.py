"""Evidence as analysts have it (#16): publication dates, report ids, urls and coders.

A report published after an as-of date must change nothing at that date and be
used after it; every as-of view (forecast, backtest cutoffs, ``since``) follows
``published``. The expected values come from forecasts on evidence with the
late report removed by hand, not from the filtering under test.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import syriaforecast as sf
import syriaforecast.backtest as bt
from syriaforecast.errors import EvidenceError
from syriaforecast.report import since

from .test_fuzz_loaders import ODD_TEXT

CASES = Path(__file__).parent / "data" / "cases"
HEADER = "date,indicator,value,reliability,credibility,source,note,published,report,url,coder"


@pytest.fixture
def model(tiny_model_path: Path) -> sf.ScenarioModel:
    return sf.load_model(tiny_model_path)


def load(model: sf.ScenarioModel, *rows: str, header: str = HEADER) -> sf.Evidence:
    frame = pd.DataFrame([r.split(",") for r in rows], columns=header.split(","))
    return sf.load_evidence(frame, model)


def problems(model: sf.ScenarioModel, *rows: str, tmp_path: Path) -> list:
    path = tmp_path / "e.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(EvidenceError) as info:
        sf.load_evidence(path, model)
    return info.value.problems


# --------------------------------------------------------------------------- validation
def test_published_defaults_to_date_and_is_kept(model):
    evidence = load(
        model,
        "2025-01-06,talks,1,,,Wire,,,r1,https://example.org/a,alice",
        "2025-02-06,talks,0,B,2,Wire,,2025-04-01,r2,,bob",
    )
    table = evidence.to_dataframe()
    assert list(table["published"]) == [dt.date(2025, 1, 6), dt.date(2025, 4, 1)]
    assert list(table["report"]) == ["r1", "r2"]
    assert list(table["url"]) == ["https://example.org/a", ""]
    assert list(table["coder"]) == ["alice", "bob"]
    assert evidence.last_date == dt.date(2025, 2, 6)
    assert evidence.last_published == dt.date(2025, 4, 1)


@pytest.mark.parametrize(
    ("row", "field", "allowed"),
    [
        ("2025-02-06,talks,0,B,2,,,2025-02-05,,,", "published", "on or after the row's date 2025-02-06"),
        ("2025-02-06,talks,0,B,2,,,2025-02-31,,,", "published", "an ISO date"),
        ("2025-02-06,talks,0,B,2,,,,,ftp://example.org/x,", "url", "http:// or https://"),
        ("2025-02-06,talks,0,B,2,,,,,https:///nohost,", "url", "with a host"),
        ("2025-02-06,talks,0,B,2,,,,,http://exa mple.org,", "url", "no spaces"),
    ],
)
def test_bad_provenance_is_located(model, tmp_path, row, field, allowed):
    found = problems(model, "2025-01-06,talks,1,,,,,,,,", row, tmp_path=tmp_path)
    assert len(found) == 1
    assert found[0].location == "line 3"
    assert found[0].field == field
    assert allowed in found[0].allowed


def test_report_id_reused_with_different_grades_is_refused(model, tmp_path):
    found = problems(
        model,
        "2025-02-06,talks,0,B,2,,,,visit,,",
        "2025-02-07,tension,low,B,2,,,,visit,,",
        "2025-02-08,incidents,3,C,2,,,,visit,,",
        "2025-02-08,incidents,3,C,2,,,,other,,",
        tmp_path=tmp_path,
    )
    assert len(found) == 1
    assert found[0].location == "line 2, line 3, line 4"
    assert found[0].field == "report"
    assert found[0].value == "'visit'"
    assert "B2, C2" in found[0].allowed


def test_provenance_round_trips_through_csv_and_saved_forecasts(model, tmp_path):
    evidence = load(
        model,
        "2025-01-06,talks,1,,,Wire,,,r1,https://example.org/a?b=1,alice",
        "2025-02-06,talks,0,B,2,Wire,,2025-04-01,r2,,bob",
    )
    text = evidence.to_csv_text()
    assert text.splitlines()[0] == HEADER
    path = tmp_path / "e.csv"
    path.write_text(text)
    again = sf.load_evidence(path, model)
    # Equal but for where the rows came from (file lines, not DataFrame rows).
    pd.testing.assert_frame_equal(
        again.to_dataframe().drop(columns="line"), evidence.to_dataframe().drop(columns="line")
    )
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    saved = sf.load_forecast(result.save(tmp_path / "f.nc"))
    assert saved.evidence == evidence
    tree = result.to_datatree()
    assert list(tree["observed_data"]["url"].values) == ["https://example.org/a?b=1", ""]
    assert list(tree["observed_data"]["published"].values) == ["2025-01-06", "2025-04-01"]


def test_a_loaded_forecast_names_the_reports_by_their_lines_in_the_users_log(model, tmp_path):
    # The stored CSV text renumbers its rows; the lines of the user's file (here with a comment
    # line, a blank line and a row published after the as-of date, so not simply 2..n+1) come
    # back with the forecast, so contributions and append conflicts name the same lines.
    from syriaforecast.report import evidence_contributions

    path = tmp_path / "log.csv"
    path.write_text(
        "date,indicator,value,reliability,credibility,source,note,published\n"
        "2025-01-06,talks,1,,,Wire,first,\n"
        "\n"
        "2025-02-10,talks,0,B,2,Agency,,2025-09-01\n"
        "2025-03-03,tension,high,C,3,Agency,,\n"
        "2025-03-20,incidents,2,B,2,,,\n"
    )
    evidence = sf.load_evidence(path, model)
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    lines = result.evidence.to_dataframe()["line"].tolist()
    saved = sf.load_forecast(result.save(tmp_path / "f.nc"))
    assert saved.evidence.to_dataframe()["line"].tolist() == lines == [2, 5, 6]
    assert saved.evidence == result.evidence
    fresh = evidence_contributions(result, by="report")
    loaded = evidence_contributions(saved, by="report")
    assert fresh["report"].values.tolist() == loaded["report"].values.tolist() == lines
    with pytest.raises(EvidenceError, match="line 2, line 7"):
        saved.evidence.append([{"date": "2025-01-25", "indicator": "talks", "value": "0"}], model)


def test_a_log_without_the_new_columns_is_written_as_before(model, tiny_evidence_path):
    evidence = sf.load_evidence(tiny_evidence_path, model)
    assert evidence.to_csv_text() == tiny_evidence_path.read_text()


# --------------------------------------------------------------------------- as-of views
ON_TIME = (
    "2025-01-06,talks,1,,,,,,,,",
    "2025-02-03,tension,low,B,2,,,,,,",
)
# A strong report about January, published in May.
LATE = "2025-01-20,incidents,6,A,1,,,2025-05-10,late-1,,"


def test_a_report_published_after_as_of_changes_nothing_then_and_counts_after(model):
    with_late = load(model, *ON_TIME, LATE)
    without = load(model, *ON_TIME)
    before = sf.forecast(model, with_late, as_of="2025-05-09", exact=True)
    blind = sf.forecast(model, without, as_of="2025-05-09", exact=True)
    np.testing.assert_array_equal(before.horizon.values, blind.horizon.values)
    np.testing.assert_array_equal(before.filtered.values, blind.filtered.values)
    np.testing.assert_array_equal(before.smoothed.values, blind.smoothed.values)
    assert len(before.evidence) == 2
    after = sf.forecast(model, with_late, as_of="2025-05-10", exact=True)
    blind_after = sf.forecast(model, without, as_of="2025-05-10", exact=True)
    # Once published, it rewrites January's filtered probability (and the horizon).
    jan = after.filtered.sel(time="2025-01").values - blind_after.filtered.sel(time="2025-01").values
    assert np.abs(jan).max() > 0.05
    assert np.abs(after.horizon.values - blind_after.horizon.values).max() > 0.01
    assert with_late.late("2025-05-09").empty
    late = with_late.late("2025-05-10")
    assert list(late["days_late"]) == [(dt.date(2025, 5, 10) - dt.date(2025, 1, 20)).days]
    # The default as-of date is the latest publication, so nothing is left out.
    assert sf.forecast(model, with_late, exact=True).as_of == dt.date(2025, 5, 10)


def test_since_says_which_late_report_rewrote_which_period(model):
    evidence = load(model, *ON_TIME, LATE, "2025-05-12,talks,0,C,3,,,,,,")
    previous = sf.forecast(model, evidence, as_of="2025-04-30", exact=True)
    current = sf.forecast(model, evidence, as_of="2025-05-31", exact=True)
    changes = since(previous, current)
    assert changes.attrs["n_added"] == 2
    assert changes.attrs["n_late"] == 1
    assert changes.attrs["late_periods"] == "2025-01"
    flags = dict(zip(changes["date"].values, changes["rewrites_earlier"].values, strict=True))
    assert flags == {"2025-01-20": True, "2025-05-12": False}
    assert list(changes["published"].values) == ["2025-05-10", "2025-05-12"]


def test_backtest_cutoffs_never_see_late_published_reports():
    case = bt.load_case(CASES / "calm_holds")
    # War signals about September (before the third cutoff), published only in October.
    rows = [
        {"date": "2025-09-20", "indicator": ind, "value": v, "reliability": "A", "credibility": "1",
         "published": "2025-10-01", "report": "retro"}
        for ind, v in [("clash", "1"), ("airstrike", "1"), ("mobilise", "1"), ("curfew", "1")]
    ]  # fmt: skip
    evidence = case.evidence.append(rows, case.model)
    spoiled = bt.Case(case.id, case.model, evidence, case.outcome, case.resolved)
    cutoffs = ["2025-03-31", "2025-06-30", "2025-09-30", "2025-10-31"]
    clean = bt.backtest([case], cutoffs=cutoffs, method="exact", executor="serial", progress=False)
    full = bt.backtest([spoiled], cutoffs=cutoffs, method="exact", executor="serial", progress=False)
    # Before publication the forecasts are those without the report, bit for bit.
    np.testing.assert_array_equal(full["forecast"].values[0, :3], clean["forecast"].values[0, :3])
    np.testing.assert_array_equal(full["reports"].values[0, :3], clean["reports"].values[0, :3])
    assert int(full["reports"][0, 3]) == int(clean["reports"][0, 3]) + 4
    war = [float(r["forecast"].sel(scenario="war")[0, -1]) for r in (clean, full)]
    assert war[1] - war[0] > 0.1


def test_the_html_report_shows_sources_links_coders_and_late_reports(model, tmp_path):
    from syriaforecast.report import write_report

    evidence = load(
        model,
        *ON_TIME,
        LATE.replace(",,,2025", ",Retro desk,,2025")[:-1] + "https://example.org/story?a=1&b=2,carol",
    )
    previous = sf.forecast(model, evidence, as_of="2025-04-30", exact=True)
    current = sf.forecast(model, evidence, as_of="2025-05-31", exact=True)
    written = write_report(current, tmp_path / "out", previous=previous)
    page = next(p for p in written if str(p).endswith(".html")).read_text()
    assert 'href="https://example.org/story?a=1&amp;b=2"' in page
    assert "carol" in page and "late-1" in page
    assert "published late and rewrote earlier periods (2025-01)" in page
    assert "<h3>By source</h3>" in page and "Retro desk" in page


# --------------------------------------------------------------------------- sources
def test_sources_posterior_reliability_matches_bayes_rule_by_hand(model):
    from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN
    from syriaforecast.report import sources

    evidence = load(model, "2025-01-06,talks,1,B,2,Wire,,,,,")
    result = sf.forecast(model, evidence, as_of="2025-01-31", exact=True)
    table = sources(result)
    kappa = RELIABILITY_PRIOR_MEAN["B"] * CREDIBILITY_PRIOR_MEAN["2"]
    # tiny model: P(talks | calm) = "likely" (logit midpoint), P(talks | storm) = 0.2; prior 0.7 / 0.3.
    p_calm = 1 / (1 + np.exp(-model.indicator("talks").logit_prior("calm")[0]))
    seen = 0.7 * p_calm + 0.3 * 0.2
    expected = kappa * seen / (kappa * seen + (1 - kappa) * 0.5)
    assert table.loc["Wire", "truthful"] == pytest.approx(expected, rel=1e-10)
    assert table.loc["Wire", "prior_truthful"] == pytest.approx(kappa)
    assert table.loc["Wire", "grades"] == "B2"
    # Exact mode learns no reliability: the source reads at its letter's value, a point.
    for column in ("prior_reliability", "posterior_reliability", "reliability_low", "reliability_high"):
        assert table.loc["Wire", column] == pytest.approx(RELIABILITY_PRIOR_MEAN["B"], rel=1e-12)


def test_a_source_that_contradicts_the_rest_is_discredited(model):
    from syriaforecast.report import sources

    rows = []
    for month in range(1, 7):
        rows.append(f"2025-0{month}-05,tension,high,,,Embassy,,,,,")
        rows.append(f"2025-0{month}-06,tension,low,B,2,Rumour mill,,,,,")
        rows.append(f"2025-0{month}-07,tension,high,B,2,Wire,,,,,")
    result = sf.forecast(model, load(model, *rows), as_of="2025-06-30", exact=True)
    table = sources(result)
    assert table.index[0] == "Rumour mill"
    assert table.loc["Rumour mill", "truthful"] < 0.05
    assert table.loc["Wire", "truthful"] > table.loc["Wire", "prior_truthful"]
    assert np.isnan(table.loc["Embassy", "truthful"])  # ungraded: face value
    assert np.isnan(table.loc["Embassy", "posterior_reliability"])
    assert table.loc["Embassy", "n_rows"] == 6


def test_append_refuses_provenance_the_file_has_no_column_for(model, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("date,indicator,value,reliability,credibility\n2025-01-06,talks,1,,\n")
    late = {"date": "2025-01-07", "indicator": "talks", "value": "1", "reliability": "B", "credibility": "2"}
    with pytest.raises(EvidenceError, match="published"):
        sf.append_evidence(path, [late | {"published": "2025-03-01"}], model)
    # Same-day publication is the default: nothing to write, so it appends.
    sf.append_evidence(path, [late | {"published": "2025-01-07"}], model)
    assert path.read_text().splitlines()[-1] == "2025-01-07,talks,1,B,2"
    with_column = tmp_path / "f.csv"
    with_column.write_text("date,indicator,value,published,report\n2025-01-06,talks,1,,\n")
    ungraded = late | {"reliability": "", "credibility": "", "published": "2025-03-01", "report": "r9"}
    sf.append_evidence(with_column, [ungraded], model)
    assert with_column.read_text().splitlines()[-1] == "2025-01-07,talks,1,2025-03-01,r9"


def test_cli_says_which_reports_were_published_late_and_left_out(tiny_model_path, tmp_path, capsys):
    from syriaforecast.cli import main

    path = tmp_path / "e.csv"
    path.write_text(
        "date,indicator,value,reliability,credibility,source,published,report\n"
        "2025-01-06,talks,1,,,Wire,,\n"
        "2025-02-06,talks,0,B,2,Wire,2025-04-01,v1\n"
        "2025-02-06,tension,high,B,2,Wire,2025-04-01,v1\n"
    )
    assert main(["validate", str(tiny_model_path), str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 reports published after the day they describe (latest published 2025-04-01)" in out
    assert "1 report ids code several rows" in out
    assert "span several periods" not in out
    args = ["forecast", "--model", str(tiny_model_path), "--evidence", str(path), "--exact"]
    assert main([*args, "--as-of", "2025-03-01"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 reports used" in out and "2 reports published after the as-of date not used" in out


# --------------------------------------------------------------------------- fuzz
_URLS = st.sampled_from(["", "https://a.org/x", "http://b.net", "ftp://c.org", "https:///x", "http://a b"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    published=st.sampled_from(["", "2025-01-05", "2025-01-06", "2025-09-01", "2026-02-01", "x"]) | ODD_TEXT,
    report=ODD_TEXT,
    url=_URLS | ODD_TEXT,
    coder=ODD_TEXT,
)
def test_provenance_cells_load_or_fail_cleanly_and_round_trip(published, report, url, coder):
    model = sf.load_model(Path(__file__).parent / "data" / "tiny" / "model.toml")
    row = {"date": "2025-01-06", "indicator": "talks", "value": "1", "reliability": "B", "credibility": "2",
           "published": published, "report": report, "url": url, "coder": coder}  # fmt: skip
    try:
        evidence = sf.load_evidence(pd.DataFrame([row]), model)
    except EvidenceError as exc:
        assert {p.field for p in exc.problems} <= {"published", "url", "report", "coder"}
        assert all(p.location == "row 1" for p in exc.problems)
        return
    table = evidence.to_dataframe()
    assert table["published"][0] >= table["date"][0]
    text = io.StringIO(evidence.to_csv_text())
    again = sf.load_evidence(pd.read_csv(text, dtype=str, keep_default_na=False), model)
    columns = ["date", "published", "report", "url", "coder", "value"]
    pd.testing.assert_frame_equal(again.to_dataframe()[columns], table[columns])


def test_saving_to_a_folder_or_under_a_file_is_a_forecast_file_error(model, tiny_evidence_path, tmp_path):
    from syriaforecast.errors import ForecastFileError

    result = sf.forecast(model, sf.load_evidence(tiny_evidence_path, model), exact=True)
    with pytest.raises(ForecastFileError, match="is a folder; save to a file in it"):
        result.save(tmp_path)
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(
        ForecastFileError, match=r"cannot save the forecast there \(a folder on its path is a file\)"
    ):
        result.save(tmp_path / "plain" / "f.nc")
    with pytest.raises(ForecastFileError, match="cannot save the forecast there"):
        result.save(tmp_path / ("x" * 300 + ".nc"))  # a name longer than the file system takes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]  # nothing half-written


def test_appending_no_rows_gives_the_same_evidence(model, tiny_evidence_path):
    evidence = sf.load_evidence(tiny_evidence_path, model)
    assert evidence.append([], model) is evidence
    assert evidence.append(pd.DataFrame(), model) is evidence
