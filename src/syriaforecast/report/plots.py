"""Briefing pictures: fan chart, evidence contributions, diagnosticity, collection, sensitivity.

Every function takes the forecast first and keyword-only options, draws with
matplotlib's object API (no pyplot state, so nothing leaks between calls) in a
style close to arviz-plots' ``arviz-variat`` (no top/right spines, constrained
layout), and returns the :class:`matplotlib.figure.Figure`. Scenario colours are
the Okabe-Ito palette, which stays distinct under the common colour-vision
deficiencies. The analysis functions' tables can be passed in to avoid
computing them twice.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from syriaforecast._render import plain_text_figures
from syriaforecast.engine.evaluate import chain_posterior
from syriaforecast.errors import SyriaforecastError
from syriaforecast.report.collection import collection_priorities, diagnosticity
from syriaforecast.report.influence import (
    evidence_contributions,
    indicator_label,
    informativeness,
    prepare,
)
from syriaforecast.report.sensitivity import elicitation_sensitivity

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = [
    "PALETTE",
    "plot_collection",
    "plot_contributions",
    "plot_diagnosticity",
    "plot_fan_chart",
    "plot_sensitivity",
    "scenario_colors",
]

#: Okabe-Ito colour-blind-safe palette (black last).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "0.33",
    "axes.linewidth": 0.8,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "grid.color": "0.88",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
}
_GRADE_CLASSES = (
    ("ungraded (read as exact)", "#000000"),
    ("graded, P(reads the truth) >= 0.75", "#0072B2"),
    ("graded, 0.45 to 0.75", "#56B4E9"),
    ("graded, below 0.45", "#CC79A7"),
)


@contextmanager
def _style() -> Iterator[None]:
    # Names and titles are user text: mathtext off, so `$` is a dollar sign.
    with mpl.rc_context(cast(Any, _STYLE)), plain_text_figures():
        yield


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def scenario_colors(forecast: Forecast) -> dict[str, str]:
    """Colour of each scenario id, in model order (the same in every plot)."""
    return {sid: PALETTE[k % len(PALETTE)] for k, sid in enumerate(forecast.model.scenario_ids)}


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _compact(text: str) -> str:
    """Shorten a probability vector as written ("[0.45, 0.25]" -> "[.45 .25]")."""
    if text.startswith("["):
        return "[" + " ".join(v.strip().lstrip("0") or "0" for v in text[1:-1].split(",")) + "]"
    return text


def _grade_class(reliability: str, credibility: int) -> int:
    if not reliability and not credibility:
        return 0
    kappa = informativeness(reliability, credibility)
    return 1 if kappa >= 0.75 else (2 if kappa >= 0.45 else 3)


def _period_end(model: Any, period: int) -> dt.date:
    return (model.first_period + period).end_time.date()


def _central(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval of mass ``prob`` over the first axis of (D, ...) samples."""
    tail = (1.0 - prob) / 2.0
    return np.quantile(values, tail, axis=0), np.quantile(values, 1.0 - tail, axis=0)


