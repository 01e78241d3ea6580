"""Synthetic worlds: simulated evidence from known true likelihoods, for calibration studies.

A synthetic world starts from a base model (what the analysts elicited) and
makes up the truth the analysts only approximated:

1. **True likelihoods.** Each elicitation is off on the logit scale by
   ``elicitation_noise * z[i, s]`` with ``z ~ Normal(0, 1)`` per (indicator,
   scenario): ``logit P(seen | s) = logit(elicited) + noise * z`` for binary
   indicators; ordinal cutpoints ``logit P(x <= l | s)`` move by ``-noise * z``
   (the whole distribution shifts up the levels, as in the engine) and count
   log rates by ``+noise * z``. The model with these likelihoods written as
   numbers is the *oracle* model.
2. **Scenario path.** The first period's scenario is drawn from the model's
   prior; each later period stays with probability ``persistence`` and
   otherwise moves to one of the other scenarios evenly (the engine's chain).
3. **Reports.** In each observed period each indicator is reported with
   probability ``report_rate``. The indicator's true state is drawn from the
   true likelihoods given the period's scenario; a report graded ``"B2"`` reads
   it with probability ``kappa = RELIABILITY_PRIOR_MEAN["B"] *
   CREDIBILITY_PRIOR_MEAN["2"]`` and is otherwise noise (uniform over the
   levels, geometric over counts), exactly the engine's observation model; an
   ungraded report (``""``) reads the truth. Dates fall inside the period.

Everything the engine assumes is therefore true in a synthetic world except
that the elicitations are off, which is the error the hierarchical model is
meant to absorb. :func:`simulate_evidence` is the generator behind
:func:`simulate_world` with every parameter explicit; simulation-based
calibration uses it with parameters drawn from the engine's priors.

Several analysts
----------------
With ``analysts`` (more than one, or a mapping of analyst ids) the base
model's elicitation is the *common target* ``c`` that every analyst aims at,
the truth is ``c + elicitation_noise * z`` as above, and analyst ``a`` writes

    d[a, i, s] = c[i, s] + bias_a + noise_a * eps[a, i, s],   eps ~ Normal(0, 1)

on the same scale (binary: ``expit(d)``; ordinal: cutpoints moved by
``-(bias_a + noise_a * eps)``; count: log rate moved by ``+(...)``), kept inside
the model file's limits like the oracle. This is the engine's multi-analyst
model: analysts share the error of the common target (``z``) and add their
own. The world's ``model`` is then the base with these elicitations
(:func:`with_analysts`: ``likelihood`` holds their consensus), while the
oracle, path and reports are those of the single-analyst world with the same
seed: the analysts' errors come from a fourth, separate random stream.
:func:`with_analysts`, :func:`consensus_model` and :func:`analyst_model` (from
:mod:`syriaforecast.spec.analysts`, re-exported here) build multi-analyst models
and their single-table views by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from syriaforecast._maths import expit_array
from syriaforecast.engine.data import (
    CREDIBILITY_PRIOR_MEAN,
    RELIABILITY_PRIOR_MEAN,
    build_model_arrays,
)
from syriaforecast.errors import SyriaforecastError
from syriaforecast.spec.analysts import analyst_model, consensus_model, with_analysts
from syriaforecast.spec.evidence import CREDIBILITY_GRADES, RELIABILITY_GRADES, Evidence, load_evidence
from syriaforecast.spec.model import ScenarioModel, parse_model

__all__ = [
    "DEFAULT_LEAD",
    "SyntheticWorld",
    "analyst_model",
    "consensus_model",
    "grade_kappa",
    "oracle_model",
    "simulate_evidence",
    "simulate_path",
    "simulate_world",
    "simulate_worlds",
    "with_analysts",
]

#: Periods before the horizon left without evidence by default, so the horizon is a forecast.
DEFAULT_LEAD = 3
# The model file refuses likelihoods closer to 0 or 1 than this (spec.model._PROB_FLOOR).
_FLOOR = 1e-6
_MAX_RATE = 1e4
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class SyntheticWorld:
    """One simulated world.

    Attributes
    ----------
    model : ScenarioModel
        What the analysts wrote: the elicited likelihoods (the base model; with
        several analysts, the base with their simulated ``elicitations`` and
        their consensus as ``likelihood``).
    oracle : ScenarioModel
        The same model with the true likelihoods written as numbers (same ids and
        structure, so a compiled sampler serves both).
    evidence : Evidence
        The simulated reports, validated against ``model``.
    path : ndarray of int, shape (T,)
        True scenario index in each period from the first to the horizon's.
    outcome : str
        Id of the scenario at the horizon (``path[-1]``).
    seed : int
        Seed that reproduces this world with :func:`simulate_world`.
    parameters : dict of str to ndarray
        The true parameters in the engine's names and shapes (no draw axis), for
        :func:`syriaforecast.engine.evaluate.chain_terms_for_draws` with ``model``
        (add a leading axis of length one). With several analysts also
        ``analyst_bias`` and ``analyst_noise`` (analyst,) and ``analyst_eta``
        (analyst, indicator, scenario), the standard-normal errors ``eps``;
        ``elicitation_eta`` then measures the truth from the common target
        (the base model), not from the consensus.
    """

    model: ScenarioModel
    oracle: ScenarioModel
    evidence: Evidence
    path: np.ndarray
    outcome: str
    seed: int
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def outcome_index(self) -> int:
        """Index of the horizon scenario in the model's scenario order."""
        return int(self.path[-1])


