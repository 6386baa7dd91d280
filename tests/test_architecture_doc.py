"""ARCHITECTURE.md names only real things: every `*.py` path it mentions exists, and every
dotted name in backticks (`module.function`, `Class.method`, `module.Class.method`) resolves
by import and getattr. README.md links to it.

Paths: `tests/`, `bench/`, `tools/` and `bin/` paths are the repository's; `megatest/...` is
under lib/; any other path with a folder is under lib/megatest/. A bare `name.py` is in the
folder of the path named last before it in the same paragraph (else of the paragraph's
`**folder/**` heading), or at the top of lib/megatest/ (a foundation module).
"""
import ast
import dataclasses
import importlib
import os
import re

from conftest import REPO

LIB = REPO / "lib"
ROOT = LIB / "megatest"
DOC = REPO / "ARCHITECTURE.md"
REPO_FOLDERS = ("tests/", "bench/", "tools/", "bin/")
# the last word of a dotted name in backticks that makes it a file name, not code
FILE_WORDS = {"db", "json", "log", "config", "py", "sh", "csh", "md", "lock", "cmd", "dat",
              "html", "t", "txt"}
PATH = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.py)(?!\w)")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
HEADING = re.compile(r"\*\*([\w/]+)/\*\*")


def modules():
    """{dotted name: file} of every module of the library."""
    found = {}
    for path in ROOT.rglob("*.py"):
        dotted = ".".join(path.relative_to(LIB).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def classes():
    """{class name: [dotted module names defining it at top level]}."""
    found = {}
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(name)
    return found


CLASSES = classes()


def path_problems(text):
    problems = []
    for paragraph in re.split(r"\n\s*\n", text):
        heading = HEADING.match(paragraph.lstrip())
        folder = heading.group(1) if heading else ""
        for match in PATH.finditer(paragraph):
            path = match.group(1)
            if "/" in path:
                where = _where(path)
                folder = os.path.dirname(os.path.relpath(where, ROOT))
            elif path == "__init__.py":
                continue                      # every package has one
            else:                             # beside the last path, else a foundation module
                where = next((w for w in (ROOT / folder / path, ROOT / path) if w.is_file()),
                             ROOT / folder / path)
            if not os.path.isfile(where):
                problems.append(f"{path}: no file {os.path.relpath(where, REPO)}")
    return problems


def _where(path):
    if path.startswith(REPO_FOLDERS):
        return REPO / path
    if path.startswith("megatest/"):
        return LIB / path
    return ROOT / path


def name_problems(text):
    problems = []
    for span in re.findall(r"`([^`\n]+)`", text):
        span = span.removesuffix("()")
        if not DOTTED.fullmatch(span) or span.split(".")[-1] in FILE_WORDS:
            continue
        if not resolves(span):
            problems.append(f"`{span}` does not resolve")
    return problems


def resolves(ref):
    """Does REF name something: a module's attribute, a class's, or a dataclass field?"""
    parts = ref.split(".")
    if parts[0] == "megatest":           # a full module name, then attributes
        return any(_chain(importlib.import_module(".".join(parts[:n])), parts[n:])
                   for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in MODULES)
    owners = [importlib.import_module(m) for m in MODULES if m.split(".")[-1] == parts[0]]
    owners += [getattr(importlib.import_module(m), parts[0]) for m in CLASSES.get(parts[0], ())]
    return any(_chain(owner, parts[1:]) for owner in owners)


def _chain(obj, names):
    for n, name in enumerate(names):
        if hasattr(obj, name):
            obj = getattr(obj, name)
        elif dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)}:
            return n == len(names) - 1       # a field with a default factory: nothing follows
        else:
            return False
    return True


def test_every_path_exists():
    assert path_problems(DOC.read_text()) == []


def test_every_dotted_name_resolves():
    assert name_problems(DOC.read_text()) == []


def test_the_checks_find_wrong_names():
    text = ("**run/**\n`runner.py`, `run/no_such.py`, `nothing.py`, `Runner.run`, `Runner.no_such`, "
            "`db.update_test`, `db.no_such`, `Runer.run`, `megatest.store.db.no_such`, "
            "`Records.dirty`, `megatest.db`\n")
    assert path_problems(text) == ["run/no_such.py: no file lib/megatest/run/no_such.py",
                                   "nothing.py: no file lib/megatest/run/nothing.py"]
    assert name_problems(text) == ["`Runner.no_such` does not resolve", "`db.no_such` does not resolve",
                                   "`Runer.run` does not resolve",
                                   "`megatest.store.db.no_such` does not resolve"]


def test_readme_links_the_architecture_page_and_its_table_names_real_modules():
    readme = (REPO / "README.md").read_text()
    assert "](ARCHITECTURE.md)" in readme
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    assert path_problems(section) == []
