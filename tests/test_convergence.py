"""Convergence at the default sampler settings (issue #14: posteriors an analyst can trust).

The defaults (``engine.run.DEFAULT_DRAWS`` / ``DEFAULT_TUNE`` / ``DEFAULT_TARGET_ACCEPT`` /
``DEFAULT_ADAPTATION``) were chosen by measurement (tools/sampler_candidates.py; the figures
are beside the constants): a cheap first pass, whose chains are continued while the check
fails (``engine.run.extend_run``). The bundled model's posterior has two readings of the
evidence that the chains visit in turn; the check is the same on all the draws."""

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
# study's realistic (30% of indicators reported a month) and dense (60%) designs
# (syriaforecast.studies.convergence; tools/convergence_rate.py prints the rates).
#
# What the failures were (8 worlds at 60%, seed 14, diagonal mass matrix, 2,000 draws):
# the hyperparameters agree across chains (per-chain means of the elicitation error
# scales within 0.1, persistence and grade reliabilities within 0.01), so it is not a
# weakly identified scale or a centred funnel (the errors are already non-centred).
# The chains differ in the errors of one or two indicators in two scenarios at once
# (world 7: indicators 14 and 32 in scenarios 0 and 2, chain means 1.5-1.95 in some
# chains and 0-0.4 in others): which scenario's likelihoods explain a run of recent
# reports, and with it the horizon probability (chain means 0.02-0.22). The per-chain
# mean log densities agree within 1-2 nats, and chains do cross: two readings of
# comparable mass joined by a narrow, oblique passage. A reparameterisation cannot
# remove that; what helps is a mass matrix that learns the oblique direction (nutpie's
# low-rank adaptation) and chains long enough to cross it often (extend_run).
BASE = Path(__file__).parent / "data" / "synthetic_russia_syria.toml"


def _verdicts(rate: float, n_worlds: int, first_world: int = 0, warm: bool = False):
    from syriaforecast.studies.convergence import convergence_study

    table = convergence_study(BASE, report_rate=rate, n_worlds=n_worlds, first_world=first_world, warm=warm)
    print(table.round(4).to_string(index=False))
    return table


@pytest.mark.parametrize(
    ("rate", "world"),
    # World 10 (about 70 CPU s, the longest test of the file) runs with the slow tests; the
    # continuation itself stays in the default suite (test_extended_chains_agree_with_...).
    [(0.6, 5), pytest.param(0.6, 10, marks=pytest.mark.slow)],
)
def test_default_forecasts_of_dense_worlds_converge(rate, world):
    """Default forecasts of worlds at 60% monthly reporting pass the check.

    World 5 has one reading: it passes at the first pass with either kernel of 2026-12-01
    (R-hat 1.0039 and 1.0029, ESS_bulk 2209 and 2381, before and after the kernel's
    probability-space products). World 10 failed with up to 3 extensions (R-hat 1.0114 after
    4,000 draws; first pass 1.059) and passed after its 3rd or 4th, depending on the kernel's
    rounding: the cap of 7 at work, about 70 CPU s.

    World 7 used to be the default-suite case and shows why issue #14's bar is a rate over
    many worlds: its posterior has two readings whose horizon means differ by about 0.3.
    With the kernel before the probability-space products all four chains settled in one
    reading and the check passed at the first pass (R-hat 1.0028, ESS_bulk 2982); with the
    kernel after them, whose density and gradient agree with it to 2e-16 and 3e-12 relative
    on that world, the chains split between the readings and the check failed after 7
    extensions (R-hat 1.068, ESS_bulk 39, chains' horizon means 0.32 apart). The failing
    verdict is the truthful one; the passing one hid a reading no chain had found.
    """
    table = _verdicts(rate, 1, first_world=world)
    assert table["converged"].all()
    assert int(table["extensions"].iloc[0]) <= 7


