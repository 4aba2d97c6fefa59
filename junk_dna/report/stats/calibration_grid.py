"""The calibration grid: the simulated sparsities, scenarios and statistics over which
``benchmarks/calibrate_stats.py`` and the tests calibrate the interval methods.
"""

from __future__ import annotations

import numpy as np

from junk_dna.report.stats.constants import N_TRUTH, Contrast
from junk_dna.report.stats.contrasts import mean_difference, retention_difference, retention_slope
from junk_dna.report.stats.simulation import SimDesign, true_values

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
