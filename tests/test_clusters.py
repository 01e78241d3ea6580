"""Clusters of indicators that measure one event (#16, item 3).

The kernel's exact sum over the cluster's latent event is checked against a
brute-force enumeration written here from the definition (the event, every
member's true state, every report's truthfulness), against the PyTensor
reference graph (values and autodiff gradients, closeness included) and against
finite differences; the event model against its stated properties.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import syriaforecast as sf
from syriaforecast.engine.clusters import event_model
from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    RELIABILITY_PRIOR_MEAN,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.evaluate import chain_terms_for_draws, exact_parameters_for
from syriaforecast.engine.kernel import log_likelihood_and_full_gradient
from syriaforecast.errors import ClusterWarning, ModelFileError

from .kernel_args import (
    assert_density_gradient_matches_finite_differences,
    engine_inputs,
    gradients,
    kernel_args,
    kernel_differences,
    reference_graph,
)

SCENARIOS = ("calm", "tense", "war")
PRIOR = (0.5, 0.3, 0.2)
MEMBERS = {"u1": (0.2, 0.5, 0.8), "u2": (0.25, 0.5, 0.7), "u3": (0.1, 0.4, 0.75)}
OTHER = {"b": (0.7, 0.4, 0.1)}
COLUMNS = ["date", "indicator", "value", "reliability", "credibility", "report"]


def cluster_model(members=MEMBERS, *, closeness=None, cluster=True, months=4, persistence=0.85, error=0.0):
    indicators = [
        {
            "id": ident,
            "group": "g",
            "type": "binary",
            "text": ident,
            "likelihood": dict(zip(SCENARIOS, probs, strict=True)),
            **({"cluster": "ev"} if cluster and ident in members else {}),
        }
        for ident, probs in (members | OTHER).items()
    ]
    data = {
        "model": {
            "id": "clustered",
            "title": "Clustered",
            "start": "2025-01",
            "horizon": (pd.Period("2025-01", freq="M") + (months - 1)).end_time.date(),
            "persistence": persistence,
            "elicitation_error": error,
        },
        "scenarios": [
            {"id": s, "name": s, "prior": p, "resolution": "r"} for s, p in zip(SCENARIOS, PRIOR, strict=True)
        ],
        "indicators": indicators,
    }
    if closeness is not None:
        data["clusters"] = {"ev": {"closeness": closeness}}
    return sf.parse_model(data)


def frame(rows):
    return pd.DataFrame(rows, columns=COLUMNS)


# A month with every kind of reading of cluster members: face value, graded, and one report coding a
# member and a non-member together (so the event and the report's truthfulness are summed jointly).
FEBRUARY = [
    ("2025-02-03", "u1", "1", "", "", ""),
    ("2025-02-04", "u2", "1", "C", "3", ""),
    ("2025-02-05", "u3", "0", "B", "2", "visit"),
    ("2025-02-05", "b", "0", "B", "2", "visit"),
    ("2025-02-07", "u2", "0", "E", "5", ""),
]


def kappa_of(rel: str, cred: str) -> float:
    return RELIABILITY_PRIOR_MEAN.get(rel, 1.0) * CREDIBILITY_PRIOR_MEAN.get(cred, 1.0)


def brute_force_period(rows, s: int, rho: float) -> float:
    """P(one period's rows | scenario s) by enumerating the event, true states and truthfulness."""
    p = {m: MEMBERS[m][s] for m in MEMBERS}
    lo, hi = min(p.values()), max(p.values())
    pi = lo / (1 - hi + lo)
    cells = sorted({r[1] for r in rows})
    groups: dict[str, list[tuple]] = {}
    for k, r in enumerate(rows):
        if r[3] or r[4]:
            groups.setdefault(r[5] or f"row{k}", []).append(r)
    total = 0.0
    for e in (0, 1):
        for x in itertools.product((0, 1), repeat=len(cells)):
            truth = dict(zip(cells, x, strict=True))
            term = pi if e else 1 - pi
            for c in cells:
                # P(seen | e, s) for a member, P(seen | s) for another indicator
                seen = (p[c] + rho * (1 - hi) if e else p[c] - rho * lo) if c in MEMBERS else OTHER[c][s]
                term *= seen if truth[c] else 1 - seen
            for r in rows:
                if not r[3] and not r[4]:
                    term *= 1.0 if int(r[2]) == truth[r[1]] else 0.0
            for members in groups.values():
                kappa = kappa_of(members[0][3], members[0][4])
                match = math.prod(1.0 if int(r[2]) == truth[r[1]] else 0.0 for r in members)
                term *= kappa * match + (1 - kappa) * 0.5 ** len(members)
            total += term
    return total


# ----------------------------------------------------------------------------- the event model
@pytest.mark.parametrize("rho", [0.0, 0.35, 0.9, 1.0])
def test_event_model_keeps_each_members_likelihood_and_covaries_as_stated(rho):
    seen = np.array([MEMBERS[m] for m in MEMBERS])  # (M, S)
    model = event_model(seen, rho)
    assert np.all((model.seen_if_event >= 0) & (model.seen_if_event <= 1))
    assert np.all((model.seen_if_not >= 0) & (model.seen_if_not <= 1))
    pi = model.event
    np.testing.assert_allclose(pi * model.seen_if_event + (1 - pi) * model.seen_if_not, seen, atol=1e-15)
    # Covariance of the least and most likely members given s, from the joint distribution.
    lo_m, hi_m = seen.argmin(axis=0), seen.argmax(axis=0)
    for s in range(seen.shape[1]):
        a, b = lo_m[s], hi_m[s]
        both = pi[s] * model.seen_if_event[a, s] * model.seen_if_event[b, s] + (1 - pi[s]) * (
            model.seen_if_not[a, s] * model.seen_if_not[b, s]
        )
        covariance = both - seen[a, s] * seen[b, s]
        frechet = min(seen[a, s], seen[b, s]) - seen[a, s] * seen[b, s]  # P(both) <= min(p_a, p_b)
        assert covariance == pytest.approx(rho**2 * seen[a, s] * (1 - seen[b, s]), abs=1e-14)
        if rho == 1.0:
            assert covariance == pytest.approx(frechet, abs=1e-14)


def test_members_with_equal_likelihoods_at_closeness_one_are_the_event():
    model = event_model(np.array([[0.3, 0.6]] * 3), 1.0)
    np.testing.assert_allclose(model.event, [0.3, 0.6])
    np.testing.assert_allclose(model.seen_if_event, 1.0)
    np.testing.assert_allclose(model.seen_if_not, 0.0)


# ----------------------------------------------------------------------------- the likelihood
@pytest.mark.parametrize("rho", [0.4, 0.9, 1.0])
@pytest.mark.parametrize("s", range(3))
def test_cluster_likelihood_equals_brute_force(s, rho):
    model = cluster_model(closeness=rho)
    evidence = sf.load_evidence(frame(FEBRUARY), model)
    terms = chain_terms_for_draws(model, evidence, exact_parameters_for(model))
    expected = math.log(brute_force_period(FEBRUARY, s, rho))
    assert terms.log_emission[0, 1, s] == pytest.approx(expected, rel=1e-10)
    assert np.all(np.delete(terms.log_emission[0], 1, axis=0) == 0.0)


def test_members_and_the_report_that_codes_one_of_them_form_one_component():
    model = cluster_model()
    data = build_engine_data(model, build_model_arrays(model), sf.load_evidence(frame(FEBRUARY), model), 4)
    assert len(set(data.cell_component.tolist())) == 1  # u1, u2, u3 (event) and b (report "visit")
    assert data.cell_event.tolist().count(0) == 3 and data.cell_event.max() == 0
    assert data.event_cluster.tolist() == [0]


def test_a_lone_member_reads_as_without_the_cluster():
    rows = [("2025-02-04", "u2", "1", "C", "3", ""), ("2025-03-04", "u3", "0", "", "", "")]
    clustered, plain = cluster_model(), cluster_model(cluster=False)
    params = exact_parameters_for(clustered)
    a = chain_terms_for_draws(clustered, sf.load_evidence(frame(rows), clustered), params)
    b = chain_terms_for_draws(plain, sf.load_evidence(frame(rows), plain), exact_parameters_for(plain))
    np.testing.assert_allclose(a.log_emission, b.log_emission, rtol=1e-13, atol=1e-15)


def test_a_cluster_whose_members_barely_follow_the_event_is_no_cluster():
    rows = [*FEBRUARY, ("2025-03-04", "u1", "1", "", "", ""), ("2025-03-04", "u3", "1", "A", "1", "")]
    loose, plain = cluster_model(closeness=1e-9), cluster_model(cluster=False)
    a = chain_terms_for_draws(loose, sf.load_evidence(frame(rows), loose), exact_parameters_for(loose))
    b = chain_terms_for_draws(plain, sf.load_evidence(frame(rows), plain), exact_parameters_for(plain))
    np.testing.assert_allclose(a.log_emission, b.log_emission, rtol=1e-7, atol=1e-8)


def horizon(model, rows) -> np.ndarray:
    result = sf.forecast(model, frame(rows), as_of="2025-02-28", exact=True)
    return result.horizon.values[0, 0]


def test_exact_copies_move_the_posterior_like_one_member():
    same = {m: (0.2, 0.5, 0.8) for m in ("u1", "u2", "u3")}
    copies = cluster_model(same, closeness=1.0, persistence=1.0)
    independent = cluster_model(same, cluster=False, persistence=1.0)
    all_three = [("2025-02-03", m, "1", "", "", "") for m in same]
    one = all_three[:1]
    np.testing.assert_allclose(horizon(copies, all_three), horizon(copies, one), rtol=1e-12)
    np.testing.assert_allclose(horizon(copies, one), horizon(independent, one), rtol=1e-12)
    # Treated as independent, three sightings move war further than one.
    assert horizon(independent, all_three)[2] > horizon(copies, all_three)[2] + 0.1
    # Near-copies (the default closeness) count for a little more than one, and less than three.
    near = horizon(cluster_model(same, persistence=1.0), all_three)[2]
    assert horizon(copies, one)[2] < near < horizon(independent, all_three)[2]


# ----------------------------------------------------------------------------- gradients
#: The parameters compared here: the chain's, the informativeness and the closeness of each cluster.
NAMES = ("log_initial", "persistence", "shift", "kappa_reliability", "kappa_credibility", "cluster_closeness")


def random_point(rng, n_indicators):
    return {
        "log_initial": np.log(rng.dirichlet(np.ones(3) * 2)),
        "persistence": rng.uniform(0.5, 0.99, 3),
        "shift": rng.normal(0, 0.8, (n_indicators, 3)),
        "kappa_reliability": rng.uniform(0.2, 0.99, 6),
        "kappa_credibility": rng.uniform(0.2, 0.99, 6),
        "cluster_closeness": rng.uniform(0.1, 0.99, 1),
    }


MARCH = [(d.replace("-02-", "-03-"), *rest) for d, *rest in FEBRUARY[:3]] + [
    ("2025-03-20", "u1", "1", "A", "2", "late"),
    ("2025-03-20", "b", "1", "A", "2", "late"),
]


def test_kernel_matches_the_pytensor_reference_with_clusters():
    model = cluster_model(error=0.5)
    arrays, data = engine_inputs(model, sf.load_evidence(frame(FEBRUARY + MARCH), model))
    reference = reference_graph(arrays, data, NAMES)
    rng = np.random.default_rng(5)
    for _ in range(3):
        values = random_point(rng, len(model.indicators))
        expected = reference(*values.values())
        got = log_likelihood_and_full_gradient(*kernel_args(arrays, data, values))
        assert got[0] == pytest.approx(float(expected[0]), rel=1e-10)
        kernel_grads = gradients(got)  # not compared: the offsets' and transitions'
        for name, g_auto in zip(NAMES, expected[1:], strict=True):
            np.testing.assert_allclose(kernel_grads[name], g_auto, rtol=1e-7, atol=1e-9, err_msg=name)


def test_kernel_gradient_matches_finite_differences_with_clusters():
    model = cluster_model(error=0.5)
    arrays, data = engine_inputs(model, sf.load_evidence(frame(FEBRUARY + MARCH), model))
    point = random_point(np.random.default_rng(9), len(model.indicators))
    grads = gradients(log_likelihood_and_full_gradient(*kernel_args(arrays, data, point)))
    for name in ("shift", "kappa_reliability", "cluster_closeness"):
        numeric = kernel_differences(arrays, data, point, name)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def test_the_sampled_density_and_its_gradient_handle_clusters():
    from syriaforecast.engine.density import log_density_and_gradient
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    model = cluster_model(error=0.5)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, sf.load_evidence(frame(FEBRUARY + MARCH), model), 4)
    layout = layout_for(arrays, data)
    assert layout.n_clusters == 1 and layout.closeness_start == layout.ndim - 1
    args = _density_arguments(arrays, data, layout)
    x = np.random.default_rng(2).normal(0, 0.7, layout.ndim)
    _, grad = log_density_and_gradient(x, *args)
    h = 1e-6
    for k in range(layout.ndim):
        up, down = x.copy(), x.copy()
        up[k] += h
        down[k] -= h
        value = log_density_and_gradient(up, *args)[0] - log_density_and_gradient(down, *args)[0]
        numeric = value / (2 * h)
        assert grad[k] == pytest.approx(numeric, rel=1e-5, abs=1e-6), k


