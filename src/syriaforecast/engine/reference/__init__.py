"""The reference implementation in PyMC and PyTensor, imported only when asked for.

* :mod:`~syriaforecast.engine.reference.pymc_model`: the model as a ``pm.Model``
  (:func:`to_pymc`, the public PyMC door, also ``syriaforecast.to_pymc``).
* :mod:`~syriaforecast.engine.reference.graph`: the chain's maths as a PyTensor graph.
* :mod:`~syriaforecast.engine.reference.op`: PyTensor Ops around the compiled likelihood kernel.

The library's own sampler and exact mode never import this package, so
``import syriaforecast`` loads neither PyMC nor PyTensor; the tests check the
compiled engine against it.
"""

from syriaforecast.engine.reference.pymc_model import build_pymc_model, to_pymc

__all__ = ["build_pymc_model", "to_pymc"]
