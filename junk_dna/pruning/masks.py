"""One-shot pruning masks: which pre-trained weights to prune, and how.

Conventions
-----------
A *mask* is a ``dict`` name -> ``torch.bool`` tensor of the weight's shape, ``True`` where the
weight is KEPT and ``False`` where it is pruned. Masks are computed under ``torch.no_grad`` and
never modify the weights; :func:`apply_masks` zeroes the pruned weights in place, and
:class:`junk_dna.pruning.transfer.MaskEnforcer` keeps them pruned (or frozen) during fine-tuning.

Patterns (:class:`PruningConfig`)
---------------------------------
``unstructured``
    prune ``k = round(sparsity * n)`` weights, with ``scope="global"`` (ONE threshold over all
    tensors together, as the original GLUE code; per-tensor sparsity varies) or
    ``scope="layer"`` (``round(sparsity * numel)`` per tensor, as the original LLM code).
``nm``
    N:M, ``N`` = weights KEPT in each group of ``M`` consecutive weights along the input
    dimension of every row (the paper figures' convention: ``"7:8"`` prunes 1 of 8).

Criteria: ``magnitude`` prunes the smallest ``|w|``; ``largest`` prunes the largest ``|w|``
(a control); ``random`` prunes a seeded uniformly random set of the same size (a control).

Ties are broken deterministically. Unstructured: elements are ordered by (key ascending,
position ascending), where the key is ``|w|`` (``magnitude``), ``-|w|`` (``largest``) or a
random 62-bit integer (``random``), and position is (tensor order in the mapping, row-major
flat index); the first ``k`` are pruned. This is exactly what a stable argsort of the
concatenated keys prunes. N:M: in each group, among equal ``|w|`` the lower index is kept.

Unstructured selection neither concatenates nor sorts the weights: it is a radix (histogram)
selection over the bit patterns of ``|w|`` (for ``x >= 0`` the integer bit pattern of a float
is monotonic in ``x``), processed in chunks of :data:`CHUNK` elements. One ``bincount`` pass
over the top 16 bits finds the bin holding the k-th smallest key; a second pass writes the
masks and sorts only the elements of that bin (about 0.3 % of the weights for trained or
Gaussian weights; a bin of many ties is first narrowed by further 16-bit passes). Extra memory:
a few chunk buffers (about 40 MB) whatever the model size, plus the 1-byte-per-weight masks.
On RoBERTa-base (85M weights, 2 CPU cores) it takes ~0.5 s, vs ~9 s for concatenating and
``torch.topk`` and ~17 s for ``torch.nn.utils.prune.global_unstructured``
(``benchmarks/bench_pruning.py``).

:func:`mask_series` gives the masks of a whole series of sparsities (or of N:M with one M)
from one ranking: one top-digit histogram pass and one final pass for the whole series (N:M:
one sort per block of groups), bit for bit the masks of separate :func:`compute_masks` calls,
and nested. For 5 sparsities over RoBERTa-base's 85M weights it takes 1.8x (global
magnitude) to 3.4x (global random) less time than 5 separate calls (1 thread,
``benchmarks/bench_pruning.py --series-only``).

The random control draws i.i.d. 62-bit keys (same exact selection), so the pruned set is
uniform over all sets of its size up to key collisions (probability ~``n**2 / 2**63``); the
keys are drawn on the CPU from ``torch.Generator().manual_seed(seed)``, so a seed gives the
same mask on every device (but not across changes of :data:`CHUNK`).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd
import torch
from torch import Tensor, nn

PATTERNS: tuple[str, ...] = ("unstructured", "nm")
SCOPES: tuple[str, ...] = ("global", "layer")
CRITERIA: tuple[str, ...] = ("magnitude", "random", "largest")
POLICIES: tuple[str, ...] = ("encoder", "original")

CHUNK: int = 1 << 22
"""Elements processed at a time by the chunked passes (bounds their temporary memory)."""

_NM_RE = re.compile(r"^\s*(-?\d+)\s*:\s*(-?\d+)\s*$")
_RANDOM_KEY_HIGH = 1 << 62  # random keys are uniform integers in [0, 2**62)
_CANDIDATES_MIN = 1024  # a final bin this small is resolved by sorting its elements


# --------------------------------------------------------------------------------------------
# validation


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


def check_sparsity(s: float) -> float:
    """Return ``s`` as a float if it is a valid unstructured sparsity, i.e. in ``[0, 1)``.

    Raises:
        ValueError: ``s`` is not a real number in ``[0, 1)`` (NaN included); names the value.
    """
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity {s!r} is not in [0, 1)")
    return float(s)


def _check_choice(what: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {list(allowed)}")


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
        _check_choice("pattern", self.pattern, PATTERNS)
        check_sparsity(self.sparsity)
        parse_nm(self.nm)
        _check_choice("scope", self.scope, SCOPES)
        _check_choice("criterion", self.criterion, CRITERIA)
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


# --------------------------------------------------------------------------------------------
# which weights


def _conv1d_type() -> type | None:
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover - transformers is a dependency
        return None
    return Conv1D


def select_prunable(
    model: nn.Module,
    policy: str = "encoder",
    *,
    include_embeddings: bool = False,
    new_param_names: Collection[str] = (),
) -> dict[str, nn.Parameter]:
    """Select the weights that pruning ranks and masks.

    Args:
        model: a transformers model (with or without a task head) or any ``nn.Module``.
        policy:
            ``"encoder"`` (default): the ``.weight`` of every ``nn.Linear`` and transformers
            ``Conv1D`` inside ``model.base_model`` (the model itself if it has none), minus the
            names in ``new_param_names``. Embeddings, norms and biases are never included, nor
            the task head (it lives outside ``base_model``).
            ``"original"``: the original GLUE code: every parameter with 2 or 4 dims whose name
            contains neither ``"bias"`` nor ``"norm"`` (case-insensitive); names containing
            ``"embed"`` only if ``include_embeddings``. This includes the randomly initialized
            classifier head, like the original; ``new_param_names`` is ignored.
        include_embeddings: also select embedding weights (``nn.Embedding`` of the base model
            for ``"encoder"``, names containing ``"embed"`` for ``"original"``, whose
            ``--noembed`` flag is ``include_embeddings=False``).
        new_param_names: names of weights newly initialized because the checkpoint lacked
            them (pass ``loading_info["missing_keys"]``), excluded by ``"encoder"``.

    Returns:
        name -> parameter, in the order of ``model.named_parameters()`` (tied weights once).

    Raises:
        ValueError: unknown ``policy``.
    """
    _check_choice("policy", policy, POLICIES)
    if policy == "original":
        selected = {}
        for name, param in model.named_parameters():
            low = name.lower()
            if param.ndim not in (2, 4) or "bias" in low or "norm" in low:
                continue
            if "embed" in low and not include_embeddings:
                continue
            selected[name] = param
        return selected

    base = getattr(model, "base_model", model)
    if not isinstance(base, nn.Module):
        base = model
    kinds: tuple[type, ...] = (nn.Linear,)
    conv1d = _conv1d_type()
    if conv1d is not None:
        kinds += (conv1d,)
    if include_embeddings:
        kinds += (nn.Embedding,)
    wanted = {
        id(module.weight)
        for module in base.modules()
        if isinstance(module, kinds) and isinstance(getattr(module, "weight", None), nn.Parameter)
    }
    excluded = set(new_param_names)
    return {
        name: param
        for name, param in model.named_parameters()
        if id(param) in wanted and name not in excluded
    }


def nm_group_dim(module: nn.Module) -> int:
    """The dimension of ``module.weight`` along which N:M groups run (its input dimension).

    ``nn.Linear`` ``[out, in]`` -> 1; transformers ``Conv1D`` ``[in, out]`` -> 0;
    ``nn.Embedding`` ``[vocab, dim]`` -> 1; ``nn.Conv*d`` ``[out, in, *kernel]`` -> 1, meaning
    groups along ``weight.reshape(out, -1)``. Any other module: 1 (assumes ``[out, in, ...]``).
    """
    conv1d = _conv1d_type()
    if conv1d is not None and isinstance(module, conv1d):
        return 0
    return 1


def nm_group_dims(model: nn.Module, names: Collection[str]) -> dict[str, int]:
    """:func:`nm_group_dim` of the module owning each parameter name (for ``compute_masks``).

    Args:
        model: the model the names come from (e.g. keys of :func:`select_prunable`).
        names: parameter names such as ``"bert.encoder.layer.0.output.dense.weight"``.

    Returns:
        name -> group dimension (0 or 1).

    Raises:
        ValueError: a name that does not resolve to a submodule of ``model``.
    """
    dims = {}
    for name in names:
        owner = name.rpartition(".")[0]
        try:
            module = model.get_submodule(owner) if owner else model
        except AttributeError as err:
            raise ValueError(f"parameter {name!r} has no owning module in the model") from err
        dims[name] = nm_group_dim(module)
    return dims


# --------------------------------------------------------------------------------------------
# global radix selection


def _flat(weight: Tensor) -> Tensor:
    """The weight as a 1-D tensor (a view if contiguous), detached."""
    return weight.detach().reshape(-1)


def _check_floating(weights: Mapping[str, Tensor]) -> torch.device | None:
    device = None
    for name, w in weights.items():
        if not isinstance(w, Tensor) or not w.is_floating_point():
            kind = w.dtype if isinstance(w, Tensor) else type(w).__name__
            raise ValueError(f"weight {name!r} is not a floating-point tensor ({kind})")
        if device is None:
            device = w.device
        elif w.device != device:
            raise ValueError(
                f"weight {name!r} is on {w.device}, others on {device}; "
                "move all weights to one device"
            )
    return device


def _check_no_nan(weights: Mapping[str, Tensor]) -> None:
    """Raise ValueError naming the first tensor holding a NaN (a cheap sum first)."""
    for name, w in weights.items():
        w = w.detach()
        if w.numel() and not torch.isfinite(w.sum()) and bool(torch.isnan(w).any()):
            raise ValueError(f"weight {name!r} contains NaN; cannot rank it by magnitude")


class _Workspace:
    """Reusable scratch buffers (at most CHUNK elements each), shared by consecutive
    selections (e.g. every tensor of a layer-scope mask) to avoid re-allocating them."""

    def __init__(self) -> None:
        self._bufs: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}

    def get(self, tag: str, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        """A 1-D buffer of ``n`` elements (uninitialized), cached under ``tag``."""
        key = (tag, dtype, device)
        buf = self._bufs.get(key)
        if buf is None or buf.numel() < n:
            buf = torch.empty(n, dtype=dtype, device=device)
            self._bufs[key] = buf
        return buf[:n]


class _Keys:
    """Non-negative integer sort keys of all elements, produced chunk by chunk.

    ``kind``: ``"magnitude"`` (bit pattern of |w|), ``"largest"`` (reversed bit pattern of
    |w|) or ``"random"`` (uniform ints in ``[0, 2**62)`` from a generator seeded by
    ``seed``; the same stream is replayed on every pass).

    Keys are int32 (bit patterns of float32 |w|; fp16/bf16 are converted exactly) or int64
    (float64 weights, random keys). For float32 weights on a little-endian machine the top
    16 bits of a key are read directly from the high half of each float (``fast_top``).
    """

    def __init__(
        self,
        weights: Mapping[str, Tensor],
        kind: str,
        seed: int,
        device: torch.device,
        workspace: _Workspace,
    ) -> None:
        self.weights = weights
        self.flats = [_flat(w) for w in weights.values()]
        self.total = sum(f.numel() for f in self.flats)
        self.kind = kind
        self.seed = seed
        self.device = device
        self.workspace = workspace
        wide = kind == "random" or any(f.dtype == torch.float64 for f in self.flats)
        self.float_dtype = torch.float64 if wide else torch.float32
        self.int_dtype = torch.int64 if wide else torch.int32
        self.bits = 64 if wide else 32
        self.all_ones = (1 << (self.bits - 1)) - 1  # reverses order of non-negative keys
        self.fast_top = (
            kind != "random"
            and sys.byteorder == "little"
            and all(f.dtype == torch.float32 for f in self.flats)
        )
        self._gen: torch.Generator | None = None

    def buf(self, tag: str, dtype: torch.dtype | None = None) -> Tensor:
        """A scratch buffer of ``min(CHUNK, total)`` elements (int keys by default)."""
        n = min(CHUNK, self.total)
        return self.workspace.get(tag, n, dtype or self.int_dtype, self.device)

    def start(self) -> None:
        """Start a pass (replays the random stream from the beginning)."""
        if self.kind == "random":
            self._gen = torch.Generator().manual_seed(self.seed)

    def segments(self) -> Iterator[tuple[int, int, Tensor]]:
        """Yield ``(tensor index, start, values)`` slices of at most CHUNK elements."""
        for i, flat in enumerate(self.flats):
            for start in range(0, flat.numel(), CHUNK):
                yield i, start, flat[start : start + CHUNK]

    def fill(self, seg: Tensor, out: Tensor) -> Tensor:
        """Write the keys of ``seg`` into ``out`` (same numel, dtype ``int_dtype``)."""
        if self.kind == "random":
            assert self._gen is not None
            size = (seg.numel(),)
            if out.device.type == "cpu":
                return torch.randint(0, _RANDOM_KEY_HIGH, size, generator=self._gen, out=out)
            keys = torch.randint(0, _RANDOM_KEY_HIGH, size, generator=self._gen, dtype=torch.int64)
            return out.copy_(keys)  # drawn on the CPU: the same mask on every device
        as_float = out.view(self.float_dtype)  # same width: the keys are |w|'s bit pattern
        if seg.dtype == self.float_dtype:
            torch.abs(seg, out=as_float)
        else:
            as_float.copy_(seg).abs_()
        if self.kind == "largest":
            out.bitwise_xor_(self.all_ones)
        return out

    def fill_top(self, seg: Tensor, out: Tensor) -> Tensor:
        """``fast_top`` only: write ``key >> 16`` of float32 ``seg`` into int16 ``out``."""
        high = seg.view(torch.int16)[1::2]  # sign, exponent, 7 mantissa bits
        torch.bitwise_and(high, 0x7FFF, out=out)
        if self.kind == "largest":
            out.bitwise_xor_(0x7FFF)
        return out

    def check_nan(self, top_hist: Tensor, shift: int) -> None:
        """Raise ValueError naming the first tensor with a NaN, if the histogram of the top
        digits (``key >> shift``) holds keys at or beyond +inf's (only then is a tensor
        scanned: NaN bit patterns lie above +inf's)."""
        if self.kind == "random":
            return
        inf_key = int(torch.tensor(math.inf, dtype=self.float_dtype).view(self.int_dtype))
        if self.kind == "magnitude":
            suspicious = int(top_hist[inf_key >> shift :].sum())
        else:
            suspicious = int(top_hist[: ((self.all_ones ^ inf_key) >> shift) + 1].sum())
        if suspicious:
            _check_no_nan(self.weights)


