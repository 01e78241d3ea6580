"""Elicited transitions, drivers and the residual scenario (issue #15): files, errors, exact mode.

Exact mode is checked against a brute-force enumeration of every scenario path
over the time-varying chain, with the transition matrices built here from the
issue's formula, ``A_t[i, j] = A[i, j] m_j / (A[i, i] + sum_{k != i} A[i, k] m_k)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.errors import EvidenceError, ModelFileError
from syriaforecast.phrases import DRIVER_EFFECTS, parse_phrase

from .test_engine_exact import PRIOR, SCENARIOS, cell_likelihood, reports, small_model

DATA = Path(__file__).parent / "data" / "drivers"

#: calm may move to tense (1%) or war ("remote"); war is absorbing; tense keeps persistence.
TRANSITIONS = {"calm": {"tense": 0.01, "war": "remote"}, "war": {"calm": 0.0, "tense": 0.0}}
#: a ceasefire makes calm three times as likely to be entered, war "less likely".
EFFECT = {"calm": 3.0, "war": "less likely"}


def dynamic_model(*, persistence: float = 0.8, months: int = 6, drivers: bool = True, error: float = 0.0):
    base = small_model(persistence=persistence, months=months, elicitation_error=error)
    data = base.to_dict()
    data["transitions"] = TRANSITIONS
    if drivers:
        data["drivers"] = [{"id": "ceasefire", "text": "Does a ceasefire hold?", "effect": EFFECT}]
    return sf.parse_model(data)


def elicited_matrix(persistence: float) -> np.ndarray:
    """The elicited matrix written out by hand from TRANSITIONS."""
    remote = parse_phrase("remote").midpoint
    move = (1 - persistence) / 2
    return np.array(
        [
            [1 - 0.01 - remote, 0.01, remote],
            [move, persistence, move],
            [0.0, 0.0, 1.0],
        ]
    )


def moved(A: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The issue's formula for one period's transition matrix given the drivers' product m."""
    out = np.empty_like(A)
    for i in range(A.shape[0]):
        denominator = A[i, i] + sum(A[i, k] * m[k] for k in range(A.shape[0]) if k != i)
        for j in range(A.shape[0]):
            out[i, j] = (A[i, i] if j == i else A[i, j] * m[j]) / denominator
    return out


def brute_force(model, rows, matrices):
    """Filtered and smoothed by enumerating every path; ``matrices[t]`` moves into period t."""
    T = model.horizon_index + 1
    S = len(SCENARIOS)
    emission = np.ones((T, S))
    cells: dict[tuple[int, str], list[tuple]] = {}
    for row in rows:
        if row[1] == "ceasefire":
            continue
        cells.setdefault((model.period_index(dt.date.fromisoformat(row[0])), row[1]), []).append(row)
    for (t, _), cell in cells.items():
        emission[t] *= [cell_likelihood(cell, s) for s in range(S)]
    pi = np.array(PRIOR)

    def weight(path):
        w = pi[path[0]] * emission[0, path[0]]
        for t in range(1, len(path)):
            w *= matrices[t][path[t - 1], path[t]] * emission[t, path[t]]
        return w

    filtered = np.zeros((T, S))
    for t in range(T):
        for path in itertools.product(range(S), repeat=t + 1):
            filtered[t, path[-1]] += weight(path)
        filtered[t] /= filtered[t].sum()
    smoothed = np.zeros((T, S))
    for path in itertools.product(range(S), repeat=T):
        for t in range(T):
            smoothed[t, path[t]] += weight(path)
    return filtered, smoothed / smoothed[0].sum()


ROWS = [
    ("2025-01-10", "a", "1", "B", "2"),
    ("2025-02-03", "c", "1", "", ""),
    ("2025-02-20", "ceasefire", "1", "", ""),
    ("2025-03-01", "incidents", "4", "C", "3"),
    ("2025-04-11", "level", "high", "", ""),
    ("2025-05-02", "ceasefire", "0", "", ""),
    ("2025-05-09", "b", "0", "", ""),
    ("2025-06-10", "ceasefire", "1", "", ""),
]


@pytest.mark.parametrize("persistence", [0.8, 0.97])
@pytest.mark.parametrize("with_driver", [False, True], ids=["elicited-rows", "rows-and-driver"])
def test_exact_mode_equals_brute_force_over_the_time_varying_chain(persistence, with_driver):
    model = dynamic_model(persistence=persistence, drivers=with_driver)
    rows = ROWS if with_driver else [r for r in ROWS if r[1] != "ceasefire"]
    evidence = sf.load_evidence(reports(rows), model)
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    A = elicited_matrix(persistence)
    # the ceasefire is on in periods 1-3 (from February; it ends in May) and from June (period 5)
    on = [0, 1, 1, 1, 0, 1] if with_driver else [0] * 6
    m = np.array([3.0, 1.0, DRIVER_EFFECTS["less likely"]])
    matrices = [moved(A, m) if on[t] else A for t in range(6)]
    filtered, smoothed = brute_force(model, rows, matrices)
    np.testing.assert_allclose(result.filtered.values[0, 0], filtered, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.smoothed.values[0, 0], smoothed, atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.horizon.values[0, 0], filtered[-1], atol=1e-10, rtol=0)


