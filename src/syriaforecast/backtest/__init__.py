"""Backtesting: replay resolved cases (or synthetic worlds) at past cutoffs and score the forecasts.

>>> import syriaforecast.backtest as bt
>>> result = bt.backtest("cases/", cutoffs=[6, 3, 0], method="exact")  # doctest: +SKIP
>>> bt.scores_by_lead(result)  # doctest: +SKIP

The package itself is callable (``syriaforecast.backtest(cases, ...)`` is
:func:`backtest`), so ``import syriaforecast.backtest`` is enough to run one.
"""

from __future__ import annotations

import importlib.util
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
from syriaforecast.backtest.resolution import score_journal, team_track_record
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
    "score_journal",
    "score_table",
    "scores_by_lead",
    "team_track_record",
]

# The synthetic-world and calibration modules are siblings that may be absent
# from a trimmed build; when present they are imported unguarded, so their own
# errors show.
if importlib.util.find_spec(f"{__name__}.synthetic") is not None:
    from syriaforecast.backtest.synthetic import (
        SyntheticWorld,
        analyst_model,
        consensus_model,
        simulate_world,
        simulate_worlds,
        with_analysts,
    )

    __all__ += [
        "SyntheticWorld",
        "analyst_model",
        "consensus_model",
        "simulate_world",
        "simulate_worlds",
        "with_analysts",
    ]
if importlib.util.find_spec(f"{__name__}.calibration") is not None:
    from syriaforecast.backtest.calibration import calibration_study, summarise_calibration

    __all__ += ["calibration_study", "summarise_calibration"]
if importlib.util.find_spec(f"{__name__}.analysts") is not None:
    from syriaforecast.backtest.analysts import analyst_study, summarise_analyst_study

    __all__ += ["analyst_study", "summarise_analyst_study"]
if importlib.util.find_spec(f"{__name__}.sbc") is not None:
    from syriaforecast.backtest.sbc import run_sbc, sbc_uniformity

    __all__ += ["run_sbc", "sbc_uniformity"]


class _CallableModule(types.ModuleType):
    """Lets ``syriaforecast.backtest(...)`` call :func:`backtest` on the package itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return backtest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
