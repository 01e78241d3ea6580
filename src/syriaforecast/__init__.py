"""syriaforecast: Bayesian scenario forecasting from elicited indicators and graded evidence."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("syriaforecast")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
