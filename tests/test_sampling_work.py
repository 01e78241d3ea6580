"""Hierarchical forecasts above the sampling work cap are refused before any sampling, with what to do."""

from __future__ import annotations

import csv
import math

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


def _linked_reports(tmp_path, n: int, *, linked: bool, month: str = "2025-03"):
    """The tiny log plus ``n`` reports each coding talks and tension on one day of ``month``.

    With ``linked`` each report's two rows share a report id, so the ``n`` reports couple the
    same two cells: one component of ``n`` pattern bits, 2 cells and ``2 n`` multi-row readings.
    Without it every row is a report of its own (no component).
    """
    text = (TINY / "evidence.csv").read_text().rstrip("\n").split("\n")
    header, body = text[0] + ",report", [line + "," for line in text[1:]]
    for k in range(n):
        report = f"{month}-R{k}" if linked else ""
        body.append(f"{month}-10,talks,{k % 2},B,2,Source {k},,{report}")
        body.append(f"{month}-10,tension,{('low', 'high')[k % 2]},B,2,Source {k},,{report}")
    path = tmp_path / f"linked_{n}_{linked}_{month}.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    return path


def test_linked_reports_count_their_patterns_in_the_work(tmp_path):
    from syriaforecast.engine.data import PATTERN_COST, build_engine_data, build_model_arrays
    from syriaforecast.engine.run import n_chain_periods

    model = sf.load_model(TINY / "model.toml")

    def coupled(path):
        evidence = sf.load_evidence(path, model)
        data = build_engine_data(model, build_model_arrays(model), evidence, n_chain_periods(model))
        return data.coupled_work

    # The tiny log links nothing; neither do the same rows without report ids.
    assert coupled(TINY / "evidence.csv") == 0
    assert coupled(_linked_reports(tmp_path, 12, linked=False)) == 0
    # n reports on the same two cells: 2^n patterns, each passing over 2 cells and 2n readings, less
    # the 2n readings the count of reports already has.
    for n in (1, 5, 12):
        expected = math.ceil(PATTERN_COST * 2**n * (2 + 2 * n)) - 2 * n
        assert coupled(_linked_reports(tmp_path, n, linked=True)) == expected
    # Two such groups in different months are two components: their costs add.
    text = _linked_reports(tmp_path, 3, linked=True).read_text()
    extra = _linked_reports(tmp_path, 4, linked=True, month="2025-05").read_text().split("\n", 1)[1]
    both = tmp_path / "both.csv"
    both.write_text(text + "\n".join(line for line in extra.split("\n") if "2025-05-R" in line) + "\n")
    assert coupled(both) == sum(math.ceil(PATTERN_COST * 2**n * (2 + 2 * n)) - 2 * n for n in (3, 4))


def test_a_large_group_of_linked_reports_is_refused_where_the_rows_unlinked_are_not(tmp_path, monkeypatch):
    model = sf.load_model(TINY / "model.toml")
    n_rows = _rows(TINY / "evidence.csv") + 24
    # Ten times what the rows alone cost: 24 unlinked rows pass; 12 linked reports cost 2^12 patterns.
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(10 * n_rows * 2 * (50 + 30)))
    _no_sampling(monkeypatch)
    unlinked = sf.load_evidence(_linked_reports(tmp_path, 12, linked=False), model)
    with pytest.raises(AssertionError, match="sampling started"):  # past the check, into the sampler
        sf.forecast(model, unlinked, draws=50, tune=30, chains=2, seed=1)
    linked = sf.load_evidence(_linked_reports(tmp_path, 12, linked=True), model)
    with pytest.raises(SamplingWorkError) as refused:
        sf.forecast(model, linked, draws=50, tune=30, chains=2, seed=1)
    message = str(refused.value)
    assert f"{n_rows:,} reports whose multi-row reports and cluster events are summed exactly" in message
    assert "split large groups of linked reports" in message and "or their equivalent" in message
