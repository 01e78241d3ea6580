"""The journal of issued forecasts: what it records, atomic and concurrent issues, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.cli import main
from syriaforecast.errors import ForecastFileError, SyriaforecastError
from syriaforecast.journal import INDEX_NAME, Journal, JournalError, issue, open_journal

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tripwires_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def forecasts() -> dict[str, sf.Forecast]:
    model = sf.load_model(MODEL)
    evidence = sf.load_evidence(EVIDENCE, model)
    return {
        d: sf.forecast(model, evidence, as_of=d, exact=True)
        for d in ("2025-01-31", "2025-03-31", "2025-05-31")
    }


def test_issue_records_what_was_said(tmp_path: Path, forecasts: dict[str, sf.Forecast]) -> None:
    folder = tmp_path / "journal"
    first = issue(forecasts["2025-03-31"], folder, issued="2025-04-01T09:00:00+02:00", note="monthly")
    second = issue(forecasts["2025-01-31"], folder, issued=dt.date(2025, 2, 3))
    entries = open_journal(folder).entries()
    # Oldest first by issue time, not by order of writing or as-of date.
    assert [e.number for e in entries] == [second.number, first.number] == [2, 1]
    assert entries[0].issued == dt.datetime(2025, 2, 3, 23, 59, 59, tzinfo=dt.UTC)
    assert entries[1].issued == dt.datetime(2025, 4, 1, 7, 0, tzinfo=dt.UTC)
    entry = entries[1]
    fc = forecasts["2025-03-31"]
    assert entry.as_of == fc.as_of and entry.model_id == "tripwires_tiny" and entry.note == "monthly"
    assert entry.model_sha256 == fc.model.sha256 and entry.mode == "exact"
    means = fc.mean("horizon")
    assert entry.horizon == {s: float(means.sel(scenario=s)) for s in fc.model.scenario_ids}  # full precision
    assert entry.leader == str(means.idxmax("scenario").item())
    assert entry.summary.startswith(f"tripwires_tiny as of 2025-03-31: Open War {entry.horizon['war']:.0%}")
    assert [a["tripwire"] for a in entry.alerts] == [a["tripwire"] for a in fc.alerts()]
    reopened = entry.load()
    np.testing.assert_array_equal(reopened.horizon.values, fc.horizon.values)
    assert reopened.attrs["evidence_sha256"] == fc.attrs["evidence_sha256"]
    # Tripwires newly fired between consecutive entries of one model.
    fired = open_journal(folder).newly_fired()
    assert fired[2] == [a["tripwire"] for a in entries[0].alerts]
    assert set(fired[1]) == {a["tripwire"] for a in entries[1].alerts} - {
        a["tripwire"] for a in entries[0].alerts
    }
    assert fired[1]  # strikes were seen in February


def test_altered_file_is_refused(tmp_path: Path, forecasts: dict[str, sf.Forecast]) -> None:
    entry = issue(forecasts["2025-01-31"], tmp_path)
    data = bytearray(entry.file.read_bytes())
    data[-100] ^= 0xFF
    entry.file.write_bytes(bytes(data))
    with pytest.raises(ForecastFileError, match="sha256"):
        open_journal(tmp_path).entries()[0].load()
    entry.file.unlink()
    with pytest.raises(ForecastFileError, match="missing"):
        open_journal(tmp_path).entries()[0].load()


def test_bad_journal_and_issue_time(tmp_path: Path, forecasts: dict[str, sf.Forecast]) -> None:
    with pytest.raises(JournalError, match=r"no journal\.sqlite"):
        open_journal(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(JournalError, match="not a folder"):
        Journal(tmp_path / "file")
    with pytest.raises(SyriaforecastError, match="time zone"):
        issue(forecasts["2025-01-31"], tmp_path / "j", issued="2025-02-01T10:00:00")
    with pytest.raises(SyriaforecastError, match="ISO date"):
        issue(forecasts["2025-01-31"], tmp_path / "j", issued="yesterday")
    (tmp_path / "newer").mkdir()
    connection = sqlite3.connect(tmp_path / "newer" / INDEX_NAME)
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(JournalError, match="newer"):
        open_journal(tmp_path / "newer")


def test_failed_commit_leaves_no_row_and_no_file(
    tmp_path: Path, forecasts: dict[str, sf.Forecast], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = Journal(tmp_path)
    issue(forecasts["2025-01-31"], book.folder)

    class Boom(sqlite3.OperationalError):
        pass

    real = sqlite3.connect

    def failing(*args: object, **kwargs: object) -> sqlite3.Connection:
        connection = real(*args, **kwargs)  # type: ignore[arg-type]

        class Proxy:
            def execute(self, sql: str, *rest: object) -> object:
                if sql.startswith("INSERT"):
                    raise Boom("disk I/O error")
                return connection.execute(sql, *rest)

            def close(self) -> None:
                connection.close()

        return Proxy()  # type: ignore[return-value]

    monkeypatch.setattr(sqlite3, "connect", failing)
    with pytest.raises(JournalError, match="disk I/O error"):
        book.issue(forecasts["2025-03-31"])
    monkeypatch.undo()
    assert len(open_journal(tmp_path)) == 1
    assert len(list((tmp_path / "forecasts").iterdir())) == 1
    assert open_journal(tmp_path).unlisted_files() == []


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import syriaforecast.journal as journal
    from syriaforecast import load_forecast
    folder, saved, tag, go, crash = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5]
    fc = load_forecast(saved)
    if crash == "crash":
        # Die after the file is saved and before the index row commits.
        journal._sha256 = lambda path: os._exit(3)
    Path(go.parent / f"ready-{tag}").touch()
    while not go.exists():
        time.sleep(0.005)
    for k in range(4):
        journal.issue(fc, folder, note=f"{tag}-{k}")
    """
)


