"""The #14 speed paths give the numbers of the slow ones: lazy Forecast fields, one kernel
specialisation, the shared-emission driver contrast, and xarray without dask."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
from syriaforecast.engine.run import n_chain_periods

DRIVERS = Path(__file__).parent / "data" / "drivers"


@pytest.fixture(scope="module")
def bundled():
    model = sf.load_model(sf.bundled_model())
    return model, sf.load_evidence(sf.bundled_evidence(), model)


def _frozen(value):
    """A read-only copy, as the sampler's callback leaves the model's and evidence's arrays."""
    if not isinstance(value, np.ndarray):
        return value
    copy = np.array(value)
    copy.flags.writeable = False
    return copy


def test_exact_and_sampler_style_arrays_share_one_compiled_kernel(bundled):
    from syriaforecast.engine.kernel import chain_terms_batch_kernel

    model, evidence = bundled
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    params = exact_parameters_for(model)  # fresh, writable: exact mode's arrays
    fresh = chain_terms_for_draws(model, data, params, arrays=arrays)
    compiled = len(chain_terms_batch_kernel.signatures)
    # The hierarchical path's: model and evidence arrays read-only, parameters broadcast (read-only).
    frozen_arrays = dataclasses.replace(
        arrays, **{f.name: _frozen(getattr(arrays, f.name)) for f in dataclasses.fields(arrays)}
    )
    frozen_data = dataclasses.replace(
        data, **{f.name: _frozen(getattr(data, f.name)) for f in dataclasses.fields(data)}
    )
    broadcast = {k: np.broadcast_to(v, (3, *v.shape[1:])) for k, v in params.items()}
    frozen = chain_terms_for_draws(model, frozen_data, broadcast, arrays=frozen_arrays)
    assert len(chain_terms_batch_kernel.signatures) == compiled  # nothing compiled for the new flags
    for name in ("log_initial", "log_transition", "log_emission", "cell_log_likelihood"):
        one, three = getattr(fresh, name), getattr(frozen, name)
        assert three.shape[0] == 3
        for d in range(3):
            np.testing.assert_array_equal(three[d], one[0])


def test_forecast_fields_are_built_on_first_read_from_the_same_numbers(bundled, tmp_path):
    from syriaforecast.forecast import _Later

    model, evidence = bundled
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fc = sf.forecast(model, evidence, exact=True)
    after = dt.datetime.now(dt.UTC)
    for name in ("filtered", "smoothed", "horizon", "posterior", "sample_stats", "diagnostics", "attrs"):
        assert isinstance(fc.__dict__[f"_deferred_{name}"], _Later), name  # nothing built yet
    arrays = sf.exact_posterior(model, evidence)  # the array path, no Forecast
    np.testing.assert_array_equal(fc.filtered.values[0, 0], arrays.filtered)
    np.testing.assert_array_equal(fc.smoothed.values[0, 0], arrays.smoothed)
    np.testing.assert_array_equal(fc.horizon.values[0, 0], arrays.horizon)
    assert fc.filtered is fc.filtered  # built once, then kept
    assert list(fc.filtered["time"].values) == list(arrays.periods)
    assert fc.filtered.indexes["time"] is fc.smoothed.indexes["time"]  # one index for both
    time.sleep(1.1)  # provenance is read later than it was made: its creation time must not move
    attrs = fc.attrs
    assert before <= dt.datetime.fromisoformat(attrs["created"]) <= after
    assert attrs["evidence_csv"] == evidence.to_csv_text()
    assert attrs["model_toml"] == model.to_toml()
    assert attrs["model_content_sha256"] == hashlib.sha256(model.to_toml().encode()).hexdigest()
    assert attrs["mode"] == "exact" and attrs["as_of"] == fc.as_of.isoformat()
    # Saving builds what was not read; the file reloads to the same numbers and provenance.
    again = sf.load_forecast(sf.forecast(model, evidence, exact=True).save(tmp_path / "f.nc"))
    np.testing.assert_array_equal(again.smoothed.values, fc.smoothed.values)
    assert again.attrs["evidence_csv"] == attrs["evidence_csv"]
    # A field given a value holds it; replace() hands the built fields over.
    copy = dataclasses.replace(fc, horizon=fc.horizon * 1.0)
    assert copy.filtered is fc.filtered and copy.attrs == fc.attrs


