"""Density evaluations of a default fit of the bundled model, and steps per draw by target_accept (#14).

Usage, from the repository root::

    .venv/bin/python tools/steps_per_draw.py --accept 0.9 0.8 0.7 --seeds 1 2 3

For each target acceptance and seed, one fit of the bundled model at the default draws and
tuning, with every density evaluation counted (``benchmarks/workers.GradientCounter``, which
runs the sampler through the Python callback: the same trajectories as the compiled route).
Prints the evaluations in all and in the draws, the mean leapfrog steps per draw, the
share of draws at each tree depth, the median step size, and the largest R-hat and smallest
ESS_bulk over every reported probability. The counts do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import workers

import syriaforecast as sf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accept", type=float, nargs="+", default=[0.9])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    for accept in args.accept:
        for seed in args.seeds:
            with workers.GradientCounter() as counter:
                result = sf.forecast(model, evidence, seed=seed, target_accept=accept)
            steps = np.asarray(result.sample_stats["n_steps"])
            depth, count = np.unique(np.asarray(result.sample_stats["depth"]), return_counts=True)
            shares = ", ".join(f"depth {d}: {c / count.sum():.3f}" for d, c in zip(depth, count, strict=True))
            step = float(np.median(np.asarray(result.sample_stats["step_size"])))
            record = workers.forecast_record(result, 0.0, 0.0)
            print(
                f"target_accept {accept} seed {seed}: {counter.calls} evaluations, {int(steps.sum())} in the "
                f"draws ({steps.mean():.2f} per draw; {shares}), step size {step:.3f}, largest R-hat "
                f"{record['rhat_max']:.4f}, "
                f"smallest ESS_bulk {record['ess_min']:.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
