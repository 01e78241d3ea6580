"""PyTensor Ops wrapping the compiled kernels, with Numba dispatch for nutpie.

``EvidenceLogLikelihood`` maps the eight parameter inputs (log initial
probabilities, persistence, elicitation shift, report informativeness by
reliability and by credibility, elicited transition rows, log driver effects,
the closeness of each cluster of indicators) plus the data arrays to log P(evidence). Its
gradient is a second Op computed by the same kernel pass in closed form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

from syriaforecast.engine.kernel import log_likelihood_and_full_gradient, log_likelihood_kernel
from syriaforecast.engine.names import EVIDENCE_FIELDS
from syriaforecast.engine.source_key import op_cache_key

__all__ = ["DATA_INPUTS", "PARAMETER_INPUTS", "evidence_log_likelihood"]

PARAMETER_INPUTS = (
    "log_initial",
    "persistence",
    "shift",
    "kappa_reliability",
    "kappa_credibility",
    "transition_base",
    "log_effect",
    "cluster_closeness",
)
#: Evidence arrays that are data (the declared closeness is a parameter input instead).
_EVIDENCE_DATA = tuple(name for name in EVIDENCE_FIELDS if name != "cluster_closeness")
#: The kernel's data arguments after the parameters, in its order (the transition data last).
DATA_INPUTS = (
    "cutpoints",
    "log_rate",
    "is_count",
    "n_periods",
    *_EVIDENCE_DATA,
    "row_elicited",
    "driver_on",
)
_DTYPES = {
    "row_elicited": "bool",
    "is_count": "bool",
    "cell_slot_valid": "bool",
    "n_periods": "int64",
    "cell_period": "int64",
    "cell_indicator": "int64",
    "cell_count_values": "int64",
    "report_cell": "int64",
    "report_reliability": "int64",
    "report_credibility": "int64",
    "report_joint": "int64",
    "cell_component": "int64",
    "cell_event": "int64",
    "event_cluster": "int64",
    "indicator_cluster": "int64",
}
_N_PARAMS = len(PARAMETER_INPUTS)


def _as_inputs(values: list[Any]) -> list[Any]:
    names = PARAMETER_INPUTS + DATA_INPUTS
    return [
        pt.as_tensor_variable(v).astype(_DTYPES.get(name, "float64"))
        for name, v in zip(names, values, strict=True)
    ]


#: The kernels' argument order, as positions in the Op's inputs (parameters, then data).
_KERNEL_ORDER = (
    *range(5),
    *range(_N_PARAMS, _N_PARAMS + 4 + len(_EVIDENCE_DATA)),
    PARAMETER_INPUTS.index("cluster_closeness"),
    PARAMETER_INPUTS.index("transition_base"),
    _N_PARAMS + DATA_INPUTS.index("row_elicited"),
    PARAMETER_INPUTS.index("log_effect"),
    _N_PARAMS + DATA_INPUTS.index("driver_on"),
)
_N_PERIODS = _N_PARAMS + DATA_INPUTS.index("n_periods")


def _python_args(inputs: Any) -> list[Any]:
    args: list[Any] = list(inputs)
    args[_N_PERIODS] = int(args[_N_PERIODS])
    return [args[k] for k in _KERNEL_ORDER]


class EvidenceLogLikelihoodGrad(Op):
    """Gradient of :class:`EvidenceLogLikelihood` with respect to its parameter inputs."""

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        tensors = _as_inputs(list(inputs))
        outputs = [inp.type() for inp in tensors[:_N_PARAMS]]
        return Apply(self, tensors, outputs)

    def perform(self, node: Apply, inputs: Any, outputs: Any) -> None:
        result = log_likelihood_and_full_gradient(*_python_args(inputs))
        for storage, value in zip(outputs, result[1:], strict=True):
            storage[0] = np.asarray(value, dtype="float64")


class EvidenceLogLikelihood(Op):
    """Log P(evidence | parameters) with the latent scenario path summed out."""

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        tensors = _as_inputs(list(inputs))
        return Apply(self, tensors, [pt.dscalar()])

    def perform(self, node: Apply, inputs: Any, outputs: Any) -> None:
        outputs[0][0] = np.asarray(log_likelihood_kernel(*_python_args(inputs)), dtype="float64")

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[k < _N_PARAMS] for k in range(len(node.inputs))]

    def pullback(self, inputs: Any, outputs: Any, cotangents: Any) -> list[Any]:
        (g,) = cotangents
        gradients: Any = _grad_op(*inputs)
        connected = [g * gradient for gradient in gradients]
        return connected + [DisconnectedType()() for _ in inputs[_N_PARAMS:]]


_op = EvidenceLogLikelihood()
_grad_op = EvidenceLogLikelihoodGrad()


def evidence_log_likelihood(params: dict[str, Any], data: dict[str, Any]) -> Any:
    """Symbolic log P(evidence | parameters) from named parameter and data tensors.

    ``cluster_closeness`` may be given with the parameters (sampled) or with the
    data (the declared values, e.g. ``EngineData.cluster_closeness``).
    """
    merged = {"cluster_closeness": data.get("cluster_closeness")} | dict(params)
    return _op(*[merged[n] for n in PARAMETER_INPUTS], *[data[n] for n in DATA_INPUTS])


# The cache key includes a digest of the kernel sources: PyTensor's default key (the Op's type)
# would keep serving a stale compiled kernel after an edit of kernel.py.
@register_funcify_and_cache_key(EvidenceLogLikelihood)
def _numba_log_likelihood(op: Any, node: Any = None, **kwargs: Any) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    kernel = log_likelihood_kernel

    # Inputs: 8 parameters (p0..p7), then the data (d0..d20); the kernel takes them in _KERNEL_ORDER.
    @numba_njit
    def evidence_log_likelihood_numba(
        p0, p1, p2, p3, p4, p5, p6, p7,
        d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15, d16, d17, d18, d19, d20,
    ):  # fmt: skip
        value = kernel(
            p0, p1, p2, p3, p4, d0, d1, d2, d3[()], d4, d5, d6, d7, d8, d9, d10, d11, d12, d13,
            d14, d15, d16, d17, d18, p7, p5, d19, p6, d20,
        )  # fmt: skip
        return np.asarray(value)

    return evidence_log_likelihood_numba, op_cache_key(op, __file__)


@register_funcify_and_cache_key(EvidenceLogLikelihoodGrad)
def _numba_log_likelihood_grad(op: Any, node: Any = None, **kwargs: Any) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    kernel = log_likelihood_and_full_gradient

    @numba_njit
    def evidence_log_likelihood_grad_numba(
        p0, p1, p2, p3, p4, p5, p6, p7,
        d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15, d16, d17, d18, d19, d20,
    ):  # fmt: skip
        _, g0, g1, g2, g3, g4, g5, g6, g7 = kernel(
            p0, p1, p2, p3, p4, d0, d1, d2, d3[()], d4, d5, d6, d7, d8, d9, d10, d11, d12, d13,
            d14, d15, d16, d17, d18, p7, p5, d19, p6, d20,
        )  # fmt: skip
        return g0, g1, g2, g3, g4, g5, g6, g7

    return evidence_log_likelihood_grad_numba, op_cache_key(op, __file__)
