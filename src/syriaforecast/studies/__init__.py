"""Simulation studies: synthetic worlds with a known truth, and what the engine makes of them.

* :func:`simulate_world` / :func:`simulate_worlds`: a scenario path and graded
  reports drawn from a model whose true elicitations are known
  (:mod:`~syriaforecast.studies.synthetic`); a world replays in
  :func:`syriaforecast.backtest.backtest` like a resolved case.
* :func:`calibration_study`: is the hierarchical forecast calibrated where the
  exact one is not? (:mod:`~syriaforecast.studies.calibration`).
* :func:`analyst_study`: does pooling several analysts help? (:mod:`~syriaforecast.studies.analysts`).
* :func:`run_sbc`: simulation-based calibration of the sampler (:mod:`~syriaforecast.studies.sbc`).
* :mod:`~syriaforecast.studies.dependence`: does declaring which rows came from one report, or
  which indicators measure one event (:func:`~syriaforecast.studies.dependence.cluster_study`), pay?
"""

from syriaforecast.studies.analysts import analyst_study, summarise_analyst_study
from syriaforecast.studies.calibration import calibration_study, summarise_calibration
from syriaforecast.studies.sbc import run_sbc, sbc_uniformity
from syriaforecast.studies.synthetic import (
    SyntheticWorld,
    analyst_model,
    consensus_model,
    simulate_world,
    simulate_worlds,
    with_analysts,
)

__all__ = [
    "SyntheticWorld",
    "analyst_model",
    "analyst_study",
    "calibration_study",
    "consensus_model",
    "run_sbc",
    "sbc_uniformity",
    "simulate_world",
    "simulate_worlds",
    "summarise_analyst_study",
    "summarise_calibration",
    "with_analysts",
]
