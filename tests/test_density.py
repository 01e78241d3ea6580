"""The hand-written posterior density against `sf.to_pymc` and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import syriaforecast as sf
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.density import log_density_and_gradient, unpack
from syriaforecast.engine.run import _coords
from syriaforecast.engine.sampler import _density_arguments, layout_for

from .kernel_args import assert_density_gradient_matches_finite_differences, python_only, unpack_arguments
from .test_engine_exact import EVIDENCE_CASES, reports, small_model


@pytest.fixture(scope="module")
def setup():
    model = small_model(persistence=0.85, months=6, elicitation_error=0.7)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"]), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays)
    return model, arrays, data, layout, _density_arguments(arrays, data, layout)


@pytest.fixture(scope="module")
def evidence(setup):
    return sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"]), setup[0])


def test_gradient_matches_finite_differences(setup):
    _, _, _, layout, args = setup
    rng = np.random.default_rng(0)
    assert_density_gradient_matches_finite_differences(args, rng.normal(0, 0.7, layout.ndim))


def assert_same_log_density(pymc_model, layout, args, arrays, *, points=5, seed=1):
    """The engine's density (its transforms' Jacobians removed) equals the PyMC model's, up to a constant.

    The compiled density drops the priors' normalising constants, so both are
    compared through their differences from the first of ``points`` random points.
    """
    with python_only():  # a few points: PyTensor's Python ops, no C or Numba compilation
        logp = pymc_model.compile_logp(jacobian=False)
    transform = pymc_model.rvs_to_transforms[pymc_model["initial_probability"]]
    A, start = layout.n_analysts, layout.analyst_start
    unpack_args = unpack_arguments(args, arrays)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(points):
        x = rng.normal(0, 0.6, layout.ndim)
        mine, _ = log_density_and_gradient(x, *args)
        initial, _, sigma, eta, kappa_rel, kappa_cred, _ = unpack(x, *unpack_args)
        log_tau = x[start + A : start + 2 * A]
        M, first = layout.n_sources, layout.source_start
        log_spread = x[first + M : first + M + 1] if M else np.zeros(0)
        # Remove the Jacobians of our transforms to compare densities of the constrained values.
        jacobian = np.log(initial).sum() + np.log(sigma).sum() + log_tau.sum() + log_spread.sum()
        jacobian += np.sum(np.log(kappa_rel) + np.log1p(-kappa_rel))
        jacobian += np.sum(np.log(kappa_cred) + np.log1p(-kappa_cred))
        Q = layout.n_clusters
        rho = 1 / (1 + np.exp(-x[layout.closeness_start : layout.closeness_start + Q]))
        jacobian += np.sum(np.log(rho) + np.log1p(-rho))
        point = {
            "initial_probability_simplex__": transform.forward(initial).eval(),
            "persistence_z": x[layout.n_initial : layout.n_initial + layout.n_persistence],
            "elicitation_sigma_log__": np.log(sigma),
            "elicitation_eta": eta,
            "source_reliability_logodds__": np.log(kappa_rel) - np.log1p(-kappa_rel),
            "information_credibility_logodds__": np.log(kappa_cred) - np.log1p(-kappa_cred),
        }
        if A:
            point |= {"analyst_bias": x[start : start + A], "analyst_noise_log__": log_tau}
        if M:
            point |= {"source_z": x[first : first + M], "source_spread_log__": log_spread[0]}
        if Q:
            point["cluster_closeness_logodds__"] = np.log(rho) - np.log1p(-rho)
        values.append((mine - jacobian, float(logp(point))))
    mine_diffs = [v[0] - values[0][0] for v in values[1:]]
    pymc_diffs = [v[1] - values[0][1] for v in values[1:]]
    assert np.ptp(mine_diffs) > 1.0  # the points differ enough for the check to bite
    np.testing.assert_allclose(mine_diffs, pymc_diffs, rtol=1e-8, atol=1e-8)


def test_to_pymc_log_density_equals_the_engines(setup, evidence):
    """The public PyMC door is the model the fast engine samples: same log density at random points."""
    model, arrays, _, layout, args = setup
    pymc_model = sf.to_pymc(model, evidence)
    assert_same_log_density(pymc_model, layout, args, arrays)


def test_to_pymc_names_coords_and_dims(setup, evidence):
    model = setup[0]
    pymc_model = sf.to_pymc(model, evidence)
    assert list(pymc_model.coords["scenario"]) == list(model.scenario_ids)
    assert list(pymc_model.coords["indicator"]) == list(model.indicator_ids)
    assert list(pymc_model.coords["group"]) == list(model.groups)
    assert list(pymc_model.coords["period"]) == model.period_labels(model.horizon_index + 1)
    assert list(pymc_model.coords["reliability_grade"]) == list("ABCDEF")
    assert pymc_model.named_vars_to_dims["elicitation_eta"] == ("indicator", "scenario")
    assert pymc_model.named_vars_to_dims["initial_probability"] == ("scenario",)
    assert pymc_model.named_vars_to_dims["information_credibility"] == ("credibility_grade",)
    assert {"evidence_log_likelihood"} <= {p.name for p in pymc_model.potentials}


def test_to_pymc_as_of_drops_later_reports(setup, evidence):
    """Only reports dated on or before ``as_of`` enter; without evidence the model is the prior."""
    model, arrays, _, layout, _ = setup
    cutoff = sorted(evidence.to_dataframe()["date"])[len(evidence) // 2]
    early = evidence.up_to(cutoff)
    assert 0 < len(early) < len(evidence)
    for given, kept in ((sf.to_pymc(model, evidence, as_of=cutoff), early), (sf.to_pymc(model), None)):
        kept = kept if kept is not None else sf.load_evidence(reports([]), model)
        data = build_engine_data(model, arrays, kept, model.horizon_index + 1)
        assert_same_log_density(given, layout, _density_arguments(arrays, data, layout), arrays, points=3)


@pytest.fixture(scope="module")
def dynamic_setup():
    from .test_scenario_dynamics import ROWS, dynamic_model

    model = dynamic_model(persistence=0.85, months=6, error=0.7)
    evidence = sf.load_evidence(reports(ROWS), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays)
    return model, arrays, data, layout, _density_arguments(arrays, data, layout)


def test_transition_blocks_gradient_matches_finite_differences(dynamic_setup):
    """Elicited rows (one Dirichlet row, one absorbing) and a driver's two uncertain effects."""
    _, _, _, layout, args = dynamic_setup
    assert (layout.n_row_coordinates, layout.n_effect_coordinates) == (2, 2)
    rng = np.random.default_rng(3)
    assert_density_gradient_matches_finite_differences(args, rng.normal(0, 0.7, layout.ndim))


