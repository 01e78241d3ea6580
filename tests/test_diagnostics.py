"""The batched R-hat and ESS (engine.diagnostics) against ArviZ's, quantity by quantity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

arviz_stats = pytest.importorskip("arviz_stats")

from syriaforecast.engine.diagnostics import ess_bulk, ess_tail, rhat  # noqa: E402


def _draws() -> np.ndarray:
    """Autocorrelated chains, one stuck apart, probabilities near 0 and 1, ties and a constant."""
    rng = np.random.default_rng(5)
    C, N, K = 4, 301, 7
    noise = rng.normal(size=(C, N, K))
    x = np.empty((C, N, K))
    x[:, 0] = noise[:, 0]
    for t in range(1, N):
        x[:, t] = 0.9 * x[:, t - 1] + noise[:, t]
    x[3, :, 1] += 3.0  # one chain on another reading
    values = 1 / (1 + np.exp(-x))
    values[..., 2] = np.round(values[..., 2], 1)  # many ties (as after resampling)
    values[..., 3] = 1 / (1 + np.exp(-(x[..., 3] * 8 + 12)))  # pressed against 1
    values[..., 4] = 0.25  # constant
    return values


@pytest.mark.parametrize("name", ["rhat", "ess_bulk", "ess_tail"])
def test_batched_diagnostics_equal_arviz(name):
    values = _draws()
    ours = {"rhat": rhat, "ess_bulk": ess_bulk, "ess_tail": ess_tail}[name](values)
    array = xr.DataArray(values, dims=("chain", "draw", "q"))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ArviZ on the constant quantity
        theirs = _arviz(name, array)
    varying = np.ptp(values.reshape(-1, values.shape[2]), axis=0) > 0
    np.testing.assert_allclose(ours[varying], theirs[varying], rtol=1e-10)
    assert rhat(values)[1] > 1.1  # the stuck chain shows


def _arviz(name, array):
    if name == "rhat":
        return arviz_stats.rhat(array, sample_dims=["chain", "draw"]).values
    return arviz_stats.ess(array, sample_dims=["chain", "draw"], method=name.split("_")[1]).values


def test_a_forecasts_diagnostics_are_arvizs():
    import syriaforecast as sf

    from .test_engine_exact import EVIDENCE_CASES, reports, small_model

    model = small_model(persistence=0.9, months=6, elicitation_error=0.5)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"]), model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        result = sf.forecast(model, evidence, as_of="2025-06-30", seed=3, draws=200, tune=200)
    for name in ("horizon", "filtered", "smoothed"):
        values = getattr(result, name)
        for key, theirs in (
            ("rhat", arviz_stats.rhat(values, sample_dims=["chain", "draw"])),
            ("ess_bulk", arviz_stats.ess(values, sample_dims=["chain", "draw"])),
            ("ess_tail", arviz_stats.ess(values, sample_dims=["chain", "draw"], method="tail")),
        ):
            ours = result.diagnostics[f"{name}_{key}"]
            assert ours.dims == theirs.dims
            np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-10)


def test_mcse_of_the_mean_equals_arviz():
    from syriaforecast.engine.diagnostics import mcse_mean

    values = _draws()
    array = xr.DataArray(values, dims=("chain", "draw", "q"))
    theirs = arviz_stats.mcse(array, sample_dims=["chain", "draw"], method="mean").values
    varying = np.ptp(values.reshape(-1, values.shape[2]), axis=0) > 0
    np.testing.assert_allclose(mcse_mean(values)[varying], theirs[varying], rtol=1e-10)


@pytest.mark.parametrize("prob", [0.5, 0.9, 0.94])
def test_hdi_bounds_equal_arviz(prob):
    from syriaforecast.forecast import hdi_bounds

    values = _draws()
    array = xr.DataArray(
        values.reshape(4, 301, 7, 1),
        dims=("chain", "draw", "time", "scenario"),
        coords={"time": list("abcdefg")},
    ).transpose("time", "chain", "scenario", "draw")  # sample dimensions need not lead
    low, high = hdi_bounds(array, prob=prob)
    theirs = arviz_stats.hdi(array, prob=prob, dim=["chain", "draw"])
    for ours, bound in ((low, "lower"), (high, "upper")):
        expected = theirs.sel(ci_bound=bound, drop=True)
        assert set(ours.dims) == set(expected.dims)
        np.testing.assert_array_equal(ours.transpose(*expected.dims).values, expected.values)
        assert list(ours["time"].values) == list("abcdefg")


def test_threads_give_the_same_numbers():
    from syriaforecast.engine.diagnostics import convergence_summary

    rng = np.random.default_rng(2)
    values = np.concatenate([_draws() + rng.normal(0, 0.01, _draws().shape) for _ in range(5)], axis=2)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        one = convergence_summary(values)
        two = convergence_summary(values, threads=2)
    assert values.shape[2] >= 32  # enough quantities to be split
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
