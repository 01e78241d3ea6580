"""Section 2: exact mode against hmmlearn's forward-backward on identical parameters.

For each chain length T the same chain (3 scenarios, one binary indicator reported
ungraded in every period) is computed by:

- ``sf.forecast(model, evidence, exact=True)``: the whole public call (evidence cells,
  chain terms, compiled forward-backward; the Forecast's xarray objects and provenance
  are built on first read, so a call that reads none of them does not pay for them).
  Timed twice: repeated on one evidence object, and on a new, equal evidence object
  each call (nothing derived from the evidence kept);
- ``sf.exact_posterior(model, evidence)``: the same numbers as arrays (no Forecast);
- ``engine.hmm.forward_backward``: the engine's compiled batched forward-backward
  alone, on the chain terms (what exact mode runs); ``forward_backward_numpy`` its
  NumPy reference;

against hmmlearn's ``predict_proba`` (validation, emission lookup, forward-backward,
posteriors; default ``implementation="log"``) and its forward-backward alone
(``_score_log`` / ``_score_scaling`` with ``compute_posteriors=True``: emission lookup,
forward, backward and posteriors, no input validation).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from _common import cpu, loadavg, log, save_result, section_clock, time_call
from worlds import binary_chain

PERIODS = (24, 60, 120, 240, 600, 1200, 2400)


def _hmmlearn(hmm: dict[str, np.ndarray]) -> tuple[Any, np.ndarray]:
    from hmmlearn.hmm import CategoricalHMM

    reference = CategoricalHMM(n_components=hmm["startprob"].size, init_params="", params="")
    reference.n_features = 2
    reference.startprob_ = hmm["startprob"]
    reference.transmat_ = hmm["transmat"]
    reference.emissionprob_ = hmm["emissionprob"]
    return reference, hmm["observations"][:, None]


def run(*, periods: tuple[int, ...] = PERIODS) -> dict[str, Any]:
    import hmmlearn

    import syriaforecast as sf
    from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
    from syriaforecast.engine.hmm import forward_backward, forward_backward_numpy
    from syriaforecast.spec.evidence import Evidence

    record: dict[str, Any] = {"hmmlearn": hmmlearn.__version__, "scenarios": 3, "rows": []}
    with section_clock(record):
        for T in periods:
            log(f"exact vs hmmlearn: T = {T}")
            cpu_start = cpu()
            model, evidence, hmm = binary_chain(T, seed=T)
            as_of = model.horizon
            ours = sf.forecast(model, evidence, as_of=as_of, exact=True)
            arrays = sf.exact_posterior(model, evidence, as_of)
            reference, X = _hmmlearn(hmm)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = reference.predict_proba(X)
                their_loglik = float(reference.score(X))

            terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
            li, lt, le = terms.log_initial, terms.log_transition, terms.log_emission
            chain = forward_backward(li, lt, le)
            row: dict[str, Any] = {
                "T": T,
                "load": loadavg()[0],
                "max_abs_diff_smoothed": float(np.abs(ours.smoothed.values[0, 0] - theirs).max()),
                "max_abs_diff_arrays": float(np.abs(arrays.smoothed - theirs).max()),
                "max_abs_diff_compiled_fb": float(np.abs(chain.smoothed[0] - theirs).max()),
                "loglik_diff": abs(arrays.log_likelihood - their_loglik),
                "filtered_last_equals_forward": float(
                    np.abs(arrays.filtered[-1] - chain.filtered[0, -1]).max()
                ),
            }

            def fresh(e=evidence) -> Evidence:  # an equal evidence object with nothing derived yet
                return Evidence(e.model_id, e._table, e.source, e.sha256, b"")

            timed = {
                "sf_forecast_exact": lambda m=model, e=evidence, a=as_of: sf.forecast(m, e, a, exact=True),
                "sf_forecast_exact_new_evidence": lambda m=model, a=as_of: sf.forecast(
                    m, fresh(), a, exact=True
                ),
                "sf_exact_posterior": lambda m=model, e=evidence, a=as_of: sf.exact_posterior(m, e, a),
                "compiled_forward_backward": lambda a=li, b=lt, c=le: forward_backward(a, b, c),
                "numpy_forward_backward": lambda a=li, b=lt, c=le: forward_backward_numpy(a, b, c),
                "hmmlearn_predict_proba": lambda r=reference, x=X: r.predict_proba(x),
                "hmmlearn_forward_backward": lambda r=reference, x=X: r._score_log(
                    x, compute_posteriors=True
                ),
                "hmmlearn_forward_backward_scaling": lambda r=reference, x=X: r._score_scaling(
                    x, compute_posteriors=True
                ),
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for name, fn in timed.items():
                    measured = time_call(fn, repeat=5, budget=0.2)
                    row[name] = measured["median"]
                    row[f"{name}_min"] = measured["min"]
            row["cpu_seconds"] = cpu() - cpu_start
            record["rows"].append(row)
    save_result("exact_hmm", record)
    return record


if __name__ == "__main__":
    import json

    out = run()
    for r in out["rows"]:
        print(json.dumps({k: (round(v, 7) if isinstance(v, float) else v) for k, v in r.items()}))
