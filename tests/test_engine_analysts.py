"""Several analysts (issue #9): pooled elicitations with analyst bias and noise in the engine.

Analyst ``a``'s elicitation of (indicator i, scenario s), as an offset ``d`` from the
consensus in shift units, is ``c[i, s] + bias[a] + Normal(0, tau[a]^2 + band variance)``;
``c`` has a flat prior and is integrated out in closed form. These tests check the
kernel's density and gradient (finite differences, PyMC, brute-force integration
over ``c``), that a model without analysts is unchanged, the forecast plumbing and
that the analysts' noise scales are recovered from their disagreements.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate

import syriaforecast as sf
from syriaforecast.engine.data import ANALYST_FIELDS, build_engine_data, build_model_arrays
from syriaforecast.engine.density import Layout, analyst_pool, log_density_and_gradient
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.engine.kernel import chain_terms_batch_kernel
from syriaforecast.engine.run import SamplerSettings, run_engine
from syriaforecast.engine.sampler import _density_arguments, layout_for
from syriaforecast.forecast import forecast_parameters
from syriaforecast.phrases import band_logit_prior, parse_phrase

from .kernel_args import assert_density_gradient_matches_finite_differences, kernel_args, python_only
from .test_density import assert_same_log_density
from .test_engine_exact import EVIDENCE_CASES, SCENARIOS, reports, small_model

# --------------------------------------------------------------------------- building models


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _binary_logit(value) -> float:
    if isinstance(value, str):
        return band_logit_prior(parse_phrase(value))[0]
    return _logit(float(value))


def consensus(kind: str, values: list):
    """The consensus the spec stores in ``Indicator.likelihood`` (issue #9)."""
    if kind == "binary":
        return _expit(float(np.mean([_binary_logit(v) for v in values])))
    if kind == "ordinal":
        cuts = np.mean([[_logit(c) for c in np.cumsum(v)[:-1]] for v in values], axis=0)
        return tuple(float(p) for p in np.diff([0.0, *(_expit(c) for c in cuts), 1.0]))
    return float(np.exp(np.mean(np.log(values))))


def with_analysts(model, elicitations: dict[str, dict[str, dict[str, object]]]):
    """``model`` with the given indicators elicited by several analysts (consensus as likelihood)."""
    indicators = []
    for ind in model.indicators:
        tables = elicitations.get(ind.id)
        if tables:
            agreed = {
                sid: consensus(ind.type, [table[sid] for table in tables.values()])
                for sid in model.scenario_ids
            }
            ind = dataclasses.replace(
                ind,
                elicitations=MappingProxyType({a: MappingProxyType(dict(t)) for a, t in tables.items()}),
                likelihood=MappingProxyType(agreed),
            )
        indicators.append(ind)
    return dataclasses.replace(model, indicators=tuple(indicators))


def by_scenario(*values):
    return dict(zip(SCENARIOS, values, strict=True))


#: Mixed binary (numbers and ICD 203 phrases), ordinal and count elicitations, 2-3 analysts each.
MIXED = {
    "a": {
        "ana": by_scenario(0.2, 0.5, 0.8),
        "ben": by_scenario("unlikely", "roughly even chance", "likely"),
        "cai": by_scenario(0.3, 0.45, "very likely"),
    },
    "b": {
        "ana": by_scenario(0.7, 0.4, 0.1),
        "ben": by_scenario(0.6, "unlikely", 0.15),
    },
    "level": {
        "ana": by_scenario((0.7, 0.2, 0.1), (0.3, 0.4, 0.3), (0.1, 0.3, 0.6)),
        "cai": by_scenario((0.6, 0.3, 0.1), (0.2, 0.5, 0.3), (0.05, 0.25, 0.7)),
    },
    "incidents": {
        "ben": by_scenario(0.5, 2.0, 5.0),
        "cai": by_scenario(0.8, 3.0, 4.0),
        "ana": by_scenario(0.3, 1.5, 6.0),
    },
}
#: As MIXED, plus an indicator only one analyst elicited (and "c" still has no analysts).
WITH_SINGLE = MIXED | {"b": {"ben": by_scenario(0.6, "unlikely", 0.15)}}
CASES = {"three-analysts-mixed-types": MIXED, "one-analyst-on-an-indicator": WITH_SINGLE}


def _setup(elicitations, *, persistence=0.85, evidence_case="graded-and-repeated"):
    model = small_model(persistence=persistence, months=6, elicitation_error=0.7)
    model = with_analysts(model, elicitations)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES[evidence_case]), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays)
    return model, evidence, arrays, data, layout, _density_arguments(arrays, data, layout)


@pytest.fixture(scope="module", params=list(CASES), ids=str)
def setup(request):
    return _setup(CASES[request.param])


