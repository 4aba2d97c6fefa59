"""Papermill execution of one run: the runner process, its launcher, and the worker entry.

One run = one papermill execution of ``notebooks/<experiment.notebook>`` with the run's
parameters plus ``run_dir`` injected (:func:`execute_run`); the notebook writes
``run_dir/record.json`` itself. Without persistent kernels (``--fresh-kernel``, SLURM array
tasks) each run is one worker subprocess, ``python -m junk_dna.runs.worker run NOTEBOOK OUTPUT
PARAMS CWD ERROR_FILE`` (internal), started by a :class:`Launcher`; the persistent workers of
:mod:`junk_dna.runs.kernels` execute runs through the same code path. The run folder is
claimed (:func:`junk_dna.runs.layout.claimed_run`) from before it is cleared until its run
has ended, and the worker holds a copy of the claim, so no second process writes into it.
This is the core that the local and the SLURM executors share.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junk_dna.results.records import atomic_write_text
from junk_dna.runs.errors import RunFolderError, SweepError
from junk_dna.runs.layout import (
    DONE,
    ERROR_NAME,
    LOG_NAME,
    PACKAGE_DIR,
    PARAMS_NAME,
    RUNNER_NAME,
    claimed_run,
    describe_os_error,
    prepare_run_folder,
    run_state,
    state_reason,
    write_error,
)
from junk_dna.runs.watchdog import CLAIM_FD_ENV, PARENT_ENV, WORKER_MODULE, ParentWatch

if TYPE_CHECKING:
    from junk_dna.experiments import Experiment
    from junk_dna.runs.presets import Run

KERNEL_NAME = "junk-dna"
"""The kernel every notebook names in its metadata and every sweep runs on."""
KERNEL_DISPLAY_NAME = "Python (junk-dna)"
STAGGER_S = 1.0  # seconds between two subprocess starts (parallel kernels collide on ports)
KERNEL_START_TIMEOUT_S = 120


def default_notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (``junk_dna/notebooks`` in an installed wheel)."""
    repo = PACKAGE_DIR.parent / "notebooks"
    packaged = PACKAGE_DIR / "notebooks"
    return repo if repo.is_dir() or not packaged.is_dir() else packaged


