"""The reporting layer against hand computations, brute force and the public forecast API."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from scipy.stats import poisson

import syriaforecast as sf
from syriaforecast.engine.data import build_model_arrays
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.forecast import forecast_parameters
from syriaforecast.report import (
    collection_priorities,
    diagnosticity,
    elicitation_sensitivity,
    evidence_contributions,
    linchpins,
    plot_collection,
    plot_contributions,
    plot_diagnosticity,
    plot_fan_chart,
    plot_sensitivity,
    since,
    write_report,
)
from syriaforecast.report.sensitivity import shifted_elicitation

DATA = Path(__file__).parent / "data"
MODEL = DATA / "report_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"
AS_OF = "2025-04-30"


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def log_odds_db(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return 10 * np.log10(p / (1 - p))


def entropy_bits(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def one_indicator_model(probs, prior, *, persistence=1.0, months=3, ident="x"):
    """One binary indicator, numbers only, exact (elicitation_error 0)."""
    names = [f"s{k}" for k in range(len(prior))]
    end = pd.Period("2025-01", freq="M") + (months - 1)
    return sf.parse_model(
        {
            "model": {
                "id": "one",
                "title": "One indicator",
                "period": "month",
                "start": "2025-01",
                "horizon": end.end_time.date(),
                "persistence": persistence,
                "elicitation_error": 0.0,
            },
            "scenarios": [
                {"id": s, "name": f"Scenario {s.upper()}", "prior": p, "resolution": "r"}
                for s, p in zip(names, prior, strict=True)
            ],
            "indicators": [
                {
                    "id": ident,
                    "group": "g",
                    "type": "binary",
                    "text": "seen?",
                    "likelihood": dict(zip(names, probs, strict=True)),
                }
            ],
        }
    )


def rows(*reports):
    return pd.DataFrame(list(reports), columns=["date", "indicator", "value", "reliability", "credibility"])


@pytest.fixture(scope="module")
def model():
    return sf.load_model(MODEL)


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(EVIDENCE, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def evidence(model):
    return sf.load_evidence(EVIDENCE, model)


@pytest.fixture(scope="module")
def exact(model, evidence):
    return sf.forecast(model, evidence, as_of=AS_OF, exact=True)


@pytest.fixture(scope="module")
def sampled(model, evidence):
    with warnings.catch_warnings():
        # 100 draws are too few for the diagnostics, on purpose: only the shapes matter here.
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # PyTensor's notice about Op.L_op while compiling
        return sf.forecast(model, evidence, as_of=AS_OF, draws=100, tune=100, chains=2, seed=11)


# --------------------------------------------------------------------------- contributions
@pytest.mark.parametrize("value", ["1", "0"])
def test_contribution_of_one_report_is_its_likelihood_ratio(value):
    probs, prior = (0.8, 0.3, 0.1), (0.5, 0.3, 0.2)
    model = one_indicator_model(probs, prior)
    result = sf.forecast(model, rows(("2025-01-15", "x", value, "", "")), exact=True)
    like = np.array(probs) if value == "1" else 1 - np.array(probs)
    pi = np.array(prior)
    expected = [
        10 * math.log10(like[s] / (sum(pi[o] * like[o] for o in range(3) if o != s) / (1 - pi[s])))
        for s in range(3)
    ]
    for by in ("report", "indicator", "group"):
        for target in ("horizon", "as_of"):
            out = evidence_contributions(result, by=by, target=target)
            np.testing.assert_allclose(out["mean"].values[0], expected, rtol=0, atol=1e-10)
            np.testing.assert_allclose(out["total_mean"].values, expected, rtol=0, atol=1e-10)
    assert list(out["name"].values) == ["Scenario S0", "Scenario S1", "Scenario S2"]


@pytest.mark.parametrize("target", ["horizon", "as_of"])
def test_report_contributions_match_forecasts_without_the_report(exact, model, raw, target):
    out = evidence_contributions(exact, by="report", target=target)

    def odds(result):
        probs = result.horizon if target == "horizon" else result.filtered.isel(time=-1)
        return log_odds_db(probs.values.reshape(-1, 3)[0])

    full = odds(exact)
    used = raw[raw["date"] <= AS_OF]
    assert out.sizes["report"] == len(used)
    for k in used.index:
        without = sf.forecast(model, raw.drop(index=k), as_of=AS_OF, exact=True)
        line = k + 2  # header is line 1
        np.testing.assert_allclose(out["mean"].sel(report=line).values, full - odds(without), atol=1e-9)
        assert out["indicator"].sel(report=line).item() == raw.loc[k, "indicator"]


@pytest.mark.parametrize("by", ["indicator", "group"])
def test_indicator_and_group_contributions_leave_all_their_reports_out(exact, model, raw, by):
    out = evidence_contributions(exact, by=by)
    full = log_odds_db(exact.horizon.values.reshape(-1, 3)[0])
    groups = {i.id: i.group for i in model.indicators}
    used = raw[raw["date"] <= AS_OF]
    key = used["indicator"] if by == "indicator" else used["indicator"].map(groups)
    assert sorted(out[by].values) == sorted(set(key))
    for name in out[by].values:
        without = sf.forecast(model, raw.drop(index=used.index[key == name]), as_of=AS_OF, exact=True)
        expected = full - log_odds_db(without.horizon.values.reshape(-1, 3)[0])
        np.testing.assert_allclose(out["mean"].sel({by: name}).values, expected, atol=1e-9)
        assert int(out["n_reports"].sel({by: name})) == int((key == name).sum())
    assert "quiet" not in out[by].values  # never reported: nothing to leave out


def test_sampled_contributions_per_draw_match_chain_recomputation(sampled, model, raw):
    out = evidence_contributions(sampled, by="report", max_draws=40, prob=0.8)
    params = forecast_parameters(sampled, max_draws=40)
    full = chain_posterior(chain_terms_for_draws(model, sampled.evidence, params)).filtered[:, -1]
    # The recomputed chain reproduces the forecast's own horizon draws.
    keep = np.linspace(0, sampled.n_draws - 1, 40).round().astype(int)
    np.testing.assert_allclose(full, sampled.horizon.values.reshape(-1, 3)[keep], atol=1e-10)
    for k in (0, 3, 6):
        without = sf.load_evidence(raw.drop(index=k), model).up_to(AS_OF)
        left = chain_posterior(chain_terms_for_draws(model, without, params)).filtered[:, -1]
        expected = log_odds_db(full) - log_odds_db(left)
        got = out["decibans"].sel(report=k + 2).values
        np.testing.assert_allclose(got, expected, atol=1e-9)
        np.testing.assert_allclose(out["mean"].sel(report=k + 2).values, expected.mean(axis=0), atol=1e-9)
    assert (out["hdi_low"] <= out["mean"] + 1e-12).all() and (out["mean"] <= out["hdi_high"] + 1e-12).all()
    assert (out["hdi_high"] - out["hdi_low"]).max() > 0


def test_since_splits_the_change_into_new_reports(model, raw, exact):
    previous = sf.forecast(model, raw, as_of="2025-02-28", exact=True)
    out = since(previous, exact)
    p_prev = previous.horizon.values.reshape(-1, 3)[0]
    p_cur = exact.horizon.values.reshape(-1, 3)[0]
    np.testing.assert_allclose(out["change"].values, p_cur - p_prev, atol=1e-12)
    np.testing.assert_allclose(out["change_db"].values, log_odds_db(p_cur) - log_odds_db(p_prev), atol=1e-9)
    # Exact mode: the previous forecast is the current one without the new reports.
    np.testing.assert_allclose(out["new_evidence_db"].values, out["change_db"].values, atol=1e-9)
    np.testing.assert_allclose(out["other_db"].values, 0.0, atol=1e-9)
    assert list(out["status"].values) == ["added"] * 4 and out.attrs["n_removed"] == 0
    single = evidence_contributions(exact, by="report")
    for k in range(4):
        line = 7 + k  # the March and April reports are lines 7-10
        assert out["date"].values[k] == single["date"].sel(report=line).item()
        np.testing.assert_allclose(out["contribution"].values[k], single["mean"].sel(report=line).values)


def test_since_counts_a_corrected_report_as_removed_and_added(model, raw, exact):
    corrected = raw.copy()
    corrected.loc[7, "value"] = "1"  # 2025-04-02 strikes 0 -> 1
    current = sf.forecast(model, corrected, as_of=AS_OF, exact=True)
    out = since(exact, current)
    assert list(out["status"].values) == ["added", "removed"]
    np.testing.assert_allclose(
        out["new_evidence_db"] + out["removed_evidence_db"], out["change_db"], atol=1e-9
    )
    with pytest.raises(sf.SyriaforecastError, match="different models"):
        since(exact, sf.forecast(one_indicator_model((0.5, 0.4, 0.3), (0.4, 0.3, 0.3)), exact=True))


# --------------------------------------------------------------------------- collection
@pytest.mark.parametrize("reports", [[], [("2025-01-20", "x", "1", "", "")]])
def test_information_gain_of_one_binary_indicator_is_its_closed_form(reports):
    probs, prior = np.array([0.8, 0.3, 0.1]), np.array([0.5, 0.3, 0.2])
    model = one_indicator_model(tuple(probs), tuple(prior), months=4)
    result = sf.forecast(model, rows(*reports) if reports else None, as_of="2025-01-31", exact=True)
    pi = prior * probs if reports else prior
    pi = pi / pi.sum()
    expected = entropy_bits(pi)
    for like in (probs, 1 - probs):
        p_x = float(pi @ like)
        expected -= p_x * entropy_bits(pi * like / p_x)
    table = collection_priorities(result)
    assert table.attrs["units"] == "bits"
    np.testing.assert_allclose(table.loc["x", "gain_bits"], expected, rtol=1e-10)
    np.testing.assert_allclose(table.loc["x", "share"], expected / entropy_bits(pi), rtol=1e-10)
    assert table.attrs["next_period"] == "2025-02"


def test_information_gain_matches_forecasts_with_each_outcome(model, exact):
    table = collection_priorities(exact)
    A = np.full((3, 3), 0.15 / 2)
    np.fill_diagonal(A, 0.85)
    predicted = exact.filtered.values[0, 0, -1] @ A  # P(scenario in May | reports to April)
    now = exact.horizon.values.reshape(-1, 3)[0]
    outcomes = {
        "talks": ["0", "1"],
        "strikes": ["0", "1"],
        "quiet": ["0", "1"],
        "tension": ["low", "medium", "high"],
        "incidents": [str(k) for k in range(60)],
    }

    def likelihood(indicator, value):
        ind = model.indicator(indicator)
        if ind.type == "binary":
            p = np.array([ind.probability(s) for s in model.scenario_ids])
            return p if value == "1" else 1 - p
        if ind.type == "ordinal":
            return np.array([ind.likelihood[s][ind.levels.index(value)] for s in model.scenario_ids])
        rates = np.array([ind.likelihood[s] for s in model.scenario_ids])
        return poisson.pmf(int(value), rates)

    base = pd.read_csv(EVIDENCE, dtype=str, keep_default_na=False)
    base = base[base["date"] <= AS_OF]
    for indicator, values in outcomes.items():
        expected = entropy_bits(now)
        for value in values:
            extra = pd.DataFrame([{"date": "2025-05-01", "indicator": indicator, "value": value}])
            after = sf.forecast(model, pd.concat([base, extra]), as_of="2025-05-01", exact=True)
            p_x = float(predicted @ likelihood(indicator, value))
            expected -= p_x * entropy_bits(after.horizon.values.reshape(-1, 3)[0])
        np.testing.assert_allclose(table.loc[indicator, "gain_bits"], expected, rtol=1e-7, atol=1e-10)
    assert list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table["gain_bits"].is_monotonic_decreasing


def test_information_gain_is_zero_when_next_period_is_past_the_horizon(model, evidence):
    late = sf.forecast(model, evidence, as_of="2025-08-15", exact=True)
    table = collection_priorities(late)
    assert (table["gain_bits"] == 0).all()


def test_diagnosticity_is_the_weight_of_evidence_of_firing(exact, model):
    out = diagnosticity(exact)
    pi = np.array(model.prior)

    def db(fire):
        return [10 * math.log10(fire[s] / (np.delete(fire * pi, s).sum() / (1 - pi[s]))) for s in range(3)]

    strikes = np.array([0.1, 0.35, 0.8])
    np.testing.assert_allclose(out["mean"].sel(indicator="strikes").values, db(strikes), atol=1e-9)
    talks = np.array([expit((logit(0.55) + logit(0.8)) / 2), 0.3, expit((logit(0.05) + logit(0.2)) / 2)])
    np.testing.assert_allclose(out["mean"].sel(indicator="talks").values, db(talks), atol=1e-9)
    np.testing.assert_allclose(
        out["mean"].sel(indicator="tension").values, db(np.array([0.1, 0.3, 0.6])), atol=1e-9
    )
    incidents = 1 - np.exp(-np.array([0.5, 2.0, 5.0]))
    np.testing.assert_allclose(out["mean"].sel(indicator="incidents").values, db(incidents), atol=1e-9)
    assert list(out["fires"].values) == ["seen", "seen", "level 'high'", "at least 1", "seen"]


# --------------------------------------------------------------------------- sensitivity
def test_shifted_elicitations_follow_the_icd_203_bands(model):
    talks, strikes = model.indicator("talks"), model.indicator("strikes")
    assert shifted_elicitation(talks, "calm", -1) == ("roughly even chance", False)
    assert shifted_elicitation(talks, "calm", 1) == ("very likely", False)
    # 0.1 lies in "very unlikely" (0.05-0.20): its neighbours' logit midpoints.
    down, _ = shifted_elicitation(strikes, "calm", -1)
    up, _ = shifted_elicitation(strikes, "calm", 1)
    assert down == pytest.approx(expit((logit(0.01) + logit(0.05)) / 2))
    assert up == pytest.approx(expit((logit(0.2) + logit(0.45)) / 2))
    assert shifted_elicitation(strikes, "calm", -3)[0] == pytest.approx(down)  # clipped at the bottom band
    top = one_indicator_model((0.98, 0.5), (0.5, 0.5)).indicator("x")
    assert shifted_elicitation(top, "s0", 1) == (0.98, True)  # nothing above "almost certain"
    # Ordinal: cumulative logits move by one band step; higher levels gain.
    step = (logit(expit((logit(0.95) + logit(0.99)) / 2)) - logit(expit((logit(0.01) + logit(0.05)) / 2))) / 6
    levels, _ = shifted_elicitation(model.indicator("tension"), "calm", 1)
    np.testing.assert_allclose(np.cumsum(levels)[:2], [expit(logit(0.6) - step), expit(logit(0.9) - step)])
    rate, _ = shifted_elicitation(model.indicator("incidents"), "war", -1)
    assert rate == pytest.approx(5.0 * math.exp(-step))


def test_sensitivity_of_a_one_indicator_model_by_hand():
    model = sf.parse_model(
        {
            "model": {
                "id": "sens",
                "title": "Sensitivity",
                "period": "month",
                "start": "2025-01",
                "horizon": "2025-03-31",
                "persistence": 1.0,
                "elicitation_error": 0.0,
            },
            "scenarios": [
                {"id": "a", "name": "Alpha", "prior": 0.6, "resolution": "r"},
                {"id": "b", "name": "Beta", "prior": 0.4, "resolution": "r"},
            ],
            "indicators": [
                {
                    "id": "x",
                    "group": "g",
                    "type": "binary",
                    "text": "seen?",
                    "likelihood": {"a": 0.7, "b": "unlikely"},
                }
            ],
        }
    )
    result = sf.forecast(model, rows(("2025-01-10", "x", "1", "", "")), exact=True)
    table = elicitation_sensitivity(result).set_index(["indicator", "scenario"])

    def p_alpha(pa, pb):
        return 0.6 * pa / (0.6 * pa + 0.4 * pb)

    mid = {  # logit midpoints of the ICD 203 bands, by hand
        "very unlikely": expit((logit(0.05) + logit(0.2)) / 2),
        "unlikely": expit((logit(0.2) + logit(0.45)) / 2),
        "even": 0.5,
        "very likely": expit((logit(0.8) + logit(0.95)) / 2),
    }
    assert table.attrs["leading_name"] == "Alpha"
    row_a, row_b = table.loc[("x", "a")], table.loc[("x", "b")]
    assert row_a["p_base"] == pytest.approx(p_alpha(0.7, mid["unlikely"]), abs=1e-12)
    # 0.7 is "likely" (0.55-0.80): down to "roughly even chance", up to "very likely".
    assert row_a["p_down"] == pytest.approx(p_alpha(mid["even"], mid["unlikely"]), abs=1e-12)
    assert row_a["p_up"] == pytest.approx(p_alpha(mid["very likely"], mid["unlikely"]), abs=1e-12)
    assert row_b["p_down"] == pytest.approx(p_alpha(0.7, mid["very unlikely"]), abs=1e-12)
    assert row_b["p_up"] == pytest.approx(p_alpha(0.7, mid["even"]), abs=1e-12)
    assert (row_b["down"], row_b["up"]) == ("very unlikely", "roughly even chance")
    swing = max(abs(row_a["p_down"] - row_a["p_base"]), abs(row_a["p_up"] - row_a["p_base"]))
    assert row_a["swing"] == pytest.approx(swing)


def test_sensitivity_matches_editing_the_model_file(exact, model, raw):
    table = elicitation_sensitivity(exact)
    leading = table.attrs["leading"]
    assert leading == str(exact.mean("horizon").idxmax("scenario").item())
    assert len(table) == len(model.indicators) * len(model.scenarios)
    for _, row in table.iterrows():
        for column, steps in (("p_down", -1), ("p_up", 1)):
            data = model.to_dict()
            entry = next(e for e in data["indicators"] if e["id"] == row["indicator"])
            value, _ = shifted_elicitation(model.indicator(row["indicator"]), row["scenario"], steps)
            entry["likelihood"][row["scenario"]] = list(value) if isinstance(value, tuple) else value
            edited = sf.parse_model(data)
            again = sf.forecast(edited, sf.load_evidence(raw, edited), as_of=AS_OF, exact=True)
            expected = float(again.horizon.sel(scenario=leading).values.ravel()[0])
            assert row[column] == pytest.approx(expected, abs=1e-10), (
                row["indicator"],
                row["scenario"],
                column,
            )
    assert (table.loc[table["indicator"] == "quiet", "swing"] == 0).all()
    assert table["swing"].is_monotonic_decreasing


def test_linchpins_are_the_largest_swings(exact):
    table = elicitation_sensitivity(exact)
    top = linchpins(exact, n=3)
    assert len(top) == 3
    pd.testing.assert_frame_equal(top, table.head(3))
    with pytest.raises(sf.SyriaforecastError, match="n = 0"):
        linchpins(exact, n=0)
    with pytest.raises(sf.SyriaforecastError, match="steps"):
        elicitation_sensitivity(exact, steps=0)


def test_sampled_sensitivity_is_the_headline_plus_paired_draw_changes(sampled, model):
    table = elicitation_sensitivity(sampled, max_draws=30).set_index(["indicator", "scenario"])
    leading = table.attrs["leading"]
    lead = model.scenario_ids.index(leading)
    headline = float(sampled.mean("horizon").sel(scenario=leading))
    np.testing.assert_allclose(table["p_base"], headline, rtol=0, atol=1e-12)
    params = forecast_parameters(sampled, max_draws=30)
    base = chain_posterior(chain_terms_for_draws(model, sampled.evidence, params)).filtered[:, -1, lead]
    for (indicator, scenario), column, steps in (
        (("incidents", "tense"), "p_up", 1),
        (("talks", "calm"), "p_down", -1),
    ):
        data = model.to_dict()
        entry = next(e for e in data["indicators"] if e["id"] == indicator)
        value, _ = shifted_elicitation(model.indicator(indicator), scenario, steps)
        entry["likelihood"][scenario] = value
        edited = sf.parse_model(data)
        moved = chain_posterior(
            chain_terms_for_draws(edited, sampled.evidence, params, arrays=build_model_arrays(edited))
        ).filtered[:, -1, lead]
        expected = headline + float((moved - base).mean())
        assert table.loc[(indicator, scenario), column] == pytest.approx(expected, abs=1e-10)
    assert table.attrs["n_draws"] == 30


def test_bad_options_are_refused(exact):
    with pytest.raises(sf.SyriaforecastError, match="by = 'bogus'"):
        evidence_contributions(exact, by="bogus")
    with pytest.raises(sf.SyriaforecastError, match="target"):
        evidence_contributions(exact, target="later")
    with pytest.raises(sf.SyriaforecastError, match="max_draws"):
        collection_priorities(exact, max_draws=0)
    with pytest.raises(sf.SyriaforecastError, match="prob"):
        diagnosticity(exact, prob=1.5)


# --------------------------------------------------------------------------- plots and report
def texts(fig: Figure) -> str:
    found = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(found)


@pytest.mark.parametrize("which", ["exact", "sampled"])
def test_plots_name_scenarios_and_draw_bands(which, request, model):
    result = request.getfixturevalue(which)
    figures = {
        "fan": plot_fan_chart(result, max_draws=50),
        "contributions": plot_contributions(result, max_draws=50),
        "diagnosticity": plot_diagnosticity(result, max_draws=50),
        "collection": plot_collection(result, max_draws=50),
        "sensitivity": plot_sensitivity(result, max_draws=50),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure), name
        words = texts(fig)
        if name != "collection":
            for scenario in ("Calm Quarter", "Rising Tension", "Open War"):
                assert scenario in words, (name, scenario)
    fan = figures["fan"]
    bands = [c for c in fan.axes[0].collections if isinstance(c, PolyCollection)]
    assert (len(bands) > 0) == (which == "sampled")
    assert "as of 2025-04-30" in texts(fan)
    assert "Reports" in texts(fan)
    assert "decibans" in texts(figures["contributions"])
    assert "Calm Quarter: " in texts(figures["fan"])


def test_fan_chart_on_given_axes(exact):
    fig = Figure()
    ax = fig.subplots()
    assert plot_fan_chart(exact, ax=ax) is fig
    assert ax.get_ylim() == (0.0, 1.0)


def test_write_report_writes_plots_and_a_self_contained_page(tmp_path, exact, model, raw):
    previous = sf.forecast(model, raw, as_of="2025-02-28", exact=True)
    written = write_report(exact, tmp_path / "out", previous=previous)
    names = [p.name for p in written]
    assert names == [
        "fan_chart.png",
        "contributions.png",
        "collection.png",
        "sensitivity.png",
        "diagnosticity.png",
        "report.html",
    ]
    for path in written[:-1]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = written[-1].read_text(encoding="utf-8")
    for needle in (
        "Calm Quarter",
        "Rising Tension",
        "Open War",
        exact.attrs["model_sha256"],
        exact.attrs["evidence_sha256"],
        "2025-04-30",
        "data:image/png;base64,",
        'href="fan_chart.png"',
        "Since the forecast of 2025-02-28",
        "What to collect next",
        "Linchpin",
        "Provenance",
    ):
        assert needle in page, needle
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)  # no temporary files left


def test_cli_forecast_out_writes_the_report(tmp_path):
    from syriaforecast.cli import main

    code = main(
        ["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact", "--out", str(tmp_path)]
    )
    assert code == 0
    assert (tmp_path / "report.html").exists() and (tmp_path / "forecast.nc").exists()
    again = sf.load_forecast(tmp_path / "forecast.nc")
    assert (
        collection_priorities(again).index[0]
        == collection_priorities(sf.forecast(sf.load_model(MODEL), EVIDENCE, exact=True)).index[0]
    )


@pytest.mark.parametrize("by", ["report", "indicator", "source"])
def test_contributions_of_a_sampled_forecast_that_used_no_reports_are_empty(model, evidence, by):
    """As of before the first report nothing moved the forecast: no rows, totals exactly 0 dB."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        blank = sf.forecast(model, evidence, as_of="2025-01-05", seed=1, draws=100, tune=100)
    assert len(blank.evidence) == 0 and blank.mode == "hierarchical"
    out = evidence_contributions(blank, by=by)
    assert out.sizes[by] == 0
    for name in ("total_mean", "total_low", "total_high"):
        np.testing.assert_array_equal(out[name].values, 0.0)
    plot_contributions(blank, contributions=out)  # says "no reports used" instead of failing


