"""Resampling: the draws (seeds, then the examples of each drawn seed; block-stratified for
blocks), the resampled condition values, and the two-level bootstrap of the statistic.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from junk_dna.report.stats.checks import apply_contrast, check_n_boot, check_pairs, check_scores
from junk_dna.report.stats.constants import (
    BOOTSTRAP_SEED,
    DRAW_BLOCK,
    DRAW_CACHE,
    MIN_UNITS,
    N_BOOTSTRAP,
    Contrast,
    Metric,
)


class _SeedSlots:
    """``n_boot`` and ``n_seeds`` of a resampling whose ``seed_index`` is ``(n_boot, n_seeds)``."""

    seed_index: np.ndarray

    @property
    def n_boot(self) -> int:
        return int(self.seed_index.shape[0])

    @property
    def n_seeds(self) -> int:
        return int(self.seed_index.shape[1])


@dataclass(frozen=True)
class Resampling(_SeedSlots):
    """The random part of a two-level bootstrap, independent of the scores.

    Attributes:
        seed_index: ``(n_boot, n_seeds)`` int: the seed drawn into slot k of resample b
            (all zeros with one seed: the seed level is not resampled).
        counts: per seed s, ``(m_s, n_units[s])`` multinomial counts (each row sums to
            ``n_units[s]``) for the ``m_s`` slots holding seed s, in row-major slot order.
        rows: per seed s, the flat slot indices ``b * n_seeds + k`` of those ``m_s`` slots.
        n_units: examples per seed.
    """

    seed_index: np.ndarray
    counts: tuple[np.ndarray, ...]
    rows: tuple[np.ndarray, ...]
    n_units: tuple[int, ...]


def _draw(n_units: Sequence[Sequence[int]], n_boot: int, seed: int
          ) -> tuple[np.ndarray, list[list[np.ndarray]], list[np.ndarray]]:
    """Seed indices, per seed and block the slot counts, per seed the slot rows (the order
    of draws of :func:`draw_resampling`, block after block within a seed). The same sizes
    always give the same draws: the last few are kept (read-only arrays)."""
    return _draw_cached(tuple(tuple(int(n) for n in b) for b in n_units), int(n_boot),
                        int(seed))


@functools.lru_cache(maxsize=DRAW_CACHE)
def _draw_cached(n_units: tuple[tuple[int, ...], ...], n_boot: int, seed: int
                 ) -> tuple[np.ndarray, list[list[np.ndarray]], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_seeds = len(n_units)
    if n_seeds == 1:
        seed_index = np.zeros((n_boot, 1), dtype=np.int64)
    else:
        seed_index = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    flat = seed_index.ravel()
    counts, rows = [], []
    for s, blocks in enumerate(n_units):
        r = np.flatnonzero(flat == s)
        per_block = []
        for n in blocks:
            dtype = np.uint16 if n < (1 << 16) else np.uint32
            c = np.empty((len(r), n), dtype=dtype)
            step = max(1, DRAW_BLOCK // n)
            for start in range(0, len(r), step):
                m = min(step, len(r) - start)
                idx = rng.integers(0, n, size=(m, n), dtype=np.int32)
                off = (idx + (np.arange(m, dtype=np.int64) * n)[:, None]).ravel()
                c[start:start + m] = np.bincount(off, minlength=m * n).reshape(m, n)
            per_block.append(c)
        counts.append(per_block)
        rows.append(r)
    for a in (seed_index, *rows, *(c for per_block in counts for c in per_block)):
        a.flags.writeable = False
    return seed_index, counts, rows


def draw_resampling(n_units: Sequence[int], n_boot: int = N_BOOTSTRAP,
                    seed: int = BOOTSTRAP_SEED) -> Resampling:
    """Draw the seed indices and the per-slot example counts of a two-level bootstrap.

    Order of draws from ``numpy.random.default_rng(seed)``: the ``(n_boot, n_seeds)`` seed
    indices (skipped with one seed), then for each seed in order the example indices of its
    slots, ``integers(0, n, size=(rows, n), dtype=int32)`` in blocks of ``DRAW_BLOCK // n``
    rows, turned into counts. The same shapes always give the same resampling.

    Raises:
        ValueError: no seed, a seed with fewer than ``MIN_UNITS`` examples, ``n_boot`` below
            ``MIN_BOOTSTRAP``.
    """
    n_boot = check_n_boot(n_boot)
    n_units = tuple(int(n) for n in n_units)
    if not n_units:
        raise ValueError("n_units is empty: need at least 1 seed")
    if min(n_units) < MIN_UNITS:
        raise ValueError(f"n_units {n_units} has a seed with fewer than MIN_UNITS = "
                         f"{MIN_UNITS} examples")
    seed_index, counts, rows = _draw([[n] for n in n_units], n_boot, seed)
    return Resampling(seed_index, tuple(c[0] for c in counts), tuple(rows), n_units)


@dataclass(frozen=True)
class BlockResampling(_SeedSlots):
    """The random part of a block-stratified two-level bootstrap: like :class:`Resampling`,
    with the examples of every block of a seed resampled on their own.

    Attributes:
        seed_index: ``(n_boot, n_seeds)`` int, as in :class:`Resampling`.
        counts: per seed, per block, ``(m_s, n_units[s][b])`` multinomial counts.
        rows: per seed, the flat slot indices of its ``m_s`` slots.
        n_units: per seed, the examples of each block.
    """

    seed_index: np.ndarray
    counts: tuple[tuple[np.ndarray, ...], ...]
    rows: tuple[np.ndarray, ...]
    n_units: tuple[tuple[int, ...], ...]


def draw_block_resampling(n_units: Sequence[Sequence[int]], n_boot: int = N_BOOTSTRAP,
                          seed: int = BOOTSTRAP_SEED) -> BlockResampling:
    """Draw a block-stratified two-level bootstrap: seeds with replacement, then within each
    drawn seed the examples of every block with replacement, each block on its own (its
    size fixed). Order of draws as :func:`draw_resampling`, the blocks of a seed one after
    the other: with one block per seed the draws are exactly those of
    :func:`draw_resampling`.

    Raises:
        ValueError: no seed, a seed without blocks, seeds with different numbers of blocks,
            a block with fewer than ``MIN_UNITS`` examples, ``n_boot`` below MIN_BOOTSTRAP.
    """
    n_boot = check_n_boot(n_boot)
    units = tuple(tuple(int(n) for n in blocks) for blocks in n_units)
    if not units:
        raise ValueError("n_units is empty: need at least 1 seed")
    if any(len(b) != len(units[0]) or not b for b in units):
        raise ValueError(f"n_units {units}: every seed needs the same (non-zero) number of "
                         "blocks")
    if min(min(b) for b in units) < MIN_UNITS:
        raise ValueError(f"n_units {units} has a block with fewer than MIN_UNITS = "
                         f"{MIN_UNITS} examples")
    seed_index, counts, rows = _draw(units, n_boot, seed)
    return BlockResampling(seed_index, tuple(tuple(c) for c in counts), tuple(rows), units)


def resampled_means(scores: Sequence[np.ndarray], resampling: Resampling) -> np.ndarray:
    """Condition means of every resample: ``W @ scores.T / n`` per seed, no loop over resamples.

    Args:
        scores: per seed, ``(..., C, n_units[s])`` (the same leading batch shape for all
            seeds, e.g. simulated experiments); computed in float32 if ``scores[0]`` is
            float32, else float64.
        resampling: from :func:`draw_resampling` with matching ``n_units``.

    Returns:
        ``(..., n_boot, n_seeds, C)``.

    Raises:
        ValueError: the number of seeds or of examples does not match ``resampling``.
    """
    if len(scores) != resampling.n_seeds:
        raise ValueError(f"{len(scores)} seeds of scores for a resampling of "
                         f"{resampling.n_seeds} seeds")
    x0 = np.asarray(scores[0])
    batch, n_cond = x0.shape[:-2], x0.shape[-2]
    dtype = np.float32 if x0.dtype == np.float32 else np.float64
    n_slots = resampling.n_boot * resampling.n_seeds
    out = np.empty((*batch, n_slots, n_cond), dtype=dtype)
    for s, x in enumerate(scores):
        x = np.asarray(x, dtype=dtype)
        n = resampling.n_units[s]
        if x.shape != (*batch, n_cond, n):
            raise ValueError(f"scores[{s}] has shape {x.shape}; expected {(*batch, n_cond, n)}")
        w = resampling.counts[s].astype(dtype)
        r = (x.reshape(-1, n) @ w.T) / dtype(n)
        out[..., resampling.rows[s], :] = np.swapaxes(
            r.reshape(*batch, n_cond, len(resampling.rows[s])), -1, -2)
    return out.reshape(*batch, resampling.n_boot, resampling.n_seeds, n_cond)


def _metric_rows(pred: np.ndarray, lab: np.ndarray, metric: Metric, counts: np.ndarray,
                 rows: np.ndarray, out: np.ndarray, cols: slice | Sequence[int]) -> None:
    """``metric`` of every slot's example resample (counts ``(m, n)``) into
    ``out[rows, cols]``."""
    n = lab.shape[0]
    cols = list(range(cols.start, cols.stop)) if isinstance(cols, slice) else list(cols)
    step = max(1, DRAW_BLOCK // (4 * n))
    for start in range(0, len(rows), step):
        c = counts[start:start + step]
        idx = np.repeat(np.tile(np.arange(n), len(c)), c.ravel()).reshape(len(c), n)
        y = lab[idx]
        for k, col in enumerate(cols):
            v = np.asarray(metric(pred[k][idx], y), dtype=np.float64)
            if v.shape != (len(c),):
                raise ValueError(f"metric returned shape {v.shape} for {len(c)} rows; "
                                 f"expected {(len(c),)}")
            out[rows[start:start + step], col] = v


def resampled_metric(pairs: Sequence[tuple[np.ndarray, np.ndarray]], metric: Metric,
                     resampling: Resampling) -> np.ndarray:
    """Metric values of every resample, ``(n_boot, n_seeds, C)`` (the general path)."""
    n_cond = pairs[0][0].shape[0]
    out = np.empty((resampling.n_boot * resampling.n_seeds, n_cond), dtype=np.float64)
    for s, (pred, lab) in enumerate(pairs):
        _metric_rows(pred, lab, metric, resampling.counts[s], resampling.rows[s], out,
                     slice(0, n_cond))
    return out.reshape(resampling.n_boot, resampling.n_seeds, n_cond)


def resampled_block_values(blocks: Sequence[Sequence], metrics: Sequence[Metric | None],
                           resampling: BlockResampling) -> np.ndarray:
    """Condition values of every resample of a block-stratified bootstrap,
    ``(n_boot, n_seeds, C)`` with the conditions of the blocks side by side (block 0's
    first).

    Args:
        blocks: per seed, per block: scores ``(C_b, n_b)`` (``metrics[b]`` None) or a
            ``(predictions (C_b, n_b), labels (n_b,))`` pair.
        metrics: per block, None (mean of the scores) or a row-wise metric.
        resampling: from :func:`draw_block_resampling` with matching sizes.
    """
    widths = [_block_width(b) for b in blocks[0]]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    n_slots = resampling.n_boot * resampling.n_seeds
    out = np.empty((n_slots, int(offsets[-1])), dtype=np.float64)
    for s, seed_blocks in enumerate(blocks):
        rows = resampling.rows[s]
        for k, (block, metric) in enumerate(zip(seed_blocks, metrics, strict=True)):
            cols = slice(int(offsets[k]), int(offsets[k + 1]))
            counts = resampling.counts[s][k]
            if metric is None:
                x = np.asarray(block, dtype=np.float64)
                # the product of resampled_means (same rounding with one block)
                out[rows, cols] = ((x @ counts.astype(np.float64).T) / np.float64(x.shape[1])).T
            else:
                _metric_rows(block[0], block[1], metric, counts, rows, out, cols)
    return out.reshape(resampling.n_boot, resampling.n_seeds, int(offsets[-1]))


def _block_width(block: Any) -> int:
    return int(np.shape(block[0] if isinstance(block, tuple) else block)[0])


def observed_values(per_seed: Sequence, metric: Metric | None) -> np.ndarray:
    """Per seed and condition: the mean score or the metric, ``(n_seeds, C)``."""
    if metric is None:
        return np.stack([x.mean(axis=-1, dtype=np.float64) for x in per_seed])
    rows = []
    for pred, lab in per_seed:
        v = np.asarray(metric(pred, np.broadcast_to(lab, pred.shape)), dtype=np.float64)
        if v.shape != (pred.shape[0],):
            raise ValueError(f"metric returned shape {v.shape} for {pred.shape[0]} rows; "
                             f"expected {(pred.shape[0],)}")
        rows.append(v)
    return np.stack(rows)


def per_seed_contrasts(contrast: Contrast | Sequence[Contrast], n_seeds: int
                       ) -> Contrast | list[Contrast]:
    """One contrast for every seed, or a list of one per seed (e.g. a chance level per seed:
    each fine-tuning seed has its own test labels)."""
    if callable(contrast):
        return contrast
    fs = list(contrast)
    if len(fs) != n_seeds or not all(callable(f) for f in fs):
        raise ValueError(f"contrast must be a callable or a list of {n_seeds} callables (one "
                         f"per seed), got {len(fs)} item(s)")
    return fs


def apply_seeds(contrast: Contrast | list[Contrast], values: np.ndarray) -> np.ndarray:
    """The per-seed statistic of condition values ``(..., S, C) -> (..., S)``."""
    if callable(contrast):
        return apply_contrast(contrast, values)
    return np.stack([apply_contrast(f, values[..., i, :]) for i, f in enumerate(contrast)], axis=-1)


def take_seeds(contrast: Contrast | list[Contrast], keep: np.ndarray) -> Contrast | list[Contrast]:
    """The contrasts of the seeds ``keep`` (one contrast shared by every seed is kept)."""
    return contrast if callable(contrast) else [contrast[i] for i in keep]


@dataclass(frozen=True)
class TwoLevelBootstrap:
    """Per-seed statistics observed and in every resample of a two-level bootstrap.

    Attributes:
        observed: ``(n_seeds,)`` per-seed statistic on the data.
        resampled: ``(n_boot, n_seeds)`` per-seed statistic of the seeds drawn into each
            resample, each evaluated on its own example resample.
        n_units: examples per seed.
    """

    observed: np.ndarray
    resampled: np.ndarray
    n_units: tuple[int, ...]

    @property
    def n_seeds(self) -> int:
        return int(self.observed.shape[0])


def two_level_bootstrap(per_seed: Sequence, contrast: Contrast | Sequence[Contrast], *,
                        metric: Metric | None = None,
                        n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED
                        ) -> TwoLevelBootstrap:
    """Two-level (seeds, then paired examples) bootstrap of a per-seed statistic.

    With one seed only the example level is resampled (test-set noise only). Seeds are used
    as given (:func:`estimate` drops seeds whose observed statistic is undefined first).

    Returns:
        observed ``(n_seeds,)`` and resampled ``(n_boot, n_seeds)`` per-seed statistics.

    Args:
        per_seed: per seed an array ``(C, n_s)`` of scores in [0, 1]; with ``metric``,
            ``(predictions (C, n_s), labels (n_s,))`` pairs instead.
        contrast: ``(..., C) -> (...)`` per-seed statistic of the condition values, or a
            list of one per seed.
        metric: row-wise ``(k, n), (k, n) -> (k,)`` metric (general path), or None for means.
        n_boot: resamples (>= ``MIN_BOOTSTRAP``).
        seed: generator seed.

    Raises:
        ValueError: empty ``per_seed``, shape mismatch, scores outside [0, 1], a contrast or
            metric of the wrong output shape, ``n_boot`` too small.
    """
    data = check_scores(per_seed) if metric is None else check_pairs(per_seed)
    contrast = per_seed_contrasts(contrast, len(data))
    n_units = [x.shape[1] if metric is None else x[1].shape[0] for x in data]
    observed = apply_seeds(contrast, observed_values(data, metric))
    res = draw_resampling(n_units, n_boot, seed)
    values = (resampled_means(data, res) if metric is None
              else resampled_metric(data, metric, res))
    return TwoLevelBootstrap(observed, apply_seeds(contrast, values), tuple(n_units))
