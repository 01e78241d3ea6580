"""Simulation-based calibration of the hierarchical engine.

The default run checks the generator against the engine's priors (PyMC's own
prior draws as the reference) and runs a small SBC (30 simulations) on the
synthetic base model's structure; ``-m slow`` runs a larger SBC on the bundled
model's structure. Every rank set is tested with arviz-stats' PIT-ECDF
uniformity test (``pot_c``) and a chi-square test on binned ranks, at a
family-wise level of about 2% (Bonferroni over the quantities).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from syriaforecast import bundled_model, load_model
from syriaforecast.engine.data import build_engine_data, build_model_arrays
from syriaforecast.engine.reference.pymc_model import build_pymc_model
from syriaforecast.engine.run import _coords
from syriaforecast.spec.evidence import load_evidence
from syriaforecast.studies.sbc import (
    draw_prior_parameters,
    plot_sbc,
    run_sbc,
    sbc_uniformity,
    simulate_from_prior,
)

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
FAMILY_ALPHA = 0.02


@pytest.fixture(scope="module")
def base():
    return load_model(DATA / "synthetic_base.toml")


def _family_threshold(table) -> float:
    # Two tests per quantity and coordinate, Bonferroni.
    return FAMILY_ALPHA / (2 * len(table))


def test_prior_draws_match_pymc_model_priors(base):
    """draw_prior_parameters draws from the same priors as the engine's PyMC model (KS tests)."""
    arrays = build_model_arrays(base)
    empty = load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), base)
    data = build_engine_data(base, arrays, empty, base.horizon_index + 1)
    model = build_pymc_model(arrays, data, _coords(base))
    names = [
        "initial_probability",
        "persistence",
        "elicitation_sigma",
        "elicitation_eta",
        "source_reliability",
        "information_credibility",
    ]
    reference = dict(zip(names, pm.draw([model[n] for n in names], draws=3000, random_seed=1), strict=True))
    rng = np.random.default_rng(2)
    mine = [draw_prior_parameters(base, rng) for _ in range(3000)]
    p_values = []
    for name in names:
        ours = np.stack([d[name] for d in mine])
        assert ours.shape == reference[name].shape, name
        flat_ours = ours.reshape(3000, -1)
        flat_ref = reference[name].reshape(3000, -1)
        for k in range(flat_ours.shape[1]):
            p_values.append(stats.ks_2samp(flat_ours[:, k], flat_ref[:, k]).pvalue)
    # 3 + 3 + 3 + 24 + 6 + 6 = 45 comparisons, all from identical distributions.
    assert len(p_values) == 45
    assert min(p_values) > 0.01 / len(p_values), sorted(p_values)[:3]  # Bonferroni, 1% family-wise
    # Under the null the KS p-values are (close to) uniform.
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_simulate_from_prior_is_reproducible_and_uses_the_drawn_parameters(base):
    params, path, evidence = simulate_from_prior(base, seed=4)
    again = simulate_from_prior(base, seed=4)
    assert all(np.array_equal(params[k], again[0][k]) for k in params)
    assert np.array_equal(path, again[1]) and evidence == again[2]
    assert params["persistence"].shape == (3,) and np.ptp(params["persistence"]) > 0
    # A scenario path drawn with near-zero persistence switches almost every period.
    switches = []
    for seed in range(30):
        params, path, _ = simulate_from_prior(base, seed=seed)
        switches.append(np.mean(path[1:] != path[:-1]) - (1 - np.mean(params["persistence"])))
    assert abs(np.mean(switches)) < 0.05


def test_uniformity_test_can_fail():
    """Ranks from an overconfident posterior (U-shaped) are flagged; uniform ranks are not."""
    rng = np.random.default_rng(0)
    L, n = 99, 30

    def tree(ranks):
        ranks = np.asarray(ranks)[None, :]
        pit = (ranks + rng.random(ranks.shape)) / (L + 1)
        return xr.DataTree.from_dict(
            {
                "/": xr.Dataset(attrs={"n_ranked": L}),
                "prior_sbc": xr.Dataset({"q": (("chain", "draw"), ranks)}),
                "pit": xr.Dataset({"q": (("chain", "draw"), pit)}),
            }
        )

    uniform = sbc_uniformity(tree(rng.integers(0, L + 1, n)))
    assert uniform.loc[0, "pit_p_value"] > 0.01 and uniform.loc[0, "chi2_p_value"] > 0.01
    # An interval 3x too narrow: the truth falls outside most posterior draws.
    z = rng.standard_normal(n) * 3.0
    u_shaped = np.clip(np.round(stats.norm.cdf(z) * (L + 1) - 0.5), 0, L)
    flagged = sbc_uniformity(tree(u_shaped))
    assert flagged.loc[0, "pit_p_value"] < 0.001
    assert flagged.loc[0, "chi2_p_value"] < 0.001


