"""The Forecast: a self-describing result, and :func:`forecast`, which makes one.

A Forecast carries, per posterior draw, the as-of (``filtered``), hindsight
(``smoothed``) and ``horizon`` scenario probabilities, the parameters they came
from, convergence diagnostics, and the provenance needed to audit it later: the
model file and evidence themselves with their sha256, the as-of date, seed,
sampler settings and library versions. It saves to netCDF and reloads to the
last bit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from syriaforecast._io import atomic_path
from syriaforecast.engine.evaluate import posterior_parameters
from syriaforecast.engine.names import GRADE_COORDS, PARAMETER_DIMS
from syriaforecast.engine.run import EngineRun, SamplerSettings, n_chain_periods, run_engine
from syriaforecast.errors import ConvergenceWarning, ForecastFileError, SyriaforecastError
from syriaforecast.phrases import band_of, phrase_for
from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel, load_model, parse_model

__all__ = ["FORMAT_VERSION", "Forecast", "forecast", "forecast_parameters", "load_forecast"]

#: Version of the saved-forecast layout; bumped when a saved file's meaning changes.
FORMAT_VERSION = 1
#: Thresholds a reported probability must meet (Vehtari et al. 2021).
RHAT_MAX = 1.01
ESS_MIN = 400
SAMPLE_DIMS = ("chain", "draw")


def _versions() -> dict[str, str]:
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


@dataclass(eq=False)
class Forecast:
    """Scenario probabilities with their uncertainty, diagnostics and provenance.

    Attributes
    ----------
    model : ScenarioModel
        The model forecast.
    evidence : Evidence
        The reports used (those dated on or before ``as_of``).
    as_of : datetime.date
        The information date.
    mode : {"hierarchical", "exact"}
        ``"exact"`` takes the model file as exact (no sampling): a fixed Bayes net / HMM.
    filtered : xarray.DataArray (chain, draw, time, scenario)
        P(scenario in period t | evidence dated up to period t): what was knowable then.
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
    filtered: xr.DataArray
    smoothed: xr.DataArray
    horizon: xr.DataArray
    posterior: xr.Dataset
    sample_stats: xr.Dataset
    diagnostics: xr.Dataset
    attrs: dict[str, Any] = field(default_factory=dict)

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
            ``spans_phrases`` (the interval crosses into other phrases' bands)
            and ``confidence`` (from the interval width and the diagnostics).
        """
        mean = self.horizon.mean(SAMPLE_DIMS)
        low, high = hdi_bounds(self.horizon, prob=prob)
        rows = []
        for scenario in self.model.scenarios:
            m = float(mean.sel(scenario=scenario.id))
            lo, hi = float(low.sel(scenario=scenario.id)), float(high.sel(scenario=scenario.id))
            spans = band_of(lo) != band_of(hi)
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
                }
            )
        table = pd.DataFrame(rows).set_index("scenario")
        table.attrs["prob"] = prob
        return table

    def surprise(self, *, n_simulations: int = 2000, seed: int = 0) -> pd.DataFrame:
        """How improbable each reported period's evidence was given everything before it.

        A one-step-ahead predictive p-value per period, calibrated by simulation
        under the model taken as exact (:mod:`syriaforecast.engine.surprise`).
        Small values in recent periods mean the evidence fits no scenario well:
        the scenario set may no longer fit.

        Returns
        -------
        pandas.DataFrame
            ``period`` (label), ``p_value`` and ``log_predictive``, oldest first.
        """
        from syriaforecast.engine.surprise import surprise

        n_periods = int(self.filtered.sizes["time"])
        rows = surprise(self.model, self.evidence, n_periods, n_simulations=n_simulations, seed=seed)
        columns = ["period", "p_value", "log_predictive"]
        return pd.DataFrame([r.__dict__ for r in rows], columns=columns)

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

        return driver_contrast(self, max_draws=max_draws)

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

    # ------------------------------------------------------------------ keeping
    def to_datatree(self) -> xr.DataTree:
        """The forecast in ArviZ 1.x layout.

        Groups: ``posterior``, ``sample_stats``, ``observed_data`` (the reports),
        ``constant_data`` (the elicitations), ``filtered``, ``smoothed``,
        ``horizon`` and ``diagnostics``; provenance in the root attributes.
        """
        from syriaforecast.engine.data import build_model_arrays

        arrays = build_model_arrays(self.model)
        table = self.evidence.to_dataframe()
        observed = xr.Dataset(
            {
                name: ("report", table[name].astype(str).to_numpy(dtype=str))
                for name in ("date", "indicator", "value", "reliability", "source", "note")
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
        return xr.DataTree.from_dict(groups)

    def save(self, path: str | Path) -> Path:
        """Save as netCDF (via h5netcdf), atomically: an interrupted save leaves any old file intact.

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path)
        tree = self.to_datatree()
        with atomic_path(path) as tmp:
            tree.to_netcdf(tmp, engine="h5netcdf")
        return path


