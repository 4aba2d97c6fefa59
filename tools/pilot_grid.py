"""Apply the pre-registered grid rule (docs/PREREGISTRATION.md, stage 2) to the pilot's records.

    python tools/pilot_grid.py [pilot_runs]

Prints, for the fine-tuning pilot (``true_gem``, 100 % data, sparse transfer, unstructured
magnitude), the chance-corrected retention ``R`` of every run, its mean over the pilot seeds
per sparsity, and the grid the rule fixes: ``S`` (sparsities whose mean R lies in the claims'
``R_WINDOW``; the nearest outside point joins when fewer than two are inside, the three largest
are kept when more than three are) and the claim-C points (the two largest of ``S``); for each
zero-shot experiment present, the same window per pruning method on R averaged over the
experiment's conditions. Reads records only; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from junk_dna.report.analysis import retention_table
from junk_dna.report.claims import R_WINDOW
from junk_dna.results import collect

MAX_POINTS = 3
"""The rule keeps at most this many sparsities (the largest)."""
MIN_POINTS = 2
"""Fewer sparsities inside the window than this: the nearest outside point joins."""
C_POINTS = 2
"""Claim C (freezing, sparse-to-dense) runs on this many of the largest points of S."""


def window_rule(mean_r: pd.Series) -> list[float]:
    """The sparsities the stage-2 rule keeps, from mean R per sparsity (index: sparsity).

    Raises:
        ValueError: ``mean_r`` is empty.
    """
    if mean_r.empty:
        raise ValueError("no pilot sparsities: the rule needs at least one")
    lo, hi = R_WINDOW
    inside = sorted(float(x) for x, r in mean_r.items() if lo <= r <= hi)
    if len(inside) < MIN_POINTS:
        outside = mean_r.drop(index=[x for x in mean_r.index if float(x) in inside])
        dist = outside.map(lambda r: min(abs(r - lo), abs(r - hi)))
        inside = sorted(inside + [float(x) for x in dist.sort_values().index[:MIN_POINTS
                                                                           - len(inside)]])
    return inside[-MAX_POINTS:]


def _finetune(df: pd.DataFrame) -> None:
    runs = df[(df["experiment"] == "true_gem") & (df["data_fraction"] == 1.0)]
    if runs.empty:
        print("no true_gem pilot runs at 100 % data")
        return
    table = retention_table(runs)
    table = table[table["metric"] == table["metric"].iloc[0]]
    sparse = table[(table["mode"] == "sparse") & (table["pattern"] == "unstructured")]
    per_seed = sparse.pivot_table(index="sparsity", columns="seed", values="retention")
    print("true_gem pilot, sparse transfer at 100 % data: R per seed and sparsity")
    print(per_seed.round(1).to_string())
    mean_r = per_seed.mean(axis=1)
    print("mean R:", ", ".join(f"{x:g}: {r:.1f}" for x, r in mean_r.items()))
    s = window_rule(mean_r)
    print(f"S = {s} (window {list(R_WINDOW)}); claim C on {s[-C_POINTS:]}")
    other = table[table["mode"].isin(["freeze", "sparse_to_dense"])]
    if not other.empty:
        print("freeze / sparse-to-dense R per seed (not used by the rule):")
        print(other.pivot_table(index=["mode", "sparsity"], columns="seed",
                                values="retention").round(1).to_string())


def zero_shot_grids(df: pd.DataFrame) -> dict[tuple[str, str], tuple[pd.Series, list[float]]]:
    """The zero-shot part of the rule: per (experiment, pruning method), unstructured, the mean
    R per sparsity over the experiment's conditions and the sparsities the window keeps.

    Args:
        df: finished runs (``collect``, last evaluation); fine-tuning rows are ignored.
    """
    zs = df[~df["experiment"].isin(["true_gem", "data_adequacy", "human_gap"])]
    if zs.empty:
        return {}
    table = retention_table(zs)
    table = table[(table["method"] != "dense") & (table["pattern"] == "unstructured")]
    grids = {}
    for (experiment, method), g in table.groupby(["experiment", "method"]):
        mean_r = g.groupby("sparsity")["retention"].mean()
        grids[(str(experiment), str(method))] = (mean_r, window_rule(mean_r))
    return grids


def _zero_shot(df: pd.DataFrame) -> None:
    for (experiment, method), (mean_r, grid) in zero_shot_grids(df).items():
        print(f"{experiment} / {method}: mean R over conditions:",
              ", ".join(f"{x:g}: {r:.1f}" for x, r in mean_r.items()), f"-> grid {grid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", nargs="?", default="pilot_runs", type=Path)
    args = parser.parse_args(argv)
    if not args.runs_dir.is_dir():
        parser.error(f"runs folder {str(args.runs_dir)!r} not found")
    df = collect(args.runs_dir)
    if df.empty:
        parser.error(f"no finished runs below {str(args.runs_dir)!r}")
    df = df[df["which"] == "last"]
    _finetune(df)
    _zero_shot(df)
    return 0


if __name__ == "__main__":
    sys.exit(main())