def test_clusters_and_sources_share_one_density():
    """Named sources (their block after the kappa logits) and a cluster (its closeness last) together."""
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    from .test_density import assert_same_log_density

    model = cluster_model(error=0.5)
    # Wire and Desk each code two lettered reports (the one a source needs); row 0 is ungraded.
    sources = ["Wire", "Wire", "Desk", "Desk", "Wire", "", "Desk"]
    rows = pd.DataFrame(FEBRUARY + MARCH[:2], columns=COLUMNS).assign(source=sources)
    evidence = sf.load_evidence(rows, model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, 4)
    layout = layout_for(arrays, data)
    without = layout_for(arrays)
    assert (layout.n_clusters, layout.n_sources) == (1, 2)
    # Sources right after the 12 kappa logits (z per source, log spread); the closeness last.
    assert layout.source_start == without.ndim and layout.closeness_start == layout.ndim - 1
    assert layout.ndim == without.ndim + 3 + 1
    args = _density_arguments(arrays, data, layout)
    assert_density_gradient_matches_finite_differences(
        args, np.random.default_rng(6).normal(0, 0.7, layout.ndim)
    )
    assert_same_log_density(sf.to_pymc(model, evidence), layout, args, arrays)


# ----------------------------------------------------------------------------- the model file
def test_clusters_are_read_and_written_back():
    model = cluster_model(closeness=0.7)
    assert [(c.id, c.members, c.closeness) for c in model.clusters] == [("ev", ("u1", "u2", "u3"), 0.7)]
    assert [i.cluster for i in model.indicators] == ["ev", "ev", "ev", ""]
    again = sf.parse_model(model.to_toml())
    assert again == model
    default = cluster_model()
    assert default.clusters[0].closeness == 0.9


