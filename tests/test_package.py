"""The package as an installed user meets it: a light import, and the heavy libraries only on demand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("pymc", "pytensor", "matplotlib")


def _loaded_after(statement: str) -> list[str]:
    """Heavy modules present in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"{statement}\nimport sys\nprint('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    last = out.splitlines()[-1]
    assert last.startswith("loaded:"), out
    return [m for m in last.removeprefix("loaded:").split(",") if m]


def test_import_loads_neither_pymc_pytensor_nor_matplotlib():
    code = "import syriaforecast, sys; print(any(m in sys.modules for m in ('pymc','pytensor','matplotlib')))"
    env = os.environ | {"PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


def test_cli_validate_and_exact_forecast_load_no_heavy_library(tiny_model_path, tiny_evidence_path):
    assert _loaded_after("import syriaforecast.cli") == []
    validate = (
        "from syriaforecast.cli import main\n"
        f"assert main(['validate', {str(tiny_model_path)!r}, {str(tiny_evidence_path)!r}]) == 0"
    )
    assert _loaded_after(validate) == []
    exact = (
        "from syriaforecast.cli import main\n"
        f"assert main(['forecast', '--model', {str(tiny_model_path)!r}, "
        f"'--evidence', {str(tiny_evidence_path)!r}, '--exact', '--json']) == 0"
    )
    assert _loaded_after(exact) == []
