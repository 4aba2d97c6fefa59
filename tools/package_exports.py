"""Rewrite (or check) the lazy re-exports of every junk_dna subpackage's ``__init__``.

    python tools/package_exports.py          # rewrite the __init__ files that differ
    python tools/package_exports.py --check  # exit 1, naming them, if any differs

Each subpackage re-exports every public name its modules define (functions, classes,
constants), per module, through :func:`junk_dna.lazy.lazy_exports`; the ``__init__``'s
docstring is kept. A nested subpackage (``report.stats``) has its own ``__init__``, and its
parent lists its names per module with a dotted key (``"stats.intervals": [...]``), so the
parent's lazy import goes straight to the defining module. The modules are read as text:
nothing is imported.
"""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: subpackage (dotted below junk_dna) -> its modules and nested subpackages, in the order
#: their names are listed
PACKAGES: dict[str, tuple[str, ...]] = {
    "runs": ("errors", "layout", "presets", "resources", "watchdog", "notebook", "kernels",
             "worker", "reuse", "cost", "local", "slurm", "figures"),
    "pruning": ("config", "selection", "masks", "series", "transfer", "calibration", "llm",
                "quantization"),
    "models": ("resolve", "gguf_header", "encoders", "causal_lm"),
    "data": ("glue_tasks", "qa_tasks", "human_scores", "encode_cache"),
    "training": ("precision", "compact", "finetune"),
    "evaluation": ("metric_modules", "glue_metrics", "lm_scoring", "chance"),
    "results": ("records", "table", "provenance"),
    "report": ("stats", "outcomes", "analysis", "claims", "plots", "config"),
    "report.stats": ("constants", "checks", "contrasts", "resampling", "intervals", "verdicts",
                     "power", "simulation", "calibration_grid"),
    "report.claims": ("constants", "conditions", "data", "finetune", "zero_shot", "audit",
                      "table", "markdown"),
}


def public_names(path: Path) -> list[str]:
    """The public top-level names ``path`` defines, in source order."""
    out = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                names += [e.id for e in elts if isinstance(e, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        out += [n for n in names if not n.startswith("_")]
    return out


def package_folder(package: str) -> Path:
    """The folder of ``junk_dna.<package>``."""
    return ROOT / "junk_dna" / package.replace(".", "/")


def module_exports(package: str) -> list[tuple[str, list[str]]]:
    """(module key, its public names) for every module of ``junk_dna.<package>``, in order;
    a nested subpackage contributes its modules under dotted keys."""
    out = []
    for module in PACKAGES[package]:
        nested = f"{package}.{module}"
        if nested in PACKAGES:
            out += [(f"{module}.{key}", names) for key, names in module_exports(nested)]
        else:
            out.append((module, public_names(package_folder(package) / f"{module}.py")))
    return out


def init_source(package: str) -> str:
    """The ``__init__.py`` text of ``junk_dna.<package>``."""
    folder = package_folder(package)
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")),
                            clean=False)
    lines = [f'"""{doc}"""', "", "from junk_dna.lazy import lazy_exports", "",
             "__all__, __getattr__, __dir__ = lazy_exports(__name__, {"]
    for module, names in module_exports(package):
        body = ", ".join(f'"{n}"' for n in names)
        lines.append(f'    "{module}": [')
        lines += [f"        {chunk}" for chunk in textwrap.wrap(body, 91)]
        lines.append("    ],")
    lines.append("})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    for package in PACKAGES:
        path = package_folder(package) / "__init__.py"
        want = init_source(package)
        if path.read_text(encoding="utf-8") != want:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(want, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'rewrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
