"""Where a hierarchical forecast spends its time, and what cheap changes would save (a worker task).

Measures on the bundled model: the cost of one density evaluation and of its
parts, the number of evaluations per forecast (tuning included), the cost per
evaluation outside the kernel (nutpie's Python-function bridge), the draws,
tuning and target acceptance that still give ESS_bulk >= 400, the
post-processing (per-draw forward-backward and diagnostics), and a warm update
by PSIS reweighting instead of a refit. Two prototypes (a batched per-draw
kernel, the PSIS update) show what the suggested changes would buy; they are
benchmarks-only code, checked against the library's own output.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numba
import numpy as np
from _common import EVIDENCE, MODEL, cpu, time_call

from syriaforecast.engine.kernel import (
    _scaled_backward,
    _scaled_forward,
    _store_posteriors,
    chain_terms_kernel,
)

warnings.simplefilter("ignore")


# --------------------------------------------------------------------------- prototype: batched draws
@numba.njit(cache=True, nogil=True)
def _batched_chain(
    initial, persistence, shift, kappa_rel, kappa_cred, cutpoints, log_rate, is_count, n_periods,
    cell_period, cell_indicator, cell_count_values, cell_slot_valid, face_log_reading,
    report_cell, report_match, report_noise, report_reliability, report_credibility,
    report_joint, cell_component, cell_event, event_cluster, indicator_cluster, cluster_closeness,
    transition_base, row_elicited, log_effect, driver_on,
):  # fmt: skip
    D, S = initial.shape
    filtered = np.empty((D, n_periods, S))
    smoothed = np.empty((D, n_periods, S))
    loglik = np.empty(D)
    no_offsets = np.zeros(report_cell.shape[0])  # no source offsets: every source at its letter
    for d in range(D):
        log_initial = np.log(initial[d])
        log_transition, log_emission, _ = chain_terms_kernel(
            log_initial, persistence[d], shift[d], kappa_rel[d], kappa_cred[d], no_offsets, cutpoints,
            log_rate, is_count, n_periods, cell_period, cell_indicator, cell_count_values, cell_slot_valid,
            face_log_reading, report_cell, report_match, report_noise, report_reliability,
            report_credibility, report_joint, cell_component, cell_event, event_cluster, indicator_cluster,
            cluster_closeness, transition_base, row_elicited, log_effect, driver_on,
        )  # fmt: skip
        alpha, scale, emission, transition, total = _scaled_forward(
            log_initial, np.exp(log_transition), log_emission
        )
        gamma, _ = _scaled_backward(alpha, scale, emission, transition)
        _store_posteriors(alpha, gamma, filtered[d], smoothed[d])
        loglik[d] = total
    return filtered, smoothed, loglik


def batched_chain_posterior(params: dict[str, np.ndarray], arrays: Any, data: Any) -> tuple[Any, Any, Any]:
    from syriaforecast.engine.names import EVIDENCE_FIELDS

    sigma = params["elicitation_sigma"][:, arrays.group_of]  # (D, I)
    scale = np.sqrt(sigma[:, :, None] ** 2 + arrays.band_sd[None] ** 2)
    shift = np.ascontiguousarray(scale * params["elicitation_eta"])
    return _batched_chain(
        np.ascontiguousarray(params["initial_probability"], dtype=float),
        np.ascontiguousarray(params["persistence"], dtype=float),
        shift,
        np.ascontiguousarray(params["source_reliability"], dtype=float),
        np.ascontiguousarray(params["information_credibility"], dtype=float),
        arrays.cutpoints,
        arrays.log_rate,
        arrays.is_count,
        int(data.n_periods),
        *(np.ascontiguousarray(getattr(data, name)) for name in EVIDENCE_FIELDS),
        arrays.transition_base,
        arrays.row_elicited,
        arrays.log_effect,
        np.ascontiguousarray(data.driver_on, dtype=float),
    )


# --------------------------------------------------------------------------- prototype: C callback
def cfunc_comparison(
    nutpie: Any, pyfunc_model: Any, density: Any, dargs: tuple[Any, ...], n_dim: int
) -> dict:
    """Sample the same density through nutpie's C-callback path and through the Python-function path.

    nutpie's Numba backend hands the sampler a ``cfunc`` address and a user-data
    pointer (``nutpie.compile_pymc.CompiledPyMCModel``); the sampler then calls
    the density without Python or the GIL. This prototype freezes the evidence
    arrays into the cfunc (so it compiles per model); a library version would
    pass them through the user-data pointer and compile once per machine.
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    names = [f"a{k}" for k in range(len(dargs))]
    source = f"""
def make(density, numba, np, n_dim, {", ".join(names)}):
    def logp(dim, x_, out_, logp_, user_data_):
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
        value = numba.carray(logp_, ())
        v, g = density(x, {", ".join(names)})
        value[()] = v
        for i in range(n_dim):
            out[i] = g[i]
        return 0 if np.isfinite(v) else 4

    def expand(dim, expanded, x_, out_, user_data_):
        x = numba.carray(x_, (n_dim,))
        out = numba.carray(out_, (n_dim,))
        for i in range(n_dim):
            out[i] = x[i]
        return 0

    return logp, expand
"""
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the argument list has to be spelled out for Numba's closure
    logp_raw, expand_raw = namespace["make"](density, numba, np, n_dim, *dargs)
    double_p = numba.types.CPointer(numba.types.double)
    u64, i64 = numba.types.uint64, numba.types.int64
    start = time.perf_counter()
    logp_c = numba.cfunc(i64(u64, double_p, double_p, double_p, numba.types.voidptr), nogil=True)(logp_raw)
    expand_c = numba.cfunc(i64(u64, u64, double_p, double_p, numba.types.voidptr), nogil=True)(expand_raw)
    compile_seconds = time.perf_counter() - start
    model = CompiledPyMCModel(
        _n_dim=n_dim, dims={}, _coords={}, _shapes={"x": (n_dim,)},
        compiled_logp_func=logp_c, compiled_expand_func=expand_c,
        initial_point_func=lambda seed: np.random.default_rng(seed).uniform(-0.5, 0.5, n_dim),
        shared_data={}, shared_var_keys={}, user_data=np.zeros(1), n_expanded=n_dim,
        shape_info=(["x"], [slice(0, n_dim)], [(n_dim,)]), logp_func=None, expand_func=None,
    )  # fmt: skip
    out: dict[str, Any] = {"compile_seconds": compile_seconds, "runs": []}
    for chains, cores in ((1, 1), (4, 2)):
        for label, candidate in (("python function", pyfunc_model), ("C callback", model)):
            start = time.perf_counter()
            trace = nutpie.sample(candidate, draws=1000, tune=1000, chains=chains, cores=cores, seed=5,
                                  progress_bar=False)  # fmt: skip
            wall = time.perf_counter() - start
            stats = trace.sample_stats if hasattr(trace, "sample_stats") else trace["sample_stats"]
            out["runs"].append({"path": label, "chains": chains, "cores": cores, "seconds": wall,
                                "n_steps_draws": int(np.asarray(stats["n_steps"]).sum())})  # fmt: skip
    return out


