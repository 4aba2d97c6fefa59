"""The ``junk-dna`` command line: exit codes, messages, light start-up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from junk_dna.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_true_gem_smoke_dry_run_lists_three_runs(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "true_gem", "--preset", "smoke", "--dry-run",
                 "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  todo ")]
    assert len(lines) == 3
    assert [line.split()[1].split("_")[3] for line in lines] == ["dense", "sparse", "freeze"]
    assert "3 runs: 0 done, 3 to do" in out
    assert not (tmp_path / "true_gem").exists()


def test_unknown_preset_exits_2_listing_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "true_gem", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "['smoke', 'pilot', 'default', 'paper']" in err
    assert "Traceback" not in err


def test_unknown_experiment_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "nope", "--preset", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "true_gem" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["sweep", "true_gem"],  # --preset missing
    ["sweep", "true_gem", "--preset", "smoke", "--jobs", "0"],
    ["sweep", "true_gem", "--preset", "smoke", "--jobs", "two"],
    ["sweep", "true_gem", "--preset", "smoke", "--jobs", "Auto"],
    ["bogus"],
    [],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: junk-dna" in capsys.readouterr().err


def test_presets_lists_experiments_counts_and_descriptions(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "true_gem"]) == 0
    out = capsys.readouterr().out
    for name, count in (("smoke", 3), ("default", 40), ("paper", 882)):
        assert any(line.split()[:3] == [name, str(count), "runs,"] for line in out.splitlines())
    assert "roberta-large" in out
    assert main(["presets"]) == 0
    assert "true_gem" in capsys.readouterr().out
    assert main(["presets", "nope"]) == 2


def test_cli_start_is_light_and_runs_as_module() -> None:
    code = ("import sys, junk_dna.cli as c; rc = c.main(['sweep', 'true_gem']);"
            "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules, "
            "'pandas' in sys.modules)")
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout.split()
    assert out == ["2", "False", "False", "False"]
    assert time.monotonic() - start < 5
    proc = subprocess.run([sys.executable, "-m", "junk_dna.cli", "sweep", "true_gem",
                           "--preset", "nope"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_results_writes_the_tidy_table_portably(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`junk-dna results` over real records (the committed pilot): the same CSV from two
    copies in different places (run_dir relative), one row per run, metric and epoch."""
    import shutil

    import pandas as pd

    from junk_dna.results import collect

    pilot = REPO / "pilot_runs"
    copies = [tmp_path / "a" / "runs", tmp_path / "b" / "elsewhere"]
    for copy in copies:
        shutil.copytree(pilot / "kshot", copy / "kshot")
        shutil.copytree(pilot / "true_gem", copy / "true_gem")
    out = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for copy, csv in zip(copies, out, strict=True):
        assert main(["results", "--runs-dir", str(copy), "--csv", str(csv)]) == 0
    assert out[0].read_bytes() == out[1].read_bytes()
    table = pd.read_csv(out[0])
    assert len(table) == len(collect(copies[0]))
    assert set(table["experiment"]) == {"kshot", "true_gem"}
    assert all(not Path(d).is_absolute() and (copies[0] / d / "record.json").is_file()
               for d in table["run_dir"])
    capsys.readouterr()
    assert main(["results", "--runs-dir", str(copies[0]), "--which", "last",
                 "--experiment", "kshot"]) == 0
    shown = capsys.readouterr().out
    last = table[(table["which"] == "last") & (table["experiment"] == "kshot")]
    assert shown.count("\n") == len(last) + 1 and ",best," not in shown
    assert main(["results", "--runs-dir", str(copies[0]), "--experiment", "nope"]) == 2
    assert "['nope']" in capsys.readouterr().err
    assert main(["results", "--runs-dir", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["results", "--runs-dir", str(tmp_path / "empty")]) == 2
    assert "no finished runs" in capsys.readouterr().err


def test_a_preset_asking_for_more_questions_than_a_task_has_exits_2_in_a_dry_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The factoid_vs_mc paper preset as it was (n_questions 2000 also for ARC-Easy's 570
    questions) is refused by --dry-run, naming the experiment, the task and both counts."""
    preset = tmp_path / "old_paper.yaml"
    preset.write_text(
        "description: the factoid_vs_mc paper preset before the fix\n"
        "base: {model: lmsys/vicuna-7b-v1.3, dtype: float16, device_map: auto, task: triviaqa,\n"
        "       mc_task: arc_easy, n_questions: 2000, conditions: [mc, factoid],\n"
        "       max_new_tokens: 32, calibration: c4, n_calibration: 128,\n"
        "       calibration_seqlen: 2048}\n"
        "axes: {seed: [0]}\n"
        "blocks:\n"
        "  - {method: [dense]}\n"
        "  - {method: [magnitude, wanda, sparsegpt], pattern: [unstructured],\n"
        "     sparsity: [0.1, 0.5]}\n", encoding="utf-8")
    assert main(["sweep", "factoid_vs_mc", "--preset", str(preset), "--dry-run",
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert ("experiment 'factoid_vs_mc': task 'arc_easy' has 570 questions, but a run asks "
            "for 2000 (n_questions 2000)") in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()
    # the committed paper preset passes
    assert main(["sweep", "factoid_vs_mc", "--preset", "paper", "--dry-run",
                 "--runs-dir", str(tmp_path / "runs")]) == 0
