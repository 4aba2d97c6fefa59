"""``junk-dna figures``: the figures notebook over the runs folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from junk_dna.cli import main
from tests.runs.helpers import FIXTURES, write_notebook

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py


@pytest.mark.slow
def test_figures_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs, figs = tmp_path / "runs", tmp_path / "figs"
    (runs / "sleepy" / "a").mkdir(parents=True)
    (runs / "sleepy" / "a" / "record.json").write_text("{}")
    argv = ["figures", "--runs-dir", str(runs), "--figures-dir", str(figs)]
    assert main([*argv, "--notebooks-dir", str(FIXTURES / "notebooks")]) == 0
    assert (figs / "count.txt").read_text() == "1"
    assert (runs / "figures" / "figures.ipynb").exists()

    bad = tmp_path / "bad"
    bad.mkdir()
    write_notebook(bad / "figures.ipynb", "runs_dir = figures_dir = ''",
                   "raise ValueError('no records to plot')")
    capsys.readouterr()
    assert main([*argv, "--notebooks-dir", str(bad)]) == 1
    assert "ValueError: no records to plot" in capsys.readouterr().err
    assert main([*argv, "--notebooks-dir", str(tmp_path / "none")]) == 2
