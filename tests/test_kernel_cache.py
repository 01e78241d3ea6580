"""Compiled code cannot go stale: an edited kernel source is recompiled, never served from the cache.

Every compiled function of the engine lives in ``engine/kernel.py`` (``density.py`` and
``hmm.py`` only call into it), so Numba's on-disk cache, which keys each function on
its source file's modification stamp and size, sees every edit of the code it runs.
The first test copies the package to a temporary folder with its own cache, runs a kernel
function (populating the cache), edits the copy's kernel source and runs it again.

The PyMC reference route goes through PyTensor's own on-disk Numba cache, which keys
a custom Op on what its dispatcher returns (``engine/source_key.py``), not on files.
The second test is the stale-cache probe end to end: fresh processes sharing one
cache folder evaluate the reference model's log density before and after an edit of
the copy's kernel, and, as a control, with the key of old (the Op's type only), which
must serve the stale density: the probe can tell a stale cache from a fresh one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = """
import json, numpy as np
from syriaforecast.engine import kernel
rng = np.random.default_rng(0)
log_initial = np.log(np.full((2, 3), 1 / 3))
log_transition = np.log(np.full((2, 1, 3, 3), 1 / 3))
log_emission = rng.normal(-1.0, 1.0, size=(2, 5, 3))
filtered, smoothed, ll = kernel.forward_backward_batch(log_initial, log_transition, log_emission)
print(json.dumps({"filtered": float(filtered[0, 0, 0]), "file": kernel.__file__}))
"""


def _run(root: Path) -> dict:
    env = os.environ | {"PYTHONPATH": str(root), "NUMBA_CACHE_DIR": str(root / "numba-cache")}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # recompiles every kernel in a fresh Numba cache: minutes on 2 cores
@pytest.mark.timeout(900)
def test_an_edited_kernel_source_changes_the_result(tmp_path):
    root = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(SRC / "syriaforecast", root / "syriaforecast", ignore=skip)
    first = _run(root)
    assert Path(first["file"]).is_relative_to(root)
    assert any((root / "numba-cache").rglob("*.nbi"))  # the cache was written
    assert _run(root) == first  # served from the cache: same result
    kernel = root / "syriaforecast" / "engine" / "kernel.py"
    text = kernel.read_text()
    edited = text.replace("filtered[t, s] = alpha[t, s]", "filtered[t, s] = 0.5 * alpha[t, s]")
    assert edited != text
    kernel.write_text(edited)
    second = _run(root)
    assert second["filtered"] == pytest.approx(0.5 * first["filtered"], rel=1e-12)


REFERENCE_PROBE = """
import json, sys
import syriaforecast as sf
from syriaforecast.engine import kernel
from syriaforecast.engine.reference import to_pymc
model = sf.load_model(sys.argv[1])
pymc_model = to_pymc(model, sf.load_evidence(sys.argv[2], model))
logp = pymc_model.compile_logp(jacobian=False, mode="NUMBA")  # PyTensor's Numba backend and cache
print(json.dumps({"logp": float(logp(pymc_model.initial_point())), "file": kernel.__file__}))
"""
TINY = Path(__file__).parent / "data" / "tiny"
#: An edit of the likelihood kernel with a known effect: scaling every initial probability by
#: exp(-10) scales P(evidence) by exp(-10), so the log density drops by exactly 10.
KERNEL_DOC = '    """Log P(evidence | parameters), the scenario path summed out exactly."""\n'
KERNEL_EDIT = KERNEL_DOC + "    log_initial = log_initial - 10.0\n"
#: The key of old: the Op's type and props only (the sources' digest made a constant).
DIGEST_LINE = "    return digest.hexdigest()\n"


def _reference_logp(root: Path, cache: Path) -> float:
    env = os.environ | {
        "PYTHONPATH": str(root),
        "NUMBA_CACHE_DIR": str(cache / "numba"),
        "PYTENSOR_FLAGS": f"base_compiledir={cache / 'pytensor'}",
    }
    args = [sys.executable, "-c", REFERENCE_PROBE, str(TINY / "model.toml"), str(TINY / "evidence.csv")]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(probe["file"]).is_relative_to(root)
    return float(probe["logp"])


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name} no longer holds {old!r}: update the probe's edit"
    path.write_text(text.replace(old, new))


@pytest.mark.slow  # four fresh processes, three of which compile the reference model: ~2 minutes
@pytest.mark.timeout(900)
def test_the_reference_route_follows_an_edited_kernel_across_processes(tmp_path):
    root, cache = tmp_path / "src", tmp_path / "cache"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(SRC / "syriaforecast", root / "syriaforecast", ignore=skip)
    kernel = root / "syriaforecast" / "engine" / "kernel.py"
    source_key = root / "syriaforecast" / "engine" / "source_key.py"
    original = kernel.read_text()

    before = _reference_logp(root, cache)
    assert any((cache / "pytensor" / "numba").iterdir())  # PyTensor's on-disk cache was written
    _replace_once(kernel, KERNEL_DOC, KERNEL_EDIT)
    after = _reference_logp(root, cache)  # a fresh process, the same cache folder
    assert after == pytest.approx(before - 10.0, abs=1e-9)

    # Control: with the key of old, the same edit is served stale from the shared cache.
    kernel.write_text(original)
    _replace_once(source_key, DIGEST_LINE, '    return "constant"\n')
    assert _reference_logp(root, cache) == pytest.approx(before, abs=1e-12)
    _replace_once(kernel, KERNEL_DOC, KERNEL_EDIT)
    assert _reference_logp(root, cache) == pytest.approx(before, abs=1e-12)  # stale: the bug


LIKELIHOOD_IMPORTS = """
import json, sys
import syriaforecast.engine.data, syriaforecast.engine.diagnostics, syriaforecast.engine.evaluate
import syriaforecast.engine.hmm, syriaforecast.spec.evidence, syriaforecast.spec.model
ours = [m.__file__ for n, m in sys.modules.items() if n.startswith("syriaforecast.") and m.__file__]
print(json.dumps(sorted(ours)))
"""


def test_the_saved_log_likelihoods_key_covers_every_module_the_likelihood_imports():
    """A saved forecast's log-likelihoods are reused only under the same code (source_key.LIKELIHOOD_SOURCES).

    Every module of the package that the evidence, the kernels, the forward-backward pass and
    the diagnostics import, in a fresh process, must be in that digest; only ``errors`` (the
    exception types) may be left out. A module added later and imported there fails this test
    until it is listed, so an edit of it cannot leave an old file's numbers in use.
    """
    from syriaforecast.engine.source_key import LIKELIHOOD_SOURCES

    run = subprocess.run(
        [sys.executable, "-c", LIKELIHOOD_IMPORTS],
        env=dict(os.environ, PYTHONPATH=str(SRC)),
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {Path(f).resolve() for f in json.loads(run.stdout)}
    covered = {p.resolve() for p in LIKELIHOOD_SOURCES}
    assert len(imported) > 10 and SRC / "syriaforecast" / "errors.py" in imported
    assert imported - covered == {SRC / "syriaforecast" / "errors.py"}
