"""Tests for syriaforecast.scoring.

Each test checks our scores against a value obtained independently: published
ForecastBench figures, scikit-learn, scoringrules, closed forms, or sums computed
here by hand.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, log_loss

from syriaforecast import scoring as sc
from syriaforecast.errors import SyriaforecastError
from syriaforecast.scoring import ScoringInputError

FB_DIR = Path(__file__).parent / "data" / "forecastbench"

# --------------------------------------------------------------------------- helpers


def _random_forecasts(rng: np.random.Generator, n: int, S: int, alpha: float = 1.0):
    """Dirichlet forecasts and outcomes drawn from them (so the forecasts are calibrated)."""
    p = rng.dirichlet(np.full(S, alpha), size=n)
    u = rng.random(n)[:, None]
    y = np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), S - 1)
    return p, y


def _onehot_sq_error(p: np.ndarray, y: np.ndarray) -> float:
    """Multi-class Brier by explicit loops, as an independent reference."""
    total = 0.0
    for row, outcome in zip(p, y, strict=True):
        for k, prob in enumerate(row):
            total += (prob - (1.0 if k == outcome else 0.0)) ** 2
    return total / len(y)


# --------------------------------------------------------------------------- 1. ForecastBench

DATA_SOURCES = ("acled", "dbnomics", "fred", "wikipedia", "yfinance")
MARKET_SOURCES = ("infer", "manifold", "metaculus", "polymarket")


def _published_superforecaster_row() -> dict[str, tuple[int, float]]:
    """Published (N, score) of the 'Superforecaster median forecast' leaderboard row."""
    table = pd.read_csv(FB_DIR / "human_leaderboard_superforecaster_row.csv")
    row = table.loc[table["Model"] == "Superforecaster median forecast"].iloc[0]
    out = {}
    for key, prefix in [
        ("dataset", "Dataset Score"),
        ("market_resolved", "Market Score (resolved)"),
        ("market_unresolved", "Market Score (unresolved)"),
    ]:
        (column,) = [c for c in table.columns if c.startswith(prefix + " (N=")]
        n = int(re.search(r"\(N=(\d+)\)", column).group(1))
        out[key] = (n, float(row[column]))
    return out


def _forecastbench_subsets() -> dict[str, pd.DataFrame]:
    """Match median superforecaster forecasts to resolutions, one row per scored question.

    Rule (from the data README, checked to reproduce the published N and scores):
    the forecast of a question is the median of the individual superforecaster
    forecasts for that (id, resolution_date). Data-source questions are matched on
    (id, resolution_date); pairs with no resolution row (horizons not yet resolved)
    drop out. Market questions have no resolution_date in the forecasts and are
    matched on id against their latest resolution row. Combination questions
    (``id`` is a list) are left out. Market questions split by ``resolved``.
    """
    forecasts = pd.read_csv(
        FB_DIR / "super_individual_forecasts.csv",
        dtype={"id": str, "source": str, "resolution_date": str, "forecast": float},
        keep_default_na=False,
    )
    medians = (
        forecasts.groupby(["id", "source", "resolution_date"], as_index=False)["forecast"]
        .median()
        .rename(columns={"forecast": "median_forecast"})
    )
    with open(FB_DIR / "resolution_set.json") as fh:
        resolutions = pd.DataFrame(json.load(fh)["resolutions"])
    resolutions = resolutions[[not isinstance(i, list) for i in resolutions["id"]]]
    resolutions = resolutions.astype({"id": str})

    data_res = resolutions[resolutions["source"].isin(DATA_SOURCES)]
    data = medians[medians["source"].isin(DATA_SOURCES)].merge(
        data_res[["id", "resolution_date", "resolved_to", "resolved"]],
        on=["id", "resolution_date"],
        how="inner",
        validate="one_to_one",
    )

    market_res = (
        resolutions[resolutions["source"].isin(MARKET_SOURCES)]
        .sort_values("resolution_date")
        .groupby("id", as_index=False)
        .tail(1)
    )
    market = (
        medians[medians["source"].isin(MARKET_SOURCES)]
        .drop(columns="resolution_date")
        .merge(
            market_res[["id", "resolved_to", "resolved"]],
            on="id",
            how="inner",
            validate="one_to_one",
        )
    )
    return {
        "dataset": data,
        "market_resolved": market[market["resolved"]],
        "market_unresolved": market[~market["resolved"]],
    }


@pytest.fixture(scope="module")
def forecastbench():
    return _forecastbench_subsets(), _published_superforecaster_row()


@pytest.mark.parametrize(
    ("subset", "expected_n", "expected_score"),
    [
        pytest.param("dataset", 521, 0.122, id="dataset-questions-N521"),
        pytest.param("market_resolved", 54, 0.082, id="market-resolved-N54"),
        pytest.param("market_unresolved", 22, 0.055, id="market-unresolved-N22"),
    ],
)
def test_forecastbench_superforecaster_median_brier(
    forecastbench, subset, expected_n, expected_score
):
    subsets, published = forecastbench
    # The figures written here are the ones in the copied leaderboard file.
    assert published[subset] == (expected_n, expected_score)

    table = subsets[subset]
    assert len(table) == expected_n

    f = table["median_forecast"].to_numpy()
    p = np.column_stack([1.0 - f, f])  # scenario 0 = "no", scenario 1 = "yes"
    v = table["resolved_to"].to_numpy()
    if subset == "market_unresolved":
        # Unresolved markets are scored against the market value v in (0, 1): the
        # outcome enters as the probability row (1 - v, v).
        assert ((v > 0) & (v < 1)).any()
        outcome = np.column_stack([1.0 - v, v])
    else:
        assert set(np.unique(v)) <= {0.0, 1.0}
        outcome = v.astype(int)

    # Our brier_score sums over both scenarios: (f - o)^2 + ((1 - f) - (1 - o))^2
    # = 2 (f - o)^2, twice ForecastBench's binary squared error. Convert explicitly.
    binary_brier = sc.brier_score(p, outcome) / 2.0
    assert round(binary_brier, 3) == expected_score
    # and the conversion itself, against a direct computation
    assert binary_brier == pytest.approx(np.mean((f - v) ** 2), abs=1e-15)


# --------------------------------------------------------------------------- 2. other libraries


@pytest.mark.parametrize("S", [2, 3, 5], ids=lambda s: f"S={s}")
def test_brier_matches_sklearn_and_onehot_sum(S):
    rng = np.random.default_rng(10 + S)
    p, y = _random_forecasts(rng, 300, S)
    ours = sc.brier_score(p, y)
    assert ours == pytest.approx(_onehot_sq_error(p, y), rel=1e-12)
    if S == 2:
        # sklearn's binary Brier is the squared error of the positive-class probability
        assert ours == pytest.approx(2.0 * brier_score_loss(y, p[:, 1]), rel=1e-12)
        assert ours == pytest.approx(brier_score_loss(y, p[:, 1], scale_by_half=False), rel=1e-12)
    else:
        # sklearn >= 1.7: multiclass Brier keeps the original 0..2 scale
        assert ours == pytest.approx(brier_score_loss(y, p, labels=list(range(S))), rel=1e-12)


@pytest.mark.parametrize("S", [2, 3, 5], ids=lambda s: f"S={s}")
def test_log_score_matches_sklearn(S):
    rng = np.random.default_rng(20 + S)
    p, y = _random_forecasts(rng, 300, S, alpha=2.0)
    assert sc.log_score(p, y) == pytest.approx(log_loss(y, p, labels=list(range(S))), rel=1e-12)


@pytest.mark.parametrize("S", [2, 3, 4, 6], ids=lambda s: f"S={s}")
def test_rps_matches_scoringrules(S):
    rng = np.random.default_rng(30 + S)
    p, y = _random_forecasts(rng, 250, S)
    ours = sc.ranked_probability_score(p, y)
    expected_onehot = np.mean(sr.rps_score(np.eye(S)[y], p, onehot=True))
    # With onehot=False scoringrules numbers categories 1..K, so pass y + 1.
    expected_index = np.mean(sr.rps_score(y + 1, p))
    assert ours == pytest.approx(expected_onehot, rel=1e-12)
    assert ours == pytest.approx(expected_index, rel=1e-12)


def test_rps_binary_is_half_brier():
    rng = np.random.default_rng(3)
    p, y = _random_forecasts(rng, 100, 2)
    assert sc.ranked_probability_score(p, y) == pytest.approx(sc.brier_score(p, y) / 2, rel=1e-12)


def test_xarray_input_matches_numpy():
    rng = np.random.default_rng(4)
    p, y = _random_forecasts(rng, 50, 3)
    da = xr.DataArray(p, dims=("case", "scenario"), coords={"scenario": ["war", "truce", "deal"]})
    y_da = xr.DataArray(y, dims="case")
    # scenario need not be last in the input
    assert sc.brier_score(da.transpose("scenario", "case"), y_da) == pytest.approx(
        _onehot_sq_error(p, y), rel=1e-12
    )
    assert sc.log_score(da, y) == pytest.approx(log_loss(y, p, labels=[0, 1, 2]), rel=1e-12)
    ds = sc.reliability_diagram(da, y_da, scenario="truce")
    assert list(ds["scenario"].values) == ["truce"]
    assert float(ds["brier"].sel(scenario="truce")) == pytest.approx(
        np.mean((p[:, 1] - (y == 1)) ** 2), rel=1e-12
    )


# --------------------------------------------------------------------------- 3. closed forms


@pytest.mark.parametrize("S", [2, 3, 7], ids=lambda s: f"S={s}")
def test_perfect_forecast_scores_zero(S):
    y = np.arange(20) % S
    p = np.eye(S)[y]
    assert sc.brier_score(p, y) == 0.0
    assert sc.log_score(p, y) == 0.0
    assert sc.ranked_probability_score(p, y) == 0.0
    assert sc.sharpness(p) == 1.0
    assert sc.sharpness(p, kind="entropy") == 0.0


@pytest.mark.parametrize("S", [2, 3, 7], ids=lambda s: f"S={s}")
def test_uniform_forecast_closed_forms(S):
    y = np.arange(21) % S
    p = sc.uniform_baseline(len(y), S)
    assert sc.brier_score(p, y) == pytest.approx(1 - 1 / S, rel=1e-12)
    assert sc.log_score(p, y) == pytest.approx(math.log(S), rel=1e-12)
    assert sc.sharpness(p) == pytest.approx(1 / S, rel=1e-12)
    assert sc.sharpness(p, kind="entropy") == pytest.approx(math.log(S), rel=1e-12)


def test_log_score_clips_zero_probability():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    y = np.array([1, 0])
    expected = (-math.log(np.finfo(float).eps) + math.log(2)) / 2
    assert sc.log_score(p, y) == pytest.approx(expected, rel=1e-12)
    assert sc.log_score(p, y, eps=1e-10) == pytest.approx((23.025850929940457 + math.log(2)) / 2)


# Forecast vectors whose entries, class by class, fall in distinct bins of width 0.1.
_FEW_VALUES = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.10, 0.20, 0.70],
        [0.25, 0.65, 0.10],
        [0.45, 0.45, 0.10],
        [0.05, 0.05, 0.90],
    ]
)


def test_murphy_identity_exact_for_few_distinct_values():
    rng = np.random.default_rng(5)
    rows = rng.integers(0, len(_FEW_VALUES), size=400)
    p = _FEW_VALUES[rows]
    # outcomes only loosely related to the forecasts, so REL and RES are both positive
    y = np.where(rng.random(400) < 0.6, rng.integers(0, 3, size=400), np.argmax(p, axis=1))
    d = sc.murphy_decomposition(p, y, bins=10)
    independent = _onehot_sq_error(p, y)
    assert d.brier == pytest.approx(independent, rel=1e-12)
    assert d.reliability - d.resolution + d.uncertainty == pytest.approx(independent, abs=1e-12)
    assert d.reliability > 0.01
    assert d.resolution > 0.001
    # UNC is the Brier score of the climatological forecast (observed base rates)
    base = np.bincount(y, minlength=3) / len(y)
    assert d.uncertainty == pytest.approx(
        sc.brier_score(sc.prior_baseline(base, len(y)), y), rel=1e-12
    )


def test_murphy_is_approximate_for_continuous_forecasts():
    rng = np.random.default_rng(6)
    p, y = _random_forecasts(rng, 2000, 3)
    d = sc.murphy_decomposition(p, y, bins=10)
    assert d.brier == pytest.approx(_onehot_sq_error(p, y), rel=1e-12)
    # within-bin variation makes the binned identity approximate, not exact
    assert d.reliability - d.resolution + d.uncertainty == pytest.approx(d.brier, abs=0.02)
    assert d.reliability >= 0
    assert d.resolution >= 0


@pytest.mark.parametrize("kind", ["classwise", "top-label"])
def test_ece_small_when_calibrated_large_when_overconfident(kind):
    rng = np.random.default_rng(7)
    p, y = _random_forecasts(rng, 20000, 3)
    assert sc.expected_calibration_error(p, y, kind=kind) < 0.02
    sharp = p**4
    sharp /= sharp.sum(axis=1, keepdims=True)  # same ranking, far too confident
    assert sc.expected_calibration_error(sharp, y, kind=kind) > 0.1


def test_ece_hand_computed():
    # Two scenarios; scenario-1 probabilities 0.05 (twice), 0.95 (twice); outcomes 1,0,1,1.
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.05, 0.95], [0.05, 0.95]])
    y = np.array([1, 0, 1, 1])
    # scenario 1: bin 0 gap |0.05 - 0.5| = 0.45, bin 9 gap |0.95 - 1| = 0.05 -> 0.25
    # scenario 0 is the mirror image with the same gaps -> classwise mean 0.25
    assert sc.expected_calibration_error(p, y) == pytest.approx(0.25)
    # top label: confidence 0.95 in every row, correct in rows 1, 2, 3 -> |0.95 - 0.75|
    assert sc.expected_calibration_error(p, y, kind="top-label") == pytest.approx(0.20)


def test_isotonic_recalibration_identity_on_calibrated_monotone_data():
    # Each forecast value v is followed by exactly the fraction v of hits.
    values = [0.1, 0.3, 0.5, 0.8]
    x, o = [], []
    for v in values:
        hits = round(v * 10)
        x += [v] * 10
        o += [1] * hits + [0] * (10 - hits)
    x = np.array(x)
    y = np.array(o)
    ds = sc.reliability_diagram(np.column_stack([1 - x, x]), y, scenario=1)
    np.testing.assert_allclose(ds["recalibrated"].values[0], ds["forecast"].values[0], atol=1e-12)
    assert float(ds["mcb"].item()) == pytest.approx(0.0, abs=1e-12)


def test_isotonic_recalibration_near_identity_on_large_calibrated_sample():
    rng = np.random.default_rng(8)
    x = rng.random(5000)
    y = (rng.random(5000) < x).astype(int)
    ds = sc.reliability_diagram(np.column_stack([1 - x, x]), y, scenario=1)
    gap = np.abs(ds["recalibrated"] - ds["forecast"]).values
    assert gap.mean() < 0.03
    assert float(ds["mcb"].item()) < 0.005


def test_corp_matches_sklearn_isotonic_with_ties():
    rng = np.random.default_rng(9)
    p, y = _random_forecasts(rng, 600, 3)
    # forecasts on a grid of 1/20 so that many values are exactly tied
    p = np.array([rng.multinomial(20, row) for row in p]) / 20
    ds = sc.reliability_diagram(p, y)
    for k in range(3):
        order = ds["case"].values[k]
        x = p[order, k]
        o = (y[order] == k).astype(float)
        expected = IsotonicRegression(y_min=0, y_max=1).fit_transform(x, o)
        np.testing.assert_allclose(ds["recalibrated"].values[k], expected, atol=1e-12)
        np.testing.assert_array_equal(ds["forecast"].values[k], x)


@pytest.mark.parametrize("S", [2, 3, 5], ids=lambda s: f"S={s}")
def test_corp_decomposition_is_exact(S):
    rng = np.random.default_rng(40 + S)
    p, y = _random_forecasts(rng, 500, S, alpha=0.7)
    ds = sc.reliability_diagram(p, y)
    for k in range(S):
        independent = np.mean((p[:, k] - (y == k)) ** 2)
        mcb, dsc, unc = (float(ds[v][k]) for v in ("mcb", "dsc", "unc"))
        assert mcb - dsc + unc == pytest.approx(independent, abs=1e-10)
        assert mcb >= -1e-15
        assert dsc >= -1e-15
        base = np.mean(y == k)
        assert unc == pytest.approx(base * (1 - base), abs=1e-12)
    # summed over scenarios, the one-vs-rest squared errors give the multi-class Brier
    assert float((ds["mcb"] - ds["dsc"] + ds["unc"]).sum()) == pytest.approx(
        _onehot_sq_error(p, y), abs=1e-10
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    S=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_corp_identity_and_bounds_property(n, S, seed):
    rng = np.random.default_rng(seed)
    p, y = _random_forecasts(rng, n, S, alpha=0.5)
    ds = sc.reliability_diagram(p, y)
    total = float((ds["mcb"] - ds["dsc"] + ds["unc"]).sum())
    assert total == pytest.approx(_onehot_sq_error(p, y), abs=1e-10)
    assert (ds["mcb"] >= -1e-12).all()
    assert (ds["dsc"] >= -1e-12).all()
    assert 0 <= sc.brier_score(p, y) <= 2
    # PAV preserves the mean: recalibrated forecasts match the observed frequencies
    np.testing.assert_allclose(ds["recalibrated"].mean("point"), ds["outcome"].mean("point"))


def test_consistency_bands_cover_calibrated_forecasts():
    rng = np.random.default_rng(11)
    x = rng.random(1000)
    y = (rng.random(1000) < x).astype(int)
    ds = sc.reliability_diagram(np.column_stack([1 - x, x]), y, n_boot=100, rng=12)
    low, high = ds["consistency_low"], ds["consistency_high"]
    assert (low <= high).all()
    inside = ((ds["forecast"] >= low - 1e-12) & (ds["forecast"] <= high + 1e-12)).mean()
    assert float(inside) > 0.8
    # same seed, same bands
    again = sc.reliability_diagram(np.column_stack([1 - x, x]), y, n_boot=100, rng=12)
    np.testing.assert_array_equal(again["consistency_low"], low)


def test_skill_score_and_baselines():
    y = np.array([0, 0, 0, 1, 2, 0, 1, 0])
    n, S = len(y), 3
    uniform = sc.uniform_baseline(n, S)
    ref = sc.brier_score(uniform, y)
    assert ref == pytest.approx(2 / 3)
    assert sc.skill_score(ref, ref) == 0.0
    assert sc.skill_score(0.0, ref) == 1.0
    prior = np.array([5, 2, 1]) / 8
    climatology = sc.brier_score(sc.prior_baseline(prior, n), y)
    # Brier of the base-rate forecast is sum_k o_k (1 - o_k)
    assert climatology == pytest.approx(float(np.sum(prior * (1 - prior))))
    assert sc.skill_score(climatology, ref) == pytest.approx(1 - climatology / (2 / 3))
    np.testing.assert_allclose(sc.skill_score(np.array([0.1, 0.2]), 0.4), [0.75, 0.5])


def test_bootstrap_matches_normal_theory_interval():
    rng = np.random.default_rng(13)
    p, y = _random_forecasts(rng, 2000, 3)
    est, low, high = sc.bootstrap(sc.brier_score, p, y, n_boot=400, ci=0.9, rng=14)
    per_case = np.sum((p - np.eye(3)[y]) ** 2, axis=1)
    assert est == pytest.approx(per_case.mean(), rel=1e-12)
    half_width = 1.6448536 * per_case.std(ddof=1) / math.sqrt(len(y))
    assert low < est < high
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.2)
    assert (est - low) == pytest.approx(half_width, rel=0.3)
    # reproducible with the same seed
    assert sc.bootstrap(sc.brier_score, p, y, n_boot=400, ci=0.9, rng=14) == (est, low, high)


def test_bootstrap_works_with_any_score():
    rng = np.random.default_rng(15)
    p, y = _random_forecasts(rng, 300, 4)
    res = sc.bootstrap(sc.ranked_probability_score, p, y, n_boot=50, rng=1)
    assert res.estimate == pytest.approx(np.mean(sr.rps_score(np.eye(4)[y], p, onehot=True)))
    assert res.low <= res.estimate <= res.high


# --------------------------------------------------------------------------- 4. input errors

_P_OK = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
_Y_OK = np.array([1, 0, 1])


@pytest.mark.parametrize(
    ("p", "y", "pattern"),
    [
        pytest.param(_P_OK, np.array([1, 0]), r"^y: has shape \(2,\) but p has 3 rows", id="y-len"),
        pytest.param(_P_OK[:, 0], _Y_OK, r"^p: has shape \(3,\); expected a 2-D", id="p-1d"),
        pytest.param(np.ones((3, 1)), _Y_OK, r"^p: .*need at least .* 2 scenarios", id="p-S1"),
        pytest.param(
            np.array([[1.2, -0.2], [0.6, 0.4], [0.5, 0.5]]),
            _Y_OK,
            r"^p: value 1\.2 at row 0, column 0 is outside \[0, 1\]",
            id="p-range",
        ),
        pytest.param(
            np.array([[0.2, 0.7], [0.6, 0.4], [0.5, 0.5]]),
            _Y_OK,
            r"^p: row 0 sums to 0\.9.*must sum to 1 within 1e-06",
            id="p-rowsum",
        ),
        pytest.param(
            np.array([[0.2, 0.8], [np.nan, 0.4], [0.5, 0.5]]),
            _Y_OK,
            r"^p: contains NaN \(first at row 1, column 0\)",
            id="p-nan",
        ),
        pytest.param(
            _P_OK,
            np.array([1, 2, 0]),
            r"^y: value 2 at position 1 .* y must lie in 0\.\.1",
            id="y-range",
        ),
        pytest.param(_P_OK, np.array([1, -1, 0]), r"^y: value -1 at position 1", id="y-negative"),
        pytest.param(_P_OK, np.array([1.0, np.nan, 0.0]), r"^y: contains NaN", id="y-nan"),
        pytest.param(
            _P_OK, np.array([1.0, 0.5, 0.0]), r"^y: value 0\.5 .* not an integer", id="y-frac"
        ),
        pytest.param(_P_OK, np.array(["a", "b", "c"]), r"^y: has dtype <U1", id="y-strings"),
        pytest.param(
            xr.DataArray(_P_OK, dims=("case", "outcome")),
            _Y_OK,
            r"^p: DataArray with dims .* has no 'scenario' dimension",
            id="p-xarray-no-scenario",
        ),
    ],
)
@pytest.mark.parametrize(
    "fn",
    [
        sc.brier_score,
        sc.log_score,
        sc.ranked_probability_score,
        sc.murphy_decomposition,
        sc.expected_calibration_error,
        sc.reliability_diagram,
    ],
    ids=lambda f: f.__name__,
)
def test_invalid_inputs_raise_naming_the_argument(fn, p, y, pattern):
    with pytest.raises(ScoringInputError, match=pattern) as info:
        fn(p, y)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SyriaforecastError)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        pytest.param(lambda: sc.murphy_decomposition(_P_OK, _Y_OK, bins=0), r"^bins:", id="bins-0"),
        pytest.param(
            lambda: sc.expected_calibration_error(_P_OK, _Y_OK, kind="max"),
            r"^kind:",
            id="ece-kind",
        ),
        pytest.param(lambda: sc.sharpness(_P_OK, kind="gini"), r"^kind:", id="sharpness-kind"),
        pytest.param(lambda: sc.log_score(_P_OK, _Y_OK, eps=0), r"^eps:", id="eps-0"),
        pytest.param(
            lambda: sc.reliability_diagram(_P_OK, _Y_OK, scenario=5), r"^scenario: 5", id="scenario"
        ),
        pytest.param(
            lambda: sc.reliability_diagram(_P_OK, _Y_OK, n_boot=-1), r"^n_boot:", id="n_boot"
        ),
        pytest.param(lambda: sc.bootstrap(sc.brier_score, _P_OK, _Y_OK, ci=1.5), r"^ci:", id="ci"),
        pytest.param(lambda: sc.bootstrap("brier", _P_OK, _Y_OK), r"^score_fn:", id="score_fn"),
        pytest.param(lambda: sc.skill_score(0.1, 0.0), r"^reference:", id="reference-0"),
        pytest.param(lambda: sc.uniform_baseline(3, 1), r"^S:", id="uniform-S"),
        pytest.param(lambda: sc.uniform_baseline(0, 2), r"^n:", id="uniform-n"),
        pytest.param(
            lambda: sc.prior_baseline([0.5, 0.6], 3), r"^prior: row 0 sums", id="prior-sum"
        ),
        pytest.param(
            lambda: sc.brier_score(_P_OK, np.ones((3, 3)) / 3),
            r"^y: has shape \(3, 3\); outcome probabilities must have the shape of p",
            id="soft-y-shape",
        ),
    ],
)
def test_invalid_options_raise_naming_the_argument(call, pattern):
    with pytest.raises(ScoringInputError, match=pattern):
        call()


def test_rounding_error_in_probabilities_is_tolerated():
    p = np.array([[1.0 + 1e-13, -1e-13], [0.3, 0.7 + 5e-7]])
    y = np.array([0, 1])
    expected = (0.0 + 2 * 0.3**2) / 2
    assert sc.brier_score(p, y) == pytest.approx(expected, abs=1e-6)
