"""The evidence kernels' arguments, written once for every test that calls a kernel or its reference.

The names and the kernels' argument order come from the library: ``PARAMETER_INPUTS`` and
``DATA_INPUTS`` of :mod:`syriaforecast.engine.reference.op`, and the order in which its Op
hands them to the kernels. A test names the parameters it sets; the others take the
data's values (no source offsets, the model's transition rows and driver effects, the
declared closeness of each cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as pt

from syriaforecast.engine.data import EngineData, ModelArrays, build_engine_data, build_model_arrays
from syriaforecast.engine.density import log_density_and_gradient
from syriaforecast.engine.kernel import log_likelihood_kernel
from syriaforecast.engine.reference.graph import (
    ElicitationTensors,
    EvidenceTensors,
    chain_terms,
    forward_log_likelihood,
)
from syriaforecast.engine.reference.op import DATA_INPUTS, PARAMETER_INPUTS, _python_args

#: The parameters of :func:`~syriaforecast.engine.kernel.log_likelihood_and_gradient` (the
#: closeness of the clusters is the full gradient's ninth).
CHAIN_PARAMS = tuple(name for name in PARAMETER_INPUTS if name != "cluster_closeness")
_MATRICES = frozenset({"shift", "transition_base", "log_effect"})


@contextmanager
def python_only() -> Iterator[None]:
    """Compile PyTensor functions to run on PyTensor's Python implementations of its ops.

    The gradients stay PyTensor's symbolic ones; only how the graph runs changes. The
    FAST_COMPILE mode alone still links the inner graph of a Scan with C thunks, and
    :func:`pytensor.gradient.verify_grad` swaps that mode for FAST_RUN (Numba when there is
    no C++ compiler), hence both flags. With an empty PyTensor cache,
    tests/test_engine_kernel.py took 275 CPU s (504 s wall) compiling C and 11 CPU s
    (17 s) here; warm, 20 and 12 CPU s (2026-12-01, 2 cores at load 4-5). The kernel
    agrees with either run to 1e-15 relative in value and 1e-14 in gradient.
    """
    with pytensor.config.change_flags(cxx="", mode="FAST_COMPILE"):
        yield


def engine_inputs(model: Any, evidence: Any) -> tuple[ModelArrays, EngineData]:
    """The model's arrays and the evidence arranged over the model's whole span."""
    arrays = build_model_arrays(model)
    return arrays, build_engine_data(model, arrays, evidence, model.horizon_index + 1)


def data_inputs(arrays: ModelArrays, data: EngineData) -> dict[str, Any]:
    """The kernels' data by name (``DATA_INPUTS`` and the declared closeness), as the Op takes them."""
    names = (*DATA_INPUTS, "cluster_closeness")
    inputs = {name: getattr(data if hasattr(data, name) else arrays, name) for name in names}
    inputs["n_periods"] = np.int64(data.n_periods)
    return inputs


def default_params(arrays: ModelArrays, data: EngineData) -> dict[str, Any]:
    """The parameters a test leaves at the data's values."""
    return {
        "report_offset": np.zeros(data.report_cell.shape[0]),  # every source at its letter's value
        "transition_base": arrays.transition_base,
        "log_effect": arrays.log_effect,
        "cluster_closeness": data.cluster_closeness,
    }


def kernel_args(arrays: ModelArrays, data: EngineData, params: Mapping[str, Any]) -> list[Any]:
    """The likelihood kernels' arguments, in their order, from parameters by name.

    Parameters left out of ``params`` take :func:`default_params`. Works for the batch
    kernels too when every parameter given (defaults included) carries the draw axis.
    """
    values = default_params(arrays, data) | dict(params)
    inputs = data_inputs(arrays, data)
    return _python_args([values[name] for name in PARAMETER_INPUTS] + [inputs[name] for name in DATA_INPUTS])


def gradients(result: Sequence[Any]) -> dict[str, np.ndarray]:
    """:func:`~syriaforecast.engine.kernel.log_likelihood_and_full_gradient`'s gradients by name."""
    return dict(zip(PARAMETER_INPUTS, result[1:], strict=True))


def reference_graph(
    arrays: ModelArrays, data: EngineData, names: Sequence[str] = CHAIN_PARAMS
) -> Callable[..., list[Any]]:
    """The PyTensor graph of the same maths, compiled: ``fn(*values)`` -> [log-likelihood, *gradients].

    ``values`` and the gradients follow ``names``; the other parameters are fixed at
    :func:`default_params`.
    """
    symbols = {name: pt.dmatrix() if name in _MATRICES else pt.dvector() for name in names}
    params = {name: pt.as_tensor(value) for name, value in default_params(arrays, data).items()} | symbols
    elicitation = ElicitationTensors(
        **{n: pt.as_tensor(getattr(arrays, n)) for n in ElicitationTensors.fields()}
    )
    evidence = EvidenceTensors(**{n: pt.as_tensor(getattr(data, n)) for n in EvidenceTensors.fields()})
    terms = chain_terms(
        elicitation,
        arrays.n_scenarios,
        data.n_periods,
        evidence=evidence,
        row_elicited=pt.as_tensor(arrays.row_elicited),
        driver_on=pt.as_tensor(data.driver_on),
        **params,
    )
    loglik = forward_log_likelihood(terms)
    inputs = list(symbols.values())
    with python_only():
        return pytensor.function(inputs, [loglik, *pytensor.grad(loglik, inputs)])


def central_differences(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """``d f / d x`` by central differences, coordinate by coordinate (``x`` of any shape)."""
    numeric = np.empty(np.shape(x))
    for index in np.ndindex(numeric.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (f(up) - f(down)) / (2 * step)
    return numeric


def kernel_differences(
    arrays: ModelArrays, data: EngineData, point: Mapping[str, Any], name: str, step: float = 1e-6
) -> np.ndarray:
    """``d log-likelihood / d point[name]`` by central differences of the compiled kernel."""

    def loglik(value: np.ndarray) -> float:
        return float(log_likelihood_kernel(*kernel_args(arrays, data, {**point, name: value})))

    return central_differences(loglik, point[name], step)


def assert_density_gradient_matches_finite_differences(
    args: Sequence[Any], x: np.ndarray, *, rtol: float = 1e-5, atol: float = 1e-6
) -> float:
    """The compiled density's gradient at ``x`` against central differences; returns the density."""
    value, grad = log_density_and_gradient(x, *args)
    numeric = central_differences(lambda v: log_density_and_gradient(v, *args)[0], x)
    np.testing.assert_allclose(grad, numeric, rtol=rtol, atol=atol)
    return float(value)


def unpack_arguments(args: Sequence[Any], arrays: ModelArrays) -> tuple[Any, ...]:
    """:func:`~syriaforecast.engine.density.unpack`'s arguments after ``x``, from the density's.

    The density's first seven (sizes and the persistence's prior) and the model's group
    map and band standard deviations.
    """
    return (*args[:7], arrays.group_of, arrays.band_sd)
