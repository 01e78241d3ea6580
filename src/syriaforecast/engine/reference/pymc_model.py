"""The hierarchical model as a PyMC model: the public PyMC door, :func:`to_pymc`.

Parameters (all continuous; the latent scenario path is summed out exactly):

- ``initial_probability ~ Dirichlet(prior_concentration * prior)``: the first
  period's scenario probabilities, centred on the analysts' priors.
- ``persistence[s] = expit(logit(persistence) + persistence_uncertainty * z[s])``:
  the probability of staying in scenario ``s``; the rest of the row is spread
  evenly. A logit-normal rather than a Dirichlet row keeps NUTS away from the
  boundary when persistence is close to one.
- ``elicitation_sigma[g] ~ HalfNormal(elicitation_error)`` and
  ``elicitation_eta[i, s] ~ Normal(0, 1)``: non-centred elicitation error, shared
  in scale by the indicators of a group; a phrase elicitation adds the spread
  of its ICD 203 band to that scale.
- ``source_reliability[A..F]``, ``information_credibility[1..6]`` ~ Beta: the
  informativeness factors of graded reports, with means set by the grade.
- Only when the evidence names sources (on readings with a reliability letter):
  ``source_z[m] ~ StudentT(3)``, ``source_spread ~ HalfNormal(SOURCE_SPREAD_SCALE)``
  and the deterministic ``source_offset = source_spread * source_z`` (``source``):
  source ``m``'s readings have reliability ``expit(logit source_reliability[letter]
  + source_offset[m])``, partially pooled around their letter's.
- Only when the model elicits transition rows: ``transition_row_<origin> ~
  Dirichlet(transition_concentration * elicited row)`` over the row's nonzero
  entries (a zero stays zero; a row with one nonzero entry is fixed). Only with
  drivers: ``driver_log_effect ~ Normal(log elicited factor, driver_uncertainty)``
  for each listed (driver, scenario) effect (fixed when the uncertainty is 0).
- Only when the model declares clusters of indicators: ``cluster_closeness[q] ~
  Beta`` centred on the declared closeness
  (:func:`~syriaforecast.engine.clusters.closeness_prior`).
- Only when several analysts elicited the model: ``analyst_bias[a] ~
  Normal(0, analyst_bias)`` and ``analyst_noise[a] ~ HalfNormal(analyst_noise)``.
  Analyst ``a``'s elicitation of (indicator, scenario), as an offset ``d`` from the
  consensus, is ``c + bias[a] + Normal(0, noise[a]^2 + band variance)`` around a
  common target ``c`` with a flat prior, and the truth is ``c + sigma_g eta``.
  ``c`` is integrated out in closed form (:func:`analyst_terms`): the shift is
  ``m + sqrt(1 / W + sigma_g^2) eta`` with ``m`` the precision-weighted mean of
  ``d - bias``, and the elicitations' marginal likelihood is a potential.

Everything that comes from the model file or the evidence enters as named
shared data (``pm.Data``), visible in ``model.data_vars``. The library itself samples the
same density through :mod:`syriaforecast.engine.density` (the tests check
that the two agree); this model is the PyMC door, :func:`to_pymc`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from syriaforecast.engine.clusters import closeness_prior
from syriaforecast.engine.data import (
    GRADE_CONCENTRATION,
    SOURCE_SPREAD_SCALE,
    SOURCE_TAIL_DOF,
    EngineData,
    ModelArrays,
    build_engine_data,
    build_model_arrays,
)
from syriaforecast.engine.names import GRADE_COORDS
from syriaforecast.engine.parameters import grade_means, samples_persistence
from syriaforecast.engine.reference.graph import ElicitationTensors, EvidenceTensors, elicitation_shift
from syriaforecast.engine.reference.op import evidence_log_likelihood
from syriaforecast.engine.run import _coords, n_chain_periods
from syriaforecast.spec.evidence import Evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel

__all__ = [
    "analyst_terms",
    "build_pymc_model",
    "model_data",
    "to_pymc",
]


#: Shared-data names that would clash with a parameter's name.
_DATA_NAMES = {"cluster_closeness": "declared_closeness"}


def analyst_terms(
    arrays: ModelArrays,
    sigma: pt.TensorVariable,
    eta: pt.TensorVariable,
    bias: pt.TensorVariable,
    noise: pt.TensorVariable,
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """The pooled shift (I, S) and the elicitations' log marginal likelihood, ``c`` integrated out.

    The marginal is written through Bayes' rule at ``c = m``: with a flat prior,
    ``p(d) = p(d | c) / p(c | d)`` for any ``c``, and ``c | d ~ Normal(m, 1 / W)``.
    """
    sigma, eta, bias, noise = (pt.as_tensor(v) for v in (sigma, eta, bias, noise))
    I, S = arrays.band_sd.shape
    flat = pt.as_tensor(arrays.elicitation_indicator * S + arrays.elicitation_scenario)
    who = pt.as_tensor(arrays.elicitation_analyst)
    w = 1.0 / (noise[who] ** 2 + pt.as_tensor(arrays.elicitation_bandvar))
    y = pt.as_tensor(arrays.elicitation_offset) - bias[who]
    cells = pt.zeros(I * S)
    total_w = pt.inc_subtensor(cells[flat], w)
    count = pt.inc_subtensor(cells[flat], pt.ones_like(w))
    has = count > 0
    safe_w = pt.switch(has, total_w, 1.0)
    m = pt.switch(has, pt.inc_subtensor(cells[flat], w * y) / safe_w, 0.0)
    own = sigma[pt.as_tensor(arrays.group_of)][:, None] ** 2
    scale = pt.switch(
        has.reshape((I, S)),
        pt.sqrt(1.0 / safe_w.reshape((I, S)) + own),
        pt.sqrt(own + pt.as_tensor(arrays.band_sd) ** 2),
    )
    shift = m.reshape((I, S)) + scale * eta
    given_c = pm.logp(pm.Normal.dist(m[flat], 1.0 / pt.sqrt(w)), y).sum()
    posterior_c = pt.switch(has, pm.logp(pm.Normal.dist(0.0, 1.0 / pt.sqrt(safe_w)), 0.0), 0.0).sum()
    return shift, given_c - posterior_c


def model_data(arrays: ModelArrays) -> dict[str, np.ndarray]:
    """The model file's numbers as named shared-data values."""
    logit_persistence = (
        math.log(arrays.persistence) - math.log1p(-arrays.persistence)
        if arrays.persistence < 1
        else 0.0
    )
    return {
        "cutpoints": arrays.cutpoints,
        "log_rate": arrays.log_rate,
        "band_sd": arrays.band_sd,
        "group_of": arrays.group_of,
        "is_count": arrays.is_count,
        "prior_alpha": arrays.prior_concentration * arrays.prior,
        "persistence_centre": np.asarray(logit_persistence),
        "persistence_scale": np.asarray(arrays.persistence_uncertainty),
        "persistence_fixed": np.full(arrays.n_scenarios, arrays.persistence),
        "elicitation_scale": np.asarray(max(arrays.elicitation_error, 1e-9)),
    }


