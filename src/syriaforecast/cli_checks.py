"""Checks of the command line's options, made before any file is read or any work starts.

Kept apart from :mod:`syriaforecast.cli` so that the CLI needs one call per
command: numeric options in range (:func:`syriaforecast._checks.check_sampler_options`),
dates well formed, and the ``--out`` folder writable (and ours to replace).
Every failure is a :class:`~syriaforecast.errors.SyriaforecastError`: exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from syriaforecast._checks import check_sampler_options, parse_date_option
from syriaforecast._outdir import check_out_folder, check_writable
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
    as_of = parse_date_option(args.as_of, "--as-of") if _get(args, "as_of") is not None else None
    if _get(args, "out") is not None:
        check_out_folder(args.out)
    if _get(args, "journal") is not None:
        _check_journal_folder(args.journal, _get(args, "out"))
        if as_of is not None:
            # Issued now: a forecast as of a later date would be refused by the journal, after the work.
            today = dt.datetime.now(dt.UTC).date()
            if as_of > today:
                raise OptionError(
                    f"--as-of = {as_of} with --journal: a forecast is issued on or after its as-of date, "
                    f"and today is {today} (UTC); forecast without --journal, or as of today or earlier"
                )


def _check_journal_folder(journal: object, out: object) -> None:
    """Refuse a ``--journal`` that cannot be written, or that lies inside ``--out``, before any work."""
    path = Path(str(journal))
    name = f"--journal = {str(journal)!r}"
    if out is not None:
        folder = Path(str(out)).resolve()
        if path.resolve() == folder or folder in path.resolve().parents:
            raise OptionError(
                f"{name}: lies inside --out = {str(out)!r}, which each run replaces as a whole, so "
                "the journal would be lost (or the next run refused); keep the journal outside it"
            )
    if path.exists() and not path.is_dir():
        raise OptionError(f"{name}: exists and is not a folder")
    check_writable(path, name, probe=".journal.probe-", error=OptionError)


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
