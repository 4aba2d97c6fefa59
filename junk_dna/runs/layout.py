"""The run-folder contract: names of the files in a run folder, run ids, run states, the lock.

Each run folder ``<runs_dir>/<experiment>/<run_id>`` holds::

    params.json        the injected parameters (params + run_dir)
    <notebook>.ipynb   the executed notebook (kept when the run fails)
    log.txt            stdout/stderr of the runner and of the notebook's cells
    error.txt          only when the run failed: the exception and the failing cell's traceback
    record.json        written by the notebook
    runner.json        seconds the sweep spent on the run, new or reused kernel

A run is finished iff its record has status ``"ok"`` and the run's exact params
(:func:`run_state`). A sweep holds an exclusive lock on ``<runs_dir>/<experiment>/.sweep.lock``
(:func:`sweep_lock`) so two sweeps never share a folder, and each run folder is *claimed*
(:func:`claimed_run`: an exclusive lock on ``<runs_dir>/<experiment>/.claims/<run_id>.lock``)
from before it is cleared until its run has ended, by the sweep and the worker it hands the
run to, so no second process ever writes into a run folder (a worker left by a killed sweep
still holds the claim until it has exited). A run folder is never followed through a symbolic
link: a link (or a file) where a run folder belongs is ``"blocked"``, never cleared, and its
run fails naming it (:func:`prepare_run_folder`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from junk_dna.results.records import (
    RECORD_NAME,
    CorruptRecordError,
    atomic_write_text,
    read_record,
)
from junk_dna.runs.errors import RunFolderError, SweepError, SweepLockedError

DEFAULT_RUNS_DIR = "papermill_runs"
LOCK_NAME = ".sweep.lock"
PARAMS_NAME = "params.json"
LOG_NAME = "log.txt"
ERROR_NAME = "error.txt"
RUNNER_NAME = "runner.json"
WORKER_LOG_NAME = ".workers.log"  # in the runs folder: the workers' output between runs
CLAIMS_DIR = ".claims"  # in an experiment's folder: one lock file per run (see claimed_run)
CLAIM_TIMEOUT_S = 60.0
"""How long a sweep waits for a run folder claimed by another process (a worker left by a
killed sweep exits within a second) before the run fails naming the holder."""

# Run states (see run_state).
DONE, TODO, FAILED, CORRUPT, STALE = "done", "todo", "failed", "corrupt", "stale"
BLOCKED = "blocked"  # a symbolic link or a file where the run folder belongs

PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""The ``junk_dna`` folder (presets next to it; ``notebooks/`` next to its parent)."""
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9._=-]+")