# --------------------------------------------------------------------------- fan chart
def plot_fan_chart(
    forecast: Forecast,
    *,
    ax: Axes | None = None,
    probs: tuple[float, float] = (0.5, 0.9),
    project: bool = True,
    max_draws: int | None = None,
) -> Figure:
    """Fan chart of each scenario's as-of probability over time, with evidence markers.

    Solid lines are the filtered posterior median, P(scenario in period t |
    reports dated up to t, and for the as-of period up to the as-of date),
    plotted at the end of the period it is about, with shaded central intervals
    of mass ``probs`` (none in exact mode). The median and central intervals go
    together: the median always lies inside the inner band, where a skewed or two-humped posterior's mean need
    not lie inside its highest-density band. The headline's mean is marked at
    the horizon with a diamond. When ``project`` is true, dashed lines carry the forecast from the
    as-of date to the horizon (no further evidence). By default each scenario
    gets its own panel (overlapping bands are unreadable) and a strip below
    shows one tick per report at its date, by grade.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    ax : matplotlib Axes, optional
        Draw every scenario on these axes instead (reports as a rug along the bottom).
    probs : (float, float)
        Masses of the inner and outer bands.
    project : bool
        Draw the projection from the as-of date to the horizon.
    max_draws : int or None
        Draws used for the projection (default: all, so that it ends at the headline).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if len(probs) != 2 or not all(0 < p < 1 for p in probs):
        raise SyriaforecastError(f"probs = {probs!r}: expected two interval masses between 0 and 1")
    model = forecast.model
    colors = scenario_colors(forecast)
    filtered = forecast.filtered
    n = filtered.sizes["time"]
    # Dates as Matplotlib date numbers: the axes get date locators and formatters below.
    # Every point sits at the end of the period it is about, the as-of period's too
    # (it uses the reports up to the as-of date): squeezing that period's step into the
    # days before the as-of date drew a jump at the as-of line.
    x_hist = mdates.date2num([_period_end(model, t) for t in range(n)])
    samples = filtered.stack(sample=("chain", "draw")).transpose("sample", "time", "scenario").to_numpy()
    outer_first = sorted(probs, reverse=True)
    # One draw (exact mode) has no interval to shade.
    bands = [_central(samples, p) for p in outer_first] if samples.shape[0] > 1 else []
    centre = np.median(samples, axis=0)

    projection = None
    H = model.horizon_index
    if project and n - 1 < H:
        setup = prepare(forecast, max_draws=max_draws)
        ahead = chain_posterior(setup.terms).filtered[:, n - 1 :]  # (D, H - n + 2, S)
        x_proj = np.concatenate(
            [x_hist[-1:], mdates.date2num([_period_end(model, t) for t in range(n, H + 1)])]
        )
        ahead_bands = [_central(ahead, p) for p in outer_first] if ahead.shape[0] > 1 else []
        projection = (x_proj, np.median(ahead, axis=0), ahead_bands)

    table = forecast.evidence.to_dataframe()
    grade = np.array(
        [_grade_class(r, c) for r, c in zip(table["reliability"], table["credibility"], strict=True)],
        dtype=int,
    )
    dates = mdates.date2num(list(table["date"])) if len(table) else np.zeros(0)
    summary = forecast.summary(prob=max(probs))
    S = len(model.scenarios)
    inner, outer = sorted(probs)

    def draw(target: Axes, s: int, *, label: str | None) -> None:
        color = colors[model.scenario_ids[s]]
        for k, (low, high) in enumerate(bands):
            target.fill_between(x_hist, low[:, s], high[:, s], color=color, alpha=0.18 + 0.2 * k, lw=0)
        target.plot(x_hist, centre[:, s], color=color, lw=2.2, marker="o", ms=3.5, label=label)
        if projection is not None:
            x_proj, p_centre, p_bands = projection
            for k, (low, high) in enumerate(p_bands):
                target.fill_between(x_proj, low[:, s], high[:, s], color=color, alpha=0.1 + 0.12 * k, lw=0)
            target.plot(x_proj, p_centre[:, s], color=color, lw=1.8, ls="--")
            if bands:  # the headline is the mean: mark it where the projection ends
                target.plot(
                    x_proj[-1:], [float(summary["mean"].iloc[s])], marker="D", ms=6, color=color, mec="white"
                )

    def frame(target: Axes, *, annotate: bool, inside: bool = False) -> None:
        target.set_ylim(0, 1)
        target.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
        target.yaxis.set_major_locator(mpl.ticker.MultipleLocator(0.25 if ax is None else 0.2))
        target.grid(axis="y")
        marks = [(forecast.as_of, f"as of {forecast.as_of.isoformat()}")]
        if projection is not None:
            marks.append((model.horizon, f"horizon {model.horizon.isoformat()}"))
        for when, text in marks:
            target.axvline(float(mdates.date2num(when)), color="0.3", lw=1, ls=":")
            if annotate:
                target.annotate(
                    text,
                    (mdates.date2num(when), 1.0),
                    xytext=(-3, -3) if inside else (0, 3),
                    textcoords="offset points",
                    ha="right" if inside else "center",
                    va="top" if inside else "bottom",
                    fontsize=9,
                    color="0.3",
                    annotation_clip=False,
                )

    band_note = (
        f"line: median; bands: central {inner:.0%} and {outer:.0%} intervals"
        + ("; diamond: the headline mean" if projection is not None else "")
        if bands
        else "exact mode, no bands"
    )
    what = "As-of probability of each scenario" + (
        f" ({band_note}; dashed: projection to the horizon)" if projection is not None else f" ({band_note})"
    )
    with _style():
        if ax is not None:
            fig = cast(Figure, ax.get_figure(root=True))
            for s in range(S):
                p_h = float(summary["mean"].iloc[s])
                draw(ax, s, label=f"{model.scenarios[s].name}: {p_h:.0%} at the horizon")
            frame(ax, annotate=True, inside=True)
            ax.set_ylabel("Probability")
            handles, labels = ax.get_legend_handles_labels()
            for k, (label, color) in enumerate(_GRADE_CLASSES):
                chosen = dates[grade == k]
                ax.vlines(chosen, 0, 0.025, color=color, lw=1.0, transform=ax.get_xaxis_transform())
                handles.append(Line2D([], [], color=color, lw=1.5))
                labels.append(f"report: {label}")
            ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8)
            ax.set_title(what, fontsize=10, fontweight="normal", loc="left")
            axis = ax
        else:
            fig = _figure(10, 1.2 + 2.1 * S + 1.5)
            axes = fig.subplots(S + 1, 1, sharex=True, height_ratios=[3] * S + [1.6])
            for s in range(S):
                draw(axes[s], s, label=None)
                frame(axes[s], annotate=s == 0)
                row = summary.iloc[s]
                interval = (
                    f" ({outer:.0%} HDI {row['hdi_low']:.0%} to {row['hdi_high']:.0%})" if bands else ""
                )
                axes[s].set_title(
                    f"{model.scenarios[s].name}: {row['mean']:.0%} at the horizon{interval}",
                    loc="left",
                    fontsize=11,
                    color=colors[model.scenario_ids[s]],
                    pad=14 if s == 0 else 4,
                )
            strip = axes[-1]
            for k, (_, color) in enumerate(_GRADE_CLASSES):
                chosen = dates[grade == k]
                strip.vlines(chosen, k + 0.6, k + 1.4, color=color, lw=1.2)
            strip.set_ylim(0.3, len(_GRADE_CLASSES) + 0.7)
            strip.set_yticks(range(1, len(_GRADE_CLASSES) + 1))
            strip.set_yticklabels(["ungraded", "high grade", "medium", "low"], fontsize=9)
            strip.invert_yaxis()
            strip.set_title(
                f"Reports used ({len(table)}), by grade: P(a report reads the truth) "
                ">= 0.75 high, 0.45 to 0.75 medium, below 0.45 low",
                loc="left",
                fontsize=9,
                fontweight="normal",
            )
            strip.spines["left"].set_visible(False)
            strip.tick_params(axis="y", length=0)
            strip.grid(axis="x")
            fig.supylabel("Probability (as of each period)", fontsize=11)
            axis = strip
            fig.suptitle(f"{_wrap(model.title, 80)}\n{_wrap(what, 100)}", x=0.02, ha="left", fontsize=12)
        locator = mdates.AutoDateLocator(minticks=5, maxticks=12)
        axis.xaxis.set_major_locator(locator)
        axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    return fig


# --------------------------------------------------------------------------- contributions
def _report_label(contributions: xr.Dataset, key: Any, model: Any) -> str:
    row = contributions.sel(report=key)
    ident = str(row["indicator"].item())
    value = str(row["value"].item())
    if model.indicator(ident).type == "binary":
        value = "seen" if value == "1" else "not seen"
    else:
        value = f"= {value}"
    return f"{row['date'].item()}  {indicator_label(model, ident)} {value} ({row['grade'].item()})"


def plot_contributions(
    forecast: Forecast,
    *,
    contributions: xr.Dataset | None = None,
    by: str = "report",
    top: int = 12,
    target: str = "horizon",
    max_draws: int | None = 200,
) -> Figure:
    """What moved the forecast: the largest contributions, one panel per scenario.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    contributions : xarray.Dataset, optional
        The result of :func:`~syriaforecast.report.influence.evidence_contributions`
        (computed here when not given, with ``by``, ``target`` and ``max_draws``).
    by : {"report", "indicator", "group"}
        What to leave out when computing.
    top : int
        How many items to show: those with the largest absolute mean in any scenario.
    target, max_draws
        Passed to :func:`evidence_contributions`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if contributions is None:
        contributions = evidence_contributions(forecast, by=by, target=target, max_draws=max_draws)
    by = str(contributions.attrs.get("by", by))
    model = forecast.model
    colors = scenario_colors(forecast)
    mean = contributions["mean"].transpose(by, "scenario")
    strength = np.abs(mean.to_numpy()).max(axis=1) if mean.sizes[by] else np.zeros(0)
    order = np.argsort(-strength, kind="stable")[:top]
    keys = [mean[by].values[k] for k in order]
    if by == "report":
        labels = [_report_label(contributions, k, model) for k in keys]
    else:
        labels = [str(contributions["label"].sel({by: k}).item()) for k in keys]
    S = len(model.scenarios)
    n = len(labels)
    with _style():
        fig = _figure(4.2 + 2.6 * S, 1.9 + 0.36 * max(n, 1))
        axes = np.atleast_1d(fig.subplots(1, S, sharey=True, sharex=True))
        y = np.arange(n)
        for s, sid in enumerate(model.scenario_ids):
            ax = axes[s]
            cells = [contributions.sel({by: k, "scenario": sid}) for k in keys]
            values = np.array([float(c["mean"]) for c in cells])
            lows = np.array([float(c["hdi_low"]) for c in cells])
            highs = np.array([float(c["hdi_high"]) for c in cells])
            ax.barh(y, values, color=colors[sid], alpha=0.9, height=0.7)
            err = np.array([values - lows, highs - values])
            if np.any(err > 1e-12):
                ax.errorbar(values, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="0.2", lw=1, capsize=2)
            ax.axvline(0, color="0.2", lw=0.8)
            if not n:
                ax.set_xlim(-1.0, 1.0)
                ax.text(0.5, 0.5, "no reports used", transform=ax.transAxes, ha="center", va="center")
            # The total is on another scale (and in the report's table): named, not drawn.
            total = float(contributions["total_mean"].sel(scenario=sid))
            ax.set_title(
                f"{_wrap(model.scenarios[s].name, 28)}\nall evidence together: {total:+.2f} dB",
                fontsize=10,
            )
            ax.grid(axis="x")
            ax.set_xlabel("decibans toward scenario")
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(5, symmetric=True))
        axes[0].set_yticks(y)
        axes[0].set_yticklabels([_wrap(label, 58) for label in labels], fontsize=9)
        axes[0].invert_yaxis()
        target_text = contributions.attrs.get("target", target)
        what = {
            "report": "reports",
            "indicator": "indicators",
            "group": "indicator groups",
            "report_id": "report ids",
            "source": "sources",
        }[by]
        fig.suptitle(
            f"What moved the {'horizon' if target_text == 'horizon' else 'as-of'} forecast: "
            f"largest {what} (left out one at a time)",
            x=0.02,
            ha="left",
        )
        interval = (
            "" if forecast.n_draws == 1 else f"; whiskers: {contributions.attrs.get('prob', 0.9):.0%} HDI"
        )
        fig.supxlabel(
            f"10 dB = odds x10, 3 dB = odds x2; positive = toward the scenario{interval}",
            fontsize=9,
            color="0.3",
        )
    return fig


