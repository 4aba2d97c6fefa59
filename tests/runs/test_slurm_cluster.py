"""``--executor slurm`` on a real one-node SLURM (slurmctld + slurmd, no accounting).

The cluster is the session fixture ``slurm_cluster`` (tests/conftest.py, tools/slurm_cluster.py);
without it (not root, not Debian, ``JUNK_DNA_SLURM_TESTS=skip``) these tests skip. Every
command is the CLI in a subprocess, as a user runs it; runs are the smallest real fine-tuning
and zero-shot runs and the ``sleepy`` plugin experiment (tests/fixtures).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from junk_dna.runs.notebook import available_cpus
from junk_dna.runs.presets import expand_preset, load_preset
from junk_dna.runs.slurm import CLUSTER_ENV, ENDED_WORDS, latest_submissions
from tests.runs.helpers import records, write_preset

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WAIT_BOUND_S = 180.0  # --wait returns within this long after a scancel (a 0 s run is left)
# how a cancelled job ended: an array task cancelled while pending leaves no record
CANCELLED = rf"(ended CANCELLED|{re.escape(ENDED_WORDS)})"
# the content of a record that does not depend on where or when the run ran
CONTENT = ("experiment", "run_id", "status", "params", "final", "epochs", "steps", "sparsity",
           "threads")


def user_env(cluster: Any) -> Iterator[dict[str, str]]:
    """The environment of a user of ``cluster`` (``SLURM_CONF``; with the ``sleepy`` plugin
    when its fixture is active); after the test, every job of the cluster is cancelled."""
    env = {**os.environ, **cluster.env, "HF_HUB_OFFLINE": "1"}
    env.pop(CLUSTER_ENV, None)
    yield env
    cluster.cancel_all_jobs()


@pytest.fixture
def slurm_env(slurm_cluster: Any, sleepy_plugin: None) -> Iterator[dict[str, str]]:
    """:func:`user_env` of the cluster without accounting."""
    yield from user_env(slurm_cluster)


@pytest.fixture
def slurm_env_accounting(slurm_cluster_accounting: Any,
                         sleepy_plugin: None) -> Iterator[dict[str, str]]:
    """:func:`user_env` of the cluster with accounting (opt-in)."""
    yield from user_env(slurm_cluster_accounting)


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "junk_dna.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "junk_dna.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """Wait for a CLI started by :func:`start_cli`; its exit code and stdout + stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the command did not return within {timeout} s:\n{out}{err}"
                             ) from expired
    return proc.returncode, out + err


def slurm(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{args}: {proc.stderr}"
    return proc.stdout


def squeue(env: dict[str, str]) -> dict[str, str]:
    """Job id -> state of the jobs the controller lists (array tasks one by one)."""
    out = slurm(env, "squeue", "-h", "-r", "-t", "all", "-o", "%i|%T")
    return dict(line.split("|", 1) for line in out.split())


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.3)
    return value


def sweep(experiments: str, preset: str, runs: Path, *extra: str) -> list[str]:
    return ["sweep", *experiments.split(), "--preset", preset, "--runs-dir", str(runs),
            "--executor", "slurm", *extra]


def run_ids(experiment: str, preset: str) -> list[str]:
    return [run.run_id for run in expand_preset(experiment, load_preset(experiment, preset),
                                                check_hub=False)]


def content(record: dict) -> dict:
    return {key: record.get(key) for key in CONTENT}


# --------------------------------------------------------------------------- real experiments


