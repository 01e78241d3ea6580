"""The hierarchical engine end to end: sampling, diagnostics, warm updates, saving and reloading."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import xarray as xr

import syriaforecast as sf
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.forecast import forecast_parameters

from .test_engine_exact import EVIDENCE_CASES, reports, small_model

SAMPLING = {"draws": 500, "tune": 500, "chains": 4}


@pytest.fixture(scope="module")
def model():
    return small_model(persistence=0.9, months=6, elicitation_error=0.5)


@pytest.fixture(scope="module")
def evidence(model):
    return sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"]), model)


@pytest.fixture(scope="module")
def result(model, evidence):
    return sf.forecast(model, evidence, as_of="2025-06-30", seed=42, **SAMPLING)


def test_probabilities_are_distributions_with_named_dims(result, model):
    assert result.mode == "hierarchical"
    assert result.filtered.dims == ("chain", "draw", "time", "scenario")
    assert result.horizon.dims == ("chain", "draw", "scenario")
    assert list(result.horizon["scenario"].values) == list(model.scenario_ids)
    for values in (result.filtered, result.smoothed, result.horizon):
        assert np.isfinite(values).all()
        np.testing.assert_allclose(values.sum("scenario"), 1.0, atol=1e-10)


def test_sampler_converges_without_divergences(result):
    assert result.diagnostics.attrs["divergences"] == 0
    assert float(result.diagnostics["horizon_rhat"].max()) <= 1.01
    assert result.converged


def test_posterior_probabilities_are_recomputable_from_the_parameter_draws(result, model, evidence):
    """Filtered/horizon from nutpie's deterministics equal a fresh evaluation of the same draws."""
    params = forecast_parameters(result)
    recomputed = chain_posterior(chain_terms_for_draws(model, evidence, params))
    stored = result.horizon.values.reshape(-1, 3)
    np.testing.assert_allclose(recomputed.filtered[:, -1], stored, atol=1e-9)


def test_tiny_elicitation_error_reproduces_exact_mode(model, evidence):
    """With elicitation error near 0 and no graded reports, the posterior collapses on exact mode."""
    exactish = sf.parse_model(
        model.to_dict()
        | {
            "model": model.to_dict()["model"]
            | {"elicitation_error": 1e-4, "prior_concentration": 1e5, "persistence_uncertainty": 1e-4},
        }
    )
    ungraded = sf.load_evidence(reports(EVIDENCE_CASES["ungraded-all-types"]), exactish)
    # The point is the mean; a prior this tight makes short chains' R-hat noisy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        sampled = sf.forecast(exactish, ungraded, as_of="2025-06-30", seed=1, **SAMPLING)
    exact = sf.forecast(exactish, ungraded, as_of="2025-06-30", exact=True)
    np.testing.assert_allclose(sampled.mean("horizon"), exact.mean("horizon"), atol=5e-3)


def test_same_seed_gives_bit_identical_results(model, evidence, result):
    again = sf.forecast(model, evidence, as_of="2025-06-30", seed=42, **SAMPLING)
    assert np.array_equal(again.horizon.values, result.horizon.values)
    assert np.array_equal(
        again.posterior["elicitation_eta"].values, result.posterior["elicitation_eta"].values
    )


def test_update_needs_no_compilation_and_reports_up_to_as_of(model, evidence, result):
    """The density kernel is compiled once per machine, not per model or evidence set."""
    earlier = sf.forecast(model, evidence, as_of="2025-04-30", seed=3, **SAMPLING)
    assert earlier.attrs["time_compile"] < 1.0
    assert earlier.filtered.sizes["time"] == 4
    assert len(earlier.evidence) < len(evidence)


def test_elicitation_uncertainty_widens_the_interval(model, evidence, result):
    exact = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    summary = result.summary()
    assert (summary["hdi_high"] - summary["hdi_low"]).min() > 0.02
    assert exact.summary()["hdi_low"].equals(exact.summary()["hdi_high"])


