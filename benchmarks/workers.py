"""Work run in a fresh interpreter: ``python benchmarks/workers.py TASK 'JSON args'``.

Each task prints one JSON line with its figures. Timings start at the top of
this file, before ``syriaforecast`` is imported, so a "cold" figure includes the
imports a user's first forecast pays.
"""

from __future__ import annotations

import math
import time

_T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EVIDENCE, MODEL, cpu, current_rss_mb, peak_rss_mb  # noqa: E402

warnings.simplefilter("ignore")


# --------------------------------------------------------------------------- helpers
def next_month_rows(evidence: Any, months: int) -> Any:
    """The reports of the last 31 days, re-dated ``31 * months`` days later: one more month of evidence."""
    import datetime as dt

    frame = evidence.to_dataframe()
    last = evidence.last_date
    recent = frame[frame["date"] > last - dt.timedelta(days=31)].copy()
    recent["date"] = [(d + dt.timedelta(days=31 * months)).isoformat() for d in recent["date"]]
    recent["credibility"] = [str(c) if c else "" for c in recent["credibility"]]
    recent["note"] = "benchmark: repeated one month later"
    return recent[["date", "indicator", "value", "reliability", "credibility", "source", "note"]]


def regraded_first_report(evidence: Any, model: Any) -> Any:
    """The evidence with its first graded report's source letter moved one step: a refit.

    A changed grade changes what the likelihood reads, so the evidence is not the
    old evidence plus reports. (An edited note would not do: the likelihood does not
    read notes, and the previous draws are kept as they are.) Edited in the log's own
    CSV text, driver rows included: :meth:`Evidence.to_dataframe` holds the reports only.
    """
    import io

    import pandas as pd

    import syriaforecast as sf

    frame = pd.read_csv(io.StringIO(evidence.to_csv_text()), dtype=str, keep_default_na=False)
    letters = "ABCDEF"
    row = next(i for i, v in enumerate(frame["reliability"]) if v in letters)
    letter = frame.loc[row, "reliability"]
    # Every row of its report (one source's reading has one grade).
    report = frame.loc[row, "report"] if "report" in frame else ""
    rows = frame.index[frame["report"] == report] if report else [row]
    frame.loc[rows, "reliability"] = letters[letters.index(letter) + 1] if letter != "F" else "E"
    return sf.load_evidence(frame, model)


def bundled_density_points(n_points: int = 64) -> tuple[tuple[Any, ...], Any]:
    """The bundled model's density arguments (as the sampler passes them) and ``n_points`` positions.

    The positions are normal(0, 0.5) in the unconstrained space, seed 0: the same points
    for every caller, so timings of the density compare.
    """
    import numpy as np

    import syriaforecast as sf
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.run import n_chain_periods
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    layout = layout_for(arrays, data)
    points = np.random.default_rng(0).normal(0.0, 0.5, (n_points, layout.ndim))
    return _density_arguments(arrays, data, layout), points


def grade_draws(horizon: Any, filtered: Any, smoothed: Any) -> dict[str, float]:
    """Smallest ESS_bulk and largest R-hat over the probabilities a forecast reports.

    The same definition as the library's diagnostics: per (time, scenario) cell,
    skipping probabilities that do not vary across draws.
    """
    import arviz_stats
    import numpy as np

    out: dict[str, float] = {}
    for name, values in (("horizon", horizon), ("filtered", filtered), ("smoothed", smoothed)):
        constant = (values.max(("chain", "draw")) - values.min(("chain", "draw"))) < 1e-12
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ess = arviz_stats.ess(values, sample_dims=["chain", "draw"]).where(~constant)
            rhat = arviz_stats.rhat(values, sample_dims=["chain", "draw"]).where(~constant)
        out[f"{name}_ess_min"] = float(ess.min(skipna=True))
        out[f"{name}_rhat_max"] = float(rhat.max(skipna=True))
    out["ess_min"] = min(out[f"{n}_ess_min"] for n in ("horizon", "filtered", "smoothed"))
    out["rhat_max"] = max(out[f"{n}_rhat_max"] for n in ("horizon", "filtered", "smoothed"))
    return out