@pytest.mark.slow
@pytest.mark.timeout(8 * 3600)
@pytest.mark.parametrize("rate", [0.3, 0.6])
def test_default_forecasts_of_100_synthetic_worlds_converge(rate):
    """Issue #14's bar: at least 95 of 100 default forecasts pass the check, and 95% of warm updates.

    About 1-2 CPU hours per design; the records below ran it in chunks of worlds
    (tools/convergence_rate.py --warm --first N --worlds K, two at a time). Measured at
    the defaults of 2026-12-01 (1,000 / 300 / 0.9, diagonal mass matrix, up to 3 extensions)
    with tools/sampler_candidates.py on worlds 0-29: fits 28 of 30 at 30% (Wilson 95%
    79-98%) and 23 of 30 at 60% (59-88%); warm updates of worlds 10-29 (1,000-draw refits),
    19 of 20 at 30% and 14 of 20 at 60%. With up to 7 extensions (DEFAULT_EXTENSIONS then;
    tools/convergence_trace.py, load average 4-6): fits of worlds 0-29 at 60% 26 of 30
    (70-95%; CPU s per fit 15.6 median, 121 max; failing: worlds 1, 19, 22, 28, whose
    crossings are too rare for 8 x 1,000 draws), at 30% 28 of 30 (79-98%;
    10.0 CPU s median, 73 max; failing: worlds 1 and 13, R-hat 1.0101 and 1.0107 and ESS_bulk
    274 and 383 after 7, the same two as with up to 3). With warm updates, at the cap of 7
    (this test's own loop in chunks of 10 worlds, kernel of commit 1718519, 2026-12-01,
    stopped after 95 minutes of both cores): at 30% worlds 0-69, fits 64 of 70 (Wilson 95%
    83-96%) and updates 65 of 70 (84-97%); at 60% worlds 0-29, fits 26 of 30 (70-95%) and
    updates 24 of 30 (63-90%). The failing fits at 60% followed to 15 extensions (the cap
    since; engine.run.DEFAULT_EXTENSIONS gives the record): 28, 22 and 19 passed after 8,
    9 and 15, world 1 never; at 30% world 13 never. At the cap of 15 (fits only,
    tools/convergence_rate.py): 30% worlds 0-29, 29 of 30 (Wilson 95% 83-99%); 60% worlds
    0-49, 46 of 50 (81-97%; failing 1, 7, 37, 41). Then (2026-12-01, 22:17-00:03 UTC;
    engine.run.DEFAULT_EXTENSIONS has the details): 60% worlds 0-99, 93 of 100 (Wilson 95%
    86-97%; failing 1, 7, 37, 41, 57, 59, 65); 30% worlds 0-49, 50 of 50; warm updates 30 of
    30 at 30% (worlds 0-29) and 14 of 15 at 60% (worlds 0-14). Then 30% worlds 30-99 with
    warm updates (2026-12-02): with worlds 0-29, fits 98 of 100 (Wilson 95% 93-99%; failing 59
    and 64) and warm updates 99 of 100 (95-100%; failing 59); at 60%, worlds 0-29, warm
    updates 29 of 30 (83-99%; failing 13). Then 60% worlds 30-99 with warm updates
    (2026-12-02): with worlds 0-29, fits 93 of 100 (Wilson 95% 86-97%; failing 1, 7, 37, 41,
    49, 57, 65) and warm updates 96 of 100 (90-98%; failing 13, 37, 65, 75). Then the cap
    raised to 31 with the trend's stop (engine.run.TREND_FROM; 2026-12-02, commit d54f221, all
    100 worlds at 60% in one go, fits only): 97 of 100 (Wilson 95% 91.5-99.0%; failing 41, 57
    and 65, stopped by the trend; 1 and 49 passed after 16, 37 after 22). At 30% in one go with
    warm updates (same commit): fits 99 of 100 and warm updates 99 of 100 (Wilson 95% 94.6-99.8%;
    world 59 fails both). Warm updates at 60% not yet run in one go at the new cap (96 of 100 at 15).
    With the warm refit's first round at 1,000 draws (forecast.WARM_DRAWS; commit d6f1c01), 30%
    in one go again: fits 99 of 100 and warm updates 99 of 100 (world 59 fails both).
    At 60%, worlds 0-29 (same commit): fits and warm updates 30 of 30; then worlds 30-99 at the
    same sampler and defaults: at 60%, worlds 0-99, fits 97 of 100 (Wilson 95% 91.5-99.0%;
    failing 41, 57, 65) and warm updates 100 of 100 (96.3-100%).
    With warm refits in whitened coordinates (engine.whitening.Whitening, 2026-12-03): at 30%,
    fits 99 of 100 and warm updates 98 of 100 (Wilson 95% 93.0-99.4%; 59 and 64 fail); at 60%,
    fits 100 of 100 and warm updates 98 of 100 (93.0-99.4%; 13 and 55 fail, both honest
    failures on evidence with two readings: engine.run.DEFAULT_EXTENSIONS).
    """
    from syriaforecast.studies.convergence import wilson_interval

    table = _verdicts(rate, 100, warm=True)
    for kind, rows in table.groupby("kind"):
        r = wilson_interval(int(rows["converged"].sum()), len(rows))
        print(f"rate {rate} {kind}: {r.passed}/{r.n} (95% Wilson {r.low:.2f}-{r.high:.2f})")
        assert r.passed >= 0.95 * r.n, rows[~rows["converged"]]


