"""SLURM execution of a sweep through submitit: ``junk-dna sweep EXP --preset P --executor slurm``.

The runs still to do (same resume logic as the local executor: a run is finished iff its
``record.json`` has status ok and the run's params) are submitted as ONE job array (split in
arrays of at most ``max_array_size`` tasks). Each array task executes exactly one run through
the same code path as the local executor (:func:`junk_dna.runs.notebook.execute_run`: the run
folder is claimed and cleared, ``python -m junk_dna.runs.worker run`` runs the notebook with
papermill, the notebook writes ``record.json``, a failure leaves ``error.txt``), so run
folders, records and resume are the same. This executor depends on the shared core
(:mod:`~junk_dna.runs.notebook`, :mod:`~junk_dna.runs.layout`, :mod:`~junk_dna.runs.presets`),
never on the local executor. The command returns after submission (``--wait`` blocks until
the jobs end).

Resources come from the preset's optional ``slurm:`` mapping, overridden by command-line
flags (:mod:`junk_dna.runs.resources`); everything is validated before anything is submitted::

    slurm: {partition: gpu, gpus_per_node: 1, cpus_per_task: 8, mem_gb: 64,
            timeout_min: 240, array_parallelism: 32,
            additional: {account: myproject}, setup: ["module load cuda"]}

Files, next to the run folders in ``<runs_dir>/<experiment>/.slurm/``::

    <token>.json          one per submission (token = its time): cluster, resources, array
                          job ids and run_id -> job id (written atomically)
    logs/<job id>/        submitit's pickles and the tasks' stdout/stderr
    ended/<run_id>.json   written by a task when its run ended (ok or failed) normally

Resume: running the same command again submits only the runs that are neither finished nor
*in flight*. A run is in flight when its latest submission has no ``ended`` marker and, on
SLURM, ``sacct`` (when available) does not report its job in a final state (COMPLETED,
FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, ...): queued or running jobs are never
submitted twice. ``--resubmit`` submits every unfinished run again regardless (e.g. for a job
killed without a trace where ``sacct`` is unavailable).

Requeue: a task is checkpointable (:meth:`RunTask.checkpoint`). On preemption or timeout
submitit signals the task (USR2), the task stops its notebook runner and requeues itself with
the same run (at most ``max_num_timeout`` = 3 times after timeouts, unlimited after
preemptions); the requeued task re-runs its run from scratch, or skips it when the run's
record was already written. The sweep lock is held only while submitting.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from junk_dna.results.records import atomic_write_text
from junk_dna.runs.errors import RunFolderError, SubmissionError, SweepError
from junk_dna.runs.layout import (
    DEFAULT_RUNS_DIR,
    DONE,
    ERROR_NAME,
    LOG_NAME,
    experiment_folder,
    run_state,
    sweep_lock,
    write_error,
)
from junk_dna.runs.notebook import (
    Launcher,
    available_cpus,
    execute_run,
    find_notebook,
    find_notebook_or_reason,
)
from junk_dna.runs.presets import MAX_RUNS, Run, expand_preset, load_preset, lookup_experiment
from junk_dna.runs.resources import SlurmResources, resolve_resources

if TYPE_CHECKING:
    from submitit.helpers import DelayedSubmission

SLURM_DIR = ".slurm"
LOGS_DIR = "logs"
ENDED_DIR = "ended"
CLUSTER_ENV = "JUNK_DNA_SUBMITIT_CLUSTER"  # submitit cluster behind --executor slurm
CLUSTERS: tuple[str, ...] = ("slurm", "local", "debug")
MAX_NUM_TIMEOUT = 3  # requeues after timeouts (preemptions requeue without limit)
# sacct states after which a job will not run again
FINAL_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT",
})
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def submitit_cluster(cluster: str | None = None) -> str:
    """The submitit cluster behind ``--executor slurm``: ``cluster``, else the environment
    variable ``JUNK_DNA_SUBMITIT_CLUSTER``, else ``slurm``. ``local`` runs every task as a
    local process and ``debug`` in this process (both through the same task code; tests).

    Raises:
        SweepError: an unknown cluster.
    """
    name = cluster if cluster is not None else (os.environ.get(CLUSTER_ENV) or "slurm")
    if name not in CLUSTERS:
        source = "cluster" if cluster is not None else CLUSTER_ENV
        raise SweepError(f"{source} {name!r} is not a submitit cluster; allowed: "
                         f"{list(CLUSTERS)}")
    return name


# ---------------------------------------------------------------------------------------------
# the array task


class RunFailedError(RuntimeError):
    """A run's notebook failed in its array task (the task's job then ends FAILED)."""


def _job_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # noqa: BLE001 - not inside a submitit job
        return None


class RunTask:
    """One array task: executes one run exactly like the local executor; checkpointable.

    Picklable (only ``root``, ``notebook`` and ``submission`` travel); submitted with
    ``executor.map_array(task, runs)`` so that each array task calls ``task(run)``.

    Args:
        root: the experiment's runs folder (``<runs_dir>/<experiment>``).
        notebook: the experiment's notebook.
        submission: the submission's token (names ``.slurm/<token>.json``).
    """

    def __init__(self, root: str | os.PathLike[str], notebook: str | os.PathLike[str],
                 submission: str) -> None:
        self.root = os.fspath(Path(root).resolve())
        self.notebook = os.fspath(Path(notebook).resolve())
        self.submission = submission
        self._launcher: Launcher | None = None
        self._terminated = False

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "notebook": self.notebook, "submission": self.submission}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._launcher = None
        self._terminated = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunTask) and self.__getstate__() == other.__getstate__()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"RunTask(root={self.root!r}, notebook={self.notebook!r}, "
                f"submission={self.submission!r})")

    def __call__(self, run: Run) -> str:
        """Execute ``run`` (``"ok"``), or skip it when its record is already there
        (``"skipped"``, e.g. a requeued task whose run had finished).

        Raises:
            RunFailedError: the run failed (its folder has ``error.txt``).
        """
        root = Path(self.root)
        run_dir = root / run.run_id
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if run_state(run_dir, run.params) == DONE:
                self._ended(run, "ok")
                return "skipped"
        self._launcher = launcher = Launcher(0.0)
        self._terminated = False
        restore = self._watch_sigterm()
        try:
            ok = execute_run(run, root, Path(self.notebook), available_cpus(), launcher)
        except RunFolderError as err:  # its folder cannot be used: never written through
            launcher.stop(grace_s=5.0)
            self._ended(run, "failed")
            raise RunFailedError(f"run {run.run_id} failed: {err}") from err
        except Exception as err:  # e.g. submitit's "timed-out too many times": not requeued
            launcher.stop(grace_s=5.0)
            if not (run_dir / ERROR_NAME).exists():
                write_error(run_dir, f"the job {_job_id()} ended before the run finished: "
                                     f"{type(err).__name__}: {err}\n")
            self._ended(run, "failed")
            raise
        except BaseException:  # SystemExit after a checkpoint (requeued), KeyboardInterrupt
            launcher.stop(grace_s=5.0)
            raise
        finally:
            restore()
            self._launcher = None
        if ok:
            self._ended(run, "ok")
            return "ok"
        if not self._terminated:  # SIGTERM: cancelled, or preempted and maybe requeued
            self._ended(run, "failed")
        raise RunFailedError(f"run {run.run_id} failed: see {run_dir / ERROR_NAME} and "
                             f"{run_dir / LOG_NAME}")

    def checkpoint(self, run: Run) -> DelayedSubmission:
        """Called by submitit on preemption or timeout (in the task's signal handler).

        Stops the run's notebook runner (without waiting) and returns a
        ``submitit.helpers.DelayedSubmission`` of this same task and run, which submitit
        requeues; the requeued task re-runs the run from scratch (skips it if its record
        was written meanwhile).
        """
        from submitit.helpers import DelayedSubmission

        if self._launcher is not None:
            self._launcher.terminate_now()
        return DelayedSubmission(self, run)

    def _watch_sigterm(self) -> Callable[[], None]:
        """Note a SIGTERM (scancel, preemption) while keeping the current handler's action."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGTERM)
        if previous is None:  # set outside Python: leave it alone
            return lambda: None

        def on_term(signum: int, frame: Any) -> None:
            self._terminated = True
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, on_term)
        return lambda: signal.signal(signal.SIGTERM, previous)

    def _ended(self, run: Run, status: str) -> None:
        marker = Path(self.root) / SLURM_DIR / ENDED_DIR / f"{run.run_id}.json"
        atomic_write_text(marker, json.dumps({
            "run_id": run.run_id, "submission": self.submission, "job_id": _job_id(),
            "status": status, "ended": datetime.now().isoformat(timespec="seconds"),
        }, indent=2))


