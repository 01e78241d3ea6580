"""The posterior density on the unconstrained scale, compiled once per machine for nutpie.

The hierarchical model (priors in :mod:`syriaforecast.engine.pymc_model`) is
written out here as one Numba kernel returning log density and gradient. nutpie
samples it through its Python-function interface. Compared with letting PyMC
generate and compile the density for each model, this removes a 30-100 s
compilation per model structure: the kernel is compiled once per machine
(``cache=True``) and serves every model, evidence set and as-of date.

Unconstrained coordinates, in order:

- ``y`` (S-1): initial probabilities ``pi = softmax(y, 0)`` (additive log-ratio);
  the Dirichlet(alpha) density with its Jacobian ``prod pi`` is ``sum alpha log pi``;
- ``z`` (S, only when persistence is sampled): ``p = expit(c + u z)``, ``z ~ N(0, 1)``;
- ``log sigma`` (G): ``sigma ~ HalfNormal(scale)``, Jacobian ``sigma``;
- ``eta`` (I x S): ``N(0, 1)``;
- ``logit kappa`` (6 + 6): ``kappa ~ Beta(a, b)``, Jacobian ``kappa (1 - kappa)``.

The test suite checks this density against PyMC's log density of the same model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from syriaforecast.engine.kernel import log_likelihood_and_gradient

__all__ = ["Layout", "log_density_and_gradient", "unpack"]


@dataclass(frozen=True)
class Layout:
    """Sizes of the parameter blocks in the unconstrained vector."""

    n_scenarios: int
    n_groups: int
    n_indicators: int
    sample_persistence: bool

    @property
    def n_initial(self) -> int:
        """Free coordinates of the initial probabilities."""
        return self.n_scenarios - 1

    @property
    def n_persistence(self) -> int:
        """Coordinates of the persistence block (0 when persistence is fixed)."""
        return self.n_scenarios if self.sample_persistence else 0

    @property
    def ndim(self) -> int:
        """Length of the unconstrained vector."""
        return (
            self.n_initial + self.n_persistence + self.n_groups
            + self.n_indicators * self.n_scenarios + 12
        )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _softmax_with_zero(y: np.ndarray) -> np.ndarray:
    S = y.shape[0] + 1
    top = 0.0
    for v in y:
        top = max(top, v)
    out = np.empty(S)
    total = 0.0
    for k in range(S - 1):
        out[k] = math.exp(y[k] - top)
        total += out[k]
    out[S - 1] = math.exp(-top)
    total += out[S - 1]
    return out / total


@numba.njit(cache=True, nogil=True)
def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@numba.njit(cache=True, nogil=True)
def unpack(
    x, n_scenarios, n_groups, n_indicators, sample_persistence, persistence_fixed,
    persistence_centre, persistence_scale, group_of, band_sd,
):  # fmt: skip
    """Constrained parameters from the unconstrained vector."""
    S, G, I = n_scenarios, n_groups, n_indicators
    pos = 0
    if S > 1:
        initial = _softmax_with_zero(x[pos : pos + S - 1])
        pos += S - 1
    else:
        initial = np.ones(1)
    persistence = persistence_fixed.copy()
    if sample_persistence:
        for s in range(S):
            persistence[s] = _sigmoid(persistence_centre + persistence_scale * x[pos + s])
        pos += S
    sigma = np.exp(x[pos : pos + G])
    pos += G
    eta = x[pos : pos + I * S].copy().reshape((I, S))
    pos += I * S
    kappa_rel = np.empty(6)
    kappa_cred = np.empty(6)
    for k in range(6):
        kappa_rel[k] = _sigmoid(x[pos + k])
        kappa_cred[k] = _sigmoid(x[pos + 6 + k])
    scale = np.empty((I, S))
    for i in range(I):
        for s in range(S):
            scale[i, s] = math.sqrt(sigma[group_of[i]] ** 2 + band_sd[i, s] ** 2)
    return initial, persistence, sigma, eta, kappa_rel, kappa_cred, scale


@numba.njit(cache=True, nogil=True)
def log_density_and_gradient(
    x, n_scenarios, n_groups, n_indicators, sample_persistence, persistence_fixed,
    persistence_centre, persistence_scale, prior_alpha, elicitation_scale, group_of, band_sd,
    rel_alpha, rel_beta, cred_alpha, cred_beta,
    cutpoints, log_rate, is_count, n_periods,
    cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
):  # fmt: skip
    """Unnormalised log posterior density and its gradient on the unconstrained scale."""
    S, G, I = n_scenarios, n_groups, n_indicators
    initial, persistence, sigma, eta, kappa_rel, kappa_cred, scale = unpack(
        x, S, G, I, sample_persistence, persistence_fixed, persistence_centre, persistence_scale,
        group_of, band_sd,
    )  # fmt: skip
    shift = scale * eta
    log_initial = np.log(initial)
    loglik, g_log_initial, g_persistence, g_shift, g_rel, g_cred = log_likelihood_and_gradient(
        log_initial, persistence, shift, kappa_rel, kappa_cred, cutpoints, log_rate, is_count, n_periods,
        cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
        report_cell, report_match, report_noise, report_reliability, report_credibility,
    )  # fmt: skip
    grad = np.zeros(x.shape[0])
    total = loglik
    pos = 0
    if S > 1:
        # Dirichlet(alpha) with the ALR Jacobian: sum_k alpha_k log pi_k; d/dy_j = alpha_j - A pi_j.
        alpha_total = 0.0
        g_total = 0.0
        for k in range(S):
            total += prior_alpha[k] * log_initial[k]
            alpha_total += prior_alpha[k]
            g_total += g_log_initial[k]
        for j in range(S - 1):
            grad[pos + j] = (prior_alpha[j] - alpha_total * initial[j]) + (
                g_log_initial[j] - g_total * initial[j]
            )
        pos += S - 1
    if sample_persistence:
        for s in range(S):
            z = x[pos + s]
            p = persistence[s]
            total += -0.5 * z * z
            grad[pos + s] = -z + g_persistence[s] * p * (1.0 - p) * persistence_scale
        pos += S
    # HalfNormal(scale) on sigma with log transform (Jacobian sigma).
    g_sigma = np.zeros(G)
    for i in range(I):
        for s in range(S):
            if scale[i, s] > 0:
                g_sigma[group_of[i]] += g_shift[i, s] * eta[i, s] * sigma[group_of[i]] / scale[i, s]
    for g in range(G):
        ratio = sigma[g] / elicitation_scale
        total += -0.5 * ratio * ratio + x[pos + g]
        grad[pos + g] = -ratio * ratio + 1.0 + g_sigma[g] * sigma[g]
    pos += G
    for i in range(I):
        for s in range(S):
            e = eta[i, s]
            total += -0.5 * e * e
            grad[pos + i * S + s] = -e + g_shift[i, s] * scale[i, s]
    pos += I * S
    # Beta(a, b) on kappa with logit transform: a log kappa + b log(1 - kappa).
    for k in range(6):
        kr = kappa_rel[k]
        total += rel_alpha[k] * math.log(kr) + rel_beta[k] * math.log1p(-kr)
        grad[pos + k] = rel_alpha[k] * (1.0 - kr) - rel_beta[k] * kr + g_rel[k] * kr * (1.0 - kr)
        kc = kappa_cred[k]
        total += cred_alpha[k] * math.log(kc) + cred_beta[k] * math.log1p(-kc)
        grad[pos + 6 + k] = cred_alpha[k] * (1.0 - kc) - cred_beta[k] * kc + g_cred[k] * kc * (1.0 - kc)
    return total, grad