# --------------------------------------------------------------------------- extending chains
# The remedy for chains that move slowly between readings: continue every chain
# (engine.run.extend_run). Checked against an independent answer: importance sampling
# from the priors (studies.sbc.draw_prior_parameters) weighted by the likelihood the
# forward algorithm gives, on a small model whose ten reports keep that reliable.
TINY = Path(__file__).parent / "data" / "report_tiny.toml"


def _tiny():
    """The tiny report model and its evidence, cheap enough to sample in any test."""
    model = sf.load_model(TINY)
    return model, sf.load_evidence(TINY.with_name("report_tiny_evidence.csv"), model)


@pytest.fixture(scope="module")
def tiny_extended():
    from syriaforecast.engine.run import SamplerSettings, extend_run, run_engine

    model, evidence = _tiny()
    as_of = evidence.last_date
    settings = SamplerSettings(draws=600, tune=300, chains=4, seed=11)
    first = run_engine(model, evidence, as_of, exact=False, settings=settings)
    extended = extend_run(model, evidence, as_of, first, settings, seed=12)
    return model, evidence, as_of, first, extended


def test_extended_chains_continue_the_first_draws(tiny_extended):
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws

    model, evidence, as_of, first, extended = tiny_extended
    C, N = first.chains, first.draws
    assert (extended.chains, extended.draws) == (C, 2 * N)
    for name, values in first.parameters.items():
        np.testing.assert_array_equal(extended.parameters[name][:, :N], values)
    assert extended.sample_stats["diverging"].shape == (C, 2 * N)
    # The chain posterior is joined chain by chain: recomputed from the joined parameters, it matches.
    flat = {k: v.reshape((C * 2 * N, *v.shape[2:])) for k, v in extended.parameters.items()}
    again = chain_posterior(chain_terms_for_draws(model, evidence.up_to(as_of), flat))
    np.testing.assert_allclose(again.filtered, extended.chain.filtered, atol=1e-10)
    np.testing.assert_allclose(again.log_likelihood, extended.chain.log_likelihood, rtol=1e-10)


