"""Persistent notebook workers: one Jupyter kernel kept across the runs of a sweep.

By default a local sweep (:func:`junk_dna.runs.local.run_sweep`) runs each of its ``--jobs``
slots as one long-lived worker process (``python -m junk_dna.runs.worker kernels``, started
by a :class:`KernelPool`) that starts ONE kernel and executes run after run in it with papermill,
so the interpreter start, the imports (torch, transformers, pandas, junk_dna) and the
first-use costs of a model class are paid once per slot instead of once per run. Between
two runs the worker:

* clears the kernel's namespace (IPython ``%reset -f``) and garbage-collects, so no variable
  of one run is visible to the next (tested);
* moves the kernel to the next run's folder (``os.chdir``), as a fresh kernel would start
  there;
* restarts the kernel after a run that failed or killed it, so a failure never leaks state.

What does carry over is what a Python process caches on purpose: imported modules and the
in-process caches of :mod:`junk_dna.training.finetune` (tokenized datasets, keyed by their
inputs). Every run seeds every generator itself (:func:`junk_dna.results.provenance.start_run`),
so a run gives the same numbers in a reused kernel as in a fresh one (tested).
``--fresh-kernel`` restores one kernel per run.

Protocol (internal): the sweep writes one JSON request per line on the worker's stdin::

    {"notebook": ..., "output": ..., "params_file": ..., "cwd": ..., "error_file": ...,
     "log": ..., "claim": true | false}

with, when ``claim`` is true, the run folder's claim (a file descriptor, see
:func:`junk_dna.runs.layout.claimed_run`) passed on a Unix socket the worker inherited
(``JUNK_DNA_CLAIM_SOCKET``); the worker holds its copy until the run has ended, so that
the claim outlives a sweep killed meanwhile until this worker is gone. The sweep reads one
JSON reply per line from the worker's stdout: ``{"rc": 0 | 1, "kernel": "new" | "reused",
"kernel_start_s": float}``. Everything the worker or the notebook's cells print during a
run goes to that run's ``log``. End of stdin: the worker shuts its kernel down and exits.
The worker watches the sweep from its first instruction (:mod:`junk_dna.runs.worker`) and,
when the sweep dies, kills its kernel (also one still starting) and exits; it checks the
sweep again once it holds a run's claim, before writing anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from junk_dna.runs.notebook import (
    KERNEL_NAME,
    KERNEL_START_TIMEOUT_S,
    STAGGER_S,
    Launcher,
    native_kernel_manager_class,
    report_failure,
)
from junk_dna.runs.watchdog import (
    CLAIM_SOCKET_ENV,
    WORKER_MODULE,
    ParentWatch,
    kill_process_tree,
    wait_gone,
)

ENGINE_NAME = "junk-dna-reused-kernel"
RESET_TIMEOUT_S = 120


class WorkerDied(RuntimeError):
    """The worker process ended without answering a request."""


class KernelWorker:
    """The sweep's handle on one persistent worker process (see the module docstring).

    Args:
        env: the worker's environment (thread counts: one value for all its runs).
        cwd: the worker's working folder.
        stderr: where the worker's output between runs goes (a file opened for appending).
    """

    def __init__(self, env: dict[str, str], cwd: Path, stderr: IO[bytes]) -> None:
        self.claims, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, "kernels"], cwd=cwd,
                env={**env, CLAIM_SOCKET_ENV: str(theirs.fileno())},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                pass_fds=(theirs.fileno(),))
        except BaseException:
            self.claims.close()
            raise
        finally:
            theirs.close()
        self.runs = 0

    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self.proc.poll() is None

    def request(self, request: dict[str, Any], claim: int | None = None) -> dict[str, Any]:
        """Send one run (and a copy of its folder's ``claim``) and wait for its reply.

        Raises:
            WorkerDied: the worker ended first (killed, crashed); its exit status is in
                ``self.proc.returncode``.
        """
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((json.dumps({**request, "claim": claim is not None})
                                   + "\n").encode())
            self.proc.stdin.flush()
            if claim is not None:
                socket.send_fds(self.claims, [b"c"], [claim])
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as err:
            self.proc.wait()
            raise WorkerDied(f"worker {self.proc.pid} is gone ({err})") from err
        if not line:
            self.proc.wait()
            raise WorkerDied(f"worker {self.proc.pid} exited with {self.proc.returncode}")
        self.runs += 1
        return json.loads(line)

    def close(self, timeout_s: float = 30.0) -> None:
        """End the worker: close its stdin (it shuts its kernel down), kill after a timeout."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.claims.close()


class KernelPool(Launcher):
    """The local executor's launcher: a pool of persistent workers, one per job slot.

    Each run goes to an idle :class:`KernelWorker` started with the same environment (one
    kernel each, kept across runs and across the sweeps that share the pool); a worker is
    started when none is idle.

    Args:
        stagger_s: seconds between two worker starts (parallel kernels collide on ports).
        worker_log: where the workers' output between runs goes (default: nowhere).
    """

    reuse_kernels = True

    def __init__(self, stagger_s: float = STAGGER_S, *, worker_log: Path | None = None) -> None:
        super().__init__(stagger_s)
        self._workers: dict[str, list[KernelWorker]] = {}  # environment -> idle workers
        self.worker_log = worker_log

    def request(self, request: dict[str, Any], *, cwd: Path, env: dict[str, str],
                info: dict[str, Any], claim: int | None = None) -> int | None:
        """Execute one run in an idle persistent worker with the same environment (one is
        started when none is idle), which holds a copy of the run folder's ``claim`` while
        it runs; the worker goes back to the idle pool afterwards, so later runs, of this
        sweep or of the next sweep sharing this launcher, reuse it.

        Returns its exit status (0 ok, 1 failed, the worker's status when it died), or
        ``None`` when stopping. ``info`` gets ``kernel`` ("new"/"reused"),
        ``kernel_start_s`` and ``worker_start_s``.
        """
        key = json.dumps(env, sort_keys=True)
        with self._lock:
            if self.stopping:
                return None
            idle = self._workers.setdefault(key, [])
            worker = None
            while idle and worker is None:
                candidate = idle.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    self._procs.discard(candidate.proc)
            info["worker_start_s"] = 0.0
            if worker is None:
                self._stagger()
                clock = time.perf_counter()
                log_path = self.worker_log or Path(os.devnull)
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(log_path, "ab") as err:
                    worker = KernelWorker(env, cwd, err)
                info["worker_start_s"] = time.perf_counter() - clock
                self._procs.add(worker.proc)
                self._last = time.monotonic()
        try:
            reply = worker.request(request, claim)
        except WorkerDied:
            with self._lock:
                self._procs.discard(worker.proc)
            return worker.proc.returncode
        with self._lock:
            self._workers[key].append(worker)
        info.update(kernel=reply.get("kernel"), kernel_start_s=reply.get("kernel_start_s"))
        return int(reply["rc"])

    def close(self) -> None:
        """End every idle persistent worker cleanly (each shuts its kernel down)."""
        with self._lock:
            workers = [w for idle in self._workers.values() for w in idle]
            self._workers.clear()
        for worker in workers:
            worker.close()
            with self._lock:
                self._procs.discard(worker.proc)


# ---------------------------------------------------------------------------------------------
# worker side (runs in the worker process)


def _register_engine(holder: dict[str, Any]) -> None:
    """Register a papermill engine that executes in ``holder["km"]``'s running kernel."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import remove_args

    class ReusedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None,
                                     start_timeout: int = 60,
                                     execution_timeout: int | None = None, **kwargs: Any) -> Any:
            kwargs = remove_args(["input_path", "timeout", "startup_timeout",
                                  "kernel_manager_class"], **kwargs)
            client = PapermillNotebookClient(
                nb_man, km=holder["km"], timeout=execution_timeout,
                startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                **kwargs)
            try:
                return client.execute()
            finally:  # the kernel stays; the client's channels do not
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(ENGINE_NAME, ReusedKernelEngine)


class _Kernel:
    """The worker's kernel: started lazily, reset between runs, restarted after a failure."""

    def __init__(self) -> None:
        self.holder: dict[str, Any] = {"km": None, "starting": None}
        _register_engine(self.holder)

    @property
    def km(self) -> Any:
        return self.holder["km"]

    def pid(self, km: Any = None) -> int | None:
        km = self.km if km is None else km
        process = getattr(getattr(km, "provisioner", None), "process", None) if km else None
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def start(self, cwd: str) -> float:
        """Start a kernel in ``cwd`` (one retry: parallel starts can collide on ports)."""
        import random

        from jupyter_core.utils import run_sync

        clock = time.perf_counter()
        for attempt in (1, 2):
            km = native_kernel_manager_class()(kernel_name=KERNEL_NAME)
            self.holder["starting"] = km  # killable by kill_now while it starts
            try:
                run_sync(km.start_kernel)(cwd=cwd)
                client = km.client()
                client.start_channels()
                try:
                    run_sync(client.wait_for_ready)(timeout=KERNEL_START_TIMEOUT_S)
                finally:
                    client.stop_channels()
            except Exception as err:  # noqa: BLE001 - retried once, then raised
                self._shutdown(km)
                if attempt == 2:
                    raise
                print(f"kernel failed to start ({type(err).__name__}: {err}); retrying once",
                      file=sys.stderr)
                time.sleep(random.uniform(0.5, 2.0))
                continue
            self.holder["km"] = km
            break
        self.holder["starting"] = None
        return time.perf_counter() - clock

    def reset(self, cwd: str) -> None:
        """Clear the namespace, collect garbage and ``chdir`` to ``cwd`` in the kernel."""
        import nbformat
        from nbclient import NotebookClient

        code = ("get_ipython().run_line_magic('reset', '-f')\n"
                "import gc as _gc, os as _os\n"
                f"_os.chdir({cwd!r})\n"
                "_gc.collect()\n"
                "del _gc, _os\n")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(nb, km=self.km, timeout=RESET_TIMEOUT_S)
        try:
            client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()

    def stop(self) -> None:
        km, self.holder["km"] = self.km, None
        if km is not None:
            self._shutdown(km)

    @staticmethod
    def _shutdown(km: Any) -> None:
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):  # best effort: it may never have started
            run_sync(km.shutdown_kernel)(now=True)

    def kill_now(self) -> None:
        """SIGKILL the kernel (also one still starting) and its process group, and wait for
        it to end (used when the sweep died: no time for a clean stop)."""
        pids = [pid for pid in (self.pid(self.holder["km"]), self.pid(self.holder["starting"]))
                if pid is not None]
        for pid in pids:
            kill_process_tree(pid)
        wait_gone(pids)


