"""The bundled three-analyst example, end to end through the API and the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.cli import main
from syriaforecast.phrases import band_logit_prior, parse_phrase

MODEL = sf.bundled_model("russia_syria_analysts")
EVIDENCE = sf.bundled_evidence()
DRAWS = {"draws": 150, "tune": 150, "chains": 2, "seed": 11}


@pytest.fixture(scope="module")
def model():
    return sf.load_model(MODEL)


@pytest.fixture(scope="module")
def result(model):
    evidence = sf.load_evidence(EVIDENCE, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # few draws on purpose
        return sf.forecast(model, evidence, **DRAWS)


def test_bundled_example_names_three_analysts(model):
    assert model.analysts == ("levant", "defence", "diplomacy")
    pooled = [ind for ind in model.indicators if ind.elicitations]
    assert len(pooled) >= 20 and any(not ind.elicitations for ind in model.indicators)
    # The consensus is the plain logit average of the three tables (binary indicators).
    ind = next(i for i in pooled if i.type == "binary")
    for sid in model.scenario_ids:
        logits = []
        for table in ind.elicitations.values():
            value = table[sid]
            if isinstance(value, str):
                band = parse_phrase(value)
                logits.append(band_logit_prior(band)[0])
            else:
                logits.append(np.log(value / (1 - value)))
        assert ind.probability(sid) == pytest.approx(1 / (1 + np.exp(-np.mean(logits))), rel=1e-12)


def test_api_forecast_carries_each_analysts_posterior(result, model):
    posterior = result.posterior
    assert posterior["analyst_noise"].dims == ("chain", "draw", "analyst")
    assert list(posterior["analyst"].values) == list(model.analysts)
    assert (posterior["analyst_noise"] > 0).all()
    horizon = result.mean("horizon").values
    assert np.all(np.isfinite(horizon)) and horizon.sum() == pytest.approx(1.0)


def test_saved_forecast_keeps_the_analysts(result, tmp_path):
    path = result.save(tmp_path / "f.nc")
    loaded = sf.load_forecast(path)
    assert loaded.model.analysts == result.model.analysts
    np.testing.assert_array_equal(
        loaded.posterior["analyst_noise"].values, result.posterior["analyst_noise"].values
    )


def test_cli_forecast_reports_the_analysts(result, capsys):
    argv = ["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--json"]
    argv += ["--draws", "150", "--tune", "150", "--chains", "2", "--seed", "11"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    rows = {row["analyst"]: row for row in payload["analysts"]}
    assert list(rows) == list(result.model.analysts)
    # Same seed and settings as the API fixture: the CLI's summary is that posterior's mean.
    for analyst, row in rows.items():
        noise = result.posterior["analyst_noise"].sel(analyst=analyst)
        assert row["noise_mean"] == pytest.approx(float(noise.mean()), abs=1e-6)
        assert row["noise_hdi_low"] <= row["noise_mean"] <= row["noise_hdi_high"]


def test_cli_table_lists_the_analysts(capsys):
    argv = ["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # Exact mode takes the consensus as exact: no analyst parameters, so no analyst table,
    # but the disagreements (computed in exact mode) are listed.
    assert "exact" in out and "Analysts (logit units" not in out
    assert "Disagreements worth a meeting" in out


def test_cli_json_lists_the_disagreements_worth_a_meeting(capsys, model):
    argv = ["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)["disagreements"]
    exact = sf.forecast(model, sf.load_evidence(EVIDENCE, model), exact=True)
    from syriaforecast.report import disagreement

    table = disagreement(exact)
    assert [row["indicator"] for row in rows] == list(table["indicator"].values[: len(rows)])
    top = rows[0]
    moved = table["horizon"].sel(indicator=top["indicator"], analyst=top["analyst"]) - table["consensus"]
    assert top["change"] == pytest.approx(float(moved.sel(scenario=top["scenario"])), abs=1e-6)
    assert abs(top["change"]) == pytest.approx(float(table["swing"][0]), abs=1e-6)


def test_html_report_has_an_analysts_section(result, tmp_path):
    from syriaforecast.report import disagreement, write_report

    written = write_report(result, tmp_path, max_draws=50)
    page = written[-1].read_text(encoding="utf-8")
    section = page[page.index("<h2>Analysts</h2>") : page.index("<h2>Diagnosticity")]
    top = disagreement(result, top=1)
    assert str(top["label"].values[0]) in section
    for analyst in result.model.analysts:
        noise = float(result.posterior["analyst_noise"].sel(analyst=analyst).mean())
        assert f'<td>{analyst}</td><td class="num">' in section
        assert f"{noise:.2f} (" in section
