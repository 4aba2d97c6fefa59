"""Power of the decisive fine-tuning design, from the pilot's seed-to-seed spread.

    python tools/power_estimate.py [papermill_runs/pilot] [--seeds 5]

For every primary fine-tuning test of :data:`junk_dna.report.claims.PRIMARY` that the pilot's
records can estimate (true_gem A and C; data_adequacy A and B once the 25 % arm has run), it
prints the per-seed statistic's seed-to-seed SD over the pilot seeds, the power of the
decisive design (``--seeds`` seeds, Student t at the claims' level, which the two-level
bootstrap-t matches within a few points: docs/STATISTICS.md) to detect the claims' reference
effect (``REFERENCE_EFFECTS``), the seeds 80 % power needs, and the same at twice the SD (an SD
from two pilot seeds has one degree of freedom: the factor 2 is a sensitivity, not a bound).
Reads records only; writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from junk_dna.report.claims import (
    POWER,
    REFERENCE_EFFECTS,
    Context,
    FinetuneRuns,
    audit_runs,
    claim_key,
    data_adequacy_tests,
    true_gem_tests,
)
from junk_dna.report.outcomes import Outcomes
from junk_dna.report.stats import seeds_needed, t_power
from junk_dna.results import collect

DECISIVE_SEEDS = 5
"""Seeds of the decisive design (docs/PREREGISTRATION.md, stage 3)."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", nargs="?", default="papermill_runs/pilot", type=Path)
    parser.add_argument("--seeds", type=int, default=DECISIVE_SEEDS)
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds {args.seeds}: a verdict needs at least 2 seeds")
    if not args.runs_dir.is_dir():
        parser.error(f"runs folder {str(args.runs_dir)!r} not found")
    df = collect(args.runs_dir)
    if df.empty:
        parser.error(f"no finished runs below {str(args.runs_dir)!r}")
    df = _with_shared_runs(df)
    outcomes = Outcomes()
    ctx = Context(outcomes)
    ctx.audit = audit_runs(df, outcomes)
    tests = []
    for setting, build in (("true_gem", true_gem_tests), ("data_adequacy", data_adequacy_tests)):
        runs = df[df["experiment"] == setting]
        if not runs.empty:
            tests += build(ctx, FinetuneRuns(runs))
    print(f"| setting | claim | pilot seeds | pilot estimate | seed SD | reference effect | "
          f"power at {args.seeds} seeds | seeds for {POWER:.0%} | same at {SENSITIVITY:g}x SD |")
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
              f"| {t_power(args.seeds, sd, ref):.2f} | {seeds_needed(sd, ref, POWER)} "
              f"| {t_power(args.seeds, wide, ref):.2f} / {seeds_needed(wide, ref, POWER)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