# --------------------------------------------------------------------------- diagnosticity
def plot_diagnosticity(
    forecast: Forecast,
    *,
    table: xr.Dataset | None = None,
    max_draws: int | None = 200,
    limit: float = 10.0,
) -> Figure:
    """Scenario x indicator diagnosticity heatmap: the ACH matrix in decibans.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    table : xarray.Dataset, optional
        The result of :func:`~syriaforecast.report.collection.diagnosticity`.
    max_draws : int or None
        Draws used when computing the table here.
    limit : float
        Colour scale saturates at +/- this many decibans.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if table is None:
        table = diagnosticity(forecast, max_draws=max_draws)
    model = forecast.model
    values = table["mean"].transpose("indicator", "scenario").to_numpy()
    n_reports = forecast.evidence.to_dataframe()["indicator"].value_counts()
    # Group indicators together, in model order of the groups.
    order = sorted(range(len(model.indicators)), key=lambda k: model.groups.index(model.indicators[k].group))

    def row_label(k: int) -> str:
        count = int(n_reports.get(model.indicators[k].id, 0))
        return (
            f"{indicator_label(model, model.indicators[k].id)} ({table['fires'].values[k]}; "
            f"{count} report{'s' * (count != 1)})"
        )

    rows = [row_label(k) for k in order]
    data = values[order]
    I, S = data.shape
    with _style():
        fig = _figure(5.5 + 1.6 * S, 1.8 + 0.3 * I)
        ax = fig.subplots()
        image = ax.imshow(np.clip(data, -limit, limit), cmap="PuOr_r", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(I):
            for s in range(S):
                v = data[i, s]
                ax.text(
                    s,
                    i,
                    f"{v:+.1f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(v) > 0.6 * limit else "0.1",
                )
        ax.set_xticks(range(S))
        ax.set_xticklabels([_wrap(name, 22) for name in model.scenario_names], fontsize=9)
        ax.xaxis.tick_top()
        ax.set_yticks(range(I))
        ax.set_yticklabels(rows, fontsize=8.5)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        # Separate indicator groups with lines and name them on the right.
        groups = [model.indicators[k].group for k in order]
        start = 0
        for k in range(1, I + 1):
            if k == I or groups[k] != groups[start]:
                if k < I:
                    ax.axhline(k - 0.5, color="white", lw=2.5)
                ax.text(
                    S - 0.45,
                    (start + k - 1) / 2,
                    groups[start],
                    rotation=270,
                    ha="left",
                    va="center",
                    fontsize=8.5,
                    color="0.3",
                )
                start = k
        bar = fig.colorbar(image, ax=ax, shrink=0.5, pad=0.06, extend="both")
        bar.set_label("decibans when the indicator fires\n(+ favours the scenario)", fontsize=9)
        source = "model file (exact)" if forecast.mode == "exact" else "posterior mean over draws"
        ax.set_title(
            f"Diagnosticity: 10 log10 P(fires | scenario) / P(fires | other scenarios); {source}",
            fontsize=9.5,
            fontweight="normal",
            loc="left",
            pad=12,
        )
        fig.suptitle("Which indicators tell the scenarios apart (ACH matrix)", x=0.02, ha="left")
    return fig


# --------------------------------------------------------------------------- collection
def plot_collection(
    forecast: Forecast,
    *,
    table: pd.DataFrame | None = None,
    top: int = 15,
    max_draws: int | None = 200,
) -> Figure:
    """Collection priorities: expected information gain of one report next period, ranked.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    table : pandas.DataFrame, optional
        The result of :func:`~syriaforecast.report.collection.collection_priorities`.
    top : int
        How many indicators to show.
    max_draws : int or None
        Draws used when computing the table here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if table is None:
        table = collection_priorities(forecast, max_draws=max_draws)
    model = forecast.model
    shown = table.head(top)
    largest = float(shown["gain_high"].max()) if len(shown) else 0.0
    scale, unit = (1000.0, "millibits") if largest < 0.1 else (1.0, "bits")
    group_colors = {g: PALETTE[k % len(PALETTE)] for k, g in enumerate(model.groups)}
    n = len(shown)
    with _style():
        fig = _figure(10, 1.9 + 0.38 * max(n, 1))
        ax = fig.subplots()
        y = np.arange(n)
        values = shown["gain_bits"].to_numpy() * scale
        ax.barh(y, values, color=[group_colors[g] for g in shown["group"]], height=0.7)
        err = np.array(
            [values - shown["gain_low"].to_numpy() * scale, shown["gain_high"].to_numpy() * scale - values]
        )
        if np.any(err > 1e-12):
            ax.errorbar(values, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="0.2", lw=1, capsize=2)
        # Shares sit in a column right of the plot, clear of bars and whiskers.
        column = mpl.transforms.blended_transform_factory(ax.transAxes, ax.transData)
        ax.text(1.01, -0.6, "share of\nentropy", transform=column, fontsize=8.5, color="0.3", va="bottom")
        # One number of decimals for the whole column, enough for two significant digits
        # on the smallest share, so that the column reads as one scale.
        positive = [100 * v for v in shown["share"] if v > 0]
        decimals = min(3, max(0, 1 - math.floor(math.log10(min(positive))))) if positive else 1
        for k, share in enumerate(shown["share"]):
            ax.text(1.01, k, f"{100 * share:.{decimals}f}%", transform=column, va="center", fontsize=8.5,
                    color="0.3")
        ax.set_yticks(y)
        ax.set_yticklabels([f"{r}. {label}" for r, label in zip(shown["rank"], shown["label"], strict=True)])
        ax.invert_yaxis()
        whiskers = (
            f"; whiskers: {table.attrs.get('prob', 0.9):.0%} HDI over draws" if np.any(err > 1e-12) else ""
        )
        ax.set_xlabel(
            f"Expected information gain about the horizon scenario ({unit})\n"
            f"mutual information, averaged over posterior draws{whiskers};\n"
            f"the horizon forecast's entropy is {table.attrs.get('entropy_bits', float('nan')):.2f} bits",
            fontsize=10,
        )
        ax.grid(axis="x")
        ax.set_xlim(0, max(1e-12, float(np.max(values + np.clip(err[1], 0, None))) if n else 1) * 1.15)
        used = list(dict.fromkeys(shown["group"]))
        ax.legend(
            [Patch(color=group_colors[g]) for g in used], used, title="group", loc="lower right", fontsize=9
        )
        fig.suptitle(
            f"What to collect next: one exact report in {table.attrs.get('next_period', 'the next period')}",
            x=0.02,
            ha="left",
        )
    return fig