def test_summary_phrases_and_flags(result):
    summary = result.summary()
    assert list(summary.columns) == [
        "name",
        "mean",
        "hdi_low",
        "hdi_high",
        "phrase",
        "spans_phrases",
        "confidence",
    ]
    assert summary["mean"].sum() == pytest.approx(1.0)
    from syriaforecast.phrases import band_of

    for _, row in summary.iterrows():
        assert row["hdi_low"] <= row["mean"] <= row["hdi_high"]
        assert row["phrase"] == band_of(row["mean"]).phrase
        assert row["spans_phrases"] == (band_of(row["hdi_low"]) != band_of(row["hdi_high"]))


def test_save_and_reload_is_bit_identical(result, tmp_path):
    path = result.save(tmp_path / "f.nc")
    again = sf.load_forecast(path)
    for name in ("filtered", "smoothed", "horizon"):
        xr.testing.assert_identical(getattr(again, name), getattr(result, name))
    xr.testing.assert_identical(again.posterior, result.posterior)
    assert again.model == result.model
    assert again.evidence.to_csv_text() == result.evidence.to_csv_text()
    assert again.attrs["sampler_seed"] == 42
    for key in ("model_sha256", "evidence_sha256", "as_of", "version_syriaforecast", "version_pymc"):
        assert again.attrs[key] == result.attrs[key]
    assert again.summary().equals(result.summary())


def test_interrupted_save_leaves_the_previous_file_intact(result, tmp_path, monkeypatch):
    path = result.save(tmp_path / "f.nc")
    before = path.read_bytes()

    def explode(self, *args, **kwargs):
        target = args[0]
        with open(target, "wb") as handle:
            handle.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", explode)
    with pytest.raises(KeyboardInterrupt):
        result.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.nc"]


def test_loading_checks_what_it_reads(result, tmp_path, model):
    path = result.save(tmp_path / "f.nc")
    other = sf.parse_model(model.to_dict() | {"model": model.to_dict()["model"] | {"persistence": 0.5}})
    with pytest.raises(sf.ForecastFileError, match="different model"):
        sf.load_forecast(path, model=other)
    assert sf.load_forecast(path, model=model).model == model
    broken = tmp_path / "broken.nc"
    broken.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(sf.ForecastFileError):
        sf.load_forecast(broken)
    with pytest.raises(sf.ForecastFileError, match="no such file"):
        sf.load_forecast(tmp_path / "missing.nc")


def test_exact_mode_saves_and_reloads(model, evidence, tmp_path):
    exact = sf.forecast(model, evidence, exact=True)
    again = sf.load_forecast(exact.save(tmp_path / "exact.nc"))
    xr.testing.assert_identical(again.horizon, exact.horizon)
    assert again.mode == "exact"


def test_convergence_failure_warns_with_advice(model, evidence):
    with pytest.warns(sf.ConvergenceWarning, match="ESS_bulk"):
        sf.forecast(model, evidence, seed=5, draws=20, tune=20, chains=2)


def test_cli_forecast_json_and_bad_input(tmp_path, model, evidence):
    model_path = tmp_path / "m.toml"
    sf.save_model(model, model_path)
    evidence_path = tmp_path / "e.csv"
    evidence_path.write_text(evidence.to_csv_text())
    env = os.environ | {"SYRIAFORECAST_DRAWS": "100", "SYRIAFORECAST_TUNE": "100"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "syriaforecast.cli",
            "forecast",
            "--model",
            str(model_path),
            "--evidence",
            str(evidence_path),
            "--exact",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    import json

    payload = json.loads(done.stdout)
    assert set(payload) >= {"model", "as_of", "horizon", "scenarios", "filtered", "smoothed", "diagnostics"}
    assert set(payload["scenarios"]) == set(model.scenario_ids)
    exact = sf.forecast(model, evidence, exact=True)
    assert payload["scenarios"]["war"]["mean"] == pytest.approx(
        float(exact.mean().sel(scenario="war")), abs=1e-6
    )
    assert len(payload["filtered"]) == exact.filtered.sizes["time"]

    bad = tmp_path / "bad.csv"
    bad.write_text("date,indicator,value\n2025-01-01,nope,1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "syriaforecast.cli",
            "forecast",
            "--model",
            str(model_path),
            "--evidence",
            str(bad),
            "--exact",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "line 2" in done.stderr and "nope" in done.stderr
