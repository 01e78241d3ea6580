"""The engine's Pareto smoothing (engine.psis) against arviz-stats' ``psislw``, its peer."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

arviz_stats = pytest.importorskip("arviz_stats")

from arviz_stats.base import array_stats  # noqa: E402

from syriaforecast.engine import psis  # noqa: E402


def _log_ratios() -> dict[str, tuple[np.ndarray, float]]:
    """Log importance ratios with light to very heavy right tails, with the r_eff to smooth them at."""
    rng = np.random.default_rng(14)
    x = rng.normal(size=8000)
    return {
        # A normal posterior shifted by half a standard deviation: k well below 0.5.
        "light": (0.5 * x - 0.125, 1.0),
        # Shifted by two: a heavier tail, k between 0.5 and 0.7.
        "heavy": (2.0 * x - 2.0, 0.8),
        # Student-t(1.5) log ratios: an extremely heavy tail (k > 1).
        "student": (np.log1p(np.abs(rng.standard_t(1.5, size=4000))) * 6.0, 0.4),
        # A log-normal's log: light tail, few draws (the floor(D / 5) tail below D r_eff = 225).
        "few draws": (rng.normal(size=200), 0.9),
        # Many ties (as after resampling), r_eff < 1.
        "ties": (np.round(rng.gamma(2.0, size=6000), 1), 0.3),
    }


@pytest.mark.parametrize("case", list(_log_ratios()))
def test_smoothed_log_weights_and_k_equal_arviz_stats(case):
    log_ratio, r_eff = _log_ratios()[case]
    ours, k = psis.smoothed_log_weights(log_ratio, r_eff=r_eff)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # psislw smooths the tail of exp(-x) (it is written for leave-one-out ratios 1/p).
        theirs, khat = array_stats.psislw(-log_ratio, r_eff=r_eff)
    assert k == pytest.approx(float(khat), rel=1e-10, abs=1e-12)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), finite)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-10, atol=1e-10)


def test_the_tails_span_light_to_very_heavy():
    ks = {case: psis.smoothed_log_weights(lr, r_eff=r)[1] for case, (lr, r) in _log_ratios().items()}
    assert ks["light"] < 0.5 < ks["heavy"]
    assert ks["student"] > 1.0


def test_gpd_fit_recovers_a_known_generalised_pareto_shape():
    # Inverse-CDF draws of a generalised Pareto with k = 0.4, sigma = 2: the estimate lands near both.
    rng = np.random.default_rng(3)
    k, sigma = 0.4, 2.0
    x = np.sort(sigma * np.expm1(-k * np.log1p(-rng.random(20000))) / k)
    k_hat, sigma_hat = psis.gpd_fit(x)
    assert k_hat == pytest.approx(k, abs=0.03)
    assert sigma_hat == pytest.approx(sigma, rel=0.05)


def test_relative_efficiency_is_arviz_ess_of_the_mean():
    rng = np.random.default_rng(8)
    chains, draws = 4, 500
    noise = rng.normal(size=(chains, draws))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0]
    for t in range(1, draws):
        x[:, t] = 0.7 * x[:, t - 1] + noise[:, t]
    log_ratio = (0.8 * x).ravel()
    ratios = np.exp(log_ratio - log_ratio.max()).reshape(chains, draws)
    theirs = float(array_stats.ess(ratios, chain_axis=0, draw_axis=1, method="mean")) / (chains * draws)
    ours = psis.relative_efficiency(log_ratio, chains, draws)
    assert 0.05 < ours < 0.9  # autocorrelated: well below 1, so the comparison means something
    assert ours == pytest.approx(theirs, rel=1e-10)


def test_unusable_ratios_give_no_weights():
    assert psis.psis_weights(np.array([0.0, np.inf] * 10)) == (None, math.inf)
    assert psis.psis_weights(np.zeros(8)) == (None, math.inf)  # too few draws
    assert psis.psis_weights(np.r_[np.zeros(990), np.ones(10)]) == (None, math.inf)  # tail not Pareto-like


def test_smoothing_imports_neither_arviz_stats_nor_scipy_stats():
    """Importing them cost 1.3-2 CPU s on a process's first update, more than the update."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from syriaforecast.engine import psis\n"
        "x = np.random.default_rng(0).normal(size=4000)\n"
        "psis.psis_weights(x, r_eff=psis.relative_efficiency(x, 4, 1000))\n"
        "print(sorted(m for m in ('arviz_stats', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
