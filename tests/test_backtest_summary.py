"""The backtest's summary says what happened: sampler fits for sampled cases, exact replays for exact ones.

A case whose model has ``elicitation_error = 0`` is replayed in exact mode even in
a hierarchical backtest: no sampler runs, so none of its cutoffs may be counted as
a fit, in the result, the table, the ``--json`` output or the plot.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from rich.console import Console

import syriaforecast.backtest as bt
from syriaforecast.backtest.cli import _print_tables, backtest_json, replay_summary
from syriaforecast.backtest.plots import plot_outcome_probability
from syriaforecast.errors import ConvergenceWarning

from .conftest import DATA

TINY = DATA / "tiny"
CUTOFFS = ["2025-02-28", "2025-03-31", "2025-06-30"]


def _case(root, name: str, elicitation_error: str):
    case = root / name
    case.mkdir(parents=True)
    text = (TINY / "model.toml").read_text()
    (case / "model.toml").write_text(
        text.replace("elicitation_error = 0.5", f"elicitation_error = {elicitation_error}")
    )
    (case / "evidence.csv").write_bytes((TINY / "evidence.csv").read_bytes())
    (case / "outcome.toml").write_text('scenario = "calm"\ndate = 2025-12-31\n')
    return case


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A hierarchical backtest of one exact-model case and one sampled case (small fits)."""
    root = tmp_path_factory.mktemp("cases")
    _case(root, "exact_case", "0")
    _case(root, "sampled_case", "0.5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 x 100 draws: the check is not the point
        return bt.backtest(
            root, cutoffs=CUTOFFS, method="hierarchical", draws=100, tune=100, chains=2, executor="serial",
            progress=False,
        )  # fmt: skip


def test_exact_replays_are_not_counted_as_fits(mixed):
    assert mixed["exact"].values.tolist() == [True, False]
    exact, sampled = 0, 1
    # Exact case: no sampler run anywhere (no seed drawn), so no fit and no refit.
    assert not mixed["fitted"].values[exact].any()
    assert (mixed["sampler_seed"].values[exact] == -1).all()
    assert int(mixed["n_fits"].values[exact]) == 0 and int(mixed["n_refits"].values[exact]) == 0
    # Sampled case: a fit is a cutoff where the sampler drew a seed.
    seeded = int((mixed["sampler_seed"].values[sampled] >= 0).sum())
    assert seeded >= 1
    assert int(mixed["n_fits"].values[sampled]) == seeded
    assert int(mixed["n_refits"].values[sampled]) == seeded - 1


def test_summary_line_table_and_json_say_exact(mixed):
    fits = int((mixed["sampler_seed"].values[1] >= 0).sum())
    line = replay_summary(mixed)
    plural = "" if fits == 1 else "s"
    assert line.startswith(f"Replay: {fits} sampler fit{plural} for 3 forecasts of 1 case ")
    assert line.endswith(
        "; 3 forecasts of 1 case computed exactly, no sampler run (elicitation_error = 0: exact_case)"
    )

    stream = io.StringIO()
    _print_tables(mixed, Console(file=stream, width=400, highlight=False))
    rows = {
        line.split("│")[1].strip(): line.split("│")[4].strip()
        for line in stream.getvalue().splitlines()
        if "_case" in line and "│" in line
    }
    assert rows == {"exact_case": "exact", "sampled_case": str(fits)}

    cases = {c["case"]: c for c in json.loads(json.dumps(backtest_json(mixed)))["cases"]}
    assert (cases["exact_case"]["exact"], cases["exact_case"]["fits"], cases["exact_case"]["refits"]) == (
        True,
        0,
        0,
    )
    assert not any(f["fitted"] for f in cases["exact_case"]["forecasts"])
    assert (cases["sampled_case"]["exact"], cases["sampled_case"]["fits"]) == (False, fits)


def test_plot_marks_exact_replays(mixed):
    fig = plot_outcome_probability(mixed)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert "computed exactly (no sampling)" in labels and "model fitted here" in labels


def test_an_exact_backtest_has_no_fits_and_says_so():
    result = bt.backtest(DATA / "cases", cutoffs=[0, 6], method="exact", executor="serial", progress=False)
    n = int(np.isfinite(result["brier"].values).sum())
    assert result["exact"].values.all() and int(result["n_fits"].sum()) == 0
    ids = ", ".join(str(c) for c in result["case"].values)
    assert replay_summary(result) == (
        f"Replay: {n} forecasts of {result.sizes['case']} cases computed exactly, no sampler run "
        f"(exact mode: {ids})"
    )
