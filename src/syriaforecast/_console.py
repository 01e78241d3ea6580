"""What the ``syriaforecast`` command prints: help layout, progress, validate and forecast summaries.

Kept apart from :mod:`syriaforecast.cli` (which parses arguments and dispatches)
so that wording and layout can be tested without running a command. Every
string that comes from a user's file goes through :func:`rich.markup.escape`
before rich sees it: a title such as ``[draft]`` must print as written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syriaforecast._compiling import on_first_compile
from syriaforecast._render import raise_on_closed_pipe

__all__ = [
    "COMPILING",
    "HelpFormatter",
    "output_console",
    "print_forecast_summary",
    "print_validate_summary",
    "progress",
]

#: Width of piped output: wide enough that no table or line of ours wraps.
PIPED_WIDTH = 240


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` with each option's default, unless its help already says it.

    Descriptions keep their paragraphs and their indented lines (examples) as
    written, and wrap the other lines to the terminal's width.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for paragraph in text.strip("\n").split("\n\n"):
            if paragraph.startswith(" "):
                out.append(textwrap.indent(paragraph, indent))
            else:
                out.append(
                    textwrap.fill(
                        " ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent
                    )
                )
        return "\n\n".join(out) + "\n"

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = not (default is None or default is False or default is argparse.SUPPRESS)
        if "default" not in text and shown and action.option_strings:
            text += " (default: %(default)s)"
        return text


def output_console() -> Console:
    """The console for results on standard output.

    In a terminal rich fits tables to its width; piped or redirected, rich
    would assume 80 columns and wrap every longer line, so the width is
    ``$COLUMNS`` when set and otherwise wide enough that nothing wraps.
    """
    if sys.stdout.isatty():
        return raise_on_closed_pipe(Console(highlight=False, emoji=False))
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else PIPED_WIDTH
    return raise_on_closed_pipe(Console(highlight=False, emoji=False, width=width, soft_wrap=False))


#: What the spinner says once Numba starts compiling: a machine's first forecast compiles the
#: engine's kernels for its on-disk cache (110-125 s for the bundled model on this project's
#: 2-core machine, benchmarks/RESULTS.md; 146 s for `make forecast` with its report), which a
#: bare spinner would leave unexplained. Short enough to fit an 80-column terminal.
COMPILING = "compiling the engine once (a few minutes), then "


@contextmanager
def progress(errors: Console, text: str, *, enabled: bool) -> Iterator[None]:
    """A spinner with the elapsed time on standard error while ``text`` runs.

    Shown only when ``enabled`` (the CLI passes: standard error is a terminal
    and ``--quiet`` was not given) and removed when done, so that nothing of it
    is left in a log. If the engine's compiled kernels have to be built first,
    the text says so (:data:`COMPILING`).
    """
    if not enabled:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task(escape(text), total=None)
        with on_first_compile(lambda: bar.update(task, description=escape(COMPILING + text))):
            yield


# --------------------------------------------------------------------------- validate
def print_validate_summary(model: Any, evidence: Any, console: Console, *, path: Any) -> None:
    """What ``syriaforecast validate`` prints: the model, and the evidence by period."""
    console.print(
        f"[bold]{escape(model.title)}[/]  ({escape(model.id)}; {escape(str(path))})", soft_wrap=True
    )
    console.print(
        f"{model.period}ly from {model.start}, horizon {model.horizon}, persistence {model.persistence}, "
        f"elicitation error {model.elicitation_error}",
        soft_wrap=True,
    )
    table = Table(title="Scenarios", title_justify="left")
    table.add_column("id", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("prior", justify="right")
    for s in model.scenarios:
        prior = f"{s.prior:.2f}" + (f" ({s.prior_phrase})" if s.prior_phrase else "")
        table.add_row(escape(s.id), escape(s.name), escape(prior))
    console.print(table)
    kinds = ("binary", "ordinal", "count")
    groups = Table(title=f"Indicators ({len(model.indicators)})", title_justify="left")
    groups.add_column("group", overflow="fold")
    for kind in kinds:
        groups.add_column(kind, justify="right")
    for group in model.groups:
        members = [i for i in model.indicators if i.group == group]
        groups.add_row(escape(group), *(str(sum(i.type == k for i in members)) for k in kinds))
    console.print(groups)
    for cluster in getattr(model, "clusters", ()):
        console.print(
            f"cluster {escape(cluster.id)} (closeness {cluster.closeness:g}): one event measured by "
            + ", ".join(escape(m) for m in cluster.members),
            soft_wrap=True,
        )
    if evidence is None:
        return
    console.print(escape(repr(evidence)), soft_wrap=True)
    frame = evidence.to_dataframe()
    if frame.empty:
        return
    labels = model.period_labels(int(frame["period"].max()) + 1)
    grades = [
        (r + (str(c) if c else "")) or "ungraded"
        for r, c in zip(frame["reliability"], frame["credibility"], strict=True)
    ]
    frame = frame.assign(grade=grades)
    # One row per period and the grades as text: a column per grade (up to 37 of
    # them, A1..F6 and ungraded) is unreadable in any width.
    reports = Table(
        title="Reports by period and Admiralty grade (ungraded: read at face value)",
        title_justify="left",
    )
    reports.add_column("period")
    reports.add_column("reports", justify="right")
    reports.add_column("by grade", overflow="fold")
    for period, rows in frame.groupby("period", sort=True):  # in time order, whatever the labels
        counts = rows["grade"].value_counts()
        ordered = sorted(counts.index, key=lambda g: (g == "ungraded", g))
        reports.add_row(labels[int(period)], str(len(rows)), "  ".join(f"{g}: {counts[g]}" for g in ordered))
    totals = frame["grade"].value_counts()
    ordered = sorted(totals.index, key=lambda g: (g == "ungraded", g))
    reports.add_section()
    reports.add_row("all", str(len(frame)), "  ".join(f"{g}: {totals[g]}" for g in ordered), style="bold")
    console.print(reports)
    late = int((frame["published"] > frame["date"]).sum()) if "published" in frame else 0
    if late:
        console.print(
            f"{late} reports published after the day they describe (latest published "
            f"{evidence.last_published}): a forecast as of an earlier date leaves them out"
        )
    if "report" in frame:
        named = frame[frame["report"] != ""]
        shared = named.groupby("report").size()
        if (shared > 1).any():
            console.print(f"{int((shared > 1).sum())} report ids code several rows (one truthfulness each)")
            spans = named.groupby("report")["period"].nunique()
            if (spans > 1).any():
                console.print(
                    f"{int((spans > 1).sum())} report ids span several periods: their rows share one "
                    "truthfulness only within each period (see docs/model-format.md)"
                )


# --------------------------------------------------------------------------- forecast
def forecast_title(result: Any) -> str:
    """The summary's title: model, question, as-of date and the mode (plain text, not markup)."""
    mode = "exact mode" if result.mode == "exact" else f"{result.mode} model"
    return f"{result.model.title}\nP(scenario on {result.model.horizon}) as of {result.as_of}  [{mode}]"


