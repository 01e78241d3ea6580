"""Telling the user when the engine's kernels are being compiled (a machine's first forecast).

The engine's Numba kernels are compiled once per machine into an on-disk cache:
on this project's 2-core machine a first forecast of the bundled model with empty
caches took 71-111 s on 2026-12-02 (benchmarks/RESULTS.md), and every later process
loads them in about a second. Without a word, that wait looks like a hang, in a
notebook as at the command line. The command line shows it in its spinner
(:mod:`syriaforecast._console`); the library says it once through its logger,
which, as PyMC's does, prints to standard error unless the application
configures logging itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["COMPILING_NOTICE", "LOGGER_NAME", "announcing_compilation", "library_logger", "on_first_compile"]

#: The library's logger (``logging.getLogger("syriaforecast")``).
LOGGER_NAME = "syriaforecast"
#: What a forecast logs when the engine starts compiling.
COMPILING_NOTICE = (
    "syriaforecast: compiling the engine's kernels once for this machine (a few minutes); "
    "later forecasts load them from the cache"
)


def library_logger() -> logging.Logger:
    """The library's logger, shown on standard error at INFO unless logging is configured.

    As PyMC does for its own: when the application has configured no handler on the
    root logger, this logger gets a plain stream handler and level INFO, so a notebook
    shows its messages; an application that configures logging decides instead.
    """
    logger = logging.getLogger(LOGGER_NAME)
    # Left alone once anyone has set its level or a handler (the command line sets WARNING).
    if not logging.root.handlers and not logger.handlers and logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler())
    return logger


@contextmanager
def on_first_compile(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` once, when Numba first compiles a function inside the block.

    Numba announces a compilation (``"numba:compile"``) only when a function is
    not in its on-disk cache, so with warm caches the callback is never called.
    """
    from numba.core import event

    class _FirstCompile(event.Listener):
        called = False

        def on_start(self, ev: event.Event) -> None:
            if not self.called:
                self.called = True
                callback()

        def on_end(self, ev: event.Event) -> None:
            pass

    with event.install_listener("numba:compile", _FirstCompile()):
        yield


@contextmanager
def announcing_compilation() -> Iterator[None]:
    """Log :data:`COMPILING_NOTICE` (INFO, :func:`library_logger`) if the block compiles a kernel."""
    logger = library_logger()
    with on_first_compile(lambda: logger.info(COMPILING_NOTICE)):
        yield
