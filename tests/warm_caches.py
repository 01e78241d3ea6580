"""Compile the engine's kernels before parallel test workers start (``make test`` runs pytest-xdist).

Numba caches compiled kernels beside their sources (``__pycache__``), so on a fresh
clone, as in CI, the first test that reaches a kernel compiles it: about a minute
and a half for a first hierarchical forecast on this project's 2-core machines.
Two workers reaching the same kernel at once would both compile it. The controller
runs this script once per part, both parts at the same time, before any worker
starts; the workers then load what it compiled. Run by hand:
``python tests/warm_caches.py sampled`` (or ``python``).

Parts:

- ``sampled``: a short hierarchical forecast of the bundled model (the compiled
  callback, the batch kernels that expand and evaluate draws) and its exact forecast;
- ``python``: the density through the kernel's dispatcher, as the Python-function
  sampler route and the kernel tests call it, and a short forecast on that route.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TINY = Path(__file__).resolve().parent / "data" / "tiny"


def sampled() -> None:
    import syriaforecast as sf

    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    sf.forecast(model, evidence, draws=20, tune=20, chains=2, seed=0)
    sf.forecast(model, evidence, exact=True)


def python() -> None:
    from syriaforecast.engine.callback import CALLBACK_ENV

    os.environ[CALLBACK_ENV] = "0"
    import syriaforecast as sf

    model = sf.load_model(TINY / "model.toml")
    evidence = sf.load_evidence(TINY / "evidence.csv", model)
    sf.forecast(model, evidence, draws=20, tune=20, chains=2, seed=0)


PARTS = {"sampled": sampled, "python": python}

if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # a 20-draw fit's convergence warning says nothing here
    PARTS[sys.argv[1]]()
