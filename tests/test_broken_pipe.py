"""A reader that closes the pipe early (``syriaforecast ... | head -1``) ends the command quietly.

The CLI runs in a subprocess whose standard output is a pipe; the test plays the
reader and closes its end early. The command must exit with 141 (128 + SIGPIPE,
what a shell reports for any tool ended by a closed pipe) and write nothing to
standard error: no traceback, no "Exception ignored" from the final flush.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syriaforecast.cli import EXIT_CLOSED_PIPE

from .conftest import DATA

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = DATA / "tiny"
BUNDLED = SRC / "syriaforecast" / "data"
try:
    from fcntl import F_SETPIPE_SZ  # Linux only
except ImportError:
    F_SETPIPE_SZ = None


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    # Standard output block-buffered, as users have it (PYTHONUNBUFFERED would hide the final flush).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env |= {"PYTHONPATH": str(SRC), "COLUMNS": "120"}
    return subprocess.Popen(
        [sys.executable, "-m", "syriaforecast.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    assert proc.stderr is not None
    with proc.stderr:
        err = proc.stderr.read().decode()
    return proc.wait(timeout=300), err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["validate", str(TINY / "model.toml"), str(TINY / "evidence.csv")], id="validate"),
        pytest.param(
            ["forecast", "--model", str(TINY / "model.toml"), "--exact", "--json"], id="forecast-json"
        ),
        pytest.param(["backtest", "cases", "--exact", "--cutoffs", "0"], id="backtest"),
    ],
)
def test_reader_closing_before_the_first_line(args, tmp_path):
    # Closed as soon as the process starts: its first write (after its imports) meets a closed pipe.
    shutil.copytree(DATA / "cases" / "calm_holds", tmp_path / "cases" / "calm_holds")  # one small case
    proc = _start(args, tmp_path)
    assert proc.stdout is not None
    proc.stdout.close()
    code, err = _finish(proc)
    assert (code, err) == (EXIT_CLOSED_PIPE, "")


@pytest.mark.skipif(F_SETPIPE_SZ is None, reason="needs Linux's F_SETPIPE_SZ to make the pipe one page")
def test_reader_taking_one_line_like_head(tmp_path):
    import fcntl

    args = ["validate", str(BUNDLED / "russia_syria.toml"), str(BUNDLED / "russia_syria_evidence.csv")]
    proc = _start(args, tmp_path)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    # One page of pipe: the summary (about 5.7 kB) cannot all be buffered, so the writer is still
    # writing when the reader has its line and leaves, as `| head -1` does with a long output.
    page = fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
    first = b""
    while not first.endswith(b"\n"):
        chunk = os.read(fd, 1)
        assert chunk, "the command ended before its first line"
        first += chunk
    proc.stdout.close()
    code, err = _finish(proc)
    assert first.decode().startswith("Russia's security return to post-Assad Syria")
    assert page == 4096 and (code, err) == (EXIT_CLOSED_PIPE, "")


def test_forecast_table_and_saved_outputs_when_the_reader_closed_early(tmp_path):
    out = tmp_path / "out"
    proc = _start(["forecast", "--model", str(TINY / "model.toml"), "--exact", "--out", str(out)], tmp_path)
    assert proc.stdout is not None
    proc.stdout.close()
    code, err = _finish(proc)
    assert (code, err) == (EXIT_CLOSED_PIPE, "")
    import syriaforecast as sf

    saved = sf.load_forecast(out / "forecast.nc")  # verified against its checksum on load
    assert saved.mode == "exact" and (out / "report.html").is_file()


def test_a_complete_read_still_exits_0(tmp_path):
    proc = _start(["validate", str(TINY / "model.toml")], tmp_path)
    out, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (0, b"") and out.decode().rstrip().endswith("valid")
