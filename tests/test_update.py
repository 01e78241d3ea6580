"""Updates that reuse the last posterior: ``forecast(model, evidence, previous=fc)``."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import syriaforecast as sf
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.kernel import unpack
from syriaforecast.engine.sampler import _density_arguments, layout_for, pack_draws
from syriaforecast.errors import ConvergenceWarning
from syriaforecast.forecast import forecast_parameters

from .kernel_args import unpack_arguments

# The forecast module (the package attribute of that name is the function).
_update = importlib.import_module("syriaforecast.forecast")
DATA = Path(__file__).parent / "data"
FIRST, SECOND = "2025-04-30", "2025-05-31"


@pytest.fixture(scope="module")
def model():
    return sf.load_model(DATA / "report_tiny.toml")


@pytest.fixture(scope="module")
def evidence(model):
    return sf.load_evidence(DATA / "report_tiny_evidence.csv", model)


@pytest.fixture(scope="module")
def first(model, evidence):
    return sf.forecast(model, evidence, as_of=FIRST, seed=1)


@pytest.fixture(scope="module")
def updated(model, evidence, first):
    return sf.forecast(model, evidence, as_of=SECOND, seed=2, previous=first)


@pytest.fixture(scope="module")
def refit(model, evidence):
    return sf.forecast(model, evidence, as_of=SECOND, seed=3)


def _mcse(values: np.ndarray, ess: np.ndarray) -> np.ndarray:
    return values.reshape(-1, values.shape[-1]).std(axis=0) / np.sqrt(ess)


def _agree_at_the_horizon(updated: sf.Forecast, refit: sf.Forecast) -> np.ndarray:
    """Assert two forecasts' horizon means agree within 4 combined MCSE; return that error."""
    a, b = updated.horizon.values, refit.horizon.values
    error = np.hypot(
        _mcse(a, updated.diagnostics["horizon_ess_bulk"].values),
        _mcse(b, refit.diagnostics["horizon_ess_bulk"].values),
    )
    difference = np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1)))
    assert np.all(difference < 4 * error), (difference, error)
    return error


def test_one_more_report_is_a_psis_update_that_agrees_with_a_refit(first, updated, refit):
    assert first.converged and refit.converged
    assert updated.attrs["update_path"] == "psis"
    assert len(updated.evidence) - len(first.evidence) > 0  # the May report was added
    assert updated.attrs["update_pareto_k"] <= 0.7
    assert updated.converged
    # The reweighted draws are the previous draws (resampled), not new ones.
    previous = first.posterior["elicitation_eta"].values.reshape(first.n_draws, -1)
    reused = updated.posterior["elicitation_eta"].values.reshape(updated.n_draws, -1)
    assert {row.tobytes() for row in reused} <= {row.tobytes() for row in previous}
    # Within Monte Carlo error of an independent refit on the same evidence.
    error = _agree_at_the_horizon(updated, refit)
    # ... and it moved: the update is not the previous forecast.
    assert np.abs(updated.mean().values - first.mean().values).max() > 4 * error.max()


def test_a_report_coded_late_into_an_earlier_period_is_reweighted_and_agrees_with_a_refit(
    model, evidence, first
):
    # Three A1 reports added to February, published before the previous as-of date: new evidence
    # about a period the previous forecast had seen. Only their likelihood changes the posterior,
    # as for reports after the as-of date, so the draws are reweighted; they agree with a fresh fit.
    rows = [
        {
            "date": f"2025-02-{day}",
            "indicator": "strikes",
            "value": "1",
            "reliability": "A",
            "credibility": "1",
        }
        for day in (20, 21, 22)
    ]
    grown = evidence.append(rows, model)
    updated = sf.forecast(model, grown, as_of=FIRST, seed=7, previous=first)
    assert updated.attrs["update_path"] == "psis", updated.attrs["update_reason"]
    assert "3 reports added dated on or before the previous as-of date" in updated.attrs["update_reason"]
    assert updated.converged and updated.attrs["update_pareto_k"] <= 0.7
    _agree_at_the_horizon(updated, sf.forecast(model, grown, as_of=FIRST, seed=8))
    # February itself moved: its smoothed probabilities, beyond the two forecasts' error.
    feb = {name: f.smoothed.isel(time=1) for name, f in (("new", updated), ("old", first))}
    feb_error = np.hypot(
        *(
            _mcse(feb[name].values, f.diagnostics["smoothed_ess_bulk"].isel(time=1).values)
            for name, f in (("new", updated), ("old", first))
        )
    )
    moved = np.abs(feb["new"].mean(("chain", "draw")).values - feb["old"].mean(("chain", "draw")).values)
    assert moved.max() > 4 * feb_error.max(), (moved, feb_error)