def test_driver_contrast_equals_each_conditional_horizon_bit_for_bit(bundled):
    from syriaforecast.conditional import conditional_horizon
    from syriaforecast.errors import ConvergenceWarning

    model, evidence = bundled
    with pytest.warns(ConvergenceWarning):  # few draws: only their number matters here
        fc = sf.forecast(model, evidence, draws=60, tune=60, chains=2, seed=3)
    table = fc.drivers_side_by_side(max_draws=100)
    assert len(model.drivers) >= 2 and len(table) == len(model.drivers) * len(model.scenarios)
    for driver in model.drivers:
        rows = table[table["driver"] == driver.id]
        label = str(rows["from"].iloc[0])
        for value, column in ((0, "off"), (1, "on")):
            direct = conditional_horizon(fc, {driver.id: {label: value}}, max_draws=100).mean(axis=0)
            assert rows[column].tolist() == [float(p) for p in direct]


@pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask not installed")
def test_a_forecast_does_not_import_dask_and_xarray_still_knows_dask_arrays():
    code = """
import sys
import numpy as np
import syriaforecast as sf

fc = sf.forecast(sf.bundled_model(), sf.bundled_evidence(), exact=True)
fc.filtered, fc.smoothed, fc.horizon, fc.posterior, fc.sample_stats, fc.diagnostics, fc.attrs
fc.summary()
assert "dask" not in sys.modules, sorted(m for m in sys.modules if m.startswith("dask"))
import dask.array as da
import xarray as xr
from xarray.namedarray.pycompat import DuckArrayModule, array_type
from xarray.namedarray.utils import is_duck_dask_array

lazy = xr.DataArray(da.ones(4, chunks=2), dims="x")
assert lazy.chunks == ((2, 2),) and is_duck_dask_array(lazy.data)
assert array_type("dask") == DuckArrayModule("dask").type == (da.Array,)
assert xr.DataArray(np.ones(3)).chunks is None and not is_duck_dask_array(np.ones(3))
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_surprise_and_drivers_are_computed_once_per_forecast_and_handed_out_as_copies(monkeypatch):
    import syriaforecast.conditional as conditional
    from syriaforecast.engine.surprise import surprise

    model = sf.load_model(DRIVERS / "model.toml")
    fc = sf.forecast(model, DRIVERS / "evidence.csv", exact=True)
    direct = surprise(model, fc.evidence, int(fc.filtered.sizes["time"]))
    table = fc.surprise()
    assert table["p_value"].tolist() == [row.p_value for row in direct]
    table.loc[0, "p_value"] = -1.0  # the caller's copy
    assert fc.surprise()["p_value"].tolist() == [row.p_value for row in direct]
    contrast = fc.drivers_side_by_side()
    calls = []
    monkeypatch.setattr(conditional, "driver_contrast", lambda *a, **k: calls.append(1) or contrast)
    assert fc.drivers_side_by_side().equals(contrast) and not calls  # remembered
    fc.posterior = fc.posterior.copy()  # a field it depends on replaced: computed again
    fc.drivers_side_by_side()
    assert calls == [1]
    assert dataclasses.replace(fc)._memo == {}  # a copy starts without the remembered tables


@pytest.mark.parametrize("drivers", ["logged", "none", "switching"])
def test_batch_chain_terms_equal_the_single_draw_kernel_period_by_period(bundled, monkeypatch, drivers):
    """The batch kernel takes a move's logs once when no driver moves it (T' = 1), the single-draw
    kernel once per run of periods with the same drivers: both equal the log of every period's
    move from ``_transition_stack``, bit for bit, per draw ("switching": drivers that go on and
    off in runs, so copied and freshly taken logs alternate)."""
    import syriaforecast.engine.evaluate as evaluate
    from syriaforecast.engine.kernel import _transition_stack, chain_terms_batch_kernel, chain_terms_kernel

    model, evidence = bundled
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    if drivers == "none":
        data = dataclasses.replace(data, driver_on=np.zeros_like(data.driver_on))
    elif drivers == "switching":
        on = np.zeros_like(data.driver_on)
        on[1:6, 0] = 1.0  # a run of five periods, then a pause, then two drivers at once
        on[9:12, :] = 1.0
        on[12:, 0] = 0.5
        data = dataclasses.replace(data, driver_on=on)
    params = {k: np.repeat(v, 2, axis=0) for k, v in exact_parameters_for(model).items()}
    params["persistence"] = params["persistence"] * np.array([[1.0], [0.9]])  # two different draws
    params["elicitation_eta"] = params["elicitation_eta"] + np.array([0.0, 0.5])[:, None, None]
    params["elicitation_sigma"] = np.full_like(params["elicitation_sigma"], 0.3)
    calls = []
    monkeypatch.setattr(
        evaluate, "chain_terms_batch_kernel", lambda *a: calls.append(a) or chain_terms_batch_kernel(*a)
    )
    terms = chain_terms_for_draws(model, data, params, arrays=arrays)
    (args,) = calls
    log_transition, log_emission, cell_ll = chain_terms_batch_kernel(*args)
    T = data.n_periods
    assert log_transition.shape[1] == (1 if drivers == "none" else T)
    per_draw = (0, 1, 2, 3, 4, 5, 25, 26, 28)  # the arguments with a leading draw axis
    for d in range(2):
        one = [a[d] if k in per_draw else a for k, a in enumerate(args)]
        transition, emission, cells = chain_terms_kernel(*one)
        assert transition.shape == (T, *log_transition.shape[2:])
        _, stack = _transition_stack(one[1], one[26], one[27], one[28], one[29])
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(np.log(np.broadcast_to(stack, transition.shape)), transition)
        np.testing.assert_array_equal(np.broadcast_to(log_transition[d], transition.shape), transition)
        np.testing.assert_array_equal(log_emission[d], emission)
        np.testing.assert_array_equal(cell_ll[d], cells)
        # What the engine hands on: one (S, S) matrix per draw when every move is the same.
        expected = transition[-1] if (transition[1:] == transition[-1]).all() else transition
        np.testing.assert_array_equal(terms.log_transition[d], expected)
    assert not np.array_equal(log_emission[0], log_emission[1])  # the draws differ


def _assert_same_fields(one, other) -> None:
    for f in dataclasses.fields(one):
        a, b = getattr(one, f.name), getattr(other, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), f.name
        else:
            assert a == b, f.name


def test_model_arrays_are_kept_per_model_object_and_equal_a_fresh_build(bundled):
    from syriaforecast.engine.data import _build_model_arrays

    model, _ = bundled
    arrays = build_model_arrays(model)
    assert build_model_arrays(model) is arrays
    changed = dataclasses.replace(model, persistence=0.5)  # another object, other numbers
    assert build_model_arrays(changed).persistence == 0.5 and arrays.persistence != 0.5
    for m in (model, changed, model):
        _assert_same_fields(build_model_arrays(m), _build_model_arrays(m))


def test_kept_engine_data_equals_a_fresh_build_when_the_evidence_or_model_changes(bundled):
    from syriaforecast.engine.data import _build_engine_data

    model, evidence = bundled
    T = n_chain_periods(model)
    arrays = build_model_arrays(model)
    first = build_engine_data(model, arrays, evidence, T)
    assert build_engine_data(model, arrays, evidence, T) is first  # kept
    assert build_engine_data(model, arrays, evidence.up_to(evidence.last_published), T) is first  # same rows
    rows = evidence.to_dataframe().iloc[:5]
    rows = rows.assign(date=[d.isoformat() for d in rows["date"]], published="", credibility="")
    more = evidence.append(rows[["date", "indicator", "value", "reliability", "credibility"]], model)
    earlier = evidence.up_to(evidence.last_published - dt.timedelta(days=60))
    changed = dataclasses.replace(model, persistence=0.5)
    cases = [
        (model, arrays, more, T),  # other rows
        (model, arrays, earlier, T),
        (model, arrays, evidence, T - 1),  # other periods
        (changed, build_model_arrays(changed), evidence, T),  # another model object
        (model, arrays, evidence, T),  # back to the first
    ]
    for m, a, e, n in cases:
        kept = build_engine_data(m, a, e, n)
        _assert_same_fields(kept, _build_engine_data(m, a, e, n, None))
    grown = build_engine_data(model, arrays, more, T)
    assert grown.report_cell.shape[0] == first.report_cell.shape[0] + 5  # the five graded readings added
    assumed = {model.driver_ids[0]: {T - 2: 1}}  # assumptions are never served from the kept result
    _assert_same_fields(
        build_engine_data(model, arrays, evidence, T, assumed),
        _build_engine_data(model, arrays, evidence, T, assumed),
    )
