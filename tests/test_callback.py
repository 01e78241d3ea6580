"""The compiled C callback nutpie samples: the same density and the same draws as the Python route."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.engine import callback
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.kernel import log_density_and_gradient
from syriaforecast.engine.run import n_chain_periods
from syriaforecast.engine.sampler import _density_arguments, layout_for

SRC = Path(__file__).resolve().parents[1] / "src"


def _arguments(model_path: Path, evidence_path: Path) -> tuple[tuple, int]:
    model = sf.load_model(model_path)
    evidence = sf.load_evidence(evidence_path, model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    layout = layout_for(arrays)
    return _density_arguments(arrays, data, layout), layout.ndim


def _call(module, user_data: np.ndarray, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    grad = np.zeros_like(x)
    value = np.zeros(1)
    pointer = ctypes.POINTER(ctypes.c_double)
    code = module.logp.ctypes(
        x.size,
        x.ctypes.data_as(pointer),
        grad.ctypes.data_as(pointer),
        value.ctypes.data_as(pointer),
        ctypes.c_void_p(user_data.ctypes.data),
    )
    return code, float(value[0]), grad


@pytest.mark.parametrize("example", ["tiny", "bundled"])
def test_callback_returns_the_kernels_density_and_gradient(example, tiny_model_path, tiny_evidence_path):
    if example == "tiny":
        args, ndim = _arguments(tiny_model_path, tiny_evidence_path)
    else:
        args, ndim = _arguments(sf.bundled_model(), sf.bundled_evidence())
    kinds = callback.argument_kinds(args)
    module = callback._module(kinds)
    user_data, keep = callback._user_data(args, kinds)
    rng = np.random.default_rng(7)
    for _ in range(5):
        x = rng.normal(0.0, 0.7, ndim)
        code, value, grad = _call(module, user_data, x)
        expected, expected_grad = log_density_and_gradient(x, *args)
        assert code == 0
        assert value == expected  # the same compiled kernel: bit for bit
        # The callback module is a second LLVM compilation of the kernel: on the bundled model
        # (multi-row reports) its gradient has differed from the dispatcher's in the last bits
        # (2e-15 relative, after the cluster code joined the kernel, #16).
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-12)
    del keep


def test_callback_arrays_are_read_only_and_the_callers_stay_writable(tiny_model_path, tiny_evidence_path):
    """The callback reads its arrays through raw pointers, so its references may not write them;
    the caller's arrays keep their flags (Numba types an array by them: a read-only model array
    would make every kernel it reaches compile again)."""
    args, _ = _arguments(tiny_model_path, tiny_evidence_path)
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    assert arrays and all(a.flags.writeable for a in arrays)
    _, keep = callback._user_data(args, callback.argument_kinds(args))
    assert all(a.flags.writeable for a in arrays)
    kept = keep[1:-2]  # keep[0] holds the scalars, the last two the whitening (empty here)
    assert len(kept) == len(arrays) and keep[-1].size == keep[-2].size == 0
    for original, view in zip(arrays, kept, strict=True):
        assert not view.flags.writeable
        assert np.array_equal(original, view)
        if original.flags.c_contiguous and original.size:  # a view of the caller's data, not a copy
            assert np.shares_memory(original, view)


@pytest.mark.parametrize("example", ["tiny", "bundled"])
def test_a_whitened_callback_is_the_density_at_centre_plus_scale_times_z(
    example, tiny_model_path, tiny_evidence_path
):
    """x = centre + scale * z: the value at x, the gradient scale * dlogp/dx, draws expanded back to x."""
    from syriaforecast.engine.whitening import Whitening

    if example == "tiny":
        args, ndim = _arguments(tiny_model_path, tiny_evidence_path)
    else:
        args, ndim = _arguments(sf.bundled_model(), sf.bundled_evidence())
    rng = np.random.default_rng(11)
    points = rng.normal(rng.normal(0.0, 0.5, ndim), rng.uniform(0.05, 2.0, ndim), (400, ndim))
    whitening = Whitening.of(points)
    np.testing.assert_allclose(whitening.to_model(whitening.to_sampler(points)), points, rtol=0, atol=1e-12)
    kinds = callback.argument_kinds(args)
    module = callback._module(kinds)
    user_data, keep = callback._user_data(args, kinds, whitening)
    pointer = ctypes.POINTER(ctypes.c_double)
    for _ in range(4):
        z = rng.normal(0.0, 1.0, ndim)
        x = whitening.centre + whitening.scale * z
        code, value, grad = _call(module, user_data, z)
        expected, expected_grad = log_density_and_gradient(x, *args)
        assert code == 0
        assert value == pytest.approx(expected, rel=1e-13, abs=1e-12)
        np.testing.assert_allclose(grad, whitening.scale * expected_grad, rtol=1e-11, atol=1e-11)
        # Against finite differences in z itself: the chain rule, not a restatement of it.
        step = 1e-6
        for k in rng.choice(ndim, size=min(ndim, 5), replace=False):
            up, down = z.copy(), z.copy()
            up[k] += step
            down[k] -= step
            numeric = (_call(module, user_data, up)[1] - _call(module, user_data, down)[1]) / (2 * step)
            assert grad[k] == pytest.approx(numeric, rel=1e-4, abs=1e-5)
        out = np.zeros(ndim)
        assert (
            module.expand.ctypes(
                ndim,
                ndim,
                z.ctypes.data_as(pointer),
                out.ctypes.data_as(pointer),
                ctypes.c_void_p(user_data.ctypes.data),
            )
            == 0
        )
        np.testing.assert_allclose(out, x, rtol=0, atol=1e-12)
    del keep


def test_whitened_starts_keep_far_coordinates_and_move_near_ones_out():
    """Coordinates within START_RADIUS of the centre move out to it on their own side; the others stay."""
    from syriaforecast.engine.whitening import Whitening

    whitening = Whitening(np.array([1.0, 0.0, -2.0, 5.0]), np.array([2.0, 0.5, 1.0, 1.0]))
    x = np.array([[1.2, -0.1, 0.0, 5.0], [-3.0, 0.2, -2.3, 4.0]])
    z = whitening.starts(x)
    r = Whitening.START_RADIUS
    np.testing.assert_allclose(z, [[r, -r, 2.0, r], [-2.0, r, -r, -1.0]])
    # A coordinate that never varied keeps scale 1 (a new source's, at its prior centre).
    assert Whitening.of(np.array([[0.0, 1.0], [0.0, 3.0]])).scale.tolist() == [1.0, 1.0]


def test_callback_reports_a_non_finite_density_as_recoverable(tiny_model_path, tiny_evidence_path):
    args, ndim = _arguments(tiny_model_path, tiny_evidence_path)
    kinds = callback.argument_kinds(args)
    user_data, _keep = callback._user_data(args, kinds)
    x = np.full(ndim, np.nan)
    code, _value, _grad = _call(callback._module(kinds), user_data, x)
    assert code > 0  # nutpie treats positive codes as a rejected point, not a crash


def test_density_check_goes_through_the_callback_and_falls_back_to_the_dispatcher(
    tiny_model_path, tiny_evidence_path, monkeypatch
):
    from syriaforecast.engine import density, sampler_guard
    from syriaforecast.errors import SamplerError

    model = sf.load_model(tiny_model_path)
    evidence = sf.load_evidence(tiny_evidence_path, model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    args, ndim = _arguments(tiny_model_path, tiny_evidence_path)
    compiled = callback.compiled_sampler_model(args, ndim, lambda seed: np.zeros(ndim))
    assert compiled is not None
    fast = sampler_guard._callback_logp(compiled, ndim)
    assert fast is not None
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.normal(0.0, 0.7, ndim)
        value, grad = fast(x)
        expected, expected_grad = log_density_and_gradient(x, *args)
        assert value == expected
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-12)
    calls = []

    def counted(*a):
        calls.append(1)
        return log_density_and_gradient(*a)

    monkeypatch.setattr(density, "log_density_and_gradient", counted)
    sampler_guard.check_model_density(arrays, data, compiled=compiled)
    assert calls == []  # finite through the callback: the dispatcher is not needed
    # A callback that is finite nowhere: the dispatcher runs and its reason is reported.
    monkeypatch.setattr(sampler_guard, "_callback_logp", lambda c, n: lambda x: (float("nan"), x))
    sampler_guard.check_model_density(arrays, data, compiled=compiled)
    assert len(calls) == 1  # the dispatcher's first point is finite
    monkeypatch.setattr(density, "log_density_and_gradient", lambda *a: (float("-inf"), a[0]))
    with pytest.raises(SamplerError, match="log density -inf"):
        sampler_guard.check_model_density(arrays, data, compiled=compiled)


@pytest.mark.filterwarnings("ignore::syriaforecast.ConvergenceWarning")  # few draws on purpose
@pytest.mark.parametrize("example", ["tiny", "bundled"])
def test_compiled_and_python_interfaces_give_the_same_draws(
    example, tiny_model_path, tiny_evidence_path, monkeypatch
):
    # The bundled model has every optional block (drivers and elicited rows, clusters, sources):
    # the Python route must expand them in the order it declares them, as the compiled one does.
    model_path, evidence_path = (
        (tiny_model_path, tiny_evidence_path)
        if example == "tiny"
        else (sf.bundled_model(), sf.bundled_evidence())
    )
    model = sf.load_model(model_path)
    evidence = sf.load_evidence(evidence_path, model)
    args, ndim = _arguments(model_path, evidence_path)
    assert callback.compiled_sampler_model(args, ndim, lambda seed: np.zeros(ndim)) is not None
    compiled = sf.forecast(model, evidence, draws=60, tune=60, chains=2, seed=11)
    monkeypatch.setenv(callback.CALLBACK_ENV, "0")
    assert callback.compiled_sampler_model(args, ndim, lambda seed: np.zeros(ndim)) is None
    python = sf.forecast(model, evidence, draws=60, tune=60, chains=2, seed=11)
    # Same trajectories; the two compilations of the kernel may round the gradient differently in
    # the last bits (see above), so values agree to a few ulps rather than bit for bit.
    np.testing.assert_allclose(compiled.horizon.values, python.horizon.values, rtol=1e-12, atol=1e-14)
    for name in python.posterior.data_vars:
        np.testing.assert_allclose(
            compiled.posterior[name].values, python.posterior[name].values, rtol=1e-12, atol=1e-14
        )
    np.testing.assert_array_equal(compiled.sample_stats["n_steps"], python.sample_stats["n_steps"])


@pytest.mark.filterwarnings("ignore::syriaforecast.ConvergenceWarning")  # few draws on purpose
def test_a_whitened_warm_refit_draws_the_same_through_both_interfaces(
    tiny_model_path, tiny_evidence_path, monkeypatch
):
    """A warm refit samples whitened coordinates; the Python route whitens exactly as the callback does."""
    import importlib

    from syriaforecast.engine.run import SamplerSettings

    forecast_module = importlib.import_module("syriaforecast.forecast")
    model = sf.load_model(tiny_model_path)
    evidence = sf.load_evidence(tiny_evidence_path, model)
    previous = sf.forecast(model, evidence, draws=80, tune=100, chains=2, seed=3)
    settings = SamplerSettings(draws=40, tune=40, chains=2, seed=4)
    seen = []
    real = forecast_module._fit

    def recording(*args, **kwargs):
        seen.append(kwargs.get("whitening"))
        return real(*args, **kwargs)

    monkeypatch.setattr(forecast_module, "_fit", recording)
    compiled = forecast_module.warm_refit(model, evidence, evidence.last_date, previous, settings)
    monkeypatch.setenv(callback.CALLBACK_ENV, "0")
    python = forecast_module.warm_refit(model, evidence, evidence.last_date, previous, settings)
    assert seen[0] is not None and not np.all(seen[0].scale == 1.0)  # whitened, not the identity
    np.testing.assert_allclose(compiled.horizon.values, python.horizon.values, rtol=1e-10, atol=1e-12)
    for name in python.posterior.data_vars:
        np.testing.assert_allclose(
            compiled.posterior[name].values, python.posterior[name].values, rtol=1e-10, atol=1e-12
        )
    np.testing.assert_array_equal(compiled.sample_stats["n_steps"], python.sample_stats["n_steps"])


def test_callback_key_follows_kernel_source_versions_and_kinds(tmp_path):
    kinds = (("array", "float64", 2), ("scalar", "int", 0))
    kernel = tmp_path / "kernel.py"
    shutil.copy(callback.CALLBACK_SOURCES[0], kernel)
    sources = (kernel, callback.CALLBACK_SOURCES[1])
    key = callback.callback_key(kinds, sources)
    assert callback.callback_key(kinds, sources) == key
    assert callback.callback_key(kinds[:1], sources) != key
    kernel.write_text(kernel.read_text() + "\n# an edit\n")
    assert callback.callback_key(kinds, sources) != key


PROBE = """
import json, numpy as np, syriaforecast as sf
from syriaforecast.engine import callback
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.run import n_chain_periods
from syriaforecast.engine.sampler import _density_arguments, layout_for
import ctypes
model = sf.load_model({model!r}); evidence = sf.load_evidence({evidence!r}, model)
arrays = build_model_arrays(model)
data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
layout = layout_for(arrays)
args = _density_arguments(arrays, data, layout)
kinds = callback.argument_kinds(args)
module = callback._module(kinds)
user_data, keep = callback._user_data(args, kinds)
x = np.linspace(-0.4, 0.4, layout.ndim); grad = np.zeros_like(x); value = np.zeros(1)
p = ctypes.POINTER(ctypes.c_double)
module.logp.ctypes(x.size, x.ctypes.data_as(p), grad.ctypes.data_as(p), value.ctypes.data_as(p),
                   ctypes.c_void_p(user_data.ctypes.data))