def test_absorbing_scenario_stays_absorbing_under_a_driver():
    model = dynamic_model()
    # war for sure in period 0 (an exact report only war can explain is not available: use the prior)
    data = model.to_dict()
    data["scenarios"][2]["prior"] = 0.999998
    data["scenarios"][0]["prior"] = 0.000001
    data["scenarios"][1]["prior"] = 0.000001
    model = sf.parse_model(data)
    evidence = sf.load_evidence(reports([("2025-02-01", "ceasefire", "1", "", "")]), model)
    result = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    war = result.filtered.values[0, 0, :, 2]
    assert np.all(np.diff(war) >= -1e-15)  # never leaves war: its share only grows
    assert war[-1] == pytest.approx(1.0, abs=1e-5)


def test_driver_keeps_its_last_logged_value_into_the_future():
    model = dynamic_model(months=12)
    evidence = sf.load_evidence(reports([("2025-03-01", "ceasefire", "1", "", "")]), model)
    from syriaforecast.engine.data import build_model_arrays, driver_states

    arrays = build_model_arrays(model)
    assert arrays.n_drivers == 1
    on = driver_states(model, evidence.up_to("2025-04-30"), 12)[:, 0]
    np.testing.assert_array_equal(on, [0, 0] + [1] * 10)
    assumed = driver_states(model, evidence, 12, {"ceasefire": {6: 0, 9: 1}})[:, 0]
    np.testing.assert_array_equal(assumed, [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1])


# --------------------------------------------------------------------------- files and errors
def test_bundled_example_round_trips_and_documents_its_parts():
    model = sf.load_model(DATA / "model.toml")
    assert model.residual == "other"
    assert sf.parse_model(model.to_toml()) == model
    A = np.array(model.transition_matrix())
    np.testing.assert_allclose(A.sum(axis=1), 1.0, atol=1e-12)
    assert A[2].tolist() == [0.0, 0.0, 1.0, 0.0]  # capture is absorbing
    assert model.drivers[0].factor("bargain") == DRIVER_EFFECTS["much more likely"]
    assert model.drivers[0].factor("thaw") == 1.0
    evidence = sf.load_evidence(DATA / "evidence.csv", model)
    assert len(evidence.to_dataframe()) == 5 and len(evidence.drivers) == 2
    again = sf.load_evidence(pd.read_csv(io.StringIO(evidence.to_csv_text()), dtype=str), model)
    columns = ["date", "indicator", "state"]
    assert again.drivers[columns].equals(evidence.drivers[columns])


def test_residual_likelihood_defaults_to_the_named_scenarios_midrange():
    model = sf.load_model(DATA / "model.toml")
    talks = model.indicator("talks")
    # the midrange of the named scenarios' logits (0.9 and 0.1 are symmetric: an even chance)
    assert talks.likelihood["other"] == pytest.approx(0.5, rel=1e-12)
    assert talks.defaulted == ("other",)
    incidents = model.indicator("incidents")
    assert incidents.likelihood["other"] == pytest.approx(math.sqrt(0.5 * 4.0), rel=1e-12)
    assert model.indicator("tension").defaulted == ()  # given in the file: used as written
    assert "other" not in model.to_dict()["indicators"][0]["likelihood"]


BAD = [
    ("[transitions.thaw]\nbargain = 0.05", "[transitions.thaw]\nbargin = 0.05", "transitions.thaw.bargin",
     "unknown scenario"),
    ("[transitions.thaw]\nbargain = 0.05", "[transitions.thw]\nbargain = 0.05", "transitions.thw",
     "an origin scenario id"),
    ("bargain = 0.05\ncapture = \"remote\"", "bargain = 0.7\ncapture = \"likely\"", "transitions.thaw",
     "summing to at most 1"),
    ("bargain = 0.05", "bargain = 1.5", "transitions.thaw.bargain", "probability in [0, 1]"),
    ("bargain = 0.05", "thaw = 0.05", "transitions.thaw.thaw", "stay probability"),
    ('capture = "remote"', 'capture = "sometimes"', "transitions.thaw.capture", "ICD 203"),
    ('id = "ceasefire"', 'id = "talks"', "id", "not also an indicator id"),
    ('bargain = "much more likely"', 'bargain = "loads more"', "effect.bargain", "much more likely"),
    ("capture = 0.5\n", "capture = -2\n", "effect.capture", "between"),
    ("capture = 0.5\n", "captur = 0.5\n", "effect.captur", "unknown scenario"),
    ('prior = 0.2\nresolution = "A deal', 'prior = 0.2\nresidual = true\nresolution = "A deal',
     "residual", "at most one residual"),
    ("residual = true", 'residual = "yes"', "residual", "boolean"),
    ("bargain = 0.9\ncapture = 0.1", "bargain = 0.9", "likelihood.capture", "every scenario"),
]


