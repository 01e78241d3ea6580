"""Sphinx configuration of the syriaforecast site (``make docs``).

Three things are generated at build time so that they follow the code and the
notebooks without anyone copying them by hand (all under ``docs/_generated``,
which is not committed):

- the API pages, one per public package, listing exactly the names in its
  ``__all__`` (a name exported by two packages is documented once, where the
  top-level package exports it);
- the notebooks, copied from ``notebooks/`` and rendered with their stored
  outputs (never executed here: ``nb_execution_mode = "off"``);
- the gallery: every figure stored in the notebooks' outputs, extracted to PNG
  files with a page that links each back to its notebook.

``docs/model-format.md`` and ``docs/errors.md`` are pages of the site as they are.
"""

from __future__ import annotations

import base64
import importlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

import syriaforecast  # noqa: E402

project = "syriaforecast"
author = "syriaforecast developers"
copyright = "2026, syriaforecast developers"
release = syriaforecast.__version__
version = release

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax served from the site itself: the build and its readers may be offline, where the
    # default CDN copy leaves every formula as raw TeX.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinx_design",
]

html_static_path = ["_static"]
html_css_files = ["custom.css"]

exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints", "_templates"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# --------------------------------------------------------------------------- MyST and notebooks
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
# model-format.md and errors.md link to their own sections by GitHub-style slugs.
myst_heading_anchors = 4
nb_execution_mode = "off"  # the notebooks carry the outputs of a real run; see tests/test_notebooks.py
nb_merge_streams = True
nb_output_stderr = "remove"  # sampler chatter, never results

# --------------------------------------------------------------------------- API
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's "Parameters" carry the types, written for people
# Members are documented in full by the class template (docs/_templates/autosummary).
numpydoc_show_class_members = False
# Parameter types are written for people ("(S,) array of float", "str or Path,
# optional"); linking each word would need intersphinx, which an offline build
# cannot reach (tried: 330 dangling references, nearly all Python/NumPy builtins).
numpydoc_xref_param_type = False

# Nitpicky mode keeps every explicit cross-reference honest. The site is built
# offline (no intersphinx), so references to other projects' objects cannot
# resolve; these are the only names allowed to dangle, all third-party.
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|pandas|pd|xarray|xr|matplotlib|scipy|pymc|pytensor|arviz|arviz_stats|nutpie"
        r"|pydantic|dask|distributed|concurrent)(\..*)?",
    ),
    (r"py:.*", r"(datetime|pathlib|os|collections|typing)\..*"),
]

# --------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"syriaforecast {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Pages without sub-pages get no (empty) section navigation.
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting-started",
        "model",
        "calibration",
        "model-format",
        "errors",
        "tutorials",
        "_generated/gallery/index",
        "_generated/cli",
    )
}
html_show_sourcelink = False
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

GENERATED = HERE / "_generated"

#: Public packages whose ``__all__`` gets an API page, in the order shown.
API_PACKAGES = {
    "syriaforecast": "The top-level package: load, forecast, save.",
    "syriaforecast.report": "What moved the forecast, what to collect next, plots and the HTML report.",
    "syriaforecast.backtest": "Replaying resolved cases, synthetic worlds, calibration studies.",
    "syriaforecast.studies": "Simulation studies: synthetic worlds, calibration, analysts, SBC.",
    "syriaforecast.journal": "The journal of issued forecasts: issue, list, score on resolution.",
    "syriaforecast.spec": "Model files and evidence logs as validated data.",
    "syriaforecast.scoring": "Proper scoring rules and calibration diagnostics.",
    "syriaforecast.phrases": "ICD 203 estimative language.",
    "syriaforecast.errors": "Exceptions and warnings.",
}


def public_api() -> dict[str, list[str]]:
    """Each public package and the names it documents (each object once, first package wins)."""
    seen: set[int] = set()
    pages: dict[str, list[str]] = {}
    for name in API_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # a package another branch has not landed yet
            continue
        names = []
        for attr in sorted(getattr(module, "__all__", [])):
            obj = getattr(module, attr)
            key = id(obj)
            if not isinstance(obj, str) and key in seen:
                continue
            seen.add(key)
            names.append(attr)
        pages[name] = names
    return pages


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _api_pages() -> None:
    pages = public_api()
    index = [
        "# API reference",
        "",
        "Every public name, from the numpydoc docstrings. Each package lists the names in its",
        "`__all__`; a name several packages export is documented where the top-level package",
        "exports it.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *pages,
        "```",
        "",
    ]
    _write_if_changed(GENERATED / "api" / "index.md", "\n".join(index))
    home = {}  # object id -> the public name it is documented under
    for package, names in pages.items():
        module = importlib.import_module(package)
        home.update({id(getattr(module, n)): f"{package}.{n}" for n in names})
    for package, names in pages.items():
        module = importlib.import_module(package)
        title = package
        lines = [title, "=" * len(title), "", API_PACKAGES[package], "", f".. currentmodule:: {package}", ""]
        if names:
            lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {name}" for name in names] + [""]
        elsewhere = [
            n
            for n in sorted(getattr(module, "__all__", []))
            if n not in names and id(getattr(module, n)) in home
        ]
        if elsewhere:
            lines += [
                "Also exported here, and documented where the top-level package exports them:",
                "",
                *(f"- :obj:`{package}.{n} <{home[id(getattr(module, n))]}>`" for n in elsewhere),
                "",
            ]
        _write_if_changed(GENERATED / "api" / f"{package}.rst", "\n".join(lines))