def forecast_record(result: Any, seconds: float, cpu_seconds: float) -> dict[str, Any]:
    import numpy as np

    diag = result.diagnostics
    record = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "draws": result.n_draws,
        "divergences": int(diag.attrs.get("divergences", 0)),
        "converged": bool(result.converged),
        "timings": {k[5:]: float(v) for k, v in result.attrs.items() if k.startswith("time_")},
        "mean": [float(v) for v in result.horizon.mean(("chain", "draw")).values],
        "scenarios": list(result.model.scenario_ids),
    }
    summary = result.summary()
    if "mcse" in summary:
        record["mcse"] = [float(v) for v in summary["mcse"]]
    for name in ("horizon", "filtered", "smoothed"):
        if f"{name}_ess_bulk" in diag:
            record[f"{name}_ess_min"] = float(diag[f"{name}_ess_bulk"].min(skipna=True))
            record[f"{name}_rhat_max"] = float(diag[f"{name}_rhat"].max(skipna=True))
    if "horizon_ess_min" in record:
        record["ess_min"] = min(record[f"{n}_ess_min"] for n in ("horizon", "filtered", "smoothed"))
        record["rhat_max"] = max(record[f"{n}_rhat_max"] for n in ("horizon", "filtered", "smoothed"))
    steps = result.sample_stats.get("n_steps") if result.sample_stats is not None else None
    if steps is not None:
        record["n_steps_draws"] = int(np.asarray(steps).sum())
    return record


class GradientCounter:
    """Counts the sampler's density evaluations (tuning included) and the time spent in them.

    Within the block the sampler takes the Python-callback route (``CALLBACK_ENV=0``): the
    compiled callback calls the kernel from nutpie without Python, where nothing can count
    it (the counts read 0 there). The counts are the same on both routes (the same
    trajectories, ``tests/test_callback.py``); wall times inside the block include the
    Python bridge, so time the default route outside it.
    """

    def __init__(self) -> None:
        import syriaforecast.engine.sampler as sampler
        from syriaforecast.engine.callback import CALLBACK_ENV

        self.sampler = sampler
        self.original = sampler.log_density_and_gradient
        self.env = CALLBACK_ENV
        self.saved_env: str | None = None
        self.calls = 0
        self.seconds = 0.0

    def __enter__(self) -> GradientCounter:
        original = self.original
        self.saved_env = os.environ.get(self.env)
        os.environ[self.env] = "0"

        def counted(x: Any, *args: Any) -> Any:
            start = time.perf_counter()
            out = original(x, *args)
            self.seconds += time.perf_counter() - start
            self.calls += 1
            return out

        self.sampler.log_density_and_gradient = counted
        return self

    def __exit__(self, *exc: object) -> None:
        self.sampler.log_density_and_gradient = self.original
        if self.saved_env is None:
            os.environ.pop(self.env, None)
        else:
            os.environ[self.env] = self.saved_env


class PeakRSS:
    """Peak resident memory of this process during a block, MB.

    Linux lets a process reset its own high-water mark (``echo 5 >
    /proc/self/clear_refs``), after which ``VmHWM`` is the peak of the block
    alone. Where that is refused, a thread polls ``VmRSS`` every 5 ms.
    """

    def __enter__(self) -> PeakRSS:
        import threading

        self.method = "VmHWM after clear_refs"
        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._thread = None
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            self.method = "VmRSS polled every 5 ms"
            self._polled = current_rss_mb()

            def poll() -> None:
                while not self._stop.wait(0.005):
                    self._polled = max(self._polled, current_rss_mb())

            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_mb = self._polled
            return
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    self.peak_mb = float(line.split()[1]) / 1024.0


# --------------------------------------------------------------------------- tasks
def task_cold(args: dict[str, Any]) -> dict[str, Any]:
    """Fresh process: import, load, first forecast and summary (the speed section's empty-cache run)."""
    t = time.perf_counter()
    import syriaforecast as sf

    out: dict[str, Any] = {"import": time.perf_counter() - t}
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    draws, tune, seed = args.get("draws"), args.get("tune"), int(args.get("seed", 1))
    t, c = time.perf_counter(), cpu()
    result = sf.forecast(model, evidence, draws=draws, tune=tune, seed=seed)
    result.summary()
    out["first"] = forecast_record(result, time.perf_counter() - t, cpu() - c)
    out["to_first_summary"] = time.perf_counter() - _T0
    return out


