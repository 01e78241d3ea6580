"""Backtesting: replay resolved cases (or synthetic worlds) at past cutoffs and score the forecasts.

Simulation studies (synthetic worlds, calibration, analysts, SBC) live in
:mod:`syriaforecast.studies`; a synthetic world can be replayed here like a case.

>>> import syriaforecast.backtest as bt
>>> result = bt.backtest("cases/", cutoffs=[6, 3, 0], method="exact")  # doctest: +SKIP
>>> bt.scores_by_lead(result)  # doctest: +SKIP

The package itself is callable (``syriaforecast.backtest(cases, ...)`` is
:func:`backtest`), so ``import syriaforecast.backtest`` is enough to run one.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from syriaforecast.backtest.cases import Case, CaseFileError, as_case, load_case, load_cases
from syriaforecast.backtest.executors import run_tasks
from syriaforecast.backtest.replay import (
    backtest,
    cutoff_seed,
    overall_scores,
    reliability,
    score_table,
    scores_by_lead,
)
from syriaforecast.backtest.track_record import analyst_track_record

__all__ = [
    "Case",
    "CaseFileError",
    "analyst_track_record",
    "as_case",
    "backtest",
    "cutoff_seed",
    "load_case",
    "load_cases",
    "overall_scores",
    "reliability",
    "run_tasks",
    "score_table",
    "scores_by_lead",
]

class _CallableModule(types.ModuleType):
    """Lets ``syriaforecast.backtest(...)`` call :func:`backtest` on the package itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return backtest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
