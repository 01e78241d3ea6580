"""One report, several cells (#16): one truthfulness for all the rows a report codes.

The kernel's exact sum over truthfulness patterns is checked against a brute-force
enumeration written here from the definition (every true state of every cell and
every truthfulness of every report), against the PyTensor reference graph
(values and autodiff gradients) and against finite differences.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    MAX_JOINT_REPORTS,
    RELIABILITY_PRIOR_MEAN,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
from syriaforecast.engine.kernel import log_likelihood_and_gradient
from syriaforecast.errors import SyriaforecastError

from .kernel_args import (
    CHAIN_PARAMS,
    assert_density_gradient_matches_finite_differences,
    engine_inputs,
    kernel_args,
    kernel_differences,
    reference_graph,
)
from .test_engine_exact import BINARY, RATES, small_model, state_probability

COLUMNS = ["date", "indicator", "value", "reliability", "credibility", "report"]
# One month: a visit coded into three cells, a wire story into two (sharing cell "a" with the
# visit), an independent graded row, an ungraded row and a report id used once.
FEBRUARY = [
    ("2025-02-03", "a", "1", "B", "2", "visit"),
    ("2025-02-03", "b", "0", "B", "2", "visit"),
    ("2025-02-04", "level", "high", "B", "2", "visit"),
    ("2025-02-05", "a", "0", "C", "3", "wire"),
    ("2025-02-05", "incidents", "3", "C", "3", "wire"),
    ("2025-02-07", "c", "1", "D", "4", ""),
    ("2025-02-08", "b", "0", "", "", "visit-2"),
    ("2025-02-09", "level", "mid", "E", "", "solo"),
]


def frame(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


def states_of(indicator: str) -> list[str]:
    if indicator in BINARY:
        return ["0", "1"]
    if indicator == "level":
        return ["low", "mid", "high"]
    return [str(k) for k in range(120)]


def noise(indicator: str, value: str) -> float:
    if indicator in BINARY:
        return 0.5
    if indicator == "level":
        return 1 / 3
    mean = 2 * max(RATES.values()) + 1
    theta = mean / (mean + 1)
    return (1 - theta) * theta ** int(value)


def kappa_of(rel: str, cred: str, offset: float = 0.0) -> float:
    """A graded row's kappa: its letter's value moved by its source's logit ``offset``, times its number's."""
    letter = RELIABILITY_PRIOR_MEAN.get(rel, 1.0)
    if rel and offset:
        letter = 1 / (1 + math.exp(-(math.log(letter / (1 - letter)) + offset)))
    return letter * CREDIBILITY_PRIOR_MEAN.get(cred, 1.0)


def brute_force_period(rows, s: int, offsets: Mapping[str, float] | None = None) -> float:
    """P(one period's rows | scenario s): every cell state and every report's truthfulness enumerated.

    Rows of one report share one truthfulness, with the kappa of its first row; ``offsets``
    moves the letter of a row whose source (its seventh field) it names.
    """
    offsets = offsets or {}
    cells = sorted({r[1] for r in rows})
    groups: dict[str, list[tuple]] = {}
    for n, r in enumerate(rows):
        if r[3] or r[4]:  # graded rows with a report id used more than once share a truthfulness
            groups.setdefault(r[5] or f"row{n}", []).append(r)
    total = 0.0
    for x in itertools.product(*(states_of(c) for c in cells)):
        truth = dict(zip(cells, x, strict=True))
        term = math.prod(state_probability(c, truth[c], s) for c in cells)
        for r in rows:
            if not r[3] and not r[4]:
                term *= 1.0 if r[2] == truth[r[1]] else 0.0
        for members in groups.values():
            first = members[0]
            source = first[6] if len(first) > 6 else ""
            kappa = kappa_of(first[3], first[4], offsets.get(source, 0.0))
            match = math.prod(1.0 if r[2] == truth[r[1]] else 0.0 for r in members)
            spread = math.prod(noise(r[1], r[2]) for r in members)
            term *= kappa * match + (1 - kappa) * spread
        total += term
    return total


def test_joint_reports_are_found_and_coupled_cells_share_one_likelihood():
    model = small_model()
    data = build_engine_data(model, build_model_arrays(model), sf.load_evidence(frame(FEBRUARY), model), 6)
    cells = {model.indicator_ids[i]: c for c, i in enumerate(data.cell_indicator)}
    component = data.cell_component
    # The visit and the wire story share cell "a": a, b, level and incidents are one component.
    assert len({component[cells[i]] for i in ("a", "b", "level", "incidents")}) == 1
    assert component[cells["c"]] == -1
    assert sorted(set(data.report_joint.tolist())) == [-1, 0, 1]


@pytest.mark.parametrize("s", range(3))
def test_multi_cell_likelihood_equals_brute_force(s):
    model = small_model()
    evidence = sf.load_evidence(frame(FEBRUARY), model)
    terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
    period = terms.log_emission[0, 1, s]
    assert period == pytest.approx(math.log(brute_force_period(FEBRUARY, s)), rel=1e-10)
    # Cells outside February carry nothing.
    assert np.all(np.delete(terms.log_emission[0], 1, axis=0) == 0.0)


def test_kernel_matches_the_pytensor_reference_with_joint_reports():
    model = small_model(persistence=0.85, months=6, elicitation_error=0.5)
    march = [(d.replace("-02-", "-03-"), i, v, r, c, rep) for d, i, v, r, c, rep in FEBRUARY]
    evidence = sf.load_evidence(frame(FEBRUARY + march[:5]), model)
    arrays, data = engine_inputs(model, evidence)
    reference = reference_graph(arrays, data)
    assert data.report_joint.max() >= 2  # the March visit is another joint report
    rng = np.random.default_rng(11)
    for _ in range(3):
        values = {
            "log_initial": np.log(rng.dirichlet(np.ones(3) * 2)),
            "persistence": rng.uniform(0.5, 0.99, 3),
            "shift": rng.normal(0, 0.8, (len(model.indicators), 3)),
            "kappa_reliability": rng.uniform(0.2, 0.99, 6),
            "kappa_credibility": rng.uniform(0.2, 0.99, 6),
            "report_offset": rng.normal(0, 1, data.report_cell.shape[0]),
            "transition_base": arrays.transition_base,  # persistence alone: no elicited rows
            "log_effect": arrays.log_effect,
        }
        expected = reference(*values.values())
        got = log_likelihood_and_gradient(*kernel_args(arrays, data, values))
        assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
        for name, g_kernel, g_auto in zip(CHAIN_PARAMS, got[1:], expected[1:], strict=True):
            np.testing.assert_allclose(g_kernel, g_auto, rtol=1e-7, atol=1e-9, err_msg=name)


def test_kernel_gradient_matches_finite_differences_with_joint_reports():
    model = small_model(persistence=0.85, months=3, elicitation_error=0.5)
    arrays, data = engine_inputs(model, sf.load_evidence(frame(FEBRUARY), model))
    rng = np.random.default_rng(3)
    point = {
        "log_initial": np.log([0.5, 0.3, 0.2]),
        "persistence": np.array([0.9, 0.8, 0.7]),
        "shift": rng.normal(0, 0.5, (5, 3)),
        "kappa_reliability": rng.uniform(0.3, 0.9, 6),
        "kappa_credibility": rng.uniform(0.3, 0.9, 6),
        "report_offset": rng.normal(0, 1, data.report_cell.shape[0]),
    }
    _, *grads = log_likelihood_and_gradient(*kernel_args(arrays, data, point))
    for a, name in enumerate(CHAIN_PARAMS[2:6], start=2):  # shift, the two kappa vectors, the offsets
        numeric = kernel_differences(arrays, data, point, name)
        np.testing.assert_allclose(grads[a], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def war_probability(rows) -> float:
    model = small_model(persistence=1.0, months=3)
    result = sf.forecast(model, frame(rows), as_of="2025-02-28", exact=True)
    return float(result.horizon.sel(scenario="war").values[0, 0])


def test_one_report_of_k_cells_counts_between_one_cell_and_k_independent_reports():
    # Three cells that all point to war, coded from one B2 report.
    cells = [("a", "1"), ("b", "0"), ("c", "1")]
    joint = [("2025-02-03", i, v, "B", "2", "visit") for i, v in cells]
    independent = [(d, i, v, r, c, "") for d, i, v, r, c, _ in joint]
    p_joint = war_probability(joint)
    p_independent = war_probability(independent)
    prior = war_probability([])
    for row in joint:
        p_one = war_probability([row])
        assert prior < p_one < p_joint < p_independent
    # Figures for the record (exact mode, persistence 1): asserted loosely above.
    assert p_independent - p_joint > 0.01


def test_ungraded_rows_of_one_report_stay_face_value():
    rows = [("2025-02-03", "a", "1", "", "", "visit"), ("2025-02-03", "level", "high", "", "", "visit")]
    without = [(d, i, v, r, c, "") for d, i, v, r, c, _ in rows]
    assert war_probability(rows) == war_probability(without)


def test_a_report_id_spanning_periods_shares_truthfulness_within_each_period_only():
    rows = [("2025-01-10", "a", "1", "C", "3", "retro"), ("2025-02-10", "a", "1", "C", "3", "retro")]
    without = [(d, i, v, r, c, "") for d, i, v, r, c, _ in rows]
    assert war_probability(rows) == war_probability(without)


def test_too_many_linked_reports_in_one_period_are_refused():
    n = MAX_JOINT_REPORTS + 1
    # Each report codes cell "a" and one of a, b, c: all are linked through "a".
    rows = [
        ("2025-02-03", "a", "1", "C", "3", f"r{k}") for k in range(n)
    ] + [("2025-02-04", "b", "0", "C", "3", f"r{k}") for k in range(n)]
    model = small_model()
    evidence = sf.load_evidence(frame(rows), model)
    with pytest.raises(SyriaforecastError, match=rf"2025-02: {n} reports coding several indicators"):
        build_engine_data(model, build_model_arrays(model), evidence, 6)


def log_odds_db(p: np.ndarray) -> np.ndarray:
    return 10 * np.log10(p / (1 - p))


@pytest.mark.parametrize("by", ["report", "report_id", "source", "indicator"])
def test_decibans_with_joint_reports_equal_forecasts_without_the_left_out_rows(by):
    model = small_model(persistence=0.9, months=4)
    rows = [(*r, f"src-{r[5] or 'none'}") for r in FEBRUARY]
    table = pd.DataFrame(rows, columns=[*COLUMNS, "source"])
    result = sf.forecast(model, table, as_of="2025-04-30", exact=True)
    from syriaforecast.report import evidence_contributions

    contributions = evidence_contributions(result, by=by)
    full = log_odds_db(result.horizon.values[0, 0])
    key = {"report": "line", "report_id": "report", "source": "source", "indicator": "indicator"}[by]
    evidence = result.evidence.to_dataframe()
    for label in contributions[by].values:
        if by == "report":
            keep = evidence["line"] != label
        elif by == "report_id" and str(label).startswith("line "):
            keep = evidence["line"] != int(str(label).split()[1])
        else:
            keep = evidence[key] != label
        kept = table[keep.to_numpy()]
        without = sf.forecast(model, kept, as_of="2025-04-30", exact=True).horizon.values[0, 0]
        expected = full - log_odds_db(without)
        got = contributions["mean"].sel({by: label}).values
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8, err_msg=str(label))


def test_the_sampled_density_and_its_gradient_handle_joint_reports():
    """The sampler's density (nutpie's target) sees the joint likelihood, gradient included."""
    from syriaforecast.engine.density import log_density_and_gradient
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    model = small_model(persistence=0.85, months=3, elicitation_error=0.7)
    arrays = build_model_arrays(model)
    joint = build_engine_data(model, arrays, sf.load_evidence(frame(FEBRUARY), model), 3)
    rows = [(*r[:5], "") for r in FEBRUARY]
    apart = build_engine_data(model, arrays, sf.load_evidence(frame(rows), model), 3)
    layout = layout_for(arrays)
    args = _density_arguments(arrays, joint, layout)
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.7, layout.ndim)
    value = assert_density_gradient_matches_finite_differences(args, x)
    other, _ = log_density_and_gradient(x, *_density_arguments(arrays, apart, layout))
    assert np.isfinite(value) and value != other


def test_a_hierarchical_forecast_runs_with_joint_reports():
    import warnings

    model = small_model(persistence=0.9, months=3, elicitation_error=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # short chains: plumbing only
        short = {"draws": 150, "tune": 150, "chains": 2, "seed": 4}
        result = sf.forecast(model, frame(FEBRUARY), as_of="2025-03-31", **short)
    assert np.all(np.isfinite(result.horizon.values))
    assert result.posterior["source_reliability"].sizes["reliability_grade"] == 6


def test_sensitivity_with_joint_reports_moves_one_elicitation_at_a_time():
    from syriaforecast.report import elicitation_sensitivity
    from syriaforecast.report.sensitivity import shifted_elicitation

    model = small_model(persistence=0.9, months=3)
    result = sf.forecast(model, frame(FEBRUARY), as_of="2025-03-31", exact=True)
    table = elicitation_sensitivity(result)
    leading = table.attrs["leading"]
    for _, row in table.iterrows():
        ind = model.indicator(row["indicator"])
        for column, steps in (("p_down", -1), ("p_up", 1)):
            value, _ = shifted_elicitation(ind, row["scenario"], steps)
            data = model.to_dict()
            entry = next(e for e in data["indicators"] if e["id"] == ind.id)
            entry["likelihood"][row["scenario"]] = list(value) if isinstance(value, tuple) else value
            moved = sf.forecast(sf.parse_model(data), frame(FEBRUARY), as_of="2025-03-31", exact=True)
            expected = float(moved.horizon.sel(scenario=leading).values[0, 0])
            assert row[column] == pytest.approx(expected, abs=1e-12), (ind.id, row["scenario"], column)


def test_disagreement_with_joint_reports_swaps_one_indicator_at_a_time():
    import dataclasses

    from syriaforecast.report import disagreement
    from syriaforecast.spec.analysts import analyst_model, consensus_model

    from .test_engine_analysts import MIXED, with_analysts

    model = with_analysts(small_model(persistence=0.9, months=3), MIXED)
    result = sf.forecast(model, frame(FEBRUARY), as_of="2025-03-31", exact=True)
    table = disagreement(result)
    consensus = consensus_model(model)
    for ident in MIXED:
        for analyst in MIXED[ident]:
            own = analyst_model(model, analyst).indicator(ident)
            swapped = dataclasses.replace(
                consensus,
                indicators=tuple(own if i.id == ident else i for i in consensus.indicators),
            )
            expected = sf.forecast(swapped, frame(FEBRUARY), as_of="2025-03-31", exact=True)
            got = table["horizon"].sel(indicator=ident, analyst=analyst).values
            want = expected.horizon.values[0, 0]
            np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"{ident} {analyst}")


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_joint_reports_every_pattern_of_which_is_impossible_match_the_reference(sign):
    """Components whose every pattern underflows are summed in logs (kernel._UNDERFLOW).

    The kernel sums a component's patterns in probability space. Here two reports read
    cells ``a`` and ``b`` alike, both graded certain (reliability and credibility 1, so
    an untruthful pattern weighs 1e-300, the floor), and the shifts are so large that
    each cell's states have probability 1 or 1e-300 (the floor). Under one of the two
    signs both read the impossible states: every pattern then weighs about 1e-600, which
    underflows in probability space, and the kernel must agree with the reference's logs.
    """
    model = small_model(persistence=0.85, months=6, elicitation_error=0.5)
    rows = [
        ("2025-02-03", "a", "1", "B", "2", "visit-1"),
        ("2025-02-03", "b", "0", "B", "2", "visit-1"),
        ("2025-02-04", "a", "1", "B", "2", "visit-2"),
        ("2025-02-04", "b", "0", "B", "2", "visit-2"),
        ("2025-03-05", "c", "1", "C", "3", ""),
    ]
    evidence = sf.load_evidence(frame(rows), model)
    arrays, data = engine_inputs(model, evidence)
    reference = reference_graph(arrays, data)
    rng = np.random.default_rng(3)
    shift = rng.normal(0, 0.8, (len(model.indicators), 3))
    ids = [ind.id for ind in model.indicators]
    shift[ids.index("a")] = sign * 800.0
    shift[ids.index("b")] = -sign * 800.0
    certain = np.arange(6) == 1  # grade B and credibility 2
    values = {
        "log_initial": np.log(rng.dirichlet(np.ones(3) * 2)),
        "persistence": rng.uniform(0.5, 0.99, 3),
        "shift": shift,
        "kappa_reliability": np.where(certain, 1.0, rng.uniform(0.2, 0.99, 6)),
        "kappa_credibility": np.where(certain, 1.0, rng.uniform(0.2, 0.99, 6)),
        "report_offset": np.zeros(data.report_cell.shape[0]),
        "transition_base": arrays.transition_base,
        "log_effect": arrays.log_effect,
    }
    got = log_likelihood_and_gradient(*kernel_args(arrays, data, values))[0]
    expected = float(reference(*values.values())[0])
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-10)
