"""Whitened sampler coordinates: a warm refit samples where its previous posterior is about N(0, I)."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Whitening"]


@dataclasses.dataclass(frozen=True)
class Whitening:
    """Sampler coordinates ``z`` with ``x = centre + scale * z``: a previous posterior made about N(0, I).

    A warm refit samples in these coordinates, ``centre`` and ``scale`` being the
    mean and standard deviation of the previous draws (:meth:`of`). The map is
    linear with a constant Jacobian, so the posterior is the same; the density's
    gradient is ``scale * dlogp/dx``. What changes is where nutpie's adaptation
    starts: its first mass matrix is ``1 / |gradient|`` at the chain's start
    (nuts-rs' diagonal adaptation), about ``sd / |z|`` in the model's coordinates
    (posterior standard deviations 0.32-2.4 across the bundled model's 211). A start
    with a coordinate near its posterior mean then gets a mass matrix many times too wide
    there; dual averaging's first, larger steps diverge, the step size collapses, and
    the first tuning draws take up to 1,023 leapfrog steps each: in 8 refits of the
    bundled model (seeds 1-4, one more month and an old report regraded) 9,000-24,000
    of 69,000-85,000 evaluations went to the 100 tuning draws, against 6,000 at 15
    steps a draw, most of the excess in one chain. Whitened, with the step size kept
    within :data:`~syriaforecast.engine.run.WARM_STEP_GROWTH` of the previous fit's,
    the same 8 refits' tuning took 8,706-12,133 evaluations (chains still start at previous draws, as
    before: moving a start's near-centre coordinates out to 0.5 sd, tried too, sent
    one synthetic world's chains into separate readings for 25 continuations).
    """

    centre: np.ndarray
    scale: np.ndarray

    #: A coordinate that did not vary across the points (a new source's, at its prior centre) keeps scale 1.
    MIN_SCALE = 1e-6

    @classmethod
    def of(cls, points: np.ndarray) -> Whitening:
        """The whitening of positions ``points`` (n, ndim): their mean and standard deviation."""
        points = np.asarray(points, dtype=float)
        centre = points.mean(axis=0)
        scale = points.std(axis=0)
        scale = np.where(np.isfinite(scale) & (scale > cls.MIN_SCALE), scale, 1.0)
        return cls(np.ascontiguousarray(centre), np.ascontiguousarray(scale))

    def to_sampler(self, x: np.ndarray) -> np.ndarray:
        """Positions ``x`` (..., ndim) in the sampler's coordinates ``z``."""
        return (np.asarray(x, dtype=float) - self.centre) / self.scale

    def to_model(self, z: np.ndarray) -> np.ndarray:
        """Sampler coordinates ``z`` (..., ndim) as positions: ``centre + scale * z``."""
        return self.centre + self.scale * np.asarray(z, dtype=float)
