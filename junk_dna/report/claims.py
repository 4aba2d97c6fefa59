"""The paper's claims, each turned into a statistic with a CI and one verdict rule.

The claims (PROTOCOL.md, "The claim"): one-shot magnitude pruning of the pre-trained weights
causes a loss that

A. grows monotonically with sparsity;
B. grows faster the harder the downstream task (setting 1: less fine-tuning data; 2: more
   options; 3: less context, closed book; 4: a larger human-model gap; v2: fewer shots,
   factoid vs multiple choice);
C. is irreversible: sparse-to-dense transfer does not recover it, dense transfer with the
   pruned weights frozen at their pre-trained values does;
Q. (v2) and quantization does not show pruning's loss.

**Scale.** Every statistic is on the chance-corrected retention
``R = 100 (score - chance) / (dense - chance)`` (0: a model that knows nothing, 100: the dense
model of the same seed and condition; chance levels in :mod:`junk_dna.evaluation.chance`),
computed per seed from per-example outcomes (fine-tuning: ``per_example.json``; zero-shot:
``per_question.json``).

**Estimation** (:mod:`junk_dna.report.stats`, calibrated by simulation): the per-seed
statistic averaged over seeds, a two-level bootstrap-t CI with two or more fine-tuning seeds,
the paired percentile bootstrap over test examples with one seed (it covers test-set noise
only: the method string says so) and over questions for a zero-shot model (one model, the
questions are the sampling unit). Conditions scored on different example sets within a seed
(human_gap's two tasks, factoid_vs_mc's two datasets) are resampled block by block
(:func:`~junk_dna.report.stats.estimate_blocks`).

**One verdict rule.** supported: the 95 % CI excludes 0 in the paper's direction;
contradicted: it excludes 0 the other way (for "recovers", the equivalence test of
:func:`~junk_dna.report.stats.equivalence_verdict` with margin :data:`RECOVERY_MARGIN`);
inconclusive otherwise; not testable where the design cannot speak (the row says why).
The pre-registered primary tests are :data:`PRIMARY`; every other row is exploratory and
its verdict comes from its Holm-adjusted p-value over all exploratory rows of the table and
the sign of its estimate.

**Exclusions, fixed a priori.** A dense model not clearly above chance
(``dense - chance <= EXCLUSION_SE`` binomial standard errors ``sqrt(p (1 - p) / n)``,
``p`` the dense score, ``n`` its test examples or questions) cannot anchor R: its curve is
excluded for that seed (the exclusion is listed). A fine-tuning test left with fewer than
:data:`MIN_SEEDS` seeds by exclusions, or a zero-shot test whose model is excluded, is not
testable. A design with a single fine-tuning seed is estimated (test-set noise only).

**Flags (never silent).** Runs flagged by the sparsity guard (tensors pruned > 95 % at a
target <= 60 %) and dense runs that fail the convergence rule (docs/PREREGISTRATION.md,
stage 1: :data:`CONVERGENCE_GAIN`, :data:`CONVERGENCE_LOSS`) are listed in ``claims.md`` and
mark every row that uses them.

Every threshold is a module constant fixed before the decisive runs; none is fitted to a run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from junk_dna.data.glue_tasks import get_task
from junk_dna.data.human_scores import base_task
from junk_dna.evaluation.chance import binomial_se
from junk_dna.pruning.config import matched_sparsity
from junk_dna.report import stats
from junk_dna.report.analysis import (
    NON_PARAM_COLUMNS,
    PRUNING_COLUMNS,
    baseline_keys,
    human_gap_table,
    main_metric_rows,
    split_metric,
)
from junk_dna.report.outcomes import (
    ExampleOutcomes,
    Outcomes,
    condition_chance,
    example_scores,
    row_metric,
    run_chance,
)
from junk_dna.results.records import atomic_write_text

# ----------------------------------------------------------------------------- constants

#: The experiment of a table without an ``experiment`` column.
EXPERIMENT = "true_gem"
#: Experiments checked, in order, and the claims each one speaks to.
SETTINGS: dict[str, tuple[str, ...]] = {
    "true_gem": ("A", "B", "C"),
    "data_adequacy": ("A", "B"),
    "human_gap": ("A", "B"),
    "context_length": ("A", "B"),
    "option_count": ("A", "B"),
    "kshot": ("A", "B"),
    "factoid_vs_mc": ("A", "B"),
    "quantization": ("Q",),
}
FINETUNE_SETTINGS: tuple[str, ...] = ("true_gem", "data_adequacy", "human_gap")
ZERO_SHOT_SETTINGS: tuple[str, ...] = ("context_length", "option_count", "kshot",
                                       "factoid_vs_mc", "quantization")

CLAIM_A = "A: monotonic drop"
CLAIM_B = "B: harder drops faster"
CLAIM_C = "C: irreversible"
CLAIM_C_RECOVERS = "C: freezing recovers"
CLAIM_C_NO_RECOVERY = "C: sparse-to-dense does not recover"
CLAIM_Q = "Q: quantization is not pruning"
STATEMENTS: dict[str, str] = {
    CLAIM_A: "The performance loss from one-shot magnitude pruning of the pre-trained weights "
             "grows monotonically with sparsity.",
    CLAIM_B: "The loss grows faster the harder the downstream task is (less fine-tuning data, "
             "more options, less context, a larger human-model gap, fewer shots, factoid "
             "rather than multiple-choice questions).",
    CLAIM_C: "The loss is irreversible: dense transfer with the pruned weights frozen at their "
             "pre-trained values keeps more than sparse-to-dense transfer, which lets them "
             "train again from zero.",
    CLAIM_C_RECOVERS: "Freezing the pruned weights at their pre-trained values recovers the "
                      "dense model (within the margin).",
    CLAIM_C_NO_RECOVERY: "Sparse-to-dense transfer does not recover the dense model (it stays "
                         "below it by more than the margin).",
    CLAIM_Q: "(v2) Weight quantization does not show pruning's loss: at the same weight "
             "storage, round-to-nearest quantization keeps more than magnitude pruning.",
}

#: Verdict words (:mod:`junk_dna.report.stats`).
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = (
    stats.SUPPORTED, stats.CONTRADICTED, stats.INCONCLUSIVE, stats.NOT_TESTABLE)
VERDICTS: tuple[str, ...] = stats.VERDICTS

#: Claim C's window: sparsities where sparse transfer's mean R over seeds lies here (dropped,
#: and still above the chance floor).
R_WINDOW: tuple[float, float] = (15.0, 90.0)
#: Equivalence margin of "recovers" (R points below the dense model's 100).
RECOVERY_MARGIN = 10.0
#: Reference effects of the power statements: B, C, Q in R points, A in R points per unit
#: sparsity (a loss of 50 R points from dense to 100 % sparsity).
REFERENCE_EFFECTS: dict[str, float] = {"A": 50.0, "B": 10.0, "C": 10.0, "Q": 10.0}
#: Power of the power statements.
POWER = 0.8
#: A dense model within this many binomial standard errors of chance is excluded.
EXCLUSION_SE = 4.0
#: Fewest seeds a fine-tuning test keeps after exclusions.
MIN_SEEDS = 2
#: Fewest sparsity points of a slope (claim A).
MIN_SPARSITY_POINTS = 2
#: Convergence rule (docs/PREREGISTRATION.md stage 1): the last evaluation improves on the one
#: a full-data epoch earlier by less than this many points of the main metric x 100 ...
CONVERGENCE_GAIN = 2.0
#: ... and the mean training loss over the last epoch is below this times ln(k) (k classes
#: or options; a regression task has no such bound).
CONVERGENCE_LOSS = 0.5
#: Zero-shot score of the multiple-choice conditions (factoid conditions: exact match).
ZERO_SHOT_SCORE = "acc"
FACTOID_SCORE = "exact_match"
PRUNING_METHODS: tuple[str, ...] = ("magnitude", "wanda", "sparsegpt")
#: Setting 4's pairs with the paper's fixed labels: (label, easy task, hard task), by base
#: task name (Task_4 of the paper; the embedded default's pairs last). Never re-ordered by
#: the computed gaps: those are reported beside.
HUMAN_GAP_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("Single sentence", "sst2", "cola"),
    ("Sentence similarity", "qqp", "stsb"),
    ("Natural language inference", "qnli", "rte"),
    ("Commonsense reasoning", "winogrande", "csqa"),
    ("Arithmetic", "mawps", "svamp"),
    ("Sentiment vs. commonsense QA", "sst2", "csqa"),
    ("Commonsense reasoning (physical vs. concepts)", "piqa", "csqa"),
)
#: Zero-shot claim B: the easy and the hard condition of each setting (condition labels, or
#: a rule on the conditions present).
EASY_HARD_RULES: dict[str, str] = {
    "context_length": "context=full (easy) vs context=0 (closed book, hard)",
    "option_count": "fewest options (easy) vs most options (hard)",
    "kshot": "most shots (easy) vs shots=0 (hard)",
    "factoid_vs_mc": "mc (easy) vs factoid (hard)",
}


@dataclass(frozen=True)
class PrimaryTest:
    """One pre-registered primary test.

    Attributes:
        setting: the experiment.
        claim: the claim's name.
        runs: which runs enter, and the unit one row covers.
        statistic: the per-seed statistic (mean over seeds is the estimate).
        direction: the paper's direction (+1: above 0, -1: below).
    """

    setting: str
    claim: str
    runs: str
    statistic: str
    direction: int


#: The pre-registered primary tests (pinned by tests/report/test_claims.py).
PRIMARY: tuple[PrimaryTest, ...] = (
    PrimaryTest("true_gem", CLAIM_A,
                "sparse transfer, unstructured, magnitude, largest data fraction; per (model, "
                "task)",
                "OLS slope of R over sparsity, the dense point (0, 100) included", -1),
    PrimaryTest("true_gem", CLAIM_C,
                "freeze and sparse-to-dense, unstructured, largest data fraction, the C window "
                "(sparsities where both modes ran and sparse transfer's mean R over seeds is in "
                "R_WINDOW; all shared sparsities if none); per (model, task)",
                "mean over the C window of R(freeze) - R(sparse_to_dense)", 1),
    PrimaryTest("data_adequacy", CLAIM_B,
                "sparse transfer, unstructured, largest and smallest data fraction; per "
                "(model, task)",
                "mean over shared sparsities of R(largest fraction) - R(smallest fraction), "
                "each fraction on its own dense run", 1),
    PrimaryTest("data_adequacy", CLAIM_A,
                "sparse transfer, unstructured, every data fraction; per (model, task)",
                "mean over data fractions of the OLS slope of R over sparsity", -1),
    PrimaryTest("human_gap", CLAIM_B,
                "sparse transfer, unstructured, largest data fraction; per pair of "
                "HUMAN_GAP_PAIRS (fixed easy/hard labels)",
                "mean over shared sparsities of R(easy) - R(hard), block-stratified", 1),
    PrimaryTest("human_gap", CLAIM_A,
                "sparse transfer, unstructured, largest data fraction; per pair of "
                "HUMAN_GAP_PAIRS",
                "mean of the two tasks' OLS slopes of R over sparsity", -1),
    PrimaryTest("context_length", CLAIM_B,
                "magnitude, Wanda, SparseGPT (those present), unstructured; one model, "
                "questions paired",
                "mean over methods and sparsities of R(context=full) - R(context=0)", 1),
    PrimaryTest("context_length", CLAIM_A,
                "magnitude, Wanda, SparseGPT (those present), unstructured, every condition",
                "mean over methods and conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("option_count", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(fewest options) - R(most options)", 1),
    PrimaryTest("option_count", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("kshot", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(most shots) - R(shots=0)", 1),
    PrimaryTest("kshot", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("factoid_vs_mc", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(mc) - R(factoid), block-stratified", 1),
    PrimaryTest("factoid_vs_mc", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("quantization", CLAIM_Q,
                "RTN per channel vs magnitude pruning, unstructured, at the matched sparsity "
                "1 - bits/16",
                "mean over matched-storage points of R(RTN) - R(magnitude)", 1),
)

COLUMNS: tuple[str, ...] = (
    "setting", "claim", "primary", "scope", "statistic", "value", "ci_low", "ci_high",
    "p_value", "p_holm", "n_seeds", "n_units", "method", "verdict", "flags", "detail")

_SLOPE = "OLS slope of R over sparsity (R points per unit sparsity, dense point included)"
_NAN = float("nan")


def _primary(setting: str, claim: str) -> PrimaryTest:
    for p in PRIMARY:
        if p.setting == setting and p.claim == claim:
            return p
    raise KeyError((setting, claim))  # pragma: no cover


def _claim_key(claim: str) -> str:
    return claim.split(":", 1)[0]


# ----------------------------------------------------------------------------- conditions


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
class _SeedData:
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
class _Test:
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


class _Context:
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


# ----------------------------------------------------------------------------- data


def _values(block: Any, metric: Any) -> np.ndarray:
    if metric is None:
        return np.asarray(block, dtype=np.float64).mean(-1)
    pred, lab = block
    return np.asarray(metric(pred, np.broadcast_to(lab, pred.shape)), dtype=np.float64)


def _assemble(ctx: _Context, setting: str, seed: Any, curves: Sequence[Curve]
              ) -> tuple[_SeedData | None, str]:
    """One seed's blocks, chance levels and exclusions; (None, reason) when data are
    missing."""
    order: dict[str, list[Cond]] = {}
    for c in curves:
        for cond in (c.dense, *c.pruned):
            conds = order.setdefault(cond.block, [])
            if cond not in conds:
                conds.append(cond)
    chance_of: dict[Cond, float] = {}
    blocks, metrics, index = [], [], {}
    for conds in order.values():
        fine_tuning = conds[0].key is None
        got = _finetune_block(ctx, conds) if fine_tuning else _zero_shot_block(ctx, conds)
        if isinstance(got, str):
            return None, f"seed {seed}: {got}"
        data, metric, chances = got
        for cond, c in zip(conds, chances, strict=True):
            index[cond] = len(index)
            chance_of[cond] = c
        blocks.append(data)
        metrics.append(metric)
    # a curve has its dense condition's chance level (same examples, same condition)
    chance = np.empty(len(index))
    for c in curves:
        for cond in (c.dense, *c.pruned):
            chance[index[cond]] = chance_of[c.dense]
    values = np.concatenate([_values(b, m) for b, m in zip(blocks, metrics, strict=True)])
    sizes = {cond: _n_units(data) for data, conds in zip(blocks, order.values(), strict=True)
             for cond in conds}
    excluded, why = set(), []
    for i, c in enumerate(curves):
        d = c.dense
        v, ch, n = float(values[index[d]]), float(chance[index[d]]), sizes[d]
        limit = EXCLUSION_SE * binomial_se(v, n)
        if not v - ch > limit:
            excluded.add(i)
            what = d.task if d.key is None else f"{d.task} {d.key}"
            text = (f"seed {seed}, {what} (run {d.run_id}): dense {v:.3f} vs chance {ch:.3f} "
                    f"on {n} units; dense - chance = {v - ch:.3f} <= {EXCLUSION_SE:g} SE = "
                    f"{limit:.3f}")
            ctx.exclude(setting, d, text + ": excluded")
            if text not in why:
                why.append(text)
    return _SeedData(blocks, metrics, chance, index, excluded, why), ""


def _n_units(block: Any) -> int:
    return int(block[1].shape[0]) if isinstance(block, tuple) else int(block.shape[1])


def _finetune_block(ctx: _Context, conds: list[Cond]) -> tuple[Any, Any, list[float]] | str:
    task = conds[0].task
    outs = []
    for cond in conds:
        got = ctx.outcomes.examples(cond.run_dir, task)
        if got is None:
            return f"no per-example outcomes for run {cond.run_id}"
        outs.append(got)
    ids = outs[0].ids
    shared = set(ids)
    for o in outs[1:]:
        shared &= set(o.ids)
    if len(shared) < stats.MIN_UNITS:
        return f"runs {[c.run_id for c in conds]} share fewer than {stats.MIN_UNITS} test examples"
    keep = [i for i in ids if i in shared]
    aligned = []
    for o in outs:
        pos = {k: j for j, k in enumerate(o.ids)}
        sel = np.asarray([pos[k] for k in keep])
        aligned.append((o.labels[sel], o.predictions[sel]))
    labels = aligned[0][0]
    for (lab, _), cond in zip(aligned, conds, strict=True):
        if not np.array_equal(lab, labels):
            return f"run {cond.run_id} has other labels for the same example ids"
    spec = get_task(task)
    metric = row_metric(spec.main_metric)
    preds = np.stack([p for _, p in aligned])
    chance = run_chance(ExampleOutcomes(outs[0].split, np.asarray(keep), labels, preds[0]),
                        task)
    if metric is None:
        data = np.stack([(p == labels).astype(np.float64) for p in preds])
    else:
        data = (preds, labels)
    return data, metric, [chance] * len(conds)


def _zero_shot_block(ctx: _Context, conds: list[Cond]) -> tuple[Any, Any, list[float]] | str:
    rows, chances = [], []
    for cond in conds:
        per_q = ctx.outcomes.questions(cond.run_dir)
        if per_q is None:
            return f"no per-question scores for run {cond.run_id}"
        if cond.key not in per_q:
            return f"run {cond.run_id} has no per-question scores for {cond.key}"
        metric, condition = cond.key.split("|", 1)
        try:
            c, _ = condition_chance(metric, per_q, condition, dict(cond.params))
        except ValueError as err:
            return str(err)
        rows.append(np.clip(per_q[cond.key], 0.0, 1.0))
        chances.append(c)
    if len({len(r) for r in rows}) != 1:
        return (f"runs {[c.run_id for c in conds]} scored different numbers of questions "
                f"({sorted({len(r) for r in rows})}) on {conds[0].block}")
    if len(rows[0]) < stats.MIN_UNITS:
        return f"fewer than {stats.MIN_UNITS} questions"
    return np.stack(rows), None, chances


def _contrast(stat: Statistic, curves: Sequence[Curve], data: _SeedData) -> stats.Contrast:
    """The per-seed contrast of ``stat`` over the curves not excluded in this seed (NaN if
    none is left)."""
    idx = data.index
    ch = data.chance
    parts: list[stats.Contrast] = []
    if stat.kind == "slope":
        for i in stat.curves:
            if i in data.excluded:
                continue
            c = curves[i]
            parts.append(stats.retention_slope(idx[c.dense], [idx[p] for p in c.pruned],
                                               c.xs, ch))
    elif stat.kind == "level":
        for i in stat.curves:
            if i in data.excluded:
                continue
            c = curves[i]
            parts.append(stats.retention_level(idx[c.dense], [idx[p] for p in c.pruned], ch,
                                               stat.minus))
    else:
        for a, b in stat.pairs:
            if a in data.excluded or b in data.excluded:
                continue
            ca, cb = curves[a], curves[b]
            parts.append(stats.retention_difference(
                idx[ca.dense], [idx[p] for p in ca.pruned], idx[cb.dense],
                [idx[p] for p in cb.pruned], ch))
    if not parts:
        return lambda means: np.full(means.shape[:-1], np.nan)
    return stats.average(parts)


def _estimate(ctx: _Context, test: _Test, per_seed: dict[Any, list[Curve]], stat: Statistic,
              *, zero_shot: bool, margin: float | None = None) -> _Test:
    """Assemble every seed, apply the exclusions and estimate ``stat`` into ``test``."""
    test.zero_shot = zero_shot
    test.run_ids = frozenset(c.run_id for curves in per_seed.values() for cv in curves
                             for c in (cv.dense, *cv.pruned))
    if not per_seed:
        test.not_testable = test.not_testable or "no seed has every run this test needs"
        return test
    blocks, contrasts, dropped, excluded_seeds, partial = [], [], [], [], []
    numbers: list[str] = []
    metrics = None
    for seed in sorted(per_seed, key=str):
        curves = per_seed[seed]
        data, reason = _assemble(ctx, test.setting, seed, curves)
        if data is None:
            dropped.append(reason)
            continue
        f = _contrast(stat, curves, data)
        if np.isnan(_apply_one(f, data)):
            excluded_seeds.append(seed)
            numbers += data.why
            continue
        used = set(stat.curves) | {i for p in stat.pairs for i in p}
        if data.excluded & used:
            names = ", ".join(curves[i].label or f"curve {i}" for i in sorted(data.excluded
                                                                              & used))
            partial.append(f"seed {seed} without {names}")
        blocks.append(data.blocks)
        contrasts.append(f)
        metrics = data.metrics
    n_total = len(per_seed)
    if not blocks:
        why = []
        if dropped:
            why.append("; ".join(sorted(set(dropped)))[:400])
        if excluded_seeds:
            why.append(f"the dense model is not clearly above chance in every seed "
                       f"({_numbers(numbers)})")
        test.not_testable = "; ".join(why) or "no data"
        return test
    if not zero_shot and excluded_seeds and len(blocks) < MIN_SEEDS:
        test.not_testable = (f"{len(blocks)} of {n_total} seeds left after excluding dense "
                             f"models not clearly above chance ({_numbers(numbers)}); fewer "
                             f"than {MIN_SEEDS}")
        return test
    try:
        test.est = stats.estimate_blocks(blocks, contrasts, metrics=metrics)
        if margin is not None:
            shifted = [_shift(f, margin) for f in contrasts]
            test.shifted = stats.estimate_blocks(blocks, shifted, metrics=metrics)
    except ValueError as err:
        test.not_testable = f"the statistic cannot be estimated: {err}"
        return test
    notes = []
    if dropped:
        notes.append(f"{len(dropped)} seed(s) dropped ({'; '.join(sorted(set(dropped)))})")
    if excluded_seeds:
        notes.append(f"seeds {', '.join(map(str, excluded_seeds))} excluded (dense model not "
                     "clearly above chance)")
    if partial:
        notes.append("curves with a dense model not clearly above chance left out: "
                     + "; ".join(partial))
    if notes:
        test.detail = (test.detail + " " if test.detail else "") + "; ".join(notes) + "."
    return test


def _numbers(texts: list[str], most: int = 3) -> str:
    """The first few exclusion sentences (the rest counted)."""
    shown = "; ".join(texts[:most])
    return shown + (f"; and {len(texts) - most} more" if len(texts) > most else "")


def _apply_one(f: stats.Contrast, data: _SeedData) -> float:
    values = np.concatenate([_values(b, m) for b, m in zip(data.blocks, data.metrics,
                                                           strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.asarray(f(values)))


def _shift(f: stats.Contrast, margin: float) -> stats.Contrast:
    def g(means: np.ndarray) -> np.ndarray:
        return f(means) + margin

    return g


# ----------------------------------------------------------------------------- fine-tuning


def _curve_x(row: pd.Series) -> float:
    if row.get("pattern") == "nm":
        n, m = (int(v) for v in str(row["nm"]).split(":"))
        return round(1.0 - n / m, 6)
    if row.get("pattern") == "unstructured":
        return round(float(row["sparsity"]), 6)
    return _NAN


def curve_x(df: pd.DataFrame) -> pd.Series:
    """The numeric sparsity of each row: ``sparsity`` for unstructured rows, ``1 - N/M`` for
    N:M rows (N weights kept per group of M), NaN for dense rows.

    Raises:
        ValueError: an N:M row whose ``nm`` is not of the form ``"N:M"``.
    """
    if df.empty:
        return pd.Series(dtype=float, index=df.index)

    def one(row: pd.Series) -> float:
        try:
            return _curve_x(row)
        except ValueError as exc:
            raise ValueError(f"nm {row.get('nm')!r} is not 'N:M'") from exc

    return df.apply(one, axis=1).astype(float)


_FT_FIXED = {"model", "task", "data_fraction", "seed", "split_seed"}


class _FinetuneRuns:
    """One row per fine-tuning run (last evaluation) with lookups by condition."""

    def __init__(self, runs: pd.DataFrame) -> None:
        rows = main_metric_rows(runs, which="last").drop_duplicates("run_id")
        rows = rows.reset_index(drop=True)
        if "criterion" not in rows.columns:
            rows["criterion"] = None
        rows["criterion"] = rows["criterion"].where(rows["criterion"].notna(), "magnitude")
        rows["x"] = curve_x(rows) if len(rows) else pd.Series(dtype=float)
        keys = [k for k in baseline_keys(rows) if k not in _FT_FIXED and k != "x"]
        self.extra = [k for k in keys if rows[k].map(str).nunique() > 1]
        rows["group"] = rows[self.extra].astype(str).agg(", ".join, axis=1) \
            if self.extra else ""
        if "run_dir" not in rows.columns:
            rows["run_dir"] = None
        self.rows = rows
        self._index: dict[tuple, pd.Series] = {}
        for _, r in rows.iterrows():
            mode = r["mode"]
            key = (r["model"], r["task"], r["group"], float(r["data_fraction"]), mode,
                   None if mode == "dense" else r["pattern"],
                   None if mode == "dense" else float(r["x"]),
                   None if mode == "dense" else r["criterion"], r["seed"])
            self._index.setdefault(key, r)

    def groups(self) -> list[tuple[str, str, str]]:
        g = self.rows[["model", "task", "group"]].drop_duplicates()
        return sorted(map(tuple, g.itertuples(index=False)), key=str)

    def get(self, g: tuple[str, str, str], frac: float, mode: str, pattern: str | None = None,
            x: float | None = None, seed: Any = None, criterion: str = "magnitude"
            ) -> pd.Series | None:
        if mode == "dense":
            return self._index.get((*g, float(frac), "dense", None, None, None, seed))
        return self._index.get((*g, float(frac), mode, pattern, float(x), criterion, seed))

    def sub(self, g: tuple[str, str, str], **eq: Any) -> pd.DataFrame:
        r = self.rows
        r = r[(r["model"] == g[0]) & (r["task"] == g[1]) & (r["group"] == g[2])]
        for k, v in eq.items():
            r = r[np.isclose(r[k].astype(float), v)] if isinstance(v, float) else r[r[k] == v]
        return r

    def fractions(self, g: tuple[str, str, str]) -> list[float]:
        return sorted(self.sub(g)["data_fraction"].astype(float).unique())

    def cond(self, row: pd.Series) -> Cond:
        return Cond(str(row["run_id"]), str(row["run_dir"]), str(row["task"]),
                    block=f"{row['task']}")

    def curve_xs(self, g, frac, mode, pattern) -> tuple[list[float], list[Any]]:
        """Sparsities run in every seed that has the dense run and one pruned run of this
        curve, and those seeds."""
        sub = self.sub(g, data_fraction=frac, mode=mode)
        sub = sub[(sub["pattern"] == pattern) & (sub["criterion"] == "magnitude")]
        seeds = [s for s in sorted(sub["seed"].unique(), key=str)
                 if self.get(g, frac, "dense", seed=s) is not None]
        if not seeds:
            return [], []
        sets = [set(sub[sub["seed"] == s]["x"].astype(float)) for s in seeds]
        return sorted(set.intersection(*sets)), seeds

    def curve(self, g, frac, mode, pattern, xs, seed, label: str = "") -> Curve | None:
        dense = self.get(g, frac, "dense", seed=seed)
        pruned = [self.get(g, frac, mode, pattern, x, seed) for x in xs]
        if dense is None or any(p is None for p in pruned) or not xs:
            return None
        return Curve(label, self.cond(dense), tuple(self.cond(p) for p in pruned),
                     tuple(float(x) for x in xs))


def _scope(g: tuple[str, str, str], many_models: bool, *parts: str) -> str:
    head = ([g[0]] if many_models else []) + [g[1]] + ([g[2]] if g[2] else [])
    return " / ".join([*head, *[p for p in parts if p]])


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _xs_text(xs: Iterable[float]) -> str:
    return "/".join(f"{x * 100:g}" for x in xs) + " %"


def _mean_sparse_r(ctx: _Context, ft: _FinetuneRuns, g, frac, pattern, xs, seeds
                   ) -> dict[float, float]:
    """Sparse transfer's mean R over seeds at each x (from the per-example outcomes)."""
    out: dict[float, list[float]] = {}
    for s in seeds:
        dense = ft.get(g, frac, "dense", seed=s)
        if dense is None:
            continue
        d = ctx.outcomes.examples(dense["run_dir"], g[1])
        if d is None:
            continue
        c = run_chance(d, g[1])
        dv = _outcome_value(d, g[1])
        for x in xs:
            p = ft.get(g, frac, "sparse", pattern, x, s)
            if p is None:
                continue
            o = ctx.outcomes.examples(p["run_dir"], g[1])
            if o is None or dv == c:
                continue
            out.setdefault(x, []).append(100 * (_outcome_value(o, g[1]) - c) / (dv - c))
    return {x: float(np.mean(v)) for x, v in out.items()}


