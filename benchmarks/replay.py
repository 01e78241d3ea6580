"""Section 3: backtest replay with PSIS reweighting against refitting at every cutoff."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from _common import ROOT, log, save_result, section_clock

CASES = ROOT / "tests" / "data" / "cases"


def run(*, draws: int = 500, tune: int = 300, chains: int = 4, seed: int = 0) -> dict[str, Any]:
    record: dict[str, Any] = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "seed": seed,
        "cases_folder": str(CASES.relative_to(ROOT)),
    }
    with section_clock(record):
        try:
            import syriaforecast.backtest as bt
        except ImportError as exc:
            record["unavailable"] = f"syriaforecast.backtest could not be imported: {exc}"
            save_result("replay", record)
            return record
        record["available"] = sorted(n for n in dir(bt) if not n.startswith("_"))
        results = {}
        for reweight in (True, False):
            label = "psis" if reweight else "refit"
            log(f"backtest replay: {label} (every cutoff{'; PSIS between fits' if reweight else ''})")
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = bt.backtest(
                    str(CASES),
                    reweight=reweight,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    seed=seed,
                    executor="serial",
                    progress=False,
                )
            seconds = time.perf_counter() - start
            results[label] = result
            valid = np.isfinite(result["brier"].values)
            record[label] = {
                "seconds": seconds,
                "fit_seconds": float(np.nansum(result["fit_seconds"].values)),
                "reweight_seconds": float(np.nansum(result["reweight_seconds"].values)),
                "forecasts": int(valid.sum()),
                "fits": int(result["n_fits"].values.sum()),
                "brier": float(result.attrs["brier"]),
                "log_score": float(result.attrs["log_score"]),
                "converged_share": float(result["converged"].values[result["fitted"].values].mean()),
                "pareto_k_max": float(np.nanmax(result["pareto_k"].values))
                if np.isfinite(result["pareto_k"].values).any()
                else float("nan"),
                "ess_min": float(np.nanmin(result["ess"].values)),
                "cases": int(result.sizes["case"]),
                "cutoffs": int(result.sizes["cutoff"]),
            }
        psis, refit = results["psis"], results["refit"]
        diff = np.abs(psis["forecast"].values - refit["forecast"].values)
        mcse = np.sqrt(psis["forecast_mcse"].values ** 2 + refit["forecast_mcse"].values ** 2)
        record["speedup"] = record["refit"]["seconds"] / record["psis"]["seconds"]
        record["brier_difference"] = record["psis"]["brier"] - record["refit"]["brier"]
        record["log_score_difference"] = record["psis"]["log_score"] - record["refit"]["log_score"]
        record["max_abs_forecast_difference"] = float(np.nanmax(diff))
        record["median_abs_forecast_difference"] = float(np.nanmedian(diff))
        with np.errstate(invalid="ignore", divide="ignore"):
            record["max_difference_in_mcse"] = float(np.nanmax(diff / mcse))
        per_case = (psis["brier"] - refit["brier"]).mean("cutoff")
        record["brier_difference_by_case"] = {
            str(c): float(v) for c, v in zip(per_case["case"].values, per_case.values, strict=True)
        }
    save_result("replay", record)
    return record
