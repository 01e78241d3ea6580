"""The ``syriaforecast journal`` command, and the alerts the ``forecast`` command prints.

Kept apart from :mod:`syriaforecast.cli` so that the main command file only
registers the sub-command and calls in here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syriaforecast.errors import SyriaforecastError

__all__ = ["add_journal_parser", "print_alerts", "run_journal_command"]

JOURNAL_HELP = "list the forecasts issued into a journal, plot them, and score them once resolved"
JOURNAL_DESCRIPTION = """\
List the forecasts issued into a journal folder (by `syriaforecast forecast ... --journal DIR`
or syriaforecast.issue(forecast, DIR)), oldest first: issue time (UTC), as-of date, the horizon probability
of each scenario as issued, the tripwires each crossed and those newly fired since the previous
entry. Plots the issued probabilities over time (what the team said, not the hindsight curve).

With an outcome (--outcome FILE, or DIR/outcome.toml when present; the case folder's format:
scenario = "id", date = YYYY-MM-DD), scores every issued forecast: Brier (summed over
scenarios, 0..2) and log score (nats), each forecast's own and time-averaged as forecasting
platforms do (each day from the first issue to the resolution date counts the forecast
standing that day). Several journals (one per question) pool into the team's track record
with a reliability diagram.
"""


def add_journal_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``journal`` on the main parser's sub-parsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "journal",
        help=JOURNAL_HELP,
        description=JOURNAL_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("journals", type=Path, nargs="+", metavar="DIR", help="journal folder(s)")
    parser.add_argument(
        "--outcome",
        type=Path,
        action="append",
        default=None,
        metavar="outcome.toml",
        help="the resolution (scenario, date): one per journal, in order (default: DIR/outcome.toml if any)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the plots (default: the journal folder; the current folder for several journals)",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write the plots")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON instead of tables")
    return parser


def _r(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def run_journal_command(args: argparse.Namespace, console: Console) -> int:
    """Run ``syriaforecast journal``; returns the exit status."""
    from syriaforecast.backtest.resolution import score_journal, team_track_record
    from syriaforecast.journal import open_journal

    folders: list[Path] = list(args.journals)
    outcomes: list[Path | None]
    if args.outcome:
        if len(args.outcome) != len(folders):
            raise SyriaforecastError(
                f"--outcome: given {len(args.outcome)} times for {len(folders)} journals; give one outcome "
                "file per journal, in the same order (or put outcome.toml in each journal folder)"
            )
        outcomes = list(args.outcome)
    else:
        outcomes = [f / "outcome.toml" if (f / "outcome.toml").is_file() else None for f in folders]
    listings = []
    for folder, outcome in zip(folders, outcomes, strict=True):
        book = open_journal(folder)
        entries = book.entries()
        scores = score_journal(book, outcome) if outcome is not None and entries else None
        listings.append((folder, book, entries, book.newly_fired(), scores))
    scored = [s for *_, s in listings if s is not None]
    record = team_track_record(scored) if len(scored) > 1 else None
    plots = [] if args.no_plot else _write_plots(listings, record, args.out)

    if args.json:
        forecasts = []
        for folder, _, entries, fired, scores in listings:
            for entry in entries:
                row = entry.to_dict() | {"journal": str(folder), "newly_fired": fired[entry.number]}
                if scores is not None:
                    line = scores.forecasts.loc[entry.number]
                    row |= {
                        "brier": _r(float(line["brier"])),
                        "log_score": _r(float(line["log_score"])),
                        "days_standing": int(line["days"]),
                    }
                forecasts.append(row)
        forecasts.sort(key=lambda r: r["issued"])
        out: dict[str, Any] = {"forecasts": forecasts}
        if scored:
            out["questions"] = [s.to_dict() for s in scored]
        if record is not None:
            out["team"] = record.to_dict()
        out["plots"] = [str(p) for p in plots]
        print(json.dumps(out, indent=2))
        return 0

    for folder, book, entries, fired, scores in listings:
        _print_listing(console, folder, entries, fired, scores)
        unlisted = book.unlisted_files()
        if unlisted:
            console.print(
                f"note: {len(unlisted)} forecast file(s) in {escape(str(folder))}/forecasts have no row "
                "(an issue interrupted before it was recorded); they are not part of the journal"
            )
    if record is not None:
        table = Table(title="Team track record (time-averaged scores per question)", title_justify="left")
        for name in ("question", "outcome", "resolved", "forecasts", "days", "Brier", "log score"):
            table.add_column(
                name, justify="right" if name in ("forecasts", "days", "Brier", "log score") else "left"
            )
        for question, row in record.questions.iterrows():
            table.add_row(
                str(question),
                str(row["outcome"]),
                row["resolved"].isoformat(),
                str(row["forecasts"]),
                str(row["days"]),
                f"{row['brier']:.3f}",
                f"{row['log_score']:.3f}",
            )
        console.print(table)
        console.print(
            f"mean over {len(record.questions)} questions: Brier {record.brier:.3f}, "
            f"log score {record.log_score:.3f}"
        )
    for path in plots:
        console.print(f"wrote {escape(str(path))}")
    return 0


def _print_listing(
    console: Console, folder: Path, entries: list[Any], fired: dict[int, list[str]], scores: Any
) -> None:
    if not entries:
        console.print(f"{escape(str(folder))}: no issued forecasts")
        return
    # Every scenario any entry forecast (a journal may hold forecasts of several model versions),
    # in order of first appearance: an entry without one shows "-" there, none is dropped.
    scenarios = list(dict.fromkeys(s for entry in entries for s in entry.horizon))
    horizons = {entry.horizon_date for entry in entries}
    when = f"on {entries[-1].horizon_date.isoformat()}" if len(horizons) == 1 else "at each one's horizon"
    table = Table(
        title=f"{escape(str(folder))}: {len(entries)} issued forecast{'s' * (len(entries) != 1)} "
        f"(P(scenario {when}) as issued)",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("issued (UTC)")
    table.add_column("as of")
    if len(horizons) > 1:
        table.add_column("horizon")
    table.add_column("model")
    for sid in scenarios:
        table.add_column(sid, justify="right", overflow="fold")
    table.add_column("alerts", overflow="fold")
    table.add_column("newly fired", overflow="fold")
    if scores is not None:
        for name in ("Brier", "log score", "days"):
            table.add_column(name, justify="right")
    for entry in entries:
        cells = [
            str(entry.number),
            entry.issued.strftime("%Y-%m-%d %H:%M"),
            entry.as_of.isoformat(),
            *([entry.horizon_date.isoformat()] if len(horizons) > 1 else []),
            escape(entry.model_id),
            *(
                (f"[bold]{entry.horizon[s]:.0%}[/]" if s == entry.leader else f"{entry.horizon[s]:.0%}")
                if s in entry.horizon
                else "-"
                for s in scenarios
            ),
            ", ".join(a["tripwire"] for a in entry.alerts) or "-",
            ", ".join(fired.get(entry.number, [])) or "-",
        ]
        if scores is not None:
            line = scores.forecasts.loc[entry.number]
            cells += [f"{line['brier']:.3f}", f"{line['log_score']:.3f}", str(int(line["days"]))]
        table.add_row(*cells)
    console.print(table)
    if scores is not None:
        console.print(
            f"resolved {scores.resolved.isoformat()}: {escape(scores.outcome)}. "
            f"Time-averaged over {scores.days} days "
            f"(each day's standing forecast): Brier {scores.brier:.3f} (0 best, 2 worst), "
            f"log score {scores.log_score:.3f} nats"
        )


def _write_plots(listings: list[Any], record: Any, out: Path | None) -> list[Path]:
    from syriaforecast._io import atomic_path
    from syriaforecast.report.journal import plot_journal

    plans = []  # (folder, entries of one model, newly fired, scores)
    for folder, _, entries, fired, scores in listings:
        for model_id in dict.fromkeys(e.model_id for e in entries):
            mine = [e for e in entries if e.model_id == model_id]
            plans.append(
                (folder, mine, fired, scores if scores is not None and scores.question == model_id else None)
            )
    several = len(plans) > 1
    names = [f"journal_{entries[-1].model_id}.png" if several else "journal.png" for _, entries, *_ in plans]
    # Two journals of one model write to one folder: each plot is named by its journal too,
    # then numbered if the journals' folders share a name (each file written once, none lost).
    repeated = {name for name in names if names.count(name) > 1}
    names = [
        f"journal_{Path(folder).name}_{entries[-1].model_id}.png" if name in repeated else name
        for name, (folder, entries, *_) in zip(names, plans, strict=True)
    ]
    names = [
        f"{Path(name).stem}_{names[:k].count(name) + 1}.png" if names.count(name) > 1 else name
        for k, name in enumerate(names)
    ]
    written = []
    for (folder, entries, fired, scores), name in zip(plans, names, strict=True):
        default = Path.cwd() if len(listings) > 1 else Path(folder)
        target_dir = out if out is not None else default
        target_dir.mkdir(parents=True, exist_ok=True)
        tripwires: tuple[Any, ...] = ()
        with contextlib.suppress(SyriaforecastError):  # the listing still plots what was issued
            tripwires = entries[-1].load().model.tripwires
        fig = plot_journal(
            entries,
            newly_fired=fired,
            tripwires=tripwires,
            outcome=scores.outcome if scores is not None else None,
            resolved=scores.resolved if scores is not None else None,
        )
        with atomic_path(target_dir / name) as tmp:
            fig.savefig(tmp, format="png", dpi=150)
        written.append(target_dir / name)
    if record is not None:
        from syriaforecast.backtest.plots import plot_track_record

        target_dir = out if out is not None else Path.cwd()
        fig = plot_track_record(record)
        with atomic_path(target_dir / "track_record.png") as tmp:
            fig.savefig(tmp, format="png", dpi=150)
        written.append(target_dir / "track_record.png")
    return written


def print_alerts(result: Any, console: Console) -> None:
    """Print the tripwires a forecast crossed (nothing when none did)."""
    alerts = result.alerts()
    if not alerts:
        return
    table = Table(title="Tripwires crossed", title_justify="left")
    table.add_column("tripwire")
    table.add_column("line")
    table.add_column("now", overflow="fold")
    table.add_column("note", overflow="fold")
    for alert in alerts:
        if alert["kind"] == "probability":
            now = f"{alert['probability']:.1%}"
        else:
            grades = ", ".join(alert["grades"])
            now = f"{alert['reports']} report(s), {alert['first_seen']}..{alert['last_seen']} ({grades})"
        table.add_row(alert["tripwire"], escape(alert["description"]), escape(now), escape(alert["text"]))
    console.print(table)
