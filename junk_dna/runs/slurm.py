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

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from junk_dna.results.records import atomic_write_text
from junk_dna.runs.cost import projection_lines
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
# Job states (squeue's %T, sacct's State) after which a job will not run again. Any other state
# while squeue lists the job (PENDING, RUNNING, REQUEUED, COMPLETING, SUSPENDED, PREEMPTED,
# SPECIAL_EXIT, ...) means in flight: a preempted job may still be requeued by SLURM.
FINAL_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "REVOKED", "TIMEOUT",
})
# final only once squeue no longer lists the job (SLURM may requeue it until then)
MAYBE_REQUEUED = frozenset({"PREEMPTED", "SPECIAL_EXIT"})
ENDED = "ENDED"  # squeue no longer lists the job and sacct cannot say how it ended
# how an ENDED job ended: sacct is disabled, or has no record (SLURM 22.05 keeps none of an
# array task cancelled while pending)
ENDED_WORDS = "ended (final state unknown: neither squeue nor sacct lists it)"
UNKNOWN = "UNKNOWN"  # neither squeue nor sacct answered: treated as in flight
POLL_MIN_S, POLL_MAX_S = 2.0, 30.0  # --wait polls squeue (sacct) from every 2 s to every 30 s
UNKNOWN_GIVE_UP_S = 900.0  # --wait stops after squeue and sacct failed this long in a row
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


def task_threads(env: Mapping[str, str] | None = None) -> int:
    """Threads of a run in an array task: the CPUs SLURM allocated to the task
    (``SLURM_CPUS_PER_TASK``, else ``SLURM_CPUS_ON_NODE``), which a task plugin without CPU
    binding (``task/none``) does not enforce, never more than this process may use
    (:func:`~junk_dna.runs.notebook.available_cpus`); outside SLURM those."""
    env = os.environ if env is None else env
    cpus = available_cpus()
    for name in ("SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"):
        try:
            value = int(env.get(name, ""))
        except ValueError:
            continue
        if value >= 1:
            return min(value, cpus)
    return cpus


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
            ok = execute_run(run, root, Path(self.notebook), task_threads(), launcher)
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
        in_flight: run id -> job id of runs whose job is queued or running, or whose state is
            unknown (skipped).
        todo: runs to submit, in the preset's order.
        states: job id -> state of the jobs of the runs in flight or submitted before (a SLURM
            state, :data:`ENDED` or :data:`UNKNOWN`).
        previous: run id -> job id of runs to submit whose latest job ended without a record.
        unknown: why the states of some jobs are unknown (``None``: they are all known).
    """

    done: list[Run] = field(default_factory=list)
    in_flight: dict[str, str] = field(default_factory=dict)
    todo: list[Run] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)
    unknown: str | None = None


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


def base_state(state: str) -> str:
    """``CANCELLED`` of sacct's ``CANCELLED by 0``; ``FAILED`` of ``FAILED+``."""
    return state.strip().split(" ", 1)[0].rstrip("+")


def _arrays(ids: Iterable[str]) -> str:
    return ",".join(sorted({job.split("_", 1)[0] for job in ids}, key=lambda j: (len(j), j)))


