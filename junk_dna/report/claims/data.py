"""From curves to an estimate: each seed's per-example outcomes assembled into blocks with
their chance levels, the exclusions applied, the statistic estimated (:func:`estimate_test`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from junk_dna.data.glue_tasks import get_task
from junk_dna.evaluation.chance import binomial_se
from junk_dna.report import stats
from junk_dna.report.claims.conditions import ClaimTest, Cond, Context, Curve, SeedData, Statistic
from junk_dna.report.claims.constants import EXCLUSION_SE, MIN_SEEDS
from junk_dna.report.outcomes import ExampleOutcomes, condition_chance, row_metric, run_chance


def _values(block: Any, metric: Any) -> np.ndarray:
    if metric is None:
        return np.asarray(block, dtype=np.float64).mean(-1)
    pred, lab = block
    return np.asarray(metric(pred, np.broadcast_to(lab, pred.shape)), dtype=np.float64)


def _assemble(ctx: Context, setting: str, seed: Any, curves: Sequence[Curve]
              ) -> tuple[SeedData | None, str]:
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
    return SeedData(blocks, metrics, chance, index, excluded, why), ""


def _n_units(block: Any) -> int:
    return int(block[1].shape[0]) if isinstance(block, tuple) else int(block.shape[1])


def _finetune_block(ctx: Context, conds: list[Cond]) -> tuple[Any, Any, list[float]] | str:
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


def _zero_shot_block(ctx: Context, conds: list[Cond]) -> tuple[Any, Any, list[float]] | str:
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


def _contrast(stat: Statistic, curves: Sequence[Curve], data: SeedData) -> stats.Contrast:
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


def estimate_test(ctx: Context, test: ClaimTest, per_seed: dict[Any, list[Curve]], stat: Statistic,
                  *, zero_shot: bool, margin: float | None = None) -> ClaimTest:
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


def _apply_one(f: stats.Contrast, data: SeedData) -> float:
    values = np.concatenate([_values(b, m) for b, m in zip(data.blocks, data.metrics,
                                                           strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.asarray(f(values)))


def _shift(f: stats.Contrast, margin: float) -> stats.Contrast:
    def g(means: np.ndarray) -> np.ndarray:
        return f(means) + margin

    return g
