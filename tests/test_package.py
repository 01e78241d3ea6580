"""The package as an installed user meets it: a light import, and the heavy libraries only on demand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import syriaforecast as sf
from syriaforecast.bundled import bundled_files
from syriaforecast.cli import main

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


def test_bundled_files_ship_inside_the_package():
    package = Path(sf.__file__).parent
    for path in (sf.bundled_model(), sf.bundled_evidence()):
        assert path.is_file() and path.parent == package / "data"
    model = sf.load_model(sf.bundled_model())
    assert model.id and len(sf.load_evidence(sf.bundled_evidence(), model)) > 0
    assert sf.bundled_model("central_bank_cut").name == "central_bank_cut.toml"
    assert {"russia_syria.toml", "russia_syria_evidence.csv", "synthetic_base.toml"} <= set(bundled_files())


def test_unknown_bundled_name_lists_what_ships():

    with pytest.raises(sf.SyriaforecastError, match=r"no bundled file 'nope\.toml'.*russia_syria\.toml"):
        sf.bundled_model("nope")


def test_version_flag(capsys):

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"syriaforecast {sf.__version__}"


def test_bare_forecast_in_any_folder_uses_the_bundled_model(tmp_path, monkeypatch, capsys):

    monkeypatch.chdir(tmp_path)
    assert main(["forecast", "--exact", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    model = sf.load_model(sf.bundled_model())
    expected = sf.forecast(model, sf.load_evidence(sf.bundled_evidence(), model), exact=True)
    assert printed["model"] == model.id
    means = expected.summary()["mean"]
    for sid, row in printed["scenarios"].items():
        assert abs(row["mean"] - float(means[sid])) <= 5e-7  # the JSON rounds to 6 places
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
