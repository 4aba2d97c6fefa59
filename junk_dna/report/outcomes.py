"""Per-example outcomes of the runs and the chance level of each run and condition.

Fine-tuning runs write ``per_example.json`` beside ``record.json`` (the last evaluation: per
eval split the example ids, labels and predictions); zero-shot runs write
``per_question.json`` (per ``<metric>|<condition>`` the score of every question, and for
multiple choice ``n_options|<condition>``, the options of every question). This module reads
them (each file once: :class:`Outcomes` keeps what it read), turns them into per-example
scores or (predictions, labels) for :mod:`junk_dna.report.stats`, and gives each run's chance
level (:mod:`junk_dna.evaluation.chance`). A run without its file gives ``None``, never an
error: old records have none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from junk_dna.data.glue_tasks import get_task
from junk_dna.data.qa_tasks import QA_TASKS
from junk_dna.evaluation.chance import finetune_chance, zero_shot_chance
from junk_dna.experiments.true_gem import PER_EXAMPLE_NAME
from junk_dna.report import stats
from junk_dna.results.records import CorruptRecordError, read_record

PER_QUESTION_NAME = "per_question.json"
#: Prefix of the per-question option counts in ``per_question.json``.
N_OPTIONS = "n_options"
#: Row-wise metric of :mod:`junk_dna.report.stats` per fine-tuning main metric; accuracy is
#: a mean of per-example 0/1 scores (None: the fast path).
ROW_METRICS: dict[str, stats.Metric | None] = {
    "accuracy": None,
    "f1": stats.binary_f1,
    "matthews_correlation": stats.matthews_corrcoef,
    "pearson": stats.pearson_r,
    "spearmanr": stats.spearman_r,
}


@dataclass(frozen=True)
class ExampleOutcomes:
    """A fine-tuning run's last evaluation on its main eval split.

    Attributes:
        split: the eval split (``"test"`` for an embedded re-split).
        ids: example ids (stable across the runs that see the same examples), as strings.
        labels: gold labels (class, option index or regression score).
        predictions: the run's predictions, aligned with ``labels``.
    """

    split: str
    ids: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])


def main_split(splits: Mapping[str, Any], task: str) -> str | None:
    """The split the main metric is read on: ``"test"`` (embedded re-splits), else the
    task's first eval split, else the first split present; None without splits."""
    if not splits:
        return None
    if "test" in splits:
        return "test"
    first = get_task(task).eval_splits[0]
    return first if first in splits else next(iter(splits))


def row_metric(main_metric: str) -> stats.Metric | None:
    """The row-wise metric of ``main_metric`` (None: accuracy, a mean of 0/1 scores).

    Raises:
        ValueError: a metric with no row-wise form here.
    """
    if main_metric not in ROW_METRICS:
        raise ValueError(f"no row-wise metric for {main_metric!r}; known: {sorted(ROW_METRICS)}")
    return ROW_METRICS[main_metric]


def example_scores(outcomes: ExampleOutcomes) -> np.ndarray:
    """Per-example 0/1 correctness (accuracy's per-example score)."""
    return (outcomes.predictions == outcomes.labels).astype(np.float64)


def finetune_value(outcomes: ExampleOutcomes, task: str) -> float:
    """The main metric of a run recomputed from its per-example outcomes."""
    metric = row_metric(get_task(task).main_metric)
    if metric is None:
        return float(example_scores(outcomes).mean())
    return float(metric(outcomes.predictions[None], outcomes.labels[None])[0])


def run_chance(outcomes: ExampleOutcomes, task: str) -> float:
    """Chance level of a fine-tuning run's main metric on its own test labels."""
    spec = get_task(task)
    return finetune_chance(spec.main_metric, labels=outcomes.labels, head=spec.head,
                           num_labels=spec.num_labels)


