"""Tests of junk_dna.pruning.masks against independent references (stable argsort, loops)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

import junk_dna.pruning.selection as selection
from junk_dna.pruning.config import CRITERIA, PATTERNS, PruningConfig, check_sparsity, parse_nm
from junk_dna.pruning.masks import (
    GUARD_MAX_TARGET,
    GUARD_TENSOR_SPARSITY,
    MASK_CREATORS,
    apply_masks,
    compute_masks,
    flag_tensors,
    head_side_names,
    nm_group_dim,
    nm_group_dims,
    select_prunable,
    sparsity_report,
    summarize,
)
from junk_dna.pruning.selection import CHUNK

# ---------------------------------------------------------------------------------------------
# helpers and independent references


# magnitudes from a small set (many ties), with zeros; the last ones differ only in low
# mantissa bits (same top 16 bits of float32: the radix selection must look below them)
VALUES = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 1 + 2**-20, 1 + 3 * 2**-21, 1 + 2**-22])


def tied_weights(
    seed: int, dtype: torch.dtype = torch.float32, n_tensors: int = 5
) -> dict[str, torch.Tensor]:
    """Tensors of various shapes whose values come from +-VALUES (many ties, zeros)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for i in range(n_tensors):
        rows = int(torch.randint(1, 40, (1,), generator=g))
        cols = int(torch.randint(1, 24, (1,), generator=g))
        idx = torch.randint(0, len(VALUES), (rows, cols), generator=g)
        sign = torch.randint(0, 2, (rows, cols), generator=g) * 2 - 1
        out[f"layer{i}.weight"] = (VALUES[idx] * sign).to(dtype)
    out["tiny.weight"] = torch.tensor([[0.5]], dtype=dtype)
    return out


def ref_unstructured(
    weights: dict[str, torch.Tensor], k: int, largest: bool = False
) -> dict[str, torch.Tensor]:
    """Prune the first k of a stable argsort of the concatenated |w| (or -|w|)."""
    flat = torch.cat([w.reshape(-1).double().abs() for w in weights.values()])
    order = torch.argsort(-flat if largest else flat, stable=True)
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[order[:k]] = False
    masks, offset = {}, 0
    for name, w in weights.items():
        masks[name] = keep[offset : offset + w.numel()].view(w.shape)
        offset += w.numel()
    return masks


def ref_nm_rows(rows: torch.Tensor, n: int, m: int, keep_largest: bool = True) -> torch.Tensor:
    """Loop reference: rows [R, W]; keep n per group of m consecutive (ties: lower index)."""
    keep = torch.zeros(rows.shape, dtype=torch.bool)
    for r in range(rows.shape[0]):
        for g0 in range(0, rows.shape[1], m):
            group = [(float(rows[r, g0 + j].abs()), j) for j in range(m)]
            sign = -1.0 if keep_largest else 1.0
            ranked = sorted(group, key=lambda vj: (sign * vj[0], vj[1]))
            for _, j in ranked[:n]:
                keep[r, g0 + j] = True
    return keep


def n_pruned(masks: dict[str, torch.Tensor]) -> int:
    return sum(int((~m).sum()) for m in masks.values())


def assert_masks_equal(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == torch.bool
        assert got[name].shape == want[name].shape
        assert torch.equal(got[name], want[name]), name


def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=24,
    )
    return BertForSequenceClassification(config)


# ---------------------------------------------------------------------------------------------
# unstructured, exactness against the stable-argsort reference


