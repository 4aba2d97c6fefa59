"""The package's layout rules, read from the source: no import cycle, no private name
imported across modules, runs/ light and its two executors independent, the CLI light."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "junk_dna"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def in_package(path: Path) -> bool:
    """Whether ``path`` is a junk_dna module: every folder down to it has an ``__init__``
    (the evaluate scripts of junk_dna/evaluation/metrics/ are package data, loaded by path)."""
    return all((d / "__init__.py").is_file() for d in path.parents if d.is_relative_to(PACKAGE))


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
                            if in_package(p)}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"))


@cache
def lazy_homes(package: str) -> dict[str, str]:
    """Name -> defining module of a package whose __init__ re-exports lazily."""
    homes: dict[str, str] = {}
    for node in ast.walk(tree(package)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            mapping = ast.literal_eval(node.args[1])
            homes.update({n: f"{package}.{m}" for m, names in mapping.items() for n in names})
    return homes


def imports(name: str) -> list[tuple[str, str | None, ast.AST]]:
    """Every import of a junk_dna module in ``name`` (module level, in functions, under
    TYPE_CHECKING): (the module imported from, the name imported or None, the node)."""
    out = []
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node) for a in node.names if a.name.startswith("junk_dna")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("junk_dna"):
            assert node.level == 0, f"{name}: relative import"
            out += [(node.module, a.name, node) for a in node.names]
    return out


def edges(name: str) -> set[str]:
    """The junk_dna modules ``name`` imports, a lazily re-exported name resolved to the
    module that defines it (the import that happens at run time)."""
    out = set()
    for module, imported, _ in imports(name):
        assert module in MODULES, f"{name} imports {module}, which is not a module"
        if imported is not None and f"{module}.{imported}" in MODULES:
            out.add(f"{module}.{imported}")  # from package import module
        elif imported is not None and imported in lazy_homes(module):
            out.add(lazy_homes(module)[imported])
        else:
            out.add(module)
    out.discard(name)
    return out


def closure(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for nxt in edges(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycle() -> None:
    graph = {name: edges(name) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []
    assert len(graph) > 40 and sum(map(len, graph.values())) > 80  # the walk found imports


def test_no_private_name_crosses_modules() -> None:
    found = []
    for name in MODULES:
        aliases = {}
        for module, imported, node in imports(name):
            if imported is not None and imported.startswith("_"):
                found.append(f"{name}:{node.lineno} from {module} import {imported}")
            if imported is None:
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
            elif f"{module}.{imported}" in MODULES:
                aliases[imported] = f"{module}.{imported}"
        for node in ast.walk(tree(name)):  # module._name on an imported junk_dna module
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []


def test_local_and_slurm_executors_never_import_each_other() -> None:
    assert "junk_dna.runs.slurm" not in closure("junk_dna.runs.local")
    assert "junk_dna.runs.local" not in closure("junk_dna.runs.slurm")
    core = {"junk_dna.runs.errors", "junk_dna.runs.layout", "junk_dna.runs.presets",
            "junk_dna.runs.notebook"}
    assert core <= closure("junk_dna.runs.local") & closure("junk_dna.runs.slurm")


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True).stdout.strip()


HEAVY = ("torch", "transformers", "pandas")


def test_runs_imports_no_torch_at_module_level() -> None:
    runs = sorted(n for n in MODULES if n.startswith("junk_dna.runs"))
    assert len(runs) >= 11
    code = (f"import importlib, sys\nfor m in {runs!r}: importlib.import_module(m)\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert run_python(code) == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["presets"], ["sweep", "--help"]])
def test_the_cli_imports_no_torch_or_pandas(argv: list[str]) -> None:
    code = ("import contextlib, io, sys\nfrom junk_dna.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): main({argv!r})\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert run_python(code) == "[]"


def test_the_light_modules_stay_light() -> None:
    """Validation imports these: a preset is checked without torch."""
    light = ["junk_dna.pruning.config", "junk_dna.results.records", "junk_dna.models.resolve",
             "junk_dna.experiments.true_gem", "junk_dna.experiments.zero_shot"]
    code = (f"import importlib, sys\nfor m in {light!r}: importlib.import_module(m)\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert run_python(code) == "[]"


def test_every_reexported_name_resolves() -> None:
    packages = sorted(n for n in MODULES if MODULES[n].name == "__init__.py" and lazy_homes(n))
    assert len(packages) == 10  # report.stats and report.claims are nested
    code = ("import importlib\n"
            f"for p in {packages!r}:\n"
            "    mod = importlib.import_module(p)\n"
            "    for name in mod.__all__: getattr(mod, name)\n"
            "print('ok')")
    assert run_python(code) == "ok"


def public_names(name: str) -> set[str]:
    """The public names a module defines (functions, classes, constants, aliases)."""
    out = set()
    for node in tree(name).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                out.update(e.id for e in (target.elts if isinstance(target, ast.Tuple)
                                          else [target]) if isinstance(e, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return {n for n in out if not n.startswith("_")}


@pytest.mark.parametrize("package", ["runs", "pruning", "models", "data", "training",
                                     "evaluation", "results", "report", "report.stats",
                                     "report.claims"])
def test_each_subpackage_reexports_the_public_names_of_its_modules(package: str) -> None:
    package = f"junk_dna.{package}"
    modules = [n for n in MODULES if n.startswith(package + ".")]
    want = {name: module for module in sorted(modules) for name in public_names(module)}
    homes = lazy_homes(package)
    assert set(homes) == set(want), "run tools/package_exports.py"
    for name, module in homes.items():
        assert name in public_names(module), (name, module)


def test_the_init_files_are_what_the_tool_generates() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "package_exports.py"),
                           "--check"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, f"run tools/package_exports.py:\n{proc.stdout}{proc.stderr}"