def condition_option_counts(per_question: Mapping[str, np.ndarray] | None, condition: str,
                            params: Mapping[str, Any]) -> tuple[np.ndarray | int | None, str]:
    """The option count(s) of a zero-shot multiple-choice condition, and where they come
    from: the questions' own counts in ``per_question.json``, the condition itself
    (``k=<n>`` of option_count), or the task's nominal count (older records; ARC has a few
    3- and 5-option questions, so its nominal 4 is then an approximation)."""
    if per_question is not None and f"{N_OPTIONS}|{condition}" in per_question:
        return np.asarray(per_question[f"{N_OPTIONS}|{condition}"]).astype(int), "recorded"
    if condition.startswith("k=") and condition[2:].isdigit():
        return int(condition[2:]), "condition"
    task = params.get("mc_task") if condition == "mc" and params.get("mc_task") else \
        params.get("task")
    spec = QA_TASKS.get(str(task))
    if spec is None or spec.n_options is None:
        return None, "unknown"
    return int(spec.n_options), f"nominal ({spec.name}: {spec.n_options} options)"


def condition_chance(metric: str, per_question: Mapping[str, np.ndarray] | None,
                     condition: str, params: Mapping[str, Any]) -> tuple[float, str]:
    """Chance level of a zero-shot ``metric|condition`` and its source.

    Raises:
        ValueError: an unknown metric; a multiple-choice condition whose option count is
            unknown.
    """
    if metric in ("acc", "acc_norm"):
        k, source = condition_option_counts(per_question, condition, params)
        if k is None:
            raise ValueError(f"unknown option count for {metric}|{condition} "
                             f"(task {params.get('task')!r})")
        return zero_shot_chance(metric, k), source
    return zero_shot_chance(metric), "metric"


class Outcomes:
    """Reads each run's records and outcome files once (keyed by run folder)."""

    def __init__(self) -> None:
        self._examples: dict[tuple[str, str], ExampleOutcomes | None] = {}
        self._questions: dict[str, dict[str, np.ndarray] | None] = {}
        self._records: dict[str, dict[str, Any] | None] = {}

    def examples(self, run_dir: str | os.PathLike[str] | None, task: str
                 ) -> ExampleOutcomes | None:
        """The run's per-example outcomes on its main split, or None (no or bad file)."""
        if run_dir is None or (isinstance(run_dir, float) and np.isnan(run_dir)):
            return None
        key = (os.fspath(run_dir), task)
        if key not in self._examples:
            self._examples[key] = _read_examples(Path(key[0]) / PER_EXAMPLE_NAME, task)
        return self._examples[key]

    def questions(self, run_dir: str | os.PathLike[str] | None
                  ) -> dict[str, np.ndarray] | None:
        """The run's per-question scores (and option counts), or None."""
        if run_dir is None or (isinstance(run_dir, float) and np.isnan(run_dir)):
            return None
        key = os.fspath(run_dir)
        if key not in self._questions:
            path = Path(key) / PER_QUESTION_NAME
            try:
                raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            except (OSError, json.JSONDecodeError):
                raw = None
            self._questions[key] = None if not isinstance(raw, dict) else {
                k: np.asarray(v, dtype=float) for k, v in raw.items()
                if isinstance(v, list)}
        return self._questions[key]

    def record(self, run_dir: str | os.PathLike[str] | None) -> dict[str, Any] | None:
        """The run's record, or None (no or corrupt record)."""
        if run_dir is None or (isinstance(run_dir, float) and np.isnan(run_dir)):
            return None
        key = os.fspath(run_dir)
        if key not in self._records:
            try:
                self._records[key] = read_record(key)
            except CorruptRecordError:
                self._records[key] = None
        return self._records[key]


def _read_examples(path: Path, task: str) -> ExampleOutcomes | None:
    if not path.is_file():
        return None
    try:
        splits = json.loads(path.read_text(encoding="utf-8")).get("splits") or {}
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    split = main_split(splits, task)
    if split is None:
        return None
    part = splits[split]
    labels = np.asarray(part.get("label", []))
    preds = np.asarray(part.get("prediction", []))
    ids = np.asarray([str(i) for i in part.get("ids", [])])
    if labels.ndim != 1 or labels.shape != preds.shape or labels.size == 0:
        return None
    if ids.shape != labels.shape:  # no ids: position in the split
        ids = np.asarray([str(i) for i in range(labels.size)])
    return ExampleOutcomes(split, ids, labels, preds)
