"""Warm refits of the bundled model at several draw counts, without continuations (issue #14).

Usage, from the repository root::

    .venv/bin/python tools/warm_refit_draws.py 600,800,1000 1,11,21

For each seed: a default fit as of a month before the bundled evidence's last
publication, then :func:`syriaforecast.forecast.warm_refit` from it to the two updates
``benchmarks/speed.py`` times as refits (one more month of reports, and an old report
regraded; until 2026-12-02 an old report's note was edited instead, which now keeps the
draws), once per draw count, with no continuation. Prints the wall and CPU seconds of
each refit, its largest R-hat and smallest ESS_bulk over every reported probability, and
whether it passed the convergence check. Chose :data:`syriaforecast.forecast.WARM_DRAWS`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import workers

import syriaforecast as sf
from syriaforecast.engine.run import SamplerSettings
from syriaforecast.forecast import warm_refit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("draws", help="comma-separated draws per chain, e.g. 600,1000")
    parser.add_argument("seeds", help="comma-separated seeds, e.g. 1,11,21")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    for seed in (int(s) for s in args.seeds.split(",")):
        first = sf.forecast(model, evidence, as_of=evidence.last_published - dt.timedelta(days=31), seed=seed)
        month = evidence.append(workers.next_month_rows(evidence, 1), model)
        for label, new in (("month", month), ("regraded", workers.regraded_first_report(month, model))):
            for draws in (int(d) for d in args.draws.split(",")):
                wall, cpu = time.perf_counter(), time.process_time()
                settings = SamplerSettings(seed=seed + 7, draws=draws)
                result = warm_refit(model, new, new.last_published, first, settings, extensions=0)
                seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
                record = workers.forecast_record(result, seconds, cpu_seconds)
                print(
                    f"seed {seed} {label} draws {draws}: wall {record['seconds']:.2f} s, "
                    f"CPU {record['cpu_seconds']:.2f} s, R-hat {record['rhat_max']:.4f}, "
                    f"ESS_bulk {record['ess_min']:.0f}, "
                    f"passed {result.converged}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
