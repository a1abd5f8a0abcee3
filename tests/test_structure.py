"""The package's import graph: no cycle, and the library never imports a command-line module.

The graph is read from the source with `ast` (every `import` / `from ... import`, at module
level or inside a function), so an import hidden inside a function to dodge a cycle still
counts; importing `saess.a.b` also counts as importing the package `saess.a` (its `__init__`
runs first), so a package `__init__` that imports eagerly cannot hide a cycle. CLI modules: `saess/cli.py` and every `*/cli.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import saess

PACKAGE = Path(saess.__file__).resolve().parent


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package at `root`."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = [root.name, *f.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """(module -> the package's modules it imports, [(module, line, imported) inside functions])."""
    mods = module_names(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    inner: list[tuple[str, int, str]] = []
    for m, f in mods.items():
        tree = ast.parse(f.read_text(encoding="utf-8"), str(f))
        pkg = m if f.name == "__init__.py" else m.rpartition(".")[0]
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                in_function.update(id(n) for n in ast.walk(node) if n is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            hits = {t for t in targets if t in mods and t != m}
            if not hits:  # `import saess.a.b.c`: the deepest module of the package it names
                for t in targets:
                    while t and t not in mods:
                        t = t.rpartition(".")[0]
                    if t and t != m:
                        hits.add(t)
            # importing saess.a.b.c runs saess.a and saess.a.b (their __init__) first, unless m is
            # inside that package already: a package whose __init__ imports eagerly closes cycles too
            for h in list(hits):
                parent = h.rpartition(".")[0]
                while parent:
                    if parent in mods and parent != m and not m.startswith(parent + "."):
                        hits.add(parent)
                    parent = parent.rpartition(".")[0]
            graph[m] |= hits
            if id(node) in in_function:
                inner += [(m, node.lineno, h) for h in sorted(hits)]
                if not hits:
                    inner.append((m, node.lineno, ast.unparse(node)))
    return graph, inner


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def is_cli(module: str) -> bool:
    return module.rpartition(".")[2] == "cli"


def library_to_cli(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m, ts in graph.items() if not is_cli(m) for t in ts if is_cli(t))


# --- the package -------------------------------------------------------------------------
# Cycles inside the judge work in flight (judges/checksets <-> judges/gold, through imports
# inside functions; judges/correction <-> judges/measure). Remove each once it is broken:
# any other cycle fails now.
PENDING_CYCLES: list[list[str]] = []


def test_the_import_graph_has_no_cycle():
    graph, _ = import_graph(PACKAGE)
    assert len(graph) > 50 and graph["saess.cli"]  # the walk saw the package
    assert [c for c in cycles(graph) if c not in PENDING_CYCLES] == []


def test_the_library_never_imports_a_cli_module():
    graph, _ = import_graph(PACKAGE)
    assert {m for m in graph if is_cli(m)} >= {"saess.cli", "saess.generation.cli", "saess.evaluation.cli"}
    assert library_to_cli(graph) == []


# Modules whose imports move to the top in a change of their own (remove each when done).
PENDING_TOP_IMPORTS: set[str] = set()


def test_no_import_of_saess_inside_a_function():
    """Imports of the package's own modules go at the top (they were inside functions to dodge cycles)."""
    _, inner = import_graph(PACKAGE)
    own = sorted({m for m, _, t in inner if t.startswith("saess")})
    assert [m for m in own if m not in PENDING_TOP_IMPORTS] == []


def test_the_shared_helpers_live_once():
    """Device / dtype / one-line errors / batch-then-one-by-one are defined in one place."""
    defs: dict[str, list[str]] = {}
    for m, f in module_names(PACKAGE).items():
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defs.setdefault(node.name, []).append(m)
    assert defs["resolve_device"] == ["saess.runtime"] and defs["torch_dtype"] == ["saess.runtime"]
    assert defs["batch_then_one_by_one"] == ["saess.runtime"] and defs["AtomicJsonl"] == ["saess.runtime"]
    assert defs["one_line_errors"] == ["saess.flags"]
    for old in ("_device", "_dtype", "_one_line_errors", "load_model"):
        assert old not in defs, (old, defs.get(old))


# --- the checker itself: it finds what it must find --------------------------------------
def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root


def test_checker_finds_a_cycle_hidden_in_a_function_and_a_library_to_cli_edge(tmp_path):
    pkg = _write(tmp_path / "pkg", {
        "__init__.py": "",
        "cli.py": "from pkg.a import run\n",
        "a.py": "from pkg.b import helper\n\ndef run():\n    return helper()\n",
        "b.py": "def helper():\n    from pkg import a  # hidden inside a function\n    return a\n",
        "sub/__init__.py": "",
        "sub/cli.py": "import pkg.a\n",
        "sub/lib.py": "from ..sub.cli import x\n",  # relative, library -> CLI
    })
    graph, inner = import_graph(pkg)
    assert graph["pkg.cli"] == {"pkg.a"} and graph["pkg.sub.cli"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert library_to_cli(graph) == [("pkg.sub.lib", "pkg.sub.cli")]
    assert inner == [("pkg.b", 2, "pkg"), ("pkg.b", 2, "pkg.a")]


def test_checker_passes_a_clean_package(tmp_path):
    pkg = _write(tmp_path / "pkg", {
        "__init__.py": "from pkg.a import run\n",
        "cli.py": "from pkg import a\nfrom pkg.sub import lib\n",
        "a.py": "import os\n\nfrom pkg.sub.lib import helper\n\ndef run():\n    import json  # stdlib: not ours\n"
                "    return helper(json, os)\n",
        "sub/__init__.py": "",
        "sub/lib.py": "def helper(*a):\n    return a\n",
    })
    graph, inner = import_graph(pkg)
    assert cycles(graph) == [] and library_to_cli(graph) == []
    assert [t for _, _, t in inner if t.startswith("pkg")] == []


def test_checker_finds_a_cycle_through_an_eager_package_init(tmp_path):
    """pkg.ev's __init__ imports its runner, the runner a judge module, and the judge module a
    sibling of the runner: `import pkg.j.m` first fails at run time although no two modules import
    each other (the cycle saess.evaluation -> runner -> corrected -> judges.measure -> judges.gold
    -> saess.evaluation.store had this shape)."""
    pkg = _write(tmp_path / "pkg", {
        "__init__.py": "",
        "ev/__init__.py": "from pkg.ev.run import go\n",
        "ev/run.py": "from pkg.j.m import judge\n\ndef go():\n    return judge\n",
        "ev/store.py": "X = 1\n",
        "j/__init__.py": "",
        "j/m.py": "from pkg.ev.store import X\n\njudge = X\n",
    })
    graph, _ = import_graph(pkg)
    assert graph["pkg.j.m"] == {"pkg.ev", "pkg.ev.store"}
    assert graph["pkg.ev.run"] == {"pkg.j", "pkg.j.m"}  # its own package pkg.ev is not an edge
    assert cycles(graph) == [["pkg.ev", "pkg.ev.run", "pkg.j.m"]]