def canonical_json(params: Mapping[str, Any]) -> str:
    """The canonical JSON text of a parameter set (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def run_id(params: Mapping[str, Any]) -> str:
    """A short, readable, filesystem-safe id of a run, unique per parameter set.

    The slug holds the parameters that vary in typical grids (task, ``f`` data fraction,
    ``s`` seed, mode, pattern with sparsity or N:M); an experiment without any of them gets
    up to three ``key=value`` pairs. Then ``_`` and the first 8 hex digits of the sha256 of
    :func:`canonical_json` of ALL params, e.g. ``sst2-embedded_f1_s41_sparse_nm-2of8_1a2b3c4d``.
    Only ``[A-Za-z0-9._=-]`` appear.
    """
    digest = hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()[:8]
    parts: list[str] = []
    if params.get("task") is not None:
        parts.append(_fmt(params["task"]))
    if params.get("data_fraction") is not None:
        parts.append(f"f{_fmt(params['data_fraction'])}")
    if params.get("seed") is not None:
        parts.append(f"s{_fmt(params['seed'])}")
    if params.get("mode") is not None:
        parts.append(_fmt(params["mode"]))
    pattern, sparsity, nm = params.get("pattern"), params.get("sparsity"), params.get("nm")
    if nm is not None:
        parts.append(f"{_fmt(pattern or 'nm')}-{_fmt(nm).replace(':', 'of')}")
    elif sparsity is not None:
        parts.append(f"{_fmt(pattern) if pattern is not None else 'p'}-{_fmt(sparsity)}")
    elif pattern is not None:
        parts.append(_fmt(pattern))
    if not parts:
        scalars = [(k, v) for k, v in sorted(params.items())
                   if isinstance(v, (str, int, float, bool)) and v != ""]
        parts = [f"{k}={_fmt(v)}" for k, v in scalars[:3]]
    slug = _SLUG_CHARS.sub("-", "_".join(parts)).strip("-_.")[:80]
    return f"{slug}_{digest}" if slug else digest


def _same_params(recorded: Any, params: Mapping[str, Any]) -> bool:
    try:
        return recorded == json.loads(canonical_json(params))
    except (TypeError, ValueError):
        return False


def run_state(run_dir: str | os.PathLike[str], params: Mapping[str, Any]) -> str:
    """The state of one run folder.

    Returns:
        ``"done"`` (record with status ok and exactly these params), ``"failed"`` (error.txt
        or a record with status failed), ``"corrupt"`` (unreadable record; warns),
        ``"stale"`` (an ok record of other params), ``"blocked"`` (a symbolic link or a file
        where the folder belongs: never followed, never cleared) or ``"todo"`` (nothing
        finished).
    """
    run_dir = Path(run_dir)
    if blocked_reason(run_dir) is not None:
        return BLOCKED
    try:
        record = read_record(run_dir)
    except CorruptRecordError as err:
        warnings.warn(f"corrupt record, the run will be re-run: {err}", stacklevel=2)
        return CORRUPT
    if record is None:
        return FAILED if (run_dir / ERROR_NAME).exists() else TODO
    if record.get("status") == "ok" and _same_params(record.get("params"), params):
        return DONE
    if record.get("status") == "failed":
        return FAILED
    return STALE


def state_reason(state: str, run_dir: Path) -> str:
    """Why a run folder in ``state`` is not finished (for error.txt)."""
    return {
        TODO: f"{run_dir / RECORD_NAME} is missing",
        FAILED: f"{run_dir / RECORD_NAME} has status 'failed'",
        CORRUPT: f"{run_dir / RECORD_NAME} is corrupt",
        STALE: f"{run_dir / RECORD_NAME} has other params than the run",
        BLOCKED: blocked_reason(run_dir) or f"{run_dir} is blocked",
    }.get(state, state)


def run_folders(root: str | os.PathLike[str]) -> list[Path]:
    """The run folders of an experiment's folder, sorted: its folders but the hidden ones
    (``.claims``, ``.slurm``); a link where a run folder belongs is not one."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if not p.name.startswith(".") and p.is_dir() and not p.is_symlink())


def blocked_reason(run_dir: str | os.PathLike[str]) -> str | None:
    """Why ``run_dir`` cannot be a run folder (a symbolic link, a file), or ``None``."""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        try:
            target = os.readlink(run_dir)
        except OSError:
            target = "?"
        return (f"run folder {run_dir} is a symbolic link (to {target}); a run folder is never "
                "followed through a link: remove the link (its target is left alone) to run "
                "it here")
    if run_dir.exists() and not run_dir.is_dir():
        return (f"run folder {run_dir} is a file, not a folder; move it away to run it here")
    return None


def prepare_run_folder(run_dir: str | os.PathLike[str]) -> Path:
    """Clear ``run_dir`` (a real folder inside its experiment's folder) for a new run: remove
    it and everything in it (a link inside is removed, never followed), then create it empty.
    Call it with the run folder claimed (:func:`claimed_run`).

    Raises:
        RunFolderError: ``run_dir`` is a symbolic link or a file (left as it is), or the
            filesystem refused (the message names the path and the error).
    """
    run_dir = Path(run_dir)
    reason = blocked_reason(run_dir)
    if reason is not None:
        raise RunFolderError(reason)
    try:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise RunFolderError(f"cannot clear run folder {run_dir}: {describe_os_error(err)}"
                             ) from err
    return run_dir


def describe_os_error(err: OSError) -> str:
    """An OSError in a few words with the path it names (``Read-only file system: '/x'``)."""
    text = err.strerror or str(err)
    paths = [p for p in (err.filename, err.filename2) if p is not None]
    return f"{text}: " + " -> ".join(repr(os.fspath(p)) for p in paths) if paths else text


def write_error(run_dir: str | os.PathLike[str], text: str) -> str | None:
    """Write ``run_dir/error.txt`` (atomically) unless ``run_dir`` is not a real folder.

    Returns:
        ``None`` when written, else why not (a blocked folder, a full disk, ...): the caller
        reports the failure without its file.
    """
    run_dir = Path(run_dir)
    reason = blocked_reason(run_dir)
    if reason is not None:
        return reason
    if not run_dir.is_dir():
        return f"run folder {run_dir} does not exist"
    try:
        atomic_write_text(run_dir / ERROR_NAME, text)
    except OSError as err:
        return f"cannot write {run_dir / ERROR_NAME}: {describe_os_error(err)}"
    return None


