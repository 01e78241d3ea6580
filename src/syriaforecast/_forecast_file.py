"""Integrity of saved forecasts: the content checksum, and every check :func:`load_forecast` makes.

A saved forecast (format 2) carries ``content_sha256``: a SHA-256 over every
group's attributes and every variable and coordinate (name, dimensions, dtype,
shape and values), including the embedded model and evidence, which are root
attributes. The hash is computed on a canonical form (numbers as little-endian
machine values, text as length-prefixed UTF-8, attributes as sorted JSON), so it
is the same for the tree in memory and the tree read back from netCDF.

On loading, :func:`check_tree` verifies, and names in a
:class:`~syriaforecast.errors.ForecastFileError` whatever fails:

- the format version (known, not newer than this library);
- the checksum (format 2), the embedded model against ``model_content_sha256``
  and the embedded evidence against ``evidence_sha256``;
- the attributes the library knows (``mode``, ``as_of``, ``horizon``,
  ``model_id``, ``n_scenarios``) against the embedded model;
- the probability groups: dimensions and coordinates as the model implies,
  every value finite and in [0, 1], each distribution summing to 1.

Files of format 1 (saved before checksums) are loaded after every check but the
checksum, with a :class:`~syriaforecast.errors.ForecastFileWarning` saying that
their draws cannot be verified: they are the record of forecasts already issued,
and refusing them would lose that record, while their probabilities, model and
evidence are still checked. Saving such a forecast again writes format 2.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import xarray as xr

from syriaforecast.errors import ForecastFileError

__all__ = ["CHECKSUM_ATTR", "content_checksum", "probability_problems"]

CHECKSUM_ATTR = "content_sha256"
#: Tolerance of a saved distribution's sum (float64 rounding over a few scenarios is ~1e-15).
SUM_TOLERANCE = 1e-6
PROBABILITY_GROUPS = {
    "filtered": ("chain", "draw", "time", "scenario"),
    "smoothed": ("chain", "draw", "time", "scenario"),
    "horizon": ("chain", "draw", "scenario"),
}
MODES = ("exact", "hierarchical")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _attrs_bytes(attrs: Mapping[Any, Any]) -> bytes:
    items = {str(k): _plain(v) for k, v in attrs.items() if str(k) != CHECKSUM_ATTR}
    text = json.dumps(items, sort_keys=True, ensure_ascii=True, default=repr)
    return text.encode("ascii")


def _values_bytes(values: np.ndarray) -> bytes:
    if values.dtype.kind in "OUS":
        parts = []
        for item in values.ravel(order="C"):
            text = item.decode("utf-8", "surrogateescape") if isinstance(item, bytes) else str(item)
            data = text.encode("utf-8", "surrogatepass")
            parts.append(len(data).to_bytes(8, "little") + data)
        return b"".join(parts)
    if values.dtype.kind == "b":
        return np.ascontiguousarray(values, dtype="u1").tobytes()
    if values.dtype.kind in "iu":
        return np.ascontiguousarray(values, dtype="<i8").tobytes()
    if values.dtype.kind == "f":
        return np.ascontiguousarray(values, dtype="<f8").tobytes()
    if values.dtype.kind == "M":
        return np.ascontiguousarray(values.astype("datetime64[ns]").view("<i8")).tobytes()
    return np.ascontiguousarray(values).tobytes()


def content_checksum(tree: xr.DataTree) -> str:
    """SHA-256 over every group's attributes, variables and coordinates (hex).

    The root's own ``content_sha256`` attribute is left out, so the checksum can
    be stored in the tree it describes.
    """
    digest = hashlib.sha256()
    for node in sorted(tree.subtree, key=lambda n: n.path):
        digest.update(b"group\x00" + node.path.encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(_attrs_bytes(node.attrs))
        dataset = node.to_dataset(inherit=False)
        for name in sorted(map(str, dataset.variables)):
            variable = dataset.variables[name]
            values = np.asarray(variable.values)
            header = {
                "name": name,
                "dims": list(map(str, variable.dims)),
                "shape": list(values.shape),
                "kind": "text" if values.dtype.kind in "OUS" else values.dtype.kind,
            }
            digest.update(json.dumps(header, sort_keys=True, ensure_ascii=True).encode("ascii"))
            digest.update(_attrs_bytes(variable.attrs))
            digest.update(_values_bytes(values))
    return digest.hexdigest()


def probability_problems(name: str, array: xr.DataArray, scenarios: list[str]) -> list[str]:
    """What is wrong with a saved probability array (empty when nothing is)."""
    dims = PROBABILITY_GROUPS[name]
    if tuple(array.dims) != dims:
        return [f"{name}: dimensions {tuple(map(str, array.dims))}, expected {dims}"]
    problems = []
    got = [str(s) for s in array["scenario"].values] if "scenario" in array.coords else []
    if got != scenarios:
        problems.append(f"{name}: scenarios {got}, expected the model's {scenarios}")
    values = np.asarray(array.values)
    if values.dtype.kind != "f":
        return [*problems, f"{name}: values of type {values.dtype}, expected float probabilities"]
    if values.size == 0:
        return [*problems, f"{name}: no values"]
    bad = ~np.isfinite(values) | (values < 0.0) | (values > 1.0)
    if bad.any():
        first = values[bad].ravel()[0]
        problems.append(
            f"{name}: {int(bad.sum())} values outside [0, 1] (e.g. {first!r}); "
            "probabilities must be in [0, 1]"
        )
    else:
        error = np.abs(values.sum(axis=-1) - 1.0)
        if float(error.max()) > SUM_TOLERANCE:
            worst = float(values.sum(axis=-1).ravel()[int(np.argmax(error))])
            problems.append(
                f"{name}: {int((error > SUM_TOLERANCE).sum())} distributions do not sum to 1 "
                f"(e.g. {worst!r}); each must sum to 1 within {SUM_TOLERANCE}"
            )
    return problems


def attr_problems(attrs: Mapping[str, Any], model: Any, n_periods: int | None) -> list[str]:
    """What is wrong with the attributes the library knows, given the embedded model."""
    problems = []
    mode = attrs.get("mode")
    if mode not in MODES:
        problems.append(f"attribute mode = {mode!r}: expected one of {', '.join(MODES)}")
    try:
        as_of = dt.date.fromisoformat(str(attrs.get("as_of")))
    except ValueError:
        problems.append(f"attribute as_of = {attrs.get('as_of')!r}: expected an ISO date YYYY-MM-DD")
    else:
        first = model.first_period.start_time.date()
        if as_of < first:
            problems.append(f"attribute as_of = {as_of}: before the model's first period ({first})")
    if "horizon" in attrs and str(attrs["horizon"]) != model.horizon.isoformat():
        problems.append(
            f"attribute horizon = {attrs['horizon']!r}: the embedded model's horizon is "
            f"{model.horizon.isoformat()}"
        )
    if "model_id" in attrs and str(attrs["model_id"]) != model.id:
        problems.append(f"attribute model_id = {attrs['model_id']!r}: the embedded model is {model.id!r}")
    if "n_scenarios" in attrs and _int(attrs["n_scenarios"]) != len(model.scenarios):
        problems.append(
            f"attribute n_scenarios = {attrs['n_scenarios']!r}: the embedded model has "
            f"{len(model.scenarios)} scenarios"
        )
    return problems


def _int(value: Any) -> int | None:
    try:
        number = _plain(value)
        return int(number) if isinstance(number, int | str) and not isinstance(number, bool) else None
    except (TypeError, ValueError):
        return None


def refuse(path: Any, message: str) -> ForecastFileError:
    """A :class:`ForecastFileError` naming the file."""
    return ForecastFileError(f"{path}: {message}")


@contextlib.contextmanager
def quiet_h5netcdf_cleanup() -> Iterator[None]:
    """Silence h5netcdf's ``File.__del__`` on a file it failed to open.

    When h5netcdf refuses a corrupt file half-way through ``File.__init__``, the
    object's finaliser later calls ``close()`` on attributes that were never
    set and Python reports an "exception ignored" traceback. The real error has
    already been turned into a ForecastFileError; this drops only that echo
    (other unraisable exceptions reach the previous hook).
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        owner = getattr(unraisable.object, "__qualname__", "") or type(unraisable.object).__qualname__
        module = getattr(unraisable.object, "__module__", "") or ""
        if module.startswith("h5netcdf") and "close" in str(owner):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous
