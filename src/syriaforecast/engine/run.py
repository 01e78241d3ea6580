"""Run the engine: exact mode, or NUTS through nutpie on the compiled posterior density."""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from syriaforecast._checks import check_sampling_work
from syriaforecast.engine.data import EngineData, ModelArrays, build_engine_data, build_model_arrays
from syriaforecast.engine.evaluate import (
    ANALYST_PARAMETER_NAMES,
    PARAMETER_NAMES,
    SOURCE_LABELS,
    SOURCE_PARAMETER_NAMES,
    TRANSITION_PARAMETER_NAMES,
    chain_posterior,
    chain_terms_for_draws,
    exact_parameters_for,
)
from syriaforecast.engine.hmm import ChainPosterior
from syriaforecast.engine.names import CLUSTER_PARAMETER_NAMES
from syriaforecast.engine.sampler import ChainStarts, build_fast_sampler_model
from syriaforecast.engine.whitening import Whitening
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "DEFAULT_ADAPTATION",
    "DEFAULT_DRAWS",
    "DEFAULT_EXTENSIONS",
    "DEFAULT_TARGET_ACCEPT",
    "DEFAULT_TUNE",
    "TREND_FROM",
    "TREND_SLACK",
    "WARM_STEP_GROWTH",
    "EngineRun",
    "SamplerSettings",
    "extend_run",
    "run_engine",
]