# --------------------------------------------------------------------------- pieces
def grade_kappa(
    grade: str,
    reliability: Sequence[float] | np.ndarray | None = None,
    credibility: Sequence[float] | np.ndarray | None = None,
) -> tuple[str, str, float]:
    """Split an Admiralty grade and give its informativeness ``kappa``.

    Parameters
    ----------
    grade : str
        ``"B2"``, a letter or digit alone (the other part blank), or ``""`` (ungraded).
    reliability, credibility : array of 6 floats, optional
        Informativeness factors for A..F and 1..6; default the engine's prior means.

    Returns
    -------
    (letter, digit, kappa)
        ``kappa`` is the product of the two factors; a blank part contributes 1.
    """
    rel = np.asarray(
        list(RELIABILITY_PRIOR_MEAN.values()) if reliability is None else reliability, dtype=float
    )
    cred = np.asarray(
        list(CREDIBILITY_PRIOR_MEAN.values()) if credibility is None else credibility, dtype=float
    )
    text = str(grade).strip().upper()
    letter = text[:1] if text[:1] and text[:1] in RELIABILITY_GRADES else ""
    digit = text[len(letter) :]
    if digit and (len(digit) != 1 or digit not in CREDIBILITY_GRADES):
        raise SyriaforecastError(
            f"grades: got {grade!r}; expected a reliability letter A-F and/or a credibility "
            "digit 1-6 (e.g. 'B2', 'C', '3') or '' for an ungraded report"
        )
    kappa = 1.0
    if letter:
        kappa *= float(rel[RELIABILITY_GRADES.index(letter)])
    if digit:
        kappa *= float(cred[CREDIBILITY_GRADES.index(digit)])
    return letter, digit, kappa


