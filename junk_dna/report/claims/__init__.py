"""The paper's claims, each turned into a statistic with a CI and one verdict rule.

The claims (PROTOCOL.md, "The claim"): one-shot magnitude pruning of the pre-trained weights
causes a loss that

A. grows monotonically with sparsity;
B. grows faster the harder the downstream task (setting 1: less fine-tuning data; 2: more
   options; 3: less context, closed book; 4: a larger human-model gap; v2: fewer shots,
   factoid vs multiple choice);
C. is irreversible: sparse-to-dense transfer does not recover it, dense transfer with the
   pruned weights frozen at their pre-trained values does;
Q. (v2) and quantization does not show pruning's loss.

**Scale.** Every statistic is on the chance-corrected retention
``R = 100 (score - chance) / (dense - chance)`` (0: a model that knows nothing, 100: the dense
model of the same seed and condition; chance levels in :mod:`junk_dna.evaluation.chance`),
computed per seed from per-example outcomes (fine-tuning: ``per_example.json``; zero-shot:
``per_question.json``).

**Estimation** (:mod:`junk_dna.report.stats`, calibrated by simulation): the per-seed
statistic averaged over seeds, a two-level bootstrap-t CI with two or more fine-tuning seeds,
the paired percentile bootstrap over test examples with one seed (it covers test-set noise
only: the method string says so) and over questions for a zero-shot model (one model, the
questions are the sampling unit). Conditions scored on different example sets within a seed
(human_gap's two tasks, factoid_vs_mc's two datasets) are resampled block by block
(:func:`~junk_dna.report.stats.estimate_blocks`).

**One verdict rule.** supported: the 95 % CI excludes 0 in the paper's direction;
contradicted: it excludes 0 the other way (for "recovers", the equivalence test of
:func:`~junk_dna.report.stats.equivalence_verdict` with margin :data:`RECOVERY_MARGIN`);
inconclusive otherwise; not testable where the design cannot speak (the row says why).
The pre-registered primary tests are :data:`PRIMARY`; every other row is exploratory and
its verdict comes from its Holm-adjusted p-value over all exploratory rows of the table and
the sign of its estimate.

**Exclusions, fixed a priori.** A dense model not clearly above chance
(``dense - chance <= EXCLUSION_SE`` binomial standard errors ``sqrt(p (1 - p) / n)``,
``p`` the dense score, ``n`` its test examples or questions) cannot anchor R: its curve is
excluded for that seed (the exclusion is listed). A fine-tuning test left with fewer than
:data:`MIN_SEEDS` seeds by exclusions, or a zero-shot test whose model is excluded, is not
testable; so is a design with a single fine-tuning seed (its estimate and test-set-only
CI are reported, without a verdict).

**Flags (never silent).** Runs flagged by the sparsity guard (tensors pruned > 95 % at a
target <= 60 %) and dense runs that fail the convergence rule (docs/PREREGISTRATION.md,
stage 1: :data:`CONVERGENCE_GAIN`, :data:`CONVERGENCE_LOSS`) are listed in ``claims.md`` and
mark every row that uses them.

Every threshold is a constant of :mod:`junk_dna.report.claims.constants` fixed before the
decisive runs; none is fitted to a run.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "constants": [
        "EXPERIMENT", "SETTINGS", "FINETUNE_SETTINGS", "ZERO_SHOT_SETTINGS", "CLAIM_A", "CLAIM_B",
        "CLAIM_C", "CLAIM_C_RECOVERS", "CLAIM_C_NO_RECOVERY", "CLAIM_Q", "STATEMENTS", "SUPPORTED",
        "CONTRADICTED", "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "R_WINDOW", "RECOVERY_MARGIN",
        "REFERENCE_EFFECTS", "POWER", "EXCLUSION_SE", "MIN_SEEDS", "MIN_SPARSITY_POINTS",
        "CONVERGENCE_GAIN", "CONVERGENCE_LOSS", "ZERO_SHOT_SCORE", "PRUNING_METHODS",
        "HUMAN_GAP_PAIRS", "EASY_HARD_RULES", "PrimaryTest", "PRIMARY", "COLUMNS",
        "SLOPE_STATISTIC", "NAN", "primary_test", "claim_key"
    ],
    "conditions": [
        "Cond", "Curve", "Statistic", "SeedData", "Audit", "ClaimTest", "Context"
    ],
    "data": [
        "estimate_test"
    ],
    "finetune": [
        "row_curve_x", "curve_x", "FinetuneRuns", "xs_text", "true_gem_tests",
        "data_adequacy_tests", "human_gap_tests"
    ],
    "zero_shot": [
        "zero_shot_tests"
    ],
    "audit": [
        "audit_runs"
    ],
    "table": [
        "evaluate_with_audit", "evaluate_claims"
    ],
    "markdown": [
        "primary_markdown", "readme_claims_table", "claims_markdown", "write_claims"
    ],
})
