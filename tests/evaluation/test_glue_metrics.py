"""GLUE metrics (their definitions on hand-made cases)."""

from __future__ import annotations

import numpy as np
import pytest

from junk_dna.evaluation.glue_metrics import get_metric


def test_metrics_on_hand_made_cases():
    p, y = np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 0, 1])
    assert get_metric("accuracy")(p, y) == {"accuracy": 0.8}
    f = get_metric("f1_accuracy")(p, y)
    assert f["f1"] == pytest.approx(0.8)  # tp=2 fp=1 fn=0 -> 2*2/(2*2+1)
    # MCC = (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2*2-1*0)/sqrt(3*2*3*2)
    assert get_metric("matthews")(p, y)["matthews_correlation"] == pytest.approx(4 / 6)
    s = get_metric("pearson_spearman")(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
    assert s["spearmanr"] == pytest.approx(1.0) and 0.98 < s["pearson"] < 1.0
    with pytest.raises(ValueError, match="'bleu'"):
        get_metric("bleu")
