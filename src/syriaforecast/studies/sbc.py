"""Simulation-based calibration (SBC) of the hierarchical engine.

The engine's PyMC model sums the latent scenario path out in a
``pm.Potential``, so it has no observed variables and no prior predictive for
a generic SBC tool (such as ``simuk.SBC``) to draw data from. This module runs
the same check with the engine's own pieces (Talts et al. 2020):

1. draw every parameter from the engine's priors (:func:`draw_prior_parameters`,
   the priors of :mod:`syriaforecast.engine.reference.pymc_model`);
2. simulate a scenario path and graded reports from those parameters with the
   synthetic-world generator (:func:`simulate_from_prior`);
3. fit the hierarchical model with :func:`syriaforecast.forecast`;
4. rank each test quantity's true value among the (thinned) posterior draws.

If the sampler and the generator agree, every rank is uniform on ``0 .. L``
(``L`` draws kept). Test quantities: the parameters that shape the forecast
(``initial_probability``, ``persistence``, ``elicitation_sigma``, the reading
informativeness of the grades used), the headline itself (the horizon scenario
probability, a function of the parameters and the data) and the log
likelihood of the data (sensitive to any mismatch between generator and
model). :func:`sbc_uniformity` tests the ranks with arviz-stats' PIT-ECDF
uniformity test and a chi-square test on binned ranks; :func:`plot_sbc` draws
the PIT-ECDF difference plots with arviz-plots.

Reference: Talts, S., Betancourt, M., Simpson, D., Vehtari, A. and Gelman, A.
(2020). Validating Bayesian inference algorithms with simulation-based
calibration. arXiv:1804.06788.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    GRADE_CONCENTRATION,
    RELIABILITY_PRIOR_MEAN,
    build_model_arrays,
)
from syriaforecast.engine.evaluate import chain_posterior, chain_terms_for_draws
from syriaforecast.engine.parameters import samples_persistence
from syriaforecast.errors import ConvergenceWarning, SyriaforecastError
from syriaforecast.spec.evidence import CREDIBILITY_GRADES, RELIABILITY_GRADES, Evidence
from syriaforecast.spec.model import ScenarioModel
from syriaforecast.studies.synthetic import DEFAULT_LEAD, oracle_model, simulate_evidence, simulate_path

__all__ = [
    "draw_prior_parameters",
    "plot_sbc",
    "run_sbc",
    "sbc_uniformity",
    "simulate_from_prior",
]

GROUP = "prior_sbc"


def draw_prior_parameters(base: ScenarioModel, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One draw of every parameter from the hierarchical model's priors.

    Parameters
    ----------
    base : ScenarioModel
        The model whose priors are drawn from.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    dict of str to ndarray
        Engine names and shapes (no draw axis): ``initial_probability`` (S,),
        ``persistence`` (S,), ``elicitation_sigma`` (G,), ``elicitation_eta``
        (I, S), ``source_reliability`` (6,), ``information_credibility`` (6,).
    """
    arrays = build_model_arrays(base)
    S, I, G = arrays.n_scenarios, arrays.n_indicators, arrays.n_groups
    initial = rng.dirichlet(arrays.prior_concentration * arrays.prior) if S > 1 else np.ones(1)
    if samples_persistence(arrays):
        centre = np.log(arrays.persistence) - np.log1p(-arrays.persistence)
        z = rng.standard_normal(S)
        persistence = 1.0 / (1.0 + np.exp(-(centre + arrays.persistence_uncertainty * z)))
    else:
        persistence = np.full(S, arrays.persistence)
    sigma = np.abs(rng.standard_normal(G)) * max(arrays.elicitation_error, 1e-9)
    eta = rng.standard_normal((I, S))
    rel_mean = np.array(list(RELIABILITY_PRIOR_MEAN.values()))
    cred_mean = np.array(list(CREDIBILITY_PRIOR_MEAN.values()))
    reliability = rng.beta(rel_mean * GRADE_CONCENTRATION, (1 - rel_mean) * GRADE_CONCENTRATION)
    credibility = rng.beta(cred_mean * GRADE_CONCENTRATION, (1 - cred_mean) * GRADE_CONCENTRATION)
    return {
        "initial_probability": initial,
        "persistence": persistence,
        "elicitation_sigma": sigma,
        "elicitation_eta": eta,
        "source_reliability": reliability,
        "information_credibility": credibility,
    }