def test_an_ordinal_elicitation_at_the_floor_moves_and_stays_a_valid_model(tmp_path):
    # A level at the documented minimum (1e-6): moved down a band, the level is floored and the
    # others share the rest in their moved proportions; the edited model passes its own check.
    from scipy.special import expit, logit

    from syriaforecast.report.sensitivity import _FLOOR, _shift_levels

    for value, delta in (((0.999999, 0.000001), -1.0), ((0.2, 0.799998, 0.000002), -2.5), ((0.5, 0.5), 0.7)):
        moved = np.asarray(_shift_levels(value, delta))
        cumulative = np.cumsum(value)[:-1]
        raw = np.diff(np.concatenate([[0.0], expit(logit(cumulative) - delta), [1.0]]))
        assert moved.min() >= _FLOOR and moved.sum() == pytest.approx(1.0, abs=1e-15)
        free = raw >= _FLOOR
        np.testing.assert_allclose(moved[free] / moved[free].sum(), raw[free] / raw[free].sum(), rtol=1e-12)
        np.testing.assert_array_equal(moved[~free], _FLOOR)
    model_text = (
        '[model]\nid = "ordmin"\ntitle = "t"\nperiod = "month"\nstart = "2025-01"\nhorizon = 2025-03-31\n'
        "persistence = 0.9\nelicitation_error = 0.5\n"
        '[[scenarios]]\nid = "calm"\nname = "Calm"\nprior = 0.5\nresolution = "r"\n'
        '[[scenarios]]\nid = "war"\nname = "War"\nprior = 0.5\nresolution = "r"\n'
        '[[indicators]]\nid = "tension"\ngroup = "g"\ntype = "ordinal"\ntext = "t"\n'
        'levels = ["low", "high"]\n'
        "likelihood = { calm = [0.999999, 0.000001], war = [0.3, 0.7] }\n"
    )
    (tmp_path / "m.toml").write_text(model_text)
    (tmp_path / "e.csv").write_text("date,indicator,value\n2025-01-05,tension,low\n")
    model = sf.load_model(tmp_path / "m.toml")
    result = sf.forecast(model, sf.load_evidence(tmp_path / "e.csv", model), exact=True)
    table = elicitation_sensitivity(result)  # raised ModelFileError on its own edited model
    assert len(table) == 2 and np.isfinite(table["swing"]).all()  # one row per (indicator, scenario)


