"""NUTS through nutpie on the compiled posterior density (:mod:`syriaforecast.engine.density`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from syriaforecast.engine.clusters import closeness_prior
from syriaforecast.engine.data import (
    ANALYST_FIELDS,
    CREDIBILITY_PRIOR_MEAN,
    GRADE_CONCENTRATION,
    RELIABILITY_PRIOR_MEAN,
    SOURCE_SPREAD_SCALE,
    SOURCE_TAIL_DOF,
    EngineData,
    ModelArrays,
)
from syriaforecast.engine.density import (
    Layout,
    log_density_and_gradient,
)
from syriaforecast.engine.kernel import (
    source_offsets_batch,
    transition_block_sizes,
    unpack_batch,
    unpack_transitions_batch,
)
from syriaforecast.engine.names import (
    ANALYST_PARAMETER_NAMES,
    CLUSTER_PARAMETER_NAMES,
    EVIDENCE_FIELDS,
    GRADE_COORDS,
    PARAMETER_DIMS,
    PARAMETER_NAMES,
    SOURCE_PARAMETER_NAMES,
)
from syriaforecast.engine.parameters import samples_persistence
from syriaforecast.engine.whitening import Whitening

__all__ = [
    "ChainStarts",
    "analyst_arguments",
    "build_fast_sampler_model",
    "build_sampler_model",
    "evidence_periods",
    "layout_for",
    "pack_draws",
    "source_arguments",
    "transition_arguments",
]


def layout_for(arrays: ModelArrays, data: EngineData | None = None) -> Layout:
    """The unconstrained layout of a model's parameters (with ``data``, its clusters and sources too)."""
    rows, effects = transition_block_sizes(*_transition_static(arrays))
    return Layout(
        arrays.n_scenarios,
        arrays.n_groups,
        arrays.n_indicators,
        samples_persistence(arrays),
        arrays.n_analysts,
        int(rows),
        int(effects),
        0 if data is None else int(data.cluster_closeness.shape[0]),
        n_sources=len(data.source_names) if data is not None else 0,
    )


def source_arguments(data: EngineData, layout: Layout) -> tuple[Any, ...]:
    """The sources' part of the density's arguments (trailing, after the clusters')."""
    report_source = data.report_source if layout.n_sources else np.full(data.report_cell.shape[0], -1)
    return (
        np.ascontiguousarray(report_source, dtype=np.int64),
        int(layout.n_sources),
        SOURCE_SPREAD_SCALE,
        SOURCE_TAIL_DOF,
    )


def _transition_static(arrays: ModelArrays) -> tuple[Any, ...]:
    """``row_elicited``, ``row_support``, ``effect_given`` and ``effect_scale`` of the density."""
    S = arrays.n_scenarios
    elicited = arrays.row_elicited if arrays.row_elicited.shape[0] == S else np.zeros(S, dtype=bool)
    base = arrays.transition_base if arrays.transition_base.shape == (S, S) else np.eye(S)
    support = np.ascontiguousarray((base > 0) & elicited[:, None])
    given = arrays.effect_given if arrays.effect_given.shape[1:] == (S,) else np.zeros((0, S), dtype=bool)
    return elicited, support, np.ascontiguousarray(given), float(arrays.driver_uncertainty)


def evidence_periods(data: EngineData) -> int:
    """Periods the density's chain needs: the first through the last with a report (at least 1).

    Past the last reported period nothing is observed, so summing the scenario path over
    the later periods gives exactly 1 (each row of every move sums to 1): the evidence's
    likelihood, and its gradient, are those of the chain cut there. The forecast's
    horizon is computed from the draws over every period (:mod:`~syriaforecast.engine.evaluate`);
    only the sampler's density is cut, which spares it the forward-backward passes and
    transition gradients of the periods between the as-of date and the horizon (on the
    bundled model 15 of 37 periods: one evaluation 4.4% cheaper, 53.3 against 55.8 us).
    """
    last = int(data.cell_period.max()) + 1 if data.cell_period.size else 1
    return max(1, min(int(data.n_periods), last))


