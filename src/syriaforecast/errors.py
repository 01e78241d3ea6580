"""The library's own exception and warning types.

Every error a user can meet on bad input is a :class:`SyriaforecastError`.
Validation errors carry *all* the problems found in a file, each naming the
file, the line or TOML key path, the field, the bad value and what is allowed,
so that one run reports everything that needs fixing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ClusterWarning",
    "ConvergenceWarning",
    "EvidenceError",
    "ForecastFileError",
    "ForecastFileWarning",
    "ModelFileError",
    "OptionError",
    "Problem",
    "SamplerError",
    "SamplingWorkError",
    "SyriaforecastError",
    "ValidationError",
]


class SyriaforecastError(Exception):
    """Base class of every error raised by syriaforecast on bad input or state."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a user file.

    Parameters
    ----------
    file : str
        The file (or ``"<dataframe>"`` for in-memory input).
    location : str
        Where in the file: ``"line 12"`` for CSV rows, a TOML key path such as
        ``"indicators[3].likelihood.capture"`` for model files.
    field : str
        The field that is wrong.
    value : str
        The offending value, as the user wrote it.
    allowed : str
        What would have been accepted.
    """

    file: str
    location: str
    field: str
    value: str
    allowed: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.field} = {self.value!s}: {self.allowed}"


class ValidationError(SyriaforecastError):
    """A user file failed validation; :attr:`problems` lists every problem found."""

    kind = "input"

    def __init__(self, problems: Iterable[Problem], *, file: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.file = file if file is not None else (self.problems[0].file if self.problems else "")
        n = len(self.problems)
        header = f"{n} problem{'s' if n != 1 else ''} in {self.kind} file {self.file}"
        super().__init__(header + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ModelFileError(ValidationError):
    """A scenario model file (TOML) is malformed or inconsistent."""

    kind = "model"


class EvidenceError(ValidationError):
    """An evidence log (CSV or DataFrame) is malformed or inconsistent with its model."""

    kind = "evidence"


class ForecastFileError(SyriaforecastError):
    """A saved forecast cannot be read or written, or does not match what it claims to be."""


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics fail a threshold; the message says which and what to try."""


class ClusterWarning(UserWarning):
    """A cluster's members' elicitations fit badly with one shared event; the message says how."""


class ForecastFileWarning(UserWarning):
    """A saved forecast was loaded but could not be fully verified (e.g. saved before checksums)."""


class OptionError(SyriaforecastError, ValueError):
    """A numeric or date option (draws, tune, chains, seed, target_accept, as_of, ...) is out of range."""


class SamplingWorkError(OptionError):
    """A hierarchical forecast would exceed the sampling work cap; the message says why and what to do."""


class SamplerError(SyriaforecastError):
    """The sampler could not run or failed; the message says why and what to try."""