def build_pymc_model(
    arrays: ModelArrays, data: EngineData, coords: dict[str, list[str]]
) -> pm.Model:
    """The hierarchical model, with model file and evidence as shared data.

    Parameters
    ----------
    arrays : ModelArrays
        The model file's elicitations.
    data : EngineData
        The evidence (any as-of date: shapes of parameters do not depend on it).
    coords : dict
        ``scenario``, ``indicator``, ``group`` and ``period`` labels (and
        ``analyst`` for a model elicited by several analysts).
    """
    S = arrays.n_scenarios
    rel_mean, cred_mean = grade_means()
    source_coords = {"source": list(data.source_names)} if data.source_names else {}
    with pm.Model(coords=coords | GRADE_COORDS | source_coords) as model:
        shared = {name: pm.Data(name, value) for name, value in model_data(arrays).items()}
        evidence = EvidenceTensors(
            **{
                name: pm.Data(_DATA_NAMES.get(name, name), getattr(data, name))
                for name in EvidenceTensors.fields()
            }
        )
        elicitation = ElicitationTensors(
            **{name: shared[name] for name in ElicitationTensors.fields()}
        )
        if S > 1:
            initial = pm.Dirichlet("initial_probability", a=shared["prior_alpha"], dims="scenario")
            log_initial = pt.log(initial)
        else:
            log_initial = pt.zeros(1)
        if samples_persistence(arrays):
            z = pm.Normal("persistence_z", 0.0, 1.0, dims="scenario")
            persistence = pm.Deterministic(
                "persistence",
                pt.sigmoid(shared["persistence_centre"] + shared["persistence_scale"] * z),
                dims="scenario",
            )
        else:
            persistence = shared["persistence_fixed"]
        sigma = pm.HalfNormal("elicitation_sigma", sigma=shared["elicitation_scale"], dims="group")
        eta = pm.Normal("elicitation_eta", 0.0, 1.0, dims=("indicator", "scenario"))
        kappa_rel = pm.Beta(
            "source_reliability",
            alpha=rel_mean * GRADE_CONCENTRATION,
            beta=(1 - rel_mean) * GRADE_CONCENTRATION,
            dims="reliability_grade",
        )
        kappa_cred = pm.Beta(
            "information_credibility",
            alpha=cred_mean * GRADE_CONCENTRATION,
            beta=(1 - cred_mean) * GRADE_CONCENTRATION,
            dims="credibility_grade",
        )
        transition_base, log_effect = _transition_variables(arrays, coords)
        if arrays.n_analysts:
            bias = pm.Normal("analyst_bias", 0.0, max(arrays.analyst_bias_scale, 1e-9), dims="analyst")
            noise = pm.HalfNormal(
                "analyst_noise", sigma=max(arrays.analyst_noise_scale, 1e-9), dims="analyst"
            )
            shift, marginal = analyst_terms(arrays, sigma, eta, bias, noise)
            pm.Potential("analyst_elicitations", marginal)
        else:
            shift = elicitation_shift(elicitation, sigma, eta)
        if data.cluster_closeness.size:
            alpha, beta = closeness_prior(data.cluster_closeness)
            closeness = pm.Beta("cluster_closeness", alpha=alpha, beta=beta, dims="cluster")
        else:
            closeness = evidence.cluster_closeness
        report_source = pm.Data("report_source", data.report_source)
        if data.source_names:
            source_z = pm.StudentT("source_z", nu=SOURCE_TAIL_DOF, mu=0.0, sigma=1.0, dims="source")
            spread = pm.HalfNormal("source_spread", sigma=SOURCE_SPREAD_SCALE)
            offset = pm.Deterministic("source_offset", spread * source_z, dims="source")
            report_offset = pt.switch(report_source >= 0, offset[pt.maximum(report_source, 0)], 0.0)
        else:
            report_offset = pt.zeros(report_source.shape[0])
        params = {
            "log_initial": log_initial,
            "persistence": persistence,
            "shift": shift,
            "kappa_reliability": kappa_rel,
            "kappa_credibility": kappa_cred,
            "report_offset": report_offset,
            "transition_base": transition_base,
            "log_effect": log_effect,
            "cluster_closeness": closeness,
        }
        data_tensors = {name: getattr(evidence, name) for name in EvidenceTensors.fields()}
        data_tensors |= {name: shared[name] for name in ("cutpoints", "log_rate", "is_count")}
        data_tensors["row_elicited"] = pt.as_tensor(_row_elicited(arrays))
        data_tensors["driver_on"] = pm.Data("driver_on", _driver_on(arrays, data))
        data_tensors["n_periods"] = pt.as_tensor(np.int64(len(coords["period"])))
        pm.Potential("evidence_log_likelihood", evidence_log_likelihood(params, data_tensors))
    return model


