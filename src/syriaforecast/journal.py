"""The journal: every forecast a team issued, kept as it was said, in order.

A journal is a folder::

    DIR/
      journal.sqlite          the index: one row per issued forecast
      forecasts/*.nc          each issued forecast, saved whole (with its provenance)

:func:`issue` (``syriaforecast.issue(forecast, DIR)``)
records a forecast: it saves the forecast file into ``forecasts/`` atomically
(temporary file, fsync, rename, fsync of the folder) and only then commits the
index row, so an interrupted issue leaves at most an unlisted file, never a row
pointing at nothing. The row carries what the listing needs without opening the
files: the issue time (UTC), the as-of date, the model id and sha256, the
horizon probability of each scenario (posterior mean, full precision), the
tripwires the forecast crossed, and the file's own sha256 (checked on load).

Why SQLite
----------
The index must stay whole when two analysts issue at the same moment and when
a process dies mid-write. SQLite ships with Python, gives atomic transactions
with a crash-safe journal, and serialises writers with file locks: each issue
is one ``BEGIN IMMEDIATE`` transaction, and a writer that finds the database
busy waits (busy timeout, 60 s) instead of failing. The write-ahead log (WAL)
lets the listing read while someone issues. A CSV or JSON index would need our
own locking and atomic rewrite of the whole file on every issue. SQLite's
locking needs a local filesystem (WAL does not work on network shares such as
NFS or SMB): keep a shared journal on a local disk of the machine that issues.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syriaforecast.alerts import newly_fired
from syriaforecast.errors import ForecastFileError, SyriaforecastError

if TYPE_CHECKING:
    from syriaforecast.forecast import Forecast

__all__ = ["INDEX_NAME", "Journal", "JournalEntry", "JournalError", "issue", "open_journal"]

#: File name of the index inside a journal folder.
INDEX_NAME = "journal.sqlite"
#: Sub-folder holding the issued forecasts.
FORECASTS_DIR = "forecasts"
#: Layout version of the index; a newer one is refused with a clear message.
SCHEMA_VERSION = 1
#: Seconds a writer waits for another writer before giving up.
BUSY_TIMEOUT = 60.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS forecasts (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    issued TEXT NOT NULL,
    as_of TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    horizon_date TEXT NOT NULL,
    mode TEXT NOT NULL,
    scenarios TEXT NOT NULL,
    horizon TEXT NOT NULL,
    alerts TEXT NOT NULL,
    file TEXT NOT NULL UNIQUE,
    file_sha256 TEXT NOT NULL,
    seed INTEGER,
    note TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX IF NOT EXISTS forecasts_by_issue ON forecasts (issued, number)",
)


class JournalError(SyriaforecastError):
    """A journal folder is missing, unreadable or from a newer library."""


@dataclass(frozen=True)
class JournalEntry:
    """One issued forecast, as the journal's index records it.

    Attributes
    ----------
    number : int
        Order of issue in this journal (1, 2, ...).
    issued : datetime.datetime
        When it was issued (timezone-aware, UTC).
    as_of : datetime.date
        Its information date.
    model_id, model_sha256 : str
        The model it forecast (the sha256 changes when the model file is edited).
    horizon_date : datetime.date
        The date the forecast is about.
    mode : str
        ``"hierarchical"`` or ``"exact"``.
    scenarios : dict of str to str
        Scenario id -> name, in model order.
    horizon : dict of str to float
        Scenario id -> horizon probability (posterior mean), as issued.
    alerts : list of dict
        The tripwires it crossed (:func:`syriaforecast.alerts.tripwire_alerts`).
    file : Path
        The saved forecast.
    file_sha256 : str
        Digest of the saved file, checked by :meth:`load`.
    seed : int or None
        The sampler seed (reproduces it with the saved model and evidence).
    note : str
        Free text given at issue.
    """

    number: int
    issued: dt.datetime
    as_of: dt.date
    model_id: str
    model_sha256: str
    horizon_date: dt.date
    mode: str
    scenarios: dict[str, str]
    horizon: dict[str, float]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    file: Path = Path()
    file_sha256: str = ""
    seed: int | None = None
    note: str = ""

    def __repr__(self) -> str:
        probs = ", ".join(f"{k}={v:.2f}" for k, v in self.horizon.items())
        return (
            f"JournalEntry(#{self.number} issued {self.issued.isoformat(timespec='seconds')}, "
            f"{self.model_id!r} as of {self.as_of.isoformat()}: {probs})"
        )

    @property
    def leader(self) -> str:
        """Id of the scenario with the highest horizon probability (the first on a tie)."""
        return max(self.horizon, key=lambda sid: self.horizon[sid])

    @property
    def summary(self) -> str:
        """One line: the horizon probability of each scenario as issued, the leader first."""
        order = sorted(self.horizon, key=lambda sid: -self.horizon[sid])
        probs = ", ".join(f"{self.scenarios.get(sid, sid)} {self.horizon[sid]:.0%}" for sid in order)
        fired = f"; tripwires crossed: {', '.join(a['tripwire'] for a in self.alerts)}" if self.alerts else ""
        on = self.horizon_date.isoformat()
        return f"{self.model_id} as of {self.as_of.isoformat()}: {probs} (on {on}){fired}"

    def load(self) -> Forecast:
        """The issued forecast, reopened; its file must match the digest recorded at issue."""
        from syriaforecast.forecast import load_forecast

        if not self.file.is_file():
            raise ForecastFileError(f"{self.file}: journal entry #{self.number}'s forecast file is missing")
        digest = _sha256(self.file)
        if digest != self.file_sha256:
            raise ForecastFileError(
                f"{self.file}: does not match the sha256 recorded when entry #{self.number} was issued "
                f"({digest[:12]} != {self.file_sha256[:12]}): the file was altered or replaced"
            )
        return load_forecast(self.file)

    def to_dict(self, *, digits: int | None = 6) -> dict[str, Any]:
        """The entry as JSON-ready data (probabilities rounded to ``digits``; None keeps them whole)."""

        def r(x: float) -> float:
            return round(x, digits) if digits is not None else x

        return {
            "number": self.number,
            "issued": self.issued.isoformat(),
            "as_of": self.as_of.isoformat(),
            "model_id": self.model_id,
            "model_sha256": self.model_sha256,
            "horizon_date": self.horizon_date.isoformat(),
            "mode": self.mode,
            "horizon": {sid: r(p) for sid, p in self.horizon.items()},
            "leader": self.leader,
            "summary": self.summary,
            "alerts": [
                {k: r(v) if isinstance(v, float) else v for k, v in alert.items()} for alert in self.alerts
            ],
            "file": str(self.file),
            "seed": self.seed,
            "note": self.note,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename that published the file durable before the index row is.
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _utc(value: dt.datetime | dt.date | str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(value, str):
        try:
            text = value.strip()
            value = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            raise SyriaforecastError(
                f"issued = {value!r}: expected an ISO date or date-time, e.g. 2026-03-31 or "
                "2026-03-31T17:00:00+00:00"
            ) from None
    if not isinstance(value, dt.date):  # dt.datetime is a dt.date too
        raise SyriaforecastError(
            f"issued = {value!r}: expected a date, a date-time or an ISO text such as 2026-03-31 "
            f"(got {type(value).__name__})"
        )
    if not isinstance(value, dt.datetime):
        # A bare date is taken as the end of that day: issued at the close of business.
        value = dt.datetime.combine(value, dt.time(23, 59, 59), tzinfo=dt.UTC)
    if value.tzinfo is None:
        raise SyriaforecastError(
            f"issued = {value.isoformat()}: a date-time needs a time zone (e.g. +00:00) so that "
            "issues from different places order correctly"
        )
    return value.astimezone(dt.UTC)


class Journal:
    """A folder of issued forecasts with a SQLite index (see the module notes).

    Parameters
    ----------
    folder : str or Path
        The journal folder.
    create : bool
        Create the folder and its index when missing (default True); with
        False a missing journal is a :class:`JournalError`.
    """

    def __init__(self, folder: str | Path, *, create: bool = True) -> None:
        self.folder = Path(folder)
        self.index = self.folder / INDEX_NAME
        if self.folder.exists() and not self.folder.is_dir():
            raise JournalError(f"journal {str(self.folder)!r}: exists and is not a folder")
        if not self.index.is_file():
            if not create:
                raise JournalError(
                    f"journal {str(self.folder)!r}: no {INDEX_NAME} there; issue a forecast into it first "
                    "(syriaforecast forecast ... --journal DIR)"
                )
            self.folder.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            self._ensure_schema(connection)

    def __repr__(self) -> str:
        return f"Journal({str(self.folder)!r}: {len(self)} issued forecasts)"

    # ------------------------------------------------------------------ database
    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            connection = sqlite3.connect(self.index, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {str(self.folder)!r}: cannot open {INDEX_NAME} ({exc})") from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            yield connection
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {str(self.folder)!r}: {INDEX_NAME}: {exc}") from None
        finally:
            connection.close()

    def _ensure_schema(self, connection: sqlite3.Connection) -> None:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            connection.execute("PRAGMA journal_mode = WAL")  # persistent: set once per database
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {str(self.folder)!r}: index layout {version} is newer than this library "
                    f"reads ({SCHEMA_VERSION}); upgrade syriaforecast"
                )
            if version < SCHEMA_VERSION:
                # One statement at a time: executescript would commit the open transaction first.
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ writing
    def issue(
        self, forecast: Forecast, *, issued: dt.datetime | dt.date | str | None = None, note: str = ""
    ) -> JournalEntry:
        """Record an issued forecast; see :func:`issue`."""
        when = _utc(issued)
        if note is None:  # no note: stored empty, not as the text "None"
            note = ""
        elif not isinstance(note, str):
            raise SyriaforecastError(f"note = {note!r}: expected text (got {type(note).__name__})")
        # A forecast cannot be issued before the information it uses: its issue day in UTC (the
        # day scoring counts it from, backtest.resolution) must not be before the as-of date.
        if when.date() < forecast.as_of:
            raise SyriaforecastError(
                f"issued = {when.isoformat()} ({when.date()} in UTC): before the forecast's as-of date "
                f"{forecast.as_of}; a forecast is issued on or after the date of the information it uses"
            )
        model = forecast.model
        means = forecast.mean("horizon")
        horizon = {sid: float(means.sel(scenario=sid)) for sid in model.scenario_ids}
        alerts = forecast.alerts()
        stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{model.id}-{secrets.token_hex(4)}.nc"
        folder = self.folder / FORECASTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = forecast.save(folder / name)
        _fsync_dir(folder)
        seed = forecast.attrs.get("sampler_seed")
        row = (
            when.isoformat(timespec="microseconds"),
            forecast.as_of.isoformat(),
            model.id,
            model.sha256,
            model.horizon.isoformat(),
            forecast.mode,
            json.dumps(dict(zip(model.scenario_ids, model.scenario_names, strict=True))),
            json.dumps(horizon),
            json.dumps(alerts),
            f"{FORECASTS_DIR}/{name}",
            _sha256(path),
            None if seed is None else int(seed),
            str(note),
        )
        try:
            with self._connect() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    cursor = connection.execute(
                        "INSERT INTO forecasts (issued, as_of, model_id, model_sha256, horizon_date, mode, "
                        "scenarios, horizon, alerts, file, file_sha256, seed, note) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    number = int(cursor.lastrowid or 0)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except BaseException:
            # No row refers to the file: remove it rather than leave it unlisted.
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return self._entry((number, *row))

    # ------------------------------------------------------------------ reading
    def _entry(self, row: tuple[Any, ...]) -> JournalEntry:
        (number, issued, as_of, model_id, sha, horizon_date, mode, scenarios, horizon, alerts, file, fsha) = (
            row[:12]
        )
        field = "number"
        try:
            number = int(number)
            field = "issued"
            issued_at = dt.datetime.fromisoformat(issued)
            if issued_at.tzinfo is None:
                raise ValueError("no time zone")  # the library stores UTC with its offset
            field = "as_of"
            as_of_date = dt.date.fromisoformat(as_of)
            field = "horizon_date"
            horizon_day = dt.date.fromisoformat(horizon_date)
            values = {}
            for field, text, kind in (
                ("scenarios", scenarios, dict),
                ("horizon", horizon, dict),
                ("alerts", alerts, list),
            ):
                values[field] = json.loads(text)
                if not isinstance(values[field], kind):
                    raise ValueError(f"not a JSON {'object' if kind is dict else 'list'}")
        except (TypeError, ValueError):
            # A row edited or damaged outside the library: say which, never a traceback.
            bad = dict(
                zip(
                    ("number", "issued", "as_of", "horizon_date", "scenarios", "horizon", "alerts"),
                    (number, issued, as_of, horizon_date, scenarios, horizon, alerts),
                    strict=True,
                )
            )
            raise JournalError(
                f"journal {str(self.folder)!r}: {INDEX_NAME}: entry {row[0]!r}: {field} = "
                f"{str(bad[field])[:60]!r}: not what the library writes (an ISO date or time, a JSON "
                "value); the index was edited or damaged outside syriaforecast"
            ) from None
        return JournalEntry(
            number=number,
            issued=issued_at,
            as_of=as_of_date,
            model_id=model_id,
            model_sha256=sha,
            horizon_date=horizon_day,
            mode=mode,
            scenarios=values["scenarios"],
            horizon=values["horizon"],
            alerts=values["alerts"],
            file=self.folder / file,
            file_sha256=fsha,
            seed=row[12],
            note=row[13],
        )

    def entries(self, model_id: str | None = None) -> list[JournalEntry]:
        """The issued forecasts, oldest first (by issue time, then order of issue).

        Parameters
        ----------
        model_id : str, optional
            Only forecasts of this model.
        """
        query = (
            "SELECT number, issued, as_of, model_id, model_sha256, horizon_date, mode, scenarios, "
            "horizon, alerts, file, file_sha256, seed, note FROM forecasts"
        )
        arguments: tuple[Any, ...] = ()
        if model_id is not None:
            query += " WHERE model_id = ?"
            arguments = (model_id,)
        with self._connect() as connection:
            rows = connection.execute(query + " ORDER BY issued, number", arguments).fetchall()
        # ISO strings of UTC times order as the times do only when written alike; sort on the values.
        entries = [self._entry(tuple(r)) for r in rows]
        return sorted(entries, key=lambda e: (e.issued, e.number))

    def __len__(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM forecasts").fetchone()[0])

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    @property
    def model_ids(self) -> list[str]:
        """Models forecast in this journal, in order of first issue."""
        return list(dict.fromkeys(e.model_id for e in self.entries()))

    def newly_fired(self) -> dict[int, list[str]]:
        """Entry number -> ids of tripwires it crossed that the previous entry of its model had not."""
        out: dict[int, list[str]] = {}
        last: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries():
            out[entry.number] = newly_fired(last.get(entry.model_id), entry.alerts)
            last[entry.model_id] = entry.alerts
        return out

    def unlisted_files(self) -> list[Path]:
        """Forecast files no index row refers to (left by an issue interrupted before its commit)."""
        listed = {e.file.name for e in self.entries()}
        folder = self.folder / FORECASTS_DIR
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob("*.nc") if p.name not in listed)


def open_journal(folder: str | Path) -> Journal:
    """Open an existing journal (a :class:`JournalError` if there is none)."""
    return Journal(folder, create=False)


def issue(
    forecast: Forecast,
    journal: str | Path | Journal,
    *,
    issued: dt.datetime | dt.date | str | None = None,
    note: str = "",
) -> JournalEntry:
    """Record a forecast in a journal: what the team said, when.

    Parameters
    ----------
    forecast : Forecast
        The forecast issued.
    journal : str, Path or Journal
        The journal folder (created when missing).
    issued : datetime, date or str, optional
        When it was issued (default now). A date-time must carry a time zone;
        a bare date means the end of that day (UTC). Give it to record a
        forecast issued earlier (e.g. replaying a month-by-month cycle).
    note : str
        Free text kept with the entry.

    Returns
    -------
    JournalEntry
        The row written, with its number.

    Notes
    -----
    The forecast file is saved atomically into ``DIR/forecasts/`` before the
    index row is committed in one SQLite transaction, so two processes issuing
    at once both land, and an interrupted issue leaves no row pointing at a
    missing or partial file.
    """
    book = journal if isinstance(journal, Journal) else Journal(journal)
    return book.issue(forecast, issued=issued, note=note)
