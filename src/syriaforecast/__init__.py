"""syriaforecast: Bayesian scenario forecasting from elicited indicators and graded evidence.

The data flows one way: a model file and an evidence log (validated, pure data)
go to the engine (a compiled posterior density sampled by nutpie, or exact
mode), which returns a :class:`Forecast` (a self-describing result) for
reporting and backtesting. :func:`to_pymc` gives the same model as a
``pm.Model``; PyMC, PyTensor and matplotlib load only when a feature needs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from syriaforecast.bundled import bundled_evidence, bundled_model
from syriaforecast.errors import (
    ConvergenceWarning,
    EvidenceError,
    ForecastFileError,
    ModelFileError,
    SyriaforecastError,
    ValidationError,
)
from syriaforecast.forecast import Forecast, forecast, load_forecast
from syriaforecast.spec.evidence import Evidence, append_evidence, load_evidence, save_evidence
from syriaforecast.spec.model import (
    Indicator,
    Scenario,
    ScenarioModel,
    load_model,
    parse_model,
    save_model,
)

if TYPE_CHECKING:
    from syriaforecast.engine.reference.pymc_model import to_pymc

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
    "ModelFileError",
    "Scenario",
    "ScenarioModel",
    "SyriaforecastError",
    "ValidationError",
    "__version__",
    "append_evidence",
    "bundled_evidence",
    "bundled_model",
    "forecast",
    "load_evidence",
    "load_forecast",
    "load_model",
    "parse_model",
    "save_evidence",
    "save_model",
    "to_pymc",
]


def __getattr__(name: str) -> Any:
    # to_pymc loads PyMC and PyTensor: only on first use.
    if name == "to_pymc":
        from syriaforecast.engine.reference.pymc_model import to_pymc

        globals()["to_pymc"] = to_pymc
        return to_pymc
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"to_pymc"})