@contextlib.contextmanager
def claimed_run(root: str | os.PathLike[str], run_id: str, *,
                timeout_s: float = CLAIM_TIMEOUT_S) -> Iterator[int]:
    """Claim the run folder ``root/run_id`` for the block: hold an exclusive ``flock`` on
    ``root/.claims/<run_id>.lock``, waiting up to ``timeout_s`` while another process holds it.

    Yields the lock's file descriptor: a worker the run is handed to gets a copy of it
    (inherited, or passed over a socket), so the claim lasts until the sweep AND its worker
    have let go of it; a worker left running by a killed sweep therefore keeps a resumed
    sweep out of the folder until it has exited. Never unlock it explicitly (that would
    release the copies too): closing is enough. The lock dies with its last holder, also on
    SIGKILL; the file stays.

    Raises:
        RunFolderError: still claimed after ``timeout_s`` (names the holder the file records),
            or the claim file cannot be created (names the path and the error).
    """
    import fcntl  # POSIX only: imported where it is used

    folder = Path(root) / CLAIMS_DIR
    path = folder / f"{run_id}.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if folder.is_symlink():
            raise RunFolderError(f"{folder} is a symbolic link; remove it")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                     0o644)
    except OSError as err:
        raise RunFolderError(f"cannot claim run folder {Path(root) / run_id}: "
                             f"{describe_os_error(err)}") from err
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunFolderError(f"cannot claim run folder {Path(root) / run_id}: "
                                         f"{describe_os_error(err)}") from err
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    raise RunFolderError(
                        f"run folder {Path(root) / run_id} is still claimed after "
                        f"{timeout_s:g} s ({path} is held{' by ' + holder if holder else ''}, "
                        "or by a worker it started): another process is working in it; the "
                        "folder was left alone") from None
                time.sleep(0.05)
        with contextlib.suppress(OSError):  # who holds it, for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                      .encode(), 0)
        yield fd
    finally:
        os.close(fd)


def usable_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Create ``folder`` if needed and check that files can be written in it (a temporary
    file is created and removed), before any work.

    Args:
        what: what the folder is, for the message (``"runs folder"``).

    Raises:
        SweepError: a file where the folder belongs, a symbolic link where an experiment's
            folder belongs, or a folder that cannot be created or written (read-only, full,
            no permission); the message names the path and the error.
    """
    import tempfile

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SweepError(f"{what} {str(folder)!r} is a file, not a folder; give another "
                         "--runs-dir or move the file away")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise SweepError(f"{what} {str(folder)!r} cannot be written: "
                         f"{describe_os_error(err)}") from err
    return folder


def experiment_folder(runs_dir: str | os.PathLike[str], experiment: str) -> Path:
    """``<runs_dir>/<experiment>``, checked before any work: a real folder (never a symbolic
    link, whose target lies outside the runs folder) in which files can be written.

    Raises:
        SweepError: see :func:`usable_folder`.
    """
    usable_folder(runs_dir, "runs folder")
    root = Path(runs_dir) / experiment
    if root.is_symlink():
        raise SweepError(f"experiment folder {str(root)!r} is a symbolic link (to "
                         f"{os.readlink(root)}); a sweep never writes through a link: remove "
                         "it or give another --runs-dir")
    return usable_folder(root, "experiment folder")


@contextmanager
def sweep_lock(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive lock ``root/.sweep.lock`` (``fcntl.flock``, non-blocking).

    The lock dies with the process (also on SIGKILL); the file itself stays.

    Raises:
        SweepLockedError: another process holds it (the message names the file).
        SweepError: the lock file cannot be created (names it and the error).
    """
    import fcntl  # POSIX only: imported where it is used

    root = Path(root)
    path = root / LOCK_NAME
    try:
        root.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole sweep
    except OSError as err:
        raise SweepError(f"cannot create the lock {str(path)!r}: {describe_os_error(err)}"
                         ) from err
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise SweepLockedError(
            f"another sweep is running on {root} (lock file {path} is held"
            f"{' by ' + holder if holder else ''}); wait for it to finish or stop it"
        ) from err
    try:
        with contextlib.suppress(OSError):  # who holds it, for the message (a full disk: none)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            fh.flush()
        yield path
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            fh.close()
