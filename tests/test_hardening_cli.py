"""Options checked up front, sampler failures as clean errors, output folders swapped in whole."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import syriaforecast as sf
from syriaforecast import _outdir
from syriaforecast.cli import main
from syriaforecast.engine.sampler_guard import check_initial_points, sampler_failures
from syriaforecast.errors import OptionError, SamplerError

from .conftest import DATA

TINY = DATA / "tiny"


def exact_model_text() -> str:
    return (TINY / "model.toml").read_text().replace("elicitation_error = 0.5", "elicitation_error = 0")


# --------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--draws", "0"], "--draws = 0"),
        (["--draws", "-5"], "--draws = -5"),
        (["--tune", "0"], "--tune = 0"),
        (["--chains", "0"], "--chains = 0"),
        (["--chains", "1000"], "--chains = 1000"),
        (["--seed", "-1"], "--seed = -1"),
        (["--seed", str(2**64)], f"--seed = {2**64}"),
        (["--draws", "1000000", "--chains", "64"], "at most 4000000 draws"),
        (["--as-of", "2025-02-30"], "--as-of = '2025-02-30'"),
        (["--as-of", "soon"], "--as-of = 'soon'"),
    ],
)
def test_cli_refuses_bad_numbers_with_exit_2(options, named, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr("syriaforecast.spec.model.load_model", no_work)
    code = main(["forecast", "--model", str(TINY / "model.toml"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert named in err and "Traceback" not in err


@pytest.mark.parametrize(
    "options", [["--draws", "0"], ["--seed", "-3"], ["--chains", "0"], ["--synthetic", "0"], ["--tune", "0"]]
)
def test_backtest_cli_refuses_bad_numbers_with_exit_2(options, capsys):
    assert main(["backtest", str(DATA / "cases"), *options]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"draws": 0}, "draws = 0"),
        ({"tune": -1}, "tune = -1"),
        ({"chains": True}, "chains = True"),
        ({"chains": 2.5}, "chains = 2.5"),
        ({"seed": -1}, "seed = -1"),
        ({"seed": 2**63}, f"seed = {2**63}"),
        ({"target_accept": 1.0}, "target_accept = 1.0"),
        ({"target_accept": float("nan")}, "target_accept = nan"),
        ({"draws": 0, "chains": 0}, "chains = 0"),  # every problem at once
    ],
)
def test_api_refuses_bad_numbers_with_option_error(kwargs, named):
    with pytest.raises(OptionError, match=named) as info:
        sf.forecast(TINY / "model.toml", **kwargs)
    assert isinstance(info.value, ValueError)


def test_backtest_api_checks_its_options():
    from syriaforecast.backtest import backtest

    with pytest.raises(OptionError, match="tune = 0"):
        backtest(DATA / "cases", tune=0)
    with pytest.raises(OptionError, match="target_accept"):
        backtest(DATA / "cases", target_accept=2)


# --------------------------------------------------------------------------- sampler failures
def test_a_density_finite_nowhere_is_a_sampler_error_before_sampling():
    def broken(x):
        return 1.0 / 0.0, x

    with pytest.raises(SamplerError, match=r"ZeroDivisionError: float division by zero \(16x\)"):
        check_initial_points(broken, 3)
    with pytest.raises(SamplerError, match="log density nan"):
        check_initial_points(lambda x: (float("nan"), x), 3)
    check_initial_points(lambda x: (float(-x @ x), -2 * x), 3)  # finite: passes


def test_sampler_panics_become_sampler_errors_but_interrupts_pass():
    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    with (
        pytest.raises(SamplerError, match="PanicException: Poisoned sampler state") as caught,
        sampler_failures(),
    ):
        raise PanicException("Poisoned sampler state mutex")
    # A panic is a fault of the library or nutpie: the message must not send the user off tuning.
    assert "internal error" in str(caught.value) and "tuning" not in str(caught.value)
    with pytest.raises(SamplerError, match="Try more tuning steps"), sampler_failures():
        raise RuntimeError("All initialization points failed")
    with pytest.raises(KeyboardInterrupt), sampler_failures():
        raise KeyboardInterrupt


def test_sampling_an_exact_model_is_refused_cleanly(tmp_path):
    from syriaforecast.engine.run import SamplerSettings, run_engine

    (tmp_path / "m.toml").write_text(exact_model_text())
    model = sf.load_model(tmp_path / "m.toml")
    evidence = sf.load_evidence(TINY / "evidence.csv", model)
    with pytest.raises(OptionError, match="nothing to sample"):
        sf.forecast(model, evidence, exact=False)
    with pytest.raises(SamplerError, match="not finite at any of 16 initial points"):
        run_engine(model, evidence, dt.date(2025, 3, 1), exact=False, settings=SamplerSettings(chains=4))


def test_backtest_of_an_exact_model_runs_in_exact_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYRIAFORECAST_EXECUTOR", "serial")
    case = tmp_path / "cases" / "exact_case"
    case.mkdir(parents=True)
    (case / "model.toml").write_text(exact_model_text())
    (case / "evidence.csv").write_bytes((TINY / "evidence.csv").read_bytes())
    (case / "outcome.toml").write_text('scenario = "calm"\ndate = 2025-12-31\n')
    code = main(["backtest", str(tmp_path / "cases"), "--cutoffs", "2025-02-28,2025-03-31", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "replayed in exact mode: exact_case" in err
    import json

    forecasts = json.loads(out)["cases"][0]["forecasts"]
    model = sf.load_model(case / "model.toml")
    for row in forecasts:
        expected = sf.forecast(model, sf.load_evidence(case / "evidence.csv", model), as_of=row["date"])
        assert expected.mode == "exact"
        assert row["probabilities"]["calm"] == pytest.approx(float(expected.mean().sel(scenario="calm")))


# --------------------------------------------------------------------------- --out
def test_out_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr("syriaforecast.spec.model.load_model", no_work)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me")
    locked = tmp_path / "locked"
    locked.mkdir()
    for out, message in ((a_file, "exists and is not a folder"), (theirs, "did not write")):
        assert main(["forecast", "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert (theirs / "notes.txt").read_text() == "keep me"
    if os.geteuid() != 0:  # root writes anywhere
        locked.chmod(0o500)
        assert main(["forecast", "--out", str(locked / "out")]) == 2
        assert "cannot write" in capsys.readouterr().err
        locked.chmod(0o700)


def test_a_failed_run_leaves_the_previous_output_set_whole(tmp_path):
    out = tmp_path / "out"
    with _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("first")
    assert (out / _outdir.MARKER).is_file()
    with pytest.raises(RuntimeError), _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("second")
        raise RuntimeError
    assert (out / "forecast.nc").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing temporary left


WRITER = """
import sys, time, types
from pathlib import Path
# Only the module under test (not the whole package and its PyMC imports): a light process.
package = types.ModuleType("syriaforecast")
package.__path__ = [sys.argv[4]]
sys.modules["syriaforecast"] = package
from syriaforecast._outdir import staged_folder
out, tag, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for k in range(n):
    with staged_folder(out) as stage:
        for name in ("forecast.nc", "fan_chart.png", "report.html"):
            (stage / name).write_text(f"{tag}{k}")
            time.sleep(0.002)
