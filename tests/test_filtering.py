"""The compiled log-space forward filter against the NumPy recursion and a brute-force sum over paths."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np
import pytest
from scipy.special import logsumexp

from syriaforecast.engine.filtering import log_filtered_at
from syriaforecast.engine.hmm import forward_filter


def _numpy(log_initial, log_transition, log_emission, upto):
    ((last, _),) = deque(forward_filter(log_initial, log_transition, log_emission, upto=upto), maxlen=1)
    return last


def _log_probs(rng, shape):
    x = rng.normal(size=shape)
    return x - logsumexp(x, axis=-1, keepdims=True)


@pytest.mark.parametrize("varying", [False, True])
def test_broadcast_batches_match_the_numpy_recursion(varying):
    rng = np.random.default_rng(3)
    V, D, T, S = 5, 7, 9, 4
    log_initial = _log_probs(rng, (1, D, S))  # shared by every variant, as the reports pass it
    log_transition = _log_probs(rng, (1, D, T, S, S) if varying else (1, D, S, S))
    log_transition[..., 0, 2] = -np.inf  # a move the model rules out
    log_emission = rng.normal(-1.0, 2.0, (V, D, T, S))
    for upto in (0, 1, T - 1):
        got = log_filtered_at(log_initial, log_transition, log_emission, upto)
        assert got.shape == (V, D, S)
        np.testing.assert_allclose(got, _numpy(log_initial, log_transition, log_emission, upto), atol=1e-12)


def test_a_scenario_far_below_the_smallest_double_keeps_its_log():
    """Evidence worth exp(-800) against a scenario (below the smallest double): its log stays finite."""
    S, T = 3, 4
    log_initial = np.log(np.full(S, 1 / S))
    log_transition = np.log(np.full((S, S), 0.1) + 0.7 * np.eye(S))
    log_emission = np.zeros((T, S))
    log_emission[:, 0] = -800.0
    got = log_filtered_at(log_initial, log_transition, log_emission, T - 1)
    assert np.isfinite(got).all() and got[0] < np.log(np.finfo(float).smallest_subnormal)
    np.testing.assert_allclose(got, _numpy(log_initial, log_transition, log_emission, T - 1), rtol=1e-12)


def test_against_the_sum_over_every_scenario_path():
    rng = np.random.default_rng(11)
    S, T = 3, 5
    log_initial = _log_probs(rng, (S,))
    log_transition = _log_probs(rng, (T, S, S))  # varying: the move into t at [t]
    log_emission = rng.normal(size=(T, S))
    upto = 3
    joint = np.full(S, -np.inf)
    for path in itertools.product(range(S), repeat=upto + 1):
        lp = log_initial[path[0]] + log_emission[0, path[0]]
        for t in range(1, upto + 1):
            lp += log_transition[t, path[t - 1], path[t]] + log_emission[t, path[t]]
        joint[path[-1]] = np.logaddexp(joint[path[-1]], lp)
    expected = joint - logsumexp(joint)
    got = log_filtered_at(log_initial, log_transition, log_emission, upto)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_a_period_outside_the_chain_or_a_short_transition_stack_is_refused():
    with pytest.raises(ValueError, match="outside the 2 periods"):
        log_filtered_at(np.zeros(2), np.zeros((2, 2)), np.zeros((2, 2)), 2)
    with pytest.raises(ValueError, match="log_transition has 2 periods, log_emission 3"):
        log_filtered_at(np.zeros(2), np.zeros((2, 2, 2)), np.zeros((3, 2)), 2)
