"""What-ifs on clustered indicators read the members through the cluster's event (#16).

Collection priorities and "what would change my mind" price hypothetical
next-period readings. Members of one cluster share the period's latent event, so
one member's reading is read through its own elicited likelihood (the event model
keeps it), while readings of several members in one period are read jointly.
Before the fix, the pseudo-periods of ``group_log_likelihoods`` put different
members' hypothetical readings in one period: the first member got their joint
likelihood and the others likelihood 1 (no value at all).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.report.collection import collection_priorities, outcome_likelihoods
from syriaforecast.report.influence import group_log_likelihoods, prepare
from syriaforecast.report.mind import what_would_change_my_mind
from syriaforecast.studies.dependence import clustered_model, simulate_cluster_world

from .test_mind import _next_period_predictive

BASE = Path(__file__).parent / "data" / "synthetic_base.toml"
MEMBERS = ("member0", "member1", "member2")


@pytest.fixture(scope="module")
def clustered() -> tuple[sf.ScenarioModel, pd.DataFrame]:
    base = sf.load_model(BASE)
    model = clustered_model(base)  # three members of cluster "event", default closeness
    world = simulate_cluster_world(clustered_model(base, declare=False), np.random.default_rng(0))
    return model, world.rows


def _forecast(model: sf.ScenarioModel, rows: pd.DataFrame, as_of: str) -> sf.Forecast:
    return sf.forecast(model, rows[rows["date"] <= as_of], as_of=as_of, exact=True)


def _joint_by_hand(model: sf.ScenarioModel, readings: dict[str, int]) -> np.ndarray:
    """P(ungraded readings of some members | scenario) from the event model's closed form.

    With lo / hi the smallest / largest member likelihood under the scenario and
    closeness rho: P(event) = lo / (1 - hi + lo), P(member | event) = p + rho (1 - hi),
    P(member | no event) = p - rho lo (docs/model-format.md, clusters).
    """
    (cluster,) = model.clusters
    rho = cluster.closeness
    out = []
    for s in model.scenario_ids:
        p = {m: model.indicator(m).probability(s) for m in cluster.members}
        lo, hi = min(p.values()), max(p.values())
        event = lo / (1 - hi + lo)
        total = 0.0
        for happened, weight in ((True, event), (False, 1 - event)):
            term = weight
            for member, value in readings.items():
                seen = p[member] + rho * (1 - hi) if happened else p[member] - rho * lo
                term *= seen if value else 1 - seen
            total += term
        out.append(total)
    return np.array(out)


def test_each_members_outcome_likelihood_is_its_own_elicitation(clustered):
    model, rows = clustered
    setup = prepare(_forecast(model, rows, "2025-05-31"), max_draws=None)
    likelihoods = outcome_likelihoods(setup)
    for member in MEMBERS:
        labels, L = likelihoods[member]
        assert labels == ["0", "1"]
        expected = [model.indicator(member).probability(s) for s in model.scenario_ids]
        np.testing.assert_allclose(L[0, 1], expected, rtol=1e-10)
        np.testing.assert_allclose(L[0, 0], 1 - np.asarray(expected), rtol=1e-10)


def test_separate_groups_never_share_an_event_and_one_group_is_read_jointly(clustered):
    model, rows = clustered
    setup = prepare(_forecast(model, rows, "2025-05-31"), max_draws=None)

    def group(**readings: int) -> pd.DataFrame:
        n = len(readings)
        values = [str(v) for v in readings.values()]
        return pd.DataFrame(
            {"indicator": list(readings), "value": values, "reliability": [""] * n, "credibility": [0] * n}
        )

    groups = [group(member0=1), group(member1=1), group(member0=1, member2=0), group(member1=0, member2=1)]
    values = np.exp(group_log_likelihoods(model, setup.params, setup.arrays, groups))[0]
    expected = [
        _joint_by_hand(model, {"member0": 1}),
        _joint_by_hand(model, {"member1": 1}),
        _joint_by_hand(model, {"member0": 1, "member2": 0}),
        _joint_by_hand(model, {"member1": 0, "member2": 1}),
    ]
    np.testing.assert_allclose(values, expected, rtol=1e-10)
    # The joint is not the product of the members' own likelihoods (they covary given the scenario).
    assert not np.allclose(
        values[2], _joint_by_hand(model, {"member0": 1}) * _joint_by_hand(model, {"member2": 0})
    )


def test_collection_priorities_value_every_member(clustered):
    model, rows = clustered
    table = collection_priorities(_forecast(model, rows, "2025-05-31"), max_draws=None)
    assert (table.loc[list(MEMBERS), "gain_bits"] > 0).all()


@pytest.mark.parametrize("as_of", ["2025-02-28", "2025-05-31"])
def test_what_would_change_my_mind_reads_several_members_jointly(clustered, as_of):
    """The proposed members' readings give exactly the forecast made with them added (exact mode)."""
    model, rows = clustered
    fc = _forecast(model, rows, as_of)
    priorities = collection_priorities(fc, max_draws=None).loc[list(MEMBERS)]
    table = what_would_change_my_mind(fc, priorities=priorities)
    assert len(table) and table["n_reports"].max() >= 2  # the check below covers joint readings
    for _, row in table.iterrows():
        added = pd.DataFrame(
            [{"date": row["date"].isoformat(), "indicator": i, "value": v} for i, v in row["reports"]]
        )
        after = sf.forecast(model, pd.concat([rows[rows["date"] <= as_of], added]), exact=True)
        expected = after.mean("horizon").sel(scenario=list(model.scenario_ids)).to_numpy()
        np.testing.assert_allclose([row[s] for s in model.scenario_ids], expected, rtol=1e-9, atol=1e-12)
        # The chance of seeing the readings: P(Z_next | E) times their joint likelihood.
        readings = {i: int(v) for i, v in row["reports"]}
        predicted = _next_period_predictive(model, fc)
        assert row["probability"] == pytest.approx(predicted @ _joint_by_hand(model, readings), rel=1e-9)
