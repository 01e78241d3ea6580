"""Period labels in one pass equal the per-period labels (#14: exact mode at T = 2400 asks for 2,400)."""

from __future__ import annotations

import pytest

from syriaforecast.spec import periods


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        ("2025-01", "month"),
        ("0999-12", "month"),
        ("2020-W53", "week"),
        ("2024-W52", "week"),
        ("0998-W52", "week"),
        ("1900-Q3", "quarter"),
        ("0999-Q4", "quarter"),
    ],
)
def test_labels_in_one_pass_equal_each_periods_label(start, kind):
    first = periods.parse_start(start, kind)
    for n in (0, 1, 2, 53, 2400):
        expected = [periods.period_label(first + k) for k in range(n)]
        assert periods.period_labels(first, n) == expected
    labels = periods.period_labels(first, 3)
    labels.append("edited")  # callers get their own list, never the cached one
    assert periods.period_labels(first, 3) == expected[:3]
