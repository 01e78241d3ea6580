"""ICD 203 estimative language: phrases, their probability bands, and back.

Intelligence Community Directive 203 ties seven expressions of likelihood to
probability ranges. An elicitation written as a phrase means "somewhere in this
band", so the engine treats it as a prior over the band rather than as one
number; see :func:`band_logit_prior`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from syriaforecast._maths import expit, logit

__all__ = [
    "BANDS",
    "DRIVER_EFFECTS",
    "Band",
    "band_logit_prior",
    "band_of",
    "driver_effect",
    "elicited_logit",
    "parse_phrase",
    "phrase_for",
    "phrase_within_error",
    "shift_band",
]


@dataclass(frozen=True, slots=True)
class Band:
    """One ICD 203 likelihood band."""

    phrase: str
    synonym: str
    low: float
    high: float

    @property
    def midpoint(self) -> float:
        """Midpoint of the band on the logit scale, mapped back to a probability."""
        return expit(0.5 * (logit(self.low) + logit(self.high)))


#: The seven ICD 203 bands, in increasing order of likelihood.
BANDS: tuple[Band, ...] = (
    Band("almost no chance", "remote", 0.01, 0.05),
    Band("very unlikely", "highly improbable", 0.05, 0.20),
    Band("unlikely", "improbable", 0.20, 0.45),
    Band("roughly even chance", "roughly even odds", 0.45, 0.55),
    Band("likely", "probable", 0.55, 0.80),
    Band("very likely", "highly probable", 0.80, 0.95),
    Band("almost certain", "nearly certain", 0.95, 0.99),
)

_BY_NAME: dict[str, Band] = {}
for _band in BANDS:
    _BY_NAME[_band.phrase] = _band
    _BY_NAME[_band.synonym] = _band
_BY_NAME["almost certainly"] = BANDS[-1]
_BY_NAME["even chance"] = BANDS[3]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def parse_phrase(text: str) -> Band | None:
    """Return the band named by ``text`` (case and spacing ignored), or ``None``."""
    return _BY_NAME.get(_normalise(text))


def allowed_phrases() -> str:
    """Human-readable list of accepted phrases, for error messages."""
    return ", ".join(f'"{b.phrase}"' for b in BANDS)


def band_of(probability: float) -> Band:
    """Return the band a probability falls in (ends clipped to the outer bands).

    A probability on a boundary between two bands belongs to the upper band.
    """
    for band in BANDS:
        if probability < band.high:
            return band
    return BANDS[-1]


def phrase_for(probability: float) -> str:
    """ICD 203 phrase for a probability, e.g. ``phrase_for(0.7) == "likely"``."""
    return band_of(probability).phrase


def phrase_within_error(probability: float, error: float) -> str:
    """The neighbouring phrase a probability could equally get, given its error; ``""`` if none.

    A Monte Carlo estimate of a probability is only known to within its error:
    when a band edge lies within ``error`` of the estimate, another run of the
    sampler may land on the other side of the edge and print the other phrase.
    An honest headline then names both.

    Parameters
    ----------
    probability : float
        The estimate (a posterior mean).
    error : float
        How far the estimate may be off, e.g. twice its Monte Carlo standard
        error; ``0`` (exact mode) never finds an alternative.

    Returns
    -------
    str
        The phrase of the band across the nearest edge within ``error``, or ``""``.

    Examples
    --------
    >>> phrase_within_error(0.546, 0.018)
    'likely'
    >>> phrase_within_error(0.70, 0.018)
    ''
    """
    if not error > 0:
        return ""
    band = band_of(probability)
    index = BANDS.index(band)
    below = probability - band.low if index > 0 else math.inf
    above = band.high - probability if index < len(BANDS) - 1 else math.inf
    if min(below, above) > error:
        return ""
    return BANDS[index - 1].phrase if below <= above else BANDS[index + 1].phrase


def shift_band(band: Band, steps: int) -> Band:
    """The band ``steps`` places up (positive) or down, clipped at the ends."""
    index = max(0, min(len(BANDS) - 1, BANDS.index(band) + steps))
    return BANDS[index]


def band_logit_prior(band: Band) -> tuple[float, float]:
    """Normal prior on the logit scale whose central 95% spans the band.

    Returns
    -------
    mean, sd : float
        ``logit p ~ Normal(mean, sd)`` puts 95% of its mass between the band's
        ends: a smooth, unbounded stand-in for "somewhere in this band" that
        NUTS samples without boundary trouble.
    """
    lo, hi = logit(band.low), logit(band.high)
    return 0.5 * (lo + hi), (hi - lo) / (2 * 1.959963984540054)


def elicited_logit(value: float | str) -> float:
    """Point logit of a binary elicitation as written: a probability's logit, a phrase's band midpoint.

    The midpoint is the mean of :func:`band_logit_prior`. Raises ``ValueError``
    for text that is not an ICD 203 phrase.
    """
    if isinstance(value, str):
        band = parse_phrase(value)
        if band is None:
            raise ValueError(f"{value!r} is not an ICD 203 phrase; allowed: {allowed_phrases()}")
        return band_logit_prior(band)[0]
    return logit(float(value))


#: Phrases a driver's ``[drivers.effect]`` may use instead of a number: the factor by which the
#: driver being on multiplies the odds of moving into a scenario in one period. The factors are
#: symmetric on the log scale (``more likely`` doubles, ``less likely`` halves the odds).
DRIVER_EFFECTS: dict[str, float] = {
    "much more likely": 5.0,
    "more likely": 2.0,
    "slightly more likely": 1.25,
    "no effect": 1.0,
    "slightly less likely": 0.8,
    "less likely": 0.5,
    "much less likely": 0.2,
}


def driver_effect(value: float | str) -> float | None:
    """A driver effect as a factor: a positive number as is, a phrase of :data:`DRIVER_EFFECTS`.

    Returns ``None`` for text that is not one of the phrases.
    """
    if isinstance(value, str):
        return DRIVER_EFFECTS.get(_normalise(value))
    return float(value)
