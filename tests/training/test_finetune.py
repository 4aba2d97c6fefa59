"""Fine-tuning: learns, is deterministic, and follows the run_glue optimizer protocol."""

from __future__ import annotations

import pytest
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


def _tiny_run(tok, data, cfg: TrainConfig, **kwargs):
    torch.manual_seed(0)
    model = make_tiny_bert()
    return model, fine_tune(model, tok, data, cfg, **kwargs)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (n, x), (_, y) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(x, y), n


def test_compact_embedding_is_exact(tmp_path):
    """Training only the embedding rows the training split reaches gives the same weights,
    bit for bit, and the same metrics and losses as training the whole table."""
    from junk_dna.training.compact import compact_reason

    tok, data = make_tokenizer(tmp_path / "tok"), make_sentiment_data()
    cfg = TrainConfig(epochs=2, batch_size=16, learning_rate=5e-3, seed=3)
    assert compact_reason(make_tiny_bert(), cfg.weight_decay) is None  # the path is taken
    compact_model, compact = _tiny_run(tok, data, cfg)
    plain_model, plain = _tiny_run(tok, data, cfg, compact_embedding=False)
    _same_weights(compact_model, plain_model)
    assert compact.epochs == plain.epochs and compact.predictions == plain.predictions
    # the full table is back in the model, and some of its rows were never trained
    embedding = compact_model.get_input_embeddings()
    assert embedding.num_embeddings == make_tiny_bert().config.vocab_size
    assert torch.equal(embedding.weight[tok.convert_tokens_to_ids("[MASK]")],
                       make_tiny_bert().get_input_embeddings().weight[
                           tok.convert_tokens_to_ids("[MASK]")])


def test_compact_embedding_is_refused_where_it_would_not_be_exact():
    from junk_dna.training.compact import compact_reason

    model = make_tiny_bert()
    assert "weight decay" in compact_reason(model, 0.01)
    weight = model.get_input_embeddings().weight
    assert "projects" in compact_reason(model, 0.0, [weight])
    weight.requires_grad_(False)
    assert "not trained" in compact_reason(model, 0.0)


def test_eval_last_keeps_the_weights_and_the_last_metrics(tmp_path):
    """Skipping the early evaluations changes no weight and no kept metric (each evaluation
    runs in its own RNG fork); the train loss still covers its schedule window."""
    tok, data = make_tokenizer(tmp_path / "tok"), make_sentiment_data()
    cfg = TrainConfig(epochs=3, batch_size=16, learning_rate=5e-3, seed=3)
    every_model, every = _tiny_run(tok, data, cfg)
    last_model, last = _tiny_run(tok, data, TrainConfig(**{**cfg.__dict__, "eval_last": 1}))
    _same_weights(every_model, last_model)
    assert len(every.epochs) == 3 and last.epochs == every.epochs[-1:]
    assert last.last == every.last and last.best == every.last and last.best_epoch == 3
    assert last.predictions == every.predictions


def test_bf16_training_runs_and_learns(tmp_path):
    """bfloat16 autocast (not exact): trains to the same quality; weights stay float32."""
    tok, data = make_tokenizer(tmp_path / "tok"), make_sentiment_data()
    model, result = _tiny_run(tok, data, TrainConfig(**{**CFG.__dict__,
                                                        "mixed_precision": "bf16"}))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert max(e["metrics"]["accuracy"] for e in result.epochs) >= 0.9, result.epochs


@pytest.mark.parametrize("kwargs, match", [
    ({"mixed_precision": "fp32"}, r"mixed_precision 'fp32'; allowed: \['no', 'bf16', 'fp16'\]"),
    ({"eval_last": 0}, "eval_last 0 must be an integer >= 1"),
])
def test_train_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)