def _naive_forecast(model: Any, evidence: Any, seed: int, draws: int, tune: int) -> dict[str, Any]:
    """Rebuild the PyMC model from scratch and sample it with pm.sample(nuts_sampler="nutpie")."""
    import numpy as np
    import pymc as pm
    import xarray as xr

    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.evaluate import PARAMETER_NAMES, chain_posterior, chain_terms_for_draws
    from syriaforecast.engine.parameters import exact_parameters
    from syriaforecast.engine.reference.pymc_model import build_pymc_model
    from syriaforecast.engine.run import _coords, asof_periods, n_chain_periods

    t = time.perf_counter()
    arrays = build_model_arrays(model)
    T = n_chain_periods(model)
    data = build_engine_data(model, arrays, evidence, T)
    pymc_model = build_pymc_model(arrays, data, _coords(model))
    build = time.perf_counter() - t
    t = time.perf_counter()
    with pymc_model:
        trace = pm.sample(
            draws=draws,
            tune=tune,
            chains=4,
            cores=2,
            nuts_sampler="nutpie",
            random_seed=seed,
            progressbar=False,
            target_accept=0.9,
        )
    sample = time.perf_counter() - t
    t = time.perf_counter()
    posterior = trace["posterior"]
    chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    D = chains * n_draws
    exact = exact_parameters(arrays)
    params = {}
    for name in PARAMETER_NAMES:
        if name in posterior:
            values = np.asarray(posterior[name])
            params[name] = values.reshape((D, *values.shape[2:]))
        else:
            params[name] = np.broadcast_to(exact[name], (D, *exact[name].shape)).copy()
    chain = chain_posterior(chain_terms_for_draws(model, data, params, arrays=arrays))
    n_asof = asof_periods(model, evidence.last_date)
    dims = ("chain", "draw", "time", "scenario")
    filtered = xr.DataArray(chain.filtered[:, :n_asof].reshape(chains, n_draws, n_asof, -1), dims=dims)
    # As the library does: periods after the as-of carry no evidence, so the full chain's
    # smoothed probabilities up to the as-of are those given the evidence to date.
    smoothed = xr.DataArray(chain.smoothed[:, :n_asof].reshape(chains, n_draws, n_asof, -1), dims=dims)
    horizon = xr.DataArray(
        chain.filtered[:, -1].reshape(chains, n_draws, -1), dims=("chain", "draw", "scenario")
    )
    grades = grade_draws(horizon, filtered, smoothed)
    post = time.perf_counter() - t
    stats = trace["sample_stats"]
    steps = int(np.asarray(stats["n_steps"]).sum()) if "n_steps" in stats else -1
    return {
        "build": build,
        "sample": sample,
        "postprocess": post,
        "seconds": build + sample + post,
        "n_steps_draws": steps,
        "divergences": int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else -1,
        "mean": [float(v) for v in horizon.mean(("chain", "draw")).values],
        **grades,
    }


def task_naive(args: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    import pymc  # noqa: F401

    import syriaforecast as sf

    out: dict[str, Any] = {"import": time.perf_counter() - t}
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    draws, tune, seed = int(args.get("draws", 1000)), int(args.get("tune", 1000)), int(args.get("seed", 1))
    c = cpu()
    out["first"] = _naive_forecast(model, evidence, seed, draws, tune) | {"cpu_seconds": cpu() - c}
    out["to_first_result"] = time.perf_counter() - _T0
    warm = []
    current = evidence
    for k in range(1, int(args.get("warm", 0)) + 1):
        current = current.append(next_month_rows(evidence, k), model)
        c = cpu()
        warm.append(_naive_forecast(model, current, seed + k, draws, tune) | {"cpu_seconds": cpu() - c})
    out["warm"] = warm
    return out


def task_scaling_point(args: dict[str, Any]) -> dict[str, Any]:
    """One model size: time per density evaluation, a small forecast, grads counted, peak memory."""
    import numpy as np
    from _common import time_call
    from worlds import make_model, simulated_evidence

    import syriaforecast as sf
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.density import log_density_and_gradient
    from syriaforecast.engine.run import n_chain_periods
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    S, I, T = int(args["S"]), int(args["I"]), int(args["T"])
    model = make_model(S, I, T, seed=int(args.get("seed", 0)))
    evidence = simulated_evidence(model, seed=int(args.get("seed", 0)))
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    layout = layout_for(arrays)
    dargs = _density_arguments(arrays, data, layout)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, layout.ndim)
    sf.forecast(model, evidence, exact=True)  # loads the compiled kernels from the cache
    log_density_and_gradient(x, *dargs)
    # A tiny hierarchical forecast first, so one-off imports (nutpie, arviz-stats) stay out of the figures.
    sf.forecast(model, evidence, draws=5, tune=5, chains=1, seed=1)
    rss_before = current_rss_mb()
    peak_before = peak_rss_mb()
    grad = time_call(lambda: log_density_and_gradient(x, *dargs), repeat=5, budget=0.3)
    t = time.perf_counter()
    exact = sf.forecast(model, evidence, exact=True)
    exact_seconds = time.perf_counter() - t
    del exact
    rss_start = current_rss_mb()
    with GradientCounter() as counter, PeakRSS() as peak:
        t, c = time.perf_counter(), cpu()
        result = sf.forecast(
            model,
            evidence,
            draws=int(args["draws"]),
            tune=int(args["tune"]),
            chains=int(args["chains"]),
            seed=1,
        )
        seconds, cpu_seconds = time.perf_counter() - t, cpu() - c
    return {
        "S": S,
        "I": I,
        "T": T,
        "ndim": layout.ndim,
        "cells": data.n_cells,
        "reports": len(evidence),
        "graded_reports": int(data.report_cell.shape[0]),
        "grad_seconds": grad["median"],
        "grad_seconds_min": grad["min"],
        "exact_seconds": exact_seconds,
        "forecast_seconds": seconds,
        "forecast_cpu_seconds": cpu_seconds,
        "sample_seconds": float(result.attrs.get("time_sample", np.nan)),
        "postprocess_seconds": float(result.attrs.get("time_postprocess", np.nan)),
        "timings": {k[5:]: float(v) for k, v in result.attrs.items() if k.startswith("time_")},
        "gradient_calls": counter.calls,
        "kernel_seconds": counter.seconds,
        "rss_before_mb": rss_before,
        "peak_before_mb": peak_before,
        "peak_rss_mb": peak_rss_mb(),
        "forecast_rss_start_mb": rss_start,
        "forecast_peak_rss_mb": peak.peak_mb,
        "forecast_peak_method": peak.method,
    }


