"""Turning collected runs into the paper's quantities: scores normalized to the dense model.

Every figure of the paper shows a pruned model's score as a percentage of the dense model
trained with the same everything else (model, task, data fraction, seed, optimization). The
baseline of a run is the dense run whose parameters equal the run's once the pruning fields
are dropped; runs without such a baseline are reported, never silently normalized.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from junk_dna.data.glue_tasks import get_task
from junk_dna.data.human_scores import base_task, human_score

#: Parameters that distinguish a pruned run from its dense baseline.
PRUNING_COLUMNS: tuple[str, ...] = (
    "mode", "pattern", "sparsity", "nm", "scope", "criterion", "prunable", "include_embeddings",
    # zero-shot LLM runs: the compression method and its settings
    "method", "bits", "granularity", "group_size", "calibration", "n_calibration",
    "calibration_seqlen", "blocksize", "percdamp",
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
    filled = rows[keys].map(str)  # None/NaN-safe join keys (astype(str) keeps NaN in pandas 3)
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


def human_gap_table(df: pd.DataFrame, *, which: str = "last") -> pd.DataFrame:
    """Tasks ranked by their normalized human-model gap (setting 4 of the paper).

    ``gap = (human - dense) / human`` with ``human`` the published score of the task
    (:mod:`junk_dna.data.human_scores`, in percent) and ``dense`` the mean over seeds of our dense
    runs' main metric (times 100), one row per (model, task, data fraction).

    Args:
        df: a :func:`~junk_dna.results.collect` table holding dense runs.
        which: ``"last"`` or ``"best"`` epoch.

    Returns:
        Columns model, task, data_fraction, metric, dense (mean, percent), dense_std,
        n_seeds, human, gap, chance (percent, when known), source; sorted by gap,
        largest first, with ``rank`` 1 = hardest.

    Raises:
        ValueError: a task without a published human score, or whose human score is in
            another metric than the task's main metric.
    """
    rows = main_metric_rows(df, which=which)
    rows = rows[rows["mode"] == "dense"] if not rows.empty else rows
    columns = ["rank", "model", "task", "data_fraction", "metric", "dense", "dense_std",
               "n_seeds", "human", "gap", "chance", "source"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    out = []
    for (model, task, frac), sub in rows.groupby(["model", "task", "data_fraction"]):
        spec, human = get_task(task), human_score(task)
        if human.metric != spec.main_metric:
            raise ValueError(f"human score of {task!r} is in {human.metric!r}, but the task "
                             f"is scored in {spec.main_metric!r}")
        dense = 100.0 * sub["value"].astype(float)
        out.append({"model": model, "task": task, "data_fraction": frac,
                    "metric": spec.main_metric, "dense": dense.mean(),
                    "dense_std": dense.std() if len(dense) > 1 else float("nan"),
                    "n_seeds": sub["seed"].nunique(), "human": human.value,
                    "gap": (human.value - dense.mean()) / human.value,
                    "chance": None if spec.chance is None else 100.0 * spec.chance,
                    "source": human.source})
    table = pd.DataFrame(out).sort_values("gap", ascending=False, ignore_index=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table[columns]


def easy_hard_pairs(
    gaps: pd.DataFrame, pairs: Sequence[tuple[str, str, str]],
) -> list[tuple[str, str, str]]:
    """The pairs whose two tasks both appear in ``gaps``, ordered (label, easy, hard).

    Args:
        gaps: a :func:`human_gap_table` (one model and data fraction).
        pairs: (label, task, task) by base task name, e.g.
            :data:`junk_dna.experiments.human_gap.PAIRS`.

    Returns:
        For each pair present, the task with the smaller computed gap first (the "easy"
        one), as the task names used in ``gaps`` (hub or embedded).
    """
    by_base = {base_task(t): (t, g) for t, g in zip(gaps["task"], gaps["gap"], strict=True)}
    found = []
    for label, a, b in pairs:
        if a in by_base and b in by_base:
            (ta, ga), (tb, gb) = by_base[a], by_base[b]
            found.append((label, ta, tb) if ga <= gb else (label, tb, ta))
    return found


def split_metric(metric: pd.Series) -> pd.DataFrame:
    """``"acc|context=64"`` -> columns ``score`` (``"acc"``) and ``condition``
    (``"context=64"``); a name without ``|`` gets condition ``"all"``."""
    parts = metric.astype(str).str.split("|", n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = None
    return pd.DataFrame({"score": parts[0], "condition": parts[1].fillna("all")},
                        index=metric.index)


def normalize_zero_shot(df: pd.DataFrame, score: str = "acc") -> pd.DataFrame:
    """Zero-shot runs' ``score`` per condition as a percentage of the dense model's.

    The baseline of a compressed run is the ``method == "dense"`` run with equal parameters
    once the compression fields (:data:`PRUNING_COLUMNS`) are dropped, evaluated under the
    same condition.

    Args:
        df: a :func:`~junk_dna.results.collect` table of one zero-shot experiment.
        score: the metric name before ``|`` (``"acc"``, ``"acc_norm"``, ``"exact_match"``,
            ``"f1"``); factoid conditions of factoid_vs_mc use ``"exact_match"`` when
            ``score`` is an accuracy (each condition is normalized on its own metric).

    Returns:
        One row per run and condition with columns ``score``, ``condition``, ``value``,
        ``dense_value`` and ``normalized`` (dense rows = 100; NaN without a baseline).
    """
    if df.empty:
        return df.assign(score=pd.Series(dtype=str), condition=pd.Series(dtype=str),
                         dense_value=pd.Series(dtype=float), normalized=pd.Series(dtype=float))
    rows = df[df["which"] == "last"].copy()
    rows[["score", "condition"]] = split_metric(rows["metric"])
    wanted = {score, "exact_match"} if score in ("acc", "acc_norm") else {score}
    rows = rows[rows["score"].isin(wanted)]
    # a condition scored both ways keeps the requested score
    has_req = rows.groupby(["run_id", "condition"])["score"].transform(
        lambda s: (s == score).any())
    rows = rows[(rows["score"] == score) | ~has_req]
    keys = [*baseline_keys(rows.drop(columns=["score", "condition"])), "condition", "score"]
    filled = rows[keys].map(str)
    dense = rows["method"] == "dense"
    base = (rows[dense].assign(_key=filled[dense].agg("|".join, axis=1))
            .drop_duplicates("_key").set_index("_key")["value"])
    rows["dense_value"] = filled.agg("|".join, axis=1).map(base).astype(float)
    rows["normalized"] = 100.0 * rows["value"].astype(float) / rows["dense_value"]
    return rows
