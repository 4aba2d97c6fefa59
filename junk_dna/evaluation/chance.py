"""Chance levels: the score a model that knows nothing about the task gets, per metric.

One place for every chance level the claims and the retention scale use
(``R = 100 (score - chance) / (dense - chance)``, :mod:`junk_dna.report.stats`). Pure numpy:

=========================================  ===============================================
metric                                     chance
=========================================  ===============================================
classification accuracy                    the majority-class rate of the test labels
                                           (always predicting the most frequent class)
multiple-choice accuracy, k options        1/k; the mean of 1/k_i over the questions when
                                           k varies (ARC-Easy has a few 3- and 5-option
                                           questions); ``acc_norm`` the same
binary F1 of the positive class            2p / (1 + p), p the positive rate of the labels
(MRPC, QQP)                                (always predicting the positive class: precision
                                           p, recall 1)
exact match, token F1, containment         0 (an empty or random answer matches nothing)
MCC, Pearson, Spearman                     0 (no correlation)
=========================================  ===============================================

Fine-tuning tasks are scored on the test labels of each seed's own re-split, so their chance
level is computed per seed from those labels (:func:`finetune_chance`); zero-shot conditions
from the option counts of their questions (:func:`zero_shot_chance`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Metrics whose chance level is 0.
ZERO_CHANCE_METRICS: tuple[str, ...] = (
    "exact_match", "containment", "matthews_correlation", "pearson", "spearmanr")
#: Zero-shot metric names (before ``|``) that are multiple-choice accuracies.
MC_METRICS: tuple[str, ...] = ("acc", "acc_norm")
#: Zero-shot metric names that score generated answers (chance 0).
FACTOID_METRICS: tuple[str, ...] = ("exact_match", "f1", "containment")


def _labels(labels: Sequence | np.ndarray) -> np.ndarray:
    a = np.asarray(labels).ravel()
    if a.size == 0:
        raise ValueError("no labels: a chance level needs at least one test label")
    return a


def majority_rate(labels: Sequence | np.ndarray) -> float:
    """Accuracy of always predicting the most frequent label: ``max_c mean(labels == c)``.

    Raises:
        ValueError: no labels.
    """
    a = _labels(labels)
    _, counts = np.unique(a, return_counts=True)
    return float(counts.max() / a.size)


def positive_class_f1(labels: Sequence | np.ndarray, positive: int = 1) -> float:
    """F1 of the positive class when always predicting it: ``2p / (1 + p)``.

    Raises:
        ValueError: no labels.
    """
    p = float(np.mean(_labels(labels) == positive))
    return 2 * p / (1 + p)


def multiple_choice_chance(n_options: int | Sequence[int] | np.ndarray) -> float:
    """``1/k``, or the mean of ``1/k_i`` over the questions when ``n_options`` is a sequence.

    Raises:
        ValueError: empty, or an option count below 2 (or not an integer).
    """
    k = np.asarray(n_options).ravel()
    if k.size == 0:
        raise ValueError("no option counts")
    if not np.issubdtype(k.dtype, np.integer) or (k < 2).any():
        raise ValueError(f"option counts {k[:5].tolist()} must be integers >= 2")
    return float(np.mean(1.0 / k))


def finetune_chance(task_metric: str, *, labels: Sequence | np.ndarray | None = None,
                    head: str = "sequence_classification", num_labels: int = 2) -> float:
    """Chance level of a fine-tuning task's main metric on its test labels.

    Args:
        task_metric: the main metric (``"accuracy"``, ``"f1"``, ``"matthews_correlation"``,
            ``"spearmanr"``, ``"pearson"``).
        labels: the test labels (needed by accuracy and F1 of a classification task).
        head: ``"multiple_choice"`` gives ``1 / num_labels`` (num_labels = options).
        num_labels: classes, or options per question of a multiple-choice task.

    Raises:
        ValueError: an unknown metric, or accuracy/F1 of a classification task without labels.
    """
    if task_metric in ZERO_CHANCE_METRICS:
        return 0.0
    if task_metric == "accuracy" and head == "multiple_choice":
        return multiple_choice_chance(int(num_labels))
    if task_metric not in ("accuracy", "f1"):
        raise ValueError(f"no chance level for metric {task_metric!r}; known: accuracy, f1, "
                         f"{', '.join(ZERO_CHANCE_METRICS)}")
    if labels is None:
        raise ValueError(f"the chance level of {task_metric!r} needs the test labels")
    return majority_rate(labels) if task_metric == "accuracy" else positive_class_f1(labels)


def zero_shot_chance(metric: str, n_options: int | Sequence[int] | np.ndarray | None = None
                     ) -> float:
    """Chance level of a zero-shot metric (the name before ``|``).

    ``acc`` / ``acc_norm``: :func:`multiple_choice_chance` of the questions' option counts;
    ``exact_match`` / ``f1`` / ``containment``: 0.

    Raises:
        ValueError: an unknown metric, or a multiple-choice metric without option counts.
    """
    if metric in FACTOID_METRICS:
        return 0.0
    if metric not in MC_METRICS:
        raise ValueError(f"no chance level for zero-shot metric {metric!r}; known: "
                         f"{', '.join((*MC_METRICS, *FACTOID_METRICS))}")
    if n_options is None:
        raise ValueError(f"the chance level of {metric!r} needs the questions' option counts")
    return multiple_choice_chance(n_options)


def binomial_se(p: float, n: int) -> float:
    """``sqrt(p (1 - p) / n)`` with ``p`` clipped to [0, 1] (the exclusion rule's unit)."""
    p = min(1.0, max(0.0, float(p)))
    return float(np.sqrt(p * (1 - p) / n)) if n > 0 else float("nan")
