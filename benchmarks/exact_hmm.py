"""Section 2: exact mode against hmmlearn's forward-backward on identical parameters."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from _common import log, save_result, section_clock, time_call
from worlds import binary_chain

PERIODS = (24, 60, 120, 240, 600, 1200, 2400)


def run(*, periods: tuple[int, ...] = PERIODS) -> dict[str, Any]:
    import hmmlearn
    from hmmlearn.hmm import CategoricalHMM

    import syriaforecast as sf
    from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
    from syriaforecast.engine.hmm import forward_backward

    try:
        from syriaforecast.engine.kernel import _scaled_backward, _scaled_forward
    except ImportError:  # the kernel's private helpers moved: skip that column
        _scaled_forward = _scaled_backward = None

    record: dict[str, Any] = {"hmmlearn": hmmlearn.__version__, "scenarios": 3, "rows": []}
    with section_clock(record):
        for T in periods:
            log(f"exact vs hmmlearn: T = {T}")
            model, evidence, hmm = binary_chain(T, seed=T)
            as_of = model.horizon
            ours = sf.forecast(model, evidence, as_of=as_of, exact=True)
            smoothed = ours.smoothed.values[0, 0]
            filtered = ours.filtered.values[0, 0]

            reference = CategoricalHMM(n_components=hmm["startprob"].size, init_params="", params="")
            reference.n_features = 2
            reference.startprob_ = hmm["startprob"]
            reference.transmat_ = hmm["transmat"]
            reference.emissionprob_ = hmm["emissionprob"]
            X = hmm["observations"][:, None]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = reference.predict_proba(X)
                their_loglik = float(reference.score(X))

            terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
            chain = forward_backward(terms.log_initial, terms.log_transition, terms.log_emission)
            row: dict[str, Any] = {
                "T": T,
                "max_abs_diff_smoothed": float(np.abs(smoothed - theirs).max()),
                "max_abs_diff_numpy_fb": float(np.abs(chain.smoothed[0] - theirs).max()),
                "loglik_diff": abs(float(chain.log_likelihood[0]) - their_loglik),
                "filtered_last_equals_forward": float(np.abs(filtered[-1] - chain.filtered[0, -1]).max()),
            }
            repeat = 5
            row["sf_forecast_exact"] = time_call(
                lambda m=model, e=evidence, a=as_of: sf.forecast(m, e, as_of=a, exact=True),
                repeat=repeat,
                budget=0.3,
            )["median"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["hmmlearn_predict_proba"] = time_call(
                    lambda r=reference, x=X: r.predict_proba(x), repeat=repeat, budget=0.2
                )["median"]
            row["numpy_forward_backward"] = time_call(
                lambda t=terms: forward_backward(t.log_initial, t.log_transition, t.log_emission),
                repeat=repeat,
                budget=0.2,
            )["median"]
            if _scaled_forward is not None:
                li, lt, le = terms.log_initial[0], terms.log_transition[0], terms.log_emission[0]

                def kernel_fb(li=li, lt=lt, le=le):
                    alpha, scale, emission, transition, _ = _scaled_forward(li, np.exp(lt), le)
                    return _scaled_backward(alpha, scale, emission, transition)

                gamma, _ = kernel_fb()
                gamma = gamma / gamma.sum(axis=1, keepdims=True)
                row["max_abs_diff_kernel"] = float(np.abs(gamma - theirs).max())
                row["kernel_forward_backward"] = time_call(kernel_fb, repeat=repeat, budget=0.2)["median"]
            record["rows"].append(row)
    save_result("exact_hmm", record)
    return record
