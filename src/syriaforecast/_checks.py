"""Range checks of the numeric options of the API and the CLI, made before any work.

Every problem is reported at once in an :class:`~syriaforecast.errors.OptionError`
(a ``SyriaforecastError`` and a ``ValueError``), naming the option, the value
and what is allowed; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
from typing import Any

from syriaforecast.errors import OptionError

__all__ = [
    "MAX_CHAINS",
    "MAX_DRAWS",
    "MAX_SAMPLING_WORK",
    "MAX_TOTAL_DRAWS",
    "SAMPLING_WORK_ENV",
    "SEED_MAX",
    "check_sampler_options",
    "check_sampling_work",
    "sampling_work_cap",
]

#: Draws (or tuning steps) per chain: beyond this the result's arrays stop fitting in memory.
MAX_DRAWS = 1_000_000
#: Chains; nutpie runs at most two at a time here, more only queue.
MAX_CHAINS = 64
#: Draws over all chains: the filtered and smoothed arrays hold draws x periods x scenarios floats.
MAX_TOTAL_DRAWS = 4_000_000
#: Seeds are recorded in the saved forecast as a signed 64-bit integer and fed to numpy and nutpie.
SEED_MAX = 2**63 - 1

#: Sampling work of a hierarchical forecast, in report-iterations: reports used x chains x
#: (draws + tuning steps). The posterior density's gradient is linear in the reports, and a
#: NUTS iteration takes some 10 to 20 gradients. Measured on the bundled model's synthetic logs
#: (``make bench``, section "reports"; 2 chains x 400 iterations, whole worker process):
#: 100,000 reports 47 CPU seconds (0.59 us per report-iteration), 300,000 reports 176 CPU
#: seconds (0.73 us) and 816 MB at peak. 5e9 is about an hour of CPU, half an hour of wall time
#: on two free cores: 961,538 reports at the default 4 x (1,000 + 300). Above it a forecast is
#: refused before sampling starts; exact mode takes well under a minute at 1,000,000 reports.
MAX_SAMPLING_WORK = 5_000_000_000
#: Environment variable that sets another cap (a whole number; ``5e9`` notation allowed).
SAMPLING_WORK_ENV = "SYRIAFORECAST_MAX_SAMPLING_WORK"
#: CPU seconds per report-iteration behind :data:`MAX_SAMPLING_WORK` (for the message's estimate).
_SECONDS_PER_REPORT_ITERATION = 0.7e-6


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


def sampling_work_cap() -> int:
    """The sampling work cap in report-iterations: ``$SYRIAFORECAST_MAX_SAMPLING_WORK`` or the default."""
    value = os.environ.get(SAMPLING_WORK_ENV)
    if value is None or not value.strip():
        return MAX_SAMPLING_WORK
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1 and number == int(number)):
        raise OptionError(
            f"environment variable {SAMPLING_WORK_ENV}={value!r}: expected a whole number of "
            f"report-iterations >= 1, such as 2e10 (default {MAX_SAMPLING_WORK:.0e})"
        )
    return int(number)


def check_sampling_work(n_reports: int, *, draws: int, tune: int, chains: int, coupled: int = 0) -> None:
    """Refuse, before sampling, a hierarchical forecast whose work exceeds :func:`sampling_work_cap`.

    Parameters
    ----------
    n_reports : int
        Reports the forecast would use (after its as-of date).
    draws, tune, chains : int
        The sampler's settings.
    coupled : int, default 0
        What the exact sums over multi-row reports and cluster events add, in reports
        (:attr:`syriaforecast.engine.data.EngineData.coupled_work`): 0 before the evidence
        is arranged, when the forecast checks the reports' count alone.

    Raises
    ------
    SamplingWorkError
        Saying how much work was asked for, the cap, an estimate of the time,
        and what to do instead.
    """
    from syriaforecast.errors import SamplingWorkError

    work = (n_reports + coupled) * chains * (draws + tune)
    cap = sampling_work_cap()
    if work <= cap:
        return
    minutes = work * _SECONDS_PER_REPORT_ITERATION / 60
    most = cap // (chains * (draws + tune))
    what, allowed, split = f"{n_reports:,} reports", f"at most {most:,} reports", ""
    if coupled:
        what += (
            " whose multi-row reports and cluster events are summed exactly over every pattern of "
            f"their truthfulness (as costly as {coupled:,} more reports: n linked reports cost 2^n patterns)"
        )
        allowed += " or their equivalent"
        split = "; split large groups of linked reports (a report id shared by several rows of one period)"
    raise SamplingWorkError(
        f"a hierarchical forecast of {what} with {chains} chains x ({draws:,} draws + "
        f"{tune:,} tuning steps) is {work:.2g} report-iterations of sampling, above the cap of {cap:.2g} "
        f"(about {minutes:,.0f} CPU minutes at the measured 0.7 us per report-iteration; these settings "
        f"allow {allowed}). Use exact mode (--exact, or exact=True: well under a minute at "
        f"1,000,000 reports), fewer draws, tuning steps or chains, or an earlier as-of date{split}; "
        f"or, if the time is meant, raise the cap with the environment variable {SAMPLING_WORK_ENV} (e.g. "
        f"{SAMPLING_WORK_ENV}={10 ** math.ceil(math.log10(work)):.0e})"
    )
