"""syriaforecast: Bayesian scenario forecasting from elicited indicators and graded evidence.

The data flows one way: a model file and an evidence log (validated, pure data)
go to the engine (a compiled posterior density sampled by nutpie, or exact
mode), which returns a :class:`Forecast` (a self-describing result) for
reporting and backtesting. :func:`to_pymc` gives the same model as a
``pm.Model``; PyMC, PyTensor and matplotlib load only when a feature needs them.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from syriaforecast.errors import (
    ConvergenceWarning,
    EvidenceError,
    ForecastFileError,
    ModelFileError,
    SyriaforecastError,
    ValidationError,
)

if TYPE_CHECKING:
    from syriaforecast.bundled import bundled_evidence, bundled_model
    from syriaforecast.engine.exact import ExactPosterior, exact_posterior
    from syriaforecast.engine.reference.pymc_model import to_pymc
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

#: Where each public name lives. They load on first use (PEP 562), so ``import syriaforecast``
#: costs milliseconds and pulls in neither NumPy's stack nor Numba until a feature needs them.
_LAZY = {
    "bundled_evidence": "syriaforecast.bundled",
    "bundled_model": "syriaforecast.bundled",
    "ExactPosterior": "syriaforecast.engine.exact",
    "exact_posterior": "syriaforecast.engine.exact",
    "Forecast": "syriaforecast.forecast",
    "forecast": "syriaforecast.forecast",
    "load_forecast": "syriaforecast.forecast",
    "Journal": "syriaforecast.journal",
    "issue": "syriaforecast.journal",
    "open_journal": "syriaforecast.journal",
    "Evidence": "syriaforecast.spec.evidence",
    "append_evidence": "syriaforecast.spec.evidence",
    "load_evidence": "syriaforecast.spec.evidence",
    "save_evidence": "syriaforecast.spec.evidence",
    "Indicator": "syriaforecast.spec.model",
    "Scenario": "syriaforecast.spec.model",
    "ScenarioModel": "syriaforecast.spec.model",
    "load_model": "syriaforecast.spec.model",
    "parse_model": "syriaforecast.spec.model",
    "save_model": "syriaforecast.spec.model",
    # PyMC and PyTensor: only for users who ask for a pm.Model.
    "to_pymc": "syriaforecast.engine.reference.pymc_model",
}

__all__ = [
    "ConvergenceWarning",
    "Evidence",
    "EvidenceError",
    "ExactPosterior",
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
    "bundled_evidence",
    "bundled_model",
    "exact_posterior",
    "forecast",
    "issue",
    "load_evidence",
    "load_forecast",
    "load_model",
    "open_journal",
    "parse_model",
    "save_evidence",
    "save_model",
    "to_pymc",
]


def _version() -> str:
    # Reading package metadata scans sys.path (a noticeable part of a bare import): on first use only.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("syriaforecast")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0+unknown"


class _Package(types.ModuleType):
    """The package module: the function ``forecast`` keeps its name when its submodule is imported.

    The import system binds every imported submodule on its package, so importing
    ``syriaforecast.forecast`` (the module) would shadow ``syriaforecast.forecast``
    (the function) once names load lazily; here the function wins, as it did when
    everything was imported eagerly.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "forecast" and isinstance(value, types.ModuleType):
            value = value.forecast
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()["__version__"] = _version()
        return globals()["__version__"]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