def _states_of(tool: str, args: list[str], ids: set[str], timeout_s: float,
               unknown_ok: str | None = None) -> dict[str, str]:
    """Job id -> base state of the ``ids`` that ``tool args -j <arrays>`` lists as ``id|state``
    lines; ``{}`` when its stderr contains ``unknown_ok``.

    Raises:
        OSError: the tool is missing, failed or exited non-zero (the message has its error).
    """
    path = shutil.which(tool)
    if path is None:
        raise OSError(f"{tool!r} is not on PATH")
    try:
        proc = subprocess.run([path, *args, "-j", _arrays(ids)], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        raise OSError(f"{tool} failed: {err}") from err
    if proc.returncode != 0:
        if unknown_ok is not None and unknown_ok in proc.stderr:
            return {}
        raise OSError(f"{tool} exited {proc.returncode}: {_one_line(proc.stderr)}")
    listed = {}
    for line in proc.stdout.splitlines():
        field_, _, state = line.strip().partition("|")
        for job in expand_job_ids(field_, ids) if state else ():
            listed[job] = base_state(state)
    return listed


_TASK_RANGE = re.compile(r"^(\d+)_\[([^\]]+)\]$")


def expand_job_ids(field_: str, among: Iterable[str]) -> list[str]:
    """The ids of ``among`` that a ``squeue``/``sacct`` job-id field stands for: ``"12"`` and
    ``"12_3"`` themselves; a group of array tasks that never started, ``"12_[3-5,8%2]"``,
    each of its tasks (``12_3``, ``12_4``, ``12_5``, ``12_8``; ``%2`` is the array's throttle),
    tested against ``among`` without listing the range. A malformed group (an empty or
    reversed range, not digits) matches nothing, never a wrong job."""
    wanted = set(among)
    match = _TASK_RANGE.match(field_)
    if match is None:
        return [field_] if field_ in wanted else []
    job, spec = match.group(1), match.group(2).split("%", 1)[0]
    ranges = []
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            return []
        ranges.append((int(lo), int(hi) if dash else int(lo)))
        if ranges[-1][0] > ranges[-1][1]:
            return []
    out = []
    for jid in sorted(wanted):
        head, _, task = jid.partition("_")
        if head == job and task.isdigit() and any(lo <= int(task) <= hi for lo, hi in ranges):
            out.append(jid)
    return out


def squeue_states(job_ids: Iterable[str], *, timeout_s: float = 60.0) -> dict[str, str]:
    """Job id -> state of the jobs among ``job_ids`` (``123`` or array tasks ``123_4``) that
    ``squeue`` lists (every state, also recently ended ones; array tasks one by one). A job it
    does not list has left the controller: it ended.

    Raises:
        OSError: ``squeue`` is missing or failed (the message has its error).
    """
    ids = set(job_ids)
    if not ids:
        return {}
    # "Invalid job id": none of the jobs is known any more
    return _states_of("squeue", ["-h", "-r", "-t", "all", "-o", "%i|%T"], ids, timeout_s,
                      unknown_ok="Invalid job id")


def sacct_states(job_ids: Iterable[str], *, timeout_s: float = 60.0) -> dict[str, str]:
    """Job id -> state per ``sacct`` (accounting) of the jobs among ``job_ids`` it knows.

    Raises:
        OSError: ``sacct`` is missing or failed (e.g. accounting storage is disabled).
    """
    ids = set(job_ids)
    if not ids:
        return {}
    return _states_of("sacct", ["-n", "-P", "-X", "-o", "JobID,State"], ids, timeout_s)


def _one_line(text: str) -> str:
    lines = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    return "; ".join(lines)[:300] or "no message"


@dataclass
class JobStates:
    """What SLURM says about some jobs.

    Attributes:
        states: job id -> state: squeue's while it lists the job; once it does not,
            sacct's (with accounting) or :data:`ENDED`; :data:`UNKNOWN` when neither command
            answered (or squeue failed and sacct does not know the job).
        gone: the jobs squeue no longer lists (ended, whatever their state says).
        unknown: why some states are unknown (``None``: all known).
    """

    states: dict[str, str]
    gone: set[str] = field(default_factory=set)
    unknown: str | None = None

    def final(self, job_id: str) -> bool:
        """The job will not run again: it left the queue, or its state is final."""
        return job_id in self.gone or self.states.get(job_id, UNKNOWN) in FINAL_STATES


def job_states(job_ids: Iterable[str], *, timeout_s: float = 60.0) -> JobStates:
    """The states of SLURM jobs, from ``squeue`` first (works without accounting), then
    ``sacct`` for the jobs squeue no longer lists (how they ended) or for all jobs when
    squeue fails. A job is final when its state is in :data:`FINAL_STATES` or when squeue
    no longer lists it; a ``PREEMPTED`` job squeue still lists is in flight (SLURM may
    requeue it)."""
    ids = sorted(set(job_ids))
    if not ids:
        return JobStates({})
    try:
        listed: dict[str, str] | None = squeue_states(ids, timeout_s=timeout_s)
        squeue_error = ""
    except OSError as err:
        listed, squeue_error = None, str(err)
    out = JobStates({})
    if listed is not None:
        out.states.update(listed)
        out.gone = {job for job in ids if job not in listed}
    rest = [job for job in ids if job not in out.states]
    accounted: dict[str, str] = {}
    sacct_error = ""
    if rest:
        try:
            accounted = sacct_states(rest, timeout_s=timeout_s)
        except OSError as err:
            sacct_error = str(err)
    for job in rest:
        state = accounted.get(job)
        if job in out.gone:  # how it ended, if sacct knows (it may lag behind)
            out.states[job] = state if state in FINAL_STATES | MAYBE_REQUEUED else ENDED
        else:
            out.states[job] = state or UNKNOWN
    if listed is None and any(out.states[job] == UNKNOWN for job in ids):
        out.unknown = f"{squeue_error}; " + (sacct_error or "sacct does not know the job")
    return out


def final_jobs(job_ids: Iterable[str], *, timeout_s: float = 60.0) -> set[str] | None:
    """The SLURM jobs among ``job_ids`` that will not run again (:func:`job_states`);
    ``None`` when no state is known (squeue and sacct both failed)."""
    states = job_states(job_ids, timeout_s=timeout_s)
    final = {job for job in states.states if states.final(job)}
    if states.unknown and not final:
        return None
    return final


def plan_submission(runs: Sequence[Run], root: str | os.PathLike[str], *,
                    resubmit: bool = False) -> SlurmPlan:
    """Split ``runs`` into done, in flight (queued or running: skipped) and to submit.

    A run not finished is in flight when its latest submission has no ``ended`` marker of
    that submission and, for a SLURM submission, its job is not final (:func:`job_states`:
    squeue still lists it in a non-final state, or neither squeue nor sacct answered).
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
    states = job_states(sub.job_id for _, sub in waiting if sub.cluster == "slurm")
    plan.unknown = states.unknown
    order = {run.run_id: i for i, run in enumerate(runs)}
    for run, sub in waiting:
        if sub.cluster == "slurm":
            plan.states[sub.job_id] = states.states.get(sub.job_id, UNKNOWN)
        if sub.cluster == "slurm" and states.final(sub.job_id):
            plan.todo.append(run)
            plan.previous[run.run_id] = sub.job_id
        else:
            plan.in_flight[run.run_id] = sub.job_id
    plan.todo.sort(key=lambda r: order[r.run_id])
    return plan


def describe_state(state: str | None) -> str:
    """A job's state in words: ``CANCELLED``, :data:`ENDED_WORDS`, ``state unknown``."""
    if state == ENDED:
        return ENDED_WORDS
    if state in (None, UNKNOWN):
        return "state unknown"
    return state


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
        in_flight: run id -> job id of runs left alone (their job is queued or running, or
            its state is unknown).
        states: job id -> SLURM state of the jobs of earlier submissions (:class:`SlurmPlan`).
        previous: run id -> job id of the runs submitted again because that job ended
            without a record (cancelled, killed, failed, timed out, ...).
        unknown: why the state of some earlier jobs is unknown (``None``: all known).
        arrays: the run ids of each job array (submitted, or to submit in a dry run).
        submitted: run id -> job id of the runs submitted now (a single run is a plain job
            ``123``, not an array task ``123_0``).
        array_ids: the job id of each submitted array.
        record: the submission record ``.slurm/<token>.json`` (``None``: nothing submitted).
        submitted_at: when the submission started (seconds since the epoch).
        dry_run: nothing was submitted.
        waited: ``--wait``: the jobs ended; ``ran``/``failed`` count their runs.
        ran, failed: runs submitted now that finished / did not (after ``--wait``).
        failures: run id -> why it did not finish: the job's final state and the files that
            exist (``error.txt``, ``log.txt``, the job's stderr), or "before the run started".
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
    states: dict[str, str] = field(default_factory=dict)
    previous: dict[str, str] = field(default_factory=dict)
    unknown: str | None = None
    arrays: list[list[str]] = field(default_factory=list)
    submitted: dict[str, str] = field(default_factory=dict)
    array_ids: list[str] = field(default_factory=list)
    record: Path | None = None
    submitted_at: float = 0.0
    dry_run: bool = False
    waited: bool = False
    ran: int = 0
    failed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    jobs: list[Any] = field(default_factory=list, repr=False)
    runs: list[Run] = field(default_factory=list, repr=False)

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


def submit_sweep(experiment: str, preset: str, **kwargs: Any) -> SlurmSweepResult:
    """:func:`submit_sweeps` of one experiment (same keyword arguments)."""
    return submit_sweeps([experiment], preset, **kwargs)[0]


def submit_sweeps(
    experiments: Sequence[str],
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
) -> list[SlurmSweepResult]:
    """Submit the runs still to do of ``preset`` of each experiment as SLURM job array(s)
    through submitit (the arrays of each experiment in its own runs folder, in this order).

    Everything (every preset, run, resource and notebook, ``sbatch`` on PATH) is checked
    before anything is submitted. Holds ``<root>/.sweep.lock`` only while submitting.
    ``dry_run`` prints the arrays (tasks, resources, ``#SBATCH`` lines, run ids) to ``out``
    (default stdout) and submits nothing, needing no SLURM. ``wait`` blocks until the
    submitted jobs end (one line per run on stderr unless ``progress`` is false); on SLURM it
    polls ``squeue`` (and ``sacct`` when there is accounting), so a job that ends without a
    result (cancelled while pending, killed) never blocks it.

    Args:
        overrides: resource overrides (:func:`~junk_dna.runs.resources.parse_overrides`) over
            each preset's ``slurm:``.
        resubmit: submit every unfinished run, also those whose job is queued or running.
        cluster: submitit cluster (default :func:`submitit_cluster`).
        max_runs: the most runs the preset may expand to (see
            :func:`~junk_dna.runs.presets.expand_preset`).

    Raises:
        SweepError: unknown experiment or cluster, missing notebook, no ``sbatch``.
        PresetError: a preset, a run or a resource is invalid.
        SubmissionError: ``sbatch`` refused an array (those submitted before are recorded;
            the message names them).
        SweepLockedError: another sweep holds a runs folder's lock.
    """
    cluster = submitit_cluster(cluster)
    names = [lookup_experiment(name).name for name in experiments]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SweepError(f"experiment(s) {twice} given twice")
    prepared = [_prepare(name, preset, Path(runs_dir), overrides, cluster, dry_run,
                         notebooks_dir, max_runs) for name in names]
    if dry_run:
        for result, notebook in prepared:
            plan = plan_submission(result.runs, result.root, resubmit=resubmit)
            _fill(result, plan)
            _print_plan(result, plan, notebook, out or sys.stdout)
        return [result for result, _ in prepared]
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise SweepError("--executor slurm needs SLURM: 'sbatch' is not on PATH (run on a "
                         "login node of the cluster; --dry-run shows the job arrays anywhere)")
    results: list[SlurmSweepResult] = []
    for result, _ in prepared:
        experiment_folder(Path(runs_dir), result.experiment)  # real and writable, no link
    for result, notebook in prepared:
        try:
            with sweep_lock(result.root):
                plan = plan_submission(result.runs, result.root, resubmit=resubmit)
                _fill(result, plan)
                if plan.todo:
                    _submit(result, plan.todo, Path(notebook))
        except SubmissionError as err:
            before = [f"{r.experiment}: {len(r.submitted)} runs ({r.record})"
                      for r in results if r.submitted]
            if before:
                raise SubmissionError(f"{result.experiment}: {err} (submitted before it: "
                                      f"{'; '.join(before)})") from err
            raise
        results.append(result)
    if wait and any(r.jobs for r in results):
        _wait(results, progress)
    return results


def _prepare(experiment: str, preset: str, runs_dir: Path, overrides: Mapping[str, Any] | None,
             cluster: str, dry_run: bool, notebooks_dir: str | os.PathLike[str] | None,
             max_runs: int | None = MAX_RUNS) -> tuple[SlurmSweepResult, str]:
    """Validate one experiment's preset, resources, runs and notebook (submits nothing)."""
    exp = lookup_experiment(experiment)
    spec = load_preset(exp.name, preset)
    resources = resolve_resources(spec.slurm, overrides)
    runs = expand_preset(exp, spec, check_hub=not dry_run, max_runs=max_runs)
    result = SlurmSweepResult(exp.name, spec.name, runs_dir / exp.name, len(runs), cluster,
                              resources, job_name(exp.name, spec.name), dry_run=dry_run,
                              runs=list(runs))
    if dry_run:
        return result, find_notebook_or_reason(exp, notebooks_dir)
    return result, str(find_notebook(exp, notebooks_dir))


def _fill(result: SlurmSweepResult, plan: SlurmPlan) -> None:
    result.skipped = len(plan.done)
    result.in_flight = dict(plan.in_flight)
    result.states = dict(plan.states)
    result.previous = dict(plan.previous)
    result.unknown = plan.unknown
    size = result.resources.max_array_size
    result.arrays = [[r.run_id for r in chunk] for chunk in _chunks(plan.todo, size)]


_GRES = re.compile(r"invalid generic resource|\bgres\b", re.IGNORECASE)


def _refused(result: SlurmSweepResult, runs: int, err: Exception, record: Path) -> str:
    """Why sbatch refused an array, in one message (sbatch's lines once each)."""
    said = _one_line(str(err).replace("Command failed with return code", "exit"))
    match = re.findall(r"(?:sbatch: error: )?(Batch job submission failed: [^\n;]+)", str(err))
    if match:
        said = "; ".join(dict.fromkeys(m.strip() for m in match))
    res = result.resources
    hint = ""
    if res.gpus_per_node and _GRES.search(str(err)):
        where = f"partition {res.partition}" if res.partition else "this cluster"
        hint = (f"{where} has no gres gpu (--gpus {res.gpus_per_node}): pass --gpus 0 or "
                "another partition; ")
    before = (f"; the {len(result.submitted)} runs submitted before are recorded in {record}"
              if result.submitted else "")
    return f"submitting a job array of {runs} runs failed: {hint}sbatch said: {said}{before}"


def _submit(result: SlurmSweepResult, todo: list[Run], notebook: Path) -> None:
    import submitit
    root = result.root.resolve()
    token = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    result.submitted_at = time.time()
    logs = root / SLURM_DIR / LOGS_DIR
    executor = submitit.AutoExecutor(folder=logs / "%j", cluster=result.cluster,
                                     slurm_max_num_timeout=MAX_NUM_TIMEOUT)
    executor.update_parameters(**result.resources.executor_parameters(result.job_name))
    task = RunTask(root, notebook, token)
    record = result.root / SLURM_DIR / f"{token}.json"
    try:
        for chunk in _chunks(todo, result.resources.max_array_size):
            before = set(logs.iterdir()) if logs.is_dir() else set()
            said = io.StringIO()  # submitit prints sbatch's error, which err repeats
            try:
                with contextlib.redirect_stderr(said):
                    jobs = executor.map_array(task, chunk)
            except (OSError, RuntimeError) as err:  # sbatch refused (its message is in err)
                _remove_leftovers(root, before)
                raise SubmissionError(_refused(result, len(chunk), err, record)) from err
            except BaseException:
                sys.stderr.write(said.getvalue())
                raise
            sys.stderr.write(said.getvalue())
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
                "arrays": result.array_ids, "logs": str(logs),
                "jobs": result.submitted,
            }, indent=2))
            result.record = record


