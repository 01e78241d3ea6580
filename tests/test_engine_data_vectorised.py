"""The vectorised cell building equals the loop it replaced, array for array (#14).

``build_engine_data`` arranges reports into cells by sorting and grouping;
``tests/_engine_data_loop.py`` keeps the loop implementation it replaced,
verbatim, as the reference. Every field of :class:`EngineData` must be equal
(same dtype, shape and values, NaN-free) on the bundled evidence, synthetic
worlds, random logs with every indicator type, grades, report ids and sources,
clusters, driver rows with assumptions, and no evidence at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.bundled import bundled_path
from syriaforecast.engine.data import EngineData, build_engine_data, build_model_arrays, driver_states
from syriaforecast.errors import SyriaforecastError
from syriaforecast.studies.synthetic import simulate_world

from ._engine_data_loop import build_engine_data_loop, driver_states_loop
from .test_clusters import cluster_model

DRIVERS = Path(__file__).parent / "data" / "drivers"


def assert_same(new: EngineData, old: EngineData) -> None:
    for f in dataclasses.fields(EngineData):
        a, b = getattr(new, f.name), getattr(old, f.name)
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray), f.name
            assert a.dtype == b.dtype, (f.name, a.dtype, b.dtype)
            assert a.shape == b.shape, (f.name, a.shape, b.shape)
            assert np.array_equal(a, b), f.name
        else:
            assert a == b, f.name


def both(model, evidence, n_periods=None, assume=None) -> EngineData:
    arrays = build_model_arrays(model)
    n = model.horizon_index + 1 if n_periods is None else n_periods
    errors = []
    results = []
    for build in (build_engine_data, build_engine_data_loop):
        try:
            results.append(build(model, arrays, evidence, n, assume))
        except SyriaforecastError as exc:
            errors.append(str(exc))
    assert len(errors) in (0, 2), errors  # both refuse (same message) or both build
    if errors:
        assert errors[0] == errors[1]
        return None
    assert_same(*results)
    return results[0]


def random_log(model, rng, n_rows, *, report_pool=6, source_pool=5) -> pd.DataFrame:
    """Random valid reports of every indicator type, grade and provenance the loader accepts."""
    first = model.first_period.start_time.date()
    span = (model.horizon - first).days

    def grade() -> tuple[str, str]:
        kind = rng.integers(4)
        rel = "" if kind == 0 else str(rng.choice(list("ABCDEF")))
        return rel, ("" if kind in (0, 1) else str(rng.integers(1, 7)))

    # A report id is one source's reading: one grade and one source for all its rows.
    reports = {f"r{k}": (*grade(), f"src{rng.integers(source_pool)}") for k in range(report_pool)}
    counts = [i for i in model.indicators if i.type == "count"]
    rows = []
    for _ in range(n_rows):
        pool = counts if counts and rng.random() < 0.2 else model.indicators  # counts are few
        ind = pool[rng.integers(len(pool))]
        if ind.type == "count":
            value = str(int(rng.choice([0, 1, 2, 3, 7, 40])))
        else:
            value = ind.levels[rng.integers(len(ind.levels))]
        report = "" if rng.random() < 0.4 else f"r{rng.integers(report_pool)}"
        rel, cred, source = reports[report] if report else (*grade(), f"src{rng.integers(source_pool)}")
        rows.append(
            {
                "date": (first + dt.timedelta(days=int(rng.integers(span)))).isoformat(),
                "indicator": ind.id,
                "value": value,
                "reliability": rel,
                "credibility": cred,
                "source": "" if not report and rng.random() < 0.3 else source,
                "report": report,
            }
        )
    return pd.DataFrame(rows)


def random_evidence(model, seed, n_rows, **kwargs):
    """The first random log the loader accepts (it refuses e.g. disagreeing ungraded reports)."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        try:
            return sf.load_evidence(random_log(model, rng, n_rows, **kwargs), model)
        except SyriaforecastError:
            continue
    raise AssertionError("no valid random log in 50 tries")


@pytest.mark.parametrize("name", ["russia_syria", "central_bank_cut"])
def test_bundled_evidence_builds_the_same_arrays(name):
    model = sf.load_model(sf.bundled_model(name))
    evidence = sf.load_evidence(sf.bundled_evidence(name), model)
    data = both(model, evidence)
    assert data is not None and data.n_cells > 0
    for cut in (1, 5, model.horizon_index // 2):  # fewer periods: later reports dropped
        both(model, evidence, cut)
    both(model, evidence.up_to(evidence.last_published - dt.timedelta(days=90)))


def test_no_evidence_builds_the_same_empty_arrays():
    model = sf.load_model(sf.bundled_model())
    empty = sf.load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), model)
    data = both(model, empty)
    assert data.n_cells == 0 and data.report_match.shape == (0, data.slots)


