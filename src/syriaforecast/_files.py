"""Bounded reading of user files: regular files only, never more than a documented cap.

Every file a user hands to the library (model TOML, elicitation CSV, evidence
CSV, saved forecast, backtest outcome) is read through :func:`read_bounded`:

- the path is checked with ``stat`` first and anything but a regular file
  (a device such as ``/dev/zero``, a FIFO, a socket, a folder) is refused
  before it is opened, so nothing blocks or streams forever;
- the file is opened non-blocking and checked again on the open descriptor
  (a path swapped for a FIFO between the two checks is still refused);
- at most the cap plus one byte is read, so a file that grows while it is
  read, or whose reported size is wrong, cannot exhaust memory.

Caps (bytes), and the environment variables that change them:

==============  ==================================  =========
file kind       environment variable                default
==============  ==================================  =========
model           ``SYRIAFORECAST_MAX_MODEL_BYTES``         32 MiB
elicitations    ``SYRIAFORECAST_MAX_ELICITATION_BYTES``   64 MiB
evidence        ``SYRIAFORECAST_MAX_EVIDENCE_BYTES``     256 MiB
forecast        ``SYRIAFORECAST_MAX_FORECAST_BYTES``       1 GiB
outcome         ``SYRIAFORECAST_MAX_OUTCOME_BYTES``        1 MiB
==============  ==================================  =========

Values are whole numbers of bytes, optionally with a ``K``, ``M`` or ``G``
suffix (powers of 1024). :func:`~syriaforecast.load_forecast` also takes
``max_bytes=``.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from syriaforecast.errors import Problem, SyriaforecastError

__all__ = ["LIMITS", "FileRefusedError", "byte_limit", "read_bounded"]

_MiB = 1024 * 1024
#: File kind -> (environment variable, default cap in bytes).
LIMITS: dict[str, tuple[str, int]] = {
    "model": ("SYRIAFORECAST_MAX_MODEL_BYTES", 32 * _MiB),
    "elicitations": ("SYRIAFORECAST_MAX_ELICITATION_BYTES", 64 * _MiB),
    "evidence": ("SYRIAFORECAST_MAX_EVIDENCE_BYTES", 256 * _MiB),
    "forecast": ("SYRIAFORECAST_MAX_FORECAST_BYTES", 1024 * _MiB),
    "outcome": ("SYRIAFORECAST_MAX_OUTCOME_BYTES", 1 * _MiB),
}
_SIZE = re.compile(r"\s*(\d{1,15})\s*([KMG]?)(?:i?B)?\s*", re.IGNORECASE)
_CHUNK = 1 << 20


class FileRefusedError(SyriaforecastError):
    """A file :func:`read_bounded` would not read; :attr:`problem` says why (callers re-raise it)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def byte_limit(kind: str, given: int | None = None) -> int:
    """The cap in bytes for a file kind: ``given``, else its environment variable, else the default.

    Raises
    ------
    SyriaforecastError
        The environment variable (or ``given``) is not a positive size.
    """
    variable, default = LIMITS[kind]
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise SyriaforecastError(f"max_bytes = {given!r}: expected a whole number of bytes >= 1")
        return given
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    match = _SIZE.fullmatch(text)
    value = int(match.group(1)) * 1024 ** "_KMG".index(match.group(2).upper() or "_") if match else 0
    if value < 1:
        raise SyriaforecastError(
            f"environment variable {variable}={text!r}: expected a size in bytes >= 1 "
            "(a whole number, optionally with K, M or G: 64M)"
        )
    return value


def _kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_bounded(
    path: str | Path,
    kind: str,
    error: Callable[[Problem], Exception],
    *,
    max_bytes: int | None = None,
    label: str | None = None,
) -> bytes:
    """Read a user file of ``kind`` whole, refusing non-regular files and files over the cap.

    Parameters
    ----------
    path : str or Path
        The file.
    kind : str
        A key of :data:`LIMITS`.
    error : callable
        Makes the exception to raise from a :class:`~syriaforecast.errors.Problem`.
    max_bytes : int, optional
        The cap; default from the environment variable of ``kind``.
    label : str, optional
        The file's name in messages (default ``str(path)``).

    Returns
    -------
    bytes
    """
    cap = byte_limit(kind, max_bytes)
    name = label if label is not None else str(path)
    variable = LIMITS[kind][0]
    allowed = f"a regular {kind} file of at most {cap} bytes (the cap is set by {variable})"

    def refuse(field: str, value: str, why: str = allowed) -> Exception:
        return error(Problem(name, "", field, value, why))

    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise refuse("file", name, _unreadable(exc)) from None
    what = _kind_of(info.st_mode)
    if what is not None:
        raise refuse("file type", what)
    if info.st_size > cap:
        raise refuse("file size", f"{info.st_size} bytes")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise refuse("file", name, _unreadable(exc)) from None
    try:
        what = _kind_of(os.fstat(fd).st_mode)
        if what is not None:  # swapped between the two checks
            raise refuse("file type", what)
        chunks: list[bytes] = []
        total = 0
        while total <= cap:
            chunk = os.read(fd, min(_CHUNK, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise refuse("file", name, _unreadable(exc)) from None
    finally:
        os.close(fd)
    if total > cap:
        raise refuse("file size", f"more than {cap} bytes")
    return b"".join(chunks)


def _unreadable(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
        return f"cannot be read ({reason})"
    return "cannot be read (invalid path)"