def _notebooks_and_gallery() -> None:
    target = GENERATED / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for stale in target.glob("*.ipynb"):
        if stale.name not in {s.name for s in sources}:
            stale.unlink()
    gallery = GENERATED / "gallery"
    images = gallery / "img"
    if images.exists():
        shutil.rmtree(images)
    images.mkdir(parents=True)
    cards = []
    for source in sources:
        text = source.read_bytes()
        copy = target / source.name
        if not copy.exists() or copy.read_bytes() != text:
            copy.write_bytes(text)
        notebook = json.loads(text)
        title = next(
            (
                line.lstrip("# ").strip()
                for cell in notebook["cells"]
                if cell["cell_type"] == "markdown"
                for line in "".join(cell["source"]).splitlines()
                if line.startswith("# ")
            ),
            source.stem,
        )
        k = 0
        for cell in notebook["cells"]:
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png is None:
                    continue
                k += 1
                name = f"{source.stem}_{k}.png"
                (images / name).write_bytes(base64.b64decode("".join(png) if isinstance(png, list) else png))
                cards.append((name, source.stem, title, k))
    lines = [
        "# Gallery",
        "",
        "Every figure in the tutorial notebooks, as stored from their last full run. Click a",
        "figure's caption to open the notebook that draws it, with the code.",
        "",
        "::::{grid} 1 2 2 2",
        ":gutter: 3",
        "",
    ]
    for name, stem, title, k in cards:
        lines += [
            f":::{{grid-item-card}} {title}, figure {k}",
            f":link: ../notebooks/{stem}",
            ":link-type: doc",
            "",
            f"![{title}, figure {k}](img/{name})",
            ":::",
            "",
        ]
    lines += ["::::", ""]
    _write_if_changed(gallery / "index.md", "\n".join(lines))


def _aliases() -> dict[str, str]:
    """Where each documented object is defined -> the public name it is documented under."""
    aliases = {}
    for package, names in public_api().items():
        module = importlib.import_module(package)
        for name in names:
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None)
            qualname = getattr(obj, "__qualname__", None)
            if isinstance(home, str) and isinstance(qualname, str):
                aliases[f"{home}.{qualname}"] = f"{package}.{name}"
    return aliases


def _existing_private(target: str, module: str | None) -> bool:
    """Whether ``target`` names an object of the package that is not public API."""
    candidates = [target]
    if module:
        candidates.append(f"{module}.{target}")
    for candidate in candidates:
        parts = candidate.split(".")
        for split in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            try:
                for attr in parts[split:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return candidate.startswith("syriaforecast.")
    # A bare name: a helper defined in one of the package's own modules.
    return "." not in target and any(
        hasattr(mod, target)
        for name, mod in list(sys.modules.items())
        if name.startswith("syriaforecast.") and mod is not None
    )


def _resolve(app, env, node, contnode):
    """Resolve references to where an object is defined, and render private helpers as code.

    Docstrings name objects by the module that defines them
    (``syriaforecast.report.collection.collection_priorities``); the site documents
    them under their public name (``syriaforecast.report.collection_priorities``).
    A reference to a helper that exists but is not public renders as plain code; a
    reference to nothing still fails the build.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    domain = env.get_domain("py")
    for real, public in ALIASES.items():
        if target == real or target.startswith(real + "."):
            return domain.resolve_xref(
                env,
                node["refdoc"],
                app.builder,
                node["reftype"],
                public + target[len(real) :],
                node,
                contnode,
            )
    member = _public_member(target)
    if member is not None:
        found = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", member, node, contnode)
        return found if found is not None else contnode
    if _existing_private(target, node.get("py:module")):
        return contnode
    return None


def _public_member(target: str) -> str | None:
    """The public path of ``attr`` or ``Class.attr`` when exactly one public class has it.

    A class docstring names its own members bare (``:attr:`problems```); in the
    package's summary table that text has no class around it. Instance
    attributes set in ``__init__`` and pydantic fields count as members.
    """
    *owner, attr = target.split(".")
    hits = []
    for package, names in PUBLIC.items():
        module = importlib.import_module(package)
        for name in names:
            cls = getattr(module, name)
            if not isinstance(cls, type) or (owner and owner != [name]):
                continue
            init = getattr(vars(cls).get("__init__"), "__code__", None)  # its own, not inherited
            if (
                attr in vars(cls)
                or attr in vars(cls).get("__annotations__", {})
                or (init is not None and attr in init.co_names)
            ):
                hits.append(f"{package}.{name}.{attr}")
    return hits[0] if len(hits) == 1 else None


def setup(app):
    """Register the CSV lexer alias and the reference resolver."""
    from pygments.lexers.special import TextLexer

    app.add_lexer("csv", TextLexer)  # Pygments has no CSV lexer; the examples stay plain
    app.connect("missing-reference", _resolve)


def _cli_page() -> None:
    """The command line reference: each command's ``--help``, as the parser prints it."""
    import argparse
    import os

    from syriaforecast.cli import _build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "92"  # argparse wraps help to the terminal's width
    try:
        parser = _build_parser()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        lines = [
            "# Command line",
            "",
            "The `syriaforecast` command, installed with the library. Each section is the command's",
            "own `--help`, generated from the parser when this site was built. Bad input exits with",
            "status 2 and a message naming the file, line or key, field, value and what is allowed",
            "(see [Errors](../errors.md)).",
            "",
            "```text",
            parser.format_help().rstrip(),
            "```",
            "",
        ]
        for name, sub in commands.items():
            lines += [f"## `syriaforecast {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    _write_if_changed(GENERATED / "cli.md", "\n".join(lines))


_api_pages()
_notebooks_and_gallery()
_cli_page()
ALIASES = _aliases()
PUBLIC = public_api()
