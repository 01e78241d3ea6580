"""Density evaluations of a default fit of the bundled model, and steps per draw by target_accept (#14).

Usage, from the repository root::

    .venv/bin/python tools/steps_per_draw.py --accept 0.9 0.8 0.7 --seeds 1 2 3

For each target acceptance and seed, one fit of the bundled model at the default draws and
tuning, with every density evaluation counted (``benchmarks/workers.GradientCounter``, which
runs the sampler through the Python callback: the same trajectories as the compiled route).
Prints the evaluations in all and in the draws, the mean leapfrog steps per draw, the
share of draws at each tree depth, the median step size, and the largest R-hat and smallest
ESS_bulk over every reported probability. The counts do not depend on the machine's load.

With ``--normal`` it samples, at the same settings, a standard normal of the bundled model's
dimension (PyMC and nutpie), the best-conditioned target there is: NUTS's own floor of
steps per draw at that dimension and target acceptance, for comparison. Measured
2026-12-02: at 211 dimensions and target_accept 0.9 every draw of the standard normal took
15 steps too (tree depth 4, step size 0.33 against the bundled model's 0.25), so no mass
matrix can make the bundled model's draws cheaper in evaluations; at 0.8 the normal's took
9.7 (step size 0.45) and the bundled model's stayed at 15 (0.31-0.33).
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
    parser.add_argument("--normal", action="store_true", help="also a standard normal of the same dimension")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    if args.normal:
        _standard_normal(args.accept, args.seeds)
    for accept in args.accept:
        for seed in args.seeds:
            with workers.GradientCounter() as counter:
                result = sf.forecast(model, evidence, seed=seed, target_accept=accept)
            steps = np.asarray(result.sample_stats["n_steps"])
            shares = _depth_shares(result.sample_stats["depth"])
            step = float(np.median(np.asarray(result.sample_stats["step_size"])))
            record = workers.forecast_record(result, 0.0, 0.0)
            print(
                f"target_accept {accept} seed {seed}: {counter.calls} evaluations, {int(steps.sum())} in the "
                f"draws ({steps.mean():.2f} per draw; {shares}), step size {step:.3f}, largest R-hat "
                f"{record['rhat_max']:.4f}, "
                f"smallest ESS_bulk {record['ess_min']:.0f}",
                flush=True,
            )


def _depth_shares(depth: object) -> str:
    """The share of draws at each tree depth, e.g. ``depth 4: 1.000``."""
    values, count = np.unique(np.asarray(depth), return_counts=True)
    return ", ".join(f"depth {d}: {c / count.sum():.3f}" for d, c in zip(values, count, strict=True))


def _standard_normal(accepts: list[float], seeds: list[int]) -> None:
    import nutpie
    import pymc as pm

    from syriaforecast.engine.run import DEFAULT_DRAWS, DEFAULT_TUNE

    ndim = workers.bundled_density_points(1)[1].shape[1]  # the sampler's coordinates of the bundled model
    with pm.Model() as normal:
        pm.Normal("x", 0.0, 1.0, shape=ndim)
    compiled = nutpie.compile_pymc_model(normal, backend="numba")
    for accept in accepts:
        for seed in seeds:
            trace = nutpie.sample(
                compiled, draws=DEFAULT_DRAWS, tune=DEFAULT_TUNE, chains=4, cores=2, target_accept=accept,
                seed=seed, progress_bar=False,
            )  # fmt: skip
            stats = trace.sample_stats
            shares = _depth_shares(stats["depth"])
            print(
                f"standard normal, {ndim} dimensions, target_accept {accept} seed {seed}: "
                f"{float(stats['n_steps'].mean()):.2f} steps per draw ({shares}), "
                f"step size {float(stats['step_size'].median()):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
