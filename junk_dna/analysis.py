"""Turning collected runs into the paper's quantities: scores normalized to the dense model.

Every figure of the paper shows a pruned model's score as a percentage of the dense model
trained with the same everything else (model, task, data fraction, seed, optimization). The
baseline of a run is the dense run whose parameters equal the run's once the pruning fields
are dropped; runs without such a baseline are reported, never silently normalized.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

#: Parameters that distinguish a pruned run from its dense baseline.
PRUNING_COLUMNS: tuple[str, ...] = (
    "mode", "pattern", "sparsity", "nm", "scope", "criterion", "prunable", "include_embeddings",
)
#: Columns of :func:`junk_dna.results.collect` that are not run parameters.
NON_PARAM_COLUMNS: tuple[str, ...] = (
    "run_id", "experiment", "run_dir", "sparsity_reached", "wall_time_s", "which", "metric",
    "value",
)


def main_metric_rows(df: pd.DataFrame, *, which: str = "last") -> pd.DataFrame:
    """Rows of a :func:`~junk_dna.results.collect` table holding each task's main metric.

    Args:
        df: the tidy table (needs ``task``, ``metric``, ``which``, ``value``).
        which: ``"last"`` (the original reported the last epoch) or ``"best"``.

    Raises:
        ValueError: ``which`` not in ("last", "best") or required columns missing.
    """
    from junk_dna.tasks import get_task

    if which not in ("last", "best"):
        raise ValueError(f"which {which!r} not in ['last', 'best']")
    missing = {"task", "metric", "which", "value"} - set(df.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}")
    if df.empty:
        return df.copy()
    main = df["task"].map(lambda t: get_task(t).main_metric)
    return df[(df["which"] == which) & (df["metric"] == main)].copy()


def baseline_keys(df: pd.DataFrame) -> list[str]:
    """The parameter columns a run shares with its dense baseline (everything but the
    pruning fields and the non-parameter columns)."""
    skip = set(PRUNING_COLUMNS) | set(NON_PARAM_COLUMNS)
    return [c for c in df.columns if c not in skip and not c.startswith("resolved_")]


def normalize_to_dense(df: pd.DataFrame, *, which: str = "last") -> pd.DataFrame:
    """Main-metric rows with ``normalized = 100 * value / dense value`` (same seed etc.).

    Args:
        df: a :func:`~junk_dna.results.collect` table with dense and pruned runs.
        which: ``"last"`` or ``"best"`` epoch.

    Returns:
        The pruned and dense rows of the main metric with extra columns ``dense_value`` and
        ``normalized`` (dense rows get exactly 100). Runs whose dense baseline is missing
        get ``NaN`` in both.
    """
    rows = main_metric_rows(df, which=which)
    if rows.empty:
        return rows.assign(dense_value=pd.Series(dtype=float),
                           normalized=pd.Series(dtype=float))
    keys = baseline_keys(rows)
    filled = rows[keys].astype(str)  # None/NaN-safe join keys
    dense = rows["mode"] == "dense"
    base = (rows[dense].assign(_key=filled[dense].agg("|".join, axis=1))
            .drop_duplicates("_key").set_index("_key")["value"])
    key = filled.agg("|".join, axis=1)
    rows["dense_value"] = key.map(base).astype(float)
    rows["normalized"] = 100.0 * rows["value"] / rows["dense_value"]
    return rows


def seed_summary(
    norm: pd.DataFrame, by: Sequence[str], *, value: str = "normalized"
) -> pd.DataFrame:
    """Mean, standard deviation, min, max and count over seeds of ``value``, grouped ``by``."""
    grouped = norm.dropna(subset=[value]).groupby(list(by), dropna=False)[value]
    return grouped.agg(["mean", "std", "min", "max", "count"]).reset_index()
