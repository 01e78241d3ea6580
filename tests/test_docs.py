"""The documentation site builds with no warnings, and documents the whole public API.

One HTML build (``sphinx-build -W -n``: warnings are errors, every cross-reference
must resolve) in a temporary folder serves every test here. Notebooks are rendered
from their stored outputs, never executed, so the build takes about 30 s on two
cores. It runs in a subprocess: Sphinx's own deprecation warnings must not meet
this suite's warnings-as-errors filter.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("numpydoc")

from sphinx.util.inventory import InventoryFile  # noqa: E402

import syriaforecast  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-E", "-q",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
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
    return {name for kind, entries in inventory.data.items() if kind.startswith("py:") for name in entries}


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
    for package in ("syriaforecast.report", "syriaforecast.backtest", "syriaforecast.scoring",
                    "syriaforecast.phrases", "syriaforecast.errors", "syriaforecast.spec"):
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
    gallery = (site / "_generated" / "gallery" / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<img", gallery)) >= 3 * len(pages)


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


def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    """Nitpicky mode really is on: a reference to a name that does not exist fails the build."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(DOCS)!r})\n"
        "from conf import nitpicky, nitpick_ignore_regex, setup\n"
        "extensions = ['sphinx.ext.autodoc']  # the site's own resolver (setup) stays on\n"
        "html_theme = 'basic'\n",
        encoding="utf-8",
    )
    (src / "index.rst").write_text("Index\n=====\n\n:func:`syriaforecast.no_such_function`\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "dummy", "-W", "-n", "-q", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "no_such_function" in run.stderr
