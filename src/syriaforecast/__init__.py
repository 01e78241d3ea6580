"""syriaforecast: Bayesian scenario forecasting from elicited indicators and graded evidence.

The data flows one way: a model file and an evidence log (validated, pure data)
go to the engine (which builds and samples the PyMC model), which returns a
:class:`Forecast` (a self-describing result) for reporting and backtesting.
"""

from importlib.metadata import PackageNotFoundError, version

from syriaforecast.errors import (
    ConvergenceWarning,
    EvidenceError,
    ForecastFileError,
    ModelFileError,
    SyriaforecastError,
    ValidationError,
)
from syriaforecast.forecast import Forecast, forecast, load_forecast
from syriaforecast.journal import Journal, issue, open_journal
from syriaforecast.spec.evidence import Evidence, append_evidence, load_evidence, save_evidence
from syriaforecast.spec.model import (
    Indicator,
    Scenario,
    ScenarioModel,
    load_model,
    parse_model,
    save_model,
)

try:
    __version__ = version("syriaforecast")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = [
    "ConvergenceWarning",
    "Evidence",
    "EvidenceError",
    "Forecast",
    "ForecastFileError",
    "Indicator",
    "Journal",
    "ModelFileError",
    "Scenario",
    "ScenarioModel",
    "SyriaforecastError",
    "ValidationError",
    "__version__",
    "append_evidence",
    "forecast",
    "issue",
    "load_evidence",
    "load_forecast",
    "load_model",
    "open_journal",
    "parse_model",
    "save_evidence",
    "save_model",
]
