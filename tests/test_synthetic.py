"""Synthetic worlds: reproducible, and generated from exactly the model the engine assumes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from syriaforecast import forecast, load_model
from syriaforecast.backtest.synthetic import (
    DEFAULT_LEAD,
    grade_kappa,
    oracle_model,
    simulate_evidence,
    simulate_path,
    simulate_world,
    simulate_worlds,
)
from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN, build_model_arrays
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.engine.pymc_model import structure_key
from syriaforecast.errors import SyriaforecastError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def base():
    return load_model(DATA / "synthetic_base.toml")


@pytest.fixture(scope="module")
def tiny():
    return load_model(DATA / "tiny" / "model.toml")


def test_same_seed_same_world_and_worlds_differ(base):
    worlds = simulate_worlds(base, 5, seed=3)
    again = simulate_world(base, seed=worlds[2].seed)
    assert np.array_equal(again.path, worlds[2].path)
    assert again.evidence == worlds[2].evidence
    assert again.oracle == worlds[2].oracle
    assert len({w.seed for w in worlds}) == 5
    assert len({w.evidence.to_csv_text() for w in worlds}) == 5
    assert [w.seed for w in simulate_worlds(base, 5, seed=3)] == [w.seed for w in worlds]


def test_world_shape_and_periods(base):
    world = simulate_world(base, seed=11)
    T = base.horizon_index + 1
    assert world.path.shape == (T,)
    assert world.outcome == base.scenario_ids[world.path[-1]] == base.scenario_ids[world.outcome_index]
    assert world.model is base
    table = world.evidence.to_dataframe()
    assert table["period"].max() <= T - 1 - DEFAULT_LEAD
    # Each report's date lies in its period (period recomputed from the date by the loader).
    for date, period in zip(table["date"], table["period"], strict=True):
        assert base.period_index(date) == period
    short = simulate_world(base, seed=11, n_observed_periods=4)
    assert short.evidence.to_dataframe()["period"].max() <= 3
    assert np.array_equal(short.path, world.path)  # separate streams: the path does not move
    assert len(simulate_world(base, seed=11, n_observed_periods=0).evidence) == 0


def test_oracle_keeps_structure(base, tiny):
    for model in (base, tiny):
        world = simulate_world(model, seed=5)
        assert world.oracle.scenario_ids == model.scenario_ids
        assert world.oracle.indicator_ids == model.indicator_ids
        assert world.oracle.groups == model.groups
        assert world.oracle.persistence == model.persistence
        assert world.oracle.prior == pytest.approx(model.prior)
        T = model.horizon_index + 1
        assert structure_key(build_model_arrays(world.oracle), T) == structure_key(
            build_model_arrays(model), T
        )


def test_zero_noise_oracle_is_the_elicitation(tiny):
    world = simulate_world(tiny, seed=2, elicitation_noise=0.0)
    for mine, theirs in zip(world.oracle.indicators, tiny.indicators, strict=True):
        for sid in tiny.scenario_ids:
            if mine.type == "binary":
                assert mine.probability(sid) == pytest.approx(theirs.probability(sid), abs=1e-12)
            else:
                assert np.allclose(
                    np.asarray(mine.likelihood[sid], dtype=float),
                    np.asarray(theirs.likelihood[sid], dtype=float),
                )


def test_oracle_shifts_by_hand(tiny):
    # talks (binary, phrase "likely"), tension (ordinal), incidents (count); scenarios calm, storm.
    shift = np.array([[0.7, -0.4], [1.0, 0.0], [0.5, -1.0]])
    oracle = oracle_model(tiny, shift)
    talks = tiny.indicator("talks")
    expit = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert oracle.indicator("talks").likelihood["calm"] == pytest.approx(
        expit(np.log(talks.probability("calm") / (1 - talks.probability("calm"))) + 0.7)
    )
    assert oracle.indicator("talks").likelihood["storm"] == pytest.approx(expit(np.log(0.2 / 0.8) - 0.4))
    # Ordinal: P(x <= l) = expit(logit(cumulative) - shift), mass moves up the levels.
    cum = np.array([0.6, 0.9])
    moved = expit(np.log(cum / (1 - cum)) - 1.0)
    expected = np.diff(np.concatenate([[0.0], moved, [1.0]]))
    assert np.allclose(oracle.indicator("tension").likelihood["calm"], expected)
    assert oracle.indicator("tension").likelihood["calm"][2] > 0.1
    assert np.allclose(oracle.indicator("tension").likelihood["storm"], [0.1, 0.3, 0.6])
    incidents = tiny.indicator("incidents")
    assert oracle.indicator("incidents").likelihood["calm"] == pytest.approx(
        float(incidents.likelihood["calm"]) * np.exp(0.5)
    )
    with pytest.raises(SyriaforecastError, match="shape"):
        oracle_model(tiny, np.zeros((2, 2)))


@pytest.mark.parametrize("which", ["base", "tiny"])
def test_oracle_exact_mode_equals_engine_with_true_shift(which, base, tiny):
    """Two routes to the oracle forecast agree: the oracle's numbers, and the engine's eta shift."""
    model = base if which == "base" else tiny
    # Graded count reports are left out for the tiny model: the engine spreads count noise
    # by the model's elicited rates (see simulate_evidence), which the oracle's rates change.
    grades = ("A1", "C3", "") if which == "base" else ("",)
    world = simulate_world(model, seed=8, elicitation_noise=0.8, grades=grades)
    as_of = world.evidence.last_date
    oracle = forecast(world.oracle, world.evidence, as_of, exact=True)
    params = {k: np.asarray(v)[None] for k, v in world.parameters.items()}
    chain = chain_posterior(chain_terms_for_draws(model, world.evidence, params))
    assert np.allclose(oracle.horizon.values.reshape(-1), chain.filtered[0, -1], atol=1e-9)
    n = oracle.filtered.sizes["time"]
    assert np.allclose(oracle.filtered.values[0, 0], chain.filtered[0, :n], atol=1e-9)


def test_path_follows_the_chain():
    rng = np.random.default_rng(0)
    initial = np.array([0.5, 0.3, 0.2])
    persistence = np.array([0.9, 0.6, 0.75])
    paths = np.array([simulate_path(initial, persistence, 30, rng) for _ in range(2000)])
    first = np.bincount(paths[:, 0], minlength=3)
    assert stats.chisquare(first, 2000 * initial).pvalue > 0.01
    prev, nxt = paths[:, :-1].ravel(), paths[:, 1:].ravel()
    for s in range(3):
        moves = nxt[prev == s]
        stay = np.mean(moves == s)
        se = np.sqrt(persistence[s] * (1 - persistence[s]) / moves.size)
        assert abs(stay - persistence[s]) < 4 * se
        others = np.bincount(moves[moves != s], minlength=3)[[o for o in range(3) if o != s]]
        assert stats.chisquare(others).pvalue > 0.01  # a move goes evenly to the others


@pytest.mark.parametrize("grade", ["", "C3", "E"])
def test_report_frequencies_match_true_likelihood_and_grade(base, grade):
    """P(report says 1 | scenario) = kappa * p_true + (1 - kappa) / 2, pooled z-test per indicator."""
    _, _, kappa = grade_kappa(grade)
    worlds = simulate_worlds(
        base, 150, seed=21, grades=(grade,), report_rate=1.0, n_observed_periods=base.horizon_index + 1
    )
    z_scores = []
    for k, ind in enumerate(base.indicators):
        hits = np.zeros(())
        expected = np.zeros(())
        variance = np.zeros(())
        for world in worlds:
            table = world.evidence.to_dataframe()
            rows = table[table["indicator"] == ind.id]
            scen = world.path[rows["period"].to_numpy()]
            p_true = np.array([world.oracle.indicators[k].likelihood[base.scenario_ids[s]] for s in scen])
            q = kappa * p_true + (1 - kappa) / 2
            hits = hits + rows["state"].sum()
            expected = expected + q.sum()
            variance = variance + (q * (1 - q)).sum()
        z_scores.append(float((hits - expected) / np.sqrt(variance)))
    z = np.array(z_scores)
    assert np.all(np.abs(z) < 4), z
    assert stats.chi2.sf(np.sum(z**2), len(z)) > 0.001


def test_report_rate_and_grade_mix(base):
    worlds = simulate_worlds(base, 40, seed=4, report_rate=0.3)
    T_obs = base.horizon_index + 1 - DEFAULT_LEAD
    n = sum(len(w.evidence) for w in worlds)
    cells = 40 * T_obs * len(base.indicators)
    assert abs(n / cells - 0.3) < 4 * np.sqrt(0.3 * 0.7 / cells)
    grades = np.concatenate(
        [
            (
                w.evidence.to_dataframe()["reliability"]
                + w.evidence.to_dataframe()["credibility"].astype(str).replace("0", "")
            ).to_numpy()
            for w in worlds
        ]
    )
    counts = [np.sum(grades == g) for g in ("A1", "B2", "C3", "")]
    assert sum(counts) == n
    assert stats.chisquare(counts).pvalue > 0.01


def test_counts_and_ordinals_are_simulated(tiny):
    worlds = simulate_worlds(
        tiny, 60, seed=9, grades=("",), report_rate=1.0, n_observed_periods=tiny.horizon_index + 1
    )
    observed, expected = [], []
    for world in worlds:
        table = world.evidence.to_dataframe()
        rows = table[table["indicator"] == "incidents"]
        rates = [
            world.oracle.indicator("incidents").likelihood[tiny.scenario_ids[world.path[p]]]
            for p in rows["period"]
        ]
        observed.append(rows["state"].sum())
        expected.append(np.sum(rates))
        levels = set(table.loc[table["indicator"] == "tension", "value"])
        assert levels <= {"low", "medium", "high"}
    # A sum of independent Poisson counts is Poisson with the summed rate.
    assert abs(sum(observed) - sum(expected)) < 4 * np.sqrt(sum(expected))


def test_true_kappas_are_used(base):
    """simulate_evidence takes true informativeness factors other than the prior means."""
    truth = simulate_world(base, seed=1, elicitation_noise=0.0).oracle
    rng = np.random.default_rng(1)
    path = np.zeros(base.horizon_index + 1, dtype=int)
    rel = np.zeros(6)  # every graded "A" report is pure noise
    flips = []
    for _ in range(40):
        ev = simulate_evidence(
            truth, path, rng, report_rate=1.0, grades=("A",), n_observed_periods=len(path), reliability=rel
        )
        table = ev.to_dataframe()
        flips.append(table.loc[table["indicator"] == "curfew", "state"].to_numpy())
    # curfew under calm has p = 0.05, but pure noise says 1 half the time.
    share = np.concatenate(flips).mean()
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / np.concatenate(flips).size)


def test_grade_kappa():
    assert grade_kappa("B2") == (
        "B",
        "2",
        pytest.approx(RELIABILITY_PRIOR_MEAN["B"] * CREDIBILITY_PRIOR_MEAN["2"]),
    )
    assert grade_kappa("") == ("", "", 1.0)
    assert grade_kappa("c") == ("C", "", RELIABILITY_PRIOR_MEAN["C"])
    assert grade_kappa("4") == ("", "4", CREDIBILITY_PRIOR_MEAN["4"])
    with pytest.raises(SyriaforecastError, match="grades"):
        grade_kappa("G7")


def test_bad_options(base):
    with pytest.raises(NotImplementedError, match="analysts"):
        simulate_world(base, seed=1, analysts=2)
    with pytest.raises(SyriaforecastError, match="report_rate"):
        simulate_world(base, seed=1, report_rate=1.5)
    with pytest.raises(SyriaforecastError, match="elicitation_noise"):
        simulate_world(base, seed=1, elicitation_noise=-1.0)
    with pytest.raises(SyriaforecastError, match="n_observed_periods"):
        simulate_world(base, seed=1, n_observed_periods=99)
    with pytest.raises(SyriaforecastError, match="grades"):
        simulate_world(base, seed=1, grades="A1")
    with pytest.raises(SyriaforecastError, match="grades"):
        simulate_world(base, seed=1, grades=("Z9",))
    with pytest.raises(SyriaforecastError, match="n:"):
        simulate_worlds(base, -1, seed=1)


def test_evidence_dates_are_dates(base):
    world = simulate_world(base, seed=6)
    assert all(isinstance(d, dt.date) for d in world.evidence.to_dataframe()["date"])
    assert world.evidence.last_date < base.horizon