def task_density_cost(args: dict[str, Any]) -> dict[str, Any]:
    """Microseconds per density-and-gradient evaluation of the bundled model: the machine's speed now.

    The kernel's dispatcher is called from a Python loop over 64 points (a few
    microseconds of the figure are the call itself); the best of ``rounds`` rounds
    of ``calls`` calls is kept. The work is fixed, so two runs' figures compare the
    machine's speed at their times (this shared machine's drifts by tens of percent).
    """
    from syriaforecast.engine.density import log_density_and_gradient

    dargs, points = bundled_density_points()
    log_density_and_gradient(points[0], *dargs)  # load the compiled kernel before timing
    calls, best = int(args.get("calls", 2000)), math.inf
    for _ in range(int(args.get("rounds", 7))):
        start = time.perf_counter()
        for k in range(calls):
            log_density_and_gradient(points[k % len(points)], *dargs)
        best = min(best, (time.perf_counter() - start) / calls)
    return {"microseconds": best * 1e6, "ndim": int(points.shape[1])}


def task_reports_point(args: dict[str, Any]) -> dict[str, Any]:
    """One stage (validate, exact, hierarchical, report) on one synthetic evidence log."""
    import tempfile

    import syriaforecast as sf
    from syriaforecast.errors import SyriaforecastError

    stage = args["stage"]
    model = sf.load_model(MODEL)
    out: dict[str, Any] = {"stage": stage}
    t = time.perf_counter()
    try:
        evidence = sf.load_evidence(args["csv"], model)
        if stage == "validate":
            out["reports"] = len(evidence)
        elif stage == "exact":
            t = time.perf_counter()
            sf.forecast(model, evidence, exact=True)
        elif stage == "hierarchical":
            t = time.perf_counter()
            result = sf.forecast(
                model, evidence, draws=args["draws"], tune=args["tune"], chains=args["chains"], seed=1
            )
            out["converged"] = bool(result.converged)
        else:
            from syriaforecast.report.html import write_report

            result = sf.forecast(model, evidence, exact=True)
            t = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:
                write_report(result, folder)
                page = (Path(folder) / "report.html").read_text()
            if "single reports are not shown" in page:
                out["note"] = "per-report contributions refused up front (work budget); indicators shown"
    except SyriaforecastError as exc:
        out["refused"] = True
        out["note"] = "refused: " + str(exc).splitlines()[0][:300]
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# --------------------------------------------------------------------------- speed (benchmarks/speed.py)
def task_speed_cold(args: dict[str, Any]) -> dict[str, Any]:
    """Fresh process to the first summary, then updates of one more month and one that must refit.

    The first forecast is as of a month before the bundled evidence's last publication,
    so the first update is the evidence's own last month (real reports, as an analyst
    would add them); the second adds the last 31 days' reports again a month later
    (:func:`next_month_rows`: a strong, duplicated month, which PSIS may refuse).
    """
    import datetime as dt

    t = time.perf_counter()
    import syriaforecast as sf

    out: dict[str, Any] = {"import": time.perf_counter() - t}
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    seed = int(args.get("seed", 1))
    out["seed"] = seed
    month_before = evidence.last_published - dt.timedelta(days=31)
    t, c = time.perf_counter(), cpu()
    result = sf.forecast(model, evidence, as_of=month_before, seed=seed)
    result.summary()
    out["first"] = forecast_record(result, time.perf_counter() - t, cpu() - c)
    out["to_first_summary"] = time.perf_counter() - _T0
    out["cpu_to_first_summary"] = cpu()
    out["psis"] = []
    current, previous = evidence, result
    for k in (0, 1):
        if k:
            current = current.append(next_month_rows(evidence, k), model)
        t, c = time.perf_counter(), cpu()
        previous = sf.forecast(model, current, seed=seed + 1 + k, previous=previous)
        previous.summary()
        out["psis"].append(
            forecast_record(previous, time.perf_counter() - t, cpu() - c)
            | {
                "path": previous.update_path,
                "pareto_k": float(previous.attrs.get("update_pareto_k", math.nan)),
            }
        )
    # An old report regraded: the evidence is no longer the previous one plus reports, so it refits.
    regraded = regraded_first_report(current, model)
    t, c = time.perf_counter(), cpu()
    refit = sf.forecast(model, regraded, seed=seed + 50, previous=previous)
    refit.summary()
    out["refit"] = forecast_record(refit, time.perf_counter() - t, cpu() - c) | {"path": refit.update_path}
    return out


