"""Interval estimates, verdicts, multiplicity and power for the claims, with their calibration.

Data model
----------
Fine-tuning: runs are indexed by (condition, seed). Every seed has its own train/test split,
so seeds are independent; within a seed all conditions are scored on the same test examples
(paired). ``per_seed[s]`` is an array ``(n_conditions, n_units_s)`` of per-example scores in
[0, 1] (0/1 correctness, EM or F1 per question); ``n_units_s`` may differ across seeds.
Zero-shot: usually one seed (one model), the questions are the sampling unit.

A statistic is computed *per seed* from that seed's vector of condition means by a vectorized
``contrast(means) -> values``, ``means`` of shape ``(..., n_conditions)``, result ``(...)``
(builders: :func:`retention_difference`, :func:`retention_slope`, :func:`mean_difference`).
The estimand is the expectation, over seeds and test sets, of that per-seed statistic; the
estimate is its mean over seeds. Metrics that are not means of per-example scores (MCC,
Pearson) take the slower general path: ``per_seed[s] = (predictions (C, n_s), labels
(n_s,))`` and a row-wise ``metric(predictions (k, n), labels (k, n)) -> (k,)``.

Chance levels may differ by condition (``chance`` of the retention builders is a number or a
vector with one level per condition, e.g. option_count's 2 options at 1/2 against 5 options at
1/5) and by seed (``contrast`` may be a list with one contrast per seed: each fine-tuning seed
has its own test labels, hence its own majority-class rate).

Conditions scored on *different* example sets within a seed (human_gap's SST-2 and
CommonsenseQA, factoid_vs_mc's TriviaQA and ARC-Easy) are *blocks*: :func:`estimate_blocks`
takes per seed a list of blocks ``(C_b, n_b)`` (conditions indexed across the blocks, block
0's first) and resamples the examples of each block independently within every drawn seed
(stratified by block). With one block per seed it is exactly :func:`estimate` (the same
draws, tested); its coverage was checked by simulation (tests/test_stats.py, 250 experiments
per cell, two blocks of 200 and 225 examples: 96.4 / 94.8 % with one seed, 95.2 / 93.6 % with
3 seeds at a seed SD of 2 points, for an R difference at a true 0 and a score difference at a
known effect).

NaN policy: a contrast is NaN where it is undefined (e.g. dense == chance for a retention).
A seed whose observed statistic is NaN is dropped (``Estimate.n_seeds`` counts the seeds used
and ``method`` says how many were dropped); no seed left gives an all-NaN estimate. Bootstrap
resamples whose statistic is NaN are discarded; if more than :data:`MAX_UNDEFINED_SHARE` of
them are, the CI and p-value are NaN (the interval would be conditional on a rare event).

Interval methods (``method=``)
------------------------------
* ``"student_t"``: Student t interval over the per-seed statistics (n_seeds >= 2); exact
  for normal per-seed statistics whatever the ratio of seed-level to test-set noise, since
  each seed's statistic already carries its own test-set noise.
* ``"percentile"``: two-level percentile bootstrap: seeds with replacement, then the test
  examples of each drawn seed with replacement, the same example indices for every condition
  (paired); with one seed only the example level (the paired example/question bootstrap,
  which covers test-set noise only).
* ``"bootstrap_t"``: the same resamples, each studentized by its own between-seed SE.
* ``"normal"``: one seed only: the delta-method normal interval over examples (the analytic
  counterpart of the paired bootstrap; test-set noise only).

Chosen verdict method (``method="auto"``) and why
--------------------------------------------------
Calibrated by simulation (:class:`SimDesign`, :func:`calibrate`; 1,000 experiments per cell,
10,000 resamples, truth of ratio statistics by Monte Carlo over :data:`N_TRUTH` = 200,000
per-seed draws). Fine-tuning cells: 262 test examples, 1/2/3/5/8 seeds, seed-level SD of each
condition's true accuracy 0/1/2/4 points (test-set SE ~2.4 points); zero-shot cells: one
model, 250/500/900 questions, dense 0.80 or 0.55 (chance 0.25); statistics: R difference over
3 sparsities, OLS slope of R with the dense point, plain score difference; effect and null
truths. Coverage % (min-max over cells) and largest rate of "supported" at a true effect of 0
(one-sided; 2.5 % expected)::

    method                   >= 3 seeds (72)    5 seeds (24)      2 seeds (24)      zero-shot (36)
    two-level bootstrap-t    93.1-96.3, <=3.6   93.6-96.3, <=3.6  93.4-96.5, <=3.6
    Student t                93.3-96.8, <=3.3   94.5-96.2, <=2.9  92.2-96.7, <=3.8
    two-level percentile     89.0-99.1, <=5.0   92.0-99.0, <=4.3  82.3-98.0, <=9.7
    seed-only percentile     72.8-89.7, <=12.9                    45.7-54.9, <=28.3
    paired bootstrap, 1 seed                                                        93.7-96.6, <=3.1
    normal (delta), 1 seed                                                          93.9-96.2, <=3.8

``method="auto"`` is the **two-level bootstrap-t** with >= 2 seeds (calibrated in every cell
with >= 2 seeds, so the preference for a two-level bootstrap applies) and the **paired
percentile bootstrap** with one seed. Student t is equally calibrated with the same power
within a few points (R difference of ~12 points, 5 seeds, seed SD 0/1/2/4: supported in
68/62/49/34 % vs 69/63/49/32 %); the bootstrap-t interval is 1-12 % wider at 5 seeds, 5-40 %
at 3. Set :data:`AUTO_MULTI_SEED` to ``STUDENT_T`` to switch. Two seeds are valid but nearly
uninformative (half-width ~7x that of 5 seeds; a 12-point R difference is supported in 8-13 %).
One fine-tuning seed covers test-set noise only: 86-89 % coverage of the seed-inclusive
estimand at a seed SD of 2 points, 70-76 % at 4 points.

Resampling both levels with replacement counts the test-set (within-seed) variance twice
(Davison & Hinkley 1997, sec. 3.8; Field & Welsh 2007): the observed per-seed statistics
already vary by seed noise *and* test-set noise, and the inner resampling adds the test-set
noise again. The percentile interval is therefore too wide when test-set noise dominates and
too narrow (normal quantiles, (S-1)/S variance) when seed noise dominates. Studentizing each
resample by its own between-seed spread, which holds both noise sources once, removes both
errors; the price is a heavier-tailed t* with 2-3 seeds, hence the wider intervals. The full
table (every method and cell) is in ``docs/STATISTICS.md``, printed by
``benchmarks/calibrate_stats.py``.

Verdicts (:func:`verdict`, :func:`equivalence_verdict`, :func:`holm_verdicts`) use only the
CI of an :class:`Estimate`, so every claim follows the same rule (cf. Dror et al., ACL 2018).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy import linalg, special, stats

# ----------------------------------------------------------------------------- constants

#: Default confidence level of every interval.
LEVEL = 0.95
#: Bootstrap resamples (default) and the fewest accepted.
N_BOOTSTRAP = 10_000
MIN_BOOTSTRAP = 5_000
#: Seed of the bootstrap generator: the same data always give the same interval.
BOOTSTRAP_SEED = 0
#: Fewest test examples (questions) per seed.
MIN_UNITS = 2
#: Fewest seeds for the Student t interval and the bootstrap-t.
MIN_SEEDS_T = 2
#: Largest share of bootstrap resamples with an undefined statistic that are simply dropped.
MAX_UNDEFINED_SHARE = 0.01
#: The random integers of the example-level resampling are drawn in blocks of this many.
DRAW_BLOCK = 1 << 22
#: Resamplings kept for reuse (the claims estimate many statistics on the same sizes).
DRAW_CACHE = 4

#: Verdict words.
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_TESTABLE = "not testable"
VERDICTS: tuple[str, ...] = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)
#: Predicted directions of an effect.
DIRECTIONS: tuple[int, int] = (1, -1)
#: Expectations of an equivalence ("recovers") claim.
RECOVERS, DOES_NOT_RECOVER = "recovers", "does not recover"
EXPECTS: tuple[str, str] = (RECOVERS, DOES_NOT_RECOVER)

#: Interval methods.
AUTO, STUDENT_T, PERCENTILE, BOOTSTRAP_T, NORMAL = (
    "auto", "student_t", "percentile", "bootstrap_t", "normal")
METHODS: tuple[str, ...] = (AUTO, STUDENT_T, PERCENTILE, BOOTSTRAP_T, NORMAL)
#: What ``method="auto"`` uses with two or more seeds, and with one seed (see the module
#: docstring for the calibration behind this choice).
AUTO_MULTI_SEED = BOOTSTRAP_T
AUTO_ONE_SEED = PERCENTILE

#: Simulator defaults (see :class:`SimDesign`): probit-scale SD of the example difficulty
#: shared by all conditions of a seed, and of the per-condition per-example noise. The latent
#: correlation of two conditions on one example is 1.5**2 / (1.5**2 + 1.1**2) = 0.65.
SIM_DIFFICULTY_SD = 1.5
SIM_NOISE_SD = 1.1
#: Correlation of the seed effects of the conditions of one seed.
SIM_SEED_CORR = 0.5
#: True accuracies are clipped to this range after adding the seed effect.
SIM_MU_RANGE = (0.005, 0.995)
#: Per-seed draws for a Monte Carlo estimand (its error is ~SD / 450, under 0.3 % of the
#: narrowest CI half-width in the calibration grid).
N_TRUTH = 200_000
#: Simulated experiments per calibration cell.
N_EXPERIMENTS = 1_000
#: Elements of one block of resampled means in :func:`calibrate` (memory bound).
CALIBRATION_BLOCK = 1 << 24

Contrast = Callable[[np.ndarray], np.ndarray]
Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------- checks


def _check_level(level: float) -> float:
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ValueError(f"level {level!r} is not in the open interval (0, 1)")
    return float(level)


def _check_direction(direction: int) -> int:
    if direction not in DIRECTIONS or isinstance(direction, bool):
        raise ValueError(f"direction {direction!r} is not one of {DIRECTIONS}")
    return int(direction)


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    return method


def _check_n_boot(n_boot: int) -> int:
    if not isinstance(n_boot, int | np.integer) or n_boot < MIN_BOOTSTRAP:
        raise ValueError(f"n_boot {n_boot!r} is below MIN_BOOTSTRAP = {MIN_BOOTSTRAP} "
                         "(or not an integer)")
    return int(n_boot)


def _check_scores(per_seed: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Validated float arrays ``(C, n_s)`` of per-example scores in [0, 1]."""
    if len(per_seed) == 0:
        raise ValueError("per_seed is empty: need at least 1 seed")
    out = []
    for s, x in enumerate(per_seed):
        a = np.asarray(x)
        if a.dtype != np.float32:
            a = a.astype(np.float64)
        if a.ndim != 2:
            raise ValueError(f"per_seed[{s}] has shape {a.shape}; expected "
                             "(n_conditions, n_examples)")
        if a.shape[0] < 1 or a.shape[1] < MIN_UNITS:
            raise ValueError(f"per_seed[{s}] has shape {a.shape}: need >= 1 condition and "
                             f">= MIN_UNITS = {MIN_UNITS} examples")
        if a.shape[0] != np.shape(per_seed[0])[0]:
            raise ValueError(f"per_seed[{s}] has {a.shape[0]} conditions, per_seed[0] has "
                             f"{np.shape(per_seed[0])[0]}: every seed needs the same conditions")
        bad = ~np.isfinite(a) | (a < 0) | (a > 1)
        if bad.any():
            c, i = np.argwhere(bad)[0]
            raise ValueError(f"per_seed[{s}][{c}, {i}] = {float(a[c, i])!r} is not a score in "
                             "[0, 1]")
        out.append(a)
    return out