def test_smoke_sweep_of_a_fine_tuning_and_a_zero_shot_experiment_then_figures(
        slurm_env: dict[str, str], tmp_path: Path) -> None:
    """true_gem's first smoke run (dense) and option_count's smoke preset (dense and 30 %
    magnitude) through ``--executor slurm --wait``: the fine-tuning run's record is the same
    as a local run's with as many threads, a second invocation submits nothing, ``junk-dna
    figures`` composes the runs."""
    tg = write_preset(tmp_path, "base: {data_fraction: 0.05, epochs: 1, max_length: 32, "
                                "batch_size: 8, learning_rate: 2.0e-5, group_by_length: false}\n"
                                "axes: {mode: [dense]}\n", "tg.yaml")
    runs, local = tmp_path / "runs", tmp_path / "local"
    # both submissions wait at once (the cluster runs their jobs side by side), and the
    # fine-tuning run runs locally meanwhile, with one thread as in its one-CPU task
    start = time.monotonic()
    procs = [start_cli(slurm_env, *sweep("true_gem", tg, runs, "--wait", "--cpus-per-task",
                                         "1")),
             start_cli(slurm_env, *sweep("option_count", "smoke", runs, "--wait")),
             start_cli(slurm_env, "sweep", "true_gem", "--preset", tg, "--runs-dir",
                       str(local), "--no-progress", "--jobs", str(available_cpus()))]
    outs = [finish(proc, 600) for proc in procs]
    for rc, out in outs:
        assert rc == 0, out[-3000:]
    print(f"smoke sweep on SLURM: {time.monotonic() - start:.0f} s")
    assert "true_gem/tg: 1 runs: 0 already done, 0 in flight, 1 submitted" in outs[0][1]
    assert "option_count/smoke: 2 runs: 0 already done, 0 in flight, 2 submitted" in outs[1][1]
    for _, out in outs[:2]:
        assert "jobs ended: " in out and " ran, 0 failed" in out, out
        assert "Bypassing sacct error" not in out and "storage is disabled" not in out, out
    tg_rec = records(runs / "true_gem")
    assert list(tg_rec) == run_ids("true_gem", tg)
    (rec,) = tg_rec.values()
    assert rec["status"] == "ok" and rec["final"]["last"]
    assert rec["threads"] == 1  # the task's one CPU, though the node has more (task/none)
    (local_rec,) = records(local / "true_gem").values()
    assert content(rec) == content(local_rec)
    per_example = [json.loads((folder / "true_gem" / rec["run_id"] / "per_example.json")
                              .read_text()) for folder in (runs, local)]
    assert per_example[0] == per_example[1]
    assert sorted(records(runs / "option_count")) == sorted(run_ids("option_count", "smoke"))
    (sub,) = latest_submissions(runs / "true_gem").values()
    assert sub.cluster == "slurm" and re.fullmatch(r"\d+", sub.job_id)  # one run: a plain job

    again = cli(slurm_env, *sweep("true_gem", tg, runs, "--wait"))
    assert again.returncode == 0
    assert "1 runs: 1 already done, 0 in flight, nothing to submit" in again.stderr

    figs = tmp_path / "figures"
    fig = cli(slurm_env, "figures", "--runs-dir", str(runs), "--figures-dir", str(figs))
    assert fig.returncode == 0, fig.stderr[-3000:]
    assert (figs / "option_count.png").stat().st_size > 10_000
    # true_gem has only its dense run here: its figure is skipped, saying why
    assert "true_gem: figure skipped" in (runs / "figures" / "figures.ipynb").read_text()
    assert not (figs / "true_gem.png").exists()


# --------------------------------------------------------------------------- scancel, resume


def test_scancel_of_a_running_and_a_pending_task_then_resume_resubmits_exactly_those(
        slurm_env: dict[str, str], tmp_path: Path) -> None:
    """Without accounting: ``--wait`` returns after a cancelled running task and a task
    cancelled while pending (naming their final state and only files that exist); the next
    invocation submits exactly those two runs again."""
    scancel_then_resume(slurm_env, tmp_path)


def test_scancel_then_resume_with_accounting(slurm_env_accounting: dict[str, str],
                                             tmp_path: Path) -> None:
    """The same with accounting (sacct)."""
    scancel_then_resume(slurm_env_accounting, tmp_path)


def test_scancel_of_a_whole_array_with_accounting_names_the_pending_tasks_state(
        slurm_env_accounting: dict[str, str], tmp_path: Path) -> None:
    """``scancel <array>`` while task 0 runs: sacct lists the two pending tasks as one group
    (``<job>_[1-2%1]``, CANCELLED), so each is reported CANCELLED, not "state unknown"; the
    next invocation submits the three runs again, once each."""
    env = slurm_env_accounting
    preset, runs, root, ids, first, jobs = _three_tasks_with_task_0_running(env, tmp_path)
    slurm(env, "scancel", jobs[ids[0]].split("_")[0])
    rc, out = finish(first, WAIT_BOUND_S)
    print(out)
    assert rc == 1, out
    for rid in ids[1:]:
        line = next(ln for ln in out.splitlines() if ln.startswith(f"FAILED  {rid}"))
        assert f"job {jobs[rid]} ended CANCELLED before the run started" in line, line
    assert "unknown" not in out
    again = cli(env, *sweep("sleepy", preset, runs, "--wait", "--array-parallelism", "3"),
                timeout=300)
    assert again.returncode == 0, again.stderr
    assert "3 runs: 0 already done, 0 in flight, 3 submitted" in again.stderr, again.stderr
    assert sorted(records(root)) == sorted(ids)