def _remove_leftovers(root: Path, before: set[Path]) -> None:
    """Remove what a refused submission left in ``root/.slurm/logs`` (submitit's pickles of
    the tasks and its submission script), and the folders if they are left empty."""
    logs = root / SLURM_DIR / LOGS_DIR
    if logs.is_dir():
        for path in set(logs.iterdir()) - before:
            if path.is_file() and (path.suffix == ".pkl"
                                   or path.name.startswith(".submission_file")):
                path.unlink(missing_ok=True)
    for folder in (logs, root / SLURM_DIR):
        with contextlib.suppress(OSError):  # not empty: keep it
            folder.rmdir()


# ---------------------------------------------------------------------------------------------
# waiting


def _failure(result: SlurmSweepResult, run_id: str, job_id: str, state: str | None,
             stderr: Path | None) -> str:
    """Why a run submitted now did not finish: the job's final state, and only the files
    that this submission's job wrote (or that it never started the run)."""
    run_dir = result.root / run_id
    since = result.submitted_at - 5.0

    def fresh(path: Path | None) -> bool:
        try:
            return path is not None and path.stat().st_mtime >= since
        except OSError:
            return False

    files = [p for p in (run_dir / ERROR_NAME, run_dir / LOG_NAME, stderr) if fresh(p)]
    if state in (None, UNKNOWN):
        text = f"job {job_id}: state unknown"
    elif state == ENDED:
        text = f"job {job_id} {ENDED_WORDS}"
    else:
        text = f"job {job_id} ended {state}"
    if not (fresh(run_dir / LOG_NAME) or fresh(run_dir / ERROR_NAME)):
        text += " before the run started"
    if files:
        text += "; see " + ", ".join(str(p) for p in files)
    return text