def simulate_from_prior(
    base: ScenarioModel,
    *,
    seed: int,
    report_rate: float = 0.6,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    n_observed_periods: int | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, Evidence]:
    """Parameters from the engine's priors, and a path and evidence generated from them.

    Parameters
    ----------
    base : ScenarioModel
        The model.
    seed : int
        Seed.
    report_rate, grades
        As in :func:`~syriaforecast.studies.synthetic.simulate_world`.
    n_observed_periods : int, optional
        Periods with reports (default all but the last
        :data:`~syriaforecast.studies.synthetic.DEFAULT_LEAD`).

    Returns
    -------
    (parameters, path, evidence)
    """
    rng_params, rng_path, rng_reports = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3)
    )
    params = draw_prior_parameters(base, rng_params)
    arrays = build_model_arrays(base)
    scale = np.sqrt(params["elicitation_sigma"][arrays.group_of][:, None] ** 2 + arrays.band_sd**2)
    truth = oracle_model(base, scale * params["elicitation_eta"])
    T = base.horizon_index + 1
    n_obs = max(1, T - DEFAULT_LEAD) if n_observed_periods is None else int(n_observed_periods)
    path = simulate_path(params["initial_probability"], params["persistence"], T, rng_path)
    evidence = simulate_evidence(
        truth,
        path,
        rng_reports,
        report_rate=report_rate,
        grades=grades,
        n_observed_periods=n_obs,
        reliability=params["source_reliability"],
        credibility=params["information_credibility"],
        validate_against=base,
    )
    return params, path, evidence


def _quantities(
    base: ScenarioModel,
    evidence: Evidence,
    params: dict[str, np.ndarray],
    grades_used: tuple[list[int], list[int]],
) -> dict[str, np.ndarray]:
    """Test quantities for each of D parameter draws (leading axis D)."""
    chain = chain_posterior(chain_terms_for_draws(base, evidence, params))
    rel, cred = grades_used
    out = {
        "horizon_probability": chain.filtered[:, -1, :],
        "log_likelihood": chain.log_likelihood,
        "initial_probability": params["initial_probability"],
        "elicitation_sigma": params["elicitation_sigma"],
        "source_reliability": params["source_reliability"][:, rel],
        "information_credibility": params["information_credibility"][:, cred],
    }
    if samples_persistence(build_model_arrays(base)):
        out["persistence"] = params["persistence"]
    return out


