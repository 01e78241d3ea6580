"""A synthetic world's warm update against a fresh fit of the same evidence (issue #14).

Run from the repository root, e.g.::

    .venv/bin/python tools/refit_against_fit.py 64 0.3

Builds world ``W`` as :func:`syriaforecast.studies.convergence.convergence_study` does
(its world seed, the given reporting rate), then prints, for a default fit of the
evidence up to the study's as-of date, for the fit a month earlier and for the warm
update from it to that as-of date (``previous=``): whether it passed the convergence
check, its continuations, and the horizon mean of each scenario overall and per chain.
A refit that passes with every chain in one place while the fresh fit's chains spread
and land elsewhere is one reading of the evidence reported as converged. Used on world
64 at 30% (see :class:`syriaforecast.engine.whitening.Whitening`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from syriaforecast.spec.model import load_model
from syriaforecast.studies import convergence

BASE = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthetic_russia_syria.toml"


def _show(label: str, result: Any) -> None:
    horizon = result.horizon
    overall = np.round(horizon.mean(("chain", "draw")).values, 3).tolist()
    chains = np.round(horizon.mean("draw").values, 3).tolist()
    extensions = result.attrs.get("sampler_extensions", 0)
    print(f"{label}: converged {result.converged}, continuations {extensions}, mean {overall}")
    print(f"    chains {chains}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=int)
    parser.add_argument("rate", type=float, help="monthly reporting rate, e.g. 0.3")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = load_model(BASE)
    (world,) = convergence.study_worlds(model, report_rate=args.rate, n_worlds=1, first_world=args.world)
    as_of = convergence._as_of(model, 1)
    quiet = convergence._quiet
    _show("fresh fit", quiet(world.model, world.evidence, as_of=as_of, seed=args.world))
    previous = quiet(world.model, world.evidence, as_of=convergence._as_of(model, 2), seed=args.world)
    _show("fit a month earlier", previous)
    update = quiet(world.model, world.evidence, as_of=as_of, seed=args.world + 100_000, previous=previous)
    _show(f"warm update ({update.update_path})", update)


if __name__ == "__main__":
    main()
