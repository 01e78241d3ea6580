"""Fuzzing the saved-forecast loader (random corruptions) and the CLI (random option values).

Each property asserts the exact outcome: a corrupted saved forecast raises
ForecastFileError or, when the corruption changed nothing the forecast holds,
loads identically; a CLI option value out of range exits with status 2 and a
message, with no traceback, before any work. A few examples run in the default
suite; ``make fuzz`` runs 5,000 of each::

    SYRIAFORECAST_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/test_fuzz_hardening.py -p no:cacheprovider
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import syriaforecast as sf
from syriaforecast._checks import MAX_CHAINS, MAX_DRAWS, MAX_TOTAL_DRAWS, SEED_MAX
from syriaforecast._forecast_file import CHECKSUM_ATTR, content_checksum
from syriaforecast.errors import ForecastFileError, ForecastFileWarning
from syriaforecast.forecast import _checked_forecast

from .conftest import DATA

FUZZ_EXAMPLES = int(os.environ.get("SYRIAFORECAST_FUZZ_EXAMPLES", "0") or 0)
pytestmark = pytest.mark.timeout(max(300, 3 * FUZZ_EXAMPLES))  # ~1 s per file load on a busy machine


def fuzz(default: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=FUZZ_EXAMPLES or default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[sf.Forecast, Path, bytes, xr.DataTree]:
    model = sf.load_model(DATA / "tiny" / "model.toml")
    result = sf.forecast(model, sf.load_evidence(DATA / "tiny" / "evidence.csv", model), exact=True)
    path = result.save(tmp_path_factory.mktemp("fuzz") / "f.nc")
    with xr.open_datatree(path, engine="h5netcdf") as handle:
        tree = handle.load()
    return result, path, path.read_bytes(), tree


def _same(loaded: sf.Forecast, result: sf.Forecast) -> None:
    for name in ("filtered", "smoothed", "horizon"):
        xr.testing.assert_identical(getattr(loaded, name), getattr(result, name))
    assert loaded.evidence.to_csv_text() == result.evidence.to_csv_text()
    assert loaded.model == result.model


# --------------------------------------------------------------------------- file bytes
corruption = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 7)), min_size=1,
                                        max_size=8)),
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.just("insert"), st.integers(0, 10**9), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("overwrite"), st.integers(0, 10**9), st.binary(min_size=1, max_size=256)),
)  # fmt: skip


def corrupt(raw: bytes, how: tuple[Any, ...]) -> bytes:
    data = bytearray(raw)
    if how[0] == "flip":
        for where, bit in how[1]:
            data[where % len(data)] ^= 1 << bit
    elif how[0] == "truncate":
        del data[int(how[1] * len(data)) :]
    elif how[0] == "insert":
        at = how[1] % len(data)
        data[at:at] = how[2]
    else:
        at = how[1] % len(data)
        data[at : at + len(how[2])] = how[2]
    return bytes(data)


@fuzz(default=4)
@given(how=corruption)
def test_corrupted_saved_forecasts_raise_forecast_file_error_or_load_identically(saved, tmp_path, how):
    result, _, raw, _ = saved
    path = tmp_path / "corrupt.nc"
    path.write_bytes(corrupt(raw, how))
    try:
        loaded = sf.load_forecast(path)
    except ForecastFileError as exc:
        assert str(exc).startswith(str(path))
        return
    _same(loaded, result)


# --------------------------------------------------------------------------- file contents
edit = st.one_of(
    st.tuples(st.just("value"), st.sampled_from(["filtered", "smoothed", "horizon"]), st.integers(0, 10**6),
              st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.just("attr"), st.sampled_from(["mode", "as_of", "horizon", "model_id", "n_scenarios",
                                                "format_version", "evidence_sha256", "model_sha256",
                                                "evidence_csv", "model_toml", "sampler_seed"]),
              st.one_of(st.text(max_size=30), st.integers(-5, 10**6), st.floats(allow_nan=False))),
    st.tuples(st.just("drop"), st.sampled_from(["format_version", "evidence_csv", "mode", CHECKSUM_ATTR,
                                                "as_of", "model_content_sha256"])),
)  # fmt: skip


def apply(tree: xr.DataTree, how: tuple[Any, ...]) -> xr.DataTree:
    tree = tree.copy(deep=True)
    if how[0] == "value":
        data = tree[how[1]].to_dataset()
        values = data["probability"].values.copy()
        values.ravel()[how[2] % values.size] = how[3]
        data["probability"] = (data["probability"].dims, values)
        tree[how[1]] = xr.DataTree(data)
    elif how[0] == "attr":
        tree.attrs[how[1]] = how[2]
    else:
        tree.attrs.pop(how[1], None)
    return tree


@fuzz(default=4)
@given(how=edit, rehash=st.booleans())
def test_edited_saved_forecasts_raise_forecast_file_error_or_load_identically(saved, how, rehash):
    result, _, _, tree = saved
    changed = apply(tree, how)
    if rehash and CHECKSUM_ATTR in changed.attrs:
        changed.attrs[CHECKSUM_ATTR] = content_checksum(changed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ForecastFileWarning)  # format_version edited down to 1
        try:
            loaded = _checked_forecast(Path("fuzz.nc"), changed, None)
        except ForecastFileError:
            return
    # Accepted: then nothing that matters changed (e.g. a value overwritten by itself).
    _same(loaded, result)
    if rehash or how[0] != "drop":
        assert np.array_equal(loaded.horizon.values, result.horizon.values)


# --------------------------------------------------------------------------- CLI options
class Reached(Exception):  # noqa: N818 - a sentinel: the checks passed and work would start
    pass


number = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, MAX_DRAWS, MAX_DRAWS + 1,
                                                                    MAX_CHAINS, SEED_MAX, SEED_MAX + 1]))
option_value = st.one_of(number.map(str), st.text(max_size=12))


def valid(name: str, text: str) -> bool:
    try:
        value = int(text)
    except ValueError:
        return False
    bounds = {"--draws": (1, MAX_DRAWS), "--tune": (1, MAX_DRAWS), "--chains": (1, MAX_CHAINS),
              "--seed": (0, SEED_MAX)}  # fmt: skip
    low, high = bounds[name]
    return low <= value <= high


@fuzz(default=10)
@given(
    options=st.dictionaries(st.sampled_from(["--draws", "--tune", "--chains", "--seed"]), option_value,
                            min_size=1, max_size=4),
    as_of=st.one_of(st.none(), st.dates().map(str), st.text(max_size=12)),
)  # fmt: skip
def test_cli_option_values_exit_2_or_reach_the_work(options, as_of, monkeypatch, capsys):
    from syriaforecast.cli import main

    def reached(*args: Any, **kwargs: Any) -> Any:
        raise Reached

    monkeypatch.setattr("syriaforecast.spec.model.load_model", reached)
    argv = ["forecast", "--exact"]
    for name, value in options.items():
        argv += [f"{name}={value}"]
    if as_of is not None:
        argv += [f"--as-of={as_of}"]
    expected_ok = all(valid(n, v) for n, v in options.items())
    draws, chains = options.get("--draws", "1"), options.get("--chains", "4")
    if expected_ok and int(draws) * int(chains) > MAX_TOTAL_DRAWS:
        expected_ok = False
    if as_of is not None:
        text = as_of.strip()
        try:
            import datetime as dt

            expected_ok = expected_ok and len(text) == 10 and bool(dt.date.fromisoformat(text))
        except ValueError:
            expected_ok = False
    try:
        code = main(argv)
    except Reached:
        assert expected_ok, argv
        return
    except SystemExit as exc:  # argparse: not a whole number at all
        code = exc.code
    err = capsys.readouterr().err
    assert not expected_ok, (argv, err)
    assert code == 2, (argv, err)
    assert "Traceback" not in err and "error" in err
