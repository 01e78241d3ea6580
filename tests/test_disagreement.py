"""The disagreement report against brute force: one exact forecast per (indicator, analyst) variant."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from syriaforecast import forecast, load_model
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError
from syriaforecast.report.disagreement import disagreement
from syriaforecast.spec.evidence import load_evidence
from syriaforecast.studies.synthetic import simulate_world, with_analysts

DATA = Path(__file__).parent / "data"
AS_OF = "2025-04-30"
# Two analysts' tables for the tiny model (talks binary, tension ordinal, incidents count).
TABLES = {
    "talks": {
        "ana": {"calm": "likely", "storm": 0.2},
        "bo": {"calm": 0.45, "storm": 0.35},
    },
    "tension": {
        "ana": {"calm": (0.6, 0.3, 0.1), "storm": (0.1, 0.3, 0.6)},
        "bo": {"calm": (0.3, 0.4, 0.3), "storm": (0.2, 0.4, 0.4)},
    },
    "incidents": {
        "ana": {"calm": 0.5, "storm": 3.0},
        "bo": {"calm": 1.5, "storm": 2.0},
    },
}


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


@pytest.fixture(scope="module")
def tiny():
    return load_model(DATA / "tiny" / "model.toml")


@pytest.fixture(scope="module")
def model(tiny):
    return with_analysts(tiny, TABLES)


@pytest.fixture(scope="module")
def evidence(model):
    return load_evidence(DATA / "tiny" / "evidence.csv", model)


def _brute_force(model, evidence, as_of, indicator, analyst):
    """Exact forecast of the consensus model with one indicator's table replaced by hand."""
    empty = MappingProxyType({})
    indicators = []
    for ind in model.indicators:
        likelihood = ind.elicitations[analyst] if ind.id == indicator else ind.likelihood
        indicators.append(
            dataclasses.replace(ind, likelihood=MappingProxyType(dict(likelihood)), elicitations=empty)
        )
    variant = dataclasses.replace(model, indicators=tuple(indicators))
    assert variant.analysts == ()
    return forecast(variant, evidence, as_of, exact=True).horizon.values.reshape(-1)


def test_swing_matches_brute_force(model, evidence):
    result = forecast(model, evidence, AS_OF, exact=True)
    ds = disagreement(result)
    consensus = dataclasses.replace(
        model,
        indicators=tuple(dataclasses.replace(i, elicitations=MappingProxyType({})) for i in model.indicators),
    )
    base = forecast(consensus, evidence, AS_OF, exact=True).horizon.values.reshape(-1)
    assert np.allclose(ds["consensus"].values, base, atol=1e-10)
    # exact mode on the multi-analyst model is the consensus too
    assert np.allclose(result.horizon.values.reshape(-1), base, atol=1e-10)
    for indicator in model.indicator_ids:
        moves = []
        for analyst in ("ana", "bo"):
            p = _brute_force(model, evidence, AS_OF, indicator, analyst)
            got = ds["horizon"].sel(indicator=indicator, analyst=analyst).values
            assert np.allclose(got, p, atol=1e-10), (indicator, analyst)
            moves.append(np.abs(p - base).max())
            assert float(ds["move"].sel(indicator=indicator, analyst=analyst)) == pytest.approx(
                moves[-1], abs=1e-10
            )
        assert float(ds["swing"].sel(indicator=indicator)) == pytest.approx(max(moves), abs=1e-10)
        assert (
            str(ds["swing_analyst"].sel(indicator=indicator).values) == ("ana", "bo")[int(np.argmax(moves))]
        )
    swings = ds["swing"].values
    assert np.all(np.diff(swings) <= 0)
    assert swings[0] > 0.01  # the tables differ enough to matter
    assert ds.attrs["mode"] == "exact" and ds.attrs["as_of"] == AS_OF
    assert list(ds["n_reports"].sel(indicator=["talks", "tension", "incidents"]).values) == [2, 2, 2]


def test_spread_and_diagnosticity_by_hand(model, evidence, tiny):
    ds = disagreement(forecast(model, evidence, AS_OF, exact=True))
    likely = tiny.indicator("talks").probability("calm")  # the phrase's logit midpoint
    ana = {"calm": likely, "storm": 0.2}
    bo = {"calm": 0.45, "storm": 0.35}
    # Two analysts: SD (ddof=1) is |difference| / sqrt(2), averaged over scenarios.
    expected = np.mean([abs(_logit(ana[s]) - _logit(bo[s])) / math.sqrt(2) for s in ("calm", "storm")])
    assert float(ds["spread"].sel(indicator="talks")) == pytest.approx(expected)
    # Two scenarios: "not calm" is storm, so the diagnosticity is 10 log10(p_calm / p_storm).
    d_ana = 10 * math.log10(ana["calm"] / ana["storm"])
    d_bo = 10 * math.log10(bo["calm"] / bo["storm"])
    assert float(ds["diagnosticity"].sel(indicator="talks", analyst="ana", scenario="calm")) == pytest.approx(
        d_ana
    )
    assert float(ds["diagnosticity"].sel(indicator="talks", analyst="bo", scenario="storm")) == pytest.approx(
        -d_bo
    )
    assert float(ds["diagnosticity_gap"].sel(indicator="talks")) == pytest.approx(abs(d_ana - d_bo))
    # Ordinal fires at the highest level; count fires at one or more.
    top_ana = 10 * math.log10(0.1 / 0.6)
    top_bo = 10 * math.log10(0.3 / 0.4)
    assert float(ds["diagnosticity_gap"].sel(indicator="tension")) == pytest.approx(abs(top_ana - top_bo))
    fire = lambda r: 1 - math.exp(-r)  # noqa: E731
    count_ana = 10 * math.log10(fire(0.5) / fire(3.0))
    count_bo = 10 * math.log10(fire(1.5) / fire(2.0))
    assert float(ds["diagnosticity_gap"].sel(indicator="incidents")) == pytest.approx(
        abs(count_ana - count_bo)
    )
    # Counts spread on the log scale.
    expected = np.mean([abs(math.log(0.5 / 1.5)), abs(math.log(3.0 / 2.0))]) / math.sqrt(2)
    assert float(ds["spread"].sel(indicator="incidents")) == pytest.approx(expected)


def test_unreported_indicators_do_not_swing_and_top(model, evidence):
    early = forecast(model, evidence, "2025-01-31", exact=True)  # only talks reported by then
    ds = disagreement(early)
    assert str(ds["indicator"].values[0]) == "talks"
    assert float(ds["swing"].sel(indicator="talks")) > 0
    assert float(ds["swing"].sel(indicator="tension")) == 0.0
    assert float(ds["swing"].sel(indicator="incidents")) == 0.0
    assert int(ds["n_reports"].sel(indicator="tension")) == 0
    # ties at zero swing are ordered by the diagnosticity gap
    rest = ds.isel(indicator=slice(1, None))
    assert np.all(np.diff(rest["diagnosticity_gap"].values) <= 0)
    one = disagreement(early, top=1)
    assert list(one["indicator"].values) == ["talks"]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(SyriaforecastError, match="top"):
            disagreement(early, top=bad)


def test_partial_elicitations_and_synthetic_world(tiny):
    """An analyst who skipped an indicator has NaN there; simulated worlds work end to end."""
    partial = with_analysts(tiny, {"talks": TABLES["talks"], "tension": {"ana": TABLES["tension"]["ana"]}})
    evidence = load_evidence(DATA / "tiny" / "evidence.csv", partial)
    ds = disagreement(forecast(partial, evidence, AS_OF, exact=True))
    assert np.isnan(float(ds["move"].sel(indicator="tension", analyst="bo")))
    assert np.isnan(float(ds["spread"].sel(indicator="tension")))  # one analyst: no spread
    assert np.isnan(float(ds["swing"].sel(indicator="incidents")))  # nobody's table
    assert list(ds["indicator"].values)[-1] == "incidents"
    world = simulate_world(tiny, seed=3, analysts={"x": 0.3, "y": 1.0})
    ds = disagreement(forecast(world.model, world.evidence, exact=True))
    assert ds.sizes["indicator"] == 3 and ds.sizes["analyst"] == 2
    assert np.all(np.isfinite(ds["swing"].values))


def test_model_without_analysts_is_an_error(tiny):
    result = forecast(tiny, load_evidence(DATA / "tiny" / "evidence.csv", tiny), AS_OF, exact=True)
    with pytest.raises(SyriaforecastError, match="one analyst"):
        disagreement(result)


def test_hierarchical_forecast_gives_the_exact_mode_swing(model, evidence):
    """The swing is computed in exact mode whatever the forecast's mode: same numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sampled = forecast(model, evidence, AS_OF, draws=50, tune=50, chains=1, seed=3)
    assert "analyst_noise" in sampled.posterior
    ds = disagreement(sampled)
    exact = disagreement(forecast(model, evidence, AS_OF, exact=True))
    assert ds.attrs["forecast_mode"] == "hierarchical" and exact.attrs["forecast_mode"] == "exact"
    for name in ("swing", "horizon", "consensus", "spread", "diagnosticity_gap"):
        assert np.array_equal(ds[name].values, exact[name].values, equal_nan=True), name
