"""The engine: model file and evidence in, the chain's posterior out.

* :mod:`~syriaforecast.engine.data`: the model and the evidence as arrays.
* :mod:`~syriaforecast.engine.names`: the one registry of parameter, dimension and array names.
* :mod:`~syriaforecast.engine.kernel`: compiled (Numba) likelihood and density kernels.
* :mod:`~syriaforecast.engine.density` and :mod:`~syriaforecast.engine.sampler`: the
  posterior density on the unconstrained scale, sampled by nutpie.
* :mod:`~syriaforecast.engine.evaluate` and :mod:`~syriaforecast.engine.hmm`: chain
  terms under given parameter draws, forward-backward (exact mode, what-ifs).
* :mod:`~syriaforecast.engine.run`: one run, exact or sampled.
* :mod:`~syriaforecast.engine.reference`: the same model in PyMC and PyTensor
  (``syriaforecast.to_pymc``), imported only when asked for.
"""