def _run_request(kernel: _Kernel, request: dict[str, Any]) -> dict[str, Any]:
    """Execute one run's notebook in the (possibly new) kernel; the reply."""
    import papermill

    params = json.loads(Path(request["params_file"]).read_text(encoding="utf-8"))
    output = request["output"]
    fresh = not kernel.alive()
    start_s = 0.0
    try:
        if fresh:
            kernel.stop()
            start_s = kernel.start(request["cwd"])
        kernel.reset(request["cwd"])
        papermill.execute_notebook(
            request["notebook"], output, parameters=params, engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME, progress_bar=False, stdout_file=sys.stdout,
            stderr_file=sys.stderr, start_timeout=KERNEL_START_TIMEOUT_S)
        rc = 0
    except Exception as err:  # noqa: BLE001 - reported in error.txt, then the kernel restarts
        report_failure(err, output, request["error_file"])
        kernel.stop()  # a failed run may leave anything behind: the next run gets a new kernel
        rc = 1
    return {"rc": rc, "kernel": "new" if fresh else "reused", "kernel_start_s": start_s}


def serve(stdin: IO[str], replies: IO[str], watch: ParentWatch,
          claims: socket.socket | None = None) -> int:
    """The worker loop: one request per line of ``stdin``, one reply per line to ``replies``.

    ``watch`` (started before anything was imported) kills the kernel and exits the worker
    when the sweep dies; a request's run-folder claim arrives on ``claims``, and the worker
    checks the sweep again once it holds it, before it writes anything. Output fds 1 and 2
    are pointed at each run's log while it runs (so cells, papermill and C extensions all
    write there) and back to the worker's own stderr between runs.
    """
    import logging

    kernel = _Kernel()
    # a resumed sweep must never share a run folder with a run still going on behind it
    watch.before_exit(kernel.kill_now)
    watch.check()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    own_out, own_err = os.dup(1), os.dup(2)
    try:
        for line in stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            claim = _receive_claim(claims) if request.get("claim") else None
            try:
                watch.check()  # the sweep may have died after sending: then write nothing
                sys.stdout.flush()
                sys.stderr.flush()
                try:
                    log = open(request["log"], "ab")  # noqa: SIM115 - closed below
                except OSError as err:  # a full disk, a folder gone: the sweep reports it
                    print(f"cannot open {request['log']}: {err}", file=sys.stderr)
                    reply = {"rc": 1, "kernel": None, "kernel_start_s": 0.0}
                else:
                    with log:
                        os.dup2(log.fileno(), 1)
                        os.dup2(log.fileno(), 2)
                        try:
                            reply = _run_request(kernel, request)
                        finally:
                            sys.stdout.flush()
                            sys.stderr.flush()
                            os.dup2(own_out, 1)
                            os.dup2(own_err, 2)
            finally:
                if claim is not None:
                    os.close(claim)
            replies.write(json.dumps(reply) + "\n")
            replies.flush()
    finally:
        kernel.stop()
    return 0


def _receive_claim(claims: socket.socket | None) -> int:
    """The run folder's claim the sweep passed with a request (a file descriptor)."""
    if claims is None:
        raise RuntimeError("a request came with a claim but the worker has no claim socket")
    _, fds, _, _ = socket.recv_fds(claims, 1, 1)
    if not fds:
        raise RuntimeError("the sweep closed the claim socket")
    for extra in fds[1:]:
        os.close(extra)
    os.set_inheritable(fds[0], False)  # the kernel (kept across runs) must not hold it
    return fds[0]


def serve_worker(watch: ParentWatch) -> int:
    """The persistent worker process (``python -m junk_dna.runs.worker kernels``), once
    ``watch`` runs: serve requests from stdin until it closes; the exit status."""
    # The protocol gets its own copy of stdout; fd 1 then points at stderr so that nothing
    # printed by a library can ever be read as a reply.
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    if os.environ.get("SUBMITIT_EXECUTOR") and hasattr(signal, "SIGUSR2"):
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    fd = os.environ.get(CLAIM_SOCKET_ENV)
    claims = socket.socket(fileno=int(fd)) if fd else None
    return serve(sys.stdin, replies, watch, claims)
