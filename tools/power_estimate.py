"""Power of the decisive design, from the pilot's seed-to-seed and question-to-question spread.

    python tools/power_estimate.py [pilot_runs] [--seeds 5] [--questions 250]

Fine-tuning: for every primary test of :data:`junk_dna.report.claims.PRIMARY` that the pilot's
records can estimate (true_gem A and C; data_adequacy A and B once the 25 % arm has run), it
prints the per-seed statistic's seed-to-seed SD over the pilot seeds, the power of the
decisive design (``--seeds`` seeds, Student t at the claims' level, which the two-level
bootstrap-t matches within a few points: docs/STATISTICS.md) to detect the claims' reference
effect (``REFERENCE_EFFECTS``), the seeds 80 % power needs, and the same at twice the SD (an SD
from two pilot seeds has one degree of freedom: the factor 2 is a sensitivity, not a bound).

Zero-shot (one model, the questions are the sampling unit): for every primary test of the
zero-shot experiments present, the per-question SD of the statistic's contrast on the pilot's
questions, the power at ``--questions`` questions per condition (normal approximation,
:func:`junk_dna.report.stats.z_power`) and the questions 80 % power needs; for every dense
condition, the exclusion rule's margin at the pilot's and at the decisive number of questions
(``dense - chance`` against ``EXCLUSION_SE`` binomial standard errors). Reads records only;
writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from junk_dna.evaluation.chance import binomial_se
from junk_dna.report.analysis import split_metric
from junk_dna.report.claims import (
    EXCLUSION_SE,
    FINETUNE_SETTINGS,
    POWER,
    REFERENCE_EFFECTS,
    ZERO_SHOT_SCORE,
    ZERO_SHOT_SETTINGS,
    Context,
    FinetuneRuns,
    audit_runs,
    claim_key,
    data_adequacy_tests,
    true_gem_tests,
    zero_shot_tests,
)
from junk_dna.report.outcomes import Outcomes, condition_chance
from junk_dna.report.stats import seeds_needed, t_power, units_needed, z_power
from junk_dna.results import collect

DECISIVE_SEEDS = 5
"""Seeds of the decisive fine-tuning design (docs/PREREGISTRATION.md, stage 3)."""
DECISIVE_QUESTIONS = 250
"""Questions per condition of the decisive zero-shot design (docs/PREREGISTRATION.md, stage 4)."""
SENSITIVITY = 2.0
"""The SD multiplier of the sensitivity column."""


def _with_shared_runs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` plus true_gem's dense and sparse-transfer runs as data_adequacy runs at the data
    fractions data_adequacy lacks (the decisive job reuses them the same way)."""
    da = df[df["experiment"] == "data_adequacy"]
    if da.empty:
        return df
    tg = df[(df["experiment"] == "true_gem") & df["mode"].isin(["dense", "sparse"])
            & ~df["data_fraction"].isin(set(da["data_fraction"]))]
    return pd.concat([df, tg.assign(experiment="data_adequacy")], ignore_index=True)


