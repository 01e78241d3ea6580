"""Bounded reading of every user file: devices, FIFOs, sockets and folders refused up front; caps enforced."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import syriaforecast as sf
from syriaforecast import _files
from syriaforecast.backtest.cases import CaseFileError, load_case
from syriaforecast.cli import main
from syriaforecast.errors import EvidenceError, ModelFileError, Problem, SyriaforecastError

from .conftest import DATA

pytestmark = pytest.mark.timeout(60)  # a FIFO that blocked would hang here


@pytest.fixture
def model():
    return sf.load_model(DATA / "tiny" / "model.toml")


def test_devices_are_refused_before_reading(model):
    with pytest.raises(ModelFileError) as info:
        sf.load_model("/dev/zero")
    (problem,) = info.value.problems
    assert (problem.field, problem.value) == ("file type", "a character device")
    assert "SYRIAFORECAST_MAX_MODEL_BYTES" in problem.allowed
    with pytest.raises(EvidenceError) as info:
        sf.load_evidence("/dev/urandom", model)
    assert info.value.problems[0].value == "a character device"


@pytest.mark.parametrize("make", ["fifo", "socket", "folder"])
def test_fifos_sockets_and_folders_are_refused_without_blocking(tmp_path, model, make):
    path = tmp_path / "thing"
    expected = {"fifo": "a FIFO (named pipe)", "socket": "a socket", "folder": "a folder"}[make]
    if make == "fifo":
        os.mkfifo(path)
    elif make == "folder":
        path.mkdir()
    server = socket.socket(socket.AF_UNIX) if make == "socket" else None
    try:
        if server is not None:
            server.bind(str(path))
        with pytest.raises(ModelFileError) as info:
            sf.load_model(path)
        assert info.value.problems[0].value == expected
        with pytest.raises(EvidenceError) as info:
            sf.load_evidence(path, model)
        assert info.value.problems[0].value == expected
        with pytest.raises(sf.ForecastFileError, match="file type"):
            sf.load_forecast(path)
    finally:
        if server is not None:
            server.close()


def test_elicitation_csv_that_is_a_fifo_is_named_in_the_model_file(tmp_path):
    text = (DATA / "tiny" / "model.toml").read_text()
    text = text.replace('elicitation_error = 0.5', 'elicitation_error = 0.5\nelicitations = "pipe.csv"')
    (tmp_path / "m.toml").write_text(text)
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(ModelFileError) as info:
        sf.load_model(tmp_path / "m.toml")
    problem = next(p for p in info.value.problems if p.field == "elicitations")
    assert "a FIFO (named pipe)" in problem.allowed and problem.file == str(tmp_path / "m.toml")


def test_caps_are_settable_and_named(tmp_path, model, monkeypatch):
    evidence = DATA / "tiny" / "evidence.csv"
    size = evidence.stat().st_size
    monkeypatch.setenv("SYRIAFORECAST_MAX_EVIDENCE_BYTES", str(size - 1))
    with pytest.raises(EvidenceError) as info:
        sf.load_evidence(evidence, model)
    assert info.value.problems[0].value == f"{size} bytes"
    assert f"at most {size - 1} bytes" in info.value.problems[0].allowed
    monkeypatch.setenv("SYRIAFORECAST_MAX_EVIDENCE_BYTES", str(size))
    assert len(sf.load_evidence(evidence, model)) > 0
    monkeypatch.setenv("SYRIAFORECAST_MAX_MODEL_BYTES", "1K")
    with pytest.raises(ModelFileError, match="at most 1024 bytes"):
        sf.load_model(DATA / "tiny" / "model.toml")
    monkeypatch.setenv("SYRIAFORECAST_MAX_MODEL_BYTES", "lots")
    with pytest.raises(SyriaforecastError, match="SYRIAFORECAST_MAX_MODEL_BYTES='lots'"):
        sf.load_model(DATA / "tiny" / "model.toml")
    assert main(["validate", str(DATA / "tiny" / "model.toml")]) == 2


def test_at_most_the_cap_plus_one_byte_is_read(tmp_path, monkeypatch):
    # A file whose reported size is wrong (it grows, or the filesystem lies) is
    # still read only up to the cap plus one byte.
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 5000)
    real_stat, real_read = os.stat, os.read
    asked: list[int] = []

    def small_stat(p, *args, **kwargs):
        info = real_stat(p, *args, **kwargs)
        return os.stat_result((info.st_mode, *info[1:6], 10, *info[7:]))

    def counting_read(fd, n):
        asked.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(_files.os, "stat", small_stat)
    monkeypatch.setattr(_files.os, "read", counting_read)

    class RefusedError(Exception):
        def __init__(self, problem: Problem) -> None:
            self.problem = problem

    with pytest.raises(RefusedError) as info:
        _files.read_bounded(path, "evidence", RefusedError, max_bytes=100)
    assert info.value.problem.value == "more than 100 bytes"
    assert sum(asked) == 101
    assert _files.read_bounded(path, "evidence", RefusedError, max_bytes=5000) == b"x" * 5000


def test_outcome_file_of_a_case_is_bounded(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    for name in ("model.toml", "evidence.csv"):
        (case / name).write_bytes((DATA / "tiny" / name).read_bytes())
    os.mkfifo(case / "outcome.toml")
    with pytest.raises(CaseFileError, match=r"outcome\.toml"):  # refused, not blocked on
        load_case(case)


def test_cli_refuses_devices_with_exit_2(capsys):
    assert main(["validate", "/dev/zero"]) == 2
    assert main(["validate", str(DATA / "tiny" / "model.toml"), "/dev/urandom"]) == 2
    err = capsys.readouterr().err
    assert err.count("a character device") == 2 and "Traceback" not in err


def test_missing_files_still_say_so(tmp_path: Path):
    with pytest.raises(ModelFileError, match="No such file"):
        sf.load_model(tmp_path / "nope.toml")
