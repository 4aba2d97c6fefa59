"""Power: the CI half-width of an estimate, the power of a t test, and the seeds or test
units needed to detect an effect.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from scipy import stats

from junk_dna.report.stats.checks import check_level
from junk_dna.report.stats.constants import LEVEL, MIN_SEEDS_T, MIN_UNITS
from junk_dna.report.stats.intervals import Estimate


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
    check_level(level)


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


def z_power(n: int, sd_unit_contrast: float, effect: float, level: float = LEVEL) -> float:
    """Power of a paired design over ``n`` examples (questions) to detect ``effect``: the
    normal approximation ``Phi(|effect| sqrt(n) / sd - z_{1-a/2})`` that
    :func:`units_needed` inverts; ``sd_unit_contrast`` is the SD of the per-example contrast.

    Raises:
        ValueError: ``n`` < 1, or as :func:`seeds_needed`.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n {n!r} must be an integer >= 1")
    _check_power_args(sd_unit_contrast, effect, 0.5, level)
    if sd_unit_contrast == 0:
        return 1.0
    nd = NormalDist()
    return nd.cdf(abs(effect) * math.sqrt(n) / sd_unit_contrast - nd.inv_cdf(0.5 + level / 2))


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
