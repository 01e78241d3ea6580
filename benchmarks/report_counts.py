"""Section `reports`: time and peak memory against the number of reports (1k to 1M).

For each evidence-log length N (synthetic graded reports of the bundled model,
``reports_data.py``) and each stage -- ``validate`` (load and check the model
and the log), ``exact`` (exact-mode forecast), ``hierarchical`` (NUTS forecast,
small settings) and ``report`` (``write_report`` of the exact forecast) -- a
fresh interpreter runs the stage (``workers.py reports_point``) so its peak
resident memory is its own. Every stage runs at every size: a stage the library
refuses up front (the sampling work cap of hierarchical forecasts,
``syriaforecast._checks.MAX_SAMPLING_WORK``) records the library's message.
A second table states what the cap does at the library's default sampler settings.

Run alone: ``python benchmarks/report_counts.py [--sizes 1000,10000] [--stages
hierarchical] [--merge]``; it writes ``benchmarks/results/report_counts.json`` (with
``--merge``, the new cells replace those of the same size and stage in the last
record, the others are kept) and the section of ``benchmarks/RESULTS.md`` between
the markers below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MODEL,
    OUT,
    configure_environment,
    load_result,
    loadavg,
    log,
    run_worker,
    save_result,
    section_clock,
    splice_block,
    write_results_block,
)

SIZES = (1_000, 10_000, 100_000, 300_000, 1_000_000)
STAGES = ("validate", "exact", "hierarchical", "report")
SETTINGS = {"draws": 200, "tune": 200, "chains": 2}


def default_settings() -> dict[str, int]:
    """The library's default sampler settings, for the table of what the work cap refuses.

    Imported when needed: numba must not load before :func:`configure_environment`.
    """
    from syriaforecast.engine.run import DEFAULT_DRAWS, DEFAULT_TUNE

    return {"draws": DEFAULT_DRAWS, "tune": DEFAULT_TUNE, "chains": 4}


START, END = "<!-- report-counts:start -->", "<!-- report-counts:end -->"


def run(
    sizes: tuple[int, ...] = SIZES,
    *,
    stages: tuple[str, ...] = STAGES,
    merge: bool = False,
    timeout: float = 3600,
) -> dict[str, Any]:
    from reports_data import write_reports_csv

    import syriaforecast as sf

    model = sf.load_model(MODEL)
    record: dict[str, Any] = {"settings": SETTINGS, "points": []}
    old = load_result("report_counts") if merge else None
    if old and old.get("notes"):
        record["notes"] = old["notes"]  # written by hand about cells kept from earlier runs
    points = {p["n"]: p for p in old["points"]} if old else {}
    with section_clock(record):
        for n in sizes:
            # Written afresh every run: the log must match the bundled model as it is now.
            csv = write_reports_csv(model, n, OUT / f"reports_{n}.csv")
            point: dict[str, Any] = points.setdefault(n, {"n": n})
            point |= {"csv_bytes": csv.stat().st_size}
            for stage in stages:
                log(f"reports: {n} reports, {stage}")
                start = loadavg()
                try:
                    point[stage] = run_worker(
                        "reports_point", {"csv": str(csv), "stage": stage} | SETTINGS, timeout=timeout
                    )
                except RuntimeError as exc:
                    point[stage] = {"failed": str(exc).splitlines()[0][:300]}
                point[stage] |= {"load_start": start, "load_end": loadavg(), "date": record["date"]}
            record["points"] = [points[k] for k in sorted(points)]
            save_result("report_counts", record)
        record["default_settings"] = _default_settings_refusals(record["points"])
        record["defaults"] = default_settings()
    save_result("report_counts", record)
    return record


def _default_settings_refusals(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the library's work cap says, before any sampling, at its default settings."""
    from syriaforecast._checks import check_sampling_work, sampling_work_cap
    from syriaforecast.errors import SamplingWorkError

    defaults = default_settings()
    rows = []
    for p in points:
        work = p["n"] * defaults["chains"] * (defaults["draws"] + defaults["tune"])
        try:
            check_sampling_work(p["n"], **defaults)
            rows.append({"n": p["n"], "work": work, "cap": sampling_work_cap(), "refused": ""})
        except SamplingWorkError as exc:
            rows.append({"n": p["n"], "work": work, "cap": sampling_work_cap(), "refused": str(exc)})
    return rows


