"""The Forecast: a self-describing result, and :func:`forecast`, which makes one.

A Forecast carries, per posterior draw, the as-of (``filtered``), hindsight
(``smoothed``) and ``horizon`` scenario probabilities, the parameters they came
from, convergence diagnostics, and the provenance needed to audit it later: the
model file and evidence themselves with their sha256, the as-of date, seed,
sampler settings and library versions. It saves to netCDF and reloads to the
last bit.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import gc
import hashlib
import io
import json
import os
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import xarray as xr

from syriaforecast._checks import SAMPLING_WORK_ENV, sampling_work_cap
from syriaforecast._compiling import announcing_compilation
from syriaforecast._io import atomic_path
from syriaforecast._xarray import defer_dask_detection
from syriaforecast.engine.data import (
    EngineData,
    ModelArrays,
    build_engine_data,
    build_model_arrays,
    reads_the_same,
)
from syriaforecast.engine.evaluate import (
    ANALYST_PARAMETER_NAMES,
    CLUSTER_PARAMETER_NAMES,
    PARAMETER_NAMES,
    SOURCE_LABELS,
    SOURCE_PARAMETER_NAMES,
    TRANSITION_PARAMETER_NAMES,
    chain_posterior,
    chain_terms_for_draws,
    posterior_parameters,
)
from syriaforecast.engine.hmm import ChainPosterior
from syriaforecast.engine.names import GRADE_COORDS, PARAMETER_DIMS
from syriaforecast.engine.psis import (
    K_THRESHOLD,
    kish_ess,
    psis_weights,
    relative_efficiency,
    systematic_resample,
)
from syriaforecast.engine.run import (
    DEFAULT_DRAWS,
    DEFAULT_EXTENSIONS,
    DEFAULT_TARGET_ACCEPT,
    DEFAULT_TUNE,
    EXTENSION_TUNE,
    TREND_FROM,
    TREND_SLACK,
    EngineRun,
    SamplerSettings,
    asof_periods,
    extend_run,
    n_chain_periods,
    run_engine,
)
from syriaforecast.engine.sampler import pack_draws
from syriaforecast.engine.whitening import Whitening
from syriaforecast.errors import ConvergenceWarning, ForecastFileError, SyriaforecastError
from syriaforecast.phrases import band_of, phrase_for, phrase_within_error
from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.inputs import information_date
from syriaforecast.spec.inputs import resolve_inputs as _resolve_inputs
from syriaforecast.spec.model import ScenarioModel, load_model, parse_model

__all__ = [
    "FORMAT_VERSION",
    "UPDATE_PATHS",
    "WARM_DRAWS",
    "WARM_TUNE",
    "Forecast",
    "forecast",
    "forecast_parameters",
    "load_forecast",
    "update",
    "warm_refit",
]

# Building a Forecast's arrays must not import dask.array (about 1 CPU s) when dask is installed.
defer_dask_detection()

#: Version of the saved-forecast layout; bumped when a saved file's meaning changes.
#: 2 added ``content_sha256`` (see :mod:`syriaforecast._forecast_file`); 1 is read with a warning.
FORMAT_VERSION = 2
#: Attribute of a saved forecast's ``log_likelihood`` group: the digest of the code that
#: computed it (:func:`~syriaforecast.engine.source_key.likelihood_sources_digest`).
LOG_LIKELIHOOD_DIGEST = "sources_sha256"
#: Thresholds a reported probability must meet (Vehtari et al. 2021).
RHAT_MAX = 1.01
ESS_MIN = 400
SAMPLE_DIMS = ("chain", "draw")


@functools.cache
def _versions() -> dict[str, str]:
    # Package metadata cannot change within a process; reading it costs ~0.1 s per forecast.
    out = {}
    for package in ("syriaforecast", "pymc", "pytensor", "nutpie", "arviz", "numpy", "xarray"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "unknown"
    return out


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return max(1, int(value))
    except ValueError:
        raise SyriaforecastError(f"environment variable {name}={value!r}: expected a whole number") from None


class _Later:
    """A Forecast field's value, computed by ``make()`` when the field is first read."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class _Deferred[T]:
    """A Forecast field that may be given as :class:`_Later`: built on first read, then kept.

    Building a Forecast's xarray objects and provenance text costs milliseconds
    (about 4 of exact mode's 6 ms at T = 2400, benchmarks/RESULTS.md of
    2026-12-01), more than its numbers: :func:`_assemble` hands them over as
    :class:`_Later` so that what is never read is never built (as statsmodels'
    results cache their derived views). Given a value, the field holds it as
    before. As a dataclass field's default, this descriptor makes the dataclass
    pass ``__init__``'s argument to :meth:`__set__`, and what reading it on the
    class gives is the field's default: ``default`` when given (a :class:`_Later`,
    so that each instance makes its own value), else AttributeError, so that the
    field is required (dataclasses documentation, "Descriptor-typed fields").
    """

    def __init__(self, default: _Later | None = None) -> None:
        self._default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._slot = f"_deferred_{name}"

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Deferred[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | _Deferred[T]:
        if obj is None:
            if self._default is None:
                raise AttributeError(self._name)  # no default value for the dataclass field
            return self._default  # type: ignore[return-value]
        value = obj.__dict__[self._slot]
        if isinstance(value, _Later):
            value = value.make()
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj: object, value: T | _Later) -> None:
        obj.__dict__[self._slot] = value