@pytest.fixture(params=["sort-candidates", "refine-to-ties"])
def final_pass(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both final passes of the radix selection: the default (the bin of
    the k-th key is small enough to sort its elements) and, with no candidate allowance,
    refinement down to a single key value and the in-order tie rule."""
    if request.param == "refine-to-ties":
        monkeypatch.setattr(selection, "_CANDIDATES_MIN", 0)
    return request.param


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("criterion", ["magnitude", "largest"])
def test_global_matches_stable_argsort_with_ties(
    dtype: torch.dtype, criterion: str, final_pass: str
) -> None:
    for seed in range(6):
        weights = tied_weights(seed, dtype)
        total = sum(w.numel() for w in weights.values())
        for sparsity in (0.05, 0.3, 0.5, 0.77, 0.95, 0.999):
            config = PruningConfig(sparsity=sparsity, criterion=criterion)
            masks = compute_masks(weights, config)
            k = round(sparsity * total)
            assert n_pruned(masks) == k
            assert_masks_equal(masks, ref_unstructured(weights, k, criterion == "largest"))


@pytest.mark.parametrize("criterion", ["magnitude", "largest"])
def test_layer_scope_matches_per_tensor_reference(criterion: str, final_pass: str) -> None:
    for seed in range(2):
        for dtype in (torch.float32, torch.float16):
            weights = tied_weights(seed, dtype)
            for sparsity in (0.1, 0.5, 0.9):
                config = PruningConfig(sparsity=sparsity, scope="layer", criterion=criterion)
                masks = compute_masks(weights, config)
                for name, w in weights.items():
                    k = round(sparsity * w.numel())
                    want = ref_unstructured({name: w}, k, criterion == "largest")[name]
                    assert int((~masks[name]).sum()) == k
                    assert torch.equal(masks[name], want), name


def test_global_exact_with_small_chunks(monkeypatch: pytest.MonkeyPatch, final_pass: str) -> None:
    """Chunk packing and tensors spanning several chunks give the same exact masks."""
    monkeypatch.setattr(selection, "CHUNK", 61)
    for seed in range(2):
        weights = tied_weights(seed, torch.float16)
        total = sum(w.numel() for w in weights.values())
        for criterion in ("magnitude", "largest"):
            for sparsity in (0.2, 0.6):
                masks = compute_masks(
                    weights, PruningConfig(sparsity=sparsity, criterion=criterion)
                )
                k = round(sparsity * total)
                assert_masks_equal(masks, ref_unstructured(weights, k, criterion == "largest"))


def test_global_continuous_and_mixed_dtypes(final_pass: str) -> None:
    g = torch.Generator().manual_seed(1)
    weights = {
        "a": torch.randn(300, 700, generator=g) * 0.02,
        "b": (torch.randn(512, 64, generator=g) * 0.05).half(),
        "c": torch.randn(1000, 130, generator=g).double() * 0.01,
        "zeros": torch.zeros(10, 10),
    }
    total = sum(w.numel() for w in weights.values())
    for sparsity in (0.01, 0.5, 0.9):
        masks = compute_masks(weights, PruningConfig(sparsity=sparsity))
        assert_masks_equal(masks, ref_unstructured(weights, round(sparsity * total)))
    # one global threshold: per-tensor sparsity varies
    masks = compute_masks(weights, PruningConfig(sparsity=0.5))
    fractions = [float((~m).float().mean()) for m in masks.values()]
    assert max(fractions) - min(fractions) > 0.3


def test_sparsity_zero_keeps_all_and_weights_untouched() -> None:
    weights = tied_weights(0)
    before = {n: w.clone() for n, w in weights.items()}
    for scope in ("global", "layer"):
        for criterion in ("magnitude", "random", "largest"):
            config = PruningConfig(sparsity=0.0, scope=scope, criterion=criterion)
            masks = compute_masks(weights, config)
            assert all(bool(m.all()) for m in masks.values())
    compute_masks(weights, PruningConfig(sparsity=0.7))
    compute_masks(weights, PruningConfig(pattern="nm", nm="1:1"))
    for n, w in weights.items():
        assert torch.equal(w, before[n])


def test_empty_and_one_element_tensors() -> None:
    weights = {"empty": torch.empty(0, 8), "one": torch.tensor([[2.0]]), "w": torch.ones(2, 8)}
    for config in (
        PruningConfig(sparsity=0.6),
        PruningConfig(sparsity=0.6, scope="layer"),
        PruningConfig(sparsity=0.6, criterion="random"),
        PruningConfig(pattern="nm", nm="1:8"),
    ):
        if config.pattern == "nm":
            weights = {k: v for k, v in weights.items() if k != "one"}
        masks = compute_masks(weights, config)
        assert masks["empty"].shape == (0, 8)
        assert all(masks[k].shape == w.shape for k, w in weights.items())
    layer = compute_masks(
        {"one": torch.tensor([[2.0]])}, PruningConfig(sparsity=0.6, scope="layer")
    )
    assert layer["one"].tolist() == [[False]]  # round(0.6 * 1) = 1 pruned


def test_masks_of_parameters_requiring_grad() -> None:
    lin = nn.Linear(32, 16)
    masks = compute_masks({"w": lin.weight}, PruningConfig(sparsity=0.25))
    assert masks["w"].dtype == torch.bool and not masks["w"].requires_grad
    assert int((~masks["w"]).sum()) == 128
    assert lin.weight.grad is None


def test_nan_raises_naming_tensor_and_inf_is_largest() -> None:
    weights = {"ok": torch.ones(4, 4), "bad.weight": torch.ones(4, 4)}
    weights["bad.weight"][1, 2] = float("nan")
    for config in (
        PruningConfig(sparsity=0.5),
        PruningConfig(sparsity=0.5, criterion="largest"),
        PruningConfig(sparsity=0.5, scope="layer"),
        PruningConfig(pattern="nm", nm="2:4"),
    ):
        with pytest.raises(ValueError, match="bad.weight"):
            compute_masks(weights, config)
        negative_nan = {"neg": -weights["bad.weight"].half()}  # sign bit set on the NaN
        with pytest.raises(ValueError, match="'neg'"):
            compute_masks(negative_nan, config)
    inf = {"w": torch.tensor([[float("inf"), 1.0, -float("inf"), 0.5]])}
    masks = compute_masks(inf, PruningConfig(sparsity=0.5))
    assert masks["w"].tolist() == [[True, False, True, False]]
    masks = compute_masks(inf, PruningConfig(sparsity=0.5, criterion="largest"))
    assert masks["w"].tolist() == [[False, True, False, True]]


# ---------------------------------------------------------------------------------------------
# N:M


@pytest.mark.parametrize("nm", ["1:4", "2:4", "7:8", "1:8", "3:3"])
def test_nm_linear_orientation_matches_loop_reference(nm: str) -> None:
    n, m = parse_nm(nm)
    g = torch.Generator().manual_seed(3)
    w = torch.randint(-3, 4, (6, 4 * m), generator=g).float()  # ties within groups
    masks = compute_masks({"w": w}, PruningConfig(pattern="nm", nm=nm))
    assert torch.equal(masks["w"], ref_nm_rows(w, n, m))
    kept = masks["w"].view(6, 4, m).sum(-1)
    assert bool((kept == n).all())
    largest = compute_masks({"w": w}, PruningConfig(pattern="nm", nm=nm, criterion="largest"))
    assert torch.equal(largest["w"], ref_nm_rows(w, n, m, keep_largest=False))


def test_nm_conv1d_orientation_groups_along_dim0() -> None:
    from transformers.pytorch_utils import Conv1D

    conv = Conv1D(nf=6, nx=16)  # weight [in=16, out=6]
    assert nm_group_dim(conv) == 0
    g = torch.Generator().manual_seed(4)
    w = torch.randint(-3, 4, (16, 6), generator=g).float()
    masks = compute_masks(
        {"c": w}, PruningConfig(pattern="nm", nm="2:4"), group_dims={"c": nm_group_dim(conv)}
    )
    assert torch.equal(masks["c"], ref_nm_rows(w.T, 2, 4).T)
    assert bool((masks["c"].view(4, 4, 6).sum(1) == 2).all())  # every group of 4 inputs
    # the same tensor grouped along dim 1 is a different (and here invalid: 6 % 4) grouping
    with pytest.raises(ValueError, match=r"'c'.*width 6.*M = 4"):
        compute_masks({"c": w}, PruningConfig(pattern="nm", nm="2:4"))


def test_nm_conv2d_flattens_input_and_kernel() -> None:
    g = torch.Generator().manual_seed(5)
    w = torch.randn(4, 3, 2, 2, generator=g)  # [out, in, kh, kw]: groups along 12
    masks = compute_masks({"k": w}, PruningConfig(pattern="nm", nm="1:4"))
    assert torch.equal(masks["k"].reshape(4, 12), ref_nm_rows(w.reshape(4, 12), 1, 4))


def test_nm_all_groups_valid_on_model_weights_fp16() -> None:
    g = torch.Generator().manual_seed(6)
    weights = {
        "lin": torch.randn(64, 96, generator=g).half(),
        "emb": torch.randint(0, 3, (40, 32), generator=g).half(),  # ties, zeros
    }
    for criterion in ("magnitude", "random", "largest"):
        masks = compute_masks(weights, PruningConfig(pattern="nm", nm="3:8", criterion=criterion))
        for name, w in weights.items():
            kept = masks[name].view(w.shape[0], -1, 8).sum(-1)
            assert bool((kept == 3).all()), (criterion, name)
    masks = compute_masks(weights, PruningConfig(pattern="nm", nm="8:8"))
    assert all(bool(m.all()) for m in masks.values())


def test_nm_width_not_divisible_raises() -> None:
    with pytest.raises(ValueError, match=r"'odd'.*width 10.*M = 4"):
        compute_masks(
            {"ok": torch.randn(3, 8), "odd": torch.randn(3, 10)},
            PruningConfig(pattern="nm", nm="2:4"),
        )


# ---------------------------------------------------------------------------------------------
# random control


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_random_exact_counts_and_seeding(scope: str, final_pass: str) -> None:
    weights = tied_weights(7)
    total = sum(w.numel() for w in weights.values())
    config = PruningConfig(sparsity=0.4, scope=scope, criterion="random", seed=11)
    a = compute_masks(weights, config)
    b = compute_masks(weights, config)
    c = compute_masks(
        weights, PruningConfig(sparsity=0.4, scope=scope, criterion="random", seed=12)
    )
    assert_masks_equal(a, b)
    assert any(not torch.equal(a[n], c[n]) for n in a)
    if scope == "global":
        assert n_pruned(a) == n_pruned(c) == round(0.4 * total)
    else:
        for name, w in weights.items():
            assert int((~a[name]).sum()) == round(0.4 * w.numel())
    # random does not look at the values
    zeros = {n: torch.zeros_like(w) for n, w in weights.items()}
    assert_masks_equal(compute_masks(zeros, config), a)


def test_random_global_shares_are_proportional() -> None:
    weights = {"small": torch.ones(50, 20), "big": torch.ones(300, 20)}
    share = []
    for seed in range(30):
        masks = compute_masks(weights, PruningConfig(sparsity=0.5, criterion="random", seed=seed))
        assert n_pruned(masks) == 3500
        share.append(float((~masks["small"]).float().mean()))
    mean = sum(share) / len(share)
    assert 0.47 < mean < 0.53
    assert len(set(share)) > 5  # hypergeometric, not a fixed per-tensor count


def test_random_nm_seeded() -> None:
    w = {"w": torch.randn(8, 16)}
    a = compute_masks(w, PruningConfig(pattern="nm", nm="2:4", criterion="random", seed=1))
    b = compute_masks(w, PruningConfig(pattern="nm", nm="2:4", criterion="random", seed=1))
    c = compute_masks(w, PruningConfig(pattern="nm", nm="2:4", criterion="random", seed=2))
    assert torch.equal(a["w"], b["w"]) and not torch.equal(a["w"], c["w"])
    assert bool((a["w"].view(8, 4, 4).sum(-1) == 2).all())


def test_registry_covers_every_pattern_and_criterion() -> None:
    assert set(MASK_CREATORS) == {(p, c) for p in PATTERNS for c in CRITERIA}


# ---------------------------------------------------------------------------------------------
# selection of prunable weights


def test_select_prunable_encoder_policy() -> None:
    model = tiny_bert()
    sel = select_prunable(model, new_param_names=["classifier.weight", "classifier.bias"])
    names = list(sel)
    assert len(names) == 2 * 6  # 6 Linear per layer; the pooler is on the head side
    assert all(n.endswith(".weight") for n in names)
    assert not any("embed" in n or "LayerNorm" in n or "classifier" in n for n in names)
    assert "bert.pooler.dense.weight" not in names
    assert head_side_names(model) == ["bert.pooler.dense.weight", "bert.pooler.dense.bias"]
    # the original's policy still ranks the pooler (and the head) with the encoder
    original = select_prunable(model, "original")
    assert "bert.pooler.dense.weight" in original and "classifier.weight" in original
    all_names = [n for n, _ in model.named_parameters()]
    assert names == [n for n in all_names if n in sel]  # model order
    assert all(sel[n] is dict(model.named_parameters())[n] for n in names)
    # the head is outside base_model anyway; new_param_names also removes base-model weights
    assert list(select_prunable(model)) == names
    fewer = select_prunable(model, new_param_names=["bert.encoder.layer.0.output.dense.weight"])
    assert "bert.encoder.layer.0.output.dense.weight" not in fewer
    assert len(fewer) == len(names) - 1
    with_emb = select_prunable(model, include_embeddings=True)
    assert len(with_emb) == len(names) + 3
    assert "bert.embeddings.word_embeddings.weight" in with_emb
    # a bare base model selects the same weights under its own names
    bare = select_prunable(model.bert)
    assert ["bert." + n for n in bare] == names


def test_pooler_is_never_pruned_under_encoder_but_flagged_under_original() -> None:
    """The pooler of a sentence-embedding BERT is tiny (unused by its objective): one global
    threshold over the original's prunable set takes it first; the encoder policy leaves it
    to the head side, and the guard flags the original's cut."""
    model = tiny_bert()
    with torch.no_grad():
        model.bert.pooler.dense.weight.mul_(0.01)
        model.classifier.weight.mul_(10.0)
    config = PruningConfig(pattern="unstructured", sparsity=0.3)
    original = select_prunable(model, "original")
    masks = compute_masks({k: v.detach() for k, v in original.items()}, config)
    report = sparsity_report(original, masks, target=0.3)
    pooler = report.set_index("name").loc["bert.pooler.dense.weight"]
    assert pooler["sparsity"] > GUARD_TENSOR_SPARSITY and bool(pooler["flagged"])
    assert flag_tensors(report, 0.3) == ["bert.pooler.dense.weight"]
    encoder = select_prunable(model)
    assert "bert.pooler.dense.weight" not in encoder
    masks = compute_masks({k: v.detach() for k, v in encoder.items()}, config)
    report = sparsity_report(encoder, masks, target=0.3)
    assert not report["flagged"].any()


def test_guard_thresholds() -> None:
    report = pd.DataFrame({"name": ["a", "b", "c", "TOTAL"], "sparsity": [0.96, 0.95, 0.2, 0.99]})
    assert flag_tensors(report, GUARD_MAX_TARGET) == ["a"]  # > 0.95 strictly; never TOTAL
    assert flag_tensors(report, 0.0) == ["a"]
    assert flag_tensors(report, GUARD_MAX_TARGET + 0.01) == []  # high targets: no flag
    # without a target the report has no flag column (the report of a dense run)
    model = tiny_bert()
    assert "flagged" not in sparsity_report(select_prunable(model)).columns


def test_select_prunable_original_policy() -> None:
    model = tiny_bert()
    sel = select_prunable(model, "original", new_param_names=["classifier.weight"])
    assert "classifier.weight" in sel  # the randomly initialized head, like the original
    assert not any("embed" in n or "bias" in n or "LayerNorm" in n for n in sel)
    assert len(sel) == 2 * 6 + 1 + 1
    with_emb = select_prunable(model, "original", include_embeddings=True)
    assert {n for n in with_emb if "embed" in n} == {
        "bert.embeddings.word_embeddings.weight",
        "bert.embeddings.position_embeddings.weight",
        "bert.embeddings.token_type_embeddings.weight",
    }


def test_select_prunable_conv1d_and_group_dims() -> None:
    from transformers import GPT2Config, GPT2Model

    model = GPT2Model(GPT2Config(vocab_size=40, n_positions=16, n_embd=16, n_layer=1, n_head=2))
    sel = select_prunable(model)
    assert set(sel) == {
        "h.0.attn.c_attn.weight",
        "h.0.attn.c_proj.weight",
        "h.0.mlp.c_fc.weight",
        "h.0.mlp.c_proj.weight",
    }
    dims = nm_group_dims(model, sel)
    assert set(dims.values()) == {0}
    masks = compute_masks(sel, PruningConfig(pattern="nm", nm="1:4"), group_dims=dims)
    for name, w in sel.items():  # [in, out]: groups of 4 along the input rows
        assert bool((masks[name].view(w.shape[0] // 4, 4, -1).sum(1) == 1).all())
    bert = tiny_bert()
    assert set(nm_group_dims(bert, select_prunable(bert, include_embeddings=True)).values()) == {1}


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.5", True])
def test_bad_sparsity(bad: object) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)") as err:
        check_sparsity(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        PruningConfig(sparsity=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad, fragment",
    [("9:8", "9:8"), ("0:8", "0:8"), ("-1:4", "-1:4"), ("abc", "abc"), ("2:", "2:"),
     ("2:4:8", "2:4:8"), ("2.5:4", "2.5:4"), ((5, 4), "5:4"), ("3:0", "3:0")],
)  # fmt: skip
def test_bad_nm(bad: object, fragment: str) -> None:
    with pytest.raises(ValueError, match="N") as err:
        parse_nm(bad)  # type: ignore[arg-type]
    assert fragment in str(err.value)
    with pytest.raises(ValueError):
        PruningConfig(pattern="nm", nm=bad)  # type: ignore[arg-type]


def test_parse_nm_valid() -> None:
    assert parse_nm("2:8") == (2, 8)
    assert parse_nm(" 7 : 8 ") == (7, 8)
    assert parse_nm((4, 4)) == (4, 4)
    assert PruningConfig(pattern="nm", nm="7:8").target_sparsity == pytest.approx(1 / 8)
    assert PruningConfig(sparsity=0.3).target_sparsity == 0.3


def test_parse_nm_messages() -> None:
    with pytest.raises(ValueError, match=r"'9:8' has N > M; need 1 <= N <= M"):
        parse_nm("9:8")
    with pytest.raises(ValueError, match=r"'0:8'.*N >= 1"):
        parse_nm("0:8")


@pytest.mark.parametrize(
    "field, bad",
    [("pattern", "blocky"), ("scope", "row"), ("criterion", "wanda"), ("seed", "1")],
)
def test_bad_config_fields(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad)):
        PruningConfig(**{field: bad})


def test_nm_with_sparsity_rejected() -> None:
    with pytest.raises(ValueError, match="0.5"):
        PruningConfig(pattern="nm", nm="2:4", sparsity=0.5)


def test_bad_policy() -> None:
    with pytest.raises(ValueError, match="'decoder'.*encoder.*original"):
        select_prunable(nn.Linear(2, 2), "decoder")


def test_non_float_weight_rejected() -> None:
    with pytest.raises(ValueError, match="'ints'"):
        compute_masks({"ints": torch.ones(4, 4, dtype=torch.int64)}, PruningConfig(sparsity=0.5))


# ---------------------------------------------------------------------------------------------
# applying and reporting


def test_apply_masks_and_report() -> None:
    lin = nn.Linear(8, 4)
    params = {"lin.weight": lin.weight}
    masks = compute_masks(params, PruningConfig(sparsity=0.25))
    report = sparsity_report(params, masks)
    assert list(report.columns) == ["name", "shape", "numel", "pruned", "sparsity"]
    assert report["name"].tolist() == ["lin.weight", "TOTAL"]
    assert report["shape"].tolist() == ["(4, 8)", ""]
    assert report["pruned"].tolist() == [8, 8]
    apply_masks(params, masks)
    assert int((lin.weight == 0).sum()) == 8
    assert torch.equal(lin.weight != 0, masks["lin.weight"])
    zeros = sparsity_report({"lin.weight": lin.weight, "lin.bias": torch.zeros(4)})
    assert zeros["pruned"].tolist() == [8, 4, 12]
    assert summarize(zeros) == {"prunable": 36, "pruned": 12, "reached": pytest.approx(1 / 3)}


def test_apply_masks_errors() -> None:
    params = {"w": torch.ones(3, 4)}
    with pytest.raises(ValueError, match=r"mask shape \(4, 3\) does not match param 'w'"):
        apply_masks(params, {"w": torch.ones(4, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="dtype"):
        apply_masks(params, {"w": torch.ones(3, 4)})
    with pytest.raises(ValueError, match="'v'"):
        apply_masks(params, {"v": torch.ones(3, 4, dtype=torch.bool)})
    with pytest.raises(ValueError, match="no mask for parameter 'w'"):
        sparsity_report(params, {})
    with pytest.raises(ValueError, match="TOTAL"):
        summarize(sparsity_report(params).iloc[:1])


def test_end_to_end_tiny_bert_global() -> None:
    model = tiny_bert()
    params = select_prunable(model, new_param_names=["classifier.weight", "classifier.bias"])
    masks = compute_masks(params, PruningConfig(sparsity=0.6))
    apply_masks(params, masks)
    summary = summarize(sparsity_report(params))
    assert summary["prunable"] == sum(p.numel() for p in params.values())
    assert summary["pruned"] == round(0.6 * summary["prunable"])
    assert CHUNK >= 1 << 20
