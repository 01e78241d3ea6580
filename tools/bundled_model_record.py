"""Measure the figures quoted for the bundled model (README, docs/bundled-model-review.md).

Prints, as Markdown tables:

* the sensitivity of the horizon to the transition assumptions, in exact mode:
  uniform switching at persistence 0.95 / 0.98 / 0.99 / 1.0 (the model's
  ``[transitions.*]`` rows dropped) without and with the drivers, the elicited
  rows without and with the drivers (the bundled model), and the bundled model
  conditional on each driver switched off and on from the period after the
  as-of date (``assume=``); each row with the as-of probabilities beside the
  horizon, so the reader sees how much the chain moves after the last report;
* with ``--seeds 1-10``, the convergence record of the hierarchical forecast at the
  default settings (what ``make forecast`` runs), one seed at a time: converged,
  divergences, max R-hat and min ESS over every reported probability, horizon means,
  extensions of the chains, wall and CPU seconds (user + system of every thread).

Run from the repository root: ``.venv/bin/python tools/bundled_model_record.py --seeds 1-10``.
Each seed takes a few CPU seconds (more when the chains are continued).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

# The tools' shared helpers (_cli) sit beside this file; put the folder on the path so that
# loading the tool by its path (tests/test_bundled_model.py does) finds them too.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import seed_list

import syriaforecast as sf

MODEL = sf.bundled_model()
EVIDENCE = sf.bundled_evidence()
PERSISTENCE = (0.95, 0.98, 0.99, 1.0)
KINDS = ("horizon", "filtered", "smoothed")


def without_drivers(model: sf.ScenarioModel, evidence: sf.Evidence) -> tuple[sf.ScenarioModel, sf.Evidence]:
    """The model with no drivers, and its evidence without the driver rows."""
    bare = dataclasses.replace(model, drivers=())
    table = evidence.to_dataframe()
    columns = [c for c in table.columns if c not in ("line", "period", "state")]
    return bare, sf.load_evidence(table[columns], bare)


def uniform(model: sf.ScenarioModel, persistence: float) -> sf.ScenarioModel:
    """The model with uniform switching at ``persistence`` (its elicited rows dropped)."""
    return dataclasses.replace(model, persistence=persistence, transitions={})


def _percent(values) -> list[float]:  # type: ignore[no-untyped-def]
    return [100 * float(v) for v in values]


def horizon_and_as_of(
    model: sf.ScenarioModel, evidence: sf.Evidence, **kwargs: object
) -> tuple[list[float], list[float]]:
    """Exact-mode P(scenario at the horizon) and at the as-of date, in %."""
    result = sf.forecast(model, evidence, exact=True, **kwargs)  # type: ignore[arg-type]
    as_of = result.filtered.isel(time=model.period_index(result.as_of)).mean(("chain", "draw"))
    return _percent(result.mean("horizon").values), _percent(as_of.values)


#: Rows of the sensitivity table (tests/test_bundled_model.py recomputes each by its label):
#: label -> (uniform persistence, or None for the elicited rows; with the drivers?;
#: a driver switched to a value from the period after the as-of date).
CHAINS: dict[str, tuple[float | None, bool, tuple[str, int] | None]] = {
    "uniform 0.95": (0.95, False, None),
    "uniform 0.98": (0.98, False, None),
    "uniform 0.99": (0.99, False, None),
    "uniform 1.0 (no switching)": (1.0, False, None),
    "uniform 0.95 + drivers": (0.95, True, None),
    "uniform 0.98 + drivers": (0.98, True, None),
    "uniform 0.99 + drivers": (0.99, True, None),
    "elicited rows": (None, False, None),
    "elicited rows + drivers (the bundled model)": (None, True, None),
    "bundled, Ukraine ceasefire from {next}": (None, True, ("ukraine_ceasefire", 1)),
    "bundled, US disengages from {next}": (None, True, ("us_engagement", 0)),
    "bundled, Israeli pressure ends from {next}": (None, True, ("israeli_military_pressure", 0)),
}


def sensitivity_rows(
    model: sf.ScenarioModel, evidence: sf.Evidence
) -> list[tuple[str, list[float], list[float]]]:
    """(label, horizon %, as-of %) for every chain the review and README quote."""
    bare, bare_evidence = without_drivers(model, evidence)
    result = sf.forecast(model, evidence, exact=True)
    following = model.period_labels(model.period_index(result.as_of) + 2)[-1]
    rows = []
    for label, (persistence, drivers, switch) in CHAINS.items():
        chain, chain_evidence = (model, evidence) if drivers else (bare, bare_evidence)
        if persistence is not None:
            chain = uniform(chain, persistence)
        assume = {switch[0]: {following: switch[1]}} if switch else None
        rows.append((label.format(next=following), *horizon_and_as_of(chain, chain_evidence, assume=assume)))
    return rows


def sensitivity(model: sf.ScenarioModel, evidence: sf.Evidence) -> str:
    as_of = sf.forecast(model, evidence, exact=True).as_of
    lines = ["| chain | " + " | ".join(model.scenario_ids) + f" | as of {as_of} |"]
    lines.append("|---" * (len(model.scenario_ids) + 2) + "|")
    for label, horizon, now in sensitivity_rows(model, evidence):
        figures = " | ".join(f"{v:.1f}" for v in horizon)
        lines.append(f"| {label} | {figures} | {' / '.join(f'{v:.1f}' for v in now)} |")
    return "\n".join(lines)


def convergence(model: sf.ScenarioModel, evidence: sf.Evidence, seeds: list[int]) -> str:
    scenarios = " | ".join(model.scenario_ids)
    head = (
        f"| seed | converged | divergences | max R-hat | min ESS-bulk | min ESS-tail | {scenarios} "
        "| extensions | s | CPU s |"
    )
    lines = [head, "|---" * (9 + len(model.scenario_ids)) + "|"]
    for seed in seeds:
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sf.ConvergenceWarning)
            result = sf.forecast(model, evidence, seed=seed)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        diag = result.diagnostics
        rhat = max(float(diag[f"{k}_rhat"].max(skipna=True)) for k in KINDS)
        bulk = min(float(diag[f"{k}_ess_bulk"].min(skipna=True)) for k in KINDS)
        tail = min(float(diag[f"{k}_ess_tail"].min(skipna=True)) for k in KINDS)
        means = " | ".join(f"{100 * float(v):.1f}" for v in result.mean("horizon").values)
        lines.append(
            f"| {seed} | {'yes' if result.converged else 'NO'} | {int(diag.attrs['divergences'])} "
            f"| {rhat:.4f} | {bulk:.0f} | {tail:.0f} | {means} | {result.attrs.get('sampler_extensions', 0)} "
            f"| {seconds:.0f} | {cpu_seconds:.1f} |"
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
        print(convergence(model, evidence, seed_list(args.seeds)))


if __name__ == "__main__":
    main()