def _finish(result: SlurmSweepResult, run: Run, job: Any, state: str | None,
            progress: bool) -> None:
    rid = run.run_id
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = run_state(result.root / rid, run.params) == DONE
    if done:
        result.ran += 1
        message = f"ok      {rid} (job {job.job_id})"
    else:
        result.failed.append(rid)
        stderr = Path(job.paths.stderr) if job is not None else None
        result.failures[rid] = _failure(result, rid, str(job.job_id), state, stderr)
        message = f"FAILED  {rid}: {result.failures[rid]}"
    if progress:
        print(message, file=sys.stderr)


def _wait(results: Sequence[SlurmSweepResult], progress: bool) -> None:
    """Wait until every job submitted now ended; fill ``ran``, ``failed`` and ``failures``."""
    waiting: dict[str, tuple[SlurmSweepResult, Run, Any]] = {}
    for result in results:
        by_id = {run.run_id: run for run in result.runs}
        by_job = {str(job.job_id): job for job in result.jobs}
        for rid, job_id in result.submitted.items():
            waiting[job_id] = (result, by_id[rid], by_job[job_id])
    if any(result.cluster == "slurm" for result in results):
        _poll_slurm(waiting, progress)
    else:
        from submitit.helpers import as_completed

        jobs = [job for _, _, job in waiting.values()]
        for job in as_completed(jobs, poll_frequency=0.5):
            result, run, _ = waiting[str(job.job_id)]
            _finish(result, run, job, job.state, progress)
    for result in results:
        order = {rid: i for i, rid in enumerate(result.submitted)}
        result.failed.sort(key=order.__getitem__)
        result.waited = True