# ---------------------------------------------------------------------------------------------
# plan: which runs to submit


@dataclass(frozen=True)
class Submitted:
    """A run's latest submission: its token, job id and submitit cluster."""

    token: str
    job_id: str
    cluster: str


@dataclass
class SlurmPlan:
    """The runs of a preset split by what a submission does with them.

    Attributes:
        done: runs finished (skipped).
        in_flight: run id -> job id of runs whose job is queued or running (skipped).
        todo: runs to submit, in the preset's order.
    """

    done: list[Run] = field(default_factory=list)
    in_flight: dict[str, str] = field(default_factory=dict)
    todo: list[Run] = field(default_factory=list)


def latest_submissions(root: str | os.PathLike[str]) -> dict[str, Submitted]:
    """Run id -> its latest submission, from ``root/.slurm/*.json`` (unreadable ones warn)."""
    out: dict[str, Submitted] = {}
    for path in sorted((Path(root) / SLURM_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            token, cluster = str(data["token"]), str(data["cluster"])
            jobs = {str(k): str(v) for k, v in data["jobs"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            warnings.warn(f"unreadable submission record {path} ignored: {err}", stacklevel=2)
            continue
        for rid, job in jobs.items():
            out[rid] = Submitted(token, job, cluster)
    return out


def _ended_token(root: Path, run_id: str) -> str | None:
    try:
        data = json.loads((root / SLURM_DIR / ENDED_DIR / f"{run_id}.json").read_text("utf-8"))
        return str(data["submission"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def final_jobs(job_ids: Iterable[str], *, timeout_s: float = 60.0) -> set[str] | None:
    """The SLURM jobs among ``job_ids`` (``123`` or array tasks ``123_4``) in a final state,
    per ``sacct``; ``None`` when ``sacct`` is missing or fails (states unknown)."""
    ids = sorted(set(job_ids))
    sacct = shutil.which("sacct")
    if not ids or sacct is None:
        return None if ids else set()
    arrays = sorted({job.split("_", 1)[0] for job in ids})
    try:
        proc = subprocess.run([sacct, "-n", "-P", "-X", "-o", "JobID,State", "-j",
                               ",".join(arrays)], capture_output=True, text=True,
                              timeout=timeout_s, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    final = set()
    for line in proc.stdout.splitlines():
        job, _, state = line.strip().partition("|")
        if state.split(" ", 1)[0].rstrip("+") in FINAL_STATES:
            final.add(job)
    return final & set(ids)


def plan_submission(runs: Sequence[Run], root: str | os.PathLike[str], *,
                    resubmit: bool = False) -> SlurmPlan:
    """Split ``runs`` into done, in flight (queued or running: skipped) and to submit.

    A run not finished is in flight when its latest submission has no ``ended`` marker of
    that submission and, for a SLURM submission, ``sacct`` does not report its job final.
    ``resubmit``: every run not finished is submitted.
    """
    root = Path(root)
    plan = SlurmPlan()
    latest = {} if resubmit else latest_submissions(root)
    waiting: list[tuple[Run, Submitted]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for run in runs:
            sub = latest.get(run.run_id)
            if run_state(root / run.run_id, run.params) == DONE:
                plan.done.append(run)
            elif sub is None or _ended_token(root, run.run_id) == sub.token:
                plan.todo.append(run)
            else:
                waiting.append((run, sub))
    final = final_jobs(sub.job_id for _, sub in waiting if sub.cluster == "slurm") or set()
    order = {run.run_id: i for i, run in enumerate(runs)}
    for run, sub in waiting:
        if sub.cluster == "slurm" and sub.job_id in final:
            plan.todo.append(run)
        else:
            plan.in_flight[run.run_id] = sub.job_id
    plan.todo.sort(key=lambda r: order[r.run_id])
    return plan


# ---------------------------------------------------------------------------------------------
# submission


@dataclass
class SlurmSweepResult:
    """What ``--executor slurm`` did.

    Attributes:
        experiment, preset: what was swept.
        root: the experiment's runs folder (``<runs_dir>/<experiment>``).
        total: runs in the preset.
        cluster: the submitit cluster (``slurm``; ``local``/``debug`` in tests).
        resources: the tasks' resources.
        job_name: the jobs' name.
        skipped: runs finished before this submission.
        in_flight: run id -> job id of runs left alone (their job is queued or running).
        arrays: the run ids of each job array (submitted, or to submit in a dry run).
        submitted: run id -> job id of the runs submitted now.
        array_ids: the job id of each submitted array.
        record: the submission record ``.slurm/<token>.json`` (``None``: nothing submitted).
        dry_run: nothing was submitted.
        waited: ``--wait``: the jobs ended; ``ran``/``failed`` count their runs.
        ran, failed: runs submitted now that finished / did not (after ``--wait``).
    """

    experiment: str
    preset: str
    root: Path
    total: int
    cluster: str
    resources: SlurmResources
    job_name: str
    skipped: int = 0
    in_flight: dict[str, str] = field(default_factory=dict)
    arrays: list[list[str]] = field(default_factory=list)
    submitted: dict[str, str] = field(default_factory=dict)
    array_ids: list[str] = field(default_factory=list)
    record: Path | None = None
    dry_run: bool = False
    waited: bool = False
    ran: int = 0
    failed: list[str] = field(default_factory=list)
    jobs: list[Any] = field(default_factory=list, repr=False)

    @property
    def logs(self) -> Path:
        """The folder of the jobs' logs."""
        return self.root / SLURM_DIR / LOGS_DIR

    def error_file(self, run_id: str) -> Path:
        """The error file of a failed run."""
        return self.root / run_id / ERROR_NAME


def job_name(experiment: str, preset: str) -> str:
    """The SLURM job name of a preset's arrays: ``junk-dna-<experiment>-<preset>``."""
    return _SLUG.sub("-", f"junk-dna-{experiment}-{preset}").strip("-")


def _chunks(runs: Sequence[Run], size: int) -> list[list[Run]]:
    return [list(runs[i:i + size]) for i in range(0, len(runs), size)]


def submit_sweep(
    experiment: str,
    preset: str,
    *,
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    overrides: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    resubmit: bool = False,
    wait: bool = False,
    notebooks_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    cluster: str | None = None,
    out: IO[str] | None = None,
    max_runs: int | None = MAX_RUNS,
) -> SlurmSweepResult:
    """Submit the runs of ``preset`` still to do as SLURM job array(s) through submitit.

    Everything (preset, runs, resources, notebook, ``sbatch`` on PATH) is checked before
    anything is submitted. Holds ``<root>/.sweep.lock`` only while submitting. ``dry_run``
    prints the arrays (tasks, resources, ``#SBATCH`` lines, run ids) to ``out`` (default
    stdout) and submits nothing, needing no SLURM. ``wait`` blocks until the submitted jobs
    end (one line per run on stderr unless ``progress`` is false).

    Args:
        overrides: resource overrides (:func:`~junk_dna.runs.resources.parse_overrides`) over
            the preset's ``slurm:``.
        resubmit: submit every unfinished run, also those whose job is queued or running.
        cluster: submitit cluster (default :func:`submitit_cluster`).
        max_runs: the most runs the preset may expand to (see
            :func:`~junk_dna.runs.presets.expand_preset`).

    Raises:
        SweepError: unknown experiment or cluster, missing notebook, no ``sbatch``.
        PresetError: the preset, a run or a resource is invalid.
        SubmissionError: ``sbatch`` refused an array (those submitted before are recorded).
        SweepLockedError: another sweep holds the runs folder's lock.
    """
    cluster = submitit_cluster(cluster)
    exp = lookup_experiment(experiment)
    spec = load_preset(exp.name, preset)
    resources = resolve_resources(spec.slurm, overrides)
    runs = expand_preset(exp, spec, check_hub=not dry_run, max_runs=max_runs)
    root = Path(runs_dir) / exp.name
    result = SlurmSweepResult(exp.name, spec.name, root, len(runs), cluster, resources,
                              job_name(exp.name, spec.name), dry_run=dry_run)
    if dry_run:
        plan = plan_submission(runs, root, resubmit=resubmit)
        _fill(result, plan)
        _print_plan(result, plan, find_notebook_or_reason(exp, notebooks_dir), out or sys.stdout)
        return result
    notebook = find_notebook(exp, notebooks_dir)
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise SweepError("--executor slurm needs SLURM: 'sbatch' is not on PATH (run on a "
                         "login node of the cluster; --dry-run shows the job arrays anywhere)")
    experiment_folder(runs_dir, exp.name)  # a real, writable folder (no link, no file)
    with sweep_lock(root):
        plan = plan_submission(runs, root, resubmit=resubmit)
        _fill(result, plan)
        if plan.todo:
            _submit(result, plan.todo, notebook)
    if wait and result.jobs:
        _wait(result, plan.todo, progress)
    return result


def _fill(result: SlurmSweepResult, plan: SlurmPlan) -> None:
    result.skipped = len(plan.done)
    result.in_flight = dict(plan.in_flight)
    size = result.resources.max_array_size
    result.arrays = [[r.run_id for r in chunk] for chunk in _chunks(plan.todo, size)]


def _submit(result: SlurmSweepResult, todo: list[Run], notebook: Path) -> None:
    import submitit
    root = result.root.resolve()
    token = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    executor = submitit.AutoExecutor(folder=root / SLURM_DIR / LOGS_DIR / "%j",
                                     cluster=result.cluster,
                                     slurm_max_num_timeout=MAX_NUM_TIMEOUT)
    executor.update_parameters(**result.resources.executor_parameters(result.job_name))
    task = RunTask(root, notebook, token)
    record = result.root / SLURM_DIR / f"{token}.json"
    try:
        for chunk in _chunks(todo, result.resources.max_array_size):
            try:
                jobs = executor.map_array(task, chunk)
            except (OSError, RuntimeError) as err:  # sbatch refused (its message is in err)
                before = (f"; the {len(result.submitted)} runs submitted before are recorded "
                          f"in {record}" if result.submitted else "")
                raise SubmissionError(f"submitting a job array of {len(chunk)} runs failed"
                                      f"{before}: {err}") from err
            result.jobs.extend(jobs)
            result.array_ids.append(str(jobs[0].job_id).split("_", 1)[0])
            result.submitted.update({r.run_id: str(j.job_id)
                                     for r, j in zip(chunk, jobs, strict=True)})
    finally:
        if result.submitted:
            atomic_write_text(record, json.dumps({
                "token": token, "experiment": result.experiment, "preset": result.preset,
                "cluster": result.cluster,
                "submitted": datetime.now().isoformat(timespec="seconds"),
                "resources": result.resources.describe(), "notebook": str(notebook),
                "arrays": result.array_ids, "logs": str(root / SLURM_DIR / LOGS_DIR),
                "jobs": result.submitted,
            }, indent=2))
            result.record = record


def _wait(result: SlurmSweepResult, runs: Sequence[Run], progress: bool) -> None:
    from submitit.helpers import as_completed

    by_id = {run.run_id: run for run in runs}
    by_job = {job_id: by_id[run_id] for run_id, job_id in result.submitted.items()}
    poll = 30.0 if result.cluster == "slurm" else 0.5
    for job in as_completed(result.jobs, poll_frequency=poll):
        run = by_job[str(job.job_id)]
        rid = run.run_id
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = run_state(result.root / rid, run.params)
        if state == DONE:
            result.ran += 1
            message = f"ok      {rid} (job {job.job_id})"
        else:
            result.failed.append(rid)
            where = result.error_file(rid)
            if not where.exists():
                where = Path(job.paths.stderr)
            message = f"FAILED  {rid} (job {job.job_id}): see {where}"
        if progress:
            print(message, file=sys.stderr)
    order = {rid: i for i, rid in enumerate(result.submitted)}
    result.failed.sort(key=order.__getitem__)
    result.waited = True


# ---------------------------------------------------------------------------------------------
# output


def _print_plan(result: SlurmSweepResult, plan: SlurmPlan, notebook: str, out: IO[str]) -> None:
    res = result.resources
    print(f"{result.experiment} / {result.preset}: executor slurm (submitit cluster "
          f"{result.cluster!r})", file=out)
    print(f"notebook: {notebook}", file=out)
    print(f"runs folder: {result.root}", file=out)
    print(f"logs: {result.logs}/<job id>", file=out)
    print(f"resources per task: {res.describe()}", file=out)
    n = len(result.arrays)
    for i, ids in enumerate(result.arrays, 1):
        span = f"--array=0-{len(ids) - 1}%{min(len(ids), res.array_parallelism)}"
        print(f"job array {i}/{n}: {len(ids)} tasks ({span}), job name {result.job_name}",
              file=out)
        for line in res.sbatch_lines(result.job_name, result.logs.resolve() / "%j", len(ids)):
            print(f"  {line}", file=out)
        width = len(str(len(ids) - 1))
        for k, rid in enumerate(ids):
            print(f"  [{k:>{width}}] {rid}", file=out)
    for rid, job in plan.in_flight.items():
        print(f"  in flight  {rid}  (job {job}, queued or running; --resubmit to submit again)",
              file=out)
    todo = sum(len(ids) for ids in result.arrays)
    print(f"{result.total} runs: {result.skipped} done, {len(plan.in_flight)} in flight, "
          f"{todo} to submit in {n} job array(s) (dry run, nothing submitted)", file=out)


def report(result: SlurmSweepResult, err: IO[str] | None = None) -> None:
    """Print what a (non-dry) submission did, and how to follow it, to ``err`` (stderr)."""
    err = err or sys.stderr
    head = (f"{result.experiment}/{result.preset}: {result.total} runs: {result.skipped} "
            f"already done, {len(result.in_flight)} in flight")
    if not result.submitted:
        print(f"{head}, nothing to submit; runs in {result.root}", file=err)
        return
    arrays = ", ".join(f"{a} ({len(ids)} tasks)"
                       for a, ids in zip(result.array_ids, result.arrays, strict=False))
    print(f"{head}, {len(result.submitted)} submitted as job array(s) {arrays} "
          f"[{result.resources.describe()}]", file=err)
    print(f"job ids: {result.record}; logs: {result.logs}/<job id>", file=err)
    if result.waited:
        print(f"jobs ended: {result.ran} ran, {len(result.failed)} failed; runs in "
              f"{result.root}", file=err)
        for rid in result.failed:
            print(f"  FAILED {rid}: {result.error_file(rid)}", file=err)
        return
    if result.cluster == "slurm":
        ids = ",".join(dict.fromkeys(result.array_ids))
        print(f"follow: squeue -j {ids}   (or sacct -j {ids})", file=err)
    print("resume: run the same command again: finished runs and runs whose job is queued or "
          "running are skipped, failed ones are submitted again", file=err)