def transition_arguments(
    arrays: ModelArrays, data: EngineData, n_periods: int | None = None
) -> tuple[Any, ...]:
    """The transition part of the density's arguments (trailing, after the analysts').

    ``driver_on`` has the data's periods, or its first ``n_periods`` when given (the
    density's own, :func:`evidence_periods`).
    """
    S = arrays.n_scenarios
    elicited, support, given, scale = _transition_static(arrays)
    base = arrays.transition_base if arrays.transition_base.shape == (S, S) else np.eye(S)
    centre = arrays.log_effect if arrays.log_effect.shape[1:] == (S,) else np.zeros((0, S))
    driver_on = data.driver_on
    if driver_on.shape != (data.n_periods, centre.shape[0]):
        driver_on = np.zeros((data.n_periods, centre.shape[0]))
    if n_periods is not None:
        driver_on = driver_on[:n_periods]
    return (
        elicited,
        support,
        np.ascontiguousarray(arrays.transition_concentration * base),
        np.ascontiguousarray(base, dtype=float),
        np.ascontiguousarray(centre, dtype=float),
        given,
        scale,
        np.ascontiguousarray(driver_on, dtype=float),
    )


def _density_arguments(arrays: ModelArrays, data: EngineData, layout: Layout) -> tuple[Any, ...]:
    rel = np.array(list(RELIABILITY_PRIOR_MEAN.values()))
    cred = np.array(list(CREDIBILITY_PRIOR_MEAN.values()))
    centre = math.log(arrays.persistence) - math.log1p(-arrays.persistence) if arrays.persistence < 1 else 0.0
    periods = evidence_periods(data)
    return (
        layout.n_scenarios,
        layout.n_groups,
        layout.n_indicators,
        layout.sample_persistence,
        np.full(arrays.n_scenarios, arrays.persistence),
        centre,
        float(arrays.persistence_uncertainty),
        arrays.prior_concentration * arrays.prior,
        float(arrays.elicitation_error),
        arrays.group_of,
        arrays.band_sd,
        rel * GRADE_CONCENTRATION,
        (1 - rel) * GRADE_CONCENTRATION,
        cred * GRADE_CONCENTRATION,
        (1 - cred) * GRADE_CONCENTRATION,
        arrays.cutpoints,
        arrays.log_rate,
        arrays.is_count,
        periods,
        *(np.ascontiguousarray(getattr(data, name)) for name in EVIDENCE_FIELDS),
        *analyst_arguments(arrays),
        *transition_arguments(arrays, data, periods),
        *closeness_prior(data.cluster_closeness),
        *source_arguments(data, layout),
    )


def analyst_arguments(arrays: ModelArrays) -> tuple[Any, ...]:
    """The analysts' part of the density's arguments (trailing, after the evidence)."""
    return (
        int(arrays.n_analysts),
        float(max(arrays.analyst_bias_scale, 1e-9)),
        float(max(arrays.analyst_noise_scale, 1e-9)),
        *(np.ascontiguousarray(getattr(arrays, name)) for name in ANALYST_FIELDS),
    )


def pack_draws(
    arrays: ModelArrays, params: dict[str, np.ndarray], source_names: tuple[str, ...] = ()
) -> np.ndarray:
    """Unconstrained vectors of constrained parameter draws: the inverse of ``unpack``.

    Parameters
    ----------
    arrays : ModelArrays
        The model's arrays (persistence prior, sizes).
    params : dict of name to ndarray
        Draws with a leading axis ``D``, named as in
        :data:`~syriaforecast.engine.evaluate.PARAMETER_NAMES` (plus the analysts'
        parameters for a model elicited by several analysts, and ``source_offset``,
        ``source_spread`` and the names under ``"source"`` for evidence with sources).
    source_names : tuple of str
        The sources of the evidence the chains will sample (the layout's source
        block): a source the draws know starts at its ``z = offset / spread``,
        a new one at ``z = 0``, and the spread at the draws' (1 without them).

    Returns
    -------
    ndarray (D, ndim)
        Each draw's position in the sampler's coordinates, e.g. to start chains
        from a previous posterior.
    """
    Q = np.shape(params["cluster_closeness"])[-1] if "cluster_closeness" in params else 0
    layout = dataclasses.replace(layout_for(arrays), n_clusters=Q, n_sources=len(source_names))
    S = layout.n_scenarios
    initial = np.asarray(params["initial_probability"], dtype=float)
    D = initial.shape[0]
    blocks = []
    if S > 1:
        log_pi = np.log(np.clip(initial, 1e-300, None))
        blocks.append(log_pi[:, : S - 1] - log_pi[:, S - 1 : S])
    if layout.sample_persistence:
        p = np.clip(np.asarray(params["persistence"], dtype=float), 1e-12, 1 - 1e-12)
        centre = math.log(arrays.persistence) - math.log1p(-arrays.persistence)
        blocks.append((np.log(p) - np.log1p(-p) - centre) / float(arrays.persistence_uncertainty))
    blocks.append(np.log(np.asarray(params["elicitation_sigma"], dtype=float)).reshape(D, -1))
    blocks.append(np.asarray(params["elicitation_eta"], dtype=float).reshape(D, -1))
    for name in ("source_reliability", "information_credibility"):
        kappa = np.clip(np.asarray(params[name], dtype=float), 1e-12, 1 - 1e-12)
        blocks.append(np.log(kappa) - np.log1p(-kappa))
    if source_names:
        blocks.append(_pack_sources(params, source_names, D))
    if layout.n_row_coordinates or layout.n_effect_coordinates:
        blocks.append(_pack_transitions(arrays, params, D))
    if layout.n_analysts:
        blocks.append(np.asarray(params["analyst_bias"], dtype=float).reshape(D, -1))
        blocks.append(np.log(np.asarray(params["analyst_noise"], dtype=float)).reshape(D, -1))
    if Q:
        rho = np.clip(np.asarray(params["cluster_closeness"], dtype=float), 1e-12, 1 - 1e-12).reshape(D, -1)
        blocks.append(np.log(rho) - np.log1p(-rho))
    out = np.concatenate(blocks, axis=1)
    if out.shape[1] != layout.ndim:
        raise ValueError(f"pack_draws: {out.shape[1]} coordinates; the model has {layout.ndim}")
    return out