#: Default NUTS settings, chosen by measurement (issue #14: a cheap first pass, continued
#: while the convergence check fails; tools/sampler_candidates.py, 2-core machine shared
#: with other work, load average 5-7; CPU seconds = user + system of every thread).
#: Bundled model (201 sampled coordinates: elicited rows, drivers, 8 sources), seeds 0-2:
#: 4 x 1,000 draws, 300 tuning steps, target_accept 0.9, diagonal mass matrix: 3 of 3 passed
#: with no extension, 5.3 CPU s median (6.1 max), smallest ESS_bulk 1032, largest R-hat 1.006.
#: On seeds 0-19 of the revised bundled model (211 coordinates: clusters, 16 sources): 20 of 20
#: converged, 19 at the first pass and seed 11 after one extension (first pass R-hat 1.0122);
#: largest R-hat 1.0093, smallest ESS_bulk 972, 5.0 CPU s median in a fast hour (re-run
#: 2026-12-02 19:58 UTC at commit e856d88, and the same figures on 2026-12-03 10:17 UTC at
#: 8ad5cb2, 3.7 CPU s median on an idle machine; 20 of 20 at the first pass with 1.0088, 722 and
#: 8.8 at commit cfe839c, and with 1.0083, 959 and 6.0 on 2026-12-01;
#: tools/bundled_model_record.py --seeds 0-19; docs/bundled-model-review.md).
#: Synthetic worlds (studies.convergence, worlds 0-29, extensions included): with up to 3
#: extensions 28 of 30 at 30% reporting (Wilson 95% 79-98%; 7.5 CPU s median per fit) and 23
#: of 30 at 60% (59-88%; 9.5 CPU s median); with more (DEFAULT_EXTENSIONS) see there.
#: The previous defaults (2,000 / 500 / 0.9,
#: low-rank) passed 9 of 10 at each design on worlds 0-9 but cost several times more on the
#: bundled model (see DEFAULT_ADAPTATION). target_accept 0.8 had made the calibration study
#: worse (test_calibration_on_60_worlds), so 0.9 stays.
DEFAULT_DRAWS = 1000
DEFAULT_TUNE = 300
DEFAULT_TARGET_ACCEPT = 0.9
#: Mass matrix adaptation (nutpie's ``adaptation``). nutpie's low-rank modified mass matrix
#: (Seyboldt et al. 2024) learns the oblique directions that join two readings of the
#: evidence (diagnosed in tests/test_convergence.py), but its adaptation cost grows faster
#: than linearly with tuning length and dimension (nutpie 0.16.11): on the bundled model,
#: 2 chains x 300 tuning steps took 31 CPU s with it and 1.8 s with the diagonal one;
#: 4 x 1,000 draws after 150 tuning steps took 19 CPU s median (66 max), with 58 divergences
#: and 1 of 3 seeds failing, and after 300 tuning steps 79 CPU s. The extensions below do the
#: crossing instead, at a fraction of the cost; ``SamplerSettings(adaptation="low_rank")``
#: remains available.
DEFAULT_ADAPTATION = "diag"
#: Extensions of a default forecast that fails the convergence check: each continues every
#: chain from where it stopped for as many draws again (:func:`extend_run`), so a chain that
#: moves slowly between the readings visits them in proportion; up to 32x the draws in all
#: (fewer for a model whose chain posteriors would not fit ``forecast.EXTENSION_MEMORY``).
#: Only failing fits pay for them, so the bundled model (which passes at the first pass)
#: costs what it did. Measured on synthetic worlds 0-29 at 60% reporting
#: (tools/convergence_trace.py, 2026-12-01, load average 4-6; CPU s per fit, all threads):
#: with up to 3 extensions 23 of 30 passed (Wilson 95% 59-88%; 15.6 CPU s median, 61 max),
#: with up to 7, 26 of 30 (70-95%; 15.6 median, 121 max): worlds 2, 10, 11 passed after
#: 6, 4, 6. The failures at the first pass are slow crossings, not R-hat noise from the max
#: over 213 probabilities (100-213 of them fail at once). Where the first-pass R-hat is at
#: most about 1.08, R-hat - 1 falls about as 1/draws (world 0: 0.049, 0.022, 0.014, 0.0085
#: after 1-4 x 1,000 draws; world 10: 0.059, 0.027, 0.016, 0.011, 0.0076) or, with rarer
#: crossings, in steps (world 11 passed R-hat at 3,000 draws with ESS_bulk 249, then moved
#: between 1.006 and 1.012). Each extension costs about 14 CPU s on these worlds. At 30%
#: reporting (same tool and load) 28 of 30 with up to 3 and with up to 7 (79-98%; 10.0 CPU s
#: median, 42 and 73 max).
#: The four worlds still failing at 60% after 7 and the two at 30%, followed to 15 with the
#: kernel of commit 7246c2d (2026-12-01 evening, load 2-4, two at a time): at 60% worlds 28
#: and 22 passed after 8 and 9 (133 and 156 CPU s), world 19 after 15 (R-hat 1.0091, ESS_bulk
#: 630, 297 CPU s) and world 1 never (R-hat 1.011-1.018 from the 9th on, 277 CPU s; its
#: posterior needs about 8 x 8,000 draws, tools/two_readings.py); at 30% world 1 passed after
#: 6 (90 CPU s) and world 13 never (1.0101-1.016 from the 8th on, 176 CPU s).
#: Then the pass rate at 15 (tools/convergence_rate.py, same kernel, 19:36-20:15 UTC, two
#: chunks of 10 worlds at a time, load 2-3): at 30%, worlds 0-29, 29 of 30 (Wilson 95%
#: 83-99%; world 1 passed after 9, world 13 failed; CPU s per fit 8.8 median, 20.3 mean,
#: 183 max); at 60%, worlds 0-49, 46 of 50 (81-97%; 18, 19, 22, 28 and 49 passed after 13,
#: 10, 9, 8 and 14; 1, 7 and 41 failed on R-hat, 37 on ESS_bulk (241) with R-hat 1.0082;
#: 15.4 CPU s median, 64.7 mean, 305 max). The same runs stopped at 7 would have passed 28
#: of 30 and 41 of 50 (82%, 69-90%). Hence 15: the answer is provisional for fewer worlds,
#: at up to about 300 CPU s (278-319 s of wall time in those runs, two at a time on the 2
#: cores) for the few that need every one.
#: Measured again at 15 (tools/convergence_rate.py, 2026-12-01 22:17 to 00:03 UTC, two or
#: three runs sharing the 2 cores, load 2-4; worlds 0-14 and 50-99 at 60% and every 30% world
#: anew, 60% worlds 15-49 from the run above): at 60%, worlds 0-99, 93 of 100 (Wilson 95%
#: 86-97%; failing 1, 7, 37, 41, 57, 59 and 65, world 57 with R-hat 1.07 after 16,000 draws;
#: CPU s per fit 16.6 median, 59.1 mean, 369 max); at 30%, worlds 0-49, 50 of 50 (93-100%;
#: 9.6 median, 22.2 mean, 143 max). Warm updates (a refit continued by 1,000 draws a round
#: since): 30 of 30 at 30% (worlds 0-29; 14 by PSIS) and 14 of 15 at 60% (worlds 0-14; world
#: 13's refit failed after 15 continuations, R-hat 1.023, where its fresh fit passed at once:
#: started from the month before's posterior, some chains sit in a reading the fit never saw).
#: World 13 at 30% failed after 15 in two runs of its seed and passed after 11 in a third:
#: until engine.sampler.ChainStarts, a continued forecast was not repeatable.
#: Then 30% worlds 30-99 with warm updates (tools/convergence_rate.py --warm, commit 07cdf50,
#: 2026-12-02 00:59-02:12 UTC, chunks of 10 worlds, load 1-6 from other runs): fits 68 of 70
#: (worlds 59 and 64 fail: R-hat 1.076 with ESS_bulk 39, and 1.013, after 15) and updates 69
#: of 70 (world 59's, R-hat 1.13). With worlds 0-29 above: at 30%, worlds 0-99, fits 98 of
#: 100 (Wilson 95% 93-99%; CPU s 9.6 median, 23.3 mean, 222 max) and warm updates 99 of 100
#: (95-100%; 53 by PSIS, 47 refits; 1.9 median, 17.4 mean, 245 max). At 60%, worlds 15-29 with
#: warm updates (same commit, 02:10-02:45 UTC, load about 2): fits and updates 15 of 15 (world
#: 19's after 12 and 15 extensions, 251 and 330 CPU s); with worlds 0-14 above, worlds 0-29:
#: fits 28 of 30 (1 and 7 fail) and warm updates 29 of 30 (Wilson 95% 83-99%; 13 fails; 12 by
#: PSIS, 18 refits; CPU s 19.3 median, 69.5 mean, 337 max). Then 60% worlds 30-99 with warm
#: updates (commit 2253c41, 2026-12-02 03:36-05:27 UTC, two chunks at a time, load 2-5):
#: fits 65 of 70 (37, 41, 49, 57, 65 fail; 49 had passed after 14 at the run above, 59 had
#: failed and passed now after 9: verdicts near the edge differ between runs) and updates 67
#: of 70 (37, 65, 75 fail). With worlds 0-29, at 60%, worlds 0-99: fits 93 of 100 (Wilson 95%
#: 86-97%; CPU s 17.0 median, 59.9 mean, 361 max) and warm updates 96 of 100 (90-98%; failing
#: 13, 37, 65, 75; 43 by PSIS, 57 refits; 11.1 median, 47.2 mean, 337 max).
#: Then the cap raised from 15 to 31, with :data:`TREND_FROM` and :data:`TREND_SLACK`. First
#: followed with tools/convergence_trace.py --extensions 31 (commit 5db9731, 2026-12-02
#: 06:10-06:32 UTC, two runs at a time, load 3-4): at 60% world 49 passed after 16 (R-hat
#: 1.0095, ESS_bulk 443), world 37 after 22 (1.0054, 402; R-hat 1.0154, 1.0126, 1.0169, 1.0123,
#: 1.0072 over rounds 15-19), world 7 after 9 (it had failed after 15 at an older commit), and
#: world 65 failed after 31 (R-hat 1.026 after 15, 1.0144 after 31, ESS_bulk 498). Then all 100
#: worlds at 60% in one go at the new defaults (tools/convergence_rate.py, commit d54f221,
#: 06:33-07:28 UTC, two chunks of 5 worlds at a time, load 2-4): fits 97 of 100 (Wilson 95%
#: 91.5-99.0%; CPU s per fit 16.6 median, 62.6 mean, 519 max; 60 passed at the first pass).
#: Worlds 1 and 49 passed after 16, world 37 after 22: 94 of 100 at the old cap. The three
#: failures were stopped by the trend: 41 and 57 after 15 (R-hat 1.027 and 1.063, ESS_bulk 120
#: and 51), 65 after 19 (1.026, 191), at 322-460 CPU s; 65 had failed after 31 in the trace.
#: Then all 100 worlds at 30% with warm updates in one go (same tool and commit, --warm,
#: 07:36-08:20 UTC, load 2-4): fits 99 of 100 and warm updates 99 of 100 (Wilson 95% 94.6-99.8%
#: each; fits 8.5 CPU s median, 19.3 mean, 288 max; updates 53 by PSIS, 47 refits, 1.2 median,
#: 12.8 mean, 184 max). World 64 passed after 22 (it had failed after 15 at an older commit);
#: world 59 failed both, stopped by the trend after 15 (fit R-hat 1.076, ESS_bulk 39; update
#: 1.13, 21). Warm updates at 60% were not re-run at this cap: 96 of 100 at 15 (above); the
#: first 15 continuations are made as before, so none passes less.
#: Then with a warm refit's first round raised from 600 to 1,000 draws (forecast.WARM_DRAWS),
#: 30% with warm updates in one go again (commit d6f1c01, 10:15-11:02 UTC, two chunks of 5
#: worlds at a time, load 2-5): fits 99 of 100 and warm updates 99 of 100 (Wilson 95%
#: 94.6-99.8% each; world 59 fails both, stopped by the trend after 15); updates 53 by PSIS,
#: 47 refits (32 of them continued at least once; refit CPU s 12.9 median, 27.1 mean); all
#: updates 0.9 CPU s median, 13.0 mean, 182 max; fits 8.4 median, 19.8 mean, 297 max.
#: And 60%, worlds 0-29 with warm updates (same commit, 11:12-11:59 UTC, load 2-3; stopped
#: there for time): fits 30 of 30 and warm updates 30 of 30 (Wilson 95% 88.6-100% each), where
#: stop 22 (cap 15, refits of 600 draws) had 28 and 29 of 30; world 1's fit passed after 16
#: continuations, and world 13's update (a refit that failed after 15 there) at the first pass.
#: Updates 12 by PSIS, 18 refits (12 continued); CPU s 12.1 median, 49.0 mean, 324 max.
#: Then worlds 30-54 (commit 05f85e2, same sampler and defaults) and 55-99 (commit ac05125,
#: same again; 2026-12-02 12:35-17:00 UTC, two chunks of 5 at a time at nice 19, paused during
#: benchmarks): with worlds 0-29, at 60% worlds 0-99 with warm updates, fits 97 of 100 (Wilson
#: 95% 91.5-99.0%; failing 41, 57 and 65, stopped by the trend after 15, 15 and 19) and warm
#: updates 100 of 100 (96.3-100%; 43 by PSIS, 57 refits; CPU s 13.7 median, 50.2 mean, 696
#: max; world 65's update passed after 26 continuations, 37's after 20, 75's after 15).
#: Then with warm refits in whitened coordinates (engine.whitening.Whitening, commit 6a7f284;
#: tools/convergence_rate.py --warm, 2026-12-03 07:02-08:01 UTC, the two designs side by side,
#: load about 4): at 30%, worlds 0-99, fits 99 of 100 (world 59 fails, as before) and warm
#: updates 98 of 100 (Wilson 95% 93-99%; 59 and 64 fail; 49 by PSIS, 51 refits; CPU s 3.3
#: median, 11.2 mean, 259 max); at 60%, worlds 0-29, fits 30 of 30 and warm updates 29 of 30
#: (83-99%; world 13's refit failed after 31 continuations on ESS_bulk 326, R-hat 1.0072; 14
#: by PSIS, 16 refits). The same two updates at f3808ab (before whitening): world 13's failed
#: too (stopped by the trend after 15, R-hat 1.031); world 64's passed at once, its chains'
#: horizon means within 0.005 of each other. A whitened refit with starts at the draws
#: themselves did the same, at a first scenario's 0.964 where a fresh fit gives 0.860: one
#: reading reported as converged. The moved starts found the spread (Whitening).
#: Then 60% worlds 30-59 with warm updates (same commit, 08:33-09:06 UTC, two chunks of 5 at a
#: time, nothing else running): fits 30 of 30, warm updates 29 of 30; with worlds 0-29, 58 of 60
#: (Wilson 95% 89-99%). World 55's refit failed, stopped by the trend after 17 (R-hat 1.026,
#: chain spread 0.16). It had passed at ac05125, but failed at f3808ab too, just before whitening
#: (stopped after 15; third scenario 0.874, chains 0.76-0.96). Its evidence has two readings: NUTS with
#: 8 chains x 8,000 draws (tools/two_readings.py) left 7 chains in one (third scenario 0.977)
#: and one split 42/58 between it and another (0.42); bridge sampling gives the first 0.946 of
#: the mass and a horizon mean of 0.925. The fresh default fit passed at once at 0.978, all four
#: chains in the first reading; the refit, started from the month before's unconverged
#: posterior (0.753), had chains in both (0.875 in all) and said it had not converged.
#: World 13's evidence (60%) is harder still: 8 chains x 8,000 draws end at 0.67-0.98 for the
#: third scenario (R-hat 1.057), so its failing refit is honest too.
#: Then 60% worlds 60-99 (same engine, 09:15-09:50 UTC, two chunks of 5 at a time, nothing else
#: running): fits 40 of 40, warm updates 40 of 40 (20 by PSIS). At 60%, worlds 0-99: fits 100 of
#: 100 (Wilson 95% 96.3-100%; CPU s 7.0 median, 31.3 mean, 397 max; 41, 57 and 65 passed after
#: 18, 15 and 29) and warm updates 98 of 100 (93.0-99.4%; 13 and 55 fail; 51 by PSIS, 49
#: refits; 1.3 median, 30.4 mean, 445 max).
DEFAULT_EXTENSIONS = 31
#: Continuations made whatever the trend: the cap before it was raised to 31, so no fit
#: passes later than it did then. Past it a fit is continued only while the check looks
#: reachable: R-hat - 1 and 1 / ESS_bulk fall about as 1 / draws for chains that visit the
#: readings in proportion (the record above), so the draws per chain the check needs are
#: projected as ``draws * max((R-hat - 1) / (RHAT_MAX - 1), ESS_MIN / ESS_bulk)``
#: (``forecast._projected_draws``) and the chains stop when that exceeds :data:`TREND_SLACK` times
#: the draws at the cap.
TREND_FROM = 15
#: How far beyond the cap's draws a projection may reach and the chains still be continued:
#: R-hat moves by a few thousandths between rounds (world 37 at 60%: 1.0154, 1.0126, 1.0169,
#: 1.0123, 1.0072 over rounds 15-19), so one round's projection is rough.
TREND_SLACK = 1.5
#: Tuning steps before an extension's draws (the chains start in the posterior already).
EXTENSION_TUNE = 200
#: Mass matrix adaptation of an extension (None: the first pass's). Not low-rank: on world 1
#: at 60% (the slowest measured) low-rank continuations took 31-50 CPU s each instead of
#: about 14, produced 72 divergences (which fail the check for good) and reached R-hat 1.011
#: after 7 extensions against 1.026 with the diagonal one; kept so tools can measure others.
EXTENSION_ADAPTATION: str | None = None
# Also measured and not adopted (2026-12-01, a branch not merged): extensions sampled in
# whitened coordinates x = mu + L z, with mu and L L^T the mean and (10% diagonal-shrunk)
# covariance of every draw so far, through the compiled callback. Worlds 0-29 at 60%, up to
# 7 extensions, load average 2.5-6: 27 of 30 passed (Wilson 95% 74-97%) against 26 of 30
# without it in the same session; the one gain (world 19) passed at its 7th extension, within
# run-to-run noise (a world's number of extensions varies between identical runs). Steps per
# draw 16.2 against 15.3, 16.9 CPU s per extension against 15.6; the 1,000 new draws of one
# extension had a median smallest ESS_bulk of 129 against 141. Whitening stretches the path
# between the two readings; it does not widen the narrow passage the chains have to cross.
# Also measured on world 1 at 60% (tools/two_readings.py, 2026-12-01 evening, load 1-4): the
# posterior needs about 8 chains x 8,000 draws to pass (R-hat 1.0098, ESS_bulk 653; first
# scenario's horizon probability 0.455), and neither remedy gets there for less: the readings'
# masses by bridge sampling with a Gaussian per reading moved short runs further from that
# value (0.57-0.69 against the plain draws' 0.51-0.59), and likelihood-tempered SMC with
# 1,600 particles gave 0.45-0.52 (sd 0.028 over 4 runs) at the long NUTS run's cost.


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings; defaults :data:`DEFAULT_DRAWS`, :data:`DEFAULT_TUNE`, :data:`DEFAULT_TARGET_ACCEPT`."""

    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    chains: int = 4
    target_accept: float = DEFAULT_TARGET_ACCEPT
    seed: int | None = None
    adaptation: str = DEFAULT_ADAPTATION

    def as_attrs(self) -> dict[str, Any]:
        """Settings as netCDF-safe attributes."""
        return {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
            "seed": -1 if self.seed is None else self.seed,
            "adaptation": self.adaptation,
        }


@dataclass
class EngineRun:
    """What the engine hands to :class:`~syriaforecast.forecast.Forecast`."""

    mode: str  # "hierarchical" or "exact"
    n_asof: int  # periods 0..n_asof-1 are reported
    horizon_index: int
    chain: ChainPosterior  # arrays with a draw axis of chains * draws
    chains: int
    draws: int
    parameters: dict[str, np.ndarray] = field(default_factory=dict)  # (chains, draws, ...)
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)  # (chains, draws)
    timings: dict[str, float] = field(default_factory=dict)
    # Labels of parameter dimensions the evidence defines (``source``), beyond the model's.
    parameter_coords: dict[str, list[str]] = field(default_factory=dict)
    # What the coupled components' exact sums cost beyond the reports' count, in reports
    # (EngineData.coupled_work): the sampling work cap counts it, continuations included.
    coupled_work: int = 0
    # The sampler's coordinates, when whitened (a warm refit's); its continuations keep them.
    whitening: Whitening | None = None


#: A whitened (warm-started) run's step size stays within this factor of the one it starts from.
#: Its chains start in the posterior at the previous fit's step size, but dual averaging first
#: tries steps up to 7 times larger (1.2-1.7 against 0.25 on the bundled model); these diverge,
#: and a few divergences drive the step size to about 0.001 for the next 20 tuning draws, at
#: 1,023 leapfrog steps each. Before whitening and this cap, 6 of 8 refits of the bundled model
#: had a chain whose tuning took 5,000-11,500 evaluations (6,000 would do for all four chains);
#: see :class:`~syriaforecast.engine.whitening.Whitening` for the combined effect. The cap does
#: not bind at the end: a whitened refit's final step sizes were 0.87-1.18 times the previous
#: fit's (bundled model, seeds 1-6, 24 chains).
WARM_STEP_GROWTH = 2.0


def n_chain_periods(model: ScenarioModel) -> int:
    """The chain runs from the first period through the horizon's period."""
    return model.horizon_index + 1


