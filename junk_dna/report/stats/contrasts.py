"""Contrasts, the per-seed statistics of the condition means (retention, R difference, R
level, R slope, score difference), and the row-wise metrics (MCC, Pearson, Spearman, F1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from junk_dna.report.stats.constants import Contrast


def retention(score: np.ndarray, dense: np.ndarray, chance: float) -> np.ndarray:
    """Chance-corrected retention ``100 * (score - chance) / (dense - chance)``.

    Broadcasts ``score`` against ``dense``; NaN where ``dense == chance``.
    """
    score, dense = np.asarray(score), np.asarray(dense)
    den = dense - chance
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(den == 0, np.nan, 100 / den)  # on the (usually smaller) dense array
    return (score - chance) * scale


def _indices(name: str, idx: Sequence[int]) -> list[int] | slice:
    """Validated condition indices; a slice (a view, no copy) when they are consecutive."""
    out = [int(i) for i in idx]
    if not out or any(i < 0 for i in out):
        raise ValueError(f"{name} {list(idx)!r} must be a non-empty list of condition indices")
    if out == list(range(out[0], out[-1] + 1)):
        return slice(out[0], out[-1] + 1)
    return out


def _n(idx: list[int] | slice) -> int:
    return idx.stop - idx.start if isinstance(idx, slice) else len(idx)


def _check_chance(chance: float) -> float:
    if not 0.0 <= chance < 1.0:
        raise ValueError(f"chance {chance!r} is not in [0, 1)")
    return float(chance)


Chance = float | Sequence[float] | np.ndarray


def _chance_of(chance: Chance, dense: int, pruned: list[int] | slice) -> float:
    """The chance level of a dense condition and its pruned conditions (a curve).

    ``chance`` is one number for every condition, or one per condition (a vector indexed like
    the condition means: e.g. option_count's 2-option conditions at 1/2 and its 5-option ones
    at 1/5). A pruned condition must have its dense condition's chance level (the same task
    and condition, only the model differs).

    Raises:
        ValueError: a chance level outside [0, 1), or a pruned condition whose chance level
            differs from its dense condition's.
    """
    if np.ndim(chance) == 0:
        return _check_chance(float(chance))
    vec = np.asarray(chance, dtype=float)
    if vec.ndim != 1:
        raise ValueError(f"chance must be a number or a vector (one per condition), got shape "
                         f"{vec.shape}")
    for v in vec:
        _check_chance(float(v))
    idx = list(range(pruned.start, pruned.stop)) if isinstance(pruned, slice) else pruned
    if max(dense, *idx) >= len(vec) or min(dense, *idx) < -len(vec):
        raise ValueError(f"chance vector of length {len(vec)} does not cover conditions "
                         f"{dense} and {idx}")
    cd, cp = float(vec[dense]), vec[idx]
    if not np.allclose(cp, cd, rtol=0, atol=1e-12):
        raise ValueError(f"chance of pruned conditions {np.round(cp, 4).tolist()} differs from "
                         f"their dense condition's {cd:.4g}: R needs one chance level per curve")
    return cd


def retention_difference(dense_a: int, pruned_a: Sequence[int], dense_b: int,
                         pruned_b: Sequence[int], chance: Chance) -> Contrast:
    """Contrast: mean over k of ``R(pruned_a[k] | dense_a) - R(pruned_b[k] | dense_b)``.

    Pairs the k-th pruned condition of group a with that of group b (same sparsity).
    ``means (..., C) -> (...)``; NaN where either dense score equals its chance level.
    ``chance``: one level for all conditions, or a vector with one per condition (the two
    groups may differ, e.g. 2 options at 1/2 against 5 options at 1/5).

    Raises:
        ValueError: ``pruned_a`` and ``pruned_b`` differ in length or are empty; bad chance.
    """
    pa, pb = _indices("pruned_a", pruned_a), _indices("pruned_b", pruned_b)
    if _n(pa) != _n(pb):
        raise ValueError(f"pruned_a {list(pruned_a)} and pruned_b {list(pruned_b)} differ in "
                         "length")
    ca = _chance_of(chance, dense_a, pa)
    cb = _chance_of(chance, dense_b, pb)

    def f(means: np.ndarray) -> np.ndarray:
        ra = retention(means[..., pa], means[..., dense_a, None], ca)
        ra -= retention(means[..., pb], means[..., dense_b, None], cb)
        return ra.mean(axis=-1)

    return f


def retention_level(dense: int, pruned: Sequence[int], chance: Chance,
                    minus: float = 100.0) -> Contrast:
    """Contrast: mean over k of ``R(pruned[k] | dense) - minus`` (e.g. ``R(freeze) - 100``,
    the distance from the dense model of a "recovers" claim; ``minus=0`` gives mean R).

    Raises:
        ValueError: empty ``pruned``; bad chance.
    """
    p = _indices("pruned", pruned)
    c = _chance_of(chance, dense, p)
    minus = float(minus)

    def f(means: np.ndarray) -> np.ndarray:
        return retention(means[..., p], means[..., dense, None], c).mean(axis=-1) - minus

    return f


def retention_slope(dense: int, pruned: Sequence[int], sparsities: Sequence[float],
                    chance: Chance) -> Contrast:
    """Contrast: OLS slope of R over sparsity, the dense point (0, 100) included.

    ``means (..., C) -> (...)`` in R points per unit of ``sparsities``; NaN where the dense
    score equals its chance level. ``chance``: a number or a vector (one per condition).

    Raises:
        ValueError: ``pruned`` and ``sparsities`` differ in length, or a sparsity is <= 0.
    """
    p = _indices("pruned", pruned)
    x = np.asarray(sparsities, dtype=float)
    if x.shape != (_n(p),) or (x <= 0).any():
        raise ValueError(f"sparsities {list(sparsities)!r} must be positive, one per pruned "
                         f"condition {p}")
    chance = _chance_of(chance, dense, p)
    xs = np.concatenate([[0.0], x])
    w = (xs - xs.mean()) / ((xs - xs.mean()) ** 2).sum()

    def f(means: np.ndarray) -> np.ndarray:
        r = retention(means[..., p], means[..., dense, None], chance)
        # R at sparsity 0 is 100 where defined: NaN with the rest of the curve otherwise
        return 100.0 * w[0] + r @ w[1:].astype(r.dtype)

    return f


def average(contrasts: Sequence[Contrast]) -> Contrast:
    """Contrast: the mean of several contrasts of the same condition means (e.g. the slopes
    of several curves); NaN where any of them is.

    Raises:
        ValueError: no contrast.
    """
    fs = list(contrasts)
    if not fs:
        raise ValueError("average needs at least one contrast")
    if len(fs) == 1:
        return fs[0]

    def f(means: np.ndarray) -> np.ndarray:
        out = np.asarray(fs[0](means), dtype=np.float64).copy()
        for g in fs[1:]:
            out += g(means)
        return out / len(fs)

    return f


def mean_difference(a: int, b: int, scale: float = 100.0) -> Contrast:
    """Contrast: ``scale * (means[..., a] - means[..., b])`` (points with scale 100)."""
    a, b = int(a), int(b)

    def f(means: np.ndarray) -> np.ndarray:
        return scale * (means[..., a] - means[..., b])

    return f


def matthews_corrcoef(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row-wise binary MCC: ``(k, n), (k, n) -> (k,)``; 0 where undefined (sklearn's rule)."""
    p, y = np.asarray(predictions).astype(bool), np.asarray(labels).astype(bool)
    tp = (p & y).sum(-1, dtype=np.float64)
    tn = (~p & ~y).sum(-1, dtype=np.float64)
    fp = (p & ~y).sum(-1, dtype=np.float64)
    fn = (~p & y).sum(-1, dtype=np.float64)
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (tp * tn - fp * fn) / den, 0.0)


def pearson_r(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation: ``(k, n), (k, n) -> (k,)``; NaN for a constant row."""
    p = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    p = p - p.mean(-1, keepdims=True)
    y = y - y.mean(-1, keepdims=True)
    den = np.sqrt((p * p).sum(-1) * (y * y).sum(-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (p * y).sum(-1) / den, np.nan)


def spearman_r(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation (Pearson of average ranks): ``(k, n), (k, n) -> (k,)``;
    NaN for a constant row."""
    p = stats.rankdata(np.asarray(predictions, dtype=np.float64), axis=-1)
    y = stats.rankdata(np.asarray(labels, dtype=np.float64), axis=-1)
    return pearson_r(p, y)


def binary_f1(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Row-wise F1 of the positive class (1): ``(k, n), (k, n) -> (k,)``; 0 where undefined
    (no predicted and no true positive; sklearn's ``zero_division=0``)."""
    p, y = np.asarray(predictions).astype(bool), np.asarray(labels).astype(bool)
    tp = (p & y).sum(-1, dtype=np.float64)
    den = p.sum(-1, dtype=np.float64) + y.sum(-1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 2 * tp / den, 0.0)
