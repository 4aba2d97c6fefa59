"""The paper's three claims, each turned into a number and a plain verdict from collected runs.

Every claim is checked per experiment (the ``setting`` column) on the runs of a
:func:`~junk_dna.results.collect` table, with scores normalized to the dense model
(:func:`~junk_dna.report.analysis.normalize_to_dense`):

A. *Monotonic drop*: the normalized score falls as sparsity grows (per pattern).
B. *Harder tasks drop faster*: ``true_gem`` and ``data_adequacy``: with less training data
   (a smaller ``data_fraction``) the normalized curve lies lower; ``human_gap``: the curve of
   the task of a pair with the larger human-model gap lies lower.
C. *Freezing recovers, sparse-to-dense does not*: at the highest sparsity, dense transfer with
   the pruned weights frozen at their pre-trained values beats sparse-to-dense transfer and
   stays close to the dense model.

The thresholds below are fixed a priori from the wording of the claims; they are never fitted
to any run. Each verdict is one of :data:`VERDICTS`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from junk_dna.experiments.human_gap import PAIRS
from junk_dna.pruning.config import matched_sparsity
from junk_dna.report.analysis import (
    baseline_keys,
    easy_hard_pairs,
    human_gap_table,
    normalize_to_dense,
    normalize_zero_shot,
)
from junk_dna.results.records import atomic_write_text

#: The experiment whose runs the claims were first checked on (kept for callers).
EXPERIMENT = "true_gem"
#: Experiments checked, in order, and the claims each one can speak to.
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
#: Zero-shot claims B and Q: a condition whose dense model answers fewer questions right than
#: this cannot be normalized meaningfully (one right answer would be "100").
MIN_DENSE_CORRECT = 10
#: Zero-shot settings: the easy and the hard condition of claim B (metric suffixes), or a
#: rule picking them from the conditions present.
EASY_HARD: dict[str, tuple[str, str]] = {
    "context_length": ("context=full", "context=0"),
    "factoid_vs_mc": ("mc", "factoid"),
}
#: Verdict words.
SUPPORTED, NOT_SUPPORTED, NOT_ENOUGH = "supported", "not supported", "not enough runs"
VERDICTS: tuple[str, ...] = (SUPPORTED, NOT_SUPPORTED, NOT_ENOUGH)

#: A rise of the normalized score between consecutive sparsity points larger than this
#: (normalized points, dense = 100) counts as a violation of monotonicity.
TOL_POINTS = 1.0
#: Fewest sparsity points a curve needs to enter the monotonicity check.
MIN_CURVE_POINTS = 3
#: Claim A needs the median Spearman correlation of score vs sparsity at or below this (a
#: constant curve, whose correlation is undefined, counts as 0: it does not drop).
SPEARMAN_MAX = -0.8
#: Claim A tolerates violations in at most this share of all consecutive steps.
MAX_VIOLATION_SHARE = 0.10
#: Claim C needs the frozen model's mean normalized score at the highest sparsity >= this.
FREEZE_RECOVERS = 95.0
#: Bootstrap over seeds: number of resamples, generator seed, confidence level.
N_BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
#: Modes of the monotonicity claim (pruned weights absent or re-grown from zero).
MONOTONIC_MODES: tuple[str, ...] = ("sparse", "sparse_to_dense")

#: Keys of one curve (normalized score against sparsity).
CURVE_KEYS: tuple[str, ...] = ("model", "task", "data_fraction", "mode", "pattern", "seed")
COLUMNS: tuple[str, ...] = ("setting", "claim", "scope", "statistic", "value", "ci_low", "ci_high",
                            "n_runs", "n_seeds", "verdict", "detail")
CLAIM_A, CLAIM_B, CLAIM_C = "A: monotonic drop", "B: harder drops faster", \
    "C: freezing recovers"
CLAIM_Q = "Q: quantization is not pruning"
STATEMENTS: dict[str, str] = {
    CLAIM_A: "The performance loss from one-shot magnitude pruning of the pre-trained weights "
             "grows monotonically with sparsity.",
    CLAIM_B: "The loss grows faster the harder the downstream task is (true_gem and "
             "data_adequacy: the less fine-tuning data; human_gap: the larger the normalized "
             "human-model gap of the task).",
    CLAIM_C: "The loss is irreversible: letting the pruned weights train again "
             "(sparse-to-dense) does not recover it, while keeping them frozen at their "
             "pre-trained values (dense transfer with freezing) does.",
    CLAIM_Q: "(v2) Weight quantization does not show pruning's monotonic loss: at the same "
             "weight storage, round-to-nearest quantization keeps more of the dense score "
             "than magnitude pruning.",
}


def curve_x(df: pd.DataFrame) -> pd.Series:
    """The numeric sparsity of each row: ``sparsity`` for unstructured rows, ``1 - N/M`` for
    N:M rows (N weights kept per group of M), NaN for dense rows.

    Raises:
        ValueError: an N:M row whose ``nm`` is not of the form ``"N:M"``.
    """
    def one(row: pd.Series) -> float:
        if row.get("pattern") == "nm":
            try:
                n, m = (int(v) for v in str(row["nm"]).split(":"))
            except ValueError as exc:
                raise ValueError(f"nm {row['nm']!r} is not 'N:M'") from exc
            return 1.0 - n / m
        if row.get("pattern") == "unstructured":
            return float(row["sparsity"])
        return float("nan")

    if df.empty:
        return pd.Series(dtype=float, index=df.index)
    return df.apply(one, axis=1).astype(float)


def _extra_keys(norm: pd.DataFrame) -> list[str]:
    """Run parameters besides the curve keys that vary in the table (e.g. learning rate):
    curves are never pooled across them."""
    skip = set(CURVE_KEYS) | {"dense_value", "normalized", "_x"}
    return [k for k in baseline_keys(norm)
            if k not in skip and norm[k].map(str).nunique() > 1]


def _pruned(norm: pd.DataFrame) -> pd.DataFrame:
    out = norm[(norm["mode"] != "dense")].dropna(subset=["normalized"]).copy()
    out["_x"] = curve_x(out)
    return out.dropna(subset=["_x"])


def _scope(keys: dict, many_models: bool) -> str:
    parts = [str(keys["model"])] if many_models else []
    parts += [str(keys[k]) for k in ("task",) if k in keys]
    if "data_fraction" in keys:
        parts.append(f"{float(keys['data_fraction']) * 100:g}% data")
    parts += [f"{k}={v}" for k, v in keys.items()
              if k not in ("model", "task", "data_fraction", "pattern")]
    parts.append(str(keys["pattern"]))
    return " / ".join(parts)


def monotonicity(norm: pd.DataFrame) -> pd.DataFrame:
    """One row per curve (model, task, data fraction, mode, pattern, seed and any other varying
    run parameter) of the pruned modes with at least :data:`MIN_CURVE_POINTS` sparsity points.

    Columns: the keys, ``spearman`` (of normalized score vs sparsity, NaN for a constant
    curve), ``violations`` (rises larger than :data:`TOL_POINTS` between consecutive points),
    ``n_points``.

    Args:
        norm: output of :func:`~junk_dna.report.analysis.normalize_to_dense`.
    """
    keys = list(CURVE_KEYS) + _extra_keys(norm) if not norm.empty else list(CURVE_KEYS)
    cols = [*keys, "spearman", "violations", "n_points"]
    if norm.empty:
        return pd.DataFrame(columns=cols)
    pruned = _pruned(norm)
    rows = []
    for vals, sub in pruned.groupby(keys, dropna=False, sort=True):
        curve = sub.groupby("_x")["normalized"].mean().sort_index()
        if len(curve) < MIN_CURVE_POINTS:
            continue
        y = curve.to_numpy()
        rho = float("nan") if np.ptp(y) == 0 else float(stats.spearmanr(curve.index, y)[0])
        rows.append({**dict(zip(keys, vals, strict=True)), "spearman": rho,
                     "violations": int((np.diff(y) > TOL_POINTS).sum()), "n_points": len(y)})
    return pd.DataFrame(rows, columns=cols)


def _bootstrap(diff: np.ndarray) -> tuple[float, float, float]:
    """Point estimate and percentile CI of the mean over x of the mean over seeds of ``diff``
    (seeds x points, NaN where missing), resampling seeds (rows) with replacement."""
    def area(d: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.nanmean(d, axis=-2), axis=-1)

    point = float(area(diff))
    if diff.shape[0] < 2:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, diff.shape[0], size=(N_BOOTSTRAP, diff.shape[0]))
    boot = area(diff[idx])
    tail = 100 * (1 - CI_LEVEL) / 2
    lo, hi = np.nanpercentile(boot, [tail, 100 - tail])
    return point, float(lo), float(hi)


def _n_runs(sub: pd.DataFrame) -> int:
    return int(sub["run_id"].nunique()) if "run_id" in sub.columns else len(sub)


def _row(claim: str, scope: str, statistic: str, value: float, ci: tuple[float, float],
         n_runs: int, n_seeds: int, verdict: str, detail: str) -> dict:
    # the setting is filled in by evaluate_claims
    return dict(zip(COLUMNS[1:], (claim, scope, statistic, value, ci[0], ci[1], n_runs,
                                  n_seeds, verdict, detail), strict=True))


def _claim_a(norm: pd.DataFrame) -> list[dict]:
    mono = monotonicity(norm)
    pruned = _pruned(norm)
    rows = []
    for pattern in sorted(pruned["pattern"].dropna().unique()):
        used = pruned[(pruned["pattern"] == pattern) & pruned["mode"].isin(MONOTONIC_MODES)]
        curves = mono[(mono["pattern"] == pattern) & mono["mode"].isin(MONOTONIC_MODES)]
        nan2 = (float("nan"), float("nan"))
        if curves.empty:
            rows.append(_row(CLAIM_A, pattern, "median spearman", float("nan"), nan2,
                             _n_runs(used), int(used["seed"].nunique()), NOT_ENOUGH,
                             f"No {'/'.join(MONOTONIC_MODES)} curve has "
                             f"{MIN_CURVE_POINTS} or more sparsity points."))
            continue
        # a constant curve (spearman NaN) does not drop: it counts as 0 in the median
        med = float(curves["spearman"].fillna(0.0).median())
        flat = int(curves["spearman"].isna().sum())
        viol, steps = int(curves["violations"].sum()), int((curves["n_points"] - 1).sum())
        ok = med <= SPEARMAN_MAX and viol <= MAX_VIOLATION_SHARE * steps
        rows.append(_row(
            CLAIM_A, pattern, "median spearman", med, nan2, _n_runs(used),
            int(curves["seed"].nunique()), SUPPORTED if ok else NOT_SUPPORTED,
            f"Over {len(curves)} curves the median Spearman correlation of score vs sparsity "
            f"is {med:.2f} and {viol} of {steps} steps rise by more than {TOL_POINTS:g} "
            f"point(s)" + (f"; {flat} curve(s) are flat (counted as 0)." if flat else ".")))
    return rows


def _claim_b(norm: pd.DataFrame, extra: list[str], many_models: bool) -> list[dict]:
    sparse = _pruned(norm)
    sparse = sparse[sparse["mode"] == "sparse"]
    keys = ["model", "task", "pattern", *extra]
    rows = []
    for vals, sub in sparse.groupby(keys, dropna=False, sort=True):
        scope = _scope(dict(zip(keys, vals, strict=True)), many_models)
        fracs = sorted(sub["data_fraction"].unique())
        nan2 = (float("nan"), float("nan"))
        if len(fracs) < 2:
            rows.append(_row(CLAIM_B, scope, "mean gap (largest - smallest fraction)",
                             float("nan"), nan2, _n_runs(sub), int(sub["seed"].nunique()),
                             NOT_ENOUGH, f"Only one data fraction ({fracs[0]:g})."))
            continue
        big, small = (sub[sub["data_fraction"] == f].pivot_table(
            index="seed", columns="_x", values="normalized", aggfunc="mean")
            for f in (fracs[-1], fracs[0]))
        seeds = big.index.intersection(small.index)
        xs = big.columns.intersection(small.columns)
        if len(seeds) == 0 or len(xs) == 0:
            rows.append(_row(CLAIM_B, scope, "mean gap (largest - smallest fraction)",
                             float("nan"), nan2, _n_runs(sub), 0, NOT_ENOUGH,
                             "The two fractions share no seed or no sparsity point."))
            continue
        diff = (big.loc[seeds, xs] - small.loc[seeds, xs]).to_numpy(dtype=float)
        point, lo, hi = _bootstrap(diff)
        verdict = NOT_ENOUGH if len(seeds) < 2 else SUPPORTED if lo > 0 else NOT_SUPPORTED
        rows.append(_row(
            CLAIM_B, scope, "mean gap (largest - smallest fraction)", point, (lo, hi),
            _n_runs(sub[sub["data_fraction"].isin([fracs[0], fracs[-1]])]), len(seeds),
            verdict,
            f"With {fracs[0] * 100:g}% of the data the sparse-transfer score lies "
            f"{abs(point):.1f} points {'below' if point > 0 else 'above'} the one with "
            f"{fracs[-1] * 100:g}% on average over {len(xs)} "
            f"sparsities and {len(seeds)} seed(s)."))
    return rows


def _claim_b_pairs(norm: pd.DataFrame, df: pd.DataFrame, which: str,
                   many_models: bool) -> list[dict]:
    sparse = _pruned(norm)
    sparse = sparse[sparse["mode"] == "sparse"]
    if "criterion" in sparse:
        sparse = sparse[sparse["criterion"].fillna("magnitude") == "magnitude"]
    stat = "mean gap (easy - hard task)"
    nan2 = (float("nan"), float("nan"))
    rows = []
    for model, runs in df.groupby("model"):
        runs = runs[runs["data_fraction"] == runs["data_fraction"].max()]
        gaps = human_gap_table(runs, which=which)
        gap_of = dict(zip(gaps["task"], gaps["gap"], strict=True))
        for label, easy, hard in easy_hard_pairs(gaps, PAIRS):
            for pattern in sorted(sparse["pattern"].dropna().unique()):
                sub = sparse[(sparse["model"] == model) & (sparse["pattern"] == pattern)]
                scope = " / ".join([*([str(model)] if many_models else []),
                                    f"{easy} (gap {gap_of[easy]:.2f}) vs {hard} "
                                    f"(gap {gap_of[hard]:.2f})", pattern])
                e, h = (sub[sub["task"] == t].pivot_table(
                    index="seed", columns="_x", values="normalized", aggfunc="mean")
                    for t in (easy, hard))
                seeds, xs = e.index.intersection(h.index), e.columns.intersection(h.columns)
                used = sub[sub["task"].isin([easy, hard])]
                if len(seeds) == 0 or len(xs) == 0:
                    rows.append(_row(CLAIM_B, scope, stat, float("nan"), nan2, _n_runs(used),
                                     0, NOT_ENOUGH, f"{label}: the two tasks share no seed "
                                     "or no sparsity point."))
                    continue
                diff = (e.loc[seeds, xs] - h.loc[seeds, xs]).to_numpy(dtype=float)
                point, lo, hi = _bootstrap(diff)
                verdict = (NOT_ENOUGH if len(seeds) < 2 else SUPPORTED if lo > 0
                           else NOT_SUPPORTED)
                rows.append(_row(
                    CLAIM_B, scope, stat, point, (lo, hi), _n_runs(used), len(seeds), verdict,
                    f"{label}: the harder task's sparse-transfer score lies {abs(point):.1f} "
                    f"points {'below' if point > 0 else 'above'} the easier one's on average "
                    f"over {len(xs)} sparsities and {len(seeds)} seed(s)."))
    return rows


def _claim_c(norm: pd.DataFrame, extra: list[str], many_models: bool) -> list[dict]:
    pruned = _pruned(norm)
    keys = ["model", "task", "data_fraction", "pattern", *extra]
    stat = "gap freeze - sparse_to_dense at highest sparsity"
    rows = []
    for vals, sub in pruned.groupby(keys, dropna=False, sort=True):
        scope = _scope(dict(zip(keys, vals, strict=True)), many_models)
        fz, sd = (sub[sub["mode"] == m].groupby(["seed", "_x"])["normalized"].mean()
                  .unstack("_x") for m in ("freeze", "sparse_to_dense"))
        xs = fz.columns.intersection(sd.columns)
        seeds = fz.index.intersection(sd.index)
        nan2 = (float("nan"), float("nan"))
        if len(xs) == 0 or len(seeds) == 0:
            rows.append(_row(CLAIM_C, scope, stat, float("nan"), nan2, _n_runs(sub),
                             int(sub["seed"].nunique()), NOT_ENOUGH,
                             "Freeze and sparse-to-dense runs do not share a sparsity and "
                             "seed."))
            continue
        x = float(max(xs))
        gaps = (fz.loc[seeds, x] - sd.loc[seeds, x]).dropna()
        if gaps.empty:
            x = float(max(c for c in xs if (fz.loc[seeds, c] - sd.loc[seeds, c]).notna().any()))
            gaps = (fz.loc[seeds, x] - sd.loc[seeds, x]).dropna()
        point, lo, hi = _bootstrap(gaps.to_numpy(dtype=float)[:, None])
        freeze_mean = float(fz.loc[gaps.index, x].mean())
        n = len(gaps)
        if n >= 2 and lo > 0:
            verdict = SUPPORTED if freeze_mean >= FREEZE_RECOVERS else NOT_SUPPORTED
        elif (n >= 2 and hi < 0) or (n < 2 and point <= 0):
            verdict = NOT_SUPPORTED
        else:
            verdict = NOT_ENOUGH
        used = sub[sub["mode"].isin(["freeze", "sparse_to_dense"]) & (sub["_x"] == x)]
        rows.append(_row(
            CLAIM_C, scope, stat, point, (lo, hi), _n_runs(used), n, verdict,
            f"At {x * 100:g}% sparsity freezing scores {freeze_mean:.1f} (dense = 100) and "
            f"{'beats' if point > 0 else 'trails'} sparse-to-dense by {abs(point):.1f} points "
            f"over {n} seed(s)."))
    return rows


def _per_question(norm: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Per-question scores of each (run id, metric) from the runs' ``per_question.json``."""
    import json

    out: dict[tuple[str, str], np.ndarray] = {}
    for run_id, run_dir in norm[["run_id", "run_dir"]].drop_duplicates().itertuples(index=False):
        path = Path(str(run_dir)) / "per_question.json"
        if path.is_file():
            for metric, values in json.loads(path.read_text()).items():
                out[(run_id, metric)] = np.asarray(values, dtype=float)
    return out


