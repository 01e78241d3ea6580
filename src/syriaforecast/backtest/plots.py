"""Plots of a backtest: reliability (CORP), scores by lead time, and each case's forecast path.

Every function takes a :func:`~syriaforecast.backtest.backtest` result first and
returns a :class:`matplotlib.figure.Figure` (built without pyplot, so nothing is
shown or kept open; save it with ``fig.savefig(path)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from syriaforecast._render import plain_text
from syriaforecast.backtest.replay import reliability, scores_by_lead

__all__ = ["plot_outcome_probability", "plot_reliability", "plot_scores_by_lead", "plot_track_record"]

_MODEL = "#1f5fa8"
_BAND = "#9ecae1"
_PRIOR = "#d95f02"
_UNIFORM = "#7f7f7f"


def _period_word(result: xr.Dataset) -> str:
    period = str(result.attrs.get("period", "period"))
    return "periods" if period == "mixed" else f"{period}s"


@plain_text
def plot_reliability(
    result: xr.Dataset,
    *,
    leads: Sequence[int] | None = None,
    pooled: bool | None = None,
    n_boot: int = 200,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = 0,
) -> Figure:
    """Reliability diagram with CORP recalibration and consistency bands, one panel per scenario.

    Parameters
    ----------
    result : xarray.Dataset
        A backtest result (or the output of
        :func:`~syriaforecast.backtest.replay.reliability`).
    leads : sequence of int, optional
        Only forecasts at these lead times.
    pooled : bool, optional
        One panel for all scenarios' probabilities (default when the cases'
        scenarios differ).
    n_boot : int
        Replicates of the consistency bands (0: no bands).
    ci : float
        Coverage of the bands.
    rng : int or numpy.random.Generator, optional
        Seed of the bands.

    Returns
    -------
    matplotlib.figure.Figure
        Top row: forecast probability (x) against the isotonic (PAV)
        recalibrated frequency of the outcome (y), with the diagonal of perfect
        calibration and the band within which a calibrated forecaster's
        recalibration curve would fall; the panel's text gives the CORP score
        decomposition (MCB miscalibration, DSC discrimination, UNC
        uncertainty; Brier = MCB - DSC + UNC). Bottom row: how many forecasts
        fall at each probability.
    """
    data = (
        result
        if "recalibrated" in result
        else reliability(result, leads=leads, pooled=pooled, n_boot=n_boot, ci=ci, rng=rng)
    )
    scenarios = [str(s) for s in data["scenario"].values]
    n_panels = len(scenarios)
    fig = Figure(figsize=(3.6 * n_panels + 0.6, 4.6), layout="constrained")
    grid = fig.add_gridspec(2, n_panels, height_ratios=[4, 1])
    has_band = "consistency_low" in data
    for j, sid in enumerate(scenarios):
        ax = fig.add_subplot(grid[0, j])
        hist = fig.add_subplot(grid[1, j], sharex=ax)
        panel = data.sel(scenario=sid)
        x = panel["forecast"].values
        ax.plot([0, 1], [0, 1], ls="--", color=_UNIFORM, lw=1, label="perfect calibration")
        if has_band:
            ax.fill_between(
                x,
                panel["consistency_low"].values,
                panel["consistency_high"].values,
                color=_BAND,
                alpha=0.6,
                step="post",
                lw=0,
                label=f"{data.attrs.get('ci', ci):.0%} consistency band",
            )
        ax.plot(
            x,
            panel["recalibrated"].values,
            drawstyle="steps-post",
            color=_MODEL,
            lw=2,
            label="CORP recalibrated",
        )
        ax.plot(x, panel["recalibrated"].values, "o", color=_MODEL, ms=3)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("all scenarios (pooled)" if sid == "all scenarios" else f"scenario: {sid}")
        ax.set_ylabel("observed frequency (recalibrated)" if j == 0 else "")
        ax.grid(alpha=0.3)
        ax.text(
            0.03,
            0.97,
            f"MCB {float(panel['mcb']):.3f}\nDSC {float(panel['dsc']):.3f}\nUNC {float(panel['unc']):.3f}\n"
            f"n = {x.size}",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            family="monospace",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
        if j == 0:
            ax.legend(loc="lower right", fontsize=7)
        hist.hist(x, bins=np.linspace(0, 1, 21).tolist(), color=_MODEL, alpha=0.7)
        hist.set_xlabel("forecast probability")
        hist.set_ylabel("forecasts" if j == 0 else "")
        hist.grid(alpha=0.3)
        ax.tick_params(labelbottom=False)
    fig.supxlabel(
        "CORP score decomposition per scenario (one against the rest): MCB miscalibration, "
        "DSC discrimination, UNC uncertainty; Brier = MCB - DSC + UNC",
        fontsize=8,
    )
    n = data.attrs.get("n_forecasts", data.sizes["point"])
    fig.suptitle(
        f"Reliability of backtest forecasts (CORP; {n} forecasts; leads: {data.attrs.get('leads', 'all')})",
        fontsize=11,
    )
    return fig


@plain_text
def plot_scores_by_lead(
    result: xr.Dataset,
    *,
    n_boot: int = 1000,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = 0,
) -> Figure:
    """Mean Brier and log scores by lead time, against the prior-only and uniform forecasts.

    Parameters
    ----------
    result : xarray.Dataset
        A backtest result.
    n_boot, ci, rng
        Case-bootstrap settings of the intervals (see
        :func:`~syriaforecast.backtest.replay.scores_by_lead`).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (Brier score, log score; lower is better) with lead time on
        the x axis, the model's mean score with its bootstrap interval, and the
        scores of the forecast from the priors alone and of the uniform forecast.
    """
    table = scores_by_lead(result, n_boot=n_boot, ci=ci, rng=rng)
    leads = table["lead"].values
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    titles = {"brier": "Brier score (0 best, 2 worst)", "log_score": "log score (nats; 0 best)"}
    for ax, name in zip(axes, ("brier", "log_score"), strict=True):
        low, high = table[f"{name}_low"].values, table[f"{name}_high"].values
        if np.isfinite(low).any():
            ax.fill_between(
                leads, low, high, color=_BAND, alpha=0.6, lw=0, label=f"{ci:.0%} case-bootstrap interval"
            )
        ax.plot(leads, table[name].values, "o-", color=_MODEL, lw=2, label="backtest forecasts")
        ax.plot(
            leads,
            table[f"prior_{name}"].values,
            "--",
            color=_PRIOR,
            lw=1.5,
            label="priors only (no evidence)",
        )
        ax.plot(leads, table[f"uniform_{name}"].values, ":", color=_UNIFORM, lw=1.5, label="uniform")
        ax.set_xlabel(f"lead time ({_period_word(result)} before the horizon)")
        ax.set_ylabel(titles[name])
        ax.set_title(titles[name].split(" (")[0] + " by lead time")
        ax.grid(alpha=0.3)
        ax.set_xticks(leads if leads.size <= 16 else leads[:: max(1, leads.size // 12)])
        ax.set_ylim(bottom=0)
    counts = table["n"].values
    axes[0].legend(fontsize=8, loc="best")
    span = (
        f"{int(counts.min())}" if counts.min() == counts.max() else f"{int(counts.min())}-{int(counts.max())}"
    )
    fig.suptitle(
        f"Backtest scores by lead time ({result.attrs.get('method', '')} mode; {result.sizes['case']} cases, "
        f"{span} forecasts per lead)",
        fontsize=11,
    )
    return fig


@plain_text
def plot_outcome_probability(result: xr.Dataset, *, max_cases: int = 12) -> Figure:
    """Probability each case's forecast gave to the outcome that happened, cutoff by cutoff.

    Parameters
    ----------
    result : xarray.Dataset
        A backtest result.
    max_cases : int
        Plot at most this many cases (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
        Lead time on the x axis (reversed, so time runs left to right), the
        probability of the outcome on the y axis, one line per case; filled
        markers where the model was (re)fitted, open ones where the previous
        fit's draws were reweighted (PSIS), squares for a case replayed in
        exact mode (computed, no sampling).
    """
    fig = Figure(figsize=(8, 4.6), layout="constrained")
    ax = fig.add_subplot()
    colors: Any = [f"C{i % 10}" for i in range(result.sizes["case"])]
    shown = slice(0, max_cases)
    if "exact" in result:
        exact = result["exact"].values.astype(bool)
    else:  # a result saved before the per-case flag
        exact = np.full(result.sizes["case"], result.attrs.get("method") == "exact")
    for n, case in enumerate(result["case"].values[:max_cases]):
        lead = result["lead"].values[n]
        valid = np.isfinite(lead)
        order = np.argsort(-lead[valid])
        outcome = int(result["outcome_index"].values[n])
        p = result["forecast"].values[n, :, outcome][valid][order]
        x = lead[valid][order]
        fitted = result["fitted"].values[n][valid][order]
        label = f"{case} (outcome: {result['outcome'].values[n]})"
        ax.plot(x, p, "-", color=colors[n], lw=1.5, label=label)
        if exact[n]:
            ax.plot(x, p, "s", color=colors[n], ms=5)
            continue
        ax.plot(x[fitted], p[fitted], "o", color=colors[n], ms=6)
        ax.plot(x[~fitted], p[~fitted], "o", mfc="white", color=colors[n], ms=5)
    ax.invert_xaxis()
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"lead time ({_period_word(result)} before the horizon)")
    ax.set_ylabel("probability given to the outcome")
    ax.grid(alpha=0.3)
    if not exact[shown].all():
        ax.plot([], [], "o", color="black", ms=6, label="model fitted here")
        ax.plot([], [], "o", mfc="white", color="black", ms=5, label="previous fit reweighted (PSIS)")
    if exact[shown].any():
        ax.plot([], [], "s", color="black", ms=5, label="computed exactly (no sampling)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(
        f"Forecast of each case's outcome as evidence accrues ({result.attrs.get('method', '')} mode)"
    )
    return fig


def plot_track_record(record: Any, *, title: str | None = None) -> Figure:
    """Reliability diagram of the team's issued forecasts, pooled over questions and scenarios.

    Parameters
    ----------
    record : TeamRecord
        From :func:`~syriaforecast.backtest.resolution.team_track_record`.
    title : str, optional
        Figure title (default: the questions, forecasts and mean scores).

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`plot_reliability`, pooled over every scenario of every question.
    """
    fig = plot_reliability(record.reliability)
    n = len(record.questions)
    fig.suptitle(
        title
        or (
            f"Team track record: {int(record.questions['forecasts'].sum())} issued forecasts on {n} "
            f"resolved question{'s' * (n != 1)}; mean time-averaged Brier {record.brier:.3f}, "
            f"log score {record.log_score:.3f}"
        ),
        fontsize=10,
    )
    return fig
