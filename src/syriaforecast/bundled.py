"""The example models and evidence logs that ship inside the package (``syriaforecast/data``).

>>> import syriaforecast as sf
>>> model = sf.load_model(sf.bundled_model())  # doctest: +SKIP
>>> evidence = sf.load_evidence(sf.bundled_evidence(), model)  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from syriaforecast.errors import SyriaforecastError

__all__ = ["bundled_evidence", "bundled_files", "bundled_model", "bundled_path"]

#: The example a bare ``syriaforecast forecast`` runs on.
DEFAULT_EXAMPLE = "russia_syria"


def bundled_files() -> list[str]:
    """Names of the files shipped in the package's data folder, sorted."""
    folder = files("syriaforecast").joinpath("data")
    return sorted(entry.name for entry in folder.iterdir() if entry.name.endswith((".toml", ".csv")))


def bundled_path(name: str) -> Path:
    """Path of a file shipped in the package's data folder.

    Parameters
    ----------
    name : str
        File name, e.g. ``"synthetic_base.toml"``.

    Returns
    -------
    pathlib.Path
        The installed file (the package is installed as files, not zipped).

    Raises
    ------
    SyriaforecastError
        No bundled file has that name; the message lists those that exist.
    """
    path = files("syriaforecast").joinpath("data", name)
    if not isinstance(path, Path):  # only a zipped install gives another Traversable
        raise SyriaforecastError(f"bundled file {name!r}: the package is zipped; install it unpacked")
    if not path.is_file():
        raise SyriaforecastError(
            f"no bundled file {name!r}; the package ships: {', '.join(bundled_files())}"
        )
    return path


def bundled_model(name: str = DEFAULT_EXAMPLE) -> Path:
    """Path of a bundled model file.

    Parameters
    ----------
    name : str, default "russia_syria"
        The example: ``"russia_syria"`` (three scenarios of Russia's security
        return to post-Assad Syria), ``"russia_syria_analysts"`` (the same,
        elicited by three analysts), ``"central_bank_cut"`` (a small fictional
        model) or ``"synthetic_base"`` (the base of ``backtest --synthetic``).

    Returns
    -------
    pathlib.Path
        ``data/<name>.toml`` inside the installed package; give it to :func:`~syriaforecast.load_model`.
    """
    return bundled_path(f"{name}.toml")


def bundled_evidence(name: str = DEFAULT_EXAMPLE) -> Path:
    """Path of a bundled evidence log.

    Parameters
    ----------
    name : str, default "russia_syria"
        The example whose evidence to return (``"russia_syria"`` or ``"central_bank_cut"``);
        the Russia–Syria evidence also serves ``"russia_syria_analysts"``.

    Returns
    -------
    pathlib.Path
        ``data/<name>_evidence.csv`` inside the installed package; give it to
        :func:`~syriaforecast.load_evidence` with the model.
    """
    return bundled_path(f"{name}_evidence.csv")
