"""Verdicts read from the CI of an :class:`Estimate`: the directional verdict, the equivalence
verdict, and Holm's step-down adjustment over a family of tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from junk_dna.report.stats.checks import check_direction
from junk_dna.report.stats.constants import CONTRADICTED, EXPECTS, INCONCLUSIVE, RECOVERS, SUPPORTED
from junk_dna.report.stats.intervals import Estimate


def verdict(est: Estimate, direction: int) -> str:
    """SUPPORTED if the CI excludes 0 in the predicted ``direction`` (+1: above, -1: below),
    CONTRADICTED if it excludes 0 the other way, else INCONCLUSIVE (also for a NaN bound).

    Raises:
        ValueError: ``direction`` not in :data:`DIRECTIONS`.
    """
    direction = check_direction(direction)
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
    dirs = [check_direction(d) for d in directions]
    adj = holm([e.p_value for e in estimates])
    out = []
    for e, d, p in zip(estimates, dirs, adj, strict=True):
        if not p < 1 - e.level or e.value == 0 or math.isnan(e.value):
            out.append(INCONCLUSIVE)
        else:
            out.append(SUPPORTED if np.sign(e.value) == d else CONTRADICTED)
    return out