def _row_elicited(arrays: ModelArrays) -> np.ndarray:
    S = arrays.n_scenarios
    return arrays.row_elicited if arrays.row_elicited.shape == (S,) else np.zeros(S, dtype=bool)


def _driver_on(arrays: ModelArrays, data: EngineData) -> np.ndarray:
    R = arrays.log_effect.shape[0] if arrays.log_effect.ndim == 2 else 0
    on = data.driver_on
    return on if on.shape == (data.n_periods, R) else np.zeros((data.n_periods, R))


def _transition_variables(
    arrays: ModelArrays, coords: dict[str, list[str]]
) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """The elicited rows (S, S) and log driver effects (R, S), random where the model says so."""
    S = arrays.n_scenarios
    base = arrays.transition_base if arrays.transition_base.shape == (S, S) else np.eye(S)
    rows = pt.as_tensor(np.asarray(base, dtype=float))
    names = coords.get("scenario", [str(s) for s in range(S)])
    for i in np.flatnonzero(_row_elicited(arrays)):
        support = np.flatnonzero(base[i] > 0)
        if support.size < 2:
            continue  # absorbing (or a single move): nothing uncertain
        row = pm.Dirichlet(
            f"transition_row_{names[i]}", a=arrays.transition_concentration * base[i, support]
        )
        rows = pt.set_subtensor(rows[i, support], row)
    R = arrays.log_effect.shape[0] if arrays.log_effect.ndim == 2 else 0
    centre = np.asarray(arrays.log_effect, dtype=float).reshape(R, S)
    log_effect = pt.as_tensor(centre)
    given = np.argwhere(arrays.effect_given.reshape(R, S)) if R else np.zeros((0, 2), dtype=int)
    if given.size and arrays.driver_uncertainty > 0:
        values = pm.Normal(
            "driver_log_effect", mu=centre[given[:, 0], given[:, 1]], sigma=arrays.driver_uncertainty
        )
        log_effect = pt.set_subtensor(log_effect[given[:, 0], given[:, 1]], values)
    return rows, log_effect


