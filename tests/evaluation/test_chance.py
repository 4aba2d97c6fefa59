"""Chance levels per task and metric (junk_dna.evaluation.chance)."""

from __future__ import annotations

import numpy as np
import pytest

from junk_dna.data.glue_tasks import get_task
from junk_dna.evaluation import chance as ch
from junk_dna.evaluation.glue_metrics import f1_and_accuracy


def test_majority_rate_and_positive_class_f1():
    labels = np.array([1, 1, 1, 0, 0, 1, 0, 1])  # 5 of 8 positive
    assert ch.majority_rate(labels) == 5 / 8
    assert ch.majority_rate([2, 2, 0]) == pytest.approx(2 / 3)
    assert ch.positive_class_f1(labels) == pytest.approx(2 * (5 / 8) / (1 + 5 / 8))
    # it is the F1 of always predicting the positive class, by GLUE's metric
    assert ch.positive_class_f1(labels) == pytest.approx(
        f1_and_accuracy(np.ones(8, int), labels)["f1"])
    with pytest.raises(ValueError, match="no labels"):
        ch.majority_rate([])


def test_multiple_choice_chance():
    assert ch.multiple_choice_chance(4) == 0.25
    assert ch.multiple_choice_chance([4, 4, 3, 5]) == pytest.approx((0.5 + 1 / 3 + 0.2) / 4)
    for bad in (1, [2, 1], [2.5]):
        with pytest.raises(ValueError, match="integers >= 2"):
            ch.multiple_choice_chance(bad)


@pytest.mark.parametrize("task,labels,want", [
    ("sst2-embedded", [1, 0, 1, 1], 0.75),                 # accuracy: majority class
    ("sst2", [0, 0, 1], 2 / 3),
    ("qnli", [0, 1], 0.5),
    ("mrpc-embedded", [1, 1, 0, 1], 2 * 0.75 / 1.75),      # F1: 2p / (1 + p)
    ("qqp", [0, 0, 0, 1], 2 * 0.25 / 1.25),
    ("cola", [1, 0, 1], 0.0),                               # MCC
    ("stsb", [0.5, 3.2], 0.0),                              # Spearman
    ("csqa-embedded", [0, 4, 2], 0.2),                      # multiple choice, 5 options
    ("winogrande", [0, 1, 1], 0.5),
    ("hellaswag-embedded", [3, 3], 0.25),
])
def test_finetune_chance_per_task(task, labels, want):
    spec = get_task(task)
    got = ch.finetune_chance(spec.main_metric, labels=labels, head=spec.head,
                             num_labels=spec.num_labels)
    assert got == pytest.approx(want)


def test_finetune_chance_errors():
    with pytest.raises(ValueError, match="needs the test labels"):
        ch.finetune_chance("accuracy")
    with pytest.raises(ValueError, match="no chance level for metric 'bleu'"):
        ch.finetune_chance("bleu", labels=[1])


@pytest.mark.parametrize("metric,k,want", [
    ("acc", 4, 0.25), ("acc_norm", [2, 2, 4], (0.5 + 0.5 + 0.25) / 3), ("acc", 2, 0.5),
    ("exact_match", None, 0.0), ("f1", None, 0.0), ("containment", None, 0.0)])
def test_zero_shot_chance_per_metric(metric, k, want):
    assert ch.zero_shot_chance(metric, k) == pytest.approx(want)


def test_zero_shot_chance_errors_and_binomial_se():
    with pytest.raises(ValueError, match="option counts"):
        ch.zero_shot_chance("acc")
    with pytest.raises(ValueError, match="no chance level for zero-shot metric"):
        ch.zero_shot_chance("rouge", 4)
    assert ch.binomial_se(0.5, 100) == pytest.approx(0.05)
    assert ch.binomial_se(1.2, 100) == 0.0 and ch.binomial_se(-0.5, 10) == 0.0
