"""Run records: one JSON file per run, written atomically, and a tidy table over a tree of them.

A *record* is a JSON object with at least these keys::

    {
      "schema": 1,
      "experiment": "true_gem",
      "run_id": "sst2-embedded_f1_s41_sparse_unstructured-0.5_3f2a9c1e",
      "status": "ok",                      # or "failed"
      "params": {...},                     # every parameter of the run (flat, JSON literals)
      "resolved": {...},                   # what names resolved to (model folder, dataset source)
      "epochs": [{"epoch": 1, "metrics": {"accuracy": 0.81}}, ...],
      "final": {"last": {...}, "best": {...}, "best_epoch": 2},
      "sparsity": {"target": 0.5, "reached": 0.5, "prunable": 10813440, "pruned": 5406720},
      "wall_time_s": 41.2,
      "versions": {"python": "3.11.7", "torch": "2.13.0", ...},
      "git_commit": "abc123..." | null,
      "created": "2026-11-29T12:00:00+00:00"
    }

:func:`junk_dna.results.table.collect` turns every record below a folder into one row per
(run, metric, which) where ``which`` is ``"last"`` or ``"best"``; every parameter becomes a
column; :mod:`junk_dna.results.provenance` fills the versions, commit and timings. This
module imports nothing heavy (the sweep reads records with it).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from junk_dna.checks import shown

RECORD_NAME = "record.json"
SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema", "experiment", "run_id", "status", "params", "final")
"""Keys every record has; ``experiment`` and ``run_id`` are strings, ``params`` and ``final``
objects (``final.last`` and ``final.best`` objects or null), ``resolved`` and ``sparsity``
objects or null when present."""


class CorruptRecordError(ValueError):
    """A record file exists but is not a valid record (truncated, not JSON, keys missing)."""


def process_umask() -> int:
    """This process's file-mode creation mask (read from ``/proc/self/status`` on Linux, so
    that no other thread sees a changed mask; elsewhere set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def shared_mode(directory: bool = False) -> int:
    """The mode a plain ``open``/``mkdir`` would give under the umask (0644 and 0755 under
    the usual 022): temporary files and folders are private, results are not."""
    return (0o777 if directory else 0o666) & ~process_umask()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one.

    The text goes to a temporary file in the same folder, is flushed and fsynced, given the
    mode the umask allows (:func:`shared_mode`: ``mkstemp`` makes it private), then renamed
    over ``path`` (``os.replace`` is atomic on POSIX and Windows).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, shared_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(run_dir: str | os.PathLike[str], record: Mapping[str, Any]) -> Path:
    """Validate and atomically write ``record`` as ``run_dir/record.json``; returns the path.

    Raises:
        ValueError: a required key (``REQUIRED_KEYS``) is missing or ``status`` is not
            ``"ok"``/``"failed"``.
    """
    full = {"schema": SCHEMA_VERSION, **record}
    full.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    _check_record(full, where=str(run_dir))
    path = Path(run_dir) / RECORD_NAME
    atomic_write_text(path, json.dumps(full, indent=2, sort_keys=True, default=_json_default))
    return path


def read_record(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record in ``run_dir``, or ``None`` when there is none.

    Raises:
        CorruptRecordError: the file exists but is not a complete, valid record (unreadable,
            not JSON, a key missing, or a key of the wrong shape, e.g. ``params`` that is not
            an object).
    """
    path = Path(run_dir) / RECORD_NAME
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptRecordError(f"{path}: not valid JSON ({err})") from err
    except RecursionError as err:
        raise CorruptRecordError(f"{path}: nested too deeply") from err
    except OSError as err:  # a folder, no permission: unreadable is as good as corrupt
        raise CorruptRecordError(f"{path}: cannot be read ({err.strerror or err})") from err
    _check_record(record, where=str(path), error=CorruptRecordError)
    return record


def iter_records(root: str | os.PathLike[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield ``(run_dir, record)`` for every readable record below ``root``, sorted by path.

    Corrupt records are skipped with a warning, never silently counted.
    """
    for path in sorted(Path(root).rglob(RECORD_NAME)):
        try:
            record = read_record(path.parent)
        except CorruptRecordError as err:
            warnings.warn(f"skipping corrupt record: {err}", stacklevel=2)
            continue
        if record is not None:
            yield path.parent, record


def _check_record(
    record: Mapping[str, Any], *, where: str, error: type[Exception] = ValueError
) -> None:
    if not isinstance(record, Mapping):
        raise error(f"{where}: a record must be a JSON object, got {type(record).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise error(f"{where}: record lacks keys {missing} (required: {list(REQUIRED_KEYS)})")
    if record["status"] not in ("ok", "failed"):
        raise error(f"{where}: status {shown(record['status'])} is not one of "
                    "['ok', 'failed']")
    shapes = [(key, str, False) for key in ("experiment", "run_id")]
    shapes += [("params", Mapping, False), ("final", Mapping, False),
               ("resolved", Mapping, True), ("sparsity", Mapping, True)]
    for key, kind, optional in shapes:
        if key in record and not (isinstance(record[key], kind)
                                  or (optional and record[key] is None)):
            raise error(f"{where}: {key} {shown(record[key])} must be "
                        f"{'a string' if kind is str else 'an object'}"
                        f"{' or null' if optional else ''}")
    for which in ("last", "best"):
        value = record["final"].get(which)
        if value is not None and not isinstance(value, Mapping):
            raise error(f"{where}: final.{which} {shown(value)} must be an object of "
                        "metric -> value, or null")


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


