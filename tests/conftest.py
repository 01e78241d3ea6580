"""Shared fixtures for the syriaforecast test suite."""

from __future__ import annotations

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
