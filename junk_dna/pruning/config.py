"""Pruning, quantization and transfer settings, checked without torch (config apart from
mechanism): :class:`PruningConfig` of the encoder masks (:mod:`junk_dna.pruning.masks`), the
transfer modes (:mod:`junk_dna.pruning.transfer`), the LLM pruning parameters
(:func:`check_llm_pruning`, :mod:`junk_dna.pruning.llm`) and the RTN quantization parameters
(:func:`check_quantization`, :mod:`junk_dna.pruning.quantization`).

The experiments validate a run's parameters with these before anything heavy is imported, so
that ``junk-dna presets`` and every sweep's validation stay light.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from junk_dna.checks import check_choice
from junk_dna.models.gguf_header import gguf_config

PATTERNS: tuple[str, ...] = ("unstructured", "nm")
SCOPES: tuple[str, ...] = ("global", "layer")
CRITERIA: tuple[str, ...] = ("magnitude", "random", "largest")
POLICIES: tuple[str, ...] = ("encoder", "original")

Mode = Literal["dense", "sparse", "freeze", "sparse_to_dense"]
MODES: tuple[str, ...] = ("dense", "sparse", "freeze", "sparse_to_dense")
"""Transfer modes of the fine-tuning experiments (see :mod:`junk_dna.pruning.transfer`)."""

LLM_METHODS: tuple[str, ...] = ("magnitude", "wanda", "sparsegpt")
"""Pruning methods of :func:`junk_dna.pruning.llm.prune_causal_lm`."""
CALIBRATION_SOURCES: tuple[str, ...] = ("embedded", "c4")

GRANULARITIES: tuple[str, ...] = ("per_channel", "per_group")
MIN_BITS, MAX_BITS = 2, 8

_NM_RE = re.compile(r"^\s*(-?\d+)\s*:\s*(-?\d+)\s*$")


def parse_nm(spec: str | tuple[int, int]) -> tuple[int, int]:
    """Parse an N:M specification, ``N`` = weights KEPT in each group of ``M``.

    Args:
        spec: ``"N:M"`` (e.g. ``"2:4"``, ``"7:8"``) or a tuple ``(N, M)`` of ints.

    Returns:
        ``(N, M)`` with ``1 <= N <= M`` (``N == M`` keeps everything).

    Raises:
        ValueError: malformed spec, ``N < 1``, ``M < 1`` or ``N > M``; the message names the
            value and what is allowed.
    """
    allowed = "need 1 <= N <= M, e.g. '2:4' or '7:8'"
    if isinstance(spec, str):
        match = _NM_RE.match(spec)
        if match is None:
            raise ValueError(f"N:M {spec!r} is malformed; expected 'N:M' with integers, {allowed}")
        n, m = int(match.group(1)), int(match.group(2))
    elif (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in spec)
    ):
        n, m = spec
    else:
        raise ValueError(
            f"N:M {spec!r} is malformed; expected a string 'N:M' or a tuple (N, M) of ints, "
            f"{allowed}"
        )
    text = f"'{n}:{m}'"
    if n < 1:
        raise ValueError(f"N:M {text} has N = {n} < 1; need N >= 1 ({allowed})")
    if m < 1:
        raise ValueError(f"N:M {text} has M = {m} < 1; {allowed}")
    if n > m:
        raise ValueError(f"N:M {text} has N > M; {allowed}")
    return n, m


NM_WIDTH_KEYS: tuple[str, ...] = ("hidden_size", "intermediate_size", "dim", "hidden_dim",
                                  "n_embd", "ffn_dim", "d_model", "encoder_ffn_dim")
"""Keys of a model's ``config.json`` that give the input width of some of its linear layers
(encoders: BERT/RoBERTa/MiniLM, DistilBERT; causal LMs: Llama-like, GPT-2, OPT)."""


def check_nm_widths_from_config(location: str, nm: str) -> None:
    """Before any weights load: M of ``nm`` must divide every input width the model's
    ``config.json`` gives (:data:`NM_WIDTH_KEYS`). ``location`` is a folder (a local or
    embedded model), a ``.gguf`` file (the sizes in its header) or a hub id whose
    ``config.json`` is in the local hub cache; when no config can be read without loading (a
    hub id not cached) this does nothing, and the widths are checked on the loaded model,
    still before pruning.

    Raises:
        ValueError: naming the width M does not divide.
    """
    _, m = parse_nm(nm)
    _check_widths_from_config(location, m, f"N:M {nm}: M = {m}", "an M")


def check_group_widths_from_config(location: str, group_size: int) -> None:
    """Before any weights load: an RTN ``per_group`` group size must divide every input width
    :func:`check_nm_widths_from_config` reads (a folder's or cached hub id's ``config.json``,
    a GGUF file's header); nothing to read: checked on the loaded model, before quantizing.

    Raises:
        ValueError: naming the width the group size does not divide.
    """
    _check_widths_from_config(location, group_size, f"RTN per_group: group_size {group_size}",
                              "a group_size")


def _check_widths_from_config(location: str, divisor: int, what: str, choose: str) -> None:
    config = _model_config(location)
    for key in NM_WIDTH_KEYS:
        width = config.get(key)
        if isinstance(width, int) and not isinstance(width, bool) and width % divisor:
            raise ValueError(f"{what} does not divide the model's {key} = {width} "
                             f"(the input width of some of its linear layers); choose "
                             f"{choose} that divides it")


def _model_config(location: str) -> dict:
    """The ``config.json`` of a model folder or of a cached hub id, or the sizes in a GGUF
    file's header; empty when there is none."""
    if location.endswith(".gguf") and Path(location).is_file():
        try:
            return gguf_config(location)
        except (OSError, ValueError):  # unreadable: the loaded model is checked instead
            return {}
    path = Path(location) / "config.json"
    if not path.is_file():
        try:  # a hub id: its cached config only, never a download
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(location, "config.json")
        except Exception:  # not a valid repo id, no hub library: nothing to read
            return {}
        if not isinstance(cached, str):
            return {}
        path = Path(cached)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def check_sparsity(s: float) -> float:
    """Return ``s`` as a float if it is a valid unstructured sparsity, i.e. in ``[0, 1)``.

    Raises:
        ValueError: ``s`` is not a real number in ``[0, 1)`` (NaN included); names the value.
    """
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity {s!r} is not in [0, 1)")
    return float(s)


@dataclass(frozen=True)
class PruningConfig:
    """How to compute a one-shot pruning mask. Every field is validated on construction.

    Raises:
        ValueError: an unknown ``pattern``/``scope``/``criterion``, a ``sparsity`` outside
            ``[0, 1)``, a bad ``nm``, a non-int ``seed``, or ``sparsity != 0`` with
            ``pattern="nm"`` (N:M sets its own sparsity); the message names the value.
    """

    pattern: str = field(default="unstructured", metadata={"help": "'unstructured' or 'nm' (N:M)"})
    sparsity: float = field(
        default=0.0,
        metadata={"help": "fraction of weights pruned, in [0, 1); unstructured only (0 for nm)"},
    )
    nm: str = field(
        default="2:4",
        metadata={"help": "'N:M': keep N of every M consecutive input weights; nm only"},
    )
    scope: str = field(
        default="global",
        metadata={
            "help": "'global': one threshold over all tensors (original GLUE code); 'layer': "
            "the same sparsity in every tensor (original LLM code); unstructured only"
        },
    )
    criterion: str = field(
        default="magnitude",
        metadata={"help": "'magnitude' (prune smallest |w|); controls: 'random', 'largest'"},
    )
    seed: int = field(
        default=0,
        metadata={"help": "seed of 'random' (same seed and tensor shapes -> same mask)"},
    )

    def __post_init__(self) -> None:
        check_choice("pattern", self.pattern, PATTERNS)
        check_sparsity(self.sparsity)
        parse_nm(self.nm)
        check_choice("scope", self.scope, SCOPES)
        check_choice("criterion", self.criterion, CRITERIA)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed {self.seed!r} is not an int")
        if self.pattern == "nm" and self.sparsity != 0:
            raise ValueError(
                f"sparsity {self.sparsity!r} given with pattern 'nm'; N:M sets its own sparsity "
                f"(nm={self.nm!r}), so sparsity must be 0"
            )

    @property
    def n_m(self) -> tuple[int, int]:
        """``(N, M)`` parsed from :attr:`nm`."""
        return parse_nm(self.nm)

    @property
    def target_sparsity(self) -> float:
        """Fraction of weights pruned: ``sparsity``, or ``1 - N/M`` for N:M."""
        if self.pattern == "nm":
            n, m = self.n_m
            return 1.0 - n / m
        return self.sparsity


def check_mode(mode: str) -> str:
    """Return ``mode`` if it names a transfer mode.

    Raises:
        ValueError: naming the bad value and the allowed ones.
    """
    check_choice("transfer mode", mode, MODES)
    return mode


@dataclass(frozen=True)
class LLMPruningSpec:
    """Validated pruning parameters (from :func:`check_llm_pruning`).

    Attributes:
        method: one of :data:`LLM_METHODS`.
        sparsity: unstructured sparsity in ``[0, 1)``, or None for N:M.
        nm: ``(N, M)`` (N kept of every M), or None for unstructured.
        blocksize: SparseGPT column block width.
        percdamp: SparseGPT dampening, as a fraction of ``mean(diag(H))``.
    """

    method: str
    sparsity: float | None
    nm: tuple[int, int] | None
    blocksize: int = 128
    percdamp: float = 0.01

    @property
    def pattern(self) -> str:
        """``"nm"`` or ``"unstructured"``."""
        return "nm" if self.nm is not None else "unstructured"

    @property
    def target_sparsity(self) -> float:
        """Fraction pruned: ``sparsity`` or ``1 - N/M``."""
        if self.nm is not None:
            return 1.0 - self.nm[0] / self.nm[1]
        assert self.sparsity is not None
        return self.sparsity

    @property
    def needs_calibration(self) -> bool:
        """Whether the method uses calibration activations (wanda, sparsegpt)."""
        return self.method != "magnitude"


def check_llm_pruning(
    method: str,
    sparsity: float | None = None,
    nm: str | tuple[int, int] | None = None,
    *,
    blocksize: int = 128,
    percdamp: float = 0.01,
) -> LLMPruningSpec:
    """Validate pruning parameters without a model (cheap; e.g. a notebook's parameters).

    Args:
        method: ``"magnitude"``, ``"wanda"`` or ``"sparsegpt"``.
        sparsity: unstructured sparsity in ``[0, 1)``; give exactly one of ``sparsity``/``nm``.
        nm: ``"N:M"`` or ``(N, M)``: keep N of every M consecutive input weights.
        blocksize: SparseGPT column block width, an int >= 1 (a multiple of M for N:M).
        percdamp: SparseGPT dampening, a finite float >= 0.

    Returns:
        The validated :class:`LLMPruningSpec`.

    Raises:
        ValueError: unknown method, neither or both of ``sparsity``/``nm``, sparsity outside
            ``[0, 1)``, malformed N:M, bad ``blocksize``/``percdamp``, or SparseGPT N:M with
            ``blocksize`` not a multiple of M; the message names the value and what is allowed.
    """
    if method not in LLM_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; allowed: {list(LLM_METHODS)}")
    if (sparsity is None) == (nm is None):
        raise ValueError(
            f"give exactly one of sparsity (unstructured, in [0, 1)) and nm ('N:M'); got "
            f"sparsity={sparsity!r}, nm={nm!r}"
        )
    s = check_sparsity(sparsity) if sparsity is not None else None
    n_m = parse_nm(nm) if nm is not None else None
    if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 1:
        raise ValueError(f"blocksize {blocksize!r} is not an int >= 1")
    if (
        isinstance(percdamp, bool)
        or not isinstance(percdamp, (int, float))
        or not math.isfinite(percdamp)
        or percdamp < 0
    ):
        raise ValueError(f"percdamp {percdamp!r} is not a finite number >= 0")
    if method == "sparsegpt" and n_m is not None and blocksize % n_m[1]:
        raise ValueError(
            f"sparsegpt N:M {n_m[0]}:{n_m[1]} needs blocksize divisible by M = {n_m[1]} (groups "
            f"must not straddle column blocks); got blocksize={blocksize}"
        )
    return LLMPruningSpec(method, s, n_m, blocksize, float(percdamp))


def check_quantization(
    bits: int, granularity: str = "per_channel", group_size: int = 128, symmetric: bool = False
) -> None:
    """Validate RTN parameters without a model.

    Raises:
        ValueError: ``bits`` not an int in ``[2, 8]``, unknown ``granularity``, ``group_size``
            not an int >= 1, or ``symmetric`` not a bool; names the value and what is allowed.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits {bits!r} is not an int in [{MIN_BITS}, {MAX_BITS}]")
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}; allowed: {list(GRANULARITIES)}")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size {group_size!r} is not an int >= 1")
    if not isinstance(symmetric, bool):
        raise ValueError(f"symmetric {symmetric!r} is not a bool")


#: Index cost of a sparse weight matrix in the storage count: a bitmask, one bit per weight.
MASK_BITS_PER_WEIGHT = 1.0


def pruned_storage_bits(sparsity: float, base_bits: int = 16,
                        index_bits: float = MASK_BITS_PER_WEIGHT) -> float:
    """Stored bits per weight of a pruned matrix: the kept weights at ``base_bits`` and a
    bitmask (``index_bits`` per weight).

    Raises:
        ValueError: ``sparsity`` outside [0, 1].
    """
    if isinstance(sparsity, bool) or not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"sparsity {sparsity!r} is outside [0, 1]")
    return (1.0 - float(sparsity)) * base_bits + index_bits


def storage_matched_sparsity(storage_bits: float, base_bits: int = 16,
                             index_bits: float = MASK_BITS_PER_WEIGHT) -> float:
    """The pruning sparsity whose :func:`pruned_storage_bits` equals ``storage_bits`` (e.g. an
    RTN model's bits per weight with its scales), clipped to [0, 1].

    Raises:
        ValueError: ``storage_bits`` not a finite number, or ``base_bits`` not positive.
    """
    if not math.isfinite(float(storage_bits)) or base_bits <= 0:
        raise ValueError(f"storage_bits {storage_bits!r} must be finite and base_bits "
                         f"{base_bits!r} positive")
    return min(1.0, max(0.0, 1.0 - (float(storage_bits) - index_bits) / base_bits))


def matched_sparsity(bits: int, base_bits: int = 16) -> float:
    """The pruning sparsity with the same weight storage as ``bits``-bit quantization.

    A simple equal-storage match, ``1 - bits / base_bits`` (4-bit vs 16-bit -> 0.75), that
    ignores the mask/index overhead of sparse storage and the scales/zero points of
    quantization (the pre-registered match of claim Q; :func:`pruned_storage_bits` and
    :func:`junk_dna.pruning.quantization.rtn_storage_bits` count both).

    Raises:
        ValueError: ``bits`` or ``base_bits`` not a positive int, or ``bits > base_bits``.
    """
    for what, v in (("bits", bits), ("base_bits", base_bits)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{what} {v!r} is not an int >= 1")
    if bits > base_bits:
        raise ValueError(f"bits {bits} > base_bits {base_bits}; need bits <= base_bits")
    return 1.0 - bits / base_bits