def _outcome_value(o, task: str) -> float:
    metric = row_metric(get_task(task).main_metric)
    if metric is None:
        return float(example_scores(o).mean())
    return float(metric(o.predictions[None], o.labels[None])[0])


def _slope_tests(ctx, ft, setting, g, many, frac, pattern, *, primary: bool,
                 label: str = "") -> _Test:
    xs, seeds = ft.curve_xs(g, frac, "sparse", pattern)
    scope = _scope(g, many, f"{_pct(frac)} data", pattern, label)
    test = _Test(setting, CLAIM_A, primary, scope, _SLOPE, -1)
    if len(xs) < MIN_SPARSITY_POINTS:
        test.not_testable = (f"fewer than {MIN_SPARSITY_POINTS} sparsity points shared by the "
                             f"seeds ({_xs_text(xs) if xs else 'none'})")
        return test
    per_seed = {s: [c] for s in seeds
                if (c := ft.curve(g, frac, "sparse", pattern, xs, s)) is not None}
    test.detail = (f"Sparse transfer at {_xs_text(xs)} sparsity ({pattern}), "
                   f"{_pct(frac)} of the data, {len(per_seed)} seed(s).")
    return _estimate(ctx, test, per_seed, Statistic("slope", (0,)), zero_shot=False)


def _true_gem(ctx: _Context, ft: _FinetuneRuns) -> list[_Test]:
    tests = []
    many = ft.rows["model"].nunique() > 1
    for g in ft.groups():
        fracs = ft.fractions(g)
        big = fracs[-1]
        # A
        tests.append(_slope_tests(ctx, ft, "true_gem", g, many, big, "unstructured",
                                  primary=True))
        if not ft.sub(g, mode="sparse", pattern="nm").empty:
            tests.append(_slope_tests(ctx, ft, "true_gem", g, many, big, "nm", primary=False))
        for frac in fracs[:-1]:
            tests.append(_slope_tests(ctx, ft, "true_gem", g, many, frac, "unstructured",
                                      primary=False))
        # C
        tests += _claim_c(ctx, ft, g, many, big, "unstructured", primary=True)
        if not ft.sub(g, mode="freeze", pattern="nm").empty:
            tests += _claim_c(ctx, ft, g, many, big, "nm", primary=False)
        # B (exploratory in true_gem)
        if len(fracs) >= 2:
            tests += _fraction_b(ctx, ft, "true_gem", g, many, "unstructured", primary=False)
    return tests


