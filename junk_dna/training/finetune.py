"""Fine-tuning with the run_glue protocol, device-agnostic through accelerate.

The protocol of the original code (transformers' ``run_glue_no_trainer.py``): AdamW with no
weight decay on biases and LayerNorm weights, a linear schedule with warmup (a ratio, 6 % by
default, as the original forced), evaluation after every epoch; the record keeps both the
LAST epoch (what the original reported) and the BEST one. A transfer mode's projection
(:class:`junk_dna.pruning.transfer.MaskEnforcer`) runs after every optimizer step, the last
included.

Two things do not change any number but save time:

* :func:`encode_cached` keeps the encoded features of the last few splits in this process
  (a sweep of many runs in one kernel tokenizes each split once); the key covers the
  tokenizer, the text fields, ``max_length`` and a hash of the column contents, so any
  change misses. See :func:`encode_cache_info`.
* evaluation batches examples sorted by length (:func:`eval_order`), so they pad less;
  predictions stay paired with their labels, and every metric here is order-free.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from junk_dna.data.glue_tasks import TaskData
from junk_dna.evaluation.glue_metrics import get_metric
from junk_dna.pruning.transfer import MaskEnforcer

MC_FIELDS: tuple[str, ...] = ("context", "options")
"""``text_fields`` of a multiple-choice task (see :mod:`junk_dna.data.glue_tasks`)."""
NO_DECAY: tuple[str, ...] = ("bias", "LayerNorm.weight", "layer_norm.weight", "layernorm.weight")


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings of one fine-tune.

    Attributes:
        epochs: passes over the training examples (>= 1).
        batch_size: training examples per optimizer step.
        learning_rate: peak AdamW learning rate.
        weight_decay: decoupled weight decay on all but biases and LayerNorm weights.
        warmup_ratio: share of the total steps spent warming up linearly, in [0, 1).
        eval_batch_size: examples per evaluation forward pass.
        max_length: tokens kept per example (truncation; padding is dynamic per batch).
        seed: seeds the shuffling order (dropout uses the global RNG seeded by the caller).
        mixed_precision: accelerate's ``"no"``, ``"fp16"`` or ``"bf16"``.
        group_by_length: batch examples of similar length together (as transformers'
            ``group_by_length``): shuffled mega-batches of ``8 * batch_size`` examples are
            sorted by length and cut into batches, whose order is shuffled again. Same
            examples per epoch, same number of steps, far less padding (about 1.6x fewer
            tokens on SST-2). ``False`` (plain shuffling) is the original's protocol.
    """

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.06
    eval_batch_size: int = 64
    max_length: int = 128
    seed: int = 0
    mixed_precision: str = "no"
    group_by_length: bool = False


