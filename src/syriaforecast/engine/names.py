"""One registry of the engine's names: parameters, their dimensions, and the arrays the kernels read.

Every module that names a parameter, a dimension or an evidence array takes it
from here, so the fast engine, the PyMC reference model and the saved forecast
cannot disagree on a name or an order.
"""

from __future__ import annotations

__all__ = [
    "ANALYST_PARAMETER_NAMES",
    "CLUSTER_PARAMETER_NAMES",
    "ELICITATION_FIELDS",
    "EVIDENCE_FIELDS",
    "GRADE_COORDS",
    "PARAMETER_DIMS",
    "PARAMETER_NAMES",
    "TRANSITION_PARAMETER_NAMES",
]

#: Parameters that determine the chain; a Forecast keeps their draws.
PARAMETER_NAMES = (
    "initial_probability",
    "persistence",
    "elicitation_sigma",
    "elicitation_eta",
    "source_reliability",
    "information_credibility",
)
#: Parameters of a model elicited by several analysts (hierarchical mode only), dimension ``analyst``.
ANALYST_PARAMETER_NAMES = ("analyst_bias", "analyst_noise")
#: Parameters of a model with clusters of indicators (hierarchical mode only), dimension ``cluster``.
CLUSTER_PARAMETER_NAMES = ("cluster_closeness",)
#: Parameters of a model with elicited transition rows or drivers: the per-period transition matrix
#: before drivers (scenario, scenario_to) and each driver's factor on the odds of moving into each
#: scenario (driver, scenario). A model without these features has neither.
TRANSITION_PARAMETER_NAMES = ("transition", "driver_effect")

#: Dimensions of every parameter (after the sample dimensions ``chain`` and ``draw``).
PARAMETER_DIMS: dict[str, tuple[str, ...]] = {
    "initial_probability": ("scenario",),
    "persistence": ("scenario",),
    "elicitation_sigma": ("group",),
    "elicitation_eta": ("indicator", "scenario"),
    "source_reliability": ("reliability_grade",),
    "information_credibility": ("credibility_grade",),
    "analyst_bias": ("analyst",),
    "analyst_noise": ("analyst",),
    "cluster_closeness": ("cluster",),
    "transition": ("scenario", "scenario_to"),
    "driver_effect": ("driver", "scenario"),
}

#: Labels of the grade dimensions (Admiralty source reliability A-F, information credibility 1-6).
GRADE_COORDS: dict[str, list[str]] = {
    "reliability_grade": list("ABCDEF"),
    "credibility_grade": list("123456"),
}

#: :class:`~syriaforecast.engine.data.EngineData` arrays, in the kernels' argument order.
EVIDENCE_FIELDS = (
    "cell_period",
    "cell_indicator",
    "cell_count_values",
    "cell_slot_valid",
    "face_log_reading",
    "report_cell",
    "report_match",
    "report_noise",
    "report_reliability",
    "report_credibility",
    "report_joint",
    "cell_component",
    "cell_event",
    "event_cluster",
    "indicator_cluster",
    "cluster_closeness",
)
#: :class:`~syriaforecast.engine.data.ModelArrays` arrays of the elicitation, as the PyMC graph reads them.
ELICITATION_FIELDS = ("cutpoints", "log_rate", "band_sd", "group_of", "is_count")
