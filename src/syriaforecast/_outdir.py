"""Output folders written whole: the set of files of one run, or none of it.

``forecast --out DIR`` writes forecast.nc, the plots and report.html; a backtest
writes its result, tables and plots. Written file by file into ``DIR``, two
runs at once could leave one run's forecast beside the other's report, and a
crash half-way would leave a mixed set. So :func:`staged_folder` writes into a
temporary sibling folder and then swaps it in with a rename: a reader sees the
old set or the new one, never a mix. The old folder is moved aside first and
deleted only once the new one is in place (and put back if the swap fails).

Because the folder is replaced as a whole, :func:`check_out_folder` (called
before any work) refuses an existing folder that holds files syriaforecast did
not write, and any folder it cannot write in; an output folder carries a
marker file, ``.syriaforecast-output``, which lists the files the run wrote. A
folder with anything else in it (an analyst's notes, a journal issued into it)
is refused, so replacing the set can never delete what a user saved there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from syriaforecast.errors import SyriaforecastError

__all__ = ["MARKER", "check_out_folder", "check_writable", "staged_folder"]

MARKER = ".syriaforecast-output"
#: Files of earlier versions' output sets (before the marker): folders of only these are ours too.
_OUR_SUFFIXES = (".nc", ".png", ".html", ".csv", ".json")
_SWAP_ATTEMPTS = 20


def _foreign(folder: Path) -> list[str]:
    """What in ``folder`` no run of syriaforecast wrote (names relative to it; empty: ours to replace)."""
    # Decided from one listing: another run may swap the folder between two looks at it, and a
    # second look (``(folder / MARKER).is_file()``) could then find nothing where the listing
    # showed our marker.
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:  # moved aside by another run's swap: nothing of the user's is there
        return []
    if not entries:
        return []
    if not any(p.name == MARKER for p in entries):
        # No marker: not a folder syriaforecast wrote (or one from before markers, which the user
        # can clear). A folder of CSVs may be the very evidence this run reads.
        return sorted(p.name for p in entries)
    try:
        written = _written(folder / MARKER)
    except FileNotFoundError:  # swapped out after the listing showed our marker: as above
        return []
    if written is None:  # a damaged marker: what it listed is unknown, so nothing is taken as ours
        return sorted(p.name for p in entries if p.name != MARKER)
    if written == _OLD_MARKER:
        # A marker of an earlier version (no list): its set was the top-level files of our kinds.
        ours = lambda p: p.is_file() and p.suffix in _OUR_SUFFIXES and not p.name.startswith(".")  # noqa: E731
        return sorted(p.name for p in entries if p.name != MARKER and not ours(p))
    # Everything in the folder must be a file the run listed, the marker aside: anything else
    # was put there afterwards, and replacing the folder would delete it.
    found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != MARKER}
    extra = found - written
    # A folder added is named once, not with each file in it.
    return sorted(name for name in extra if str(Path(name).parent) not in extra)


#: What :func:`_written` returns for a marker of an earlier version, which listed no files.
_OLD_MARKER: frozenset[str] = frozenset({"\0 no list"})


def _written(marker: Path) -> frozenset[str] | None:
    """The files a marker lists (relative to its folder), or what else the marker is.

    :data:`_OLD_MARKER` for an earlier version's marker (JSON without a list), None for a
    damaged one. Raises ``FileNotFoundError`` when the marker is gone (its folder swapped away).
    """
    try:
        record = json.loads(marker.read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "written" not in record:
        return None
    files = record.get("files")
    if files is None:
        return _OLD_MARKER
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return frozenset(files)


def _kind(path: Path) -> str:
    """``"folder"``, ``"absent"`` or ``"other"`` (a file, a link to nothing, ...), from a single look.

    Another run's swap moves the folder aside and renames its new one in, so for an
    instant the path is absent. Separate questions (exists? is a folder? exists?) could
    straddle that instant and take a folder for a file: the answer comes from one
    ``stat`` (which follows links), and only when that finds nothing from one ``lstat``.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return "absent"
        if stat.S_ISLNK(mode):
            return "other"  # a link to nothing
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "other"  # links that lead back to themselves
        raise
    return "folder" if stat.S_ISDIR(mode) else "other"


def check_out_folder(out: str | Path, *, option: str = "--out") -> Path:
    """Refuse an output folder that cannot be written, or that holds files this library did not write.

    Creates nothing; writes and removes one temporary folder beside ``out`` to
    prove the parent is writable (permission bits do not tell for root or ACLs).

    Raises
    ------
    SyriaforecastError
        Naming the folder and what is wrong.
    """
    out = Path(out)
    name = f"{option} = {str(out)!r}"
    if out.name in ("", ".", ".."):
        out = out.resolve()
    if os.path.islink(out):  # one lstat; a folder absent for an instant is not a link
        # The swap renames the link, not the folder it points to: refused now, not after the work.
        raise SyriaforecastError(
            f"{name}: is a symbolic link (to {os.readlink(out)}); give a folder's own path, since "
            "the output set replaces the path as a whole"
        )
    kind = _kind(out)
    if kind == "other":
        raise SyriaforecastError(f"{name}: exists and is not a folder")
    foreign = _foreign(out) if kind == "folder" else []
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise SyriaforecastError(
            f"{name}: the folder holds files syriaforecast did not write ({shown}); the output set "
            "replaces the folder as a whole, so give a new or empty folder (or one an earlier run "
            "wrote, with nothing added)"
        )
    check_writable(out.parent, name, probe=f".{out.name}.probe-")
    return out


def check_writable(
    start: Path, name: str, *, probe: str, error: type[SyriaforecastError] = SyriaforecastError
) -> None:
    """Refuse, as ``error`` naming ``name``, a place where a folder cannot be created at or under ``start``.

    The nearest existing folder from ``start`` up must be a folder and take a new entry: one
    temporary folder (``probe`` its name's prefix) is made there and removed, since permission
    bits do not tell for root or ACLs.
    """
    parent = start
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise error(f"{name}: {parent} is not a folder")
    try:
        made = tempfile.mkdtemp(prefix=probe, dir=parent)
    except OSError as exc:
        raise error(f"{name}: cannot write in {parent} ({exc.strerror})") from None
    os.rmdir(made)


@contextlib.contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success swap it in as ``out``, whole.

    On any exception the temporary folder is removed and ``out`` is untouched.
    """
    out = check_out_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)  # mkdtemp makes 0700; an output folder gets the usual mode
    try:
        yield stage
        files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
        marker = {
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": os.getpid(),
            "files": files,  # the set, so a later run can tell what a user added (_foreign)
        }
        (stage / MARKER).write_text(json.dumps(marker) + "\n")
        _swap_in(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, out: Path) -> None:
    for _ in range(_SWAP_ATTEMPTS):
        aside: Path | None = None
        if out.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            try:
                os.replace(out, aside)  # a folder onto an empty folder: atomic on POSIX
            except FileNotFoundError:  # another run moved it aside first
                os.rmdir(aside)
                aside = None
            except OSError:
                os.rmdir(aside)
                raise
        try:
            os.rename(stage, out)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                # Another run swapped its set in between our two renames: its set is complete;
                # ours replaces it on the next attempt.
                if aside is not None:
                    shutil.rmtree(aside, ignore_errors=True)
                continue
            if aside is not None and not out.exists():
                os.replace(aside, out)  # put the old set back
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return
    raise SyriaforecastError(f"{out}: could not swap the new output folder in (other runs kept replacing it)")
