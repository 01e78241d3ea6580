"""The posterior density as a compiled C callback for nutpie: no Python between the sampler and the kernel.

nutpie's Python-function interface calls back into Python for every density
evaluation: the interpreter takes the GIL, unboxes about forty arguments and
dispatches to :func:`~syriaforecast.engine.kernel.log_density_and_gradient`. On the
bundled model that overhead was a third of each evaluation, and the GIL kept two
chains from running at once. nutpie's Numba backend instead takes the address of
a C function ``int64 logp(uint64 dim, double *x, double *grad, double *logp,
void *data)`` and an opaque ``data`` pointer, and calls it from its own threads
without the GIL.

One C function serves every model: ``data`` points to a table of int64 slots
holding, for each density argument, the address and shape of its array (the
scalars sit in one float64 array, the first slot). The function is generated
from the *kinds* of the arguments (scalar or array, dtype, rank), which depend
only on the engine version, written to a file and compiled once per machine by
Numba with ``cache=True``.

Compiled code that cannot go stale: Numba's cache keys a function on its own
file's stamp, not on the files of the functions it calls, so the generated file
lives in a folder named by :func:`callback_key`, a digest of the engine sources,
the Numba and nutpie versions and the argument kinds. An edited kernel, an
upgrade of Numba or nutpie, or a new density signature gets a new folder and a
fresh compile; an old kernel can never run.

nutpie's compiled-model interface is not public API (``nutpie.compile_pymc.
CompiledPyMCModel``; tested with the versions pinned in ``pyproject.toml``).
When it is missing or refuses the model, :func:`compiled_sampler_model` returns
``None`` and the engine samples through the Python-function interface, which
gives the same draws.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from syriaforecast.engine.data import read_only_view
from syriaforecast.engine.whitening import Whitening

__all__ = [
    "CALLBACK_ENV",
    "CALLBACK_SOURCES",
    "UNCONSTRAINED",
    "argument_kinds",
    "callback_key",
    "compiled_sampler_model",
    "expand_draws",
    "import_nutpie",
    "trace_arrays",
]

#: Set to ``0`` to sample through nutpie's Python-function interface instead.
CALLBACK_ENV = "SYRIAFORECAST_COMPILED_CALLBACK"
#: Name of the one expanded variable of a compiled model: the unconstrained position.
UNCONSTRAINED = "unconstrained_position"
_ENGINE = Path(__file__).resolve().parent
_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}

#: A density argument's kind: ("scalar", "int"|"float"|"bool", 0) or ("array", dtype name, rank).
Kind = tuple[str, str, int]


def argument_kinds(args: Sequence[Any]) -> tuple[Kind, ...]:
    """The kind of each density argument; the generated function depends on these alone."""
    kinds: list[Kind] = []
    for value in args:
        if isinstance(value, np.ndarray):
            if value.dtype not in (np.float64, np.int64, np.bool_):
                raise TypeError(f"density argument of dtype {value.dtype}: the callback reads f8, i8 or bool")
            kinds.append(("array", value.dtype.name, value.ndim))
        elif isinstance(value, bool | np.bool_):
            kinds.append(("scalar", "bool", 0))
        elif isinstance(value, int | np.integer):
            kinds.append(("scalar", "int", 0))
        elif isinstance(value, float | np.floating):
            kinds.append(("scalar", "float", 0))
        else:
            raise TypeError(f"density argument of type {type(value).__name__}: no C layout for it")
    return tuple(kinds)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


#: The sources compiled into the callback: every compiled function of the engine is in kernel.py
#: (see its comment on Numba's cache), and this file holds the callback's template.
CALLBACK_SOURCES: tuple[Path, ...] = (_ENGINE / "kernel.py", Path(__file__).resolve())


def callback_key(kinds: Sequence[Kind], sources: Sequence[Path] = CALLBACK_SOURCES) -> str:
    """Digest of what the compiled callback depends on: its sources, Numba, nutpie and the argument kinds."""
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    for package in ("numba", "nutpie", "numpy"):
        digest.update(f"{package}={_version(package)}\x00".encode())
    digest.update(f"python={sys.version_info[:2]}\x00{kinds!r}".encode())
    return digest.hexdigest()[:20]


def _cache_root() -> Path:
    configured = os.environ.get("SYRIAFORECAST_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "syriaforecast"


def _source(kinds: Sequence[Kind]) -> str:
    """Python source of the callback module for arguments of ``kinds``."""
    lines = []
    slot, n_scalars = 1, 0  # slot 0: address of the scalars
    for position, (kind, dtype, rank) in enumerate(kinds):
        if kind == "scalar":
            cast = {"int": "np.int64", "float": "np.float64", "bool": "np.bool_"}[dtype]
            lines.append(f"    a{position} = {cast}(scalars[{n_scalars}])")
            n_scalars += 1
        else:
            shape = ", ".join(f"slots[{slot + 1 + d}]" for d in range(rank))
            lines.append(
                f"    a{position} = numba.carray(_as_pointer(slots[{slot}]), ({shape},), np.{dtype})"
            )
            slot += 1 + rank
    arguments = ", ".join(f"a{p}" for p in range(len(kinds)))
    body = "\n".join(lines)
    return f'''"""Generated by syriaforecast.engine.callback: the density as a C callback (do not edit)."""

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from syriaforecast.engine.kernel import log_density_and_gradient

#: The whitening's slots (centre address and length, scale address and length) follow the arguments'.
WHITENING = {slot}
N_SLOTS = {slot + 4}
N_SCALARS = {max(n_scalars, 1)}


@intrinsic
def _as_pointer(typingctx, address):
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


@numba.njit(inline="always", cache=True)
def _whitening(slots):
    # Whitened coordinates (engine.whitening.Whitening): x = centre + scale * z. Empty arrays: none.
    centre = numba.carray(_as_pointer(slots[WHITENING]), (slots[WHITENING + 1],), np.float64)
    scale = numba.carray(_as_pointer(slots[WHITENING + 2]), (slots[WHITENING + 3],), np.float64)
    return centre, scale


LOGP = types.int64(
    types.uint64, types.CPointer(types.double), types.CPointer(types.double),
    types.CPointer(types.double), types.voidptr,
)
EXPAND = types.int64(
    types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double), types.voidptr,
)


@numba.cfunc(LOGP, cache=True)
def logp(dim, x_, grad_, logp_, data_):
    slots = numba.carray(data_, (N_SLOTS,), np.int64)
    scalars = numba.carray(_as_pointer(slots[0]), (N_SCALARS,), np.float64)
    z = numba.carray(x_, (dim,))
    out = numba.carray(grad_, (dim,))
    # Should the kernel raise, Numba reports it and the callback returns early (code 0): the
    # point then reads as a NaN density, which the sampler rejects, not as the last values.
    logp_[0] = np.nan
    for k in range(dim):
        out[k] = np.nan
    # Whitened: the kernel sees positions and the sampler gets scale * dlogp/dx. Unwhitened, the
    # kernel reads the sampler's own array (it never writes to it): no copy per evaluation.
    centre, scale = _whitening(slots)
    whitened = centre.shape[0] == dim
    if whitened:
        x = np.empty(dim)
        for k in range(dim):
            x[k] = centre[k] + scale[k] * z[k]
    else:
        x = z
{body}
    value, grad = log_density_and_gradient(x, {arguments})
    if grad.shape[0] != dim:
        return -1
    finite = True
    for k in range(dim):
        out[k] = grad[k] * scale[k] if whitened else grad[k]
        if not np.isfinite(out[k]):
            finite = False
    logp_[0] = value
    if not np.isfinite(value):
        return 4
    if not finite:
        return 3
    return 0


@numba.cfunc(EXPAND, cache=True)
def expand(dim, expanded, x_, out_, data_):
    # The draws are stored as positions: whitened coordinates are mapped back.
    if expanded != dim:
        return -1
    slots = numba.carray(data_, (N_SLOTS,), np.int64)
    centre, scale = _whitening(slots)
    whitened = centre.shape[0] == dim
    z = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    for k in range(dim):
        out[k] = centre[k] + scale[k] * z[k] if whitened else z[k]
    return 0
'''


def _module(kinds: tuple[Kind, ...]) -> Any:
    """The compiled callback module for ``kinds``: generated and compiled once per machine."""
    key = callback_key(kinds)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        source = _source(kinds)
        folder = _cache_root() / "callback" / key
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # no writable cache: compile in a scratch folder (once per process)
            folder = Path(tempfile.mkdtemp(prefix="syriaforecast-callback-"))
        path = folder / "density_callback.py"
        if not path.exists() or path.read_text() != source:
            # Atomic: another process may be importing the same file right now.
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(source)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        name = f"_syriaforecast_callback_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs: Numba's cache re-imports the module by name when it loads.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        _LOADED[key] = module
        return module


def _user_data(
    args: Sequence[Any], kinds: Sequence[Kind], whitening: Whitening | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The int64 slot table the callback reads, and the arrays it points into (kept alive by the model).

    The arguments' slots are followed by the whitening's: its centre and scale, or two
    empty arrays (the sampler's coordinates are the positions).
    """
    scalars = [float(value) for value, kind in zip(args, kinds, strict=True) if kind[0] == "scalar"]
    scalar_array = np.ascontiguousarray(scalars or [0.0], dtype=np.float64)
    keep = [scalar_array]
    slots: list[int] = [scalar_array.ctypes.data]
    for value, kind in zip(args, kinds, strict=True):
        if kind[0] == "scalar":
            continue
        # Read-only, as the callback reads it through raw pointers; but through a view, so the
        # caller's array (often the model's own, which the kernels get next) stays writable:
        # to Numba a read-only array is another type, and every kernel it reached would be
        # compiled a second time.
        array = read_only_view(np.asarray(value))
        keep.append(array)
        slots.append(array.ctypes.data)
        slots.extend(int(n) for n in array.shape)
    pair = (whitening.centre, whitening.scale) if whitening is not None else (np.empty(0), np.empty(0))
    for values in pair:
        array = read_only_view(np.ascontiguousarray(values, dtype=np.float64))
        keep.append(array)
        slots.extend((array.ctypes.data, array.shape[0]))
    return np.asarray(slots, dtype=np.int64), keep


