"""Tripwires: located validation of ``[[tripwires]]`` and alerts that fire exactly when crossed."""

from __future__ import annotations

from pathlib import Path

import pytest

import syriaforecast as sf
from syriaforecast.alerts import newly_fired
from syriaforecast.errors import ModelFileError

DATA = Path(__file__).parent / "data"
MODEL = DATA / "tripwires_tiny.toml"
EVIDENCE = DATA / "report_tiny_evidence.csv"
BASE = (DATA / "report_tiny.toml").read_text()


def _with(tripwires: str) -> str:
    return BASE + "\n" + tripwires


def test_tripwires_parse_and_round_trip() -> None:
    model = sf.load_model(MODEL)
    kinds = {w.id: (w.kind, w.value) for w in model.tripwires}
    assert kinds == {
        "war-rising": ("probability", None),
        "calm-fading": ("probability", None),
        "strikes-seen": ("indicator", "1"),
        "tension-high": ("indicator", "high"),
        "many-incidents": ("indicator", "3"),
    }
    assert sf.parse_model(model.to_toml()) == model
    # Level names ignore case (as in the evidence log) and are kept as the model spells them.
    wire = sf.parse_model(
        _with('[[tripwires]]\nid = "t"\nindicator = "tension"\nvalue = "HIGH"\n')
    ).tripwires[0]
    assert wire.value == "high"


BAD = [
    (
        'id = "a"\nscenario = "peace"\nabove = 0.3',
        "tripwires[0].scenario",
        "a scenario id: one of calm, tense, war",
    ),
    ('id = "a"\nindicator = "tensio"\nvalue = 1', "tripwires[0].indicator", "an indicator id"),
    ('id = "a"\nscenario = "war"\nabove = 0.3\nbelow = 0.1', "tripwires[0].below", "not both"),
    ('id = "a"\nscenario = "war"\nabove = 1.5', "tripwires[0].above", "a probability between 0 and 1"),
    ('id = "a"\nscenario = "war"\nbelow = -0.1', "tripwires[0].below", "a probability between 0 and 1"),
    ('id = "a"\nscenario = "war"\nabove = true', "tripwires[0].above", "a probability between 0 and 1"),
    ('id = "a"\nscenario = "war"', "tripwires[0]", "above or below"),
    ('id = "a"\nindicator = "strikes"\nvalue = 2', "tripwires[0].value", "0 or 1"),
    (
        'id = "a"\nindicator = "tension"\nvalue = "extreme"',
        "tripwires[0].value",
        "levels 'low', 'medium', 'high'",
    ),
    ('id = "a"\nindicator = "incidents"\nvalue = -1', "tripwires[0].value", "a whole number"),
    ('id = "a"\nindicator = "strikes"', "tripwires[0]", "the value of the indicator"),
    ('id = "a"\nscenario = "war"\nindicator = "strikes"\nvalue = 1', "tripwires[0].indicator", "not both"),
    ('id = "a"\ntext = "nothing to watch"', "tripwires[0]", "a scenario with above or below"),
    (
        'id = "a"\nindicator = "strikes"\nvalue = 1\nabove = 0.5',
        "tripwires[0].above",
        "only scenario tripwires",
    ),
    ('id = "a"\nscenario = "war"\nabove = 0.5\ncolour = "red"', "tripwires[0].colour", "unknown key"),
]


@pytest.mark.parametrize(("body", "where", "allowed"), BAD)
def test_bad_tripwire_is_located(body: str, where: str, allowed: str) -> None:
    text = _with("[[tripwires]]\n" + body + "\n")
    with pytest.raises(ModelFileError) as info:
        sf.parse_model(text, source="m.toml")
    problems = info.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.file == "m.toml"
    assert where in problem.location and '(id "a")' in problem.location
    header = text.splitlines().index("[[tripwires]]") + 1
    line = int(problem.location.split(",")[0].removeprefix("line "))
    assert header <= line <= header + body.count("\n") + 1
    assert allowed in problem.allowed


