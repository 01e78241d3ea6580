"""Exact forward-backward over the latent scenario chain, for a batch of posterior draws.

:func:`forward_backward` runs the engine's compiled scaled recursions
(:func:`~syriaforecast.engine.kernel.forward_backward_batch`, for one transition
matrix or one per period: those of the sampler's gradient, without the gradient);
:func:`forward_backward_numpy` is the same computation in log space with NumPy,
kept as an independent reference for the tests. Both normalise every message, so
any number of periods is safe. Inputs carry a leading draw axis ``D`` (use ``D = 1``
for a single parameter set).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["ChainPosterior", "forward_backward", "forward_backward_numpy", "forward_filter"]


@dataclass(frozen=True)
class ChainPosterior:
    """Per-draw posteriors of the latent scenario."""

    filtered: np.ndarray  # (D, T, S): P(z_t | evidence in periods <= t)
    smoothed: np.ndarray  # (D, T, S): P(z_t | all evidence)
    log_likelihood: np.ndarray  # (D,): log P(evidence | parameters)


def forward_filter(
    log_initial: np.ndarray,
    log_transition: np.ndarray,
    log_emission: np.ndarray,
    *,
    upto: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The forward recursion: the filtered log probabilities of each period in turn.

    Parameters
    ----------
    log_initial : ndarray (..., S)
        Log probability of each scenario in the first period.
    log_transition : ndarray (..., S, S) or (..., T, S, S)
        ``log P(z_t = j | z_{t-1} = i)`` at ``[..., i, j]``; with one more axis than
        ``log_emission`` the transitions vary over time (drivers), the move into
        period ``t`` at ``[..., t, i, j]``.
    log_emission : ndarray (..., T, S)
        ``log P(evidence in period t | z_t = s)``.
    upto : int, optional
        Last period to filter (default: the last, ``T - 1``).

    Yields
    ------
    log_filtered : ndarray (..., S)
        ``log P(z_t | evidence in periods <= t)``, for ``t = 0 .. upto``.
    log_norm : ndarray (...)
        ``log P(evidence in period t | evidence before t)``; their sum is the log likelihood.

    Notes
    -----
    Leading batch axes broadcast (draws, variants, worlds). Each message is
    normalised, so any number of periods is safe.
    """
    from scipy.special import logsumexp  # the NumPy reference only: exact mode runs without SciPy

    last = log_emission.shape[-2] - 1 if upto is None else upto
    varying = np.ndim(log_transition) == np.ndim(log_emission) + 1
    message = log_initial + log_emission[..., 0, :]
    for t in range(last + 1):
        if t > 0:
            step = log_transition[..., t, :, :] if varying else log_transition
            message = logsumexp(message[..., :, None] + step, axis=-2) + log_emission[..., t, :]
        norm = logsumexp(message, axis=-1, keepdims=True)
        message = message - norm
        yield message, norm[..., 0]


def forward_backward(
    log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray
) -> ChainPosterior:
    """Filtered and smoothed scenario probabilities for each draw (compiled).

    Parameters and returns as :func:`forward_backward_numpy`.
    """
    from syriaforecast.engine.kernel import forward_backward_batch

    if np.ndim(log_transition) == np.ndim(log_emission):  # one matrix per draw: a stack of one
        log_transition = np.asarray(log_transition)[:, None]
    filtered, smoothed, log_likelihood = forward_backward_batch(
        np.ascontiguousarray(log_initial, dtype=float),
        np.ascontiguousarray(log_transition, dtype=float),
        np.ascontiguousarray(log_emission, dtype=float),
    )
    return ChainPosterior(filtered, smoothed, log_likelihood)


def forward_backward_numpy(
    log_initial: np.ndarray, log_transition: np.ndarray, log_emission: np.ndarray
) -> ChainPosterior:
    """Filtered and smoothed scenario probabilities for each draw (NumPy, log space).

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
    from scipy.special import logsumexp

    log_initial = np.asarray(log_initial, dtype=float)
    log_transition = np.asarray(log_transition, dtype=float)
    log_emission = np.asarray(log_emission, dtype=float)
    D, T, S = log_emission.shape
    if log_transition.ndim == 3:
        log_transition = np.broadcast_to(log_transition[:, None], (D, T, S, S))
    log_filtered = np.empty((D, T, S))
    log_likelihood = np.zeros(D)
    for t, (message, norm) in enumerate(forward_filter(log_initial, log_transition, log_emission)):
        log_filtered[:, t] = message
        log_likelihood += norm

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
