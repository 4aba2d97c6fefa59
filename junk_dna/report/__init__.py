"""Reporting: tables normalized to the dense runs (analysis), the statistics of the
paper's claims (claims), and the figures (plots). Names are re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "analysis": [
        "PRUNING_COLUMNS", "NON_PARAM_COLUMNS", "main_metric_rows", "baseline_keys",
        "normalize_to_dense", "seed_summary", "human_gap_table", "easy_hard_pairs", "split_metric",
        "normalize_zero_shot"
    ],
    "claims": [
        "EXPERIMENT", "SETTINGS", "MIN_DENSE_CORRECT", "EASY_HARD", "SUPPORTED", "NOT_SUPPORTED",
        "NOT_ENOUGH", "VERDICTS", "TOL_POINTS", "MIN_CURVE_POINTS", "SPEARMAN_MAX",
        "MAX_VIOLATION_SHARE", "FREEZE_RECOVERS", "N_BOOTSTRAP", "BOOTSTRAP_SEED", "CI_LEVEL",
        "MONOTONIC_MODES", "CURVE_KEYS", "COLUMNS", "CLAIM_A", "CLAIM_B", "CLAIM_C", "CLAIM_Q",
        "STATEMENTS", "curve_x", "monotonicity", "evaluate_claims", "claims_markdown",
        "write_claims"
    ],
    "plots": [
        "MODE_STYLE", "DENSE_STYLE", "CRITERION_STYLE", "TASK_LABELS", "PAIR_STYLE", "task_label",
        "true_gem_figure", "FRACTION_COLORS", "data_adequacy_figure", "human_gap_figure",
        "METHOD_LABELS", "CONDITION_COLORS", "ZERO_SHOT_TITLES", "zero_shot_figure",
        "quantization_figure", "save"
    ],
})
