"""Persistent workers (junk_dna.runs.kernels): one kernel per sweep slot, reset between runs.

Executions use the ``sleepy`` plugin experiment (``tests/fixtures/sleepy_experiment.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from junk_dna.cli import main
from junk_dna.runs.layout import RUNNER_NAME, run_folders
from junk_dna.runs.local import run_sweep
from junk_dna.runs.presets import expand_preset, load_preset
from tests.runs.helpers import FIXTURES

# A run that records its kernel's pid and whether a variable of an earlier run is visible.
BODY = """
import os
from pathlib import Path
from junk_dna.results.records import write_record
seen = "left_by_an_earlier_run" in globals()
left_by_an_earlier_run = True
if fail:
    raise RuntimeError(f"run x={x} fails on purpose")
write_record(run_dir, {
    "experiment": "sleepy", "run_id": Path(run_dir).name, "status": "ok",
    "params": dict(x=x, mode=mode, level=level, sleep=sleep, fail=fail, fail_flag=fail_flag),
    "final": {"last": {"value": x}, "best": {"value": x}},
    "resolved": {"pid": os.getpid(), "seen": seen, "cwd": os.getcwd()},
})
"""


pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py


def notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    params = nbformat.v4.new_code_cell(
        'x = 0\nmode = "sparse"\nlevel = 0.5\nsleep = 0.2\nfail = False\nfail_flag = ""\n'
        'run_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(BODY)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "sleepy.ipynb")
    return folder


def preset(folder: Path, text: str) -> str:
    path = folder / "grid.yaml"
    path.write_text(text)
    return str(path)


def in_order(runs: Path, path: str) -> list[tuple[dict, dict]]:
    """(record, runner.json) of every run, in the preset's order."""
    out = []
    for run in expand_preset("sleepy", load_preset("sleepy", path)):
        folder = runs / "sleepy" / run.run_id
        out.append((json.loads((folder / "record.json").read_text()),
                    json.loads((folder / RUNNER_NAME).read_text())))
    return out


@pytest.mark.slow
def test_runs_of_a_slot_share_one_kernel_and_nothing_else(tmp_path: Path) -> None:
    nbs = notebook(tmp_path / "nb")
    path = preset(tmp_path, "jobs: 1\naxes: {x: [1, 2, 3]}\n")
    result = run_sweep("sleepy", path, runs_dir=tmp_path / "runs", notebooks_dir=nbs,
                       progress=False)
    assert result.failed == [] and result.ran == 3
    done = in_order(tmp_path / "runs", path)
    assert [runner["kernel"] for _, runner in done] == ["new", "reused", "reused"]
    assert len({rec["resolved"]["pid"] for rec, _ in done}) == 1  # one kernel
    assert not any(rec["resolved"]["seen"] for rec, _ in done)  # namespace cleared
    for rec, _ in done:  # each run in its own folder, as a fresh kernel would be
        assert Path(rec["resolved"]["cwd"]).name == rec["run_id"]
    new, reused = done[0][1]["runner_s"], min(r["runner_s"] for _, r in done[1:])
    assert reused < new  # the kernel start is paid once


@pytest.mark.slow
def test_a_failed_run_gets_the_next_run_a_new_kernel(tmp_path: Path) -> None:
    nbs = notebook(tmp_path / "nb")
    path = preset(tmp_path, "jobs: 1\nblocks:\n  - {x: [1], fail: [true]}\n  - {x: [2, 3]}\n")
    result = run_sweep("sleepy", path, runs_dir=tmp_path / "runs", notebooks_dir=nbs,
                       progress=False)
    assert len(result.failed) == 1
    error = result.error_file(result.failed[0]).read_text()
    assert "RuntimeError: run x=1 fails on purpose" in error
    runs = [run.run_id for run in expand_preset("sleepy", load_preset("sleepy", path))]
    runners = [json.loads((tmp_path / "runs" / "sleepy" / r / RUNNER_NAME).read_text())
               for r in runs]
    assert [r["kernel"] for r in runners] == ["new", "new", "reused"]
    records = [json.loads((tmp_path / "runs" / "sleepy" / r / "record.json").read_text())
               for r in runs[1:]]
    assert records[0]["resolved"]["pid"] == records[1]["resolved"]["pid"]
    assert not any(rec["resolved"]["seen"] for rec in records)


