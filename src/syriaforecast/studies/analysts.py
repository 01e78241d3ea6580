"""Several analysts: pooling their elicitations against the best of them and their plain average.

Each synthetic world (:func:`~syriaforecast.studies.synthetic.simulate_world`
with ``analysts``) has a common target ``c`` that every analyst aims at, a
truth ``c + elicitation_noise * z`` and one table per analyst,
``c + bias_a + noise_a * eps``. The forecasters see the same reports up to the
same as-of date, ``lead`` periods before the horizon:

``pooled``
    The engine's hierarchical model on the multi-analyst model: it learns
    each analyst's bias and noise (``analyst_bias``, ``analyst_noise``) and
    weighs their tables accordingly.
``average``
    The engine's hierarchical model on the plain consensus (the analysts'
    average on the logit / log scale, :func:`~syriaforecast.studies.synthetic.consensus_model`),
    analysts dropped: every analyst counts the same.
``analyst:<id>``
    The engine's hierarchical model on that analyst's table alone
    (:func:`~syriaforecast.studies.synthetic.analyst_model`).
``ideal``
    Exact mode on the precision-weighted consensus with the *true* biases
    removed and weights ``1 / noise_a**2``: what pooling could do if it knew
    each analyst's quality (a reference, not a method anyone could run).
``oracle``
    Exact mode on the true likelihoods: no forecaster does better on average.

:func:`analyst_study` returns the forecasts as an :class:`xarray.Dataset` in the
layout of :func:`~syriaforecast.studies.calibration.calibration_study`, so
:func:`~syriaforecast.studies.calibration.case_scores` and
:func:`~syriaforecast.studies.calibration.paired_difference` score it;
:func:`summarise_analyst_study` gives each forecaster's scores, paired
bootstrap intervals of pooled minus every other forecaster, and how well the
pooled fits recover each analyst's noise.

With ``exact=True`` every engine forecaster runs in exact mode instead (no
sampling, milliseconds per world): cheap enough to see whether a design
separates the forecasters at all before spending sampler time. Exact mode has
no analyst parameters, so there ``pooled`` is the consensus like ``average``
and ``ideal`` stands for what pooling can reach.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import xarray as xr

from syriaforecast._maths import expit_array, logit_array
from syriaforecast.errors import SyriaforecastError
from syriaforecast.forecast import SAMPLE_DIMS, Forecast, forecast, hdi_bounds
from syriaforecast.scoring import brier_score, log_score
from syriaforecast.spec.model import ScenarioModel
from syriaforecast.studies.calibration import (
    _as_of,
    _check_lead,
    _check_world,
    _sample_quietly,
    _study_attrs,
    _study_worlds,
    case_scores,
    paired_difference,
)
from syriaforecast.studies.synthetic import (
    SyntheticWorld,
    analyst_model,
    consensus_model,
)

__all__ = ["ENGINE_ARMS", "analyst_study", "ideal_model", "summarise_analyst_study"]

#: Forecasters run by the engine (hierarchical unless ``exact=True``), besides one per analyst.
ENGINE_ARMS: tuple[str, ...] = ("pooled", "average")
_SCORES = ("brier", "log_score", "expected_brier", "expected_log_score")
_FLOOR = 1e-6
_MAX_RATE = 1e4


def ideal_model(model: ScenarioModel, bias: np.ndarray, noise: np.ndarray) -> ScenarioModel:
    """The multi-analyst model collapsed with known analyst quality: the ideal pooling.

    Parameters
    ----------
    model : ScenarioModel
        A model with analysts (every indicator elicited by every analyst, with
        numbers: as :func:`~syriaforecast.studies.synthetic.simulate_world` writes them).
    bias, noise : ndarray (A,)
        Each analyst's true bias and noise sd (logit / log-rate scale), in
        ``model.analysts`` order.

    Returns
    -------
    ScenarioModel
        One table per indicator: the weighted mean of ``d_a - bias_a`` with
        weights ``1 / noise_a**2`` (binary logits, ordinal cumulative logits,
        count log rates), analysts dropped. An analyst with noise 0 takes all
        the weight (shared among such analysts).
    """
    bias = np.asarray(bias, dtype=float)
    noise = np.asarray(noise, dtype=float)
    ids = model.analysts
    if bias.shape != (len(ids),) or noise.shape != (len(ids),):
        raise SyriaforecastError(
            f"bias, noise: shapes {bias.shape}, {noise.shape}; expected ({len(ids)},) for analysts {ids}"
        )
    exact = noise == 0
    weights = exact.astype(float) if exact.any() else 1.0 / noise**2
    weights = weights / weights.sum()
    indicators = []
    for ind in model.indicators:
        present = [k for k, a in enumerate(ids) if a in ind.elicitations]
        if not present:
            indicators.append(dataclasses.replace(ind, elicitations=MappingProxyType({})))
            continue
        w = weights[present] / weights[present].sum()
        likelihood: dict[str, Any] = {}
        for sid in model.scenario_ids:
            values = [ind.elicitations[ids[k]][sid] for k in present]
            if ind.type == "binary":
                location = logit_array(np.asarray(values, dtype=float)) - bias[present]
                likelihood[sid] = float(np.clip(expit_array(w @ location), _FLOOR, 1 - _FLOOR))
            elif ind.type == "ordinal":
                cum = np.clip(np.cumsum(np.asarray(values, dtype=float), axis=1)[:, :-1], 1e-300, 1 - 1e-16)
                # The analysts' cutpoints sit at c - bias - noise * eps: add the bias back.
                location = w @ (logit_array(cum) + bias[present][:, None])
                levels = np.maximum(np.diff(np.concatenate([[0.0], expit_array(location), [1.0]])), _FLOOR)
                likelihood[sid] = tuple(float(v) for v in levels / levels.sum())
            else:
                location = np.log(np.asarray(values, dtype=float)) - bias[present]
                likelihood[sid] = float(np.clip(np.exp(w @ location), _FLOOR, _MAX_RATE))
        indicators.append(
            dataclasses.replace(
                ind, likelihood=MappingProxyType(likelihood), elicitations=MappingProxyType({})
            )
        )
    return dataclasses.replace(model, indicators=tuple(indicators))


def analyst_study(
    base: ScenarioModel,
    n_worlds: int,
    *,
    analysts: int | Mapping[str, float | tuple[float, float]],
    seed: int,
    lead: int = 1,
    elicitation_noise: float = 0.2,
    report_rate: float = 0.9,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    draws: int = 200,
    tune: int = 200,
    chains: int = 2,
    prob: float = 0.9,
    exact: bool = False,
    worlds: Sequence[SyntheticWorld] | None = None,
) -> xr.Dataset:
    """Forecast the horizon of multi-analyst synthetic worlds with each forecaster.

    Parameters
    ----------
    base : ScenarioModel
        The common target the analysts aim at (its ``elicitation_error``,
        ``analyst_bias`` and ``analyst_noise`` are the engine's prior scales).
    n_worlds : int
        Number of worlds (ignored when ``worlds`` is given).
    analysts : int or mapping
        The analysts, as :func:`~syriaforecast.studies.synthetic.simulate_world`
        takes them: a number ``>= 2``, or analyst id -> noise sd or
        ``(bias, noise sd)``.
    seed : int
        Master seed for the worlds and the samplers.
    lead : int
        Periods between the as-of period (the last with reports) and the horizon's.
    elicitation_noise, report_rate, grades
        Passed to :func:`~syriaforecast.studies.synthetic.simulate_world`;
        ``elicitation_noise`` is the error the analysts share.
    draws, tune, chains : int
        Sampler settings of every engine forecast (small: compiled samplers are
        reused across worlds; the pooled model compiles once more).
    prob : float
        Mass of the highest-density intervals.
    exact : bool
        Run the engine forecasters in exact mode (a cheap design check; see
        the module docstring).
    worlds : sequence of SyntheticWorld, optional
        Use these multi-analyst worlds of ``base`` instead of simulating.

    Returns
    -------
    xarray.Dataset
        Dimensions ``world``, ``forecaster`` (``pooled``, ``average``,
        ``analyst:<id>`` per analyst, ``ideal``, ``oracle``), ``scenario`` and
        ``analyst``. Variables: ``probability`` (world, forecaster, scenario)
        horizon forecasts (posterior means); ``hdi_low`` / ``hdi_high`` their
        intervals (NaN for exact forecasts); ``outcome`` (world);
        ``oracle_probability`` (world, scenario); ``analyst_bias`` /
        ``analyst_noise`` (world, analyst) the true values;
        ``analyst_noise_mean`` / ``analyst_noise_low`` / ``analyst_noise_high``
        and ``analyst_bias_mean`` (world, analyst) from the pooled fit (NaN when
        its posterior has no analyst parameters); ``pooled_has_analysts``
        (world) whether it had them; ``divergences``, ``converged`` and
        ``seconds`` (world, forecaster); ``seed`` and ``n_reports`` (world).
        Attributes record the settings.
    """
    lead = _check_lead(base, lead)
    if not 0 < prob < 1:
        raise SyriaforecastError(f"prob: got {prob!r}; expected a probability in (0, 1)")
    worlds = _study_worlds(
        base,
        worlds,
        n_worlds=n_worlds,
        seed=seed,
        lead=lead,
        analysts=analysts,
        elicitation_noise=elicitation_noise,
        report_rate=report_rate,
        grades=grades,
    )
    ids = worlds[0].model.analysts
    if len(ids) < 1 or "analyst_noise" not in worlds[0].parameters:
        raise SyriaforecastError(
            "analysts: the worlds have no simulated analysts; pass analysts=2 or more, or a mapping"
        )
    as_of = _as_of(base, lead)
    S, A, W = len(base.scenarios), len(ids), len(worlds)
    forecasters = [*ENGINE_ARMS, *(f"analyst:{a}" for a in ids), "ideal", "oracle"]
    M = len(forecasters)
    probability = np.empty((W, M, S))
    hdi = np.full((2, W, M, S), np.nan)
    divergences = np.zeros((W, M), dtype=np.int64)
    converged = np.ones((W, M), dtype=bool)
    seconds = np.zeros((W, M))
    true_bias = np.empty((W, A))
    true_noise = np.empty((W, A))
    noise_post = np.full((3, W, A), np.nan)  # mean, low, high
    bias_mean = np.full((W, A), np.nan)
    has_analysts = np.zeros(W, dtype=bool)
    outcome = np.empty(W, dtype=np.int64)
    seeds = np.empty(W, dtype=np.int64)
    n_reports = np.empty(W, dtype=np.int64)
    sampler_seeds = np.random.SeedSequence(int(seed)).generate_state(W, dtype=np.uint32)
    for w, world in enumerate(worlds):
        _check_world(base, world, w)
        if world.model.analysts != ids:
            raise SyriaforecastError(
                f"worlds[{w}]: analysts {world.model.analysts}; expected the same analysts {ids} "
                "in every world"
            )
        evidence = world.evidence.up_to(as_of)
        true_bias[w] = world.parameters["analyst_bias"]
        true_noise[w] = world.parameters["analyst_noise"]
        models = [world.model, consensus_model(world.model), *(analyst_model(world.model, a) for a in ids)]
        for m, model in enumerate(models):
            start = time.perf_counter()
            run = _engine(model, evidence, as_of, exact, draws, tune, chains, int(sampler_seeds[w]))
            probability[w, m] = run.horizon.mean(SAMPLE_DIMS).values
            if run.mode != "exact":
                low, high = hdi_bounds(run.horizon, prob=prob)
                hdi[:, w, m] = low.values, high.values
                divergences[w, m] = int(run.diagnostics.attrs.get("divergences", 0))
                converged[w, m] = run.converged
            if m == 0 and "analyst_noise" in run.posterior:
                has_analysts[w] = True
                # The engine adds both analyst variables, labelled by analyst, or neither.
                noise = run.posterior["analyst_noise"].sel(analyst=list(ids))
                low, high = hdi_bounds(noise, prob=prob)
                noise_post[:, w] = noise.mean(SAMPLE_DIMS).values, low.values, high.values
                bias_mean[w] = run.posterior["analyst_bias"].sel(analyst=list(ids)).mean(SAMPLE_DIMS).values
            seconds[w, m] = time.perf_counter() - start
        start = time.perf_counter()
        ideal = ideal_model(world.model, true_bias[w], true_noise[w])
        probability[w, -2] = forecast(ideal, evidence, as_of, exact=True).horizon.values.reshape(S)
        seconds[w, -2] = time.perf_counter() - start
        start = time.perf_counter()
        probability[w, -1] = forecast(world.oracle, evidence, as_of, exact=True).horizon.values.reshape(S)
        seconds[w, -1] = time.perf_counter() - start
        outcome[w] = world.path[-1]
        seeds[w] = world.seed
        n_reports[w] = len(evidence)
    coords = {
        "world": np.arange(W),
        "forecaster": forecasters,
        "scenario": list(base.scenario_ids),
        "analyst": list(ids),
    }
    wf, wa = ("world", "forecaster"), ("world", "analyst")
    return xr.Dataset(
        {
            "probability": ((*wf, "scenario"), probability),
            "hdi_low": ((*wf, "scenario"), hdi[0]),
            "hdi_high": ((*wf, "scenario"), hdi[1]),
            "outcome": ("world", outcome),
            "oracle_probability": (("world", "scenario"), probability[:, -1]),
            "analyst_bias": (wa, true_bias),
            "analyst_noise": (wa, true_noise),
            "analyst_noise_mean": (wa, noise_post[0]),
            "analyst_noise_low": (wa, noise_post[1]),
            "analyst_noise_high": (wa, noise_post[2]),
            "analyst_bias_mean": (wa, bias_mean),
            "pooled_has_analysts": ("world", has_analysts),
            "divergences": (wf, divergences),
            "converged": (wf, converged),
            "seconds": (wf, seconds),
            "seed": ("world", seeds),
            "n_reports": ("world", n_reports),
        },
        coords=coords,
        attrs={
            **_study_attrs(
                base, worlds, report_rate=report_rate, lead=lead, as_of=as_of,
                draws=draws, tune=tune, chains=chains, prob=prob, seed=seed,
            ),
            "exact": int(exact),
        },
    )


def _engine(
    model: ScenarioModel,
    evidence: Any,
    as_of: Any,
    exact: bool,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
) -> Forecast:
    if exact:
        return forecast(model, evidence, as_of, exact=True)
    return _sample_quietly(model, evidence, as_of, draws=draws, tune=tune, chains=chains, seed=seed)


def summarise_analyst_study(
    ds: xr.Dataset,
    *,
    reference: str = "pooled",
    n_boot: int = 2000,
    ci: float = 0.9,
    rng: int | np.random.Generator | None = 0,
) -> xr.Dataset:
    """Score each forecaster of an analyst study and compare ``reference`` with each of the others.

    Parameters
    ----------
    ds : xarray.Dataset
        An :func:`analyst_study` result.
    reference : str
        The forecaster compared with every other (default ``"pooled"``).
    n_boot : int
        Bootstrap replicates of the paired differences.
    ci : float
        Mass of the bootstrap intervals (and the label of the noise intervals,
        which are the study's ``prob``).
    rng : int or numpy.random.Generator, optional
        Seed or generator for resampling worlds.

    Returns
    -------
    xarray.Dataset
        ``brier``, ``log_score`` (against the outcomes), ``expected_brier`` and
        ``expected_log_score`` (against the oracle's probabilities, see
        :func:`~syriaforecast.studies.calibration.case_scores`) per
        ``forecaster``; ``difference`` (score, versus, bound): the mean of
        ``reference`` minus ``versus`` over the same worlds with its paired
        bootstrap interval (``bound`` = estimate, low, high; negative =
        ``reference`` better); per ``analyst``: ``noise_true`` and
        ``bias_true`` (mean over worlds of the true values), ``noise_mean``,
        ``noise_low``, ``noise_high`` and ``bias_mean`` (mean over worlds of
        the pooled fits' posterior means and interval ends) and
        ``noise_coverage`` (share of worlds whose interval holds the true
        noise). Attributes: ``best_single`` (the single-analyst forecaster
        with the lowest expected Brier score, chosen in hindsight),
        ``n_worlds``, ``ci``, ``pooled_has_analysts`` (every pooled fit had
        analyst parameters) and ``seconds`` (total).
    """
    forecasters = [str(f) for f in ds["forecaster"].values]
    if reference not in forecasters:
        raise SyriaforecastError(f"reference: got {reference!r}; expected one of {forecasters}")
    if not 0 < ci < 1:
        raise SyriaforecastError(f"ci: got {ci!r}; expected a probability in (0, 1)")
    y = ds["outcome"].values
    expected = case_scores(ds).mean("world")
    brier = [brier_score(ds["probability"].sel(forecaster=f).values, y) for f in forecasters]
    logs = [log_score(ds["probability"].sel(forecaster=f).values, y) for f in forecasters]
    others = [f for f in forecasters if f != reference]
    generator = np.random.default_rng(rng)
    seed = int(generator.integers(2**31))
    difference = np.empty((len(_SCORES), len(others), 3))
    for k, score in enumerate(_SCORES):
        for j, other in enumerate(others):
            # The same resampled worlds for every comparison: intervals are jointly consistent.
            difference[k, j] = paired_difference(
                ds, score=score, method=reference, reference=other, n_boot=n_boot, ci=ci, rng=seed
            )
    singles = [f for f in forecasters if f.startswith("analyst:")]
    best = min(singles, key=lambda f: float(expected["expected_brier"].sel(forecaster=f))) if singles else ""
    inside = (ds["analyst_noise_low"] <= ds["analyst_noise"]) & (
        ds["analyst_noise"] <= ds["analyst_noise_high"]
    )
    fitted = ds["analyst_noise_mean"].notnull()
    coverage = (
        inside.where(fitted).mean("world")
        if bool(fitted.any())
        else xr.full_like(ds["analyst_noise"].isel(world=0, drop=True), np.nan, dtype=float)
    )
    return xr.Dataset(
        {
            "brier": ("forecaster", np.array(brier)),
            "log_score": ("forecaster", np.array(logs)),
            "expected_brier": ("forecaster", expected["expected_brier"].values),
            "expected_log_score": ("forecaster", expected["expected_log_score"].values),
            "difference": (("score", "versus", "bound"), difference),
            "noise_true": ds["analyst_noise"].mean("world"),
            "bias_true": ds["analyst_bias"].mean("world"),
            "noise_mean": ds["analyst_noise_mean"].mean("world"),
            "noise_low": ds["analyst_noise_low"].mean("world"),
            "noise_high": ds["analyst_noise_high"].mean("world"),
            "bias_mean": ds["analyst_bias_mean"].mean("world"),
            "noise_coverage": coverage,
        },
        coords={
            "forecaster": forecasters,
            "score": list(_SCORES),
            "versus": others,
            "bound": ["estimate", "low", "high"],
            "analyst": ds["analyst"].values,
        },
        attrs={
            "reference": reference,
            "best_single": best,
            "n_worlds": int(ds.sizes["world"]),
            "ci": ci,
            "prob": float(ds.attrs.get("prob", np.nan)),
            "pooled_has_analysts": int(bool(ds["pooled_has_analysts"].all())),
            "seconds": float(ds["seconds"].sum()),
        },
    )
