"""Benchmarks side by side with the tools users would pick instead; writes benchmarks/RESULTS.md.

Usage::

    make bench                                    # all but `reports` (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats and points, no naive PyMC route
    .venv/bin/python benchmarks/run.py --sections exact,scaling
    .venv/bin/python benchmarks/run.py --sections reports   # up to a million reports: hours
    .venv/bin/python benchmarks/run.py --render   # rebuild RESULTS.md from benchmarks/results/*.json

Sections: ``speed`` (the #14 speed targets in fresh processes, against the naive
PyMC route), ``exact`` (exact mode against hmmlearn), ``replay`` (backtest
PSIS against refitting), ``calibration`` (synthetic worlds: hierarchical vs
exact vs oracle), ``scaling`` (time and memory against model size) and ``reports``
(time and peak memory against the number of reports, 1k to 1M).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import configure_environment

# Before anything imports numba: the private kernel cache and single-threaded BLAS.
configure_environment()

from _common import OUT, loadavg, log, machine_info, numba_cache_dir, save_result  # noqa: E402

SECTIONS = ("speed", "exact", "replay", "calibration", "scaling", "reports")
#: What ``make bench`` runs: the reports section takes hours at a million reports (its last
#: block, dated, stays in RESULTS.md until it is run again on its own).
DEFAULT_SECTIONS = tuple(name for name in SECTIONS if name != "reports")
RESULT_FILES = {"speed": "speed", "exact": "exact_hmm", "replay": "replay",
                "calibration": "calibration", "scaling": "scaling", "reports": "report_counts"}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated subset of {', '.join(SECTIONS)} (default: all but reports)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, worlds and sizes")
    parser.add_argument("--repeats", type=int, default=None, help="fresh processes per speed measure (3)")
    parser.add_argument("--render", action="store_true", help="only re-render RESULTS.md from the records")
    args = parser.parse_args(argv)

    import report

    if args.render:
        report.write()
        print(f"wrote {report.BENCH / 'RESULTS.md'}")
        return 0
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")

    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    # Kernel caches of earlier engine versions are dead weight: keep only the current one.
    current = numba_cache_dir()
    if current.parent.exists():
        for stale in current.parent.iterdir():
            if stale.is_dir() and stale != current:
                shutil.rmtree(stale, ignore_errors=True)
    machine = machine_info()
    save_result("machine", machine)
    log(f"benchmarks: {', '.join(wanted)}{' (quick)' if args.quick else ''}; results in {OUT}")
    repeats = args.repeats or (2 if args.quick else 3)

    runners = {
        # The naive PyMC route takes about 6 minutes; --quick leaves it out (the last one is kept).
        "speed": lambda: __import__("speed").run(repeats=repeats, naive=not args.quick),
        "exact": lambda: __import__("exact_hmm").run(
            periods=(24, 240, 2400) if args.quick else (24, 60, 120, 240, 600, 1200, 2400)
        ),
        "replay": lambda: __import__("replay").run(),
        "calibration": lambda: __import__("calibration").run(n_worlds=16 if args.quick else 40),
        "scaling": lambda: __import__("scaling").run(quick=args.quick),
        "reports": lambda: __import__("report_counts").run(
            (1_000, 10_000, 100_000) if args.quick else __import__("report_counts").SIZES
        ),
    }  # fmt: skip
    failed = []
    for name in SECTIONS:
        if name not in wanted:
            continue
        try:
            runners[name]()
        except Exception:  # one broken section must not cost the others' results
            failed.append(name)
            message = traceback.format_exc()
            log(f"section {name} failed:\n{message}")
            save_result(RESULT_FILES[name], {"error": message[-2000:], "date": machine_info()["date"]})

    machine["load_end"] = loadavg()
    machine["total_seconds"] = time.perf_counter() - started
    machine["sections"] = wanted
    save_result("machine", machine)
    report.write()
    minutes = machine["total_seconds"] / 60
    log(f"done in {minutes:.1f} min; wrote benchmarks/RESULTS.md and benchmarks/HEADLINE.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
