"""Task metrics computed offline, with GLUE's definitions.

``evaluate.load("glue", ...)`` needs the hub; these are the same formulas computed directly
(scikit-learn / scipy), so results are comparable with the GLUE leaderboard conventions:
accuracy; Matthews correlation (CoLA); F1 of the positive class plus accuracy (MRPC, QQP);
Pearson and Spearman correlation (STS-B).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from junk_dna.checks import check_choice

MetricFn = Callable[[np.ndarray, np.ndarray], dict[str, float]]


def accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"accuracy": mean(preds == labels)}`` for integer arrays of shape (n,)."""
    _check_same_length(preds, labels)
    return {"accuracy": float(np.mean(np.asarray(preds) == np.asarray(labels)))}


def matthews(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"matthews_correlation": MCC}`` (CoLA's metric); 0.0 when a class is constant."""
    from sklearn.metrics import matthews_corrcoef

    _check_same_length(preds, labels)
    return {"matthews_correlation": float(matthews_corrcoef(labels, preds))}


def f1_and_accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"accuracy", "f1"}`` with F1 of class 1 (MRPC's and QQP's metrics)."""
    from sklearn.metrics import f1_score

    _check_same_length(preds, labels)
    return {**accuracy(preds, labels), "f1": float(f1_score(labels, preds, zero_division=0.0))}


def pearson_spearman(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"pearson", "spearmanr"}`` between float arrays of shape (n,) (STS-B's metric)."""
    from scipy.stats import pearsonr, spearmanr

    _check_same_length(preds, labels)
    preds = np.asarray(preds, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if np.std(preds) == 0 or np.std(labels) == 0:
        return {"pearson": 0.0, "spearmanr": 0.0}
    return {
        "pearson": float(pearsonr(preds, labels)[0]),
        "spearmanr": float(spearmanr(preds, labels)[0]),
    }


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "matthews": matthews,
    "f1_accuracy": f1_and_accuracy,
    "pearson_spearman": pearson_spearman,
}


def get_metric(name: str) -> MetricFn:
    """The metric function called ``name``.

    Raises:
        ValueError: naming the bad value and the allowed ones.
    """
    check_choice("metric", name, sorted(METRICS))
    return METRICS[name]


def _check_same_length(preds: Sequence | np.ndarray, labels: Sequence | np.ndarray) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("cannot compute a metric on 0 examples")
