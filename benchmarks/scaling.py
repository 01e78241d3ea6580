"""Section 5: time and memory as periods, indicators and scenarios grow.

Each point runs in a fresh interpreter (``workers.py scaling_point``) so its
peak resident memory is its own. Every point draws the same number of NUTS
iterations (fixed small draws and tuning), so the forecast time tracks the
cost per density evaluation times the tree sizes the sampler chose.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from _common import log, run_worker, save_result, section_clock

AXES: dict[str, dict[str, Any]] = {
    "periods": {"values": (12, 24, 60, 120, 240), "fixed": {"S": 3, "I": 20}, "key": "T"},
    "indicators": {"values": (10, 25, 50, 100, 200), "fixed": {"S": 3, "T": 36}, "key": "I"},
    "scenarios": {"values": (2, 3, 4, 6, 8), "fixed": {"I": 20, "T": 36}, "key": "S"},
}
QUICK_AXES: dict[str, dict[str, Any]] = {
    "periods": {"values": (12, 60, 240), "fixed": {"S": 3, "I": 20}, "key": "T"},
    "indicators": {"values": (10, 50, 200), "fixed": {"S": 3, "T": 36}, "key": "I"},
    "scenarios": {"values": (2, 4, 8), "fixed": {"I": 20, "T": 36}, "key": "S"},
}


def growth_exponent(sizes: list[float], values: list[float], *, skip_first: int = 0) -> float:
    """Least-squares slope of log(value) on log(size): 1 = linear, 2 = quadratic."""
    x = np.log(np.asarray(sizes[skip_first:], dtype=float))
    y = np.log(np.asarray(values[skip_first:], dtype=float))
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def run(*, draws: int = 100, tune: int = 100, chains: int = 2, quick: bool = False) -> dict[str, Any]:
    axes = QUICK_AXES if quick else AXES
    record: dict[str, Any] = {"draws": draws, "tune": tune, "chains": chains, "axes": {}}
    with section_clock(record):
        for axis, spec in axes.items():
            points = []
            for value in spec["values"]:
                point = dict(spec["fixed"]) | {spec["key"]: value}
                log(f"scaling: {axis} = {value} ({point})")
                args = point | {"draws": draws, "tune": tune, "chains": chains, "seed": 0}
                points.append(run_worker("scaling_point", args, timeout=900))
            sizes = [p[spec["key"]] for p in points]
            tail = len(points) // 2  # the first points are dominated by fixed per-call costs
            grads = [p["grad_seconds"] for p in points]
            memory = [max(p["forecast_peak_rss_mb"] - p["forecast_rss_start_mb"], 1e-3) for p in points]
            summary = {
                "grad": growth_exponent(sizes, grads),
                "grad_tail": growth_exponent(sizes, grads, skip_first=tail),
                "forecast": growth_exponent(sizes, [p["forecast_seconds"] for p in points]),
                "sample_tail": growth_exponent(sizes, [p["sample_seconds"] for p in points], skip_first=tail),
                "exact": growth_exponent(sizes, [p["exact_seconds"] for p in points]),
                "memory_tail": growth_exponent(sizes, memory, skip_first=tail),
            }
            record["axes"][axis] = {
                "key": spec["key"],
                "fixed": spec["fixed"],
                "points": points,
                "exponents": summary,
            }
    save_result("scaling", record)
    return record
