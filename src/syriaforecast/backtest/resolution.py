"""Scoring what the team actually issued, once the question resolves.

A journal (:mod:`syriaforecast.journal`) keeps every issued forecast. When the
question resolves (an ``outcome.toml``, the case folder's format: see
:mod:`syriaforecast.backtest.cases`), each issued forecast is scored on its
horizon probabilities: the Brier score summed over scenarios (0..2) and the log
score (nats), both from :mod:`syriaforecast.scoring`.

Time-averaged scores
--------------------
Forecasting platforms (Good Judgment Open, Metaculus) score a question by the
forecast that *stood* on each day it was open, so a forecast left standing for
months weighs more than one replaced the next day, and updating late costs the
days before. Here the days run from the date of the first issued forecast to
the resolution date, both included (dates in UTC); on each day the standing
forecast is the last one issued on or before that day (so of several issued on
one day, the last counts for that day). The time-averaged score is the mean of
the standing forecast's score over those days,

    S_bar = sum_i days_i * S_i / sum_i days_i,

with ``days_i`` the days forecast ``i`` stood. A forecast issued after the
resolution date stands for no day: it is scored on its own but does not enter
the average.

The team's track record
-----------------------
Several questions' journals pool into one record: each question's
time-averaged scores, their mean over questions (every question counts once),
and a CORP reliability diagram of every issued forecast of every question,
pooled over scenarios (each scenario probability against whether that
scenario came true; :func:`syriaforecast.scoring.reliability_diagram`). Issued
forecasts of one question are not independent, so read the diagram's
consistency bands as optimistic.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from syriaforecast.backtest.cases import read_outcome
from syriaforecast.errors import SyriaforecastError
from syriaforecast.scoring import brier_score, log_score, reliability_diagram

if TYPE_CHECKING:
    from syriaforecast.journal import Journal, JournalEntry

__all__ = ["JournalScores", "TeamRecord", "score_journal", "standing_days", "team_track_record"]


def standing_days(issued: Sequence[dt.date], resolved: dt.date) -> np.ndarray:
    """Days each forecast stood, from the first issue date to ``resolved``, both included.

    Parameters
    ----------
    issued : sequence of date
        Issue dates of the forecasts, in order of issue (non-decreasing).
    resolved : date
        The resolution date.

    Returns
    -------
    ndarray of int, shape (n,)
        ``days[i]``: the days on which forecast ``i`` was the last one issued
        on or before that day, counted up to ``resolved``. They sum to
        ``(resolved - issued[0]).days + 1`` when the first forecast was issued
        on or before ``resolved`` (else to 0).
    """
    dates = list(issued)
    if any(b < a for a, b in itertools.pairwise(dates)):
        raise SyriaforecastError("issued: the forecasts must be in order of issue (dates non-decreasing)")
    days = np.zeros(len(dates), dtype=np.int64)
    end = resolved + dt.timedelta(days=1)  # exclusive
    for i, start in enumerate(dates):
        stop = dates[i + 1] if i + 1 < len(dates) else end
        days[i] = max(0, (min(stop, end) - start).days)
    return days


@dataclass(frozen=True)
class JournalScores:
    """Scores of one question's issued forecasts against its outcome.

    Attributes
    ----------
    question : str
        The model id.
    outcome : str
        The scenario that came true.
    resolved : datetime.date
        When it resolved.
    forecasts : pandas.DataFrame
        One row per issued forecast, oldest first, indexed by journal
        ``number``: ``issued`` (UTC), ``as_of``, ``p_outcome`` (probability
        given to the outcome), ``brier``, ``log_score``, ``days`` (days it
        stood) and one column per scenario's probability.
    brier, log_score : float
        Time-averaged scores (see the module notes).
    days : int
        Days the question was scored over.
    scenarios : tuple of str
        Scenario ids, in model order.
    """

    question: str
    outcome: str
    resolved: dt.date
    forecasts: pd.DataFrame
    brier: float
    log_score: float
    days: int
    scenarios: tuple[str, ...]

    def to_dict(self, *, digits: int = 6) -> dict[str, Any]:
        """JSON-ready summary (scores rounded to ``digits``)."""
        return {
            "question": self.question,
            "outcome": self.outcome,
            "resolved": self.resolved.isoformat(),
            "forecasts": len(self.forecasts),
            "days": self.days,
            "time_averaged_brier": round(self.brier, digits),
            "time_averaged_log_score": round(self.log_score, digits),
        }


def score_entries(entries: Sequence[JournalEntry], outcome: str, resolved: dt.date) -> JournalScores:
    """Score issued forecasts (journal entries of one question, oldest first) against an outcome.

    Parameters
    ----------
    entries : sequence of JournalEntry
        The issued forecasts of one model, in order of issue.
    outcome : str
        Scenario id that came true.
    resolved : date
        Resolution date.

    Returns
    -------
    JournalScores
    """
    if not entries:
        raise SyriaforecastError("no issued forecasts to score")
    questions = {e.model_id for e in entries}
    if len(questions) > 1:
        raise SyriaforecastError(
            f"the journal holds forecasts of several models ({', '.join(sorted(questions))}); "
            "score one question at a time (model_id=...)"
        )
    scenarios = tuple(entries[-1].horizon)
    for entry in entries:
        if tuple(entry.horizon) != scenarios:
            raise SyriaforecastError(
                f"journal entry #{entry.number}: scenarios {', '.join(entry.horizon)} differ from the latest "
                f"entry's ({', '.join(scenarios)}); a question keeps its scenarios"
            )
    if outcome not in scenarios:
        raise SyriaforecastError(
            f"outcome = {outcome!r}: not a scenario of {entries[-1].model_id!r} ({', '.join(scenarios)})"
        )
    y = scenarios.index(outcome)
    probs = np.array([[e.horizon[s] for s in scenarios] for e in entries])
    probs = probs / probs.sum(axis=1, keepdims=True)  # exact sums; the index keeps full precision
    brier = np.array([brier_score(row[None], [y]) for row in probs])
    logs = np.array([log_score(row[None], [y]) for row in probs])
    days = standing_days([e.issued.date() for e in entries], resolved)
    total = int(days.sum())
    if total == 0:
        raise SyriaforecastError(
            f"every forecast of {entries[-1].model_id!r} was issued after the resolution date "
            f"{resolved.isoformat()}: nothing stood while the question was open"
        )
    table = pd.DataFrame(
        {
            "issued": [e.issued for e in entries],
            "as_of": [e.as_of for e in entries],
            "p_outcome": probs[:, y],
            "brier": brier,
            "log_score": logs,
            "days": days,
        }
        | {s: probs[:, k] for k, s in enumerate(scenarios)},
        index=pd.Index([e.number for e in entries], name="number"),
    )
    return JournalScores(
        question=entries[-1].model_id,
        outcome=outcome,
        resolved=resolved,
        forecasts=table,
        brier=float(days @ brier / total),
        log_score=float(days @ logs / total),
        days=total,
        scenarios=scenarios,
    )


def score_journal(
    journal: Journal | str | Path,
    outcome: str | Path,
    *,
    resolved: dt.date | str | None = None,
    model_id: str | None = None,
) -> JournalScores:
    """Score every forecast issued in a journal once its question has resolved.

    Parameters
    ----------
    journal : Journal, str or Path
        The journal (folder).
    outcome : str or Path
        An ``outcome.toml`` file (scenario and date; checked against the
        latest issued forecast's model), or, with ``resolved``, the id of the
        scenario that came true.
    resolved : date or str, optional
        The resolution date when ``outcome`` is a scenario id.
    model_id : str, optional
        The question to score when the journal holds several models.

    Returns
    -------
    JournalScores
    """
    from syriaforecast.journal import Journal, open_journal

    book = journal if isinstance(journal, Journal) else open_journal(journal)
    entries = book.entries(model_id)
    if not entries:
        which = f" of model {model_id!r}" if model_id else ""
        raise SyriaforecastError(f"journal {str(book.folder)!r}: no issued forecasts{which}")
    if resolved is None:
        model = entries[-1].load().model
        scenario, date, _ = read_outcome(Path(outcome), model)
    else:
        scenario = str(outcome)
        date = resolved if isinstance(resolved, dt.date) else dt.date.fromisoformat(str(resolved))
    return score_entries(entries, scenario, date)


@dataclass(frozen=True)
class TeamRecord:
    """The team's track record over resolved questions.

    Attributes
    ----------
    questions : pandas.DataFrame
        One row per question: ``outcome``, ``resolved``, ``forecasts``,
        ``days``, ``brier`` and ``log_score`` (time-averaged).
    brier, log_score : float
        Means over questions of the time-averaged scores.
    reliability : xarray.Dataset
        CORP reliability diagram data of every issued forecast, pooled over
        scenarios (:func:`syriaforecast.scoring.reliability_diagram`; scenario
        label ``"all scenarios"``); plot it with
        :func:`syriaforecast.backtest.plots.plot_reliability`.
    """

    questions: pd.DataFrame
    brier: float
    log_score: float
    reliability: xr.Dataset

    def to_dict(self, *, digits: int = 6) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "questions": len(self.questions),
            "forecasts": int(self.questions["forecasts"].sum()),
            "mean_time_averaged_brier": round(self.brier, digits),
            "mean_time_averaged_log_score": round(self.log_score, digits),
        }


def team_track_record(
    scores: Sequence[JournalScores], *, n_boot: int = 200, rng: int | np.random.Generator | None = 0
) -> TeamRecord:
    """Pool several questions' scored journals into the team's track record.

    Parameters
    ----------
    scores : sequence of JournalScores
        One per resolved question (from :func:`score_journal`).
    n_boot : int
        Replicates of the reliability diagram's consistency bands (0: none).
    rng : int or numpy.random.Generator, optional
        Seed of the bands.

    Returns
    -------
    TeamRecord
    """
    if not scores:
        raise SyriaforecastError("team_track_record: no scored questions")
    names = [s.question for s in scores]
    if len(set(names)) != len(names):
        raise SyriaforecastError(f"team_track_record: a question appears twice ({', '.join(names)})")
    questions = pd.DataFrame(
        {
            "outcome": [s.outcome for s in scores],
            "resolved": [s.resolved for s in scores],
            "forecasts": [len(s.forecasts) for s in scores],
            "days": [s.days for s in scores],
            "brier": [s.brier for s in scores],
            "log_score": [s.log_score for s in scores],
        },
        index=pd.Index(names, name="question"),
    )
    x = np.concatenate([s.forecasts[list(s.scenarios)].to_numpy().ravel() for s in scores])
    hit = np.concatenate(
        [np.tile(np.array([sid == s.outcome for sid in s.scenarios]), len(s.forecasts)) for s in scores]
    )
    pooled = xr.DataArray(
        np.stack([1.0 - x, x], axis=1),
        dims=("case", "scenario"),
        coords={"scenario": ["(other)", "all scenarios"]},
    )
    data = reliability_diagram(pooled, hit.astype(np.int64), scenario="all scenarios", n_boot=n_boot, rng=rng)
    data.attrs |= {
        "n_forecasts": int(questions["forecasts"].sum()),
        "pooled": 1,
        "leads": "all",
        "note": "issued forecasts of one question are not independent: bands are optimistic",
    }
    return TeamRecord(
        questions=questions,
        brier=float(questions["brier"].mean()),
        log_score=float(questions["log_score"].mean()),
        reliability=data,
    )
