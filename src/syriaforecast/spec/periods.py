"""Period arithmetic for monthly, weekly (ISO, Monday to Sunday) and quarterly models."""

from __future__ import annotations

import datetime as dt
import functools
import re

import pandas as pd

__all__ = ["FREQUENCIES", "NoSuchWeekError", "parse_start", "period_index", "period_label", "period_labels"]

#: Model-file period names and the pandas frequency behind each.
FREQUENCIES: dict[str, str] = {"month": "M", "week": "W-SUN", "quarter": "Q-DEC"}

# [0-9], not \d: \d also matches non-ASCII digits such as "٢٠٢٥".
_START_FORMS = {
    "month": (re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$"), '"YYYY-MM", e.g. "2024-12"'),
    "quarter": (re.compile(r"^[0-9]{4}-Q[1-4]$"), '"YYYY-Qn", e.g. "2025-Q1"'),
    "week": (
        re.compile(r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$"),
        '"YYYY-Www" (ISO week), e.g. "2025-W03"',
    ),
}


class NoSuchWeekError(ValueError):
    """A start spelt as an ISO week that its year does not have (W53 of a 52-week year)."""


def start_form(period: str) -> str:
    """The accepted spelling of ``start`` for a period kind, for error messages."""
    return _START_FORMS[period][1]


@functools.lru_cache(maxsize=256)  # pure, and asked for at every forecast (pd.Period is immutable)
def parse_start(text: str, period: str) -> pd.Period:
    """Parse a model's first period.

    Raises
    ------
    ValueError
        If ``text`` is not the spelling for ``period`` (see :func:`start_form`);
        :class:`NoSuchWeekError` if it is, but names a week its year does not have.
    """
    pattern, form = _START_FORMS[period]
    if not pattern.fullmatch(text):  # fullmatch: "$" alone lets a trailing newline through
        raise ValueError(f"expected {form}")
    if period == "week":
        year, week = text.split("-W")
        try:
            monday = dt.date.fromisocalendar(int(year), int(week), 1)
        except ValueError:  # week 53 of a year with 52 ISO weeks
            raise NoSuchWeekError(f"an ISO week of {year}, which has 52 (W01 to W52)") from None
        return pd.Period(monday, freq=FREQUENCIES["week"])
    return pd.Period(text, freq=FREQUENCIES[period])


@functools.lru_cache(maxsize=8192)  # pure; a forecast asks for the horizon's and as-of's index often
def period_index(start: pd.Period, date: dt.date | pd.Timestamp) -> int:
    """Zero-based index of the period containing ``date``, counted from ``start``."""
    return int((pd.Period(pd.Timestamp(date), freq=start.freq) - start).n)


def period_label(period: pd.Period) -> str:
    """Human label of a period: ``2025-01``, ``2025-Q1`` or ISO ``2025-W03``."""
    if period.freqstr.startswith("W"):
        year, week, _ = period.start_time.date().isocalendar()
        return f"{year}-W{week:02d}"
    if period.freqstr.startswith("Q"):
        return f"{period.year}-Q{period.quarter}"  # str() gives "2025Q1"
    return str(period)


def period_labels(first: pd.Period, n: int) -> list[str]:
    """Labels of ``n`` consecutive periods from ``first``: :func:`period_label` of each, in one pass."""
    return list(_labels(first, n))


@functools.lru_cache(maxsize=64)
def _labels(first: pd.Period, n: int) -> tuple[str, ...]:
    # Cached: a model asks for the same labels at every forecast (and pd.Period is hashable).
    if n <= 0:
        return ()
    index = pd.period_range(first, periods=n)
    if first.freqstr.startswith("W"):
        iso = index.start_time.isocalendar()
        return tuple(f"{y}-W{w:02d}" for y, w in zip(iso["year"].tolist(), iso["week"].tolist(), strict=True))
    if first.freqstr.startswith("Q"):
        return tuple(f"{y}-Q{q}" for y, q in zip(index.year.tolist(), index.quarter.tolist(), strict=True))
    return tuple(f"{y:04d}-{m:02d}" for y, m in zip(index.year.tolist(), index.month.tolist(), strict=True))
