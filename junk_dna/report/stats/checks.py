"""Validation of the arguments the estimators share (level, direction, method, resamples,
per-example scores, prediction/label pairs) and :func:`apply_contrast`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from junk_dna.report.stats.constants import DIRECTIONS, METHODS, MIN_BOOTSTRAP, MIN_UNITS, Contrast


def check_level(level: float) -> float:
    """``level`` as a float; ValueError unless in (0, 1)."""
    if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
        raise ValueError(f"level {level!r} is not in the open interval (0, 1)")
    return float(level)


def check_direction(direction: int) -> int:
    """``direction`` as an int; ValueError unless one of :data:`DIRECTIONS`."""
    if direction not in DIRECTIONS or isinstance(direction, bool):
        raise ValueError(f"direction {direction!r} is not one of {DIRECTIONS}")
    return int(direction)


def check_method(method: str) -> str:
    """``method``; ValueError unless one of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    return method


def check_n_boot(n_boot: int) -> int:
    """``n_boot`` as an int; ValueError unless an integer >= :data:`MIN_BOOTSTRAP`."""
    if not isinstance(n_boot, int | np.integer) or n_boot < MIN_BOOTSTRAP:
        raise ValueError(f"n_boot {n_boot!r} is below MIN_BOOTSTRAP = {MIN_BOOTSTRAP} "
                         "(or not an integer)")
    return int(n_boot)


def check_scores(per_seed: Sequence[np.ndarray]) -> list[np.ndarray]:
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


def check_pairs(per_seed: Sequence[tuple[np.ndarray, np.ndarray]]
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


def apply_contrast(contrast: Contrast, means: np.ndarray) -> np.ndarray:
    """``contrast(means)`` with its shape checked: ``(..., C) -> (...)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(contrast(means))
    if out.shape != means.shape[:-1]:
        raise ValueError(f"contrast returned shape {out.shape} for means of shape "
                         f"{means.shape}; expected {means.shape[:-1]}")
    return out