"""


def test_two_processes_writing_one_out_folder_never_mix(tmp_path):
    out = tmp_path / "out"
    package = str(Path(sf.__file__).parent)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(out), tag, "25", package], stderr=subprocess.PIPE, text=True
        )
        for tag in ("A", "B")
    ]
    seen: set[str] = set()
    mixed: list[dict[str, str]] = []
    done = threading.Event()

    def snapshot() -> dict[str, str]:
        # One folder, opened once: what a reader holding the folder sees (paths re-resolved per
        # file could straddle two swaps, which says nothing about the folder's contents).
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
        try:
            files = {}
            for name in os.listdir(fd):
                if not name.startswith("."):
                    handle = os.open(name, os.O_RDONLY, dir_fd=fd)
                    with os.fdopen(handle) as stream:
                        files[name] = stream.read()
            return files
        finally:
            os.close(fd)

    def read() -> None:
        while not done.is_set():
            try:
                files = snapshot()
            except (FileNotFoundError, NotADirectoryError):
                continue  # between two renames the folder may be briefly absent; an old one deleted
            if files:
                seen.update(files.values())
                if len(set(files.values())) != 1 or len(files) != 3:
                    mixed.append(files)

    reader = threading.Thread(target=read)
    reader.start()
    errors = [w.communicate(timeout=120)[1] for w in writers]
    done.set()
    reader.join()
    assert [w.returncode for w in writers] == [0, 0], errors
    assert not mixed, mixed[:3]
    final = {p.name: p.read_text() for p in out.iterdir() if not p.name.startswith(".")}
    assert len(set(final.values())) == 1 and len(final) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert any(v.startswith("A") for v in seen) or any(v.startswith("B") for v in seen)


def test_a_folder_swapped_away_while_it_is_checked_is_still_ours(tmp_path, monkeypatch):
    # The race the two-writers test above once hit on a clean clone (1 run in about 10): another
    # run moves the output folder aside just after this run listed it. The listing showed our
    # marker, so the folder is ours; a second look at the marker's path finds nothing there.
    out = tmp_path / "out"
    with _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("old")
    listed = list(out.iterdir())
    assert _outdir.MARKER in {p.name for p in listed}
    aside = tmp_path / "aside"

    def iterdir_then_swap(self: Path):
        if self == out and out.exists():
            os.replace(out, aside)  # what another run's _swap_in does between our two looks
            return iter(listed)
        return original(self)

    original = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", iterdir_then_swap)
    assert _outdir.check_out_folder(out) == out
    monkeypatch.setattr(Path, "iterdir", original)
    # A folder that vanished before the listing is not the user's either.
    assert not out.exists()
    os.replace(aside, out)
    monkeypatch.setattr(Path, "iterdir", lambda self: (_ for _ in ()).throw(FileNotFoundError(self)))
    assert _outdir.check_out_folder(out) == out
    # ... while a folder of someone else's files is still refused.
    monkeypatch.setattr(Path, "iterdir", original)
    (out / _outdir.MARKER).unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(sf.errors.SyriaforecastError, match="did not write"):
        _outdir.check_out_folder(out)


def test_a_folder_absent_for_an_instant_while_it_is_checked_is_not_taken_for_a_file(tmp_path, monkeypatch):
    # The interleaving a clean-clone run hit (2026-12-02, under load): the check asked "exists?"
    # (yes), then "a folder?" in the instant between another run's two renames (absent, so no),
    # then "exists?" again (yes, the new folder): "exists and is not a folder". One stat now
    # answers, and a stat that finds nothing is followed by one lstat, which finds the new folder.
    out = tmp_path / "out"
    with _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("old")
    real_stat = os.stat
    gaps = []

    def stat_in_the_gap(path, *args, **kwargs):
        if Path(path) == out and not gaps:
            gaps.append(path)
            raise FileNotFoundError(path)  # moved aside, the new set not yet renamed in
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_in_the_gap)
    assert _outdir.check_out_folder(out) == out
    assert gaps == [out]
    monkeypatch.setattr(os, "stat", real_stat)
    # What is not a folder is still refused: a file, a link to nothing, a link to itself; and a
    # link to a folder, which the swap would rename instead of the folder (found failing after
    # the work, 2026-12-03).
    (tmp_path / "file").write_text("mine")
    with pytest.raises(sf.errors.SyriaforecastError, match="exists and is not a folder"):
        _outdir.check_out_folder(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "linked").symlink_to(out)
    for path in (tmp_path / "dangling", tmp_path / "loop", tmp_path / "linked"):
        with pytest.raises(sf.errors.SyriaforecastError, match="is a symbolic link"):
            _outdir.check_out_folder(path)


def test_out_writes_the_report_of_a_sampled_forecast_that_used_no_reports(tmp_path, capsys):
    """As of before the first report: the report folder says nothing moved instead of failing."""
    report = DATA / "report_tiny.toml"
    out = tmp_path / "out"
    args = ["forecast", "--model", str(report), "--evidence", str(DATA / "report_tiny_evidence.csv")]
    args += ["--as-of", "2025-01-05", "--draws", "100", "--tune", "100", "--seed", "1", "--out", str(out)]
    assert main(args) == 0
    assert (out / "forecast.nc").is_file() and (out / "report.html").is_file()
    assert sf.load_forecast(out / "forecast.nc").mode == "hierarchical"


def test_an_output_folder_with_anything_added_since_its_run_is_refused(tmp_path):
    # The marker lists the run's files: a user's notes or a folder put there later would be
    # deleted with the old set, so the next run is refused and names them.
    out = tmp_path / "out"
    with _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("set")
        (stage / "plots").mkdir()
        (stage / "plots" / "fan.png").write_text("png")
    assert _outdir.check_out_folder(out) == out  # exactly what the run wrote: ours to replace
    (out / "notes.txt").write_text("mine")
    (out / "journal" / "forecasts").mkdir(parents=True)
    (out / "journal" / "forecasts" / "1.nc").write_text("issued")
    (out / "plots" / "mine.png").write_text("also mine")
    with pytest.raises(sf.errors.SyriaforecastError) as refused:
        _outdir.check_out_folder(out)
    assert "did not write (journal, notes.txt, plots/mine.png)" in str(refused.value)
    for name in ("notes.txt", "journal", "plots/mine.png"):
        target = out / name
        target.unlink() if target.is_file() else __import__("shutil").rmtree(target)
    assert _outdir.check_out_folder(out) == out


def test_a_journal_inside_the_output_folder_or_unwritable_is_refused_before_any_work(tmp_path, capsys):
    base = ["forecast", "--model", str(TINY / "model.toml"), "--evidence", str(TINY / "evidence.csv")]
    out = tmp_path / "out"
    code = main([*base, "--exact", "--out", str(out), "--journal", str(out / "journal")])
    err = capsys.readouterr().err
    assert code == 2 and "lies inside --out" in err and "Traceback" not in err
    assert not out.exists()  # refused before the forecast, not after replacing the folder
    (tmp_path / "plain").write_text("a file")
    code = main([*base, "--exact", "--out", str(out), "--journal", str(tmp_path / "plain" / "journal")])
    err = capsys.readouterr().err
    assert code == 2 and "--journal = " in err and "is not a folder" in err and not out.exists()
    # Beside the output folder it works, and the next run may replace the folder.
    journal = tmp_path / "journal"
    for _ in range(2):
        assert main([*base, "--exact", "--quiet", "--out", str(out), "--journal", str(journal)]) == 0
    capsys.readouterr()
    assert len(list((journal / "forecasts").iterdir())) == 2


def test_driver_rows_are_not_counted_as_reports(capsys):
    # The bundled log holds reports and driver rows; counted apart from the CSV itself.
    import pandas as pd

    model = sf.load_model(sf.bundled_model())
    rows = pd.read_csv(sf.bundled_evidence(), dtype=str, keep_default_na=False)
    published = pd.to_datetime(rows["published"].where(rows["published"] != "", rows["date"]))
    driver = rows["indicator"].isin(model.driver_ids)
    cutoff = pd.Timestamp("2025-06-01")
    used, late = int((~driver & (published <= cutoff)).sum()), int((~driver & (published > cutoff)).sum())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    assert evidence.n_reports == int((~driver).sum()) and len(evidence) == len(rows)
    assert main(["forecast", "--exact", "--as-of", "2025-06-01"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines at its width
    assert f"{used} reports used" in out
    assert f"{late} reports published after the as-of date not used" in out
    assert f"{int((driver & (published <= cutoff)).sum())} driver rows" in out


def test_forecast_previous_out_reports_what_changed_since_the_previous(tmp_path, capsys):
    base = ["forecast", "--model", str(TINY / "model.toml"), "--evidence", str(TINY / "evidence.csv")]
    base += ["--exact", "--quiet"]
    assert main([*base, "--as-of", "2025-01-31", "--out", str(tmp_path / "a")]) == 0
    previous = tmp_path / "a" / "forecast.nc"
    assert main([*base, "--previous", str(previous), "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    html = (tmp_path / "b" / "report.html").read_text()
    assert "Since the forecast of 2025-01-31" in html
    assert "Since the forecast of" not in (tmp_path / "a" / "report.html").read_text()


def test_a_folder_without_a_marker_or_with_a_damaged_one_is_never_replaced(tmp_path):
    # A folder holding only an evidence log and notes (the very log a run may read): no marker,
    # so not an output set, whatever the files' kinds. A damaged marker lists nothing as ours.
    data = tmp_path / "mylog"
    data.mkdir()
    (data / "evidence.csv").write_text("date,indicator,value\n")
    (data / "notes.json").write_text("{}")
    with pytest.raises(sf.errors.SyriaforecastError, match=r"did not write \(evidence.csv, notes.json\)"):
        _outdir.check_out_folder(data)
    out = tmp_path / "out"
    with _outdir.staged_folder(out) as stage:
        (stage / "forecast.nc").write_text("set")
    (out / "notes.csv").write_text("mine")
    (out / _outdir.MARKER).write_text("{trunc")
    with pytest.raises(sf.errors.SyriaforecastError, match=r"did not write \(forecast.nc, notes.csv\)"):
        _outdir.check_out_folder(out)
    # An earlier version's marker (no list of files): its top-level files of our kinds only.
    (out / "notes.csv").unlink()
    (out / _outdir.MARKER).write_text('{"written": "2026-12-01T00:00:00Z", "pid": 1}\n')
    assert _outdir.check_out_folder(out) == out
    (out / "mine").mkdir()
    with pytest.raises(sf.errors.SyriaforecastError, match=r"did not write \(mine\)"):
        _outdir.check_out_folder(out)


def test_a_journal_issue_of_a_future_as_of_date_is_refused_before_any_work(tmp_path, capsys):
    import datetime as dt

    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    out, journal = tmp_path / "out", tmp_path / "journal"
    argv = ["forecast", "--exact", "--as-of", later, "--out", str(out), "--journal", str(journal)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "with --journal: a forecast is issued on or after its as-of date" in err and "Traceback" not in err
    assert not out.exists() and not journal.exists()  # refused before the forecast and any folder