def to_pymc(
    model: ScenarioModel,
    evidence: Evidence | None = None,
    *,
    as_of: dt.date | str | None = None,
) -> pm.Model:
    """The hierarchical model of a scenario analysis as a PyMC model.

    The same priors and likelihood as the library's own sampler: the latent
    scenario path is summed out exactly, so the evidence enters as one
    ``pm.Potential`` (``evidence_log_likelihood``) computed by the library's
    compiled kernel, with its gradient. Use it to look at the model
    (``pm.model_to_graphviz``), extend it with your own variables, sample it
    with any PyMC sampler, or draw from its priors.

    Parameters
    ----------
    model : ScenarioModel
        A validated model (:func:`~syriaforecast.load_model`).
    evidence : Evidence, optional
        Its evidence log (:func:`~syriaforecast.load_evidence`); none gives the prior model.
    as_of : date or str, optional
        Use only the reports dated on or before this date (default: all of them).

    Returns
    -------
    pymc.Model
        Free variables ``initial_probability`` (dims ``scenario``; absent for a
        single scenario), ``persistence_z`` and the deterministic
        ``persistence`` (``scenario``; only when persistence is uncertain),
        ``elicitation_sigma`` (``group``), ``elicitation_eta`` (``indicator``,
        ``scenario``), ``source_reliability`` (``reliability_grade``, A-F),
        ``information_credibility`` (``credibility_grade``, 1-6) and, for a
        model elicited by several analysts, ``analyst_bias`` and
        ``analyst_noise`` (``analyst``); for a model with clusters of
        indicators, ``cluster_closeness`` (``cluster``; the declared values are
        the data ``declared_closeness``); for evidence naming its sources,
        ``source_z`` and the deterministic ``source_offset`` (``source``) and
        ``source_spread``. Coordinates also name the chain's
        periods (``period``: the first period through the horizon's). The model
        file's numbers and the evidence arrays are named ``pm.Data``.

    Notes
    -----
    Up to a constant, the model's log density (``model.compile_logp(jacobian=False)``)
    equals the density the library's sampler uses
    (:mod:`syriaforecast.engine.density`, less the Jacobians of its transforms);
    the test suite checks this at random points to 1e-8.

    ``pm.sample(nuts_sampler="nutpie")`` compiles the model into nutpie's C
    callback again in every process. On the bundled model and evidence this took
    65.6 s of compilation before 14.8 s of sampling (4 chains x 1,000 draws, on
    the project's 2-core machine, 2026-12-02; ``benchmarks/RESULTS.md``), where
    :func:`~syriaforecast.forecast` samples the same density with kernels
    compiled once per machine.

    Examples
    --------
    >>> import pymc as pm
    >>> import syriaforecast as sf
    >>> model = sf.load_model(sf.bundled_model())
    >>> with sf.to_pymc(model, sf.load_evidence(sf.bundled_evidence(), model)):  # doctest: +SKIP
    ...     idata = pm.sample(nuts_sampler="nutpie")
    """
    if evidence is None:
        evidence = load_evidence(pd.DataFrame(columns=["date", "indicator", "value"]), model)
    if as_of is not None:
        evidence = evidence.up_to(as_of)
    arrays = build_model_arrays(model)
    data = build_engine_data(model, arrays, evidence, n_chain_periods(model))
    return build_pymc_model(arrays, data, _coords(model))
