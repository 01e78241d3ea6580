"""Pure-data layer: scenario model files and evidence logs, validated before anything is computed."""

from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.model import Indicator, Scenario, ScenarioModel, load_model

__all__ = ["Evidence", "Indicator", "Scenario", "ScenarioModel", "load_evidence", "load_model"]
