"""Compiled code cannot go stale: an edited kernel source is recompiled, never served from the cache.

Every compiled function of the engine lives in ``engine/kernel.py`` (``density.py`` and
``hmm.py`` only call into it), so Numba's on-disk cache, which keys each function on
its source file's modification stamp and size, sees every edit of the code it runs.
The test copies the package to a temporary folder with its own cache, runs a kernel
function (populating the cache), edits the copy's kernel source and runs it again.
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
log_transition = np.log(np.full((2, 3, 3), 1 / 3))
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
    edited = text.replace("filtered[d, t, s] = alpha[t, s]", "filtered[d, t, s] = 0.5 * alpha[t, s]")
    assert edited != text
    kernel.write_text(edited)
    second = _run(root)
    assert second["filtered"] == pytest.approx(0.5 * first["filtered"], rel=1e-12)
