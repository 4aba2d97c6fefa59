"""Fine-tuning: learns, is deterministic, and follows the run_glue optimizer protocol."""

from __future__ import annotations

import torch

from junk_dna.training import TrainConfig, fine_tune, parameter_groups
from tests.conftest import make_sentiment_data, make_tiny_bert, make_tokenizer

CFG = TrainConfig(epochs=8, batch_size=16, learning_rate=5e-3, warmup_ratio=0.06, seed=3)


def _run(tmp_path, seed: int = 3):
    torch.manual_seed(0)
    model = make_tiny_bert()
    result = fine_tune(model, make_tokenizer(tmp_path / "tok"), make_sentiment_data(),
                       TrainConfig(**{**CFG.__dict__, "seed": seed}))
    return model, result


def test_learns_a_learnable_task_and_reports_last_and_best(tmp_path):
    _, result = _run(tmp_path)
    assert len(result.epochs) == 8
    assert result.steps == 8 * 6  # 96 examples / 16
    assert result.last == result.epochs[-1]["metrics"]
    best = max(e["metrics"]["accuracy"] for e in result.epochs)
    assert result.best["accuracy"] == best
    assert best >= 0.9, result.epochs  # chance is 0.5


def test_same_parameters_same_numbers(tmp_path):
    m1, r1 = _run(tmp_path)
    m2, r2 = _run(tmp_path)
    assert r1.epochs == r2.epochs
    for (n, a), (_, b) in zip(m1.named_parameters(), m2.named_parameters(), strict=True):
        assert torch.equal(a, b), n
    _, r3 = _run(tmp_path, seed=4)  # the seed drives the shuffling order
    assert r3.train_loss != r1.train_loss


def test_no_weight_decay_on_biases_and_layernorm():
    model = make_tiny_bert()
    decay, no_decay = parameter_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all("bias" in names[id(p)] or "LayerNorm" in names[id(p)]
               for p in no_decay["params"])
    assert all("bias" not in names[id(p)] and "LayerNorm" not in names[id(p)]
               for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
