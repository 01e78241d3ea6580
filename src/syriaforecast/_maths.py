"""Log-odds helpers shared by every layer (scalars as Python floats, arrays as ndarrays)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["expit", "expit_array", "logit", "logit_array", "stable_expit"]


def logit(p: float) -> float:
    """``log(p / (1 - p))``, written with ``log1p`` so that it stays exact near 0."""
    return math.log(p) - math.log1p(-p)


def expit(x: float) -> float:
    """``1 / (1 + exp(-x))``, the inverse of :func:`logit` (overflows below about -709)."""
    return 1.0 / (1.0 + math.exp(-x))


def stable_expit(x: float) -> float:
    """:func:`expit` without overflow for any ``x`` (each sign takes the branch that cannot overflow)."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def logit_array(p: Any) -> np.ndarray:
    """Elementwise :func:`logit` of an array."""
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def expit_array(x: Any) -> Any:
    """Elementwise :func:`expit` of an array (a 0-d input gives a NumPy scalar)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))
