r"""User text in renderers: shown as written, never interpreted.

Model titles, scenario and indicator names, case names and error messages come
from users. Rich reads ``[...]`` as markup and ``:name:`` as emoji codes;
matplotlib reads text between two ``$`` as mathtext. A name such as
``Oil [above] 100``, ``[/x]`` or ``$\frac{1$`` must print as written, not
vanish, style the output or crash the renderer. So:

- the CLI's consoles are made by :func:`console` with markup and emoji off,
  and styled fragments are built with :func:`styled` (rich ``Text`` objects,
  whose content is never parsed);
- figures are built and saved inside :func:`plain_text_figures`, which turns
  matplotlib's mathtext off for every text artist created there.

The HTML report escapes with :func:`html.escape`, as before.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, cast

__all__ = ["console", "plain_text", "plain_text_figures", "raise_on_closed_pipe", "styled"]


def console(*, stderr: bool = False) -> Any:
    """A rich Console that prints every string as written (no markup, emoji or highlighting).

    Tables, titles and messages given as ``str`` are shown verbatim, so user
    text cannot break or restyle the output; use :func:`styled` for colour.
    """
    from rich.console import Console

    return raise_on_closed_pipe(Console(stderr=stderr, markup=False, emoji=False, highlight=False))


def raise_on_closed_pipe(console: Any) -> Any:
    """``console`` raising :class:`BrokenPipeError` when its reader closed the pipe (``... | head``).

    Rich's own handling exits with status 1, the status of an internal error;
    :func:`syriaforecast.cli.main` turns the BrokenPipeError into the quiet exit
    with status 141 that a shell expects after a reader closed the pipe early.
    """

    def closed() -> None:
        console.quiet = True  # nothing more to write anywhere
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    console.on_broken_pipe = closed  # rich calls it from its write's `except BrokenPipeError`
    return console


def styled(*parts: str | tuple[str, str]) -> Any:
    """A rich ``Text`` from plain strings and ``(text, style)`` pairs; the text is never parsed.

    Examples
    --------
    >>> print(styled(("error:", "bold red"), " [/x] is shown as written").plain)
    error: [/x] is shown as written
    """
    from rich.text import Text

    return Text.assemble(*parts)


@contextlib.contextmanager
def plain_text_figures() -> Iterator[None]:
    """Build (and save) figures in here: text artists show ``$`` literally, never as mathtext."""
    import matplotlib as mpl

    with mpl.rc_context({"text.parse_math": False, "text.usetex": False}):
        yield


def plain_text[F: Callable[..., Any]](function: F) -> F:
    """Decorate a figure-making function so that its text artists never parse mathtext."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with plain_text_figures():
            return function(*args, **kwargs)

    return cast(F, wrapper)