def _pack_transitions(arrays: ModelArrays, params: dict[str, np.ndarray], D: int) -> np.ndarray:
    """The inverse of :func:`~syriaforecast.engine.kernel.unpack_transitions` for D draws.

    Elicited rows: log-ratios of each row's nonzero entries to its last one; listed
    driver effects: their logs. Draws without these parameters start at the file's values.
    """
    elicited, support, given, scale = _transition_static(arrays)
    S = arrays.n_scenarios
    base = arrays.transition_base if arrays.transition_base.shape == (S, S) else np.eye(S)
    rows = np.asarray(params.get("transition", np.broadcast_to(base, (D, S, S))), dtype=float)
    columns = []
    for i in range(S):
        nonzero = np.flatnonzero(support[i]) if elicited[i] else np.zeros(0, dtype=int)
        if nonzero.size < 2:
            continue
        log_row = np.log(np.clip(rows[:, i, nonzero], 1e-300, None))
        columns.append(log_row[:, :-1] - log_row[:, -1:])
    if scale > 0 and given.size:
        effect = params.get("driver_effect")
        log_effect = (
            np.log(np.clip(np.asarray(effect, dtype=float), 1e-300, None))
            if effect is not None
            else np.broadcast_to(arrays.log_effect, (D, *arrays.log_effect.shape))
        )
        columns.append(log_effect[:, given])
    return np.concatenate(columns, axis=1) if columns else np.zeros((D, 0))


def _pack_sources(params: dict[str, np.ndarray], source_names: tuple[str, ...], D: int) -> np.ndarray:
    spread = np.asarray(params.get("source_spread", np.ones(D)), dtype=float).reshape(D)
    spread = np.clip(spread, 1e-12, None)
    z = np.zeros((D, len(source_names)))
    if "source_offset" in params and "source" in params:
        offset = np.asarray(params["source_offset"], dtype=float).reshape(D, -1)
        where = {str(name): m for m, name in enumerate(np.asarray(params["source"]).tolist())}
        for j, name in enumerate(source_names):
            if name in where:
                z[:, j] = offset[:, where[name]] / spread
    return np.concatenate([z, np.log(spread)[:, None]], axis=1)


@dataclasses.dataclass
class ChainStarts:
    """Where the chains of a continuation start: one of ``points`` each, the same for the same seed.

    nutpie calls the initial-point function once per chain (more if a start is not finite)
    with a seed drawn from that chain's own random stream (nuts-rs 0.16: ChaCha8 seeded by
    the run's seed, stream ``chain + 1``), so the seeds are fixed by the run's seed; but the
    chains ask from nutpie's worker threads in whatever order they start. Taking the points
    in the order asked made a continued forecast differ from run to run of the same seed.
    Here the chain whose seed is the k-th smallest of :attr:`seeds` takes point k, whatever
    the order: :attr:`seeds` is learnt first by a run of one draw
    (:func:`~syriaforecast.engine.run.run_engine`), whose calls :attr:`asked` records.
    A seed not in :attr:`seeds` takes point ``seed % len(points)``.
    """

    points: np.ndarray
    seeds: tuple[int, ...] = ()
    asked: list[int] = dataclasses.field(default_factory=list)

    def __call__(self, seed: Any) -> np.ndarray:
        """The start for the chain nutpie asks for with ``seed`` (nutpie's initial-point call)."""
        value = int(seed)
        self.asked.append(value)
        k = self.seeds.index(value) if value in self.seeds else value
        return np.array(self.points[k % len(self.points)], dtype=float)


