"""Interval estimates: the Student t, percentile, bootstrap-t and delta-method normal bounds,
:class:`Estimate`, :func:`estimate` and :func:`estimate_blocks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy import linalg, special, stats

from junk_dna.report.stats.checks import (
    apply_contrast,
    check_level,
    check_method,
    check_n_boot,
    check_pairs,
    check_scores,
)
from junk_dna.report.stats.constants import (
    AUTO,
    AUTO_MULTI_SEED,
    AUTO_ONE_SEED,
    BOOTSTRAP_SEED,
    BOOTSTRAP_T,
    LEVEL,
    MAX_UNDEFINED_SHARE,
    MIN_SEEDS_T,
    N_BOOTSTRAP,
    NORMAL,
    PERCENTILE,
    STUDENT_T,
    Contrast,
    Metric,
)
from junk_dna.report.stats.resampling import (
    apply_seeds,
    draw_block_resampling,
    draw_resampling,
    observed_values,
    per_seed_contrasts,
    resampled_block_values,
    resampled_means,
    resampled_metric,
    take_seeds,
)


@dataclass(frozen=True)
class Estimate:
    """A per-seed statistic averaged over seeds, with its interval.

    Attributes:
        value: mean over seeds of the per-seed statistic.
        ci_low, ci_high: confidence interval at ``level``.
        p_value: two-sided p-value against 0.
        se: standard error of ``value``.
        sd_between: seed-to-seed SD of the per-seed statistic (NaN with one seed).
        n_seeds: seeds used; n_units: fewest examples (questions) of a seed used.
        method: what the interval covers, in words.
        level: confidence level.
    """

    value: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    sd_between: float
    n_seeds: int
    n_units: int
    method: str
    level: float = LEVEL


def t_bounds(c: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Student t over the last axis ``(..., S)``: value, lo, hi, se, p."""
    s = c.shape[-1]
    m = c.mean(-1)
    se = c.std(-1, ddof=1) / math.sqrt(s)
    q = stats.t.ppf(0.5 + level / 2, s - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(m / se), s - 1),
                     np.where(m == 0, 1.0, 0.0))
    return m, m - q * se, m + q * se, se, p


