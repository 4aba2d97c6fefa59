"""A worker's watch on the sweep that started it (standard library only).

A worker process (:mod:`junk_dna.runs.worker`) starts a :class:`ParentWatch` before it
imports anything else, so that a sweep killed at any moment, even while its worker is still
starting, never leaves a worker (or its kernel) running behind a resumed sweep: the watch
checks at once, then every ``interval_s``, that the worker's parent is still the sweep whose
pid the sweep put in ``JUNK_DNA_SWEEP_PID``; when it is not, it kills the worker's kernel and
every other child of the worker, waits for them to end, and exits the worker (status 3).

Nothing here imports a junk_dna module: this module is what a worker imports first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PARENT_ENV = "JUNK_DNA_SWEEP_PID"
"""The pid of the process that started a worker (set by the sweep; see :class:`ParentWatch`)."""
CLAIM_FD_ENV = "JUNK_DNA_CLAIM_FD"
"""A per-run worker's inherited descriptor of its run folder's claim (see
:func:`junk_dna.runs.layout.claimed_run`)."""
CLAIM_SOCKET_ENV = "JUNK_DNA_CLAIM_SOCKET"
"""A persistent worker's inherited socket, on which the sweep passes each run's claim."""
WORKER_MODULE = "junk_dna.runs.worker"
"""``python -m junk_dna.runs.worker kernels | run ...``: the entry of every worker process."""
EXIT_ORPHAN = 3
"""A worker's exit status when its sweep died."""


class ParentWatch:
    """Exits the worker process when the sweep that started it is gone.

    Args:
        interval_s: seconds between two checks of the parent.
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        self.parent = int(os.environ.get(PARENT_ENV) or os.getppid())
        self.interval_s = interval_s
        self._before_exit: list[Callable[[], None]] = []
        self._exiting = threading.Lock()

    def parent_alive(self) -> bool:
        """Whether the worker's parent is still the sweep that started it."""
        return os.getppid() == self.parent

    def before_exit(self, action: Callable[[], None]) -> None:
        """Call ``action`` (e.g. kill the kernel) before the worker exits for a dead sweep."""
        self._before_exit.append(action)

    def check(self) -> None:
        """Exit now (see :meth:`exit_orphan`) if the sweep is gone."""
        if not self.parent_alive():
            self.exit_orphan()

    def exit_orphan(self) -> None:
        """Run the ``before_exit`` actions, kill every child process (kernels), wait for them
        to end, and exit (status 3) without running any other cleanup."""
        self._exiting.acquire()  # once, whichever thread gets here first; the other waits
        for action in self._before_exit:
            with contextlib.suppress(Exception):
                action()
        kill_children()
        os._exit(EXIT_ORPHAN)

    def start(self) -> ParentWatch:
        """Check at once, then every ``interval_s`` in a daemon thread; returns self."""
        self.check()

        def poll() -> None:
            while True:
                time.sleep(self.interval_s)
                self.check()

        threading.Thread(target=poll, daemon=True, name="watch-parent").start()
        return self


def children(pid: int | None = None) -> list[int]:
    """Pids of the child processes of ``pid`` (default: this process); Linux ``/proc`` only
    (empty elsewhere)."""
    pid = os.getpid() if pid is None else pid
    found = []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1 and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


def kill_process_tree(pid: int) -> None:
    """SIGKILL ``pid``'s process group when it leads one (a kernel starts its own session),
    else ``pid`` alone."""
    with contextlib.suppress(OSError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def wait_gone(pids: list[int], timeout_s: float = 5.0) -> None:
    """Reap (or wait out) the processes ``pids`` for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child, or already reaped
                done = pid if not Path(f"/proc/{pid}").exists() else 0
                if sys.platform != "linux":
                    done = pid
            if done:
                left.discard(pid)
        if left:
            time.sleep(0.01)


def kill_children() -> None:
    """SIGKILL every child process of this one (and their process groups) and wait for them."""
    pids = children()
    for pid in pids:
        kill_process_tree(pid)
    wait_gone(pids)

