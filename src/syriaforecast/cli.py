"""The ``syriaforecast`` command: validate, forecast, backtest.

Bad input exits with status 2 and a message naming the file, line or key,
field, value and what is allowed; never a Python traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from syriaforecast import __version__
from syriaforecast.bundled import bundled_evidence, bundled_model
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exit code is already 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="syriaforecast", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="check a model file and (optionally) its evidence log")
    validate.add_argument("model", type=Path)
    validate.add_argument("evidence", type=Path, nargs="?")

    fc = sub.add_parser("forecast", help="forecast the scenarios and write the report")
    fc.add_argument(
        "--model",
        type=Path,
        default=None,
        help="model file (default: the bundled Russia-Syria model)",
    )
    fc.add_argument(
        "--evidence", type=Path, default=None, help="evidence CSV (default: the bundled evidence)"
    )
    fc.add_argument("--as-of", default=None, help="information date YYYY-MM-DD (default: latest report)")
    fc.add_argument("--draws", type=int, default=None, help="posterior draws per chain")
    fc.add_argument("--tune", type=int, default=None, help="tuning steps per chain")
    fc.add_argument("--chains", type=int, default=4)
    fc.add_argument("--seed", type=int, default=None)
    fc.add_argument("--exact", action="store_true", help="take the elicitations as exact (no sampling)")
    fc.add_argument("--out", type=Path, default=None, help="folder for plots, saved forecast and HTML report")
    fc.add_argument("--json", action="store_true", help="print the forecast as JSON instead of tables")
    fc.add_argument(
        "--assume",
        action="append",
        default=None,
        metavar="DRIVER=VALUE@PERIOD",
        help="conditional forecast: the driver takes VALUE (0 or 1) from PERIOD on, e.g. ceasefire=1@2026-06 "
        "(repeatable)",
    )

    bt = sub.add_parser("backtest", help="replay resolved cases or synthetic worlds and score them")
    bt.add_argument("cases", type=Path, nargs="?", help="folder holding one folder per resolved case")
    bt.add_argument("--synthetic", type=int, default=None, metavar="N", help="backtest N synthetic worlds")
    bt.add_argument(
        "--cutoffs", default=None, help="comma-separated cutoff dates (default: every period end)"
    )
    bt.add_argument("--draws", type=int, default=None, help="posterior draws per chain (and tuning steps)")
    bt.add_argument("--tune", type=int, default=None, help="tuning steps per chain")
    bt.add_argument("--chains", type=int, default=None)
    bt.add_argument("--exact", action="store_true", help="replay in exact mode (elicitations as exact)")
    bt.add_argument("--seed", type=int, default=0)
    bt.add_argument("--out", type=Path, default=None)
    bt.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``syriaforecast`` console command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=False, highlight=False)
    errors = Console(stderr=True, highlight=False)
    try:
        if args.command == "validate":
            return _validate(args, console)
        if args.command == "forecast":
            return _forecast(args, console, errors)
        if args.command == "backtest":
            from syriaforecast.backtest.cli import run_backtest_command

            return run_backtest_command(args, console, errors)
    except SyriaforecastError as exc:
        errors.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        return EXIT_BAD_INPUT
    except OSError as exc:
        errors.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130
    return EXIT_ERROR


# --------------------------------------------------------------------------- validate
def _validate(args: argparse.Namespace, console: Console) -> int:
    from syriaforecast.spec.evidence import load_evidence
    from syriaforecast.spec.model import load_model

    model = load_model(args.model)
    console.print(f"[bold]{model.title}[/]  ({model.id}; {args.model})")
    console.print(
        f"{model.period}ly from {model.start}, horizon {model.horizon}, persistence {model.persistence}, "
        f"elicitation error {model.elicitation_error}"
    )
    table = Table(title="Scenarios", title_justify="left")
    table.add_column("id")
    table.add_column("name")
    table.add_column("prior", justify="right")
    for s in model.scenarios:
        table.add_row(s.id, s.name, f"{s.prior:.2f}" + (f" ({s.prior_phrase})" if s.prior_phrase else ""))
    console.print(table)
    _print_model_dynamics(model, console)
    groups = Table(title=f"Indicators ({len(model.indicators)})", title_justify="left")
    groups.add_column("group")
    for kind in ("binary", "ordinal", "count"):
        groups.add_column(kind, justify="right")
    for group in model.groups:
        members = [i for i in model.indicators if i.group == group]
        groups.add_row(
            group, *(str(sum(i.type == k for i in members)) for k in ("binary", "ordinal", "count"))
        )
    console.print(groups)
    if args.evidence is not None:
        evidence = load_evidence(args.evidence, model)
        frame = evidence.to_dataframe()
        console.print(repr(evidence))
        if not frame.empty:
            labels = model.period_labels(int(frame["period"].max()) + 1)
            frame["grade"] = [
                (r + (str(c) if c else "")) or "ungraded"
                for r, c in zip(frame["reliability"], frame["credibility"], strict=True)
            ]
            frame["period_label"] = [labels[p] for p in frame["period"]]
            counts = frame.groupby(["period_label", "grade"]).size().unstack(fill_value=0)
            reports = Table(title="Reports by period and grade", title_justify="left")
            reports.add_column("period")
            for grade in counts.columns:
                reports.add_column(str(grade), justify="right")
            reports.add_column("total", justify="right")
            for label, row in counts.iterrows():
                reports.add_row(str(label), *(str(v) if v else "." for v in row), str(int(row.sum())))
            console.print(reports)
    console.print("[green]valid[/]")
    return EXIT_OK


def _print_model_dynamics(model: Any, console: Console) -> None:
    """The residual scenario, elicited transition rows and drivers of a model, when it has them."""
    if model.residual is not None:
        console.print(f"residual scenario ('none of the above'): {model.residual}")
    if model.transitions:
        matrix = Table(title="Per-period transitions (rows: from; * = elicited row)", title_justify="left")
        matrix.add_column("from")
        for sid in model.scenario_ids:
            matrix.add_column(sid, justify="right")
        for sid, row in zip(model.scenario_ids, model.transition_matrix(), strict=True):
            label = sid + (" *" if sid in model.transitions else "")
            matrix.add_row(label, *(f"{p:.3f}" for p in row))
        console.print(matrix)
    for driver in model.drivers:
        effects = ", ".join(f"{sid} x{driver.factor(sid):g}" for sid in driver.effect)
        console.print(f"driver {driver.id}: {driver.text} (moves into {effects})")


# --------------------------------------------------------------------------- forecast
def _forecast(args: argparse.Namespace, console: Console, errors: Console) -> int:
    from syriaforecast.conditional import parse_assume_option
    from syriaforecast.forecast import forecast
    from syriaforecast.spec.evidence import load_evidence
    from syriaforecast.spec.model import load_model

    model_path = args.model or bundled_model()
    evidence_path = args.evidence
    if evidence_path is None and args.model is None:
        evidence_path = bundled_evidence()
    model = load_model(model_path)
    evidence = load_evidence(evidence_path, model) if evidence_path is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = forecast(
            model,
            evidence,
            as_of=args.as_of,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            seed=args.seed,
            exact=True if args.exact else None,
            assume=parse_assume_option(args.assume) or None,
        )
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            errors.print(f"[yellow]warning:[/] {warning.message}", soft_wrap=True)
    written: list[Path] = []
    if args.out is not None:
        written = _write_outputs(result, args.out)
    if args.json:
        print(json.dumps(forecast_json(result), indent=2))
        return EXIT_OK
    _print_summary(result, console)
    for path in written:
        console.print(f"wrote {path}")
    return EXIT_OK


def _write_outputs(result: Any, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    from syriaforecast.report.html import write_report

    return [result.save(out / "forecast.nc"), *write_report(result, out)]


def _print_summary(result: Any, console: Console) -> None:
    model = result.model
    table = Table(
        title=f"{model.title}\nP(scenario on {model.horizon}) as of {result.as_of}  [{result.mode}]",
        title_justify="left",
    )
    table.add_column("scenario")
    table.add_column("mean", justify="right")
    table.add_column(f"{int(100 * 0.9)}% HDI", justify="right")
    table.add_column("ICD 203")
    table.add_column("confidence")
    summary = result.summary()
    for _, row in summary.iterrows():
        flag = " *" if row["spans_phrases"] else ""
        table.add_row(
            str(row["name"]),
            f"{row['mean']:.0%}",
            f"{row['hdi_low']:.0%} - {row['hdi_high']:.0%}",
            f"{row['phrase']}{flag}",
            str(row["confidence"]),
        )
    console.print(table)
    if summary["spans_phrases"].any():
        console.print("* the interval spans more than one ICD 203 phrase")
    _print_analysts(result, console)
    _print_dynamics(result, console)
    n = len(result.evidence)
    diag = result.diagnostics.attrs
    console.print(
        f"{n} reports used; {result.n_draws} posterior draws; divergences {diag.get('divergences', 0)}; "
        f"converged: {'yes' if result.converged else 'NO'}"
    )


def _print_dynamics(result: Any, console: Console) -> None:
    """The surprise monitor's plain words and the drivers' side-by-side horizons."""
    note = result.surprise_note()
    if note:
        console.print(f"[bold yellow]Surprise:[/] {note}", soft_wrap=True)
    if result.attrs.get("assume"):
        console.print(f"Conditional forecast: drivers assumed {result.attrs['assume']}")
    contrast = result.drivers_side_by_side()
    if contrast.empty:
        return
    table = Table(
        title=f"Drivers: P(scenario on {result.model.horizon}) with each driver off / on from "
        f"{contrast['from'].iloc[0]}",
        title_justify="left",
    )
    table.add_column("driver")
    table.add_column("scenario")
    table.add_column("off", justify="right")
    table.add_column("on", justify="right")
    table.add_column("change", justify="right")
    names = dict(zip(result.model.scenario_ids, result.model.scenario_names, strict=True))
    for row in contrast.itertuples():
        table.add_row(str(row.driver), names[str(row.scenario)], f"{row.off:.0%}", f"{row.on:.0%}",
                      f"{row.change:+.0%}")  # fmt: skip
    console.print(table)


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Floats rounded to 6 decimals, as the JSON output carries them."""
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def analyst_summary(result: Any, *, prob: float = 0.9) -> list[dict[str, Any]]:
    """Posterior of each analyst's bias and own noise (logit units); empty without analysts."""
    from syriaforecast.report.disagreement import analyst_summary as summary

    return _rounded(summary(result, prob=prob))


