"""Measure the figures quoted for the bundled model (README, docs/bundled-model-review.md).

Prints, as Markdown tables:

* the horizon probabilities in exact mode under persistence 0.95 / 0.98 / 0.99 / 1.0
  (how much of the horizon comes from the switching assumption), and the as-of
  probabilities at the model's own persistence;
* with ``--seeds 1-10``, the convergence record of the hierarchical forecast at the
  default settings (what ``make forecast`` runs), one seed at a time: converged,
  divergences, max R-hat and min ESS over every reported probability, horizon means.

Run from the repository root: ``.venv/bin/python tools/bundled_model_record.py --seeds 1-10``.
Each seed takes about half a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import syriaforecast as sf

MODEL = sf.bundled_model()
EVIDENCE = sf.bundled_evidence()
PERSISTENCE = (0.95, 0.98, 0.99, 1.0)
KINDS = ("horizon", "filtered", "smoothed")


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = (int(v) for v in text.split("-"))
        return list(range(low, high + 1))
    return [int(v) for v in text.split(",") if v]


def sensitivity(model: sf.ScenarioModel, evidence: sf.Evidence) -> str:
    lines = ["| persistence | " + " | ".join(model.scenario_ids) + " |"]
    lines.append("|---" * (len(model.scenario_ids) + 1) + "|")
    for persistence in PERSISTENCE:
        result = sf.forecast(dataclasses.replace(model, persistence=persistence), evidence, exact=True)
        figures = " | ".join(f"{100 * float(v):.1f}" for v in result.mean("horizon").values)
        lines.append(f"| {persistence} | {figures} |")
    result = sf.forecast(model, evidence, exact=True)
    index = model.period_index(result.as_of)
    as_of = result.filtered.isel(time=index).mean(("chain", "draw"))
    lines.append("")
    figures = " / ".join(f"{100 * float(v):.1f}" for v in as_of.values)
    lines.append(f"as of {result.as_of} (persistence {model.persistence}): {figures}")
    return "\n".join(lines)


def convergence(model: sf.ScenarioModel, evidence: sf.Evidence, seeds: list[int]) -> str:
    scenarios = " | ".join(model.scenario_ids)
    head = f"| seed | converged | divergences | max R-hat | min ESS-bulk | min ESS-tail | {scenarios} | s |"
    lines = [head, "|---" * (7 + len(model.scenario_ids)) + "|"]
    for seed in seeds:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sf.ConvergenceWarning)
            result = sf.forecast(model, evidence, seed=seed)
        seconds = time.perf_counter() - start
        diag = result.diagnostics
        rhat = max(float(diag[f"{k}_rhat"].max(skipna=True)) for k in KINDS)
        bulk = min(float(diag[f"{k}_ess_bulk"].min(skipna=True)) for k in KINDS)
        tail = min(float(diag[f"{k}_ess_tail"].min(skipna=True)) for k in KINDS)
        means = " | ".join(f"{100 * float(v):.1f}" for v in result.mean("horizon").values)
        lines.append(
            f"| {seed} | {'yes' if result.converged else 'NO'} | {int(diag.attrs['divergences'])} "
            f"| {rhat:.4f} | {bulk:.0f} | {tail:.0f} | {means} | {seconds:.0f} |"
        )
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="", help="seeds for the convergence record, e.g. 1-10 or 1,5,9")
    args = parser.parse_args()
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    print(sensitivity(model, evidence))
    if args.seeds:
        print()
        print(convergence(model, evidence, _seeds(args.seeds)))


if __name__ == "__main__":
    main()
