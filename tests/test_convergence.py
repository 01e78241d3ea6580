"""Convergence at the default sampler settings (issue #14: posteriors an analyst can trust).

The defaults (``engine.run.DEFAULT_DRAWS`` / ``DEFAULT_TUNE`` / ``DEFAULT_TARGET_ACCEPT``)
were chosen by measurement on the bundled model, whose posterior has two readings of
the evidence that the chains visit in turn (the first scenario's horizon probability is
bimodal, with peaks near 0.15 and 0.65, in every chain). At the old defaults (1,000
draws, 1,000 tuning steps, target_accept 0.9) 2 of 10 seeds failed the check (R-hat
1.016, ESS_bulk 372-389); at the new ones every seed tried passed.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.errors import ConvergenceWarning


@pytest.fixture(scope="module")
def bundled():
    from syriaforecast.bundled import bundled_evidence, bundled_model

    model = sf.load_model(bundled_model())
    return model, sf.load_evidence(bundled_evidence(), model)


def _forecast(model, evidence, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the verdict is asserted below
        return sf.forecast(model, evidence, **kwargs)


def _record(result) -> str:
    d = result.diagnostics
    rhat = max(float(d[f"{n}_rhat"].max()) for n in ("horizon", "filtered", "smoothed"))
    ess = min(float(d[f"{n}_ess_bulk"].min()) for n in ("horizon", "filtered", "smoothed"))
    return f"R-hat {rhat:.4f}, ESS_bulk {ess:.0f}, divergences {d.attrs['divergences']}"


@pytest.mark.parametrize("seed", [2024, 2025])
def test_bundled_model_converges_at_the_defaults(bundled, seed):
    model, evidence = bundled
    result = _forecast(model, evidence, seed=seed)
    assert result.converged, _record(result)
    assert result.convergence_advice() == ""


def test_warm_update_of_the_bundled_model_passes_the_check(bundled):
    """One more month: the update (PSIS or warm refit) passes the same check as a fit."""
    model, evidence = bundled
    previous = _forecast(model, evidence, as_of=evidence.last_date - dt.timedelta(days=31), seed=7)
    result = _forecast(model, evidence, seed=8, previous=previous)
    assert result.attrs["update_path"] in ("psis", "refit")
    assert result.converged, (result.attrs["update_reason"], _record(result))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundled_model_converges_at_the_defaults_on_20_seeds(bundled):
    """The record behind the defaults: every one of 20 seeds passes (about 2-3 min idle)."""
    model, evidence = bundled
    records, means = [], []
    for seed in range(20):
        result = _forecast(model, evidence, seed=seed)
        records.append((seed, result.converged, _record(result)))
        means.append(result.mean().values)
    print(*records, sep="\n")
    assert all(ok for _, ok, _ in records), [r for r in records if not r[1]]
    # Seeds agree: the spread of the headline means is what Monte Carlo error allows (~0.01 each).
    assert np.ptp(np.array(means), axis=0).max() < 0.05


# --------------------------------------------------------------------------- synthetic worlds
# Worlds built like the bundled model (tests/data/synthetic_russia_syria.toml: its 33
# binary indicators, persistence 0.98, 36 months), elicitations off by logit noise of
# scale 1, graded and ungraded reports, forecast one month ahead: the calibration
# study's realistic (30% of indicators reported a month) and dense (60%) designs.
WORLD_SEED = 14


def _world_records(rate: float, n_worlds: int) -> list[tuple[int, bool, str]]:
    from syriaforecast.studies.calibration import _as_of
    from syriaforecast.studies.synthetic import simulate_worlds

    base = sf.load_model(Path(__file__).parent / "data" / "synthetic_russia_syria.toml")
    worlds = simulate_worlds(
        base,
        n_worlds,
        seed=WORLD_SEED,
        n_observed_periods=base.horizon_index,
        elicitation_noise=1.0,
        report_rate=rate,
        grades=("A1", "B2", "C3", ""),
    )
    records = []
    for w, world in enumerate(worlds):
        result = _forecast(world.model, world.evidence, as_of=_as_of(base, 1), seed=w)
        records.append((w, result.converged, _record(result)))
    return records


@pytest.mark.slow
@pytest.mark.timeout(4 * 3600)
@pytest.mark.parametrize("rate", [0.3, 0.6])
def test_default_forecasts_of_100_synthetic_worlds_converge(rate):
    """Issue #14's bar: at least 95 of 100 default forecasts pass the convergence check.

    Not yet run on all 100 worlds per design (about 15 min each on an idle 2-core
    machine) and expected to fail: on the handful of worlds measured (simulate_worlds
    seeds 5 and 7, as in this test but other seeds), at 60% reporting the old defaults
    passed 0 of 5 and the new ones 2 of the same 5 and 4 of 6 others; at 30%, 4 of 5.
    The failures are of two kinds: chains stuck on different readings of the reports
    (between-chain spread of the horizon probability 0.12-0.32; more draws do not help)
    and slow mixing (R-hat 1.01-1.03, ESS 170-350; more draws help).
    """
    records = _world_records(rate, 100)
    failed = [r for r in records if not r[1]]
    print(f"rate {rate}: {len(records) - len(failed)} of {len(records)} converged", *failed, sep="\n")
    assert len(failed) <= 5
