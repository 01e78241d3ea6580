"""A wheel built from the checkout installs into a fresh virtual environment and runs its main job there.

The environment is created outside the repository with no pip of its own; the
wheel goes in with ``pip --python`` and ``--no-deps``. Only then does a ``.pth``
file lend it the dependencies already installed for the test run: a path entry
(not a processed site directory), so the editable install of the checkout that
lives there is not picked up. The test checks that the copy imported is the
installed one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import syriaforecast as sf

ROOT = Path(__file__).resolve().parents[1]

# Builds a wheel and compiles the kernels afresh: about 2 minutes on 2 busy cores.
pytestmark = pytest.mark.slow


def _run(args: list[str | Path], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_installs_elsewhere_and_forecasts_the_bundled_model(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copytree(
        ROOT / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, checkout / name)
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist]
    _run([*build, checkout], cwd=tmp_path)
    (wheel,) = dist.glob("syriaforecast-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], cwd=tmp_path)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib], tmp_path).strip())
    (site / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "anywhere"
    work.mkdir()
    where = _run([python, "-c", "import sys, syriaforecast as s; print(s.__file__); print(sys.path)"], work)
    installed, path = where.splitlines()
    assert Path(installed).is_relative_to(site)
    assert str(ROOT / "src") not in path

    version = _run([env_dir / "bin" / "syriaforecast", "--version"], work)
    assert version.strip() == f"syriaforecast {sf.__version__}"
    printed = json.loads(_run([env_dir / "bin" / "syriaforecast", "forecast", "--exact", "--json"], work))
    model = sf.load_model(sf.bundled_model())
    evidence = sf.load_evidence(sf.bundled_evidence(), model)
    expected = sf.forecast(model, evidence, exact=True).summary()["mean"]
    assert printed["model"] == model.id
    for sid, row in printed["scenarios"].items():
        assert abs(row["mean"] - float(expected[sid])) <= 5e-7  # the JSON rounds to 6 places
    assert list(work.iterdir()) == []
