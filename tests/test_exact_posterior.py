"""sf.exact_posterior: exact mode as arrays (#14), checked against brute force, hmmlearn and forecast()."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.errors import SyriaforecastError

from .test_engine_exact import BINARY, EVIDENCE_CASES, PRIOR, brute_force, reports, small_model, transition


@pytest.mark.parametrize("case", list(EVIDENCE_CASES), ids=str)
def test_equals_brute_force_enumeration(case):
    rows = EVIDENCE_CASES[case]
    model = small_model(persistence=0.9, months=6)
    post = sf.exact_posterior(model, reports(rows), as_of="2025-06-30")
    filtered, smoothed, log_evidence = brute_force(model, rows, 0.9)
    np.testing.assert_allclose(post.filtered, filtered, atol=1e-10, rtol=0)
    np.testing.assert_allclose(post.smoothed, smoothed, atol=1e-10, rtol=0)
    np.testing.assert_allclose(post.horizon, filtered[-1], atol=1e-10, rtol=0)
    assert post.log_likelihood == pytest.approx(log_evidence, abs=1e-10)


def test_equals_hmmlearn_forward_backward():
    hmm = pytest.importorskip("hmmlearn.hmm")
    months = 60
    model = small_model(persistence=0.85, months=months)
    values = np.random.default_rng(3).integers(0, 2, size=months)
    dates = pd.period_range("2025-01", periods=months, freq="M").to_timestamp() + pd.Timedelta(days=9)
    rows = [(d.date().isoformat(), "a", str(v), "", "") for d, v in zip(dates, values, strict=True)]
    post = sf.exact_posterior(model, reports(rows))
    reference = hmm.CategoricalHMM(n_components=3, init_params="", params="")
    reference.startprob_ = np.array(PRIOR)
    reference.transmat_ = transition(0.85)
    p = np.array(BINARY["a"])
    reference.emissionprob_ = np.column_stack([1 - p, p])
    X = values.reshape(-1, 1)
    np.testing.assert_allclose(post.smoothed, reference.predict_proba(X), atol=1e-12, rtol=0)
    assert post.log_likelihood == pytest.approx(reference.score(X), abs=1e-9)


@pytest.mark.parametrize("months_in", [None, 0, 2, 11])
def test_the_numbers_of_forecast_exact_bit_for_bit(months_in):
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    as_of = None if months_in is None else (model.first_period + months_in).end_time.date()
    post = sf.exact_posterior(model, evidence, as_of)
    fc = sf.forecast(model, evidence, as_of, exact=True)
    assert np.array_equal(post.filtered, fc.filtered.values[0, 0])
    assert np.array_equal(post.smoothed, fc.smoothed.values[0, 0])
    assert np.array_equal(post.horizon, fc.horizon.values[0, 0])
    assert list(post.periods) == list(fc.filtered.time.values) and post.as_of == fc.as_of
    assert list(post.scenarios) == list(model.scenario_ids)


def test_labelled_views_are_cached_and_the_arrays_read_only():
    model = small_model(months=6)
    post = sf.exact_posterior(model, reports(EVIDENCE_CASES["graded-and-repeated"]))
    frame = post.smoothed_frame
    assert frame is post.smoothed_frame  # built once
    assert list(frame.columns) == list(model.scenario_ids) and list(frame.index) == list(post.periods)
    np.testing.assert_array_equal(frame.to_numpy(), post.smoothed)
    np.testing.assert_array_equal(post.filtered_frame.to_numpy(), post.filtered)
    assert post.horizon_series.sum() == pytest.approx(1.0) and math.isfinite(post.log_likelihood)
    with pytest.raises(ValueError, match="read-only"):
        post.smoothed[0, 0] = 0.5
    assert "ExactPosterior(as of 2025-06" in repr(post)


def test_no_evidence_gives_the_prior_through_the_chain():
    model = small_model(persistence=0.8, months=4)
    post = sf.exact_posterior(model)
    np.testing.assert_allclose(post.filtered[0], PRIOR, atol=1e-15)
    assert post.log_likelihood == 0.0 and len(post.periods) == 1


def test_bad_inputs_are_clear_errors():
    model = small_model(months=6)
    with pytest.raises(SyriaforecastError, match="as_of = 2024-12-31: must be on or after"):
        sf.exact_posterior(model, None, "2024-12-31")
    other = sf.load_model(sf.bundled_model())
    with pytest.raises(SyriaforecastError, match="validated against model"):
        sf.exact_posterior(other, sf.load_evidence(reports(EVIDENCE_CASES["ungraded-binary"]), model))