@pytest.mark.parametrize(("old", "new", "field", "allowed"), BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_misuse_is_a_located_problem(old, new, field, allowed, tmp_path):
    text = (DATA / "model.toml").read_text()
    assert old in text
    edited = text.replace(old, new, 1)
    path = tmp_path / "model.toml"
    path.write_text(edited)
    with pytest.raises(ModelFileError) as info:
        sf.load_model(path)
    problems = [p for p in info.value.problems if p.field == field]
    assert problems, info.value.problems
    problem = problems[0]
    assert problem.file == str(path)
    assert allowed in problem.allowed, problem
    found = re.match(r"line (\d+)", problem.location)
    assert found, problem
    # the line named holds the key, its table's header, or the edited text
    line = edited.splitlines()[int(found.group(1)) - 1]
    key = field.split(".")[-1]
    assert key in line or "[" in line or new.splitlines()[0] in line, (line, problem)


@pytest.mark.parametrize(
    ("row", "field", "allowed"),
    [
        ("2025-03-01,ceasefire,2,,,,", "value", "0 (off) or 1 (on)"),
        ("2025-03-01,ceasefire,yes,,,,", "value", "0 (off) or 1 (on)"),
        ("2025-03-01,ceasefire,1,B,,,", "reliability", "no Admiralty grades"),
        ("2025-03-01,ceasefir,1,,,,", "indicator", "indicator or driver id"),
    ],
)
def test_bad_driver_rows_are_located_problems(row, field, allowed, tmp_path):
    model = sf.load_model(DATA / "model.toml")
    path = tmp_path / "evidence.csv"
    path.write_text("date,indicator,value,reliability,credibility,source,note\n" + row + "\n")
    with pytest.raises(EvidenceError) as info:
        sf.load_evidence(path, model)
    (problem,) = info.value.problems
    assert (problem.file, problem.location, problem.field) == (str(path), "line 2", field)
    assert allowed in problem.allowed


def test_a_model_without_the_new_keys_is_unchanged():
    model = small_model()
    assert model.transitions == {} and model.drivers == () and model.residual is None
    assert "transitions" not in model.to_dict() and "drivers" not in model.to_dict()
    assert "transition_concentration" not in model.to_dict()["model"]


def test_the_driver_changes_the_forecast():
    """Guards the brute-force comparison: with the ceasefire logged the answer is different."""
    model = dynamic_model()
    without = reports([r for r in ROWS if r[1] != "ceasefire"])
    plain = sf.forecast(model, without, as_of="2025-06-30", exact=True)
    driven = sf.forecast(model, reports(ROWS), as_of="2025-06-30", exact=True)
    assert np.abs(driven.filtered.values - plain.filtered.values).max() > 0.01


def test_docs_examples_of_transitions_and_drivers_parse_with_the_bundled_model():
    root = Path(__file__).parents[1]
    doc = (root / "docs" / "model-format.md").read_text()
    blocks = []
    for heading in ("### Elicited transitions", "### Drivers"):
        section = doc[doc.index(heading) :]
        blocks.append(re.search(r"```toml\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    # The bundled model has its own rows and drivers (issue #20): drop them so the docs' take their place.
    bundled = dataclasses.replace(sf.load_model(sf.bundled_model()), transitions={}, drivers=())
    text = bundled.to_toml() + "\n" + "\n".join(blocks)
    model = sf.parse_model(text)
    A = np.array(model.transition_matrix())
    capture = model.scenario_ids.index("security_capture")
    assert A[capture].tolist() == np.eye(len(model.scenarios))[capture].tolist()  # absorbing
    assert A[0, 2] == pytest.approx(parse_phrase("remote").midpoint)
    assert model.drivers[0].factor("grand_bargain") == 5.0
    assert sf.parse_model(model.to_toml()) == model


def test_a_row_with_several_problems_names_each_on_its_own_line(tmp_path):
    """A key named like its row's origin is found on its own line, and the sum is checked beside the rest."""
    text = (DATA / "model.toml").read_text()
    edited = text.replace("bargain = 0.05", "thaw = 0.3\nbargain = 0.99\nbargin = 0.2", 1)
    path = tmp_path / "model.toml"
    path.write_text(edited)
    with pytest.raises(ModelFileError) as info:
        sf.load_model(path)
    lines = edited.splitlines()
    by_field = {p.field: p for p in info.value.problems}

    def line_of(field: str) -> str:
        found = re.match(r"line (\d+)", by_field[field].location)
        assert found, by_field[field]
        return lines[int(found.group(1)) - 1]

    assert line_of("transitions.thaw.thaw") == "thaw = 0.3"  # not the "[transitions.thaw]" header
    assert line_of("transitions.thaw.bargin") == "bargin = 0.2"
    # 0.99 to bargain plus "remote" to capture exceed 1 whatever the unknown "bargin" was meant to be.
    from syriaforecast.phrases import parse_phrase

    band = parse_phrase("remote")
    assert band is not None
    expected = 0.99 + band.midpoint + 0.01  # bargain, capture, other
    assert f"sum {expected:.6g} (of its valid entries)" in by_field["transitions.thaw"].value
    assert line_of("transitions.thaw") == "[transitions.thaw]"
