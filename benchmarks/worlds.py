"""Synthetic model files and evidence of any size, for the exact-mode and scaling benchmarks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd


def _horizon(start_year: int, n_periods: int) -> str:
    """Last day of the ``n_periods``-th month from January of ``start_year``."""
    last = pd.Period(f"{start_year}-01", freq="M") + (n_periods - 1)
    return last.end_time.date().isoformat()


def model_dict(
    n_scenarios: int,
    n_indicators: int,
    n_periods: int,
    *,
    seed: int = 0,
    persistence: float = 0.9,
    elicitation_error: float = 0.5,
    n_groups: int | None = None,
    start_year: int = 1900,
) -> dict[str, Any]:
    """A monthly model with binary indicators whose likelihoods are drawn at random (seeded)."""
    rng = np.random.default_rng(seed)
    S, I = n_scenarios, n_indicators
    G = n_groups or min(5, I)
    scenarios = [
        {
            "id": f"s{k}",
            "name": f"Scenario {k}",
            "prior": round(1.0 / S, 6),
            "description": "",
            "resolution": f"Scenario {k} holds.",
        }
        for k in range(S)
    ]
    # Priors must sum to one exactly enough for the validator: give the rounding to the first.
    scenarios[0]["prior"] = round(1.0 - sum(s["prior"] for s in scenarios[1:]), 6)
    indicators = []
    for i in range(I):
        probs = rng.uniform(0.05, 0.95, S).round(3)
        indicators.append(
            {
                "id": f"ind{i}",
                "group": f"g{i % G}",
                "type": "binary",
                "text": f"Indicator {i}",
                "likelihood": {f"s{k}": float(probs[k]) for k in range(S)},
            }
        )
    return {
        "model": {
            "id": f"bench_s{S}_i{I}_t{n_periods}",
            "title": f"Benchmark model: {S} scenarios, {I} indicators, {n_periods} months",
            "question": "Which scenario holds at the horizon?",
            "period": "month",
            "start": f"{start_year}-01",
            "horizon": _horizon(start_year, n_periods),
            "persistence": persistence,
            "elicitation_error": elicitation_error,
        },
        "scenarios": scenarios,
        "indicators": indicators,
    }


def make_model(n_scenarios: int, n_indicators: int, n_periods: int, **kwargs: Any) -> Any:
    import syriaforecast as sf

    return sf.parse_model(model_dict(n_scenarios, n_indicators, n_periods, **kwargs))


def simulated_evidence(model: Any, *, seed: int, report_rate: float = 0.6) -> Any:
    """Reports simulated from the model's own likelihoods (graded and ungraded), all periods but 3."""
    from syriaforecast.studies.synthetic import simulate_world

    return simulate_world(model, seed=seed, elicitation_noise=0.5, report_rate=report_rate).evidence


# --------------------------------------------------------------------------- exact-mode HMM
def binary_chain(
    n_periods: int, *, seed: int = 0, n_scenarios: int = 3, persistence: float = 0.9
) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """A model with one binary indicator observed (ungraded) in every period, and its evidence.

    Returns the model, the evidence and the plain HMM parameters (``startprob``,
    ``transmat``, ``emissionprob``, ``observations``) that describe the same chain.
    """
    import syriaforecast as sf

    S = n_scenarios
    spec = model_dict(S, 1, n_periods, seed=seed, persistence=persistence, elicitation_error=0.0)
    spec["model"]["id"] = f"hmm_t{n_periods}"
    seen = np.linspace(0.15, 0.85, S).round(3)
    spec["indicators"][0]["likelihood"] = {f"s{k}": float(seen[k]) for k in range(S)}
    model = sf.parse_model(spec)
    prior = np.array([s.prior for s in model.scenarios], dtype=float)
    transmat = np.full((S, S), (1 - persistence) / (S - 1))
    np.fill_diagonal(transmat, persistence)
    rng = np.random.default_rng(seed)
    state = rng.choice(S, p=prior)
    obs = np.empty(n_periods, dtype=np.int64)
    for t in range(n_periods):
        if t:
            state = rng.choice(S, p=transmat[state])
        obs[t] = int(rng.random() < seen[state])
    first = pd.Period(model.first_period, freq="M")
    dates = [(first + t).start_time.date() + dt.timedelta(days=14) for t in range(n_periods)]
    frame = pd.DataFrame(
        {"date": [d.isoformat() for d in dates], "indicator": "ind0", "value": [str(v) for v in obs]}
    )
    evidence = sf.load_evidence(frame, model)
    emission = np.column_stack([1 - seen, seen])
    return (
        model,
        evidence,
        {"startprob": prior, "transmat": transmat, "emissionprob": emission, "observations": obs},
    )
