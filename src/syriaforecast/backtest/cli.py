"""The ``syriaforecast backtest`` command.

``syriaforecast backtest CASES_DIR [--cutoffs ...] [--draws N] [--seed S] [--out DIR] [--json]``
replays every case folder in ``CASES_DIR``; ``syriaforecast backtest --synthetic N [--seed S]``
simulates ``N`` synthetic worlds from a small base model and backtests them
(``syriaforecast backtest BASE.toml --synthetic N`` uses ``BASE.toml`` as the base).

``--cutoffs`` takes comma-separated ISO dates (``2025-03-31,2025-06-30``) or lead
times in periods before the horizon (``9,6,3,0``); the default is the end of
every period from a case's first report to its horizon. ``--draws`` sets draws
per chain and, unless the parser also offers ``--tune``, the tuning steps too.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from rich.console import Console
from rich.table import Table

from syriaforecast._render import plain_text_figures, styled
from syriaforecast.bundled import bundled_path
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError

__all__ = [
    "backtest_json",
    "default_synthetic_base",
    "parse_cutoffs",
    "run_backtest_command",
    "write_outputs",
]

SYNTHETIC_BASE = "synthetic_base.toml"


def default_synthetic_base() -> Path:
    """The bundled base model of ``--synthetic`` (``synthetic_base.toml`` in the package data)."""
    return bundled_path(SYNTHETIC_BASE)


def parse_cutoffs(text: str | None) -> list[Any] | None:
    """Read ``--cutoffs``: comma-separated ISO dates, or whole numbers (lead times).

    Parameters
    ----------
    text : str or None
        The option's value.

    Returns
    -------
    list of int, list of str, or None
    """
    if text is None:
        return None
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SyriaforecastError(f"--cutoffs = {text!r}: expected comma-separated dates or lead times")
    if all(item.isascii() and item.isdigit() for item in items):
        return [int(item) for item in items]
    if any(item.isascii() and item.isdigit() for item in items):
        raise SyriaforecastError(
            f"--cutoffs = {text!r}: mixes lead times and dates; give ISO dates (2025-06-30,...) or "
            "lead times in periods before the horizon (9,6,3,0)"
        )
    return items


def _option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    # Options the parser may add later (--tune, --chains, --exact, --workers) are read if present.
    value = getattr(args, name, None)
    return default if value is None else value


def run_backtest_command(args: argparse.Namespace, console: Console, errors: Console) -> int:
    """Run ``syriaforecast backtest`` with parsed arguments; returns the exit status.

    Raises
    ------
    SyriaforecastError
        On bad input (the caller prints it and exits with status 2).
    """
    from syriaforecast.backtest.replay import backtest
    from syriaforecast.cli_checks import check_backtest_args

    check_backtest_args(args)  # numeric options and --out: before any work
    if args.seed is None or args.seed < 0:
        raise SyriaforecastError(f"--seed = {args.seed}: expected a whole number >= 0")
    cases_arg: Path | None = args.cases
    n_synthetic: int | None = args.synthetic
    if n_synthetic is None and cases_arg is None:
        raise SyriaforecastError(
            "backtest: give CASES_DIR (a folder holding one folder per resolved case) or --synthetic N"
        )
    if n_synthetic is not None:
        if n_synthetic < 1:
            raise SyriaforecastError(f"--synthetic = {n_synthetic}: expected a number of worlds >= 1")
        from syriaforecast.spec.model import load_model
        from syriaforecast.studies.synthetic import simulate_worlds

        if cases_arg is not None and cases_arg.is_dir():
            raise SyriaforecastError(
                f"--synthetic with {cases_arg}: a folder was given; with --synthetic the optional "
                "argument is a base model file (.toml), not a cases folder"
            )
        base = load_model(cases_arg if cases_arg is not None else default_synthetic_base())
        cases: Any = simulate_worlds(base, n_synthetic, seed=args.seed)
    else:
        assert cases_arg is not None
        if not cases_arg.exists():
            raise SyriaforecastError(f"CASES_DIR = {cases_arg}: no such folder")
        cases = cases_arg
    draws = args.draws
    if draws is not None and draws < 1:
        raise SyriaforecastError(f"--draws = {draws}: expected a whole number >= 1")
    tune = _option(args, "tune", draws)
    method = "exact" if _option(args, "exact", False) else "hierarchical"
    executor = _option(args, "executor", None) or _option(args, "workers", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = backtest(
            cases,
            cutoffs=parse_cutoffs(args.cutoffs),
            method=method,
            draws=draws,
            tune=tune,
            chains=_option(args, "chains", 4),
            seed=args.seed,
            executor=executor,
            progress=errors.is_terminal and not _option(args, "quiet", False),
        )
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            errors.print(styled(("warning:", "yellow"), f" {warning.message}"), soft_wrap=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if result.attrs.get("exact_cases"):
        errors.print(
            styled(
                ("note:", "cyan"),
                f" elicitation_error = 0, so replayed in exact mode: {result.attrs['exact_cases']}",
            ),
            soft_wrap=True,
        )
    written = write_outputs(result, args.out) if args.out is not None else []
    if args.json:
        print(json.dumps(backtest_json(result), indent=2))
        return 0
    _print_tables(result, console)
    for path in written:
        console.print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------- output
def _num(value: Any, digits: int = 6) -> float | None:
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)


def _cutoff_label(result: xr.Dataset, k: int) -> Any:
    label = result["cutoff"].values[k]
    if result["cutoff"].attrs.get("kind") == "lead":
        return int(label)
    return pd.Timestamp(label).date().isoformat()


def backtest_json(result: xr.Dataset) -> dict[str, Any]:
    """The backtest in the CLI's ``--json`` form: forecasts per case and cutoff, and the scores.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`~syriaforecast.backtest.backtest`.

    Returns
    -------
    dict
        ``settings``, ``cases`` (per case: outcome, whether it was replayed in
        exact mode, sampler fits and refits (0 in exact mode) and one entry
        per cutoff with its date, lead time, reports used, probabilities and
        their Monte Carlo errors, scores, whether the sampler ran there and
        the Pareto k of the PSIS weights) and ``scores`` (``overall`` and
        ``by_lead``). Missing values are ``null``.
    """
    from syriaforecast.backtest.replay import overall_scores, scores_by_lead

    scenarios = [str(s) for s in result["scenario"].values]
    cases = []
    for n, case in enumerate(result["case"].values):
        present = [
            s for s, sid in enumerate(scenarios) if math.isfinite(result["prior_forecast"].values[n, s])
        ]
        forecasts = []
        for k in np.flatnonzero(np.isfinite(result["brier"].values[n])):
            forecasts.append(
                {
                    "cutoff": _cutoff_label(result, int(k)),
                    "date": pd.Timestamp(result["cutoff_date"].values[n, k]).date().isoformat(),
                    "lead": int(result["lead"].values[n, k]),
                    "reports": int(result["reports"].values[n, k]),
                    "probabilities": {
                        scenarios[s]: _num(result["forecast"].values[n, k, s]) for s in present
                    },
                    "mcse": {scenarios[s]: _num(result["forecast_mcse"].values[n, k, s]) for s in present},
                    "brier": _num(result["brier"].values[n, k]),
                    "log_score": _num(result["log_score"].values[n, k]),
                    "fitted": bool(result["fitted"].values[n, k]),
                    "pareto_k": _num(result["pareto_k"].values[n, k], 4),
                    "converged": bool(result["converged"].values[n, k]),
                }
            )
        valid = np.isfinite(result["brier"].values[n])
        cases.append(
            {
                "case": str(case),
                "model": str(result["model"].values[n]),
                "horizon": pd.Timestamp(result["horizon"].values[n]).date().isoformat(),
                "outcome": str(result["outcome"].values[n]),
                "exact": _is_exact(result, n),
                "fits": int(result["n_fits"].values[n]),
                "refits": int(result["n_refits"].values[n]),
                "brier": _num(result["brier"].values[n][valid].mean()),
                "log_score": _num(result["log_score"].values[n][valid].mean()),
                "prior": {scenarios[s]: _num(result["prior_forecast"].values[n, s]) for s in present},
                "seconds": _num(result["seconds"].values[n], 3),
                "forecasts": forecasts,
            }
        )
    overall = overall_scores(result)
    by_lead = scores_by_lead(result)
    analysts: list[dict[str, Any]] = []
    if "analyst_noise_bin_mass" in result:
        from syriaforecast.backtest.track_record import analyst_track_record

        record = analyst_track_record(result)
        for a, analyst in enumerate(record["analyst"].values):
            analysts.append(
                {
                    "analyst": str(analyst),
                    "cases": int(record["n_cases"].values[a]),
                    "noise_mean": _num(record["pooled_mean"].values[a]),
                    "noise_low": _num(record["pooled_low"].values[a]),
                    "noise_high": _num(record["pooled_high"].values[a]),
                    "by_case": {
                        str(case): {
                            "noise_mean": _num(record["noise_mean"].values[c, a]),
                            "noise_low": _num(record["noise_low"].values[c, a]),
                            "noise_high": _num(record["noise_high"].values[c, a]),
                        }
                        for c, case in enumerate(record["case"].values)
                        if math.isfinite(record["noise_mean"].values[c, a])
                    },
                }
            )
    return {
        "settings": {
            key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in result.attrs.items()
        },
        "cases": cases,
        "scores": {
            "overall": {key: _num(value) for key, value in overall.items()},
            "by_lead": [
                {"lead": int(lead)} | {name: _num(by_lead[name].values[i]) for name in by_lead.data_vars}
                for i, lead in enumerate(by_lead["lead"].values)
            ],
        },
        "analysts": analysts,
    }


def write_outputs(result: xr.Dataset, out: Path) -> list[Path]:
    """Write the result (netCDF), score tables (CSV), JSON and plots (PNG) into ``out``.

    Returns
    -------
    list of Path
        The files written.
    """
    from syriaforecast._outdir import staged_folder

    # Written whole to a temporary sibling folder, then swapped in (see syriaforecast._outdir).

    final = Path(out)
    with staged_folder(final) as stage:
        written = _write_set(result, stage)
    return [final / path.relative_to(stage) for path in written]


def _write_set(result: xr.Dataset, out: Path) -> list[Path]:
    from syriaforecast._io import atomic_path
    from syriaforecast.backtest.plots import plot_outcome_probability, plot_reliability, plot_scores_by_lead
    from syriaforecast.backtest.replay import score_table, scores_by_lead

    written = []
    target = out / "backtest.nc"
    with atomic_path(target) as tmp:
        result.to_netcdf(tmp, engine="h5netcdf")
    written.append(target)
    for name, frame in (
        ("scores.csv", score_table(result)),
        ("scores_by_lead.csv", scores_by_lead(result).to_dataframe()),
    ):
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, index=name != "scores.csv")
        written.append(out / name)
    with atomic_path(out / "backtest.json") as tmp:
        tmp.write_text(json.dumps(backtest_json(result), indent=2))
    written.append(out / "backtest.json")
    with plain_text_figures():  # case and scenario names are user text, not mathtext
        for name, figure in (
            ("reliability.png", plot_reliability(result)),
            ("scores_by_lead.png", plot_scores_by_lead(result)),
            ("outcome_probability.png", plot_outcome_probability(result)),
        ):
            with atomic_path(out / name) as tmp:
                figure.savefig(tmp, dpi=120, format="png")
            written.append(out / name)
    return written


def _fmt(value: float, pattern: str = "{:.3f}") -> str:
    return "-" if not math.isfinite(value) else pattern.format(value)


def _print_tables(result: xr.Dataset, console: Console) -> None:
    from syriaforecast.backtest.replay import overall_scores, scores_by_lead

    attrs = result.attrs
    cases = Table(
        title=f"Backtest: {result.sizes['case']} cases, {attrs['n_forecasts']} forecasts "
        f"({attrs['method']}; seed {attrs['seed']}; {attrs.get('executor', '')})",
        title_justify="left",
    )
    cases.add_column("case", no_wrap=True)
    cases.add_column("outcome")
    for column in ("n", "fits", "max k", "P(outcome)", "Brier", "log", "s"):
        cases.add_column(column, justify="right")
    for n, case in enumerate(result["case"].values):
        valid = np.isfinite(result["brier"].values[n])
        outcome = int(result["outcome_index"].values[n])
        leads = result["lead"].values[n]
        order = np.argsort(-np.where(valid, leads, -np.inf))
        p_outcome = result["forecast"].values[n, :, outcome]
        first, last = p_outcome[order[0]], p_outcome[order[int(valid.sum()) - 1]]
        ks = result["pareto_k"].values[n]
        cases.add_row(
            str(case),
            str(result["outcome"].values[n]),
            str(int(valid.sum())),
            "exact" if _is_exact(result, n) else f"{int(result['n_fits'].values[n])}",
            _fmt(float(np.nanmax(ks)) if np.isfinite(ks).any() else math.nan, "{:.2f}"),
            f"{first:.0%}->{last:.0%}",
            _fmt(float(result["brier"].values[n][valid].mean())),
            _fmt(float(result["log_score"].values[n][valid].mean())),
            _fmt(float(result["seconds"].values[n]), "{:.1f}"),
        )
    console.print(cases)
    console.print(
        "n forecasts; fits = sampler runs (exact: every cutoff computed exactly, no sampling); "
        "max k = largest Pareto k of the PSIS weights; "
        "P(outcome) at the first -> last cutoff; mean Brier and log score; s = seconds"
    )
    by_lead = scores_by_lead(result)
    unit = attrs.get("period", "period")
    leads = Table(
        title=f"Scores by lead time ({unit}s before the horizon; 90% case-bootstrap)", title_justify="left"
    )
    for column in ("lead", "n", "Brier", "90% interval", "priors only", "log score", "priors only "):
        leads.add_column(column, justify="right")
    for i, lead in enumerate(by_lead["lead"].values):
        row = {name: float(by_lead[name].values[i]) for name in by_lead.data_vars}
        leads.add_row(
            str(int(lead)),
            str(int(row["n"])),
            _fmt(row["brier"]),
            f"{_fmt(row['brier_low'])} - {_fmt(row['brier_high'])}",
            _fmt(row["prior_brier"]),
            _fmt(row["log_score"]),
            _fmt(row["prior_log_score"]),
        )
    console.print(leads)
    overall = overall_scores(result)
    console.print(
        f"Overall: Brier {_fmt(overall['brier'])} "
        f"({_fmt(overall['brier_low'])} - {_fmt(overall['brier_high'])}), "
        f"skill vs priors only {_fmt(overall['brier_skill_vs_prior'], '{:+.2f}')}; "
        f"log score {_fmt(overall['log_score'])} nats "
        f"(priors only {_fmt(overall['prior_log_score'])}, uniform {_fmt(overall['uniform_log_score'])})"
    )
    if "analyst_noise_bin_mass" in result:
        _print_track_record(result, console)
    console.print(replay_summary(result), soft_wrap=True)


def _is_exact(result: xr.Dataset, n: int) -> bool:
    if "exact" in result:
        return bool(result["exact"].values[n])
    return result.attrs.get("method") == "exact"  # a result saved before the per-case flag


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def replay_summary(result: xr.Dataset) -> str:
    """One line on how the forecasts were made: sampler fits and PSIS reweighting, or exact replays.

    A case replayed in exact mode (``method="exact"``, or a model with
    ``elicitation_error = 0``) runs no sampler: its forecasts are counted as
    computed exactly, never as fits.
    """
    exact = np.array([_is_exact(result, n) for n in range(result.sizes["case"])], dtype=bool)
    forecasts = np.isfinite(result["brier"].values).sum(axis=1)
    parts = []
    if (~exact).any():
        ks = result["pareto_k"].values[~exact]
        seen = ks[np.isfinite(ks)]
        parts.append(
            f"{_count(int(result['n_fits'].values[~exact].sum()), 'sampler fit')} for "
            f"{_count(int(forecasts[~exact].sum()), 'forecast')} of {_count(int((~exact).sum()), 'case')} "
            f"({_count(int(result['n_refits'].values[~exact].sum()), 'refit')}); PSIS Pareto k "
            + (f"median {np.median(seen):.2f}, max {seen.max():.2f}" if seen.size else "not needed")
            + f" (refit above {result.attrs['k_threshold']})"
        )
    if exact.any():
        why = "exact mode" if result.attrs.get("method") == "exact" else "elicitation_error = 0"
        ids = ", ".join(str(c) for c in result["case"].values[exact])
        parts.append(
            f"{_count(int(forecasts[exact].sum()), 'forecast')} of {_count(int(exact.sum()), 'case')} "
            f"computed exactly, no sampler run ({why}: {ids})"
        )
    return "Replay: " + "; ".join(parts)


def _print_track_record(result: xr.Dataset, console: Console) -> None:
    from syriaforecast.backtest.track_record import analyst_track_record

    record = analyst_track_record(result)
    table = Table(
        title="Analysts' track record: own elicitation noise (logit units), given the resolved cases",
        title_justify="left",
    )
    for column in ("analyst", "cases", "noise", "90% interval"):
        table.add_column(column, justify="left" if column == "analyst" else "right")
    for a, analyst in enumerate(record["analyst"].values):
        table.add_row(
            str(analyst),
            str(int(record["n_cases"].values[a])),
            _fmt(float(record["pooled_mean"].values[a]), "{:.2f}"),
            f"{_fmt(float(record['pooled_low'].values[a]), '{:.2f}')} - "
            f"{_fmt(float(record['pooled_high'].values[a]), '{:.2f}')}",
        )
    console.print(table)