def disagreement_rows(result: Any, *, top: int = 5) -> list[dict[str, Any]]:
    """The indicators whose analysts' disagreement moves the horizon forecast most."""
    from syriaforecast.report.disagreement import disagreement_rows as rows

    return _rounded(rows(result, top=top))


def _print_analysts(result: Any, console: Console) -> None:
    disagreements = disagreement_rows(result)
    if disagreements:
        table = Table(
            title="Disagreements worth a meeting (exact mode): one analyst's table for one indicator "
            "moves the horizon probability by",
            title_justify="left",
        )
        table.add_column("indicator", overflow="fold")
        table.add_column("analyst")
        table.add_column("moves", justify="right")
        table.add_column("scenario", overflow="fold")
        table.add_column("reports", justify="right")
        for row in disagreements:
            change = f"{row['change']:+.0%}"
            table.add_row(row["indicator"], row["analyst"], change, row["scenario"], str(row["reports"]))
        console.print(table)
    rows = analyst_summary(result)
    if not rows:
        return
    table = Table(
        title="Analysts (logit units: bias > 0 rates indicators likelier than the pooled truth)",
        title_justify="left",
    )
    table.add_column("analyst")
    table.add_column("bias", justify="right")
    table.add_column("90% HDI", justify="right")
    table.add_column("own noise", justify="right")
    table.add_column("90% HDI", justify="right")
    for row in rows:
        table.add_row(
            row["analyst"],
            f"{row['bias_mean']:+.2f}",
            f"{row['bias_hdi_low']:+.2f} to {row['bias_hdi_high']:+.2f}",
            f"{row['noise_mean']:.2f}",
            f"{row['noise_hdi_low']:.2f} - {row['noise_hdi_high']:.2f}",
        )
    console.print(table)