def _poll_slurm(waiting: dict[str, tuple[SlurmSweepResult, Run, Any]], progress: bool) -> None:
    """Poll squeue (sacct) until every job in ``waiting`` is final: from every
    :data:`POLL_MIN_S` to every :data:`POLL_MAX_S` seconds; gives up on the jobs whose state
    stayed unknown (squeue and sacct failing) for :data:`UNKNOWN_GIVE_UP_S`."""
    pending = dict(waiting)
    delay = POLL_MIN_S
    unknown_since: float | None = None
    while pending:
        states = job_states(pending)
        for job_id in [j for j in pending if states.final(j)]:
            result, run, job = pending.pop(job_id)
            _finish(result, run, job, states.states.get(job_id), progress)
        if not pending:
            break
        if states.unknown:
            unknown_since = unknown_since if unknown_since is not None else time.monotonic()
            if time.monotonic() - unknown_since > UNKNOWN_GIVE_UP_S:
                print(f"not waiting longer: the state of {len(pending)} job(s) has been "
                      f"unknown for {UNKNOWN_GIVE_UP_S / 60:.0f} min ({states.unknown})",
                      file=sys.stderr)
                for result, run, job in pending.values():
                    _finish(result, run, job, UNKNOWN, progress)
                break
        else:
            unknown_since = None
        time.sleep(delay)
        delay = min(delay * 1.5, POLL_MAX_S)


