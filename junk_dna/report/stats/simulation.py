"""The calibration simulation: a simulated design (:class:`SimDesign`), its true values,
and the coverage and rejection rate of every interval method per cell (:func:`calibrate`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from junk_dna.report.stats.checks import apply_contrast, check_direction, check_level
from junk_dna.report.stats.constants import (
    BOOTSTRAP_T,
    CALIBRATION_BLOCK,
    LEVEL,
    N_BOOTSTRAP,
    N_EXPERIMENTS,
    N_TRUTH,
    NORMAL,
    PERCENTILE,
    SIM_DIFFICULTY_SD,
    SIM_MU_RANGE,
    SIM_NOISE_SD,
    SIM_SEED_CORR,
    STUDENT_T,
    Contrast,
)
from junk_dna.report.stats.intervals import (
    bootstrap_t_bounds,
    normal_bounds,
    percentile_bounds,
    t_bounds,
)
from junk_dna.report.stats.resampling import Resampling, draw_resampling, resampled_means


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
            vals[k].append(apply_contrast(f, m))
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
    level = check_level(level)
    allowed = CALIBRATION_METHODS_ONE if design.n_seeds == 1 else CALIBRATION_METHODS_MULTI
    methods = tuple(allowed if methods is None else methods)
    for m in methods:
        if m not in allowed:
            raise ValueError(f"method {m!r} is not one of {allowed} for {design.n_seeds} seed(s)")
    for name, (_, d, _) in statistics.items():
        check_direction(d)
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
            obs = apply_contrast(f, obs_means)                                  # (E, S)
            star = None if boot_means is None else apply_contrast(f, boot_means)  # (E, B, S)
            for m in methods:
                if m == STUDENT_T:
                    out = t_bounds(obs, level)
                elif m == PERCENTILE:
                    out = percentile_bounds(obs, star, level)
                elif m == BOOTSTRAP_T:
                    out = bootstrap_t_bounds(obs, star, level)
                elif m == SEED_BOOTSTRAP:
                    out = percentile_bounds(obs, obs[:, resampling.seed_index], level)
                else:
                    out = normal_bounds(x[:, 0], f, level)
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