def _claim_c(ctx, ft, g, many, frac, pattern, *, primary: bool) -> list[_Test]:
    xs_f, seeds_f = ft.curve_xs(g, frac, "freeze", pattern)
    xs_s, seeds_s = ft.curve_xs(g, frac, "sparse_to_dense", pattern)
    shared = sorted(set(xs_f) & set(xs_s))
    seeds = sorted(set(seeds_f) & set(seeds_s), key=str)
    scope = _scope(g, many, f"{_pct(frac)} data", pattern)
    stat = "mean over the C window of R(freeze) - R(sparse_to_dense)"
    test = _Test("true_gem", CLAIM_C, primary, scope, stat, 1)
    if not shared or not seeds:
        test.not_testable = ("no sparsity where both freeze and sparse-to-dense ran in the "
                             "same seeds" if (xs_f or xs_s) else
                             "no freeze or sparse-to-dense runs")
        return [test]
    sparse_r = _mean_sparse_r(ctx, ft, g, frac, pattern, shared, seeds)
    window = [x for x in shared if x in sparse_r and R_WINDOW[0] <= sparse_r[x] <= R_WINDOW[1]]
    r_text = ", ".join(f"{x * 100:g} %: {sparse_r[x]:.1f}" for x in shared if x in sparse_r)
    if window:
        why = (f"C window {_xs_text(window)} (sparse transfer's mean R in "
               f"[{R_WINDOW[0]:g}, {R_WINDOW[1]:g}]; at the shared sparsities: "
               f"{r_text or 'not run'})")
    else:
        window = shared
        why = (f"no shared sparsity has sparse transfer's mean R in [{R_WINDOW[0]:g}, "
               f"{R_WINDOW[1]:g}] ({r_text or 'sparse transfer not run there'}): all shared "
               f"sparsities {_xs_text(shared)} used")

    def curves(s, xs):
        f = ft.curve(g, frac, "freeze", pattern, xs, s, "freeze")
        d = ft.curve(g, frac, "sparse_to_dense", pattern, xs, s, "sparse_to_dense")
        return None if f is None or d is None else [f, d]

    per_seed = {s: c for s in seeds if (c := curves(s, window)) is not None}
    test.detail = f"{why}; {len(per_seed)} seed(s)."
    out = [_estimate(ctx, test, per_seed, Statistic("diff", pairs=((0, 1),)), zero_shot=False)]
    if not primary:
        return out
    # exploratory: per sparsity point, and the two equivalence claims
    for x in window if len(window) > 1 else []:
        t = _Test("true_gem", CLAIM_C, False, f"{scope} / {x * 100:g}%",
                  "R(freeze) - R(sparse_to_dense) at one sparsity", 1)
        ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
        out.append(_estimate(ctx, t, ps, Statistic("diff", pairs=((0, 1),)), zero_shot=False))
    for claim, idx, expect in ((CLAIM_C_RECOVERS, 0, stats.RECOVERS),
                               (CLAIM_C_NO_RECOVERY, 1, stats.DOES_NOT_RECOVER)):
        mode = "freeze" if idx == 0 else "sparse_to_dense"
        t = _Test("true_gem", claim, False, scope,
                  f"mean over the C window of R({mode}) - 100 (margin {RECOVERY_MARGIN:g})", 1,
                  expect=expect)
        t.detail = f"{why}."
        out.append(_estimate(ctx, t, per_seed, Statistic("level", (idx,)), zero_shot=False,
                             margin=RECOVERY_MARGIN))
    return out


