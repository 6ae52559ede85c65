"""The house's layout (docs/architecture.md): packages by layer that say what they may import, no
import cycle, no module past 300 lines, a thin handler.py, and an import-linter that refuses an
import running up a layer."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("lib", "local", "bench", "tools", "deploy", "compat")
LINE_LIMIT = 300


def _modules() -> dict[str, Path]:
    modules = {"handler": REPO / "handler.py"}
    for top in CHECKED:
        for path in (REPO / top).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, type-only imports and imports inside functions included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name and not (path.name == "__init__.py" and target.startswith(name + ".")):
            resolved.add(target)
    return resolved


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycle_anywhere():
    modules = _modules()
    graph = {name: _imports(path, name, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_past_the_line_limit_and_the_handler_stays_thin():
    long = {
        str(path.relative_to(REPO)): count
        for path in _modules().values()
        if path.name != "handler.py"
        and (count := len(path.read_text(encoding="utf-8").splitlines())) > LINE_LIMIT
    }
    assert long == {}
    assert len((REPO / "handler.py").read_text(encoding="utf-8").splitlines()) <= 50


def test_lib_is_packages_by_layer_each_saying_what_it_may_import():
    loose = [path.name for path in (REPO / "lib").glob("*.py") if path.name != "__init__.py"]
    assert len(loose) <= 8, loose
    packages = [path.parent for path in (REPO / "lib").glob("*/__init__.py")]
    assert len(packages) >= 8
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert docstring, f"{package.name}/__init__.py says nothing of its layer"
        assert "import" in docstring, f"{package.name}/__init__.py does not say which layers it may import"


def test_import_linter_refuses_an_import_up_a_layer(tmp_path):
    # Given a copy of lib/ in which the bottom layer imports the top one
    shutil.copytree(REPO / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # When import-linter reads it as it is, it passes
    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout[-2000:]
    errors = tmp_path / "lib" / "platform" / "errors.py"
    upward = "\nimport lib.http.app  # noqa\n"
    errors.write_text(errors.read_text(encoding="utf-8") + upward, encoding="utf-8")
    # Then with the upward import, it fails and names it
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0
    assert "lib.platform.errors -> lib.http.app" in broken.stdout
