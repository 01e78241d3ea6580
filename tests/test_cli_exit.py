"""The console command ends with ``os._exit`` once its work is done (``cli.run``), and loses nothing.

``run`` skips the interpreter's teardown (about a second of garbage collection after a
forecast). These tests run the command as users do, in a fresh process with standard
output a block-buffered pipe, and check what that shortcut could lose: output still in
a buffer, the exit status, ``atexit`` handlers, and a thread that is still working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from syriaforecast.cli import main

from .conftest import DATA

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = DATA / "tiny"
FORECAST = ["forecast", "--model", str(TINY / "model.toml"), "--exact", "--json", "--seed", "5"]


def _run(prelude: str, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``cli.run()`` in a fresh process after ``prelude``, as the console script calls it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env |= {"PYTHONPATH": str(SRC), "COLUMNS": "120"}
    code = "\n".join(
        [
            "import sys",
            prelude,
            f"sys.argv = ['syriaforecast', *{args!r}]",
            "from syriaforecast.cli import run",
            "run()",
        ]
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_the_whole_output_arrives_and_atexit_handlers_run(tmp_path, capsys):
    prelude = "import atexit\natexit.register(lambda: sys.stderr.write('atexit ran\\n'))"
    done = _run(prelude, FORECAST, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "atexit ran\n"
    # The same JSON as the command run in this process (exact mode, one seed).
    assert main(FORECAST) == 0
    assert json.loads(done.stdout) == json.loads(capsys.readouterr().out)


def test_bad_input_keeps_its_exit_status_and_message(tmp_path):
    done = _run("", ["forecast", "--model", str(tmp_path / "missing.toml"), "--exact"], tmp_path)
    assert done.returncode == 2
    assert "missing.toml" in done.stderr and "Traceback" not in done.stderr


def test_a_running_thread_gets_python_s_usual_exit_which_waits_for_it(tmp_path):
    marker = tmp_path / "thread-finished"
    prelude = (
        "import threading, time, pathlib\n"
        "def work():\n"
        "    time.sleep(3.0)\n"  # longer than the command takes
        f"    pathlib.Path({str(marker)!r}).write_text('done')\n"
        "threading.Thread(target=work).start()"
    )
    done = _run(prelude, ["validate", str(TINY / "model.toml")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"  # os._exit would have ended the process before the write