def test_update_path_and_diagnostics_round_trip(updated, tmp_path):
    path = updated.save(tmp_path / "updated.nc")
    loaded = sf.load_forecast(path)
    for key in ("update_path", "update_reason", "update_pareto_k", "update_ess"):
        assert loaded.attrs[key] == updated.attrs[key]
    assert loaded.attrs["update_ess"] >= 400


def test_a_large_pareto_k_refits_and_says_so(model, evidence, first, monkeypatch):
    weights_and_k = _update.psis_weights

    def bad_tail(log_ratio, r_eff=1.0):
        weights, _ = weights_and_k(log_ratio, r_eff=r_eff)
        return weights, 0.93

    monkeypatch.setattr(_update, "psis_weights", bad_tail)
    result = sf.forecast(model, evidence, as_of=SECOND, seed=4, previous=first)
    assert result.attrs["update_path"] == "refit"
    assert result.attrs["update_pareto_k"] == pytest.approx(0.93)
    assert "Pareto k 0.93 > 0.7" in result.attrs["update_reason"]
    # Sampled afresh (warm-started, short tuning): new draws, not the previous ones.
    assert result.attrs["sampler_tune"] <= _update.WARM_TUNE
    # A default refit draws WARM_DRAWS per chain, more only when continued to pass the check,
    # and then by a default fit's draws at a time.
    assert result.attrs["sampler_draws"] == _update.WARM_DRAWS
    extended = result.attrs["sampler_extensions"]
    assert result.horizon.sizes["draw"] == _update.WARM_DRAWS + _update.DEFAULT_DRAWS * extended
    previous = {row.tobytes() for row in first.posterior["elicitation_eta"].values.reshape(first.n_draws, -1)}
    new = result.posterior["elicitation_eta"].values.reshape(result.n_draws, -1)
    assert not any(row.tobytes() in previous for row in new)