def test_a_conditional_forecast_is_explained_under_its_assumed_drivers():
    # Exact mode on the drivers example with the ceasefire assumed on from 2025-06: each
    # indicator's contribution is the change in log-odds from dropping its rows and forecasting
    # again under the same assumption; what to collect starts from the assumed headline.
    from syriaforecast.report import collection_priorities, what_would_change_my_mind

    model_path, evidence_path = DATA / "drivers" / "model.toml", DATA / "drivers" / "evidence.csv"
    model = sf.load_model(model_path)
    rows = pd.read_csv(evidence_path, dtype=str, keep_default_na=False)
    assume = {"ceasefire": {"2025-06": 1}}
    result = sf.forecast(model, sf.load_evidence(rows, model), exact=True, assume=assume)
    plain = sf.forecast(model, sf.load_evidence(rows, model), exact=True)
    assumed, unassumed = result.horizon.values[0, 0], plain.horizon.values[0, 0]
    assert np.abs(assumed - unassumed).max() > 0.01  # the assumption moves the headline

    def decibels(p):
        return 10 * np.log10(p / (1 - p))

    table = evidence_contributions(result, by="indicator", max_draws=None)
    for ident, mean in zip(table["indicator"].values, table["mean"].values, strict=True):
        kept = sf.load_evidence(rows[rows["indicator"] != ident].reset_index(drop=True), model)
        without = sf.forecast(model, kept, exact=True, as_of=result.as_of, assume=assume).horizon.values[0, 0]
        np.testing.assert_allclose(mean, decibels(assumed) - decibels(without), atol=1e-9, err_msg=str(ident))
    entropy = float(-(assumed * np.log2(assumed)).sum())
    assert collection_priorities(result, max_draws=None).attrs["entropy_bits"] == pytest.approx(
        entropy, abs=1e-9
    )
    mind = what_would_change_my_mind(result).attrs["horizon"]
    np.testing.assert_allclose([mind[s] for s in model.scenario_ids], assumed, atol=1e-9)


