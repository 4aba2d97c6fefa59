"""``junk-dna figures``: execute ``notebooks/figures.ipynb`` over the runs of every sweep."""

from __future__ import annotations

import os
from pathlib import Path

from junk_dna.runs.errors import NotebookError, SweepError
from junk_dna.runs.layout import DEFAULT_RUNS_DIR, ERROR_NAME, LOG_NAME
from junk_dna.runs.notebook import default_notebooks_dir, execute_notebook


def run_figures(
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    figures_dir: str | os.PathLike[str] = "figures",
    notebooks_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute ``figures.ipynb`` (parameters ``runs_dir``, ``figures_dir``, absolute) into
    ``<runs_dir>/figures/figures.ipynb``; return that path.

    Raises:
        SweepError: the notebook does not exist.
        NotebookError: the notebook failed (the message holds error.txt's text).
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    notebook = (folder / "figures.ipynb").resolve()
    if not notebook.is_file():
        raise SweepError(f"notebook 'figures.ipynb' not found in {folder} (set --notebooks-dir)")
    runs = Path(runs_dir).resolve()
    workdir = runs / "figures"
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (ERROR_NAME, LOG_NAME):
        (workdir / name).unlink(missing_ok=True)
    output = workdir / "figures.ipynb"
    rc = execute_notebook(notebook, output, {"runs_dir": os.fspath(runs),
                                             "figures_dir": os.fspath(Path(figures_dir).resolve())},
                          workdir)
    if rc != 0:
        text = (workdir / ERROR_NAME).read_text(encoding="utf-8", errors="replace")
        raise NotebookError(f"figures notebook failed (executed notebook: {output}, log: "
                            f"{workdir / LOG_NAME}):\n{text}")
    return output
