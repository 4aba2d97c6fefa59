"""Fine-tuning: learns, is deterministic, and follows the run_glue optimizer protocol."""

from __future__ import annotations

import torch

from junk_dna.training.finetune import TrainConfig, fine_tune, parameter_groups
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


def test_length_grouped_batches_cover_every_example_once_with_less_padding():
    from junk_dna.training.finetune import LengthGroupedBatchSampler

    lengths = torch.randint(5, 60, (203,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = LengthGroupedBatchSampler(lengths, 16, torch.Generator().manual_seed(1))
    epoch1, epoch2 = list(sampler), list(sampler)
    assert len(epoch1) == len(sampler) == 13  # ceil(203 / 16), as a plain loader
    for epoch in (epoch1, epoch2):
        assert sorted(i for b in epoch for i in b) == list(range(203))
    assert epoch1 != epoch2  # a new order every epoch
    again = list(LengthGroupedBatchSampler(lengths, 16, torch.Generator().manual_seed(1)))
    assert again == epoch1  # seeded

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    plain = torch.randperm(203, generator=torch.Generator().manual_seed(1)).tolist()
    assert padded(epoch1) < 0.8 * padded([plain[i:i + 16] for i in range(0, 203, 16)])


def test_group_by_length_trains_to_the_same_quality(tmp_path):
    torch.manual_seed(0)
    model = make_tiny_bert()
    result = fine_tune(model, make_tokenizer(tmp_path / "tok"), make_sentiment_data(),
                       TrainConfig(**{**CFG.__dict__, "group_by_length": True}))
    assert result.steps == 8 * 6
    assert max(e["metrics"]["accuracy"] for e in result.epochs) >= 0.9


def test_every_eval_split_is_scored_and_named(tmp_path):
    data = make_sentiment_data()
    data.evals = {"validation_matched": data.evals["test"],
                  "validation_mismatched": make_sentiment_data(seed=9).evals["test"]}
    result = fine_tune(make_tiny_bert(), make_tokenizer(tmp_path / "tok"), data,
                       TrainConfig(epochs=1, batch_size=32, learning_rate=1e-3))
    assert set(result.last) == {"accuracy", "accuracy@validation_mismatched"}


def test_max_steps_and_eval_steps_change_the_schedule_not_the_numbers(tmp_path):
    """A fixed step budget cycles the data (the last epoch cut short) and the evaluation
    schedule never changes a weight: evaluating every 4 steps or every epoch gives the same
    model and the same final metrics (exact)."""
    tok, data = make_tokenizer(tmp_path / "tok"), make_sentiment_data()
    results, models = [], []
    for eval_steps in (None, 4):
        torch.manual_seed(0)
        model = make_tiny_bert()
        cfg = TrainConfig(epochs=1, batch_size=16, learning_rate=5e-3, seed=3, max_steps=15,
                          eval_steps=eval_steps)
        results.append(fine_tune(model, tok, data, cfg))
        models.append(model)
    every_epoch, every_4 = results
    assert every_epoch.steps == every_4.steps == 15  # 6 steps an epoch: 2.5 epochs
    assert [e["step"] for e in every_epoch.epochs] == [6, 12, 15]
    assert [e["epoch"] for e in every_epoch.epochs] == [1, 2, 2.5]
    assert [e["step"] for e in every_4.epochs] == [4, 8, 12, 15]
    assert every_4.last == every_epoch.last and every_4.predictions == every_epoch.predictions
    for (n, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters(),
                              strict=True):
        assert torch.equal(a, b), n


def test_predictions_are_per_example_in_the_split_order_and_match_the_metric(tmp_path):
    data = make_sentiment_data()
    _, result = _run(tmp_path)
    out = result.predictions["test"]
    assert out["label"] == list(data.evals["test"]["label"])  # the split's order, not sorted
    correct = [p == y for p, y in zip(out["prediction"], out["label"], strict=True)]
    assert sum(correct) / len(correct) == result.last["accuracy"]