def _digit_histogram(keys: _Keys, shift: int, prefix: int | None) -> Tensor:
    """One pass: histogram of the 16-bit digit ``(key >> shift) & 0xFFFF`` of the keys whose
    higher bits ``key >> (shift + 16)`` equal ``prefix`` (all keys if ``prefix`` is None).

    Returns:
        ``(65536,)`` int64 counts, on the keys' device.

    Keys of all tensors are packed into one buffer of at most CHUNK keys per ``bincount``, so
    tiny tensors cost nothing extra. Out-of-prefix keys are clamped into two spill bins.
    """
    top_fast = prefix is None and keys.fast_top and shift == 16
    kbuf = keys.buf("digits16", torch.int16) if top_fast else keys.buf("keys")
    dbuf = kbuf if top_fast else keys.buf("digits")
    nbins = 65536 + 2  # bins 1..65536: digits; 0: keys below the prefix, 65537: above it
    hist = torch.zeros(nbins, dtype=torch.int64, device=keys.device)
    offset = 0 if prefix is None else (prefix << 16) - 1

    def flush(n: int) -> None:
        d = dbuf[:n]
        if top_fast:
            pass  # fill_top wrote the digits
        elif prefix is None:
            torch.bitwise_right_shift(kbuf[:n], shift, out=d)
        else:
            if shift:
                torch.bitwise_right_shift(kbuf[:n], shift, out=d).sub_(offset)
            else:
                torch.sub(kbuf[:n], offset, out=d)
            d.clamp_(0, nbins - 1)
        hist.add_(torch.bincount(d, minlength=nbins))

    keys.start()
    fill = 0
    for _, _, seg in keys.segments():
        n = seg.numel()
        if fill + n > kbuf.numel():
            flush(fill)
            fill = 0
        if top_fast:
            keys.fill_top(seg, kbuf[fill : fill + n])
        else:
            keys.fill(seg, kbuf[fill : fill + n])
        fill += n
    if fill:
        flush(fill)
    # top pass: the digit is the whole shifted key (< 2**15 for non-negative keys), no offset
    return hist[0:65536] if prefix is None else hist[1:65537]