# --------------------------------------------------------------------------- probe
def main(args: dict[str, Any]) -> dict[str, Any]:
    import nutpie
    from workers import GradientCounter, forecast_record, grade_draws, next_month_rows

    import syriaforecast as sf
    from syriaforecast.engine.data import build_engine_data, build_model_arrays
    from syriaforecast.engine.density import log_density_and_gradient, unpack
    from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
    from syriaforecast.engine.hmm import forward_backward
    from syriaforecast.engine.kernel import log_likelihood_and_gradient, log_likelihood_kernel
    from syriaforecast.engine.psis import psis_weights
    from syriaforecast.engine.psis import relative_efficiency as _relative_efficiency
    from syriaforecast.engine.run import _coords, n_chain_periods
    from syriaforecast.engine.sampler import _density_arguments, build_sampler_model, layout_for
    from syriaforecast.forecast import forecast_parameters

    out: dict[str, Any] = {}
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    arrays = build_model_arrays(model)
    T = n_chain_periods(model)
    data = build_engine_data(model, arrays, evidence, T)
    layout = layout_for(arrays, data)  # with the evidence: its clusters and sources too
    dargs = _density_arguments(arrays, data, layout)
    out["sizes"] = {
        "ndim": layout.ndim,
        "periods": T,
        "cells": data.n_cells,
        "graded_reports": int(data.report_cell.shape[0]),
        "slots": int(data.slots),
    }

    # ---- one density evaluation and its parts
    x = np.random.default_rng(0).uniform(-0.5, 0.5, layout.ndim)

    @numba.njit(nogil=True)
    def noop(x, *rest):  # same 30 arguments: the cost of Numba's dispatch alone
        return 0.0, x

    unpack_args = (
        layout.n_scenarios,
        layout.n_groups,
        layout.n_indicators,
        layout.sample_persistence,
        dargs[4],
        dargs[5],
        dargs[6],
        arrays.group_of,
        arrays.band_sd,
    )
    initial, persistence, _sigma, eta, kappa_rel, kappa_cred, scale = unpack(x, *unpack_args)
    kernel_transitions = (arrays.transition_base, arrays.row_elicited, arrays.log_effect, data.driver_on)
    no_offsets = np.zeros(data.report_cell.shape[0])
    params = (np.log(initial), persistence, scale * eta, kappa_rel, kappa_cred, no_offsets)
    from syriaforecast.engine.names import EVIDENCE_FIELDS

    # cutpoints, log_rate, is_count, n_periods and the evidence arrays (the closeness last)
    lik_args = (*params, *dargs[15 : 19 + len(EVIDENCE_FIELDS)], *kernel_transitions)
    compiled = build_sampler_model(arrays, data, _coords(model))
    parts = {
        "dispatch (no-op with the same 30 arguments)": lambda: noop(x, *dargs),
        "unpack parameters": lambda: unpack(x, *unpack_args),
        "log-likelihood only (forward pass)": lambda: log_likelihood_kernel(*lik_args),
        "log-likelihood + gradient (forward-backward)": lambda: log_likelihood_and_gradient(*lik_args),
        "full density + gradient (what nutpie calls)": lambda: log_density_and_gradient(x, *dargs),
    }
    out["per_call"] = {name: time_call(fn, repeat=7, budget=0.3)["median"] for name, fn in parts.items()}

    # ---- a default forecast with every density evaluation counted
    with GradientCounter() as counter:
        c = cpu()
        t = time.perf_counter()
        result = sf.forecast(model, evidence, seed=11)
        seconds = time.perf_counter() - t
        record = forecast_record(result, seconds, cpu() - c)
    calls, kernel_seconds = counter.calls, counter.seconds
    out["default"] = record | {
        "gradient_calls": calls,
        "kernel_seconds": kernel_seconds,
        "kernel_us_per_call": 1e6 * kernel_seconds / max(calls, 1),
        "tuning_calls": calls - record.get("n_steps_draws", 0),
    }

    # ---- one chain on one core: cost per evaluation outside the kernel
    with GradientCounter() as counter:
        t = time.perf_counter()
        nutpie.sample(compiled, draws=1000, tune=1000, chains=1, cores=1, seed=3, progress_bar=False)
        wall = time.perf_counter() - t
    out["single_chain"] = {
        "draws": 1000,
        "tune": 1000,
        "wall": wall,
        "gradient_calls": counter.calls,
        "kernel_seconds": counter.seconds,
        "us_per_call": 1e6 * wall / max(counter.calls, 1),
        "kernel_us_per_call": 1e6 * counter.seconds / max(counter.calls, 1),
        "outside_kernel_us_per_call": 1e6 * (wall - counter.seconds) / max(counter.calls, 1),
    }

    # ---- the same density as a compiled C callback (no Python round trip, no GIL)
    try:
        out["cfunc"] = cfunc_comparison(nutpie, compiled, log_density_and_gradient, dargs, layout.ndim)
    except Exception as exc:  # a prototype on nutpie internals: report, do not fail the run
        out["cfunc"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}

    # ---- fewer draws, shorter tuning, lower target acceptance: does ESS_bulk stay >= 400?
    grid = []
    settings = [(1000, 1000, 0.9), (1000, 300, 0.9), (1000, 300, 0.8), (600, 300, 0.8)]
    seeds = (11, 21) if not args.get("quick") else (11,)
    for draws, tune, accept in settings:
        for seed in seeds:
            if (draws, tune, accept, seed) == (1000, 1000, 0.9, 11):
                grid.append(
                    out["default"]
                    | {"tune": tune, "target_accept": accept, "per_chain_draws": draws, "seed": seed}
                )
                continue
            with GradientCounter() as counter:
                c = cpu()
                t = time.perf_counter()
                run = sf.forecast(model, evidence, draws=draws, tune=tune, target_accept=accept, seed=seed)
                rec = forecast_record(run, time.perf_counter() - t, cpu() - c)
            grid.append(
                rec
                | {
                    "tune": tune,
                    "target_accept": accept,
                    "gradient_calls": counter.calls,
                    "per_chain_draws": draws,
                    "seed": seed,
                }
            )
    out["grid"] = grid

    # ---- post-processing: per-draw chain terms, forward-backward, diagnostics
    params = forecast_parameters(result)
    post: dict[str, float] = {}
    t = time.perf_counter()
    terms = chain_terms_for_draws(model, data, params, arrays=arrays)
    post["chain terms, one kernel call per draw (4000 draws)"] = time.perf_counter() - t
    t = time.perf_counter()
    chain = forward_backward(terms.log_initial, terms.log_transition, terms.log_emission)
    post["forward-backward in NumPy/SciPy (4000 draws)"] = time.perf_counter() - t
    t = time.perf_counter()
    grade_draws(result.horizon, result.filtered, result.smoothed)
    post["ESS and R-hat of every reported probability"] = time.perf_counter() - t
    t = time.perf_counter()
    result.summary()
    post["summary (HDIs)"] = time.perf_counter() - t
    batched_chain_posterior(params, arrays, data)  # compile (or load) the prototype
    t = time.perf_counter()
    filtered, smoothed, loglik = batched_chain_posterior(params, arrays, data)
    post["prototype: one batched Numba call for terms + forward-backward"] = time.perf_counter() - t
    out["postprocess"] = post
    out["batched_max_abs_difference"] = float(
        max(np.abs(filtered - chain.filtered).max(), np.abs(smoothed - chain.smoothed).max())
    )
    out["batched_loglik_max_abs_difference"] = float(np.abs(loglik - chain.log_likelihood).max())

    # ---- warm update: PSIS reweighting of the last fit's draws vs a refit
    newer = evidence.append(next_month_rows(evidence, 1), model)
    new_data = build_engine_data(model, arrays, newer, T)
    log_lik_old = loglik  # a fit would keep these (computed with its draws)
    t = time.perf_counter()
    new_filtered, _, log_lik_new = batched_chain_posterior(params, arrays, new_data)
    log_ratio = log_lik_new - log_lik_old
    chains, draws = result.horizon.sizes["chain"], result.horizon.sizes["draw"]
    r_eff = _relative_efficiency(log_ratio, chains, draws)
    weights, k = psis_weights(log_ratio, r_eff=r_eff)
    horizon_new = new_filtered[:, -1, :]
    psis_mean = weights @ horizon_new if weights is not None else np.full(horizon_new.shape[1], np.nan)
    psis_seconds = time.perf_counter() - t
    t = time.perf_counter()
    library_terms = chain_posterior(chain_terms_for_draws(model, newer, params, arrays=arrays))
    library_reweight_seconds = time.perf_counter() - t
    c = cpu()
    t = time.perf_counter()
    refit = sf.forecast(model, newer, seed=12)
    refit_record = forecast_record(refit, time.perf_counter() - t, cpu() - c)
    refit_mean = refit.horizon.mean(("chain", "draw")).values
    mcse = refit.horizon.std(("chain", "draw")).values / np.sqrt(refit_record.get("horizon_ess_min", 1.0))
    out["psis_update"] = {
        "seconds_batched": psis_seconds,
        "seconds_with_library_per_draw_loop": library_reweight_seconds,
        "pareto_k": float(k),
        "ess": float(r_eff / np.sum(weights**2)) if weights is not None else float("nan"),
        "psis_mean": [float(v) for v in psis_mean],
        "refit": refit_record,
        "refit_mean": [float(v) for v in refit_mean],
        "refit_mcse": [float(v) for v in mcse],
        "max_abs_difference_to_refit": float(np.abs(psis_mean - refit_mean).max()),
        "library_loop_agrees": float(np.abs(library_terms.filtered[:, -1, :] - horizon_new).max()),
    }
    return out
