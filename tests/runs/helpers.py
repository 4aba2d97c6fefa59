"""Helpers of the runs/ tests: preset files, two-cell notebooks, the records of a folder."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat

from junk_dna.experiments import get_experiment, register

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def write_preset(folder: Path, text: str, name: str = "grid.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def write_notebook(path: Path, parameters: str, body: str) -> None:
    """A two-cell notebook: a ``parameters`` cell and a body."""
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


def records(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob("*/record.json")}


@contextmanager
def experiment_resolver(name: str, resolve_model: Callable[..., Any]) -> Iterator[None]:
    """Experiment ``name`` with another model resolver (its seam) while in the block."""
    exp = get_experiment(name)
    register(dataclasses.replace(exp, resolve_model=resolve_model))
    try:
        yield
    finally:
        register(exp)


#: A sleepy preset (tests/conftest.py's plugin): one axis crossed with three overlapping blocks.
GRID = """
description: a grid
jobs: 2
base: {sleep: 0.0}
axes: {x: [1, 2]}
blocks:
  - {mode: [dense], level: [0.1, 0.2]}
  - {mode: [sparse], level: [0.1, 0.3]}
  - {mode: [sparse, dense], level: [0.1]}
"""
