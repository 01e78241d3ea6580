"""Synthetic worlds: reproducible, and generated from exactly the model the engine assumes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from syriaforecast import forecast, load_model
from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN, build_model_arrays
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.engine.parameters import samples_persistence
from syriaforecast.errors import SyriaforecastError
from syriaforecast.spec.model import elicitation_consensus, parse_model
from syriaforecast.studies.synthetic import (
    DEFAULT_LEAD,
    analyst_model,
    consensus_model,
    grade_kappa,
    oracle_model,
    simulate_evidence,
    simulate_path,
    simulate_world,
    simulate_worlds,
    with_analysts,
)

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
        mine, theirs = build_model_arrays(world.oracle), build_model_arrays(model)
        assert mine.cutpoints.shape == theirs.cutpoints.shape
        assert samples_persistence(mine) == samples_persistence(theirs)


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


# The unreliable grade (E) in make test; the others with the slow tests (20 s together).
@pytest.mark.parametrize(
    "grade", [pytest.param("", marks=pytest.mark.slow), pytest.param("C3", marks=pytest.mark.slow), "E"]
)
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
    for bad in (0, -2, True, 1.5, {}, {"x": -0.1}, {"x": (0.0, float("nan"))}, {"1x": 0.5}, {"x": "big"}):
        with pytest.raises(SyriaforecastError, match="analysts"):
            simulate_world(base, seed=1, analysts=bad)
    with pytest.raises(SyriaforecastError, match="analyst_noise"):
        simulate_world(base, seed=1, analysts=2, analyst_noise=-1.0)
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


# --------------------------------------------------------------------------- several analysts
def _logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def test_one_analyst_is_the_single_elicitation_world(base, tiny):
    """analysts=1 changes nothing; with analysts the oracle, path and reports stay those of the seed."""
    for model in (base, tiny):
        plain = simulate_world(model, seed=12, elicitation_noise=0.6)
        one = simulate_world(model, seed=12, elicitation_noise=0.6, analysts=1)
        assert plain.model is model and one.model is model
        assert model.analysts == ()
        several = simulate_world(model, seed=12, elicitation_noise=0.6, analysts={"x": 0.4, "y": (0.3, 1.0)})
        for other in (one, several):
            assert other.oracle == plain.oracle
            assert other.evidence == plain.evidence
            assert np.array_equal(other.path, plain.path)
            for key, value in plain.parameters.items():
                assert np.array_equal(other.parameters[key], value)
        assert several.model.analysts == ("x", "y")
        assert set(several.parameters) - set(plain.parameters) == {
            "analyst_bias",
            "analyst_noise",
            "analyst_eta",
        }
        assert np.array_equal(several.parameters["analyst_bias"], [0.0, 0.3])
        assert np.array_equal(several.parameters["analyst_noise"], [0.4, 1.0])


def test_analysts_are_deterministic_by_seed(base):
    spec = {"good": 0.3, "fair": (-0.2, 0.6), "poor": 1.5}
    first = simulate_worlds(base, 3, seed=5, analysts=spec)
    again = simulate_worlds(base, 3, seed=5, analysts=spec)
    for a, b in zip(first, again, strict=True):
        assert a.model == b.model
        assert np.array_equal(a.parameters["analyst_eta"], b.parameters["analyst_eta"])
        assert [dict(i.elicitations) for i in a.model.indicators] == [
            dict(i.elicitations) for i in b.model.indicators
        ]
    assert first[0].model != first[1].model
    assert not np.array_equal(first[0].parameters["analyst_eta"], first[1].parameters["analyst_eta"])
    numbered = simulate_world(base, seed=5, analysts=3, analyst_noise=0.7)
    assert numbered.model.analysts == ("a1", "a2", "a3")
    assert np.array_equal(numbered.parameters["analyst_noise"], [0.7] * 3)
    assert np.array_equal(numbered.parameters["analyst_bias"], [0.0] * 3)
    default = simulate_world(base, seed=5, analysts=2)
    assert np.array_equal(default.parameters["analyst_noise"], [base.analyst_noise] * 2)


def test_analyst_errors_have_the_requested_bias_and_noise(base):
    """Sample moments of logit(written) - logit(base) per analyst: mean = bias, sd = noise.

    200 worlds x 8 binary indicators x 3 scenarios = 4800 cells per analyst; the
    tolerances are 4 standard errors (mean: noise / sqrt(n); sd: noise / sqrt(2n)).
    The errors are independent of each other and of the truth's shift.
    """
    spec = {"sharp": (0.4, 0.3), "loose": (-0.25, 1.2), "plain": 0.7}
    worlds = simulate_worlds(base, 200, seed=31, analysts=spec, elicitation_noise=0.8)
    target = np.array([[_logit(ind.likelihood[s]) for s in base.scenario_ids] for ind in base.indicators])
    errors = {a: [] for a in spec}
    truth_shift = []
    for world in worlds:
        truth = np.array(
            [[_logit(ind.likelihood[s]) for s in base.scenario_ids] for ind in world.oracle.indicators]
        )
        truth_shift.append((truth - target).ravel())
        for k, a in enumerate(spec):
            written = np.array(
                [
                    [_logit(ind.elicitations[a][s]) for s in base.scenario_ids]
                    for ind in world.model.indicators
                ]
            )
            errors[a].append((written - target).ravel())
            # The recorded parameters reproduce the table exactly.
            bias, noise = world.parameters["analyst_bias"][k], world.parameters["analyst_noise"][k]
            assert np.allclose(written - target, bias + noise * world.parameters["analyst_eta"][k], atol=1e-9)
    n = len(worlds) * target.size
    for a, value in spec.items():
        bias, noise = value if isinstance(value, tuple) else (0.0, value)
        e = np.concatenate(errors[a])
        assert e.size == n
        assert abs(e.mean() - bias) < 4 * noise / np.sqrt(n), (a, e.mean())
        assert abs(e.std(ddof=1) - noise) < 4 * noise / np.sqrt(2 * n), (a, e.std())
        assert abs(stats.skew(e)) < 4 * np.sqrt(6 / n)
    stacked = np.array([np.concatenate(errors[a]) for a in spec] + [np.concatenate(truth_shift)])
    corr = np.corrcoef(stacked)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 4 / np.sqrt(n)), corr
    assert abs(np.concatenate(truth_shift).std() - 0.8) < 4 * 0.8 / np.sqrt(2 * n)


def test_consensus_is_the_logit_average(base):
    world = simulate_world(base, seed=2, analysts={"x": 0.5, "y": (1.0, 0.2), "z": 2.0})
    for ind in world.model.indicators:
        for s in base.scenario_ids:
            logits = [_logit(ind.elicitations[a][s]) for a in ("x", "y", "z")]
            assert _logit(ind.likelihood[s]) == pytest.approx(np.mean(logits), abs=1e-9)
    assert consensus_model(world.model).analysts == ()
    assert consensus_model(world.model).indicators[0].likelihood == world.model.indicators[0].likelihood
    alone = analyst_model(world.model, "y")
    assert alone.analysts == ()
    assert alone.indicators[3].likelihood == world.model.indicators[3].elicitations["y"]
    with pytest.raises(SyriaforecastError, match="analyst"):
        analyst_model(world.model, "nobody")


def test_analysts_of_ordinal_and_count_indicators_by_hand(tiny):
    """Ordinal cutpoints move by -(bias + noise * eps), count log rates by +(...), as the truth does."""
    world = simulate_world(tiny, seed=4, analysts={"x": (0.3, 0.5), "y": (-0.1, 0.8)}, elicitation_noise=0.2)
    eta = world.parameters["analyst_eta"]
    expit = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for k, (a, bias, noise) in enumerate((("x", 0.3, 0.5), ("y", -0.1, 0.8))):
        for s, sid in enumerate(tiny.scenario_ids):
            d = bias + noise * eta[k, :, s]
            talks = world.model.indicator("talks").elicitations[a][sid]
            assert talks == pytest.approx(expit(_logit(tiny.indicator("talks").probability(sid)) + d[0]))
            cum = np.cumsum(tiny.indicator("tension").likelihood[sid])[:-1]
            moved = np.diff(np.concatenate([[0.0], expit(_logit(cum) - d[1]), [1.0]]))
            assert np.allclose(world.model.indicator("tension").elicitations[a][sid], moved, atol=1e-9)
            rate = float(tiny.indicator("incidents").likelihood[sid]) * np.exp(d[2])
            assert world.model.indicator("incidents").elicitations[a][sid] == pytest.approx(rate)
    # Consensus: average cumulative logits (ordinal), geometric mean (count).
    tension = world.model.indicator("tension")
    for sid in tiny.scenario_ids:
        cums = [np.cumsum(tension.elicitations[a][sid])[:-1] for a in ("x", "y")]
        expected = np.diff(np.concatenate([[0.0], expit(np.mean([_logit(c) for c in cums], axis=0)), [1.0]]))
        assert np.allclose(tension.likelihood[sid], expected, atol=1e-9)
        rates = [world.model.indicator("incidents").elicitations[a][sid] for a in ("x", "y")]
        assert world.model.indicator("incidents").likelihood[sid] == pytest.approx(np.sqrt(np.prod(rates)))


def test_with_analysts_by_hand(tiny):
    """Phrases count as their band's logit midpoint; indicators not named keep one elicitation."""
    talks = tiny.indicator("talks")
    tables = {"x": {"calm": "likely", "storm": 0.2}, "y": {"calm": 0.9, "storm": 0.4}}
    model = with_analysts(tiny, {"talks": tables})
    assert model.analysts == ("x", "y")
    mid = _logit(talks.probability("calm"))  # "likely" as the model reads it
    assert model.indicator("talks").likelihood["calm"] == pytest.approx(
        1 / (1 + np.exp(-(mid + _logit(0.9)) / 2))
    )
    assert model.indicator("talks").likelihood["storm"] == pytest.approx(
        1 / (1 + np.exp(-(_logit(0.2) + _logit(0.4)) / 2))
    )
    assert model.indicator("tension") == tiny.indicator("tension")
    assert elicitation_consensus("binary", list(tables.values()), tiny.scenario_ids) == dict(
        model.indicator("talks").likelihood
    )
    evidence = simulate_world(tiny, seed=1).evidence
    assert forecast(model, evidence, exact=True).horizon.shape == (1, 1, 2)
    with pytest.raises(SyriaforecastError, match="unknown indicators"):
        with_analysts(tiny, {"nope": tables})
    with pytest.raises(SyriaforecastError, match="scenario"):
        with_analysts(tiny, {"talks": {"x": {"calm": 0.5}}})


@pytest.mark.parametrize("which", ["base", "tiny"])
def test_simulated_analysts_round_trip_through_the_model_file(which, base, tiny):
    """A simulated multi-analyst model is what the loader builds from its own TOML."""
    model = base if which == "base" else tiny
    world = simulate_world(model, seed=7, analysts={"x": 0.4, "y": (0.5, 1.2), "z": 2.0})
    again = parse_model(world.model.to_toml())
    assert again == world.model
    assert again.analysts == ("x", "y", "z")