def import_nutpie() -> Any:
    """``import nutpie``, without the ArviZ meta-package it imports at the top of ``nutpie.sample``.

    ``import arviz`` loads arviz-stats, arviz-plots and matplotlib (about 2 CPU
    seconds, most of a first forecast's start-up), while nutpie only calls
    ``arviz.from_dict`` and ``arviz.dict_to_dataset``, which are arviz-base's. So
    while nutpie is imported, ``arviz`` is a stand-in that hands out arviz-base's
    functions on first use and anything else from the real ArviZ; the stand-in is
    removed at once, so a user's own ``import arviz`` gets the real package.
    """
    if "nutpie" in sys.modules or "arviz" in sys.modules:
        import nutpie

        return nutpie

    def deferred(name: str) -> Any:
        import arviz_base

        if hasattr(arviz_base, name):
            return getattr(arviz_base, name)
        sys.modules.pop("arviz", None)
        return getattr(importlib.import_module("arviz"), name)

    stand_in = types.ModuleType("arviz", "nutpie's view of ArviZ: arviz-base, loaded on first use")
    stand_in.__getattr__ = deferred  # type: ignore[method-assign]
    sys.modules["arviz"] = stand_in
    try:
        import nutpie
    finally:
        if sys.modules.get("arviz") is stand_in:
            del sys.modules["arviz"]
    return nutpie