TOML = """
[model]
id = "m"
title = "m"
start = "2025-01"
horizon = 2025-06-30
persistence = 0.9
elicitation_error = 0.3

[[scenarios]]
id = "calm"
name = "Calm"
prior = 0.6
resolution = "r"

[[scenarios]]
id = "war"
name = "War"
prior = 0.4
resolution = "r"

[[indicators]]
id = "visit"
group = "g"
type = "binary"
text = "visit"
cluster = "us"
likelihood = { calm = 0.2, war = 0.6 }

[[indicators]]
id = "relief"
group = "g"
type = "{relief_type}"
text = "relief"
cluster = "{relief_cluster}"
likelihood = {{relief_likelihood}}

[clusters.{table}]
closeness = {closeness}
"""


def toml(**overrides):
    values = {
        "relief_type": "binary",
        "relief_cluster": "us",
        "relief_likelihood": "calm = 0.15, war = 0.5",
        "table": "us",
        "closeness": "0.8",
    } | overrides
    text = TOML
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def test_a_valid_cluster_loads():
    model = sf.parse_model(toml(), source="m.toml")
    assert model.clusters[0].closeness == 0.8


@pytest.mark.parametrize(
    ("overrides", "field", "line", "words"),
    [
        ({"relief_cluster": "other"}, "cluster", 'cluster = "us"', "at least two member indicators"),
        ({"table": "nothing"}, "clusters.nothing", "[clusters.", "a cluster some indicator names"),
        ({"closeness": "1.5"}, "closeness", "closeness =", "0 < closeness <= 1"),
        ({"closeness": "0"}, "closeness", "closeness =", "0 < closeness <= 1"),
        (
            {"relief_type": "count", "relief_likelihood": "calm = 0.5, war = 2.0"},
            "cluster",
            'cluster = "{relief_cluster}"',
            "only binary indicators",
        ),
    ],
)
def test_cluster_misuse_is_a_located_error(overrides, field, line, words):
    line = 1 + next(k for k, text in enumerate(TOML.splitlines()) if text.startswith(line))
    with pytest.raises(ModelFileError) as caught:
        sf.parse_model(toml(**overrides), source="m.toml")
    problems = [p for p in caught.value.problems if p.field == field]
    assert problems, caught.value
    assert problems[0].file == "m.toml"
    assert problems[0].location.startswith(f"line {line}"), problems[0].location
    assert words in problems[0].allowed


