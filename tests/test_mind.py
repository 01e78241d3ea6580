"""What would change my mind: the proposed reports really change the lead, and no fewer would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import poisson

import syriaforecast as sf
from syriaforecast.report import what_would_change_my_mind

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tripwires_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"


@pytest.fixture(scope="module")
def setting() -> tuple[sf.ScenarioModel, sf.Evidence]:
    model = sf.load_model(MODEL)
    return model, sf.load_evidence(EVIDENCE, model)


def _with_reports(model: sf.ScenarioModel, evidence: sf.Evidence, as_of: str, reports: tuple, date: dt.date):
    rows = [{"date": date.isoformat(), "indicator": i, "value": v} for i, v in reports]
    return sf.forecast(model, evidence.up_to(as_of).append(rows, model), as_of=date, exact=True)


def _reading_likelihood(model: sf.ScenarioModel, indicator: str, value: str) -> np.ndarray:
    """P(one ungraded report reads value | scenario), from the model file as written (exact mode)."""
    ind = model.indicator(indicator)
    out = []
    for s in model.scenario_ids:
        if ind.type == "binary":
            p = ind.probability(s)
            out.append(p if value == "1" else 1 - p)
        elif ind.type == "ordinal":
            out.append(ind.likelihood[s][ind.levels.index(value)])
        else:
            out.append(poisson.pmf(int(value), ind.likelihood[s]))
    return np.array(out)


def _next_period_predictive(model: sf.ScenarioModel, fc: sf.Forecast) -> np.ndarray:
    """P(scenario next period | evidence) by hand: filtered now times the exact-mode transition matrix."""
    S = len(model.scenarios)
    A = np.full((S, S), (1 - model.persistence) / (S - 1))
    np.fill_diagonal(A, model.persistence)
    return fc.mean("filtered").isel(time=-1).values @ A


@pytest.mark.parametrize("as_of", ["2025-01-31", "2025-04-30", "2025-05-31"])
def test_proposed_reports_change_the_lead_and_trip_the_wires(setting, as_of: str) -> None:
    model, evidence = setting
    fc = sf.forecast(model, evidence, as_of=as_of, exact=True)
    leader = str(fc.mean("horizon").idxmax("scenario").item())
    table = what_would_change_my_mind(fc)
    assert table.attrs["leader"] == leader and "lead" in table.index
    predicted = _next_period_predictive(model, fc)
    fired = {a["tripwire"] for a in fc.alerts()}
    for target, row in table.iterrows():
        after = _with_reports(model, evidence, as_of, row["reports"], row["date"])
        means = after.mean("horizon")
        # The table's horizon is exactly the forecast made with the proposed reports.
        for s in model.scenario_ids:
            assert row[s] == pytest.approx(float(means.sel(scenario=s)), abs=1e-9)
        assert row["leader"] == str(means.idxmax("scenario").item())
        if target == "lead":
            assert row["leader"] != leader
        else:
            assert target not in fired
            assert target in {a["tripwire"] for a in after.alerts()}
        # The chance of seeing the reports, by hand.
        joint = predicted * np.prod([_reading_likelihood(model, i, v) for i, v in row["reports"]], axis=0)
        assert row["probability"] == pytest.approx(joint.sum(), rel=1e-9)
        assert row["n_reports"] == len(row["reports"]) <= table.attrs["max_reports"]


def test_no_smaller_plausible_set_would_do(setting) -> None:
    model, evidence = setting
    as_of = "2025-05-31"
    fc = sf.forecast(model, evidence, as_of=as_of, exact=True)
    table = what_would_change_my_mind(fc, min_probability=0.05)
    row = table.loc["calm-fading"]  # P(calm) below 0.2: two reports are needed here
    assert row["n_reports"] == 2
    predicted = _next_period_predictive(model, fc)
    date = row["date"]
    for ind in model.indicators:
        values = {"binary": ["0", "1"], "ordinal": list(ind.levels)}.get(
            ind.type, [str(k) for k in range(30)]
        )
        for value in values:
            plausible = float(predicted @ _reading_likelihood(model, ind.id, value)) >= 0.05
            if not plausible:
                continue
            calm = float(
                _with_reports(model, evidence, as_of, ((ind.id, value),), date)
                .mean("horizon")
                .sel(scenario="calm")
            )
            assert calm >= 0.2, (ind.id, value, calm)


def test_no_period_left_and_bad_settings(setting) -> None:
    model, evidence = setting
    fc = sf.forecast(model, evidence, as_of="2025-08-31", exact=True)
    table = what_would_change_my_mind(fc)
    assert table.empty and table.attrs["next_period"] is None and "lead" in table.attrs["unreached"]
    with pytest.raises(ValueError, match="max_reports"):
        what_would_change_my_mind(fc, max_reports=0)
    with pytest.raises(ValueError, match="min_probability"):
        what_would_change_my_mind(fc, min_probability=1.5)


def test_html_report_shows_tripwires_and_what_would_change_my_mind(setting, tmp_path: Path) -> None:
    from syriaforecast.report import write_report

    model, evidence = setting
    fc = sf.forecast(model, evidence, as_of="2025-05-31", exact=True)
    write_report(fc, tmp_path)
    page = (tmp_path / "report.html").read_text()
    tripwires = page[page.index("<h2>Tripwires</h2>") : page.index("<h2>What would change my mind</h2>")]
    crossed = {a["tripwire"] for a in fc.alerts()}
    assert f"{len(crossed)} of 5 tripwires crossed" in tripwires
    assert tripwires.count("CROSSED") == len(crossed) and tripwires.count("not crossed") == 5 - len(crossed)
    mind = page[page.index("<h2>What would change my mind</h2>") : page.index("<h2>What moved it</h2>")]
    table = what_would_change_my_mind(fc)
    assert "strikes = seen" in mind and "in 2025-06" in mind
    assert mind.count("<tr>") == len(table) + 1  # a header and one row per target reached
