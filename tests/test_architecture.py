"""The house: stage folders in pipeline order, no import circle, small modules, a light command line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reportgen"
#: The folders in pipeline order. A module may import from its own folder and from the folders before it, never
#: from a later one: so the listing reads as the pipeline, and a stage's data types never need a later stage.
LAYERS = ("infra", "core", "config", "train", "teach", "media", "figures", "site")
#: The modules on top, which call the stages: they may import any folder.
TOP = {"build", "cli", "estimate", "__main__", "__init__"}
#: Folders on top of the pipeline, like the top modules: classroom/ runs the whole of it once per class.
TOP_FOLDERS = {"classroom"}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Return every module of the package by dotted name."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Return the package's modules that ``path`` imports, anywhere in it (lazy and typing-only imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != "reportgen":
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def test_no_module_imports_another_that_imports_it_back():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import circle: " + " -> ".join(cycle))


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "reportgen"


def test_a_stage_imports_only_itself_and_the_folders_before_it():
    wrong = []
    for name, targets in graph().items():
        here = layer(name)
        if here not in LAYERS:
            assert name == "reportgen" or name.split(".")[-1] in TOP or here in TOP_FOLDERS, \
                f"{name} is neither in a stage folder nor a top module"
            continue
        for target in targets:
            there = layer(target)
            if there not in LAYERS or LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_every_folder_says_what_its_stage_takes_and_gives_and_imports_nothing():
    for folder in LAYERS:
        init = PACKAGE / folder / "__init__.py"
        tree = ast.parse(init.read_text("utf-8"))
        assert ast.get_docstring(tree), f"{folder}/__init__.py has no docstring"
        assert all(isinstance(n, ast.Expr) for n in tree.body), f"{folder}/__init__.py runs code"


def test_no_module_is_over_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_a_dry_run_loads_neither_the_page_stack_nor_the_training_nor_the_drawing(tmp_path):
    code = ("import sys; from reportgen.cli import main; code = main(['build', '--dry-run', '-q']);"
            "print(code, sorted(m for m in ('jinja2', 'matplotlib', 'torch', 'reportgen.site.views') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 []"
