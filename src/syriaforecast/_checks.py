"""Range checks of the numeric options of the API and the CLI, made before any work.

Every problem is reported at once in an :class:`~syriaforecast.errors.OptionError`
(a ``SyriaforecastError`` and a ``ValueError``), naming the option, the value
and what is allowed; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

from syriaforecast.errors import OptionError

__all__ = ["MAX_CHAINS", "MAX_DRAWS", "MAX_TOTAL_DRAWS", "SEED_MAX", "check_sampler_options"]

#: Draws (or tuning steps) per chain: beyond this the result's arrays stop fitting in memory.
MAX_DRAWS = 1_000_000
#: Chains; nutpie runs at most two at a time here, more only queue.
MAX_CHAINS = 64
#: Draws over all chains: the filtered and smoothed arrays hold draws x periods x scenarios floats.
MAX_TOTAL_DRAWS = 4_000_000
#: Seeds are recorded in the saved forecast as a signed 64-bit integer and fed to numpy and nutpie.
SEED_MAX = 2**63 - 1


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def check_sampler_options(
    *,
    draws: Any = None,
    tune: Any = None,
    chains: Any = None,
    seed: Any = None,
    target_accept: Any = None,
    prefix: str = "",
) -> None:
    """Refuse out-of-range sampler options (``None`` means "the default", which is valid).

    Parameters
    ----------
    draws, tune, chains, seed, target_accept
        The options as given.
    prefix : str
        How options are named in messages: ``""`` for the API (``draws``),
        ``"--"`` for the CLI (``--draws``).

    Raises
    ------
    OptionError
        Listing every option out of range, its value and what is allowed.
    """
    problems = []
    name = {k: f"{prefix}{k.replace('_', '-') if prefix else k}" for k in
            ("draws", "tune", "chains", "seed", "target_accept")}  # fmt: skip
    for key, value, low, high in (
        ("draws", draws, 1, MAX_DRAWS),
        ("tune", tune, 1, MAX_DRAWS),
        ("chains", chains, 1, MAX_CHAINS),
        ("seed", seed, 0, SEED_MAX),
    ):
        if value is None:
            continue
        number = _whole(value)
        if number is None or not low <= number <= high:
            problems.append(f"{name[key]} = {value!r}: expected a whole number from {low} to {high}")
    d, c = _whole(draws), _whole(chains)
    in_range = d is not None and c is not None and 1 <= d <= MAX_DRAWS and 1 <= c <= MAX_CHAINS
    if in_range and d is not None and c is not None and d * c > MAX_TOTAL_DRAWS:
        problems.append(
            f"{name['draws']} x {name['chains']} = {d * c}: at most {MAX_TOTAL_DRAWS} draws in all "
            "(the result keeps every draw of every period's probabilities in memory)"
        )
    if target_accept is not None:
        ok = isinstance(target_accept, numbers.Real) and not isinstance(target_accept, bool)
        if not ok or not (math.isfinite(float(target_accept)) and 0.0 < float(target_accept) < 1.0):
            problems.append(
                f"{name['target_accept']} = {target_accept!r}: expected a number strictly between 0 and 1 "
                "(0.8 to 0.99 are usual)"
            )
    if problems:
        raise OptionError("; ".join(problems))


def parse_date_option(value: Any, name: str) -> dt.date:
    """An ISO date option (``--as-of``), or an OptionError naming it."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise OptionError(f"{name} = {value!r}: expected an ISO date YYYY-MM-DD") from None
