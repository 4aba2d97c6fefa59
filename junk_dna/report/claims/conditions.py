"""The objects of one evaluation: a condition (:class:`Cond`), a curve of conditions
(:class:`Curve`), a statistic (:class:`Statistic`), one seed's data, the audit of the runs
(:class:`Audit`), one row of the table in the making (:class:`ClaimTest`) and the shared
state of an evaluation (:class:`Context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from junk_dna.report import stats
from junk_dna.report.outcomes import Outcomes


@dataclass(frozen=True)
class Cond:
    """One condition of a test: a run (fine-tuning: its main metric; zero-shot: one
    ``<metric>|<condition>``), on the example set ``block``."""

    run_id: str
    run_dir: str
    task: str
    block: str
    key: str | None = None
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Curve:
    """A dense condition and its pruned conditions at sparsities ``xs`` (one seed)."""

    label: str
    dense: Cond
    pruned: tuple[Cond, ...]
    xs: tuple[float, ...]


@dataclass(frozen=True)
class Statistic:
    """A per-seed statistic of curves: ``kind`` "slope" (mean of the curves' slopes), "diff"
    (mean over ``pairs`` of R(a) - R(b), sparsity by sparsity) or "level" (mean R - minus).
    ``curves`` / ``pairs`` index the curves of a seed (the same layout in every seed)."""

    kind: str
    curves: tuple[int, ...] = ()
    pairs: tuple[tuple[int, int], ...] = ()
    minus: float = 100.0


@dataclass
class SeedData:
    """One seed's data for a test: blocks, metrics, chance levels, the index of each
    condition and the excluded curves with the reasons."""

    blocks: list[Any]
    metrics: list[Any]
    chance: np.ndarray
    index: dict[Cond, int]
    excluded: set[int]
    why: list[str] = field(default_factory=list)


@dataclass
class Audit:
    """What ``claims.md`` lists beside the verdicts.

    Attributes:
        flagged: (setting, run id, flagged tensors) of runs flagged by the sparsity guard.
        nonconverged: (setting, run id, reason) of dense runs failing the convergence rule.
        exclusions: one sentence per excluded dense condition (seed, numbers).
        notes: other sentences (e.g. computed human-model gaps against the fixed labels).
    """

    flagged: list[tuple[str, str, str]] = field(default_factory=list)
    nonconverged: list[tuple[str, str, str]] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def flag_ids(self) -> tuple[set[str], set[str]]:
        return {r for _, r, _ in self.flagged}, {r for _, r, _ in self.nonconverged}


@dataclass
class ClaimTest:
    """One row of the claims table in the making: what is tested, its estimate, and why it
    is not testable if so."""

    setting: str
    claim: str
    primary: bool
    scope: str
    statistic: str
    direction: int
    est: stats.Estimate | None = None
    shifted: stats.Estimate | None = None
    expect: str | None = None
    not_testable: str | None = None
    detail: str = ""
    run_ids: frozenset[str] = frozenset()
    zero_shot: bool = False


class Context:
    """Shared state of one evaluation: the outcome reader, the audit, the exclusions seen."""

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes = outcomes
        self.audit = Audit()
        self._excluded_seen: set[tuple[str, str]] = set()

    def exclude(self, setting: str, cond: Cond, text: str) -> None:
        key = (setting, f"{cond.run_id}|{cond.key}")
        if key not in self._excluded_seen:
            self._excluded_seen.add(key)
            self.audit.exclusions.append(f"{setting}: {text}")
