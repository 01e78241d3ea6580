# ruff: noqa: E501  (long Markdown prose templates read better unbroken)
"""Render benchmarks/RESULTS.md and benchmarks/HEADLINE.md from the raw results in benchmarks/results/."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from _common import BENCH, find_block, load_result, write_text_atomic

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


def verdict(value: float, goal: float, *, higher_is_better: bool = False) -> str:
    if not math.isfinite(value):
        return "not measured"
    met = value >= goal if higher_is_better else value <= goal
    if met:
        return "**met**"
    factor = goal / value if higher_is_better else value / goal
    return f"**missed** ({factor:.1f}x)"


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
    if machine.get("sections"):
        # The other sections' figures come from earlier runs, each dated in its own section.
        rows.append(("Sections run", ", ".join(machine["sections"])))
    return table(("", ""), rows, "ll")


def headline(results: dict[str, Any]) -> tuple[str, list[str]]:
    """The headline table and the goal verdict lines.

    The speed targets come first, from the ``speed`` section (``benchmarks/speed.py``
    owns issue #14's goals and last round's figures); then exact mode, the backtest
    replay, calibration and scaling.
    """
    import speed

    rows: list[list[str]] = []
    goals: list[str] = []
    timings = results.get("speed")
    if timings and "cold" in timings:
        rows += speed.headline_rows(timings)
        goals += speed.goal_lines(timings)
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
    if rp and "speedup" in rp:
        ok = rp["speedup"] >= GOAL_REPLAY
        goals.append(
            f"- Backtest replay >= 5x faster than refitting: {'met' if ok else 'missed'} "
            f"({rp['speedup']:.1f}x; Brier difference PSIS - refit {rp['brier_difference']:+.4f})."
        )
    elif rp:
        goals.append(f"- Backtest replay >= 5x: not measured ({rp.get('unavailable', '?')}).")
    return head, goals


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
#: Hand-written analysis kept across runs (between the speed block and section 2): the
#: generated sections are replaced on every run, this block is carried over as it is.
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


def render(results: dict[str, Any], notes: str = "") -> tuple[str, str]:
    """RESULTS.md and HEADLINE.md from the sections' results (``speed``, ``exact_hmm``, ...)."""
    import speed

    clean = {k: v for k, v in results.items() if not (isinstance(v, dict) and "error" in v)}
    head, goals = headline(clean)
    machine = results.get("machine") or {}
    out = ["# Benchmarks", ""]
    out.append(
        "Generated by `make bench` (`benchmarks/run.py`); every figure below comes from the run recorded here "
        "(raw numbers in `benchmarks/results/*.json`, committed with it). Re-run it with `make bench` (every section but the reports one, "
        "which takes hours), or some sections with `.venv/bin/python benchmarks/run.py --sections "
        "speed,exact,replay,calibration,scaling,reports` (the report is re-rendered from the latest result "
        "of each section, each with its own date and load). "
        "The notes after section 1 are written by hand and dated; a run keeps them as they are."
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
    timings = results.get("speed")
    if timings and "cold" in timings:
        out += [speed.render(timings), ""]
    if notes:
        out += [notes, ""]
    if results.get("exact_hmm"):
        out += [render_exact(results["exact_hmm"]), ""]
    if results.get("replay"):
        out += [render_replay(results["replay"]), ""]
    if results.get("calibration"):
        out += [render_calibration(results["calibration"]), ""]
    if results.get("scaling"):
        out += [render_scaling(results["scaling"]), ""]
    present = [
        name for name in ("speed", "exact_hmm", "replay", "calibration", "scaling") if results.get(name)
    ]
    headline_md = "\n".join(
        [
            "<!-- Generated by benchmarks/run.py; paste into README.md. Full results: benchmarks/RESULTS.md -->",
            "",
            head,
            "",
            f"Measured on a shared {machine.get('cores', 2)}-core {machine.get('cpu', '')} on "
            f"{machine.get('date', '?')} (load average {machine.get('load', [math.nan])[0]:.1f} at start)"
            + (
                f"; that run covered {', '.join(machine['sections'])}, the other rows come from earlier runs. "
                if machine.get("sections") and len(machine["sections"]) < len(present)
                else ". "
            )
            + "Details, dates, goals and methods: [benchmarks/RESULTS.md](benchmarks/RESULTS.md).",
            "",
        ]
    )
    return "\n".join(out).rstrip() + "\n", headline_md


def write(results: dict[str, Any] | None = None) -> None:
    """Write RESULTS.md and HEADLINE.md from the latest result of each section in benchmarks/results/."""
    if results is None:
        results = {
            name: load_result(name)
            for name in ("machine", "speed", "exact_hmm", "replay", "calibration", "scaling")
        }
    path = BENCH / "RESULTS.md"
    existing = path.read_text() if path.exists() else ""
    full, head = render(results, find_block(existing, NOTES_START, NOTES_END))
    import report_counts

    counts = load_result("report_counts")
    if counts and "points" in counts:
        full = report_counts.splice(full, report_counts.render(counts))
    elif kept := find_block(existing, report_counts.START, report_counts.END):
        # The reports section takes hours at a million reports and is often left out of a
        # run: its last block (dated) is kept rather than dropped.
        full = report_counts.splice(full, kept)
    write_text_atomic(path, full)
    write_text_atomic(BENCH / "HEADLINE.md", head)
