"""What the notebooks import and use is declared: the library's dependencies or the `notebooks` extra."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_notebook_imports_and_styler_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"]) | _names(project["optional-dependencies"]["notebooks"])
    distributions = packages_distributions()
    code = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    text = "\n".join(code)
    modules = set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", text, flags=re.MULTILINE))
    missing = []
    for module in sorted(modules - {"syriaforecast"} - set(sys.stdlib_module_names)):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & declared:
            missing.append(module)
    assert not missing, f"notebooks import undeclared packages: {missing}"
    if ".style" in text:  # pandas' Styler renders through jinja2
        assert "jinja2" in _names(project["optional-dependencies"]["notebooks"])
    assert "ipykernel" in _names(project["optional-dependencies"]["notebooks"])