# --------------------------------------------------------------------------- arrays


def test_offsets_are_distances_from_the_consensus_in_shift_units():
    model, _, arrays, _, layout, _ = _setup(MIXED)
    assert model.analysts == ("ana", "ben", "cai")
    assert arrays.n_analysts == 3 and layout.n_analysts == 3
    assert layout.ndim == Layout(3, 2, 5, True).ndim + 6
    entries = {
        (int(i), int(s), int(a)): (d, v)
        for i, s, a, d, v in zip(*(getattr(arrays, n) for n in ANALYST_FIELDS), strict=True)
    }
    assert len(entries) == 3 * (3 + 2 + 2 + 3)
    a, b, level, incidents = 0, 1, 3, 4
    ana, ben, cai = 0, 1, 2
    # Binary: logit p_a - logit p_consensus; the consensus is the mean logit, so offsets sum to 0.
    np.testing.assert_allclose(sum(entries[(a, 0, k)][0] for k in (ana, ben, cai)), 0.0, atol=1e-12)
    ref = _logit(model.indicator("a").likelihood["calm"])
    assert entries[(a, 0, ana)][0] == pytest.approx(_logit(0.2) - ref)
    mean, sd = band_logit_prior(parse_phrase("unlikely"))
    assert entries[(a, 0, ben)] == pytest.approx((mean - ref, sd**2))
    assert entries[(a, 0, ana)][1] == 0.0
    # Ordinal: the mean cutpoint distance, positive when the analyst puts more mass on high levels.
    assert entries[(level, 2, cai)][0] > 0 > entries[(level, 2, ana)][0]
    # Count: log rate_a - log rate_consensus.
    rate = model.indicator("incidents").likelihood["war"]
    assert entries[(incidents, 2, ana)][0] == pytest.approx(math.log(6.0) - math.log(rate))
    assert (b, 0, cai) not in entries


# --------------------------------------------------------------------------- density and gradient


def test_gradient_matches_finite_differences(setup):
    *_, layout, args = setup
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = rng.normal(0, 0.7, layout.ndim)
        assert np.isfinite(assert_density_gradient_matches_finite_differences(args, x))
        _, grad = log_density_and_gradient(x, *args)
        # The analyst block (biases, log noise scales) is the last 2A coordinates.
        assert np.abs(grad[layout.analyst_start :]).max() > 1e-3


def test_density_matches_pymc_log_density(setup):
    """The engine's density equals ``sf.to_pymc``'s log density (c integrated out there too)."""
    model, evidence, arrays, _, layout, args = setup
    pymc_model = sf.to_pymc(model, evidence)
    assert {"analyst_bias", "analyst_noise"} <= set(pymc_model.named_vars)
    assert pymc_model.named_vars_to_dims["analyst_bias"] == ("analyst",)
    assert list(pymc_model.coords["analyst"]) == list(model.analysts)
    assert_same_log_density(pymc_model, layout, args, arrays, points=4)