def test_duplicate_tripwire_ids_and_every_problem_reported() -> None:
    text = _with(
        '[[tripwires]]\nid = "a"\nscenario = "war"\nabove = 0.3\n\n'
        '[[tripwires]]\nid = "a"\nscenario = "calm"\nbelow = 2\n'
    )
    with pytest.raises(ModelFileError) as info:
        sf.parse_model(text)
    found = {(p.location.split(", ")[1], p.allowed) for p in info.value.problems}
    assert ('tripwires[1].id (id "a")', "tripwire ids must be unique") in found
    assert ('tripwires[1].below (id "a")', "a probability between 0 and 1") in found


def _exact(model: sf.ScenarioModel, as_of: str) -> sf.Forecast:
    return sf.forecast(model, sf.load_evidence(EVIDENCE, model), as_of=as_of, exact=True)


def test_probability_tripwires_fire_exactly_when_crossed() -> None:
    base = sf.parse_model(BASE)
    p = float(_exact(base, "2025-03-31").mean("horizon").sel(scenario="war"))
    cases = {
        f"above = {p!r}": False,  # on the line is not across it
        f"below = {p!r}": False,
        f"above = {p - 1e-9!r}": True,
        f"above = {p + 1e-9!r}": False,
        f"below = {p + 1e-9!r}": True,
        f"below = {p - 1e-9!r}": False,
    }
    wires = "".join(f'[[tripwires]]\nid = "w{k}"\nscenario = "war"\n{line}\n' for k, line in enumerate(cases))
    alerts = _exact(sf.parse_model(_with(wires)), "2025-03-31").alerts()
    fired = {a["tripwire"] for a in alerts}
    assert fired == {f"w{k}" for k, expect in enumerate(cases.values()) if expect}
    for alert in alerts:
        assert alert["probability"] == pytest.approx(p, abs=1e-12)
        assert alert["kind"] == "probability" and alert["scenario"] == "war"


@pytest.mark.parametrize(
    ("indicator", "value", "first_fired"),
    [
        # report_tiny_evidence.csv: strikes 1 on 02-05 (then 0 on 04-02); incidents 3 on 02-10 and 1 on
        # 02-18; tension high on 03-01, medium on 03-15.
        ("strikes", "1", "2025-02-05"),
        ("strikes", "0", "2025-04-02"),
        ("incidents", "3", "2025-02-10"),
        ("incidents", "1", "2025-02-10"),
        ("incidents", "4", None),
        ("tension", "high", "2025-03-01"),
        ("tension", "medium", "2025-03-01"),
        ("quiet", "1", None),
    ],
)
def test_indicator_tripwires_fire_from_the_first_report_that_reads_the_value(
    indicator: str, value: str, first_fired: str | None
) -> None:
    quoted = value if indicator != "tension" else f'"{value}"'
    model = sf.parse_model(_with(f'[[tripwires]]\nid = "t"\nindicator = "{indicator}"\nvalue = {quoted}\n'))
    evidence = sf.load_evidence(EVIDENCE, model)
    dates = sorted({d.isoformat() for d in evidence.to_dataframe()["date"]})
    for date in dates:
        fired = sf.forecast(model, evidence, as_of=date, exact=True).alerts()
        expect = first_fired is not None and date >= first_fired
        assert bool(fired) == expect, (date, fired)
        if fired:
            assert fired[0]["first_seen"] == first_fired
            assert fired[0]["reports"] >= 1 and fired[0]["last_seen"] <= date


def test_newly_fired_between_entries() -> None:
    a = [{"tripwire": "x"}, {"tripwire": "y"}]
    assert newly_fired(None, a) == ["x", "y"]
    assert newly_fired(a, [{"tripwire": "y"}, {"tripwire": "z"}]) == ["z"]
    assert newly_fired(a, []) == []


def test_the_documented_example_parses() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "model-format.md").read_text()
    section = doc[doc.index("### `[[tripwires]]`") :]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    model = sf.parse_model(_with(block))
    assert [(w.id, w.describe()) for w in model.tripwires] == [
        ("war-rising", "P(war) above 0.3"),
        ("tension-high", "tension = high"),
    ]
