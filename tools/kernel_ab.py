"""Time the compiled density of two versions of ``engine/kernel.py`` against each other (issue #14).

Run from the repository root, e.g. with an edited copy of the kernel::

    .venv/bin/python tools/kernel_ab.py src/syriaforecast/engine/kernel.py /tmp/kernel_edited.py

Both files are loaded as separate modules in one process, and each one's
``log_density_and_gradient`` is called in a compiled loop over 64 random points of the
bundled model (the arguments the sampler passes). The two loops alternate for
``--rounds`` rounds and each keeps its fastest: this 2-core machine's speed drifts by
tens of percent from minute to minute. Alternating A/A runs (the same file twice)
agreed to 0.1-2% with one single-threaded job beside them, but to 14% beside a
two-threaded sampler: time on an otherwise idle machine. The values and gradients of
the two versions are compared first, so an edit that changes the maths shows at once
(an ablation, which does, is still timed).

Measured with it (2026-12-02, bundled model, 211 coordinates; A = the kernel of commit
07cdf50, about 60 µs per call): leaving out the coupled components' exact sum (B/A
0.83), the gradient's loop over cells (0.88) or the level probabilities' sigmoids (0.85)
each saves 12-17%; Numba's ``error_model="numpy"`` on every kernel function saves
nothing (1.00). No one part dominates.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import workers


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _loop(density: Any, n_args: int) -> Any:
    # A compiled loop with the density's arguments spelled out: Numba takes no *args tuple of
    # mixed arrays and scalars here, and a Python loop would time the dispatcher instead.
    names = ", ".join(f"a{i}" for i in range(n_args))
    source = (
        f"def loop(n, points, {names}):\n"
        "    total = 0.0\n"
        "    for k in range(n):\n"
        f"        value, grad = density(points[k % points.shape[0]], {names})\n"
        "        total += value + grad.sum()\n"
        "    return total\n"
    )
    namespace: dict[str, Any] = {"density": density}
    exec(source, namespace)
    return numba.njit(namespace["loop"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="a kernel.py")
    parser.add_argument("b", type=Path, help="another kernel.py")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000, help="calls per round")
    args = parser.parse_args()

    density_args, points = workers.bundled_density_points()

    modules = [_load(path, f"_kernel_{tag}") for tag, path in (("a", args.a), ("b", args.b))]
    first = [[m.log_density_and_gradient(x, *density_args) for x in points[:8]] for m in modules]
    d_value = max(abs(p[0] - q[0]) for p, q in zip(*first, strict=True))
    d_grad = max(float(np.abs(p[1] - q[1]).max()) for p, q in zip(*first, strict=True))
    print(f"largest difference over 8 points: value {d_value:.3g}, gradient {d_grad:.3g}")

    loops = [_loop(m.log_density_and_gradient, len(density_args)) for m in modules]
    for loop in loops:
        loop(points.shape[0], points, *density_args)  # compile (or load) before timing
    best = [np.inf, np.inf]
    for _ in range(args.rounds):
        for k, loop in enumerate(loops):
            start = time.perf_counter()
            loop(args.calls, points, *density_args)
            best[k] = min(best[k], (time.perf_counter() - start) / args.calls)
    print(f"A {best[0] * 1e6:.1f} µs per call, B {best[1] * 1e6:.1f} µs, B/A {best[1] / best[0]:.3f}")


if __name__ == "__main__":
    main()
