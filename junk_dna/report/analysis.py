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
from junk_dna.evaluation.chance import finetune_chance
from junk_dna.report.outcomes import Outcomes, condition_chance, run_chance

#: Parameters that distinguish a pruned run from its dense baseline.
PRUNING_COLUMNS: tuple[str, ...] = (
    "mode", "pattern", "sparsity", "nm", "scope", "criterion", "prunable", "include_embeddings",
    # zero-shot LLM runs: the compression method and its settings
    "method", "bits", "granularity", "group_size", "calibration", "n_calibration",
    "calibration_seqlen", "blocksize", "percdamp",
)
#: Columns of :func:`junk_dna.results.collect` that are not run parameters.
NON_PARAM_COLUMNS: tuple[str, ...] = (
    "run_id", "experiment", "run_dir", "sparsity_reached", "storage_bits", "wall_time_s",
    "which", "metric", "value",
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
    """The pairs whose two tasks both appear in ``gaps``, with their FIXED labels.

    Args:
        gaps: a :func:`human_gap_table` (one model and data fraction).
        pairs: (label, easy task, hard task) by base task name, e.g.
            :data:`junk_dna.report.claims.HUMAN_GAP_PAIRS` (the paper's labels).

    Returns:
        For each pair present, (label, easy, hard) as the task names used in ``gaps`` (hub
        or embedded), in the order ``pairs`` gives: never re-ordered by the computed gaps
        (:func:`pair_gaps` shows those beside, and whether they agree).
    """
    by_base = {base_task(t): t for t in gaps["task"]}
    return [(label, by_base[easy], by_base[hard]) for label, easy, hard in pairs
            if easy in by_base and hard in by_base]


def pair_gaps(gaps: pd.DataFrame, pairs: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """The computed human-model gaps of each pair present, beside its fixed labels.

    Args:
        gaps: a :func:`human_gap_table` (one model and data fraction).
        pairs: (label, easy task, hard task) by base task name (see :func:`easy_hard_pairs`).

    Returns:
        One row per pair present (in the order of ``pairs``), columns label, easy, hard
        (task names as in ``gaps``), gap_easy, gap_hard and agrees (the computed gap of the
        easy task is the smaller one, as the fixed labels say).
    """
    gap_of = dict(zip(gaps["task"], gaps["gap"], strict=True))
    rows = [{"label": label, "easy": easy, "hard": hard, "gap_easy": float(gap_of[easy]),
             "gap_hard": float(gap_of[hard]),
             "agrees": bool(gap_of[easy] < gap_of[hard])}
            for label, easy, hard in easy_hard_pairs(gaps, pairs)]
    return pd.DataFrame(rows, columns=["label", "easy", "hard", "gap_easy", "gap_hard",
                                       "agrees"])


def gap_disagreements(table: pd.DataFrame) -> list[str]:
    """One line per pair of a :func:`pair_gaps` table whose computed gaps disagree with its
    fixed labels (empty when every pair agrees), for a notebook to print."""
    return [f"{r.label}: the paper labels {r.easy} easy and {r.hard} hard, but the computed "
            f"human-model gaps are {r.gap_easy:.3f} ({r.easy}) and {r.gap_hard:.3f} "
            f"({r.hard}); the figure and the claims keep the paper's labels"
            for r in table.itertuples() if not r.agrees]


def split_metric(metric: pd.Series) -> pd.DataFrame:
    """``"acc|context=64"`` -> columns ``score`` (``"acc"``) and ``condition``
    (``"context=64"``); a name without ``|`` gets condition ``"all"``."""
    parts = metric.astype(str).str.split("|", n=1, expand=True)
    if parts.shape[1] == 1:
        parts[1] = None
    return pd.DataFrame({"score": parts[0], "condition": parts[1].fillna("all")},
                        index=metric.index)


#: The score of factoid conditions (generated answers): the original code's containment test
#: (the normalized answer contains a normalized alias; an empty answer is wrong); exact match
#: and token F1 are recorded beside it.
FACTOID_SCORE = "containment"


def normalize_zero_shot(df: pd.DataFrame, score: str = "acc") -> pd.DataFrame:
    """Zero-shot runs' ``score`` per condition as a percentage of the dense model's.

    The baseline of a compressed run is the ``method == "dense"`` run with equal parameters
    once the compression fields (:data:`PRUNING_COLUMNS`) are dropped, evaluated under the
    same condition.

    Args:
        df: a :func:`~junk_dna.results.collect` table of one zero-shot experiment.
        score: the metric name before ``|`` (``"acc"``, ``"acc_norm"``, ``"containment"``,
            ``"exact_match"``, ``"f1"``); factoid conditions use :data:`FACTOID_SCORE` when
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
    wanted = {score, FACTOID_SCORE} if score in ("acc", "acc_norm") else {score}
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


#: Scales of the figures: the paper's ``dense = 100`` and the chance-corrected retention.
SCALES: tuple[str, ...] = ("dense", "retention", "drop")
#: Where the dense model lies on each scale.
SCALE_REFERENCE: dict[str, float] = {"dense": 100.0, "retention": 100.0, "drop": 0.0}
RETENTION_COLUMNS: tuple[str, ...] = ("chance", "chance_source", "n", "dense_value",
                                      "retention")


def retention_table(df: pd.DataFrame, *, which: str = "last", score: str = "acc",
                    outcomes: Outcomes | None = None) -> pd.DataFrame:
    """Chance-corrected retention ``R = 100 (score - chance) / (dense - chance)`` per run
    (fine-tuning: the main metric) and per run and condition (zero-shot), the scale of the
    claims (:mod:`junk_dna.report.claims`); ``chance = 0`` is a model that knows nothing,
    ``100`` the dense model.

    Chance levels (:mod:`junk_dna.evaluation.chance`): fine-tuning runs from their own test
    labels in ``per_example.json`` (majority-class rate, ``2p/(1+p)`` for F1, ``1/k`` for
    multiple choice, 0 for MCC and correlations; a run without the file gets NaN for accuracy
    and F1 of a classification task); zero-shot conditions ``1/k`` from the questions' option
    counts (``per_question.json``; else the ``k=<n>`` condition or the task's nominal count)
    or 0 (exact match, F1). ``chance_source`` says which.

    Args:
        df: a :func:`~junk_dna.results.collect` table (any experiments).
        which: ``"last"`` or ``"best"`` epoch (fine-tuning).
        score: zero-shot metric before ``|`` (as :func:`normalize_zero_shot`).
        outcomes: a shared reader of the outcome files (a new one by default).

    Returns:
        The rows of :func:`normalize_to_dense` (fine-tuning experiments) and
        :func:`normalize_zero_shot` (zero-shot experiments, per condition), with columns
        ``chance``, ``chance_source``, ``n`` (test examples or questions, NaN without the
        file), ``dense_value`` and ``retention`` (NaN where the dense score equals chance or
        the chance level is unknown). An empty table gives an empty frame.
    """
    if df.empty:
        return df.assign(**{c: pd.Series(dtype=object if c == "chance_source" else float)
                            for c in RETENTION_COLUMNS})
    outcomes = outcomes or Outcomes()
    parts = []
    groups = df.groupby("experiment", sort=True) if "experiment" in df.columns else [("", df)]
    for _, runs in groups:
        zero_shot = "method" in runs.columns and runs["method"].notna().any()
        if zero_shot:
            parts.append(_zero_shot_retention(runs, score, outcomes))
        else:
            parts.append(_finetune_retention(runs, which, outcomes))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return df.iloc[:0].assign(**{c: pd.Series(dtype=float) for c in RETENTION_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def _retention(value: pd.Series, dense: pd.Series, chance: pd.Series) -> pd.Series:
    den = dense.astype(float) - chance.astype(float)
    r = 100.0 * (value.astype(float) - chance.astype(float)) / den.where(den != 0)
    return r.astype(float)


def _finetune_retention(runs: pd.DataFrame, which: str, outcomes: Outcomes) -> pd.DataFrame:
    rows = normalize_to_dense(runs, which=which).reset_index(drop=True)
    chance, source, n = [], [], []
    for task, run_dir in zip(rows["task"], rows.get("run_dir", [None] * len(rows)),
                             strict=True):
        spec = get_task(task)
        got = outcomes.examples(run_dir, task)
        if got is not None:
            chance.append(run_chance(got, task))
            source.append("test labels")
            n.append(got.n)
        elif spec.head == "multiple_choice" or spec.main_metric not in ("accuracy", "f1"):
            chance.append(finetune_chance(spec.main_metric, head=spec.head,
                                          num_labels=spec.num_labels))
            source.append("task")
            n.append(float("nan"))
        else:
            chance.append(float("nan"))
            source.append("no per-example labels")
            n.append(float("nan"))
    rows["chance"] = pd.Series(chance, dtype=float)
    rows["chance_source"] = source
    rows["n"] = pd.Series(n, dtype=float)
    rows["retention"] = _retention(rows["value"], rows["dense_value"], rows["chance"])
    return rows


def _zero_shot_retention(runs: pd.DataFrame, score: str, outcomes: Outcomes) -> pd.DataFrame:
    rows = normalize_zero_shot(runs, score=score).reset_index(drop=True)
    params = [c for c in rows.columns if c in ("task", "mc_task")]
    chance, source, n = [], [], []
    for _, row in rows.iterrows():
        per_q = outcomes.questions(row.get("run_dir"))
        try:
            c, src = condition_chance(row["score"], per_q, row["condition"],
                                      {k: row[k] for k in params})
        except ValueError:
            c, src = float("nan"), "unknown"
        values = None if per_q is None else per_q.get(row["metric"])
        chance.append(c)
        source.append(src)
        n.append(float("nan") if values is None else len(values))
    rows["chance"] = pd.Series(chance, dtype=float)
    rows["chance_source"] = source
    rows["n"] = pd.Series(n, dtype=float)
    rows["retention"] = _retention(rows["value"], rows["dense_value"], rows["chance"])
    return rows


def scaled(df: pd.DataFrame, *, scale: str = "dense", which: str = "last",
           score: str | None = None) -> pd.DataFrame:
    """The rows a figure draws, ``normalized`` on ``scale``: ``"dense"`` (the paper's:
    ``100 * score / dense``, :func:`normalize_to_dense` / :func:`normalize_zero_shot`),
    ``"drop"`` (the paper's Task_3 axis, % performance drop: ``100 * score / dense - 100``,
    dense = 0) or ``"retention"`` (chance-corrected, :func:`retention_table`). ``score`` set:
    zero-shot.

    Raises:
        ValueError: an unknown scale.
    """
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} not in {list(SCALES)}")
    if scale in ("dense", "drop"):
        table = (normalize_to_dense(df, which=which) if score is None
                 else normalize_zero_shot(df, score=score))
        return table if scale == "dense" else table.assign(normalized=table["normalized"] - 100)
    table = retention_table(df, which=which, score=score or "acc")
    return table.assign(normalized=table["retention"]) if len(table) else \
        table.assign(normalized=pd.Series(dtype=float))