def compiled_sampler_model(
    args: Sequence[Any],
    ndim: int,
    initial_point: Callable[[Any], np.ndarray],
    whitening: Whitening | None = None,
) -> Any | None:
    """A nutpie model whose density is the compiled callback, or None when nutpie cannot take one.

    Parameters
    ----------
    args : sequence
        The arguments of :func:`~syriaforecast.engine.kernel.log_density_and_gradient`
        after the position (as :func:`~syriaforecast.engine.sampler.build_sampler_model` builds them).
    ndim : int
        Length of the unconstrained position.
    initial_point : callable
        ``seed -> position`` where a chain starts (the Python model's), in the
        sampler's coordinates (whitened, with ``whitening``).
    whitening : Whitening, optional
        The sampler's coordinates ``z``, positions being ``centre + scale * z``
        (:class:`~syriaforecast.engine.whitening.Whitening`); the draws still come
        back as positions.

    Returns
    -------
    nutpie model or None
        Its draws come back as one unconstrained vector per draw, named
        :data:`UNCONSTRAINED`, for :func:`expand_draws`.
    """
    if os.environ.get(CALLBACK_ENV, "1") == "0":
        return None
    try:
        import_nutpie()
        from nutpie import _lib
        from nutpie.compile_pymc import CompiledPyMCModel
    except ImportError:
        return None
    if not all(hasattr(_lib, name) for name in ("LogpFunc", "ExpandFunc", "PyMcModel", "PyVariable")):
        return None
    kinds = argument_kinds(args)
    module = _module(kinds)
    user_data, keep = _user_data(args, kinds, whitening)
    shared = {f"arg{k}": array for k, array in enumerate(keep)} | {"slots": user_data}
    return CompiledPyMCModel(
        _n_dim=ndim,
        dims={UNCONSTRAINED: ("unconstrained_dim",)},
        _coords={"unconstrained_dim": np.arange(ndim)},
        _shapes={UNCONSTRAINED: (ndim,)},
        compiled_logp_func=module.logp,
        compiled_expand_func=module.expand,
        initial_point_func=initial_point,
        shared_data=shared,
        shared_var_keys={},
        user_data=user_data,
        n_expanded=ndim,
        shape_info=([UNCONSTRAINED], [slice(0, ndim)], [(ndim,)]),
        logp_func=None,
        expand_func=None,
    )


