"""Tokenization of fine-tuning splits, and the in-process cache of encoded splits.

:func:`encode` tokenizes a task split (single sentence, sentence pair, or multiple choice:
one ``(context, option)`` sequence per option) into per-example feature dicts.
:func:`encode_cached` keeps the encoded features of the last few splits in this process (a
sweep of many runs in one kernel tokenizes each split once); the key covers the tokenizer,
the text fields, ``max_length`` and a hash of the column contents, so any change misses
(:func:`encode_cache_key`). It changes no number, only time. See :func:`encode_cache_info`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

MC_FIELDS: tuple[str, ...] = ("context", "options")


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
ENCODE_CACHE_MAX_BYTES: int = 1 << 30

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