def test_since_counts_the_driver_rows_logged_between_two_forecasts():
    # The drivers example logs the ceasefire on 2025-03-01 and off on 2025-05-02: between
    # forecasts as of February and April one driver row is new; between April and June, one more.
    from syriaforecast.report import since

    model = sf.load_model(DATA / "drivers" / "model.toml")
    evidence = sf.load_evidence(DATA / "drivers" / "evidence.csv", model)
    rows = pd.read_csv(DATA / "drivers" / "evidence.csv", dtype=str, keep_default_na=False)
    drivers = pd.to_datetime(rows.loc[rows["indicator"].isin(model.driver_ids), "date"])
    dates = ("2025-02-28", "2025-04-30", "2025-06-30")
    fits = {d: sf.forecast(model, evidence, exact=True, as_of=d) for d in dates}
    for a, b in ((dates[0], dates[1]), (dates[1], dates[2])):
        expected = int(((drivers > pd.Timestamp(a)) & (drivers <= pd.Timestamp(b))).sum())
        assert since(fits[a], fits[b]).attrs["n_driver_changes"] == expected == 1
    assert since(fits[dates[0]], fits[dates[0]]).attrs["n_driver_changes"] == 0
    # An edited value is one change; a row moved within its period (the same driver state) none.
    first = rows.index[rows["indicator"].isin(model.driver_ids)][0]
    edited, moved = rows.copy(), rows.copy()
    edited.loc[first, "value"] = "0" if rows.loc[first, "value"] == "1" else "1"
    day = pd.Timestamp(rows.loc[first, "date"])
    moved.loc[first, "date"] = (day + pd.Timedelta(days=1 if day.day < 28 else -1)).date().isoformat()
    for frame, expected in ((edited, 1), (moved, 0)):
        again = sf.forecast(model, sf.load_evidence(frame, model), exact=True, as_of=dates[-1])
        assert since(fits[dates[-1]], again).attrs["n_driver_changes"] == expected