def test_changed_reports_refit_and_other_models_fit_afresh(model, evidence, first, updated):
    fewer = sf.forecast(model, evidence.up_to("2025-02-28"), as_of=SECOND, seed=5, previous=updated)
    assert fewer.attrs["update_path"] == "refit"
    assert "changed or removed reports" in fewer.attrs["update_reason"]
    exact = sf.forecast(model, evidence, as_of=SECOND, exact=True, previous=first)
    assert exact.attrs["update_path"] == "fit" and exact.mode == "exact"
    exact_prev = sf.forecast(model, evidence, as_of=FIRST, exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fresh = sf.forecast(model, evidence, as_of=SECOND, seed=6, previous=exact_prev, draws=100, tune=100)
    assert fresh.attrs["update_path"] == "fit"
    assert "exact mode" in fresh.attrs["update_reason"]


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    """The tiny evidence log with one line edited, written to a file of its own."""
    text = (DATA / "report_tiny_evidence.csv").read_text()
    assert old in text
    path = tmp_path / f"edited_{abs(hash(new))}.csv"
    path.write_text(text.replace(old, new, 1))
    return path


GRADED = "2025-01-20,talks,0,C,3,Rumour,graded and disagreeing with the ungraded report"


@pytest.mark.parametrize(
    ("edit", "same", "moves"),
    [
        ("2025-01-20,talks,0,C,3,Rumour,a note rewritten", True, False),
        ("2025-01-25,talks,0,C,3,Rumour,re-dated within its month", True, False),
        # A source with one graded report is read at its letter: another name changes nothing ...
        ("2025-01-20,talks,0,C,3,Gossip,graded and disagreeing", True, False),
        # ... but Agency's second graded report makes Agency a source with an offset of its own
        # (0, its letter's reading, at the file's values: the log emissions stay equal there).
        ("2025-01-20,talks,0,C,3,Agency,graded and disagreeing", False, False),
        ("2025-01-20,talks,1,C,3,Rumour,graded and agreeing", False, True),  # another value
        ("2025-01-20,talks,0,B,3,Rumour,graded and disagreeing", False, True),  # another grade
        ("2025-02-20,talks,0,C,3,Rumour,re-dated into February", False, True),  # another period
    ],
)
def test_the_likelihood_reads_two_logs_alike_only_when_no_field_it_uses_differs(
    model, evidence, tmp_path, edit, same, moves
):
    from syriaforecast.engine.data import reads_the_same
    from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
    from syriaforecast.engine.run import n_chain_periods

    arrays, n = build_model_arrays(model), n_chain_periods(model)
    other = sf.load_evidence(_edited(tmp_path, GRADED, edit), model)
    ours, theirs = (build_engine_data(model, arrays, e.up_to(FIRST), n) for e in (evidence, other))
    assert reads_the_same(ours, theirs) is same
    # Independently: the likelihood at the model's own values, equal to the bit when they read alike.
    params = exact_parameters_for(model)
    a, b = (chain_terms_for_draws(model, d, params, arrays=arrays).log_emission for d in (ours, theirs))
    assert (a.shape == b.shape and np.array_equal(a, b)) is not moves


def test_an_edited_note_keeps_the_draws_and_an_edited_grade_refits(model, first, tmp_path):
    noted_path = _edited(tmp_path, GRADED, "2025-01-25,talks,0,C,3,Rumour,re-dated and noted")
    noted = sf.load_evidence(noted_path, model)
    kept = sf.forecast(model, noted, as_of=FIRST, seed=9, previous=first)
    assert kept.attrs["update_path"] == "psis", kept.attrs["update_reason"]
    assert "does not read them (date, note, published)" in kept.attrs["update_reason"]
    # The previous draws as they were, each with the likelihood it had (nothing to reweigh).
    np.testing.assert_array_equal(kept.horizon.values, first.horizon.values)
    eta = "elicitation_eta"
    np.testing.assert_array_equal(kept.posterior[eta].values, first.posterior[eta].values)
    np.testing.assert_array_equal(kept._log_likelihood, first._log_likelihood)
    assert "re-dated and noted" in kept.evidence.to_csv_text()  # the forecast carries the edited log
    regraded = sf.load_evidence(_edited(tmp_path, GRADED, "2025-01-20,talks,0,B,3,Rumour,regraded"), model)
    refit = sf.forecast(model, regraded, as_of=FIRST, seed=9, previous=first)
    assert refit.attrs["update_path"] == "refit"
    assert "changed or removed reports" in refit.attrs["update_reason"]


def test_previous_may_be_a_saved_file(model, evidence, first, tmp_path):
    path = first.save(tmp_path / "first.nc")
    result = sf.forecast(model, evidence, as_of=SECOND, seed=2, previous=path)
    assert result.attrs["update_path"] == "psis"
    with pytest.raises(sf.SyriaforecastError, match="previous"):
        sf.forecast(model, evidence, as_of=SECOND, previous=42)  # type: ignore[arg-type]


def test_a_saved_fit_keeps_its_log_likelihoods_and_updates_as_the_fit_in_memory(
    model, evidence, first, updated, tmp_path, monkeypatch
):
    """Loaded, a fit reweights by its saved log-likelihoods: one evaluation (the new evidence), not two."""
    from syriaforecast.engine import source_key
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.engine.run import n_chain_periods

    path = first.save(tmp_path / "first.nc")
    loaded = sf.load_forecast(path)
    assert loaded._log_likelihood is not None
    np.testing.assert_array_equal(loaded._log_likelihood, first._log_likelihood)
    # They are the log-likelihoods of the fit's own evidence: a recomputation from its draws.
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence.up_to(first.as_of), n_chain_periods(model))
    again = chain_posterior(chain_terms_for_draws(model, data, forecast_parameters(first), arrays=arrays))
    np.testing.assert_allclose(loaded._log_likelihood, again.log_likelihood, rtol=1e-12, atol=0)

    evaluated = []
    chain_for_draws = _update._chain_for_draws

    def counted(model, data, params, arrays):
        evaluated.append(len(params["initial_probability"]))
        return chain_for_draws(model, data, params, arrays)

    monkeypatch.setattr(_update, "_chain_for_draws", counted)
    from_file = sf.forecast(model, evidence, as_of=SECOND, seed=2, previous=loaded)
    assert evaluated == [first.n_draws]  # the new evidence only
    assert from_file.attrs["update_path"] == updated.attrs["update_path"] == "psis"
    assert from_file.attrs["update_pareto_k"] == updated.attrs["update_pareto_k"]
    np.testing.assert_array_equal(from_file.horizon.values, updated.horizon.values)
    xr.testing.assert_allclose(from_file.diagnostics, updated.diagnostics, rtol=1e-10, atol=0)
    # Saved by other likelihood code (an upgrade, an edit): not used, recomputed as before.
    evaluated.clear()
    monkeypatch.setattr(source_key, "likelihood_sources_digest", lambda: "0" * 64)
    older = sf.load_forecast(path)
    assert older._log_likelihood is None
    again_updated = sf.forecast(model, evidence, as_of=SECOND, seed=2, previous=older)
    assert evaluated == [first.n_draws, first.n_draws]  # the previous evidence, then the new
    np.testing.assert_allclose(again_updated.horizon.values, updated.horizon.values, rtol=1e-12, atol=0)


