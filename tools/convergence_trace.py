"""Trace default forecasts of synthetic worlds stage by stage (issue #14 diagnosis).

For each world, records after the first pass and after every continuation of the chains
(``forecast._fit``): the largest R-hat and where it is (horizon / filtered / smoothed and
its coordinates), how many reported probabilities fail R-hat <= 1.01 out of how many, the
smallest ESS_bulk, divergences, the spread of the chains' means of the worst quantity, and
the CPU seconds so far. ``--extensions`` overrides ``DEFAULT_EXTENSIONS`` so a failing fit
can be followed further than the default allows. Run from the repository root::

    PYTHONPATH=src .venv/bin/python tools/convergence_trace.py --rate 0.6 --worlds 0-29 --extensions 7
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from syriaforecast.studies.convergence import convergence_study

_run = importlib.import_module("syriaforecast.engine.run")
_fc = importlib.import_module("syriaforecast.forecast")  # the module (the package attribute is the function)
BASE = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic_russia_syria.toml"
KINDS = ("horizon", "filtered", "smoothed")
STAGES: list[dict[str, Any]] = []


def _stage(result: Any) -> dict[str, Any]:
    d = result.diagnostics
    worst, where, failing, total = 0.0, "", 0, 0
    for kind in KINDS:
        rhat = d[f"{kind}_rhat"]
        values = np.asarray(rhat.values, dtype=float)
        total += int(np.sum(~np.isnan(values)))
        failing += int(np.sum(values > _fc.RHAT_MAX))
        if np.nanmax(values) > worst:
            worst = float(np.nanmax(values))
            index = np.unravel_index(int(np.nanargmax(values)), values.shape)
            coords = zip(rhat.dims, index, strict=True)
            where = kind + str({dim: str(rhat[dim].values[i]) for dim, i in coords})
    return {
        "rhat": worst,
        "where": where,
        "failing": failing,
        "of": total,
        "ess_bulk": min(float(d[f"{k}_ess_bulk"].min()) for k in KINDS),
        "divergences": int(d.attrs["divergences"]),
        "draws": int(result.posterior.sizes.get("draw", 0)) if hasattr(result, "posterior") else -1,
        "cpu": time.process_time(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.6)
    parser.add_argument("--worlds", default="0-29", help="e.g. 0-29 or 3,7,12")
    parser.add_argument("--extensions", type=int, default=_fc.DEFAULT_EXTENSIONS)
    parser.add_argument("--extension-adaptation", default="", help="e.g. low_rank (default: first pass's)")
    parser.add_argument("--extension-tune", type=int, default=0, help="tuning steps of an extension")
    parser.add_argument("--warm", action="store_true", help="also a warm update of each world")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if "-" in args.worlds:
        low, high = (int(v) for v in args.worlds.split("-"))
        worlds = list(range(low, high + 1))
    else:
        worlds = [int(v) for v in args.worlds.split(",")]
    _fc.DEFAULT_EXTENSIONS = args.extensions
    if args.extension_adaptation:
        _run.EXTENSION_ADAPTATION = args.extension_adaptation
    if args.extension_tune:
        _run.EXTENSION_TUNE = args.extension_tune
    assemble = _fc._assemble

    def traced(*a: Any, **k: Any) -> Any:
        result = assemble(*a, **k)
        if result.mode == "hierarchical":
            STAGES.append(_stage(result))
        return result

    _fc._assemble = traced
    rows = []
    for w in worlds:
        STAGES.clear()
        start = time.process_time()
        table = convergence_study(BASE, report_rate=args.rate, n_worlds=1, first_world=w, warm=args.warm)
        for stage_no, stage in enumerate(STAGES):
            rows.append({"world": w, "stage": stage_no, "cpu": stage.pop("cpu") - start} | stage)
        print(pd.DataFrame(rows[-len(STAGES) :]).round(4).to_string(index=False), flush=True)
        print(table.round(4).to_string(index=False), flush=True)
    if args.out:
        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
