"""The posterior density on the unconstrained scale, compiled once per machine for nutpie.

The hierarchical model (priors in :mod:`syriaforecast.engine.reference.pymc_model`) is
written out here as one Numba kernel returning log density and gradient. nutpie
samples it through its Python-function interface. Compared with letting PyMC
generate and compile the density for each model, this removes a 30-100 s
compilation per model structure: the kernel is compiled once per machine
(``cache=True``) and serves every model, evidence set and as-of date.

Unconstrained coordinates, in order:

- ``y`` (S-1): initial probabilities ``pi = softmax(y, 0)`` (additive log-ratio);
  the Dirichlet(alpha) density with its Jacobian ``prod pi`` is ``sum alpha log pi``;
- ``z`` (S, only when persistence is sampled): ``p = expit(c + u z)``, ``z ~ N(0, 1)``;
- ``log sigma`` (G): ``sigma ~ HalfNormal(scale)``, Jacobian ``sigma``;
- ``eta`` (I x S): ``N(0, 1)``;
- ``logit kappa`` (6 + 6): ``kappa ~ Beta(a, b)``, Jacobian ``kappa (1 - kappa)``;
- only when the model elicits transition rows or has drivers: each elicited row's
  nonzero entries as a softmax (one fewer coordinates than entries; an absorbing row
  has none), ``row ~ Dirichlet(transition_concentration * elicited row)`` with density
  and Jacobian ``sum alpha log row``; then each listed driver effect's log factor,
  ``Normal(log elicited factor, driver_uncertainty)`` (none when that is 0);
- only when several analysts elicited the model (A of them): ``bias`` (A),
  ``bias ~ Normal(0, analyst_bias)``, then ``log tau`` (A), ``tau ~ HalfNormal(analyst_noise)``,
  Jacobian ``tau``. The shift of every (indicator, scenario) some analyst elicited is
  then ``location + scale * eta`` with the analysts' common target integrated out,
  and the density gains the elicitations' marginal likelihood
  (:func:`~syriaforecast.engine.kernel.analyst_pool`). A model without analysts has
  neither block nor term: its vector and density are exactly those of the single-analyst engine.
- only when the model declares clusters of indicators (Q of them): ``logit closeness`` (Q),
  ``closeness ~ Beta`` centred on the declared closeness
  (:func:`~syriaforecast.engine.clusters.closeness_prior`), Jacobian ``closeness (1 - closeness)``.

The test suite checks this density against PyMC's log density of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from syriaforecast.engine.kernel import (
    analyst_pool,
    log_density_and_gradient,
    unpack,
    unpack_transitions,
)

__all__ = ["Layout", "analyst_pool", "log_density_and_gradient", "unpack", "unpack_transitions"]


@dataclass(frozen=True)
class Layout:
    """Sizes of the parameter blocks in the unconstrained vector."""

    n_scenarios: int
    n_groups: int
    n_indicators: int
    sample_persistence: bool
    n_analysts: int = 0
    n_row_coordinates: int = 0
    n_effect_coordinates: int = 0
    n_clusters: int = 0

    @property
    def n_initial(self) -> int:
        """Free coordinates of the initial probabilities."""
        return self.n_scenarios - 1

    @property
    def n_persistence(self) -> int:
        """Coordinates of the persistence block (0 when persistence is fixed)."""
        return self.n_scenarios if self.sample_persistence else 0

    @property
    def ndim(self) -> int:
        """Length of the unconstrained vector."""
        return (
            self.n_initial + self.n_persistence + self.n_groups
            + self.n_indicators * self.n_scenarios + 12 + 2 * self.n_analysts
            + self.n_row_coordinates + self.n_effect_coordinates + self.n_clusters
        )  # fmt: skip

    @property
    def analyst_start(self) -> int:
        """Index of the first analyst coordinate (biases, then log noise scales)."""
        return self.ndim - 2 * self.n_analysts - self.n_clusters

    @property
    def closeness_start(self) -> int:
        """Index of the first cluster coordinate (logit closeness), after the analysts'."""
        return self.ndim - self.n_clusters
