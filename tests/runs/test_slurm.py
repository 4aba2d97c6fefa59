"""``junk-dna sweep ... --executor slurm``: resources, dry run, submission, resume, requeue.

There is no SLURM here: the submissions go through submitit's ``local`` (one process per task)
or ``debug`` (in this process) executor, selected by ``JUNK_DNA_SUBMITIT_CLUSTER``; the tasks
run the same code as on SLURM. Runs use the ``sleepy`` plugin experiment (as test_local.py).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from junk_dna.cli import main
from junk_dna.results.records import write_record
from junk_dna.runs.errors import PresetError, SweepError
from junk_dna.runs.notebook import Launcher, available_cpus
from junk_dna.runs.presets import expand_preset, load_preset
from junk_dna.runs.resources import (
    SlurmResources,
    check_slurm_block,
    parse_overrides,
    resolve_resources,
)
from junk_dna.runs.slurm import (
    CLUSTER_ENV,
    ENDED_WORDS,
    RunTask,
    expand_job_ids,
    final_jobs,
    job_states,
    plan_submission,
    sacct_states,
    submit_sweep,
    task_threads,
)
from tests.runs.helpers import FIXTURES

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = FIXTURES / "notebooks" / "sleepy.ipynb"


@pytest.fixture(autouse=True)
def sleepy_plugin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Register ``sleepy`` (here and in children); put a fake ``sbatch`` first on PATH that
    records any call (nothing here may call it); return the file it would write."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.setenv("JUNK_DNA_PLUGINS", "sleepy_experiment")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(FIXTURES), str(REPO), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(CLUSTER_ENV, "local")
    called = tmp_path / "sbatch-called"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "sbatch"
    fake.write_text(f"#!/bin/sh\ntouch '{called}'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return called


def write_preset(folder: Path, text: str, name: str = "grid.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def records(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob("*/record.json")}


def argv(preset: str, runs: Path, *extra: str) -> list[str]:
    return ["sweep", "sleepy", "--preset", preset, "--runs-dir", str(runs), "--executor",
            "slurm", "--no-progress", *extra]


def wait_for(predicate, timeout_s: float = 90.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# --------------------------------------------------------------------------- resources


def test_resources_defaults_preset_and_overrides() -> None:
    assert resolve_resources({}) == SlurmResources()
    spec = load_preset("true_gem", "paper")
    res = resolve_resources(spec.slurm, parse_overrides(
        time="90", gpus="2", extra=["account=proj", "requeue"]))
    assert (res.partition, res.gpus_per_node, res.cpus_per_task, res.mem_gb,
            res.timeout_min, res.array_parallelism) == ("gpu", 2, 8, 64, 90, 32)
    assert res.additional == {"account": "proj", "requeue": True}
    params = res.executor_parameters("n")
    assert params["slurm_partition"] == "gpu" and params["timeout_min"] == 90
    assert params["slurm_additional_parameters"] == {"account": "proj", "requeue": True}
    for experiment in ("true_gem", "data_adequacy", "human_gap"):
        block = load_preset(experiment, "paper").slurm
        assert block["gpus_per_node"] == 1 and block["timeout_min"] >= 240
        assert load_preset(experiment, "smoke").slurm == {}


@pytest.mark.parametrize(("block", "expected"), [
    ([1], ["slurm [1]", "mapping", "partition"]),
    ({"timeout": 5}, ["'timeout'", "allowed", "timeout_min"]),
    ({"gpus_per_node": -1}, ["gpus_per_node -1", ">= 0"]),
    ({"gpus_per_node": True}, ["gpus_per_node True", "integer"]),
    ({"timeout_min": 1.5}, ["timeout_min 1.5", "whole minutes"]),
    ({"mem_gb": "64G"}, ["mem_gb '64G'", "number of GB"]),
    ({"partition": "a b"}, ["partition 'a b'", "partition name"]),
    ({"additional": {"array": "0-3"}}, ["'array'", "submitit manages"]),
    ({"additional": {"time": 5}}, ["'time'", "--time"]),
    ({"additional": {"qos": None}}, ["'qos'", "None"]),
    ({"setup": "module load cuda"}, ["setup", "list of shell lines"]),
])
def test_bad_preset_resources_name_the_value(block: object, expected: list[str]) -> None:
    with pytest.raises(PresetError) as err:
        check_slurm_block(block, "preset 'p': slurm")
    for part in expected:
        assert part in str(err.value), (part, str(err.value))


@pytest.mark.parametrize(("extra", "expected"), [
    (["--gpus", "-1"], ["--gpus '-1'", ">= 0"]),
    (["--gpus", "two"], ["--gpus 'two'", "integer"]),
    (["--time", "4h"], ["--time '4h'", "whole minutes"]),
    (["--time", "0"], ["--time '0'", ">= 3"]),
    (["--time", "2"], ["--time '2'", ">= 3", "90 s before its time limit"]),
    (["--cpus-per-task", "0"], ["--cpus-per-task '0'", ">= 1"]),
    (["--mem-gb", "lots"], ["--mem-gb 'lots'", "number of GB > 0"]),
    (["--mem-gb", "nan"], ["--mem-gb 'nan'", "number of GB > 0"]),
    (["--array-parallelism", "0"], ["--array-parallelism '0'", ">= 1"]),
    (["--partition", "gpu;rm"], ["--partition 'gpu;rm'", "partition name"]),
    (["--slurm-extra", "output=x"], ["--slurm-extra 'output=x'", "submitit manages"]),
    (["--slurm-extra", "partition=x"], ["'partition'", "--partition"]),
    (["--slurm-extra", "=x"], ["--slurm-extra '=x'", "KEY=VALUE"]),
    (["--jobs", "2"], ["--jobs 2", "--array-parallelism"]),
])
def test_bad_flags_fail_before_anything_is_submitted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sleepy_plugin: Path,
        extra: list[str], expected: list[str]) -> None:
    path = write_preset(tmp_path, "axes: {x: [1]}\n")
    runs = tmp_path / "runs"
    for dry in ([], ["--dry-run"]):
        assert main(argv(path, runs, *extra, *dry)) == 2
        err = capsys.readouterr().err
        for part in expected:
            assert part in err, (part, err)
        assert "Traceback" not in err
    assert not runs.exists() and not sleepy_plugin.exists()


def test_bad_preset_block_and_misused_flags_exit_2(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    bad = write_preset(tmp_path, "axes: {x: [1]}\nslurm: {gpus_per_node: -2}\n", "bad.yaml")
    assert main(argv(bad, runs)) == 2
    assert "gpus_per_node -2" in capsys.readouterr().err
    good = write_preset(tmp_path, "axes: {x: [1]}\n")
    local = ["sweep", "sleepy", "--preset", good, "--runs-dir", str(runs)]
    assert main([*local, "--partition", "gpu", "--wait"]) == 2
    assert "--partition, --wait only apply to --executor slurm" in capsys.readouterr().err
    assert main([*local, "--executor", "pbs"]) == 2
    assert "invalid choice: 'pbs'" in capsys.readouterr().err
    assert not runs.exists()


def test_no_sbatch_exits_2_before_submitting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(CLUSTER_ENV, "slurm")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = write_preset(tmp_path, "axes: {x: [1]}\n")
    assert main(argv(path, tmp_path / "runs")) == 2
    assert "'sbatch' is not on PATH" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    monkeypatch.setenv(CLUSTER_ENV, "pbs")
    with pytest.raises(SweepError, match=r"'pbs'.*\['slurm', 'local', 'debug'\]"):
        submit_sweep("sleepy", path, runs_dir=tmp_path / "runs")


# --------------------------------------------------------------------------- dry run


def test_paper_dry_run_prints_the_array_and_resources_without_submitting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        sleepy_plugin: Path) -> None:
    import submitit

    def no_executor(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dry run built an executor")

    monkeypatch.setattr(submitit, "AutoExecutor", no_executor)
    monkeypatch.setenv(CLUSTER_ENV, "slurm")
    start = time.monotonic()
    assert main(["sweep", "true_gem", "--preset", "paper", "--executor", "slurm", "--dry-run",
                 "--runs-dir", str(tmp_path)]) == 0
    assert time.monotonic() - start < 20
    out = capsys.readouterr().out
    assert "job array 1/1: 882 tasks (--array=0-881%32), job name junk-dna-true_gem-paper" in out
    assert ("resources per task: partition=gpu gpus=1 cpus=8 mem=64GB time=480min (8:00:00) "
            "array_parallelism=32") in out
    for line in ("#SBATCH --array=0-881%32", "#SBATCH --gpus-per-node=1", "#SBATCH --mem=64GB",
                 "#SBATCH --partition=gpu", "#SBATCH --time=480", "#SBATCH --cpus-per-task=8",
                 f"#SBATCH --output={tmp_path.resolve()}/true_gem/.slurm/logs/%A_%a/"):
        assert line in out, line
    tasks = re.findall(r"^  \[ *(\d+)\] (\S+)$", out, re.M)
    assert [int(k) for k, _ in tasks] == list(range(882))
    runs = expand_preset("true_gem", load_preset("true_gem", "paper"), check_hub=False)
    assert [rid for _, rid in tasks] == [run.run_id for run in runs]
    assert out.rstrip().endswith("882 runs: 0 done, 0 in flight, 882 to submit in 1 job "
                                 "array(s) (dry run, nothing submitted)")
    assert not (tmp_path / "true_gem").exists() and not sleepy_plugin.exists()

    # flags override the preset; more runs than max_array_size make several arrays
    assert main(["sweep", "true_gem", "--preset", "paper", "--executor", "slurm", "--dry-run",
                 "--runs-dir", str(tmp_path), "--partition", "a100", "--time", "90",
                 "--array-parallelism", "8", "--slurm-extra", "account=proj"]) == 0
    out = capsys.readouterr().out
    assert "partition=a100 gpus=1 cpus=8 mem=64GB time=90min (1:30:00) array_parallelism=8 " \
           "--account=proj" in out
    assert "#SBATCH --array=0-881%8" in out and "#SBATCH --account=proj" in out
    path = write_preset(tmp_path, "axes: {x: [1, 2, 3]}\nslurm: {max_array_size: 2}\n")
    assert main(argv(path, tmp_path / "runs", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "job array 1/2: 2 tasks (--array=0-1%2)" in out
    assert "job array 2/2: 1 task (submitted as a plain job, not an array)" in out
    assert "3 runs: 0 done, 0 in flight, 3 to submit in 2 job array(s)" in out


def fake_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, out: str = "",
                 rc: int = 0, err: str = "") -> Path:
    """A fake SLURM client command first on PATH: prints ``out`` (and ``err`` on stderr),
    exits ``rc``, appends its arguments to the returned file."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / f"{name}-calls"
    (bin_dir / name).write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\ncat <<'EOF'\n{out}EOF\n"
                                f"echo '{err}' >&2\nexit {rc}\n")
    (bin_dir / name).chmod(0o755)
    if not os.environ["PATH"].startswith(str(bin_dir)):
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