# ---------------------------------------------------------------------------------------------
# output


def _state_counts(result: SlurmSweepResult) -> str:
    counts: dict[str, int] = {}
    for job in result.in_flight.values():
        state = result.states.get(job, "submitted")  # not a SLURM job (local/debug cluster)
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _in_flight_note(result: SlurmSweepResult, job: str) -> str:
    state = result.states.get(job)
    if state is None:  # a submission to submitit's local/debug cluster
        return f"job {job}, no ended marker yet"
    if state == UNKNOWN:
        return f"job {job}, state unknown: {result.unknown or 'squeue and sacct failed'}"
    return f"job {job} {state}"


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
        if len(ids) == 1:
            print(f"job array {i}/{n}: 1 task (submitted as a plain job, not an array), job "
                  f"name {result.job_name}", file=out)
        else:
            span = f"--array=0-{len(ids) - 1}%{min(len(ids), res.array_parallelism)}"
            print(f"job array {i}/{n}: {len(ids)} tasks ({span}), job name {result.job_name}",
                  file=out)
        for line in res.sbatch_lines(result.job_name, result.logs.resolve() / "%j", len(ids)):
            print(f"  {line}", file=out)
        width = len(str(len(ids) - 1))
        for k, rid in enumerate(ids):
            again = plan.previous.get(rid)
            note = (f"  (again: job {again} {_ended_words(plan.states.get(again))})"
                    if again else "")
            print(f"  [{k:>{width}}] {rid}{note}", file=out)
    for rid, job in plan.in_flight.items():
        print(f"  in flight  {rid}  ({_in_flight_note(result, job)}; --resubmit to submit "
              "again)", file=out)
    todo = sum(len(ids) for ids in result.arrays)
    print(f"{result.total} runs: {result.skipped} done, {len(plan.in_flight)} in flight, "
          f"{todo} to submit in {n} job array(s) (dry run, nothing submitted)", file=out)
    for line in projection_lines([run.params for run in plan.todo]):
        print(line, file=out)


