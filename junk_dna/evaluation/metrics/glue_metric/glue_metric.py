"""GLUE metric as an ``evaluate`` module, shipped in junk_dna and loaded offline by path.

Load it with ``evaluate.load(<this folder>, config_name)`` (or
:func:`junk_dna.evaluation.metric_modules.load_metric`). Per config, as the original GLUE
metric (``evaluate.load("glue", ...)``) defines them:

- ``sst2``, ``mnli``, ``mnli_matched``, ``mnli_mismatched``, ``qnli``, ``rte``, ``wnli``,
  ``hans``: ``{"accuracy"}``
- ``mrpc``, ``qqp``: ``{"accuracy", "f1"}`` (F1 of class 1)
- ``cola``: ``{"matthews_correlation"}``
- ``stsb``: ``{"pearson", "spearmanr"}``

Deliberate differences from the hub's script: predictions and references are stored and handed
to the formulas as 64-bit numbers (the hub's STS-B features are float32 and its numpy format
gives float32 arrays, which changes the last digits of the correlations);
a constant input gives a correlation of 0.0 instead of NaN (as scikit-learn's Matthews
correlation does); an unknown config, mismatched lengths or no examples raise ``ValueError``
naming the value and the allowed ones.

This file is an ``evaluate`` script, not a junk_dna module: it imports nothing of junk_dna.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

ACCURACY_CONFIGS = ("sst2", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli",
                    "hans")
F1_CONFIGS = ("mrpc", "qqp")
CONFIGS = (*ACCURACY_CONFIGS, *F1_CONFIGS, "cola", "stsb")

_DESCRIPTION = "GLUE metric: accuracy, F1, Matthews correlation, Pearson and Spearman."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (integers), or scores (floats) for stsb.
    references: gold labels (integers), or scores (floats) for stsb.
Returns:
    accuracy (sst2, mnli*, qnli, rte, wnli, hans, mrpc, qqp), f1 (mrpc, qqp),
    matthews_correlation (cola), pearson and spearmanr (stsb).
"""


def accuracy(preds: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``preds`` equal to ``labels``."""
    return float(np.mean(np.asarray(preds) == np.asarray(labels)))


def f1_positive(preds: np.ndarray, labels: np.ndarray) -> float:
    """F1 of class 1 (0.0 when there is no true or predicted positive)."""
    from sklearn.metrics import f1_score

    return float(f1_score(labels, preds, zero_division=0.0))


def matthews(preds: np.ndarray, labels: np.ndarray) -> float:
    """Matthews correlation coefficient (0.0 when a side is constant)."""
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(labels, preds))


def pearson_spearman(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlations (both 0.0 when a side is constant)."""
    from scipy.stats import pearsonr, spearmanr

    preds = np.asarray(preds, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if np.ptp(preds) == 0 or np.ptp(labels) == 0:
        return {"pearson": 0.0, "spearmanr": 0.0}
    return {"pearson": float(pearsonr(preds, labels)[0]),
            "spearmanr": float(spearmanr(preds, labels)[0])}


def glue_scores(config: str, preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The scores of GLUE config ``config`` for ``preds`` against ``labels``.

    Raises:
        ValueError: an unknown config (naming the allowed ones), different lengths, or no
            examples.
    """
    check_config(config)
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("cannot compute a metric on 0 examples")
    if config == "cola":
        return {"matthews_correlation": matthews(preds, labels)}
    if config == "stsb":
        return pearson_spearman(preds, labels)
    scores = {"accuracy": accuracy(preds, labels)}
    if config in F1_CONFIGS:
        scores["f1"] = f1_positive(preds, labels)
    return scores


def check_config(config: str | None) -> str:
    """``config`` if it is a GLUE config.

    Raises:
        ValueError: naming the bad value and the allowed ones.
    """
    if config not in CONFIGS:
        raise ValueError(f"unknown GLUE config {config!r}; allowed: {list(CONFIGS)}")
    return config


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    """The GLUE metric of one config (``config_name``)."""

    def _info(self) -> evaluate.MetricInfo:
        check_config(self.config_name)
        dtype = "float64" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Wang et al., GLUE, ICLR 2019",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value(dtype),
                                        "references": datasets.Value(dtype)}),
        )  # no format="numpy": datasets' numpy formatter would hand floats over as float32

    def _compute(self, predictions: list[float], references: list[float]) -> dict[str, float]:
        dtype = np.float64 if self.config_name == "stsb" else np.int64
        return glue_scores(self.config_name, np.asarray(predictions, dtype=dtype),
                           np.asarray(references, dtype=dtype))