def _fraction_b(ctx, ft, setting, g, many, pattern, *, primary: bool) -> list[_Test]:
    """R(largest fraction) - R(each smaller fraction), each on its own dense run."""
    fracs = ft.fractions(g)
    big = fracs[-1]
    out = []
    stat = "mean over shared sparsities of R(largest fraction) - R(smallest fraction)"
    for k, small in enumerate(fracs[:-1]):
        xs_b, seeds_b = ft.curve_xs(g, big, "sparse", pattern)
        xs_s, seeds_s = ft.curve_xs(g, small, "sparse", pattern)
        xs = sorted(set(xs_b) & set(xs_s))
        seeds = sorted(set(seeds_b) & set(seeds_s), key=str)
        is_primary = primary and k == 0
        scope = _scope(g, many, f"{_pct(big)} vs {_pct(small)} data", pattern)
        test = _Test(setting, CLAIM_B, is_primary, scope,
                     stat if k == 0 else "mean over shared sparsities of R(largest fraction) "
                     "- R(this fraction)", 1)
        if not xs or not seeds:
            test.not_testable = (f"the {_pct(big)} and {_pct(small)} fractions share no "
                                 "sparsity point or seed")
            out.append(test)
            continue

        def curves(s, xx, big=big, small=small):
            a = ft.curve(g, big, "sparse", pattern, xx, s, _pct(big))
            b = ft.curve(g, small, "sparse", pattern, xx, s, _pct(small))
            return None if a is None or b is None else [a, b]

        per_seed = {s: c for s in seeds if (c := curves(s, xs)) is not None}
        test.detail = (f"Sparse transfer at {_xs_text(xs)} sparsity, {_pct(big)} against "
                       f"{_pct(small)} of the data, {len(per_seed)} seed(s).")
        out.append(_estimate(ctx, test, per_seed, Statistic("diff", pairs=((0, 1),)),
                             zero_shot=False))
        if k == 0 and len(xs) > 1:
            for x in xs:
                t = _Test(setting, CLAIM_B, False, f"{scope} / {x * 100:g}%",
                          "R(largest fraction) - R(smallest fraction) at one sparsity", 1)
                ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
                out.append(_estimate(ctx, t, ps, Statistic("diff", pairs=((0, 1),)),
                                     zero_shot=False))
    return out


def _data_adequacy(ctx: _Context, ft: _FinetuneRuns) -> list[_Test]:
    tests = []
    many = ft.rows["model"].nunique() > 1
    for g in ft.groups():
        fracs = ft.fractions(g)
        if len(fracs) < 2:
            t = _Test("data_adequacy", CLAIM_B, True, _scope(g, many, "unstructured"),
                      _primary("data_adequacy", CLAIM_B).statistic, 1)
            t.not_testable = f"one data fraction only ({_pct(fracs[0]) if fracs else 'none'})"
            tests.append(t)
        else:
            tests += _fraction_b(ctx, ft, "data_adequacy", g, many, "unstructured",
                                 primary=True)
            if not ft.sub(g, mode="sparse", pattern="nm").empty:
                tests += _fraction_b(ctx, ft, "data_adequacy", g, many, "nm", primary=False)
        tests.append(_mean_slope_over_fractions(ctx, ft, g, many, fracs))
        for frac in fracs:
            tests.append(_slope_tests(ctx, ft, "data_adequacy", g, many, frac, "unstructured",
                                      primary=False))
    return tests


def _mean_slope_over_fractions(ctx, ft, g, many, fracs) -> _Test:
    scope = _scope(g, many, "every fraction", "unstructured")
    test = _Test("data_adequacy", CLAIM_A, True, scope,
                 _primary("data_adequacy", CLAIM_A).statistic, -1)
    used, xs_of, seeds = [], {}, None
    skipped = []
    for frac in fracs:
        xs, s = ft.curve_xs(g, frac, "sparse", "unstructured")
        if len(xs) < MIN_SPARSITY_POINTS:
            skipped.append(_pct(frac))
            continue
        used.append(frac)
        xs_of[frac] = xs
        seeds = set(s) if seeds is None else seeds & set(s)
    if not used or not seeds:
        test.not_testable = (f"no data fraction has {MIN_SPARSITY_POINTS} sparsity points in "
                             "shared seeds")
        return test
    per_seed = {}
    for s in sorted(seeds, key=str):
        cs = [ft.curve(g, f, "sparse", "unstructured", xs_of[f], s, _pct(f)) for f in used]
        if all(c is not None for c in cs):
            per_seed[s] = cs
    test.detail = ("Fractions " + ", ".join(f"{_pct(f)} at {_xs_text(xs_of[f])}" for f in used)
                   + f"; {len(per_seed)} seed(s)"
                   + (f"; fractions with fewer than {MIN_SPARSITY_POINTS} points left out: "
                      f"{', '.join(skipped)}" if skipped else "") + ".")
    return _estimate(ctx, test, per_seed, Statistic("slope", tuple(range(len(used)))),
                     zero_shot=False)