def oracle_model(base: ScenarioModel, shift: np.ndarray) -> ScenarioModel:
    """The base model with every elicitation moved by ``shift`` and written as numbers.

    Parameters
    ----------
    base : ScenarioModel
        The elicited model.
    shift : ndarray, shape (I, S)
        Logit-scale (binary, ordinal) or log-rate (count) distance of the truth
        from the elicitation, in the model's indicator and scenario order.

    Returns
    -------
    ScenarioModel
        Same ids, groups, levels and chain settings as ``base``. Probabilities are
        kept inside the model file's limits (``[1e-6, 1 - 1e-6]``; ordinal levels
        at least 1e-6, renormalised; counts in ``[1e-6, 1e4]``).
    """
    shift = np.asarray(shift, dtype=float)
    S, I = len(base.scenarios), len(base.indicators)
    if shift.shape != (I, S):
        raise SyriaforecastError(
            f"shift: has shape {shift.shape}; expected (indicators, scenarios) = ({I}, {S})"
        )
    data = base.to_dict()
    for i, ind in enumerate(base.indicators):
        likelihood: dict[str, Any] = {}
        for s, sid in enumerate(base.scenario_ids):
            if ind.type == "binary":
                mean, _ = ind.logit_prior(sid)
                p = float(expit_array(mean + shift[i, s]))
                likelihood[sid] = min(max(p, _FLOOR), 1.0 - _FLOOR)
            elif ind.type == "ordinal":
                probs = np.asarray(ind.likelihood[sid], dtype=float)
                cumulative = np.clip(np.cumsum(probs)[:-1], 1e-300, 1.0 - 1e-16)
                logits = np.log(cumulative) - np.log1p(-cumulative)
                moved = np.diff(np.concatenate([[0.0], expit_array(logits - shift[i, s]), [1.0]]))
                moved = np.maximum(moved, _FLOOR)
                moved = moved / moved.sum()
                likelihood[sid] = [float(v) for v in moved]
            else:
                rate = float(ind.likelihood[sid]) * math.exp(shift[i, s])  # type: ignore[arg-type]
                likelihood[sid] = min(max(rate, _FLOOR), _MAX_RATE)
        data["indicators"][i]["likelihood"] = likelihood
    return parse_model(data, source=f"<oracle of {base.id}>")


# --------------------------------------------------------------------------- several analysts
def _analyst_spec(
    analysts: int | Mapping[str, float | tuple[float, float]], default_noise: float
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray] | None:
    """Analyst ids, true biases and noises; ``None`` for the single elicitation (``analysts=1``)."""
    if isinstance(analysts, bool):
        raise SyriaforecastError(f"analysts: got {analysts!r}; expected a whole number >= 1 or a mapping")
    if isinstance(analysts, int | np.integer):
        if analysts < 1:
            raise SyriaforecastError(f"analysts: got {analysts!r}; expected a whole number >= 1 or a mapping")
        if analysts == 1:
            return None
        if not (math.isfinite(default_noise) and default_noise >= 0):
            raise SyriaforecastError(f"analyst_noise: got {default_noise!r}; expected a finite number >= 0")
        n = int(analysts)
        return tuple(f"a{k + 1}" for k in range(n)), np.zeros(n), np.full(n, float(default_noise))
    if not isinstance(analysts, Mapping) or not analysts:
        raise SyriaforecastError(
            f"analysts: got {analysts!r}; expected a whole number >= 1 or a non-empty mapping "
            "of analyst id to noise sd or to (bias, noise)"
        )
    ids, biases, noises = [], [], []
    for ident, value in analysts.items():
        if not (isinstance(ident, str) and _ID.match(ident)):
            raise SyriaforecastError(
                f"analysts: id {ident!r}; expected a letter followed by up to 63 letters, digits, '_' or '-'"
            )
        if isinstance(value, tuple | list) and len(value) == 2:
            bias, noise = value
        else:
            bias, noise = 0.0, value
        try:
            bias, noise = float(bias), float(noise)
        except (TypeError, ValueError):
            bias, noise = math.nan, math.nan
        if isinstance(value, bool) or not (math.isfinite(bias) and math.isfinite(noise) and noise >= 0):
            raise SyriaforecastError(
                f"analysts[{ident!r}]: got {value!r}; expected a noise sd >= 0 or a pair "
                "(bias, noise sd) of finite numbers (logit scale)"
            )
        ids.append(ident)
        biases.append(bias)
        noises.append(noise)
    return tuple(ids), np.array(biases), np.array(noises)


