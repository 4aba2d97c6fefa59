"""The fine-tuning tests, read from one row per fine-tuning run: true_gem (claims A, B, C),
data_adequacy and human_gap (claims A, B); :func:`curve_x`, the numeric sparsity of a row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from junk_dna.data.glue_tasks import get_task
from junk_dna.data.human_scores import base_task
from junk_dna.report import stats
from junk_dna.report.analysis import baseline_keys, human_gap_table, main_metric_rows
from junk_dna.report.claims.conditions import ClaimTest, Cond, Context, Curve, Statistic
from junk_dna.report.claims.constants import (
    CLAIM_A,
    CLAIM_B,
    CLAIM_C,
    CLAIM_C_NO_RECOVERY,
    CLAIM_C_RECOVERS,
    HUMAN_GAP_PAIRS,
    MIN_SPARSITY_POINTS,
    NAN,
    R_WINDOW,
    RECOVERY_MARGIN,
    SLOPE_STATISTIC,
    primary_test,
)
from junk_dna.report.claims.data import estimate_test
from junk_dna.report.outcomes import example_scores, row_metric, run_chance


def row_curve_x(row: pd.Series) -> float:
    """The numeric sparsity of one row (see :func:`curve_x`)."""
    if row.get("pattern") == "nm":
        n, m = (int(v) for v in str(row["nm"]).split(":"))
        return round(1.0 - n / m, 6)
    if row.get("pattern") == "unstructured":
        return round(float(row["sparsity"]), 6)
    return NAN


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
            return row_curve_x(row)
        except ValueError as exc:
            raise ValueError(f"nm {row.get('nm')!r} is not 'N:M'") from exc

    return df.apply(one, axis=1).astype(float)


_FT_FIXED = {"model", "task", "data_fraction", "seed", "split_seed"}


class FinetuneRuns:
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


def xs_text(xs: Iterable[float]) -> str:
    """Sparsities as text: ``"50/70 %"``."""
    return "/".join(f"{x * 100:g}" for x in xs) + " %"


def _mean_sparse_r(ctx: Context, ft: FinetuneRuns, g, frac, pattern, xs, seeds
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
                 label: str = "") -> ClaimTest:
    xs, seeds = ft.curve_xs(g, frac, "sparse", pattern)
    scope = _scope(g, many, f"{_pct(frac)} data", pattern, label)
    test = ClaimTest(setting, CLAIM_A, primary, scope, SLOPE_STATISTIC, -1)
    if len(xs) < MIN_SPARSITY_POINTS:
        test.not_testable = (f"fewer than {MIN_SPARSITY_POINTS} sparsity points shared by the "
                             f"seeds ({xs_text(xs) if xs else 'none'})")
        return test
    per_seed = {s: [c] for s in seeds
                if (c := ft.curve(g, frac, "sparse", pattern, xs, s)) is not None}
    test.detail = (f"Sparse transfer at {xs_text(xs)} sparsity ({pattern}), "
                   f"{_pct(frac)} of the data, {len(per_seed)} seed(s).")
    return estimate_test(ctx, test, per_seed, Statistic("slope", (0,)), zero_shot=False)


def true_gem_tests(ctx: Context, ft: FinetuneRuns) -> list[ClaimTest]:
    """The tests of true_gem: claims A, B and C."""
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


def _claim_c(ctx, ft, g, many, frac, pattern, *, primary: bool) -> list[ClaimTest]:
    xs_f, seeds_f = ft.curve_xs(g, frac, "freeze", pattern)
    xs_s, seeds_s = ft.curve_xs(g, frac, "sparse_to_dense", pattern)
    shared = sorted(set(xs_f) & set(xs_s))
    seeds = sorted(set(seeds_f) & set(seeds_s), key=str)
    scope = _scope(g, many, f"{_pct(frac)} data", pattern)
    stat = "mean over the C window of R(freeze) - R(sparse_to_dense)"
    test = ClaimTest("true_gem", CLAIM_C, primary, scope, stat, 1)
    if not shared or not seeds:
        test.not_testable = ("no sparsity where both freeze and sparse-to-dense ran in the "
                             "same seeds" if (xs_f or xs_s) else
                             "no freeze or sparse-to-dense runs")
        return [test]
    sparse_r = _mean_sparse_r(ctx, ft, g, frac, pattern, shared, seeds)
    window = [x for x in shared if x in sparse_r and R_WINDOW[0] <= sparse_r[x] <= R_WINDOW[1]]
    r_text = ", ".join(f"{x * 100:g} %: {sparse_r[x]:.1f}" for x in shared if x in sparse_r)
    if window:
        why = (f"C window {xs_text(window)} (sparse transfer's mean R in "
               f"[{R_WINDOW[0]:g}, {R_WINDOW[1]:g}]; at the shared sparsities: "
               f"{r_text or 'not run'})")
    else:
        window = shared
        why = (f"no shared sparsity has sparse transfer's mean R in [{R_WINDOW[0]:g}, "
               f"{R_WINDOW[1]:g}] ({r_text or 'sparse transfer not run there'}): all shared "
               f"sparsities {xs_text(shared)} used")

    def curves(s, xs):
        f = ft.curve(g, frac, "freeze", pattern, xs, s, "freeze")
        d = ft.curve(g, frac, "sparse_to_dense", pattern, xs, s, "sparse_to_dense")
        return None if f is None or d is None else [f, d]

    per_seed = {s: c for s in seeds if (c := curves(s, window)) is not None}
    test.detail = f"{why}; {len(per_seed)} seed(s)."
    out = [estimate_test(ctx, test, per_seed, Statistic("diff", pairs=((0, 1),)), zero_shot=False)]
    if not primary:
        return out
    # exploratory: per sparsity point, and the two equivalence claims
    for x in window if len(window) > 1 else []:
        t = ClaimTest("true_gem", CLAIM_C, False, f"{scope} / {x * 100:g}%",
                      "R(freeze) - R(sparse_to_dense) at one sparsity", 1)
        ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
        out.append(estimate_test(ctx, t, ps, Statistic("diff", pairs=((0, 1),)), zero_shot=False))
    for claim, idx, expect in ((CLAIM_C_RECOVERS, 0, stats.RECOVERS),
                               (CLAIM_C_NO_RECOVERY, 1, stats.DOES_NOT_RECOVER)):
        mode = "freeze" if idx == 0 else "sparse_to_dense"
        t = ClaimTest("true_gem", claim, False, scope,
                      f"mean over the C window of R({mode}) - 100 (margin {RECOVERY_MARGIN:g})", 1,
                      expect=expect)
        t.detail = f"{why}."
        out.append(estimate_test(ctx, t, per_seed, Statistic("level", (idx,)), zero_shot=False,
                                 margin=RECOVERY_MARGIN))
    return out


def _fraction_b(ctx, ft, setting, g, many, pattern, *, primary: bool) -> list[ClaimTest]:
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
        test = ClaimTest(setting, CLAIM_B, is_primary, scope,
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
        test.detail = (f"Sparse transfer at {xs_text(xs)} sparsity, {_pct(big)} against "
                       f"{_pct(small)} of the data, {len(per_seed)} seed(s).")
        out.append(estimate_test(ctx, test, per_seed, Statistic("diff", pairs=((0, 1),)),
                                 zero_shot=False))
        if k == 0 and len(xs) > 1:
            for x in xs:
                t = ClaimTest(setting, CLAIM_B, False, f"{scope} / {x * 100:g}%",
                              "R(largest fraction) - R(smallest fraction) at one sparsity", 1)
                ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
                out.append(estimate_test(ctx, t, ps, Statistic("diff", pairs=((0, 1),)),
                                         zero_shot=False))
    return out


def data_adequacy_tests(ctx: Context, ft: FinetuneRuns) -> list[ClaimTest]:
    """The tests of data_adequacy: claims A and B."""
    tests = []
    many = ft.rows["model"].nunique() > 1
    for g in ft.groups():
        fracs = ft.fractions(g)
        if len(fracs) < 2:
            t = ClaimTest("data_adequacy", CLAIM_B, True, _scope(g, many, "unstructured"),
                          primary_test("data_adequacy", CLAIM_B).statistic, 1)
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


def _mean_slope_over_fractions(ctx, ft, g, many, fracs) -> ClaimTest:
    scope = _scope(g, many, "every fraction", "unstructured")
    test = ClaimTest("data_adequacy", CLAIM_A, True, scope,
                     primary_test("data_adequacy", CLAIM_A).statistic, -1)
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
    test.detail = ("Fractions " + ", ".join(f"{_pct(f)} at {xs_text(xs_of[f])}" for f in used)
                   + f"; {len(per_seed)} seed(s)"
                   + (f"; fractions with fewer than {MIN_SPARSITY_POINTS} points left out: "
                      f"{', '.join(skipped)}" if skipped else "") + ".")
    return estimate_test(ctx, test, per_seed, Statistic("slope", tuple(range(len(used)))),
                         zero_shot=False)


def human_gap_tests(ctx: Context, ft: FinetuneRuns, runs: pd.DataFrame) -> list[ClaimTest]:
    """The tests of human_gap: claims A and B, and the exploratory N:M pairs."""
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
            t = ClaimTest("human_gap", CLAIM_B, True, str(model),
                          primary_test("human_gap", CLAIM_B).statistic, 1)
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
                primary: bool = True) -> list[ClaimTest]:
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

    b_test = ClaimTest("human_gap", CLAIM_B, primary, scope,
                       primary_test("human_gap", CLAIM_B).statistic, 1)
    a_test = ClaimTest("human_gap", CLAIM_A, primary, scope,
                       primary_test("human_gap", CLAIM_A).statistic, -1)
    if not xs or not seeds:
        for t in (a_test, b_test):
            t.not_testable = f"{label}: the two tasks share no sparsity point or seed"
        return [b_test, a_test]
    per_seed = {s: c for s in seeds if (c := curves(s, xs)) is not None}
    b_test.detail = (f"{label}: sparse transfer at {xs_text(xs)} ({pattern}), "
                     f"{len(per_seed)} seed(s); {gap_text}.")
    out = [estimate_test(ctx, b_test, per_seed, Statistic("diff", pairs=((0, 1),)),
                         zero_shot=False)]
    if len(xs) >= MIN_SPARSITY_POINTS:
        a_test.detail = b_test.detail
        out.append(estimate_test(ctx, a_test, per_seed, Statistic("slope", (0, 1)),
                                 zero_shot=False))
    else:
        a_test.not_testable = f"fewer than {MIN_SPARSITY_POINTS} shared sparsity points"
        out.append(a_test)
    if not primary:
        return out
    if len(xs) > 1:
        for x in xs:
            t = ClaimTest("human_gap", CLAIM_B, False, f"{scope} / {x * 100:g}%",
                          "R(easy) - R(hard) at one sparsity", 1)
            ps = {s: c for s in seeds if (c := curves(s, [x])) is not None}
            out.append(estimate_test(ctx, t, ps, Statistic("diff", pairs=((0, 1),)),
                                     zero_shot=False))
    for i, name in enumerate((e_name, h_name)):
        if len(xs) >= MIN_SPARSITY_POINTS:
            t = ClaimTest("human_gap", CLAIM_A, False, f"{scope} / {name}", SLOPE_STATISTIC, -1)
            out.append(estimate_test(ctx, t, per_seed, Statistic("slope", (i,)), zero_shot=False))
    return out