@dataclass(eq=False)
class Forecast:
    """Scenario probabilities with their uncertainty, diagnostics and provenance.

    Attributes
    ----------
    model : ScenarioModel
        The model forecast.
    evidence : Evidence
        The reports used (those published on or before ``as_of``).
    as_of : datetime.date
        The information date.
    mode : {"hierarchical", "exact"}
        ``"exact"`` takes the model file as exact (no sampling): a fixed Bayes net / HMM.
    filtered : xarray.DataArray (chain, draw, time, scenario)
        P(scenario in period t | evidence about periods up to t, as published by
        ``as_of``). A report published late is included here only when
        ``as_of`` is on or after its publication; what was knowable at an
        earlier date is a forecast (or backtest cutoff) as of that date.
    smoothed : xarray.DataArray (chain, draw, time, scenario)
        P(scenario in period t | all evidence up to ``as_of``): the hindsight view.
    horizon : xarray.DataArray (chain, draw, scenario)
        P(scenario at the model's horizon | evidence up to ``as_of``): the headline.
    posterior : xarray.Dataset
        Draws of the continuous parameters (empty in exact mode). A model
        elicited by several analysts adds ``analyst_bias`` and ``analyst_noise``
        (dimension ``analyst``): each analyst's systematic offset and own noise
        scale, on the logit / log-rate scale.
    sample_stats : xarray.Dataset
        Sampler statistics (divergences, tree depth, ...).
    diagnostics : xarray.Dataset
        R-hat and ESS of every reported probability, and the divergence count.
    attrs : dict
        Provenance: hashes, as-of date, seed, sampler settings, versions.
    """

    model: ScenarioModel
    evidence: Evidence
    as_of: dt.date
    mode: str
    # Each built on first read when the forecast was just made (see _Deferred); plain values otherwise.
    filtered: _Deferred[xr.DataArray] = _Deferred()
    smoothed: _Deferred[xr.DataArray] = _Deferred()
    horizon: _Deferred[xr.DataArray] = _Deferred()
    posterior: _Deferred[xr.Dataset] = _Deferred()
    sample_stats: _Deferred[xr.Dataset] = _Deferred()
    diagnostics: _Deferred[xr.Dataset] = _Deferred()
    attrs: _Deferred[dict[str, Any]] = _Deferred(default=_Later(dict))
    # log P(evidence | draw) per draw (chains x draws), so that an update with previous= need
    # not recompute it: saved in the group log_likelihood, and read back by load_forecast when
    # the library's likelihood code is the one that wrote it (LOG_LIKELIHOOD_DIGEST).
    _log_likelihood: np.ndarray | None = field(default=None, repr=False)
    # Tables derived from the fields above, by Forecast._remembered (not an argument: a copy
    # made by dataclasses.replace starts empty).
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, init=False, repr=False)

    def __repr__(self) -> str:
        means = self.horizon.mean(SAMPLE_DIMS)
        parts = ", ".join(f"{s}={float(means.sel(scenario=s)):.2f}" for s in self.model.scenario_ids)
        return (
            f"Forecast({self.model.id!r}, as of {self.as_of.isoformat()}, {self.mode}, "
            f"horizon {self.model.horizon.isoformat()}: {parts})"
        )

    # ------------------------------------------------------------------ reading
    @property
    def n_draws(self) -> int:
        """Total posterior draws (chains x draws); 1 in exact mode."""
        return int(self.horizon.sizes["chain"] * self.horizon.sizes["draw"])

    @property
    def converged(self) -> bool:
        """Whether every reported probability has R-hat <= 1.01 and ESS_bulk >= 400, with no divergences."""
        if self.mode == "exact":
            return True
        return not _diagnostic_failures(self.diagnostics)

    @property
    def update_path(self) -> str:
        """How this forecast was made: ``"fit"``, or with ``previous=``: ``"psis"`` or ``"refit"``."""
        return str(self.attrs.get("update_path", "fit"))

    def convergence_advice(self) -> str:
        """In plain words: why the numbers cannot be trusted yet and what to do ('' when they can)."""
        if self.mode == "exact":
            return ""
        advice = convergence_advice(self.diagnostics, self.horizon)
        extended = int(self.attrs.get("sampler_extensions", 0))
        stopped = str(self.attrs.get("sampler_extensions_stopped", ""))
        draws = self.horizon.sizes["draw"]
        if advice and stopped in ("memory", "work"):
            # Longer chains, the usual remedy, were cut short: say why, and what more draws cost.
            done = (
                f"continued {extended} time{'s' * (extended > 1)}, to {draws} draws each, and no further"
                if extended
                else "not continued"
            )
            why = (
                f"the filtered and smoothed probabilities of more draws of this model would take over "
                f"{EXTENSION_MEMORY / 2**30:g} GiB of memory"
                if stopped == "memory"
                else f"more draws would exceed the sampling-work cap (${SAMPLING_WORK_ENV}, "
                "about an hour of CPU by default)"
            )
            advice += (
                f" (The chains were {done}: {why}. More draws, asked for as above, take that "
                "memory and time; exact mode (exact=True) takes almost none.)"
            )
        elif advice and stopped == "trend":
            # Continuing was judged futile from the trend: say so, with the projection.
            projected = float(self.attrs.get("sampler_projected_draws", np.nan))
            cap = int(self.attrs.get("sampler_draws_cap", 0))
            advice += (
                f" (The chains were continued {extended} times, to {draws} draws each, and then "
                "stopped: if R-hat and ESS keep improving in proportion to the draws, the check "
                f"would need about {projected:,.0f} draws per chain, beyond the {cap:,} a default "
                "forecast makes. Ask for that many only if the time is acceptable; two seeds and a "
                "quoted range cost less.)"
            )
        elif advice and stopped == "divergences":
            advice += (
                " (The chains were not continued: divergent transitions fail the check however "
                "many draws follow them.)"
            )
        elif advice and extended:
            # Longer chains were already tried: say so, so the reader does not just repeat them.
            advice += (
                f" (The chains were already continued {extended} time{'s' * (extended > 1)}, to "
                f"{draws} draws each.)"
            )
        return advice

    def summary(self, *, prob: float = 0.9) -> pd.DataFrame:
        """The headline table: one row per scenario.

        Parameters
        ----------
        prob : float
            Mass of the highest-density interval (default 0.9).

        Returns
        -------
        pandas.DataFrame
            Indexed by scenario id, with ``name``, ``mean``, ``hdi_low``,
            ``hdi_high``, ``phrase`` (ICD 203 phrase of the mean),
            ``spans_phrases`` (the interval crosses into other phrases' bands),
            ``confidence`` (from the interval width and the diagnostics),
            ``mcse`` (Monte Carlo standard error of the mean; 0 in exact mode)
            and ``phrase_alternative`` (the neighbouring phrase when a band
            edge lies within two MCSE of the mean, so that another run could
            print it; otherwise ``""``).
        """
        mean = self.horizon.mean(SAMPLE_DIMS)
        low, high = hdi_bounds(self.horizon, prob=prob)
        mcse = self._mean_mcse()
        rows = []
        for scenario in self.model.scenarios:
            m = float(mean.sel(scenario=scenario.id))
            lo, hi = float(low.sel(scenario=scenario.id)), float(high.sel(scenario=scenario.id))
            spans = band_of(lo) != band_of(hi)
            error = float(mcse.get(scenario.id, 0.0))
            rows.append(
                {
                    "scenario": scenario.id,
                    "name": scenario.name,
                    "mean": m,
                    "hdi_low": lo,
                    "hdi_high": hi,
                    "phrase": phrase_for(m),
                    "spans_phrases": spans,
                    "confidence": self._confidence(hi - lo),
                    "mcse": error,
                    # Another run could print this phrase instead: a band edge is within 2 MCSE.
                    "phrase_alternative": phrase_within_error(m, 2.0 * error),
                }
            )
        table = pd.DataFrame(rows).set_index("scenario")
        table.attrs["prob"] = prob
        return table

    def _mean_mcse(self) -> dict[str, float]:
        """Monte Carlo standard error of each scenario's horizon mean (0 in exact mode)."""
        if self.mode == "exact" or self.n_draws < 4:
            return {}
        from syriaforecast.engine.diagnostics import mcse_mean

        # ArviZ's estimator (engine.diagnostics), without importing arviz-stats for it.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            error = mcse_mean(self.horizon.transpose(*SAMPLE_DIMS, "scenario").values)
        values = np.nan_to_num(error, nan=0.0, posinf=0.0)
        return dict(zip(map(str, self.horizon["scenario"].values), map(float, values), strict=True))

    def surprise(self, *, n_simulations: int = 2000, seed: int = 0) -> pd.DataFrame:
        """How improbable each reported period's evidence was given everything before it.

        A one-step-ahead predictive p-value per period, calibrated by simulation
        under the model taken as exact (``syriaforecast.engine.surprise``).
        Small values in recent periods mean the evidence fits no scenario well:
        the scenario set may no longer fit.

        Returns
        -------
        pandas.DataFrame
            ``period`` (label), ``p_value`` and ``log_predictive``, oldest first.
        """
        from syriaforecast.engine.surprise import surprise

        def compute() -> pd.DataFrame:
            n_periods = int(self.filtered.sizes["time"])
            rows = surprise(self.model, self.evidence, n_periods, n_simulations=n_simulations, seed=seed)
            columns = ["period", "p_value", "log_predictive"]
            return pd.DataFrame([r.__dict__ for r in rows], columns=columns)

        inputs = (self.model, self.evidence, self.filtered)
        return self._remembered(("surprise", n_simulations, seed), inputs, compute)

    def surprise_note(
        self, *, recent: int = 3, level: float = 0.01, table: pd.DataFrame | None = None
    ) -> str:
        """Plain words when one of the last ``recent`` reported periods was improbable (p < ``level``).

        Empty when none was. Mentions the residual scenario's probability when
        the model has one.
        """
        table = self.surprise() if table is None else table
        tail = table.iloc[-recent:]
        flagged = tail[tail["p_value"] < level]
        if flagged.empty:
            return ""
        when = ", ".join(f"{row.period} (p = {row.p_value:.3f})" for row in flagged.itertuples())
        note = (
            f"The evidence of {when} was improbable under every scenario given what came before "
            "(a one-step-ahead predictive check): the scenario set may no longer fit."
        )
        residual = self.model.residual
        if residual is not None:
            share = float(self.horizon.mean(SAMPLE_DIMS).sel(scenario=residual))
            note += f" The residual scenario ('none of the above') holds {share:.0%} at the horizon."
        return note

    def drivers_side_by_side(self, *, max_draws: int | None = 1000) -> pd.DataFrame:
        """The horizon with each driver off and on from the next period.

        See :func:`~syriaforecast.conditional.driver_contrast`.
        """
        from syriaforecast.conditional import driver_contrast

        inputs = (self.model, self.evidence, self.as_of, self.posterior, self.horizon)
        key = ("drivers", max_draws)
        return self._remembered(key, inputs, lambda: driver_contrast(self, max_draws=max_draws))

    def _remembered(
        self, key: tuple[Any, ...], inputs: tuple[Any, ...], compute: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """``compute()``, once per ``key`` while the fields in ``inputs`` are the same objects; a copy.

        ``forecast --out`` reads the surprise table and the drivers' contrast for the
        report and again for the console (each 0.2-0.4 CPU s on the bundled model).
        """
        kept = self._memo.get(key)
        if kept is None or any(a is not b for a, b in zip(kept[0], inputs, strict=True)):
            kept = (inputs, compute())
            self._memo[key] = kept
        return kept[1].copy()

    def _confidence(self, width: float) -> str:
        # Analytic confidence is separate from likelihood (ICD 203): it says how
        # much the estimate could move, here from the posterior interval width,
        # and it is capped at "low" when the sampler's diagnostics fail.
        if self.mode == "exact":
            return "not assessed (exact mode has no uncertainty)"
        if not self.converged:
            return "low (sampler diagnostics failed)"
        if width < 0.15:
            return "high"
        if width < 0.35:
            return "moderate"
        return "low"

    def mean(self, which: str = "horizon") -> xr.DataArray:
        """Posterior mean of ``"horizon"``, ``"filtered"`` or ``"smoothed"``."""
        return getattr(self, which).mean(SAMPLE_DIMS)

    def alerts(self) -> list[dict[str, Any]]:
        """The model's tripwires this forecast has crossed (:func:`syriaforecast.alerts.tripwire_alerts`)."""
        from syriaforecast.alerts import tripwire_alerts

        return tripwire_alerts(self)

    # ------------------------------------------------------------------ keeping
    def to_datatree(self) -> xr.DataTree:
        """The forecast in ArviZ 1.x layout.

        Groups: ``posterior``, ``sample_stats``, ``observed_data`` (the reports),
        ``constant_data`` (the elicitations), ``filtered``, ``smoothed``,
        ``horizon`` and ``diagnostics``; provenance in the root attributes. A
        hierarchical forecast adds ``log_likelihood``: ``evidence`` (chain, draw),
        each draw's log-probability of all the reports known at ``as_of`` (the
        scenario path summed out), which an update with ``previous=`` reweights
        by; its attribute ``sources_sha256`` names the likelihood code that
        computed it.
        """
        from syriaforecast.engine.data import build_model_arrays

        arrays = build_model_arrays(self.model)
        table = self.evidence.to_dataframe()
        observed = xr.Dataset(
            {
                name: ("report", table[name].astype(str).to_numpy(dtype=str))
                for name in (
                    *("date", "indicator", "value", "reliability", "source", "note"),
                    *("published", "report", "url", "coder"),
                )
            }
            | {
                "credibility": ("report", table["credibility"].to_numpy()),
                "state": ("report", table["state"].to_numpy()),
                "period": ("report", table["period"].to_numpy()),
            }
        )
        constant = xr.Dataset(
            {
                "prior": ("scenario", arrays.prior),
                "cutpoints": (("indicator", "scenario", "cutpoint"), arrays.cutpoints),
                "log_rate": (("indicator", "scenario"), arrays.log_rate),
                "band_sd": (("indicator", "scenario"), arrays.band_sd),
            },
            coords={
                "scenario": list(self.model.scenario_ids),
                "indicator": list(self.model.indicator_ids),
            },
        )
        groups = {
            "/": xr.Dataset(attrs=dict(self.attrs)),
            "posterior": self.posterior,
            "sample_stats": self.sample_stats,
            "observed_data": observed,
            "constant_data": constant,
            "filtered": self.filtered.to_dataset(name="probability"),
            "smoothed": self.smoothed.to_dataset(name="probability"),
            "horizon": self.horizon.to_dataset(name="probability"),
            "diagnostics": self.diagnostics,
        }
        if self._log_likelihood is not None and self.mode == "hierarchical":
            from syriaforecast.engine.source_key import likelihood_sources_digest

            shape = (self.horizon.sizes["chain"], self.horizon.sizes["draw"])
            values = np.asarray(self._log_likelihood, dtype=float).reshape(shape)
            groups["log_likelihood"] = xr.Dataset(
                {"evidence": (("chain", "draw"), values)},
                coords={"chain": self.horizon["chain"].values, "draw": self.horizon["draw"].values},
                attrs={LOG_LIKELIHOOD_DIGEST: likelihood_sources_digest()},
            )
        return xr.DataTree.from_dict(groups)

    def save(self, path: str | Path) -> Path:
        """Save as netCDF (via h5netcdf), atomically: an interrupted save leaves any old file intact.

        Returns
        -------
        Path
            The file written.
        """
        from syriaforecast._forecast_file import CHECKSUM_ATTR, content_checksum

        path = Path(path)

        def refused(exc: OSError) -> ForecastFileError:
            if any(parent.is_file() for parent in path.parents):
                reason = "a folder on its path is a file"
            else:
                reason = exc.strerror or type(exc).__name__
            return ForecastFileError(
                f"{path}: cannot save the forecast there ({reason}); nothing was written"
            )

        try:
            if path.is_dir():
                raise ForecastFileError(
                    f"{path}: is a folder; save to a file in it, e.g. {path / 'forecast.nc'}"
                )
        except OSError as exc:  # a name too long, a parent that is a file
            raise refused(exc) from None
        tree = self.to_datatree()
        # Format 2: a checksum over every array and attribute, verified by load_forecast.
        tree.attrs["format_version"] = FORMAT_VERSION
        tree.attrs[CHECKSUM_ATTR] = content_checksum(tree)
        try:
            with atomic_path(path) as tmp:
                tree.to_netcdf(tmp, engine="h5netcdf")
        except OSError as exc:  # no permission, a full disk: nothing written
            raise refused(exc) from None
        return path


# --------------------------------------------------------------------------- helpers
def hdi_bounds(samples: xr.DataArray, *, prob: float = 0.9) -> tuple[xr.DataArray, xr.DataArray]:
    """Lower and upper bounds of the highest-density interval over chains and draws.

    A single draw (exact mode) gives a zero-width interval at that value.
    """
    if samples.sizes["chain"] * samples.sizes["draw"] == 1:
        point = samples.isel(chain=0, draw=0, drop=True)
        return point, point
    from syriaforecast.engine.diagnostics import hdi_nearest

    # ArviZ's "nearest" HDI (engine.diagnostics), without importing arviz-stats for it.
    template = samples.isel(chain=0, draw=0, drop=True)
    if template.size == 0:  # nothing to bound (e.g. contributions of no reports)
        empty = template.astype(float)
        return empty, empty.copy()
    flat = samples.transpose(*SAMPLE_DIMS, *template.dims).values.reshape(-1, max(template.size, 1))
    low, high = hdi_nearest(flat, prob)
    return template.copy(data=low.reshape(template.shape)), template.copy(data=high.reshape(template.shape))


def _diagnostics(
    run: EngineRun,
    filtered: xr.DataArray,
    smoothed: xr.DataArray,
    horizon: xr.DataArray,
    *,
    reuse: Forecast | None = None,
) -> xr.Dataset:
    """R-hat and ESS of every reported probability.

    ``reuse`` is a forecast of the same draws whose diagnostics were computed
    from its own probabilities by these estimators: a probability whose draws
    are bit-for-bit the same there takes its R-hat and ESS from it (every
    estimator works quantity by quantity, so the numbers are the ones a
    recomputation gives). An update's filtered probabilities before its new
    reports are such.
    """
    divergences = int(np.sum(run.sample_stats.get("diverging", np.zeros(1))))
    if run.mode == "exact":
        return xr.Dataset(attrs={"divergences": 0, "mode": "exact"})
    from syriaforecast.engine import diagnostics as batched

    out = {}
    for name, values in (("horizon", horizon), ("filtered", filtered), ("smoothed", smoothed)):
        # A probability stuck at one value (e.g. 1.0 for a single scenario) has
        # no Monte Carlo error; ESS and R-hat are undefined there, not failures.
        constant = (values.max(SAMPLE_DIMS) - values.min(SAMPLE_DIMS)) < 1e-12
        # ArviZ's estimators, batched over every probability (engine.diagnostics).
        array = np.asarray(values.transpose(*SAMPLE_DIMS, ...).values, dtype=float)
        flat = array.reshape(array.shape[0], array.shape[1], -1)
        template = values.isel(chain=0, draw=0, drop=True)
        keys = ("rhat", "ess_bulk", "ess_tail")
        same, known = _same_probabilities(name, values, template, reuse) if reuse is not None else (None, {})
        summary = [np.full(flat.shape[2], np.nan) for _ in keys]
        todo = np.ones(flat.shape[2], dtype=bool) if same is None else ~same
        if todo.any():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                computed = batched.convergence_summary(flat[:, :, todo], threads=DIAGNOSTIC_THREADS)
            for result, part in zip(summary, computed, strict=True):
                result[todo] = part
        for key, result in zip(keys, summary, strict=True):
            if same is not None:
                result[same] = known[key][same]
            out[f"{name}_{key}"] = template.copy(data=result.reshape(template.shape)).where(~constant)
    return xr.Dataset(out, attrs={"divergences": divergences, "rhat_max": RHAT_MAX, "ess_min": ESS_MIN})


def _same_probabilities(
    name: str, values: xr.DataArray, template: xr.DataArray, reuse: Forecast
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """Which of ``values``' probabilities ``reuse`` has with the same draws, and its diagnostics of them.

    Returns ``(None, {})`` when nothing can be matched (other draws, another layout).
    """
    old = getattr(reuse, name)
    keys = ("rhat", "ess_bulk", "ess_tail")
    if (
        old.dims != values.dims
        or old.sizes["chain"] != values.sizes["chain"]
        or old.sizes["draw"] != values.sizes["draw"]
        or any(f"{name}_{key}" not in reuse.diagnostics for key in keys)
    ):
        return None, {}
    # Periods and scenarios matched by label; a period the previous forecast lacks compares unequal (NaN).
    order = (*SAMPLE_DIMS, *template.dims)
    shape = (values.sizes["chain"], values.sizes["draw"], -1)
    now = np.asarray(values.transpose(*order).values).reshape(shape)
    before = _aligned(old, template, leading=2).reshape(shape)
    same = np.all(before == now, axis=(0, 1))
    known = {key: _aligned(reuse.diagnostics[f"{name}_{key}"], template).reshape(-1) for key in keys}
    return same, known


def _aligned(array: xr.DataArray, template: xr.DataArray, *, leading: int = 0) -> np.ndarray:
    """``array``'s values laid out as ``template``'s dimensions and labels, NaN where it has no label.

    What ``array.reindex(template's coordinates)`` gives, by one pandas indexer per
    dimension: xarray's reindex took 42 of the 244 CPU ms of a reweighted update's
    diagnostics on the bundled model, this 14-16 (2026-12-02, machine under load).
    ``leading`` dimensions of ``array`` (the draws) come first and are kept as they are.
    """
    dims = tuple(template.dims)
    values = np.asarray(array.transpose(*array.dims[:leading], *dims).values, dtype=float)
    for axis, dim in enumerate(dims, start=leading):
        wanted = template.indexes[dim] if dim in template.indexes else pd.RangeIndex(template.sizes[dim])
        have = array.indexes[dim] if dim in array.indexes else pd.RangeIndex(array.sizes[dim])
        if have.equals(wanted):
            continue
        where = have.get_indexer(wanted)
        if len(have) == 0:  # nothing to take: every label is missing
            shape = list(values.shape)
            shape[axis] = len(wanted)
            values = np.full(shape, np.nan)
            continue
        missing = (where < 0).reshape([-1 if i == axis else 1 for i in range(values.ndim)])
        values = np.where(missing, np.nan, np.take(values, np.maximum(where, 0), axis=axis))
    return values


def _worst_diagnostics(diagnostics: xr.Dataset) -> list[tuple[str, float, float]]:
    """``(block, largest R-hat, smallest ESS_bulk)`` of each reported block (1 and inf when all NaN)."""
    worst = []
    for name in ("horizon", "filtered", "smoothed"):
        if f"{name}_rhat" not in diagnostics:
            continue
        # NumPy rather than xarray reductions: this runs on every read of Forecast.converged.
        rhats = np.asarray(diagnostics[f"{name}_rhat"].values, dtype=float)
        esses = np.asarray(diagnostics[f"{name}_ess_bulk"].values, dtype=float)
        rhat = float(np.nanmax(rhats)) if np.any(~np.isnan(rhats)) else 1.0
        ess = float(np.nanmin(esses)) if np.any(~np.isnan(esses)) else np.inf
        worst.append((name, rhat, ess))
    return worst


def _diagnostic_failures(diagnostics: xr.Dataset) -> list[str]:
    failures = []
    divergences = int(diagnostics.attrs.get("divergences", 0))
    if divergences:
        failures.append(f"{divergences} divergent transitions")
    for name, rhat, ess in _worst_diagnostics(diagnostics):
        if rhat > RHAT_MAX:
            failures.append(f"{name} probabilities: max R-hat {rhat:.3f} > {RHAT_MAX}")
        if ess < ESS_MIN:
            failures.append(f"{name} probabilities: min ESS_bulk {ess:.0f} < {ESS_MIN}")
    return failures


#: Threads that share the reported probabilities' R-hat and ESS (the same numbers as one thread).
DIAGNOSTIC_THREADS = 2
#: Between-chain spread of a horizon probability's chain means that signals chains stuck apart.
CHAIN_SPREAD = 0.05


def convergence_advice(diagnostics: xr.Dataset, horizon: xr.DataArray) -> str:
    """What a failed convergence check means for the reader, and what to do about it.

    Parameters
    ----------
    diagnostics : xarray.Dataset
        A forecast's diagnostics (R-hat, ESS, divergences).
    horizon : xarray.DataArray (chain, draw, scenario)
        The horizon probabilities, whose chain means show whether chains disagree.

    Returns
    -------
    str
        ``""`` when every check passes.
    """
    failures = _diagnostic_failures(diagnostics)
    if not failures:
        return ""
    # Suggest more than the chains already have: a default forecast that failed was already
    # continued up to 32 x 1,000 draws, and fewer draws than that would not help.
    more = max(3000, -(-2 * int(horizon.sizes["draw"]) // 1000) * 1000)
    advice = []
    chain_means = horizon.mean("draw")
    spread = float((chain_means.max("chain") - chain_means.min("chain")).max())
    if spread > CHAIN_SPREAD:
        advice.append(
            f"The chains disagree: their horizon probabilities differ by up to {spread:.2f}. The "
            "reports support more than one reading and the sampler did not move freely between "
            "them, so the means depend on how many chains settled on each. Run again with more "
            f"chains and draws (chains=8, draws={more}; CLI: --chains 8 --draws {more}) and compare "
            "two seeds; if they still differ, quote the range rather than one number, and look for "
            "reports that contradict each other (the influence table)."
        )
    elif any("ESS" in f for f in failures) or any("R-hat" in f for f in failures):
        advice.append(
            "Too few effective draws: the probabilities are about right, but their second "
            f"decimal is Monte Carlo noise. Run again with more draws (draws={more}; CLI: --draws {more})."
        )
    if int(diagnostics.attrs.get("divergences", 0)):
        advice.append(
            "The sampler hit divergent transitions: raise target_accept to 0.95, and check the "
            "model for elicitations that contradict the evidence."
        )
    return "Not converged (" + "; ".join(failures) + "). " + " ".join(advice)


def forecast(
    model: ScenarioModel | str | Path,
    evidence: Evidence | str | Path | pd.DataFrame | None = None,
    as_of: dt.date | str | None = None,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    seed: int | None = None,
    exact: bool | None = None,
    target_accept: float = DEFAULT_TARGET_ACCEPT,
    progress: bool = False,
    previous: Forecast | str | Path | None = None,
    assume: Mapping[str, Mapping[str, int]] | None = None,
) -> Forecast:
    """Forecast the scenarios of a model from its evidence.

    Parameters
    ----------
    model : ScenarioModel or path
        The scenario model (a path is loaded with :func:`~syriaforecast.load_model`).
    evidence : Evidence, path, DataFrame or None
        Coded reports; ``None`` forecasts from the priors alone.
    as_of : date or str, optional
        Information date: only reports published on or before it are used (the
        ``published`` column, which defaults to ``date``). Defaults to the
        latest publication date (the model's start when there are no reports).
    draws, tune : int, optional
        Posterior draws and tuning steps per chain (default 1000 and 300, chosen
        by measurement: see :data:`~syriaforecast.engine.run.DEFAULT_DRAWS`; the
        environment variables ``SYRIAFORECAST_DRAWS`` / ``SYRIAFORECAST_TUNE``
        change the default, e.g. to run notebooks quickly).
    chains : int
        Number of chains (default 4).
    seed : int, optional
        Random seed; one is drawn and recorded when not given, so every
        forecast can be reproduced from its saved attributes.
    exact : bool, optional
        Take the model file as exact (no sampling; fixed Bayes net / HMM).
        Defaults to True exactly when the model's ``elicitation_error`` is 0.
    target_accept : float
        NUTS target acceptance rate (default 0.9,
        :data:`~syriaforecast.engine.run.DEFAULT_TARGET_ACCEPT`).
    progress : bool
        Show the sampler's progress bar.
    previous : Forecast or path, optional
        The last forecast of the same model. When the evidence only adds reports
        to its evidence (or moves the as-of date forward; earlier reports may differ
        where the likelihood does not read them, e.g. a note), its draws are
        reweighted by Pareto-smoothed importance sampling, kept only when Pareto
        k <= 0.7 and the diagnostics pass; otherwise the model is refitted,
        starting from its draws (also when ``draws`` is given and it or ``chains``
        differs from the previous forecast's). ``attrs["update_path"]`` says which
        (``"psis"``, ``"refit"`` or ``"fit"``), with ``update_reason``,
        ``update_pareto_k`` and ``update_ess`` (also in the saved file). So
        ``fc = forecast(model, evidence, previous=fc)`` can run in a loop.
    assume : mapping, optional
        A conditional forecast: driver id -> {period label: 0 or 1}, e.g.
        ``{"ceasefire": {"2026-06": 1}}``. From each assumed period (after the
        as-of date) the driver takes the assumed value instead of its last logged
        one. Recorded in ``attrs["assume"]``.

    Returns
    -------
    Forecast

    Warns
    -----
    ConvergenceWarning
        When a reported probability has R-hat > 1.01 or ESS_bulk < 400, or the
        sampler diverged; the message says which and what to try.
    """
    from syriaforecast._checks import check_sampler_options

    # Before any work: every numeric option in range (OptionError lists all that are not).
    check_sampler_options(draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept)
    model, evidence = _resolve_inputs(model, evidence)
    as_of_date = information_date(model, evidence, as_of)
    evidence = evidence.up_to(as_of_date)
    if exact is None:
        exact = model.elicitation_error == 0
    elif not exact and model.elicitation_error == 0:
        from syriaforecast.errors import OptionError

        raise OptionError(
            f"exact=False with model {model.id!r}: its elicitation_error is 0, so the elicitations are "
            "exact and there is nothing to sample; use exact=True (the default for this model) or give "
            "the model an elicitation_error > 0"
        )
    if seed is None:
        seed = secrets.randbits(31)
    settings = SamplerSettings(
        draws=draws if draws is not None else _env_int("SYRIAFORECAST_DRAWS", DEFAULT_DRAWS),
        tune=tune if tune is not None else _env_int("SYRIAFORECAST_TUNE", DEFAULT_TUNE),
        chains=chains,
        target_accept=target_accept,
        seed=int(seed),
    )
    check_sampler_options(draws=settings.draws, tune=settings.tune)  # defaults from the environment
    # A default forecast that fails the check is extended (longer chains); explicit draws are kept.
    extensions = DEFAULT_EXTENSIONS if draws is None and "SYRIAFORECAST_DRAWS" not in os.environ else 0
    from syriaforecast.conditional import parse_assume

    assumed = parse_assume(model, assume, as_of_date)
    # A machine's first forecast compiles the engine (minutes): say so rather than look hung.
    with announcing_compilation():
        if previous is not None:
            result = update(
                model,
                evidence,
                as_of_date,
                previous,
                exact=exact,
                settings=settings,
                progress=progress,
                extensions=extensions,
                assume=assumed,
            )
        elif exact:
            run = run_engine(
                model, evidence, as_of_date, exact=exact, settings=settings, progress=progress, assume=assumed
            )
            result = _assemble(model, evidence, as_of_date, run, settings)
        else:
            result = _fit(
                model, evidence, as_of_date, settings, progress, extensions=extensions, assume=assumed
            )
    if assume:
        result.attrs["assume"] = json.dumps({d: dict(v) for d, v in assume.items()}, sort_keys=True)
    advice = result.convergence_advice()
    if advice:
        warnings.warn(advice, ConvergenceWarning, stacklevel=2)
    return result


def _assemble(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    run: EngineRun,
    settings: SamplerSettings,
    *,
    reuse_diagnostics: Forecast | None = None,
) -> Forecast:
    """The Forecast of an engine run; its xarray objects and provenance are built on first read.

    Everything they are built from is fixed here (the run's arrays, the settings, the
    creation time), so a field read later holds what it would have held if built now.
    """
    chains, draws = run.chains, run.draws
    S = len(model.scenarios)
    scen = list(model.scenario_ids)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    n = run.n_asof

    def shaped(values: np.ndarray) -> np.ndarray:
        return values.reshape((chains, draws, *values.shape[1:]))

    @functools.cache
    def time_coords() -> xr.Coordinates:
        # Indexes built once for both arrays (2,400 period labels cost about 0.4 ms per index).
        labels = model.period_labels(n_chain_periods(model))
        return xr.Coordinates(coords | {"time": labels[:n], "scenario": scen})

    def by_period(name: str, values: np.ndarray) -> _Later:
        dims = ("chain", "draw", "time", "scenario")
        return _Later(lambda: xr.DataArray(shaped(values[:, :n]), dims=dims, coords=time_coords(), name=name))

    horizon = _Later(
        lambda: xr.DataArray(
            shaped(run.chain.filtered[:, run.horizon_index]),
            dims=("chain", "draw", "scenario"),
            coords=coords | {"scenario": scen},
            name="horizon",
        )
    )
    sample_stats = _Later(
        lambda: xr.Dataset(
            {name: (("chain", "draw"), values) for name, values in run.sample_stats.items()},
            coords=coords,
        )
    )
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sampler = settings.as_attrs()
    timings = {f"time_{k}": float(v) for k, v in run.timings.items()}

    def provenance() -> dict[str, Any]:
        toml = model.to_toml()
        attrs = {
            "format_version": FORMAT_VERSION,
            "model_id": model.id,
            "model_toml": toml,
            "model_sha256": model.sha256,
            "model_content_sha256": hashlib.sha256(toml.encode()).hexdigest(),
            "model_path": str(model.path) if model.path else "",
            "evidence_csv": evidence.to_csv_text(),
            # The rows' line numbers in the user's log, which the stored CSV text renumbers.
            "evidence_lines": json.dumps(evidence._table["line"].astype(int).tolist()),
            "evidence_sha256": evidence.sha256,
            "evidence_source": evidence.source,
            "as_of": as_of.isoformat(),
            "horizon": model.horizon.isoformat(),
            "mode": run.mode,
            "created": created,
            "n_scenarios": S,
        }
        attrs |= {f"sampler_{k}": v for k, v in sampler.items()}
        attrs |= {f"version_{k}": v for k, v in dict(_versions()).items()}
        return attrs | timings

    result = Forecast(
        model,
        evidence,
        as_of,
        run.mode,
        by_period("filtered", run.chain.filtered),
        by_period("smoothed", run.chain.smoothed),
        horizon,
        _Later(lambda: _parameters_dataset(model, run, coords)),
        sample_stats,
        _Later(dict),  # replaced below: the diagnostics read the forecast's own arrays
        _Later(provenance),
        _log_likelihood=run.chain.log_likelihood if run.mode == "hierarchical" else None,
    )
    result.diagnostics = _Later(
        lambda: _diagnostics(run, result.filtered, result.smoothed, result.horizon, reuse=reuse_diagnostics)
    )
    return result


def _parameters_dataset(model: ScenarioModel, run: EngineRun, coords: Mapping[str, Any]) -> xr.Dataset:
    extra = (
        {
            "scenario": list(model.scenario_ids),
            "group": list(model.groups),
            "indicator": list(model.indicator_ids),
            "analyst": list(model.analysts),
            "cluster": [c.id for c in model.clusters],
            "scenario_to": list(model.scenario_ids),
            "driver": list(model.driver_ids),
        }
        | GRADE_COORDS
        | run.parameter_coords
    )
    data = {
        name: (("chain", "draw", *PARAMETER_DIMS[name]), values) for name, values in run.parameters.items()
    }
    used = {d for name in run.parameters for d in PARAMETER_DIMS[name]}
    return xr.Dataset(data, coords=dict(coords) | {k: v for k, v in extra.items() if k in used})


# --------------------------------------------------------------------------- loading
def load_forecast(
    path: str | Path,
    *,
    model: ScenarioModel | str | Path | None = None,
    max_bytes: int | None = None,
) -> Forecast:
    """Reopen a saved forecast, verified; the numbers are identical to the ones saved.

    Parameters
    ----------
    path : str or Path
        A file written by :meth:`Forecast.save`.
    model : ScenarioModel or path, optional
        If given, the saved forecast must have been made with this model
        (same content); otherwise :class:`ForecastFileError` says how they differ.
    max_bytes : int, optional
        Refuse files larger than this (default: ``SYRIAFORECAST_MAX_FORECAST_BYTES``, 1 GiB).

    Raises
    ------
    ForecastFileError
        The file is not a regular readable file within the size cap, not a
        saved forecast, from an unknown format version, or fails a check: its
        checksum, the embedded model or evidence against their sha256, the
        known attributes, or its probabilities (each in [0, 1], each
        distribution summing to 1). The message says what is wrong.

    Warns
    -----
    ForecastFileWarning
        The file predates checksums (format 1): it is loaded after every other
        check, but its draws cannot be verified; save it again to add one.
    """
    from syriaforecast import _forecast_file as ff
    from syriaforecast._files import FileRefusedError, read_bounded

    path = Path(path)
    try:
        raw = read_bounded(path, "forecast", FileRefusedError, max_bytes=max_bytes)
    except FileRefusedError as exc:
        if isinstance(exc.problem.allowed, str) and "No such file" in exc.problem.allowed:
            raise ForecastFileError(f"{path}: no such file") from None
        raise ForecastFileError(str(exc.problem)) from None
    with ff.quiet_h5netcdf_cleanup():
        try:
            with xr.open_datatree(io.BytesIO(raw), engine="h5netcdf") as handle:
                tree = handle.load()
        except Exception as exc:  # h5py/netCDF raise many types on corrupt input
            message = f"not a readable netCDF forecast ({type(exc).__name__}: {exc})"
            del exc
            gc.collect()  # finalise the half-opened file while its echo is silenced
        else:
            message = ""
    if message:
        raise ff.refuse(path, message)
    try:
        return _checked_forecast(path, tree, model)
    except ForecastFileError:
        raise
    except Exception as exc:  # a corruption no named check caught still ends as ForecastFileError
        raise ff.refuse(path, f"corrupt saved forecast ({type(exc).__name__}: {exc})") from None


def _with_stored_lines(evidence: Evidence, stored: object) -> Evidence:
    """``evidence`` numbered with the line numbers its rows had in the user's log, when stored.

    The stored CSV text numbers its rows afresh (from 1, read as a table); reports named by
    line (contributions by report, append conflicts) must name the user's lines after a load
    as before it. Files saved before the attribute existed keep the table's numbering.
    """
    try:
        lines = json.loads(stored) if isinstance(stored, str) else None
    except ValueError:
        lines = None
    table = evidence._table
    if not (isinstance(lines, list) and len(lines) == len(table) and all(type(n) is int for n in lines)):
        return evidence
    table = table.copy()
    table["line"] = np.asarray(lines, dtype=table["line"].dtype)
    return dataclasses.replace(evidence, _table=table, _derived={})


def _checked_forecast(path: Path, tree: xr.DataTree, model: ScenarioModel | str | Path | None) -> Forecast:
    from syriaforecast import _forecast_file as ff
    from syriaforecast.engine.run import asof_periods
    from syriaforecast.errors import ForecastFileWarning

    attrs = {str(k): v for k, v in tree.attrs.items()}
    required = {
        "format_version",
        "model_toml",
        "evidence_csv",
        "evidence_sha256",
        "as_of",
        "mode",
        "model_content_sha256",
    }
    missing = sorted(required - set(attrs))
    if missing:
        raise ff.refuse(path, f"not a syriaforecast forecast (missing attributes {', '.join(missing)})")
    saved_version = ff._int(attrs["format_version"])
    if saved_version is None or saved_version < 1:
        raise ff.refuse(
            path, f"attribute format_version = {attrs['format_version']!r}: expected 1..{FORMAT_VERSION}"
        )
    if saved_version > FORMAT_VERSION:
        raise ff.refuse(
            path,
            f"saved with forecast format {saved_version}, newer than this library reads "
            f"({FORMAT_VERSION}); upgrade syriaforecast "
            f"(saved by version {attrs.get('version_syriaforecast')})",
        )
    if saved_version >= 2:
        stored = attrs.get(ff.CHECKSUM_ATTR)
        if not isinstance(stored, str):
            raise ff.refuse(
                path, f"format {saved_version} but no {ff.CHECKSUM_ATTR} attribute (file altered?)"
            )
        actual = ff.content_checksum(tree)
        if actual != stored:
            raise ff.refuse(
                path,
                f"content does not match its checksum ({ff.CHECKSUM_ATTR} {stored[:12]}..., "
                f"contents hash to {actual[:12]}...): the file was altered or damaged after saving",
            )
    toml, csv_text = attrs["model_toml"], attrs["evidence_csv"]
    if not isinstance(toml, str) or not isinstance(csv_text, str):
        raise ff.refuse(path, "attributes model_toml and evidence_csv must be text")
    if hashlib.sha256(toml.encode("utf-8", "surrogatepass")).hexdigest() != attrs["model_content_sha256"]:
        raise ff.refuse(path, "the stored model does not match its recorded sha256 (file altered?)")
    try:
        saved_model = parse_model(toml, source=f"{path} (stored model)")
        evidence = load_evidence(
            pd.read_csv(_text_io(csv_text), dtype=str, keep_default_na=False), saved_model
        )
    except (SyriaforecastError, pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        # pandas' own errors: stored evidence text that is not CSV at all (e.g. emptied).
        raise ff.refuse(path, f"stored model or evidence is invalid: {exc}") from None
    evidence = _with_stored_lines(evidence, attrs.get("evidence_lines"))
    # Evidence read from a table carries the digest of its rows, driver rows included.
    if evidence.sha256 != attrs["evidence_sha256"]:
        raise ff.refuse(
            path,
            f"the stored evidence ({evidence.n_reports} reports) does not match its recorded evidence_sha256 "
            f"{str(attrs['evidence_sha256'])[:12]}... (reports added, removed or edited?)",
        )
    if model is not None:
        given = model if isinstance(model, ScenarioModel) else load_model(model)
        if given.to_toml() != toml:
            raise ff.refuse(
                path,
                f"saved with a different model than {given.path or given.id!r} "
                f"(saved model sha256 {str(attrs.get('model_sha256', ''))[:12]}, given {given.sha256[:12]})",
            )
    for group in ("filtered", "smoothed", "horizon", "posterior", "sample_stats", "diagnostics"):
        if group not in tree.children:
            raise ff.refuse(path, f"missing group {group!r}")
    problems = ff.attr_problems(attrs, saved_model, None)
    as_of = dt.date.fromisoformat(str(attrs["as_of"])) if not problems else None
    arrays: dict[str, xr.DataArray] = {}
    for name in ff.PROBABILITY_GROUPS:
        data = tree[name].to_dataset()
        if "probability" not in data:
            problems.append(f"group {name!r} has no variable 'probability'")
            continue
        arrays[name] = data["probability"].rename(name)
        problems += ff.probability_problems(name, arrays[name], list(saved_model.scenario_ids))
    if as_of is not None and not problems:
        n = asof_periods(saved_model, as_of)
        labels = saved_model.period_labels(n_chain_periods(saved_model))[:n]
        for name in ("filtered", "smoothed"):
            got = [str(t) for t in arrays[name]["time"].values]
            if got != labels:
                problems.append(f"{name}: periods {got[:3]}... ({len(got)}), expected {n} periods to {as_of}")
        shapes = {name: (a.sizes["chain"], a.sizes["draw"]) for name, a in arrays.items()}
        if len(set(shapes.values())) != 1:
            problems.append(f"chains and draws differ between groups: {shapes}")
        if attrs["mode"] == "exact" and shapes["horizon"] != (1, 1):
            problems.append(f"mode exact has one draw, found chains x draws {shapes['horizon']}")
    if problems:
        raise ff.refuse(path, "saved forecast fails its checks:\n  - " + "\n  - ".join(problems))
    if saved_version < 2:
        warnings.warn(
            f"{path}: saved in forecast format {saved_version}, before checksums: the probabilities, "
            "model and evidence were checked, but the draws cannot be verified; save it again "
            "(load_forecast(path).save(path)) to add a checksum",
            ForecastFileWarning,
            stacklevel=3,
        )

    def dataset(name: str) -> xr.Dataset:
        return tree[name].to_dataset()

    assert as_of is not None
    shape = (arrays["horizon"].sizes["chain"], arrays["horizon"].sizes["draw"])
    return Forecast(
        model=saved_model,
        evidence=evidence,
        as_of=as_of,
        mode=str(attrs["mode"]),
        filtered=arrays["filtered"],
        smoothed=arrays["smoothed"],
        horizon=arrays["horizon"],
        posterior=dataset("posterior"),
        sample_stats=dataset("sample_stats"),
        diagnostics=dataset("diagnostics"),
        attrs=attrs,
        _log_likelihood=_saved_log_likelihood(tree, str(attrs["mode"]), shape),
    )


def _saved_log_likelihood(tree: xr.DataTree, mode: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The saved draws' log-likelihoods (chains x draws), or None to recompute them.

    Used only as the code that computed them would compute them now: same
    likelihood sources (:data:`LOG_LIKELIHOOD_DIGEST`), one finite-or-minus-infinity
    float per draw. Anything else (an older file, another version of the library, an
    odd shape) is not an error: an update recomputes them, as before they were saved.
    """
    from syriaforecast.engine.source_key import likelihood_sources_digest

    if mode != "hierarchical" or "log_likelihood" not in tree.children:
        return None
    group = tree["log_likelihood"].to_dataset()
    if group.attrs.get(LOG_LIKELIHOOD_DIGEST) != likelihood_sources_digest() or "evidence" not in group:
        return None
    values = group["evidence"]
    if values.dims != ("chain", "draw") or values.shape != shape or values.dtype.kind != "f":
        return None
    flat = np.asarray(values.values, dtype=float).reshape(-1)
    return None if np.isnan(flat).any() or np.isposinf(flat).any() else flat


def _text_io(text: str) -> Any:
    return io.StringIO(text)


def forecast_parameters(result: Forecast, *, max_draws: int | None = None) -> dict[str, np.ndarray]:
    """The forecast's parameter draws, flattened to a leading draw axis.

    Parameters fixed by the model (persistence of 1, a single scenario's
    initial probability) are filled in from the model file; the analysts'
    parameters are included when the posterior has them. ``max_draws``
    thins evenly-spaced draws for expensive what-if analyses.
    """
    n_draws = result.horizon.sizes["chain"] * result.horizon.sizes["draw"]
    return posterior_parameters(result.model, result.posterior, n_draws, max_draws=max_draws)


# --- Updating from the previous forecast (previous=) ---
# Updating a forecast from the previous one: ``forecast(model, evidence, previous=fc)``.
#
# When the new evidence only adds reports to the previous forecast's (or moves the
# as-of date forward), the posterior changes only through the added reports'
# likelihood, so the previous draws are reweighted to it by Pareto-smoothed
# importance sampling (:mod:`syriaforecast.engine.psis`). The reweighting is kept
# only when it can be trusted: Pareto ``k <= 0.7``, the previous fit passed its
# convergence check, and every reported probability keeps an effective sample
# size of at least 400 after weighting. A source that reaches two graded reports
# only now gets offsets drawn from its prior (:func:`_with_prior_sources`), which
# the weights then judge with the rest. Otherwise the model is refitted, with the
# chains started from the previous draws and the step size adaptation from the
# previous fit's step size, so a shorter tuning phase suffices.
#
# Earlier reports edited only where the likelihood does not read them (a note, a date
# moved within its period) count as unchanged: the evidence arranges into the same
# cells and readings (:func:`~syriaforecast.engine.data.reads_the_same`), so every draw
# keeps its likelihood. Any other edit or removal refits rather than reweights: a removed
# report can revive a reading of the evidence the previous draws never visited, and
# importance weights (Pareto k included) cannot see what no draw reached.
#
# The path taken is recorded in the forecast's attributes (and so in the saved
# file): ``update_path`` is ``"psis"`` (previous draws reweighted),
# ``"refit"`` (sampled again, warm-started) or ``"fit"`` (sampled from scratch:
# nothing could be reused), with ``update_reason`` in words, ``update_pareto_k``
# (for a refit: the ``k`` that ruled the reweighting out; NaN when none was
# computed) and ``update_ess`` (the weights' effective sample size).
#
# A reweighted forecast's draws are the previous draws resampled in proportion to
# their weights (systematic resampling), so every downstream computation (means,
# intervals, what-ifs) reads it as any other forecast. Its diagnostics are those
# of the previous draws under the new evidence (R-hat across the previous
# chains), with every ESS scaled by the weights' efficiency ``ESS_IS / D``.

#: The ways a forecast with ``previous=`` can be made (recorded as ``update_path``).
UPDATE_PATHS = ("psis", "refit", "fit")
#: Tuning steps of a refit started from the previous posterior (at most the requested tuning).
#: Measured on the bundled model (tools/sampler_candidates.py --warm-refit 0-2, defaults
#: otherwise, load average 3-4): 100 steps passed the check on 3 of 3 seeds with no
#: extension at 4.7 CPU s median (smallest ESS_bulk 993), 200 steps at 5.1 CPU s (1043).
#: The chains start in the posterior at the previous step size, so tuning only re-learns
#: the mass matrix (nutpie takes none to start from); the draws are most of the cost.
WARM_TUNE = 100
#: Draws per chain of a default warm refit (one whose draws the user did not set, so it is
#: continued while the check fails): as many as a default fit's. The chains start in the
#: posterior, so no draw is spent reaching it, but fewer draws fail the check on R-hat or
#: ESS too often to save time. The earlier record (tools/sampler_candidates.py, a refit of
#: unchanged evidence) had 600 draws pass 6 of 6 on seeds 0-5. On the two refits that
#: ``benchmarks/speed.py`` times (one more month that PSIS refused, and an edited old report;
#: ``tools/warm_refit_draws.py 600,800,1000 1,11,...,81``, no continuation, one refit at a time
#: on the 2-core machine, at times beside a test run, 2026-12-02): 600 draws passed 9 of 18 (R-hat up
#: to 1.022, ESS_bulk down to 281; wall 1.7-3.0 s), 800 draws 8 of 12, 1,000 draws 18 of 18
#: (largest R-hat 1.0097, smallest ESS_bulk 502; wall 2.4-4.0 s, median 3.1 s, CPU median
#: 5.5 s). A failing 600-draw refit is continued by 1,000 draws after 100 tuning steps (about
#: 5 s in all), so the short first round cost more in the median than it saved. On the
#: synthetic worlds at 30% reporting, warm updates passed 99 of 100 at 1,000 as at 600
#: (engine.run.DEFAULT_EXTENSIONS has the record), and at 60% worlds 0-29 passed 30 of 30.
WARM_DRAWS = 1000


def _record(result: Forecast, path: str, reason: str, k: float = np.nan, ess: float = np.nan) -> Forecast:
    result.attrs |= {
        "update_path": path,
        "update_reason": reason,
        "update_pareto_k": float(k),
        "update_ess": float(ess),
    }
    return result


def _fit(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    settings: SamplerSettings,
    progress: bool,
    *,
    extensions: int = 0,
    extension_draws: int | None = None,
    **warm: Any,
) -> Forecast:
    """Sample; while the check fails, continue every chain (at most ``extensions`` times).

    Longer chains are the remedy for chains that move slowly between two readings of the
    evidence: the check itself is unchanged, and is applied to all the draws. Each
    continuation draws ``extension_draws`` per chain (default: ``settings.draws``).
    """
    run = run_engine(model, evidence, as_of, exact=False, settings=settings, progress=progress, **warm)
    result = _assemble(model, evidence, as_of, run, settings)
    done = 0
    more = settings if extension_draws is None else dataclasses.replace(settings, draws=extension_draws)
    affordable, bound = _affordable_extensions(run, len(evidence.up_to(as_of)), settings, more)
    allowed = min(extensions, affordable)
    cap_draws = settings.draws + allowed * more.draws
    stopped = ""
    while done < allowed and _diagnostic_failures(result.diagnostics):
        if int(result.diagnostics.attrs.get("divergences", 0)):
            stopped = "divergences"  # counted over every draw: no continuation removes them
            break
        projected = _projected_draws(result.diagnostics, result.horizon.sizes["draw"])
        if done >= TREND_FROM and projected > TREND_SLACK * cap_draws:
            stopped = "trend"
            result.attrs["sampler_projected_draws"] = float(projected)
            result.attrs["sampler_draws_cap"] = int(cap_draws)
            break
        done += 1
        seed = ((settings.seed or 0) + 7919 * done) % 2**31
        run = extend_run(model, evidence, as_of, run, more, seed=seed, assume=warm.get("assume"))
        result = _assemble(model, evidence, as_of, run, settings)
    result.attrs["sampler_extensions"] = done
    if stopped:
        result.attrs["sampler_extensions_stopped"] = stopped
    elif done == affordable < extensions and _diagnostic_failures(result.diagnostics):
        # Memory or the work cap, not DEFAULT_EXTENSIONS, ended the remedy: the advice says which.
        result.attrs["sampler_extensions_stopped"] = bound
    return result


def _projected_draws(diagnostics: xr.Dataset, draws: int) -> float:
    """Draws per chain at which the check would pass, if R-hat - 1 and 1 / ESS fall as 1 / draws.

    ``draws * max((R-hat - 1) / (RHAT_MAX - 1), ESS_MIN / ESS_bulk, 1)`` over every reported
    probability, from the largest R-hat and the smallest ESS_bulk; ``inf`` with a divergent
    transition, which no number of draws removes from the check. A rough guide (one
    round's R-hat is noisy): :func:`_fit` uses it only to stop chains far from passing.
    """
    if int(diagnostics.attrs.get("divergences", 0)):
        return np.inf
    factor = 1.0
    for _, rhat, ess in _worst_diagnostics(diagnostics):
        factor = max(factor, (rhat - 1.0) / (RHAT_MAX - 1.0), ESS_MIN / max(ess, 1e-12))
    return float(draws * factor)


#: Memory the chain posteriors of a continued fit may take (bytes): extensions stop before
#: the filtered and smoothed probabilities of every draw (2 x draws x periods x scenarios
#: doubles) would exceed it. At DEFAULT_EXTENSIONS, 32 x 4,000 draws of the bundled model
#: (37 periods, 4 scenarios) take 303 MB; of a 1,000-period, 3-scenario model, 6.1 GB.
EXTENSION_MEMORY = 2**31


def _affordable_extensions(
    run: EngineRun, n_reports: int, first: SamplerSettings, more: SamplerSettings
) -> tuple[int, str]:
    """How many continuations of ``run`` are allowed, and what bounds them (``"memory"``/``"work"``).

    ``first`` are the settings ``run`` was sampled with, ``more`` those of each continuation
    (:func:`~syriaforecast.engine.run.extend_run`: ``more.draws`` per chain after
    ``min(more.tune, EXTENSION_TUNE)`` tuning steps). The chain posteriors must stay within
    :data:`EXTENSION_MEMORY`, and the sampling work in all (report-iterations, as
    :func:`~syriaforecast._checks.check_sampling_work` counts them before the first round)
    within the cap that check applies, so continuing never costs more than the user agreed to.
    """
    first_bytes = 2 * run.chain.filtered.nbytes  # filtered and smoothed, the first round's draws
    each_bytes = first_bytes * more.draws // max(first.draws, 1)
    by_memory = max(0, (EXTENSION_MEMORY - first_bytes) // max(each_bytes, 1))
    n_reports += run.coupled_work  # linked reports cost their patterns (EngineData.coupled_work)
    first_work = n_reports * first.chains * (first.tune + first.draws)
    each_work = n_reports * more.chains * (min(more.tune, EXTENSION_TUNE) + more.draws)
    by_work = max(0, (sampling_work_cap() - first_work) // max(each_work, 1))
    return (by_memory, "memory") if by_memory <= by_work else (by_work, "work")


def _not_reusable(previous: Forecast, model: ScenarioModel) -> str | None:
    """Why the previous forecast's draws cannot even start the chains (None: they can)."""
    if previous.mode != "hierarchical":
        return f"the previous forecast is in {previous.mode} mode (no posterior draws to reuse)"
    if previous.model is not model and previous.model.to_toml() != model.to_toml():
        return "the model differs from the previous forecast's"
    return None


def _not_extension(
    previous: Forecast, evidence: Evidence, as_of: dt.date, model: ScenarioModel
) -> tuple[str | None, str]:
    """Why the new information is not the previous one plus reports (None: it is), and a note.

    Earlier reports edited only where the likelihood does not read them (a note, a
    date moved within its period) leave every draw's likelihood as it was
    (:func:`~syriaforecast.engine.data.reads_the_same`), so they count as unchanged;
    the note then names the columns that changed. Any other change to the reports
    up to the previous as-of date refits: importance weights could not be trusted
    there (a removed report can revive a reading of the evidence that the previous
    draws never visited, which no Pareto k would show).
    """
    if as_of < previous.as_of:
        return f"the as-of date {as_of} is before the previous forecast's ({previous.as_of})", ""
    before = evidence.up_to(previous.as_of)
    earlier = previous.evidence.up_to(previous.as_of)
    if before.to_csv_text() == earlier.to_csv_text():
        return None, ""
    added = _rows_added(earlier, before)
    if added:
        # Reports the previous forecast did not have, about its own periods (coded late, or a
        # same-day report): the posterior still changes only through their likelihood, which
        # the weights carry whatever the reports' dates; every earlier report is as it was.
        return None, (
            f"{added} report{'s' * (added != 1)} added dated on or before the previous as-of date "
            f"({previous.as_of}), earlier reports unchanged"
        )
    if added == 0:
        # The same reports in another order: the likelihood is a product over them, so it is
        # the same but for rounding, which the weights carry.
        return None, "earlier reports unchanged but for the rows' order"
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    # The new data built last: build_engine_data keeps its last result, which _reweighted asks
    # for again when the as-of date has not moved.
    then, now = (build_engine_data(model, arrays, e, n_periods) for e in (earlier, before))
    if reads_the_same(now, then):
        columns = _changed_columns(earlier, before)
        return None, f"earlier reports changed only where the likelihood does not read them ({columns})"
    return (
        f"the reports dated on or before the previous as-of date ({previous.as_of}) "
        "differ from the previous forecast's (changed or removed reports)"
    ), ""


def _rows_added(old: Evidence, new: Evidence) -> int | None:
    """How many rows ``new`` adds to ``old`` when it holds every row of ``old`` unchanged, else None.

    Rows compare by every column but ``line`` (a row's number in its file), as many times
    as they occur, in any order: 0 means the same rows, perhaps reordered.
    """
    a, b = old._table, new._table  # driver rows included
    if len(b) < len(a) or set(a.columns) != set(b.columns):
        return None

    def rows(table: pd.DataFrame) -> collections.Counter[tuple[str, ...]]:
        columns = sorted(c for c in table.columns if c != "line")
        return collections.Counter(map(tuple, table[columns].astype(str).to_numpy().tolist()))

    return len(b) - len(a) if rows(a) <= rows(b) else None


def _changed_columns(old: Evidence, new: Evidence) -> str:
    """The evidence columns whose values differ between two logs of the same rows, in words."""
    a, b = old._table, new._table  # driver rows included
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return "rows rearranged"
    names = [str(c) for c in a.columns if c not in ("line", "driver") and not a[c].equals(b[c])]
    return ", ".join(names) if names else "their order or spelling"


def _new_sources(previous: Forecast, names: tuple[str, ...]) -> list[str]:
    """Sources of the new evidence the previous posterior has no reliability for."""
    if not names:
        return []
    known = (
        set(str(v) for v in previous.posterior.coords["source"].values)
        if ("source" in previous.posterior.coords)
        else set()
    )
    return [name for name in names if name not in known]


#: Threads that evaluate the previous draws under the new evidence (the compiled kernels release the GIL).
REWEIGHT_THREADS = 2


def _chain_for_draws(
    model: ScenarioModel, data: EngineData, params: Mapping[str, np.ndarray], arrays: ModelArrays
) -> ChainPosterior:
    """Each draw's chain posterior under ``data``, draw for draw what one call of the kernels gives.

    A run of identical draws (a reweighted forecast's draws: resampling keeps a draw
    once per share of its weight, side by side) is evaluated once, and the distinct
    draws are split between :data:`REWEIGHT_THREADS` threads: every draw's terms
    and forward-backward pass are computed on their own, so neither changes a number.
    """
    D = len(params["initial_probability"])
    flat = np.concatenate(
        [np.asarray(v, dtype=float).reshape(D, -1) for k, v in params.items() if k != SOURCE_LABELS], axis=1
    )
    repeat = np.zeros(D, dtype=bool)
    repeat[1:] = np.all(flat[1:] == flat[:-1], axis=1)
    first = np.flatnonzero(~repeat)
    inverse = np.cumsum(~repeat) - 1

    def evaluate(index: np.ndarray) -> ChainPosterior:
        subset = {k: v if k == SOURCE_LABELS else np.asarray(v)[index] for k, v in params.items()}
        return chain_posterior(chain_terms_for_draws(model, data, subset, arrays=arrays))

    threads = max(1, min(REWEIGHT_THREADS, first.size // 500))
    if threads == 1:
        parts = [evaluate(first)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(evaluate, np.array_split(first, threads)))
    fields = ("filtered", "smoothed", "log_likelihood")
    return ChainPosterior(*(np.concatenate([getattr(p, name) for p in parts])[inverse] for name in fields))


def _with_prior_sources(
    params: Mapping[str, np.ndarray], unseen: list[str], D: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """The draws extended by offsets of sources the previous posterior has none for, drawn from the prior.

    A source that reached two graded reports only with the new evidence adds a
    dimension: ``offset = spread * z`` with ``z ~ StudentT(SOURCE_TAIL_DOF)`` (and
    ``spread ~ HalfNormal(SOURCE_SPREAD_SCALE)`` when no source had one before).
    The previous evidence does not depend on them, so drawing them from their
    prior given the other parameters makes the proposal ``p(theta | E_old) p(new | theta)``
    and the importance ratio stays ``p(E_new | theta, new) / p(E_old | theta)``; the
    Pareto ``k`` says whether the prior covers where the new reports put them.
    """
    from syriaforecast.engine.data import SOURCE_SPREAD_SCALE, SOURCE_TAIL_DOF

    out = dict(params)
    if "source_spread" in params:
        spread = np.asarray(params["source_spread"], dtype=float).reshape(D)
    else:
        spread = np.abs(rng.normal(0.0, SOURCE_SPREAD_SCALE, D))
        out["source_spread"] = spread
    offset = np.asarray(params.get("source_offset", np.zeros((D, 0))), dtype=float).reshape(D, -1)
    z = rng.standard_t(SOURCE_TAIL_DOF, size=(D, len(unseen)))
    out["source_offset"] = np.concatenate([offset, spread[:, None] * z], axis=1)
    known = [str(v) for v in np.asarray(params.get(SOURCE_LABELS, [])).tolist()]
    out[SOURCE_LABELS] = np.array(known + list(unseen))
    return out


def _resampled(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    chains, draws = values.shape[:2]
    flat = values.reshape((chains * draws, *values.shape[2:]))
    return flat[index].reshape(values.shape)


def _reweighted(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    previous: Forecast,
    settings: SamplerSettings,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> tuple[Forecast | None, str, float, float]:
    """The previous draws reweighted to the new evidence, or None with the reason it was refused."""
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    params = forecast_parameters(previous)
    chains, draws = int(previous.horizon.sizes["chain"]), int(previous.horizon.sizes["draw"])
    D = chains * draws
    new = build_engine_data(model, arrays, evidence.up_to(as_of), n_periods, assume)
    # The previous fit's own log-likelihoods, when they are those of its evidence alone (no
    # assumptions of its own): the same numbers a recomputation would give.
    log_old = previous._log_likelihood if "assume" not in previous.attrs else None
    if log_old is None or log_old.shape != (D,):
        old = build_engine_data(model, arrays, previous.evidence.up_to(previous.as_of), n_periods)
        log_old = _chain_for_draws(model, old, params, arrays).log_likelihood
    rng = np.random.default_rng(settings.seed)
    unseen = _new_sources(previous, new.source_names)
    if unseen:
        params = _with_prior_sources(params, unseen, D, rng)
    chain = _chain_for_draws(model, new, params, arrays)
    log_ratio = chain.log_likelihood - log_old

    run = EngineRun(
        "hierarchical",
        asof_periods(model, as_of),
        n_periods - 1,
        chain,
        chains,
        draws,
        parameters={
            name: np.asarray(previous.posterior[name])
            for name in (
                PARAMETER_NAMES
                + ANALYST_PARAMETER_NAMES
                + CLUSTER_PARAMETER_NAMES
                + SOURCE_PARAMETER_NAMES
                + TRANSITION_PARAMETER_NAMES
            )
            if name in previous.posterior
        },
        parameter_coords=(
            {"source": [str(v) for v in np.asarray(params[SOURCE_LABELS]).tolist()]}
            if SOURCE_LABELS in params
            else {}
        ),
        sample_stats={str(name): np.asarray(previous.sample_stats[name]) for name in previous.sample_stats},
    )
    for source_name in SOURCE_PARAMETER_NAMES if unseen else ():
        values = np.asarray(params[source_name])
        run.parameters[source_name] = values.reshape((chains, draws, *values.shape[1:]))
    # The previous forecast's diagnostics are of its own draws when it carries its log-likelihoods
    # (fitted in this process, or saved by the same likelihood and diagnostics code, see
    # _saved_log_likelihood) and was not reweighted (a reweighted one's ESS are scaled): its
    # filtered probabilities before the new reports are unchanged, and so are their R-hat and ESS.
    own_diagnostics = previous._log_likelihood is not None and previous.attrs.get("update_path") != "psis"
    unweighted = _assemble(
        model, evidence, as_of, run, settings, reuse_diagnostics=previous if own_diagnostics else None
    )
    if not np.all(np.isfinite(log_ratio)):
        return None, "the new reports are impossible under some previous draws", np.inf, np.nan
    if np.ptp(log_ratio) == 0.0:
        # Nothing new to weigh: the posterior over parameters is the previous one.
        # (Reports may have come: copies of face-value readings, or reordered rows, weigh nothing.)
        reason = (
            "nothing new to weigh (every draw's likelihood moved alike): its draws are reused as they are"
        )
        return unweighted, reason, np.nan, float(D)
    r_eff = relative_efficiency(log_ratio, chains, draws)
    weights, k = psis_weights(log_ratio, r_eff=r_eff)
    if weights is None:
        return None, "the importance ratios could not be Pareto-smoothed", k, np.nan
    ess = kish_ess(weights, r_eff=r_eff)
    if k > K_THRESHOLD:
        return None, f"Pareto k {k:.2f} > {K_THRESHOLD}: the new reports move the posterior too far", k, ess
    efficiency = min(1.0, ess / D)
    diagnostics = unweighted.diagnostics.copy()
    for name in list(diagnostics.data_vars):
        if "_ess_" in str(name):
            diagnostics[name] = diagnostics[name] * efficiency
    index = systematic_resample(weights, D, rng)

    def resample(array: xr.DataArray) -> xr.DataArray:
        return array.copy(data=_resampled(np.asarray(array.values), index))

    result = dataclasses.replace(
        unweighted,
        filtered=resample(unweighted.filtered),
        smoothed=resample(unweighted.smoothed),
        horizon=resample(unweighted.horizon),
        posterior=unweighted.posterior.map(resample),
        sample_stats=unweighted.sample_stats.map(resample),
        diagnostics=diagnostics,
        attrs=dict(unweighted.attrs),
        _log_likelihood=chain.log_likelihood[index],
    )
    failures = _diagnostic_failures(diagnostics)
    if failures:
        return None, f"after reweighting (Pareto k {k:.2f}): " + "; ".join(failures), k, ess
    reason = f"previous draws reweighted by PSIS (Pareto k {k:.2f} <= {K_THRESHOLD})"
    if unseen:
        reason += f"; {len(unseen)} new source{'s' * (len(unseen) > 1)} with offsets drawn from the prior"
    return result, reason, k, ess


def _previous_settings(previous: Forecast, seed: int | None) -> SamplerSettings:
    attrs = previous.attrs
    return SamplerSettings(
        draws=int(attrs.get("sampler_draws", previous.horizon.sizes["draw"])),
        tune=int(attrs.get("sampler_tune", 0)),
        chains=int(attrs.get("sampler_chains", previous.horizon.sizes["chain"])),
        target_accept=float(attrs.get("sampler_target_accept", 0.8)),
        seed=seed,
        adaptation=str(attrs.get("sampler_adaptation", "diag")),
    )


def update(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    previous: Forecast | str | Path,
    *,
    exact: bool,
    settings: SamplerSettings,
    progress: bool = False,
    extensions: int = 0,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> Forecast:
    """A forecast that reuses ``previous`` where that is sound (see the module docstring).

    Parameters
    ----------
    model, evidence, as_of
        What to forecast (``evidence`` already cut at ``as_of``).
    previous : Forecast or path
        The last forecast of the same model (a path is loaded with
        :func:`~syriaforecast.load_forecast`).
    exact : bool
        Exact mode: nothing is sampled, so nothing is reused.
    settings : SamplerSettings
        Settings of a fit; a warm refit tunes for at most :data:`WARM_TUNE` steps.
    progress : bool
        Show the sampler's progress bar.
    extensions : int
        How many times a fit that fails the convergence check is continued.
    assume : mapping, optional
        Parsed driver assumptions (driver id -> {period index: 0 or 1}). They
        change only moves after the as-of date, where no evidence lies, so they
        leave the importance weights alone and reach only the new chain terms.

    Returns
    -------
    Forecast
        With ``update_path``, ``update_reason``, ``update_pareto_k`` and
        ``update_ess`` in its attributes.
    """
    if not isinstance(previous, Forecast):
        if not isinstance(previous, str | Path):
            raise SyriaforecastError(
                f"previous: got {type(previous).__name__}; expected a Forecast or the path of a saved one"
            )
        previous = load_forecast(previous)
    start = time.perf_counter()
    if exact:
        run = run_engine(model, evidence, as_of, exact=True, settings=settings, assume=assume)
        result = _assemble(model, evidence, as_of, run, settings)
        return _record(result, "fit", "exact mode samples nothing, so there is nothing to reuse")
    why_not = _not_reusable(previous, model)
    if why_not is not None:
        return _record(
            _fit(model, evidence, as_of, settings, progress, extensions=extensions, assume=assume),
            "fit",
            why_not,
        )

    k, ess = np.nan, np.nan
    why_not, edited = _not_extension(previous, evidence, as_of, model)
    if why_not is None and not extensions:
        # Draws set by the caller (not the defaults, which may be extended): reweighting keeps the
        # previous forecast's chains and draws, so asking for others means sampling them.
        chains, draws = previous.posterior.sizes.get("chain", 1), previous.posterior.sizes.get("draw", 1)
        if (settings.chains, settings.draws) != (chains, draws):
            why_not = (
                f"{settings.chains} chains x {settings.draws} draws were asked for and the previous "
                f"forecast has {chains} x {draws}, which reweighting would keep"
            )
    if why_not is None:
        reweighted, reason, k, ess = _reweighted(
            model, evidence, as_of, previous, _previous_settings(previous, settings.seed), assume
        )
        if reweighted is not None:
            reweighted.attrs["time_reweight"] = time.perf_counter() - start
            return _record(reweighted, "psis", f"{reason}; {edited}" if edited else reason, k, ess)
        why_not = reason

    result = warm_refit(
        model, evidence, as_of, previous, settings, progress=progress, extensions=extensions, assume=assume
    )
    return _record(result, "refit", f"refitted from the previous draws: {why_not}", k, ess)


def warm_refit(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    previous: Forecast,
    settings: SamplerSettings,
    *,
    progress: bool = False,
    extensions: int = 0,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> Forecast:
    """A fit whose chains start at the previous posterior's draws, with short tuning.

    The chains start at the previous draws (:func:`~syriaforecast.engine.sampler.pack_draws`;
    a new source at its prior centre), in coordinates whitened by those draws, each
    coordinate within half a standard deviation of their mean moved out to it
    (:class:`~syriaforecast.engine.whitening.Whitening`); step size adaptation starts at
    the previous fit's last step size and stays within
    :data:`~syriaforecast.engine.run.WARM_STEP_GROWTH` of it; tuning is at most
    :data:`WARM_TUNE` steps. The mass matrix is adapted afresh:
    nutpie (0.16) takes no initial mass matrix. A default refit (``extensions`` > 0: the
    user did not set the draws) draws at most :data:`WARM_DRAWS` per chain and, like a
    default fit, is continued up to ``extensions`` times while it fails the check, each
    time for ``settings.draws`` more draws per chain (a default fit's).
    """
    params = forecast_parameters(previous)
    arrays = build_model_arrays(model)
    sources = build_engine_data(model, arrays, evidence.up_to(as_of), n_chain_periods(model)).source_names
    points = pack_draws(arrays, params, sources)
    # Sampled in coordinates whitened by the previous draws, each start moved off the centre
    # (Whitening): nutpie's first mass matrix is then nearer right, and fewer chains' tuning collapses.
    whitening = Whitening.of(points)
    init_points = whitening.to_model(whitening.starts(points))
    step = previous.sample_stats.get("step_size")
    initial_step = float(np.median(np.asarray(step)[:, -1])) if step is not None else None
    draws = min(settings.draws, WARM_DRAWS) if extensions else settings.draws
    warm = dataclasses.replace(settings, draws=draws, tune=min(settings.tune, WARM_TUNE))
    return _fit(
        model,
        evidence,
        as_of,
        warm,
        progress,
        extensions=extensions,
        # Continued by the fit's draws, not the refit's few: a hard posterior gets as many
        # draws in all as a default fit would (WARM_DRAWS + 31 x 1,000), at less tuning per draw.
        extension_draws=settings.draws,
        init_points=init_points,
        initial_step=initial_step,
        assume=assume,
        whitening=whitening,
    )