# --------------------------------------------------------------------------- helpers
def hdi_bounds(samples: xr.DataArray, *, prob: float = 0.9) -> tuple[xr.DataArray, xr.DataArray]:
    """Lower and upper bounds of the highest-density interval over chains and draws.

    A single draw (exact mode) gives a zero-width interval at that value.
    """
    if samples.sizes["chain"] * samples.sizes["draw"] == 1:
        point = samples.isel(chain=0, draw=0, drop=True)
        return point, point
    import arviz_stats

    interval = arviz_stats.hdi(samples, prob=prob, dim=list(SAMPLE_DIMS))
    return interval.sel(ci_bound="lower", drop=True), interval.sel(ci_bound="upper", drop=True)


def _diagnostics(
    run: EngineRun, filtered: xr.DataArray, smoothed: xr.DataArray, horizon: xr.DataArray
) -> xr.Dataset:
    divergences = int(np.sum(run.sample_stats.get("diverging", np.zeros(1))))
    if run.mode == "exact":
        return xr.Dataset(attrs={"divergences": 0, "mode": "exact"})
    import arviz_stats

    out = {}
    for name, values in (("horizon", horizon), ("filtered", filtered), ("smoothed", smoothed)):
        # A probability stuck at one value (e.g. 1.0 for a single scenario) has
        # no Monte Carlo error; ESS and R-hat are undefined there, not failures.
        constant = (values.max(SAMPLE_DIMS) - values.min(SAMPLE_DIMS)) < 1e-12
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out[f"{name}_rhat"] = arviz_stats.rhat(values, sample_dims=list(SAMPLE_DIMS)).where(~constant)
            out[f"{name}_ess_bulk"] = arviz_stats.ess(values, sample_dims=list(SAMPLE_DIMS)).where(~constant)
            out[f"{name}_ess_tail"] = arviz_stats.ess(
                values, sample_dims=list(SAMPLE_DIMS), method="tail"
            ).where(~constant)
    return xr.Dataset(out, attrs={"divergences": divergences, "rhat_max": RHAT_MAX, "ess_min": ESS_MIN})


def _diagnostic_failures(diagnostics: xr.Dataset) -> list[str]:
    failures = []
    divergences = int(diagnostics.attrs.get("divergences", 0))
    if divergences:
        failures.append(f"{divergences} divergent transitions")
    for name in ("horizon", "filtered", "smoothed"):
        if f"{name}_rhat" not in diagnostics:
            continue
        rhat = float(diagnostics[f"{name}_rhat"].max(skipna=True).fillna(1.0))
        ess = float(diagnostics[f"{name}_ess_bulk"].min(skipna=True).fillna(np.inf))
        if rhat > RHAT_MAX:
            failures.append(f"{name} probabilities: max R-hat {rhat:.3f} > {RHAT_MAX}")
        if ess < ESS_MIN:
            failures.append(f"{name} probabilities: min ESS_bulk {ess:.0f} < {ESS_MIN}")
    return failures


def _as_date(value: dt.date | str | pd.Timestamp, what: str) -> dt.date:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date() if isinstance(value, dt.datetime) else value.to_pydatetime().date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SyriaforecastError(f"{what} = {value!r}: expected an ISO date YYYY-MM-DD") from None