@pytest.mark.slow
def test_fresh_kernel_flag_gives_every_run_its_own_kernel(tmp_path: Path) -> None:
    nbs = notebook(tmp_path / "nb")
    path = preset(tmp_path, "jobs: 1\naxes: {x: [1, 2]}\n")
    argv = ["sweep", "sleepy", "--preset", path, "--runs-dir", str(tmp_path / "runs"),
            "--notebooks-dir", str(nbs), "--no-progress", "--fresh-kernel"]
    assert main(argv) == 0
    done = in_order(tmp_path / "runs", path)
    assert [runner["kernel"] for _, runner in done] == ["new", "new"]
    assert done[0][0]["resolved"]["pid"] != done[1][0]["resolved"]["pid"]


def _processes_inside(folder: Path) -> list[int]:
    """Pids of processes whose working folder is inside ``folder`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if cwd == folder or folder in cwd.parents:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc")
def test_a_killed_sweep_leaves_no_worker_or_kernel_behind(tmp_path: Path) -> None:
    runs = (tmp_path / "runs").resolve()
    path = preset(tmp_path, "jobs: 2\nbase: {sleep: 30}\naxes: {x: [1, 2]}\n")
    proc = subprocess.Popen([sys.executable, "-m", "junk_dna.cli", "sweep", "sleepy",
                             "--preset", path, "--runs-dir", str(runs), "--no-progress"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_processes_inside(runs / "sleepy")) < 2:  # both kernels sleeping in their runs
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # the sweep only: its workers must notice
    proc.wait()
    deadline = time.monotonic() + 15
    while _processes_inside(runs / "sleepy") and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_inside(runs / "sleepy")
    for pid in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []


@pytest.mark.slow
def test_several_experiments_share_their_workers_and_are_all_validated_first(
        tmp_path: Path) -> None:
    import sleepy_experiment  # the plugin (tests/fixtures)

    from junk_dna.experiments import Experiment, register
    from junk_dna.runs.errors import PresetError, SweepError
    from junk_dna.runs.local import run_sweeps

    register(Experiment(name="sleepy_other", notebook="sleepy.ipynb",
                        validate=sleepy_experiment.validate,
                        default_notebook_dir=FIXTURES / "notebooks", protocol="other"))
    nbs = notebook(tmp_path / "nb")
    path = preset(tmp_path, "jobs: 1\naxes: {x: [1, 2]}\n")
    (tmp_path / "bad").mkdir()
    bad = preset(tmp_path / "bad", "axes: {x: ['not an int']}\n")
    with pytest.raises(SweepError, match="unknown experiment 'nope'"):
        run_sweeps(["sleepy", "nope"], path, runs_dir=tmp_path / "runs", progress=False)
    with pytest.raises(PresetError, match="not an int"):
        run_sweeps(["sleepy", "sleepy_other"], bad, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing ran: every input is checked first

    results = run_sweeps(["sleepy", "sleepy_other"], path, runs_dir=tmp_path / "runs",
                         notebooks_dir=nbs, progress=False)
    assert [(r.experiment, r.ran, r.failed) for r in results] == [
        ("sleepy", 2, []), ("sleepy_other", 2, [])]
    pids, kernels = set(), []
    for exp in ("sleepy", "sleepy_other"):
        for folder in run_folders(tmp_path / "runs" / exp):
            pids.add(json.loads((folder / "record.json").read_text())["resolved"]["pid"])
            kernels.append(json.loads((folder / RUNNER_NAME).read_text())["kernel"])
    assert len(pids) == 1 and sorted(kernels) == ["new", "reused", "reused", "reused"]