def build_sampler_model(
    arrays: ModelArrays,
    data: EngineData,
    coords: dict[str, list[str]],
    *,
    init_points: np.ndarray | None = None,
    starts: ChainStarts | None = None,
    whitening: Whitening | None = None,
) -> Any:
    """A nutpie model (Python-function interface) for the hierarchical posterior.

    ``init_points`` (n, ndim), when given, are positions chains start from (one
    picked at random by each chain's seed), e.g. a previous posterior's draws
    (:func:`pack_draws`); otherwise chains start uniformly in [-0.5, 0.5].
    With ``starts`` the chains take its points instead, one each (chain ends to
    continue; see :class:`ChainStarts`). With ``whitening``
    (:class:`~syriaforecast.engine.whitening.Whitening`) the sampler's coordinates are
    whitened, ``init_points`` and ``starts`` are in those coordinates, and the draws
    still come back as parameters.
    """
    model, _expand = _sampler_model(
        arrays, data, coords, init_points=init_points, starts=starts, whitening=whitening
    )
    return model


def _sampler_model(
    arrays: ModelArrays,
    data: EngineData,
    coords: dict[str, list[str]],
    *,
    init_points: np.ndarray | None,
    starts: ChainStarts | None,
    whitening: Whitening | None = None,
) -> tuple[Any, Callable[[np.ndarray], dict[str, np.ndarray]]]:
    """:func:`build_sampler_model` and its expansion of many positions at once (D, ndim)."""
    from nutpie.compiled_pyfunc import from_pyfunc

    layout = layout_for(arrays, data)
    args = _density_arguments(arrays, data, layout)
    A, start = layout.n_analysts, layout.analyst_start
    Q, close = layout.n_clusters, layout.closeness_start
    M, source_start = layout.n_sources, layout.source_start
    report_source = source_arguments(data, layout)[0]
    analyst_ids = coords.get("analyst", [f"analyst{a}" for a in range(A)])
    cluster_ids = coords.get("cluster", [f"cluster{q}" for q in range(Q)])
    driver_ids = coords.get("driver", [f"driver{r}" for r in range(arrays.n_drivers)])
    unpack_args = (
        layout.n_scenarios,
        layout.n_groups,
        layout.n_indicators,
        layout.sample_persistence,
        args[4],
        args[5],
        args[6],
        arrays.group_of,
        arrays.band_sd,
    )

    with_transitions = arrays.has_transition_parameters
    t_args = transition_arguments(arrays, data)
    row_elicited = t_args[0]
    # unpack_transitions(x, end, row_elicited, row_support, transition_fixed, centre, given, scale)
    transition_unpack = (t_args[0], t_args[1], t_args[3], t_args[4], t_args[5], t_args[6])

    def make_logp_fn() -> Any:
        def logp(x: np.ndarray, **_: Any) -> tuple[float, np.ndarray]:
            if whitening is not None:  # x is z here, as in the compiled callback
                value, grad = log_density_and_gradient(whitening.to_model(x), *args)
                return float(value), grad * whitening.scale
            value, grad = log_density_and_gradient(x, *args)
            return float(value), grad

        return logp

    def make_expand_fn(*_: Any, **__: Any) -> Any:
        def expand(x: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
            # One draw: the batch unpacking of a batch of one (the same compiled code for both paths),
            # in the order of ``names`` below: nutpie takes the expanded values in the declared
            # order and panics at the first that differs (a model with transitions and clusters or
            # sources failed this way on the Python route, which tests/test_callback.py now runs
            # on the bundled model).
            position = whitening.to_model(x) if whitening is not None else np.asarray(x)
            values = expand_many(position[None])
            return {name: np.array(values[name][0]) for name in names}

        return expand

    def expand_many(positions: np.ndarray) -> dict[str, np.ndarray]:
        # expand() of each row of positions (D, ndim), stacked: the same compiled unpacking in one
        # call instead of a Python call per draw (most of a fit's post-processing at 4,000 draws).
        X = np.ascontiguousarray(positions, dtype=float)
        initial, persistence, sigma, eta, kappa_rel, kappa_cred = unpack_batch(X, *unpack_args)
        out = {
            "initial_probability": initial,
            "persistence": persistence,
            "elicitation_sigma": sigma,
            "elicitation_eta": eta,
            "source_reliability": kappa_rel,
            "information_credibility": kappa_cred,
        }
        if A:
            out["analyst_bias"] = X[:, start : start + A].copy()
            out["analyst_noise"] = np.exp(X[:, start + A : start + 2 * A])
        if with_transitions:
            rows, log_effect = unpack_transitions_batch(X, start, *transition_unpack)
            full = np.array(rows, dtype=float)
            S = layout.n_scenarios
            for i in range(S):
                if not row_elicited[i] and S > 1:
                    full[:, i] = ((1.0 - persistence[:, i]) / (S - 1))[:, None]
                    full[:, i, i] = persistence[:, i]
            out["transition"] = full
            out["driver_effect"] = np.exp(log_effect)
        if Q:
            out["cluster_closeness"] = 1.0 / (1.0 + np.exp(-X[:, close : close + Q]))
        if M:
            offset, spread = source_offsets_batch(X, source_start, M, report_source)
            out["source_offset"] = offset
            out["source_spread"] = spread
        return out

    def initial_point(seed: Any) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if starts is not None:
            return starts(seed)
        if init_points is not None and len(init_points):
            return np.array(init_points[rng.integers(len(init_points))], dtype=float)
        return rng.uniform(-0.5, 0.5, layout.ndim)

    sizes = {"scenario": layout.n_scenarios, "group": layout.n_groups, "indicator": layout.n_indicators}
    sizes |= {"analyst": A, "cluster": Q, "source": M}
    sizes |= {dim: len(labels) for dim, labels in GRADE_COORDS.items()}
    names = [*PARAMETER_NAMES, *(ANALYST_PARAMETER_NAMES if A else ())]
    names += CLUSTER_PARAMETER_NAMES if Q else ()
    names += list(SOURCE_PARAMETER_NAMES if M else ())
    dims = {name: PARAMETER_DIMS[name] for name in names}
    shapes = [tuple(sizes[d] for d in dims[name]) for name in names]
    coords = {k: coords[k] for k in ("scenario", "group", "indicator")} | GRADE_COORDS
    if A:
        coords["analyst"] = list(analyst_ids)
    if with_transitions:
        names += ["transition", "driver_effect"]
        shapes += [(layout.n_scenarios, layout.n_scenarios), (arrays.n_drivers, layout.n_scenarios)]
        dims |= {"transition": ("scenario", "scenario_to"), "driver_effect": ("driver", "scenario")}
        coords["scenario_to"] = list(coords["scenario"])
        coords["driver"] = list(driver_ids)
    if Q:
        coords["cluster"] = list(cluster_ids)
    if M:
        coords["source"] = list(data.source_names)
    model = from_pyfunc(
        ndim=layout.ndim,
        make_logp_fn=make_logp_fn,
        make_expand_fn=make_expand_fn,
        make_initial_point_fn=initial_point,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
    )
    return model, expand_many


def build_fast_sampler_model(
    arrays: ModelArrays,
    data: EngineData,
    coords: dict[str, list[str]],
    *,
    init_points: np.ndarray | None = None,
    starts: ChainStarts | None = None,
    whitening: Whitening | None = None,
) -> tuple[Any, Callable[[np.ndarray], dict[str, np.ndarray]] | None]:
    """The nutpie model to sample: the compiled callback where nutpie takes one, else the Python one.

    Returns the model and, for the compiled one, the function that turns
    unconstrained positions (D, ndim) into named parameters with a leading axis D
    (:func:`~syriaforecast.engine.callback.expand_draws`), each draw as the Python
    model's own expansion gives it; ``None`` for the Python model, whose draws come
    back named. Both give the same draws for the same seed. ``whitening`` is as for
    :func:`build_sampler_model`; the compiled model's expansion maps its draws back to positions.
    """
    from syriaforecast.engine.callback import compiled_sampler_model, import_nutpie

    import_nutpie()  # before build_sampler_model imports it with all of ArviZ
    python_model, expand_many = _sampler_model(
        arrays, data, coords, init_points=init_points, starts=starts, whitening=whitening
    )
    layout = layout_for(arrays, data)
    compiled = compiled_sampler_model(
        _density_arguments(arrays, data, layout), layout.ndim, python_model._make_initial_points, whitening
    )
    if compiled is None:
        return python_model, None
    return compiled, expand_many
