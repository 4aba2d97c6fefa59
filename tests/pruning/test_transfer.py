"""Transfer modes: the invariant of every mode holds on the FINAL weights (weight decay on)."""

from __future__ import annotations

import pytest
import torch

from junk_dna.pruning.masks import PruningConfig, compute_masks, nm_group_dims, select_prunable
from junk_dna.pruning.transfer import MaskEnforcer, check_mode
from junk_dna.training.finetune import TrainConfig, fine_tune
from tests.conftest import make_sentiment_data, make_tiny_bert, make_tokenizer

# A high learning rate and weight decay: any pruned weight that is not re-projected after the
# last step moves away from its required value, so a missing final projection fails.
TRAIN = TrainConfig(epochs=2, batch_size=16, learning_rate=5e-3, weight_decay=0.1,
                    warmup_ratio=0.0, seed=0)


def _train(mode: str, pruning: PruningConfig, tmp_path):
    torch.manual_seed(0)
    model = make_tiny_bert()
    tok = make_tokenizer(tmp_path / "tok")
    params = select_prunable(model)
    pre = {k: v.detach().clone() for k, v in params.items()}
    masks = compute_masks(pre, pruning, group_dims=nm_group_dims(model, params))
    enforcers = []

    def make(unwrapped):
        named = dict(unwrapped.named_parameters())
        enforcers.append(MaskEnforcer({k: named[k] for k in params}, masks, mode))
        return enforcers[0]

    fine_tune(model, tok, make_sentiment_data(), TRAIN, make_enforcer=make)
    final = {k: v.detach() for k, v in model.named_parameters() if k in params}
    return pre, masks, final, enforcers[0]


PATTERNS = [PruningConfig(pattern="unstructured", sparsity=0.5),
            PruningConfig(pattern="nm", nm="2:4")]


@pytest.mark.parametrize("pruning", PATTERNS, ids=["unstructured", "nm"])
def test_sparse_transfer_pruned_weights_exactly_zero_after_last_step(pruning, tmp_path):
    pre, masks, final, enforcer = _train("sparse", pruning, tmp_path)
    for name, w in final.items():
        assert torch.count_nonzero(w[~masks[name]]) == 0, name
    kept_moved = sum(int((final[n][masks[n]] != pre[n][masks[n]]).sum()) for n in final)
    assert kept_moved > 0.9 * sum(int(m.sum()) for m in masks.values())
    assert enforcer.violations() == 0


@pytest.mark.parametrize("pruning", PATTERNS, ids=["unstructured", "nm"])
def test_freeze_pruned_weights_bit_identical_to_pretrained(pruning, tmp_path):
    pre, masks, final, enforcer = _train("freeze", pruning, tmp_path)
    for name, w in final.items():
        pruned = ~masks[name]
        assert torch.equal(w[pruned].view(torch.int32), pre[name][pruned].view(torch.int32))
        assert int((w[masks[name]] != pre[name][masks[name]]).sum()) > 0  # kept ones trained
    assert enforcer.violations() == 0


def test_sparse_to_dense_starts_at_zero_then_trains(tmp_path):
    pre, masks, final, enforcer = _train("sparse_to_dense", PATTERNS[0], tmp_path)
    regrown = sum(int(torch.count_nonzero(final[n][~masks[n]])) for n in final)
    total_pruned = sum(int((~m).sum()) for m in masks.values())
    assert regrown > 0.9 * total_pruned  # trainable from zero: they moved
    # ...but they started from zero, not from the pre-trained values
    assert sum(int((final[n][~masks[n]] - pre[n][~masks[n]]).abs().sum() > 0) for n in final)


def test_sparse_zeroes_at_start_and_freeze_does_not():
    w = torch.nn.Parameter(torch.arange(1.0, 9.0).reshape(2, 4))
    mask = torch.tensor([[True, False, True, False], [False, False, True, True]])
    MaskEnforcer({"w": w}, {"w": mask}, "sparse").start()
    assert torch.equal(w.detach() != 0, mask)
    v = torch.nn.Parameter(torch.arange(1.0, 9.0).reshape(2, 4))
    enf = MaskEnforcer({"v": v}, {"v": mask}, "freeze")
    enf.start()
    assert torch.equal(v.detach(), torch.arange(1.0, 9.0).reshape(2, 4))
    with torch.no_grad():
        v.add_(100.0)
    enf.after_step()
    expected = torch.where(mask, torch.arange(101.0, 109.0).reshape(2, 4),
                           torch.arange(1.0, 9.0).reshape(2, 4))
    assert torch.equal(v.detach(), expected)


def test_enforcer_rejects_bad_input():
    w = torch.nn.Parameter(torch.ones(2, 4))
    with pytest.raises(ValueError, match="'prune_all'"):
        check_mode("prune_all")
    with pytest.raises(ValueError, match=r"mask shape \(4, 2\) does not match"):
        MaskEnforcer({"w": w}, {"w": torch.ones(4, 2, dtype=torch.bool)}, "sparse")
    with pytest.raises(ValueError, match="dtype"):
        MaskEnforcer({"w": w}, {"w": torch.ones(2, 4)}, "sparse")
    with pytest.raises(ValueError, match="no mask for"):
        MaskEnforcer({"w": w}, {}, "sparse")
    with pytest.raises(ValueError, match="takes no masks"):
        MaskEnforcer({"w": w}, {"w": torch.ones(2, 4, dtype=torch.bool)}, "dense")


def test_freeze_restores_negative_zero_and_extreme_values_bit_exactly():
    pre = torch.tensor([[-0.0, 0.0, 1e-38, -3.4e37], [5.0, -0.0, 7.0, 1e-45]])
    w = torch.nn.Parameter(pre.clone())
    mask = torch.tensor([[False, False, False, False], [True, False, True, False]])
    enf = MaskEnforcer({"w": w}, {"w": mask}, "freeze")
    with torch.no_grad():
        w.mul_(-3.0).add_(1.0)  # an optimizer step that moves every weight
    enf.after_step()
    assert torch.equal(w.detach()[~mask].view(torch.int32), pre[~mask].view(torch.int32))
    assert torch.equal(w.detach()[mask], pre[mask] * -3.0 + 1.0)
    assert enf.violations() == 0