def find_notebook(
    experiment: Experiment, notebooks_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The notebook of an experiment: in ``notebooks_dir`` if given, else the experiment's
    own folder, else :func:`default_notebooks_dir`.

    Raises:
        SweepError: the notebook does not exist.
    """
    if notebooks_dir is not None:
        folder = Path(notebooks_dir)
    elif experiment.default_notebook_dir is not None:
        folder = Path(experiment.default_notebook_dir)
    else:
        folder = default_notebooks_dir()
    path = (folder / experiment.notebook).resolve()
    if not path.is_file():
        raise SweepError(f"notebook {experiment.notebook!r} of experiment {experiment.name!r} "
                         f"not found in {folder} (set --notebooks-dir)")
    return path


def find_notebook_or_reason(exp: Experiment, notebooks_dir: str | os.PathLike[str] | None) -> str:
    """The experiment's notebook path, or ``MISSING (why)`` (for dry runs)."""
    try:
        return str(find_notebook(exp, notebooks_dir))
    except SweepError as err:
        return f"MISSING ({err})"


def available_cpus() -> int:
    """CPUs this process may use (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUNK_DNA_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())  # the worker exits when this process is gone
    # The worker and its kernel import junk_dna even when it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PACKAGE_DIR.parent), env.get("PYTHONPATH", "")) if p)
    return env


class Launcher:
    """Starts worker subprocesses (staggered), tracks them, and stops them all on demand.

    Each run is one ``python -m junk_dna.runs.worker run`` subprocess. The local
    executor's pool of persistent workers (:class:`junk_dna.runs.kernels.KernelPool`, one
    kernel each, kept across runs) is a launcher whose ``reuse_kernels`` is true: runs then go
    to its ``request`` instead.
    """

    reuse_kernels = False

    def __init__(self, stagger_s: float = STAGGER_S) -> None:
        self._lock = threading.Lock()
        self._stagger_s = stagger_s
        self._last = -float("inf")
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def _stagger(self) -> None:
        pause = self._last + self._stagger_s - time.monotonic()
        if pause > 0:
            time.sleep(pause)

    def run(self, cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path,
            pass_fds: Sequence[int] = ()) -> int | None:
        """Run ``cmd`` to its end; its output goes to ``log``; it inherits ``pass_fds`` (a
        run folder's claim). ``None`` when stopping."""
        with self._lock:
            if self.stopping:
                return None
            self._stagger()
            with open(log, "ab") as out:
                proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        pass_fds=tuple(pass_fds))
            self._procs.add(proc)
            self._last = time.monotonic()
        try:
            return proc.wait()
        finally:
            with self._lock:
                self._procs.discard(proc)

    def request(self, request: dict[str, Any], *, cwd: Path, env: dict[str, str],
                info: dict[str, Any], claim: int | None = None) -> int | None:
        """Execute one run in a persistent worker: only launchers that ``reuse_kernels``."""
        raise NotImplementedError("this launcher starts one worker process per run")

    def close(self) -> None:
        """End what the launcher keeps between runs (nothing here; see ``KernelPool``)."""

    def terminate_now(self) -> None:
        """Stop starting processes and SIGTERM the running ones without waiting (safe in a
        signal handler: the interrupted frame may hold the process's wait lock)."""
        self.stopping = True
        for proc in list(self._procs):
            if proc.poll() is None:
                proc.terminate()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop starting new processes; terminate the running ones (kill after ``grace_s``)."""
        with self._lock:
            self.stopping = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def execute_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any],
    workdir: str | os.PathLike[str],
    *,
    threads: int | None = None,
    launcher: Launcher | None = None,
    info: dict[str, Any] | None = None,
    claim: int | None = None,
) -> int | None:
    """Execute ``notebook`` with papermill in a subprocess; return its exit status.

    Writes ``workdir/params.json`` (the injected parameters), ``workdir/log.txt`` (the
    runner's and the cells' output) and, on failure, ``workdir/error.txt`` (the exception and
    the failing cell's traceback; written atomically). The executed notebook is saved to
    ``output`` even when a cell fails. The kernel is ``junk-dna`` as this interpreter defines
    it (:func:`native_kernel_manager_class`, never another environment's), its working folder
    ``workdir``,
    and ``JUNK_DNA_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` are set to ``threads``
    (default: every available CPU). With a ``launcher`` that reuses kernels the notebook runs
    in the calling thread's persistent worker (:mod:`junk_dna.runs.kernels`); ``info`` then gets
    whether its kernel was new. ``claim``: the descriptor of the run folder's claim
    (:func:`junk_dna.runs.layout.claimed_run`), which the worker holds a copy of while it
    runs. Returns ``None`` when ``launcher`` was stopped before.

    Raises:
        RunFolderError: a file of the run could not be written (full disk, read-only folder);
            the message names it.
    """
    workdir = Path(workdir).absolute()
    params_file = workdir / PARAMS_NAME
    error_file = workdir / ERROR_NAME
    log = workdir / LOG_NAME
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(params_file, json.dumps(dict(parameters), indent=2, sort_keys=True))
    except OSError as err:
        raise RunFolderError(f"cannot write {params_file}: {describe_os_error(err)}") from err
    env = _child_env(threads if threads is not None else available_cpus())
    info = {} if info is None else info
    try:
        if launcher is not None and launcher.reuse_kernels:
            request = {"notebook": os.fspath(Path(notebook).resolve()),
                       "output": os.fspath(Path(output).absolute()),
                       "params_file": os.fspath(params_file), "cwd": os.fspath(workdir),
                       "error_file": os.fspath(error_file), "log": os.fspath(log)}
            rc = launcher.request(request, cwd=workdir.parent, env=env, info=info, claim=claim)
        else:
            cmd = [sys.executable, "-m", WORKER_MODULE, "run", os.fspath(Path(notebook)),
                   os.fspath(Path(output).absolute()), os.fspath(params_file),
                   os.fspath(workdir), os.fspath(error_file)]
            if claim is not None:
                env[CLAIM_FD_ENV] = str(claim)
            rc = (launcher or Launcher(0.0)).run(cmd, cwd=workdir, env=env, log=log,
                                                 pass_fds=() if claim is None else (claim,))
            info.update(kernel="new", worker_start_s=None, kernel_start_s=None)
    except OSError as err:  # the log cannot be opened, the worker cannot start
        raise RunFolderError(f"cannot start the run in {workdir}: {describe_os_error(err)}"
                             ) from err
    if rc is not None and rc != 0 and not error_file.exists():
        how = f"signal {-rc}" if rc < 0 else f"code {rc}"
        text = (f"the notebook runner exited with {how} before reporting an error; last lines "
                f"of {log}:\n{_log_tail(log)}\n")
        why = write_error(workdir, text)
        if why is not None:
            raise RunFolderError(f"the notebook runner exited with {how}, and {why}")
    return rc


def execute_run(run: Run, root: Path, notebook: Path, threads: int, launcher: Launcher) -> bool:
    """Execute one run in a cleared folder; True when it finished (record ok, same params).

    The run folder ``root/<run_id>`` is claimed (:func:`junk_dna.runs.layout.claimed_run`)
    from before it is cleared until the run has ended, and the worker holds a copy of the
    claim, so no other process (a worker left by a killed sweep, a second SLURM task of the
    same run) writes into it meanwhile; it is never followed through a symbolic link (a link
    or a file where it belongs is left alone and the run fails).

    Also writes ``runner.json``: the seconds the sweep spent on the run from its side
    (``runner_s``, worker and kernel start included when this run paid them) and whether
    its kernel was new or reused; the benchmark of the main job reads it. The local executor
    runs it in its job slots, the SLURM executor in each array task.

    Args:
        root: the experiment's folder (made absolute; never a symbolic link, see
            :func:`junk_dna.runs.layout.experiment_folder`).

    Raises:
        RunFolderError: the run failed and its folder cannot hold (all of) its files: a link
            or a file where it belongs, claimed by another process for too long, or a
            filesystem error; the message says which path and why.
    """
    root = Path(root).absolute()
    run_dir = root / run.run_id  # never resolved: a link is not followed
    with claimed_run(root, run.run_id) as claim:
        prepare_run_folder(run_dir)
        info: dict[str, Any] = {}
        clock = time.perf_counter()
        rc = execute_notebook(notebook, run_dir / notebook.name,
                              {**run.params, "run_dir": os.fspath(run_dir)}, run_dir,
                              threads=threads, launcher=launcher, info=info, claim=claim)
        if rc is None:  # stopped before it started
            return False
        try:
            atomic_write_text(run_dir / RUNNER_NAME, json.dumps(
                {"runner_s": time.perf_counter() - clock, "rc": rc, "threads": threads, **info},
                indent=2, sort_keys=True))
        except OSError as err:
            raise RunFolderError(f"cannot write {run_dir / RUNNER_NAME}: "
                                 f"{describe_os_error(err)}") from err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = run_state(run_dir, run.params)
        if state == DONE:
            return True
        if rc == 0 and not (run_dir / ERROR_NAME).exists():
            why = write_error(run_dir, (
                f"the notebook ran to its end but {state_reason(state, run_dir)}; a run is "
                f"finished when its notebook writes a record with status 'ok' and params equal "
                f"to the run's params:\n{json.dumps(run.params, indent=2, sort_keys=True)}\n"))
            if why is not None:
                raise RunFolderError(f"the notebook ran to its end but "
                                     f"{state_reason(state, run_dir)}, and {why}")
        return False


# ---------------------------------------------------------------------------------------------
# worker (runs in the subprocess)


def kernel_spec() -> dict[str, Any]:
    """The ``junk-dna`` kernelspec of this interpreter (``kernel.json``'s content).

    It is what ``make setup`` installs into the environment (``python -m ipykernel install
    --sys-prefix --name junk-dna --display-name "Python (junk-dna)"``): ipykernel's own spec,
    ``argv = [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f",
    "{connection_file}"]`` (the ``-X`` flag, as ipykernel's installer writes it on CPython,
    only lets the debugger step into the standard library), under the name the notebooks'
    metadata give.
    """
    import platform

    from ipykernel.kernelspec import get_kernel_dict

    python_arguments = (["-Xfrozen_modules=off"]
                        if platform.python_implementation() == "CPython" else None)
    return {**get_kernel_dict(python_arguments=python_arguments),
            "display_name": KERNEL_DISPLAY_NAME}


def native_kernel_manager_class() -> type:
    """A kernel manager whose ``junk-dna`` kernel is :func:`kernel_spec`: this interpreter.

    Kernelspec folders (``~/.local/share/jupyter/kernels``, other environments) are not read,
    so the sweep's kernel always runs the interpreter that runs the sweep, with the same
    ``argv`` as the ``junk-dna`` kernelspec that ``make setup`` installs for JupyterLab and the
    ``papermill`` command (tested); no other kernel name is known to it.
    """
    from ipykernel.kernelspec import RESOURCES
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class OwnKernelSpecManager(KernelSpecManager):
        def find_kernel_specs(self) -> dict[str, str]:
            return {KERNEL_NAME: RESOURCES}

        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            if kernel_name != KERNEL_NAME:
                raise NoSuchKernel(kernel_name)
            return KernelSpec(resource_dir=RESOURCES, **kernel_spec())

    class NativeKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return OwnKernelSpecManager(kernel_dirs=[])

    return NativeKernelManager


def _cells_started(output: Path) -> bool:
    try:
        import nbformat

        nb = nbformat.read(output, as_version=4)
    except Exception:  # noqa: BLE001 - no readable output: nothing started
        return False
    # papermill marks every cell "completed" at the end; only started cells have a start time
    return any(cell.get("metadata", {}).get("papermill", {}).get("start_time") is not None
               for cell in nb.cells)


def report_failure(err: BaseException, nb_out: str | os.PathLike[str],
                   error_file: str | os.PathLike[str]) -> None:
    """Write a failed run's ``error.txt`` (atomically) and say it on stderr.

    A notebook error gives the exception, the failing cell's index and source; anything else
    (a kernel that died or never started) its traceback.
    """
    import textwrap
    import traceback

    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        source = textwrap.indent(str(err.source), "    ")
        text = (f"{err.ename}: {err.evalue}\n\nraised by cell {err.cell_index} "
                f"(In [{err.exec_count}]) of {nb_out}:\n{source}\n{err}")
        print(f"notebook failed: {err.ename}: {err.evalue}", file=sys.stderr)
    else:
        text = f"{type(err).__name__}: {err}\n\n{''.join(traceback.format_exception(err))}"
        traceback.print_exception(err)
    try:
        atomic_write_text(error_file, text)
    except OSError as write_err:  # a full disk: the sweep reports the run without its file
        print(f"cannot write {error_file}: {write_err}", file=sys.stderr)


def worker_main(argv: Sequence[str], watch: ParentWatch | None = None) -> int:
    """Execute one notebook (``NOTEBOOK OUTPUT PARAMS_JSON CWD ERROR_FILE``); exit status.

    Runs in ``python -m junk_dna.runs.worker run ...``, which started ``watch`` on the sweep
    before importing anything (``None``: started here): when the sweep dies, the worker kills
    its kernel and exits. The run folder's claim is inherited (``JUNK_DNA_CLAIM_FD``) and
    held until exit.
    """
    import logging
    import random

    nb_in, nb_out, params_file, cwd, error_file = argv
    if watch is None:
        watch = ParentWatch().start()
    watch.check()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    if os.environ.get("SUBMITIT_EXECUTOR") and hasattr(signal, "SIGUSR2"):
        # under submitit the job's task checkpoints on the preemption signal and stops us
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = json.loads(Path(params_file).read_text(encoding="utf-8"))
    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                nb_in, nb_out, parameters=params, kernel_name=KERNEL_NAME,
                kernel_manager_class=native_kernel_manager_class(), progress_bar=False,
                stdout_file=sys.stdout, stderr_file=sys.stderr, cwd=cwd,
                start_timeout=KERNEL_START_TIMEOUT_S,
            )
            return 0
        except PapermillExecutionError as err:
            report_failure(err, nb_out, error_file)
            return 1
        except Exception as err:  # noqa: BLE001 - reported in error.txt
            if attempt == 1 and not _cells_started(Path(nb_out)):
                print(f"kernel failed to start ({type(err).__name__}: {err}); retrying once",
                      file=sys.stderr)
                time.sleep(random.uniform(0.5, 2.0))
                continue
            report_failure(err, nb_out, error_file)
            return 1
    return 1  # pragma: no cover
