"""The local executor: ``junk-dna sweep EXPERIMENT ... --preset P`` on this machine.

The runs of a preset not finished yet execute ``--jobs`` at once, each in its own folder
(:func:`junk_dna.runs.notebook.execute_run`); by default each job slot keeps one persistent
worker and kernel across its runs (:class:`junk_dna.runs.kernels.KernelPool`). A killed sweep
resumes where it stopped: finished runs are skipped, any other run folder is cleared and run
again; runs finished by another experiment with the same protocol are copied
(:mod:`junk_dna.runs.reuse`). The SLURM executor (:mod:`junk_dna.runs.slurm`) executes the
same runs as job arrays instead.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from junk_dna.experiments import Experiment, experiment_names, same_protocol
from junk_dna.runs.cost import projection_lines
from junk_dna.runs.errors import RunFolderError, SweepError
from junk_dna.runs.kernels import KernelPool
from junk_dna.runs.layout import (
    DEFAULT_RUNS_DIR,
    DONE,
    ERROR_NAME,
    WORKER_LOG_NAME,
    describe_os_error,
    experiment_folder,
    run_state,
    sweep_lock,
)
from junk_dna.runs.notebook import (
    Launcher,
    available_cpus,
    execute_run,
    find_notebook,
    find_notebook_or_reason,
)
from junk_dna.runs.presets import (
    MAX_RUNS,
    Preset,
    Run,
    expand_preset,
    load_preset,
    lookup_experiment,
    varying_keys,
)
from junk_dna.runs.reuse import reuse_shared_runs

JOBS_AUTO = "auto"
"""``--jobs auto``: the layout chosen from the machine (:func:`auto_layout`)."""


def auto_layout(cpus: int, runs: int) -> tuple[int, int]:
    """``(runs at once, threads per run)`` of ``--jobs auto``: one 1-thread run per CPU; when
    fewer runs than CPUs are left, those runs share the CPUs (``cpus // runs`` threads each).
    On branch speed's 2-core measurements, 2 runs x 1 thread beat 1 run x 2 threads in every
    pair (``benchmarks/README.md``, thread layout)."""
    slots = max(1, min(cpus, runs))
    return slots, max(1, cpus // slots)


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        experiment, preset: what was swept.
        root: the experiment's runs folder (``<runs_dir>/<experiment>``).
        total: runs in the preset (after dedupe).
        skipped: runs already finished before this sweep (resumed past).
        ran: runs executed and finished by this sweep.
        reused: of ``skipped``, runs copied from another experiment with the same protocol
            (see :func:`reuse_shared_runs`).
        failed: run ids that failed in this sweep (each has ``root/<id>/error.txt``, or a
            reason in ``reasons``).
        reasons: run id -> why it failed, for failed runs whose folder could not be used or
            written (a link, a file, claimed by another process, a full disk); these may have
            no ``error.txt``.
        dry_run: nothing was executed.
    """

    experiment: str
    preset: str
    root: Path
    total: int
    skipped: int = 0
    ran: int = 0
    reused: int = 0
    failed: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def done(self) -> int:
        """Runs finished after this sweep."""
        return self.skipped + self.ran

    @property
    def todo(self) -> int:
        """Runs not finished after this sweep."""
        return self.total - self.done

    def error_file(self, run_id: str) -> Path:
        """The error file of a failed run."""
        return self.root / run_id / ERROR_NAME

    def failure(self, run_id: str) -> str:
        """Where to read why a failed run failed: its reason, else its error file."""
        return self.reasons.get(run_id) or f"see {self.error_file(run_id)}"


def run_sweep(experiment: str, preset: str, **options: Any) -> SweepResult:
    """Expand ``preset`` of ``experiment`` and execute every run not finished yet.

    ``options`` are those of :func:`run_sweeps`: ``runs_dir``, ``jobs``, ``dry_run``,
    ``notebooks_dir``, ``progress``, ``out``, ``reuse_kernels``, ``max_runs``. Everything is
    validated before the first run starts (the preset's values and size, the notebook, the
    runs folder: a file, a link where an experiment's folder belongs or a folder that cannot
    be written is bad input). Runs execute in subprocesses, ``jobs`` at once (default: the
    preset's ``jobs``, else 1; ``"auto"``: :func:`auto_layout`), in the preset's order; each
    gets ``JUNK_DNA_THREADS = max(1, cpus // jobs)``. With ``reuse_kernels`` (default) each
    of the ``jobs`` slots keeps one worker and one kernel across its runs, namespace reset
    between runs (:mod:`junk_dna.runs.kernels`); ``False`` starts a new kernel for every run. A
    failing run keeps its executed notebook and gets an ``error.txt``; the others go on (a
    run whose folder cannot be used or written fails with its reason in the result). A
    progress bar (stderr) counts all runs of the preset, the finished ones included.
    ``dry_run`` prints the runs (id, state, the params that vary) to ``out`` (default stdout)
    and executes nothing, taking no lock.

    Raises:
        SweepError: unknown experiment, missing notebook, bad ``jobs``.
        PresetError: the preset cannot be loaded or a run is invalid.
        SweepLockedError: another sweep holds ``<runs_dir>/<experiment>/.sweep.lock``.
        KeyboardInterrupt: after stopping the running subprocesses (rerun to resume).
    """
    return run_sweeps([experiment], preset, **options)[0]


def run_sweeps(
    experiments: Sequence[str],
    preset: str,
    *,
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    jobs: int | str | None = None,
    dry_run: bool = False,
    notebooks_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    out: IO[str] | None = None,
    reuse_kernels: bool = True,
    max_runs: int | None = MAX_RUNS,
) -> list[SweepResult]:
    """:func:`run_sweep` for several experiments, one after the other, in the given order.

    Every experiment's preset is loaded, expanded and validated (and its notebook found)
    before the first run of the first one starts. The sweeps share one pool of persistent
    workers, so the kernels started (and the imports paid) by the first sweep serve all of
    them. Order matters for shared runs: an experiment reuses the finished identical runs of
    the experiments before it (:func:`reuse_shared_runs`). A failed run does not stop the
    next experiments; each result lists its own failures.

    Raises:
        SweepError, PresetError, SweepLockedError, KeyboardInterrupt: as :func:`run_sweep`.
    """
    if jobs is not None and jobs != JOBS_AUTO and (
            isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise SweepError(f"jobs {jobs!r} must be an integer >= 1 or {JOBS_AUTO!r}")
    if not experiments:
        raise SweepError(f"no experiment given; allowed: {experiment_names()}")
    repeated = sorted({name for name in experiments if list(experiments).count(name) > 1})
    if repeated:
        raise SweepError(f"experiment(s) {repeated} given more than once")
    plans = []
    for name in experiments:
        exp = lookup_experiment(name)
        spec = load_preset(exp.name, preset)
        runs = expand_preset(exp, spec, check_hub=not dry_run, max_runs=max_runs)
        notebook = None if dry_run else find_notebook(exp, notebooks_dir)
        plans.append((exp, spec, runs, notebook))
    if dry_run and Path(runs_dir).exists() and not Path(runs_dir).is_dir():
        raise SweepError(f"runs folder {str(runs_dir)!r} is a file, not a folder")
    # every experiment's folder is checked (created, writable, no link) before any run
    roots = {exp.name: (Path(runs_dir) / exp.name if dry_run
                        else experiment_folder(runs_dir, exp.name).absolute())
             for exp, *_ in plans}
    results = []
    launcher = (KernelPool(worker_log=Path(runs_dir).absolute() / WORKER_LOG_NAME)
                if reuse_kernels else Launcher())
    try:
        for exp, spec, runs, notebook in plans:
            root = roots[exp.name]
            result = SweepResult(exp.name, spec.name, root, len(runs), dry_run=dry_run)
            results.append(result)
            if dry_run:
                _print_plan(exp, spec, runs, root, notebooks_dir, out or sys.stdout, result)
                continue
            assert notebook is not None
            with sweep_lock(root):
                states = {run.run_id: run_state(root / run.run_id, run.params) for run in runs}
                todo = [run for run in runs if states[run.run_id] != DONE]
                reused = reuse_shared_runs(exp.name, todo, Path(runs_dir))
                if reused and progress:
                    print(f"reused {len(reused)} finished run(s) of "
                          f"{', '.join(same_protocol(exp.name))} with identical parameters",
                          file=sys.stderr)
                result.reused = len(reused)
                todo = [run for run in todo if run.run_id not in reused]
                result.skipped = len(runs) - len(todo)
                if jobs == JOBS_AUTO:
                    slots, threads = auto_layout(available_cpus(), len(todo))
                else:
                    slots = jobs or spec.jobs or 1
                    threads = max(1, available_cpus() // slots)
                _execute(todo, result, root, notebook, slots, threads, progress, launcher)
    finally:
        launcher.close()
    return results


def _execute(todo: list[Run], result: SweepResult, root: Path, notebook: Path, jobs: int,
             threads: int, progress: bool, launcher: Launcher) -> None:
    from tqdm import tqdm

    bar = tqdm(total=result.total, initial=result.skipped, desc=f"{result.experiment}/"
               f"{result.preset}", unit="run", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    bar.set_postfix({"left": len(todo), "failed": 0})

    def one(run: Run) -> tuple[bool, float, str | None]:
        start = time.monotonic()
        try:
            ok = execute_run(run, root, notebook, threads, launcher)
        except RunFolderError as err:  # the run failed; its folder may hold no error.txt
            return False, time.monotonic() - start, str(err)
        except OSError as err:  # any other filesystem error fails this run, not the sweep
            return False, time.monotonic() - start, (
                f"filesystem error in run folder {root / run.run_id}: {describe_os_error(err)}")
        return ok, time.monotonic() - start, None

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="junk-dna-run")
    futures: dict[Future[tuple[bool, float, str | None]], Run] = {}
    order = {run.run_id: i for i, run in enumerate(todo)}
    try:
        futures = {pool.submit(one, run): run for run in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: order[futures[f].run_id]):
                run = futures[fut]
                ok, seconds, reason = fut.result()
                if ok:
                    result.ran += 1
                    message = f"ok      {run.run_id} ({seconds:.1f} s)"
                else:
                    result.failed.append(run.run_id)
                    if reason is not None:
                        result.reasons[run.run_id] = reason
                    message = f"FAILED  {run.run_id}: {result.failure(run.run_id)}"
                if progress:
                    bar.write(message, file=sys.stderr)
                bar.update(1)
                bar.set_postfix({"left": result.todo - len(result.failed),
                                 "failed": len(result.failed)})
    except BaseException:
        for fut in futures:
            fut.cancel()
        launcher.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    result.failed.sort(key=order.__getitem__)


def _print_plan(exp: Experiment, spec: Preset, runs: list[Run], root: Path,
                notebooks_dir: str | os.PathLike[str] | None, out: IO[str],
                result: SweepResult) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = [run_state(root / run.run_id, run.params) for run in runs]
    result.skipped = states.count(DONE)
    keys = varying_keys(runs)
    fixed = {k: v for k, v in (runs[0].params.items() if runs else ()) if k not in keys}
    where = find_notebook_or_reason(exp, notebooks_dir)
    print(f"{exp.name} / {spec.name}: {spec.description}".rstrip(": "), file=out)
    print(f"notebook: {where}", file=out)
    print(f"runs folder: {root}", file=out)
    print("fixed: " + " ".join(f"{k}={json.dumps(v)}" for k, v in fixed.items()), file=out)
    width = max((len(r.run_id) for r in runs), default=0)
    for run, state in zip(runs, states, strict=True):
        shown = " ".join(f"{k}={json.dumps(run.params.get(k))}" for k in keys)
        print(f"  {state:<7} {run.run_id:<{width}}  {shown}".rstrip(), file=out)
    todo = len(runs) - result.skipped
    print(f"{len(runs)} runs: {result.skipped} done, {todo} to do (dry run, nothing executed)",
          file=out)
    for line in projection_lines([run.params for run, state in zip(runs, states, strict=True)
                                  if state != DONE]):
        print(line, file=out)
