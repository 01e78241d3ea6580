"""Section 4: calibration on synthetic worlds whose true likelihoods sit off the elicited ones."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from _common import MODEL, log, save_result, section_clock


def run(
    *,
    n_worlds: int = 40,
    seed: int = 2024,
    elicitation_noise: float = 0.5,
    report_rate: float = 0.2,
    draws: int = 200,
    tune: int = 200,
    chains: int = 2,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "n_worlds": n_worlds,
        "seed": seed,
        "elicitation_noise": elicitation_noise,
        "report_rate": report_rate,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "base_model": MODEL.name,
    }
    with section_clock(record):
        try:
            from syriaforecast.studies.calibration import (
                calibration_study,
                paired_difference,
                summarise_calibration,
            )
        except ImportError as exc:
            record["unavailable"] = f"syriaforecast.studies.calibration could not be imported: {exc}"
            save_result("calibration", record)
            return record
        import syriaforecast as sf

        base = sf.load_model(MODEL)
        record["model_elicitation_error"] = base.elicitation_error
        log(f"calibration: {n_worlds} synthetic worlds of {MODEL.name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = calibration_study(
                base,
                n_worlds=n_worlds,
                seed=seed,
                elicitation_noise=elicitation_noise,
                report_rate=report_rate,
                draws=draws,
                tune=tune,
                chains=chains,
            )
        table = summarise_calibration(ds)
        record["table"] = {str(k): {c: float(v) for c, v in row.items()} for k, row in table.iterrows()}
        record["lead"] = int(ds.attrs.get("lead", -1))
        record["as_of"] = str(ds.attrs.get("as_of", ""))
        record["reports_median"] = float(np.median(ds["n_reports"].values))
        record["converged_share"] = float(ds["converged"].values.mean())
        record["divergences"] = int(ds["divergences"].values.sum())
        record["seconds_per_world"] = float(np.median(ds["seconds"].values))
        record["paired"] = {}
        for score in ("brier", "log_score"):
            for reference in ("exact", "oracle"):
                interval = paired_difference(ds, score=score, method="hierarchical", reference=reference)
                record["paired"][f"{score} hierarchical - {reference}"] = {
                    "mean": interval[0],
                    "low": interval[1],
                    "high": interval[2],
                }
    save_result("calibration", record)
    return record
