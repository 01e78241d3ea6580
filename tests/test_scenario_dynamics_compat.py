"""Reporting, backtesting, several analysts and save/load accept models with the #15 features."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.backtest import Case, backtest
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.density import log_density_and_gradient
from syriaforecast.engine.sampler import _density_arguments, layout_for

DATA = Path(__file__).parent / "data" / "drivers"
ROOT = Path(__file__).parents[1]


def test_html_report_and_save_load_of_an_exact_forecast_with_drivers(tmp_path):
    from syriaforecast.report.html import write_report

    model = sf.load_model(DATA / "model.toml")
    result = sf.forecast(model, DATA / "evidence.csv", exact=True, assume={"ceasefire": {"2025-09": 1}})
    written = write_report(result, tmp_path)
    html = next(p for p in written if p.suffix == ".html").read_text()
    assert "Does the scenario set still fit?" in html and "ceasefire" in html
    path = result.save(tmp_path / "forecast.nc")
    again = sf.load_forecast(path)
    np.testing.assert_array_equal(again.horizon.values, result.horizon.values)
    assert again.evidence.drivers["state"].tolist() == [1, 0]
    assert again.attrs["assume"] == result.attrs["assume"]


def test_backtest_exact_replays_a_case_with_drivers_and_a_residual():
    model = sf.load_model(DATA / "model.toml")
    evidence = sf.load_evidence(DATA / "evidence.csv", model)
    case = Case("drivers", model, evidence, "capture", dt.date(2025, 12, 31))
    result = backtest([case], method="exact", cutoffs=[3, 1], progress=False)
    for k, when in enumerate(result["cutoff_date"].values[0]):
        as_of = np.datetime_as_string(when, unit="D")
        direct = sf.forecast(model, evidence, as_of=as_of, exact=True).horizon.values[0, 0]
        np.testing.assert_allclose(result["forecast"].values[0, k], direct, atol=1e-12)


def test_analysts_model_with_transitions_and_drivers():
    """Bundled several-analysts model plus the docs' transitions and drivers: exact and density gradient."""
    import re

    doc = (ROOT / "docs" / "model-format.md").read_text()
    blocks = [
        re.search(r"```toml\n(.*?)```", doc[doc.index(h) :], re.S).group(1)  # type: ignore[union-attr]
        for h in ("### Elicited transitions", "### Drivers")
    ]
    # The bundled rows (issue #20) give way to the docs' rows; its drivers stay (the evidence logs them).
    bundled = dataclasses.replace(sf.load_model(sf.bundled_model("russia_syria_analysts")), transitions={})
    text = bundled.to_toml() + "\n" + "\n".join(blocks)
    model = sf.parse_model(text, path=sf.bundled_model("russia_syria_analysts"))
    assert model.analysts and model.drivers
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    result = sf.forecast(model, evidence, exact=True)
    assert result.horizon.values.sum() == pytest.approx(1.0)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays)
    args = _density_arguments(arrays, data, layout)
    x = np.random.default_rng(0).normal(0, 0.5, layout.ndim)
    _, grad = log_density_and_gradient(x, *args)
    # the transition and analyst blocks sit at the end: check those coordinates by central differences
    tail = layout.n_row_coordinates + layout.n_effect_coordinates + 2 * layout.n_analysts
    for k in range(layout.ndim - tail, layout.ndim):
        up, down = x.copy(), x.copy()
        up[k] += 1e-6
        down[k] -= 1e-6
        numeric = (log_density_and_gradient(up, *args)[0] - log_density_and_gradient(down, *args)[0]) / 2e-6
        assert grad[k] == pytest.approx(numeric, rel=1e-5, abs=1e-5)


@pytest.mark.filterwarnings("ignore::syriaforecast.errors.ConvergenceWarning")  # 100 draws: structure only
def test_hierarchical_draws_keep_zeros_and_vary_around_the_elicitation():
    model = sf.load_model(DATA / "model.toml")
    result = sf.forecast(model, DATA / "evidence.csv", draws=100, tune=100, chains=1, seed=3)
    transition = result.posterior["transition"].values.reshape(-1, 4, 4)
    np.testing.assert_allclose(transition.sum(axis=2), 1.0, atol=1e-12)
    capture = model.scenario_ids.index("capture")
    assert np.all(transition[:, capture] == np.eye(4)[capture])  # absorbing in every draw
    thaw = transition[:, model.scenario_ids.index("thaw")]
    assert thaw[:, 1].std() > 0  # the elicited row is uncertain
    effect = result.posterior["driver_effect"].sel(driver="ceasefire").values.reshape(-1, 4)
    assert np.all(effect[:, 0] == 1.0) and np.all(effect[:, 3] == 1.0)  # not listed: no effect
    assert effect[:, 1].std() > 0 and np.all(effect > 0)


def test_assume_matches_conditional_horizon_and_cli(capsys):
    import json

    from syriaforecast.cli import main
    from syriaforecast.conditional import conditional_horizon

    model = sf.load_model(DATA / "model.toml")
    base = sf.forecast(model, DATA / "evidence.csv", exact=True)
    assumed = sf.forecast(model, DATA / "evidence.csv", exact=True, assume={"ceasefire": {"2025-08": 1}})
    via = conditional_horizon(base, {"ceasefire": {"2025-08": 1}})
    np.testing.assert_allclose(assumed.horizon.values[0, 0], via[0], atol=1e-12)
    assert not np.allclose(assumed.horizon.values, base.horizon.values)
    argv = ["forecast", "--model", str(DATA / "model.toml"), "--exact"]
    argv += ["--evidence", str(DATA / "evidence.csv")]
    assert main([*argv, "--json", "--assume", "ceasefire=1@2025-08"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["assume"] == {"ceasefire": {"2025-08": 1}}
    got = [out["scenarios"][s]["mean"] for s in model.scenario_ids]
    np.testing.assert_allclose(got, assumed.horizon.values[0, 0], atol=1e-6)
    for bad in ("ceasefire=2@2025-08", "ceasefire=1@2025-02", "truce=1@2025-08", "ceasefire=1"):
        assert main([*argv, "--assume", bad]) == 2
    err = capsys.readouterr().err
    assert "outside the forecast's future" in err and "not a driver" in err