def simulate_path(
    initial: np.ndarray, persistence: np.ndarray, n_periods: int, rng: np.random.Generator
) -> np.ndarray:
    """A scenario path from the engine's chain.

    Parameters
    ----------
    initial : ndarray (S,)
        First-period scenario probabilities.
    persistence : ndarray (S,)
        Probability of staying in each scenario; the rest of a row is spread evenly.
    n_periods : int
        Length of the path.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of int, shape (n_periods,)
    """
    initial = np.asarray(initial, dtype=float)
    persistence = np.broadcast_to(np.asarray(persistence, dtype=float), initial.shape)
    S = initial.shape[0]
    path = np.empty(n_periods, dtype=np.int64)
    path[0] = rng.choice(S, p=initial / initial.sum())
    for t in range(1, n_periods):
        here = path[t - 1]
        if S == 1 or rng.random() < persistence[here]:
            path[t] = here
        else:
            others = [s for s in range(S) if s != here]
            path[t] = others[rng.integers(len(others))]
    return path


def _period_bounds(model: ScenarioModel, t: int) -> tuple[dt.date, int]:
    period = model.first_period + t
    start = period.start_time.date()
    days = (period.end_time.date() - start).days + 1
    return start, days


def simulate_evidence(
    truth: ScenarioModel,
    path: np.ndarray,
    rng: np.random.Generator,
    *,
    report_rate: float = 0.6,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    n_observed_periods: int,
    reliability: Sequence[float] | np.ndarray | None = None,
    credibility: Sequence[float] | np.ndarray | None = None,
    validate_against: ScenarioModel | None = None,
) -> Evidence:
    """Reports of each indicator along a scenario path, read through the Admiralty noise model.

    Parameters
    ----------
    truth : ScenarioModel
        The model whose likelihoods are true (e.g. :func:`oracle_model`).
    path : ndarray of int (T,)
        True scenario index per period.
    rng : numpy.random.Generator
        Source of randomness.
    report_rate : float
        Probability that an indicator is reported in a period (otherwise a gap).
    grades : sequence of str
        Grades drawn uniformly for each report (``""`` = ungraded, read exactly).
    n_observed_periods : int
        Reports are made in periods ``0 .. n_observed_periods - 1``.
    reliability, credibility : array of 6 floats, optional
        True informativeness factors by grade (default the engine's prior means).
    validate_against : ScenarioModel, optional
        Model the evidence is validated against (default ``truth``). It also sets
        the spread of noisy count readings (geometric with mean ``2 * max rate + 1``
        of *its* elicited rates), because that is what the engine assumes when it
        fits this model: the noise model does not move with the elicitation error.

    Returns
    -------
    Evidence
    """
    arrays = build_model_arrays(truth)
    # Noise over counts follows the elicited model when given: it is what the engine assumes.
    noise_mean = build_model_arrays(validate_against).noise_count_mean if validate_against else None
    if noise_mean is None:
        noise_mean = arrays.noise_count_mean
    parsed = [grade_kappa(g, reliability, credibility) for g in grades]
    cumulative = expit_array(arrays.cutpoints)  # padded +inf -> 1
    level_prob = np.diff(
        np.concatenate(
            [np.zeros((*cumulative.shape[:2], 1)), cumulative, np.ones((*cumulative.shape[:2], 1))],
            axis=2,
        ),
        axis=2,
    )
    rates = np.exp(arrays.log_rate)
    rows = []
    for t in range(n_observed_periods):
        start, days = _period_bounds(truth, t)
        s = int(path[t])
        for i, ind in enumerate(truth.indicators):
            if rng.random() >= report_rate:
                continue
            if arrays.is_count[i]:
                state = int(rng.poisson(rates[i, s]))
            else:
                probs = level_prob[i, s, : arrays.n_levels[i]]
                state = int(rng.choice(arrays.n_levels[i], p=probs / probs.sum()))
            letter, digit, kappa = parsed[int(rng.integers(len(parsed)))]
            reading = state
            if rng.random() >= kappa:
                if arrays.is_count[i]:
                    theta = noise_mean[i] / (noise_mean[i] + 1.0)
                    reading = int(rng.geometric(1.0 - theta)) - 1
                else:
                    reading = int(rng.integers(arrays.n_levels[i]))
            value = ind.levels[reading] if ind.type == "ordinal" else str(reading)
            day = start + dt.timedelta(days=int(rng.integers(days)))
            rows.append(
                {
                    "date": day.isoformat(),
                    "indicator": ind.id,
                    "value": value,
                    "reliability": letter,
                    "credibility": digit,
                    "source": "synthetic",
                }
            )
    columns = ["date", "indicator", "value", "reliability", "credibility", "source"]
    frame = pd.DataFrame(rows, columns=columns).astype(str)
    frame = frame.sort_values("date", kind="stable", ignore_index=True)
    return load_evidence(frame, validate_against if validate_against is not None else truth)


