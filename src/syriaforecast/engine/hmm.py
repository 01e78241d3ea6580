"""Exact forward-backward over the latent scenario chain, vectorised over posterior draws.

All recursions run on normalised messages in log space, so any number of
periods is safe. Inputs carry a leading draw axis ``D`` (use ``D = 1`` for a
single parameter set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = ["ChainPosterior", "forward_backward"]


@dataclass(frozen=True)
class ChainPosterior:
    """Per-draw posteriors of the latent scenario."""

    filtered: np.ndarray  # (D, T, S): P(z_t | evidence in periods <= t)
    smoothed: np.ndarray  # (D, T, S): P(z_t | all evidence)
    log_likelihood: np.ndarray  # (D,): log P(evidence | parameters)


def forward_backward(
    log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray
) -> ChainPosterior:
    """Filtered and smoothed scenario probabilities for each draw.

    Parameters
    ----------
    log_initial : ndarray (D, S)
        Log probability of each scenario in the first period.
    log_transition : ndarray (D, S, S) or (D, T, S, S)
        ``log P(z_t = j | z_{t-1} = i)`` at ``[d, i, j]``, or at ``[d, t, i, j]`` when
        the chain's transitions vary over time (drivers); ``[d, 0]`` is then unused.
    log_emission : ndarray (D, T, S)
        ``log P(evidence in period t | z_t = s)``; 0 where a period has no evidence.

    Returns
    -------
    ChainPosterior
    """
    log_initial = np.asarray(log_initial, dtype=float)
    log_transition = np.asarray(log_transition, dtype=float)
    log_emission = np.asarray(log_emission, dtype=float)
    D, T, S = log_emission.shape
    if log_transition.ndim == 3:
        log_transition = np.broadcast_to(log_transition[:, None], (D, T, S, S))
    log_filtered = np.empty((D, T, S))
    log_likelihood = np.zeros(D)
    message = log_initial + log_emission[:, 0]
    for t in range(T):
        if t > 0:
            predicted = logsumexp(log_filtered[:, t - 1, :, None] + log_transition[:, t], axis=1)
            message = predicted + log_emission[:, t]
        norm = logsumexp(message, axis=1)
        log_likelihood += norm
        log_filtered[:, t] = message - norm[:, None]

    log_smoothed = np.empty((D, T, S))
    log_smoothed[:, -1] = log_filtered[:, -1]
    log_beta = np.zeros((D, S))
    for t in range(T - 2, -1, -1):
        log_beta = logsumexp(
            log_transition[:, t + 1] + (log_emission[:, t + 1] + log_beta)[:, None, :], axis=2
        )
        log_beta -= logsumexp(log_beta, axis=1, keepdims=True)
        joint = log_filtered[:, t] + log_beta
        log_smoothed[:, t] = joint - logsumexp(joint, axis=1, keepdims=True)
    return ChainPosterior(np.exp(log_filtered), np.exp(log_smoothed), log_likelihood)
