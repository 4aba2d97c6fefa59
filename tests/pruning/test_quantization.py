"""Tests of junk_dna.pruning.quantization (RTN fake-quantization) on tensors and a tiny Llama."""

from __future__ import annotations

import pytest
import torch

import junk_dna.pruning.quantization as quantization
from junk_dna.pruning.config import (
    check_quantization,
    matched_sparsity,
    pruned_storage_bits,
    storage_matched_sparsity,
)
from junk_dna.pruning.llm import decoder_linears, weight_as_out_in
from junk_dna.pruning.quantization import (
    quantize_causal_lm,
    quantize_weight,
    rtn_quantize,
    rtn_storage_bits,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py



def tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, vocab_size=128, num_hidden_layers=2,
                         max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def test_hand_computed_examples():
    # asymmetric 2 bits: range [-1, 2] (contains 0), scale = 3/3 = 1, zero = round(1) = 1
    w = torch.tensor([[-1.0, 0.4, 0.6, 2.0]])
    assert torch.equal(rtn_quantize(w, 2), torch.tensor([[-1.0, 0.0, 1.0, 2.0]]))
    # a positive row: the range is extended to 0 -> [0, 3], scale 1, zero 0; 3.2 -> 3
    w = torch.tensor([[0.5, 1.4, 3.0, 2.6]])
    assert torch.equal(rtn_quantize(w, 2), torch.tensor([[0.0, 1.0, 3.0, 3.0]]))
    # symmetric 3 bits: xmax = max(|-1|, 1.6) = 1.6, range [-1.6, 1.6], scale s = 3.2 / 7,
    # zero = 4; -1/s = -2.19 -> -2; 0.1/s -> 0; 0.5/s = 1.09 -> 1; 1.6/s = 3.5 -> 4 (or 3)
    # -> q = 8 clamped to 7 (or 7) -> 3 s either way
    w = torch.tensor([[-1.0, 0.1, 0.5, 1.6]])
    s = 3.2 / 7
    expect = torch.tensor([[-2 * s, 0.0, s, 3 * s]])
    assert torch.allclose(rtn_quantize(w, 3, symmetric=True), expect, atol=1e-6)
    # an all-zero row stays zero
    assert torch.equal(rtn_quantize(torch.zeros(2, 4), 4), torch.zeros(2, 4))
    # per group of 2: each group has its own range
    w = torch.tensor([[-1.0, 2.0, 10.0, 20.0]])
    got = quantize_weight(w, bits=2, granularity="per_group", group_size=2)
    # group 1: [-1, 2] scale 1 -> exact; group 2: [0, 20], scale 20/3: 10 -> 1.5 -> 2 -> 13.33
    assert torch.allclose(got, torch.tensor([[-1.0, 2.0, 40 / 3, 20.0]]))
    per_channel = quantize_weight(w, bits=2, granularity="per_channel")
    assert rel_err(got, w) < rel_err(per_channel, w)


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_distinct_values_per_channel_and_group(bits, symmetric):
    w = torch.randn(16, 256, generator=torch.Generator().manual_seed(bits))
    q = quantize_weight(w, bits=bits, granularity="per_channel", symmetric=symmetric)
    assert max(len(torch.unique(row)) for row in q) <= 2**bits
    q = quantize_weight(w, bits=bits, granularity="per_group", group_size=32,
                        symmetric=symmetric)
    groups = q.reshape(-1, 32)
    assert max(len(torch.unique(g)) for g in groups) <= 2**bits
    # round to nearest: error <= one step (half a step, plus clamping at the range ends when
    # the zero point is rounded), and a step is at most 2 max|w| / (2^b - 1)
    step = 2 * float(w.abs().max()) / (2**bits - 1)
    assert float((q - w).abs().max()) <= step * (1 + 1e-5)


def test_error_shrinks_with_bits_and_8bit_is_tiny():
    w = torch.randn(64, 256, generator=torch.Generator().manual_seed(0))
    for granularity in ("per_channel", "per_group"):
        errs = [rel_err(quantize_weight(w, bits=b, granularity=granularity, group_size=64), w)
                for b in (2, 3, 4, 6, 8)]
        assert all(a > b for a, b in zip(errs, errs[1:], strict=False)), errs
        assert errs[-1] < 0.01, errs
        assert errs[2] < 0.15, errs  # 4 bits
    g4 = rel_err(quantize_weight(w, bits=4, granularity="per_group", group_size=32), w)
    c4 = rel_err(quantize_weight(w, bits=4, granularity="per_channel"), w)
    assert g4 < c4


def test_quantize_causal_lm_scope_and_report():
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    linears = decoder_linears(model)
    scope = {f"{n}.weight" for n in linears}
    report = quantize_causal_lm(model, bits=4, granularity="per_group", group_size=32)
    after = model.state_dict()
    for k in before:
        if k in scope:
            assert not torch.equal(before[k], after[k]), k
            assert torch.equal(after[k], quantize_weight(before[k], bits=4,
                                                         granularity="per_group", group_size=32))
        else:
            assert torch.equal(before[k], after[k]), k
    assert [r["name"] for r in report["layers"]] == list(linears)
    assert all(0 < r["rel_error"] < 0.2 for r in report["layers"])
    for mod in linears.values():
        groups = weight_as_out_in(mod).reshape(-1, 32)
        assert max(len(torch.unique(g)) for g in groups) <= 16
    ids = torch.randint(0, 128, (2, 8))
    assert bool(torch.isfinite(model(ids).logits).all())
    # storage: 4 bits + a 16-bit scale and zero per group of 32 = 4 + 32 / 32 = 5 bits
    assert report["storage_bits_per_weight"] == pytest.approx(5.0)


def test_storage_bits_count_scales_zero_points_and_the_mask():
    # one [4, 64] matrix: per channel 4 rows x (16 + 16) bits over 256 weights = 0.5
    assert rtn_storage_bits(4, [(4, 64)]) == pytest.approx(4.5)
    assert rtn_storage_bits(4, [(4, 64)], symmetric=True) == pytest.approx(4.25)
    assert rtn_storage_bits(4, [(4, 64)], granularity="per_group", group_size=16) == \
        pytest.approx(4 + 16 * 32 / 256)
    # weighted over matrices of different sizes: SmolLM2's layer (hidden 576, ffn 1536)
    layer = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576),
             (576, 1536)]
    assert rtn_storage_bits(4, layer) == pytest.approx(4 + 5184 * 32 / 3538944)
    with pytest.raises(ValueError, match="no weights"):
        rtn_storage_bits(4, [])
    # pruning: kept weights at 16 bits and a 1-bit mask
    assert pruned_storage_bits(0.75) == 5.0 and pruned_storage_bits(0.0) == 17.0
    assert storage_matched_sparsity(5.0) == 0.75
    assert storage_matched_sparsity(4.5) == pytest.approx(1 - 3.5 / 16)
    assert storage_matched_sparsity(20.0) == 0.0 and storage_matched_sparsity(0.5) == 1.0
    with pytest.raises(ValueError, match="outside"):
        pruned_storage_bits(1.5)
    with pytest.raises(ValueError, match="must be finite"):
        storage_matched_sparsity(float("nan"))


