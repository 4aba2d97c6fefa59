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
(:func:`sweep_lock`) so two sweeps never share a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from junk_dna.results.records import RECORD_NAME, CorruptRecordError, read_record
from junk_dna.runs.errors import SweepLockedError

DEFAULT_RUNS_DIR = "papermill_runs"
LOCK_NAME = ".sweep.lock"
PARAMS_NAME = "params.json"
LOG_NAME = "log.txt"
ERROR_NAME = "error.txt"
RUNNER_NAME = "runner.json"
WORKER_LOG_NAME = ".workers.log"  # in the runs folder: the workers' output between runs

# Run states (see run_state).
DONE, TODO, FAILED, CORRUPT, STALE = "done", "todo", "failed", "corrupt", "stale"

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
        ``"stale"`` (an ok record of other params) or ``"todo"`` (nothing finished).
    """
    run_dir = Path(run_dir)
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
    }.get(state, state)


@contextmanager
def sweep_lock(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive lock ``root/.sweep.lock`` (``fcntl.flock``, non-blocking).

    The lock dies with the process (also on SIGKILL); the file itself stays.

    Raises:
        SweepLockedError: another process holds it (the message names the file).
    """
    import fcntl  # POSIX only: imported where it is used

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole sweep
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
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        yield path
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
