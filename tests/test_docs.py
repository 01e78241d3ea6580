"""The documentation site builds with no warnings, and documents the whole public API.

One HTML build (``sphinx-build -W -n``: warnings are errors, every cross-reference
must resolve) in a temporary folder serves every test here. Notebooks are rendered
from their stored outputs, never executed, so the build takes about 30 s on two
cores. It runs in a subprocess: Sphinx's own deprecation warnings must not meet
this suite's warnings-as-errors filter.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("numpydoc")

from sphinx.util.inventory import InventoryFile

import syriaforecast

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-n",
            "-E",
            "-q",
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(out / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    assert "WARNING" not in run.stderr, run.stderr[-5000:]
    return out / "html"


def _inventory(site: Path) -> set[str]:
    with open(site / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    data = getattr(inventory, "data", inventory)  # Sphinx >= 8.2 wraps the mapping
    return {name for kind, entries in data.items() if kind.startswith("py:") for name in entries}


def test_every_top_level_name_has_an_api_entry(site: Path) -> None:
    documented = _inventory(site)
    missing = [name for name in syriaforecast.__all__ if f"syriaforecast.{name}" not in documented]
    assert not missing
    # ... and its page was written, with the docstring's summary line on it.
    page = (site / "_generated/api/generated/syriaforecast.forecast.html").read_text(encoding="utf-8")
    summary = (syriaforecast.forecast.__doc__ or "").strip().splitlines()[0]
    assert summary.split()[0] in page


def test_public_subpackages_are_documented(site: Path) -> None:
    """Every name in a public package's ``__all__`` is documented there or at the top level."""
    documented = _inventory(site)
    top = {id(getattr(syriaforecast, n)) for n in syriaforecast.__all__ if n != "__version__"}
    for package in (
        "syriaforecast.report",
        "syriaforecast.backtest",
        "syriaforecast.studies",
        "syriaforecast.scoring",
        "syriaforecast.phrases",
        "syriaforecast.errors",
        "syriaforecast.spec",
    ):
        module = importlib.import_module(package)
        for name in module.__all__:
            if id(getattr(module, name)) in top:
                assert f"syriaforecast.{name}" in documented
            else:
                assert f"{package}.{name}" in documented or any(
                    entry.endswith(f".{name}") and entry.startswith("syriaforecast.") for entry in documented
                ), f"{package}.{name}"


def test_notebooks_render_with_their_outputs(site: Path) -> None:
    pages = sorted((site / "_generated" / "notebooks").glob("*.html"))
    assert [p.stem for p in pages] == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    for page in pages:
        html = page.read_text(encoding="utf-8")
        # Stored figures are written out as image files the page shows.
        assert len(re.findall(r'<img[^>]+src="[^"]*\.png"', html)) >= 2, page.name
    # The gallery shows every figure stored in the notebooks.
    stored = sum(
        "image/png" in output.get("data", {})
        for path in (ROOT / "notebooks").glob("*.ipynb")
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
        for output in cell.get("outputs", [])
    )
    gallery = (site / "_generated" / "gallery" / "index.html").read_text(encoding="utf-8")
    assert stored >= 2 * len(pages)
    assert len(re.findall(r"<img", gallery)) == stored


def test_model_page_renders_equations_and_included_formats(site: Path) -> None:
    model = (site / "model.html").read_text(encoding="utf-8")
    assert "mathjax" in model.lower()
    assert model.count('class="math') >= 10  # display and inline maths handed to MathJax
    formats = (site / "model-format.html").read_text(encoding="utf-8")
    # The page is docs/model-format.md itself, so every one of its headings is on it.
    headings = re.findall(r"^#{2,3} (.+)$", (DOCS / "model-format.md").read_text(encoding="utf-8"), re.M)
    text = re.sub(r"<[^>]+>", "", formats)
    for heading in headings:
        assert heading.replace("`", "") in text, heading


def test_only_existing_objects_escape_nitpicky_mode() -> None:
    """The site's reference resolver lets through aliases and existing helpers, never a missing name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("syriaforecast_docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert conf.nitpicky is True
    # Third-party names only may dangle.
    assert all(not re.search(r"syriaforecast", pattern) for _, pattern in conf.nitpick_ignore_regex)
    # A defining-module path maps to the public name it is documented under.
    assert conf.ALIASES["syriaforecast.report.collection.collection_priorities"] == (
        "syriaforecast.report.collection_priorities"
    )
    assert conf._existing_private("syriaforecast.engine.evaluate.chain_terms_for_draws", None)
    assert not conf._existing_private("syriaforecast.no_such_function", None)
    assert not conf._existing_private("no_such_helper", "syriaforecast.report")
    assert conf._public_member("no_such_member") is None
    assert conf._public_member("problems") == "syriaforecast.ValidationError.problems"


def test_command_line_page_lists_every_option(site: Path) -> None:
    import argparse

    from syriaforecast.cli import _build_parser

    text = re.sub(r"<[^>]+>", "", (site / "_generated" / "cli.html").read_text(encoding="utf-8"))
    parser = _build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        assert f"syriaforecast {name}" in text
        for action in sub._actions:
            for option in action.option_strings:
                assert option in text, (name, option)
