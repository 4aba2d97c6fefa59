"""Repository hygiene: notebooks committed without outputs (the pre-commit hooks' rule), and no
reference to a file outside the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Where the package, its documentation and its notebooks live (what a reader follows).
TEXT_PLACES = ("junk_dna", "notebooks", "docs", "tools", "benchmarks", "README.md", "Makefile",
               "pyproject.toml", "environment.yml")
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".yaml", ".yml", ".toml", ".sh", ""}
#: A path outside the repository: the workplace's shared folder, or an absolute path into a
#: home or a work folder (a scratch folder a tool creates under /tmp is not a reference).
OUTSIDE = re.compile(r"shared/reference|\.\./shared|(?<![\w.])/(?:work|home|root|mnt)/")


def committed_notebooks() -> list[Path]:
    """Every ``.ipynb`` git tracks (every one in the work tree without git)."""
    try:
        names = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.ipynb")
                 if ".venv" not in p.parts]
    return sorted(ROOT / name for name in names)


def test_the_notebooks_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in committed_notebooks()}
    assert {"notebooks/true_gem.ipynb", "notebooks/figures.ipynb"} <= names


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata, path.name


def test_nbstripout_as_the_hook_runs_it_would_change_no_notebook() -> None:
    hook = {h["id"]: h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml")
                                                  .read_text())["repos"] for h in repo["hooks"]}
    args = hook["nbstripout"]["entry"].split()[1:]
    proc = subprocess.run([sys.executable, "-m", "nbstripout", *args, "--verify",
                           *map(str, committed_notebooks())], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_pre_commit_configuration_is_valid_and_has_both_hooks() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    ids = [h["id"] for repo in config["repos"] for h in repo["hooks"]]
    assert ids == ["nbstripout", "ruff"]
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config",
                           ".pre-commit-config.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def text_files() -> list[Path]:
    out = []
    for place in TEXT_PLACES:
        path = ROOT / place
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        out.extend(p for p in candidates if p.is_file() and p.suffix in TEXT_SUFFIXES
                   and "__pycache__" not in p.parts)
    return out


def test_no_reference_to_a_file_outside_the_repository() -> None:
    found = []
    for path in text_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "point to docs/PROTOCOL.md or a file in the repository:\n" + \
        "\n".join(found)


def test_the_protocol_is_in_the_repository() -> None:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text()
    for flag in ("--freeze_weights", "--freeze_weights_frompretrain", "--noembed",
                 "--validation_split_percentage", "--nm_ratio"):
        assert flag in text, flag
    assert "## Deliberate differences" in text
