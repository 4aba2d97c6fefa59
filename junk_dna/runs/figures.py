"""``junk-dna figures``: execute ``notebooks/figures.ipynb`` over the runs of every sweep."""

from __future__ import annotations

import os
from pathlib import Path

from junk_dna.runs.errors import NotebookError, RunFolderError, SweepError
from junk_dna.runs.layout import DEFAULT_RUNS_DIR, ERROR_NAME, LOG_NAME, usable_folder
from junk_dna.runs.notebook import default_notebooks_dir, execute_notebook


def run_figures(
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    figures_dir: str | os.PathLike[str] = "figures",
    notebooks_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute ``figures.ipynb`` (parameters ``runs_dir``, ``figures_dir``, absolute) into
    ``<runs_dir>/figures/figures.ipynb``; return that path. The notebook draws the figure of
    every experiment that has runs, and says which have none.

    Raises:
        SweepError: the notebook does not exist, ``runs_dir`` or ``figures_dir`` is a file
            or cannot be written, or ``<runs_dir>/figures`` is a symbolic link (the message
            names the path and the error).
        NotebookError: the notebook failed (the message holds error.txt's text).
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    notebook = (folder / "figures.ipynb").resolve()
    if not notebook.is_file():
        raise SweepError(f"notebook 'figures.ipynb' not found in {folder} (set --notebooks-dir)")
    runs = usable_folder(runs_dir, "runs folder").resolve()
    figures = usable_folder(figures_dir, "figures folder").resolve()
    if (runs / "figures").is_symlink():  # its old error.txt and log.txt are removed below
        raise SweepError(f"{runs / 'figures'} is a symbolic link; the figures notebook never "
                         "runs (nor removes files) through a link: remove it")
    workdir = usable_folder(runs / "figures", "figures notebook's folder")
    try:
        for name in (ERROR_NAME, LOG_NAME):
            (workdir / name).unlink(missing_ok=True)
    except OSError as err:
        raise SweepError(f"cannot clear {workdir}: {err}") from err
    output = workdir / "figures.ipynb"
    try:
        rc = execute_notebook(notebook, output, {"runs_dir": os.fspath(runs),
                                                 "figures_dir": os.fspath(figures)}, workdir)
    except RunFolderError as err:
        raise NotebookError(f"figures notebook could not run: {err}") from err
    if rc != 0:
        try:
            text = (workdir / ERROR_NAME).read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            text = f"(no {ERROR_NAME}: {err})"
        raise NotebookError(f"figures notebook failed (executed notebook: {output}, log: "
                            f"{workdir / LOG_NAME}):\n{text}")
    return output
