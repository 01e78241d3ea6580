"""Synthetic evidence logs of any length for the bundled model (report-count scaling)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_reports_csv(model, n: int, path: Path, *, seed: int = 0) -> Path:
    """``n`` graded reports spread over the model's periods, values drawn uniformly; CSV at ``path``."""
    rng = np.random.default_rng(seed)
    start = model.first_period.start_time.normalize()
    end = min(model.horizon, (model.first_period + 11).end_time.date())
    days = (np.datetime64(end) - np.datetime64(start.date())).astype(int)
    offsets = np.sort(rng.integers(0, days + 1, n))
    dates = (np.datetime64(start.date()) + offsets).astype(str)
    which = rng.integers(0, len(model.indicators), n)
    choices = []
    for ind in model.indicators:
        if ind.type == "binary":
            choices.append(["0", "1"])
        elif ind.type == "ordinal":
            choices.append(list(ind.levels))
        else:
            choices.append([str(k) for k in range(6)])
    values = [choices[k][rng.integers(len(choices[k]))] for k in which]
    grades = np.array(list("ABCDEF"))[rng.integers(0, 6, n)]
    cred = rng.integers(1, 7, n)
    ids = [model.indicators[k].id for k in which]
    lines = ["date,indicator,value,reliability,credibility,source,note"]
    rows = zip(dates, ids, values, grades, cred, strict=True)
    lines += [f"{d},{i},{v},{g},{c},bench," for d, i, v, g, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path