def _children(tmp_path: Path, saved: Path, crash: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    """Start one child per tag, wait until all have imported the library, then let them go at once."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    go = tmp_path / "go"
    procs = {
        tag: subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / "journal"), str(saved), tag, str(go), how],
            env=env,
            stderr=subprocess.PIPE,
        )
        for tag, how in crash.items()
    }
    deadline = time.monotonic() + 240
    while not all((tmp_path / f"ready-{t}").exists() for t in procs):
        assert time.monotonic() < deadline, "children did not start"
        assert all(p.poll() is None for p in procs.values()), [p.communicate()[1] for p in procs.values()]
        time.sleep(0.02)
    go.touch()
    return procs


def test_concurrent_issues_all_land_and_an_interrupted_one_leaves_no_row(
    tmp_path: Path, forecasts: dict[str, sf.Forecast]
) -> None:
    # Two processes issue four forecasts each at the same moment; a third dies after saving its
    # forecast file and before committing the index row (os._exit: no cleanup runs).
    issue(forecasts["2025-01-31"], tmp_path / "journal", note="before")
    saved = forecasts["2025-03-31"].save(tmp_path / "fc.nc")
    procs = _children(tmp_path, saved, {"a": "no", "b": "no", "x": "crash"})
    for tag, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == (3 if tag == "x" else 0), err.decode()
    book = open_journal(tmp_path / "journal")
    entries = book.entries()
    assert sorted(e.note for e in entries) == sorted(
        ["before"] + [f"{t}-{k}" for t in "ab" for k in range(4)]
    )
    assert sorted(e.number for e in entries) == list(range(1, 10))
    assert len({e.file for e in entries}) == 9
    for entry in entries:  # every row points at a complete file that matches its digest
        assert entry.load().as_of == (
            dt.date(2025, 1, 31) if entry.note == "before" else dt.date(2025, 3, 31)
        )
    (orphan,) = book.unlisted_files()  # the interrupted issue's file: complete, but in no row
    assert sf.load_forecast(orphan).as_of == dt.date(2025, 3, 31)
    assert not list((tmp_path / "journal" / "forecasts").glob(".*.tmp"))


# --------------------------------------------------------------------------- CLI
def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_forecast_journal_and_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    folder = tmp_path / "j"
    base = [
        "forecast",
        "--model",
        str(MODEL),
        "--evidence",
        str(EVIDENCE),
        "--exact",
        "--journal",
        str(folder),
    ]
    code, out, _ = _run([*base, "--as-of", "2025-01-31", "--json"], capsys)
    assert code == 0
    first = json.loads(out)
    assert first["alerts"] == [] and first["journal"]["number"] == 1
    code, out, _ = _run([*base, "--as-of", "2025-03-31", "--json"], capsys)
    assert code == 0  # alerts do not change the exit status
    alerts = {a["tripwire"]: a for a in json.loads(out)["alerts"]}
    assert set(alerts) == {"war-rising", "strikes-seen", "tension-high", "many-incidents"}
    assert alerts["war-rising"]["probability"] == pytest.approx(json.loads(out)["scenarios"]["war"]["mean"])
    expected = {
        "tripwire": "strikes-seen",
        "kind": "indicator",
        "indicator": "strikes",
        "value": "1",
        "reports": 1,
        "first_seen": "2025-02-05",
        "last_seen": "2025-02-05",
        "grades": ["B2"],
    }
    assert {k: alerts["strikes-seen"][k] for k in expected} == expected
    code, out, _ = _run([*base, "--as-of", "2025-03-31"], capsys)
    assert code == 0
    assert "Tripwires crossed" in out and "strikes-seen" in out and "issued as entry #3" in out

    code, out, _ = _run(["journal", str(folder), "--json", "--no-plot"], capsys)
    assert code == 0
    listing = json.loads(out)
    rows = listing["forecasts"]
    assert [r["as_of"] for r in rows] == ["2025-01-31", "2025-03-31", "2025-03-31"]
    assert rows[0]["issued"] < rows[1]["issued"]
    fc = sf.forecast(MODEL, EVIDENCE, as_of="2025-03-31", exact=True)
    for sid, p in rows[1]["horizon"].items():
        assert p == pytest.approx(float(fc.mean("horizon").sel(scenario=sid)), abs=1e-6)
    assert rows[1]["newly_fired"] == [a["tripwire"] for a in fc.alerts()]
    assert rows[2]["newly_fired"] == []  # the same alerts as the entry before
    assert {a["tripwire"] for a in rows[1]["alerts"]} == {a["tripwire"] for a in fc.alerts()}
    assert "brier" not in rows[0]

    code, out, _ = _run(["journal", str(folder), "--out", str(tmp_path / "plots")], capsys)
    words = " ".join(out.split())
    assert code == 0 and "3 issued forecasts" in words and "strikes-seen" in words
    assert (tmp_path / "plots" / "journal.png").read_bytes().startswith(b"\x89PNG")


def test_cli_journal_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["journal", str(tmp_path / "none")], capsys)
    assert code == 2 and "no journal.sqlite" in err and "Traceback" not in err
    issue(sf.forecast(MODEL, EVIDENCE, as_of="2025-01-31", exact=True), tmp_path / "j")
    (tmp_path / "outcome.toml").write_text('scenario = "peace"\ndate = 2025-09-01\n')
    code, _, err = _run(["journal", str(tmp_path / "j"), "--outcome", str(tmp_path / "outcome.toml")], capsys)
    assert code == 2 and "scenario" in err and "peace" in err
    code, _, err = _run(
        ["journal", str(tmp_path / "j"), "--outcome", "a.toml", "--outcome", "b.toml"], capsys
    )
    assert code == 2 and "one outcome file per journal" in err


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("horizon", "{bad"),
        ("issued", "31/01/2025"),
        ("as_of", "2025-13-01"),
        ("scenarios", "[1, 2"),
        # Parsed, but not what the library writes: no time zone, a list, an object.
        ("issued", "2025-04-02 09:00:00"),
        ("horizon", "[0.5, 0.5]"),
        ("alerts", '{"a": 1}'),
    ],
)
def test_a_damaged_index_row_is_a_journal_error_naming_it(
    tmp_path: Path,
    forecasts: dict[str, sf.Forecast],
    capsys: pytest.CaptureFixture[str],
    column: str,
    value: object,
) -> None:
    folder = tmp_path / "j"
    issue(forecasts["2025-01-31"], folder)
    issue(forecasts["2025-03-31"], folder)
    connection = sqlite3.connect(folder / INDEX_NAME)  # edited outside the library
    try:
        connection.execute(f"UPDATE forecasts SET {column} = ? WHERE number = 2", (value,))
        connection.commit()
    finally:
        connection.close()
    with pytest.raises(JournalError, match=re.escape(f"entry 2: {column} = {value!r}")):
        open_journal(folder).entries()
    code, _, err = _run(["journal", str(folder), "--no-plot"], capsys)
    assert code == 2 and f"entry 2: {column}" in err and "Traceback" not in err


def test_two_journals_of_one_model_each_get_their_plot(
    tmp_path: Path, forecasts: dict[str, sf.Forecast], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folders = [tmp_path / "team_a", tmp_path / "team_b", tmp_path / "x" / "j", tmp_path / "y" / "j"]
    for folder, as_of in zip(folders, ("2025-01-31", "2025-03-31", "2025-03-31", "2025-05-31"), strict=True):
        issue(forecasts[as_of], folder)
    code, out, _ = _run(["journal", *map(str, folders)], capsys)
    assert code == 0
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    model_id = forecasts["2025-01-31"].model.id
    assert written == sorted(
        [f"journal_team_a_{model_id}.png", f"journal_team_b_{model_id}.png"]
        + [f"journal_j_{model_id}_{k}.png" for k in (1, 2)]
    )
    assert out.count("wrote ") == 4


def test_cli_help_documents_journal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "journal" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["journal", "--help"])
    text = capsys.readouterr().out
    assert "--outcome" in text and "time-averaged" in text and "--json" in text


def test_listing_keeps_every_entrys_scenarios_and_horizon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries of two versions of a model (another scenario id, another horizon) are listed whole."""
    monkeypatch.setenv("COLUMNS", "250")
    folder = tmp_path / "j"
    variant = tmp_path / "variant.toml"
    text = MODEL.read_text().replace('id = "calm"', 'id = "quiet"').replace("calm = ", "quiet = ")
    text = text.replace('scenario = "calm"', 'scenario = "quiet"')
    variant.write_text(text.replace("horizon = 2025-08-31", "horizon = 2025-07-31"))
    for model in (MODEL, variant):
        argv = ["forecast", "--model", str(model), "--evidence", str(EVIDENCE), "--exact"]
        assert _run([*argv, "--journal", str(folder), "--as-of", "2025-03-31"], capsys)[0] == 0
    code, out, _ = _run(["journal", str(folder), "--no-plot"], capsys)
    assert code == 0
    entries = open_journal(folder).entries()
    header = next(line for line in out.splitlines() if "issued (UTC)" in line)
    for sid in ("calm", "quiet", "tense", "war"):  # the first entry's calm is not dropped
        assert sid in header
    assert "horizon" in header and "at each one's horizon" in out
    first = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("1 "))
    assert f"{entries[0].horizon['calm']:.0%}" in first and "2025-08-31" in first