def test_transition_blocks_density_matches_pymc(dynamic_setup):
    """The Dirichlet rows and Normal log effects enter as in PyMC's model of the same priors."""
    from syriaforecast.engine.density import unpack_transitions
    from syriaforecast.engine.reference.pymc_model import build_pymc_model
    from syriaforecast.engine.sampler import transition_arguments

    model, arrays, data, layout, args = dynamic_setup
    pymc_model = build_pymc_model(arrays, data, _coords(model))
    with python_only():
        logp = pymc_model.compile_logp(jacobian=False)
    t_args = transition_arguments(arrays, data)
    unpack_args = unpack_arguments(args, arrays)
    rng = np.random.default_rng(5)
    values = []
    for _ in range(3):
        x = rng.normal(0, 0.6, layout.ndim)
        mine, _ = log_density_and_gradient(x, *args)
        initial, _, sigma, eta, kappa_rel, kappa_cred, _ = unpack(x, *unpack_args)
        rows, log_effect = unpack_transitions(
            x, layout.analyst_start, t_args[0], t_args[1], t_args[3], t_args[4], t_args[5], t_args[6]
        )
        jacobian = np.log(initial).sum() + np.log(sigma).sum()
        jacobian += np.sum(np.log(kappa_rel) + np.log1p(-kappa_rel))
        jacobian += np.sum(np.log(kappa_cred) + np.log1p(-kappa_cred))
        jacobian += np.log(rows[0]).sum()  # the softmax Jacobian of the one sampled row (calm)
        z = x[layout.n_initial : layout.n_initial + layout.n_persistence]
        point = {
            "persistence_z": z,
            "elicitation_sigma_log__": np.log(sigma),
            "elicitation_eta": eta,
            "source_reliability_logodds__": np.log(kappa_rel) - np.log1p(-kappa_rel),
            "information_credibility_logodds__": np.log(kappa_cred) - np.log1p(-kappa_cred),
            "driver_log_effect": log_effect[arrays.effect_given],
        }
        for name, value in (("initial_probability", initial), ("transition_row_calm", rows[0])):
            transform = pymc_model.rvs_to_transforms[pymc_model[name]]
            point[f"{name}_simplex__"] = transform.forward(value).eval()
        assert set(point) == {v.name for v in pymc_model.value_vars}
        values.append((mine - jacobian, float(logp(point))))
    mine_diffs = [values[k][0] - values[0][0] for k in (1, 2)]
    pymc_diffs = [values[k][1] - values[0][1] for k in (1, 2)]
    np.testing.assert_allclose(mine_diffs, pymc_diffs, rtol=1e-8, atol=1e-8)


def _over_every_period(args, arrays, data):
    """The density's arguments with its chain run through every period of ``data`` (no cut)."""
    import inspect

    from syriaforecast.engine.sampler import transition_arguments

    names = list(inspect.signature(log_density_and_gradient.py_func).parameters)[1:]
    full = list(args)
    full[names.index("n_periods")] = int(data.n_periods)
    full[names.index("driver_on")] = transition_arguments(arrays, data)[-1]
    return tuple(full), names


@pytest.mark.parametrize("case", ["bundled", "dynamic", "no reports"])
def test_the_density_cut_after_the_last_report_is_the_whole_chains(case, dynamic_setup):
    """Periods after the last report add nothing: value and gradient equal the uncut chain's.

    The sampler's density stops at the last reported period (``evidence_periods``); here
    the same kernel runs the chain through the horizon, drivers included.
    """
    from syriaforecast.engine.sampler import evidence_periods

    if case == "dynamic":
        model, arrays, data, layout, args = dynamic_setup
    else:
        model = sf.load_model(sf.bundled_model())
        evidence = sf.load_evidence(sf.bundled_evidence() if case == "bundled" else reports([]), model)
        arrays = build_model_arrays(model)
        data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
        layout = layout_for(arrays, data)
        args = _density_arguments(arrays, data, layout)
    full, names = _over_every_period(args, arrays, data)
    cut = args[names.index("n_periods")]
    expected_cut = int(data.cell_period.max()) + 1 if data.n_cells else 1
    assert cut == evidence_periods(data) == expected_cut < data.n_periods
    assert args[names.index("driver_on")].shape[0] == cut
    rng = np.random.default_rng(11)
    for _ in range(4):
        x = rng.normal(0.0, 0.7, layout.ndim)
        value, grad = log_density_and_gradient(x, *args)
        whole, whole_grad = log_density_and_gradient(x, *full)
        assert value == pytest.approx(whole, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grad, whole_grad, rtol=1e-9, atol=1e-9)
