"""The GGUF header reader against the gguf package (its writer and its reader), and the N:M
width check it makes possible before a GGUF model loads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from junk_dna.experiments.registry import get_experiment
from junk_dna.experiments.zero_shot import EXPERIMENT_DEFAULTS
from junk_dna.models.causal_lm import resolve_causal_lm
from junk_dna.models.gguf_header import gguf_config, gguf_metadata
from junk_dna.pruning.config import check_nm_widths_from_config

gguf = pytest.importorskip("gguf")


def reference_fields(path: Path) -> dict[str, object]:
    """Every metadata field as the gguf package's reader sees it."""
    reader = gguf.GGUFReader(os.fspath(path))
    return {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """A GGUF file with every value type, nested arrays and one tensor (gguf's writer)."""
    path = tmp_path_factory.mktemp("gguf") / "all_types.gguf"
    w = gguf.GGUFWriter(os.fspath(path), "llama")
    w.add_embedding_length(96)
    w.add_feed_forward_length(250)
    w.add_block_count(3)
    w.add_uint8("t.u8", 7)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -300)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 0.5)
    w.add_bool("t.bool", True)
    w.add_uint64("t.u64", 2**40)
    w.add_int64("t.i64", -(2**40))
    w.add_float64("t.f64", 1e-300)
    w.add_string("t.str", "größe ✓")
    w.add_array("t.ints", [1, 2, 3])
    w.add_array("t.strs", ["a", "", "ccc"])
    w.add_array("t.nested", [[1, 2], [3]])
    w.add_tensor("x", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_every_value_type_reads_as_the_gguf_reader_reads_it(written):
    ours = gguf_metadata(written, arrays=True)
    ref = reference_fields(written)
    assert ours.keys() == ref.keys()
    for key, value in ref.items():
        if key == "t.nested":  # the gguf reader flattens nested arrays; the file nests them
            assert value == [1, 2, 3]
        elif isinstance(value, float):
            assert ours[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert ours[key] == value, key
    assert ours["t.nested"] == [[1, 2], [3]] and ours["t.str"] == "größe ✓"
    skipped = gguf_metadata(written)  # arrays skipped, scalars the same
    assert skipped["t.strs"] is None and skipped["t.nested"] is None
    assert {k: v for k, v in skipped.items() if v is not None} == {
        k: v for k, v in ours.items() if not isinstance(v, list)}


def test_the_embedded_model_header_matches_the_gguf_reader():
    path = resolve_causal_lm("smollm2").location
    ours = gguf_metadata(path)
    ref = reference_fields(Path(path))
    scalars = {k: v for k, v in ref.items() if not isinstance(v, list)}
    assert {k: ours[k] for k in scalars} == pytest.approx(scalars)
    assert gguf_config(path) == {
        "model_type": "llama", "hidden_size": ref["llama.embedding_length"],
        "intermediate_size": ref["llama.feed_forward_length"],
        "num_hidden_layers": ref["llama.block_count"],
        "num_attention_heads": ref["llama.attention.head_count"],
        "num_key_value_heads": ref["llama.attention.head_count_kv"],
        "max_position_embeddings": ref["llama.context_length"]}


def test_bad_files_are_named(tmp_path, written):
    text = tmp_path / "model.gguf"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a GGUF file"):
        gguf_metadata(text)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(written.read_bytes()[:60])
    with pytest.raises(ValueError, match="truncated GGUF header"):
        gguf_metadata(truncated)
    # damaged lengths (a string of 2^64 - 1 or 2^40 bytes, an array of 2^62 elements) are
    # refused as truncated, never allocated or read
    head = b"GGUF" + (3).to_bytes(4, "little") + bytes(8) + (1).to_bytes(8, "little")
    for n in (2**64 - 1, 2**40):
        bad = tmp_path / f"long-{n}.gguf"
        bad.write_bytes(head + n.to_bytes(8, "little") + b"key")
        with pytest.raises(ValueError, match="truncated GGUF header"):
            gguf_metadata(bad)
    key = (3).to_bytes(8, "little") + b"key"
    array = bad.with_name("array.gguf")
    array.write_bytes(head + key + (9).to_bytes(4, "little") + (4).to_bytes(4, "little")
                      + (2**62).to_bytes(8, "little"))
    with pytest.raises(ValueError, match="truncated GGUF header"):
        gguf_metadata(array)
    future = tmp_path / "future.gguf"
    future.write_bytes(b"GGUF" + (99).to_bytes(4, "little") + bytes(16))
    with pytest.raises(ValueError, match=r"GGUF version 99; known: \[2, 3\]"):
        gguf_metadata(future)


def test_nm_on_a_gguf_model_is_refused_before_it_loads(written):
    # 96 and 250: M = 4 divides 96 but not 250 (the feed-forward width)
    with pytest.raises(ValueError, match="M = 4 does not divide the model's "
                                         "intermediate_size = 250"):
        check_nm_widths_from_config(os.fspath(written), "2:4")
    check_nm_widths_from_config(os.fspath(written), "1:2")  # divides both


def test_nm_with_the_embedded_gguf_model_fails_at_validation():
    """The embedded SmolLM2 (hidden 576 = 2^6 * 9): M = 7 is refused by the sweep's
    validation, before any run or model load."""
    params = {**EXPERIMENT_DEFAULTS["context_length"], "model": "smollm2",
              "method": "magnitude", "pattern": "nm", "nm": "3:7"}
    with pytest.raises(ValueError, match="M = 7 does not divide the model's hidden_size = 576"):
        get_experiment("context_length").validate(params)
