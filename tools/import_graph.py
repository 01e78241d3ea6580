"""Print the import graph of src/syriaforecast by layer; exit 1 on an upward import or a cycle.

Usage: ``python tools/import_graph.py [--src SRC]`` (no third-party dependencies).

Layers, lowest first; a module may import from its own layer and from layers
below it, never from a layer above (nor from another layer of the same rank):

    base      errors, _io, _maths, phrases, scoring, bundled (no syriaforecast imports
              beyond other base modules)
    spec      the model file and the evidence log: validated, pure data
    engine    arrays, compiled kernels, density, nutpie sampling, exact mode
    reference engine/reference: the same model in PyMC and PyTensor (loaded lazily)
    forecast  the Forecast result; its tripwire alerts and the journal of issued forecasts
    report    the forecast in an analyst's words and pictures
    studies   simulation studies on synthetic worlds (they may use the report's analyses)
    backtest  replay of resolved cases (and of a study's synthetic worlds)
    interface the command line (cli, _console, journal_cli) and the package's front door
              (syriaforecast/__init__)

Every import counts: at module level, inside functions (lazy imports) and
under ``TYPE_CHECKING``, since each one ties the lower module to the upper one.
A cycle is a strongly connected set of two or more modules.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "syriaforecast"
#: (rank, layer, module prefixes); the longest matching prefix decides a module's layer.
LAYERS: list[tuple[int, str, tuple[str, ...]]] = [
    (0, "base", ("errors", "_io", "_maths", "phrases", "scoring", "bundled", "_files", "_checks", "_outdir",
                 "_render", "_forecast_file", "cli_checks", "_xarray", "_compiling")),
    (1, "spec", ("spec",)),
    (2, "engine", ("engine",)),
    (3, "reference", ("engine.reference",)),
    (4, "forecast", ("forecast", "conditional", "alerts", "journal")),
    (5, "report", ("report",)),
    (6, "studies", ("studies",)),
    (7, "backtest", ("backtest",)),
    (8, "interface", ("cli", "_console", "journal_cli", "")),
]


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[int, str]:
    rest = module.removeprefix(PACKAGE).removeprefix(".")
    best: tuple[int, int, str] | None = None
    for rank, name, prefixes in LAYERS:
        for prefix in prefixes:
            matches = rest == prefix or (prefix != "" and rest.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank, name)
    if best is None:
        raise SystemExit(f"{module}: in no layer; add it to LAYERS in {__file__}")
    return best[1], best[2]


def imports_of(path: Path, module: str, modules: set[str]) -> set[str]:
    """The package modules ``module`` imports (a ``from X import y`` naming a submodule counts as X.y)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != module:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args(argv)
    src = args.src.resolve()
    paths = {module_name(p, src): p for p in sorted((src / PACKAGE).rglob("*.py"))}
    modules = set(paths)
    graph = {m: imports_of(p, m, modules) for m, p in paths.items()}
    layers = {m: layer_of(m) for m in modules}

    by_layer: dict[tuple[int, str], list[str]] = defaultdict(list)
    for m in sorted(modules):
        by_layer[layers[m]].append(m)
    upward: list[str] = []
    for key in sorted(by_layer):
        rank, name = key
        print(f"[{rank}] {name}")
        for m in by_layer[key]:
            short = m.removeprefix(PACKAGE + ".") if m != PACKAGE else f"{PACKAGE} (__init__)"
            deps = sorted(graph[m], key=lambda d: (layers[d], d))
            names = ", ".join(d.removeprefix(PACKAGE + ".") for d in deps)
            print(f"    {short}" + (f" <- {names}" if deps else ""))
            for d in deps:
                d_rank, d_name = layers[d]
                if d_rank > rank or (d_rank == rank and d_name != name):
                    upward.append(f"{m} ({name}) imports {d} ({d_name})")
    found = cycles(graph)
    print()
    for line in upward:
        print(f"UPWARD: {line}")
    for component in found:
        print(f"CYCLE: {' <-> '.join(component)}")
    edges = sum(len(v) for v in graph.values())
    print(f"{len(modules)} modules, {edges} imports, {len(upward)} upward, {len(found)} cycles")
    return 1 if upward or found else 0


if __name__ == "__main__":
    sys.exit(main())