NO_CONTROLLER = "squeue: error: Unable to contact slurm controller (connect failure)"
NO_ACCOUNTING = "Slurm accounting storage is disabled"


@pytest.mark.filterwarnings("ignore:unreadable submission record")
def test_in_flight_runs_are_not_submitted_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, "axes: {x: [0, 1, 2, 3]}\n")
    runs = expand_preset("sleepy", load_preset("sleepy", path))
    ids = [r.run_id for r in runs]
    root = tmp_path / "runs" / "sleepy"
    (root / ".slurm" / "ended").mkdir(parents=True)
    (root / ".slurm" / "20240101-000000-000000.json").write_text(json.dumps({
        "token": "t1", "cluster": "slurm", "jobs": {r.run_id: f"77_{i}" for i, r in
                                                    enumerate(runs[:3])}}))
    (root / ".slurm" / "ended" / f"{runs[2].run_id}.json").write_text(
        json.dumps({"submission": "t1", "status": "failed"}))
    (root / ".slurm" / "20230101-000000-000000.json").write_text("{corrupt")

    def plan(**kwargs: object):
        with pytest.warns(UserWarning, match="unreadable submission record"):
            return plan_submission(runs, root, **kwargs)

    # neither squeue nor sacct answers: the jobs without an ended marker stay in flight,
    # their state unknown (never "queued or running")
    squeue = fake_command(tmp_path, monkeypatch, "squeue", rc=1, err=NO_CONTROLLER)
    fake_command(tmp_path, monkeypatch, "sacct", rc=1, err=NO_ACCOUNTING)
    p = plan()
    assert p.in_flight == {ids[0]: "77_0", ids[1]: "77_1"}
    assert [r.run_id for r in p.todo] == [ids[2], ids[3]]
    assert p.states == {"77_0": "UNKNOWN", "77_1": "UNKNOWN"}
    assert "Unable to contact slurm controller" in p.unknown and NO_ACCOUNTING in p.unknown
    assert "-r -t all -o %i|%T -j 77" in squeue.read_text()
    assert main(argv(path, tmp_path / "runs", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert f"in flight  {ids[0]}  (job 77_0, state unknown: squeue exited 1" in out
    assert "queued or running" not in out

    # without accounting: a job squeue no longer lists has ended (cancelled, killed, ...)
    fake_command(tmp_path, monkeypatch, "squeue", "77_1|RUNNING\n")
    p = plan()
    assert p.in_flight == {ids[1]: "77_1"} and p.unknown is None
    assert [r.run_id for r in p.todo] == [ids[0], ids[2], ids[3]]
    assert p.states == {"77_0": "ENDED", "77_1": "RUNNING"} and p.previous == {ids[0]: "77_0"}
    assert main(argv(path, tmp_path / "runs", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert f"] {ids[0]}  (again: job 77_0 {ENDED_WORDS})" in out
    assert f"in flight  {ids[1]}  (job 77_1 RUNNING; --resubmit to submit again)" in out
    assert "4 runs: 0 done, 1 in flight, 3 to submit" in out

    # recently ended jobs are listed with their final state; a preempted job that squeue
    # still lists may be requeued by SLURM: in flight
    fake_command(tmp_path, monkeypatch, "squeue", "77_0|CANCELLED\n77_1|PREEMPTED\n")
    p = plan()
    assert p.in_flight == {ids[1]: "77_1"} and p.previous == {ids[0]: "77_0"}
    assert p.states == {"77_0": "CANCELLED", "77_1": "PREEMPTED"}

    # squeue fails, sacct answers: only its final states count (PREEMPTED does not)
    fake_command(tmp_path, monkeypatch, "squeue", rc=1, err=NO_CONTROLLER)
    fake_command(tmp_path, monkeypatch, "sacct", "77_0|COMPLETED\n77_1|PREEMPTED\n"
                                                 "77_[3-5%2]|PENDING\n")
    p = plan()
    assert p.in_flight == {ids[1]: "77_1"} and p.previous == {ids[0]: "77_0"}
    assert p.unknown is None

    # squeue knows none of them any more; sacct says how they ended (PREEMPTED: not requeued)
    fake_command(tmp_path, monkeypatch, "squeue", rc=1,
                 err="slurm_load_jobs error: Invalid job id specified")
    fake_command(tmp_path, monkeypatch, "sacct", "77_0|CANCELLED by 0\n77_1|PREEMPTED\n")
    p = plan()
    assert p.in_flight == {} and p.states == {"77_0": "CANCELLED", "77_1": "PREEMPTED"}
    assert [r.run_id for r in p.todo] == ids
    assert [r.run_id for r in plan_submission(runs, root, resubmit=True).todo] == ids


def test_job_states_and_final_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_command(tmp_path, monkeypatch, "squeue", "5_0|PENDING\n5_1|COMPLETING\n6|FAILED\n")
    fake_command(tmp_path, monkeypatch, "sacct", rc=1, err=NO_ACCOUNTING)
    states = job_states(["5_0", "5_1", "5_2", "6"])
    assert states.states == {"5_0": "PENDING", "5_1": "COMPLETING", "5_2": "ENDED", "6": "FAILED"}
    assert states.gone == {"5_2"} and states.unknown is None
    assert final_jobs(["5_0", "5_1", "5_2", "6"]) == {"5_2", "6"}
    assert final_jobs([]) == set()
    fake_command(tmp_path, monkeypatch, "squeue", rc=1, err=NO_CONTROLLER)
    assert final_jobs(["5_0"]) is None


def test_threads_follow_the_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    cpus = available_cpus()
    assert task_threads({}) == cpus
    assert task_threads({"SLURM_CPUS_PER_TASK": "1", "SLURM_CPUS_ON_NODE": "2"}) == 1
    assert task_threads({"SLURM_CPUS_ON_NODE": "1"}) == 1
    assert task_threads({"SLURM_CPUS_PER_TASK": "x", "SLURM_CPUS_ON_NODE": "1"}) == 1
    assert task_threads({"SLURM_CPUS_PER_TASK": str(cpus + 8)}) == cpus
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert task_threads() == 1


# --------------------------------------------------------------------------- the array task


def run_of(tmp_path: Path, text: str = "axes: {x: [7]}\n"):
    path = write_preset(tmp_path, text, "one.yaml")
    return expand_preset("sleepy", load_preset("sleepy", path))[0]


def test_checkpoint_requeues_the_same_run_and_stops_its_runner(tmp_path: Path) -> None:
    import cloudpickle
    from submitit.helpers import DelayedSubmission

    run = run_of(tmp_path)
    task = RunTask(tmp_path / "runs", NOTEBOOK, "tok")
    launcher = Launcher(0.0)
    log = tmp_path / "sleep.log"
    rc: list[int | None] = []
    worker = threading.Thread(target=lambda: rc.append(launcher.run(
        [sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path,
        env=dict(os.environ), log=log)))
    worker.start()
    wait_for(lambda: launcher._procs, 10, "the runner")
    task._launcher = launcher  # as while __call__ runs
    delayed = task.checkpoint(run)
    assert isinstance(delayed, DelayedSubmission)
    assert delayed.function is task and delayed.args == (run,) and delayed.kwargs == {}
    worker.join(10)
    assert not worker.is_alive() and rc and rc[0] != 0  # the runner was terminated
    assert launcher.stopping
    # what submitit pickles for the requeued job: the same task and run, no runtime state
    again = cloudpickle.loads(cloudpickle.dumps(delayed))
    assert again.function == task and again.args == (run,)
    assert again.function._launcher is None
    assert RunTask(tmp_path / "runs", NOTEBOOK, "tok").checkpoint(run).args == (run,)


def test_requeued_task_skips_a_run_whose_record_exists(tmp_path: Path) -> None:
    run = run_of(tmp_path)
    root = tmp_path / "runs" / "sleepy"
    path = write_record(root / run.run_id, {"experiment": "sleepy", "run_id": run.run_id,
                                            "status": "ok", "params": run.params, "final": {}})
    before = path.stat().st_mtime_ns
    task = RunTask(root, NOTEBOOK, "tok")
    assert task(run) == "skipped"
    assert path.stat().st_mtime_ns == before
    assert sorted(p.name for p in (root / run.run_id).iterdir()) == ["record.json"]
    ended = json.loads((root / ".slurm" / "ended" / f"{run.run_id}.json").read_text())
    assert ended["submission"] == "tok" and ended["status"] == "ok"


@pytest.mark.slow
def test_timed_out_task_requeues_then_gives_up_with_an_error(tmp_path: Path) -> None:
    """A real submitit timeout signal: checkpoint, requeue, and after the last allowed
    timeout an error.txt (the run is then submitted again by the next resume)."""
    import submitit

    run = run_of(tmp_path, "base: {sleep: 60}\naxes: {x: [8]}\n")
    root = tmp_path / "runs" / "sleepy"
    executor = submitit.LocalExecutor(tmp_path / "logs" / "%j", max_num_timeout=1)
    # the task has signal_delay_s (+1 s) between submitit's timeout signal and its kill to
    # stop its worker (grace 5 s) and write error.txt and its end marker: 2 s was too short
    # on a loaded machine (the marker was missing)
    executor.update_parameters(timeout_min=8 / 60, signal_delay_s=5)
    job = executor.submit(RunTask(root, NOTEBOOK, "tok"), run)
    start = time.monotonic()
    job.wait()
    assert time.monotonic() - start < 55  # two timeouts of 8 s, not the run's 60 s sleep
    log = (job.stdout() or "") + (job.stderr() or "")
    assert log.count("Calling checkpoint method") == 2, log
    assert "Requeued job" in log and "timed-out too many times" in log, log
    error = (root / run.run_id / "error.txt").read_text()
    assert "timed-out too many times" in error
    assert not (root / run.run_id / "record.json").exists()
    ended = json.loads((root / ".slurm" / "ended" / f"{run.run_id}.json").read_text())
    assert ended["status"] == "failed"
    assert [r.run_id for r in plan_submission([run], root).todo] == [run.run_id]


# --------------------------------------------------------------------------- submission


@pytest.mark.slow
def test_submit_resume_and_exactly_one_record_per_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], sleepy_plugin: Path) -> None:
    flag = tmp_path / "fail-flag"
    flag.touch()
    path = write_preset(tmp_path, f"base: {{sleep: 1.0}}\nblocks:\n  - {{x: [1, 2]}}\n"
                                  f"  - {{x: [4], fail_flag: ['{flag}']}}\n"
                                  "slurm: {timeout_min: 5, array_parallelism: 3}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    plan = expand_preset("sleepy", load_preset("sleepy", path))
    ids = [run.run_id for run in plan]
    failing = ids[-1]

    # 1. submission returns at once, recording the job ids
    assert main(argv(path, runs)) == 0
    err = capsys.readouterr().err
    assert "0 already done, 0 in flight, 3 submitted as job array(s)" in err
    (record_file,) = (root / ".slurm").glob("*.json")
    record = json.loads(record_file.read_text())
    assert list(record["jobs"]) == ids and record["cluster"] == "local"
    assert str(record_file) in err

    # 2. submitting again while the jobs run submits nothing
    assert main(argv(path, runs)) == 0
    assert "0 already done, 3 in flight, nothing to submit" in capsys.readouterr().err
    assert len(list((root / ".slurm").glob("*.json"))) == 1

    wait_for(lambda: len(list((root / ".slurm" / "ended").glob("*.json"))) == 3, 120,
             "the 3 tasks")
    done = records(root)
    assert sorted(done) == sorted(ids[:2])
    assert "sleepy run x=4 failed on purpose" in (root / failing / "error.txt").read_text()
    for rid, rec in done.items():
        assert rec["status"] == "ok" and rec["run_id"] == rid
        assert Path(rec["resolved"]["cwd"]).resolve() == (root / rid).resolve()
        assert rec["resolved"]["python"] == sys.executable
    logs = root / ".slurm" / "logs"
    assert {p.name for p in logs.iterdir()} >= set(record["jobs"].values())

    # 3. resume: the finished runs are skipped, the failed one is submitted again (and waits)
    flag.unlink()
    mtimes = {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done}
    assert main(argv(path, runs, "--wait")) == 0
    err = capsys.readouterr().err
    assert "2 already done, 0 in flight, 1 submitted" in err
    assert "jobs ended: 1 ran, 0 failed" in err
    assert {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done} == mtimes
    assert sorted(records(root)) == sorted(ids)
    for rid in ids:
        assert [p.name for p in (root / rid).glob("record*")] == ["record.json"]
        assert not (root / rid / "error.txt").exists()

    # 4. everything finished: nothing more to submit
    assert main(argv(path, runs)) == 0
    assert "3 already done, 0 in flight, nothing to submit" in capsys.readouterr().err
    assert len(list((root / ".slurm").glob("*.json"))) == 2
    assert not sleepy_plugin.exists()


@pytest.mark.slow
def test_wait_reports_failures_through_the_debug_executor(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "base: {sleep: 0}\naxes: {x: [5]}\nblocks:\n"
                                  "  - {fail: [false]}\n")
    result = submit_sweep("sleepy", path, runs_dir=tmp_path / "runs", cluster="debug",
                          wait=True, progress=False)
    assert (result.total, result.skipped, result.ran, result.failed) == (1, 0, 1, [])
    assert result.waited and len(result.submitted) == 1
    assert list(records(result.root)) == list(result.submitted)
    assert result.record is not None and result.record.exists()
    again = submit_sweep("sleepy", path, runs_dir=tmp_path / "runs", cluster="debug")
    assert (again.skipped, again.submitted, again.record) == (1, {}, None)


def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``sbatch`` (keeps each batch script, answers job 4242), ``srun`` and
    ``squeue`` (jobs 4242, 4242_0 and 4242_1 pending)."""
    bin_dir = tmp_path / "slurm-bin"
    scripts = tmp_path / "scripts"
    bin_dir.mkdir()
    scripts.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\nn=$(ls '{scripts}' | wc -l)\n"
                                    f"cp \"$1\" '{scripts}'/$n.sh\n"
                                    "echo 'Submitted batch job 4242'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "squeue").write_text("#!/bin/sh\nprintf '4242_0|PENDING\\n4242_1|PENDING\\n"
                                    "4242|PENDING\\n'\n")
    for name in ("sbatch", "srun", "squeue"):
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(CLUSTER_ENV, "slurm")
    return scripts


def test_slurm_path_submits_arrays_through_sbatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The real SLURM executor against a fake sbatch: arrays, resources, job ids, resume."""
    from junk_dna.runs.layout import sweep_lock

    path = write_preset(tmp_path, "axes: {x: [1, 2, 3]}\nslurm: {partition: cpu, "
                                  "timeout_min: 30, array_parallelism: 2, max_array_size: 2}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    ids = [r.run_id for r in expand_preset("sleepy", load_preset("sleepy", path))]
    # sbatch failing (the fixture's fake): a clear error, exit 2, nothing recorded
    monkeypatch.setenv(CLUSTER_ENV, "slurm")
    (tmp_path / "slurm-bin-srun").mkdir()
    (tmp_path / "slurm-bin-srun" / "srun").write_text("#!/bin/sh\n")
    (tmp_path / "slurm-bin-srun" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}{os.pathsep}{tmp_path / 'slurm-bin-srun'}")
    assert main(argv(path, runs, "--gpus", "1")) == 2
    err = capsys.readouterr().err
    assert "submitting a job array of 2 runs failed" in err and "Traceback" not in err
    assert not (root / ".slurm").exists()  # no pickles or submission script left behind

    scripts = fake_slurm(tmp_path, monkeypatch)
    assert main(argv(path, runs, "--gpus", "1", "--slurm-extra", "account=proj")) == 0
    err = capsys.readouterr().err
    assert ("0 in flight, 3 submitted as job array(s) 4242 (2 tasks), 4242 (1 task, a plain "
            "job)") in err
    assert "squeue -j 4242 " in err
    array, single = (scripts / "0.sh").read_text(), (scripts / "1.sh").read_text()
    for line in ("#SBATCH --array=0-1%2", "#SBATCH --partition=cpu", "#SBATCH --time=30",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --account=proj",
                 "#SBATCH --job-name=junk-dna-sleepy-grid",
                 f"#SBATCH --output={root.resolve()}/.slurm/logs/%A_%a/%A_%a_0_log.out"):
        assert line in array, line
    assert "--array" not in single and "#SBATCH --partition=cpu" in single
    (record_file,) = (root / ".slurm").glob("*.json")
    record = json.loads(record_file.read_text())
    assert record["jobs"] == {ids[0]: "4242_0", ids[1]: "4242_1", ids[2]: "4242"}
    assert record["cluster"] == "slurm" and record["arrays"] == ["4242", "4242"]
    assert not [d for d in root.iterdir() if not d.name.startswith(".")]  # no run ran here
    with sweep_lock(root):  # the lock was held only while submitting
        pass

    # resume while the jobs are queued: nothing submitted twice
    assert main(argv(path, runs)) == 0
    assert "0 already done, 3 in flight (3 PENDING), nothing to submit" in \
        capsys.readouterr().err
    assert main(argv(path, runs, "--resubmit")) == 0
    assert "3 submitted" in capsys.readouterr().err
    assert len(list(scripts.iterdir())) == 4
    assert len(list((root / ".slurm").glob("*.json"))) == 2


AMONG = {"12", "12_0", "12_1", "12_3", "12_4", "12_5", "12_8", "12_9", "13_3"}


@pytest.mark.parametrize("field, jobs", [
    ("12", ["12"]), ("12_3", ["12_3"]), ("77_1", []), ("12_[3]", ["12_3"]),
    ("12_[3-5,8%2]", ["12_3", "12_4", "12_5", "12_8"]), ("12_[0-1%1]", ["12_0", "12_1"]),
    ("12_[0-4000000]", sorted(AMONG - {"12", "13_3"})),  # tested, not listed
    ("12_[x-2]", []), ("12_[3-]", []), ("12_[5-3]", []), ("12_[]", []),
])
def test_array_task_groups_match_their_tasks(field: str, jobs: list[str]) -> None:
    assert expand_job_ids(field, AMONG) == jobs


def test_sacct_knows_array_tasks_cancelled_before_they_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sacct lists the tasks of an array that have not started as one group (seen on the
    one-node cluster with accounting, ``scancel`` of the whole array while task 0 ran:
    ``3_0|CANCELLED by 0`` and ``3_[1-3%1]|CANCELLED by 0``); each task gets that state."""
    fake_command(tmp_path, monkeypatch, "sacct",
                 "1_0|CANCELLED by 0\n1_1|COMPLETED\n1_[2-3%1]|CANCELLED by 0\n")
    assert sacct_states(["1_0", "1_1", "1_2", "1_3", "1_4"]) == {
        "1_0": "CANCELLED", "1_1": "COMPLETED", "1_2": "CANCELLED", "1_3": "CANCELLED"}