class LengthGroupedBatchSampler:
    """Batches of similar-length examples in a seeded random order (see ``TrainConfig``).

    Args:
        lengths: token count of each example, shape (n,).
        batch_size: examples per batch.
        generator: the torch RNG that draws every epoch's order (seeded by the caller).
        megabatch_mult: mega-batch size in batches.

    Yields lists of example indices; ``len()`` is ``ceil(n / batch_size)`` like a plain
    shuffled loader.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                 megabatch_mult: int = 8) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.megabatch = batch_size * megabatch_mult

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(order), self.megabatch):
            mega = sorted(order[start:start + self.megabatch], key=lambda i: -self.lengths[i])
            batches += [mega[i:i + self.batch_size] for i in range(0, len(mega), self.batch_size)]
        for j in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[j]


@dataclass
class TrainResult:
    """What a fine-tune measured.

    Attributes:
        epochs: one entry per epoch: ``{"epoch": e, "metrics": {name: value}}``.
        last: metrics after the last epoch. best: metrics of the best epoch (main metric).
        best_epoch: 1-based epoch of ``best``.
        steps: optimizer steps taken.
        train_loss: mean training loss per epoch.
        timings: wall seconds spent in ``tokenize`` (getting the encoded features of every
            split: tokenizing on a cache miss, hashing the inputs and copying the features
            out of the cache on a hit; see :func:`encode_cached`), ``train`` (optimizer steps
            and the transfer mode's projection) and ``evaluate``.
        encode_cache: split (``"train"`` and each eval split) -> whether its features came
            from the in-process cache (``True``) or were tokenized (``False``).
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    steps: int = 0
    train_loss: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    encode_cache: dict[str, bool] = field(default_factory=dict)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups as in run_glue: decay everything but biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if any(nd in name for nd in NO_DECAY) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def encode(
    tokenizer: Any, columns: Mapping[str, Sequence[Any]], text_fields: Sequence[str],
    max_length: int,
) -> list[dict[str, Any]]:
    """Tokenize a task split into a list of per-example feature dicts (with ``labels``).

    Args:
        tokenizer: a ``transformers`` tokenizer.
        columns: field name -> values (the text fields and ``"label"``), all of length n.
        text_fields: one or two text fields (single sentence or sentence pair).
        max_length: truncation length in tokens.

    Returns:
        n dicts with ``input_ids``, ``attention_mask`` (and ``token_type_ids`` if the
        tokenizer makes them) as lists of ints, and ``labels``. For a multiple-choice task
        (``text_fields == ("context", "options")``) each of those is a list with one token
        list per option (pair ``(context, option)``), and ``labels`` the gold option index.
    """
    labels = list(columns["label"])
    if tuple(text_fields) == MC_FIELDS:
        return _encode_multiple_choice(tokenizer, columns, max_length)
    texts = [list(columns[f]) for f in text_fields]
    enc = tokenizer(*texts, truncation=True, max_length=max_length)
    keys = list(enc.keys())
    return [{**{k: enc[k][i] for k in keys}, "labels": labels[i]} for i in range(len(labels))]


def _encode_multiple_choice(
    tokenizer: Any, columns: Mapping[str, Sequence[Any]], max_length: int,
) -> list[dict[str, Any]]:
    # Every (context, option) pair is one sequence; an example holds its options' sequences.
    contexts, options = list(columns["context"]), list(columns["options"])
    firsts = [c for c, opts in zip(contexts, options, strict=True) for _ in opts]
    seconds = [o for opts in options for o in opts]
    enc = tokenizer(firsts, seconds, truncation=True, max_length=max_length)
    keys = list(enc.keys())
    feats, start = [], 0
    for opts, label in zip(options, columns["label"], strict=True):
        stop = start + len(opts)
        feats.append({**{k: enc[k][start:stop] for k in keys}, "labels": label})
        start = stop
    return feats


def feature_length(feature: Mapping[str, Any]) -> int:
    """Tokens of one encoded example: its length, or its longest option's (multiple choice)."""
    ids = feature["input_ids"]
    return max(len(x) for x in ids) if ids and isinstance(ids[0], list) else len(ids)


# --------------------------------------------------------------------------------------------
# in-process cache of encoded splits

ENCODE_CACHE_MAXSIZE: int = 16
"""Splits kept by :func:`encode_cached` (least recently used evicted first)."""
ENCODE_CACHE_MAX_BYTES: int = 1 << 30
"""Bound on the cache's packed token arrays, in bytes (LRU eviction; a larger split is not
kept). Tokens are stored in the smallest int dtype that holds them (int8 masks, int16/int32
ids): ~5.5 bytes per token on sst2-embedded and csqa-embedded with minilm (three keys),
several times less than the same features as Python lists of ints."""

_CACHE: OrderedDict[str, _Packed] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_STATS = {"hits": 0, "misses": 0, "uncacheable": 0}


class EncodeCacheInfo(NamedTuple):
    """Counters of :func:`encode_cached` since the last :func:`encode_cache_clear`.

    Attributes:
        hits: calls answered from the cache. misses: calls that tokenized (and stored).
        uncacheable: calls that tokenized without the cache (inputs that cannot be hashed
            exactly, or features that cannot be packed); not counted in ``misses``.
        size: splits held. maxsize: :data:`ENCODE_CACHE_MAXSIZE`.
        nbytes: bytes of the packed arrays held. max_bytes: :data:`ENCODE_CACHE_MAX_BYTES`.
    """

    hits: int
    misses: int
    uncacheable: int
    size: int
    maxsize: int
    nbytes: int
    max_bytes: int


class _PackedKey:
    """One feature key (e.g. ``input_ids``) of every example, as read-only flat arrays.

    Attributes:
        values: shape (total tokens,), the rows concatenated, smallest fitting int dtype.
        rows: shape (n_rows + 1,), int64 offsets of each row in ``values``.
        groups: multiple choice: shape (n + 1,), offsets of each example's rows (its options)
            in ``rows``; ``None`` when every example is one row.
    """

    __slots__ = ("values", "rows", "groups")

    def __init__(self, values: np.ndarray, rows: np.ndarray, groups: np.ndarray | None) -> None:
        for arr in (values, rows, groups):
            if arr is not None:
                arr.setflags(write=False)
        self.values, self.rows, self.groups = values, rows, groups

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.values, self.rows, self.groups) if a is not None)

    @classmethod
    def pack(cls, column: list[Any]) -> _PackedKey:
        """Pack one key's values: n lists of ints, or (multiple choice) n lists of lists.

        Raises:
            TypeError: another structure (the caller then does not cache the split).
        """
        nested = bool(column) and all(isinstance(v, list) and v and isinstance(v[0], list)
                                      for v in column)
        groups = None
        if nested:
            groups = np.cumsum([0, *map(len, column)], dtype=np.int64)
            rows_list = [row for v in column for row in v]
        else:
            rows_list = column
        if not all(isinstance(r, list) for r in rows_list):
            raise TypeError("features are not lists of token lists")
        lengths = np.fromiter(map(len, rows_list), dtype=np.int64, count=len(rows_list))
        rows = np.zeros(len(rows_list) + 1, dtype=np.int64)
        np.cumsum(lengths, out=rows[1:])
        flat = list(itertools.chain.from_iterable(rows_list))
        if flat and set(map(type, flat)) != {int}:
            raise TypeError("token values are not ints")
        values = np.array(flat, dtype=np.int64)
        if values.size:
            lo, hi = int(values.min()), int(values.max())
            for dtype in (np.int8, np.int16, np.int32):
                info = np.iinfo(dtype)
                if info.min <= lo and hi <= info.max:
                    values = values.astype(dtype)
                    break
        return cls(values, rows, groups)

    def unpack(self) -> list[Any]:
        """Fresh Python lists (of lists) of ints, equal to what was packed."""
        flat = self.values.tolist()
        offsets = self.rows.tolist()
        rows = [flat[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
        if self.groups is None:
            return rows
        groups = self.groups.tolist()
        return [rows[a:b] for a, b in zip(groups, groups[1:], strict=False)]


class _Packed:
    """An encoded split held by the cache: packed token keys plus the (immutable) labels."""

    __slots__ = ("keys", "columns", "labels", "nbytes")

    def __init__(self, features: list[dict[str, Any]]) -> None:
        keys = [k for k in features[0] if k != "labels"] if features else []
        if any(list(f) != [*keys, "labels"] for f in features):
            raise TypeError("features do not all have the same keys")
        self.keys = tuple(keys)
        self.columns = {k: _PackedKey.pack([f[k] for f in features]) for k in keys}
        self.labels = tuple(f["labels"] for f in features)
        self.nbytes = sum(c.nbytes for c in self.columns.values()) + 8 * len(self.labels)

    def unpack(self) -> list[dict[str, Any]]:
        """Fresh feature dicts (new lists throughout), equal to the packed ones."""
        columns = [self.columns[k].unpack() for k in self.keys]
        keys = self.keys
        return [
            {**dict(zip(keys, values, strict=True)), "labels": label}
            for *values, label in zip(*columns, self.labels, strict=True)
        ]


def _json_default(obj: Any) -> Any:
    """Exact JSON for numpy values (typed, so ``np.int64(1)`` and ``1`` differ)."""
    if isinstance(obj, np.generic):
        return {"__numpy__": type(obj).__name__, "value": obj.item()}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": str(obj.dtype), "value": obj.tolist()}
    raise TypeError(f"cannot hash a {type(obj).__name__} exactly")


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hex digest of what ``tokenizer`` does when encoding (the tokenizer part of the
    :func:`encode_cached` key).

    Covers the class, ``len(tokenizer)`` (added tokens), every scalar attribute of the
    instance (``name_or_path``, ``truncation_side``, ``do_lower_case``, ``split_special_tokens``,
    ``_add_bos_token``, ...), the model input names, special tokens and init kwargs, and the
    whole pipeline of a fast tokenizer (``backend_tokenizer.to_str()``: vocabulary, merges,
    normalizer, pre-tokenizer, post-processor, added tokens; minus its truncation and padding
    state, which every call sets) or the vocabulary of a pure-Python one. Tokenizers that
    differ in any of these get different fingerprints (two equal tokenizers built twice get
    the same one); a tokenizer altered in place (a token added, a side flipped, its
    normalizer replaced) gets a new one. Takes ~5 ms for a 30k WordPiece vocabulary.

    Raises:
        TypeError: ``len(tokenizer)`` is not defined (not a tokenizer).
    """
    digest = hashlib.blake2b(digest_size=20)
    kind = type(tokenizer)
    special = getattr(tokenizer, "special_tokens_map_extended", None) or getattr(
        tokenizer, "special_tokens_map", {})
    scalars = (str, int, float, bool, type(None))
    head = {
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "len": len(tokenizer),
        "attributes": {k: v for k, v in getattr(tokenizer, "__dict__", {}).items()
                       if isinstance(v, scalars)},
        "name_or_path": str(getattr(tokenizer, "name_or_path", "")),
        "truncation_side": str(getattr(tokenizer, "truncation_side", "")),
        "model_input_names": list(getattr(tokenizer, "model_input_names", [])),
        "special_tokens": {str(k): str(v) for k, v in dict(special).items()},
        "init_kwargs": getattr(tokenizer, "init_kwargs", {}),
    }
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(_pipeline_without_call_state(backend.to_str()).encode())
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    return digest.hexdigest()


def _pipeline_without_call_state(serialized: str) -> str:
    """A fast tokenizer's JSON without its ``truncation`` and ``padding`` values (which
    every encode call may set). The JSON starts ``{"version":..,"truncation":..,"padding":..,
    "added_tokens":..`` (serde's field order): the head is cut off in ~1 ms; any other layout
    takes the slower general path (parse, drop the two keys, serialize)."""
    cut = serialized.find(',"added_tokens":')
    if cut > 0:
        try:
            head = json.loads(serialized[:cut] + "}")
        except ValueError:
            head = None
        if isinstance(head, dict) and set(head) <= {"version", "truncation", "padding"}:
            return json.dumps(head.get("version")) + serialized[cut:]
    state = json.loads(serialized)
    state.pop("truncation", None)
    state.pop("padding", None)
    return json.dumps(state)


def encode_cache_key(
    tokenizer: Any,
    columns: Mapping[str, Sequence[Any]],
    text_fields: Sequence[str],
    max_length: int,
    *,
    fingerprint: str | None = None,
) -> str:
    """The cache key of an :func:`encode` call: a digest of the tokenizer fingerprint, the
    text fields, ``max_length``, the exact contents of the text fields and ``"label"`` (JSON,
    numpy values tagged with their type) and the types of the labels.

    Args:
        fingerprint: :func:`tokenizer_fingerprint` of ``tokenizer`` if already computed.

    Raises:
        TypeError: a value JSON cannot represent exactly (such a split is not cached).
        KeyError: a text field or ``"label"`` missing from ``columns``.
    """
    digest = hashlib.blake2b(digest_size=20)
    # the labels are returned as given: their types count (np.float64 is a float to JSON)
    label_types = sorted({f"{type(v).__module__}.{type(v).__qualname__}"
                          for v in columns["label"]})
    head = [fingerprint or tokenizer_fingerprint(tokenizer), list(text_fields), max_length,
            label_types]
    digest.update(json.dumps(head, default=_json_default).encode())
    for name in (*text_fields, "label"):
        digest.update(b"\0")
        digest.update(json.dumps([name, list(columns[name])], default=_json_default).encode())
    return digest.hexdigest()


def encode_cached(
    tokenizer: Any,
    columns: Mapping[str, Sequence[Any]],
    text_fields: Sequence[str],
    max_length: int,
    *,
    fingerprint: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """:func:`encode` through an in-process LRU cache (thread-safe; per process).

    The cache holds the last :data:`ENCODE_CACHE_MAXSIZE` splits (within
    :data:`ENCODE_CACHE_MAX_BYTES`) packed into read-only arrays; every call, hit or miss,
    returns new lists and dicts that share nothing with the cache or with other calls, so a
    caller may mutate them freely. Tokenizing runs outside the lock (two threads missing on
    the same key both tokenize; one entry is kept).

    Args:
        tokenizer, columns, text_fields, max_length: as :func:`encode`.
        fingerprint: :func:`tokenizer_fingerprint` of ``tokenizer``, to compute it once for
            several splits (it must be the fingerprint of this very tokenizer).

    Returns:
        ``(features, hit)``: features equal to ``encode(...)``'s (same keys, values and
        types), and whether they came from the cache.

    Raises:
        as :func:`encode`.
    """
    try:
        key: str | None = encode_cache_key(tokenizer, columns, text_fields, max_length,
                                           fingerprint=fingerprint)
    except (TypeError, ValueError, AttributeError):  # no exact hash of the inputs: no cache
        key = None
    if key is not None:
        with _CACHE_LOCK:
            packed = _CACHE.get(key)
            if packed is not None:
                _CACHE.move_to_end(key)
                _CACHE_STATS["hits"] += 1
        if packed is not None:
            return packed.unpack(), True
    features = encode(tokenizer, columns, text_fields, max_length)
    try:
        packed = _Packed(features) if key is not None else None
    except (TypeError, ValueError, OverflowError):  # not lists of ints: not cached
        packed = None
    with _CACHE_LOCK:
        if packed is None:
            _CACHE_STATS["uncacheable"] += 1
        else:
            _CACHE_STATS["misses"] += 1
            if packed.nbytes <= ENCODE_CACHE_MAX_BYTES:
                _CACHE[key] = packed
                _CACHE.move_to_end(key)
                while len(_CACHE) > max(ENCODE_CACHE_MAXSIZE, 0) or (
                    sum(p.nbytes for p in _CACHE.values()) > ENCODE_CACHE_MAX_BYTES
                ):
                    _CACHE.popitem(last=False)
    return features, False


def encode_cache_info() -> EncodeCacheInfo:
    """Hits, misses and size of the :func:`encode_cached` cache of this process."""
    with _CACHE_LOCK:
        return EncodeCacheInfo(
            hits=_CACHE_STATS["hits"], misses=_CACHE_STATS["misses"],
            uncacheable=_CACHE_STATS["uncacheable"], size=len(_CACHE),
            maxsize=ENCODE_CACHE_MAXSIZE, nbytes=sum(p.nbytes for p in _CACHE.values()),
            max_bytes=ENCODE_CACHE_MAX_BYTES,
        )


def encode_cache_clear() -> None:
    """Empty the :func:`encode_cached` cache and reset its counters."""
    with _CACHE_LOCK:
        _CACHE.clear()
        for name in _CACHE_STATS:
            _CACHE_STATS[name] = 0


def eval_order(features: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indices of ``features`` by decreasing :func:`feature_length` (stable: ties keep their
    order), so that evaluation batches hold similar lengths and pad less. The longest batch
    comes first, so an out-of-memory error shows at once."""
    lengths = [feature_length(f) for f in features]
    return sorted(range(len(features)), key=lambda i: -lengths[i])


class MultipleChoiceCollator:
    """Pads multiple-choice features to one tensor per key of shape [batch, options, seq].

    Every example of a batch must have the same number of options (true of every task here).

    Raises:
        ValueError: examples with different option counts in one batch.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.pad_id = tokenizer.pad_token_id or 0

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        n_opts = {len(f["input_ids"]) for f in features}
        if len(n_opts) != 1:
            raise ValueError(f"a batch mixes option counts {sorted(n_opts)}")
        width = max(feature_length(f) for f in features)
        keys = [k for k in features[0] if k != "labels"]
        out = {}
        for key in keys:
            pad = self.pad_id if key == "input_ids" else 0
            out[key] = torch.tensor([[row + [pad] * (width - len(row)) for row in f[key]]
                                     for f in features], dtype=torch.long)
        out["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return out


def evaluate(
    model: torch.nn.Module, loader: Any, metric: str, num_labels: int,
) -> dict[str, float]:
    """Score ``model`` on a data loader with the task's metric (model put in eval mode).

    Predictions are concatenated in the loader's order together with their labels, so the
    loader may visit the examples in any order (``fine_tune`` sorts them by length): every
    metric of :mod:`junk_dna.evaluation.glue_metrics` (accuracy, F1, MCC, Pearson, Spearman) is a
    function of the (prediction, label) pairs, equal up to float rounding for any order.

    Args:
        model: classifier; called with each batch minus ``labels``, returns ``.logits`` of
            shape [batch, num_labels] ([batch, 1] for regression, [batch, options] for
            multiple choice).
        loader: iterable of batches (dicts of tensors, with ``labels`` of shape [batch]).
        metric: a name for :func:`junk_dna.evaluation.glue_metrics.get_metric`.
        num_labels: 1 = regression (raw scores), else argmax predictions.

    Returns:
        metric name -> value.
    """
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for batch in loader:
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            if num_labels == 1:
                preds.append(logits.squeeze(-1).float().cpu().numpy())
            else:
                preds.append(logits.argmax(-1).cpu().numpy())
            labels.append(batch["labels"].cpu().numpy())
    return get_metric(metric)(np.concatenate(preds), np.concatenate(labels))


def fine_tune(
    model: torch.nn.Module,
    tokenizer: Any,
    data: TaskData,
    config: TrainConfig,
    *,
    make_enforcer: Callable[[torch.nn.Module], MaskEnforcer] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Fine-tune ``model`` on ``data.train``, evaluating every split of ``data.evals``.

    Args:
        model: a sequence-classification model (its head matches ``data.spec.num_labels``)
            or a multiple-choice model for a multiple-choice task.
        tokenizer: the model's tokenizer.
        data: the task's examples (see :func:`junk_dna.data.glue_tasks.load_task`).
        config: optimization settings.
        make_enforcer: builds the transfer mode's enforcer from the model once it sits on its
            device (so the enforcer holds the device tensors); ``start()`` is called before
            the first step and ``after_step()`` after every optimizer step, the last included.
        on_epoch: called with each epoch's entry (for live display in a notebook).

    Returns:
        Per-epoch metrics; metric names of the first eval split are plain (``accuracy``),
        those of further splits carry ``@split`` (``accuracy@validation_mismatched``).
    """
    from accelerate import Accelerator
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup

    spec = data.spec
    accelerator = Accelerator(mixed_precision=config.mixed_precision,
                              cpu=not torch.cuda.is_available())
    clock = time.perf_counter()
    collate = (MultipleChoiceCollator(tokenizer) if tuple(spec.text_fields) == MC_FIELDS
               else DataCollatorWithPadding(tokenizer))
    try:
        fingerprint: str | None = tokenizer_fingerprint(tokenizer)  # once for every split
    except (TypeError, ValueError, AttributeError):
        fingerprint = None  # encode_cached then tokenizes without the cache
    train_feats, hit = encode_cached(tokenizer, data.train, spec.text_fields, config.max_length,
                                     fingerprint=fingerprint)
    cache_hits = {"train": hit}
    generator = torch.Generator().manual_seed(config.seed)
    if config.group_by_length:
        sampler = LengthGroupedBatchSampler([feature_length(f) for f in train_feats],
                                            config.batch_size, generator)
        train_loader = DataLoader(train_feats, batch_sampler=sampler, collate_fn=collate)
    else:
        train_loader = DataLoader(train_feats, batch_size=config.batch_size, shuffle=True,
                                  collate_fn=collate, generator=generator)
    eval_loaders = {}
    for split, cols in data.evals.items():
        feats, cache_hits[split] = encode_cached(tokenizer, cols, spec.text_fields,
                                                 config.max_length, fingerprint=fingerprint)
        # sorted by length: batches pad less; every metric is order-free (see evaluate)
        eval_loaders[split] = DataLoader([feats[i] for i in eval_order(feats)],
                                         batch_size=config.eval_batch_size, collate_fn=collate)
    tokenize_s = time.perf_counter() - clock
    # The fused kernel (CPU and CUDA) is the same AdamW update, many times faster on CPU.
    optimizer = torch.optim.AdamW(parameter_groups(model, config.weight_decay),
                                  lr=config.learning_rate, fused=True)
    steps_per_epoch = math.ceil(len(train_feats) / config.batch_size)
    total = steps_per_epoch * config.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=math.ceil(config.warmup_ratio * total),
        num_training_steps=total)
    model, optimizer, train_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, scheduler)
    eval_loaders = {k: accelerator.prepare(v) for k, v in eval_loaders.items()}
    enforcer = make_enforcer(accelerator.unwrap_model(model)) if make_enforcer else None
    if enforcer is not None:
        enforcer.start()

    result = TrainResult()
    result.timings = {"tokenize": tokenize_s, "train": 0.0, "evaluate": 0.0}
    result.encode_cache = cache_hits
    main_metric = spec.main_metric
    best_value = -math.inf
    for epoch in range(1, config.epochs + 1):
        clock = time.perf_counter()
        model.train()
        losses = []
        for batch in train_loader:
            loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if enforcer is not None:
                enforcer.after_step()
            losses.append(loss.detach().float().item())
            result.steps += 1
        result.timings["train"] += time.perf_counter() - clock
        clock = time.perf_counter()
        metrics: dict[str, float] = {}
        for i, (split, loader) in enumerate(eval_loaders.items()):
            scores = evaluate(model, loader, spec.metric, spec.num_labels)
            metrics.update({(k if i == 0 else f"{k}@{split}"): v for k, v in scores.items()})
        result.timings["evaluate"] += time.perf_counter() - clock
        entry = {"epoch": epoch, "metrics": metrics, "train_loss": float(np.mean(losses))}
        result.epochs.append(entry)
        result.train_loss.append(entry["train_loss"])
        if metrics[main_metric] > best_value:
            best_value, result.best, result.best_epoch = metrics[main_metric], metrics, epoch
        if on_epoch is not None:
            on_epoch(entry)
    result.last = result.epochs[-1]["metrics"]
    return result