def _cell(result: dict[str, Any] | None, row_load: list[float] | None = None) -> str:
    if result is None:
        return "not measured"
    if "skipped" in result:
        return "not run"
    if "failed" in result:
        return "failed"
    if result.get("refused"):
        return f"refused up front, {result['seconds']:.1f} s / {result['peak_rss_mb']:.0f} MB"
    cell = f"{result['seconds']:.1f} s / {result['peak_rss_mb']:.0f} MB"
    load = result.get("load_start") or row_load
    if result.get("load_text"):  # a cell re-run apart from its row, its load noted by hand
        cell += f" (load {result['load_text']})"
    elif load:
        cell += f" (load {load[0]:.1f})"
    return cell


def render(record: dict[str, Any]) -> str:
    lines = [
        START,
        "## Reports: time and peak memory against the number of reports",
        "",
        f"Last run {record.get('date', '?')}; load average {record.get('load_start', ['?'])} at its start, "
        f"{record.get('load_end', ['?'])} at its end (2 shared cores; cells measured in earlier runs keep "
        "their own figures; in brackets, the one-minute load average when the cell started, or for "
        "cells of an earlier full run when its row started). Synthetic graded reports of the "
        "bundled model over its first 12 months (`benchmarks/reports_data.py`); each cell is one fresh "
        "process: wall seconds of the stage / the process's peak resident memory. `hierarchical`: "
        f"{record['settings']['draws']} draws and tuning steps, {record['settings']['chains']} chains. "
        "`report`: `write_report` of the exact forecast (peak includes the forecast).",
        "",
        "| reports | CSV MB | validate | exact forecast | hierarchical forecast | report |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for p in record["points"]:
        cells = [_cell(p.get(s), p.get("load_start")) for s in STAGES]
        lines.append(f"| {p['n']:,} | {p['csv_bytes'] / 1e6:.1f} | " + " | ".join(cells) + " |")
        for s in STAGES:
            cell = p.get(s) or {}
            for key in ("note", "failed", "skipped"):
                if cell.get(key):
                    notes.append(f"- {p['n']:,} reports, {s}: {cell[key]}")
            if s == "hierarchical" and "worker_cpu_seconds" in cell and not cell.get("refused"):
                work = p["n"] * SETTINGS["chains"] * (SETTINGS["draws"] + SETTINGS["tune"])
                notes.append(
                    f"- {p['n']:,} reports, hierarchical: {cell['worker_cpu_seconds']:.0f} CPU seconds in "
                    f"the worker for {work:.2g} report-iterations (reports x chains x iterations): "
                    f"{1e6 * cell['worker_cpu_seconds'] / work:.2f} us each"
                )
    lines += ["", *notes, *(f"- {note}" for note in record.get("notes", []))]
    if record.get("default_settings"):
        # The settings the rows were checked at (records before 2026-12-03 did not store them and
        # were made at the then defaults, 2,000 + 500).
        used = record.get("defaults") or {"chains": 4, "draws": 2000, "tune": 500}
        lines += [
            "",
            f"At the library's default settings ({used['chains']} chains x ({used['draws']:,} draws + "
            f"{used['tune']:,} tuning steps)) a hierarchical "
            "forecast is checked against the sampling work cap before any sampling "
            "(`syriaforecast._checks.check_sampling_work`; `SYRIAFORECAST_MAX_SAMPLING_WORK` sets another):",
            "",
            "| reports | report-iterations | at the defaults |",
            "|---:|---:|:--|",
        ]
        for row in record["default_settings"]:
            # In code style: the message's "--exact" would otherwise render as an en dash.
            verdict = f"refused up front: `{row['refused']}`" if row["refused"] else "runs (within the cap)"
            lines.append(f"| {row['n']:,} | {row['work']:.2g} | {verdict} |")
    lines += ["", "Command: `python benchmarks/report_counts.py` (also `make bench`).", END]
    return "\n".join(lines)


def splice(markdown: str, block: str) -> str:
    """``markdown`` with its report-counts block replaced by ``block`` (appended when absent)."""
    return splice_block(markdown, block, START, END)


def write_results(record: dict[str, Any]) -> None:
    write_results_block(render(record), START, END)


def main(argv: list[str] | None = None) -> int:
    configure_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--merge", action="store_true", help="keep the last record's other cells")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    stages = tuple(s for s in args.stages.split(",") if s)
    if unknown := set(stages) - set(STAGES):
        parser.error(f"--stages: unknown {sorted(unknown)}; choose from {', '.join(STAGES)}")
    record = run(tuple(int(s) for s in args.sizes.split(",")), stages=stages, merge=args.merge)
    write_results(record)
    log("wrote the reports section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