def _question_bootstrap(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
                        ) -> tuple[float, float, float]:
    """Mean over sparsity points of ``100 * (a / a_dense - b / b_dense)`` (a, b: per-question
    scores of the easy and hard condition, or of quantization and pruning), with a percentile
    CI from resampling the questions (the same resample for every point: paired)."""
    def stat(idx: np.ndarray | None) -> float:
        vals = []
        for a, ad, b, bd in pairs:
            sel = (lambda v: v) if idx is None else (lambda v: v[idx])
            den_a, den_b = sel(ad).mean(), sel(bd).mean()
            if den_a > 0 and den_b > 0:
                vals.append(100 * (sel(a).mean() / den_a - sel(b).mean() / den_b))
        return float(np.mean(vals)) if vals else float("nan")

    point = stat(None)
    n = len(pairs[0][0])
    if any(len(v) != n for p in pairs for v in p):
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    boot = np.array([stat(rng.integers(0, n, n)) for _ in range(N_BOOTSTRAP // 4)])
    tail = 100 * (1 - CI_LEVEL) / 2
    lo, hi = np.nanpercentile(boot, [tail, 100 - tail])
    return point, float(lo), float(hi)


def _zs_norm(runs: pd.DataFrame, which: str) -> pd.DataFrame:
    norm = normalize_zero_shot(runs, score="acc").dropna(subset=["normalized"])
    norm = norm.assign(mode=norm["method"], data_fraction=norm["condition"])
    pruned = norm[norm["method"].isin(["magnitude", "wanda", "sparsegpt"])].copy()
    pruned["_x"] = curve_x(pruned)
    return norm, pruned


def _zs_claim_a(runs: pd.DataFrame, which: str) -> list[dict]:
    _, pruned = _zs_norm(runs, which)
    rows = []
    nan2 = (float("nan"), float("nan"))
    for pattern, sub in pruned.groupby("pattern"):
        curves = []
        for _, c in sub.groupby(["model", "method", "condition", "seed"]):
            curve = c.groupby("_x")["normalized"].mean().sort_index()
            if len(curve) >= MIN_CURVE_POINTS:
                y = curve.to_numpy()
                rho = 0.0 if np.ptp(y) == 0 else float(stats.spearmanr(curve.index, y)[0])
                curves.append((rho, int((np.diff(y) > TOL_POINTS).sum()), len(y) - 1))
        if not curves:
            rows.append(_row(CLAIM_A, str(pattern), "median spearman", float("nan"), nan2,
                             _n_runs(sub), int(sub["seed"].nunique()), NOT_ENOUGH,
                             f"No curve has {MIN_CURVE_POINTS} or more sparsity points."))
            continue
        med = float(np.median([c[0] for c in curves]))
        viol, steps = sum(c[1] for c in curves), sum(c[2] for c in curves)
        ok = med <= SPEARMAN_MAX and viol <= MAX_VIOLATION_SHARE * steps
        rows.append(_row(CLAIM_A, str(pattern), "median spearman", med, nan2, _n_runs(sub),
                         int(sub["seed"].nunique()), SUPPORTED if ok else NOT_SUPPORTED,
                         f"Over {len(curves)} curves (method x condition) the median Spearman "
                         f"correlation of score vs sparsity is {med:.2f} and {viol} of {steps} "
                         f"steps rise by more than {TOL_POINTS:g} point(s)."))
    return rows


def _easy_hard(setting: str, conditions: list[str]) -> tuple[str, str] | None:
    if setting in EASY_HARD:
        easy, hard = EASY_HARD[setting]
        return (easy, hard) if {easy, hard} <= set(conditions) else None
    values = sorted((float(c.split("=", 1)[1]), c) for c in conditions if "=" in c)
    if len(values) < 2:
        return None
    # option_count: more options = harder; kshot: fewer shots = harder
    lo, hi = values[0][1], values[-1][1]
    return (lo, hi) if setting == "option_count" else (hi, lo)


def _zs_claim_b(setting: str, runs: pd.DataFrame, which: str) -> list[dict]:
    norm, pruned = _zs_norm(runs, which)
    scores = _per_question(norm)
    dense = norm[norm["method"] == "dense"]
    rows = []
    stat = "mean gap (easy - hard condition), normalized points"
    nan2 = (float("nan"), float("nan"))
    for (_model, method, pattern), sub in pruned.groupby(["model", "method", "pattern"]):
        pair = _easy_hard(setting, sorted(sub["condition"].unique()))
        scope = f"{method} / {pattern}"
        if pair is None:
            rows.append(_row(CLAIM_B, scope, stat, float("nan"), nan2, _n_runs(sub), 0,
                             NOT_ENOUGH, "Fewer than two conditions."))
            continue
        easy, hard = pair
        items = []
        for (_x, seed), pts in sub.groupby(["_x", "seed"]):
            got = {}
            for cond in (easy, hard):
                row = pts[pts["condition"] == cond]
                base = dense[(dense["condition"] == cond) & (dense["seed"] == seed)]
                if row.empty or base.empty:
                    break
                key = (row["run_id"].iloc[0], f"{row['score'].iloc[0]}|{cond}")
                bkey = (base["run_id"].iloc[0], key[1])
                if key not in scores or bkey not in scores:
                    break
                got[cond] = (scores[key], scores[bkey])
            if len(got) == 2:
                items.append((*got[easy], *got[hard]))
        if not items:
            rows.append(_row(CLAIM_B, scope, stat, float("nan"), nan2, _n_runs(sub), 0,
                             NOT_ENOUGH, "No per-question scores for both conditions."))
            continue
        right = min(float(items[0][1].sum()), float(items[0][3].sum()))
        if right < MIN_DENSE_CORRECT:
            rows.append(_row(CLAIM_B, f"{scope}: {easy} vs {hard}", stat, float("nan"), nan2,
                             _n_runs(sub), int(sub["seed"].nunique()), NOT_ENOUGH,
                             f"The dense model answers only {right:g} question(s) right under "
                             f"one condition (fewer than {MIN_DENSE_CORRECT}): its normalized "
                             "score is not meaningful."))
            continue
        point, lo, hi = _question_bootstrap(items)
        verdict = SUPPORTED if lo > 0 else NOT_SUPPORTED if hi < 0 or point <= 0 else NOT_ENOUGH
        rows.append(_row(
            CLAIM_B, f"{scope}: {easy} vs {hard}", stat, point, (lo, hi), _n_runs(sub),
            int(sub["seed"].nunique()), verdict,
            f"Under '{hard}' the pruned model keeps {abs(point):.1f} normalized points "
            f"{'less' if point > 0 else 'more'} than under '{easy}', averaged over "
            f"{len(items)} sparsity point(s); CI from resampling the questions."))
    return rows


def _zs_claim_q(runs: pd.DataFrame, which: str) -> list[dict]:
    norm, _ = _zs_norm(runs, which)
    scores = _per_question(norm)
    stat = "mean gap (RTN - magnitude pruning) at matched storage, normalized points"
    nan2 = (float("nan"), float("nan"))
    dense = norm[norm["method"] == "dense"]
    rtn = norm[norm["method"] == "rtn"]
    mag = norm[(norm["method"] == "magnitude") & (norm["pattern"] == "unstructured")]
    rows = []
    for gran, sub in rtn.groupby("granularity"):
        items = []
        for bits, q in sub.groupby("bits"):
            s = matched_sparsity(int(bits))
            p = mag[np.isclose(mag["sparsity"].astype(float), s)]
            if p.empty or dense.empty:
                continue
            keys = [(q["run_id"].iloc[0], q["metric"].iloc[0]),
                    (dense["run_id"].iloc[0], dense["metric"].iloc[0]),
                    (p["run_id"].iloc[0], p["metric"].iloc[0])]
            if all(k in scores for k in keys):
                items.append((scores[keys[0]], scores[keys[1]], scores[keys[2]], scores[keys[1]]))
        if not items:
            rows.append(_row(CLAIM_Q, str(gran), stat, float("nan"), nan2, _n_runs(sub), 0,
                             NOT_ENOUGH, "No magnitude-pruning run at a matched sparsity."))
            continue
        point, lo, hi = _question_bootstrap(items)
        verdict = SUPPORTED if lo > 0 else NOT_SUPPORTED if hi < 0 or point <= 0 else NOT_ENOUGH
        rows.append(_row(CLAIM_Q, f"RTN {gran}", stat, point, (lo, hi), _n_runs(sub),
                         int(sub["seed"].nunique()), verdict,
                         f"Over {len(items)} matched points quantization keeps {abs(point):.1f} "
                         f"normalized points {'more' if point > 0 else 'less'} than magnitude "
                         "pruning; CI from resampling the questions."))
    return rows


def _check(key: str, setting: str, norm: pd.DataFrame, runs: pd.DataFrame,
           which: str) -> tuple[str, list[dict]]:
    """Claim ``key`` ("A", "B", "C" or "Q") of one setting: its name and its rows."""
    if setting in EASY_HARD or setting in ("option_count", "kshot", "quantization"):
        if key == "A":
            return CLAIM_A, _zs_claim_a(runs, which)
        if key == "B":
            return CLAIM_B, _zs_claim_b(setting, runs, which)
        return CLAIM_Q, _zs_claim_q(runs, which)
    extra = _extra_keys(norm)
    many_models = norm["model"].nunique() > 1
    if key == "A":
        return CLAIM_A, _claim_a(norm)
    if key == "B" and setting == "human_gap":
        return CLAIM_B, _claim_b_pairs(norm, runs, which, many_models)
    if key == "B":
        return CLAIM_B, _claim_b(norm, extra, many_models)
    return CLAIM_C, _claim_c(norm, extra, many_models)


def evaluate_claims(df: pd.DataFrame, which: str = "last") -> pd.DataFrame:
    """One row per setting, claim and scope with the claim's statistic, its bootstrap CI
    over seeds (claims B and C), the number of runs and seeds behind it, a verdict and a
    sentence.

    Each experiment of :data:`SETTINGS` present in ``df`` is checked on its own runs for the
    claims it can speak to; a claim with nothing to evaluate gets one row, scope ``"all"``,
    ``"not enough runs"``. A table without any of those experiments' runs gives an empty frame
    with :data:`COLUMNS`. A table without an ``experiment`` column is read as true_gem runs.

    Args:
        df: a :func:`~junk_dna.results.collect` table.
        which: ``"last"`` or ``"best"`` epoch.

    Raises:
        ValueError: ``which`` not in ("last", "best"), or a non-empty table lacking the
            columns of :func:`~junk_dna.report.analysis.normalize_to_dense`.
    """
    if which not in ("last", "best"):
        raise ValueError(f"which {which!r} not in ['last', 'best']")
    if df.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    rows = []
    for setting, claims in SETTINGS.items():
        runs = df[df["experiment"] == setting]
        if runs.empty:
            continue
        zero_shot = "method" in runs.columns and runs["method"].notna().any()
        norm = runs if zero_shot else normalize_to_dense(runs, which=which)
        if norm.empty:
            continue
        for key in claims:
            claim, part = _check(key, setting, norm, runs, which)
            part = part or [_row(claim, "all", "", float("nan"),
                                 (float("nan"), float("nan")), 0, 0, NOT_ENOUGH,
                                 "No runs of the modes this claim needs.")]
            rows += [{"setting": setting, **r} for r in part]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:.3g}"
    return str(v).replace("|", "\\|")


def claims_markdown(table: pd.DataFrame, df: pd.DataFrame, which: str = "last") -> str:
    """The markdown page of :func:`write_claims` for an :func:`evaluate_claims` table."""
    lines = ["# Claims of Yin et al. (ICML 2024) checked on these runs", ""]
    if table.empty:
        return "\n".join([*lines, "No runs: there are no finished runs of "
                          f"{', '.join(SETTINGS)} to check the claims on.", ""])
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    lines += [f"The verdicts come from this run's records only ({which} epoch). Scores are "
              "normalized to the dense model with the same seed (= 100).", ""]
    shown = [c for c in COLUMNS if c not in ("setting", "claim")]
    for setting, sub in table.groupby("setting", sort=False):
        runs = df[df["experiment"] == setting]
        n_runs = runs["run_id"].nunique() if "run_id" in runs.columns else len(runs)
        lists = {c: ", ".join(map(str, sorted(runs[c].dropna().unique())))
                 for c in ("model", "task", "data_fraction", "seed") if c in runs.columns}
        lines += [f"## Setting: {setting}", "",
                  f"{n_runs} {setting} runs; models: {lists.get('model', '?')}; tasks: "
                  f"{lists.get('task', '?')}; data fractions: "
                  f"{lists.get('data_fraction', '?')}; seeds: {lists.get('seed', '?')}.", ""]
        for claim, part in sub.groupby("claim", sort=False):
            lines += [f"### {claim}", "", f"> {STATEMENTS.get(claim, '')}", "",
                      "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
            lines += ["| " + " | ".join(_fmt(v) for v in r) + " |"
                      for r in part[shown].itertuples(index=False)]
            lines.append("")
    lines += [
        "## Thresholds (module constants of junk_dna.report.claims, not fitted to any run)", "",
        f"- A: curves of the {' and '.join(MONOTONIC_MODES)} modes with at least "
        f"{MIN_CURVE_POINTS} sparsity points; supported if the median Spearman correlation "
        f"(flat curve = 0) <= {SPEARMAN_MAX} and rises larger than {TOL_POINTS:g} point(s) "
        f"occur in at most {MAX_VIOLATION_SHARE:.0%} of the steps.",
        "- B: sparse transfer, largest vs smallest data fraction (human_gap: the easy vs the "
        "hard task of a pair, easy = smaller computed gap), gap averaged over the shared "
        f"sparsities; supported if the lower bound of the {CI_LEVEL:.0%} bootstrap CI "
        f"({N_BOOTSTRAP} resamples of the seeds, generator seed {BOOTSTRAP_SEED}) is > 0; "
        "fewer than 2 seeds give 'not enough runs'.",
        "- Zero-shot settings: A as above over the curves of every pruning method and "
        "condition; B: the easy minus the hard condition's normalized score (context full vs "
        "closed book, fewest vs most options, most vs no shots, multiple choice vs factoid), "
        "averaged over sparsities, with a CI from resampling the questions (paired); Q: RTN "
        "minus magnitude pruning at equal storage (sparsity 1 - bits/16), same CI; supported "
        "if the CI lower bound is > 0, not supported if its upper bound is < 0 or the point "
        f"estimate is <= 0, else not enough runs; a dense model with fewer than "
        f"{MIN_DENSE_CORRECT} right answers under a condition gives 'not enough runs'.",
        f"- C: freeze - sparse_to_dense at the highest shared sparsity; supported if the CI "
        f"lower bound is > 0 and freezing scores >= {FREEZE_RECOVERS:g}; not supported if the "
        "CI upper bound is < 0, the point estimate is <= 0 with one seed, or freezing stays "
        f"below {FREEZE_RECOVERS:g} although it wins; otherwise not enough runs.",
        ""]
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
    table = evaluate_claims(df, which=which)
    out = Path(out_dir)
    csv, md = out / "claims.csv", out / "claims.md"
    atomic_write_text(csv, table.to_csv(index=False))
    atomic_write_text(md, claims_markdown(table, df, which=which))
    return csv, md