def test_extended_chains_agree_with_importance_sampling_from_the_prior(tiny_extended):
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.studies.sbc import draw_prior_parameters

    model, evidence, as_of, _, extended = tiny_extended
    rng = np.random.default_rng(5)
    draws = [draw_prior_parameters(model, rng) for _ in range(40_000)]
    prior = {k: np.stack([d[k] for d in draws]) for k in draws[0]}
    chain = chain_posterior(chain_terms_for_draws(model, evidence.up_to(as_of), prior))
    log_w = chain.log_likelihood - chain.log_likelihood.max()
    w = np.exp(log_w) / np.exp(log_w).sum()
    assert 1 / np.sum(w**2) > 2000  # the reference is itself reliable
    h = extended.horizon_index
    reference = w @ chain.filtered[:, h]
    sampled = extended.chain.filtered[:, h].reshape(extended.chains, extended.draws, -1)
    from syriaforecast.engine.diagnostics import ess_bulk

    mcse = sampled.reshape(-1, sampled.shape[-1]).std(axis=0) / np.sqrt(ess_bulk(sampled))
    np.testing.assert_array_less(np.abs(sampled.mean(axis=(0, 1)) - reference), 4 * mcse + 0.01)


def test_a_fit_that_fails_the_check_is_continued_and_the_check_applies_to_all_draws():
    from syriaforecast.engine.run import SamplerSettings
    from syriaforecast.forecast import _diagnostic_failures, _fit

    model, evidence = _tiny()
    # 2 chains x 60 draws cannot reach ESS_bulk 400, so every round fails: both extensions run.
    settings = SamplerSettings(draws=60, tune=200, chains=2, seed=3)
    result = _fit(model, evidence, evidence.last_date, settings, False, extensions=2)
    assert result.attrs["sampler_extensions"] == 2
    assert result.horizon.sizes["draw"] == 180
    assert _diagnostic_failures(result.diagnostics)
    assert "already continued 2 times, to 180 draws" in result.convergence_advice()
    assert "sampler_extensions_stopped" not in result.attrs  # the cap stopped it, not memory
    # Explicit draws are what the user asked for: no extension.
    explicit = _forecast(model, evidence, draws=60, tune=200, chains=2, seed=3)
    assert explicit.attrs["sampler_extensions"] == 0 and explicit.horizon.sizes["draw"] == 60


