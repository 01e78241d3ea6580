"""Exact mode as plain arrays: the scenario chain's filtered and smoothed probabilities.

:func:`exact_posterior` is the array core of ``forecast(model, evidence, exact=True)``:
the same engine run (the model file's point values, the compiled forward-backward),
returned as NumPy arrays without the :class:`~syriaforecast.Forecast` around them
(no xarray objects, draws, diagnostics or provenance). Use it where only the
numbers are needed, in a loop over many as-of dates or evidence variants, or to
compare with another HMM library; use :func:`~syriaforecast.forecast` for a
result to report, save and reload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from syriaforecast.engine.run import SamplerSettings, run_engine
from syriaforecast.spec.evidence import Evidence
from syriaforecast.spec.inputs import information_date, resolve_inputs
from syriaforecast.spec.model import ScenarioModel

__all__ = ["ExactPosterior", "exact_posterior"]


@dataclass(frozen=True, eq=False)
class ExactPosterior:
    """Exact filtered and smoothed scenario probabilities, as arrays.

    Attributes
    ----------
    filtered : ndarray (T, S)
        ``P(scenario in period t | reports about periods up to t)``, for the ``T``
        periods from the model's first through the as-of date's.
    smoothed : ndarray (T, S)
        ``P(scenario in period t | every report known at as_of)``.
    horizon : ndarray (S,)
        ``P(scenario at the horizon | every report known at as_of)``.
    log_likelihood : float
        ``log P(reports | model)``, the evidence's log marginal likelihood.
    periods : tuple of str
        The labels of the ``T`` periods (``"2025-01"``, ``"2025-Q1"``, ``"2025-W03"``).
    scenarios : tuple of str
        The scenario ids, in the order of the last axis.
    as_of : datetime.date
        The information date.

    Notes
    -----
    The values are those of ``forecast(model, evidence, as_of, exact=True)``
    (``filtered.values[0, 0]``, ``smoothed.values[0, 0]`` and
    ``horizon.values[0, 0]``), bit for bit. The labelled views
    (:attr:`filtered_frame`, :attr:`smoothed_frame`, :attr:`horizon_series`)
    are built on first access and kept.
    """

    filtered: np.ndarray
    smoothed: np.ndarray
    horizon: np.ndarray
    log_likelihood: float
    periods: tuple[str, ...]
    scenarios: tuple[str, ...]
    as_of: dt.date

    def __repr__(self) -> str:
        parts = ", ".join(f"{s}={p:.2f}" for s, p in zip(self.scenarios, self.horizon, strict=True))
        return (
            f"ExactPosterior(as of {self.as_of.isoformat()}, {len(self.periods)} periods, horizon: {parts})"
        )

    @cached_property
    def filtered_frame(self) -> pd.DataFrame:
        """``filtered`` as a DataFrame: one row per period, one column per scenario."""
        return self._frame(self.filtered)

    @cached_property
    def smoothed_frame(self) -> pd.DataFrame:
        """``smoothed`` as a DataFrame: one row per period, one column per scenario."""
        return self._frame(self.smoothed)

    @cached_property
    def horizon_series(self) -> pd.Series:
        """``horizon`` as a Series indexed by scenario."""
        return pd.Series(self.horizon, index=pd.Index(self.scenarios, name="scenario"), name="horizon")

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            values,
            index=pd.Index(self.periods, name="period"),
            columns=pd.Index(self.scenarios, name="scenario"),
        )


def exact_posterior(
    model: ScenarioModel | str | Path,
    evidence: Evidence | str | Path | pd.DataFrame | None = None,
    as_of: dt.date | str | None = None,
) -> ExactPosterior:
    """Exact scenario probabilities as arrays: the numbers of ``forecast(..., exact=True)``.

    The model file is taken as exact (its elicitations are point values; no
    sampling): the scenarios are the hidden states of a Markov chain whose
    filtered and smoothed probabilities are computed by the engine's compiled
    forward-backward.

    Parameters
    ----------
    model : ScenarioModel or path
        The scenario model (a path is loaded with :func:`~syriaforecast.load_model`).
    evidence : Evidence, path, DataFrame or None
        Coded reports; ``None`` gives the priors propagated through the chain.
    as_of : date or str, optional
        Information date: only reports published on or before it are used.
        Defaults to the latest publication date (the model's start without reports).

    Returns
    -------
    ExactPosterior

    Raises
    ------
    SyriaforecastError
        A model or evidence that does not validate, evidence validated against
        another model, or an as-of date before the model's first period.

    See Also
    --------
    syriaforecast.forecast : the same with ``exact=True``, as a :class:`~syriaforecast.Forecast`.

    Examples
    --------
    >>> import syriaforecast as sf
    >>> model = sf.load_model(sf.bundled_model())
    >>> post = sf.exact_posterior(model, sf.bundled_evidence())
    >>> post.smoothed.shape == (len(post.periods), len(model.scenarios))
    True
    """
    model, evidence = resolve_inputs(model, evidence)
    as_of_date = information_date(model, evidence, as_of)
    run = run_engine(model, evidence.up_to(as_of_date), as_of_date, exact=True, settings=SamplerSettings())
    n = run.n_asof
    filtered, smoothed = run.chain.filtered[0, :n], run.chain.smoothed[0, :n]
    horizon = run.chain.filtered[0, run.horizon_index]
    for values in (filtered, smoothed, horizon):
        values.flags.writeable = False  # the result and its cached views stay consistent
    return ExactPosterior(
        filtered=filtered,
        smoothed=smoothed,
        horizon=horizon,
        log_likelihood=float(run.chain.log_likelihood[0]),
        periods=tuple(model.period_labels(n)),
        scenarios=tuple(model.scenario_ids),
        as_of=as_of_date,
    )