def _check_pairs(per_seed: Sequence[tuple[np.ndarray, np.ndarray]]
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validated ``(predictions (C, n_s), labels (n_s,))`` pairs."""
    if len(per_seed) == 0:
        raise ValueError("per_seed is empty: need at least 1 seed")
    out = []
    for s, item in enumerate(per_seed):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"per_seed[{s}] is not a (predictions, labels) pair")
        pred, lab = np.asarray(item[0]), np.asarray(item[1])
        if pred.ndim != 2 or lab.ndim != 1 or pred.shape[1] != lab.shape[0]:
            raise ValueError(f"per_seed[{s}]: predictions {pred.shape} and labels {lab.shape} "
                             "are not (n_conditions, n_examples) and (n_examples,)")
        if lab.shape[0] < MIN_UNITS:
            raise ValueError(f"per_seed[{s}] has {lab.shape[0]} examples; need >= MIN_UNITS = "
                             f"{MIN_UNITS}")
        if pred.shape[0] != np.shape(per_seed[0][0])[0]:
            raise ValueError(f"per_seed[{s}] has {pred.shape[0]} conditions, per_seed[0] has "
                             f"{np.shape(per_seed[0][0])[0]}")
        out.append((pred, lab))
    return out


def _apply(contrast: Contrast, means: np.ndarray) -> np.ndarray:
    """``contrast(means)`` with its shape checked: ``(..., C) -> (...)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(contrast(means))
    if out.shape != means.shape[:-1]:
        raise ValueError(f"contrast returned shape {out.shape} for means of shape "
                         f"{means.shape}; expected {means.shape[:-1]}")
    return out


# ----------------------------------------------------------------------------- contrasts


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


# ----------------------------------------------------------------------------- resampling


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
    n_boot = _check_n_boot(n_boot)
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
    n_boot = _check_n_boot(n_boot)
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


def _resampled_metric(pairs: Sequence[tuple[np.ndarray, np.ndarray]], metric: Metric,
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


def _observed_values(per_seed: Sequence, metric: Metric | None) -> np.ndarray:
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


def _per_seed_contrasts(contrast: Contrast | Sequence[Contrast], n_seeds: int
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


def _apply_seeds(contrast: Contrast | list[Contrast], values: np.ndarray) -> np.ndarray:
    """The per-seed statistic of condition values ``(..., S, C) -> (..., S)``."""
    if callable(contrast):
        return _apply(contrast, values)
    return np.stack([_apply(f, values[..., i, :]) for i, f in enumerate(contrast)], axis=-1)


def _take(contrast: Contrast | list[Contrast], keep: np.ndarray) -> Contrast | list[Contrast]:
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
    data = _check_scores(per_seed) if metric is None else _check_pairs(per_seed)
    contrast = _per_seed_contrasts(contrast, len(data))
    n_units = [x.shape[1] if metric is None else x[1].shape[0] for x in data]
    observed = _apply_seeds(contrast, _observed_values(data, metric))
    res = draw_resampling(n_units, n_boot, seed)
    values = (resampled_means(data, res) if metric is None
              else _resampled_metric(data, metric, res))
    return TwoLevelBootstrap(observed, _apply_seeds(contrast, values), tuple(n_units))


# ----------------------------------------------------------------------------- intervals


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


def _t_bounds(c: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
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


def _percentile_bounds(observed: np.ndarray, resampled: np.ndarray, level: float
                       ) -> tuple[np.ndarray, ...]:
    """Percentile interval of the seed mean: observed ``(..., S)``, resampled ``(..., B, S)``
    -> value, lo, hi, se, p."""
    star = resampled.mean(-1)
    lo, hi = _quantiles(star, (0.5 - level / 2, 0.5 + level / 2))
    return observed.mean(-1), lo, hi, np.nanstd(star, axis=-1, ddof=1), _tail_p(star, 0.0)


def _bootstrap_t_bounds(observed: np.ndarray, resampled: np.ndarray, level: float
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


def _normal_bounds(x: np.ndarray, contrast: Contrast, level: float, step: float = 1e-5
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
    grad = (_apply(contrast, m[..., None, :] + eye) - _apply(contrast, m[..., None, :] - eye)) \
        / (2 * step)
    se = np.sqrt(np.maximum(np.einsum("...i,...ij,...j->...", grad, cov, grad), 0.0))
    value = _apply(contrast, m)
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
    observed = _apply_seeds(contrast, values)
    keep = np.flatnonzero(~np.isnan(observed))
    n_all = len(observed)
    dropped = "" if len(keep) == n_all else \
        f"; {n_all - len(keep)} of {n_all} seeds undefined, dropped"
    observed = observed[keep]
    contrast = _take(contrast, keep)
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
        out = _t_bounds(observed, level)
        desc = f"Student t over {n_seeds} seeds ({phrase} each)"
    elif method == NORMAL:
        first = contrast if callable(contrast) else contrast[0]
        out = normal(int(keep[0]), first)
        desc = f"normal (delta) over {phrase} (test-set noise only, 1 seed)"
    else:
        resampled = _apply_seeds(contrast, resample(keep, n_boot, seed))
        bounds = _percentile_bounds if method == PERCENTILE else _bootstrap_t_bounds
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
    level = _check_level(level)
    method = _check_method(method)
    n_boot = _check_n_boot(n_boot)
    data = _check_scores(per_seed) if metric is None else _check_pairs(per_seed)
    contrast = _per_seed_contrasts(contrast, len(data))
    n_units = [x.shape[1] if metric is None else x[1].shape[0] for x in data]

    def resample(keep: np.ndarray, n: int, gen_seed: int) -> np.ndarray:
        sub = [data[i] for i in keep]
        res = draw_resampling([n_units[i] for i in keep], n, gen_seed)
        return resampled_means(sub, res) if metric is None else \
            _resampled_metric(sub, metric, res)

    def normal(i: int, f: Contrast) -> tuple[np.ndarray, ...]:
        return _normal_bounds(data[i], f, level)

    return _interval(_observed_values(data, metric), contrast, n_units,
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
            checked = _check_scores(column) if metric is None else _check_pairs(column)
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
    level = _check_level(level)
    method = _check_method(method)
    n_boot = _check_n_boot(n_boot)
    data, metrics = _check_blocks(per_seed, metrics)
    contrast = _per_seed_contrasts(contrast, len(data))
    sizes = [[_block_units(b) for b in blocks] for blocks in data]
    values = np.stack([np.concatenate([_observed_values([b], m)[0]
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


# ----------------------------------------------------------------------------- verdicts


def verdict(est: Estimate, direction: int) -> str:
    """SUPPORTED if the CI excludes 0 in the predicted ``direction`` (+1: above, -1: below),
    CONTRADICTED if it excludes 0 the other way, else INCONCLUSIVE (also for a NaN bound).

    Raises:
        ValueError: ``direction`` not in :data:`DIRECTIONS`.
    """
    direction = _check_direction(direction)
    if est.ci_low > 0:
        found = 1
    elif est.ci_high < 0:
        found = -1
    else:
        return INCONCLUSIVE
    return SUPPORTED if found == direction else CONTRADICTED


def equivalence_verdict(est: Estimate, margin: float, expect: str) -> str:
    """Non-inferiority verdict for "recovers" claims (``est``: a difference to the reference,
    e.g. R - 100 or score - dense, in the units of ``margin``).

    ``expect="recovers"``: SUPPORTED if the CI lies above ``-margin``, CONTRADICTED if it
    lies entirely below ``-margin``, else INCONCLUSIVE. ``"does not recover"``: the mirror
    (SUPPORTED if entirely below ``-margin``, CONTRADICTED if above it).

    Raises:
        ValueError: ``margin`` not positive and finite; ``expect`` not in :data:`EXPECTS`.
    """
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin {margin!r} must be a positive finite number")
    if expect not in EXPECTS:
        raise ValueError(f"expect {expect!r} is not one of {EXPECTS}")
    above, below = est.ci_low > -margin, est.ci_high < -margin
    if not (above or below):
        return INCONCLUSIVE
    if expect == RECOVERS:
        return SUPPORTED if above else CONTRADICTED
    return SUPPORTED if below else CONTRADICTED


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and do not count in the family.

    Raises:
        ValueError: a p-value outside [0, 1].
    """
    p = np.asarray(p_values, dtype=float).ravel()
    bad = ~np.isnan(p) & ((p < 0) | (p > 1))
    if bad.any():
        raise ValueError(f"p-value {float(p[bad][0])!r} is not in [0, 1]")
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
        out[order] = adj
    return out


def holm_verdicts(estimates: Sequence[Estimate], directions: Sequence[int]) -> list[str]:
    """Verdicts of a family of exploratory rows: significance from the Holm-adjusted p-value
    (< 1 - level), direction from the sign of the estimate; SUPPORTED if that sign is the
    predicted direction, CONTRADICTED if opposite, INCONCLUSIVE otherwise (or NaN p).

    Raises:
        ValueError: lengths differ; a direction not in :data:`DIRECTIONS`.
    """
    if len(estimates) != len(directions):
        raise ValueError(f"{len(estimates)} estimates but {len(directions)} directions")
    dirs = [_check_direction(d) for d in directions]
    adj = holm([e.p_value for e in estimates])
    out = []
    for e, d, p in zip(estimates, dirs, adj, strict=True):
        if not p < 1 - e.level or e.value == 0 or math.isnan(e.value):
            out.append(INCONCLUSIVE)
        else:
            out.append(SUPPORTED if np.sign(e.value) == d else CONTRADICTED)
    return out


# ----------------------------------------------------------------------------- power


def resolution(est: Estimate) -> float:
    """Half-width of the CI (what the experiment can resolve)."""
    return (est.ci_high - est.ci_low) / 2


def _check_power_args(sd: float, effect: float, power: float, level: float) -> None:
    if not (math.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd {sd!r} must be finite and >= 0")
    if not (math.isfinite(effect) and effect != 0):
        raise ValueError(f"effect {effect!r} must be finite and non-zero")
    if not 0 < power < 1:
        raise ValueError(f"power {power!r} is not in the open interval (0, 1)")
    _check_level(level)


def t_power(n: int, sd: float, effect: float, level: float = LEVEL) -> float:
    """Probability that the Student t CI over ``n`` seeds excludes 0 in the effect's direction
    (noncentral t), for per-seed statistics of SD ``sd`` and mean ``effect``."""
    if sd == 0:
        return 1.0
    q = stats.t.ppf(0.5 + level / 2, n - 1)
    return float(stats.nct.sf(q, n - 1, abs(effect) * math.sqrt(n) / sd))


def seeds_needed(sd_between: float, effect: float, power: float = 0.8,
                 level: float = LEVEL) -> int:
    """Smallest n >= 2 whose Student t interval detects ``effect`` (excludes 0 in its
    direction) with probability >= ``power``, at per-seed SD ``sd_between``.

    The two-level bootstrap-t verdict method has the same power within a few points in the
    calibration (docs/STATISTICS.md). Exact noncentral-t power (the textbook iteration
    ``n = ((t_{1-a/2,n-1} + t_{power,n-1}) sd / effect)^2`` agrees within one seed).

    Raises:
        ValueError: ``sd_between`` negative or not finite, ``effect`` zero or not finite,
            ``power`` or ``level`` outside (0, 1).
    """
    _check_power_args(sd_between, effect, power, level)
    lo = MIN_SEEDS_T
    if t_power(lo, sd_between, effect, level) >= power:
        return lo
    hi = lo * 2
    while t_power(hi, sd_between, effect, level) < power:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t_power(mid, sd_between, effect, level) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def units_needed(sd_unit_contrast: float, effect: float, power: float = 0.8,
                 level: float = LEVEL) -> int:
    """Examples (questions) per seed for a paired design to detect ``effect`` with
    ``power``: ``ceil(((z_{1-a/2} + z_power) * sd / effect)^2)`` (normal approximation),
    at least ``MIN_UNITS``; ``sd_unit_contrast`` is the SD of the per-example contrast.

    Raises:
        ValueError: as :func:`seeds_needed`.
    """
    _check_power_args(sd_unit_contrast, effect, power, level)
    nd = NormalDist()
    n = ((nd.inv_cdf(0.5 + level / 2) + nd.inv_cdf(power)) * sd_unit_contrast / effect) ** 2
    return max(MIN_UNITS, math.ceil(n - 1e-9))


def power_note(est: Estimate, effect: float, power: float = 0.8) -> str:
    """One sentence: the seeds (or, with one seed, examples) needed to detect ``effect``."""
    if est.n_seeds >= MIN_SEEDS_T and math.isfinite(est.sd_between):
        n = seeds_needed(est.sd_between, effect, power, est.level)
        return (f"detecting an effect of {abs(effect):g} with {power:.0%} power needs about "
                f"{n} seeds at the observed seed-to-seed SD {est.sd_between:.3g}")
    if est.n_seeds == 1 and math.isfinite(est.se):
        sd_unit = est.se * math.sqrt(est.n_units)
        n = units_needed(sd_unit, effect, power, est.level)
        return (f"detecting an effect of {abs(effect):g} with {power:.0%} power needs about "
                f"{n} examples at the observed per-example SD {sd_unit:.3g} (1 seed: "
                "test-set noise only)")
    return f"power for an effect of {abs(effect):g} cannot be computed ({est.method})"


# ----------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class SimDesign:
    """A simulated experiment with known truth.

    Per seed s and condition c the true accuracy is ``mu[c] + seed_sd * u_sc`` (u standard
    normal, correlation ``seed_corr`` across the conditions of a seed; clipped to
    :data:`SIM_MU_RANGE`). Each seed draws its own ``n_units`` test examples with difficulty
    ``d_i ~ N(0, difficulty_sd^2)`` shared by all its conditions (pairing), and example i is
    right under condition c iff ``d_i + e_ic > t_sc`` with ``e_ic ~ N(0, noise_sd^2)``,
    ``t_sc`` set so that the accuracy over examples is the seed's true accuracy.

    Attributes:
        mu: true accuracy of each condition (mean over seeds and examples), ``(C,)``.
        n_seeds, n_units: seeds and test examples per seed.
        seed_sd: SD of a condition's true accuracy across seeds (0.02 = 2 points).
    """

    mu: tuple[float, ...]
    n_seeds: int
    n_units: int
    seed_sd: float = 0.0
    seed_corr: float = SIM_SEED_CORR
    difficulty_sd: float = SIM_DIFFICULTY_SD
    noise_sd: float = SIM_NOISE_SD


def simulate(design: SimDesign, n_experiments: int, rng: np.random.Generator) -> np.ndarray:
    """Per-example 0/1 scores of ``n_experiments`` experiments, float32
    ``(n_experiments, n_seeds, C, n_units)``."""
    mu = np.asarray(design.mu, dtype=np.float64)
    e, s, n, c = n_experiments, design.n_seeds, design.n_units, len(mu)
    rho = design.seed_corr
    u = (math.sqrt(rho) * rng.standard_normal((e, s, 1))
         + math.sqrt(1 - rho) * rng.standard_normal((e, s, c)))
    mu_s = np.clip(mu + design.seed_sd * u, *SIM_MU_RANGE)
    total = math.hypot(design.difficulty_sd, design.noise_sd)
    thresh = (-special.ndtri(mu_s) * total).astype(np.float32)[..., None]
    d = rng.standard_normal((e, s, 1, n), dtype=np.float32) * np.float32(design.difficulty_sd)
    noise = rng.standard_normal((e, s, c, n), dtype=np.float32)
    noise *= np.float32(design.noise_sd)
    noise += d
    return (noise > thresh).astype(np.float32)


def true_values(design: SimDesign, contrasts: Mapping[str, Contrast], n_draws: int = N_TRUTH,
                seed: int = 1) -> dict[str, tuple[float, float]]:
    """Monte Carlo estimand of each contrast: the expectation over seeds and test sets of the
    per-seed statistic (``design.n_seeds`` is ignored). Returns name -> (value, MC SE)."""
    one = dataclasses.replace(design, n_seeds=1)
    rng = np.random.default_rng(seed)
    block = max(1, (1 << 23) // (len(design.mu) * design.n_units))
    vals: dict[str, list[np.ndarray]] = {k: [] for k in contrasts}
    for start in range(0, n_draws, block):
        m = simulate(one, min(block, n_draws - start), rng)[:, 0].mean(-1, dtype=np.float64)
        for k, f in contrasts.items():
            vals[k].append(_apply(f, m))
    out = {}
    for k, v in vals.items():
        a = np.concatenate(v)
        out[k] = (float(np.nanmean(a)), float(np.nanstd(a) / math.sqrt(np.sum(~np.isnan(a)))))
    return out


@dataclass(frozen=True)
class CellResult:
    """Calibration of one method for one statistic in one cell.

    Attributes:
        coverage: share of experiments whose CI covers the truth.
        supported: share whose CI excludes 0 in the predicted direction.
        contradicted: share whose CI excludes 0 the other way.
        half_width: mean CI half-width; undefined: share of NaN CIs (counted as not covering).
    """

    coverage: float
    supported: float
    contradicted: float
    half_width: float
    undefined: float
    n_experiments: int = 0


#: Methods computed by :func:`calibrate`: with one seed and with two or more.
#: ``seed_bootstrap`` (percentile bootstrap over seeds only, the resampling of the first
#: claims code) is there for comparison.
SEED_BOOTSTRAP = "seed_bootstrap"
CALIBRATION_METHODS_ONE: tuple[str, ...] = (PERCENTILE, NORMAL)
CALIBRATION_METHODS_MULTI: tuple[str, ...] = (STUDENT_T, PERCENTILE, BOOTSTRAP_T, SEED_BOOTSTRAP)


def calibrate(design: SimDesign, statistics: Mapping[str, tuple[Contrast, int, float]], *,
              n_experiments: int = N_EXPERIMENTS, methods: Sequence[str] | None = None,
              level: float = LEVEL, n_boot: int = N_BOOTSTRAP, seed: int = 2,
              resampling: Resampling | None = None) -> dict[str, dict[str, CellResult]]:
    """Coverage and verdict rates of interval methods on simulated experiments.

    Every experiment is analysed exactly as :func:`estimate` would (the same resampling, drawn
    with :data:`BOOTSTRAP_SEED`), vectorized across experiments.

    Args:
        design: the simulated design.
        statistics: name -> (contrast, predicted direction, true value).
        n_experiments: simulated experiments.
        methods: subset of :data:`CALIBRATION_METHODS_ONE` (one seed) or
            :data:`CALIBRATION_METHODS_MULTI` (more); default all.
        level, n_boot: as :func:`estimate`.
        seed: generator seed of the simulation.
        resampling: a precomputed :func:`draw_resampling` for this design (reuse across cells).

    Returns:
        statistic name -> method -> :class:`CellResult`.

    Raises:
        ValueError: a method not available for the design's number of seeds; bad level.
    """
    level = _check_level(level)
    allowed = CALIBRATION_METHODS_ONE if design.n_seeds == 1 else CALIBRATION_METHODS_MULTI
    methods = tuple(allowed if methods is None else methods)
    for m in methods:
        if m not in allowed:
            raise ValueError(f"method {m!r} is not one of {allowed} for {design.n_seeds} seed(s)")
    for name, (_, d, _) in statistics.items():
        _check_direction(d)
        if not isinstance(name, str):
            raise ValueError(f"statistic name {name!r} is not a string")
    s, c = design.n_seeds, len(design.mu)
    need_boot = any(m in (PERCENTILE, BOOTSTRAP_T, SEED_BOOTSTRAP) for m in methods)
    if need_boot and resampling is None:
        resampling = draw_resampling([design.n_units] * s, n_boot)
    rng = np.random.default_rng(seed)
    b = resampling.n_boot if resampling is not None else 1
    block = max(1, CALIBRATION_BLOCK // (b * s * c)) if need_boot else 2000
    acc: dict[tuple[str, str], list[np.ndarray]] = {}
    for start in range(0, n_experiments, block):
        e = min(block, n_experiments - start)
        x = simulate(design, e, rng)
        obs_means = x.mean(-1, dtype=np.float64)                        # (E, S, C)
        boot_means = None
        if any(m in (PERCENTILE, BOOTSTRAP_T) for m in methods):
            boot_means = resampled_means([x[:, k] for k in range(s)], resampling)
        for name, (f, _, _) in statistics.items():
            obs = _apply(f, obs_means)                                  # (E, S)
            star = None if boot_means is None else _apply(f, boot_means)  # (E, B, S)
            for m in methods:
                if m == STUDENT_T:
                    out = _t_bounds(obs, level)
                elif m == PERCENTILE:
                    out = _percentile_bounds(obs, star, level)
                elif m == BOOTSTRAP_T:
                    out = _bootstrap_t_bounds(obs, star, level)
                elif m == SEED_BOOTSTRAP:
                    out = _percentile_bounds(obs, obs[:, resampling.seed_index], level)
                else:
                    out = _normal_bounds(x[:, 0], f, level)
                acc.setdefault((name, m), []).append(np.stack([out[1], out[2]], -1))
    result: dict[str, dict[str, CellResult]] = {}
    for name, (_, d, truth) in statistics.items():
        result[name] = {}
        for m in methods:
            ci = np.concatenate(acc[(name, m)])
            lo, hi = ci[:, 0], ci[:, 1]
            undefined = np.isnan(lo) | np.isnan(hi)
            pos, neg = lo > 0, hi < 0
            result[name][m] = CellResult(
                coverage=float(np.mean((lo <= truth) & (truth <= hi))),
                supported=float(np.mean(pos if d == 1 else neg)),
                contradicted=float(np.mean(neg if d == 1 else pos)),
                half_width=float(np.nanmean((hi - lo) / 2)),
                undefined=float(np.mean(undefined)),
                n_experiments=len(lo))
    return result


# ----------------------------------------------------------------------------- calibration grid

#: Conditions of every simulated experiment: (dense_a, a at SIM_SPARSITIES, dense_b, b at
#: SIM_SPARSITIES), e.g. the easy and the hard task of claim B, each with its own dense model
#: (``flat`` has group a only: it calibrates the R slope of group a).
SIM_SPARSITIES = (0.3, 0.5, 0.7)
#: Chance level and true accuracies of the simulated designs (fine-tuning: 262 test examples,
#: binary; zero-shot: 4 options). ``effect``: group b drops faster; ``null``: b equals a (the
#: R difference and the score difference are exactly 0); ``flat``: no drop at all (the R
#: slope is 0 up to the ratio's O(1/n) bias, which the Monte Carlo estimand includes).
SIM_SCENARIOS: dict[str, tuple[float, dict[str, tuple[float, ...]]]] = {
    "fine-tuning": (0.5, {
        "effect": (0.84, 0.82, 0.78, 0.70, 0.80, 0.77, 0.71, 0.62),
        "null": (0.84, 0.82, 0.78, 0.70) * 2,
        "flat": (0.84,) * 4}),
    "zero-shot high": (0.25, {
        "effect": (0.80, 0.77, 0.70, 0.58, 0.65, 0.61, 0.53, 0.42),
        "null": (0.80, 0.77, 0.70, 0.58) * 2,
        "flat": (0.80,) * 4}),
    "zero-shot low": (0.25, {
        "effect": (0.55, 0.53, 0.48, 0.40, 0.45, 0.43, 0.38, 0.31),
        "null": (0.55, 0.53, 0.48, 0.40) * 2,
        "flat": (0.55,) * 4}),
}
FT_N_UNITS = 262
#: Statistics of the calibration: (i) R difference a - b averaged over the sparsities
#: (predicted +), (ii) OLS slope of R_a over sparsity with the dense point (predicted -),
#: (iii) plain score difference a - b at the highest sparsity, in points (predicted +); and
#: the scenarios each is calibrated in.
SIM_STATISTICS: dict[str, tuple[int, tuple[str, ...]]] = {
    "R difference": (1, ("effect", "null")),
    "R slope": (-1, ("effect", "flat")),
    "score difference": (1, ("effect", "null")),
}


def sim_contrasts(chance: float) -> dict[str, Contrast]:
    """The three calibration statistics for the simulated conditions (see SIM_SCENARIOS)."""
    k = len(SIM_SPARSITIES)
    a, b = list(range(1, 1 + k)), list(range(2 + k, 2 + 2 * k))
    return {"R difference": retention_difference(0, a, 1 + k, b, chance),
            "R slope": retention_slope(0, a, SIM_SPARSITIES, chance),
            "score difference": mean_difference(a[-1], b[-1])}


def calibration_statistics(design: SimDesign, scenario: str, chance: float,
                           n_truth: int = N_TRUTH) -> dict[str, tuple[Contrast, int, float]]:
    """The statistics calibrated in ``scenario`` with their truth: exact 0 for the R and score
    differences under ``null`` (a and b exchangeable), exact ``100 * (mu_a - mu_b)`` for the
    score difference (linear; clipping is negligible), Monte Carlo (``n_truth`` per-seed
    draws, :func:`true_values`) otherwise.

    Raises:
        ValueError: ``scenario`` not in a SIM_SCENARIOS entry.
    """
    if scenario not in ("effect", "null", "flat"):
        raise ValueError(f"scenario {scenario!r} is not one of ('effect', 'null', 'flat')")
    fs = sim_contrasts(chance)
    names = [n for n, (_, sc) in SIM_STATISTICS.items() if scenario in sc]
    mc = [n for n in names if not (n == "score difference" or scenario == "null")]
    truth = true_values(design, {n: fs[n] for n in mc}, n_truth) if mc else {}
    out = {}
    for n in names:
        if n in truth:
            t = truth[n][0]
        elif n == "score difference":
            t = float(fs[n](np.asarray(design.mu)))
        else:
            t = 0.0
        out[n] = (fs[n], SIM_STATISTICS[n][0], t)
    return out