# --------------------------------------------------------------------------- sensitivity
def plot_sensitivity(
    forecast: Forecast,
    *,
    table: pd.DataFrame | None = None,
    n: int = 10,
    steps: int = 1,
    max_draws: int | None = 200,
) -> Figure:
    """Tornado of the elicitations the leading scenario's probability depends on most.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    table : pandas.DataFrame, optional
        The result of :func:`~syriaforecast.report.sensitivity.elicitation_sensitivity`.
    n : int
        How many elicitations to show (largest swing first).
    steps : int
        ICD 203 bands moved, when computing the table here.
    max_draws : int or None
        Draws used when computing the table here.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if table is None:
        table = elicitation_sensitivity(forecast, steps=steps, max_draws=max_draws)
    shown = table.head(n)
    base = float(table["p_base"].iloc[0]) if len(table) else float("nan")
    leading = table.attrs.get("leading_name", "")
    rows = len(shown)
    down_color, up_color = PALETTE[3], PALETTE[0]
    moved = int(table.attrs.get("steps", steps))
    bands = "one ICD 203 band" if moved == 1 else f"{moved} ICD 203 bands"
    types = {ind.id: ind.type for ind in forecast.model.indicators}
    shown_types = {types.get(str(i), "") for i in shown.get("indicator", [])}
    if shown_types & {"ordinal", "count"}:
        # Only a binary elicitation moves by a band; the others move by the same logit distance.
        step = float(table.attrs.get("band_step_logit", 1.26)) * moved
        scaled = [
            *(["ordinal cumulative logits"] if "ordinal" in shown_types else []),
            *(["count rates"] if "count" in shown_types else []),
        ]
        factor = f"; {' and '.join(scaled)} moved by {step:.2f} on the logit / log scale"
        if "count" in shown_types:
            factor += f" (rate x{math.exp(-step):.2f} or x{math.exp(step):.2f})"
    else:
        factor = ""
    with _style():
        fig = _figure(10, 2.2 + 0.62 * max(rows, 1))
        ax = fig.subplots()
        y = np.arange(rows)
        for k, (_, row) in enumerate(shown.iterrows()):
            # Down above, up below: both can fall on one side of the baseline.
            for offset, value, color, text in (
                (-0.19, row["p_down"], down_color, row["down"]),
                (0.19, row["p_up"], up_color, row["up"]),
            ):
                ax.barh(k + offset, value - base, left=base, color=color, height=0.36, alpha=0.9)
                ax.annotate(
                    _compact(text),
                    (value, k + offset),
                    xytext=(4 if value >= base else -4, 0),
                    textcoords="offset points",
                    ha="left" if value >= base else "right",
                    va="center",
                    fontsize=8,
                    color="0.25",
                )
        ax.axvline(base, color="0.15", lw=1)
        ax.set_yticks(y)
        ax.set_yticklabels(
            [
                f"{row['label']} = {_compact(row['elicited'])}\n" + _wrap(f"under {row['scenario_name']}", 48)
                for _, row in shown.iterrows()
            ],
            fontsize=9,
        )
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0, decimals=0))
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(7))
        if rows:
            span = max(float(np.max(np.abs(shown[["p_down", "p_up"]].to_numpy() - base))), 0.005)
            ax.set_xlim(max(0.0, base - 2.0 * span), min(1.0, base + 2.0 * span))
        ax.set_xlabel(f"P({leading}) at the horizon")
        ax.grid(axis="x")
        fig.legend(
            [Patch(color=down_color), Patch(color=up_color), Line2D([], [], color="0.15")],
            [
                f"elicitation {bands} lower",
                f"elicitation {bands} higher",
                f"as forecast: {base:.1%}",
            ],
            loc="outside lower center",
            ncol=3,
            title=f"binary: to the neighbouring ICD 203 band{factor}" if factor else None,
            title_fontsize=8.5,
            fontsize=9,
        )
        fig.suptitle(f"Linchpin elicitations for '{leading}'", x=0.02, ha="left")
        ax.set_title(
            "Each elicited likelihood moved alone; bar ends are labelled with the moved value",
            fontsize=9.5,
            fontweight="normal",
            loc="left",
        )
    return fig