def scancel_then_resume(slurm_env: dict[str, str], tmp_path: Path) -> None:
    """scancel a running and a pending task of a 3-task array (``--wait``), then resume."""
    preset, runs, root, ids, first, jobs = _three_tasks_with_task_0_running(slurm_env, tmp_path)
    states = squeue(slurm_env)
    assert states[jobs[ids[0]]] == "RUNNING" and states[jobs[ids[2]]] == "PENDING", states
    slurm(slurm_env, "scancel", jobs[ids[0]], jobs[ids[2]])
    cancelled = time.monotonic()
    # --wait returns (though two jobs never wrote a result), once every job left the queue
    rc, out = finish(first, WAIT_BOUND_S)
    print(f"--wait returned {time.monotonic() - cancelled:.0f} s after the scancel:\n{out}")
    assert not set(jobs.values()) & set(_active(slurm_env))
    assert rc == 1, out
    assert f"ok      {ids[1]} (job {jobs[ids[1]]})" in out
    pending_line = next(line for line in out.splitlines()
                        if line.startswith(f"FAILED  {ids[2]}"))
    # a pending array task that is cancelled leaves the controller at once, without a state
    assert re.search(rf"job {jobs[ids[2]]} {CANCELLED} before the run started$",
                     pending_line), pending_line
    assert "see" not in pending_line  # the run never started: no file to point to
    running_line = next(line for line in out.splitlines()
                        if line.startswith(f"FAILED  {ids[0]}"))
    assert f"job {jobs[ids[0]]} ended CANCELLED" in running_line
    assert "; see " in running_line  # the run started: its log
    for path in running_line.split("; see ", 1)[1].split(", "):
        assert Path(path).exists(), running_line
    assert "Bypassing sacct error" not in out and "storage is disabled" not in out

    # the next invocation: the finished run is skipped, exactly the two cancelled ones again
    dry = cli(slurm_env, *sweep("sleepy", preset, runs, "--dry-run"))
    assert "queued or running" not in dry.stdout
    assert "3 runs: 1 done, 0 in flight, 2 to submit" in dry.stdout, dry.stdout
    again = cli(slurm_env, *sweep("sleepy", preset, runs, "--wait", "--array-parallelism", "2"),
                timeout=300)
    print(again.stderr)
    assert again.returncode == 0, again.stderr
    assert "3 runs: 1 already done, 0 in flight, 2 submitted" in again.stderr
    for rid in (ids[0], ids[2]):
        assert re.search(rf"  again  {rid} \(job {jobs[rid]} {CANCELLED} without "
                         r"a record; now job \d+_\d\)", again.stderr), again.stderr
    assert "jobs ended: 2 ran, 0 failed" in again.stderr
    assert sorted(records(root)) == sorted(ids)
    resubmitted = {rid: sub.job_id for rid, sub in latest_submissions(root).items()
                   if sub.job_id != jobs[rid]}
    assert sorted(resubmitted) == sorted([ids[0], ids[2]])
    assert len(list((root / ".slurm").glob("*.json"))) == 2
    last = cli(slurm_env, *sweep("sleepy", preset, runs))
    assert "3 runs: 3 already done, 0 in flight, nothing to submit" in last.stderr


