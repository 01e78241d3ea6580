# ruff: noqa: E501  (long Markdown prose templates read better unbroken)
"""Render benchmarks/RESULTS.md and benchmarks/HEADLINE.md from the raw results in out/bench/."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from _common import BENCH, load_result, median, write_text_atomic

GOAL_WARM = 1.0
GOAL_FIRST = 5.0
GOAL_CLI = 10.0
GOAL_ESS = 400
GOAL_REPLAY = 5.0


# --------------------------------------------------------------------------- formatting
def s(value: float | None, digits: int = 2) -> str:
    """Seconds, with a unit that suits the size."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 1:
        return f"{value:.{digits}g} s" if value < 10 else f"{value:.1f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def num(value: float | None, fmt: str = "{:.3g}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return fmt.format(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_line(record: dict[str, Any]) -> str:
    start, end = record.get("load_start", [math.nan] * 3), record.get("load_end", [math.nan] * 3)
    return (
        f"_Run {record.get('date', '?')}, {s(record.get('seconds'))} of wall time. Load average "
        f"(1/5/15 min) at start {start[0]:.2f} / {start[1]:.2f} / {start[2]:.2f}, at end "
        f"{end[0]:.2f} / {end[1]:.2f} / {end[2]:.2f} on {CORES} cores._"
    )


CORES = 2


def spread(values: Sequence[float]) -> str:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{s(values[0])} (n = 1)"
    return f"{s(median(values))} (min {s(min(values))}, max {s(max(values))}, n = {len(values)})"


def verdict(value: float, goal: float, *, higher_is_better: bool = False) -> str:
    if not math.isfinite(value):
        return "not measured"
    met = value >= goal if higher_is_better else value <= goal
    if met:
        return "**met**"
    factor = goal / value if higher_is_better else value / goal
    return f"**missed** ({factor:.1f}x)"


# --------------------------------------------------------------------------- latency figures
def latency_figures(lat: dict[str, Any]) -> dict[str, Any]:
    cold = lat.get("cold", [])
    warm = [w for c in cold for w in c.get("warm", [])]
    naive = lat.get("naive", [])
    naive_warm = [w for n in naive for w in n.get("warm", [])]
    first_run = lat.get("first_run_empty_cache", {})
    fig = {
        "cold_to_summary": [c["to_first_summary"] for c in cold],
        "cold_import": [c["import"] for c in cold],
        "cold_forecast": [c["first_forecast_with_summary"] for c in cold],
        "cold_cpu": [c["first"]["cpu_seconds"] for c in cold],
        "cold_ess": [c["first"].get("ess_min", math.nan) for c in cold],
        "cold_process": [c["process_wall"] for c in cold],
        "warm": [w["seconds"] for w in warm],
        "warm_cpu": [w["cpu_seconds"] for w in warm],
        "warm_ess": [w.get("ess_min", math.nan) for w in warm],
        "warm_converged": [w.get("converged", False) for w in warm],
        "update_psis": [u["seconds"] for c in cold for u in c.get("warm_update", []) if u.get("path") == "psis"],
        "update_refit": [u["seconds"] for c in cold for u in c.get("warm_update", []) if u.get("path") == "refit"],
        "update_k": [u["pareto_k"] for c in cold for u in c.get("warm_update", [])],
        "update_converged": [u.get("converged", False) for c in cold for u in c.get("warm_update", [])],
        "cli": [c["process_wall"] for c in lat.get("cli", [])],
        "cli_cpu": [c["process_cpu"] for c in lat.get("cli", [])],
        "cli_ess": [
            min(v for k, v in c["diagnostics"].items() if k.endswith("_min_ess_bulk"))
            for c in lat.get("cli", [])
        ],
        "cli_converged": [c["diagnostics"].get("converged") for c in lat.get("cli", [])],
        "naive_cold": [n["to_first_result"] for n in naive],
        "naive_cold_sample": [n["first"]["sample"] for n in naive],
        "naive_warm": [w["seconds"] for w in naive_warm],
        "naive_warm_cpu": [w["cpu_seconds"] for w in naive_warm],
        "naive_ess": [n["first"]["ess_min"] for n in naive] + [w["ess_min"] for w in naive_warm],
        "first_run": first_run.get("to_first_summary", math.nan),
        "first_run_forecast": first_run.get("first_forecast_with_summary", math.nan),
    }
    # Warm forecasts of the same evidence (the k-th update of every process) under different seeds.
    by_k: dict[int, list[list[float]]] = {}
    for c in cold:
        for k, w in enumerate(c.get("warm", [])):
            by_k.setdefault(k, []).append(w["mean"])
    fig["seed_spread"] = {k: float(np.ptp(np.array(v), axis=0).max()) for k, v in by_k.items() if len(v) > 1}
    cold_means = [c["first"]["mean"] for c in cold] + [n["first"]["mean"] for n in naive]
    fig["cold_seed_spread"] = (
        float(np.ptp(np.array(cold_means), axis=0).max()) if len(cold_means) > 1 else math.nan
    )
    return fig


# --------------------------------------------------------------------------- sections
def render_machine(machine: dict[str, Any]) -> str:
    v = machine["versions"]
    rows = [
        ("Date", machine["date"]),
        ("CPU", f"{machine['cpu']} ({machine['cores']} cores)"),
        ("Memory", f"{machine['memory_gb']} GB"),
        ("Python", f"{machine['python']} on {machine['platform']}"),
        ("Commit", machine["git"]),
        ("Engine source hash", f"`{machine['engine_hash']}` (keys the benchmarks' private kernel cache)"),
        ("Versions", ", ".join(f"{k} {val}" for k, val in v.items())),
        ("Load average at start of run", " / ".join(f"{x:.2f}" for x in machine["load"])),
    ]
    if "load_end" in machine:
        rows.append(("Load average at end of run", " / ".join(f"{x:.2f}" for x in machine["load_end"])))
    if "total_seconds" in machine:
        rows.append(("Wall time of the run", s(machine["total_seconds"])))
    return table(("", ""), rows, "ll")


def headline(results: dict[str, Any]) -> tuple[str, list[str]]:
    """The headline table and the goal verdict lines."""
    rows: list[list[str]] = []
    goals: list[str] = []
    lat = results.get("latency")
    if lat:
        f = latency_figures(lat)
        warm, cold, cli = median(f["warm"]), median(f["cold_to_summary"]), median(f["cli"])
        warm_ess, cold_ess, cli_ess = (
            min(f["warm_ess"], default=math.nan),
            min(f["cold_ess"], default=math.nan),
            min(f["cli_ess"], default=math.nan),
        )
        nw, nc = median(f["naive_warm"]), median(f["naive_cold"])
        rows.append(
            [
                "Warm update, one more month of evidence (bundled model, 4 x 1000 draws)",
                f"{s(warm)} (min ESS {num(warm_ess, '{:.0f}')})",
                f"{s(nw)} (rebuild + `pm.sample(nuts_sampler='nutpie')`)",
                f"{nw / warm:.1f}x" if warm else "n/a",
                f"<= 1 s, ESS >= 400: {verdict(warm, GOAL_WARM)}"
                + (
                    ""
                    if warm_ess >= GOAL_ESS
                    else f"; ESS {verdict(warm_ess, GOAL_ESS, higher_is_better=True)}"
                ),
            ]
        )
        if f["update_k"]:
            psis, refit = median(f["update_psis"]), median(f["update_refit"])
            rows.append(
                [
                    "Warm update with `forecast(..., previous=fc)`: PSIS accepted / warm refit",
                    f"{s(psis)} (n = {len(f['update_psis'])}) / {s(refit)} (n = {len(f['update_refit'])}); "
                    f"Pareto k {min(f['update_k']):.2f}-{max(f['update_k']):.2f}; "
                    f"{sum(f['update_converged'])} of {len(f['update_converged'])} converged",
                    f"{s(nw)}",
                    f"{nw / psis:.1f}x" if psis == psis and psis else "n/a",
                    "<= 0.5 s (PSIS), <= 2 s (refit)",
                ]
            )
        rows.append(
            [
                "First forecast in a fresh process (import + load + forecast + summary)",
                f"{s(cold)} (min ESS {num(cold_ess, '{:.0f}')})",
                f"{s(nc)}",
                f"{nc / cold:.1f}x" if cold else "n/a",
                f"<= 5 s: {verdict(cold, GOAL_FIRST)}"
                + (
                    ""
                    if cold_ess >= GOAL_ESS
                    else f"; ESS {verdict(cold_ess, GOAL_ESS, higher_is_better=True)}"
                ),
            ]
        )
        rows.append(
            [
                "Fresh `syriaforecast forecast` process",
                f"{s(cli)} (min ESS {num(cli_ess, '{:.0f}')})",
                "",
                "",
                f"<= 10 s: {verdict(cli, GOAL_CLI)}"
                + (
                    ""
                    if cli_ess >= GOAL_ESS
                    else f"; ESS {verdict(cli_ess, GOAL_ESS, higher_is_better=True)}"
                ),
            ]
        )
        rows.append(
            [
                "First forecast after install (empty kernel cache: compiles once per machine)",
                s(f["first_run"]),
                "",
                "",
                "(not a goal)",
            ]
        )
        probe = lat.get("probe", {})
        psis = probe.get("psis_update")
        if psis:
            rows.append(
                [
                    "Warm update by PSIS reweighting of the last fit (prototype, not in the library yet)",
                    f"{s(psis['seconds_batched'])} (Pareto k {psis['pareto_k']:.2f}, ESS {psis['ess']:.0f})",
                    "",
                    "",
                    f"<= 1 s: {verdict(psis['seconds_batched'], GOAL_WARM)}",
                ]
            )
    ex = results.get("exact_hmm")
    if ex and ex.get("rows"):
        last = ex["rows"][-1]
        worst = max(r["max_abs_diff_smoothed"] for r in ex["rows"])
        rows.append(
            [
                f"Exact mode vs hmmlearn forward-backward, T = {ex['rows'][0]['T']}..{last['T']}",
                f"max abs difference {worst:.1e}; `sf.forecast(exact=True)` {s(last['sf_forecast_exact'])} "
                f"at T = {last['T']}",
                f"hmmlearn `predict_proba` {s(last['hmmlearn_predict_proba'])}",
                f"{last['hmmlearn_predict_proba'] / last['sf_forecast_exact']:.2g}x",
                "equal results: " + ("**met**" if worst < 1e-9 else "**missed**"),
            ]
        )
        if "sf_exact_posterior" in last:
            rows.append(
                [
                    f"... the same numbers as arrays, `sf.exact_posterior`, T = {last['T']}",
                    s(last["sf_exact_posterior"]),
                    f"hmmlearn forward-backward alone {s(last['hmmlearn_forward_backward'])}",
                    f"{last['hmmlearn_forward_backward'] / last['sf_exact_posterior']:.3g}x",
                    "",
                ]
            )
            rows.append(
                [
                    f"... the engine's compiled forward-backward alone, T = {last['T']}",
                    s(last["compiled_forward_backward"]),
                    f"hmmlearn forward-backward alone {s(last['hmmlearn_forward_backward'])}",
                    f"{last['hmmlearn_forward_backward'] / last['compiled_forward_backward']:.3g}x",
                    "",
                ]
            )
    rp = results.get("replay")
    if rp and "speedup" in rp:
        rows.append(
            [
                f"Backtest replay, {rp['psis']['cases']} cases x {rp['psis']['cutoffs']} cutoffs: PSIS vs refit",
                f"{s(rp['psis']['seconds'])}, Brier {rp['psis']['brier']:.4f}",
                f"refit every cutoff {s(rp['refit']['seconds'])}, Brier {rp['refit']['brier']:.4f}",
                f"{rp['speedup']:.1f}x",
                f">= 5x: {verdict(rp['speedup'], GOAL_REPLAY, higher_is_better=True)}",
            ]
        )
    elif rp:
        rows.append(["Backtest replay: PSIS vs refit", "not run: " + rp.get("unavailable", "?"), "", "", ""])
    cal = results.get("calibration")
    if cal and "table" in cal:
        t = cal["table"]
        rows.append(
            [
                f"Calibration, {cal['n_worlds']} synthetic worlds (Brier; lower is better)",
                f"hierarchical {t['hierarchical']['brier']:.3f}",
                f"elicitations as exact {t['exact']['brier']:.3f}; oracle {t['oracle']['brier']:.3f}",
                "",
                f"90% interval coverage {num(t['hierarchical'].get('coverage'), '{:.0%}')}",
            ]
        )
    sc = results.get("scaling")
    if sc:
        parts = []
        for axis, data in sc["axes"].items():
            parts.append(f"{axis} {data['exponents']['grad_tail']:.2f}")
        rows.append(
            [
                "Growth of one gradient evaluation with size (log-log slope over the larger sizes; 1 = linear)",
                ", ".join(parts),
                "",
                "",
                "",
            ]
        )
    head = table(("Benchmark", "syriaforecast", "Alternative", "Speed-up", "Goal"), rows, "lllrl")

    replay_line = []
    if rp and "speedup" in rp:
        ok = rp["speedup"] >= GOAL_REPLAY
        replay_line.append(
            f"- Backtest replay >= 5x faster than refitting: {'met' if ok else 'missed'} "
            f"({rp['speedup']:.1f}x; Brier difference PSIS - refit {rp['brier_difference']:+.4f})."
        )
    elif rp:
        replay_line.append(f"- Backtest replay >= 5x: not measured ({rp.get('unavailable', '?')}).")
    if lat:
        goals += goal_lines(latency_figures(lat), lat, replay_line)
    else:
        goals += replay_line
    return head, goals


def goal_lines(f: dict[str, Any], lat: dict[str, Any], extra: list[str]) -> list[str]:
    out = []
    probe = lat.get("probe", {})
    warm, cold, cli = median(f["warm"]), median(f["cold_to_summary"]), median(f["cli"])
    fixes = closing_moves(lat)
    for label, value, goal, ess in (
        ("Warm update <= 1 s", warm, GOAL_WARM, min(f["warm_ess"], default=math.nan)),
        ("First forecast in a process <= 5 s", cold, GOAL_FIRST, min(f["cold_ess"], default=math.nan)),
        ("Fresh `syriaforecast forecast` run <= 10 s", cli, GOAL_CLI, min(f["cli_ess"], default=math.nan)),
    ):
        met = value <= goal
        ess_ok = ess >= GOAL_ESS
        text = f"- {label}: {'met' if met else 'missed'}: median {s(value)}"
        if not met:
            text += f", {value - goal:.1f} s ({value / goal:.1f}x) over"
        text += f"; smallest ESS_bulk over the runs {ess:.0f} ({'>=' if ess_ok else '<'} 400)"
        if label.startswith("Warm"):
            conv = f["warm_converged"]
            text += (
                f"; {sum(bool(x) for x in conv)} of {len(conv)} warm forecasts passed the convergence check"
            )
        elif label.startswith("Fresh"):
            conv = f["cli_converged"]
            text += f"; {sum(bool(x) for x in conv)} of {len(conv)} passed the convergence check"
        out.append(text + ".")
    out += extra
    if probe and fixes:
        out.append("")
        out.append("What would close the gaps (each measured in this run, see *Where the time goes*):")
        out.append("")
        out += [f"{k + 1}. {line}" for k, line in enumerate(fixes)]
    return out


def grid_groups(grid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The draws grid grouped by setting (over seeds), the default setting first."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for g in grid:
        groups.setdefault((g["per_chain_draws"], g["tune"], g["target_accept"]), []).append(g)
    out = []
    for (draws, tune, accept), runs in groups.items():
        esses = [r.get("ess_min", math.nan) for r in runs]
        out.append(
            {
                "label": f"{draws} / {tune} / {accept}",
                "calls": median([r["gradient_calls"] for r in runs]),
                "seconds": median([r["seconds"] for r in runs]),
                "ess_min": min(esses),
                "ess_text": ", ".join(f"{e:.0f}" for e in esses),
                "all_converged": all(r.get("converged") for r in runs),
                "n": len(runs),
            }
        )
    return out


def refit_range(lat: dict[str, Any]) -> float:
    """Range of the first scenario's horizon mean over the first warm update's refits (all seeds, both routes)."""
    values = [c["warm"][0]["mean"][0] for c in lat.get("cold", []) if c.get("warm")]
    values += [n["warm"][0]["mean"][0] for n in lat.get("naive", []) if n.get("warm")]
    return max(values) - min(values) if len(values) > 1 else math.nan


def cfunc_summary(probe: dict[str, Any]) -> dict[str, Any] | None:
    cf = probe.get("cfunc")
    if not cf or "runs" not in cf:
        return None
    runs = {(r["path"], r["chains"]): r["seconds"] for r in cf["runs"]}
    out: dict[str, Any] = {"compile": cf["compile_seconds"]}
    for key, chains in (("one", 1), ("four", 4)):
        py, c = runs.get(("python function", chains)), runs.get(("C callback", chains))
        if py is None or c is None:
            return None
        label = "one chain" if chains == 1 else "4 chains on 2 cores"
        out[key] = f"{label} (1000 + 1000 tuning) in {s(c)} against {s(py)} ({1 - c / py:.0%} less)"
    return out


def closing_moves(lat: dict[str, Any]) -> list[str]:
    probe = lat.get("probe")
    if not probe:
        return []
    lines = []
    psis = probe.get("psis_update", {})
    if psis:
        lines.append(
            f"**Warm update by PSIS instead of a refit.** Reweighting the previous fit's "
            f"{probe['default']['draws']} draws to the new month took {s(psis['seconds_batched'])} "
            f"(Pareto k {psis['pareto_k']:.2f} <= 0.7, importance-sampling ESS {psis['ess']:.0f}); refit only when "
            f"k > 0.7. `syriaforecast.backtest.replay` already does this between cutoffs; `forecast()` could "
            f"take `previous=` and do the same. Its horizon means differed from one refit's by up to "
            f"{psis['max_abs_difference_to_refit']:.3f}; for comparison, refits of the same evidence under other "
            f"seeds spanned {refit_range(lat):.3f} in the first scenario's mean (section 1, *seed-to-seed "
            f"spread*)."
        )
    default = probe.get("default", {})
    groups = grid_groups(probe.get("grid", []))
    steps = [g.get("n_steps_draws", 0) / max(g["draws"], 1) for g in probe.get("grid", [])] or [math.nan]
    if groups and default:
        base = groups[0]
        passing = [g for g in groups[1:] if g["all_converged"] and g["ess_min"] >= GOAL_ESS]
        tuning = (
            f"Tuning took {default['tuning_calls']:,} of the {default['gradient_calls']:,} density evaluations "
            f"of a default forecast ({default['tuning_calls'] / default['gradient_calls']:.0%}); leapfrog steps "
            f"per draw ranged {min(steps):.1f} to {max(steps):.1f} over the settings tried."
        )
        if passing:
            best = min(passing, key=lambda g: g["calls"])
            lines.append(
                f"**Shorter tuning / fewer draws.** {tuning} The cheapest setting tried whose every run passed the "
                f"convergence check was draws / tune / target_accept = {best['label']}: {best['calls']:,.0f} "
                f"evaluations ({1 - best['calls'] / base['calls']:.0%} fewer than the default setting's median "
                f"{base['calls']:,.0f}), "
                f"{s(best['seconds'])} instead of {s(base['seconds'])}, smallest ESS_bulk {best['ess_min']:.0f} over "
                f"{best['n']} seed(s). ESS varies a lot between runs (the default setting gave {base['ess_text']} "
                f"here), so confirm on more seeds before changing the defaults; nutpie's own default tuning is 300."
            )
        else:
            lines.append(
                f"**Shorter tuning / fewer draws: not supported by this run.** {tuning} No cheaper setting tried "
                f"passed the convergence check on every seed (see the grid in *Where the time goes*)."
            )
    sc = lat.get("stale_cache", {})
    if sc.get("cached_seconds") and sc.get("fresh_seconds"):
        ratio = sc["cached_seconds"] / sc["fresh_seconds"]
        if ratio > 1.2:
            lines.append(
                f"**Invalidate the kernel cache when kernel.py changes.** With the library's default Numba cache, "
                f"one density evaluation took {s(sc['cached_seconds'])} against {s(sc['fresh_seconds'])} for a "
                f"fresh compile of the same function ({ratio:.1f}x): Numba's cache keys "
                f"`density.log_density_and_gradient` on density.py's timestamp only, so it kept an older kernel.py "
                f"compiled in (density index older than kernel.py: {sc.get('density_index_older_than_kernel')}; Numba's "
                f"notes on caching list this limitation: changes to symbols defined in another file are not "
                f"detected). "
                f"Define the density in kernel.py (one file, one timestamp), or fold a hash of kernel.py into "
                f"density.py's cache key. A stale kernel can also be a *wrong* kernel after an upgrade."
            )
    single = probe.get("single_chain", {})
    if single:
        share = single["outside_kernel_us_per_call"] / single["us_per_call"]
        text = (
            f"**Call the density from nutpie without Python.** Sampling one chain cost {single['us_per_call']:.0f} µs "
            f"per density evaluation, of which {single['kernel_us_per_call']:.0f} µs in the kernel and "
            f"{single['outside_kernel_us_per_call']:.0f} µs ({share:.0%}) outside it (nutpie's Python-function "
            f"bridge, unboxing 30 arguments, NUTS itself). nutpie's Numba backend takes a compiled `cfunc` address "
            f"and a user-data pointer instead (`nutpie.compile_pymc.CompiledPyMCModel`, called without the GIL)."
        )
        cf = cfunc_summary(probe)
        if cf:
            text += (
                f" A prototype doing that with the same density sampled {cf['one']} and {cf['four']}. A library "
                f"version would read the evidence arrays through the user-data pointer, so one cfunc serves every "
                f"model and is compiled once per machine (the prototype froze them in and compiled for "
                f"{s(cf['compile'])}); it leans on nutpie internals, so pin nutpie."
            )
        lines.append(text)
    post = probe.get("postprocess", {})
    if post:
        loop = post.get("chain terms, one kernel call per draw (4000 draws)", math.nan)
        fb = post.get("forward-backward in NumPy/SciPy (4000 draws)", math.nan)
        batched = post.get("prototype: one batched Numba call for terms + forward-backward", math.nan)
        lines.append(
            f"**Batch the post-processing in the kernel.** After sampling, the per-draw Python loop of kernel calls "
            f"({s(loop)}) plus the NumPy/SciPy forward-backward ({s(fb)}) took {s(loop + fb)} for 4000 draws; one "
            f"batched Numba call doing both took {s(batched)} (identical to "
            f"{probe.get('batched_max_abs_difference', math.nan):.0e}). The same swap removes the NumPy "
            f"recursion that dominates exact mode at long chains (section 2)."
        )
    return lines


def render_latency(lat: dict[str, Any]) -> str:
    f = latency_figures(lat)
    out = ["## 1. Update latency on the bundled model", "", load_line(lat), ""]
    out.append(
        "Bundled model (3 scenarios, 35 indicators, 37 monthly periods, 162 reports) with the library's default "
        "sampler settings (4 chains x 1000 draws, 1000 tuning steps, target_accept 0.9, 2 cores). *Cold* is a "
        "fresh interpreter: import, load, build, (load the cached kernels), sample, summary. *Warm* adds one more "
        "month of evidence (the last 31 days of reports re-dated a month later) and forecasts again in the same "
        f"process; each cold process runs {lat['warm_per_process']} warm update(s). The *naive* route rebuilds the "
        "PyMC model (`syriaforecast.engine.reference.pymc_model.build_pymc_model`: same priors, likelihood as a custom Op) "
        "and samples it with `pm.sample(nuts_sampler='nutpie')`, which compiles the model through PyTensor's "
        "Numba backend every time. ESS is the smallest ESS_bulk over every reported probability (horizon, "
        "filtered and smoothed, each period and scenario), as the library's own convergence check computes it. "
        "CPU seconds are user + system over all threads: they are less sensitive to other load than wall time "
        "(an idle 2-core machine runs the 2-thread sampler at up to 2 CPU seconds per wall second)."
    )
    out.append("")
    rows = [
        [
            "First forecast after install: empty kernel cache (one run)",
            spread([f["first_run"]]),
            "",
            "",
            "compiles the kernels once",
        ],
        [
            "Cold: fresh process to first summary",
            spread(f["cold_to_summary"]),
            "",
            num(min(f["cold_ess"], default=math.nan), "{:.0f}"),
            f"goal <= 5 s: {verdict(median(f['cold_to_summary']), GOAL_FIRST)}",
        ],
        ["... of which `import syriaforecast`", spread(f["cold_import"]), "", "", ""],
        [
            "... of which `forecast()` + `summary()`",
            spread(f["cold_forecast"]),
            s(median(f["cold_cpu"])),
            "",
            "",
        ],
        [
            "Fresh `syriaforecast forecast --json` process",
            spread(f["cli"]),
            s(median(f["cli_cpu"])),
            num(min(f["cli_ess"], default=math.nan), "{:.0f}"),
            f"goal <= 10 s: {verdict(median(f['cli']), GOAL_CLI)}",
        ],
        [
            "Warm: one more month, same process",
            spread(f["warm"]),
            s(median(f["warm_cpu"])),
            num(min(f["warm_ess"], default=math.nan), "{:.0f}"),
            f"goal <= 1 s: {verdict(median(f['warm']), GOAL_WARM)}",
        ],
        [
            "Naive PyMC: fresh process to first result",
            spread(f["naive_cold"]),
            "",
            num(min(f["naive_ess"], default=math.nan), "{:.0f}"),
            "",
        ],
        [
            "Naive PyMC: rebuild + resample with one more month",
            spread(f["naive_warm"]),
            s(median(f["naive_warm_cpu"])),
            "",
            "",
        ],
    ]
    out.append(
        table(
            ("Measure", "Wall time: median (min, max, n)", "CPU s (median)", "min ESS_bulk", "Goal"),
            rows,
            "lrrrl",
        )
    )
    out.append("")
    nw, w = median(f["naive_warm"]), median(f["warm"])
    nc, c = median(f["naive_cold"]), median(f["cold_to_summary"])
    out.append(
        f"Against the naive route: warm {nw / w:.1f}x faster, cold {nc / c:.1f}x faster (medians). "
        f"The naive route's `pm.sample` call took {spread(f['naive_cold_sample'])} in a fresh process, "
        "compilation included."
    )
    conv = f["warm_converged"]
    out.append("")
    out.append(
        f"Warm forecasts that passed the library's own convergence check (R-hat <= 1.01, ESS_bulk >= 400, "
        f"no divergences): {sum(bool(x) for x in conv)} of {len(conv)}; fresh CLI runs: "
        f"{sum(bool(x) for x in f['cli_converged'])} of {len(f['cli_converged'])}."
    )
    probe = lat.get("probe", {})
    psis = probe.get("psis_update", {})
    mcse = max(psis.get("refit_mcse") or [math.nan])
    update1 = [c["warm"][0]["mean"][0] for c in lat.get("cold", []) if c.get("warm")]
    naive1 = [n["warm"][0]["mean"][0] for n in lat.get("naive", []) if n.get("warm")]
    # (The probe's refit reuses the seed of the second cold process, so it is not an extra estimate.)
    if len(update1) + len(naive1) > 1:
        values = update1 + naive1
        rng = max(values) - min(values)
        text = (
            f"**Seed-to-seed spread.** The first warm update sees the same evidence in every process; only the "
            f"seed differs. Horizon mean of the first scenario after it: refits "
            f"{', '.join(f'{v:.3f}' for v in update1)}"
            + (f"; naive-route refits {', '.join(f'{v:.3f}' for v in naive1)}" if naive1 else "")
            + (f"; PSIS from the cold fit {psis['psis_mean'][0]:.3f}" if psis else "")
            + f". Range of the refits {rng:.3f}; a single refit reports a Monte Carlo standard error of about "
            f"{mcse:.3f} for these means (largest over scenarios)."
        )
        n = len(values)
        # Expected range of n independent normal draws, in standard deviations (the d2 constant).
        d2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078}
        typical = d2.get(n, 3.1)
        if math.isfinite(mcse) and mcse > 0:
            text += (
                f" The range is {rng / mcse:.1f} standard errors; {n} independent estimates typically span "
                f"{typical:.1f}."
            )
            if rng > 1.5 * typical * mcse:
                text += (
                    " Wider than Monte Carlo error alone gives: together with the failed convergence checks of the "
                    "warm forecasts, a sign that the posterior after the new month is harder to sample than the "
                    "cold one (worth a look before trusting a single warm forecast to two decimals)."
                )
            else:
                text += " Within what Monte Carlo error gives."
        if math.isfinite(f["cold_seed_spread"]):
            text += (
                f" Across cold runs (this library and the naive route, full evidence) the range of any horizon "
                f"mean was {f['cold_seed_spread']:.3f}."
            )
        out.append("")
        out.append(text)
    return "\n".join(out)


def render_probe(lat: dict[str, Any]) -> str:
    probe = lat.get("probe")
    if not probe:
        if lat.get("probe_error"):
            return "\n".join(["## Where the time goes", "", "The engine probe failed:", "", "```",
                              lat["probe_error"].strip(), "```"])  # fmt: skip
        return ""
    out = ["## Where the time goes, and cheap speed-ups", ""]
    sz = probe["sizes"]
    out.append(
        f"Measured in one fresh process on the bundled model ({sz['ndim']} unconstrained parameters, "
        f"{sz['cells']} evidence cells, {sz['graded_reports']} graded reports, {sz['periods']} periods)."
    )
    out.append("")
    out.append("**One density evaluation** (tight loop, median per call):")
    out.append("")
    out.append(table(("Part", "Time per call"), [[k, s(v)] for k, v in probe["per_call"].items()]))
    d = probe["default"]
    out.append("")
    out.append(
        f"**Density evaluations per default forecast:** {d['gradient_calls']:,} "
        f"({d['tuning_calls']:,} in tuning, {d['n_steps_draws']:,} in the 4000 draws: "
        f"{d['n_steps_draws'] / d['draws']:.1f} leapfrog steps per draw). Time inside the kernel summed over "
        f"both sampler threads: {s(d['kernel_seconds'])} ({d['kernel_us_per_call']:.0f} µs per call while "
        f"sampling, against {probe['per_call'].get('full density + gradient (what nutpie calls)', math.nan) * 1e6:.0f} µs "
        f"in a tight loop: the two chains, the GIL hand-over and the other load share the two cores). "
        f"The forecast took {s(d['seconds'])}: sampling {s(d['timings'].get('sample'))}, post-processing "
        f"{s(d['timings'].get('postprocess'))}."
    )
    sc = probe["single_chain"]
    out.append("")
    out.append(
        f"**Cost outside the kernel:** one chain on one core ({sc['draws']} draws + {sc['tune']} tuning) "
        f"made {sc['gradient_calls']:,} evaluations in {s(sc['wall'])}: {sc['us_per_call']:.0f} µs per "
        f"evaluation, {sc['kernel_us_per_call']:.0f} µs in the kernel and "
        f"{sc['outside_kernel_us_per_call']:.0f} µs outside it (the counting wrapper adds about 1 µs)."
    )
    cf = probe.get("cfunc", {})
    if "runs" in cf:
        out.append("")
        out.append(
            "**Python function vs C callback** (prototype; same density, same seed, nutpie.sample directly, "
            f"cfunc compiled in {s(cf['compile_seconds'])}):"
        )
        out.append("")
        out.append(
            table(
                ("Path", "chains / cores", "wall", "leapfrog steps in draws"),
                [
                    [r["path"], f"{r['chains']} / {r['cores']}", s(r["seconds"]), f"{r['n_steps_draws']:,}"]
                    for r in cf["runs"]
                ],
            )
        )
    elif cf:
        out.append("")
        out.append(f"C-callback prototype failed: {cf.get('error')}")
    out.append("")
    out.append(
        "**Fewer draws, shorter tuning, lower target acceptance** (same model and evidence; ESS_bulk is the "
        "smallest over every reported probability):"
    )
    out.append("")
    rows = []
    for g in probe["grid"]:
        rows.append(
            [
                f"{g['per_chain_draws']} / {g['tune']} / {g['target_accept']}",
                g.get("seed", ""),
                s(g["seconds"]),
                f"{g['gradient_calls']:,}",
                f"{g.get('n_steps_draws', 0) / max(g['draws'], 1):.1f}",
                num(g.get("ess_min"), "{:.0f}"),
                num(g.get("horizon_ess_min"), "{:.0f}"),
                num(
                    g.get(
                        "rhat_max",
                        max(g.get(f"{n}_rhat_max", math.nan) for n in ("horizon", "filtered", "smoothed")),
                    ),
                    "{:.3f}",
                ),
                g["divergences"],
                "yes" if g.get("converged") else "no",
            ]
        )
    out.append(
        table(
            (
                "draws / tune / target_accept",
                "seed",
                "forecast",
                "evaluations",
                "steps per draw",
                "min ESS (all)",
                "min ESS (horizon)",
                "max R-hat",
                "divergences",
                "converged",
            ),
            rows,
        )
    )
    post = probe["postprocess"]
    out.append("")
    out.append("**Post-processing of 4000 draws:**")
    out.append("")
    out.append(table(("Step", "Time"), [[k, s(v)] for k, v in post.items()]))
    out.append("")
    out.append(
        f"The batched prototype (benchmarks/engine_probe.py, calling the engine's own compiled kernels) "
        f"matches the library's filtered and smoothed probabilities to "
        f"{probe['batched_max_abs_difference']:.0e} and its log-likelihoods to "
        f"{probe['batched_loglik_max_abs_difference']:.0e}."
    )
    ps = probe.get("psis_update")
    if ps:
        out.append("")
        out.append(
            f"**Warm update by PSIS** (prototype): reweight the default forecast's draws by "
            f"p(new evidence | draw) / p(old evidence | draw) for one more month: {s(ps['seconds_batched'])} with the "
            f"batched kernel ({s(ps['seconds_with_library_per_draw_loop'])} with the library's per-draw loop), "
            f"Pareto k {ps['pareto_k']:.2f}, ESS {ps['ess']:.0f}. Horizon means by PSIS "
            f"{', '.join(f'{v:.3f}' for v in ps['psis_mean'])}; by a refit (seed 12, {s(ps['refit']['seconds'])}, "
            f"min ESS {ps['refit'].get('ess_min', math.nan):.0f}, converged: "
            f"{'yes' if ps['refit'].get('converged') else 'no'}) {', '.join(f'{v:.3f}' for v in ps['refit_mean'])}."
        )
    st = lat.get("stale_cache")
    if st:
        out.append("")
        if "error" in st:
            out.append(f"**Library's default kernel cache:** check failed: {st['error']}")
        else:
            out.append(
                f"**Library's default kernel cache** (`{st['cache_dir']}`): the cached density took "
                f"{s(st['cached_seconds'])} per call, a fresh compile of the same function {s(st['fresh_seconds'])} "
                f"(values agree to {st['max_abs_value_difference']:.0e}, gradients to "
                f"{st['max_abs_gradient_difference']:.0e}); the density's cache index is "
                f"{'older' if st['density_index_older_than_kernel'] else 'not older'} than kernel.py. The benchmarks "
                f"themselves use a private cache keyed by the engine's source hash, so they always time the "
                f"current code."
            )
    out.append("")
    out.append("The changes these measurements point to are listed, with their figures, under *Goals* above.")
    return "\n".join(out)


def render_exact(ex: dict[str, Any]) -> str:
    out = ["## 2. Exact mode against hmmlearn", "", load_line(ex), ""]
    out.append(
        f"A model with {ex['scenarios']} scenarios and one binary indicator reported (ungraded) in every period, "
        "persistence 0.9; the same start, transition and emission probabilities in hmmlearn "
        f"{ex['hmmlearn']} `CategoricalHMM`. Ours: `sf.forecast(model, evidence, exact=True)` (the whole public "
        "call: evidence cells, chain terms, compiled forward-backward; the Forecast's xarray objects and "
        "provenance are built on first read, and none is read here), timed on one evidence object and on a "
        "new equal evidence object every call; `sf.exact_posterior` (the same numbers as arrays, no Forecast); the "
        "engine's compiled forward-backward alone on the chain terms. Theirs: `predict_proba` (validation, "
        "emission lookup, forward-backward, posteriors; default `implementation='log'`) and its "
        "forward-backward alone (`_score_log` with posteriors: emission lookup, forward, backward, no "
        "validation; `_score_scaling` in the last column). Times are medians of 5 batches (minimum in "
        "brackets for the end-to-end calls); 'load' is the 1-minute load average when the row started."
    )
    out.append("")
    rows = []
    for r in ex["rows"]:
        if "sf_exact_posterior" not in r:  # a record from before #14's exact-mode work
            continue
        rows.append(
            [
                r["T"],
                f"{r.get('load', math.nan):.1f}",
                f"{r['max_abs_diff_smoothed']:.1e}",
                f"{r['loglik_diff']:.1e}",
                f"{s(r['sf_forecast_exact'])} ({s(r['sf_forecast_exact_min'])})",
                f"{s(r['sf_forecast_exact_new_evidence'])} ({s(r['sf_forecast_exact_new_evidence_min'])})",
                f"{s(r['sf_exact_posterior'])} ({s(r['sf_exact_posterior_min'])})",
                s(r["compiled_forward_backward"]),
                f"{s(r['hmmlearn_predict_proba'])} ({s(r['hmmlearn_predict_proba_min'])})",
                s(r["hmmlearn_forward_backward"]),
                s(r["hmmlearn_forward_backward_scaling"]),
            ]
        )
    out.append(
        table(
            (
                "T",
                "load",
                "max abs diff (smoothed)",
                "abs diff log p(e)",
                "`sf.forecast(exact)`",
                "... new evidence object",
                "`sf.exact_posterior`",
                "compiled f-b",
                "hmmlearn `predict_proba`",
                "hmmlearn f-b (log)",
                "hmmlearn f-b (scaling)",
            ),
            rows,
        )
    )
    if not rows:
        return "\n".join(out)
    last = [r for r in ex["rows"] if "sf_exact_posterior" in r][-1]
    worst = max(r["max_abs_diff_smoothed"] for r in ex["rows"])
    equal = (
        f"Results are equal to rounding at every length (largest difference {worst:.1e})."
        if worst < 1e-9
        else f"**Results differ** (largest difference {worst:.1e}): a bug to chase."
    )
    fb = last["hmmlearn_forward_backward"]

    def ratio(name: str) -> str:
        value = last[name] / fb
        return f"{value:.2g}x ({'within' if value <= 2 else 'not within'} 2x)"

    out += [
        "",
        f"{equal} At T = {last['T']}, against hmmlearn's forward-backward ({s(fb)}): `sf.forecast(exact=True)` "
        f"{ratio('sf_forecast_exact')} repeated on one evidence object, {ratio('sf_forecast_exact_new_evidence')} "
        f"with a new one each call; `sf.exact_posterior` {ratio('sf_exact_posterior')}; the compiled "
        f"forward-backward {ratio('compiled_forward_backward')}. What the public call adds to the recursion is "
        "fixed cost: arranging the reports into cells and the chain terms (for `forecast`, the xarray objects "
        "and the provenance are built only when read).",
    ]
    return "\n".join(out)


def render_replay(rp: dict[str, Any]) -> str:
    out = ["## 3. Backtest replay: PSIS reweighting against refitting at every cutoff", "", load_line(rp), ""]
    if "unavailable" in rp:
        out.append(f"Not run: {rp['unavailable']}.")
        return "\n".join(out)
    out.append(
        f"`syriaforecast.backtest.backtest` on the resolved cases in `{rp['cases_folder']}` "
        f"({rp['psis']['cases']} cases, 12 monthly periods, 8 indicators; every period end a cutoff: "
        f"{rp['psis']['forecasts']} forecasts), serial executor, {rp['chains']} chains x {rp['draws']} draws, "
        f"{rp['tune']} tuning steps per fit (smaller than the defaults to keep `make bench` short; a costlier fit "
        f"raises the ratio, since reweighting costs a fraction of a fit)."
    )
    out.append("")
    rows = []
    for label, name in (
        ("psis", "PSIS between fits (`reweight=True`)"),
        ("refit", "Refit every cutoff (`reweight=False`)"),
    ):
        r = rp[label]
        rows.append(
            [
                name,
                s(r["seconds"]),
                r["fits"],
                s(r["fit_seconds"]),
                s(r["reweight_seconds"]),
                f"{r['brier']:.4f}",
                f"{r['log_score']:.4f}",
                num(r["pareto_k_max"], "{:.2f}"),
                f"{r['converged_share']:.0%}",
            ]
        )
    out.append(
        table(
            (
                "Method",
                "Wall time",
                "Fits",
                "in fits",
                "in reweighting",
                "Brier",
                "Log score",
                "max Pareto k",
                "fits converged",
            ),
            rows,
        )
    )
    out.append("")
    out.append(
        f"Speed-up {rp['speedup']:.1f}x (goal >= 5x: {verdict(rp['speedup'], GOAL_REPLAY, higher_is_better=True)}). "
        f"Brier difference (PSIS - refit) {rp['brier_difference']:+.4f}, log-score difference "
        f"{rp['log_score_difference']:+.4f}; by case "
        f"{', '.join(f'{k} {v:+.4f}' for k, v in rp['brier_difference_by_case'].items())}. Forecast probabilities "
        f"differed by {rp['median_abs_forecast_difference']:.4f} at the median and {rp['max_abs_forecast_difference']:.4f} "
        f"at most, at most {rp['max_difference_in_mcse']:.1f} combined Monte Carlo standard errors."
    )
    return "\n".join(out)


CAL_COLUMNS = (
    ("brier", "Brier"),
    ("log_score", "Log score"),
    ("ece", "ECE"),
    ("coverage", "90% HDI covers oracle p"),
    ("smoothed_coverage", "... smoothed, all periods"),
    ("path_agreement", "path agreement"),
)


def render_calibration(cal: dict[str, Any]) -> str:
    out = ["## 4. Calibration on synthetic worlds with elicitation error", "", load_line(cal), ""]
    if "unavailable" in cal:
        out.append(f"Not run: {cal['unavailable']}.")
        return "\n".join(out)
    out.append(
        f"`syriaforecast.studies.calibration.calibration_study` on {cal['n_worlds']} worlds built from the bundled "
        f"model ({cal['base_model']}): in each, every elicited likelihood is off by a logit-normal error of sd "
        f"{cal['elicitation_noise']} (the model's own `elicitation_error` is {cal['model_elicitation_error']}), the "
        f"scenario path follows the model's chain, and each indicator is reported with probability "
        f"{cal['report_rate']} per period (graded A1/B2/C3 or ungraded; median {cal['reports_median']:.0f} reports). "
        f"Forecast {cal['lead']} period(s) ahead (as of {cal['as_of']}). *hierarchical* is this model "
        f"({cal['chains']} chains x {cal['draws']} draws per world, so ESS is below 400: "
        f"{cal['converged_share']:.0%} of worlds passed the convergence check), *exact* takes the elicitations as "
        f"exact (what pgmpy or an ACH matrix computes), *oracle* knows the true likelihoods. Scores are means over "
        f"worlds, lower is better; coverage is the share of world x scenario horizon probabilities of the oracle "
        f"inside the hierarchical 90% HDI."
    )
    out.append("")
    t = cal["table"]
    rows = []
    for name in ("hierarchical", "exact", "oracle"):
        if name in t:
            rows.append([name] + [num(t[name].get(key), "{:.3f}") for key, _ in CAL_COLUMNS])
    out.append(table(["Forecaster"] + [label for _, label in CAL_COLUMNS], rows))
    out.append("")
    lines = [
        f"{k}: {v['mean']:+.4f} (90% paired bootstrap {v['low']:+.4f} to {v['high']:+.4f})"
        for k, v in cal["paired"].items()
    ]
    out.append(
        "Paired differences over the same worlds (negative = hierarchical better): " + "; ".join(lines) + "."
    )
    out.append("")
    out.append(f"{s(cal['seconds_per_world'])} per world (median, all three forecasters).")
    return "\n".join(out)


def render_scaling(sc: dict[str, Any]) -> str:
    out = ["## 5. Scaling", "", load_line(sc), ""]
    out.append(
        f"Synthetic monthly models with binary indicators (random likelihoods, 5 groups), evidence simulated with "
        f"report rate 0.6 in all but the last 3 periods. Each point runs in its own process, after a tiny warm-up "
        f"forecast that keeps one-off imports out of the figures. *Gradient*: one call of "
        f"`syriaforecast.engine.density.log_density_and_gradient` (median of 5 batches). *Forecast*: `sf.forecast` "
        f"with fixed small draws ({sc['chains']} chains x {sc['draws']} draws, {sc['tune']} tuning), split into "
        f"sampling and the rest (evidence arrays, post-processing, diagnostics, provenance). *Memory*: the "
        f"process's peak resident set during that forecast (high-water mark reset just before it) and its rise "
        f"over the resident set at the start of the forecast."
    )
    for axis, data in sc["axes"].items():
        key = data["key"]
        fixed = ", ".join(f"{k} = {v}" for k, v in data["fixed"].items())
        out.append("")
        out.append(f"**{axis.capitalize()}** ({key}; {fixed}):")
        out.append("")
        rows = []
        for p in data["points"]:
            rest = p["forecast_seconds"] - p["sample_seconds"]
            rise = p["forecast_peak_rss_mb"] - p["forecast_rss_start_mb"]
            rows.append(
                [
                    p[key],
                    p["ndim"],
                    p["cells"],
                    s(p["grad_seconds"]),
                    s(p["forecast_seconds"]),
                    s(p["sample_seconds"]),
                    s(rest),
                    f"{p['gradient_calls']:,}",
                    s(p["exact_seconds"]),
                    f"{p['forecast_peak_rss_mb']:.0f}",
                    f"{rise:.0f}",
                ]
            )
        out.append(
            table(
                (
                    key,
                    "parameters",
                    "cells",
                    "gradient",
                    "forecast",
                    "of which sampling",
                    "rest",
                    "evaluations",
                    "exact mode",
                    "peak RSS MB",
                    "rise MB",
                ),
                rows,
            )
        )
        e = data["exponents"]
        out.append("")
        out.append(
            f"Growth (log-log slope; 1 = linear): gradient {e['grad']:.2f} over all points and "
            f"{e['grad_tail']:.2f} over the larger half; sampling {e['sample_tail']:.2f} (larger half); whole "
            f"forecast {e['forecast']:.2f}; exact mode {e['exact']:.2f}; memory rise {e['memory_tail']:.2f} "
            f"(larger half). {describe_growth(axis, e)}"
        )
    return "\n".join(out)


def describe_growth(axis: str, e: dict[str, float]) -> str:
    g = e["grad_tail"]
    if not math.isfinite(g):
        return ""
    if g < 0.3:
        word = "roughly constant (fixed per-call costs dominate)"
    elif g < 0.8:
        word = "sub-linear (fixed per-call costs still visible)"
    elif g < 1.3:
        word = "about linear"
    elif g < 1.7:
        word = "between linear and quadratic"
    else:
        word = "about quadratic or worse"
    return f"The gradient's cost in {axis} is {word}."


# --------------------------------------------------------------------------- documents
def render(results: dict[str, Any]) -> tuple[str, str]:
    clean = {k: v for k, v in results.items() if not (isinstance(v, dict) and "error" in v)}
    head, goals = headline(clean)
    machine = results.get("machine") or {}
    out = ["# Benchmarks", ""]
    out.append(
        "Generated by `make bench` (`benchmarks/run.py`); every figure below comes from the run recorded here "
        "(raw numbers in `out/bench/*.json`). Re-run everything with `make bench`, or one part with "
        "`.venv/bin/python benchmarks/run.py --sections latency,exact,replay,calibration,scaling` (the report is "
        "re-rendered from the latest result of each section, each with its own date and load)."
    )
    out.append("")
    out.append(
        "**Read the timings with the load average in mind.** This is a shared 2-core machine; when the load "
        "average is above 2, other processes were competing for the cores and wall times are inflated "
        "accordingly. Each section records the load at its start and end; CPU seconds are given where they help."
    )
    out.append("")
    if machine:
        out += ["## Machine", "", render_machine(machine), ""]
    out += ["## Headline", "", head, ""]
    if goals:
        out += ["## Goals", "", *goals, ""]
    failed = {k: v for k, v in results.items() if isinstance(v, dict) and "error" in v}
    for name, record in failed.items():
        out += [f"## Section `{name}` failed", "", f"Run {record.get('date', '?')}; the error:", "",
                "```", record["error"].strip(), "```", ""]  # fmt: skip
        results = {k: v for k, v in results.items() if k != name}
    if results.get("latency"):
        out += [render_latency(results["latency"]), "", render_probe(results["latency"]), ""]
    if results.get("exact_hmm"):
        out += [render_exact(results["exact_hmm"]), ""]
    if results.get("replay"):
        out += [render_replay(results["replay"]), ""]
    if results.get("calibration"):
        out += [render_calibration(results["calibration"]), ""]
    if results.get("scaling"):
        out += [render_scaling(results["scaling"]), ""]
    headline_md = "\n".join(
        [
            "<!-- Generated by benchmarks/run.py; paste into README.md. Full results: benchmarks/RESULTS.md -->",
            "",
            head,
            "",
            f"Measured on a shared {machine.get('cores', 2)}-core {machine.get('cpu', '')} on "
            f"{machine.get('date', '?')} (load average {machine.get('load', [math.nan])[0]:.1f} at start). "
            "Details, goals and methods: [benchmarks/RESULTS.md](benchmarks/RESULTS.md).",
            "",
        ]
    )
    return "\n".join(out).rstrip() + "\n", headline_md


def write(results: dict[str, Any] | None = None) -> None:
    if results is None:
        results = {
            name: load_result(name)
            for name in ("machine", "latency", "exact_hmm", "replay", "calibration", "scaling")
        }
    full, head = render(results)
    import report_counts

    counts = load_result("report_counts")
    if counts and "points" in counts:
        full = report_counts.splice(full, report_counts.render(counts))
    import speed

    timings = load_result("speed")
    if timings and "cold" in timings:
        full = speed.splice(full, speed.render(timings))
    write_text_atomic(BENCH / "RESULTS.md", full)
    write_text_atomic(BENCH / "HEADLINE.md", head)
