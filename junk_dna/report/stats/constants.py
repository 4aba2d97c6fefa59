"""The constants of the statistics: level, resamples, minimum units and seeds, the verdict,
direction and interval-method names, the simulation's defaults, and the ``Contrast`` and
``Metric`` types.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