def _human_gap(ctx: _Context, ft: _FinetuneRuns, runs: pd.DataFrame) -> list[_Test]:
    tests = []
    models = sorted(ft.rows["model"].unique(), key=str)
    many = len(models) > 1
    for model in models:
        groups = [g for g in ft.groups() if g[0] == model]
        by_base: dict[str, tuple] = {}
        for g in groups:
            by_base.setdefault(base_task(g[1]), g)
        gaps = _gaps(runs[runs["model"] == model])
        found = False
        for label, easy, hard in HUMAN_GAP_PAIRS:
            if easy not in by_base or hard not in by_base:
                continue
            found = True
            ge, gh = by_base[easy], by_base[hard]
            tests += _pair_tests(ctx, ft, model, many, label, ge, gh, gaps)
            if all(not ft.sub(g, mode="sparse", pattern="nm").empty for g in (ge, gh)):
                tests += _pair_tests(ctx, ft, model, many, label, ge, gh, gaps, "nm",
                                     primary=False)
        if not found:
            t = _Test("human_gap", CLAIM_B, True, str(model),
                      _primary("human_gap", CLAIM_B).statistic, 1)
            t.not_testable = ("no pair of HUMAN_GAP_PAIRS has both tasks (tasks: "
                              f"{', '.join(sorted(by_base))})")
            tests.append(t)
    return tests


def _gaps(runs: pd.DataFrame) -> dict[str, float]:
    try:
        full = runs[runs["data_fraction"] == runs.groupby("task")["data_fraction"]
                    .transform("max")]
        table = human_gap_table(full)
    except (ValueError, KeyError):
        return {}
    return {base_task(t): float(g) for t, g in zip(table["task"], table["gap"], strict=True)}


def _pair_tests(ctx, ft, model, many, label, ge, gh, gaps, pattern: str = "unstructured",
                primary: bool = True) -> list[_Test]:
    """Claims B and A of one pair (the primary tests with ``primary``; N:M: exploratory)."""
    fe, fh = ft.fractions(ge)[-1], ft.fractions(gh)[-1]
    xs_e, seeds_e = ft.curve_xs(ge, fe, "sparse", pattern)
    xs_h, seeds_h = ft.curve_xs(gh, fh, "sparse", pattern)
    xs = sorted(set(xs_e) & set(xs_h))
    seeds = sorted(set(seeds_e) & set(seeds_h), key=str)
    e_name, h_name = base_task(ge[1]), base_task(gh[1])
    scope = " / ".join([*([str(model)] if many else []),
                        f"{e_name} (easy) vs {h_name} (hard)", pattern])
    ge_, gh_ = gaps.get(e_name), gaps.get(h_name)
    if ge_ is not None and gh_ is not None:
        agree = "agrees with" if ge_ < gh_ else "DISAGREES with"
        gap_text = (f"computed human-model gaps {e_name} {ge_:.2f}, {h_name} {gh_:.2f}: "
                    f"{agree} the fixed labels")
        if ge_ >= gh_ and primary:
            ctx.audit.notes.append(
                f"human_gap {label}: the computed gap of the fixed easy task {e_name} "
                f"({ge_:.2f}) is not smaller than that of the fixed hard task {h_name} "
                f"({gh_:.2f}); the labels stay as in the paper.")
    else:
        gap_text = "human-model gaps not computed (no published human score or dense run)"

    def curves(s, xx):
        a = ft.curve(ge, fe, "sparse", pattern, xx, s, e_name)
        b = ft.curve(gh, fh, "sparse", pattern, xx, s, h_name)
        if a is None or b is None:
            return None
        return [a, b]  # each on its own task's test examples: a block each

    b_test = _Test("human_gap", CLAIM_B, primary, scope,
                   _primary("human_gap", CLAIM_B).statistic, 1)
    a_test = _Test("human_gap", CLAIM_A, primary, scope,
                   _primary("human_gap", CLAIM_A).statistic, -1)
    if not xs or not seeds:
        for t in (a_test, b_test):
            t.not_testable = f"{label}: the two tasks share no sparsity point or seed"
        return [b_test, a_test]
    per_seed = {s: c for s in seeds if (c := curves(s, xs)) is not None}
    b_test.detail = (f"{label}: sparse transfer at {_xs_text(xs)} ({pattern}), "
                     f"{len(per_seed)} seed(s); {gap_text}.")
    out = [_estimate(ctx, b_test, per_seed, Statistic("diff", pairs=((0, 1),)),
                     zero_shot=False)]
    if len(xs) >= MIN_SPARSITY_POINTS:
        a_test.detail = b_test.detail
        out.append(_estimate(ctx, a_test, per_seed, Statistic("slope", (0, 1)),
                             zero_shot=False))
    else:
        a_test.not_testable = f"fewer than {MIN_SPARSITY_POINTS} shared sparsity points"
        out.append(a_test)
    if not primary:
        return out
    if len(xs) > 1:
        for x in xs:
            t = _Test("human_gap", CLAIM_B, False, f"{scope} / {x * 100:g}%",
                      "R(easy) - R(hard) at one sparsity", 1)
            ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
            out.append(_estimate(ctx, t, ps, Statistic("diff", pairs=((0, 1),)),
                                 zero_shot=False))
    for i, name in enumerate((e_name, h_name)):
        if len(xs) >= MIN_SPARSITY_POINTS:
            t = _Test("human_gap", CLAIM_A, False, f"{scope} / {name}", _SLOPE, -1)
            out.append(_estimate(ctx, t, per_seed, Statistic("slope", (i,)), zero_shot=False))
    return out


# ----------------------------------------------------------------------------- zero-shot


class _ZeroShotRuns:
    """One row per zero-shot run and condition, with lookups."""

    def __init__(self, runs: pd.DataFrame) -> None:
        rows = runs[runs["which"] == "last"].copy() if "which" in runs else runs.copy()
        rows[["score", "condition"]] = split_metric(rows["metric"])
        mc = rows["score"] == ZERO_SHOT_SCORE
        factoid = (rows["score"] == FACTOID_SCORE) & ~rows.groupby(
            ["run_id", "condition"])["score"].transform(lambda s: (s == ZERO_SHOT_SCORE).any())
        rows = rows[mc | factoid].reset_index(drop=True)
        for col in ("pattern", "sparsity", "nm", "bits", "granularity", "method", "run_dir",
                    "task", "mc_task"):
            if col not in rows.columns:
                rows[col] = None
        rows["x"] = [(_curve_x(r) if r["method"] in PRUNING_METHODS else _NAN)
                     for _, r in rows.iterrows()]
        skip = set(PRUNING_COLUMNS) | set(NON_PARAM_COLUMNS) | {"score", "condition", "x",
                                                                 "conditions"}
        keys = [c for c in rows.columns if c not in skip and not c.startswith("resolved_")]
        self.extra = [k for k in keys if k != "model" and rows[k].map(str).nunique() > 1]
        rows["group"] = rows[self.extra].astype(str).agg(", ".join, axis=1) \
            if self.extra else ""
        self.rows = rows

    def groups(self) -> list[tuple[str, str]]:
        g = self.rows[["model", "group"]].drop_duplicates()
        return sorted(map(tuple, g.itertuples(index=False)), key=str)

    def sub(self, g) -> pd.DataFrame:
        r = self.rows
        return r[(r["model"] == g[0]) & (r["group"] == g[1])]

    def cond(self, row: pd.Series, block: str) -> Cond:
        params = (("task", row.get("task")), ("mc_task", row.get("mc_task")))
        return Cond(str(row["run_id"]), str(row["run_dir"]), str(row.get("task")),
                    block, str(row["metric"]), params)


def _zs_block(setting: str, condition: str) -> str:
    return condition if setting == "factoid_vs_mc" else "questions"


def _zs_curve(zs: _ZeroShotRuns, g, setting, method, pattern, condition, xs=None
              ) -> tuple[Curve | None, list[float]]:
    """The curve of one method and condition (all its sparsities, or ``xs``)."""
    sub = zs.sub(g)
    sub = sub[sub["condition"] == condition]
    dense = sub[sub["method"] == "dense"]
    pr = sub[(sub["method"] == method) & (sub["pattern"] == pattern)]
    avail = sorted(pr["x"].astype(float).unique())
    want = avail if xs is None else [x for x in xs if x in avail]
    if dense.empty or not want or (xs is not None and len(want) != len(xs)):
        return None, avail
    block = _zs_block(setting, condition)
    pruned = tuple(zs.cond(pr[np.isclose(pr["x"].astype(float), x)].iloc[0], block)
                   for x in want)
    return Curve(f"{method} {condition}", zs.cond(dense.iloc[0], block), pruned,
                 tuple(want)), avail


def _conditions(zs: _ZeroShotRuns, g) -> list[str]:
    return sorted(zs.sub(g)["condition"].unique())


