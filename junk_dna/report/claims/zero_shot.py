"""The zero-shot tests, read from one row per zero-shot run and condition: context_length,
option_count, kshot and factoid_vs_mc (claims A, B), quantization (claim Q).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from junk_dna.pruning.config import (
    matched_sparsity,
    pruned_storage_bits,
    storage_matched_sparsity,
)
from junk_dna.report.analysis import (
    FACTOID_SCORE,
    NON_PARAM_COLUMNS,
    PRUNING_COLUMNS,
    split_metric,
)
from junk_dna.report.claims.conditions import ClaimTest, Cond, Context, Curve, Statistic
from junk_dna.report.claims.constants import (
    CLAIM_A,
    CLAIM_B,
    CLAIM_Q,
    EASY_HARD_RULES,
    MIN_SPARSITY_POINTS,
    NAN,
    PRUNING_METHODS,
    SLOPE_STATISTIC,
    ZERO_SHOT_SCORE,
    primary_test,
)
from junk_dna.report.claims.data import estimate_test
from junk_dna.report.claims.finetune import row_curve_x, xs_text


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
        rows["x"] = [(row_curve_x(r) if r["method"] in PRUNING_METHODS else NAN)
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


def zero_shot_tests(ctx: Context, setting: str, runs: pd.DataFrame) -> list[ClaimTest]:
    """The tests of one zero-shot setting: claims A and B, or Q for quantization."""
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


def _zs_b(ctx, zs, g, setting, scope0, pair, primary_methods, methods) -> list[ClaimTest]:
    prim = primary_test(setting, CLAIM_B)
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
            used.append(f"{m} at {xs_text(xs)}")
        return curves, pairs, used

    if isinstance(pair, str):
        t = ClaimTest(setting, CLAIM_B, True, f"{scope0} / unstructured".strip(" /"),
                      prim.statistic, 1)
        t.not_testable = pair
        return [t]
    label = f"{pair[0]} vs {pair[1]}"
    scope = " / ".join(p for p in (scope0, label, "unstructured") if p)
    curves, pairs, used = build(primary_methods, "unstructured")
    t = ClaimTest(setting, CLAIM_B, True, scope, prim.statistic, 1)
    if not curves:
        t.not_testable = (f"no {'/'.join(primary_methods) or 'pruning'} run scored both "
                          f"{pair[0]} and {pair[1]} at a shared sparsity")
        out.append(t)
    else:
        t.detail = f"{EASY_HARD_RULES[setting]}; " + "; ".join(used) + "."
        out.append(estimate_test(ctx, t, {0: curves}, Statistic("diff", pairs=tuple(pairs)),
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
                te = ClaimTest(setting, CLAIM_B, False, " / ".join(
                    p for p in (scope0, label, m, pattern) if p),
                    "mean over sparsities of R(easy) - R(hard)", 1)
                te.detail = "; ".join(us) + "."
                out.append(estimate_test(ctx, te, {0: cs}, Statistic("diff", pairs=tuple(ps)),
                                         zero_shot=True))
            xs = sorted({x for c in cs for x in c.xs})
            if len(xs) > 1:
                for x in xs:
                    cx, px, _ = build([m], pattern, x)
                    if not cx:
                        continue
                    tx = ClaimTest(setting, CLAIM_B, False, " / ".join(
                        p for p in (scope0, label, m, pattern, f"{x * 100:g}%") if p),
                        "R(easy) - R(hard) at one sparsity", 1)
                    out.append(estimate_test(ctx, tx, {0: cx}, Statistic("diff", pairs=tuple(px)),
                                             zero_shot=True))
    return out


def _zs_a(ctx, zs, g, setting, scope0, conds, primary_methods, methods) -> list[ClaimTest]:
    prim = primary_test(setting, CLAIM_A)
    out = []

    def build(ms, pattern, cs_):
        curves, used = [], []
        for m in ms:
            for c in cs_:
                cv, avail = _zs_curve(zs, g, setting, m, pattern, c)
                if cv is not None and len(avail) >= MIN_SPARSITY_POINTS:
                    curves.append(cv)
                    used.append(f"{m} {c} at {xs_text(avail)}")
        return curves, used

    scope = " / ".join(p for p in (scope0, "every condition", "unstructured") if p)
    curves, used = build(primary_methods, "unstructured", conds)
    t = ClaimTest(setting, CLAIM_A, True, scope, prim.statistic, -1)
    if not curves:
        t.not_testable = (f"no {'/'.join(primary_methods) or 'pruning'} curve has "
                          f"{MIN_SPARSITY_POINTS} or more unstructured sparsity points")
        out.append(t)
    else:
        t.detail = "Curves: " + "; ".join(used) + "."
        out.append(estimate_test(ctx, t, {0: curves}, Statistic("slope", tuple(range(len(curves)))),
                                 zero_shot=True))
    patterns = sorted(set(zs.sub(g)["pattern"].dropna()))
    for m in methods:
        for pattern in patterns:
            for c in conds:
                cs, us = build([m], pattern, [c])
                if not cs:
                    continue
                te = ClaimTest(setting, CLAIM_A, False, " / ".join(
                    p for p in (scope0, c, m, pattern) if p), SLOPE_STATISTIC, -1)
                te.detail = "; ".join(us) + "."
                out.append(estimate_test(ctx, te, {0: cs}, Statistic("slope", (0,)),
                                         zero_shot=True))
    return out


def _storage_note(points: list) -> str:
    """The matched points' storage with overheads counted (RTN scales and zero points as
    recorded, a 1-bit mask for pruning); empty when the RTN records predate the count."""
    parts = []
    for bits, s, q, _ in points:
        stored = q.get("storage_bits")
        if stored is None or not np.isfinite(float(stored)):
            return ""
        parts.append(f"{bits} bits: RTN {float(stored):.3g} vs pruning "
                     f"{pruned_storage_bits(s):.3g} (equal storage at "
                     f"{storage_matched_sparsity(float(stored)) * 100:.3g} %)")
    return (" With the overheads counted (bits per weight; RTN: a 16-bit scale, and a 16-bit "
            "zero point when asymmetric, per row or group; pruning: a 1-bit mask): "
            + ", ".join(parts)
            + "; where pruning stores more, the matched comparison favours pruning.")


def _quantization(ctx: Context, zs: _ZeroShotRuns) -> list[ClaimTest]:
    out = []
    prim = primary_test("quantization", CLAIM_Q)
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
            t = ClaimTest("quantization", CLAIM_Q, is_primary, scope,
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
                        + "; matched_sparsity counts storage as 1 - bits/16."
                        + _storage_note(points))
            out.append(estimate_test(ctx, t, {0: curves(points)},
                                     Statistic("diff", pairs=((0, 1),)), zero_shot=True))
            if len(points) > 1:
                for pt in points:
                    tx = ClaimTest("quantization", CLAIM_Q, False,
                                   f"{scope} / {pt[0]} bits vs {pt[1] * 100:g}%",
                                   "R(RTN) - R(magnitude) at one matched point", 1)
                    out.append(estimate_test(ctx, tx, {0: curves([pt])},
                                             Statistic("diff", pairs=((0, 1),)), zero_shot=True))
    return out
