"""Backtests: case loading, cutoffs, look-ahead, PSIS replay vs refitting, executors, CLI, plots.

Exact mode (deterministic) carries most checks. The hierarchical checks share
one model structure (tests/data/cases: 3 scenarios, 8 binary indicators, 3
groups, 12 months, the structure of tests/data/synthetic_base.toml), so the
sampler compiles once per test session.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import syriaforecast as sf
import syriaforecast.backtest as bt
from syriaforecast.backtest import replay
from syriaforecast.backtest.cases import CaseFileError
from syriaforecast.backtest.executors import run_tasks
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError
from syriaforecast.studies import simulate_worlds

CASES = Path(__file__).parent / "data" / "cases"
CASE_NAMES = ["calm_holds", "late_war_surprise", "tense_drift", "war_escalates"]
HIER = {"method": "hierarchical", "draws": 200, "tune": 200, "chains": 2}
QUIET = {"executor": "serial", "progress": False}
# Reports graded A1 (so they never clash with ungraded ones) that shout "war".
WAR_SIGNALS = [("clash", "1"), ("airstrike", "1"), ("mobilise", "1"), ("curfew", "1"), ("talks", "0")]


def hierarchical(cases, **kwargs):
    """A small hierarchical backtest; its (expected) convergence warning is checked elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return bt.backtest(cases, **(HIER | QUIET | kwargs))


def with_late_reports(case: bt.Case, day: str) -> bt.Case:
    rows = [
        {"date": day, "indicator": ind, "value": value, "reliability": "A", "credibility": "1"}
        for ind, value in WAR_SIGNALS
    ]
    return bt.Case(case.id, case.model, case.evidence.append(rows, case.model), case.outcome, case.resolved)


def comparable(result: xr.Dataset) -> xr.Dataset:
    """The result without wall-clock timings and the executor's name."""
    out = result.drop_vars(["seconds", "fit_seconds", "reweight_seconds"])
    out.attrs = {k: v for k, v in out.attrs.items() if k != "executor"}
    return out


# --------------------------------------------------------------------------- cases
def test_load_case_reads_the_three_files():
    case = bt.load_case(CASES / "tense_drift")
    assert case.id == "tense_drift"
    assert case.outcome == "tense" and case.outcome_index == 1
    assert case.resolved == dt.date(2026, 1, 15)
    assert len(case.evidence) == 48
    assert case.model.scenario_ids == ("calm", "tense", "war")
    assert [c.id for c in bt.load_cases(CASES)] == CASE_NAMES
    assert [c.id for c in bt.load_cases(CASES / "calm_holds")] == ["calm_holds"]


