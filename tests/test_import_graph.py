"""tools/import_graph.py: the layers of src/ hold, and the tool catches an upward import and a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "import_graph.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def test_src_has_no_upward_import_and_no_cycle():
    done = _run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 upward, 0 cycles" in done.stdout
    for layer in ("base", "spec", "engine", "reference", "forecast", "report", "studies", "backtest"):
        assert f"] {layer}\n" in done.stdout


def test_tool_reports_an_upward_import_and_a_cycle(tmp_path):
    package = tmp_path / "syriaforecast"
    for folder in ("spec", "engine"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "forecast.py").write_text("from syriaforecast.engine import run\n")
    # engine.run imports forecast lazily (upward) and engine.data, which imports engine.run back (cycle).
    (package / "engine" / "run.py").write_text(
        "from syriaforecast.engine import data\n\ndef f():\n    from syriaforecast.forecast import x\n"
    )
    (package / "engine" / "data.py").write_text(
        "import syriaforecast.engine.run\nimport syriaforecast.errors\n"
    )
    (package / "spec" / "model.py").write_text("from syriaforecast import errors\n")
    done = _run("--src", str(tmp_path))
    assert done.returncode == 1
    out = done.stdout.replace("syriaforecast.", "")
    assert "UPWARD: engine.run (engine) imports forecast (forecast)" in out
    assert "CYCLE: engine.data <-> engine.run <-> forecast" in out
    assert "spec.model <- errors" in done.stdout