# --------------------------------------------------------------------------- worlds
def _check_options(
    base: ScenarioModel,
    elicitation_noise: float,
    report_rate: float,
    grades: Sequence[str],
    n_observed_periods: int | None,
) -> int:
    if not isinstance(base, ScenarioModel):
        raise SyriaforecastError(f"base: got {type(base).__name__}; expected a ScenarioModel")
    if not (math.isfinite(elicitation_noise) and elicitation_noise >= 0):
        raise SyriaforecastError(
            f"elicitation_noise: got {elicitation_noise!r}; expected a finite number >= 0"
        )
    if not (0.0 <= report_rate <= 1.0):
        raise SyriaforecastError(f"report_rate: got {report_rate!r}; expected a probability in [0, 1]")
    if isinstance(grades, str) or len(grades) == 0:
        raise SyriaforecastError(
            f"grades: got {grades!r}; expected a non-empty sequence of grades such as ('A1', '')"
        )
    for grade in grades:
        grade_kappa(grade)
    T = base.horizon_index + 1
    if n_observed_periods is None:
        return max(1, T - DEFAULT_LEAD)
    if isinstance(n_observed_periods, bool) or not (
        isinstance(n_observed_periods, int | np.integer) and 0 <= n_observed_periods <= T
    ):
        raise SyriaforecastError(
            f"n_observed_periods: got {n_observed_periods!r}; expected a whole number from 0 to "
            f"the {T} periods from the model's start to its horizon"
        )
    return int(n_observed_periods)