def expand_draws(
    positions: np.ndarray, expand: Callable[[np.ndarray], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Named parameter draws (chain, draw, ...) from unconstrained positions (chain, draw, ndim).

    ``expand`` maps positions (D, ndim) to named parameters with a leading axis D,
    each draw as the Python model's own position-to-parameters function gives it
    (:func:`~syriaforecast.engine.sampler.build_fast_sampler_model`), so both
    interfaces give the same parameters for the same draws.
    """
    chains, draws = positions.shape[:2]
    flat = np.ascontiguousarray(positions.reshape(chains * draws, -1), dtype=float)
    out = expand(flat)
    return {name: np.reshape(value, (chains, draws, *np.shape(value)[1:])) for name, value in out.items()}


def trace_arrays(raw: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Posterior draws and sampler statistics, each ``(chain, draw, ...)``, from nutpie's raw trace.

    ``nutpie.sample(..., return_raw_trace=True)`` hands back its Arrow tables (one
    per chain, tuning rows first). Reading them directly skips the conversion to an
    ArviZ DataTree (arviz-base, xarray's chunk-manager discovery), which cost more
    than a second of a first forecast; the values are the same. A chain cut short
    is padded with NaN (0 for integer and boolean statistics), as nutpie does.
    """
    import pyarrow

    draw_batches, stat_batches = raw.get_arrow_trace()
    tuning = [int(np.sum(pyarrow.array(stat.column("tuning")).to_numpy(False))) for stat in stat_batches]
    kept = max(stat.num_rows - t for stat, t in zip(stat_batches, tuning, strict=True))
    out: list[dict[str, np.ndarray]] = []
    for batches in (draw_batches, stat_batches):
        arrays: dict[str, np.ndarray] = {}
        for chain, (batch, skip) in enumerate(zip(batches, tuning, strict=True)):
            rows = batch.num_rows - skip
            for name in batch.column_names:
                column = batch.column(name)
                meta = column.field.metadata or {}
                shape = tuple(int(n) for n in meta.get(b"shape", b"").decode().split(",") if n)
                values_array = pyarrow.array(column).slice(skip, rows)
                if values_array.null_count:
                    continue  # statistics nutpie leaves empty (e.g. divergence details)
                if hasattr(values_array, "flatten"):
                    values_array = values_array.flatten()
                values = np.asarray(values_array.to_numpy(False)).reshape((rows, *shape))
                if name not in arrays:
                    fill = np.nan if values.dtype.kind == "f" else 0
                    arrays[name] = np.full((len(batches), kept, *shape), fill, dtype=values.dtype)
                arrays[name][chain, :rows] = values
        out.append(arrays)
    return out[0], out[1]
