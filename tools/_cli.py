"""Command-line pieces shared by the measurement tools (run them from the repository root)."""

from __future__ import annotations


def seed_list(text: str) -> list[int]:
    """Seeds from ``"0-9"`` (both ends included) or ``"1,4,7"``; ``""`` gives none."""
    if "-" in text:
        low, high = (int(v) for v in text.split("-"))
        return list(range(low, high + 1))
    return [int(v) for v in text.split(",") if v]