def test_quantize_is_deterministic():
    a, b = tiny_llama(), tiny_llama()
    quantize_causal_lm(a, bits=3, granularity="per_channel")
    quantize_causal_lm(b, bits=3, granularity="per_channel")
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_validation_before_any_change(monkeypatch):
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def expensive(*args, **kwargs):
        raise AssertionError("work started before validation")

    monkeypatch.setattr(quantization, "quantize_weight", expensive)
    cases = [
        ({"bits": 1}, r"bits 1 is not an int in \[2, 8\]"),
        ({"bits": 9}, "bits 9"),
        ({"bits": 4.0}, "bits 4.0"),
        ({"bits": 4, "granularity": "per_tensor"}, "unknown granularity 'per_tensor'"),
        ({"bits": 4, "granularity": "per_group", "group_size": 0}, "group_size 0"),
        ({"bits": 4, "granularity": "per_group", "group_size": 48},
         r"group_size 48 does not divide the input width 64 of layer 'model\.layers\.0"),
        ({"bits": 4, "symmetric": "yes"}, "symmetric 'yes'"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            quantize_causal_lm(model, **kwargs)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    check_quantization(4, "per_group", 128, True)


def test_matched_sparsity():
    assert matched_sparsity(4) == 0.75
    assert matched_sparsity(8) == 0.5
    assert matched_sparsity(2) == 0.875
    assert matched_sparsity(4, base_bits=32) == 0.875
    for bad in (0, 17, 2.5, True):
        with pytest.raises(ValueError):
            matched_sparsity(bad)
