"""The one-page briefing: PNG plots and a self-contained HTML report.

:func:`write_report` is what ``syriaforecast forecast --out DIR`` calls. Every
file is written atomically (a crash never leaves half a file), the HTML embeds
its pictures (it can be mailed on its own) and links the PNGs beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from syriaforecast._io import atomic_path
from syriaforecast._render import plain_text_figures
from syriaforecast.errors import SyriaforecastError
from syriaforecast.report.collection import collection_priorities, diagnosticity
from syriaforecast.report.disagreement import analyst_summary, disagreement_rows
from syriaforecast.report.influence import ReportBudgetError, evidence_contributions, since
from syriaforecast.report.mind import what_would_change_my_mind
from syriaforecast.report.plots import (
    plot_collection,
    plot_contributions,
    plot_diagnosticity,
    plot_fan_chart,
    plot_sensitivity,
    scenario_colors,
)
from syriaforecast.report.sensitivity import elicitation_sensitivity
from syriaforecast.report.sources import sources

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from syriaforecast.forecast import Forecast

__all__ = ["REPORT_NAME", "write_report"]

#: File name of the HTML report inside the output folder.
REPORT_NAME = "report.html"
_PLOTS = ("fan_chart", "contributions", "collection", "sensitivity", "diagnosticity")

_CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #fff; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p, li { font-size: 14px; line-height: 1.45; }
.meta { color: #555; font-size: 13px; }
.note { color: #555; font-size: 12.5px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f6f9; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num { text-align: right; max-width: 170px; }
.date { white-space: nowrap; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 6px; }
.headline td { font-size: 15px; }
.warn { background: #fff4e0; border-left: 4px solid #E69F00; padding: 6px 10px; font-size: 13px; }
.ok { color: #009E73; font-weight: 600; }
.bad { color: #D55E00; font-weight: 600; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 12.5px; color: #555; }
code { font-size: 12px; word-break: break-all; }
"""


