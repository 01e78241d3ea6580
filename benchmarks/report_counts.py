"""Section `reports`: time and peak memory against the number of reports (1k to 1M).

For each evidence-log length N (synthetic graded reports of the bundled model,
``reports_data.py``) and each stage -- ``validate`` (load and check the model
and the log), ``exact`` (exact-mode forecast), ``hierarchical`` (NUTS forecast,
small settings) and ``report`` (``write_report`` of the exact forecast) -- a
fresh interpreter runs the stage (``workers.py reports_point``) so its peak
resident memory is its own. The hierarchical stage is not run above
``HIERARCHICAL_MAX`` reports (said in the table); a stage the library refuses
up front records the library's message.

Run alone: ``python benchmarks/report_counts.py [--sizes 1000,10000]``; it
writes ``out/bench/report_counts.json`` and the section of ``benchmarks/RESULTS.md``
between the markers below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, OUT, configure_environment, loadavg, log, run_worker, save_result, section_clock

SIZES = (1_000, 10_000, 100_000, 1_000_000)
STAGES = ("validate", "exact", "hierarchical", "report")
HIERARCHICAL_MAX = 100_000
SETTINGS = {"draws": 200, "tune": 200, "chains": 2}
START, END = "<!-- report-counts:start -->", "<!-- report-counts:end -->"


def run(sizes: tuple[int, ...] = SIZES, *, timeout: float = 1800) -> dict[str, Any]:
    from reports_data import write_reports_csv

    import syriaforecast as sf

    model = sf.load_model(BENCH.parent / "models" / "russia_syria.toml")
    record: dict[str, Any] = {"settings": SETTINGS, "hierarchical_max": HIERARCHICAL_MAX, "points": []}
    with section_clock(record):
        for n in sizes:
            csv = write_reports_csv(model, n, OUT / f"reports_{n}.csv")
            point: dict[str, Any] = {"n": n, "csv_bytes": csv.stat().st_size, "load_start": loadavg()}
            for stage in STAGES:
                if stage == "hierarchical" and n > HIERARCHICAL_MAX:
                    point[stage] = {"skipped": f"not run above {HIERARCHICAL_MAX} reports"}
                    continue
                log(f"reports: {n} reports, {stage}")
                try:
                    point[stage] = run_worker(
                        "reports_point", {"csv": str(csv), "stage": stage} | SETTINGS, timeout=timeout
                    )
                except RuntimeError as exc:
                    point[stage] = {"failed": str(exc).splitlines()[0][:300]}
            point["load_end"] = loadavg()
            record["points"].append(point)
            save_result("report_counts", record)
    save_result("report_counts", record)
    return record


def _cell(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return "not run"
    if "failed" in result:
        return "failed"
    if result.get("refused"):
        return f"refused, {result['seconds']:.1f} s / {result['peak_rss_mb']:.0f} MB"
    return f"{result['seconds']:.1f} s / {result['peak_rss_mb']:.0f} MB"


def render(record: dict[str, Any]) -> str:
    lines = [
        START,
        "## Reports: time and peak memory against the number of reports",
        "",
        f"Run {record.get('date', '?')}; load average {record.get('load_start', ['?'])} at start, "
        f"{record.get('load_end', ['?'])} at the end (2 shared cores). Synthetic graded reports of the "
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
        cells = [_cell(p[s]) for s in STAGES]
        lines.append(f"| {p['n']:,} | {p['csv_bytes'] / 1e6:.1f} | " + " | ".join(cells) + " |")
        for s in STAGES:
            if p[s].get("note"):
                notes.append(f"- {p['n']:,} reports, {s}: {p[s]['note']}")
            if p[s].get("failed"):
                notes.append(f"- {p['n']:,} reports, {s}: {p[s]['failed']}")
            if p[s].get("skipped"):
                notes.append(f"- {p['n']:,} reports, {s}: {p[s]['skipped']}")
    lines += ["", *notes, "", "Command: `python benchmarks/report_counts.py` (also `make bench`).", END]
    return "\n".join(lines)


def splice(markdown: str, block: str) -> str:
    """``markdown`` with its report-counts block replaced by ``block`` (appended when absent)."""
    if START in markdown and END in markdown:
        head, rest = markdown.split(START, 1)
        tail = rest.split(END, 1)[1]
        return head + block + tail
    return markdown.rstrip() + "\n\n" + block + "\n"


def write_results(record: dict[str, Any]) -> None:
    path = BENCH / "RESULTS.md"
    path.write_text(splice(path.read_text() if path.exists() else "", render(record)))


def main(argv: list[str] | None = None) -> int:
    configure_environment()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    record = run(tuple(int(s) for s in args.sizes.split(",")))
    write_results(record)
    log("wrote the reports section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
