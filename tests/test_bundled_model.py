"""The bundled Russia–Syria model as an analytic product (issue #20).

Checks that can fail when someone edits the bundled files: every evidence row has its
provenance (publication date, coder, link where known, one grade per report id), no row
leans on the analysis itself or is read as certain, the scenarios and indicators carry
their basis and rationale, the dynamics of issue #15 are switched on (residual scenario,
elicited rows, drivers), and the sensitivity figures quoted in the README and the review
are what an independent computation gives.

The independent computation: with no switching at all (``persistence = 1``) the
filtered probabilities are ``prior x product of the periods' evidence likelihoods``, so
the ratio of consecutive filtered vectors is each period's evidence likelihood (up to a
constant). From those, the test runs its own forward filter in numpy over any chain,
with the per-period matrices built from the formula in docs/model-format.md
(``A_t[i, j] = A[i, j] m_j / (A[i, i] + sum_k A[i, k] m_k)``) and the drivers' states
read from the CSV here, and propagates to the horizon. Only the evidence term comes from
the library (exact mode, itself checked against brute force in test_engine_exact.py,
and its cluster and multi-row report terms in test_clusters.py and test_joint_reports.py);
the chain, the drivers and ``assume=`` are recomputed. The chains' definitions (labels,
persistence, drivers, switches) are read from tools/bundled_model_record.py, which prints
the quoted table.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import syriaforecast as sf

ROOT = Path(__file__).resolve().parents[1]
MODEL = sf.bundled_model()
EVIDENCE = sf.bundled_evidence()
REVIEW = ROOT / "docs" / "bundled-model-review.md"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def model() -> sf.ScenarioModel:
    return sf.load_model(MODEL)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with EVIDENCE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


DRIVERS = ("ukraine_ceasefire", "us_engagement", "israeli_military_pressure")


def test_every_row_has_provenance(rows: list[dict[str, str]]) -> None:
    reports: dict[str, set[str]] = {}
    for line, row in enumerate(rows, start=2):
        if row["indicator"] in DRIVERS:
            # A driver's state is a public fact taken as exact: no grade, but a source and a link.
            assert row["source"] and row["url"] and not row["report"], line
        published = dt.date.fromisoformat(row["published"])
        assert published >= dt.date.fromisoformat(row["date"]), line
        assert row["url"] == "" or re.match(r"^https?://\S+$", row["url"]), line
        assert row["coder"], line
        if row["report"]:
            reports.setdefault(row["report"], set()).add(row["reliability"] + row["credibility"])
    # A report id names one source's reading of several cells, with one grade; an id used
    # once would be a typo (the loader accepts it, so this is the place to catch it).
    counts = {report: sum(row["report"] == report for row in rows) for report in reports}
    assert reports and min(counts.values()) >= 2, counts
    assert all(len(grades) == 1 for grades in reports.values()), reports


def test_no_row_cites_the_analysis_or_is_read_as_certain(rows: list[dict[str, str]]) -> None:
    for line, row in enumerate(rows, start=2):
        assert not row["source"].lower().startswith("analysis"), line
        assert "open-source review" not in row["source"].lower(), line
        if row["indicator"] not in DRIVERS:
            assert row["reliability"] and row["credibility"], line


def test_scenarios_exclusive_by_order_and_indicators_explained(model: sf.ScenarioModel) -> None:
    assert model.scenario_ids == ("limited_return", "security_capture", "grand_bargain", "russian_exit")
    assert sum(s.prior for s in model.scenarios) == pytest.approx(1.0)
    for indicator in model.indicators:
        assert indicator.basis, indicator.id
        # Every indicator says why, scenario by scenario.
        assert isinstance(indicator.rationale, Mapping), indicator.id
        assert set(indicator.rationale) == set(model.scenario_ids), indicator.id
    # The removed condition must not come back: it drove the largest indicator on S2.
    capture = next(s for s in model.scenarios if s.id == "security_capture")
    assert "leader-level" not in capture.resolution


def test_dynamics_are_switched_on(model: sf.ScenarioModel, rows: list[dict[str, str]]) -> None:
    # russian_exit is the model's "none of the above", with its likelihoods as written
    # (they describe a Russia without bases, which is more than "anything goes").
    assert model.residual == "russian_exit"
    assert all(not indicator.defaulted for indicator in model.indicators)
    # Every row of the chain is elicited: capture and exit are hard to undo.
    assert set(model.transitions) == set(model.scenario_ids)
    A = np.array(model.transition_matrix())
    assert A[model.scenario_ids.index("russian_exit"), model.scenario_ids.index("security_capture")] == 0.0
    assert model.driver_ids == DRIVERS
    logged = {row["indicator"] for row in rows if row["indicator"] in DRIVERS}
    assert logged == {"us_engagement", "israeli_military_pressure"}  # no ceasefire through the log


def _table(text: str) -> dict[str, tuple[list[float], list[float]]]:
    """Rows ``| chain | S1 | S2 | S3 | exit | as-of S1 / S2 / S3 / exit |`` of the sensitivity table."""
    block = text[text.index("| chain |") :]
    out: dict[str, tuple[list[float], list[float]]] = {}
    number = r"\s*(\d+\.\d)\s*"
    pattern = rf"^\|\s*([^|]+?)\s*\|{number}\|{number}\|{number}\|{number}\|\s*([\d./ ]+?)\s*\|\s*$"
    for line in block.splitlines()[2:]:
        match = re.match(pattern, line)
        if not match:
            break
        as_of = [float(v) for v in match.group(6).split("/")]
        out[match.group(1)] = ([float(match.group(k)) for k in range(2, 6)], as_of)
    return out


def _record_tool():  # type: ignore[no-untyped-def]
    """tools/bundled_model_record.py, the script that prints the quoted table (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "bundled_model_record", ROOT / "tools" / "bundled_model_record.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The month after the last report: the tool's ``{next}``, where the assumed driver switches start.
NEXT = "2026-03"
#: The chains of the sensitivity table, as the tool defines them: label -> (uniform persistence
#: or None for the elicited rows, with the drivers?, assumed driver switch from NEXT). Only the
#: definitions are shared; the figures below come from this module's own forward filter.
CHAINS: dict[str, tuple[float | None, bool, tuple[str, int] | None]] = {
    label.format(next=NEXT): chain for label, chain in _record_tool().CHAINS.items()
}


def _moved(A: np.ndarray, m: np.ndarray) -> np.ndarray:
    """docs/model-format.md: the odds of moving into j against staying are multiplied by m_j."""
    out = A * m[None, :]
    np.fill_diagonal(out, np.diag(A))
    return out / out.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def independent(model: sf.ScenarioModel, rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    """label -> (horizon %, as-of %) by a forward filter written here (see the module docstring)."""
    evidence = sf.load_evidence(EVIDENCE, model)
    static = sf.forecast(dataclasses.replace(model, persistence=1.0, transitions={}), evidence, exact=True)
    filtered = static.filtered.values[0, 0]
    as_of = model.period_index(evidence.last_date)
    assert static.as_of == evidence.last_date and filtered.min() > 1e-12  # ratios are safe
    # NEXT is the month after the last report.
    assert model.period_index(dt.date.fromisoformat(NEXT + "-01")) == as_of + 1
    prior = np.array(model.prior)
    likelihood = np.vstack([filtered[0] / prior, filtered[1 : as_of + 1] / filtered[:as_of]])
    H, S = model.horizon_index, len(model.scenario_ids)

    def states(driver: str, switch: tuple[str, int] | None) -> np.ndarray:
        on = np.zeros(H + 1)
        for row in sorted((r for r in rows if r["indicator"] == driver), key=lambda r: r["date"]):
            on[model.period_index(dt.date.fromisoformat(row["date"])) :] = float(row["value"])
        if switch is not None and switch[0] == driver:
            on[model.period_index(dt.date.fromisoformat(NEXT + "-01")) :] = switch[1]
        return on

    out = {}
    for label, (persistence, drivers, switch) in CHAINS.items():
        if persistence is None:
            A = np.array(model.transition_matrix())
        else:
            A = np.full((S, S), (1 - persistence) / (S - 1))
            np.fill_diagonal(A, persistence)
        m = np.ones((H + 1, S))
        for driver in model.drivers if drivers else ():
            factors = np.array([driver.factor(sid) for sid in model.scenario_ids])
            m *= np.where(states(driver.id, switch)[:, None] == 1, factors[None, :], 1.0)
        p = prior * likelihood[0]
        p /= p.sum()
        now = p
        for t in range(1, H + 1):
            p = p @ _moved(A, m[t])
            if t <= as_of:
                p = p * likelihood[t]
                p /= p.sum()
            if t == as_of:
                now = p
        out[label] = (100 * p, 100 * now)
    return out


def test_independent_computation_agrees_with_the_api(
    model: sf.ScenarioModel, independent: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Full precision: the engine's chain, drivers and ``assume=`` against the numpy filter above."""
    evidence = sf.load_evidence(EVIDENCE, model)
    bare = dataclasses.replace(model, drivers=())
    table = evidence.to_dataframe()
    bare_evidence = sf.load_evidence(
        table[[c for c in table.columns if c not in ("line", "period", "state")]], bare
    )
    for label, (persistence, drivers, switch) in CHAINS.items():
        chain = model if drivers else bare
        if persistence is not None:
            chain = dataclasses.replace(chain, persistence=persistence, transitions={})
        assume = {switch[0]: {NEXT: switch[1]}} if switch else None
        result = sf.forecast(chain, evidence if drivers else bare_evidence, exact=True, assume=assume)
        horizon = 100 * result.mean("horizon").values
        np.testing.assert_allclose(horizon, independent[label][0], atol=1e-8, err_msg=label)


@pytest.mark.parametrize("path", [README, REVIEW], ids=["README", "review"])
def test_quoted_sensitivity_is_what_an_independent_computation_gives(
    path: Path, independent: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    quoted = _table(path.read_text(encoding="utf-8"))
    assert set(quoted) == set(CHAINS)
    for label, (horizon, as_of) in quoted.items():
        assert horizon == pytest.approx(list(independent[label][0]), abs=0.051), label
        assert as_of == pytest.approx(list(independent[label][1]), abs=0.051), label


def test_summary_counts_reports_and_driver_rows_apart(
    rows: list[dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from syriaforecast.cli import main

    drivers = sum(row["indicator"] in DRIVERS for row in rows)
    assert main(["forecast", "--model", str(MODEL), "--evidence", str(EVIDENCE), "--exact", "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{len(rows) - drivers} reports used;" in out and f"; {drivers} driver rows" in out


def test_sources_are_outlets_and_citations_are_kept(rows: list[dict[str, str]]) -> None:
    """Issue #16: ``source`` names whom the grade rates, the same way on every row, and the citation survives.

    A source with a date in it ("Reuters, 2025-07-31") would make every citation its own
    source, so no outlet's reports would share what the model learns about it; the full
    citation the row was coded from is kept at the end of ``note``.
    """
    by_report: dict[str, set[str]] = {}
    for line, row in enumerate(rows, start=2):
        assert row["source"].strip(), f"line {line}: no source"
        assert not re.search(r"\d{4}", row["source"]), f"line {line}: source {row['source']!r} holds a date"
        cited = re.search(r" \[cited: ([^\]]+)\]$", row["note"])
        assert cited, f"line {line}: the note does not end with the citation"
        if row["report"]:
            by_report.setdefault(row["report"], set()).add(row["source"])
    assert all(len(names) == 1 for names in by_report.values()), by_report
    graded = {row["source"] for row in rows if row["reliability"]}
    assert len(graded) < len([row for row in rows if row["reliability"]]) / 3  # outlets, not citations
