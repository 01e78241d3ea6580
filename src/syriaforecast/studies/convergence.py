"""Convergence study: the share of default forecasts of synthetic worlds that pass the check.

Issue #14's bar: on worlds built like the bundled model (its 33 binary
indicators, persistence 0.98, 36 months; elicitations off by logit noise of
scale 1; graded and ungraded reports; forecast one month ahead) at 30% and at
60% monthly reporting, at least 95% of default forecasts pass the convergence
check (every reported probability with R-hat <= 1.01 and ESS_bulk >= 400, no
divergences), and so do warm updates (one more month, ``previous=``).

:func:`convergence_study` runs the forecasts and records, per world, the verdict
and the figures behind it; :func:`wilson_interval` gives the interval of a
pass rate (Wilson 1927), the one to quote for a rate near 1 on few worlds.
``tools/convergence_rate.py`` prints both from the command line.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from syriaforecast.errors import ConvergenceWarning
from syriaforecast.forecast import Forecast, forecast
from syriaforecast.spec.model import ScenarioModel
from syriaforecast.studies.synthetic import SyntheticWorld, simulate_worlds

__all__ = ["WORLD_SEED", "RateInterval", "convergence_study", "study_worlds", "wilson_interval"]

#: Seed of :func:`~syriaforecast.studies.synthetic.simulate_worlds` for the study's worlds.
WORLD_SEED = 14


class RateInterval(NamedTuple):
    """A pass rate and its Wilson score interval."""

    passed: int
    n: int
    rate: float
    low: float
    high: float


def wilson_interval(passed: int, n: int, *, confidence: float = 0.95) -> RateInterval:
    """Wilson score interval of a binomial proportion (Wilson 1927; Brown, Cai and DasGupta 2001).

    Parameters
    ----------
    passed, n : int
        Successes and trials (``n >= 1``).
    confidence : float
        Coverage of the interval.

    Returns
    -------
    RateInterval
    """
    from scipy.stats import binomtest

    ci = binomtest(int(passed), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return RateInterval(int(passed), int(n), passed / n, float(ci.low), float(ci.high))


def _as_of(model: ScenarioModel, lead: int) -> dt.date:
    return (model.first_period + (model.horizon_index - lead)).end_time.date()


def _quiet(model: ScenarioModel, evidence: Any, **kwargs: Any) -> Forecast:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the verdict is recorded
        return forecast(model, evidence, **kwargs)


def _row(result: Forecast) -> dict[str, Any]:
    d = result.diagnostics
    names = ("horizon", "filtered", "smoothed")
    chain_means = result.horizon.mean("draw")
    return {
        "converged": result.converged,
        "rhat": max(float(d[f"{n}_rhat"].max()) for n in names),
        "ess_bulk": min(float(d[f"{n}_ess_bulk"].min()) for n in names),
        "divergences": int(d.attrs["divergences"]),
        "extensions": int(result.attrs.get("sampler_extensions", 0)),
        "chain_spread": float((chain_means.max("chain") - chain_means.min("chain")).max()),
        "update_path": result.update_path,
    }


def study_worlds(
    model: ScenarioModel, *, report_rate: float, n_worlds: int, first_world: int = 0, seed: int = WORLD_SEED
) -> list[SyntheticWorld]:
    """Worlds ``first_world .. first_world + n_worlds - 1`` as :func:`convergence_study` builds them.

    One definition of the study's design, so that tools which follow a single world
    (``tools/refit_against_fit.py``, ``tools/two_readings.py``) see the same evidence.
    """
    return simulate_worlds(
        model,
        first_world + n_worlds,
        seed=seed,
        n_observed_periods=model.horizon_index,
        elicitation_noise=1.0,
        report_rate=report_rate,
        grades=("A1", "B2", "C3", ""),
    )[first_world:]


def convergence_study(
    base: ScenarioModel | str | Path,
    *,
    report_rate: float,
    n_worlds: int,
    first_world: int = 0,
    seed: int = WORLD_SEED,
    warm: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Default forecasts (and optionally warm updates) of synthetic worlds, with their verdicts.

    Parameters
    ----------
    base : ScenarioModel or path
        The model worlds are built like (``tests/data/synthetic_russia_syria.toml``
        for issue #14's bar).
    report_rate : float
        Share of indicators reported a month (0.3 realistic, 0.6 dense).
    n_worlds, first_world : int
        Worlds ``first_world .. first_world + n_worlds - 1`` of the seed's sequence.
    seed : int
        Seed of the worlds; world ``w`` is forecast with sampler seed ``w``.
    warm : bool
        Also update each world's forecast of the month before to the last month
        (``previous=``), as an analyst's monthly update would, and record its verdict.
    **options
        Passed to :func:`~syriaforecast.forecast` (none: the defaults under test).

    Returns
    -------
    pandas.DataFrame
        One row per world (and per ``kind``: ``"fit"``, ``"update"``): ``converged``,
        the largest R-hat, the smallest ESS_bulk, divergences, how many times the
        chains were continued, the largest spread of the chains' horizon means,
        the update path and the seconds taken (wall and CPU: user + system, all threads).
    """
    from syriaforecast.spec.model import load_model

    model = base if isinstance(base, ScenarioModel) else load_model(base)
    worlds = study_worlds(
        model, report_rate=report_rate, n_worlds=n_worlds, first_world=first_world, seed=seed
    )
    rows = []
    as_of = _as_of(model, 1)
    for w, world in enumerate(worlds, start=first_world):
        start, cpu = time.perf_counter(), time.process_time()
        result = _quiet(world.model, world.evidence, as_of=as_of, seed=w, **options)
        took = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
        rows.append({"world": w, "kind": "fit"} | _row(result) | took)
        if warm:
            previous = _quiet(world.model, world.evidence, as_of=_as_of(model, 2), seed=w, **options)
            start, cpu = time.perf_counter(), time.process_time()
            update = _quiet(
                world.model, world.evidence, as_of=as_of, seed=w + 100_000, previous=previous, **options
            )
            took = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
            rows.append({"world": w, "kind": "update"} | _row(update) | took)
    table = pd.DataFrame(rows)
    table.attrs |= {"report_rate": report_rate, "seed": seed}
    return table
