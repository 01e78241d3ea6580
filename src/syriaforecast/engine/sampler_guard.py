"""Clean failures around the sampler: check the density before NUTS starts, and catch what NUTS raises.

nutpie runs chains on Rust threads that call back into the Python density. If
every initial point fails (a density that is -inf, NaN or raises everywhere,
such as a model with ``elicitation_error = 0`` sampled anyway), nutpie raises
while other chains' threads are still live, and the interpreter can crash on
exit (segmentation fault, exit 139). So the density is evaluated here at a few
initial points of the same kind nutpie draws *before* nutpie starts; if none is
finite the run stops with a :class:`~syriaforecast.errors.SamplerError` that
says why. Anything nutpie itself raises (including a Rust panic, which Python
sees as a ``BaseException``) is turned into a SamplerError too.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from syriaforecast.errors import SamplerError

__all__ = ["check_initial_points", "check_model_density", "sampler_failures"]

#: Initial points tried before sampling (nutpie tries up to 500 per chain; these are cheap).
TRIES = 16


def check_initial_points(
    logp: Callable[[np.ndarray], tuple[float, np.ndarray]],
    ndim: int,
    *,
    seed: int = 0,
    tries: int = TRIES,
    what: str = "the model",
) -> None:
    """Raise SamplerError unless the density and its gradient are finite at one of ``tries`` points.

    The points are drawn as nutpie's initial points are (uniform on [-0.5, 0.5]
    in the unconstrained space).
    """
    rng = np.random.default_rng(seed)
    reasons: dict[str, int] = {}
    for _ in range(tries):
        x = rng.uniform(-0.5, 0.5, ndim)
        try:
            value, grad = logp(x)
        except Exception as exc:  # the density raised: say what
            key = f"{type(exc).__name__}: {exc}"
        else:
            if np.isfinite(value) and np.all(np.isfinite(grad)):
                return
            key = f"log density {value!r}" if not np.isfinite(value) else "non-finite gradient"
        reasons[key] = reasons.get(key, 0) + 1
    listed = "; ".join(f"{why} ({n}x)" for why, n in reasons.items())
    raise SamplerError(
        f"cannot sample {what}: the posterior density is not finite at any of {tries} initial points "
        f"({listed}). Check the model for an elicitation_error of 0 (use exact mode), likelihoods of "
        "exactly 0 or 1 that the evidence contradicts, or a degenerate prior"
    )


@contextlib.contextmanager
def sampler_failures(what: str = "the model") -> Iterator[None]:
    """Turn any failure of the sampler into a SamplerError (KeyboardInterrupt passes through)."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit, SamplerError):
        raise
    except BaseException as exc:  # pyo3's PanicException is a BaseException
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if type(exc).__name__ == "PanicException":
            from syriaforecast.engine.callback import _version

            # A Rust panic is a broken invariant between this library and nutpie (it was an
            # out-of-order expansion once), not a hard posterior: more tuning cannot help.
            raise SamplerError(
                f"the sampler stopped with an internal error on {what} ({type(exc).__name__}: "
                f"{message}): a fault of syriaforecast or nutpie (version {_version('nutpie')}), not of the "
                "model. "
                "Please report it with the model and evidence files; exact mode (exact=True / --exact) "
                "does not use the sampler"
            ) from None
        raise SamplerError(
            f"the sampler failed on {what} ({type(exc).__name__}: {message}). Try more tuning steps "
            "(tune=1000), a higher target_accept (0.95), or exact mode (exact=True / --exact)"
        ) from None


def _callback_logp(compiled: Any, ndim: int) -> Callable[[np.ndarray], tuple[float, np.ndarray]] | None:
    """``x -> (log density, gradient)`` through a compiled model's C callback, or None without one."""
    cfunc = getattr(compiled, "compiled_logp_func", None)
    user_data = getattr(compiled, "user_data", None)
    if cfunc is None or user_data is None:
        return None
    # Pointers passed as plain addresses (the cfunc's own ctypes wrapper wants typed pointers).
    prototype = ctypes.CFUNCTYPE(
        ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
    )
    call = prototype(cfunc.address)
    address = user_data.ctypes.data

    def logp(x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        grad = np.empty(ndim)
        value = np.empty(1)
        code = call(ndim, x.ctypes.data, grad.ctypes.data, value.ctypes.data, address)
        if code != 0:  # not a usable point (-1: shape, 3/4: not finite): the dispatcher says why
            return float("nan"), np.full(ndim, np.nan)
        return float(value[0]), grad

    return logp


def check_model_density(
    arrays: Any, data: Any, *, seed: int = 0, what: str = "the model", compiled: Any = None
) -> None:
    """:func:`check_initial_points` for the hierarchical density of ``arrays`` and ``data``.

    With ``compiled``, a model from :func:`~syriaforecast.engine.callback.compiled_sampler_model`,
    the first point is tried through its C callback: a first forecast in a process
    then need not load a second compiled copy of the kernel for the dispatcher (0.13 s
    of CPU on the bundled model, measured 2026-12-01 on a 2-core machine at load
    average ~4). Only when the first point is not finite there are the points tried
    through the dispatcher, which says why (a C callback can only return a code).
    """
    from syriaforecast.engine.density import log_density_and_gradient
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    layout = layout_for(arrays, data)
    fast = _callback_logp(compiled, layout.ndim)
    if fast is not None:
        # The first of the dispatcher's points only: anything but a finite value there and the
        # full check below runs and says why. A kernel exception inside the callback reaches
        # Python as an "unraisable" report (it would print a traceback per point), so reports
        # are dropped for the few microseconds of this call; no thread of ours runs meanwhile.
        hook = sys.unraisablehook
        sys.unraisablehook = lambda _report: None
        try:
            check_initial_points(fast, layout.ndim, seed=seed, tries=1, what=what)
            return
        except SamplerError:
            pass
        finally:
            sys.unraisablehook = hook
    args = _density_arguments(arrays, data, layout)

    def logp(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = log_density_and_gradient(x, *args)
        return float(value), np.asarray(grad)

    check_initial_points(logp, layout.ndim, seed=seed, what=what)
