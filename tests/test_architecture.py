"""The layout of lib/megatest is its architecture (ARCHITECTURE.md): each sub-package imports
only those below it, as LAYERS says, no two modules import each other however indirectly,
and the test side loads no third-party package. Every import counts, including those inside
functions, since they run too."""
import ast
import os
import re
import subprocess
import sys

import pytest

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
ROOT = os.path.join(LIB, "megatest")

# Each layer and what it may import (besides itself). The foundation is the top-level modules
# (errors, states, rollup, fsutil): every layer may import it, it imports no layer.
LAYERS = {
    "foundation": (),
    "config": ("foundation",),
    "store": ("foundation",),
    "launch": ("foundation", "config", "store"),
    "testside": ("foundation", "config", "store", "launch"),
    "run": ("foundation", "config", "store", "launch", "testside"),
    "report": ("foundation", "config", "store", "run"),
    "serve": ("foundation", "config", "store", "launch", "testside", "run", "report"),
    "logpro": ("foundation", "config"),
    "commands": ("foundation", "config", "store", "launch", "testside", "run", "report", "serve",
                 "logpro"),
}


def module_files():
    """{dotted module name: file} for every module of the library."""
    found = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, LIB)[:-3].replace(os.sep, ".")
                found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = module_files()


def imports_of(path):
    """The megatest modules a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
    return {name for name in found if name in MODULES and name != "megatest"}


GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def layer(module):
    parts = module.split(".")
    if len(parts) == 1 or len(parts) == 2 and not os.path.isdir(os.path.join(ROOT, parts[1])):
        return "foundation"
    return parts[1]


def test_every_sub_package_is_in_the_table():
    assert {layer(m) for m in MODULES if m != "megatest"} == set(LAYERS)


def test_no_layer_imports_one_above_it():
    upward = sorted(f"{m} ({layer(m)}) imports {d} ({layer(d)})"
                    for m, deps in GRAPH.items() if m != "megatest" for d in deps
                    if layer(d) != layer(m) and layer(d) not in LAYERS[layer(m)])
    assert upward == []


def cycles(graph):
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_test_side_loads_only_the_standard_library():
    """What runs inside a test (and is imported by mt-test and mt-exec) needs nothing
    installed beyond Python: no third-party package, however indirectly."""
    names = sorted(m for m in MODULES if layer(m) == "testside")
    code = ("import sys; before = set(sys.modules); import " + ", ".join(names) +
            "; print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": LIB},
                            capture_output=True, text=True, check=True).stdout.split()
    outside = sorted(m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names
                     and m.split(".")[0] != "megatest")
    assert outside == []


SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|BEGIN|COMMIT|"
                 r"ROLLBACK|ATTACH|PRAGMA)\b")


def sql_outside_store():
    """file:line of each string that starts an SQL statement, outside store/."""
    found = []
    for name, path in MODULES.items():
        if layer(name) == "store":
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.match(node.value):
                found.append(f"{os.path.relpath(path, LIB)}:{node.lineno}")
    return found


def test_sql_lives_in_the_store():
    assert sql_outside_store() == []


def test_the_sql_finder_finds_a_statement(tmp_path, monkeypatch):
    bad = tmp_path / "megatest" / "run" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text('def f(conn):\n    return conn.execute(f"SELECT id FROM tests WHERE x={1}")\n')
    monkeypatch.setitem(MODULES, "megatest.run.bad", str(bad))
    monkeypatch.setattr(sys.modules[__name__], "LIB", str(tmp_path))
    assert sql_outside_store() == ["megatest/run/bad.py:2"]


@pytest.mark.parametrize("package", sorted(set(LAYERS) - {"foundation"}))
def test_each_sub_package_says_what_it_is_and_may_import(package):
    doc = ast.get_docstring(ast.parse(open(os.path.join(ROOT, package, "__init__.py")).read()))
    assert doc and "May import" in doc, f"megatest/{package}/__init__.py"
