"""Pass rate of the convergence check on synthetic worlds (issue #14), with Wilson intervals.

Run from the repository root, e.g.::

    .venv/bin/python tools/convergence_rate.py --rates 0.3 0.6 --worlds 10 [--warm] [--first 0]

Prints one row per world (verdict, largest R-hat, smallest ESS_bulk, extensions,
chain spread, seconds) and, per design and kind (fit / warm update), the pass
rate with its 95% Wilson interval. About 5-20 s per forecast on an idle 2-core
machine, up to 4x that for a world whose chains are continued.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from syriaforecast.studies.convergence import convergence_study, wilson_interval

BASE = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic_russia_syria.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.3, 0.6])
    parser.add_argument("--worlds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--warm", action="store_true", help="also a warm update of each world")
    args = parser.parse_args()
    tables = []
    for rate in args.rates:
        table = convergence_study(
            BASE, report_rate=rate, n_worlds=args.worlds, first_world=args.first, warm=args.warm
        )
        table.insert(0, "rate", rate)
        print(table.round(4).to_string(index=False), flush=True)
        tables.append(table)
    every = pd.concat(tables)
    for (rate, kind), rows in every.groupby(["rate", "kind"]):
        r = wilson_interval(int(rows["converged"].sum()), len(rows))
        interval = f"95% Wilson {r.low:.0%}-{r.high:.0%}"
        print(f"rate {rate} {kind}: {r.passed}/{r.n} passed = {r.rate:.0%} ({interval})")


if __name__ == "__main__":
    main()