def run_sbc(
    base: ScenarioModel,
    *,
    n_simulations: int,
    seed: int,
    report_rate: float = 0.6,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    n_observed_periods: int | None = None,
    draws: int = 200,
    tune: int = 200,
    chains: int = 2,
    n_ranked: int = 99,
) -> xr.DataTree:
    """Run simulation-based calibration of the hierarchical model on ``base``'s structure.

    Parameters
    ----------
    base : ScenarioModel
        The model (its elicitations and priors).
    n_simulations : int
        Number of prior draws, each simulated and fitted once.
    seed : int
        Master seed.
    report_rate, grades, n_observed_periods
        The simulated evidence (see :func:`simulate_from_prior`).
    draws, tune, chains : int
        Sampler settings of each fit.
    n_ranked : int
        Posterior draws kept (evenly thinned) to rank against, ``L``: ranks run
        ``0 .. L``. Thinning keeps autocorrelation from bunching the ranks.

    Returns
    -------
    xarray.DataTree
        Group ``prior_sbc`` (simuk's layout: dims ``chain`` = 1, ``draw`` =
        simulation, plus each quantity's own dims) with the rank of each true
        value among ``n_ranked`` posterior draws, group ``pit`` with the ranks
        as PIT values in (0, 1) (randomised within rank ties, for the
        continuous uniformity tests), and group ``fits`` with per-simulation
        ``divergences``, ``converged``, ``n_reports`` and ``seconds``.
        Attributes record the settings and ``n_ranked``.
    """
    from syriaforecast.forecast import forecast, forecast_parameters

    if isinstance(n_simulations, bool) or not isinstance(n_simulations, int) or n_simulations < 1:
        raise SyriaforecastError(f"n_simulations: got {n_simulations!r}; expected a whole number >= 1")
    if not isinstance(n_ranked, int) or not 1 <= n_ranked <= draws * chains:
        raise SyriaforecastError(
            f"n_ranked: got {n_ranked!r}; expected 1 to draws * chains = {draws * chains}"
        )
    grade_letters = sorted({RELIABILITY_GRADES.index(g[0]) for g in grades if g[:1].isalpha()})
    grade_digits = sorted({CREDIBILITY_GRADES.index(g[-1]) for g in grades if g[-1:].isdigit()})
    seeds = np.random.SeedSequence(int(seed)).generate_state(2 * n_simulations, dtype=np.uint32)
    jitter = np.random.default_rng(int(seed) + 1)
    as_of_period = None
    ranks: dict[str, list[np.ndarray]] = {}
    fits: dict[str, list[Any]] = {"divergences": [], "converged": [], "n_reports": [], "seconds": []}
    T = base.horizon_index + 1
    n_obs = max(1, T - DEFAULT_LEAD) if n_observed_periods is None else int(n_observed_periods)
    as_of_period = base.first_period + (max(n_obs, 1) - 1)
    as_of = as_of_period.end_time.date()
    for k in range(n_simulations):
        start = time.perf_counter()
        true, _, evidence = simulate_from_prior(
            base,
            seed=int(seeds[2 * k]),
            report_rate=report_rate,
            grades=grades,
            n_observed_periods=n_obs,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = forecast(
                base,
                evidence,
                as_of,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=int(seeds[2 * k + 1]),
                exact=False,
            )
        posterior = forecast_parameters(fit, max_draws=n_ranked)
        used = (grade_letters, grade_digits)
        drawn = _quantities(base, evidence, posterior, used)
        reference = _quantities(base, evidence, {k_: v[None] for k_, v in true.items()}, used)
        for name, values in drawn.items():
            ranks.setdefault(name, []).append(np.sum(values < reference[name], axis=0))
        fits["divergences"].append(int(fit.diagnostics.attrs.get("divergences", 0)))
        fits["converged"].append(bool(fit.converged))
        fits["n_reports"].append(len(evidence))
        fits["seconds"].append(time.perf_counter() - start)
    L = int(n_ranked) if draws * chains > n_ranked else draws * chains
    dims = {
        "horizon_probability": ["scenario"],
        "log_likelihood": [],
        "initial_probability": ["scenario"],
        "persistence": ["scenario"],
        "elicitation_sigma": ["group"],
        "source_reliability": ["reliability_grade"],
        "information_credibility": ["credibility_grade"],
    }
    coords = {
        "scenario": list(base.scenario_ids),
        "group": list(base.groups),
        "reliability_grade": [RELIABILITY_GRADES[i] for i in grade_letters],
        "credibility_grade": [CREDIBILITY_GRADES[i] for i in grade_digits],
    }
    rank_vars, pit_vars = {}, {}
    for name, per_simulation in ranks.items():
        r = np.stack(per_simulation)[None]  # (chain=1, draw=n_simulations, ...)
        var_dims = ["chain", "draw", *dims[name]]
        rank_vars[name] = (var_dims, r)
        pit_vars[name] = (var_dims, (r + jitter.random(r.shape)) / (L + 1))
    used_coords = {k: v for k, v in coords.items() if any(k in d for d in dims.values())}
    rank_ds = xr.Dataset(rank_vars, coords=used_coords)
    rank_ds = rank_ds.assign_coords({c: coords[c] for c in coords if c in rank_ds.dims})
    pit_ds = xr.Dataset(pit_vars).assign_coords({c: coords[c] for c in coords if c in rank_ds.dims})
    fits_ds = xr.Dataset({k: ("simulation", np.asarray(v)) for k, v in fits.items()})
    attrs = {
        "model_id": base.id,
        "n_simulations": n_simulations,
        "n_ranked": L,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "report_rate": report_rate,
        "n_observed_periods": n_obs,
        "as_of": as_of.isoformat(),
        "seed": seed,
    }
    return xr.DataTree.from_dict(
        {"/": xr.Dataset(attrs=attrs), GROUP: rank_ds, "pit": pit_ds, "fits": fits_ds}
    )


def sbc_uniformity(result: xr.DataTree, *, method: str = "pot_c", bins: int = 10) -> pd.DataFrame:
    """Test the SBC ranks of every quantity for uniformity.

    Parameters
    ----------
    result : xarray.DataTree
        A :func:`run_sbc` result.
    method : {"pot_c", "prit_c", "piet_c"}
        arviz-stats' PIT-ECDF uniformity test run on the randomised PIT values.
    bins : int
        Bins of the chi-square test on the ranks (``n_ranked + 1`` must be a
        multiple for equal bins; otherwise bin edges are as even as possible
        and expected counts follow them exactly).

    Returns
    -------
    pandas.DataFrame
        One row per quantity and coordinate: ``pit_p_value`` (arviz-stats),
        ``chi2`` and ``chi2_p_value`` (binned ranks, ``bins - 1`` degrees of
        freedom), ``mean_pit`` (0.5 when unbiased), ``coverage_90`` (share of
        true values inside the central 90% of the draws) and ``n``.
    """
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    ranks = result[GROUP].to_dataset()
    pit = result["pit"].to_dataset()
    L = int(result.attrs["n_ranked"])
    edges = np.unique(np.round(np.linspace(0, L + 1, bins + 1)).astype(int))
    expected_share = np.diff(edges) / (L + 1)
    rows = []
    for name in ranks.data_vars:
        r = ranks[name].isel(chain=0)
        u = pit[name].isel(chain=0)
        extra = [d for d in r.dims if d != "draw"]
        stacked_r = r.stack(_cell=extra) if extra else r.expand_dims(_cell=[0])
        stacked_u = u.stack(_cell=extra) if extra else u.expand_dims(_cell=[0])
        for c in range(stacked_r.sizes["_cell"]):
            values = stacked_r.isel(_cell=c).values
            pits = stacked_u.isel(_cell=c)
            label = "" if not extra else ",".join(str(v) for v in np.atleast_1d(stacked_r["_cell"].values[c]))
            counts = np.histogram(values, bins=edges)[0]
            chi = stats.chisquare(counts, expected_share * counts.sum())
            p_value = pits.drop_vars([v for v in pits.coords if v != "draw"]).azstats.uniformity_test(
                dim="draw", method=method
            )[0]
            pv = pits.values
            rows.append(
                {
                    "quantity": name,
                    "coordinate": label,
                    "pit_p_value": float(p_value),
                    "chi2": float(chi.statistic),
                    "chi2_p_value": float(chi.pvalue),
                    "mean_pit": float(pv.mean()),
                    "coverage_90": float(np.mean((pv > 0.05) & (pv < 0.95))),
                    "n": int(values.size),
                }
            )
    return pd.DataFrame(rows)


def plot_sbc(result: xr.DataTree, *, var_names: Sequence[str] | None = None, method: str = "pot_c") -> Any:
    """PIT-ECDF difference plots of the SBC ranks (arviz-plots ``plot_ecdf_pit``).

    Parameters
    ----------
    result : xarray.DataTree
        A :func:`run_sbc` result.
    var_names : sequence of str, optional
        Quantities to plot (default all).
    method : str
        Uniformity test whose suspicious points are highlighted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import arviz_plots

    names = list(var_names) if var_names is not None else list(result["pit"].to_dataset().data_vars)
    tree = xr.DataTree.from_dict({GROUP: result["pit"].to_dataset()[names]})
    collection = arviz_plots.plot_ecdf_pit(
        tree, group=GROUP, var_names=names, method=method, backend="matplotlib"
    )
    return collection.viz["figure"].item() if hasattr(collection, "viz") else collection