def asof_periods(model: ScenarioModel, as_of: dt.date) -> int:
    """Number of reported periods: first period through the as-of date's (capped at the horizon)."""
    return max(1, min(model.period_index(as_of) + 1, n_chain_periods(model)))


def _coords(model: ScenarioModel) -> dict[str, list[str]]:
    coords = {
        "scenario": list(model.scenario_ids),
        "scenario_to": list(model.scenario_ids),
        "indicator": list(model.indicator_ids),
        "group": list(model.groups),
        "period": model.period_labels(n_chain_periods(model)),
    }
    if model.analysts:
        coords["analyst"] = list(model.analysts)
    if model.drivers:
        coords["driver"] = list(model.driver_ids)
    if model.clusters:
        coords["cluster"] = [c.id for c in model.clusters]
    return coords


# --------------------------------------------------------------------------- run
def run_engine(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    *,
    exact: bool,
    settings: SamplerSettings,
    progress: bool = False,
    init_points: np.ndarray | None = None,
    initial_step: float | None = None,
    init_cycle: bool = False,
    assume: Mapping[str, Mapping[int, int]] | None = None,
    whitening: Whitening | None = None,
) -> EngineRun:
    """Compute the chain posterior given the evidence dated on or before ``as_of``.

    ``init_points`` (n, ndim) are unconstrained positions the chains start from
    (see :func:`~syriaforecast.engine.sampler.pack_draws`) and ``initial_step``
    the step size adaptation starts from: a refit warm-started from a previous
    posterior. ``assume`` (driver id -> {period index: 0 or 1}) fixes drivers from
    those periods on: a conditional forecast. Assumptions change only the moves into
    those periods, so they should lie after ``as_of`` (the caller checks).
    With ``init_cycle`` the chains take the points one each, each chain the same point in
    every run of the same seed (:class:`~syriaforecast.engine.sampler.ChainStarts`),
    instead of one at random. With ``whitening`` the chains sample in whitened
    coordinates (:class:`~syriaforecast.engine.whitening.Whitening`; ``init_points`` are
    still positions, and so are the draws): the posterior is the same.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    seen = evidence.up_to(as_of)
    if not exact:  # too much sampling work is refused before any (exact mode: seconds at any size)
        check_sampling_work(len(seen), draws=settings.draws, tune=settings.tune, chains=settings.chains)
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    data = build_engine_data(model, arrays, seen, n_periods, assume)
    coupled = 0 if exact else data.coupled_work
    if coupled:  # the count above cannot see that linked reports cost 2^n patterns each evaluation
        check_sampling_work(
            len(seen), draws=settings.draws, tune=settings.tune, chains=settings.chains, coupled=coupled
        )
    n_asof = asof_periods(model, as_of)
    timings["prepare"] = time.perf_counter() - start

    if exact:
        start = time.perf_counter()
        params = exact_parameters_for(model)
        terms = chain_terms_for_draws(model, data, params, arrays=arrays)
        chain = chain_posterior(terms)
        timings["compute"] = time.perf_counter() - start
        return EngineRun(
            "exact",
            n_asof,
            n_periods - 1,
            chain,
            1,
            1,
            parameters={k: v[None] for k, v in params.items()},
            timings=timings,
        )

    from syriaforecast.engine.callback import import_nutpie

    nutpie = import_nutpie()
    start = time.perf_counter()

    from syriaforecast.engine.sampler_guard import check_model_density, sampler_failures

    what = f"model {model.id!r}"
    if whitening is not None and init_points is not None:
        init_points = whitening.to_sampler(init_points)
    starts = ChainStarts(init_points) if init_cycle and init_points is not None and len(init_points) else None
    compiled, expand = build_fast_sampler_model(
        arrays, data, _coords(model), init_points=init_points, starts=starts, whitening=whitening
    )
    # A density that is nowhere finite would make every chain fail inside nutpie (and can crash
    # the interpreter on exit): refuse it here with a SamplerError instead. Checked through the
    # C callback nutpie will call, then (only if that fails everywhere) through the kernel's
    # dispatcher, which raises Python exceptions (a C callback can only report codes).
    check_model_density(
        arrays, data, seed=settings.seed or 0, what=what, compiled=compiled if expand is not None else None
    )
    extra = {} if initial_step is None else {"initial_step": float(initial_step)}
    if whitening is not None and initial_step is not None:
        extra["max_step_size"] = WARM_STEP_GROWTH * float(initial_step)
    timings["compile"] = time.perf_counter() - start

    def sample(draws: int, tune: int, progress_bar: bool) -> Any:
        with warnings.catch_warnings(), sampler_failures(what):
            warnings.filterwarnings("ignore", category=FutureWarning)
            return nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=settings.chains,
                seed=settings.seed if settings.seed is not None else 0,
                target_accept=settings.target_accept,
                progress_bar=progress_bar,
                cores=min(settings.chains, 2),
                adaptation=settings.adaptation,
                return_raw_trace=True,  # arrays straight from nutpie's Arrow tables (callback.trace_arrays)
                **extra,
            )

    start = time.perf_counter()
    if starts is not None:
        # The seeds the chains will ask with, from a run of one draw with the same seed and
        # settings (the chains' seeds do not depend on the number of draws), so that each chain
        # takes the same start in every run whatever order nutpie's threads ask in.
        starts.asked.clear()
        sample(1, 1, False)
        starts.seeds = tuple(sorted(set(starts.asked)))
    trace = sample(settings.draws, settings.tune, progress)
    timings["sample"] = time.perf_counter() - start

    from syriaforecast.engine.callback import UNCONSTRAINED, expand_draws, trace_arrays

    start = time.perf_counter()
    posterior, stats = trace_arrays(trace)
    chains, draws = stats["diverging"].shape[:2]
    D = chains * draws
    if expand is not None:  # the compiled callback's draws are unconstrained positions
        posterior = expand_draws(posterior[UNCONSTRAINED], expand)

    optional: tuple[str, ...] = ANALYST_PARAMETER_NAMES + TRANSITION_PARAMETER_NAMES
    optional += CLUSTER_PARAMETER_NAMES + SOURCE_PARAMETER_NAMES
    names = PARAMETER_NAMES + optional
    parameters = {name: np.asarray(posterior[name]) for name in names if name in posterior}
    fixed = exact_parameters_for(model)
    flat = {
        name: (
            parameters[name].reshape((D, *parameters[name].shape[2:]))
            if name in parameters
            else np.broadcast_to(fixed[name][0], (D, *fixed[name].shape[1:]))
        )
        for name in PARAMETER_NAMES
    }
    flat |= {
        name: parameters[name].reshape((D, *parameters[name].shape[2:]))
        for name in optional
        if name in parameters
    }
    source_coords = {"source": list(data.source_names)} if "source_offset" in parameters else {}
    if source_coords:
        flat[SOURCE_LABELS] = np.asarray(data.source_names, dtype=str)
    chain = _draws_chain_posterior(model, data, flat, arrays)
    sample_stats: dict[str, np.ndarray] = {
        name: np.asarray(stats[name])
        for name in ("diverging", "depth", "n_steps", "energy", "step_size", "mean_tree_accept")
        if name in stats
    }
    timings["postprocess"] = time.perf_counter() - start
    return EngineRun(
        "hierarchical",
        n_asof,
        n_periods - 1,
        chain,
        chains,
        draws,
        parameters=parameters,
        sample_stats=sample_stats,
        timings=timings,
        parameter_coords=source_coords,
        coupled_work=coupled,
        whitening=whitening,
    )


#: Threads that share a fit's post-processing (the compiled kernels release the GIL).
POSTPROCESS_THREADS = 2


def _draws_chain_posterior(
    model: ScenarioModel, data: EngineData, params: Mapping[str, np.ndarray], arrays: ModelArrays
) -> ChainPosterior:
    """Each draw's chain posterior, the draws split between :data:`POSTPROCESS_THREADS` threads.

    Every draw's chain terms and forward-backward pass are computed on their own,
    so the split changes no number; it halves the wall time of the largest step
    after sampling on two cores (4,000 draws of the bundled model).
    """
    D = len(params["initial_probability"])
    threads = max(1, min(POSTPROCESS_THREADS, D // 500))

    def evaluate(index: slice) -> ChainPosterior:
        subset = {k: v if k == SOURCE_LABELS else np.asarray(v)[index] for k, v in params.items()}
        return chain_posterior(chain_terms_for_draws(model, data, subset, arrays=arrays))

    if threads == 1:
        return evaluate(slice(None))
    blocks = [slice(k * D // threads, (k + 1) * D // threads) for k in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(evaluate, blocks))
    fields = ("filtered", "smoothed", "log_likelihood")
    return ChainPosterior(*(np.concatenate([getattr(p, name) for p in parts]) for name in fields))


def extend_run(
    model: ScenarioModel,
    evidence: Evidence,
    as_of: dt.date,
    run: EngineRun,
    settings: SamplerSettings,
    *,
    seed: int,
    assume: Mapping[str, Mapping[int, int]] | None = None,
) -> EngineRun:
    """``run`` with every chain continued for ``settings.draws`` more draws.

    Each new chain starts where one of ``run``'s chains stopped (one each), at
    ``run``'s last step size, tunes for :data:`EXTENSION_TUNE` steps (discarded;
    the start is already a posterior draw) and its draws are appended to that
    chain's. nutpie does not say which start a chain took, so a chain's appended
    half may continue another chain: both halves are draws of the posterior, and
    split R-hat compares them, so a chain stuck in one reading still shows.
    The returned run has ``run.draws + settings.draws`` draws per chain.
    ``assume`` is the run's conditional-forecast assumptions (see :func:`run_engine`).
    """
    from syriaforecast.engine.data import build_model_arrays as arrays_of
    from syriaforecast.engine.sampler import pack_draws

    C, N = run.chains, run.draws
    last = {name: values[:, -1] for name, values in run.parameters.items()}
    fixed = exact_parameters_for(model)
    last |= {
        name: np.broadcast_to(fixed[name][0], (C, *fixed[name].shape[1:]))
        for name in PARAMETER_NAMES
        if name not in last
    }
    # Every block the sampler samples (sources and clusters included) is inverted exactly,
    # so each chain continues from its own last position (tests/test_convergence.py).
    sources = tuple(run.parameter_coords.get("source", ()))
    if sources:
        last[SOURCE_LABELS] = np.asarray(sources, dtype=str)
    starts = pack_draws(arrays_of(model), last, sources)
    step = run.sample_stats.get("step_size")
    initial_step = float(np.median(step[:, -1])) if step is not None else None
    more = run_engine(
        model,
        evidence,
        as_of,
        exact=False,
        settings=SamplerSettings(
            draws=settings.draws,
            tune=min(settings.tune, EXTENSION_TUNE),
            chains=C,
            target_accept=settings.target_accept,
            seed=seed,
            adaptation=EXTENSION_ADAPTATION or settings.adaptation,
        ),
        init_points=starts,
        initial_step=initial_step,
        init_cycle=True,
        assume=assume,
        whitening=run.whitening,
    )
    M = more.draws

    def joined(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Flat (C * draws, ...) arrays of both runs, chain by chain."""
        a = old.reshape((C, N, *old.shape[1:]))
        b = new.reshape((C, M, *new.shape[1:]))
        return np.concatenate([a, b], axis=1).reshape((C * (N + M), *old.shape[1:]))

    chain = ChainPosterior(
        joined(run.chain.filtered, more.chain.filtered),
        joined(run.chain.smoothed, more.chain.smoothed),
        joined(run.chain.log_likelihood, more.chain.log_likelihood),
    )
    timings = dict(run.timings)
    for key, value in more.timings.items():
        timings[key] = timings.get(key, 0.0) + value
    return EngineRun(
        run.mode,
        run.n_asof,
        run.horizon_index,
        chain,
        C,
        N + M,
        parameters={k: np.concatenate([v, more.parameters[k]], axis=1) for k, v in run.parameters.items()},
        sample_stats={
            k: np.concatenate([v, more.sample_stats[k]], axis=1)
            for k, v in run.sample_stats.items()
            if k in more.sample_stats
        },
        timings=timings,
        parameter_coords=run.parameter_coords,
        coupled_work=run.coupled_work,
        whitening=run.whitening,
    )
