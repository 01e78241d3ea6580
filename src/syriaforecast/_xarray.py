"""xarray without importing dask.array for every process that builds a DataArray.

xarray checks whether each array it wraps is a dask array
(``xarray.core.variable.as_compatible_data``), and the first such check imports
``dask.array`` whenever dask is installed (``dask`` is an optional extra here,
for backtests on a cluster). That import cost 0.7-1.1 CPU s a process on the
project's 2-core machine (``python -c "import xarray, dask.array"`` against
``import xarray``, 2026-12-01): a large share of a fresh ``syriaforecast forecast``
or of exact mode's first call, which never see a dask array.

Likewise every index xarray builds asks ``is_dask_collection``, which imports
``dask.base`` (0.4 s in a profile of exact mode's first call) to answer.

No object can be a ``dask.array.Array`` before ``dask.array`` is imported, so
until then the answer to "is this a dask array?" is no without importing it.
:func:`defer_dask_detection` puts a stand-in for xarray's cached record of the
dask module that answers so, and hands over to xarray's own record (replacing
itself) as soon as ``dask.array`` is in ``sys.modules`` or anything other than
the array type is asked for. And it wraps xarray's ``is_dask_collection`` to
answer no at once for an object without ``__dask_graph__``, which is the first
thing ``dask.base.is_dask_collection`` checks (it answers no to those too).
It relies on private xarray structures (``_cached_duck_array_modules`` in
``xarray.namedarray.pycompat``, ``is_dask_collection`` in
``xarray.namedarray.utils``; xarray 2024-2026) and leaves each alone when it is
absent or not as expected: then xarray behaves as before.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["defer_dask_detection"]


class _DaskNotYetImported:
    """xarray's ``DuckArrayModule("dask")`` until ``dask.array`` is imported (see the module docstring)."""

    def __init__(self, cache: dict[str, Any]) -> None:
        self._cache = cache

    def _real(self) -> Any:
        from xarray.namedarray.pycompat import DuckArrayModule

        real = DuckArrayModule("dask")
        if self._cache.get("dask") is self:
            self._cache["dask"] = real
        return real

    @property
    def type(self) -> tuple[type, ...]:
        array = getattr(sys.modules.get("dask.array"), "Array", None)
        if array is None:
            return ()  # nothing can be an instance of a class not yet defined
        return self._real().type

    def __getattr__(self, name: str) -> Any:
        # module, version, available: what xarray's own record says (imports dask).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real(), name)


def _without_dask_graph_first(original: Any) -> Any:
    def is_dask_collection(x: object) -> bool:
        # dask.base.is_dask_collection answers False for these before anything else.
        if not hasattr(x, "__dask_graph__"):
            return False
        return bool(original(x))

    is_dask_collection.__wrapped__ = original  # type: ignore[attr-defined]
    is_dask_collection.__doc__ = original.__doc__
    return is_dask_collection


def defer_dask_detection() -> bool:
    """Let xarray build arrays without importing dask until dask is in use.

    Returns
    -------
    bool
        Whether the dask-module stand-in is installed now (False when xarray's
        private cache is not where expected, or dask was already detected or
        imported). The ``is_dask_collection`` shortcut is installed once
        whenever xarray has that function.
    """
    try:
        from xarray.namedarray import pycompat
        from xarray.namedarray import utils as named_utils
    except ImportError:  # pragma: no cover - another xarray layout: leave it alone
        return False
    check = getattr(named_utils, "is_dask_collection", None)
    if callable(check) and not hasattr(check, "__wrapped__"):
        named_utils.is_dask_collection = _without_dask_graph_first(check)
    if "dask.array" in sys.modules:
        return False
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    if not isinstance(cache, dict) or "dask" in cache:
        return isinstance(cache, dict) and isinstance(cache.get("dask"), _DaskNotYetImported)
    cache["dask"] = _DaskNotYetImported(cache)
    return True
