"""Cache keys that change when the kernel's source changes.

PyTensor caches the Numba code of an Op on disk under a key that, by default,
depends only on the Op's type and properties. The custom Ops of the reference
PyMC route (:mod:`syriaforecast.engine.op`) call the Numba kernels of
:mod:`syriaforecast.engine.kernel`; after an edit of those kernels PyTensor
would keep serving the old compiled density from its cache, on every checkout
of the machine. So the Ops' cache key includes :func:`sources_digest` of the
kernel sources: any edit of them, or of the Op module, makes a new key.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "KERNEL_SOURCES",
    "LIKELIHOOD_SOURCES",
    "likelihood_sources_digest",
    "op_cache_key",
    "sources_digest",
]

_ENGINE = Path(__file__).resolve().parent
#: Files whose text defines what the custom Ops compute (the Op module adds itself).
KERNEL_SOURCES: list[Path] = [_ENGINE / "kernel.py"]
#: Files whose text decides a forecast's log-likelihood of its evidence and its diagnostics:
#: every engine module (kernels, evidence cells, forward-backward, R-hat and ESS), the model
#: and evidence readers with the phrase scale and the maths they use (how a stored model and
#: its reports are read again on loading), and the module that assembles a forecast. A saved
#: forecast keeps its draws' log-likelihoods with this digest, and they are used again only
#: under the same digest (see :func:`syriaforecast.load_forecast`): wider than needed, at the
#: cost of recomputing them once after an upgrade or an edit, never of mixing two versions'
#: numbers.
LIKELIHOOD_SOURCES: list[Path] = [
    *sorted(_ENGINE.glob("*.py")),
    *sorted((_ENGINE.parent / "spec").glob("*.py")),
    *(_ENGINE.parent / name for name in ("phrases.py", "_maths.py", "forecast.py")),
]


def sources_digest(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the names and bytes of ``paths`` (hex); a missing file counts as empty."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(path.name.encode() + b"\x00")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"<missing>")
        digest.update(b"\x00")
    return digest.hexdigest()


def op_cache_key(op: object, op_module_file: str | Path | None = None) -> str:
    """The on-disk cache key of a custom Op: its type and props, and the digest of the kernel sources."""
    props: dict[str, object] = getattr(op, "_props_dict", dict)()
    sources = [*KERNEL_SOURCES, *([op_module_file] if op_module_file is not None else [])]
    name = f"{type(op).__module__}.{type(op).__qualname__}"
    text = f"({name}, {sorted(props.items())!r}, {sources_digest(sources)})"
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def likelihood_sources_digest() -> str:
    """:func:`sources_digest` of :data:`LIKELIHOOD_SOURCES`, read once per process."""
    return sources_digest(LIKELIHOOD_SOURCES)
