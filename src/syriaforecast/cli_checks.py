"""Checks of the command line's options, made before any file is read or any work starts.

Kept apart from :mod:`syriaforecast.cli` so that the CLI needs one call per
command: numeric options in range (:func:`syriaforecast._checks.check_sampler_options`),
dates well formed, and the ``--out`` folder writable (and ours to replace).
Every failure is a :class:`~syriaforecast.errors.SyriaforecastError`: exit 2.
"""

from __future__ import annotations

import argparse

from syriaforecast._checks import check_sampler_options, parse_date_option
from syriaforecast._outdir import check_out_folder
from syriaforecast.errors import OptionError

__all__ = ["MAX_SYNTHETIC", "check_backtest_args", "check_forecast_args"]

#: Synthetic worlds per backtest run.
MAX_SYNTHETIC = 100_000


def _get(args: argparse.Namespace, name: str) -> object:
    return getattr(args, name, None)


def check_forecast_args(args: argparse.Namespace) -> None:
    """Refuse out-of-range options of ``syriaforecast forecast`` (before loading anything)."""
    check_sampler_options(
        draws=_get(args, "draws"),
        tune=_get(args, "tune"),
        chains=_get(args, "chains"),
        seed=_get(args, "seed"),
        target_accept=_get(args, "target_accept"),
        prefix="--",
    )
    if _get(args, "as_of") is not None:
        parse_date_option(args.as_of, "--as-of")
    if _get(args, "out") is not None:
        check_out_folder(args.out)


def check_backtest_args(args: argparse.Namespace) -> None:
    """Refuse out-of-range options of ``syriaforecast backtest`` (before loading anything)."""
    check_sampler_options(
        draws=_get(args, "draws"),
        tune=_get(args, "tune"),
        chains=_get(args, "chains"),
        seed=_get(args, "seed"),
        target_accept=_get(args, "target_accept"),
        prefix="--",
    )
    synthetic = _get(args, "synthetic")
    if synthetic is not None and not (isinstance(synthetic, int) and 1 <= synthetic <= MAX_SYNTHETIC):
        raise OptionError(
            f"--synthetic = {synthetic!r}: expected a number of worlds from 1 to {MAX_SYNTHETIC}"
        )
    if _get(args, "out") is not None:
        check_out_folder(args.out)
