"""The radix-selection engine behind unstructured masks: exact k-smallest selection without
sorting or concatenating the weights.

For ``x >= 0`` the integer bit pattern of a float is monotonic in ``x``, so ranking ``|w|``
is ranking integer keys. :func:`select_smallest` prunes exactly the first ``k`` elements in
(key, global position) order: one ``bincount`` pass over the top 16 bits finds the bin
holding the k-th smallest key; a second pass writes the masks and sorts only the elements of
that bin (about 0.3 % of the weights for trained or Gaussian weights; a bin of many ties is
first narrowed by further 16-bit passes). Everything is processed in chunks of
:data:`CHUNK` elements: extra memory is a few chunk buffers (about 40 MB) whatever the model
size, plus the 1-byte-per-weight masks. :func:`select_smallest_series` gives the masks of
several ``k`` from one ranking, bit for bit those of separate calls.

Keys (:class:`_Keys`): ``"magnitude"`` (the bit pattern of ``|w|``), ``"largest"`` (reversed)
or ``"random"`` (i.i.d. 62-bit integers drawn on the CPU from
``torch.Generator().manual_seed(seed)``, so a seed gives the same mask on every device, but
not across changes of :data:`CHUNK`). The policy layer (patterns, scopes, criteria) is
:mod:`junk_dna.pruning.masks`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

CHUNK: int = 1 << 22
"""Elements processed at a time by the chunked passes (bounds their temporary memory)."""

_RANDOM_KEY_HIGH = 1 << 62  # random keys are uniform integers in [0, 2**62)
_CANDIDATES_MIN = 1024  # a final bin this small is resolved by sorting its elements


def _flat(weight: Tensor) -> Tensor:
    """The weight as a 1-D tensor (a view if contiguous), detached."""
    return weight.detach().reshape(-1)


def check_floating(weights: Mapping[str, Tensor]) -> torch.device | None:
    """The one device of ``weights``, or None when empty.

    Raises:
        ValueError: a tensor that is not floating point, or tensors on several devices.
    """
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


def check_no_nan(weights: Mapping[str, Tensor]) -> None:
    """Raise ValueError naming the first tensor holding a NaN (a cheap sum first)."""
    for name, w in weights.items():
        w = w.detach()
        if w.numel() and not torch.isfinite(w.sum()) and bool(torch.isnan(w).any()):
            raise ValueError(f"weight {name!r} contains NaN; cannot rank it by magnitude")


class Workspace:
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
        workspace: Workspace,
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
            check_no_nan(self.weights)


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


def select_smallest(
    weights: Mapping[str, Tensor],
    k: int,
    kind: str,
    seed: int = 0,
    workspace: Workspace | None = None,
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
    device = check_floating(weights)
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
    keys = _Keys(weights, kind, seed, device, workspace or Workspace())
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


def select_smallest_series(
    weights: Mapping[str, Tensor],
    ks: Sequence[int],
    kind: str,
    seed: int = 0,
    workspace: Workspace | None = None,
) -> list[dict[str, Tensor]]:
    """``[select_smallest(weights, k, kind, seed) for k in ks]``, bit for bit, from one
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
            if some ``0 < k < total``, as :func:`select_smallest`).
    """
    device = check_floating(weights)
    total = sum(w.numel() for w in weights.values())
    for k in ks:
        if k < 0 or k > total:
            raise ValueError(f"cannot prune {k} of {total} weights")
    ranked = sorted({k for k in ks if 0 < k < total})
    by_k: dict[int, dict[str, Tensor]] = {}
    if ranked:
        assert device is not None
        by_k = _series_ranked(weights, ranked, kind, seed, device, workspace or Workspace())
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
    workspace: Workspace,
) -> dict[int, dict[str, Tensor]]:
    """Masks for distinct ``ks`` with ``0 < k < total`` (see :func:`select_smallest_series`)."""
    keys = _Keys(weights, kind, seed, device, workspace)
    cap = max(_CANDIDATES_MIN, keys.total // 64)  # as select_smallest

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
