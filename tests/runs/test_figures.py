"""``junk-dna figures``: the figures notebook over the runs folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from junk_dna.cli import main
from tests.runs.helpers import FIXTURES, write_notebook

PILOT = Path(__file__).resolve().parents[2] / "pilot_runs"

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


@pytest.mark.slow
def test_figures_of_one_experiment_and_a_dense_only_one(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The real figures notebook over the pilot's option_count records and kshot's dense run
    only: the first figure (PNG, PDF, CSV) is drawn, the second skipped with its reason."""
    runs, figs = tmp_path / "runs", tmp_path / "figs"
    for run in sorted((PILOT / "option_count").glob("csqa_*")):
        shutil.copytree(run, runs / "option_count" / run.name)
    shutil.copytree(next((PILOT / "kshot").glob("arc_easy_s0_[0-9a-f]*")),
                    runs / "kshot" / "dense")
    assert main(["figures", "--runs-dir", str(runs), "--figures-dir", str(figs)]) == 0
    assert {p.name for p in figs.glob("option_count.*")} == {
        "option_count.png", "option_count.pdf", "option_count.csv"}
    assert not list(figs.glob("kshot.*")) and not list(figs.glob("true_gem.*"))
    text = (runs / "figures" / "figures.ipynb").read_text()
    assert "kshot: figure skipped: no pruned kshot runs with a dense baseline" in text
    assert "true_gem: no runs" in text