def _easy_hard(setting: str, conditions: list[str]) -> tuple[str, str] | str:
    """(easy, hard) condition labels, or why there are none."""
    def numbered(prefix: str) -> list[tuple[float, str]]:
        out = []
        for c in conditions:
            if c.startswith(prefix) and c[len(prefix):].lstrip("-").isdigit():
                out.append((float(c[len(prefix):]), c))
        return sorted(out)

    if setting == "context_length":
        need = ("context=full", "context=0")
    elif setting == "factoid_vs_mc":
        need = ("mc", "factoid")
    elif setting == "option_count":
        ks = numbered("k=")
        if len(ks) < 2:
            return f"fewer than two option counts ({', '.join(conditions)})"
        return ks[0][1], ks[-1][1]
    else:  # kshot
        shots = numbered("shots=")
        if not shots or shots[0][0] != 0:
            return f"condition shots=0 missing ({', '.join(conditions)})"
        if len(shots) < 2:
            return "only shots=0"
        return shots[-1][1], shots[0][1]
    missing = [c for c in need if c not in conditions]
    if missing:
        return f"condition {' and '.join(missing)} missing ({', '.join(conditions)})"
    return need


def _zero_shot(ctx: _Context, setting: str, runs: pd.DataFrame) -> list[_Test]:
    zs = _ZeroShotRuns(runs)
    if setting == "quantization":
        return _quantization(ctx, zs)
    tests = []
    for g in zs.groups():
        scope0 = " / ".join(p for p in (str(g[0]), g[1]) if p)
        conds = _conditions(zs, g)
        methods = [m for m in PRUNING_METHODS if m in set(zs.sub(g)["method"])]
        primary_methods = methods if setting == "context_length" else \
            [m for m in methods if m == "magnitude"]
        pair = _easy_hard(setting, conds)
        tests += _zs_b(ctx, zs, g, setting, scope0, pair, primary_methods, methods)
        tests += _zs_a(ctx, zs, g, setting, scope0, conds, primary_methods, methods)
    return tests


def _zs_b(ctx, zs, g, setting, scope0, pair, primary_methods, methods) -> list[_Test]:
    prim = _primary(setting, CLAIM_B)
    out = []

    def build(ms: list[str], pattern: str, xs_only: float | None = None):
        curves, pairs, used = [], [], []
        for m in ms:
            ce, avail_e = _zs_curve(zs, g, setting, m, pattern, pair[0])
            ch, avail_h = _zs_curve(zs, g, setting, m, pattern, pair[1])
            xs = sorted(set(avail_e) & set(avail_h))
            if xs_only is not None:
                xs = [x for x in xs if np.isclose(x, xs_only)]
            if not xs:
                continue
            ce, _ = _zs_curve(zs, g, setting, m, pattern, pair[0], xs)
            ch, _ = _zs_curve(zs, g, setting, m, pattern, pair[1], xs)
            if ce is None or ch is None:
                continue
            pairs.append((len(curves), len(curves) + 1))
            curves += [ce, ch]
            used.append(f"{m} at {_xs_text(xs)}")
        return curves, pairs, used

    if isinstance(pair, str):
        t = _Test(setting, CLAIM_B, True, f"{scope0} / unstructured".strip(" /"),
                  prim.statistic, 1)
        t.not_testable = pair
        return [t]
    label = f"{pair[0]} vs {pair[1]}"
    scope = " / ".join(p for p in (scope0, label, "unstructured") if p)
    curves, pairs, used = build(primary_methods, "unstructured")
    t = _Test(setting, CLAIM_B, True, scope, prim.statistic, 1)
    if not curves:
        t.not_testable = (f"no {'/'.join(primary_methods) or 'pruning'} run scored both "
                          f"{pair[0]} and {pair[1]} at a shared sparsity")
        out.append(t)
    else:
        t.detail = f"{EASY_HARD_RULES[setting]}; " + "; ".join(used) + "."
        out.append(_estimate(ctx, t, {0: curves}, Statistic("diff", pairs=tuple(pairs)),
                             zero_shot=True))
    # exploratory: per method, per pattern (N:M), per sparsity point
    patterns = sorted(set(zs.sub(g)["pattern"].dropna()))
    for m in methods:
        for pattern in patterns:
            if m in primary_methods and pattern == "unstructured" and len(primary_methods) == 1:
                cs, ps, us = curves, pairs, used
            else:
                cs, ps, us = build([m], pattern)
                if not cs:
                    continue
                te = _Test(setting, CLAIM_B, False, " / ".join(
                    p for p in (scope0, label, m, pattern) if p),
                    "mean over sparsities of R(easy) - R(hard)", 1)
                te.detail = "; ".join(us) + "."
                out.append(_estimate(ctx, te, {0: cs}, Statistic("diff", pairs=tuple(ps)),
                                     zero_shot=True))
            xs = sorted({x for c in cs for x in c.xs})
            if len(xs) > 1:
                for x in xs:
                    cx, px, _ = build([m], pattern, x)
                    if not cx:
                        continue
                    tx = _Test(setting, CLAIM_B, False, " / ".join(
                        p for p in (scope0, label, m, pattern, f"{x * 100:g}%") if p),
                        "R(easy) - R(hard) at one sparsity", 1)
                    out.append(_estimate(ctx, tx, {0: cx}, Statistic("diff", pairs=tuple(px)),
                                         zero_shot=True))
    return out


def _zs_a(ctx, zs, g, setting, scope0, conds, primary_methods, methods) -> list[_Test]:
    prim = _primary(setting, CLAIM_A)
    out = []

    def build(ms, pattern, cs_):
        curves, used = [], []
        for m in ms:
            for c in cs_:
                cv, avail = _zs_curve(zs, g, setting, m, pattern, c)
                if cv is not None and len(avail) >= MIN_SPARSITY_POINTS:
                    curves.append(cv)
                    used.append(f"{m} {c} at {_xs_text(avail)}")
        return curves, used

    scope = " / ".join(p for p in (scope0, "every condition", "unstructured") if p)
    curves, used = build(primary_methods, "unstructured", conds)
    t = _Test(setting, CLAIM_A, True, scope, prim.statistic, -1)
    if not curves:
        t.not_testable = (f"no {'/'.join(primary_methods) or 'pruning'} curve has "
                          f"{MIN_SPARSITY_POINTS} or more unstructured sparsity points")
        out.append(t)
    else:
        t.detail = "Curves: " + "; ".join(used) + "."
        out.append(_estimate(ctx, t, {0: curves}, Statistic("slope", tuple(range(len(curves)))),
                             zero_shot=True))
    patterns = sorted(set(zs.sub(g)["pattern"].dropna()))
    for m in methods:
        for pattern in patterns:
            for c in conds:
                cs, us = build([m], pattern, [c])
                if not cs:
                    continue
                te = _Test(setting, CLAIM_A, False, " / ".join(
                    p for p in (scope0, c, m, pattern) if p), _SLOPE, -1)
                te.detail = "; ".join(us) + "."
                out.append(_estimate(ctx, te, {0: cs}, Statistic("slope", (0,)),
                                     zero_shot=True))
    return out


def _quantization(ctx: _Context, zs: _ZeroShotRuns) -> list[_Test]:
    out = []
    prim = _primary("quantization", CLAIM_Q)
    for g in zs.groups():
        sub = zs.sub(g)
        dense = sub[sub["method"] == "dense"]
        mag = sub[(sub["method"] == "magnitude") & (sub["pattern"] == "unstructured")]
        rtn = sub[sub["method"] == "rtn"]
        grans = sorted(set(rtn["granularity"].dropna()) | {"per_channel"},
                       key=lambda s: (s != "per_channel", s))
        scope0 = " / ".join(p for p in (str(g[0]), g[1]) if p)
        for gran in grans:
            q = rtn[rtn["granularity"] == gran]
            points = []
            for bits in sorted(q["bits"].dropna().astype(int).unique(), reverse=True):
                s = matched_sparsity(int(bits))
                p = mag[np.isclose(mag["sparsity"].astype(float), s)]
                if not p.empty:
                    points.append((bits, s, q[q["bits"] == bits].iloc[0], p.iloc[0]))
            is_primary = gran == "per_channel"
            scope = " / ".join(p for p in (scope0, f"RTN {gran}") if p)
            t = _Test("quantization", CLAIM_Q, is_primary, scope,
                      prim.statistic if is_primary else
                      "mean over matched-storage points of R(RTN) - R(magnitude)", 1)
            if dense.empty or not points:
                t.not_testable = ("no dense run" if dense.empty else
                                  f"no RTN {gran} run with a magnitude-pruning run at the "
                                  "matched sparsity 1 - bits/16")
                out.append(t)
                continue

            def curves(pts, dense=dense):
                d = zs.cond(dense.iloc[0], "questions")
                a = Curve("rtn", d, tuple(zs.cond(r, "questions") for _, _, r, _ in pts),
                          tuple(float(b) for b, _, _, _ in pts))
                b = Curve("magnitude", d, tuple(zs.cond(m, "questions") for *_, m in pts),
                          tuple(s for _, s, _, _ in pts))
                return [a, b]

            t.detail = ("Matched points (bits: sparsity): "
                        + ", ".join(f"{b}: {s * 100:g} %" for b, s, _, _ in points)
                        + "; matched_sparsity counts storage as 1 - bits/16.")
            out.append(_estimate(ctx, t, {0: curves(points)}, Statistic("diff", pairs=((0, 1),)),
                                 zero_shot=True))
            if len(points) > 1:
                for pt in points:
                    tx = _Test("quantization", CLAIM_Q, False,
                               f"{scope} / {pt[0]} bits vs {pt[1] * 100:g}%",
                               "R(RTN) - R(magnitude) at one matched point", 1)
                    out.append(_estimate(ctx, tx, {0: curves([pt])},
                                         Statistic("diff", pairs=((0, 1),)), zero_shot=True))
    return out


# ----------------------------------------------------------------------------- audit