@pytest.mark.parametrize("seed", range(3))
def test_synthetic_worlds_build_the_same_arrays(seed):
    base = sf.load_model(bundled_path("synthetic_base.toml"))
    world = simulate_world(base, seed=seed, report_rate=0.6)
    both(world.model, world.evidence)


def test_random_logs_with_every_type_grade_report_and_source():
    model = sf.load_model(sf.bundled_model())
    seen = {"joint": 0, "source": 0, "face": 0, "count": 0, "refused": 0}
    for seed in range(12):
        data = both(model, random_evidence(model, seed, 150, report_pool=15))
        if data is None:
            seen["refused"] += 1
            continue
        seen["joint"] += bool((data.report_joint >= 0).any())
        seen["source"] += bool((data.report_source >= 0).any())
        seen["face"] += bool((data.face_log_reading == -np.inf).any())
        counts = build_model_arrays(model).is_count[data.cell_indicator]
        seen["count"] += bool(((data.cell_count_values >= 0).sum(axis=1)[counts] >= 2).any())
    # The logs exercised what they are for: joint reports, sources, face-value rows, count slots.
    assert min(seen["joint"], seen["source"], seen["face"], seen["count"]) >= 3, seen


def test_random_logs_of_a_model_with_a_cluster():
    model = cluster_model(months=6)
    events = 0
    for seed in range(6):
        data = both(model, random_evidence(model, 100 + seed, 40, report_pool=30))
        events += data is not None and bool((data.cell_event >= 0).any())
    assert events >= 4


def test_driver_rows_and_assumptions_build_the_same_arrays():
    model = sf.load_model(f"{DRIVERS}/model.toml")
    evidence = sf.load_evidence(f"{DRIVERS}/evidence.csv", model)
    assert len(evidence.drivers)
    n = model.horizon_index + 1
    for assume in (None, {model.driver_ids[0]: {n - 2: 0}}, {model.driver_ids[0]: {1: 1, n - 1: 0}}):
        both(model, evidence, assume=assume)
        assert np.array_equal(
            driver_states(model, evidence, n, assume), driver_states_loop(model, evidence, n, assume)
        )


def test_cell_unit_is_each_components_first_cell():
    model = sf.load_model(sf.bundled_model())
    for seed in range(4):
        data = both(model, random_evidence(model, 50 + seed, 150, report_pool=15))
        first: dict[int, int] = {}
        expected = [first.setdefault(int(g), c) if g >= 0 else c for c, g in enumerate(data.cell_component)]
        assert data.cell_unit.tolist() == expected


def test_data_under_moved_elicitations_equals_arranging_the_evidence_again():
    """``data_under`` (the what-ifs' shortcut) gives the arrays a fresh arrangement under the moved
    elicitations gives: the bundled model with every elicitation of one scenario moved a band
    (what the sensitivity table does), on random logs with graded count readings."""
    from syriaforecast.engine.data import data_under
    from syriaforecast.report.influence import indicator_only_arrays
    from syriaforecast.report.sensitivity import shifted_elicitation
    from syriaforecast.spec.model import parse_model

    model = sf.load_model(sf.bundled_model())
    base = build_model_arrays(model)
    count = int(np.flatnonzero(base.is_count)[0])
    changed = 0
    for seed in range(4):
        evidence = random_evidence(model, seed, 150, report_pool=15)
        data = build_engine_data(model, base, evidence, model.horizon_index + 1)
        for sid, steps in ((model.scenario_ids[0], 1), (model.scenario_ids[-1], -1)):
            moved = model.to_dict()
            for entry, ind in zip(moved["indicators"], model.indicators, strict=True):
                value, _ = shifted_elicitation(ind, sid, steps)
                entry["likelihood"][sid] = list(value) if isinstance(value, tuple) else value
            variant = parse_model(moved, source="<moved>")
            arrays = build_model_arrays(variant)
            for other, under in ((variant, arrays), (model, indicator_only_arrays(base, arrays, count))):
                fresh = build_engine_data(other, under, evidence, model.horizon_index + 1)
                shortcut = data_under(data, base, under)
                assert_same(shortcut, fresh)
                changed += not np.array_equal(shortcut.report_noise, data.report_noise)
    assert changed >= 4  # count readings were there, and their noise moved with the rates


def test_data_under_refuses_arrays_of_other_indicators():
    from syriaforecast.engine.data import data_under

    model = sf.load_model(sf.bundled_model())
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, sf.load_evidence(sf.bundled_evidence(), model), 5)
    other = dataclasses.replace(arrays, is_count=~arrays.is_count)
    with pytest.raises(ValueError, match="other indicators"):
        data_under(data, arrays, other)
