"""Task metrics of the fine-tuning half, with GLUE's definitions, computed offline.

Each function computes through the GLUE ``evaluate`` module shipped in the package
(``junk_dna/evaluation/metrics/glue_metric``, loaded by path by
:func:`junk_dna.evaluation.metric_modules.load_metric`; the hub is not needed), which holds the
one definition of each metric: accuracy; Matthews correlation (CoLA); F1 of the positive class
plus accuracy (MRPC, QQP); Pearson and Spearman correlation (STS-B). ``evaluate`` is imported
on the first call, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from junk_dna.checks import check_choice
from junk_dna.evaluation.metric_modules import load_metric

MetricFn = Callable[[np.ndarray, np.ndarray], dict[str, float]]


def glue_compute(config: str, preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The GLUE module's scores of config ``config`` (``"sst2"``, ``"cola"``, ``"mrpc"``,
    ``"stsb"``, ...) for ``preds`` against ``labels``.

    Raises:
        ValueError: an unknown config (naming the allowed ones), different lengths, or no
            examples.
    """
    metric = load_metric("glue", config)
    return dict(metric.compute(predictions=np.asarray(preds), references=np.asarray(labels)))


def accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"accuracy": mean(preds == labels)}`` for integer arrays of shape (n,).

    Raises:
        ValueError: different lengths or no examples.
    """
    return glue_compute("sst2", preds, labels)


def matthews(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"matthews_correlation": MCC}`` (CoLA's metric); 0.0 when a class is constant.

    Raises:
        ValueError: different lengths or no examples.
    """
    return glue_compute("cola", preds, labels)


def f1_and_accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"accuracy", "f1"}`` with F1 of class 1 (MRPC's and QQP's metrics).

    Raises:
        ValueError: different lengths or no examples.
    """
    return glue_compute("mrpc", preds, labels)


def pearson_spearman(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``{"pearson", "spearmanr"}`` between float arrays of shape (n,) (STS-B's metric); both
    0.0 when a side is constant.

    Raises:
        ValueError: different lengths or no examples.
    """
    return glue_compute("stsb", preds, labels)


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