@pytest.mark.parametrize(
    "offsets, bandvar, tau, bias",
    [
        ([0.3, -0.4, 1.1], [0.0, 0.0, 0.0], [0.5, 0.8, 1.3], [0.1, -0.2, 0.4]),
        ([-1.0, 0.2, 0.5], [0.0, 0.35, 0.0], [0.2, 0.6, 1.5], [0.0, 0.3, -0.3]),
        ([0.7, -0.7], [0.12, 0.0], [0.3, 0.9], [0.0, 0.0]),
    ],
    ids=["three-numbers", "three-with-a-phrase", "two-analysts"],
)
def test_marginal_equals_brute_force_integration_over_the_common_target(offsets, bandvar, tau, bias):
    n = len(offsets)
    sigma = np.array([0.4])
    location, scale, _, count, marginal = analyst_pool(
        np.array(bias, dtype=float),
        np.array(tau, dtype=float),
        sigma,
        np.zeros(1, dtype=np.int64),
        np.zeros((1, 1)),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        np.array(offsets, dtype=float),
        np.array(bandvar, dtype=float),
    )
    assert count[0, 0] == n
    y = np.subtract(offsets, bias)
    sd = np.sqrt(np.square(tau) + np.asarray(bandvar))

    def joint(c: float) -> float:  # prod_a Normal(d_a - bias_a | c, sd_a), flat prior on c
        return float(np.prod(np.exp(-0.5 * ((y - c) / sd) ** 2) / (np.sqrt(2 * np.pi) * sd)))

    lo, hi = y.min() - 12 * sd.max(), y.max() + 12 * sd.max()
    evidence = integrate.quad(joint, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    mean = integrate.quad(lambda c: c * joint(c), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] / evidence
    var = integrate.quad(lambda c: (c - mean) ** 2 * joint(c), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    var /= evidence
    # The kernel drops the constant -(n - 1)/2 log(2 pi).
    assert marginal[0, 0] - 0.5 * (n - 1) * math.log(2 * math.pi) == pytest.approx(
        math.log(evidence), rel=1e-10
    )
    assert location[0, 0] == pytest.approx(mean, rel=1e-9, abs=1e-12)  # posterior mean of c
    assert scale[0, 0] ** 2 == pytest.approx(var + sigma[0] ** 2, rel=1e-9)  # Var(c | d) + sigma_g^2


# --------------------------------------------------------------------------- no analysts: unchanged

#: Log density and gradient checksum (sum_k (k + 1) grad_k) at default_rng(5).normal(0, 0.8, ndim)
#: draws, computed by the single-analyst engine before analysts were added (commit eaec455).
BEFORE = {
    "persistence=0.85": (34, [-220.3327483641098, -201.6777274059806, -201.47962080150265]),
    "persistence=1.0": (31, [-222.33678081381845, -195.4140634611838, -243.37518504403644]),
}
BEFORE_CHECKSUMS = {
    "persistence=0.85": [1421.1290161927677, 411.4132606941105, 1589.412516118949],
    "persistence=1.0": [1327.9188571338675, 400.9883223452664, 1121.4290966975595],
}


@pytest.mark.parametrize("persistence", [0.85, 1.0], ids=lambda p: f"persistence={p}")
def test_model_without_analysts_is_unchanged(persistence):
    key = f"persistence={persistence}"
    model = small_model(persistence=persistence, months=6, elicitation_error=0.7 if persistence < 1 else 0.5)
    evidence = sf.load_evidence(reports(EVIDENCE_CASES["graded-and-repeated"]), model)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, model.horizon_index + 1)
    layout = layout_for(arrays)
    assert model.analysts == () and arrays.n_analysts == 0
    assert layout == Layout(3, 2, 5, persistence < 1)  # no analyst block
    ndim, expected = BEFORE[key]
    assert layout.ndim == ndim
    args = _density_arguments(arrays, data, layout)
    rng = np.random.default_rng(5)
    for value_before, checksum_before in zip(expected, BEFORE_CHECKSUMS[key], strict=True):
        value, grad = log_density_and_gradient(rng.normal(0, 0.8, layout.ndim), *args)
        assert value == pytest.approx(value_before, rel=1e-13)
        assert grad @ np.arange(1, layout.ndim + 1) == pytest.approx(checksum_before, rel=1e-12)


# --------------------------------------------------------------------------- evaluation and forecasts


def test_chain_terms_use_the_pooled_shift():
    """Reports and replay re-evaluate draws with the same pooled shift as the density (PyMC's graph here)."""
    from syriaforecast.engine.reference.pymc_model import analyst_terms

    model, evidence, arrays, data, _, _ = _setup(MIXED)
    rng = np.random.default_rng(3)
    D, I, S, A = 4, len(model.indicators), 3, arrays.n_analysts
    params = {
        "initial_probability": rng.dirichlet(np.ones(S), D),
        "persistence": rng.uniform(0.6, 0.95, (D, S)),
        "elicitation_sigma": rng.uniform(0.1, 1.0, (D, 2)),
        "elicitation_eta": rng.normal(0, 1, (D, I, S)),
        "source_reliability": rng.uniform(0.3, 0.95, (D, 6)),
        "information_credibility": rng.uniform(0.3, 0.95, (D, 6)),
        "analyst_bias": rng.normal(0, 0.5, (D, A)),
        "analyst_noise": rng.uniform(0.1, 1.5, (D, A)),
    }
    terms = chain_terms_for_draws(model, evidence, params)
    inputs = [pt.dvector(), pt.dmatrix(), pt.dvector(), pt.dvector()]
    with python_only():
        pooled = pytensor.function(inputs, analyst_terms(arrays, *inputs)[0])
    names = ("elicitation_sigma", "elicitation_eta", "analyst_bias", "analyst_noise")
    shift = np.stack([pooled(*(params[n][d] for n in names)) for d in range(D)])
    per_draw = {
        "log_initial": np.log(params["initial_probability"]),
        "persistence": params["persistence"],
        "shift": shift,
        "kappa_reliability": params["source_reliability"],
        "kappa_credibility": params["information_credibility"],
        "report_offset": np.zeros((D, data.report_cell.shape[0])),
        "cluster_closeness": np.zeros((D, 0)),  # the model has no clusters
        "transition_base": np.repeat(arrays.transition_base[None], D, axis=0),
        "log_effect": np.repeat(arrays.log_effect[None], D, axis=0),
    }
    _, _, cell_ll = chain_terms_batch_kernel(*kernel_args(arrays, data, per_draw))
    np.testing.assert_allclose(terms.cell_log_likelihood, cell_ll, rtol=1e-12, atol=1e-12)
    # Without the analysts' parameters (exact mode) the consensus is the reference, as before.
    consensus_only = {k: v for k, v in params.items() if not k.startswith("analyst_")}
    plain = dataclasses.replace(
        model,
        indicators=tuple(dataclasses.replace(i, elicitations=MappingProxyType({})) for i in model.indicators),
    )
    np.testing.assert_array_equal(
        chain_terms_for_draws(model, evidence, consensus_only).cell_log_likelihood,
        chain_terms_for_draws(plain, evidence, consensus_only).cell_log_likelihood,
    )


def test_exact_mode_uses_the_consensus():
    model, evidence, *_ = _setup(MIXED)
    plain = dataclasses.replace(
        model,
        indicators=tuple(dataclasses.replace(i, elicitations=MappingProxyType({})) for i in model.indicators),
    )
    exact = sf.forecast(model, evidence, as_of="2025-06-30", exact=True)
    assert "analyst_bias" not in exact.posterior and "analyst" not in exact.posterior.dims
    np.testing.assert_array_equal(
        exact.horizon.values, sf.forecast(plain, evidence, as_of="2025-06-30", exact=True).horizon.values
    )


def test_forecast_keeps_analyst_parameters_and_replays_them():
    model, evidence, *_ = _setup(MIXED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.ConvergenceWarning)  # short chains: plumbing, not inference
        result = sf.forecast(model, evidence, as_of="2025-06-30", seed=4, draws=150, tune=150, chains=2)
    for name in ("analyst_bias", "analyst_noise"):
        assert result.posterior[name].dims == ("chain", "draw", "analyst")
        assert np.isfinite(result.posterior[name]).all()
    assert list(result.posterior["analyst"].values) == ["ana", "ben", "cai"]
    assert (result.posterior["analyst_noise"] > 0).all()
    params = forecast_parameters(result)
    assert params["analyst_noise"].shape == (300, 3)
    recomputed = chain_terms_for_draws(model, evidence, params)
    np.testing.assert_allclose(
        chain_posterior(recomputed).filtered[:, -1], result.horizon.values.reshape(-1, 3), atol=1e-12
    )


# --------------------------------------------------------------------------- recovery


def _recovery_model(seed: int, noise=(0.2, 0.6, 1.5), bias=(0.3, 0.0, -0.3), n_indicators=20):
    rng = np.random.default_rng(seed)
    analysts = ("sharp", "fair", "loose")
    truth = rng.normal(0.0, 1.2, (n_indicators, 3))
    tables = {}
    for i in range(n_indicators):
        tables[f"i{i}"] = {
            a: by_scenario(*(_expit(truth[i, s] + bias[k] + noise[k] * rng.normal()) for s in range(3)))
            for k, a in enumerate(analysts)
        }
    indicators = [
        {
            "id": f"i{i}",
            "group": "g",
            "type": "binary",
            "text": f"i{i}",
            "likelihood": by_scenario(0.5, 0.5, 0.5),  # replaced by the consensus
        }
        for i in range(n_indicators)
    ]
    base = sf.parse_model(
        {
            "model": {
                "id": "analysts",
                "title": "Analysts",
                "start": "2025-01",
                "horizon": pd.Period("2025-03", freq="M").end_time.date(),
                "persistence": 0.9,
                "elicitation_error": 0.5,
            },
            "scenarios": [{"id": s, "name": s, "prior": 1 / 3, "resolution": "r"} for s in SCENARIOS],
            "indicators": indicators,
        }
    )
    return with_analysts(base, tables)


def test_analyst_noise_is_recovered_from_disagreements():
    """Three analysts with noise 0.2, 0.6, 1.5 on 60 binary indicators x 3 scenarios, no evidence.

    Only the analysts' disagreements inform their noise, and what splits the
    sharp and the fair analysts' shared variance comes through the loose one:
    with 20 indicators x 3 scenarios the posterior means put 0.2 below 0.6 in
    only 12 of 20 simulated data sets (the loose analyst is always found), with
    60 x 3 in every one of 30.
    """
    model = _recovery_model(seed=0, n_indicators=60)
    evidence = sf.load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), model)
    settings = SamplerSettings(draws=400, tune=400, chains=2, seed=2)
    run = run_engine(model, evidence, model.horizon, exact=False, settings=settings)
    noise = run.parameters["analyst_noise"].reshape(-1, 3).mean(axis=0)
    assert noise[0] < noise[1] < noise[2], noise
    assert 0.05 < noise[0] < 0.5 and 0.3 < noise[1] < 1.0 and 1.0 < noise[2] < 2.5, noise