print(json.dumps({{"value": float(value[0]), "file": module.__file__}}))
"""


@pytest.mark.slow  # compiles the callback twice in a fresh cache: minutes on 2 busy cores
@pytest.mark.timeout(1200)
def test_an_edited_kernel_source_changes_the_callbacks_result(tmp_path, tiny_model_path, tiny_evidence_path):
    root = tmp_path / "src"
    shutil.copytree(
        SRC / "syriaforecast", root / "syriaforecast", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = os.environ | {
        "PYTHONPATH": str(root),
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "SYRIAFORECAST_CACHE_DIR": str(tmp_path / "cache"),
    }
    code = PROBE.format(model=str(tiny_model_path), evidence=str(tiny_evidence_path))

    def run() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run()
    assert Path(first["file"]).is_relative_to(tmp_path / "cache")
    assert run() == first  # loaded from the cache
    kernel = root / "syriaforecast" / "engine" / "kernel.py"
    text = kernel.read_text()
    edited = text.replace("total += -0.5 * e * e", "total += -0.25 * e * e")
    assert edited != text
    kernel.write_text(edited)
    second = run()
    assert second["file"] != first["file"]  # a new key, so a new compile
    assert second["value"] != first["value"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # Numba reports it so
def test_a_kernel_exception_reads_as_a_nan_density(tmp_path, tiny_model_path, tiny_evidence_path):
    # elicitation_error = 0 makes the kernel divide by zero: the callback cannot raise into
    # nutpie, so the sampler must see a NaN density (a rejected point), never the buffers' old values.
    exact = tmp_path / "model.toml"
    exact.write_text(tiny_model_path.read_text().replace("elicitation_error = 0.5", "elicitation_error = 0"))
    args, ndim = _arguments(exact, tiny_evidence_path)
    kinds = callback.argument_kinds(args)
    user_data, _keep = callback._user_data(args, kinds)
    x = np.zeros(ndim)
    with pytest.raises(ZeroDivisionError):
        log_density_and_gradient(x, *args)
    grad, value = np.full(ndim, 7.0), np.full(1, 7.0)
    pointer = ctypes.POINTER(ctypes.c_double)
    with warnings.catch_warnings(), contextlib.suppress(ZeroDivisionError):  # ctypes re-raises it here
        warnings.simplefilter("ignore")
        callback._module(kinds).logp.ctypes(
            ndim,
            x.ctypes.data_as(pointer),
            grad.ctypes.data_as(pointer),
            value.ctypes.data_as(pointer),
            ctypes.c_void_p(user_data.ctypes.data),
        )
    assert np.isnan(value).all()
    assert np.isnan(grad).all()
