"""Measure candidate default sampler settings (issue #14: defaults chosen by measurement).

A candidate is ``draws/tune/target_accept[/adaptation]`` (e.g. ``1000/300/0.9/diag``). Each is run as the
default forecast would run it: the first pass with those settings and, while the
convergence check fails, up to ``DEFAULT_EXTENSIONS`` continuations of every chain.
Per candidate, prints one row per run and a summary: runs that passed, extensions used,
CPU seconds per forecast (user + system of every thread: the load-robust figure), the
smallest ESS_bulk and largest R-hat over every reported probability.

* ``--bundled 0-9``: the bundled model at those seeds;
* ``--warm-refit 0-4``: a warm refit of the bundled model (what ``update()`` does when
  PSIS is refused): the forecast of the month before, then the refit to the last as-of
  date at ``--warm-tune`` tuning steps, for each seed;
* ``--worlds 10 --rates 0.3 0.6``: synthetic worlds (``studies.convergence``).

Run from the repository root, one process at a time on a shared machine::

    .venv/bin/python tools/sampler_candidates.py 1000/300/0.9 2000/500/0.9 --bundled 0-9
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

# The tools' shared helpers (_cli) sit beside this file; put the folder on the path so that
# loading the tool by its path (tests/test_bundled_model.py does) finds them too.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import seed_list

import syriaforecast as sf
from syriaforecast.engine.run import DEFAULT_ADAPTATION, DEFAULT_EXTENSIONS, SamplerSettings
from syriaforecast.studies.convergence import convergence_study, wilson_interval

_fc = importlib.import_module("syriaforecast.forecast")  # the module (the package attribute is the function)
BASE = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic_russia_syria.toml"
KINDS = ("horizon", "filtered", "smoothed")


def _candidate(text: str) -> tuple[int, int, float]:
    draws, tune, target = text.split("/")[:3]
    return int(draws), int(tune), float(target)


@contextmanager
def defaults(candidate: str) -> Iterator[None]:
    """``forecast()``'s default draws (explicit draws would turn extensions off) and adaptation."""
    draws = _candidate(candidate)[0]
    parts = candidate.split("/")
    adaptation = parts[3] if len(parts) > 3 else DEFAULT_ADAPTATION
    saved = _fc.DEFAULT_DRAWS, _fc.SamplerSettings
    _fc.DEFAULT_DRAWS = draws
    _fc.SamplerSettings = functools.partial(SamplerSettings, adaptation=adaptation)
    try:
        yield
    finally:
        _fc.DEFAULT_DRAWS, _fc.SamplerSettings = saved


def _row(result: sf.Forecast) -> dict[str, Any]:
    d = result.diagnostics
    return {
        "converged": result.converged,
        "rhat": max(float(d[f"{k}_rhat"].max(skipna=True)) for k in KINDS),
        "ess_bulk": min(float(d[f"{k}_ess_bulk"].min(skipna=True)) for k in KINDS),
        "ess_tail": min(float(d[f"{k}_ess_tail"].min(skipna=True)) for k in KINDS),
        "divergences": int(d.attrs["divergences"]),
        "extensions": int(result.attrs.get("sampler_extensions", 0)),
    }


def _timed(call: Callable[[], sf.Forecast]) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)
        result = call()
    took = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    return _row(result) | took


def bundled(candidate: str, seeds: list[int]) -> pd.DataFrame:
    _, tune, target = _candidate(candidate)
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    rows = []
    with defaults(candidate):
        for seed in seeds:
            row = _timed(lambda s=seed: sf.forecast(model, evidence, tune=tune, target_accept=target, seed=s))
            rows.append({"candidate": candidate, "kind": "bundled", "seed": seed} | row)
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def warm_refit(candidate: str, seeds: list[int], warm_tune: int) -> pd.DataFrame:
    draws, tune, target = _candidate(candidate)
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    as_of = evidence.last_date
    before = as_of - dt.timedelta(days=31)
    rows = []
    saved = _fc.WARM_TUNE
    _fc.WARM_TUNE = warm_tune
    try:
        with defaults(candidate), warnings.catch_warnings():
            warnings.simplefilter("ignore", sf.ConvergenceWarning)
            for seed in seeds:
                previous = sf.forecast(
                    model, evidence, as_of=before, tune=tune, target_accept=target, seed=seed
                )
                settings = _fc.SamplerSettings(draws=draws, tune=tune, target_accept=target, seed=seed + 1000)
                row = _timed(
                    lambda p=previous, s=settings: _fc.warm_refit(
                        model, evidence, as_of, p, s, extensions=DEFAULT_EXTENSIONS
                    )
                )
                label = f"{candidate} warm {warm_tune}"
                rows.append({"candidate": label, "kind": "warm refit", "seed": seed} | row)
                print(rows[-1], flush=True)
    finally:
        _fc.WARM_TUNE = saved
    return pd.DataFrame(rows)


def worlds(candidate: str, rates: list[float], n_worlds: int, first: int, warm: bool) -> pd.DataFrame:
    _, tune, target = _candidate(candidate)
    tables = []
    with defaults(candidate):
        for rate in rates:
            table = convergence_study(
                BASE, report_rate=rate, n_worlds=n_worlds, first_world=first, warm=warm,
                tune=tune, target_accept=target,
            )  # fmt: skip
            table["kind"] = table["kind"].map(lambda k, r=rate: f"{k} {r:.0%}")
            table.insert(0, "candidate", candidate)
            print(table.round(4).to_string(index=False), flush=True)
            tables.append(table)
    return pd.concat(tables)


def summary(table: pd.DataFrame) -> str:
    lines = [
        "| candidate | runs | passed (95% Wilson) | extensions used | CPU s median (max) "
        "| min ESS_bulk | max R-hat | divergences |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (candidate, kind), rows in table.groupby(["candidate", "kind"], sort=False):
        r = wilson_interval(int(rows["converged"].sum()), len(rows))
        lines.append(
            f"| {candidate} ({kind}) | {r.n} | {r.passed} ({r.low:.0%}-{r.high:.0%}) "
            f"| {int((rows['extensions'] > 0).sum())} runs, {int(rows['extensions'].sum())} in all "
            f"| {rows['cpu_seconds'].median():.1f} ({rows['cpu_seconds'].max():.1f}) "
            f"| {rows['ess_bulk'].min():.0f} | {rows['rhat'].max():.4f} | {int(rows['divergences'].sum())} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="+", help="draws/tune/target_accept, e.g. 1000/300/0.9")
    parser.add_argument("--bundled", default="", help="seeds of the bundled model, e.g. 0-9")
    parser.add_argument("--warm-refit", default="", help="seeds of warm refits of the bundled model")
    parser.add_argument("--warm-tune", type=int, default=_fc.WARM_TUNE)
    parser.add_argument("--worlds", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.3, 0.6])
    parser.add_argument("--warm", action="store_true", help="also a warm update of each world")
    args = parser.parse_args()
    tables = []
    for candidate in args.candidates:
        if args.bundled:
            tables.append(bundled(candidate, seed_list(args.bundled)))
        if args.warm_refit:
            tables.append(warm_refit(candidate, seed_list(args.warm_refit), args.warm_tune))
        if args.worlds:
            tables.append(worlds(candidate, args.rates, args.worlds, args.first, args.warm))
    if tables:
        print(summary(pd.concat(tables)))


if __name__ == "__main__":
    main()