def _resolve_inputs(
    model: ScenarioModel | str | Path, evidence: Evidence | str | Path | pd.DataFrame | None
) -> tuple[ScenarioModel, Evidence]:
    if not isinstance(model, ScenarioModel):
        model = load_model(model)
    if evidence is None:
        empty = pd.DataFrame(columns=["date", "indicator", "value"])
        evidence = load_evidence(empty, model)
    elif not isinstance(evidence, Evidence):
        evidence = load_evidence(evidence, model)
    elif evidence.model_id != model.id:
        raise SyriaforecastError(
            f"evidence was validated against model {evidence.model_id!r}, not {model.id!r}: "
            "load it again with load_evidence(path, model)"
        )
    return model, evidence


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
    target_accept: float = 0.9,
    progress: bool = False,
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
        Information date: only reports dated on or before it are used. Defaults to
        the date of the latest report (the model's start when there is none).
    draws, tune : int, optional
        Posterior draws and tuning steps per chain (default 1000 each; the
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
        NUTS target acceptance rate.
    progress : bool
        Show the sampler's progress bar.
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
    model, evidence = _resolve_inputs(model, evidence)
    if as_of is None:
        as_of_date = evidence.last_date or model.first_period.start_time.date()
    else:
        as_of_date = _as_date(as_of, "as_of")
    first_day = model.first_period.start_time.date()
    if as_of_date < first_day:
        raise SyriaforecastError(
            f"as_of = {as_of_date}: must be on or after the model's first period ({first_day})"
        )
    evidence = evidence.up_to(as_of_date)
    if exact is None:
        exact = model.elicitation_error == 0
    if seed is None:
        seed = secrets.randbits(31)
    settings = SamplerSettings(
        draws=draws if draws is not None else _env_int("SYRIAFORECAST_DRAWS", 1000),
        tune=tune if tune is not None else _env_int("SYRIAFORECAST_TUNE", 1000),
        chains=chains,
        target_accept=target_accept,
        seed=int(seed),
    )
    from syriaforecast.conditional import parse_assume

    assumed = parse_assume(model, assume, as_of_date)
    run = run_engine(
        model, evidence, as_of_date, exact=exact, settings=settings, progress=progress, assume=assumed
    )
    result = _assemble(model, evidence, as_of_date, run, settings)
    if assume:
        result.attrs["assume"] = json.dumps({d: dict(v) for d, v in assume.items()}, sort_keys=True)
    failures = _diagnostic_failures(result.diagnostics) if run.mode != "exact" else []
    if failures:
        warnings.warn(
            "sampler diagnostics failed: "
            + "; ".join(failures)
            + ". Try more draws and tuning (draws=2000, tune=1000), a higher target_accept "
            "(0.95), or check the model for elicitations that contradict the evidence.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return result


def _assemble(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    run: EngineRun,
    settings: SamplerSettings,
) -> Forecast:
    chains, draws = run.chains, run.draws
    S = len(model.scenarios)
    labels = model.period_labels(n_chain_periods(model))
    scen = list(model.scenario_ids)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}

    def shaped(values: np.ndarray) -> np.ndarray:
        return values.reshape((chains, draws, *values.shape[1:]))

    n = run.n_asof
    time_coords = coords | {"time": labels[:n], "scenario": scen}
    filtered = xr.DataArray(
        shaped(run.chain.filtered[:, :n]),
        dims=("chain", "draw", "time", "scenario"),
        coords=time_coords,
        name="filtered",
    )
    smoothed = xr.DataArray(
        shaped(run.chain.smoothed[:, :n]),
        dims=("chain", "draw", "time", "scenario"),
        coords=time_coords,
        name="smoothed",
    )
    horizon = xr.DataArray(
        shaped(run.chain.filtered[:, run.horizon_index]),
        dims=("chain", "draw", "scenario"),
        coords=coords | {"scenario": scen},
        name="horizon",
    )
    posterior = _parameters_dataset(model, run, coords)
    sample_stats = xr.Dataset(
        {name: (("chain", "draw"), values) for name, values in run.sample_stats.items()},
        coords=coords,
    )
    diagnostics = _diagnostics(run, filtered, smoothed, horizon)
    attrs = {
        "format_version": FORMAT_VERSION,
        "model_id": model.id,
        "model_toml": model.to_toml(),
        "model_sha256": model.sha256,
        "model_content_sha256": hashlib.sha256(model.to_toml().encode()).hexdigest(),
        "model_path": str(model.path) if model.path else "",
        "evidence_csv": evidence.to_csv_text(),
        "evidence_sha256": evidence.sha256,
        "evidence_source": evidence.source,
        "as_of": as_of.isoformat(),
        "horizon": model.horizon.isoformat(),
        "mode": run.mode,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "n_scenarios": S,
    }
    attrs |= {f"sampler_{k}": v for k, v in settings.as_attrs().items()}
    attrs |= {f"version_{k}": v for k, v in _versions().items()}
    attrs |= {f"time_{k}": float(v) for k, v in run.timings.items()}
    return Forecast(
        model,
        evidence,
        as_of,
        run.mode,
        filtered,
        smoothed,
        horizon,
        posterior,
        sample_stats,
        diagnostics,
        attrs,
    )


def _parameters_dataset(model: ScenarioModel, run: EngineRun, coords: Mapping[str, Any]) -> xr.Dataset:
    extra = {
        "scenario": list(model.scenario_ids),
        "group": list(model.groups),
        "indicator": list(model.indicator_ids),
        "analyst": list(model.analysts),
        "scenario_to": list(model.scenario_ids),
        "driver": list(model.driver_ids),
    } | GRADE_COORDS
    data = {
        name: (("chain", "draw", *PARAMETER_DIMS[name]), values) for name, values in run.parameters.items()
    }
    used = {d for name in run.parameters for d in PARAMETER_DIMS[name]}
    return xr.Dataset(data, coords=dict(coords) | {k: v for k, v in extra.items() if k in used})


# --------------------------------------------------------------------------- loading
def load_forecast(path: str | Path, *, model: ScenarioModel | str | Path | None = None) -> Forecast:
    """Reopen a saved forecast; the numbers are identical to the ones saved.

    Parameters
    ----------
    path : str or Path
        A file written by :meth:`Forecast.save`.
    model : ScenarioModel or path, optional
        If given, the saved forecast must have been made with this model
        (same content); otherwise :class:`ForecastFileError` says how they differ.

    Raises
    ------
    ForecastFileError
        The file is not a saved forecast, is from an unsupported format version,
        or its contents do not match their recorded hashes.
    """
    path = Path(path)
    try:
        with xr.open_datatree(path, engine="h5netcdf") as handle:
            tree = handle.load()
    except FileNotFoundError:
        raise ForecastFileError(f"{path}: no such file") from None
    except Exception as exc:  # h5py/netCDF raise many types on corrupt input
        raise ForecastFileError(
            f"{path}: not a readable netCDF forecast ({type(exc).__name__}: {exc})"
        ) from None
    attrs = {str(k): v for k, v in tree.attrs.items()}
    required = {
        "format_version",
        "model_toml",
        "evidence_csv",
        "as_of",
        "mode",
        "model_content_sha256",
    }
    missing = sorted(required - set(attrs))
    if missing:
        raise ForecastFileError(
            f"{path}: not a syriaforecast forecast (missing attributes {', '.join(missing)})"
        )
    saved_version = int(attrs["format_version"])
    if saved_version > FORMAT_VERSION:
        raise ForecastFileError(
            f"{path}: saved with forecast format {saved_version}, newer than this library reads "
            f"({FORMAT_VERSION}); upgrade syriaforecast "
            f"(saved by version {attrs.get('version_syriaforecast')})"
        )
    toml = str(attrs["model_toml"])
    if hashlib.sha256(toml.encode()).hexdigest() != attrs["model_content_sha256"]:
        raise ForecastFileError(
            f"{path}: the stored model does not match its recorded sha256 (file altered?)"
        )
    try:
        saved_model = parse_model(toml, source=f"{path} (stored model)")
        evidence = load_evidence(
            pd.read_csv(_text_io(str(attrs["evidence_csv"])), dtype=str, keep_default_na=False),
            saved_model,
        )
    except SyriaforecastError as exc:
        raise ForecastFileError(f"{path}: stored model or evidence is invalid: {exc}") from None
    if model is not None:
        given = model if isinstance(model, ScenarioModel) else load_model(model)
        if given.to_toml() != toml:
            raise ForecastFileError(
                f"{path}: saved with a different model than {given.path or given.id!r} "
                f"(saved model sha256 {attrs.get('model_sha256', '')[:12]}, given {given.sha256[:12]})"
            )
    for group in ("filtered", "smoothed", "horizon", "posterior", "sample_stats", "diagnostics"):
        if group not in tree.children:
            raise ForecastFileError(f"{path}: missing group {group!r}")

    def dataset(name: str) -> xr.Dataset:
        return tree[name].to_dataset()

    return Forecast(
        model=saved_model,
        evidence=evidence,
        as_of=dt.date.fromisoformat(str(attrs["as_of"])),
        mode=str(attrs["mode"]),
        filtered=dataset("filtered")["probability"].rename("filtered"),
        smoothed=dataset("smoothed")["probability"].rename("smoothed"),
        horizon=dataset("horizon")["probability"].rename("horizon"),
        posterior=dataset("posterior"),
        sample_stats=dataset("sample_stats"),
        diagnostics=dataset("diagnostics"),
        attrs=attrs,
    )


def _text_io(text: str) -> Any:
    import io

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