def test_default_fits_and_warm_refits_are_continued_up_to_default_extensions(monkeypatch):
    """The remedy of issue #14 as forecast() and update() apply it: a default fit or warm refit
    that keeps failing is continued DEFAULT_EXTENSIONS times, and the check covers every draw."""
    import importlib

    from syriaforecast.engine.run import DEFAULT_EXTENSIONS, SamplerSettings
    from syriaforecast.forecast import warm_refit

    forecast_module = importlib.import_module("syriaforecast.forecast")  # the attribute is the function

    model, evidence = _tiny()
    # An ESS_bulk no run can reach: every round fails, so the count of extensions is the cap itself
    # (with the trend's stop switched off; the next test has it on).
    monkeypatch.setattr(forecast_module, "DEFAULT_DRAWS", 20)
    monkeypatch.setattr(forecast_module, "ESS_MIN", 10**9)
    monkeypatch.setattr(forecast_module, "TREND_SLACK", np.inf)
    result = _forecast(model, evidence, chains=2, tune=100, seed=3)
    assert DEFAULT_EXTENSIONS == 31
    assert result.attrs["sampler_extensions"] == DEFAULT_EXTENSIONS
    assert result.horizon.sizes["draw"] == 20 * (1 + DEFAULT_EXTENSIONS)
    assert not result.converged
    # update() hands a warm refit the same cap (forecast.update passes its extensions through);
    # the refit's first round is short (WARM_DRAWS), its continuations draw what a fit's do.
    monkeypatch.setattr(forecast_module, "WARM_DRAWS", 10)
    settings = SamplerSettings(draws=20, tune=100, chains=2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refit = warm_refit(
            model, evidence, evidence.last_date, result, settings, extensions=DEFAULT_EXTENSIONS
        )
    assert refit.attrs["sampler_extensions"] == DEFAULT_EXTENSIONS
    assert refit.horizon.sizes["draw"] == 10 + 20 * DEFAULT_EXTENSIONS


def test_projected_draws_scale_the_draws_by_the_worst_rhat_and_ess():
    """forecast._projected_draws: draws x max((R-hat - 1) / 0.01, 400 / ESS_bulk, 1) over every
    reported probability; a divergence (never removed by more draws) projects to infinity."""
    import xarray as xr

    from syriaforecast.forecast import ESS_MIN, RHAT_MAX, _projected_draws

    def diagnostics(rhat_h, ess_h, rhat_f, ess_f, divergences=0):
        return xr.Dataset(
            {
                "horizon_rhat": ("scenario", np.array(rhat_h)),
                "horizon_ess_bulk": ("scenario", np.array(ess_h)),
                "filtered_rhat": (("time", "scenario"), np.array(rhat_f)),
                "filtered_ess_bulk": (("time", "scenario"), np.array(ess_f)),
            },
            attrs={"divergences": divergences},
        )

    # R-hat decides: the largest is in the filtered block (1.025: 2.5 x 0.01).
    d = diagnostics(
        [1.004, 1.02], [900.0, 700.0], [[1.0, 1.025], [np.nan, 1.001]], [[500.0, 800.0], [np.nan, 450.0]]
    )
    assert _projected_draws(d, 16_000) == pytest.approx(16_000 * 0.025 / (RHAT_MAX - 1))
    # ESS decides: 400 / 100 = 4 > (1.02 - 1) / 0.01 = 2.
    d = diagnostics([1.02, 1.0], [100.0, 900.0], [[1.0, 1.0]], [[1000.0, 1000.0]])
    assert _projected_draws(d, 3_000) == pytest.approx(3_000 * ESS_MIN / 100.0)
    # A passing forecast projects to the draws it has.
    d = diagnostics([1.001], [2000.0], [[1.002]], [[1500.0]])
    assert _projected_draws(d, 1_000) == 1_000
    diverged = diagnostics([1.0], [2000.0], [[1.0]], [[2000.0]], divergences=1)
    assert _projected_draws(diverged, 1_000) == np.inf


def test_a_default_fit_far_from_passing_stops_after_trend_from_extensions(monkeypatch, tmp_path):
    """Past TREND_FROM continuations a fit goes on only while the projection is within TREND_SLACK
    of the cap's draws; one that cannot reach ESS_MIN stops there, and its advice says why."""
    import importlib

    from syriaforecast.engine.run import DEFAULT_EXTENSIONS, TREND_FROM, TREND_SLACK
    from syriaforecast.forecast import _projected_draws

    forecast_module = importlib.import_module("syriaforecast.forecast")
    model, evidence = _tiny()
    monkeypatch.setattr(forecast_module, "DEFAULT_DRAWS", 20)
    monkeypatch.setattr(forecast_module, "ESS_MIN", 10**9)
    result = _forecast(model, evidence, chains=2, tune=100, seed=3)
    assert TREND_FROM < DEFAULT_EXTENSIONS
    assert result.attrs["sampler_extensions"] == TREND_FROM
    assert result.horizon.sizes["draw"] == 20 * (1 + TREND_FROM)
    assert result.attrs["sampler_extensions_stopped"] == "trend"
    projected = result.attrs["sampler_projected_draws"]
    assert projected == pytest.approx(_projected_draws(result.diagnostics, 20 * (1 + TREND_FROM)))
    assert result.attrs["sampler_draws_cap"] == 20 * (1 + DEFAULT_EXTENSIONS)
    assert projected > TREND_SLACK * 20 * (1 + DEFAULT_EXTENSIONS)
    advice = result.convergence_advice()
    assert f"continued {TREND_FROM} times" in advice and f"about {projected:,.0f} draws per chain" in advice
    assert "beyond the 640 a default forecast makes" in advice
    # Saved and loaded, the forecast says the same.
    result.save(tmp_path / "stopped.nc")
    assert sf.load_forecast(tmp_path / "stopped.nc").convergence_advice() == advice


def test_a_fit_with_divergences_is_not_continued(monkeypatch):
    """Divergences are counted over every draw, so no continuation can pass the check: none is made."""
    import importlib

    forecast_module = importlib.import_module("syriaforecast.forecast")
    model, evidence = _tiny()
    assemble = forecast_module._assemble

    def diverged(*args, **kwargs):
        result = assemble(*args, **kwargs)
        result.diagnostics.attrs["divergences"] = 3
        return result

    monkeypatch.setattr(forecast_module, "_assemble", diverged)
    monkeypatch.setattr(forecast_module, "DEFAULT_DRAWS", 20)
    result = _forecast(model, evidence, chains=2, tune=100, seed=3)
    assert result.attrs["sampler_extensions"] == 0
    assert result.horizon.sizes["draw"] == 20
    assert result.attrs["sampler_extensions_stopped"] == "divergences"
    assert "divergent transitions fail the check however many draws follow" in result.convergence_advice()


def test_extensions_stop_before_the_chain_posteriors_outgrow_their_memory(monkeypatch):
    """A long model's continued chains would hold draws x periods x scenarios probabilities twice
    (filtered and smoothed): the loop stops at forecast.EXTENSION_MEMORY instead."""
    import importlib

    forecast_module = importlib.import_module("syriaforecast.forecast")
    model, evidence = _tiny()
    chains, draws = 2, 20
    periods, scenarios = model.horizon_index + 1, len(model.scenarios)
    one_round = 2 * chains * draws * periods * scenarios * 8  # bytes of float64
    monkeypatch.setattr(forecast_module, "ESS_MIN", 10**9)  # every round fails the check
    monkeypatch.setattr(forecast_module, "EXTENSION_MEMORY", 3 * one_round + one_round // 2)
    settings = forecast_module.SamplerSettings(draws=draws, tune=100, chains=chains, seed=3)
    result = forecast_module._fit(model, evidence, evidence.last_date, settings, False, extensions=15)
    assert result.attrs["sampler_extensions"] == 2  # three rounds fit, a fourth would not
    assert result.horizon.sizes["draw"] == 3 * draws
    # The reader learns that memory, not the cap, ended the continuations, and what that costs.
    assert result.attrs["sampler_extensions_stopped"] == "memory"
    advice = result.convergence_advice()
    assert f"continued 2 times, to {3 * draws} draws each, and no further" in advice
    assert f"over {3.5 * one_round / 2**30:g} GiB of memory" in advice
    # With no round affordable beyond the first, the chains are not continued at all, and it says so.
    monkeypatch.setattr(forecast_module, "EXTENSION_MEMORY", one_round + one_round // 2)
    first_only = forecast_module._fit(model, evidence, evidence.last_date, settings, False, extensions=15)
    assert first_only.attrs["sampler_extensions"] == 0
    assert first_only.attrs["sampler_extensions_stopped"] == "memory"
    assert "The chains were not continued: " in first_only.convergence_advice()


def test_extensions_stop_before_the_sampling_work_exceeds_its_cap(monkeypatch):
    """Continuing never spends more than the work cap the user agreed to before the first round:
    report-iterations n x chains x (tune + draws) for it, n x chains x (EXTENSION_TUNE + draws) each."""
    import importlib

    from syriaforecast._checks import SAMPLING_WORK_ENV
    from syriaforecast.engine.run import EXTENSION_TUNE

    forecast_module = importlib.import_module("syriaforecast.forecast")
    model, evidence = _tiny()
    chains, draws, tune = 2, 20, 300
    n = len(evidence.up_to(evidence.last_date))
    # A continuation tunes at most EXTENSION_TUNE steps (fewer after a shorter first tuning).
    assert tune > EXTENSION_TUNE
    first, each = n * chains * (tune + draws), n * chains * (EXTENSION_TUNE + draws)
    monkeypatch.setattr(forecast_module, "ESS_MIN", 10**9)  # every round fails the check
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(first + 3 * each - 1))  # room for two continuations
    settings = forecast_module.SamplerSettings(draws=draws, tune=tune, chains=chains, seed=3)
    result = forecast_module._fit(model, evidence, evidence.last_date, settings, False, extensions=15)
    assert result.attrs["sampler_extensions"] == 2
    assert result.attrs["sampler_extensions_stopped"] == "work"
    assert f"sampling-work cap (${SAMPLING_WORK_ENV}" in result.convergence_advice()
    monkeypatch.setenv(SAMPLING_WORK_ENV, str(first + 3 * each))  # exactly three
    three = forecast_module._fit(model, evidence, evidence.last_date, settings, False, extensions=15)
    assert three.attrs["sampler_extensions"] == 3


@pytest.mark.parametrize(("passed", "n"), [(19, 20), (95, 100), (0, 10), (10, 10)])
def test_wilson_interval_is_the_closed_form(passed, n):
    from scipy.stats import norm

    from syriaforecast.studies.convergence import wilson_interval

    z = norm.ppf(0.975)
    p = passed / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    r = wilson_interval(passed, n)
    assert (r.passed, r.n, r.rate) == (passed, n, p)
    np.testing.assert_allclose([r.low, r.high], [centre - half, centre + half], atol=1e-12)


# --------------------------------------------------------------------------- packing draws back
# An extension (and a warm refit) starts each chain at a previous draw: pack_draws must invert
# every block the sampler samples, or the chains would restart elsewhere and tune afresh.
def _cluster_source_model():
    import pandas as pd

    from .test_clusters import COLUMNS, FEBRUARY, MARCH, cluster_model

    model = cluster_model(error=0.5)
    sources = ["Wire", "Wire", "Desk", "Desk", "Wire", "", "Desk"]
    rows = pd.DataFrame(FEBRUARY + MARCH[:2], columns=COLUMNS).assign(source=sources)
    return model, sf.load_evidence(rows, model)


def _round_trip(model, evidence):
    """pack(expand(x)) for random positions x, through the sampler's own expand function."""
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.evaluate import SOURCE_LABELS
    from syriaforecast.engine.run import _coords, n_chain_periods
    from syriaforecast.engine.sampler import build_sampler_model, layout_for, pack_draws

    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    expand = build_sampler_model(arrays, data, _coords(model))._make_expand_func(0, 0, 0)
    x = np.random.default_rng(3).normal(0.0, 1.0, (6, layout_for(arrays, data).ndim))
    expanded = [expand(row) for row in x]
    params = {name: np.stack([e[name] for e in expanded]) for name in expanded[0]}
    params[SOURCE_LABELS] = np.asarray(data.source_names, dtype=str)
    return x, pack_draws(arrays, params, data.source_names), layout_for(arrays, data)


def test_pack_draws_inverts_every_block_of_the_bundled_model(bundled):
    x, packed, layout = _round_trip(*bundled)
    # Its elicited transition rows, drivers and sources are all sampled.
    assert layout.n_row_coordinates and layout.n_effect_coordinates and layout.n_sources
    np.testing.assert_allclose(packed, x, rtol=0, atol=1e-9)


def test_pack_draws_inverts_every_block_of_a_model_with_clusters_and_sources():
    x, packed, layout = _round_trip(*_cluster_source_model())
    assert layout.n_clusters == 1 and layout.n_sources == 2
    np.testing.assert_allclose(packed, x, rtol=0, atol=1e-9)


def test_an_extension_starts_every_chain_at_a_last_draw(monkeypatch):
    """The extension's chains start where the first run's stopped, with short tuning."""
    from syriaforecast.engine import run as engine_run
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.run import EXTENSION_TUNE, SamplerSettings, n_chain_periods
    from syriaforecast.engine.sampler import build_sampler_model

    model, evidence = _cluster_source_model()
    as_of = evidence.last_date
    settings = SamplerSettings(draws=40, tune=300, chains=2, seed=5)
    first = engine_run.run_engine(model, evidence, as_of, exact=False, settings=settings)
    calls = []
    real = engine_run.run_engine

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_run, "run_engine", recording)
    extended = engine_run.extend_run(model, evidence, as_of, first, settings, seed=6)
    (call,) = calls
    assert call["settings"].tune == EXTENSION_TUNE and call["init_cycle"]
    assert call["initial_step"] == pytest.approx(float(np.median(first.sample_stats["step_size"][:, -1])))
    # Each start, expanded by the sampler's own function, is one chain's last draw.
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    expand = build_sampler_model(arrays, data, engine_run._coords(model))._make_expand_func(0, 0, 0)
    for c, start in enumerate(call["init_points"]):
        values = expand(start)
        for name in ("elicitation_eta", "cluster_closeness", "source_offset", "source_spread"):
            np.testing.assert_allclose(values[name], first.parameters[name][c, -1], rtol=1e-9, atol=1e-12)
    assert extended.parameter_coords == first.parameter_coords == {"source": ["Wire", "Desk"]}


def test_chain_starts_do_not_depend_on_the_order_chains_ask():
    """Whatever order nutpie's threads ask in, the chain with the k-th smallest seed takes point k."""
    from syriaforecast.engine.sampler import ChainStarts

    points = np.arange(12.0).reshape(4, 3)
    seeds = [2**63 + 5, 17, 2**40, 99]
    taken = []
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]):
        starts = ChainStarts(points, seeds=tuple(sorted(seeds)))
        taken.append({seeds[i]: tuple(starts(np.uint64(seeds[i]))) for i in order})
    assert taken[0] == taken[1] == taken[2]
    assert sorted(taken[0].values()) == [tuple(row) for row in points]  # one point each
    assert taken[0][17] == tuple(points[0]) and taken[0][2**63 + 5] == tuple(points[3])
    # A seed it was not told of (a density check's) still gets a point, the same every time.
    assert tuple(ChainStarts(points, seeds=(1, 2))(7)) == tuple(points[7 % 4])


