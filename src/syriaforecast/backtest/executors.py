"""Where backtest tasks run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same function on the same task objects and returns
the results in task order; the tasks carry their own seeds, so the numbers do
not depend on the executor.

``executor`` may be

- ``"serial"``: one after another in this process. It reuses samplers this
  process has already compiled, which makes it the fastest choice for small
  backtests and for tests.
- ``"processes"`` (or ``None`` with more than one task, unless the environment
  variable ``SYRIAFORECAST_EXECUTOR`` names another choice): a
  :class:`concurrent.futures.ProcessPoolExecutor` with two workers (spawn start
  method). Each worker compiles the sampler for each model structure once (tens
  of seconds), so processes pay off for backtests of many cases.
- an ``int``: that many worker processes.
- any :class:`concurrent.futures.Executor`, used as given (not shut down).
- a ``dask.distributed.Client``: one task per case on the cluster,
  gathered in case order. Workers need syriaforecast installed. With an
  in-process cluster (``LocalCluster(processes=False)``) the threads of a
  worker take turns on the engine, so use ``threads_per_worker=1`` there and
  scale with workers.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from syriaforecast.errors import SyriaforecastError

__all__ = ["DEFAULT_WORKERS", "ENV_EXECUTOR", "describe_executor", "is_dask_client", "run_tasks"]

#: Local worker processes by default (the reference machine has two cores).
DEFAULT_WORKERS = 2
#: Environment variable naming the executor used when none is given ("serial", "processes" or a number).
ENV_EXECUTOR = "SYRIAFORECAST_EXECUTOR"


def is_dask_client(executor: Any) -> bool:
    """Whether ``executor`` is a ``dask.distributed.Client`` (checked without importing dask)."""
    return type(executor).__module__.startswith("distributed") and all(
        hasattr(executor, name) for name in ("submit", "gather")
    )


def _resolve(executor: Any, n_tasks: int) -> tuple[str, Any]:
    if executor is None:
        chosen = os.environ.get(ENV_EXECUTOR, "").strip()
        if chosen:
            try:
                return _resolve(int(chosen) if chosen.isdigit() else chosen, n_tasks)
            except SyriaforecastError as exc:
                raise SyriaforecastError(f"environment variable {ENV_EXECUTOR}: {exc}") from None
        return ("serial", None) if n_tasks <= 1 else ("processes", DEFAULT_WORKERS)
    if isinstance(executor, str):
        if executor == "serial":
            return "serial", None
        if executor == "processes":
            return "processes", DEFAULT_WORKERS
        raise SyriaforecastError(
            f"executor: got {executor!r}; expected 'serial', 'processes', a number of worker processes, "
            "a concurrent.futures.Executor or a dask.distributed.Client"
        )
    if isinstance(executor, int) and not isinstance(executor, bool):
        if executor < 1:
            raise SyriaforecastError(f"executor: got {executor}; a number of worker processes must be >= 1")
        return "processes", executor
    if isinstance(executor, cf.Executor):
        return "executor", executor
    if is_dask_client(executor):
        return "dask", executor
    raise SyriaforecastError(
        f"executor: got a {type(executor).__name__}; expected 'serial', 'processes', a number of worker "
        "processes, a concurrent.futures.Executor or a dask.distributed.Client"
    )


def describe_executor(executor: Any, n_tasks: int) -> str:
    """A short description of where ``n_tasks`` tasks run (recorded in results)."""
    kind, value = _resolve(executor, n_tasks)
    if kind == "processes":
        workers = min(value, max(n_tasks, 1))
        return f"processes ({workers} worker{'s' if workers != 1 else ''})"
    if kind == "executor":
        return type(value).__name__
    if kind == "dask":
        return f"dask ({getattr(getattr(value, 'scheduler', None), 'address', 'cluster')})"
    return "serial"


class _Progress:
    """A rich progress bar on standard error, or nothing."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self._bar: Any = None
        if not enabled or total == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cases"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, last="")

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, label: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, last=f"done: {label}")


def run_tasks[T, R](
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    executor: Any = None,
    progress: bool = False,
    labels: Sequence[str] | None = None,
    description: str = "tasks",
) -> list[R]:
    """Run ``fn`` on every task and return the results in task order.

    Parameters
    ----------
    fn : callable
        A module-level function (worker processes import it by name).
    tasks : sequence
        Picklable task objects.
    executor : None, "serial", "processes", int, Executor or dask Client
        Where to run (see the module docstring).
    progress : bool
        Show a progress bar on standard error.
    labels : sequence of str, optional
        Names of the tasks for the progress bar.
    description : str
        Text of the progress bar.

    Returns
    -------
    list
        ``[fn(task) for task in tasks]``, whatever order they finished in. The
        first task to fail re-raises its exception here (pending tasks are
        cancelled).
    """
    kind, value = _resolve(executor, len(tasks))
    names = list(labels) if labels is not None else [str(i) for i in range(len(tasks))]
    results: list[Any] = [None] * len(tasks)
    with _Progress(progress, len(tasks), description) as bar:
        if kind == "serial":
            for i, task in enumerate(tasks):
                results[i] = fn(task)
                bar.advance(names[i])
        elif kind == "processes":
            workers = max(1, min(int(value), len(tasks)))
            context = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                _collect(pool, fn, tasks, results, bar, names)
        elif kind == "executor":
            _collect(value, fn, tasks, results, bar, names)
        else:
            _run_dask(value, fn, tasks, results, bar, names)
    return results


def _collect(
    pool: cf.Executor,
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    results: list[Any],
    bar: _Progress,
    names: list[str],
) -> None:
    futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
    try:
        for future in cf.as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            bar.advance(names[i])
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _run_dask(
    client: Any,
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    results: list[Any],
    bar: _Progress,
    names: list[str],
) -> None:
    from distributed import as_completed

    token = uuid.uuid4().hex[:12]
    # Explicit unique keys: dask would otherwise hash the (large) task objects to name them.
    futures = [
        client.submit(fn, task, key=f"syriaforecast-{token}-{i}", pure=False) for i, task in enumerate(tasks)
    ]
    index = {future.key: i for i, future in enumerate(futures)}
    try:
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            bar.advance(names[i])
    except BaseException:
        client.cancel(futures)
        raise