def _two_scenario_count_model(tmp_path: Path, low: float, high: float) -> sf.ScenarioModel:
    """Scenarios low and high held fixed (persistence 1), even prior, one count indicator n."""
    (tmp_path / "m.toml").write_text(
        '[model]\nid = "big"\ntitle = "t"\nperiod = "month"\nstart = "2025-01"\nhorizon = 2025-03-31\n'
        "persistence = 1.0\nelicitation_error = 0.5\n"
        '[[scenarios]]\nid = "low"\nname = "Low"\nprior = 0.5\nresolution = "r"\n'
        '[[scenarios]]\nid = "high"\nname = "High"\nprior = 0.5\nresolution = "r"\n'
        '[[indicators]]\nid = "n"\ngroup = "g"\ntype = "count"\ntext = "n"\n'
        f"likelihood = {{ low = {low}, high = {high} }}\n"
    )
    return sf.load_model(tmp_path / "m.toml")


@pytest.mark.parametrize("rates", [(2.0, 5.0), (30.0, 60.0), (3000.0, 3300.0), (3000.0, 6000.0)])
def test_a_count_indicators_gain_equals_the_mutual_information_at_any_rate(tmp_path, rates):
    # Two scenarios held fixed (persistence 1), even prior, no evidence, exact mode: the gain of
    # one count report is the mutual information of the scenario and a Poisson count, summed here
    # over every count to 20,000 in logs. Counting outcomes up from 0 stopped at 2,000: rates in
    # the thousands came out at 0 bits.
    from scipy.special import logsumexp
    from scipy.stats import poisson

    from syriaforecast.report import collection_priorities

    low, high = rates
    model = _two_scenario_count_model(tmp_path, low, high)
    gain = collection_priorities(sf.forecast(model, None, exact=True), max_draws=None).loc["n", "gain_bits"]
    x = np.arange(20001)
    log_joint = np.log(0.5) + np.stack([poisson.logpmf(x, low), poisson.logpmf(x, high)])  # (Z, X)
    log_x = logsumexp(log_joint, axis=0)
    posterior = np.exp(log_joint - log_x)
    conditional = -(posterior * np.log2(np.where(posterior > 0, posterior, 1.0))).sum(axis=0)
    mutual = 1.0 - float(np.sum(np.exp(log_x) * conditional))
    assert gain == pytest.approx(mutual, abs=1e-9)