def test_case_folder_problems_are_all_reported(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(CASES / "calm_holds" / "model.toml", folder / "model.toml")
    with pytest.raises(CaseFileError) as info:
        bt.load_case(folder)
    message = str(info.value)
    assert "2 problems" in message and "evidence.csv" in message and "outcome.toml" in message

    shutil.copy(CASES / "calm_holds" / "evidence.csv", folder / "evidence.csv")
    (folder / "outcome.toml").write_text('scenario = "peace"\ndate = 2025-06-30\ncolour = "red"\n')
    with pytest.raises(CaseFileError) as info:
        bt.load_case(folder)
    problems = {p.field: p for p in info.value.problems}
    assert set(problems) == {"scenario", "date", "key"}
    assert "calm, tense, war" in problems["scenario"].allowed
    assert "2025-12-31" in problems["date"].allowed  # the horizon
    assert problems["key"].value == "colour"

    (folder / "outcome.toml").write_text('scenario = "war"\ndate = "2026-02-30"\n')
    with pytest.raises(CaseFileError, match="date"):
        bt.load_case(folder)
    (folder / "outcome.toml").write_text('scenario = "war"\ndate = "2026-02-03"\n')
    assert bt.load_case(folder).resolved == dt.date(2026, 2, 3)


def test_bad_backtest_arguments_raise_library_errors():
    case = bt.load_case(CASES / "calm_holds")
    with pytest.raises(SyriaforecastError, match="unique"):
        bt.backtest([case, case], method="exact", **QUIET)
    with pytest.raises(SyriaforecastError, match="method"):
        bt.backtest([case], method="exactly", **QUIET)
    with pytest.raises(SyriaforecastError, match="mixes"):
        bt.backtest([case], cutoffs=[3, "2025-06-30"], method="exact", **QUIET)
    with pytest.raises(SyriaforecastError, match="negative"):
        bt.backtest([case], cutoffs=[-1], method="exact", **QUIET)
    with pytest.raises(SyriaforecastError, match="outside every case"):
        bt.backtest([case], cutoffs=["2027-01-01"], method="exact", **QUIET)
    with pytest.raises(SyriaforecastError, match="before the first period"):
        bt.backtest([case], cutoffs=[12], method="exact", **QUIET)
    with pytest.raises(SyriaforecastError, match="executor"):
        bt.backtest([case], method="exact", executor="threads", progress=False)
    with pytest.raises(SyriaforecastError, match="no cases"):
        bt.backtest([], method="exact", **QUIET)


# --------------------------------------------------------------------------- cutoffs
def test_default_cutoffs_run_from_first_report_to_horizon():
    late = bt.load_case(CASES / "calm_holds")
    frame = late.evidence.to_dataframe()
    kept = frame[frame["date"] >= dt.date(2025, 3, 1)][["date", "indicator", "value", "reliability"]]
    kept = kept.assign(credibility=frame["credibility"].astype(str).replace("0", ""))
    late = bt.Case("starts_in_march", late.model, sf.load_evidence(kept, late.model), "calm", late.resolved)
    result = bt.backtest([CASES / "war_escalates", late], method="exact", **QUIET)
    assert result["cutoff"].attrs["kind"] == "lead"
    assert result["cutoff"].values.tolist() == list(range(11, -1, -1))
    # The March-first case has no forecast at leads 11 and 10 (January, February).
    assert np.isnan(result["brier"].sel(case="starts_in_march", cutoff=[11, 10])).all()
    assert np.isfinite(result["brier"].sel(case="starts_in_march", cutoff=list(range(10)))).all()
    dates = result["cutoff_date"].sel(case="war_escalates").values
    expected = [pd.Period("2025-01", "M") + k for k in range(12)]
    assert [pd.Timestamp(d).date() for d in dates] == [p.end_time.date() for p in expected]
    assert result["lead"].sel(case="war_escalates").values.tolist() == list(range(11, -1, -1))


def test_date_cutoffs_apply_to_the_cases_whose_span_holds_them():
    result = bt.backtest(CASES, cutoffs=["2025-06-15", dt.date(2025, 3, 31)], method="exact", **QUIET)
    assert result["cutoff"].attrs["kind"] == "date"
    assert [pd.Timestamp(v).date() for v in result["cutoff"].values] == [
        dt.date(2025, 3, 31),
        dt.date(2025, 6, 15),
    ]
    assert result["lead"].values[0].tolist() == [9, 6]


def test_the_package_itself_runs_a_backtest():
    import syriaforecast

    result = syriaforecast.backtest([CASES / "calm_holds"], cutoffs=[0], method="exact", **QUIET)
    direct = bt.backtest([CASES / "calm_holds"], cutoffs=[0], method="exact", **QUIET)
    xr.testing.assert_identical(comparable(result), comparable(direct))


# --------------------------------------------------------------------------- exact mode
def test_exact_backtest_matches_independent_forecasts_and_scores():
    cutoffs = [9, 5, 0]
    result = bt.backtest(CASES, cutoffs=cutoffs, method="exact", **QUIET)
    assert result["forecast"].dims == ("case", "cutoff", "scenario")
    assert result["case"].values.tolist() == CASE_NAMES
    for name in CASE_NAMES:
        case = bt.load_case(CASES / name)
        for lead in cutoffs:
            day = (case.model.first_period + case.model.horizon_index - lead).end_time.date()
            alone = sf.forecast(case.model, case.evidence.up_to(day), as_of=day, exact=True)
            p = alone.horizon.values[0, 0]
            got = result["forecast"].sel(case=name, cutoff=lead).values
            np.testing.assert_array_equal(got, p)
            onehot = np.eye(3)[case.outcome_index]
            assert result["brier"].sel(case=name, cutoff=lead) == pytest.approx(np.sum((p - onehot) ** 2))
            assert result["log_score"].sel(case=name, cutoff=lead) == pytest.approx(
                -math.log(p[case.outcome_index])
            )
            assert int(result["reports"].sel(case=name, cutoff=lead)) == len(case.evidence.up_to(day))
        prior = sf.forecast(case.model, None, exact=True).horizon.values[0, 0]
        np.testing.assert_array_equal(result["prior_forecast"].sel(case=name).values, prior)
    assert result.attrs["brier"] == pytest.approx(float(result["brier"].mean()))
    assert (result["forecast_mcse"] == 0).all()


def test_summaries_agree_with_the_per_forecast_scores():
    result = bt.backtest(CASES, method="exact", **QUIET)
    table = bt.score_table(result)
    assert len(table) == 48 and table["brier"].notna().all()
    p_cols = ["p_calm", "p_tense", "p_war"]
    np.testing.assert_allclose(table[p_cols].sum(axis=1), 1.0)
    by_lead = bt.scores_by_lead(result, n_boot=200)
    manual = table.groupby("lead")[["brier", "log_score"]].mean()
    np.testing.assert_allclose(by_lead["brier"].values, manual["brier"].values)
    np.testing.assert_allclose(by_lead["log_score"].values, manual["log_score"].values)
    assert (by_lead["brier_low"] <= by_lead["brier"]).all() and (
        by_lead["brier"] <= by_lead["brier_high"]
    ).all()
    assert (by_lead["n"] == 4).all()
    # Uniform forecasts over three scenarios score 2/3 (Brier) and log 3 (nats).
    np.testing.assert_allclose(by_lead["uniform_brier"], 2 / 3)
    np.testing.assert_allclose(by_lead["uniform_log_score"], math.log(3))
    overall = bt.overall_scores(result, n_boot=200)
    assert overall["brier"] == pytest.approx(table["brier"].mean())
    assert overall["n"] == 48 and overall["n_cases"] == 4
    assert overall["brier_skill_vs_prior"] == pytest.approx(1 - overall["brier"] / overall["prior_brier"])

    diagram = bt.reliability(result, n_boot=50)
    assert diagram.attrs["n_forecasts"] == 48 and not diagram.attrs["pooled"]
    np.testing.assert_allclose(
        np.sort(diagram["forecast"].sel(scenario="war").values), np.sort(table["p_war"])
    )
    np.testing.assert_allclose(diagram["brier"].sum(), table["brier"].mean())
    late = bt.reliability(result, leads=[0, 1], n_boot=0)
    assert late.attrs["n_forecasts"] == 8


def test_cases_with_different_scenarios_are_pooled(tiny_model_path, tiny_evidence_path):
    model = sf.load_model(tiny_model_path)
    tiny = bt.Case("tiny", model, sf.load_evidence(tiny_evidence_path, model), "storm", dt.date(2026, 1, 31))
    result = bt.backtest([CASES / "calm_holds", tiny], cutoffs=[6, 0], method="exact", **QUIET)
    assert result["scenario"].values.tolist() == ["calm", "tense", "war", "storm"]
    assert np.isnan(result["forecast"].sel(case="tiny", scenario=["tense", "war"])).all()
    p = result["forecast"].sel(case="tiny", cutoff=0, scenario=["calm", "storm"]).values
    assert result["brier"].sel(case="tiny", cutoff=0) == pytest.approx((p[0] - 0) ** 2 + (p[1] - 1) ** 2)
    diagram = bt.reliability(result, n_boot=0)
    assert diagram.attrs["pooled"] == 1
    assert diagram.sizes["point"] == 2 * 3 + 2 * 2  # every scenario probability of every forecast
    with pytest.raises(SyriaforecastError, match="pooled"):
        bt.reliability(result, pooled=False)


# --------------------------------------------------------------------------- look-ahead
def truncated(case: bt.Case, day: str) -> bt.Case:
    return bt.Case(case.id, case.model, case.evidence.up_to(day), case.outcome, case.resolved)


def test_no_look_ahead_exact():
    case = bt.load_case(CASES / "calm_holds")
    cutoffs = ["2025-03-31", "2025-06-30", "2025-09-30", "2025-10-31"]
    # Contradicting war reports on the days after the cutoffs of March and September.
    spoiled = with_late_reports(with_late_reports(case, "2025-04-01"), "2025-10-01")
    full = bt.backtest([spoiled], cutoffs=cutoffs, method="exact", **QUIET)
    # At every cutoff, the forecast equals one made from only the reports dated up to it.
    for k, day in enumerate(cutoffs):
        blind = bt.backtest([truncated(spoiled, day)], cutoffs=cutoffs, method="exact", **QUIET)
        np.testing.assert_array_equal(full["forecast"].values[0, k], blind["forecast"].values[0, k])
        assert int(full["reports"][0, k]) == len(spoiled.evidence.up_to(day))
    clean = bt.backtest([case], cutoffs=cutoffs, method="exact", **QUIET)
    np.testing.assert_array_equal(clean["forecast"].values[0, 0], full["forecast"].values[0, 0])
    # The late reports are strong: once dated on or before a cutoff they move its forecast.
    war = [float(r["forecast"].sel(scenario="war")[0, -1]) for r in (clean, full)]
    assert war[1] - war[0] > 0.3


def test_no_look_ahead_hierarchical():
    case = bt.load_case(CASES / "calm_holds")
    cutoffs = ["2025-09-30", "2025-10-31"]
    spoiled = with_late_reports(case, "2025-10-01")
    clean = hierarchical([case], cutoffs=cutoffs, seed=5)
    dirty = hierarchical([spoiled], cutoffs=cutoffs, seed=5)
    np.testing.assert_array_equal(clean["forecast"].values[:, 0], dirty["forecast"].values[:, 0])
    np.testing.assert_array_equal(clean["forecast_mcse"].values[:, 0], dirty["forecast_mcse"].values[:, 0])
    war = [float(r["forecast"].sel(scenario="war")[0, -1]) for r in (clean, dirty)]
    assert war[1] - war[0] > 0.3


# --------------------------------------------------------------------------- PSIS
def test_psis_weights_recover_a_shifted_normal():
    # Draws from N(0, 1) reweighted to N(mu, 1): log ratio mu x - mu^2 / 2, target mean mu.
    x = np.random.default_rng(12).standard_normal(4000)
    weights, k = replay.psis_weights(0.5 * x - 0.125)
    assert weights.sum() == pytest.approx(1.0)
    mean = weights @ x
    se = math.sqrt(np.sum(weights**2 * (x - mean) ** 2))
    assert abs(mean - 0.5) <= 3 * se and k < 0.7
    # Far in the tail the ratios are heavy-tailed and PSIS says so.
    _, k_far = replay.psis_weights(4.0 * x - 8.0)
    assert k_far > 0.7
    assert replay.psis_weights(np.array([0.0, np.inf] * 10)) == (None, math.inf)


def test_cutoff_seed_depends_only_on_seed_case_and_date():
    day = dt.date(2025, 6, 30)
    seed = bt.cutoff_seed(0, "a", day)
    assert seed == bt.cutoff_seed(0, "a", day)
    others = {
        bt.cutoff_seed(1, "a", day),
        bt.cutoff_seed(0, "b", day),
        bt.cutoff_seed(0, "a", day.replace(day=29)),
    }
    assert seed not in others and len(others) == 3
    assert 0 <= seed < 2**31


CUTOFF_LEADS = [10, 8, 6, 4, 2, 0]


@pytest.fixture(scope="module")
def replay_and_refit():
    case = [CASES / "tense_drift"]
    replayed = hierarchical(case, cutoffs=CUTOFF_LEADS, seed=3)
    refitted = hierarchical(case, cutoffs=CUTOFF_LEADS, seed=3, reweight=False)
    return replayed, refitted


def z_scores(a: xr.Dataset, b: xr.Dataset) -> np.ndarray:
    """Standardised differences at the cutoffs where ``a`` reweighted (did not fit)."""
    keep = ~a["fitted"].values[0]
    diff = (a["forecast"] - b["forecast"]).values[0, keep]
    se = np.sqrt(a["forecast_mcse"] ** 2 + b["forecast_mcse"] ** 2).values[0, keep]
    return diff / se


def test_psis_replay_agrees_with_refitting_at_every_cutoff(replay_and_refit):
    replayed, refitted = replay_and_refit
    assert refitted["fitted"].values.all() and int(refitted["n_fits"][0]) == len(CUTOFF_LEADS)
    fitted = replayed["fitted"].values[0]
    assert fitted[0] and int(replayed["n_fits"][0]) == fitted.sum() < len(CUTOFF_LEADS)
    assert int(replayed["n_refits"][0]) == fitted.sum() - 1
    k = replayed["pareto_k"].values[0]
    # k is NaN at the first fit, above 0.7 where it forced a refit, at most 0.7 elsewhere.
    assert np.isnan(k[0]) and np.all(k[1:][fitted[1:]] > 0.7)
    assert np.all(k[~fitted & np.isfinite(k)] <= 0.7)
    # Where both fitted (same cutoff, same derived seed) they are the same fit.
    both = fitted & refitted["fitted"].values[0]
    np.testing.assert_array_equal(replayed["forecast"].values[0, both], refitted["forecast"].values[0, both])
    np.testing.assert_array_equal(
        replayed["sampler_seed"].values[0, both],
        [
            bt.cutoff_seed(3, "tense_drift", pd.Timestamp(d).date())
            for d in replayed["cutoff_date"].values[0, both]
        ],
    )
    # Elsewhere the two are independent Monte Carlo estimates of one posterior mean,
    # so their difference has sd sqrt(mcse_a^2 + mcse_b^2). With 3 scenarios at 5
    # reweighted cutoffs (15 correlated comparisons) a family-wise 1% level is |z| < 3.5;
    # the mean of z^2 (expected 1) guards against a small systematic bias.
    z = z_scores(replayed, refitted)
    assert z.size >= 12
    assert np.max(np.abs(z)) < 3.5
    assert np.mean(z**2) < 2.0


def test_the_agreement_check_catches_wrong_weights(replay_and_refit, monkeypatch):
    # A negative control: weights pointing the wrong way (old evidence favoured over
    # new) must fail the agreement criterion the test above applies.
    _, refitted = replay_and_refit
    psis = replay.psis_weights
    monkeypatch.setattr(replay, "psis_weights", lambda log_ratio, r_eff=1.0: psis(-log_ratio, r_eff=r_eff))
    wrong = hierarchical([CASES / "tense_drift"], cutoffs=CUTOFF_LEADS, seed=3, k_threshold=math.inf)
    z = z_scores(wrong, refitted)
    assert np.max(np.abs(z)) >= 3.5 or np.mean(z**2) >= 2.0


def test_pareto_k_above_threshold_triggers_a_refit(replay_and_refit):
    _, refitted = replay_and_refit
    always = hierarchical([CASES / "tense_drift"], cutoffs=CUTOFF_LEADS, seed=3, k_threshold=-math.inf)
    new_reports = np.diff(np.r_[0, always["reports"].values[0]]) > 0
    # Every cutoff with new reports is refitted; the last one (no new report) reuses its fit.
    np.testing.assert_array_equal(always["fitted"].values[0], new_reports)
    np.testing.assert_array_equal(
        always["forecast"].values[0, new_reports], refitted["forecast"].values[0, new_reports]
    )


def test_convergence_failures_are_reported_once():
    with pytest.warns(ConvergenceWarning, match="fits failed") as record:
        result = bt.backtest([CASES / "war_escalates"], cutoffs=[3], **(HIER | QUIET))
    assert len([w for w in record if issubclass(w.category, ConvergenceWarning)]) == 1
    assert not result["converged"].values.all()


# --------------------------------------------------------------------------- executors
def test_process_pool_gives_the_serial_numbers():
    serial = bt.backtest(CASES, cutoffs=[8, 4, 0], method="exact", **QUIET)
    pooled = bt.backtest(CASES, cutoffs=[8, 4, 0], method="exact", executor="processes", progress=False)
    assert pooled.attrs["executor"] == "processes (2 workers)"
    xr.testing.assert_identical(comparable(serial), comparable(pooled))


def test_run_tasks_keeps_task_order_on_any_executor():
    from concurrent.futures import ThreadPoolExecutor

    tasks = [5, 1, 4, 2, 3]
    expected = [math.factorial(t) for t in tasks]
    assert run_tasks(math.factorial, tasks, executor="serial") == expected
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert run_tasks(math.factorial, tasks, executor=pool, progress=True) == expected
    with pytest.raises(SyriaforecastError, match="worker processes"):
        run_tasks(math.factorial, tasks, executor=0)


def test_environment_chooses_the_default_executor(monkeypatch):
    from syriaforecast.backtest.executors import describe_executor

    assert describe_executor(None, 3) == "processes (2 workers)"
    assert describe_executor(None, 1) == "serial"
    monkeypatch.setenv("SYRIAFORECAST_EXECUTOR", "serial")
    assert describe_executor(None, 3) == "serial"
    monkeypatch.setenv("SYRIAFORECAST_EXECUTOR", "cluster")
    with pytest.raises(SyriaforecastError, match="SYRIAFORECAST_EXECUTOR"):
        describe_executor(None, 3)


# --------------------------------------------------------------------------- synthetic worlds
def test_synthetic_worlds_are_cases_with_known_outcomes():
    base = sf.load_model(Path(__file__).parent / "data" / "synthetic_base.toml")
    worlds = simulate_worlds(base, 3, seed=2)
    result = bt.backtest(worlds, cutoffs=[3, 0], method="exact", **QUIET)
    assert result["case"].values.tolist() == [f"world-{w.seed}" for w in worlds]
    assert result["outcome"].values.tolist() == [w.outcome for w in worlds]
    horizons = [pd.Timestamp(v).date() for v in result["horizon"].values]
    assert horizons == [base.horizon] * 3


# --------------------------------------------------------------------------- plots
def test_plots_are_labelled_figures(tmp_path):
    from syriaforecast.backtest.plots import plot_outcome_probability, plot_reliability, plot_scores_by_lead

    result = bt.backtest(CASES, method="exact", **QUIET)
    fig = plot_reliability(result, n_boot=50)
    main_axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in main_axes] == ["scenario: calm", "scenario: tense", "scenario: war"]
    assert "consistency band" in " ".join(t.get_text() for t in main_axes[0].get_legend().get_texts())
    fig.savefig(tmp_path / "reliability.png")
    fig = plot_scores_by_lead(result, n_boot=100)
    assert [ax.get_xlabel() for ax in fig.axes] == ["lead time (months before the horizon)"] * 2
    assert fig.axes[0].get_ylabel().startswith("Brier score")
    fig.savefig(tmp_path / "by_lead.png")
    fig = plot_outcome_probability(result)
    assert fig.axes[0].get_ylabel() == "probability given to the outcome"
    fig.savefig(tmp_path / "paths.png")
    for name in ("reliability.png", "by_lead.png", "paths.png"):
        assert (tmp_path / name).stat().st_size > 10_000


