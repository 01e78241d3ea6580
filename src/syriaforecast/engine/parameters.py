"""Parameter values that need no sampling: the model file taken as exact, and which parameters are fixed."""

from __future__ import annotations

import numpy as np

from syriaforecast.engine.data import CREDIBILITY_PRIOR_MEAN, RELIABILITY_PRIOR_MEAN, ModelArrays

__all__ = ["exact_parameters", "grade_means", "samples_persistence"]


def grade_means() -> tuple[np.ndarray, np.ndarray]:
    """Prior mean informativeness of each source-reliability and each information-credibility grade."""
    return (
        np.array(list(RELIABILITY_PRIOR_MEAN.values())),
        np.array(list(CREDIBILITY_PRIOR_MEAN.values())),
    )


def samples_persistence(arrays: ModelArrays) -> bool:
    """Whether persistence is a parameter (it is fixed at 1, or for a single scenario)."""
    return (
        arrays.n_scenarios > 1 and arrays.persistence < 1.0 and arrays.persistence_uncertainty > 0
    )


def exact_parameters(arrays: ModelArrays) -> dict[str, np.ndarray]:
    """Point values that take the model file as exact.

    Scenario priors and ``persistence`` as written, no elicitation error (a
    phrase sits at its band's logit midpoint), and each grade's prior mean
    informativeness. Same names as the posterior's parameters.
    """
    rel_mean, cred_mean = grade_means()
    out = {
        "initial_probability": arrays.prior.copy(),
        "persistence": np.full(arrays.n_scenarios, arrays.persistence),
        "elicitation_sigma": np.zeros(arrays.n_groups),
        "elicitation_eta": np.zeros((arrays.n_indicators, arrays.n_scenarios)),
        "source_reliability": rel_mean,
        "information_credibility": cred_mean,
    }
    if arrays.has_transition_parameters:  # elicited rows and drivers' factors as written
        out["transition"] = arrays.transition_base.copy()
        out["driver_effect"] = np.exp(arrays.log_effect)
    return out
