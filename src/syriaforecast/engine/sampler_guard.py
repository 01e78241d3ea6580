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
        raise SamplerError(
            f"the sampler failed on {what} ({type(exc).__name__}: {message}). Try more tuning steps "
            "(tune=1000), a higher target_accept (0.95), or exact mode (exact=True / --exact)"
        ) from None


def check_model_density(arrays: Any, data: Any, *, seed: int = 0, what: str = "the model") -> None:
    """:func:`check_initial_points` for the hierarchical density of ``arrays`` and ``data``."""
    from syriaforecast.engine.density import log_density_and_gradient
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    layout = layout_for(arrays, data)
    args = _density_arguments(arrays, data, layout)

    def logp(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = log_density_and_gradient(x, *args)
        return float(value), np.asarray(grad)

    check_initial_points(logp, layout.ndim, seed=seed, what=what)
