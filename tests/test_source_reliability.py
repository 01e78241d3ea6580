"""Sources as partially pooled reliability parameters (#16, item 4).

A reading with a reliability letter and a named source has reliability
``expit(logit kappa_rel[letter] + offset[source])``, ``offset = spread * z``,
``z ~ StudentT(3)``, ``spread ~ HalfNormal(1)`` (see "Sources" in
:mod:`syriaforecast.engine.data`). Checked here: which readings get a source,
the likelihood with offsets against brute-force enumeration, the density and its
gradient against finite differences and PyMC, offsets that follow their source
by name through what-ifs and warm starts, and a fitted forecast that keeps the
parameters through save and load. The kernel's gradient in the offsets is also
checked against the PyTensor graph in ``test_engine_kernel`` and
``test_joint_reports`` (random offsets on every reading).

The recovery study (a deliberately unreliable source among good ones) is in
``test_dependence_study``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import (
    RELIABILITY_PRIOR_MEAN,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.density import log_density_and_gradient
from syriaforecast.engine.evaluate import (
    SOURCE_LABELS,
    chain_terms_for_draws,
    exact_parameters_for,
    reading_offsets,
)
from syriaforecast.engine.sampler import _density_arguments, layout_for, pack_draws

from .kernel_args import assert_density_gradient_matches_finite_differences
from .test_density import assert_same_log_density
from .test_engine_exact import small_model
from .test_joint_reports import brute_force_period

COLUMNS = ["date", "indicator", "value", "reliability", "credibility", "report", "source"]
ROWS = [
    ("2025-02-03", "a", "1", "B", "2", "visit", "Wire"),
    ("2025-02-03", "b", "0", "B", "2", "visit", "Other desk"),  # one report: takes its first row's source
    ("2025-02-05", "a", "0", "C", "3", "", "Rumour mill"),
    ("2025-02-05", "incidents", "3", "C", "3", "", "Rumour mill"),
    ("2025-02-07", "c", "1", "", "2", "", "Wire"),  # no letter: nothing for a source to move
    ("2025-02-08", "level", "high", "D", "4", "", ""),  # no source: its letter's value
    ("2025-02-09", "c", "0", "E", "5", "", "Lone desk"),  # one report: its letter's value
    ("2025-03-02", "level", "mid", "B", "1", "", "Wire"),
    ("2025-03-09", "b", "1", "", "", "", "Embassy"),  # ungraded: face value
]


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture(scope="module")
def setup():
    model = small_model(persistence=0.85, months=4, elicitation_error=0.7)
    evidence = sf.load_evidence(frame(ROWS), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays, data)
    return model, evidence, arrays, data, layout, _density_arguments(arrays, data, layout)


def test_lettered_readings_with_a_source_share_its_index(setup):
    _, _, _, data, layout, _ = setup
    assert data.source_names == ("Wire", "Rumour mill")
    by_row = dict(zip(data.report_row.tolist(), data.report_source.tolist(), strict=True))
    # Rows 0-1 (one report, Wire first), 2-3 Rumour mill, 4 no letter, 5 no source, 6 a source of
    # one report, 7 Wire; 8 ungraded.
    assert by_row == {0: 0, 1: 0, 2: 1, 3: 1, 4: -1, 5: -1, 6: -1, 7: 0}
    assert layout.n_sources == 2 and layout.ndim == layout_for(setup[2]).ndim + 3


def test_likelihood_with_source_offsets_equals_brute_force(setup):
    model, evidence, _, _, _, _ = setup
    # A source of one report has no parameter: an offset given for it is not read.
    offsets = {"Rumour mill": -2.3, "Wire": 0.8, "Not in this evidence": 5.0, "Lone desk": 3.0}
    moved = {name: offsets[name] for name in ("Rumour mill", "Wire")}
    params = exact_parameters_for(model)
    # Given by name, in an order unlike the evidence's: reading_offsets matches them up.
    params["source_offset"] = np.array([list(offsets.values())])
    params[SOURCE_LABELS] = np.array(list(offsets))
    terms = chain_terms_for_draws(model, evidence, params)
    february = [r for r in ROWS if r[0].startswith("2025-02")]
    for s in range(3):
        expected = math.log(brute_force_period(february, s, moved))
        assert terms.log_emission[0, 1, s] == pytest.approx(expected, rel=1e-10)
    # Without offsets the same rows read every source at its letter's value.
    plain = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
    at_letters = math.log(brute_force_period(february, 0, {}))
    assert plain.log_emission[0, 1, 0] == pytest.approx(at_letters, rel=1e-10)
    assert plain.log_emission[0, 1, 0] != pytest.approx(terms.log_emission[0, 1, 0], rel=1e-6)


def test_a_what_if_without_one_source_keeps_the_others_offsets(setup):
    model, _, arrays, data, _, _ = setup
    params = {
        "source_offset": np.array([[0.8, -2.3], [0.1, -1.0]]),
        SOURCE_LABELS: np.array(["Wire", "Rumour mill"]),
    }
    full = reading_offsets(params, data, 2)
    kept = sf.load_evidence(frame([r for r in ROWS if r[6] != "Rumour mill"]), model)
    subset = build_engine_data(model, arrays, kept, data.n_periods)
    assert subset.source_names == ("Wire",)
    np.testing.assert_array_equal(reading_offsets(params, subset, 2), full[:, data.report_source != 1])
    # Offsets without names must be the evidence's own.
    with pytest.raises(ValueError, match="names"):
        reading_offsets({"source_offset": params["source_offset"]}, subset, 2)


def test_density_gradient_with_sources_matches_finite_differences(setup):
    *_, layout, args = setup
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.7, layout.ndim)
    assert_density_gradient_matches_finite_differences(args, x)
    # The source block matters: moving one source's z moves the density through the likelihood.
    moved = x.copy()
    moved[layout.source_start + 1] += 1.0
    assert log_density_and_gradient(moved, *args)[0] != pytest.approx(log_density_and_gradient(x, *args)[0])


def test_density_with_sources_equals_pymc(setup):
    model, evidence, arrays, _, layout, args = setup
    pymc_model = sf.to_pymc(model, evidence)
    assert pymc_model.named_vars_to_dims["source_offset"] == ("source",)
    assert list(pymc_model.coords["source"]) == ["Wire", "Rumour mill"]
    assert_same_log_density(pymc_model, layout, args, arrays)


def test_pack_draws_starts_known_sources_at_their_draws_and_new_ones_at_zero(setup):
    model, _, arrays, data, layout, _ = setup
    params = {k: np.repeat(v, 3, axis=0) for k, v in exact_parameters_for(model).items()}
    params["elicitation_sigma"] = np.full_like(params["elicitation_sigma"], 0.5)
    params["source_offset"] = np.array([[-1.0], [0.5], [2.0]])
    params["source_spread"] = np.array([0.5, 1.0, 2.0])
    params[SOURCE_LABELS] = np.array(["Rumour mill"])
    x = pack_draws(arrays, params, data.source_names)
    assert x.shape == (3, layout.ndim)
    start = layout.source_start
    np.testing.assert_allclose(x[:, start], 0.0)  # Wire: unknown to the draws
    np.testing.assert_allclose(x[:, start + 1], [-2.0, 0.5, 1.0])  # z = offset / spread
    np.testing.assert_allclose(np.exp(x[:, start + 2]), [0.5, 1.0, 2.0])


def test_a_fitted_forecast_learns_and_keeps_each_source_reliability(setup, tmp_path):
    from syriaforecast.report import sources

    model, evidence, *_ = setup
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # short chains: plumbing, not inference
        result = sf.forecast(model, evidence, as_of="2025-04-30", draws=150, tune=150, chains=2, seed=2)
    offset = result.posterior["source_offset"]
    assert offset.dims == ("chain", "draw", "source")
    assert list(offset["source"].values) == ["Wire", "Rumour mill"]
    assert result.posterior["source_spread"].dims == ("chain", "draw")
    path = tmp_path / "f.nc"
    result.save(path)
    loaded = sf.load_forecast(path)
    np.testing.assert_array_equal(loaded.posterior["source_offset"].values, offset.values)
    assert list(loaded.posterior["source"].values) == ["Wire", "Rumour mill"]
    table = sources(loaded, truthful=False)
    wire = table.loc["Wire"]
    assert wire["prior_reliability"] == pytest.approx(RELIABILITY_PRIOR_MEAN["B"])
    assert wire["reliability_low"] < wire["posterior_reliability"] < wire["reliability_high"]
    # Its reliability per draw is the B letter's moved by its offset.
    rel_b = result.posterior["source_reliability"].sel(reliability_grade="B").values
    moved = 1 / (1 + np.exp(-(np.log(rel_b / (1 - rel_b)) + offset.sel(source="Wire").values)))
    assert wire["posterior_reliability"] == pytest.approx(moved.mean(), rel=0.02)  # sources() thins to 200
    # Exact mode samples no source parameters.
    exact = sf.forecast(model, evidence, as_of="2025-04-30", exact=True)
    assert "source_offset" not in exact.posterior


def test_an_update_with_a_new_source_refits_from_the_previous_draws(setup):
    """When PSIS refuses (here: too few effective draws), the refit starts the known sources at their draws.

    The reweighting itself draws the new source's offset from its prior (test_update.py checks it).
    """
    model, evidence, *_ = setup
    later = [
        ("2025-04-03", "a", "1", "C", "2", "", "New wire"),
        ("2025-04-09", "b", "0", "C", "2", "", "New wire"),
    ]
    grown = sf.load_evidence(frame(ROWS + later), model)
    short = {"draws": 150, "tune": 150, "chains": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # short chains: plumbing, not inference
        first = sf.forecast(model, evidence, as_of="2025-03-31", seed=3, **short)
        updated = sf.forecast(model, grown, as_of="2025-04-30", seed=4, previous=first, **short)
    assert updated.attrs["update_path"] == "refit"
    assert updated.attrs["update_reason"].startswith("refitted from the previous draws")
    assert list(updated.posterior["source"].values) == ["Wire", "Rumour mill", "New wire"]


def test_pack_draws_inverts_the_transition_block():
    """A warm refit of a model with elicited rows and drivers starts where the previous draws were."""
    from syriaforecast.engine.density import unpack_transitions
    from syriaforecast.engine.sampler import _transition_static

    from .test_scenario_dynamics import dynamic_model

    model = dynamic_model(persistence=0.85, error=0.5)
    arrays = build_model_arrays(model)
    layout = layout_for(arrays)
    assert layout.n_row_coordinates and layout.n_effect_coordinates
    rng = np.random.default_rng(8)
    params = {k: np.repeat(v, 2, axis=0) for k, v in exact_parameters_for(model).items()}
    params["elicitation_sigma"] = np.full_like(params["elicitation_sigma"], 0.5)
    base = arrays.transition_base
    rows = np.where(base > 0, rng.uniform(0.05, 1.0, (2, *base.shape)), 0.0)
    params["transition"] = rows / rows.sum(axis=2, keepdims=True)
    params["driver_effect"] = np.exp(rng.normal(0, 0.5, (2, *arrays.log_effect.shape)))
    x = pack_draws(arrays, params)
    elicited, support, given, scale = _transition_static(arrays)
    for d in range(2):
        got_rows, got_log_effect = unpack_transitions(
            x[d], layout.analyst_start, elicited, support, base, arrays.log_effect, given, scale
        )
        np.testing.assert_allclose(got_rows[elicited], params["transition"][d][elicited], rtol=1e-12)
        expected = np.log(params["driver_effect"][d])[given]
        np.testing.assert_allclose(got_log_effect[given], expected, rtol=1e-12)