def task_speed_save_previous(args: dict[str, Any]) -> dict[str, Any]:
    """The bundled forecast as of a month before the last publication, saved for ``--previous``."""
    import datetime as dt

    import syriaforecast as sf

    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    as_of = evidence.last_published - dt.timedelta(days=31)
    result = sf.forecast(model, evidence, as_of=as_of, seed=int(args.get("seed", 7)))
    result.save(args["path"])
    return {"as_of": as_of.isoformat(), "reports": len(result.evidence)}


def task_speed_exact(args: dict[str, Any]) -> dict[str, Any]:
    """``sf.forecast(exact=True)``, ``sf.exact_posterior``: hmmlearn's forward-backward, same chain."""

    import numpy as np
    from _common import time_call
    from exact_hmm import _hmmlearn
    from worlds import binary_chain

    import syriaforecast as sf
    from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
    from syriaforecast.engine.hmm import forward_backward
    from syriaforecast.spec.evidence import Evidence

    T = int(args.get("T", 2400))
    model, evidence, hmm = binary_chain(T, seed=T)
    t, c = time.perf_counter(), cpu()
    ours = sf.forecast(model, evidence, as_of=model.horizon, exact=True)
    first, first_cpu = time.perf_counter() - t, cpu() - c

    def fresh() -> Evidence:  # an equal evidence object with nothing derived yet (CSV text, digest)
        return Evidence(evidence.model_id, evidence._table, evidence.source, evidence.sha256, b"")

    reference, X = _hmmlearn(hmm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference.predict_proba(X)
    terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
    li, lt, le = terms.log_initial, terms.log_transition, terms.log_emission
    timed = {
        "forecast_repeated": lambda: sf.forecast(model, evidence, as_of=model.horizon, exact=True),
        "forecast_new_evidence": lambda: sf.forecast(model, fresh(), as_of=model.horizon, exact=True),
        "exact_posterior": lambda: sf.exact_posterior(model, evidence, model.horizon),
        "kernel_fb": lambda: forward_backward(li, lt, le),
        "hmmlearn": lambda: reference.predict_proba(X),
        "hmmlearn_fb": lambda: reference._score_log(X, compute_posteriors=True),
    }
    out: dict[str, Any] = {"T": T, "forecast_first": first, "forecast_first_cpu": first_cpu}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in timed.items():
            measured = time_call(fn, repeat=7)
            out[name], out[f"{name}_min"] = measured["median"], measured["min"]
    out["max_abs_diff"] = float(np.abs(ours.smoothed.values[0, 0] - theirs).max())
    return out


TASKS = {
    "reports_point": task_reports_point,
    "cold": task_cold,
    "density_cost": task_density_cost,
    "naive": task_naive,
    "scaling_point": task_scaling_point,
    "speed_cold": task_speed_cold,
    "speed_save_previous": task_speed_save_previous,
    "speed_exact": task_speed_exact,
}

if __name__ == "__main__":
    task = sys.argv[1]
    arguments = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    result = TASKS[task](arguments)
    result["worker_seconds"] = time.perf_counter() - _T0
    result["worker_cpu_seconds"] = cpu()
    print(json.dumps(result))