def _convergence(record: dict[str, Any], task: str) -> str | None:
    """Why a dense run fails the convergence rule, or None when it passes."""
    spec = get_task(task)
    epochs = record.get("epochs") or []
    if len(epochs) < 2:
        return "one evaluation only: its gain cannot be measured"
    main = spec.main_metric
    last = epochs[-1]
    params = record.get("params") or {}
    resolved = record.get("resolved") or {}
    n_full = resolved.get("n_train_full") or resolved.get("n_train")
    batch = params.get("batch_size")
    step_key = all("step" in e for e in epochs)
    if step_key and n_full and batch:
        per_epoch = math.ceil(int(n_full) / int(batch))
        target = last["step"] - per_epoch
        earlier = [e for e in epochs[:-1] if e["step"] <= last["step"]]
        prev = min(earlier, key=lambda e: (abs(e["step"] - target), -e["step"]))
        window = [e for e in epochs if e["step"] > target]
        steps = [e["step"] - (epochs[epochs.index(e) - 1]["step"] if epochs.index(e) else 0)
                 for e in window]
        losses = [e.get("train_loss") for e in window]
    else:
        prev = epochs[-2]
        steps, losses = [1], [last.get("train_loss")]
    try:
        gain = 100 * (float(last["metrics"][main]) - float(prev["metrics"][main]))
    except (KeyError, TypeError):
        return f"no {main} in its evaluations"
    reasons = []
    if not gain < CONVERGENCE_GAIN:
        reasons.append(f"the last evaluation gains {gain:.1f} points (>= {CONVERGENCE_GAIN:g})")
    if spec.num_labels >= 2:
        if any(v is None for v in losses):
            reasons.append("no training loss recorded")
        else:
            loss = float(np.average(losses, weights=steps))
            bound = CONVERGENCE_LOSS * math.log(spec.num_labels)
            if not loss < bound:
                reasons.append(f"last-epoch training loss {loss:.3f} >= {CONVERGENCE_LOSS:g} "
                               f"ln({spec.num_labels}) = {bound:.3f}")
    return "; ".join(reasons) or None


def audit_runs(df: pd.DataFrame, outcomes: Outcomes | None = None) -> Audit:
    """The sparsity-guard flags and the non-converged dense runs of a collect table."""
    outcomes = outcomes or Outcomes()
    audit = Audit()
    if df.empty or "run_dir" not in df.columns:
        return audit
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    runs = df.drop_duplicates("run_id")
    for _, r in runs.sort_values(["experiment", "run_id"]).iterrows():
        if r["experiment"] not in FINETUNE_SETTINGS:
            continue
        rec = outcomes.record(r["run_dir"])
        if rec is None:
            continue
        flagged = (rec.get("sparsity") or {}).get("flagged") or []
        if flagged:
            audit.flagged.append((r["experiment"], str(r["run_id"]), ", ".join(flagged)))
        if r.get("mode") == "dense":
            why = _convergence(rec, str(r["task"]))
            if why:
                audit.nonconverged.append((r["experiment"], str(r["run_id"]), why))
    return audit


# ----------------------------------------------------------------------------- table


def _power_sentence(t: _Test) -> str:
    est = t.est
    ref = REFERENCE_EFFECTS[_claim_key(t.claim)]
    half = stats.resolution(est)
    unit = " per unit sparsity" if _claim_key(t.claim) == "A" else ""
    head = f"CI half-width {half:.3g}"
    if est.n_seeds >= 2 and math.isfinite(est.sd_between):
        n = stats.seeds_needed(est.sd_between, ref, POWER, est.level)
        return (f"{head}; about {n} seeds would detect an effect of {ref:g} R points{unit} "
                f"with {POWER:.0%} power at the observed seed-to-seed SD "
                f"{est.sd_between:.3g}.")
    if est.n_seeds == 1 and math.isfinite(est.se) and est.se > 0:
        sd = est.se * math.sqrt(est.n_units)
        n = stats.units_needed(sd, ref, POWER, est.level)
        what = "questions" if t.zero_shot else "test examples (one seed)"
        return (f"{head}; about {n} {what} would detect an effect of {ref:g} R points{unit} "
                f"with {POWER:.0%} power at the observed per-unit SD {sd:.3g}.")
    return f"{head}; power cannot be computed."


def _method(t: _Test) -> str:
    if t.est is None:
        return ""
    m = t.est.method
    if t.zero_shot:
        m = m.replace("examples", "questions").replace(
            "(test-set noise only, 1 seed)", "(one model: the questions are the sampling unit)")
    return m


def _value_text(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.3g}"


def _finish(tests: list[_Test], audit: Audit) -> pd.DataFrame:
    expl = [t for t in tests if not t.primary and t.not_testable is None and t.est is not None]
    ps = [(t.shifted if t.expect else t.est).p_value for t in expl]
    adj = stats.holm(ps) if ps else np.array([])
    holm_of = {id(t): float(p) for t, p in zip(expl, adj, strict=True)}
    flagged, nonconv = audit.flag_ids()
    rows = []
    for t in tests:
        flags = []
        if t.run_ids & flagged:
            flags.append(f"sparsity guard ({len(t.run_ids & flagged)} run(s))")
        if t.run_ids & nonconv:
            flags.append(f"non-converged dense ({len(t.run_ids & nonconv)} run(s))")
        row = {"setting": t.setting, "claim": t.claim, "primary": t.primary, "scope": t.scope,
               "statistic": t.statistic, "value": _NAN, "ci_low": _NAN, "ci_high": _NAN,
               "p_value": _NAN, "p_holm": _NAN, "n_seeds": 0, "n_units": 0, "method": "",
               "verdict": NOT_TESTABLE, "flags": "; ".join(flags), "detail": ""}
        if t.not_testable is not None or t.est is None:
            row["detail"] = f"Not testable: {t.not_testable or 'no estimate'}." + (
                f" {t.detail}" if t.detail else "")
            rows.append(row)
            continue
        est = t.est
        row.update(value=est.value, ci_low=est.ci_low, ci_high=est.ci_high,
                   p_value=(t.shifted.p_value if t.expect else est.p_value),
                   n_seeds=est.n_seeds, n_units=est.n_units, method=_method(t))
        if t.primary:
            verdict = (stats.equivalence_verdict(est, RECOVERY_MARGIN, t.expect) if t.expect
                       else stats.verdict(est, t.direction))
        else:
            p = holm_of[id(t)]
            row["p_holm"] = p
            ref = t.shifted if t.expect else est
            d = (1 if t.expect == stats.RECOVERS else -1) if t.expect else t.direction
            verdict = INCONCLUSIVE
            if math.isfinite(p) and p < 1 - est.level and ref.value != 0:
                verdict = SUPPORTED if np.sign(ref.value) == d else CONTRADICTED
        row["verdict"] = verdict
        kind = "Primary" if t.primary else "Exploratory (Holm)"
        sentence = (f"{kind}: estimate {_value_text(est.value)} with 95% CI "
                    f"[{_value_text(est.ci_low)}, {_value_text(est.ci_high)}] over "
                    f"{est.n_seeds} seed(s)")
        if t.expect:
            unadjusted = stats.equivalence_verdict(est, RECOVERY_MARGIN, t.expect)
            sentence += (f"; margin -{RECOVERY_MARGIN:g}: the unadjusted equivalence test says "
                         f"{unadjusted}")
        sentence += "."
        parts = [sentence, t.detail]
        if verdict == INCONCLUSIVE:
            parts.append(_power_sentence(t))
        row["detail"] = " ".join(p for p in parts if p)
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"primary": bool, "n_seeds": int, "n_units": int})


def _evaluate(df: pd.DataFrame, which: str = "last") -> tuple[pd.DataFrame, Audit]:
    if which not in ("last", "best"):
        raise ValueError(f"which {which!r} not in ['last', 'best']")
    if df.empty:
        return pd.DataFrame(columns=list(COLUMNS)), Audit()
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    if "run_dir" not in df.columns:
        df = df.assign(run_dir=None)
    outcomes = Outcomes()
    ctx = _Context(outcomes)
    ctx.audit = audit_runs(df, outcomes)
    tests: list[_Test] = []
    with _one_thread():
        for setting in SETTINGS:
            runs = df[df["experiment"] == setting]
            if runs.empty:
                continue
            if setting in FINETUNE_SETTINGS:
                ft = _FinetuneRuns(runs)
                if setting == "true_gem":
                    tests += _true_gem(ctx, ft)
                elif setting == "data_adequacy":
                    tests += _data_adequacy(ctx, ft)
                else:
                    tests += _human_gap(ctx, ft, runs)
            else:
                tests += _zero_shot(ctx, setting, runs)
    order = {s: i for i, s in enumerate(SETTINGS)}
    tests.sort(key=lambda t: (order[t.setting], not t.primary))
    return _finish(tests, ctx.audit), ctx.audit


class _one_thread:
    """BLAS in one thread while estimating: the products are small, threads only cost."""

    def __enter__(self) -> None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            self._ctx = None
            return
        self._ctx = threadpool_limits(1)
        self._ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)


def evaluate_claims(df: pd.DataFrame, which: str = "last") -> pd.DataFrame:
    """One row per test (:data:`COLUMNS`): the primary tests of :data:`PRIMARY` and the
    exploratory rows, each with its statistic on the retention scale, CI, p-value (Holm-
    adjusted for exploratory rows), seeds and units, method, verdict, flags and a sentence.

    Each experiment of :data:`SETTINGS` present in ``df`` is checked on its own runs; the
    statistics use the per-example outcomes (``per_example.json``, ``per_question.json``) of
    the runs' last evaluation whatever ``which`` says (a run without them makes its rows
    "not testable"). An empty table gives an empty frame with :data:`COLUMNS`; a table
    without an ``experiment`` column is read as true_gem runs.

    Args:
        df: a :func:`~junk_dna.results.collect` table (with ``run_dir``).
        which: ``"last"`` or ``"best"``; accepted for the callers, the verdicts always use
            the last evaluation (the per-example outcomes are the last evaluation's).

    Raises:
        ValueError: ``which`` not in ("last", "best").
    """
    return _evaluate(df, which)[0]


