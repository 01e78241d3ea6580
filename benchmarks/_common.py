"""Shared plumbing for the benchmarks: environment, timing, subprocess workers, result files.

Every section writes its raw figures to ``benchmarks/results/<section>.json``, which is
committed beside the report; ``run.py`` renders ``benchmarks/RESULTS.md`` and
``benchmarks/HEADLINE.md`` from those files, so one section can be re-run on its own
(``run.py --sections scaling``), on any clone, and the report regenerated with every
other section's last figures kept. ``out/bench`` holds only what is private to this
machine (the benchmarks' kernel cache, temporary files).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
OUT = ROOT / "out" / "bench"
#: The last result of each section (small JSON, committed): RESULTS.md is rendered from them.
RECORDS = BENCH / "results"
MODEL = ROOT / "src" / "syriaforecast" / "data" / "russia_syria.toml"
EVIDENCE = ROOT / "src" / "syriaforecast" / "data" / "russia_syria_evidence.csv"
ENGINE = ROOT / "src" / "syriaforecast" / "engine"
PYTHON = sys.executable


# --------------------------------------------------------------------------- numba cache
def engine_source_hash() -> str:
    """Hash of the engine's source: a change anywhere in it gets a fresh kernel cache."""
    digest = hashlib.sha256()
    for path in sorted(ENGINE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def numba_cache_dir() -> Path:
    """The benchmarks' private Numba cache, keyed by the engine source.

    Numba's on-disk cache checks only the timestamp of the file that defines a
    function, not the files of the functions it calls, so a cached
    ``density.log_density_and_gradient`` can keep running an older
    ``kernel.py`` (see the engine section of RESULTS.md). Keying a private cache
    directory by the hash of the whole engine makes every run measure the
    current code, and lets the first process of a run measure the one-off
    compilation a new machine (or an upgrade) pays.
    """
    return OUT / "numba_cache" / engine_source_hash()


def configure_environment() -> None:
    """Point Numba at the private cache (before numba is imported) and keep BLAS single-threaded."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    # The sampler runs two chains on the two cores; a multi-threaded BLAS would fight it.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = os.environ.get("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    env.update(extra)
    return env


# --------------------------------------------------------------------------- timing
def now() -> float:
    return time.perf_counter()


def cpu() -> float:
    """CPU seconds of this process (all threads), user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return [math.nan] * 3


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else math.nan


def time_call(
    fn: Callable[[], Any], *, repeat: int = 5, number: int | None = None, budget: float = 0.5
) -> dict[str, float]:
    """Median and minimum seconds per call over ``repeat`` batches of ``number`` calls.

    ``number`` defaults to as many calls as fit in ``budget`` seconds per batch.
    """
    fn()
    if number is None:
        start = now()
        fn()
        one = max(now() - start, 1e-7)
        number = max(1, min(100_000, int(budget / one)))
    per_call = []
    for _ in range(repeat):
        start = now()
        for _ in range(number):
            fn()
        per_call.append((now() - start) / number)
    return {"median": statistics.median(per_call), "min": min(per_call), "number": number, "repeat": repeat}


@contextmanager
def section_clock(record: dict[str, Any]):
    """Record the wall time and the load average at the start and end of a section."""
    record["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    record["load_start"] = loadavg()
    start = now()
    try:
        yield record
    finally:
        record["seconds"] = now() - start
        record["load_end"] = loadavg()


# --------------------------------------------------------------------------- subprocess workers
def run_worker(
    task: str, args: dict[str, Any] | None = None, *, timeout: float = 900, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``benchmarks/workers.py task`` in a fresh interpreter and return its JSON result.

    The parent adds the wall time of the whole process (interpreter start
    included); wrap the call in :class:`ChildCPU` for its CPU time.
    """
    cmd = [PYTHON, str(BENCH / "workers.py"), task, json.dumps(args or {})]
    return run_process(cmd, timeout=timeout, env=env, parse_json=True)


def run_process(
    cmd: Sequence[str], *, timeout: float = 900, env: dict[str, str] | None = None, parse_json: bool = False
) -> dict[str, Any]:
    start = now()
    proc = subprocess.Popen(
        list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or child_env(), cwd=ROOT
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise RuntimeError(f"{' '.join(cmd[:3])} timed out after {timeout} s") from None
    wall = now() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{stderr.decode(errors='replace')[-3000:]}"
        )
    result: dict[str, Any] = {}
    if parse_json:
        lines = [ln for ln in stdout.decode().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"{cmd[2]}: no JSON on stdout:\n{stdout.decode()[-2000:]}")
        result = json.loads(lines[-1])
    else:
        result["stdout"] = stdout.decode(errors="replace")
    result["process_wall"] = wall
    return result


class ChildCPU:
    """CPU seconds used by child processes between enter and exit."""

    def __enter__(self) -> ChildCPU:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._start = usage.ru_utime + usage.ru_stime
        return self

    def __exit__(self, *exc: object) -> None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.seconds = usage.ru_utime + usage.ru_stime - self._start


# --------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(float(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return math.nan


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in (
        "syriaforecast",
        "numpy",
        "scipy",
        "numba",
        "nutpie",
        "pymc",
        "pytensor",
        "arviz-stats",
        "xarray",
        "pandas",
        "hmmlearn",
    ):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "git": _git(),
        "versions": versions,
        "engine_hash": engine_source_hash(),
        "load": loadavg(),
    }


# --------------------------------------------------------------------------- results
def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through the library's atomic rename: never half a file."""
    from syriaforecast._io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def save_result(name: str, data: dict[str, Any]) -> Path:
    """Write a section's record to ``benchmarks/results/<name>.json`` (atomically)."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, default=_json_default) + "\n"
    return write_text_atomic(RECORDS / f"{name}.json", text)


def load_result(name: str) -> dict[str, Any] | None:
    """A section's last record, or ``None`` if it was never run.

    Records were kept in ``out/bench`` (not committed) until 2026-12-03, so a fresh clone
    rendered RESULTS.md without the sections it had not run; one found there is still read.
    """
    for path in (RECORDS / f"{name}.json", OUT / f"{name}.json"):
        if path.exists():
            return json.loads(path.read_text())
    return None


def find_block(markdown: str, start: str, end: str) -> str:
    """The text of ``markdown`` from ``start`` to ``end``, markers included, or ``""`` without one."""
    if start not in markdown or end not in markdown:
        return ""
    first = markdown.index(start)
    return markdown[first : markdown.index(end, first) + len(end)]


def splice_block(markdown: str, block: str, start: str, end: str, *, before: str | None = None) -> str:
    """``markdown`` with the text from ``start`` to ``end`` replaced by ``block``.

    ``block`` carries its own markers. When ``markdown`` has no such block, ``block`` goes
    before the heading ``before`` if given and present, else at the end.
    """
    if start in markdown and end in markdown:
        head, rest = markdown.split(start, 1)
        return head + block + rest.split(end, 1)[1]
    if before is not None and before in markdown:
        head, tail = markdown.split(before, 1)
        return head + block + "\n\n" + before + tail
    return markdown.rstrip() + "\n\n" + block + "\n"


def write_results_block(block: str, start: str, end: str, *, before: str | None = None) -> Path:
    """Splice ``block`` into ``benchmarks/RESULTS.md`` (see :func:`splice_block`), atomically."""
    path = BENCH / "RESULTS.md"
    markdown = path.read_text() if path.exists() else ""
    return write_text_atomic(path, splice_block(markdown, block, start, end, before=before))


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:
        pass
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp} load {loadavg()[0]:.1f}] {message}", file=sys.stderr, flush=True)