def test_a_continuation_gives_each_chain_its_own_start_and_repeats_exactly(monkeypatch):
    """The probe run learns the very seeds the chains then ask with; the same seed, the same draws."""
    from syriaforecast.engine import run as engine_run
    from syriaforecast.engine.run import SamplerSettings
    from syriaforecast.engine.sampler import ChainStarts

    made = []

    class Recording(ChainStarts):
        def __init__(self, points):
            super().__init__(points)
            self.phases: list[tuple[bool, int]] = []  # (seeds known yet, seed asked with)
            made.append(self)

        def __call__(self, seed):
            self.phases.append((bool(self.seeds), int(seed)))
            return super().__call__(seed)

    monkeypatch.setattr(engine_run, "ChainStarts", Recording)
    model, evidence = _tiny()
    settings = SamplerSettings(draws=30, tune=100, chains=4, seed=8)
    first = engine_run.run_engine(model, evidence, evidence.last_date, exact=False, settings=settings)
    runs = [
        engine_run.extend_run(model, evidence, evidence.last_date, first, settings, seed=9) for _ in range(2)
    ]
    for starts in made:
        asked = [seed for known, seed in starts.phases if known]  # the sampling run's own calls
        assert len(asked) == settings.chains and set(asked) == set(starts.seeds)
        assert sorted(starts.seeds.index(seed) for seed in asked) == list(range(settings.chains))
    assert len(made) == 2
    np.testing.assert_array_equal(runs[0].chain.smoothed, runs[1].chain.smoothed)
