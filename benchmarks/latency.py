"""Section 1: update latency on the bundled model, against rebuilding a PyMC model each time.

Also runs the engine probe (where the time goes, what cheap changes would save)
and checks the library's own Numba cache for stale compiled code.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    ChildCPU,
    child_env,
    log,
    numba_cache_dir,
    run_process,
    run_worker,
    save_result,
    section_clock,
)


def run(
    *,
    repeats: int = 3,
    warm: int = 2,
    naive_repeats: int = 2,
    naive_warm: int = 1,
    probe: bool = True,
    quick: bool = False,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "repeats": repeats,
        "warm_per_process": warm,
        "naive_repeats": naive_repeats,
        "naive_warm_per_process": naive_warm,
    }
    with section_clock(record):
        # A first run on a new machine (or after an upgrade) compiles the kernels.
        cache = numba_cache_dir()
        fresh_cache = not cache.exists()
        scratch = None if fresh_cache else Path(tempfile.mkdtemp(prefix="sf-bench-numba-"))
        log(f"latency: first run with an empty kernel cache ({'private' if fresh_cache else 'scratch'})")
        env = child_env(NUMBA_CACHE_DIR=str(cache if fresh_cache else scratch))
        with ChildCPU() as used:
            first = run_worker("cold", {"warm": 0, "seed": 100}, env=env)
        first["process_cpu"] = used.seconds
        record["first_run_empty_cache"] = first
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

        cold = []
        for r in range(repeats):
            log(f"latency: cold process {r + 1}/{repeats} (+{warm} warm updates)")
            with ChildCPU() as used:
                result = run_worker("cold", {"warm": warm, "seed": 1 + 10 * r})
            result["process_cpu"] = used.seconds
            cold.append(result)
        record["cold"] = cold

        cli = []
        exe = str(Path(sys.executable).with_name("syriaforecast"))
        for r in range(repeats):
            log(f"latency: fresh `syriaforecast forecast` {r + 1}/{repeats}")
            with ChildCPU() as used:
                result = run_process([exe, "forecast", "--json", "--seed", str(1 + r)])
            payload = json.loads(result["stdout"])
            cli.append(
                {
                    "process_wall": result["process_wall"],
                    "process_cpu": used.seconds,
                    "diagnostics": payload["diagnostics"],
                }
            )
        record["cli"] = cli

        naive = []
        for r in range(naive_repeats):
            log(f"latency: naive PyMC route {r + 1}/{naive_repeats} (+{naive_warm} warm)")
            with ChildCPU() as used:
                result = run_worker("naive", {"warm": naive_warm, "seed": 1 + 10 * r}, timeout=1500)
            result["process_cpu"] = used.seconds
            naive.append(result)
        record["naive"] = naive

        if probe:
            log("latency: engine probe (gradient counts, per-call costs, draws grid, PSIS update)")
            try:
                record["probe"] = run_worker("engine_probe", {"quick": quick}, timeout=1500)
            except RuntimeError as exc:  # the probe leans on engine internals; keep the timings above
                record["probe"] = {}
                record["probe_error"] = str(exc)[-2000:]
            log("latency: the library's default Numba cache (stale-code check)")
            env = {k: v for k, v in child_env().items() if k != "NUMBA_CACHE_DIR"}
            try:
                record["stale_cache"] = run_worker("stale_cache", {}, env=env)
            except RuntimeError as exc:
                record["stale_cache"] = {"error": str(exc)[-500:]}
    save_result("latency", record)
    return record