def _three_tasks_with_task_0_running(env: dict[str, str], tmp_path: Path) -> tuple[
        str, Path, Path, list[str], subprocess.Popen, dict[str, str]]:
    """Submit a 3-task sleepy array (one task at a time, task 0 sleeping 8 s) with
    ``--wait``; return (preset, runs folder, sleepy folder, run ids, the waiting process,
    run id -> job id) once task 0 runs."""
    preset = write_preset(tmp_path, "blocks:\n  - {x: [0], sleep: [8]}\n"
                                    "  - {x: [1, 2], sleep: [0]}\n"
                                    "slurm: {array_parallelism: 1, cpus_per_task: 1}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    ids = run_ids("sleepy", preset)
    first = start_cli(env, *sweep("sleepy", preset, runs, "--wait"))
    jobs = wait_for(lambda: _jobs(root), 120, "the submission record")
    assert list(jobs) == ids
    wait_for(lambda: (root / ids[0] / "log.txt").exists(), 120, "run 0 to start")
    return preset, runs, root, ids, first, jobs


def _jobs(root: Path) -> dict[str, str]:
    return {rid: sub.job_id for rid, sub in latest_submissions(root).items()}


def _active(env: dict[str, str]) -> list[str]:
    """The jobs squeue lists in a state that is not final."""
    final = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
             "BOOT_FAIL", "DEADLINE"}
    return [job for job, state in squeue(env).items() if state not in final]


# --------------------------------------------------------------------------- requeue


def test_sigusr2_requeues_and_the_run_ends_once_several_experiments_in_one_command(
        slurm_env: dict[str, str], tmp_path: Path) -> None:
    """``sweep sleepy sleepy_twin``: one array per experiment; sleepy's task is signalled
    as on preemption (USR2), requeues itself, re-runs its run and ends once; an invocation
    while it is requeued submits nothing; each task's run used its one CPU."""
    preset = write_preset(tmp_path, "base: {sleep: 8}\naxes: {x: [5]}\n"
                                    "slurm: {cpus_per_task: 1}\n")
    runs = tmp_path / "runs"
    (rid,) = run_ids("sleepy", preset)
    proc = start_cli(slurm_env, *sweep("sleepy sleepy_twin", preset, runs, "--wait"))
    job = wait_for(lambda: _jobs(runs / "sleepy").get(rid), 120, "the submission")
    twin = wait_for(lambda: _jobs(runs / "sleepy_twin").get(rid), 60, "the twin submission")
    assert job != twin
    wait_for(lambda: (runs / "sleepy" / rid / "log.txt").exists(), 120, "the run to start")
    slurm(slurm_env, "scancel", "--signal=USR2", job)
    wait_for(lambda: squeue(slurm_env).get(job) in ("PENDING", "REQUEUED"), 60,
             "the requeue")
    during = cli(slurm_env, *sweep("sleepy", preset, runs))
    assert "0 already done, 1 in flight" in during.stderr and "nothing to submit" in \
        during.stderr, during.stderr
    wait_for(lambda: squeue(slurm_env).get(job) == "PENDING", 60, "the requeued job")
    slurm(slurm_env, "scontrol", "update", f"JobId={job}", "StartTime=now")  # no 2 min delay
    rc, out = finish(proc, 300)
    print(out)
    assert rc == 0, out
    assert out.count(f"ok      {rid} (job {job})") == 1 and out.count(f"{rid} (job") == 2
    for name in ("sleepy", "sleepy_twin"):
        assert f"{name}/{Path(preset).stem}: 1 runs: 0 already done, 0 in flight, " \
               "1 submitted" in out
        (rec,) = records(runs / name).values()
        assert rec["resolved"]["threads"] == "1"  # SLURM_CPUS_PER_TASK, not the node's CPUs
    log = next((runs / "sleepy" / ".slurm" / "logs" / job).glob("*_log.out")).read_text()
    assert log.count("Starting with JobEnvironment") == 2, log
    assert "this job is preempted" in (
        next((runs / "sleepy" / ".slurm" / "logs" / job).glob("*_log.err")).read_text())
    assert [p.name for p in (runs / "sleepy" / rid).glob("record*")] == ["record.json"]
    assert not (runs / "sleepy" / rid / "error.txt").exists()


# --------------------------------------------------------------------------- refusals


def test_gpu_request_without_gpus_is_refused_once_with_a_hint_and_no_leftovers(
        slurm_env: dict[str, str], tmp_path: Path) -> None:
    preset = write_preset(tmp_path, "axes: {x: [1, 2]}\n")
    runs = tmp_path / "runs"
    proc = cli(slurm_env, *sweep("sleepy", preset, runs, "--gpus", "1"))
    assert proc.returncode == 2, proc.stderr
    assert "this cluster has no gres gpu (--gpus 1): pass --gpus 0 or another partition" \
        in proc.stderr
    assert proc.stderr.count("Invalid generic resource (gres) specification") == 1, \
        proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (runs / "sleepy" / ".slurm").exists()
