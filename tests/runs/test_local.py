"""The local executor: dry runs, the lock, execution, failures, resume after a kill.

Executions use the ``sleepy`` plugin experiment (``tests/fixtures/sleepy_experiment.py`` and
``tests/fixtures/notebooks/sleepy.ipynb``): each run costs one papermill kernel (~3 s here).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from junk_dna.cli import main
from junk_dna.runs.errors import PresetError, SweepError, SweepLockedError
from junk_dna.runs.layout import run_folders, run_state, sweep_lock
from junk_dna.runs.local import auto_layout, run_sweep
from junk_dna.runs.notebook import available_cpus
from junk_dna.runs.presets import (
    expand_preset,
    load_preset,
)
from tests.runs.helpers import GRID, experiment_resolver, records, write_notebook, write_preset

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py



def test_paper_dry_run_works_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    assert main(["sweep", "true_gem", "--preset", "paper", "--dry-run",
                 "--runs-dir", str(tmp_path)]) == 0
    assert time.monotonic() - start < 20
    out = capsys.readouterr().out
    assert "882 runs: 0 done, 882 to do" in out and "qnli_f1_s41_dense_" in out
    # a real sweep checks the hub (here: unreachable) before anything runs, naming the model
    from junk_dna.models.encoders import resolve_model

    def no_hub(name: str, *, check_hub: bool = True):
        if check_hub:
            raise ValueError(f"unknown model {name!r}: the hub cannot be reached")
        return resolve_model(name, check_hub=False)

    with experiment_resolver("true_gem", no_hub), \
            pytest.raises(PresetError, match="'roberta-large'"):
        run_sweep("true_gem", "paper", runs_dir=tmp_path)
    assert not (tmp_path / "true_gem").exists()


def test_everything_validated_before_the_first_run(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2]}\n  - {x: [1.5]}\n")
    with pytest.raises(PresetError, match="1.5"):
        run_sweep("sleepy", path, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SweepError, match="sleepy.ipynb"):
        run_sweep("sleepy", write_preset(tmp_path, "axes: {x: [1]}\n", "ok.yaml"),
                  runs_dir=tmp_path / "runs", notebooks_dir=tmp_path)


def test_dry_run_prints_runs_and_executes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, GRID)
    runs = tmp_path / "runs"
    assert main(["sweep", "sleepy", "--preset", path, "--dry-run", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    for run in expand_preset("sleepy", load_preset("sleepy", path)):
        assert re.search(rf"todo +{run.run_id} +x={run.params['x']} ", out)
    assert "6 runs: 0 done, 6 to do" in out
    assert "fixed: sleep=0.0 fail=false fail_flag=\"\"" in out
    assert not runs.exists()  # no run folders, no lock


def test_lock_refuses_a_concurrent_sweep(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, "axes: {x: [1]}\n")
    runs = tmp_path / "runs"
    with sweep_lock(runs / "sleepy") as lock:
        start = time.monotonic()
        assert main(["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs)]) == 3
        assert time.monotonic() - start < 5
        assert str(lock) in capsys.readouterr().err
        with pytest.raises(SweepLockedError, match=re.escape(str(lock))):
            run_sweep("sleepy", path, runs_dir=runs)
        # a dry run takes no lock
        assert main(["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs),
                     "--dry-run"]) == 0
    assert not list((runs / "sleepy").glob("x=*"))  # nothing ran


@pytest.mark.slow
def test_failures_resume_and_corrupt_records(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    flag = tmp_path / "fail-flag"
    flag.touch()
    path = write_preset(tmp_path, f"base: {{sleep: 0}}\nblocks:\n  - {{x: [1, 2]}}\n"
                                  f"  - {{x: [4], fail_flag: ['{flag}']}}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    plan = expand_preset("sleepy", load_preset("sleepy", path))
    failing = plan[-1].run_id
    assert len(plan) == 3
    argv = ["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs), "--jobs", "2",
            "--no-progress"]

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{failing}: {root / failing / 'error.txt'}" in err and "1 failed" in err
    error = (root / failing / "error.txt").read_text()
    assert "RuntimeError: sleepy run x=4 failed on purpose" in error
    assert "Traceback" in error or "---->" in error  # the failing cell's traceback
    executed = nbformat.read(root / failing / "sleepy.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells
               for o in c.get("outputs", []))
    assert (root / failing / "log.txt").exists() and not (root / failing / "record.json").exists()
    done = records(root)
    assert sorted(done) == sorted(r.run_id for r in plan[:2])
    for rid, rec in done.items():
        assert rec["status"] == "ok"
        assert rec["resolved"]["python"] == sys.executable  # the kernel runs this interpreter
        assert rec["resolved"]["threads"] == rec["resolved"]["omp"] == str(
            max(1, available_cpus() // 2))
        assert Path(rec["resolved"]["cwd"]).resolve() == (root / rid).resolve()
        assert json.loads((root / rid / "params.json").read_text())["run_dir"] == str(
            (root / rid).resolve())

    # resume: the finished runs are skipped, the failed one is retried (and now succeeds)
    flag.unlink()
    first = {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done}
    result = run_sweep("sleepy", path, runs_dir=runs, progress=False)
    assert (result.skipped, result.ran, result.failed, result.todo) == (2, 1, [], 0)
    assert not (root / failing / "error.txt").exists()
    assert {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done} == first

    # a corrupt record is re-run (with a warning); an ok record of other params too
    (root / plan[0].run_id / "record.json").write_text('{"status": "ok", "par')
    rec = json.loads((root / plan[1].run_id / "record.json").read_text())
    rec["params"]["x"] = 99
    (root / plan[1].run_id / "record.json").write_text(json.dumps(rec))
    assert run_state(root / plan[1].run_id, plan[1].params) == "stale"
    with pytest.warns(UserWarning, match="corrupt record"):
        result = run_sweep("sleepy", path, runs_dir=runs, progress=False, jobs=2)
    assert (result.skipped, result.ran, result.failed) == (1, 2, [])
    assert all(rec["status"] == "ok" for rec in records(root).values())
    assert len(records(root)) == 3


@pytest.mark.slow
def test_notebook_without_record_is_a_failure(tmp_path: Path) -> None:
    write_notebook(tmp_path / "sleepy.ipynb", "x = 0\nrun_dir = ''", "print('forgot the record')")
    path = write_preset(tmp_path, "axes: {x: [5]}\n")
    result = run_sweep("sleepy", path, runs_dir=tmp_path / "runs", notebooks_dir=tmp_path,
                       progress=False)
    assert len(result.failed) == 1
    text = result.error_file(result.failed[0]).read_text()
    assert "record.json is missing" in text and '"x": 5' in text


@pytest.mark.slow
def test_killed_sweep_resumes_to_exactly_one_record_per_run(tmp_path: Path) -> None:
    """THE KEY TEST: SIGKILL the whole sweep (its process group) mid-way, then resume."""
    n = 4
    # runs of different lengths (2 s apart), whatever order they start in: when the first
    # record lands, the other running run is still mid-way (a folder without a record)
    blocks = "".join(f"  - {{x: [{x}], sleep: [{1.0 + 2 * x}]}}\n" for x in range(n))
    path = write_preset(tmp_path, f"jobs: 2\nblocks:\n{blocks}")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    cmd = [sys.executable, "-m", "junk_dna.cli", "sweep", "sleepy", "--preset", path,
           "--runs-dir", str(runs), "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(root.glob("*/record.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no record after 60 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    at_kill = len(list(root.glob("*/record.json")))
    assert 1 <= at_kill < n
    assert len(run_folders(root)) > at_kill  # runs killed mid-way

    result = run_sweep("sleepy", path, runs_dir=runs, progress=False)
    assert result.failed == [] and result.skipped >= at_kill and result.done == n
    folders = run_folders(root)
    assert len(folders) == n == result.total
    for folder in folders:
        assert [p.name for p in folder.glob("record*")] == ["record.json"]
        rec = json.loads((folder / "record.json").read_text())
        assert rec["status"] == "ok" and rec["run_id"] == folder.name
        assert not (folder / "error.txt").exists()
    assert sorted(rec["params"]["x"] for rec in records(root).values()) == list(range(n))


@pytest.mark.parametrize("cpus, runs, layout", [
    (2, 10, (2, 1)), (16, 40, (16, 1)),  # one 1-thread run per CPU
    (16, 3, (3, 5)), (4, 1, (1, 4)),  # fewer runs left than CPUs: they share the CPUs
    (1, 5, (1, 1)), (2, 0, (1, 2)),
])
def test_jobs_auto_layout(cpus: int, runs: int, layout: tuple[int, int]) -> None:
    assert auto_layout(cpus, runs) == layout


def test_jobs_auto_is_accepted_and_other_words_are_not(tmp_path: Path) -> None:
    from junk_dna.cli import build_parser

    argv = ["sweep", "sleepy", "--preset", "p", "--jobs"]
    assert build_parser().parse_args([*argv, "auto"]).jobs == "auto"
    assert build_parser().parse_args([*argv, "3"]).jobs == 3
    path = write_preset(tmp_path, GRID)
    out = io.StringIO()
    result = run_sweep("sleepy", path, runs_dir=tmp_path / "runs", jobs="auto", dry_run=True,
                       out=out)
    assert result.total == len(expand_preset("sleepy", load_preset("sleepy", path))) > 1
    with pytest.raises(SweepError, match="jobs 'many' must be an integer >= 1 or 'auto'"):
        run_sweep("sleepy", path, runs_dir=tmp_path / "runs", jobs="many", dry_run=True)