# ----------------------------------------------------------------------------- markdown


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "" if np.isnan(v) else f"{v:.3g}"
    return str(v).replace("|", "\\|")


def _ci(row: pd.Series) -> str:
    if not (math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])):
        return ""
    return f"[{row['ci_low']:.3g}, {row['ci_high']:.3g}]"


def primary_markdown(table: pd.DataFrame) -> str:
    """The primary tests as a markdown table: setting, claim, scope, value, CI, verdict."""
    prim = table[table["primary"].astype(bool)] if len(table) else table
    lines = ["| setting | claim | scope | value | 95% CI | verdict |", "|---|---|---|---|---|---|"]
    for _, r in prim.iterrows():
        lines.append(f"| {r['setting']} | {r['claim']} | {_fmt(r['scope'])} | "
                     f"{_fmt(float(r['value']))} | {_ci(r)} | **{r['verdict']}** |")
    if prim.empty:
        lines.append("| | | no primary test has runs | | | |")
    return "\n".join(lines)


def readme_claims_table(csv_path: str | os.PathLike[str]) -> str:
    """The README's verdict table, generated from a ``claims.csv`` (never typed by hand):
    the primary tests, then one line on the exploratory rows. Use
    ``python tools/readme_claims.py figures/claims.csv`` to put it into README.md."""
    table = pd.read_csv(csv_path, keep_default_na=True)
    table["primary"] = table["primary"].astype(str).str.lower().isin(["true", "1", "yes"])
    text = [f"Primary tests (pre-registered, `junk_dna.report.claims.PRIMARY`; generated from "
            f"`{Path(csv_path).name}`):", "", primary_markdown(table), ""]
    expl = table[~table["primary"]]
    counts = expl["verdict"].value_counts()
    text.append(f"Exploratory rows ({len(expl)}: per method, pattern, data fraction and "
                "sparsity point, the equivalence tests of claim C; verdicts from Holm-adjusted "
                "p-values): " + (", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)
                                 if len(expl) else "none") + ".")
    return "\n".join(text)


def claims_markdown(table: pd.DataFrame, df: pd.DataFrame, which: str = "last",
                    audit: Audit | None = None) -> str:
    """The markdown page of :func:`write_claims` for an :func:`evaluate_claims` table."""
    lines = ["# Claims of Yin et al. (ICML 2024) checked on these runs", ""]
    if table.empty:
        return "\n".join([*lines, "No runs: there are no finished runs of "
                          f"{', '.join(SETTINGS)} to check the claims on.", ""])
    if audit is None:
        audit = audit_runs(df)
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    lines += [
        "Every statistic is on the chance-corrected retention R = 100 (score - chance) / "
        "(dense - chance) of the same seed and condition (0 = chance, 100 = the dense model), "
        "from the per-example outcomes of the runs' last evaluation"
        + (f" (the figures use the {which} epoch)" if which != "last" else "") + ". "
        "supported: the 95% CI excludes 0 in the paper's direction; contradicted: it "
        "excludes 0 the other way; inconclusive: neither; not testable: the design cannot "
        "speak (the row says why). Primary tests are pre-registered "
        "(`junk_dna.report.claims.PRIMARY`); exploratory rows take their verdict from "
        "Holm-adjusted p-values over all exploratory rows.", "",
        "## Primary tests", "", primary_markdown(table), ""]
    shown = ["", "scope", "statistic", "value", "95% CI", "p", "p (Holm)", "seeds", "units",
             "verdict", "flags"]
    for setting, sub in table.groupby("setting", sort=False):
        runs = df[df["experiment"] == setting]
        n_runs = runs["run_id"].nunique() if "run_id" in runs.columns else len(runs)
        lists = {c: ", ".join(map(str, sorted(runs[c].dropna().unique(), key=str)))
                 for c in ("model", "task", "data_fraction", "seed") if c in runs.columns}
        lines += [f"## Setting: {setting}", "",
                  f"{n_runs} {setting} runs; models: {lists.get('model', '?')}; tasks: "
                  f"{lists.get('task', '?')}"
                  + (f"; data fractions: {lists['data_fraction']}"
                     if setting in FINETUNE_SETTINGS and "data_fraction" in lists else "")
                  + f"; seeds: {lists.get('seed', '?')}.", ""]
        for claim, part in sub.groupby("claim", sort=False):
            part = part.sort_values("primary", ascending=False, kind="stable")
            lines += [f"### {claim}", "", f"> {STATEMENTS.get(claim, '')}", "",
                      "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
            for _, r in part.iterrows():
                lines.append("| " + " | ".join([
                    "**primary**" if r["primary"] else "exploratory", _fmt(r["scope"]),
                    _fmt(r["statistic"]), _fmt(float(r["value"])), _ci(r),
                    _fmt(float(r["p_value"])), _fmt(float(r["p_holm"])), str(r["n_seeds"]),
                    str(r["n_units"]), f"**{r['verdict']}**" if r["primary"] else r["verdict"],
                    _fmt(r["flags"])]) + " |")
            lines.append("")
            for _, r in part.iterrows():
                tag = "primary" if r["primary"] else "exploratory"
                method = f" Method: {r['method']}." if r["method"] else ""
                lines.append(f"- {tag}, {_fmt(r['scope'])}: {r['detail']}{method}")
            lines.append("")
    lines += ["## Runs flagged by the sparsity guard", "",
              "Tensors pruned > 95 % at a target sparsity <= 60 % (`record.sparsity.flagged`): "
              "a drop may come from one tensor cut off the path to the classifier, not from "
              "lost knowledge.", ""]
    lines += [f"- {s}: {r}: {why}" for s, r, why in audit.flagged] or ["- none"]
    lines += ["", "## Non-converged dense runs", "",
              f"Convergence rule (docs/PREREGISTRATION.md stage 1): the last evaluation gains "
              f"less than {CONVERGENCE_GAIN:g} points of the main metric x 100 over the one a "
              f"full-data epoch earlier, and the last epoch's mean training loss is below "
              f"{CONVERGENCE_LOSS:g} ln(k).", ""]
    lines += [f"- {s}: {r}: {why}" for s, r, why in audit.nonconverged] or ["- none"]
    lines += ["", "## Excluded conditions", "",
              f"A dense model with dense - chance <= {EXCLUSION_SE:g} binomial standard errors "
              "sqrt(p (1 - p) / n) (p the dense score, n its test examples or questions) "
              "cannot anchor R: its curve is left out for that seed.", ""]
    lines += [f"- {e}" for e in audit.exclusions] or ["- none"]
    if audit.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in audit.notes]
    lines += [
        "", "## Thresholds and constants (junk_dna.report.claims, fixed before the decisive "
        "runs)", "",
        "- Primary tests (`PRIMARY`):", ""]
    lines += [f"  - {p.setting} {p.claim}: {p.statistic} (direction "
              f"{'+' if p.direction > 0 else '-'}); runs: {p.runs}." for p in PRIMARY]
    lines += [
        "",
        f"- Level {stats.LEVEL:.0%}; intervals: two-level bootstrap-t over seeds and test "
        f"examples with >= {stats.MIN_SEEDS_T} fine-tuning seeds, paired percentile bootstrap "
        f"over examples with one seed (test-set noise only) and over questions for a "
        f"zero-shot model; {stats.N_BOOTSTRAP} resamples, generator seed "
        f"{stats.BOOTSTRAP_SEED}; conditions on different example sets are resampled block "
        "by block (stratified).",
        f"- C window R_WINDOW = [{R_WINDOW[0]:g}, {R_WINDOW[1]:g}] (sparse transfer's mean R "
        f"over seeds); recovery margin {RECOVERY_MARGIN:g} R points.",
        f"- Exclusion: dense - chance <= {EXCLUSION_SE:g} binomial SE; a fine-tuning test "
        f"left with fewer than {MIN_SEEDS} seeds by exclusions, or a zero-shot test whose "
        "model is excluded, is not testable. A slope needs "
        f"{MIN_SPARSITY_POINTS} or more sparsity points.",
        "- Reference effects of the power statements: " + ", ".join(
            f"{k}: {v:g} R points" + (" per unit sparsity" if k == "A" else "")
            for k, v in REFERENCE_EFFECTS.items()) + f"; power {POWER:.0%}.",
        "- Chance levels: majority-class rate of each seed's test labels (classification "
        "accuracy), 1/k (multiple choice, the mean of 1/k_i when k varies), 2p/(1+p) (binary "
        "F1), 0 (exact match, F1 of answers, MCC, correlations).",
        "- human_gap pairs (easy, hard), fixed as in the paper: " + "; ".join(
            f"{e} / {h}" for _, e, h in HUMAN_GAP_PAIRS) + ".",
        "- Zero-shot easy/hard conditions: " + "; ".join(
            f"{k}: {v}" for k, v in EASY_HARD_RULES.items()) + f"; score {ZERO_SHOT_SCORE} "
        f"(factoid conditions: {FACTOID_SCORE}).", ""]
    return "\n".join(lines)


def write_claims(df: pd.DataFrame, out_dir: str | os.PathLike[str],
                 which: str = "last") -> tuple[Path, Path]:
    """Evaluate the claims on ``df`` and write ``claims.csv`` and ``claims.md`` into
    ``out_dir`` atomically (created if needed). An empty table gives a page saying there are
    no runs and a header-only csv.

    Returns:
        The paths of ``claims.csv`` and ``claims.md``.

    Raises:
        ValueError: as :func:`evaluate_claims`.
    """
    table, audit = _evaluate(df, which)
    out = Path(out_dir)
    csv, md = out / "claims.csv", out / "claims.md"
    atomic_write_text(csv, table.to_csv(index=False))
    atomic_write_text(md, claims_markdown(table, df, which=which, audit=audit))
    return csv, md
