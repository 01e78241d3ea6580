"""The tutorial notebooks run end to end, on this venv's Python, with small settings.

Each notebook in ``notebooks/`` is executed with nbclient on a kernel spec
installed into a temporary folder for this test run (its ``argv[0]`` is this
interpreter, so a user-global ``python3`` kernel can never be picked up). The
library's sampler defaults are shrunk through ``SYRIAFORECAST_DRAWS`` /
``SYRIAFORECAST_TUNE`` and notebook 2's number of synthetic worlds through
``SYRIAFORECAST_NOTEBOOK_WORLDS``. The committed notebooks themselves must
carry the outputs of a full run (plots visible on a code host).
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: Each notebook and the least number of plots its run must show.
EXPECTED_PLOTS = {
    "01_update_the_forecast.ipynb": 3,
    "02_calibration_backtest.ipynb": 3,
    "03_build_your_own_model.ipynb": 2,
    "04_issue_cycle.ipynb": 2,
}
SMALL_SETTINGS = {
    "SYRIAFORECAST_DRAWS": "100",
    "SYRIAFORECAST_TUNE": "100",
    "SYRIAFORECAST_NOTEBOOK_WORLDS": "6",
}
MAX_BYTES = 2_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _images(nb: nbformat.NotebookNode) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``python3`` kernel spec for this interpreter, first on JUPYTER_PATH, with small settings."""
    prefix = tmp_path_factory.mktemp("kernel")
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
        check=True,
        capture_output=True,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        patch.setenv("JUPYTER_PLATFORM_DIRS", "1")
        for name, value in SMALL_SETTINGS.items():
            patch.setenv(name, value)
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert Path(spec.argv[0]) == Path(sys.executable), spec.argv
        yield sys.executable


#: Executed with the slow tests only (``make test-slow``): 23-48 s each in clean-clone runs;
#: building a model (03, about 10 s) stays in ``make test``.
SLOW_TO_RUN = {"01_update_the_forecast.ipynb", "02_calibration_backtest.ipynb", "04_issue_cycle.ipynb"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TO_RUN else n for n in sorted(EXPECTED_PLOTS)],
)
def test_notebook_executes(name: str, venv_kernel: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # Appended to the in-memory copy only: proves which interpreter ran the cells.
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    before = _listing(NOTEBOOKS)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()
    printed = "".join(out.get("text", "") for out in nb.cells[-1].outputs).strip()
    assert Path(printed) == Path(venv_kernel)
    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out["output_type"] == "error"]
    assert not errors
    images = _images(nb)
    assert len(images) >= EXPECTED_PLOTS[name]
    assert all(image.startswith(PNG_MAGIC) for image in images)
    # A notebook may write only to temporary folders, never next to itself.
    assert _listing(NOTEBOOKS) == before


@pytest.mark.parametrize("name", sorted(EXPECTED_PLOTS))
def test_committed_notebook_has_outputs(name: str) -> None:
    path = NOTEBOOKS / name
    assert path.stat().st_size < MAX_BYTES
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # Executed top to bottom in one run: execution counts 1, 2, 3, ...
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert len(_images(nb)) >= EXPECTED_PLOTS[name]
    assert not [out for cell in code for out in cell.outputs if out["output_type"] == "error"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", sorted(EXPECTED_PLOTS))
def test_notebook_uses_public_api_only(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    private = re.findall(r"syriaforecast(?:\.\w+)*\._\w+|from syriaforecast[\w.]* import[^\n]*\b_\w+", source)
    assert not private
    # The settings the test suite shrinks are read where the notebooks say they are.
    if name.startswith("02_"):
        assert "SYRIAFORECAST_NOTEBOOK_WORLDS" in source
    # Paths are found from the notebook's own folder, never this machine's absolute paths.
    assert not re.search(r"[\"']/(?:home|root|tmp|Users|work)/", source)
