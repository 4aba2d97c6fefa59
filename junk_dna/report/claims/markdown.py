"""The claims table as Markdown: ``claims.md`` (:func:`claims_markdown`,
:func:`write_claims`) and the primary-verdict block of README.md.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from junk_dna.report import stats
from junk_dna.report.analysis import FACTOID_SCORE
from junk_dna.report.claims.audit import audit_runs
from junk_dna.report.claims.conditions import Audit
from junk_dna.report.claims.constants import (
    CONVERGENCE_GAIN,
    CONVERGENCE_LOSS,
    EASY_HARD_RULES,
    EXCLUSION_SE,
    EXPERIMENT,
    FINETUNE_SETTINGS,
    HUMAN_GAP_PAIRS,
    MIN_SEEDS,
    MIN_SPARSITY_POINTS,
    POWER,
    PRIMARY,
    R_WINDOW,
    RECOVERY_MARGIN,
    REFERENCE_EFFECTS,
    SETTINGS,
    STATEMENTS,
    VERDICTS,
    ZERO_SHOT_SCORE,
)
from junk_dna.report.claims.table import evaluate_with_audit
from junk_dna.results.records import atomic_write_text


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
        f"with fewer than {MIN_SEEDS} seeds (by design or by exclusions) is not testable (its "
        "one-seed estimate is shown: it covers test-set noise only), and so is a zero-shot "
        "test whose model is excluded. A slope needs "
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
    table, audit = evaluate_with_audit(df, which)
    out = Path(out_dir)
    csv, md = out / "claims.csv", out / "claims.md"
    atomic_write_text(csv, table.to_csv(index=False))
    atomic_write_text(md, claims_markdown(table, df, which=which, audit=audit))
    return csv, md