def _dynamics_section(forecast: Forecast, names: Mapping[str, str]) -> list[str]:
    """Surprise monitor (plain words and the recent p-values) and the drivers' on/off horizons."""
    out = ["<h2>Does the scenario set still fit?</h2>"]
    table = forecast.surprise()
    note = forecast.surprise_note(table=table)
    if note:
        out.append(f'<p class="warn">{_e(note)}</p>')
    else:
        out.append(
            '<p class="note">None of the last three reported periods was improbable under the '
            "scenarios (their one-step-ahead predictive p-values are all at least 0.01).</p>"
        )
    recent = table.iloc[-6:]
    out.append(
        _table(
            ["Period", "Predictive p-value"],
            [[str(r.period), f"{r.p_value:.3f}"] for r in recent.itertuples()],
            [False, True],
        )
    )
    if forecast.attrs.get("assume"):
        assumed = _e(forecast.attrs["assume"])
        out.append(f'<p class="note">Conditional forecast: drivers assumed {assumed}.</p>')
    contrast = forecast.drivers_side_by_side()
    if not contrast.empty:
        start = _e(contrast["from"].iloc[0])
        out.append(f"<h3>Drivers: the horizon with each driver off and on from {start}</h3>")
        out.append(
            _table(
                ["Driver", "Scenario", "Off", "On", "Change"],
                [
                    [str(r.driver), names[str(r.scenario)], _pct(r.off), _pct(r.on), f"{r.change:+.0%}"]
                    for r in contrast.itertuples()
                ],
                [False, False, True, True, True],
            )
        )
    return out


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Sequence[bool] | None = None,
    cls: str = "",
) -> str:
    numeric = list(numeric) if numeric is not None else [False] * len(headers)
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if n else f"<th>{_e(h)}</th>"
        for h, n in zip(headers, numeric, strict=True)
    )
    body = []
    for row in rows:
        cells = []
        for value, n in zip(row, numeric, strict=True):
            text = value if isinstance(value, _Raw) else _e(value)
            cells.append(f'<td class="num">{text}</td>' if n else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """Already-escaped HTML."""


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _db(x: float) -> str:
    text = f"{x:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def _value(model: Any, indicator: str, value: str) -> str:
    """A report's value as an analyst reads it: binary 1/0 as seen / not seen."""
    if model.indicator(indicator).type == "binary":
        return "seen" if value == "1" else "not seen"
    return value


def _save_png(fig: Figure, path: Path) -> bytes:
    buffer = io.BytesIO()
    with plain_text_figures():  # ticks made while drawing treat `$` as text too
        fig.savefig(buffer, format="png", dpi=150)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return data


def _figure_html(name: str, data: bytes, caption: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{encoded}">'
        f'<figcaption>{_e(caption)} (also saved as <a href="{_e(name)}.png">{_e(name)}.png</a>)'
        "</figcaption></figure>"
    )


def _scenario_cell(name: str, color: str) -> _Raw:
    return _Raw(f'<span class="dot" style="background:{color}"></span>{_e(name)}')


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def write_report(
    forecast: Forecast,
    out_dir: str | Path,
    *,
    previous: Forecast | None = None,
    max_draws: int | None = 200,
    prob: float = 0.9,
) -> list[Path]:
    """Write the briefing plots (PNG) and the one-page HTML report into ``out_dir``.

    Parameters
    ----------
    forecast : Forecast
        The forecast to report.
    out_dir : str or Path
        Folder to write into (created if needed). Existing files of the same
        names are replaced atomically.
    previous : Forecast, optional
        An earlier forecast of the same model: adds a "since the last forecast" section.
    max_draws : int or None
        Thinned posterior draws for the what-if analyses (None: all).
    prob : float
        Mass of the highest-density intervals shown.

    Returns
    -------
    list of Path
        The PNG files, then the HTML report.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SyriaforecastError(f"out_dir = {str(out)!r}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def timed(name: str, make: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = make()
        timings[name] = time.perf_counter() - start
        return value

    summary = forecast.summary(prob=prob)
    by_indicator = timed(
        "contributions (indicators)",
        lambda: evidence_contributions(forecast, by="indicator", max_draws=max_draws, prob=prob),
    )
    try:
        by_report = timed(
            "contributions (reports)",
            lambda: evidence_contributions(forecast, by="report", max_draws=max_draws, prob=prob),
        )
        report_caption = (
            "Largest contributions of single reports to each scenario's horizon log odds (decibans)"
        )
    except ReportBudgetError as exc:  # too many distinct reports per cell: show indicators instead
        by_report = by_indicator
        report_caption = (
            "Contributions of each indicator's reports to each scenario's horizon log odds (decibans); "
            f"single reports are not shown: {exc}"
        )
    collection = timed(
        "collection priorities", lambda: collection_priorities(forecast, max_draws=max_draws, prob=prob)
    )
    diag_table = timed("diagnosticity", lambda: diagnosticity(forecast, max_draws=max_draws, prob=prob))
    sensitivity = timed("sensitivity", lambda: elicitation_sensitivity(forecast, max_draws=max_draws))
    changes = (
        timed("since", lambda: since(previous, forecast, max_draws=max_draws, prob=prob))
        if previous is not None
        else None
    )
    mind = timed(
        "change my mind",
        lambda: what_would_change_my_mind(forecast, max_draws=max_draws, priorities=collection),
    )
    agenda = (
        timed("disagreement", lambda: disagreement_rows(forecast, top=5)) if forecast.model.analysts else None
    )
    source_table = (
        timed("sources", lambda: _bounded_sources(forecast, max_draws=max_draws, prob=prob))
        if (forecast.evidence.to_dataframe()["source"].astype(str).str.strip() != "").any()
        else None
    )

    figures: dict[str, tuple[Callable[[], Figure], str]] = {
        "fan_chart": (
            lambda: plot_fan_chart(forecast, probs=(0.5, prob)),
            "As-of probability of each scenario over time, projection to the horizon, and the reports used",
        ),
        "contributions": (
            lambda: plot_contributions(forecast, contributions=by_report),
            report_caption,
        ),
        "collection": (
            lambda: plot_collection(forecast, table=collection),
            "Collection priorities: expected information gain about the horizon scenario",
        ),
        "sensitivity": (
            lambda: plot_sensitivity(forecast, table=sensitivity),
            "Sensitivity of the leading scenario to each elicitation moved one ICD 203 band",
        ),
        "diagnosticity": (
            lambda: plot_diagnosticity(forecast, table=diag_table),
            "Diagnosticity of each indicator for each scenario (quantitative ACH matrix)",
        ),
    }
    written: list[Path] = []
    images: dict[str, str] = {}
    start = time.perf_counter()
    for name in _PLOTS:
        make, caption = figures[name]
        fig = make()
        path = out / f"{name}.png"
        data = _save_png(fig, path)
        fig.clear()
        written.append(path)
        images[name] = _figure_html(name, data, caption)
    timings["plots"] = time.perf_counter() - start

    page = _page(
        forecast,
        summary=summary,
        by_report=by_report,
        by_indicator=by_indicator,
        collection=collection,
        sensitivity=sensitivity,
        changes=changes,
        source_table=source_table,
        images=images,
        timings=timings,
        prob=prob,
        agenda=agenda,
        mind=mind,
    )
    report = out / REPORT_NAME
    with atomic_path(report) as tmp:
        tmp.write_text(page, encoding="utf-8")
    written.append(report)
    return written


#: Work budget of the report's by-source table, in report-row draws: report.sources() evaluates
#: the whole evidence once per graded report (each one read as truthful), so its work is
#: graded reports x reports x draws, quadratic in the log's length. Measured: 10,000 graded
#: reports of the bundled model, 200 draws: 114 s (5.7 ns per report-row draw, load ~15 on 2
#: cores). 5e9 is about half a minute; above it the table is left out and the page says why.
SOURCES_WORK_MAX = 5_000_000_000


def _bounded_sources(forecast: Forecast, *, max_draws: int | None, prob: float) -> pd.DataFrame:
    """``sources()``, or an empty table whose ``attrs["omitted"]`` says why it was left out."""
    table = forecast.evidence.to_dataframe()
    graded = int(((table["reliability"].astype(str) != "") | (table["credibility"] != 0)).sum())
    draws = forecast.n_draws if max_draws is None else min(max_draws, forecast.n_draws)
    work = graded * len(table) * draws
    if work <= SOURCES_WORK_MAX:
        return sources(forecast, max_draws=max_draws, prob=prob)
    omitted = pd.DataFrame()
    omitted.attrs["omitted"] = (
        f"The by-source table is left out: its reliabilities re-read all {len(table):,} reports once per "
        f"graded report ({graded:,}) and draw ({draws}), {work:.2g} report-row draws, above the report's "
        f"budget of {SOURCES_WORK_MAX:.2g}. syriaforecast.report.sources(forecast, max_draws=...) computes "
        "it on request; the contributions by indicator and by report above are complete."
    )
    return omitted


def _page(
    forecast: Forecast,
    *,
    summary: pd.DataFrame,
    by_report: Any,
    by_indicator: Any,
    collection: pd.DataFrame,
    sensitivity: pd.DataFrame,
    changes: Any,
    images: dict[str, str],
    timings: dict[str, float],
    prob: float,
    agenda: list[dict[str, Any]] | None = None,
    source_table: pd.DataFrame | None = None,
    mind: pd.DataFrame | None = None,
) -> str:
    model = forecast.model
    colors = scenario_colors(forecast)
    names = dict(zip(model.scenario_ids, model.scenario_names, strict=True))
    attrs = forecast.attrs
    parts: list[str] = []
    add = parts.append
    add(f"<h1>{_e(model.title)}</h1>")
    if model.question:
        add(f"<p>{_e(model.question)}</p>")
    exact = forecast.mode == "exact"
    mode = (
        "exact (model file taken as exact; no uncertainty bands)"
        if exact
        else f"hierarchical ({forecast.n_draws} posterior draws)"
    )
    add(
        f'<p class="meta">As of <b>{_e(forecast.as_of.isoformat())}</b> &middot; horizon '
        f"<b>{_e(model.horizon.isoformat())}</b> &middot; {forecast.evidence.n_reports} reports &middot; "
        f"mode: {_e(mode)}</p>"
    )
    if forecast.mode != "exact" and not forecast.converged:
        add(
            '<p class="warn">Sampler diagnostics failed: treat the numbers as provisional '
            f"(see Diagnostics). {_e(forecast.convergence_advice())}</p>"
        )

    # ---- summary
    add("<h2>Forecast</h2>")
    rows: list[list[Any]] = []
    for sid, row in summary.iterrows():
        rows.append(
            [
                _scenario_cell(str(row["name"]), colors[str(sid)]),
                _pct(row["mean"]),
                "n/a" if exact else f"{_pct(row['hdi_low'])} to {_pct(row['hdi_high'])}",
                str(row["phrase"])
                + (f" or {row['phrase_alternative']} †" if row.get("phrase_alternative") else "")
                + (" *" if row["spans_phrases"] else ""),
                str(row["confidence"]),
            ]
        )
    add(
        _table(
            ["Scenario", "Probability", f"{prob:.0%} interval", "ICD 203", "Confidence"],
            rows,
            [False, True, True, False, False],
            cls="headline",
        )
    )
    add(
        f'<p class="note">Probability that each scenario holds on {_e(model.horizon.isoformat())}, '
        f"given the reports dated up to {_e(forecast.as_of.isoformat())}."
        + (" * the interval spans more than one ICD 203 phrase." if summary["spans_phrases"].any() else "")
        + (
            " † the mean lies within Monte Carlo error (2 MCSE) of the edge between the two phrases: "
            "another run may print either; more draws would settle it."
            if "phrase_alternative" in summary and summary["phrase_alternative"].astype(bool).any()
            else ""
        )
        + "</p>"
    )
    add(images["fan_chart"])
    parts.extend(_dynamics_section(forecast, names))
    _tripwires_section(add, forecast, names)
    if mind is not None:
        _mind_section(add, forecast, mind, names)

    # ---- since
    if changes is not None:
        add(f"<h2>Since the forecast of {_e(changes.attrs['previous_as_of'])}</h2>")
        rows = []
        for sid in model.scenario_ids:
            c = changes.sel(scenario=sid)
            rows.append(
                [
                    _scenario_cell(names[sid], colors[sid]),
                    _pct(float(c["previous"])),
                    _pct(float(c["current"])),
                    f"{100 * float(c['change']):+.1f} pp",
                    _db(float(c["change_db"])),
                    _db(float(c["new_evidence_db"])),
                    _db(float(c["removed_evidence_db"])),
                    _db(float(c["other_db"])),
                ]
            )
        add(
            _table(
                [
                    "Scenario",
                    "Then",
                    "Now",
                    "Change",
                    "Change (dB)",
                    "New reports (dB)",
                    "Removed (dB)",
                    "Other (dB)",
                ],
                rows,
                [False] + [True] * 7,
            )
        )
        drivers = int(changes.attrs.get("n_driver_changes", 0))
        moved = (
            f"driver values logged or changed since ({drivers} driver row{'s' * (drivers != 1)}), "
            if drivers
            else ""
        )
        add(
            f'<p class="note">{changes.attrs["n_added"]} reports added, '
            f"{changes.attrs['n_removed']} removed. "
            f"Other: re-estimated parameters, {moved}Monte Carlo error and interactions.</p>"
        )
        if int(changes.attrs.get("n_late", 0)):
            add(
                f'<p class="note">{int(changes.attrs["n_late"])} of the added reports were published '
                f"late and rewrote earlier periods ({_e(str(changes.attrs['late_periods']))}): they "
                "describe periods the earlier forecast already covered.</p>"
            )
        if changes.sizes["report"]:
            strongest = np.abs(changes["contribution"].to_numpy()).max(axis=1)
            top = np.argsort(-strongest, kind="stable")[:10]
            rows = []
            for k in top:
                r = changes.isel(report=int(k))
                late = "rewrites_earlier" in r and bool(r["rewrites_earlier"].item())
                status = str(r["status"].item())
                if late:
                    status += f" (late, published {r['published'].item()})"
                rows.append(
                    [
                        status,
                        _Raw(f'<span class="date">{_e(r["date"].item())}</span>'),
                        str(r["indicator"].item()),
                        _value(model, str(r["indicator"].item()), str(r["value"].item())),
                        str(r["grade"].item()),
                    ]
                    + [_db(float(r["contribution"].sel(scenario=sid))) for sid in model.scenario_ids]
                )
            add(
                _table(
                    [
                        "",
                        "Date",
                        "Indicator",
                        "Value",
                        "Grade",
                        *[f"{names[s]} (dB)" for s in model.scenario_ids],
                    ],
                    rows,
                    [False] * 5 + [True] * len(model.scenario_ids),
                )
            )

    # ---- what moved it
    add("<h2>What moved it</h2>")
    add(
        '<p class="note">Contribution of a report to a scenario: how much its log odds at the horizon '
        "change when the report is left out, in decibans (dB): 10 dB multiplies the odds by 10, 3 dB "
        "doubles them; positive favours the scenario. Evidence now is discounted at the horizon by "
        "the chance that the scenario changes in between.</p>"
    )
    rows = []
    for sid in model.scenario_ids:
        rows.append(
            [
                _scenario_cell(names[sid], colors[sid]),
                _db(float(by_report["total_mean"].sel(scenario=sid))),
                "n/a"
                if exact
                else f"{_db(float(by_report['total_low'].sel(scenario=sid)))} to "
                f"{_db(float(by_report['total_high'].sel(scenario=sid)))}",
            ]
        )
    add("<h3>All evidence together</h3>")
    add(_table(["Scenario", "All reports (dB)", f"{prob:.0%} interval"], rows, [False, True, True]))
    add(images["contributions"])
    add("<h3>By indicator (all its reports left out together)</h3>")
    strength = np.abs(by_indicator["mean"].to_numpy()).max(axis=1) if by_indicator.sizes["indicator"] else []
    order = np.argsort(-np.asarray(strength), kind="stable")[:12]
    rows = []
    for k in order:
        item = by_indicator.isel(indicator=int(k))
        rows.append(
            [str(item["label"].item()), int(item["n_reports"].item())]
            + [_db(float(item["mean"].sel(scenario=sid))) for sid in model.scenario_ids]
        )
    add(
        _table(
            ["Indicator", "Reports", *[f"{names[s]} (dB)" for s in model.scenario_ids]],
            rows,
            [False, True] + [True] * len(model.scenario_ids),
        )
    )

    if by_report.sizes.get("report", 0):  # absent when per-report contributions were refused
        add("<h3>Strongest reports (each left out alone)</h3>")
        strength = np.abs(by_report["mean"].to_numpy()).max(axis=1)
        rows = []
        for k in np.argsort(-strength, kind="stable")[:12]:
            item = by_report.isel(report=int(k))
            url = str(item["url"].item()) if "url" in item.coords else ""
            published = str(item["published"].item()) if "published" in item.coords else ""
            date = str(item["date"].item())
            rows.append(
                [
                    _Raw(f'<span class="date">{_e(date)}</span>'),
                    "" if published in ("", date) else published,
                    str(item["indicator"].item()),
                    _value(model, str(item["indicator"].item()), str(item["value"].item())),
                    str(item["grade"].item()),
                    str(item["source"].item()) if "source" in item.coords else "",
                    str(item["report_id"].item()) if "report_id" in item.coords else "",
                    str(item["coder"].item()) if "coder" in item.coords else "",
                    # url is validated as http(s) at load; escaped like any text.
                    _Raw(f'<a href="{_e(url)}" rel="noopener noreferrer">link</a>') if url else "",
                ]
                + [_db(float(item["mean"].sel(scenario=sid))) for sid in model.scenario_ids]
            )
        add(
            _table(
                ["Date", "Published", "Indicator", "Value", "Grade", "Source", "Report", "Coder", "Link"]
                + [f"{names[s]} (dB)" for s in model.scenario_ids],
                rows,
                [False] * 9 + [True] * len(model.scenario_ids),
            )
        )

    if source_table is not None and source_table.attrs.get("omitted"):
        add("<h3>By source</h3>")
        add(f'<p class="note">{_e(source_table.attrs["omitted"])}</p>')
    if source_table is not None and len(source_table):
        add("<h3>By source</h3>")
        add(
            '<p class="note">Reliability: the source\'s own reliability, from its letter grade (before) and '
            "learnt from all its reports (after, with its interval; exact mode keeps the letter\'s value). "
            "Read the truth: how likely its graded reports read the truth given all the evidence, against "
            "their grades. A source far below its grades keeps contradicting the rest. dB: its reports "
            "left out together.</p>"
        )
        rows = []
        for name, row in source_table.head(12).iterrows():
            graded = not np.isnan(row["truthful"])
            lettered = not np.isnan(row["posterior_reliability"])
            learnt = (
                f"{_pct(row['posterior_reliability'])} "
                f"({_pct(row['reliability_low'])}-{_pct(row['reliability_high'])})"
                if lettered
                else ""
            )
            rows.append(
                [
                    str(name),
                    int(row["n_rows"]),
                    str(row["grades"]) or "ungraded",
                    _pct(row["prior_reliability"]) if lettered else ("" if graded else "face value"),
                    learnt,
                    f"{_pct(row['truthful'])} vs {_pct(row['prior_truthful'])}" if graded else "",
                ]
                + [_db(float(row[f"db_{sid}"])) for sid in model.scenario_ids]
            )
        add(
            _table(
                ["Source", "Rows", "Grades", "Reliability (letter)", "Reliability (learnt)", "Read the truth"]
                + [f"{names[s]} (dB)" for s in model.scenario_ids],
                rows,
                [False, True, False, True, True, True] + [True] * len(model.scenario_ids),
            )
        )

    # ---- collection
    add("<h2>What to collect next</h2>")
    entropy = collection.attrs.get("entropy_bits", float("nan"))
    add(
        f'<p class="note">Expected reduction of the uncertainty (entropy, {entropy:.3f} bits now) about '
        "the horizon scenario from one exact report of the indicator in "
        f"{_e(collection.attrs.get('next_period', ''))}: "
        "the mutual information, computed for each posterior draw and averaged. Ranked, largest first.</p>"
    )
    rows = []
    for _, row in collection.head(12).iterrows():
        rows.append(
            [
                int(row["rank"]),
                str(row["label"]),
                str(row["group"]),
                f"{1000 * row['gain_bits']:.3g}",
                f"{100 * row['share']:.2g}%",
                str(row["text"]),
            ]
        )
    add(
        _table(
            ["#", "Indicator", "Group", "Gain (millibits)", "Share", "Question"],
            rows,
            [True, False, False, True, True, False],
        )
    )
    add(images["collection"])

    # ---- linchpins
    add("<h2>Linchpin elicitations</h2>")
    leading = sensitivity.attrs.get("leading_name", "")
    add(
        f'<p class="note">Each elicited likelihood is moved one ICD 203 band down and up, alone, and the '
        f"horizon probability of the leading scenario ({_e(leading)}) recomputed. Rule: "
        f"{_e(sensitivity.attrs.get('rule', ''))}.</p>"
    )
    rows = []
    for _, row in sensitivity[sensitivity["swing"] > 0].head(5).iterrows():
        rows.append(
            [
                str(row["label"]),
                str(row["scenario_name"]),
                str(row["elicited"]),
                _Raw(f"{_e(row['down'])} &rarr; {_pct(row['p_down'])}"),
                _Raw(f"{_e(row['up'])} &rarr; {_pct(row['p_up'])}"),
                f"{100 * row['swing']:.1f} pp",
            ]
        )
    add(
        _table(
            ["Indicator", "Under scenario", "Elicited", "One band lower", "One band higher", "Swing"],
            rows,
            [False, False, False, False, False, True],
        )
    )
    add(images["sensitivity"])

    # ---- several analysts
    if agenda is not None:
        _analysts_section(add, forecast, agenda, prob)

    # ---- diagnosticity
    add("<h2>Diagnosticity (ACH matrix)</h2>")
    add(images["diagnosticity"])

    # ---- diagnostics
    add("<h2>Diagnostics</h2>")
    diag = forecast.diagnostics
    rows = [["Mode", forecast.mode], ["Posterior draws", str(forecast.n_draws)]]
    if forecast.mode != "exact":
        rows.append(["Divergent transitions", str(int(diag.attrs.get("divergences", 0)))])
        for name in ("horizon", "filtered", "smoothed"):
            if f"{name}_rhat" in diag:
                rhat = float(diag[f"{name}_rhat"].max(skipna=True).fillna(1.0))
                ess = float(diag[f"{name}_ess_bulk"].min(skipna=True).fillna(np.inf))
                rows.append([f"{name}: max R-hat / min ESS (bulk)", f"{rhat:.3f} / {ess:.0f}"])
        state = '<span class="ok">yes</span>' if forecast.converged else '<span class="bad">NO</span>'
        rows.append(["Converged (R-hat <= 1.01, ESS >= 400, no divergences)", _Raw(state)])
        if "update_path" in forecast.attrs:
            update = f"{forecast.update_path}: {forecast.attrs['update_reason']}"
            rows.append(["Update from the previous forecast", update])
    else:
        rows.append(["Converged", "not applicable (exact computation)"])
    add(_table(["Check", "Value"], rows))

    # ---- provenance
    add("<h2>Provenance</h2>")
    versions = {k.removeprefix("version_"): v for k, v in attrs.items() if k.startswith("version_")}
    rows = [
        ["Model", f"{model.id} ({attrs.get('model_path') or 'no path'})"],
        ["Model file sha256", _Raw(f"<code>{_e(attrs.get('model_sha256', model.sha256))}</code>")],
        ["Evidence", str(attrs.get("evidence_source", forecast.evidence.source))],
        [
            "Evidence sha256",
            _Raw(f"<code>{_e(attrs.get('evidence_sha256', forecast.evidence.sha256))}</code>"),
        ],
        ["As of", forecast.as_of.isoformat()],
        ["Horizon", model.horizon.isoformat()],
        ["Seed", str(attrs.get("sampler_seed", ""))],
        [
            "Sampler",
            ", ".join(
                f"{k} {attrs[f'sampler_{k}']}"
                for k in ("draws", "tune", "chains", "target_accept")
                if f"sampler_{k}" in attrs
            ),
        ],
        ["Forecast made", str(attrs.get("created", ""))],
        [
            "Versions",
            ", ".join(f"{k} {v}" for k, v in versions.items())
            or f"syriaforecast {_version('syriaforecast')}",
        ],
        [
            "Report",
            f"made {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} "
            f"with matplotlib {_version('matplotlib')}; "
            + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        ],
    ]
    add(_table(["Item", "Value"], rows))
    add(
        '<p class="note">Reopen the saved forecast (forecast.nc) with '
        "<code>syriaforecast.load_forecast</code>; "
        "it carries the model file and evidence themselves and checks them against these hashes.</p>"
    )

    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(model.title)}: forecast as of {_e(forecast.as_of.isoformat())}</title>"
        f"<style>{_CSS}</style></head><body><main>\n{body}\n</main></body></html>\n"
    )


def _analysts_section(
    add: Callable[[str], Any], forecast: Forecast, agenda: list[dict[str, Any]], prob: float
) -> None:
    """Where the analysts disagree (exact-mode swing) and what the model learnt of each."""
    add("<h2>Analysts</h2>")
    add(
        '<p class="note">Disagreements worth a meeting: for each indicator, the analyst whose own table, '
        "used for that indicator alone instead of the consensus, moves a horizon probability most "
        "(computed in exact mode on this evidence). Spread: standard deviation of the analysts' "
        "elicited logits, averaged over scenarios.</p>"
    )
    rows = [
        [
            row["label"],
            row["analyst"],
            f"{100 * row['change']:+.1f} pp",
            row["scenario_name"],
            f"{row['spread']:.2f}",
            str(row["reports"]),
        ]
        for row in agenda
    ]
    add(
        _table(
            ["Indicator", "Analyst", "Moves", "Scenario", "Spread (logit)", "Reports"],
            rows,
            [False, False, True, False, True, True],
        )
    )
    learnt = analyst_summary(forecast, prob=prob)
    if not learnt:
        add('<p class="note">Exact mode: the consensus is taken as exact, so no analyst is weighed.</p>')
        return
    rows = []
    for row in learnt:
        cells = [row["analyst"]]
        for key, fmt in (("bias", "{:+.2f}"), ("noise", "{:.2f}")):
            mean, low, high = (fmt.format(row[f"{key}_{stat}"]) for stat in ("mean", "hdi_low", "hdi_high"))
            cells.append(f"{mean} ({low} to {high})")
        rows.append(cells)
    add(
        f'<p class="note">What the model learnt of each analyst (posterior mean and {int(100 * prob)}% HDI, '
        "logit units): bias &gt; 0 rates indicators likelier than the pooled truth; own noise is how "
        "far the analyst's tables typically stray.</p>"
    )
    add(_table(["Analyst", "Bias", "Own noise"], rows, [False, True, True]))


def _tripwires_section(add: Callable[[str], Any], forecast: Forecast, names: dict[str, str]) -> None:
    """The model's tripwires, the crossed ones first and flagged."""
    wires = forecast.model.tripwires
    if not wires:
        return
    alerts = {a["tripwire"]: a for a in forecast.alerts()}
    add("<h2>Tripwires</h2>")
    if alerts:
        add(f'<p class="warn">{len(alerts)} of {len(wires)} tripwires crossed: {_e(", ".join(alerts))}.</p>')
    rows = []
    for wire in sorted(wires, key=lambda w: w.id not in alerts):
        alert = alerts.get(wire.id)
        if wire.kind == "probability":
            probability = float(forecast.mean("horizon").sel(scenario=wire.scenario))
            now = _pct(probability)
            watch = f"P({names[str(wire.scenario)]}) {'above' if wire.above is not None else 'below'} "
            watch += _pct(wire.threshold)
        else:
            now = (
                f"{alert['reports']} report(s), {alert['first_seen']} to {alert['last_seen']}"
                if alert
                else "not seen"
            )
            watch = f"{wire.indicator} = {wire.value}"
        state = _Raw('<span class="bad">CROSSED</span>' if alert else '<span class="ok">not crossed</span>')
        rows.append([wire.id, watch, now, state, wire.text])
    add(_table(["Tripwire", "Line", "Now", "State", "Note"], rows, [False, False, True, False, False]))


def _mind_section(
    add: Callable[[str], Any], forecast: Forecast, mind: pd.DataFrame, names: dict[str, str]
) -> None:
    """The fewest plausible next-period reports that would change the lead or trip a wire."""
    add("<h2>What would change my mind</h2>")
    leader = mind.attrs.get("leader", "")
    if mind.attrs.get("next_period") is None:
        add('<p class="note">No period is left before the horizon: no further report can change it.</p>')
        return
    add(
        f'<p class="note">The smallest set of face-value reports in {_e(mind.attrs["next_period"])} '
        f"that would make a scenario other than {_e(names.get(leader, leader))} lead at the horizon, or "
        "cross a tripwire not yet crossed: plausible readings (predictive probability at least "
        f"{mind.attrs['min_probability']:.0%}) of the top {mind.attrs['candidates']} collection "
        "priorities; of the sets of the smallest size that succeed, the likeliest.</p>"
    )
    rows = []
    for target, row in mind.iterrows():
        reports = "; ".join(
            f"{ident} = {_value(forecast.model, ident, value)}" for ident, value in row["reports"]
        )
        rows.append(
            [
                "lead" if target == "lead" else f"tripwire {target}",
                reports,
                _pct(float(row["probability"])),
                names.get(str(row["leader"]), str(row["leader"])),
                ", ".join(f"{names[s]} {_pct(float(row[s]))}" for s in forecast.model.scenario_ids),
            ]
        )
    if rows:
        add(
            _table(
                ["Target", "Reports", "Chance of seeing them", "Leader after", "Horizon after"],
                rows,
                [False, False, True, False, False],
            )
        )
    for target, why in mind.attrs.get("unreached", {}).items():
        add(f'<p class="note">{_e("lead" if target == "lead" else "tripwire " + target)}: {_e(why)}.</p>')
