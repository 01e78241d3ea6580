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
    (posterior standard deviations 0.32-2.4 across the bundled model's 211). A start with a
    coordinate near its posterior mean then gets a mass matrix many times too wide
    there, the step size collapses, and the first tuning draws take up to 1,023
    leapfrog steps each: in 8 refits of the bundled model (seeds 1-4, one more
    month and an old report regraded) 9,000-24,000 of 69,000-85,000 evaluations
    went to the 100 tuning draws, against 6,000 at 15 steps a draw, most of the
    excess in one chain. In whitened coordinates each start is moved (:meth:`starts`)
    so that every coordinate is at least ``START_RADIUS`` from the centre, where the
    gradient is about 1 and so is the first mass matrix; with the step size kept
    within :data:`~syriaforecast.engine.run.WARM_STEP_GROWTH` of the previous fit's,
    20 refits (``tools/warm_refit_draws.py 1000 1,11,...,91``, 2-core Intel Xeon,
    2026-12-03) took 1.54 s median wall (2.96 CPU s) against 1.78 s (3.34 CPU s)
    before, and passed the check without a continuation 18 times against 19.

    Moving the starts also showed a disagreement that starts at the draws themselves
    hid. Take synthetic world 64 at 30% reporting (its warm update in
    :func:`~syriaforecast.studies.convergence.convergence_study`;
    ``tools/refit_against_fit.py 64 0.3``). A fresh default fit of the same evidence
    passed after 18 continuations, with the first scenario's horizon mean at 0.860.
    The refit from the month before, started at the draws themselves, passed at once
    with all four chains at 0.963-0.965: one reading, reported as converged. With the
    starts moved, its chains spread over 0.79-0.91 (mean 0.861), and it failed the
    check after 25 continuations, which the forecast reports.
    """

    centre: np.ndarray
    scale: np.ndarray

    #: Each start's smallest distance from the centre, per coordinate, in standard deviations.
    START_RADIUS = 0.5
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

    def starts(self, x: np.ndarray) -> np.ndarray:
        """Positions ``x`` (n, ndim) as chain starts in ``z``, each coordinate at least START_RADIUS out.

        Only coordinates nearer the centre than ``START_RADIUS`` move, each outwards
        on its own side; the others stay as drawn. No coordinate's gradient at the
        start is then near 0 (for a posterior near normal), so neither is any entry
        of nutpie's first mass matrix.
        """
        z = self.to_sampler(x)
        side = np.where(z < 0.0, -1.0, 1.0)
        return np.where(np.abs(z) < self.START_RADIUS, side * self.START_RADIUS, z)