def print_forecast_summary(result: Any, console: Console, *, prob: float = 0.9, unpublished: int = 0) -> None:
    """The headline table and the line under it.

    Exact mode draws nothing, so it shows no interval, no confidence and no
    sampler diagnostics; a phrase whose band edge lies within two Monte Carlo
    standard errors of the mean names the neighbouring phrase too.
    """
    summary = result.summary(prob=prob)
    exact = result.mode == "exact"
    # The title goes above the table, not in it: a table title wraps at the table's width.
    title, question = forecast_title(result).split("\n", 1)
    console.print(f"[bold]{escape(title)}[/]", soft_wrap=True)
    console.print(escape(question), soft_wrap=True)
    table = Table()
    table.add_column("scenario", overflow="fold")
    table.add_column("probability" if exact else "mean", justify="right")
    if not exact:
        table.add_column(f"{prob:.0%} HDI", justify="right")
    table.add_column("ICD 203")
    if not exact:
        table.add_column("confidence")
    close: list[str] = []
    for _, row in summary.iterrows():
        phrase = str(row["phrase"])
        alternative = str(row.get("phrase_alternative", "") or "")
        if alternative:
            phrase = f"{phrase} or {alternative} †"
            close.append(f"{row['name']}: {row['mean']:.1%} ± {2 * row['mcse']:.1%}")
        if row["spans_phrases"] and not exact:
            phrase += " *"
        cells = [escape(str(row["name"])), f"{row['mean']:.0%}"]
        if not exact:
            cells.append(f"{row['hdi_low']:.0%} - {row['hdi_high']:.0%}")
        cells.append(escape(phrase))
        if not exact:
            cells.append(escape(str(row["confidence"])))
        table.add_row(*cells)
    console.print(table)
    if not exact and summary["spans_phrases"].any():
        console.print("* the interval spans more than one ICD 203 phrase")
    if close:
        console.print(
            "† the mean lies within Monte Carlo error (2 MCSE) of the edge between the two phrases, "
            f"so another run may print either ({escape('; '.join(close))}); more draws would settle it"
        )
    # Driver rows share the log but are not reports: count them apart.
    n = result.evidence.n_reports
    n_drivers = len(result.evidence) - n
    left_out = f"; {unpublished} reports published after the as-of date not used" if unpublished > 0 else ""
    if n_drivers:
        left_out += f"; {n_drivers} driver row{'s' * (n_drivers != 1)}"
    if exact:
        console.print(
            f"{n} reports used; exact mode: the model file's elicitations, priors and grades taken as "
            "written, computed without sampling (no interval, no confidence)" + left_out
        )
        return
    diag = result.diagnostics.attrs
    chains = result.posterior.sizes.get("chain", 1)
    draws = result.posterior.sizes.get("draw", result.n_draws)
    console.print(
        f"{n} reports used; {chains} chains x {draws:,} draws; divergences {diag.get('divergences', 0)}; "
        f"sampler diagnostics (R-hat, ESS): {'passed' if result.converged else 'FAILED'}" + left_out
    )