def test_a_counts_closed_form_outcomes_equal_the_enumerated_ones_under_posterior_draws(monkeypatch):
    # Hierarchical draws move each count's rate by their shift: the closed-form outcomes (rates
    # from two probes) give the gains that enumerating the engine's likelihoods gives.
    from syriaforecast.report import collection, collection_priorities

    model = sf.load_model(MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.errors.ConvergenceWarning)
        result = sf.forecast(model, sf.load_evidence(EVIDENCE, model), seed=4, draws=200, tune=200, chains=2)
    windowed = collection_priorities(result, max_draws=50)
    monkeypatch.setattr(collection, "_count_window", lambda *args: None)
    enumerated = collection_priorities(result, max_draws=50)
    counts = [i.id for i in model.indicators if i.type == "count"]
    assert counts
    np.testing.assert_allclose(windowed["gain_bits"], enumerated.loc[windowed.index, "gain_bits"], atol=1e-8)


def test_a_counts_outcomes_are_read_in_ranges_past_the_cap_and_give_a_lower_bound(tmp_path, monkeypatch):
    # Draws far apart on large rates spanned 300,000 counts and gigabytes (QA, 2026-12-03): past
    # _MAX_OUTCOMES the counts are read in equal ranges. Coarser outcomes carry no more information:
    # the gain is at most the exact one, and with ranges of a fraction of the spread, close to it.
    from syriaforecast.report import collection, collection_priorities

    result = sf.forecast(_two_scenario_count_model(tmp_path, 3000, 3300), None, exact=True)
    exact = collection_priorities(result, max_draws=None).loc["n", "gain_bits"]
    setup = collection.prepare(result, max_draws=None)
    full = len(collection.outcome_likelihoods(setup)["n"][0])
    monkeypatch.setattr(collection, "_MAX_OUTCOMES", 60)
    labels, probs = collection.outcome_likelihoods(setup)["n"]
    ranged = collection_priorities(result, max_draws=None).loc["n", "gain_bits"]
    assert full > 1000 and len(labels) <= 62 and "-" in labels[1]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert exact - 0.02 < ranged <= exact + 1e-12