def _select_smallest(
    weights: Mapping[str, Tensor],
    k: int,
    kind: str,
    seed: int = 0,
    workspace: _Workspace | None = None,
) -> dict[str, Tensor]:
    """Prune exactly the first ``k`` elements in (key, global position) order.

    Args:
        weights: name -> floating tensor, all on one device.
        k: number of weights to prune, ``0 <= k <= total``.
        kind: key kind of :class:`_Keys`.
        seed: for ``kind="random"``.
        workspace: scratch buffers to reuse (a new one if None).

    Returns:
        name -> bool mask (``True`` = kept) of each weight's shape.

    Raises:
        ValueError: a NaN weight (magnitude keys; checked only if ``0 < k < total``).

    Algorithm (radix selection; no sort of the weights, no concatenation):

    1. Histogram the top 16 bits of every key (one streaming pass, ``bincount``), find the
       bin ``b`` holding the k-th smallest key, and the number of keys below it. While that
       bin is large (many ties, e.g. zeros), refine with the next 16 bits among the keys in
       it (another pass), down to the full key if needed.
    2. Final pass: keep the keys above the bin; collect the positions and keys of the (few)
       elements inside the bin and prune the first ``rank`` of them in (key, position)
       order (a stable sort of the candidates only). If the bin is a single key value (all
       bits known), the first ``rank`` ties in global order are pruned, without sorting.
    """
    device = _check_floating(weights)
    masks = {
        name: torch.empty(w.shape, dtype=torch.bool, device=w.device) for name, w in weights.items()
    }
    total = sum(w.numel() for w in weights.values())
    if k < 0 or k > total:
        raise ValueError(f"cannot prune {k} of {total} weights")
    if k == 0 or k == total:
        for m in masks.values():
            m.fill_(k == 0)
        return masks
    assert device is not None
    keys = _Keys(weights, kind, seed, device, workspace or _Workspace())
    outs = [m.view(-1) for m in masks.values()]
    # candidates are collected (8-byte position, key, sort) only if at most this many
    cap = max(_CANDIDATES_MIN, total // 64)

    rank = k  # rank of the k-th smallest among the keys inside the current bin
    prefix: int | None = None
    shift = keys.bits
    n_bin = total
    while True:
        shift -= 16
        hist = _digit_histogram(keys, shift, prefix)
        if prefix is None:
            keys.check_nan(hist, shift)
        cum = hist.cumsum(0)
        b = int(torch.searchsorted(cum, torch.tensor([rank], device=cum.device)).item())
        rank -= int(cum[b - 1]) if b > 0 else 0
        n_bin = int(hist[b])
        prefix = b if prefix is None else (prefix << 16) | b
        if shift == 0 or n_bin <= cap:
            break
    if shift == 0:
        _final_pass_ties(keys, outs, prefix, rank, n_bin)
    else:
        _final_pass_candidates(keys, outs, shift, prefix, rank)
    return masks


def _final_pass_ties(keys: _Keys, outs: list[Tensor], threshold: int, rank: int, n_eq: int) -> None:
    """Keep ``key > threshold`` and the ties after the first ``rank`` (global order)."""
    kbuf = keys.buf("keys")
    keys.start()
    remaining = rank
    for i, start, seg in keys.segments():
        key = keys.fill(seg, kbuf[: seg.numel()])
        out = outs[i][start : start + seg.numel()]
        if rank == n_eq:  # all ties pruned
            torch.gt(key, threshold, out=out)
            continue
        if remaining == 0:
            torch.ge(key, threshold, out=out)
            continue
        eq = key == threshold
        n_here = int(eq.sum())
        if n_here <= remaining:
            torch.gt(key, threshold, out=out)
            remaining -= n_here
        else:
            torch.ge(key, threshold, out=out)
            out[eq.nonzero()[:remaining, 0]] = False
            remaining = 0


def _final_pass_candidates(
    keys: _Keys, outs: list[Tensor], shift: int, prefix: int, rank: int
) -> None:
    """Keep keys above the bin ``key >> shift == prefix``; of the keys in the bin, prune the
    first ``rank`` in (key, global position) order and keep the others."""
    kbuf = keys.buf("keys")
    dbuf = keys.buf("digits")
    upper = (prefix + 1) << shift  # keys >= upper are above the bin
    above_all = upper > torch.iinfo(keys.int_dtype).max
    where: list[tuple[Tensor, Tensor]] = []  # (flat mask slice, positions in it)
    cand_keys: list[Tensor] = []
    keys.start()
    for i, start, seg in keys.segments():
        n = seg.numel()
        key = keys.fill(seg, kbuf[:n])
        out = outs[i][start : start + n]
        if above_all:
            out.fill_(False)
        else:
            torch.ge(key, upper, out=out)
        pos = (torch.bitwise_right_shift(key, shift, out=dbuf[:n]) == prefix).nonzero()
        if pos.numel():
            pos = pos.view(-1)
            where.append((out, pos))
            cand_keys.append(key[pos])
    # stable sort: among equal keys the earlier position (collected in global order) first
    order = torch.sort(torch.cat(cand_keys), stable=True).indices
    keep = torch.ones(order.numel(), dtype=torch.bool, device=order.device)
    keep[order[:rank]] = False
    offset = 0
    for out, pos in where:
        out[pos] = keep[offset : offset + pos.numel()]
        offset += pos.numel()


# --------------------------------------------------------------------------------------------
# mask creators

MaskCreator = Callable[[Mapping[str, Tensor], PruningConfig, Mapping[str, int]], dict[str, Tensor]]
MASK_CREATORS: dict[tuple[str, str], MaskCreator] = {}
"""Registry ``(pattern, criterion) -> creator(weights, config, group_dims) -> masks``."""


def register_mask_creator(pattern: str, criterion: str) -> Callable[[MaskCreator], MaskCreator]:
    """Decorator registering a mask creator for ``(pattern, criterion)``."""

    def deco(fn: MaskCreator) -> MaskCreator:
        MASK_CREATORS[(pattern, criterion)] = fn
        return fn

    return deco


def _n_pruned(sparsity: float, n: int) -> int:
    return round(sparsity * n)


def _unstructured(
    weights: Mapping[str, Tensor], config: PruningConfig, kind: str
) -> dict[str, Tensor]:
    if config.scope == "global":
        total = sum(w.numel() for w in weights.values())
        return _select_smallest(weights, _n_pruned(config.sparsity, total), kind, config.seed)
    masks = {}
    workspace = _Workspace()
    for i, (name, w) in enumerate(weights.items()):
        # per-tensor seed so that each tensor's random mask does not depend on the others
        seed = config.seed * 1_000_003 + i
        k = _n_pruned(config.sparsity, w.numel())
        masks.update(_select_smallest({name: w}, k, kind, seed, workspace))
    return masks


@register_mask_creator("unstructured", "magnitude")
def unstructured_magnitude(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune the ``round(sparsity * n)`` smallest |w| (globally or per tensor, per scope)."""
    return _unstructured(weights, config, "magnitude")


@register_mask_creator("unstructured", "largest")
def unstructured_largest(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune the ``round(sparsity * n)`` largest |w| (a control)."""
    return _unstructured(weights, config, "largest")


@register_mask_creator("unstructured", "random")
def unstructured_random(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune a seeded random set of ``round(sparsity * n)`` weights (a control).

    Ranks i.i.d. uniform 62-bit keys with the same exact selection as magnitude, so the
    pruned set is uniform over all sets of that size (global scope: each tensor gets a
    hypergeometric share). Layer scope uses seed ``seed * 1_000_003 + tensor index``.
    """
    return _unstructured(weights, config, "random")


def _grouped(weight: Tensor, m: int, dim: int, name: str) -> Tensor:
    """View ``weight`` as ``(A, M, B)`` with the M-groups along dim 1.

    ``dim == 1``: groups along ``weight.reshape(shape[0], -1)``'s columns (``B == 1``);
    ``dim == 0``: groups along rows of a 2-D ``[in, out]`` weight (``B == out``).
    """
    w = weight.detach()
    if w.ndim == 0:
        raise ValueError(f"weight {name!r} is a scalar; N:M needs a tensor")
    if dim not in (0, 1) or (dim == 0 and w.ndim > 2) or (dim == 1 and w.ndim < 2):
        raise ValueError(
            f"group dim {dim} is not supported for weight {name!r} of shape {tuple(w.shape)}"
        )
    rows = w.shape[0]
    width = rows if dim == 0 else w.numel() // max(rows, 1)
    if width % m:
        raise ValueError(
            f"weight {name!r} has input width {width} (dim {dim} of shape "
            f"{tuple(w.shape)}), not divisible by M = {m}"
        )
    w2 = w.reshape(rows, -1)
    if dim == 0:
        return w2.view(rows // m, m, w2.shape[1])
    return w2.reshape(-1, m, 1)


def _group_keep_order(block: Tensor, kind: str, gen: torch.Generator | None) -> Tensor:
    """Positions within each group of M, most-kept first (stable).

    Args:
        block: grouped weights ``[groups, M, rest]``.
        kind: ``"magnitude"`` keeps the largest ``|w|``, ``"largest"`` the smallest,
            ``"random"`` a random order drawn from ``gen``.

    Returns:
        Sort indices along dim 1, the same shape as ``block``.
    """
    if kind == "random":
        assert gen is not None
        key = torch.rand(block.shape, generator=gen).to(block.device)
        descending = True
    else:
        key = block.abs()
        descending = kind == "magnitude"  # keep the largest |w| (or the smallest)
    return torch.sort(key, dim=1, descending=descending, stable=True).indices


def _nm_masks(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    group_dims: Mapping[str, int],
    kind: str,
) -> dict[str, Tensor]:
    n, m = config.n_m
    masks = {}
    gen = torch.Generator().manual_seed(config.seed) if kind == "random" else None
    for name, w in weights.items():
        mask = torch.ones(w.shape, dtype=torch.bool, device=w.device)
        if w.numel() == 0:
            masks[name] = mask
            continue
        default = 1 if w.ndim >= 2 else 0
        grouped = _grouped(w, m, group_dims.get(name, default), name)
        if n == m:
            masks[name] = mask
            continue
        out = mask.view(grouped.shape)
        per = m * grouped.shape[2]
        step = max(1, CHUNK // per)
        for a in range(0, grouped.shape[0], step):
            block = grouped[a : a + step]
            order = _group_keep_order(block, kind, gen)
            pruned = order[:, n:, :]
            out[a : a + step].scatter_(1, pruned, False)
        masks[name] = mask
    return masks


@register_mask_creator("nm", "magnitude")
def nm_magnitude(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep the N largest |w| of every M consecutive input weights (ties: lower index kept)."""
    _check_no_nan(weights)
    return _nm_masks(weights, config, group_dims, "magnitude")


@register_mask_creator("nm", "largest")
def nm_largest(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep the N smallest |w| of every group of M (a control; ties: lower index kept)."""
    _check_no_nan(weights)
    return _nm_masks(weights, config, group_dims, "largest")


@register_mask_creator("nm", "random")
def nm_random(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep N random weights of every group of M (a control; seeded by ``config.seed``)."""
    return _nm_masks(weights, config, group_dims, "random")


@torch.no_grad()
def compute_masks(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    *,
    group_dims: Mapping[str, int] | None = None,
) -> dict[str, Tensor]:
    """Compute pruning masks; the weights are not modified.

    Args:
        weights: name -> floating weight tensor (any shape; fp32, fp16, bf16 or fp64), all on
            one device, e.g. from :func:`select_prunable`. The order of the mapping is the
            global order used to break ties.
        config: what to prune.
        group_dims: name -> dimension along which N:M groups run (see :func:`nm_group_dim`
            and :func:`nm_group_dims`); a missing name gets 1 (``[out, in, ...]`` layout), or
            0 for 1-D tensors. Used by ``pattern="nm"`` only.

    Returns:
        name -> ``torch.bool`` mask of the weight's shape and device, ``True`` = kept, in the
        order of ``weights``.

    Raises:
        ValueError: a non-floating tensor, tensors on several devices, a NaN weight
            (``magnitude``/``largest``; unstructured checks only when something is ranked,
            i.e. ``0 < k < n``), or (N:M) a width not divisible by M.
    """
    if not weights:
        return {}
    _check_floating(weights)
    creator = MASK_CREATORS[(config.pattern, config.criterion)]
    return creator(weights, config, group_dims or {})


# --------------------------------------------------------------------------------------------
# masks of a whole sparsity series from one ranking

_BUILTIN_CREATORS: dict[tuple[str, str], MaskCreator] = dict(MASK_CREATORS)
"""The creators defined above; :func:`mask_series` shares one ranking only for these."""


@dataclass
class _Bin:
    """Where the k-th smallest key lies: keys with ``key >> shift == prefix`` (a bin of
    ``size`` keys), of which the first ``rank`` in (key, position) order are pruned."""

    shift: int
    prefix: int
    rank: int
    size: int


def _locate(hist: Tensor, ranks: Sequence[int]) -> list[tuple[int, int, int]]:
    """For each 1-based rank: ``(bin, rank within the bin, bin size)`` in a histogram."""
    cum = hist.cumsum(0)
    found = torch.searchsorted(cum, torch.tensor(list(ranks), device=cum.device)).tolist()
    out = []
    for rank, b in zip(ranks, found, strict=True):
        below = int(cum[b - 1]) if b > 0 else 0
        out.append((b, rank - below, int(hist[b])))
    return out


def _select_smallest_series(
    weights: Mapping[str, Tensor],
    ks: Sequence[int],
    kind: str,
    seed: int = 0,
    workspace: _Workspace | None = None,
) -> list[dict[str, Tensor]]:
    """``[_select_smallest(weights, k, kind, seed) for k in ks]``, bit for bit, from one
    ranking: one top-digit histogram pass shared by every ``k``, refinement passes shared by
    the ``k`` whose bins coincide, and ONE final pass writing every mask (keys computed
    once per chunk; the candidates of a shared bin sorted once).

    Args:
        weights: name -> floating tensor, all on one device.
        ks: numbers of weights to prune, each ``0 <= k <= total`` (any order, repeats allowed).
        kind: key kind of :class:`_Keys`.
        seed: for ``kind="random"``.
        workspace: scratch buffers to reuse (a new one if None).

    Returns:
        one mask dict (name -> bool tensor of each weight's shape, ``True`` = kept) per entry
        of ``ks``, in that order; repeated ``k`` get separate (equal) tensors. Since every
        selection is a prefix of the same (key, position) order, a larger ``k`` prunes a
        superset of what a smaller one prunes.

    Raises:
        ValueError: a ``k`` outside ``[0, total]``; a NaN weight (magnitude keys; checked only
            if some ``0 < k < total``, as :func:`_select_smallest`).
    """
    device = _check_floating(weights)
    total = sum(w.numel() for w in weights.values())
    for k in ks:
        if k < 0 or k > total:
            raise ValueError(f"cannot prune {k} of {total} weights")
    ranked = sorted({k for k in ks if 0 < k < total})
    by_k: dict[int, dict[str, Tensor]] = {}
    if ranked:
        assert device is not None
        by_k = _series_ranked(weights, ranked, kind, seed, device, workspace or _Workspace())
    results, handed = [], set()
    for k in ks:
        if k in by_k:
            masks = by_k[k]
            if k in handed:  # a repeated k: its own tensors
                masks = {name: m.clone() for name, m in masks.items()}
            handed.add(k)
        else:  # nothing to rank: keep all (k == 0) or prune all (k == total)
            masks = {
                name: torch.full(w.shape, k == 0, dtype=torch.bool, device=w.device)
                for name, w in weights.items()
            }
        results.append(masks)
    return results


def _series_ranked(
    weights: Mapping[str, Tensor],
    ks: list[int],
    kind: str,
    seed: int,
    device: torch.device,
    workspace: _Workspace,
) -> dict[int, dict[str, Tensor]]:
    """Masks for distinct ``ks`` with ``0 < k < total`` (see :func:`_select_smallest_series`)."""
    keys = _Keys(weights, kind, seed, device, workspace)
    cap = max(_CANDIDATES_MIN, keys.total // 64)  # as _select_smallest

    shift = keys.bits - 16
    hist = _digit_histogram(keys, shift, None)
    keys.check_nan(hist, shift)
    found = _locate(hist, ks)
    bins = {k: _Bin(shift, b, r, size) for k, (b, r, size) in zip(ks, found, strict=True)}
    while True:  # refine the large bins; the k sharing a bin share its pass
        pending: dict[tuple[int, int], list[int]] = {}
        for k, where in bins.items():
            if where.shift > 0 and where.size > cap:
                pending.setdefault((where.shift, where.prefix), []).append(k)
        if not pending:
            break
        for (shift, prefix), group in pending.items():
            hist = _digit_histogram(keys, shift - 16, prefix)
            found = _locate(hist, [bins[k].rank for k in group])
            for k, (b, r, size) in zip(group, found, strict=True):
                bins[k] = _Bin(shift - 16, (prefix << 16) | b, r, size)

    masks = {
        k: {n: torch.empty(w.shape, dtype=torch.bool, device=w.device) for n, w in weights.items()}
        for k in ks
    }
    outs = {k: [m.view(-1) for m in masks[k].values()] for k in ks}
    groups: dict[tuple[int, int], list[int]] = {}  # k sharing a bin, by ascending bin
    for k in ks:
        groups.setdefault((bins[k].shift, bins[k].prefix), []).append(k)
    # Distinct bins are disjoint key ranges (a bin is refined iff it is large, whichever k
    # lies in it), so the elements of all multi-value bins ("candidates") are found with one
    # nonzero per chunk, and ranked by ONE stable sort; the single-value bins (ties) follow
    # the rule of _final_pass_ties.
    ranges = [
        (prefix << shift, (prefix + 1) << shift, group)
        for (shift, prefix), group in groups.items()
        if shift > 0
    ]
    ties = [(prefix, group) for (shift, prefix), group in groups.items() if shift == 0]
    remaining = {k: bins[k].rank for k in ks}  # ties still to prune
    key_max = torch.iinfo(keys.int_dtype).max
    kbuf = keys.buf("keys")
    in_bins, in_bin = keys.buf("in_bins", torch.bool), keys.buf("in_bin", torch.bool)
    found: list[tuple[int, int, int, Tensor]] = []  # (tensor, start, n, positions in chunk)
    cand_keys: list[Tensor] = []
    keys.start()
    for i, start, seg in keys.segments():
        n = seg.numel()
        key = keys.fill(seg, kbuf[:n])
        for j, (lo, hi, group) in enumerate(ranges):
            first = outs[group[0]][i][start : start + n]
            if hi > key_max:
                first.fill_(False)
            else:
                torch.ge(key, hi, out=first)  # above the bin: kept
            for k in group[1:]:
                outs[k][i][start : start + n].copy_(first)
            target = in_bins[:n] if j == 0 else in_bin[:n]
            torch.ge(key, lo, out=target).bitwise_xor_(first)  # lo <= key < hi
            if j:
                in_bins[:n].bitwise_or_(target)
        for threshold, group in ties:
            _series_ties(key, [outs[k][i][start : start + n] for k in group], threshold,
                         [bins[k] for k in group], remaining, group)
        if ranges:
            pos = in_bins[:n].nonzero()
            if pos.numel():
                pos = pos.view(-1)
                found.append((i, start, n, pos))
                cand_keys.append(key[pos])
    if ranges:
        # (key, global position) order of every candidate: one stable sort for all k
        cand = torch.cat(cand_keys)
        sorted_keys, order = torch.sort(cand, stable=True)
        place = torch.empty_like(order)
        place[order] = torch.arange(order.numel(), device=order.device)
        los = torch.tensor([lo for lo, _, _ in ranges], dtype=cand.dtype, device=cand.device)
        below = torch.searchsorted(sorted_keys, los).tolist()  # candidates below each bin
        for (_, _, group), n_below in zip(ranges, below, strict=True):
            for k in group:
                # candidates of lower bins: pruned, of higher bins: kept, as ge(key, hi) says
                keep = place >= n_below + bins[k].rank
                offset = 0
                for i, start, n, pos in found:
                    outs[k][i][start : start + n][pos] = keep[offset : offset + pos.numel()]
                    offset += pos.numel()
    return masks


def _series_ties(
    key: Tensor,
    outs: list[Tensor],
    threshold: int,
    bins: list[_Bin],
    remaining: dict[int, int],
    group: list[int],
) -> None:
    """One chunk of :func:`_final_pass_ties` for every ``k`` of a single-value bin: keep
    ``key > threshold`` and the ties after the first ``rank`` (global order)."""
    eq: Tensor | None = None
    eq_pos: Tensor | None = None
    n_here = 0
    for out, where, k in zip(outs, bins, group, strict=True):
        if where.rank == where.size:  # all ties pruned
            torch.gt(key, threshold, out=out)
            continue
        if remaining[k] == 0:
            torch.ge(key, threshold, out=out)
            continue
        if eq is None:
            eq = key == threshold
            n_here = int(eq.sum())
        if n_here <= remaining[k]:
            torch.gt(key, threshold, out=out)
            remaining[k] -= n_here
        else:
            torch.ge(key, threshold, out=out)
            if eq_pos is None:
                eq_pos = eq.nonzero()[:, 0]
            out[eq_pos[: remaining[k]]] = False
            remaining[k] = 0


def _unstructured_series(
    weights: Mapping[str, Tensor], config: PruningConfig, sparsities: Sequence[float], kind: str
) -> list[dict[str, Tensor]]:
    """:func:`_unstructured` for every sparsity, one ranking (per scope) for all."""
    if config.scope == "global":
        total = sum(w.numel() for w in weights.values())
        ks = [_n_pruned(s, total) for s in sparsities]
        return _select_smallest_series(weights, ks, kind, config.seed)
    series: list[dict[str, Tensor]] = [{} for _ in sparsities]
    workspace = _Workspace()
    for i, (name, w) in enumerate(weights.items()):
        seed = config.seed * 1_000_003 + i  # as _unstructured
        ks = [_n_pruned(s, w.numel()) for s in sparsities]
        per_tensor = _select_smallest_series({name: w}, ks, kind, seed, workspace)
        for masks, one in zip(series, per_tensor, strict=True):
            masks.update(one)
    return series


def _nm_series(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    n_ms: Sequence[tuple[int, int]],
    group_dims: Mapping[str, int],
    kind: str,
) -> list[dict[str, Tensor]]:
    """:func:`_nm_masks` for every ``(N, M)`` (one M): each block of groups is sorted once
    and every N prunes ``order[:, N:, :]`` of it."""
    if kind != "random":
        _check_no_nan(weights)
    m = n_ms[0][1]
    ns = [n for n, _ in n_ms]
    series: list[dict[str, Tensor]] = [{} for _ in n_ms]
    gen = torch.Generator().manual_seed(config.seed) if kind == "random" else None
    for name, w in weights.items():
        masks = [torch.ones(w.shape, dtype=torch.bool, device=w.device) for _ in ns]
        for out, mask in zip(series, masks, strict=True):
            out[name] = mask
        if w.numel() == 0:
            continue
        default = 1 if w.ndim >= 2 else 0
        grouped = _grouped(w, m, group_dims.get(name, default), name)
        pruning_ns = [
            (n, mask.view(grouped.shape)) for n, mask in zip(ns, masks, strict=True) if n < m
        ]
        if not pruning_ns:
            continue
        per = m * grouped.shape[2]
        step = max(1, CHUNK // per)
        for a in range(0, grouped.shape[0], step):
            block = grouped[a : a + step]
            order = _group_keep_order(block, kind, gen)
            for n, out in pruning_ns:
                out[a : a + step].scatter_(1, order[:, n:, :], False)
    return series


def _check_series(
    config: PruningConfig, sparsities: Sequence[float] | Sequence[str | tuple[int, int]]
) -> list[float] | list[tuple[int, int]]:
    """Validate a series for :func:`mask_series`: floats in [0, 1) (unstructured) or N:M
    specs sharing one M (nm). Raises ValueError naming the first bad entry."""
    if isinstance(sparsities, (str, bytes)) or not isinstance(sparsities, Sequence):
        what = "N:M specs such as ['2:4', '1:4']" if config.pattern == "nm" else "floats"
        raise ValueError(f"sparsities {sparsities!r} is not a sequence of {what}")
    if config.pattern != "nm":
        checked = []
        for i, s in enumerate(sparsities):
            try:
                checked.append(check_sparsity(s))
            except ValueError:
                raise ValueError(
                    f"sparsities[{i}] = {s!r} is not a sparsity in [0, 1) (unstructured "
                    "pattern: the fraction of weights pruned)"
                ) from None
        return checked
    n_ms: list[tuple[int, int]] = []
    for i, spec in enumerate(sparsities):
        try:
            n, m = parse_nm(spec)  # type: ignore[arg-type]
        except ValueError as err:
            raise ValueError(f"sparsities[{i}]: {err} (pattern 'nm' takes N:M specs)") from None
        if n_ms and m != n_ms[0][1]:
            raise ValueError(
                f"sparsities[{i}] = {spec!r} has M = {m}, but sparsities[0] = "
                f"{sparsities[0]!r} has M = {n_ms[0][1]}; an N:M series needs one M "
                f"(N in [1, {n_ms[0][1]}])"
            )
        n_ms.append((n, m))
    return n_ms


@torch.no_grad()
def mask_series(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    sparsities: Sequence[float] | Sequence[str | tuple[int, int]],
    *,
    group_dims: Mapping[str, int] | None = None,
) -> list[dict[str, Tensor]]:
    """Masks for a whole series of sparsities from ONE ranking of the weights.

    Equal, bit for bit, to ``[compute_masks(weights, replace(config, sparsity=s)) for s in
    sparsities]`` (unstructured) or ``[compute_masks(weights, replace(config, nm=s)) ...]``
    (N:M), same tie-breaking and same random stream, but the weights are ranked once:

    * unstructured (``magnitude``/``largest``/``random``, ``global`` or ``layer`` scope):
      one top-digit histogram pass for every sparsity, refinement passes only for bins of
      many ties (shared by the sparsities whose k-th key falls in the same bin), and one
      final pass writing every mask; the candidates of a bin are sorted once.
    * N:M: each block of groups is sorted once; every ``N`` (one ``M``) prunes the
      ``M - N`` last of that order.

    The masks are nested: a weight pruned at a sparsity is pruned at every higher one
    (unstructured: every selection is a prefix of the same (key, position) order; N:M: of
    the same within-group order). A creator re-registered in :data:`MASK_CREATORS` is
    honoured by calling :func:`compute_masks` once per sparsity.

    Args:
        weights: name -> floating weight tensor, all on one device (as :func:`compute_masks`;
            the mapping order is the global order that breaks ties).
        config: pattern, scope, criterion and seed; its ``sparsity`` (unstructured) or
            ``nm`` (N:M) is ignored, replaced by each entry of ``sparsities``.
        sparsities: ``pattern="unstructured"``: fractions pruned, each in ``[0, 1)``;
            ``pattern="nm"``: N:M specs (``"2:4"`` or ``(2, 4)``) all with the same M.
            Any order; repeats allowed (each gets its own tensors).
        group_dims: N:M group dimension per name, as :func:`compute_masks`.

    Returns:
        one mask dict per entry of ``sparsities``, in that order: name -> ``torch.bool``
        tensor of the weight's shape and device, ``True`` = kept. Memory: one byte per
        weight per entry.

    Raises:
        ValueError: before any work, ``sparsities`` not a sequence, an unstructured
            sparsity outside ``[0, 1)`` (NaN, bools and non-numbers included), a malformed
            N:M spec or N:M specs with different M; the message names the index, the value
            and the allowed range. Then the errors of :func:`compute_masks` (non-floating
            or NaN weights, several devices, N:M width not divisible by M).
    """
    levels = _check_series(config, sparsities)
    if not weights:
        return [{} for _ in levels]
    _check_floating(weights)
    key = (config.pattern, config.criterion)
    dims = group_dims or {}
    if config.pattern == "nm":
        n_ms = [lv for lv in levels if isinstance(lv, tuple)]
        if MASK_CREATORS[key] is not _BUILTIN_CREATORS[key]:
            return [
                compute_masks(weights, replace(config, nm=f"{n}:{m}"), group_dims=dims)
                for n, m in n_ms
            ]
        return _nm_series(weights, config, n_ms, dims, config.criterion)
    fractions = [float(lv) for lv in levels if not isinstance(lv, tuple)]
    if MASK_CREATORS[key] is not _BUILTIN_CREATORS[key]:
        return [compute_masks(weights, replace(config, sparsity=s)) for s in fractions]
    return _unstructured_series(weights, config, fractions, config.criterion)


# --------------------------------------------------------------------------------------------
# applying and reporting


def _check_mask(name: str, param: Tensor, mask: Tensor) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask for {name!r} has dtype {kind}; expected torch.bool")
    if mask.shape != param.shape:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match param {name!r} "
            f"shape {tuple(param.shape)}"
        )


@torch.no_grad()
def apply_masks(params: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> None:
    """Zero the pruned weights (``mask == False``) in place.

    Args:
        params: name -> parameter; may hold more names than ``masks`` (those are untouched).
        masks: name -> bool mask of the parameter's shape.

    Raises:
        ValueError: a mask without a parameter, or a mask whose shape or dtype does not match.
    """
    missing = [name for name in masks if name not in params]
    if missing:
        raise ValueError(f"masks without a parameter: {missing[:5]}")
    for name, mask in masks.items():
        _check_mask(name, params[name], mask)
    for name, mask in masks.items():
        param = params[name]
        param.masked_fill_(mask.to(param.device).logical_not(), 0)


@torch.no_grad()
def sparsity_report(
    params: Mapping[str, Tensor], masks: Mapping[str, Tensor] | None = None
) -> pd.DataFrame:
    """Per-tensor pruning counts, plus a final ``"TOTAL"`` row.

    Args:
        params: name -> tensor.
        masks: name -> bool mask for every name of ``params``; if given, ``pruned`` counts the
            ``False`` entries, else it counts the exact zeros of each tensor.

    Returns:
        DataFrame with columns ``name``, ``shape`` (str, ``""`` for TOTAL), ``numel``,
        ``pruned``, ``sparsity`` (``pruned / numel``, 0 for empty tensors).

    Raises:
        ValueError: a parameter without a mask, or a mask of the wrong shape or dtype.
    """
    rows = []
    for name, param in params.items():
        numel = param.numel()
        if masks is not None:
            if name not in masks:
                raise ValueError(f"no mask for parameter {name!r}")
            _check_mask(name, param, masks[name])
            pruned = numel - int(masks[name].sum())
        else:
            pruned = numel - int(torch.count_nonzero(param.detach()))
        rows.append((name, str(tuple(param.shape)), numel, pruned))
    numel = sum(r[2] for r in rows)
    pruned = sum(r[3] for r in rows)
    rows.append(("TOTAL", "", numel, pruned))
    df = pd.DataFrame(rows, columns=["name", "shape", "numel", "pruned"])
    df["sparsity"] = [p / n if n else 0.0 for n, p in zip(df["numel"], df["pruned"], strict=True)]
    return df


def summarize(report_df: pd.DataFrame) -> dict[str, int | float]:
    """The TOTAL row of :func:`sparsity_report` as a run-record dict.

    Returns:
        ``{"prunable": int, "pruned": int, "reached": float}`` (``reached`` = sparsity).

    Raises:
        ValueError: no ``"TOTAL"`` row.
    """
    total = report_df[report_df["name"] == "TOTAL"]
    if len(total) != 1:
        raise ValueError("report has no single 'TOTAL' row; pass sparsity_report(...) output")
    row = total.iloc[0]
    reached = float(row["sparsity"])
    return {
        "prunable": int(row["numel"]),
        "pruned": int(row["pruned"]),
        "reached": reached if math.isfinite(reached) else 0.0,
    }
