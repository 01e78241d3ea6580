"""Saved forecasts are verified on loading: checksum, embedded inputs, attributes, probabilities."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import syriaforecast as sf
from syriaforecast._forecast_file import CHECKSUM_ATTR, content_checksum
from syriaforecast.errors import ForecastFileError, ForecastFileWarning
from syriaforecast.forecast import _checked_forecast

from .conftest import DATA


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[sf.Forecast, Path]:
    model = sf.load_model(DATA / "tiny" / "model.toml")
    result = sf.forecast(model, sf.load_evidence(DATA / "tiny" / "evidence.csv", model), exact=True)
    return result, result.save(tmp_path_factory.mktemp("saved") / "f.nc")


@pytest.fixture(scope="module")
def tree(saved) -> xr.DataTree:
    with xr.open_datatree(saved[1], engine="h5netcdf") as handle:
        return handle.load()


def edited(tree: xr.DataTree, edit: Callable[[xr.DataTree], None], *, rehash: bool = False) -> xr.DataTree:
    """A copy of a saved forecast's tree, edited; ``rehash`` recomputes the checksum (a forger, or a bug)."""
    tree = tree.copy(deep=True)
    edit(tree)
    if rehash:
        tree.attrs[CHECKSUM_ATTR] = content_checksum(tree)
    return tree


def check(tree: xr.DataTree) -> sf.Forecast:
    """The checks load_forecast makes once the file is read (in memory: no netCDF round trip)."""
    return _checked_forecast(Path("x.nc"), tree, None)


def rewrite(src: Path, dst: Path, edit: Callable[[xr.DataTree], None], *, rehash: bool = False) -> Path:
    """Edit a saved forecast file."""
    with xr.open_datatree(src, engine="h5netcdf") as handle:
        tree = handle.load()
    edited(tree, edit, rehash=rehash).to_netcdf(dst, engine="h5netcdf")
    return dst


def set_probability(group: str, scale: float) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        data = tree[group].to_dataset()
        data["probability"] = data["probability"] * scale
        tree[group] = xr.DataTree(data)

    return edit


def set_attr(key: str, value: object) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        tree.attrs[key] = value

    return edit


def drop_reports(n: int) -> Callable[[xr.DataTree], None]:
    def edit(tree: xr.DataTree) -> None:
        lines = tree.attrs["evidence_csv"].splitlines(keepends=True)
        tree.attrs["evidence_csv"] = "".join(lines[: len(lines) - n])

    return edit


def test_saved_forecast_has_a_checksum_and_reloads_identically(saved):
    result, path = saved
    again = sf.load_forecast(path)
    assert again.attrs["format_version"] == 2
    assert len(again.attrs[CHECKSUM_ATTR]) == 64
    for name in ("filtered", "smoothed", "horizon"):
        xr.testing.assert_identical(getattr(again, name), getattr(result, name))
    # The checksum is of the content, not of the file's bytes: saving again gives the same one.
    assert sf.load_forecast(again.save(path.with_name("again.nc"))).attrs[CHECKSUM_ATTR] == again.attrs[
        CHECKSUM_ATTR
    ]


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (set_probability("horizon", 3.0), "horizon draws overwritten"),
        (set_probability("smoothed", 1.0 + 1e-9), "smoothed nudged"),
        (drop_reports(2), "evidence rows deleted"),
        (set_attr("model_sha256", "0" * 64), "model_sha256 edited"),
        (set_attr("mode", "hierarchical"), "mode edited"),
        (set_attr("horizon", "2030-12-31"), "horizon edited"),
        (set_attr("sampler_seed", 7), "seed edited"),
    ],
)
def test_any_edit_fails_the_checksum(tree, edit, why):
    xr.testing.assert_identical(check(tree).horizon, check(edited(tree, lambda t: None)).horizon)
    with pytest.raises(ForecastFileError, match="does not match its checksum"):
        check(edited(tree, edit))


def test_an_edited_file_is_refused(saved, tmp_path):
    path = rewrite(saved[1], tmp_path / "x.nc", set_probability("horizon", 3.0))
    with pytest.raises(ForecastFileError, match="does not match its checksum"):
        sf.load_forecast(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (set_probability("horizon", 3.0), "outside \\[0, 1\\]"),
        (set_probability("filtered", 0.5), "do not sum to 1"),
        (drop_reports(2), "does not match its recorded evidence_sha256"),
        (set_attr("mode", "sampled"), "attribute mode = 'sampled'"),
        (set_attr("horizon", "2030-12-31"), "attribute horizon = '2030-12-31'"),
        (set_attr("as_of", "2025-13-01"), "attribute as_of"),
        (set_attr("n_scenarios", 5), "attribute n_scenarios"),
        (set_attr("format_version", 99), "newer than this library reads"),
        (set_attr("format_version", "two"), "attribute format_version"),
        (set_attr("model_toml", "x"), "stored model does not match"),
    ],
)
def test_every_check_names_what_is_wrong_even_with_a_recomputed_checksum(tree, edit, message):
    with pytest.raises(ForecastFileError, match=message):
        check(edited(tree, edit, rehash=True))


def test_format_1_files_load_with_a_warning_and_are_still_checked(saved, tree):
    def as_v1(tree: xr.DataTree) -> None:
        tree.attrs["format_version"] = 1
        del tree.attrs[CHECKSUM_ATTR]

    v1 = edited(tree, as_v1)
    with pytest.warns(ForecastFileWarning, match="before checksums"):
        old = check(v1)
    xr.testing.assert_identical(old.horizon, saved[0].horizon)
    with warnings.catch_warnings(), pytest.raises(ForecastFileError, match="outside"):
        warnings.simplefilter("ignore", ForecastFileWarning)
        check(edited(v1, set_probability("horizon", 3.0)))
    with pytest.raises(ForecastFileError, match="no content_sha256"):
        check(edited(tree, lambda t: t.attrs.pop(CHECKSUM_ATTR)))


def test_truncated_flipped_and_oversized_files_are_forecast_file_errors(saved, tmp_path):
    raw = saved[1].read_bytes()
    rng = np.random.default_rng(0)
    for k in range(3):  # more in tests/test_fuzz_hardening.py
        data = bytearray(raw)
        for _ in range(1 + k):
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        path = tmp_path / f"flip{k}.nc"
        path.write_bytes(bytes(data))
        try:
            again = sf.load_forecast(path)
        except ForecastFileError:
            continue
        # A flip in padding changes nothing the forecast holds: then it loads identically.
        xr.testing.assert_identical(again.horizon, saved[0].horizon)
    with pytest.raises(ForecastFileError, match="file size"):
        sf.load_forecast(saved[1], max_bytes=100)
    with pytest.raises(ForecastFileError, match="no such file"):
        sf.load_forecast(tmp_path / "missing.nc")