# --------------------------------------------------------------------------- CLI
def run_cli(argv, capsys):
    from syriaforecast.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_backtest_json_and_outputs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYRIAFORECAST_EXECUTOR", "serial")
    out_dir = tmp_path / "out"
    code, out, err = run_cli(
        [
            "backtest",
            str(CASES),
            "--cutoffs",
            "3,0",
            "--draws",
            "100",
            "--seed",
            "4",
            "--json",
            "--out",
            str(out_dir),
        ],
        capsys,
    )
    assert code == 0, err
    data = json.loads(out)
    assert [c["case"] for c in data["cases"]] == CASE_NAMES
    first = data["cases"][0]["forecasts"]
    assert [f["cutoff"] for f in first] == [3, 0]
    assert sum(first[0]["probabilities"].values()) == pytest.approx(1.0)
    assert first[0]["fitted"] and not first[1]["fitted"]  # no report after September
    assert data["settings"]["seed"] == 4 and data["settings"]["draws"] == 100
    assert [row["lead"] for row in data["scores"]["by_lead"]] == [0, 3]
    assert data["scores"]["overall"]["n"] == 8
    for name in ("backtest.nc", "scores.csv", "scores_by_lead.csv", "backtest.json", "reliability.png"):
        assert (out_dir / name).stat().st_size > 0
    saved = xr.open_dataset(out_dir / "backtest.nc", engine="h5netcdf").load()
    probs = {s: first[0]["probabilities"][s] for s in ("calm", "tense", "war")}
    assert saved["forecast"].sel(case="calm_holds", cutoff=3).values.tolist() == pytest.approx(
        list(probs.values()), abs=1e-6
    )


def test_cli_backtest_synthetic_tables(capsys, monkeypatch):
    monkeypatch.setenv("SYRIAFORECAST_EXECUTOR", "serial")
    code, out, err = run_cli(["backtest", "--synthetic", "2", "--cutoffs", "3", "--draws", "100"], capsys)
    assert code == 0, err
    assert "Backtest: 2 cases, 2 forecasts" in out
    assert "Scores by lead time" in out and "Overall: Brier" in out and "Replay:" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backtest"], "CASES_DIR"),
        (["backtest", "no/such/folder"], "no such folder"),
        (["backtest", str(CASES), "--cutoffs", "3,2025-01-31"], "mixes"),
        (["backtest", str(CASES), "--cutoffs", "2025-31-01"], "ISO date"),
        (["backtest", "--synthetic", "0"], "synthetic"),
        (["backtest", "--synthetic", "2", "--seed", "-1"], "--seed"),
        (["backtest", str(CASES), "--draws", "0"], "--draws"),
        (["backtest", str(CASES), "--synthetic", "2"], "base model file"),
    ],
)
def test_cli_backtest_bad_input_exits_2(argv, message, capsys):
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