def _quantiles(x: np.ndarray, probs: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Quantiles over the last axis, NaN resamples dropped; NaN where more than
    ``MAX_UNDEFINED_SHARE`` of them are undefined."""
    bad = np.isnan(x)
    with np.errstate(invalid="ignore"):  # inf - inf between two infinite bootstrap-t values
        if bad.any():
            q = np.nanquantile(x, probs, axis=-1)
            q = np.where(bad.mean(-1) > MAX_UNDEFINED_SHARE, np.nan, q)
        else:
            q = np.quantile(x, probs, axis=-1)
    return tuple(q)


def _tail_p(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``2 * min(P*(x <= at), P*(x >= at))`` over the last axis, NaN-aware, at most 1."""
    ok = ~np.isnan(x)
    n = ok.sum(-1)
    at = np.asarray(at)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        le = ((x <= at) & ok).sum(-1) / n
        ge = ((x >= at) & ok).sum(-1) / n
    p = np.minimum(1.0, 2 * np.minimum(le, ge))
    return np.where((1 - n / x.shape[-1]) > MAX_UNDEFINED_SHARE, np.nan, p)


def percentile_bounds(observed: np.ndarray, resampled: np.ndarray, level: float
                      ) -> tuple[np.ndarray, ...]:
    """Percentile interval of the seed mean: observed ``(..., S)``, resampled ``(..., B, S)``
    -> value, lo, hi, se, p."""
    star = resampled.mean(-1)
    lo, hi = _quantiles(star, (0.5 - level / 2, 0.5 + level / 2))
    return observed.mean(-1), lo, hi, np.nanstd(star, axis=-1, ddof=1), _tail_p(star, 0.0)


def bootstrap_t_bounds(observed: np.ndarray, resampled: np.ndarray, level: float
                       ) -> tuple[np.ndarray, ...]:
    """Bootstrap-t of the seed mean, each resample studentized by its own between-seed SE."""
    s = observed.shape[-1]
    m = observed.mean(-1)
    se = observed.std(-1, ddof=1) / math.sqrt(s)
    star = resampled.mean(-1)
    se_star = resampled.std(-1, ddof=1) / math.sqrt(s)
    diff = star - m[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se_star > 0, diff / se_star, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    t = np.where(np.isnan(star), np.nan, t)
    qlo, qhi = _quantiles(t, (0.5 - level / 2, 0.5 + level / 2))
    with np.errstate(invalid="ignore"):
        lo = np.where(se > 0, m - qhi * se, m)
        hi = np.where(se > 0, m - qlo * se, m)
        tobs = np.where(se > 0, m / np.where(se > 0, se, 1.0), np.sign(m) * np.inf)
    p = _tail_p(t, tobs)
    p = np.where(se > 0, p, np.where(m == 0, 1.0, 0.0))
    return m, lo, hi, se, p


def normal_bounds(x: np.ndarray, contrast: Contrast, level: float, step: float = 1e-5
                  ) -> tuple[np.ndarray, ...]:
    """Delta-method normal interval over examples of one seed: x ``(..., C, n)``."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    m = x.mean(-1)
    xc = x - m[..., None]
    cov = xc @ np.swapaxes(xc, -1, -2) / ((n - 1) * n)
    return _delta_bounds(m, cov, contrast, level, step)


def _delta_bounds(m: np.ndarray, cov: np.ndarray, contrast: Contrast, level: float,
                  step: float = 1e-5) -> tuple[np.ndarray, ...]:
    """Delta-method normal interval of ``contrast(m)`` with ``cov`` the covariance of the
    condition means ``m (..., C)``."""
    n_cond = m.shape[-1]
    eye = step * np.eye(n_cond)
    grad = (apply_contrast(contrast, m[..., None, :] + eye)
            - apply_contrast(contrast, m[..., None, :] - eye)) / (2 * step)
    se = np.sqrt(np.maximum(np.einsum("...i,...ij,...j->...", grad, cov, grad), 0.0))
    value = apply_contrast(contrast, m)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * special.ndtr(-np.abs(value / se)),
                     np.where(value == 0, 1.0, 0.0))
    p = np.where(np.isnan(value), np.nan, p)
    return value, value - z * se, value + z * se, se, p


def _units_phrase(n_units: Sequence[int]) -> str:
    lo, hi = min(n_units), max(n_units)
    return f"{lo} examples" if lo == hi else f"{lo}-{hi} examples"


def _blocks_phrase(n_units: Sequence[Sequence[int]]) -> str:
    """``2 blocks of 262 + 366 examples`` (sizes of the first seed; a range if they vary)."""
    per_block = list(zip(*n_units, strict=True))
    if len(per_block) == 1:
        return _units_phrase(per_block[0])
    parts = [_units_phrase(sizes).removesuffix(" examples") for sizes in per_block]
    return f"{len(per_block)} blocks of {' + '.join(parts)} examples"


def _interval(values: np.ndarray, contrast: Contrast | list[Contrast], n_units: list[int],
              units: Callable[[np.ndarray], str],
              resample: Callable[[np.ndarray, int, int], np.ndarray],
              normal: Callable[[int, Contrast], tuple[np.ndarray, ...]] | None,
              method: str, level: float, n_boot: int, seed: int, *, stratified: bool,
              normal_error: str) -> Estimate:
    """The shared core of :func:`estimate` and :func:`estimate_blocks`.

    ``values``: observed condition values ``(S, C)``; ``n_units``: the fewest examples of
    each seed; ``units(keep)``: the phrase naming the examples of the kept seeds;
    ``resample(keep, n_boot, seed)``: resampled condition values ``(n_boot, S_kept, C)``;
    ``normal(i, f)``: the delta-method bounds of seed ``i`` (None: not available).
    """
    observed = apply_seeds(contrast, values)
    keep = np.flatnonzero(~np.isnan(observed))
    n_all = len(observed)
    dropped = "" if len(keep) == n_all else \
        f"; {n_all - len(keep)} of {n_all} seeds undefined, dropped"
    observed = observed[keep]
    contrast = take_seeds(contrast, keep)
    n_seeds = len(keep)
    if method == AUTO:
        method = AUTO_MULTI_SEED if n_seeds >= MIN_SEEDS_T else AUTO_ONE_SEED
    if n_seeds == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, nan, nan, nan, 0, 0,
                        f"undefined in every seed ({n_all} seeds)", level)
    if method in (STUDENT_T, BOOTSTRAP_T) and n_seeds < MIN_SEEDS_T:
        raise ValueError(f"method {method!r} needs >= {MIN_SEEDS_T} seeds with a defined "
                         f"statistic, got {n_seeds}")
    if method == NORMAL and (n_seeds != 1 or normal is None):
        raise ValueError(f"method 'normal' needs exactly 1 seed of per-example scores, got "
                         f"{n_seeds} seed(s){normal_error}")
    phrase = units(keep)
    fewest = min(n_units[i] for i in keep)
    sd_between = float(observed.std(ddof=1)) if n_seeds >= 2 else float("nan")
    strat = "stratified " if stratified else ""
    if method == STUDENT_T:
        out = t_bounds(observed, level)
        desc = f"Student t over {n_seeds} seeds ({phrase} each)"
    elif method == NORMAL:
        first = contrast if callable(contrast) else contrast[0]
        out = normal(int(keep[0]), first)
        desc = f"normal (delta) over {phrase} (test-set noise only, 1 seed)"
    else:
        resampled = apply_seeds(contrast, resample(keep, n_boot, seed))
        bounds = percentile_bounds if method == PERCENTILE else bootstrap_t_bounds
        out = bounds(observed, resampled, level)
        if n_seeds == 1:
            desc = f"{strat}paired bootstrap over {phrase} (test-set noise only, 1 seed)"
        else:
            kind = "percentile bootstrap" if method == PERCENTILE else "bootstrap-t"
            desc = f"two-level {strat}{kind} over {n_seeds} seeds x {phrase}"
        undefined = float(np.isnan(resampled.mean(-1)).mean())
        if undefined > 0:
            desc += f"; {undefined:.1%} of {n_boot} resamples undefined"
    value, lo, hi, se, p = (float(v) for v in out)
    return Estimate(value, lo, hi, p, se, sd_between, n_seeds, fewest, desc + dropped, level)


def estimate(per_seed: Sequence, contrast: Contrast | Sequence[Contrast], *,
             metric: Metric | None = None, method: str = AUTO, level: float = LEVEL,
             n_boot: int = N_BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """Mean over seeds of a per-seed statistic, with a CI and a p-value against 0.

    Args:
        per_seed: per seed an array ``(C, n_s)`` of scores in [0, 1]; with ``metric``,
            ``(predictions (C, n_s), labels (n_s,))`` pairs.
        contrast: ``(..., C) -> (...)`` per-seed statistic of the condition values, or a list
            of one per seed (e.g. each with that seed's chance levels).
        metric: row-wise ``(k, n), (k, n) -> (k,)`` metric, or None (means of scores).
        method: one of :data:`METHODS`; ``"auto"`` is :data:`AUTO_MULTI_SEED` with two or
            more seeds and :data:`AUTO_ONE_SEED` with one.
        level: confidence level in (0, 1).
        n_boot, seed: bootstrap resamples and generator seed.

    Raises:
        ValueError: bad ``level``, ``method`` or ``n_boot``; empty ``per_seed``; shape
            mismatch; scores outside [0, 1]; ``student_t``/``bootstrap_t`` with fewer than
            2 seeds of defined statistic; ``normal`` with more than one seed or a metric; a
            list of contrasts not one per seed.
    """
    level = check_level(level)
    method = check_method(method)
    n_boot = check_n_boot(n_boot)
    data = check_scores(per_seed) if metric is None else check_pairs(per_seed)
    contrast = per_seed_contrasts(contrast, len(data))
    n_units = [x.shape[1] if metric is None else x[1].shape[0] for x in data]

    def resample(keep: np.ndarray, n: int, gen_seed: int) -> np.ndarray:
        sub = [data[i] for i in keep]
        res = draw_resampling([n_units[i] for i in keep], n, gen_seed)
        return resampled_means(sub, res) if metric is None else \
            resampled_metric(sub, metric, res)

    def normal(i: int, f: Contrast) -> tuple[np.ndarray, ...]:
        return normal_bounds(data[i], f, level)

    return _interval(observed_values(data, metric), contrast, n_units,
                     lambda keep: _units_phrase([n_units[i] for i in keep]), resample,
                     normal if metric is None else None, method, level, n_boot, seed,
                     stratified=False, normal_error=" and a metric" if metric is not None
                     else "")


def _check_blocks(per_seed: Sequence[Sequence], metrics: Sequence[Metric | None] | None
                  ) -> tuple[list[list], list[Metric | None]]:
    """Validated blocks (scores or pairs per block) and one metric (or None) per block."""
    if len(per_seed) == 0:
        raise ValueError("per_seed is empty: need at least 1 seed")
    n_blocks = len(per_seed[0])
    if n_blocks == 0:
        raise ValueError("per_seed[0] has no block")
    metrics = [None] * n_blocks if metrics is None else list(metrics)
    if len(metrics) != n_blocks:
        raise ValueError(f"{len(metrics)} metrics for {n_blocks} blocks")
    out: list[list] = []
    for s, blocks in enumerate(per_seed):
        if len(blocks) != n_blocks:
            raise ValueError(f"per_seed[{s}] has {len(blocks)} blocks, per_seed[0] has "
                             f"{n_blocks}: every seed needs the same blocks")
        out.append([])
    for k, metric in enumerate(metrics):
        column = [blocks[k] for blocks in per_seed]
        try:
            checked = check_scores(column) if metric is None else check_pairs(column)
        except ValueError as err:
            raise ValueError(f"block {k}: {err}") from err
        for s, block in enumerate(checked):
            out[s].append(block if metric is None else (block[0], np.asarray(block[1])))
    return out, metrics


def estimate_blocks(per_seed: Sequence[Sequence], contrast: Contrast | Sequence[Contrast], *,
                    metrics: Sequence[Metric | None] | None = None, method: str = AUTO,
                    level: float = LEVEL, n_boot: int = N_BOOTSTRAP,
                    seed: int = BOOTSTRAP_SEED) -> Estimate:
    """:func:`estimate` for conditions scored on different example sets within a seed.

    Within a seed, the conditions fall into blocks: the conditions of one block are scored
    on the same examples (paired), different blocks on different examples (e.g. human_gap's
    SST-2 and CommonsenseQA, factoid_vs_mc's TriviaQA and ARC-Easy). The bootstrap draws the
    seeds with replacement and then, within each drawn seed, the examples of every block
    independently (stratified by block, each block keeping its size). The conditions are
    indexed across the blocks, block 0's first: the contrast sees one vector of condition
    values per seed.

    With a single block per seed this is exactly :func:`estimate` (the same draws).

    Args:
        per_seed: per seed, per block: scores ``(C_b, n_b)`` in [0, 1], or with
            ``metrics[b]`` a ``(predictions (C_b, n_b), labels (n_b,))`` pair. Every seed
            has the same blocks with the same ``C_b``; ``n_b`` may differ across seeds.
        contrast: ``(..., sum C_b) -> (...)``, or a list of one per seed.
        metrics: per block, None (mean of the scores) or a row-wise metric.
        method, level, n_boot, seed: as :func:`estimate` (``normal``: one seed, scores
            only; the covariance is block-diagonal).

    Returns:
        An :class:`Estimate`; ``n_units`` is the smallest block of a seed used.

    Raises:
        ValueError: as :func:`estimate`, naming the block; seeds with different blocks.
    """
    level = check_level(level)
    method = check_method(method)
    n_boot = check_n_boot(n_boot)
    data, metrics = _check_blocks(per_seed, metrics)
    contrast = per_seed_contrasts(contrast, len(data))
    sizes = [[_block_units(b) for b in blocks] for blocks in data]
    values = np.stack([np.concatenate([observed_values([b], m)[0]
                                       for b, m in zip(blocks, metrics, strict=True)])
                       for blocks in data])

    def resample(keep: np.ndarray, n: int, gen_seed: int) -> np.ndarray:
        res = draw_block_resampling([sizes[i] for i in keep], n, gen_seed)
        return resampled_block_values([data[i] for i in keep], metrics, res)

    def normal(i: int, f: Contrast) -> tuple[np.ndarray, ...]:
        covs = []
        for x in data[i]:
            n = x.shape[1]
            xc = x - x.mean(-1, keepdims=True)
            covs.append(xc @ xc.T / ((n - 1) * n))
        return _delta_bounds(values[i], linalg.block_diag(*covs), f, level)

    scores_only = all(m is None for m in metrics)
    return _interval(values, contrast, [min(b) for b in sizes],
                     lambda keep: _blocks_phrase([sizes[i] for i in keep]), resample,
                     normal if scores_only else None, method, level, n_boot, seed,
                     stratified=len(sizes[0]) > 1,
                     normal_error="" if scores_only else " and a metric")


def _block_units(block: Any) -> int:
    return int(block[1].shape[0]) if isinstance(block, tuple) else int(block.shape[1])
