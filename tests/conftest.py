"""Shared fixtures for the syriaforecast test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny_model_path() -> Path:
    """A tiny valid model: two scenarios, one binary, one ordinal and one count indicator."""
    return DATA / "tiny" / "model.toml"


@pytest.fixture
def tiny_evidence_path() -> Path:
    """Valid evidence for the tiny model: graded and ungraded reports over three months."""
    return DATA / "tiny" / "evidence.csv"


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist, compile the kernels once before the workers start (tests/warm_caches.py)."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return  # a worker, or a run without workers: the first test that needs a kernel compiles it
    script = Path(__file__).with_name("warm_caches.py")
    parts = [
        subprocess.Popen([sys.executable, str(script), part], stderr=subprocess.PIPE, text=True)
        for part in ("sampled", "python")
    ]
    for part in parts:
        try:
            _, stderr = part.communicate(timeout=1200)
        except subprocess.TimeoutExpired:  # never hold the suite: the tests compile what is missing
            part.kill()
            _, stderr = part.communicate()
        if part.returncode:  # not fatal: the tests themselves then compile, and fail if broken
            print(f"tests/warm_caches.py {part.args[-1]} failed:\n{stderr[-2000:]}", file=sys.stderr)
