"""Hierarchical forecasts above the sampling work cap are refused before any sampling, with what to do."""

from __future__ import annotations

import csv

import pytest

import syriaforecast as sf
from syriaforecast._checks import MAX_SAMPLING_WORK, SAMPLING_WORK_ENV, check_sampling_work, sampling_work_cap
from syriaforecast.cli import main
from syriaforecast.errors import OptionError, SamplingWorkError

from .conftest import DATA

TINY = DATA / "tiny"


def _rows(path) -> int:
    with open(path, newline="") as stream:
        return sum(1 for _ in csv.DictReader(stream))


def test_the_cap_is_a_product_of_reports_chains_and_iterations(monkeypatch):
    monkeypatch.delenv(SAMPLING_WORK_ENV, raising=False)
    assert sampling_work_cap() == MAX_SAMPLING_WORK
    # 1,000,000 reports at 4 x (2000 + 500) iterations is 1e10: refused; 500,000 is the cap.
    check_sampling_work(500_000, draws=2000, tune=500, chains=4)
    with pytest.raises(SamplingWorkError) as refused:
        check_sampling_work(1_000_000, draws=2000, tune=500, chains=4)
    message = str(refused.value)
    assert "1,000,000 reports" in message and "1e+10 report-iterations" in message
    assert "at most 500,000 reports" in message and "exact mode" in message and SAMPLING_WORK_ENV in message
    assert isinstance(refused.value, OptionError) and isinstance(refused.value, ValueError)
    # Exactly at the cap passes; one report-iteration above does not.
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(7 * 2 * 30))
    check_sampling_work(7, draws=20, tune=10, chains=2)
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(7 * 2 * 30 - 1))
    with pytest.raises(SamplingWorkError):
        check_sampling_work(7, draws=20, tune=10, chains=2)
    monkeypatch.setenv(SAMPLING_WORK_ENV, "2e10")
    assert sampling_work_cap() == 20_000_000_000
    check_sampling_work(1_000_000, draws=2000, tune=500, chains=4)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5", "nan", "inf"])
def test_a_bad_cap_is_an_option_error(value, monkeypatch):
    monkeypatch.setenv(SAMPLING_WORK_ENV, value)
    with pytest.raises(OptionError, match=f"{SAMPLING_WORK_ENV}={value!r}"):
        sampling_work_cap()


def _no_sampling(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("sampling started above the work cap")

    # The first steps of any fit: importing the sampler, then checking the density.
    monkeypatch.setattr("syriaforecast.engine.callback.import_nutpie", fail)
    monkeypatch.setattr("syriaforecast.engine.sampler_guard.check_model_density", fail)


def test_forecast_is_refused_before_sampling_and_exact_mode_still_runs(monkeypatch):
    n = _rows(TINY / "evidence.csv")
    work = n * 2 * (50 + 30)
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(work - 1))
    _no_sampling(monkeypatch)
    model = sf.load_model(TINY / "model.toml")
    evidence = sf.load_evidence(TINY / "evidence.csv", model)
    with pytest.raises(SamplingWorkError, match=f"{n:,} reports with 2 chains x \\(50 draws \\+ 30 tuning"):
        sf.forecast(model, evidence, draws=50, tune=30, chains=2, seed=1)
    # Exact mode does not sample: no cap.
    assert sf.forecast(model, evidence, exact=True).mode == "exact"


def test_cli_exits_2_with_the_reason_and_what_to_do(monkeypatch, capsys):
    monkeypatch.setenv(SAMPLING_WORK_ENV, "10")
    _no_sampling(monkeypatch)
    code = main(["forecast", "--model", str(TINY / "model.toml"), "--evidence", str(TINY / "evidence.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: a hierarchical forecast of") and "above the cap of 10" in err
    assert "Use exact mode (--exact" in err