def forecast_json(result: Any) -> dict[str, Any]:
    """The forecast in the CLI's ``--json`` form."""
    summary = result.summary()
    scenarios = {
        sid: {
            "name": row["name"],
            "mean": round(float(row["mean"]), 6),
            "hdi_low": round(float(row["hdi_low"]), 6),
            "hdi_high": round(float(row["hdi_high"]), 6),
            "phrase": row["phrase"],
            "spans_phrases": bool(row["spans_phrases"]),
            "confidence": row["confidence"],
        }
        for sid, row in summary.iterrows()
    }

    def by_period(which: str) -> list[dict[str, Any]]:
        means = result.mean(which)
        return [
            {"period": str(period)}
            | {
                sid: round(float(means.sel(time=period, scenario=sid)), 6)
                for sid in result.model.scenario_ids
            }
            for period in means["time"].values
        ]

    diagnostics: dict[str, Any] = {
        "mode": result.mode,
        "converged": bool(result.converged),
        "divergences": int(result.diagnostics.attrs.get("divergences", 0)),
        "draws": result.n_draws,
    }
    for name in ("horizon", "filtered", "smoothed"):
        if f"{name}_rhat" in result.diagnostics:
            diagnostics[f"{name}_max_rhat"] = round(float(result.diagnostics[f"{name}_rhat"].max()), 4)
            diagnostics[f"{name}_min_ess_bulk"] = round(
                float(result.diagnostics[f"{name}_ess_bulk"].min()), 1
            )
    return {
        "model": result.model.id,
        "as_of": result.as_of.isoformat(),
        "horizon": result.model.horizon.isoformat(),
        "scenarios": scenarios,
        "filtered": by_period("filtered"),
        "smoothed": by_period("smoothed"),
        "diagnostics": diagnostics,
        "analysts": analyst_summary(result),
        "disagreements": disagreement_rows(result),
        "surprise": [
            {"period": str(row.period), "p_value": round(float(row.p_value), 6)}
            for row in result.surprise().itertuples()
        ],
        "drivers": _rounded(result.drivers_side_by_side().to_dict("records")),
        "assume": json.loads(result.attrs["assume"]) if result.attrs.get("assume") else None,
        "seed": result.attrs.get("sampler_seed"),
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
