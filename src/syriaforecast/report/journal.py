"""Pictures of a journal: what the team said, when.

:func:`plot_journal` draws the horizon probabilities *as issued*: each issued
forecast holds until the next one (a step), which is the forecast a reader of
the team's briefings saw on any day. It is not the hindsight (smoothed) curve
of one later forecast, which re-reads old evidence in the light of new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.dates as mdates

from syriaforecast.report.plots import PALETTE, _figure, _style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from syriaforecast.journal import JournalEntry
    from syriaforecast.spec.tripwires import Tripwire

__all__ = ["plot_journal"]


def plot_journal(
    entries: Sequence[JournalEntry],
    *,
    newly_fired: dict[int, list[str]] | None = None,
    tripwires: Sequence[Tripwire] = (),
    outcome: str | None = None,
    resolved: dt.date | None = None,
    title: str | None = None,
) -> Figure:
    """Horizon probabilities as issued over time, with the tripwires that fired.

    Parameters
    ----------
    entries : sequence of JournalEntry
        Issued forecasts of one question, oldest first
        (:meth:`syriaforecast.journal.Journal.entries`).
    newly_fired : dict, optional
        Entry number -> tripwire ids that entry newly crossed
        (:meth:`~syriaforecast.journal.Journal.newly_fired`); marked on the plot.
    tripwires : sequence of Tripwire
        Probability tripwires to draw as dotted lines in their scenario's colour.
    outcome, resolved : str and date, optional
        The scenario that came true and when: the plot runs to ``resolved`` and
        marks the outcome.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Each scenario's horizon probability as a step from one issue to the
        next (dots at the issues).
    """
    if not entries:
        raise ValueError("plot_journal: no journal entries to plot")
    scenarios = list(entries[-1].horizon)
    names = entries[-1].scenarios
    colors = {sid: PALETTE[k % len(PALETTE)] for k, sid in enumerate(scenarios)}
    times = [e.issued for e in entries]
    end = (
        dt.datetime.combine(resolved, dt.time(23, 59), tzinfo=dt.UTC)
        if resolved is not None
        else times[-1] + max(dt.timedelta(days=7), (times[-1] - times[0]) / 20)
    )
    x = [float(mdates.date2num(t)) for t in times]
    x_end = float(mdates.date2num(end))
    with _style():
        fig = _figure(10, 4.8)
        ax = fig.add_subplot()
        for sid in scenarios:
            values = [e.horizon.get(sid, float("nan")) for e in entries]
            label = names.get(sid, sid) + (" (came true)" if sid == outcome else "")
            ax.step([*x, x_end], [*values, values[-1]], where="post", color=colors[sid], lw=2, label=label)
            ax.plot(x, values, "o", color=colors[sid], ms=5)
        for wire in tripwires:
            if wire.kind == "probability" and wire.scenario in colors:
                side = "above" if wire.above is not None else "below"
                ax.axhline(wire.threshold, color=colors[str(wire.scenario)], ls=":", lw=1.2)
                ax.annotate(
                    f"{wire.id} ({side} {wire.threshold:.0%})",
                    (x[0], wire.threshold),
                    xytext=(2, 3),
                    textcoords="offset points",
                    fontsize=8,
                    color=colors[str(wire.scenario)],
                )
        for entry in entries:
            fired = (newly_fired or {}).get(entry.number, [])
            if fired:
                ax.axvline(float(mdates.date2num(entry.issued)), color="#D55E00", lw=1, ls="--", alpha=0.7)
                ax.annotate(
                    "fired: " + ", ".join(fired),
                    (float(mdates.date2num(entry.issued)), 1.0),
                    xytext=(3, -4),
                    textcoords="offset points",
                    rotation=90,
                    va="top",
                    fontsize=8,
                    color="#D55E00",
                )
        if outcome is not None and resolved is not None:
            star = colors.get(outcome, "black")
            ax.plot([x_end], [1.0], marker="*", ms=14, color=star, clip_on=False)
            ax.annotate(
                f"resolved {resolved.isoformat()}: {names.get(outcome, outcome)}",
                (x_end, 1.0),
                xytext=(-6, 6),
                textcoords="offset points",
                ha="right",
                fontsize=9,
            )
        ax.set_ylim(0, 1.04)
        ax.set_ylabel(f"P(scenario on {entries[-1].horizon_date.isoformat()})")
        ax.set_xlabel("issued (UTC)")
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.grid(True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(
            title or f"{entries[-1].model_id}: horizon probabilities as issued ({len(entries)} forecasts)",
            loc="left",
        )
    return fig