def test_members_elicited_as_if_for_different_events_get_a_warning():
    with pytest.warns(ClusterWarning, match=r"m.toml: clusters.us .*disagree on which scenario"):
        sf.parse_model(toml(relief_likelihood="calm = 0.6, war = 0.1"), source="m.toml")
    spread = r"under scenario 'calm' the members' likelihoods range from 0.2 \(visit\)"
    with pytest.warns(ClusterWarning, match=spread):
        sf.parse_model(toml(relief_likelihood="calm = 0.9, war = 0.95"), source="m.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sf.parse_model(toml(), source="m.toml")  # consistent members: no warning


@pytest.mark.filterwarnings("default::syriaforecast.errors.ClusterWarning")
def test_the_cli_prints_cluster_warnings_and_located_errors(tmp_path, capsys):
    from syriaforecast.cli import main

    inconsistent = tmp_path / "m.toml"
    inconsistent.write_text(toml(relief_likelihood="calm = 0.6, war = 0.1"))
    assert main(["validate", str(inconsistent)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"warning: {inconsistent}: clusters.us (members visit, relief): members disagree" in err
    assert "Traceback" not in err and "ClusterWarning" not in err
    assert main(["validate", str(tmp_path / "ok.toml")]) == 2  # no such file
    capsys.readouterr()
    (tmp_path / "ok.toml").write_text(toml())
    assert main(["validate", str(tmp_path / "ok.toml")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "cluster us (closeness 0.8): one event measured by visit, relief" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(toml(closeness="1.5"))
    assert main(["validate", str(bad)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{bad}: line 39, clusters.us.closeness: closeness = 1.5: a number with 0 < closeness <= 1" in err


def test_to_pymc_samples_the_closeness_and_its_log_density_equals_the_engines():
    from syriaforecast.engine.sampler import _density_arguments, layout_for

    from .test_density import assert_same_log_density

    model = cluster_model(error=0.5)
    evidence = sf.load_evidence(frame(FEBRUARY + MARCH), model)
    arrays, data = engine_inputs(model, evidence)
    layout = layout_for(arrays, data)
    pymc_model = sf.to_pymc(model, evidence)
    assert pymc_model.named_vars_to_dims["cluster_closeness"] == ("cluster",)
    assert list(pymc_model.coords["cluster"]) == ["ev"]
    assert layout.n_clusters == 1
    assert_same_log_density(pymc_model, layout, _density_arguments(arrays, data, layout), arrays, seed=4)


def test_too_many_linked_reports_and_events_are_refused_clearly():
    from syriaforecast.errors import SyriaforecastError

    rows = [("2025-02-03", ident, "1", "B", "2", f"r{k}") for k in range(12) for ident in ("u1", "b")]
    model = cluster_model()
    evidence = sf.load_evidence(frame(rows), model)
    with pytest.raises(SyriaforecastError, match=r"2025-02: 13 multi-row reports and cluster events"):
        build_engine_data(model, build_model_arrays(model), evidence, 4)
    # Without the cluster the 12 reports alone are within the limit.
    plain = cluster_model(cluster=False)
    build_engine_data(plain, build_model_arrays(plain), sf.load_evidence(frame(rows), plain), 4)


@pytest.mark.filterwarnings("ignore::syriaforecast.errors.ConvergenceWarning")
def test_the_hierarchical_forecast_samples_the_closeness_and_saves_it(tmp_path):
    from syriaforecast.engine.sampler import pack_draws

    model = cluster_model(error=0.5, closeness=0.8)
    rows = frame(FEBRUARY + MARCH)
    result = sf.forecast(model, rows, as_of="2025-03-31", draws=150, tune=150, chains=1, seed=3)
    closeness = result.posterior["cluster_closeness"]
    assert closeness.dims == ("chain", "draw", "cluster") and list(closeness["cluster"].values) == ["ev"]
    assert 0.5 < float(closeness.mean()) < 1.0 and float(closeness.std()) > 0.01  # sampled around 0.8
    result.save(tmp_path / "f.nc")
    again = sf.load_forecast(tmp_path / "f.nc")
    np.testing.assert_array_equal(again.posterior["cluster_closeness"].values, closeness.values)
    # The warm-start path packs the draws back into the sampler's coordinates, closeness last.
    from syriaforecast.forecast import forecast_parameters

    params = forecast_parameters(result)
    x = pack_draws(build_model_arrays(model), params)
    rho = 1 / (1 + np.exp(-x[:, -1]))
    np.testing.assert_allclose(rho, closeness.values.ravel(), rtol=1e-10)


@pytest.mark.parametrize("low_shift", [-400.0, -800.0])
def test_members_certainly_seen_and_certainly_not_give_the_independent_likelihood(low_shift):
    """One member certainly seen and another (all but) certainly not: ``D = 1 - hi + lo`` is
    1e-174, whose square underflows, or exactly 0 (``pi = 0 / 0``).

    Both raised ZeroDivisionError inside the compiled kernel (a sampler's excursion found
    the second in tests/test_convergence.py). The event model's conditionals then equal the
    members' marginals, so the likelihood must be that of the same members declared
    without a cluster, and the gradient finite.
    """
    rows = frame(FEBRUARY + MARCH)
    model = cluster_model(error=0.5)
    arrays, data = engine_inputs(model, sf.load_evidence(rows, model))
    point = random_point(np.random.default_rng(4), len(model.indicators))
    ids = [ind.id for ind in model.indicators]
    point["shift"][ids.index("u1")] = 60.0  # read "1" at face value: seen, probability 1.0
    point["shift"][ids.index("u3")] = low_shift  # read "0": seen with probability 1e-174 or 0
    got = log_likelihood_and_full_gradient(*kernel_args(arrays, data, point))
    assert all(np.all(np.isfinite(value)) for value in got)
    plain = cluster_model(error=0.5, cluster=False)
    arrays0, data0 = engine_inputs(plain, sf.load_evidence(rows, plain))
    without = {name: value for name, value in point.items() if name != "cluster_closeness"}
    independent = log_likelihood_and_full_gradient(*kernel_args(arrays0, data0, without))[0]
    assert got[0] == pytest.approx(independent, rel=1e-12)