@pytest.fixture(scope="module")
def small_sbc(base):
    return run_sbc(base, n_simulations=30, seed=2024, draws=200, tune=200, chains=2, n_ranked=99)


def test_sbc_ranks_are_uniform(small_sbc):
    table = sbc_uniformity(small_sbc)
    threshold = _family_threshold(table)
    print("\n" + table.round(3).to_string())
    assert set(table["quantity"]) >= {
        "horizon_probability",
        "log_likelihood",
        "elicitation_sigma",
        "persistence",
        "initial_probability",
        "source_reliability",
        "information_credibility",
    }
    assert (table["n"] == 30).all()
    assert table["pit_p_value"].min() > threshold, table.sort_values("pit_p_value").head(3)
    assert table["chi2_p_value"].min() > threshold, table.sort_values("chi2_p_value").head(3)
    # Pooled over quantities the mean PIT is 0.5 (no systematic over/under-estimation):
    # per-quantity means have sd 1/sqrt(12 * 30) = 0.053.
    assert abs(table["mean_pit"].mean() - 0.5) < 0.05
    assert int(small_sbc["fits"]["divergences"].sum()) <= 3


def test_sbc_layout_and_plot(small_sbc):
    ranks = small_sbc["prior_sbc"]
    assert ranks["horizon_probability"].dims == ("chain", "draw", "scenario")
    assert int(ranks["horizon_probability"].max()) <= 99
    assert int(ranks["horizon_probability"].min()) >= 0
    pit = small_sbc["pit"]["horizon_probability"]
    assert float(pit.min()) > 0 and float(pit.max()) < 1
    fig = plot_sbc(small_sbc, var_names=["horizon_probability"])
    assert len(fig.axes) >= 3
    import matplotlib.pyplot as plt

    plt.close(fig)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # longer than the suite's 600 s limit
def test_sbc_bundled_model_structure():
    """SBC on the bundled model's structure (indicators incl. phrases, ordinal, count; 37 months).

    Measured on the bundled model before its issue-#20 revision (3 scenarios, 35 indicators;
    the revised one has 4 scenarios and 37 indicators and was not re-measured), seed 7, 100
    simulations, 30% of indicators reported a month; about 7.5 minutes, 4.2 s a fit:
    smallest PIT-ECDF (pot_c) p-value 0.015 (source_reliability B),
    smallest chi-square p-value 0.040, over 23 quantities (46 tests; family threshold
    0.02 / 46 = 0.00043); horizon-probability central 90% intervals held the truth in
    94%, 90% and 91% of simulations; no divergences.
    """
    bundled = load_model(bundled_model())
    result = run_sbc(
        bundled, n_simulations=100, seed=7, draws=200, tune=300, chains=2, n_ranked=99, report_rate=0.3
    )
    table = sbc_uniformity(result)
    print("\n" + table.round(3).to_string())
    threshold = _family_threshold(table)
    assert table["pit_p_value"].min() > threshold, table.sort_values("pit_p_value").head(3)
    assert table["chi2_p_value"].min() > threshold, table.sort_values("chi2_p_value").head(3)


@pytest.mark.slow
def test_sbc_150_simulations(base):
    """150 simulations on the synthetic base model (about 2-3 minutes).

    Measured (seed 99): smallest PIT-ECDF (pot_c) p-value 0.095 (elicitation_sigma,
    military), smallest chi-square p-value 0.137, over 19 quantities; no divergences.
    Run again on 2026-12-03 (commit 0977f8d, 31 s): 0.101 (the same quantity) and 0.050
    (initial_probability, war), above the family-wise threshold; 90% coverage 0.880-0.967.
    """
    result = run_sbc(base, n_simulations=150, seed=99, draws=200, tune=200, chains=2, n_ranked=99)
    table = sbc_uniformity(result)
    print("\n" + table.round(3).to_string())
    threshold = _family_threshold(table)
    assert table["pit_p_value"].min() > threshold
    assert table["chi2_p_value"].min() > threshold
    # Central 90% intervals of the posterior draws hold the truth 90% of the time:
    # pooled over 19 quantities x 150 simulations (correlated), measured 0.90.
    assert abs(table["coverage_90"].mean() - 0.9) < 0.03
