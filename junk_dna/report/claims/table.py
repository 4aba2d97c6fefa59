"""The claims table (:func:`evaluate_claims`): every setting's tests, the verdicts (primary
tests by their CI, exploratory rows by Holm), the power sentence and the numbers of a row.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from junk_dna.report import stats
from junk_dna.report.claims.audit import audit_runs
from junk_dna.report.claims.conditions import Audit, ClaimTest, Context
from junk_dna.report.claims.constants import (
    COLUMNS,
    CONTRADICTED,
    EXPERIMENT,
    FINETUNE_SETTINGS,
    INCONCLUSIVE,
    MIN_SEEDS,
    NAN,
    NOT_TESTABLE,
    POWER,
    RECOVERY_MARGIN,
    REFERENCE_EFFECTS,
    SETTINGS,
    SUPPORTED,
    claim_key,
)
from junk_dna.report.claims.finetune import (
    FinetuneRuns,
    data_adequacy_tests,
    human_gap_tests,
    true_gem_tests,
)
from junk_dna.report.claims.zero_shot import zero_shot_tests
from junk_dna.report.outcomes import Outcomes


def _power_sentence(t: ClaimTest) -> str:
    est = t.est
    ref = REFERENCE_EFFECTS[claim_key(t.claim)]
    half = stats.resolution(est)
    unit = " per unit sparsity" if claim_key(t.claim) == "A" else ""
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


def _method(t: ClaimTest) -> str:
    if t.est is None:
        return ""
    m = t.est.method
    if t.zero_shot:
        m = m.replace("examples", "questions").replace(
            "(test-set noise only, 1 seed)", "(one model: the questions are the sampling unit)")
    return m


def _value_text(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.3g}"


def _too_few_seeds(t: ClaimTest) -> bool:
    """A fine-tuning test estimated from fewer than :data:`MIN_SEEDS` seeds (no verdict)."""
    return not t.zero_shot and t.est is not None and t.est.n_seeds < MIN_SEEDS


def _finish(tests: list[ClaimTest], audit: Audit) -> pd.DataFrame:
    expl = [t for t in tests if not t.primary and t.not_testable is None and t.est is not None
            and not _too_few_seeds(t)]
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
               "statistic": t.statistic, "value": NAN, "ci_low": NAN, "ci_high": NAN,
               "p_value": NAN, "p_holm": NAN, "n_seeds": 0, "n_units": 0, "method": "",
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
        if _too_few_seeds(t):
            row["detail"] = (
                f"Not testable: {est.n_seeds} seed, fewer than the {MIN_SEEDS} a fine-tuning "
                f"verdict needs; the estimate {_value_text(est.value)} with 95% CI "
                f"[{_value_text(est.ci_low)}, {_value_text(est.ci_high)}] covers test-set noise "
                "only." + (f" {t.detail}" if t.detail else ""))
            rows.append(row)
            continue
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


def evaluate_with_audit(df: pd.DataFrame, which: str = "last") -> tuple[pd.DataFrame, Audit]:
    """The table of :func:`evaluate_claims` and the :class:`Audit` of the runs."""
    if which not in ("last", "best"):
        raise ValueError(f"which {which!r} not in ['last', 'best']")
    if df.empty:
        return pd.DataFrame(columns=list(COLUMNS)), Audit()
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    if "run_dir" not in df.columns:
        df = df.assign(run_dir=None)
    outcomes = Outcomes()
    ctx = Context(outcomes)
    ctx.audit = audit_runs(df, outcomes)
    tests: list[ClaimTest] = []
    with _one_thread():
        for setting in SETTINGS:
            runs = df[df["experiment"] == setting]
            if runs.empty:
                continue
            if setting in FINETUNE_SETTINGS:
                ft = FinetuneRuns(runs)
                if setting == "true_gem":
                    tests += true_gem_tests(ctx, ft)
                elif setting == "data_adequacy":
                    tests += data_adequacy_tests(ctx, ft)
                else:
                    tests += human_gap_tests(ctx, ft, runs)
            else:
                tests += zero_shot_tests(ctx, setting, runs)
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
    return evaluate_with_audit(df, which)[0]