def simulate_world(
    base: ScenarioModel,
    *,
    seed: int,
    elicitation_noise: float = 1.0,
    report_rate: float = 0.6,
    grades: Sequence[str] = ("A1", "B2", "C3", ""),
    n_observed_periods: int | None = None,
    analysts: int | Mapping[str, float | tuple[float, float]] = 1,
    analyst_noise: float | None = None,
) -> SyntheticWorld:
    """Simulate one world whose true likelihoods sit off the elicited ones.

    Parameters
    ----------
    base : ScenarioModel
        The elicited model; its prior and ``persistence`` drive the scenario path.
    seed : int
        Seed; the same seed and options give the same world. The elicitation
        error, the path and the reports use separate streams, so worlds with
        the same seed and a different ``elicitation_noise`` or ``report_rate``
        share their standard-normal errors and scenario path.
    elicitation_noise : float
        Standard deviation of the logit-scale elicitation error (0 = elicitations exact).
    report_rate : float
        Probability that an indicator is reported in an observed period.
    grades : sequence of str
        Admiralty grades drawn uniformly per report; ``""`` is ungraded (read exactly).
    n_observed_periods : int, optional
        Periods with reports, from the first; default all but the last
        :data:`DEFAULT_LEAD` periods before the horizon (at least one).
    analysts : int or mapping
        Analysts eliciting independently (see the module docstring). ``1``
        (default): the base model is the one elicitation, as without analysts.
        A whole number ``n >= 2``: analysts ``"a1" .. "an"`` without bias and
        with noise sd ``analyst_noise``. A mapping: analyst id -> noise sd, or
        -> ``(bias, noise sd)``, on the logit (log-rate) scale; a mapping with
        one analyst simulates that analyst.
    analyst_noise : float, optional
        Noise sd of each analyst when ``analysts`` is a number (default the
        base model's ``analyst_noise``, the scale of the engine's prior).

    Returns
    -------
    SyntheticWorld
    """
    n_obs = _check_options(base, elicitation_noise, report_rate, grades, n_observed_periods)
    spec = _analyst_spec(analysts, base.analyst_noise if analyst_noise is None else float(analyst_noise))
    # Streams 0-2 are those of the single-analyst world; the analysts' errors use a fourth.
    children = np.random.SeedSequence(int(seed)).spawn(4)
    streams = [np.random.default_rng(s) for s in children[:3]]
    rng_error, rng_path, rng_reports = streams
    S, I = len(base.scenarios), len(base.indicators)
    z = rng_error.standard_normal((I, S))
    shift = elicitation_noise * z
    oracle = oracle_model(base, shift)
    T = base.horizon_index + 1
    prior = np.asarray(base.prior, dtype=float)
    persistence = np.full(S, base.persistence)
    path = simulate_path(prior, persistence, T, rng_path)
    evidence = simulate_evidence(
        oracle,
        path,
        rng_reports,
        report_rate=report_rate,
        grades=grades,
        n_observed_periods=n_obs,
        validate_against=base,
    )
    arrays = build_model_arrays(base)
    # The engine's shift is sqrt(sigma^2 + band_sd^2) * eta: express the true shift that way.
    scale = np.sqrt(elicitation_noise**2 + arrays.band_sd**2)
    eta = np.divide(shift, scale, out=np.zeros_like(shift), where=scale > 0)
    parameters = {
        "initial_probability": prior,
        "persistence": persistence,
        "elicitation_sigma": np.full(arrays.n_groups, float(elicitation_noise)),
        "elicitation_eta": eta,
        "source_reliability": np.array(list(RELIABILITY_PRIOR_MEAN.values())),
        "information_credibility": np.array(list(CREDIBILITY_PRIOR_MEAN.values())),
    }
    model = base
    if spec is not None:
        ids, bias, noise = spec
        eps = np.random.default_rng(children[3]).standard_normal((len(ids), I, S))
        tables: dict[str, dict[str, Mapping[str, Any]]] = {ind.id: {} for ind in base.indicators}
        for a, analyst in enumerate(ids):
            # The analyst's table is the base moved by bias + noise * eps, written like the oracle.
            written = oracle_model(base, bias[a] + noise[a] * eps[a])
            for ind in written.indicators:
                tables[ind.id][analyst] = ind.likelihood
        model = with_analysts(base, tables)
        parameters |= {"analyst_bias": bias, "analyst_noise": noise, "analyst_eta": eps}
    return SyntheticWorld(
        model=model,
        oracle=oracle,
        evidence=evidence,
        path=path,
        outcome=base.scenario_ids[int(path[-1])],
        seed=int(seed),
        parameters=parameters,
    )


def simulate_worlds(base: ScenarioModel, n: int, *, seed: int, **kwargs: Any) -> list[SyntheticWorld]:
    """Simulate ``n`` independent worlds from one seed.

    Parameters
    ----------
    base : ScenarioModel
        The elicited model.
    n : int
        Number of worlds.
    seed : int
        Master seed; world ``k`` gets its own seed (``worlds[k].seed``) derived from it.
    **kwargs
        Options of :func:`simulate_world`.

    Returns
    -------
    list of SyntheticWorld
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise SyriaforecastError(f"n: got {n!r}; expected a whole number of worlds >= 0")
    seeds = np.random.SeedSequence(int(seed)).generate_state(int(n), dtype=np.uint32)
    return [simulate_world(base, seed=int(s), **kwargs) for s in seeds]