def test_pack_draws_inverts_the_kernels_unpack(model, evidence, first):
    arrays = build_model_arrays(model)
    params = forecast_parameters(first, max_draws=20)
    x = pack_draws(arrays, params)
    layout = layout_for(arrays)
    assert x.shape == (20, layout.ndim)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    args = _density_arguments(arrays, data, layout)
    unpack_args = unpack_arguments(args, arrays)
    for d in range(20):
        initial, persistence, sigma, eta, rel, cred, _ = unpack(x[d], *unpack_args)
        np.testing.assert_allclose(initial, params["initial_probability"][d], rtol=1e-12)
        np.testing.assert_allclose(persistence, params["persistence"][d], rtol=1e-12)
        np.testing.assert_allclose(sigma, params["elicitation_sigma"][d], rtol=1e-12)
        np.testing.assert_allclose(eta, params["elicitation_eta"][d], rtol=1e-12)
        np.testing.assert_allclose(rel, params["source_reliability"][d], rtol=1e-12)
        np.testing.assert_allclose(cred, params["information_credibility"][d], rtol=1e-12)


def test_cli_previous_reweights_a_saved_forecast(model, evidence, first, tmp_path, capsys):
    import json

    from syriaforecast.cli import main

    saved = first.save(tmp_path / "first.nc")
    argv = ["forecast", "--model", str(DATA / "report_tiny.toml"), "--evidence"]
    argv += [str(DATA / "report_tiny_evidence.csv"), "--as-of", SECOND, "--seed", "2"]
    assert main([*argv, "--previous", str(saved), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["diagnostics"]["update_path"] == "psis"
    assert out["diagnostics"]["update_pareto_k"] <= 0.7
    # The same as the API's update from the same forecast and seed.
    api = sf.forecast(model, evidence, as_of=SECOND, seed=2, previous=first)
    np.testing.assert_allclose(
        [row["mean"] for row in out["scenarios"].values()], api.summary()["mean"].to_numpy(), atol=1e-6
    )
    # Why it took that path, and the reweighting's ESS, as the API records them.
    assert out["diagnostics"]["update_reason"] == api.attrs["update_reason"]
    assert out["diagnostics"]["update_ess"] == pytest.approx(api.attrs["update_ess"], rel=1e-6)
    assert main([*argv, "--previous", str(tmp_path / "missing.nc")]) == 2


def test_advice_says_in_plain_words_that_chains_disagree():
    import arviz_stats
    import xarray as xr

    from syriaforecast.forecast import convergence_advice

    rng = np.random.default_rng(0)
    # Two chains settled on different readings: 0.2 against 0.8 for the first scenario.
    first = np.concatenate([rng.normal(0.2, 0.02, (2, 500)), rng.normal(0.8, 0.02, (2, 500))])
    values = np.stack([first, 1 - first], axis=-1)
    horizon = xr.DataArray(values, dims=("chain", "draw", "scenario"), coords={"scenario": ["a", "b"]})
    diagnostics = xr.Dataset(
        {
            "horizon_rhat": arviz_stats.rhat(horizon, sample_dims=["chain", "draw"]),
            "horizon_ess_bulk": arviz_stats.ess(horizon, sample_dims=["chain", "draw"]),
        },
        attrs={"divergences": 0},
    )
    advice = convergence_advice(diagnostics, horizon)
    assert advice.startswith("Not converged (horizon probabilities: max R-hat")
    assert "chains disagree" in advice and "up to 0.6" in advice and "--chains 8" in advice
    # Mixed chains with too few draws: the advice is more draws, not a warning about readings.
    mixed = horizon.isel(chain=[0, 1])
    one = mixed.isel(chain=0, draw=0, drop=True) * 0
    few = xr.Dataset({"horizon_rhat": one + 1.0, "horizon_ess_bulk": one + 50}, attrs={"divergences": 0})
    assert "Too few effective draws" in convergence_advice(few, mixed)
    converged = few.assign(horizon_ess_bulk=few["horizon_ess_bulk"] * 0 + 1000)
    assert convergence_advice(converged, mixed) == ""
    # A forecast already continued to 8,000 draws a chain is told to run more than that, not 3,000.
    assert "--draws 3000" in convergence_advice(few, mixed)  # 500 draws a chain: the floor
    longer = xr.concat([mixed] * 16, dim="draw")  # 8,000 draws a chain
    assert "--draws 16000" in convergence_advice(few, longer)
    disagreeing = xr.concat([horizon] * 16, dim="draw")
    assert "--chains 8 --draws 16000" in convergence_advice(diagnostics, disagreeing)


def test_a_psis_update_keeps_the_transition_and_driver_draws():
    """The bundled model has elicited rows and drivers: a reweighted forecast keeps their draws."""
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    before = sf.forecast(model, evidence, seed=4)
    # One more report from a source already in the log: a new source would refit (PSIS cannot
    # add its reliability), as the bundled log's own last report does (a second Syrian MoD report).
    row = {"date": "2026-02-10", "indicator": "russia_issue_linkage", "value": "0"}
    more = evidence.append([row | {"reliability": "B", "credibility": "2", "source": "Reuters"}], model)
    after = sf.forecast(model, more, as_of="2026-02-10", seed=5, previous=before)
    assert after.attrs["update_path"] == "psis", after.attrs["update_reason"]
    for name in ("transition", "driver_effect"):
        assert name in before.posterior
        assert after.posterior[name].dims == before.posterior[name].dims
        # Resampled previous draws: every updated draw is one of the previous ones.
        previous = np.asarray(before.posterior[name]).reshape(before.n_draws, -1)
        kept = np.asarray(after.posterior[name]).reshape(after.n_draws, -1)
        assert np.isin(kept[:, 0], previous[:, 0]).all()


def test_reused_diagnostics_equal_a_recomputation(model, evidence, first, updated):
    """Probabilities an update leaves unchanged keep the previous fit's R-hat and ESS: a recomputation's."""
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.engine.run import EngineRun, SamplerSettings, asof_periods, n_chain_periods

    as_of = updated.as_of
    arrays = build_model_arrays(model)
    n_periods = n_chain_periods(model)
    data = build_engine_data(model, arrays, evidence.up_to(as_of), n_periods)
    params = forecast_parameters(first)
    chain = chain_posterior(chain_terms_for_draws(model, data, params, arrays=arrays))
    C, D = first.horizon.sizes["chain"], first.horizon.sizes["draw"]
    run = EngineRun(
        "hierarchical",
        asof_periods(model, as_of),
        n_periods - 1,
        chain,
        C,
        D,
        parameters={name: np.asarray(first.posterior[name]) for name in first.posterior.data_vars},
        sample_stats={str(k): np.asarray(v) for k, v in first.sample_stats.items()},
    )
    settings = SamplerSettings(draws=D, tune=0, chains=C, target_accept=0.8, seed=0)
    assert first._log_likelihood is not None  # fitted in this process: its diagnostics are reusable
    reused = _update._assemble(model, evidence.up_to(as_of), as_of, run, settings, reuse_diagnostics=first)
    fresh = _update._assemble(model, evidence.up_to(as_of), as_of, run, settings)
    # Some filtered probabilities are the previous fit's (reused), others new or changed (recomputed).
    old = first.filtered.values
    new = reused.filtered.values[:, :, : old.shape[2]]
    unchanged = np.all(old == new, axis=(0, 1))
    assert unchanged.any()
    assert reused.filtered.sizes["time"] > first.filtered.sizes["time"] or not unchanged.all()
    # Equal to rounding: the reused ESS were computed on the previous fit's arrays, whose memory
    # layout (and so the order of the sums) differs from the recomputation's by the last bits.
    xr.testing.assert_allclose(reused.diagnostics, fresh.diagnostics, rtol=1e-10, atol=0)
    assert reused.diagnostics.attrs == fresh.diagnostics.attrs
    # ... and the update's own ESS are those, scaled by the weights' efficiency.
    efficiency = min(1.0, updated.attrs["update_ess"] / (C * D))
    np.testing.assert_allclose(
        updated.diagnostics["filtered_ess_bulk"].values,
        fresh.diagnostics["filtered_ess_bulk"].values * efficiency,
        rtol=1e-12,
    )


def test_draws_evaluated_once_per_run_on_threads_equal_one_call(model, evidence, first, monkeypatch):
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.engine.run import n_chain_periods

    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    params = forecast_parameters(first)
    # Resampled draws: runs of repeats, as a reweighted forecast has them.
    index = np.sort(np.random.default_rng(0).integers(0, first.n_draws, first.n_draws))
    params = {k: v if k == "source" else np.asarray(v)[index] for k, v in params.items()}
    calls = []

    def counted(model, data, subset, **kwargs):
        calls.append(len(subset["initial_probability"]))
        return chain_terms_for_draws(model, data, subset, **kwargs)

    monkeypatch.setattr(_update, "chain_terms_for_draws", counted)
    ours = _update._chain_for_draws(model, data, params, arrays)
    # Two threads, each on its share of the distinct draws (each run of repeats evaluated once).
    assert len(calls) == 2 and sum(calls) <= len(np.unique(index)) < first.n_draws
    theirs = chain_posterior(chain_terms_for_draws(model, data, params, arrays=arrays))
    for name in ("filtered", "smoothed", "log_likelihood"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))


def test_a_new_source_is_reweighted_with_prior_offsets_and_agrees_with_a_refit(model, evidence, first):
    """Agency's second graded report makes it a source: its offset and the spread are drawn from the prior."""
    row = {"date": "2025-05-20", "indicator": "strikes", "value": "1", "reliability": "B", "credibility": "2"}
    more = evidence.append([row | {"source": "Agency", "note": "a second graded report from Agency"}], model)
    assert "source_offset" not in first.posterior  # no source had two graded reports before
    updated = sf.forecast(model, more, as_of=SECOND, seed=12, previous=first)
    refit = sf.forecast(model, more, as_of=SECOND, seed=13)
    assert updated.attrs["update_path"] == "psis", updated.attrs["update_reason"]
    assert "1 new source with offsets drawn from the prior" in updated.attrs["update_reason"]
    assert [str(s) for s in updated.posterior["source"].values] == ["Agency"]
    assert list(refit.posterior["source"].values) == ["Agency"]
    # The reweighted offsets stand for the posterior's: spread and offset within Monte Carlo error of a refit.
    for name in ("source_spread", "source_offset"):
        a, b = updated.posterior[name].values.ravel(), refit.posterior[name].values.ravel()
        assert abs(np.median(a) - np.median(b)) < 0.15 * max(np.std(b), 0.1), name
    error = np.hypot(
        _mcse(updated.horizon.values, updated.diagnostics["horizon_ess_bulk"].values),
        _mcse(refit.horizon.values, refit.diagnostics["horizon_ess_bulk"].values),
    )
    difference = np.abs(updated.mean().values - refit.mean().values)
    assert np.all(difference < 4 * error), (difference, error)


@pytest.mark.parametrize("labels", [list("abcd"), list("abcdef"), ["b", "d", "q"], ["c"], []])
def test_alignment_of_reused_diagnostics_equals_xarrays_reindex(labels):
    """The previous forecast's arrays laid out on the new periods and scenarios, as xarray's reindex does."""
    rng = np.random.default_rng(1)
    old = xr.DataArray(
        rng.random((2, 3, 4, 3)),
        dims=("chain", "draw", "time", "scenario"),
        coords={"time": list("abcd"), "scenario": ["x", "y", "z"]},
    )
    new = xr.DataArray(
        np.zeros((len(labels), 3)),
        dims=("time", "scenario"),
        coords={"time": labels, "scenario": ["z", "x", "y"]},  # another order, as well as other periods
    )
    coords = {d: new.coords[d] for d in new.dims}
    for array, leading in ((old, 2), (old.isel(chain=0, draw=0, drop=True), 0), (old.isel(time=[]), 2)):
        expected = array.reindex(coords).transpose(*array.dims[:leading], *new.dims).values
        got = _update._aligned(array, new, leading=leading)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_reordered_rows_keep_the_draws_and_the_reason_says_so(model, evidence, first):
    rows = pd.read_csv(DATA / "report_tiny_evidence.csv", dtype=str, keep_default_na=False)
    reordered = sf.load_evidence(rows.iloc[::-1].reset_index(drop=True), model)
    again = sf.forecast(model, reordered, as_of=FIRST, seed=9, previous=first)
    assert again.attrs["update_path"] == "psis"
    assert again.attrs["update_reason"].endswith("earlier reports unchanged but for the rows' order")
    # The same reports: the draws are kept (resampled from themselves) and the numbers agree.
    np.testing.assert_allclose(again.mean().values, first.mean().values, atol=1e-9)


def test_draws_asked_for_that_differ_from_the_previous_are_sampled(model, evidence, first):
    # Reweighting keeps the previous forecast's 4 x 1000 draws: asked for 2 x 300, the update refits.
    with warnings.catch_warnings():  # 2 x 300 draws may fall short of the convergence check
        warnings.simplefilter("ignore", ConvergenceWarning)
        asked = sf.forecast(
            model, evidence, as_of=SECOND, seed=11, previous=first, draws=300, tune=100, chains=2
        )
    assert asked.attrs["update_path"] == "refit"
    assert "2 chains x 300 draws were asked for" in asked.attrs["update_reason"]
    assert (asked.posterior.sizes["chain"], asked.posterior.sizes["draw"]) == (2, 300)
    # The same settings as the previous forecast's keep the reweighting.
    same = first.posterior.sizes
    kept = sf.forecast(
        model, evidence, as_of=SECOND, seed=12, previous=first, draws=same["draw"], chains=same["chain"]
    )
    assert kept.attrs["update_path"] == "psis"