def _finetune(df: pd.DataFrame, ctx: Context, n_seeds: int) -> None:
    tests = []
    for setting, build in (("true_gem", true_gem_tests), ("data_adequacy", data_adequacy_tests)):
        runs = df[df["experiment"] == setting]
        if not runs.empty:
            tests += build(ctx, FinetuneRuns(runs))
    if not tests:
        return
    print(f"| setting | claim | pilot seeds | pilot estimate | seed SD | reference effect | "
          f"power at {n_seeds} seeds | seeds for {POWER:.0%} | same at {SENSITIVITY:g}x SD |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t in tests:
        if not t.primary:
            continue
        est = t.est
        if est is None or est.n_seeds < 2 or not math.isfinite(est.sd_between):
            why = t.not_testable or "fewer than 2 pilot seeds"
            print(f"| {t.setting} | {t.claim} | {est.n_seeds if est else 0} | | | | {why} | | |")
            continue
        ref = REFERENCE_EFFECTS[claim_key(t.claim)]
        sd = est.sd_between
        wide = SENSITIVITY * sd
        print(f"| {t.setting} | {t.claim} | {est.n_seeds} | {est.value:.1f} | {sd:.1f} | {ref:g} "
              f"| {t_power(n_seeds, sd, ref):.2f} | {seeds_needed(sd, ref, POWER)} "
              f"| {t_power(n_seeds, wide, ref):.2f} / {seeds_needed(wide, ref, POWER)} |")


def _dense_margins(df: pd.DataFrame, outcomes: Outcomes, n_questions: int) -> None:
    """The exclusion rule on every dense zero-shot condition, at the pilot's and the decisive
    number of questions (the same dense score)."""
    dense = df[df["experiment"].isin(ZERO_SHOT_SETTINGS) & (df["method"] == "dense")]
    rows = dense.assign(**dict(zip(("score", "condition"),
                                   split_metric(dense["metric"]).T.values, strict=True)))
    rows = rows[rows["score"] == ZERO_SHOT_SCORE]
    if rows.empty:
        return
    print(f"\n| experiment | condition | dense | chance | dense - chance | {EXCLUSION_SE:g} SE "
          f"at pilot n | {EXCLUSION_SE:g} SE at {n_questions} | excluded at {n_questions} |")
    print("|---|---|---|---|---|---|---|---|")
    for _, r in rows.sort_values(["experiment", "condition"]).iterrows():
        per_q = outcomes.questions(r["run_dir"])
        chance, _ = condition_chance(ZERO_SHOT_SCORE, per_q, r["condition"], r.to_dict())
        key = f"{ZERO_SHOT_SCORE}|{r['condition']}"
        n_pilot = len(per_q[key]) if per_q is not None and key in per_q else int(r["n_questions"])
        p = float(r["value"])
        at_pilot = EXCLUSION_SE * binomial_se(p, n_pilot)
        at_n = EXCLUSION_SE * binomial_se(p, n_questions)
        print(f"| {r['experiment']} | {r['condition']} | {p:.3f} | {chance:.3f} "
              f"| {p - chance:.3f} | {at_pilot:.3f} (n={n_pilot}) | {at_n:.3f} "
              f"| {'yes' if not p - chance > at_n else 'no'} |")


def _zero_shot(df: pd.DataFrame, ctx: Context, outcomes: Outcomes, n_questions: int) -> None:
    tests = []
    for setting in ZERO_SHOT_SETTINGS:
        runs = df[df["experiment"] == setting]
        if not runs.empty:
            tests += zero_shot_tests(ctx, setting, runs)
    tests = [t for t in tests if t.primary]
    if not tests:
        return
    print(f"\n| setting | claim | pilot questions | pilot estimate | per-question SD "
          f"| reference effect | power at {n_questions} | questions for {POWER:.0%} |")
    print("|---|---|---|---|---|---|---|---|")
    for t in tests:
        est = t.est
        if est is None or not (math.isfinite(est.se) and est.se > 0):
            why = t.not_testable or "no estimate"
            print(f"| {t.setting} | {t.claim} | | | | | {why} | |")
            continue
        ref = REFERENCE_EFFECTS[claim_key(t.claim)]
        sd = est.se * math.sqrt(est.n_units)
        print(f"| {t.setting} | {t.claim} | {est.n_units} | {est.value:.1f} | {sd:.1f} | {ref:g} "
              f"| {z_power(n_questions, sd, ref):.2f} | {units_needed(sd, ref, POWER)} |")
    _dense_margins(df, outcomes, n_questions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", nargs="?", default="pilot_runs", type=Path)
    parser.add_argument("--seeds", type=int, default=DECISIVE_SEEDS)
    parser.add_argument("--questions", type=int, default=DECISIVE_QUESTIONS)
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds {args.seeds}: a verdict needs at least 2 seeds")
    if args.questions < 1:
        parser.error(f"--questions {args.questions}: must be at least 1")
    if not args.runs_dir.is_dir():
        parser.error(f"runs folder {str(args.runs_dir)!r} not found")
    df = collect(args.runs_dir)
    if df.empty:
        parser.error(f"no finished runs below {str(args.runs_dir)!r}")
    df = _with_shared_runs(df[df["which"] == "last"])
    outcomes = Outcomes()
    ctx = Context(outcomes)
    ctx.audit = audit_runs(df, outcomes)
    _finetune(df[df["experiment"].isin(FINETUNE_SETTINGS)], ctx, args.seeds)
    _zero_shot(df, ctx, outcomes, args.questions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