def test_issue_arguments_of_the_wrong_kind_are_named(
    tmp_path: Path, forecasts: dict[str, sf.Forecast]
) -> None:
    entry = issue(forecasts["2025-01-31"], tmp_path / "j", note=None)  # type: ignore[arg-type]
    assert open_journal(tmp_path / "j").entries()[0].note == "" == entry.note
    with pytest.raises(SyriaforecastError, match=r"issued = 20250401: expected a date.*got int"):
        issue(forecasts["2025-01-31"], tmp_path / "j", issued=20250401)  # type: ignore[arg-type]
    with pytest.raises(SyriaforecastError, match=r"note = 3: expected text"):
        issue(forecasts["2025-01-31"], tmp_path / "j", note=3)  # type: ignore[arg-type]
    assert len(open_journal(tmp_path / "j").entries()) == 1  # nothing recorded by the refused calls


def test_a_forecast_cannot_be_issued_before_its_as_of_date(
    tmp_path: Path, forecasts: dict[str, sf.Forecast]
) -> None:
    # Scoring counts an entry from its issue day in UTC: that day may not be before the as-of date.
    forecast = forecasts["2025-03-31"]
    for issued in (
        "2025-03-30",
        dt.date(2025, 1, 1),
        "2025-03-31T09:00:00+14:00",
        "2025-03-30T23:59:00+00:00",
    ):
        with pytest.raises(SyriaforecastError, match="before the forecast's as-of date 2025-03-31"):
            issue(forecast, tmp_path / "j", issued=issued)
    for issued in ("2025-03-31", "2025-03-31T00:00:00+00:00", "2025-03-30T20:00:00-12:00"):
        issue(forecast, tmp_path / "j", issued=issued)
    assert len(open_journal(tmp_path / "j").entries()) == 3
    assert min(e.issued.date() for e in open_journal(tmp_path / "j").entries()) == forecast.as_of
