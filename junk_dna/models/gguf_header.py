"""A GGUF file's metadata (its header's key-value pairs), read without the tensors.

Enough to validate a run before any weights load (e.g. that M of an N:M pattern divides the
model's widths), in milliseconds, with the standard library only: ``gguf.GGUFReader`` maps
and indexes every tensor (seconds for the embedded 135M model). Layout (GGUF v2 and v3,
little-endian): ``b"GGUF"``, uint32 version, uint64 tensor count, uint64 key-value count,
then per pair a string key, a uint32 value type and the value (strings are a uint64 length
and UTF-8 bytes; arrays a uint32 element type, a uint64 count and the elements).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

GGUF_MAGIC = b"GGUF"
#: Versions whose header layout this reader knows.
GGUF_VERSIONS: tuple[int, ...] = (2, 3)
#: Value type id -> ``struct`` format of the fixed-size scalar types.
_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
                            7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
#: Config keys of a ``config.json`` and the GGUF key (after ``<architecture>.``) that holds it.
CONFIG_KEYS: dict[str, str] = {"hidden_size": "embedding_length",
                               "intermediate_size": "feed_forward_length",
                               "num_hidden_layers": "block_count",
                               "num_attention_heads": "attention.head_count",
                               "num_key_value_heads": "attention.head_count_kv",
                               "max_position_embeddings": "context_length"}


def _read(f: BinaryIO, fmt: str) -> int | float | bool:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _left(f: BinaryIO) -> int:
    """Bytes left in ``f`` after its position."""
    return os.fstat(f.fileno()).st_size - f.tell()


def _string(f: BinaryIO) -> str:
    n = int(_read(f, "<Q"))
    if n > _left(f):  # a damaged length: never allocate or read past the file
        raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
    return data.decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, keep: bool) -> object:
    """One value of type ``vtype``; arrays are skipped (``None``) unless ``keep``."""
    if vtype in _SCALARS:
        return _read(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f)
    if vtype == _ARRAY:
        etype, count = int(_read(f, "<I")), int(_read(f, "<Q"))
        if count > _left(f):  # every element takes at least one byte
            raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
        if not keep and etype in _SCALARS:  # fixed size: seek over it
            size = count * struct.calcsize(_SCALARS[etype])
            if size > _left(f):
                raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: truncated GGUF header")
            f.seek(size, os.SEEK_CUR)
            return None
        if not keep:  # variable size (strings, nested arrays): read over it
            for _ in range(count):
                _value(f, etype, False)
            return None
        return [_value(f, etype, True) for _ in range(count)]
    raise ValueError(f"{getattr(f, 'name', 'GGUF file')}: unknown GGUF value type {vtype}")


def gguf_metadata(path: str | Path, *, arrays: bool = False) -> dict[str, object]:
    """The metadata key-value pairs of a GGUF file (no tensor is read).

    Args:
        path: a ``.gguf`` file.
        arrays: keep array values (the tokenizer's vocabulary: large); else they are ``None``.

    Returns:
        ``{key: value}`` in file order, e.g. ``{"general.architecture": "llama",
        "llama.embedding_length": 576, ...}``.

    Raises:
        ValueError: not a GGUF file, an unknown version, or a truncated or malformed header.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ValueError(f"{path}: not a GGUF file (no {GGUF_MAGIC!r} magic)")
        version = int(_read(f, "<I"))
        if version not in GGUF_VERSIONS:
            raise ValueError(f"{path}: GGUF version {version}; known: {list(GGUF_VERSIONS)}")
        _read(f, "<Q")  # tensor count
        n_kv = int(_read(f, "<Q"))
        out: dict[str, object] = {}
        for _ in range(n_kv):
            key = _string(f)
            out[key] = _value(f, int(_read(f, "<I")), arrays)
    return out


def gguf_config(path: str | Path) -> dict[str, object]:
    """The ``config.json``-style sizes of a GGUF model (:data:`CONFIG_KEYS` present in it),
    plus ``model_type`` (its ``general.architecture``).

    Raises:
        ValueError, OSError: as :func:`gguf_metadata`.
    """
    meta = gguf_metadata(path)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return {}
    config: dict[str, object] = {"model_type": arch}
    for key, gguf_key in CONFIG_KEYS.items():
        if f"{arch}.{gguf_key}" in meta:
            config[key] = meta[f"{arch}.{gguf_key}"]
    return config
