"""A tidy table of run records: one row per run, metric and ``which`` (last or best epoch).

pandas is imported by :func:`collect` only, so the workers and the CLI stay light.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junk_dna.results.records import RECORD_NAME, iter_records

if TYPE_CHECKING:  # pandas is imported by collect() only: workers and the CLI stay light
    import pandas as pd


def collect(root: str | os.PathLike[str], *, status: str | None = "ok") -> pd.DataFrame:
    """A tidy table of every record below ``root``: one row per run, metric and ``which``.

    Columns: ``run_id``, ``experiment``, ``run_dir``, one column per parameter, the
    ``resolved_*`` fields, ``sparsity_reached``, ``storage_bits`` (bits per weight with their
    overheads, RTN runs), ``wall_time_s``, then ``which``
    (``"last"`` or ``"best"``), ``metric`` and ``value``. Runs whose status differs from
    ``status`` are left out (``status=None`` keeps all). A record that cannot be read or has
    the wrong shape (see :func:`junk_dna.results.records.read_record`) is skipped with a
    warning naming its file, never counted.
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for run_dir, rec in iter_records(root):
        if status is not None and rec.get("status") != status:
            continue
        try:
            rows.extend(_rows(run_dir, rec))
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            warnings.warn(f"skipping malformed record {run_dir / RECORD_NAME}: "
                          f"{type(err).__name__}: {err}", stacklevel=2)
    return pd.DataFrame(rows)


def _rows(run_dir: Path, rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows of one record (raises on a record of the wrong shape)."""
    base: dict[str, Any] = {
        "run_id": rec["run_id"],
        "experiment": rec["experiment"],
        "run_dir": str(run_dir),
        **rec["params"],
        **{f"resolved_{k}": v for k, v in (rec.get("resolved") or {}).items()
           if isinstance(v, (str, int, float, bool)) or v is None},
        "sparsity_reached": (rec.get("sparsity") or {}).get("reached"),
        "storage_bits": (rec.get("compression") or {}).get("storage_bits_per_weight"),
        "wall_time_s": rec.get("wall_time_s"),
    }
    return [{**base, "which": which, "metric": metric, "value": value}
            for which in ("last", "best")
            for metric, value in (rec["final"].get(which) or {}).items()]


def table_csv(root: str | os.PathLike[str], *, which: str | None = None,
              experiments: list[str] | None = None) -> str:
    """The tidy table of :func:`collect` as CSV text, portable between clones: ``run_dir``
    relative to ``root``, rows sorted by experiment, run id, ``which`` and metric, columns in
    collect's order.

    Args:
        root: a runs folder.
        which: keep only ``"last"`` or ``"best"`` rows (None: both).
        experiments: keep only these experiments (None: all).

    Raises:
        ValueError: ``root`` is not a folder, ``which`` is not None/"last"/"best", an unknown
            experiment (the message lists the ones found), or no finished run below ``root``.
    """
    if which not in (None, "last", "best"):
        raise ValueError(f"which {which!r} not in ['last', 'best']")
    if not Path(root).is_dir():
        raise ValueError(f"runs folder {os.fspath(root)!r} not found")
    df = collect(root)
    if df.empty:
        raise ValueError(f"no finished runs below {os.fspath(root)!r}")
    found = sorted(df["experiment"].unique())
    unknown = sorted(set(experiments or ()) - set(found))
    if unknown:
        raise ValueError(f"experiment(s) {unknown} have no finished runs below "
                         f"{os.fspath(root)!r}; found: {found}")
    if experiments:
        df = df[df["experiment"].isin(experiments)]
    if which is not None:
        df = df[df["which"] == which]
    base = Path(root).resolve()
    df = df.assign(run_dir=[Path(d).resolve().relative_to(base).as_posix() for d in df["run_dir"]])
    df = df.sort_values(["experiment", "run_id", "which", "metric"], kind="stable").convert_dtypes()
    return df.to_csv(index=False, lineterminator="\n")
