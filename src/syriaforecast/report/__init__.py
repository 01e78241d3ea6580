"""The reporting layer: the forecast in an analyst's words and pictures.

* :func:`evidence_contributions` and :func:`since`: what moved it (decibans).
* :func:`collection_priorities`: what to collect next (expected information gain, bits).
* :func:`diagnosticity`: the quantitative ACH matrix (decibans).
* :func:`elicitation_sensitivity` and :func:`linchpins`: how fragile it is to the elicitations.
* :func:`disagreement`: where several analysts disagree, and how much it moves the forecast.
* ``plot_*``: briefing pictures (matplotlib Figures).
* :func:`write_report`: PNGs and a self-contained HTML page (used by the CLI's ``--out``).

The pictures and the HTML page load matplotlib, so they are imported when first
used: the tables (and the CLI's ``--json``) do not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syriaforecast.report.collection import collection_priorities, diagnosticity
from syriaforecast.report.disagreement import disagreement
from syriaforecast.report.influence import evidence_contributions, since
from syriaforecast.report.sensitivity import elicitation_sensitivity, linchpins

if TYPE_CHECKING:
    from syriaforecast.report.html import write_report
    from syriaforecast.report.plots import (
        plot_collection,
        plot_contributions,
        plot_diagnosticity,
        plot_fan_chart,
        plot_sensitivity,
    )

__all__ = [
    "collection_priorities",
    "diagnosticity",
    "disagreement",
    "elicitation_sensitivity",
    "evidence_contributions",
    "linchpins",
    "plot_collection",
    "plot_contributions",
    "plot_diagnosticity",
    "plot_fan_chart",
    "plot_sensitivity",
    "since",
    "write_report",
]

#: Names served lazily, by the module that defines them.
_LAZY = {
    "write_report": "syriaforecast.report.html",
    "plot_collection": "syriaforecast.report.plots",
    "plot_contributions": "syriaforecast.report.plots",
    "plot_diagnosticity": "syriaforecast.report.plots",
    "plot_fan_chart": "syriaforecast.report.plots",
    "plot_sensitivity": "syriaforecast.report.plots",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
