"""Calibration of the interval methods of ``junk_dna.report.stats`` by simulation.

Run: ``python benchmarks/calibrate_stats.py [--experiments 1000] [--markdown calibration.md]``
(about 30 minutes on 2 shared CPUs at the defaults; ``--quick`` for a 2-minute smoke run).

For every cell of the grid (fine-tuning: 262 test examples, chance 0.5, seeds 1/2/3/5/8 with a
seed-level SD of each condition's true accuracy of 0/1/2/4 points; zero-shot: 1 model,
250/500/900 questions, chance 0.25, a high and a low dense accuracy) and every scenario
(``effect``, ``null``, ``flat``; see ``SIM_SCENARIOS``) it simulates ``--experiments``
experiments with known truth (``SimDesign``), analyses each one with every method exactly as
``estimate`` does (same resampling, same generator seed) and prints, per statistic and method,
the coverage of the true value, the share of "supported" verdicts (CI excludes 0 in the
predicted direction: the false-positive rate in the null scenarios, the power in ``effect``),
the share of "contradicted" and the mean CI half-width. The truth of ratio statistics is a
Monte Carlo expectation of the per-seed statistic over ``--truth-draws`` per-seed draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from junk_dna.report import stats as st

COLUMNS = (st.STUDENT_T, st.PERCENTILE, st.BOOTSTRAP_T, st.SEED_BOOTSTRAP, st.NORMAL)
HEADER = {st.STUDENT_T: "Student t", st.PERCENTILE: "percentile (paired at 1 seed)",
          st.BOOTSTRAP_T: "bootstrap-t", st.SEED_BOOTSTRAP: "seed-only bootstrap",
          st.NORMAL: "normal (delta)"}


def cells(args: argparse.Namespace):
    """(setting, scenario, design) of the grid, fine-tuning first."""
    chance, mus = st.SIM_SCENARIOS["fine-tuning"]
    for sd in args.seed_sds:
        for scenario, mu in mus.items():
            for n_seeds in args.seeds:
                yield "fine-tuning", chance, scenario, st.SimDesign(mu, n_seeds, st.FT_N_UNITS,
                                                                    sd / 100)
    for setting in ("zero-shot high", "zero-shot low"):
        chance, mus = st.SIM_SCENARIOS[setting]
        for n in args.zero_shot_units:
            for scenario, mu in mus.items():
                yield setting, chance, scenario, st.SimDesign(mu, 1, n, 0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiments", type=int, default=st.N_EXPERIMENTS)
    p.add_argument("--truth-draws", type=int, default=st.N_TRUTH)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 5, 8])
    p.add_argument("--seed-sds", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0],
                   help="seed-level SD of a condition's true accuracy, in points")
    p.add_argument("--zero-shot-units", type=int, nargs="+", default=[250, 500, 900])
    p.add_argument("--quick", action="store_true",
                   help="200 experiments, 20000 truth draws, seeds 1 3 5, SDs 0 4, 250 questions")
    p.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.experiments, args.truth_draws = 200, 20_000
        args.seeds, args.seed_sds, args.zero_shot_units = [1, 3, 5], [0.0, 4.0], [250]

    t0 = time.time()
    rows = []
    resamplings: dict[tuple[int, int], st.Resampling] = {}
    truths: dict[tuple, dict] = {}
    print("setting | seeds | units | seed SD | scenario | statistic | truth | method | "
          "coverage % | supported % | contradicted % | half-width", flush=True)
    for setting, chance, scenario, design in cells(args):
        key = (design.n_seeds, design.n_units)
        if key not in resamplings:
            resamplings[key] = st.draw_resampling([design.n_units] * design.n_seeds)
        tkey = (setting, scenario, design.n_units, design.seed_sd)
        if tkey not in truths:
            truths[tkey] = st.calibration_statistics(design, scenario, chance, args.truth_draws)
        res = st.calibrate(design, truths[tkey], n_experiments=args.experiments,
                           resampling=resamplings[key])
        for stat, by_method in res.items():
            for method, r in by_method.items():
                row = dict(setting=setting, seeds=design.n_seeds, units=design.n_units,
                           sd=100 * design.seed_sd, scenario=scenario, statistic=stat,
                           truth=truths[tkey][stat][2], method=method, r=r)
                rows.append(row)
                print(f"{setting} | {design.n_seeds} | {design.n_units} | "
                      f"{100 * design.seed_sd:g} | {scenario} | {stat} | {row['truth']:.3f} | "
                      f"{method} | {100 * r.coverage:.1f} | {100 * r.supported:.1f} | "
                      f"{100 * r.contradicted:.1f} | {r.half_width:.2f}", flush=True)
    elapsed = time.time() - t0
    text = tables(rows, args, elapsed)
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


def tables(rows: list[dict], args: argparse.Namespace, elapsed: float) -> str:
    """Markdown: one row per cell and statistic, one column per method, and a summary."""
    cellkeys: dict[tuple, dict[str, st.CellResult]] = {}
    for r in rows:
        k = (r["setting"], r["seeds"], r["units"], r["sd"], r["scenario"], r["statistic"],
             r["truth"])
        cellkeys.setdefault(k, {})[r["method"]] = r["r"]
    out = [f"Cells: {args.experiments} simulated experiments each; truth of ratio statistics "
           f"by Monte Carlo over {args.truth_draws} per-seed draws; {st.N_BOOTSTRAP} "
           f"resamples; level {st.LEVEL}. Entries: coverage % / supported % / mean CI "
           f"half-width (supported = CI excludes 0 in the predicted direction; in the `null` "
           f"and `flat` scenarios it is the false-positive rate, one-sided, 2.5 % expected). "
           f"Run time {elapsed / 60:.1f} min "
           f"(`python benchmarks/calibrate_stats.py {' '.join(sys.argv[1:])}`).", "",
           "| setting | seeds | units | seed SD | scenario | statistic | truth | "
           + " | ".join(HEADER[m] for m in COLUMNS) + " |",
           "|" + "---|" * (7 + len(COLUMNS))]
    for k, by_m in cellkeys.items():
        setting, seeds, units, sd, scenario, stat, truth = k
        ents = []
        for m in COLUMNS:
            r = by_m.get(m)
            ents.append("" if r is None else
                        f"{100 * r.coverage:.1f} / {100 * r.supported:.1f} / {r.half_width:.2f}")
        out.append(f"| {setting} | {seeds} | {units} | {sd:g} | {scenario} | {stat} | "
                   f"{truth:.2f} | " + " | ".join(ents) + " |")
    out += ["", "Summary over the cells that the verdict method must pass (>= 3 seeds, and "
            "every zero-shot cell), and over the 2-seed and 1-seed fine-tuning cells:", "",
            "| method | cells | coverage % min | coverage % max | cells outside 95 +- 3 | "
            "max supported % at null | mean half-width (effect) |", "|---|---|---|---|---|---|---|"]
    groups = {
        ">= 3 seeds": lambda k: k[0] == "fine-tuning" and k[1] >= 3,
        "zero-shot": lambda k: k[0] != "fine-tuning",
        "2 seeds": lambda k: k[0] == "fine-tuning" and k[1] == 2,
        "1 seed (fine-tuning)": lambda k: k[0] == "fine-tuning" and k[1] == 1,
    }
    for gname, sel in groups.items():
        for m in COLUMNS:
            rs = [(k, by_m[m]) for k, by_m in cellkeys.items() if sel(k) and m in by_m]
            if not rs:
                continue
            cov = [100 * r.coverage for _, r in rs]
            nulls = [100 * r.supported for k, r in rs if k[4] != "effect"]
            hw = [r.half_width for k, r in rs if k[4] == "effect"]
            outside = sum(abs(c - 95) > 3 for c in cov)
            out.append(f"| {HEADER[m]} | {gname} ({len(rs)}) | {min(cov):.1f} | {max(cov):.1f} "
                       f"| {outside} | {max(nulls) if nulls else float('nan'):.1f} | "
                       f"{sum(hw) / len(hw) if hw else float('nan'):.2f} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