def _ended_words(state: str | None) -> str:
    if state == ENDED:
        return ENDED_WORDS
    return f"ended {state or UNKNOWN}"


def report(result: SlurmSweepResult, err: IO[str] | None = None) -> None:
    """Print what a (non-dry) submission did, and how to follow it, to ``err`` (stderr)."""
    err = err or sys.stderr
    head = (f"{result.experiment}/{result.preset}: {result.total} runs: {result.skipped} "
            f"already done, {len(result.in_flight)} in flight")
    if any(job in result.states for job in result.in_flight.values()):
        head += f" ({_state_counts(result)})"
    unknown = (f"  the state of earlier jobs is unknown ({result.unknown}): their runs count "
               "as in flight; --resubmit submits them again"
               if result.unknown and result.in_flight else "")
    if not result.submitted:
        print(f"{head}, nothing to submit; runs in {result.root}", file=err)
        if unknown:
            print(unknown, file=err)
        return
    arrays = ", ".join(f"{a} ({len(ids)} tasks)" if len(ids) > 1 else f"{a} (1 task, a plain job)"
                       for a, ids in zip(result.array_ids, result.arrays, strict=False))
    print(f"{head}, {len(result.submitted)} submitted as job array(s) {arrays} "
          f"[{result.resources.describe()}]", file=err)
    if unknown:
        print(unknown, file=err)
    shown = list(result.previous.items())
    for rid, job in shown[:20]:
        print(f"  again  {rid} (job {job} {_ended_words(result.states.get(job))} without a "
              f"record; now job {result.submitted.get(rid)})", file=err)
    if len(shown) > 20:
        print(f"  ... and {len(shown) - 20} more submitted again", file=err)
    print(f"job ids: {result.record}; logs: {result.logs}/<job id>", file=err)
    if result.waited:
        print(f"jobs ended: {result.ran} ran, {len(result.failed)} failed; runs in "
              f"{result.root}", file=err)
        for rid in result.failed:
            print(f"  FAILED {rid}: {result.failures.get(rid, result.error_file(rid))}",
                  file=err)
        return
    if result.cluster == "slurm":
        ids = ",".join(dict.fromkeys(result.array_ids))
        print(f"follow: squeue -j {ids}   (or sacct -j {ids} with accounting)", file=err)
    print("resume: run the same command again: finished runs and runs whose job is queued or "
          "running are skipped, failed ones are submitted again", file=err)
