"""Reporting: tables normalized to the dense runs (analysis), the statistics of the
paper's claims (claims), and the figures (plots). Names are re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "stats": [
        "LEVEL", "N_BOOTSTRAP", "MIN_BOOTSTRAP", "BOOTSTRAP_SEED", "MIN_UNITS", "MIN_SEEDS_T",
        "MAX_UNDEFINED_SHARE", "DRAW_BLOCK", "DRAW_CACHE", "SUPPORTED", "CONTRADICTED",
        "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "DIRECTIONS", "RECOVERS", "DOES_NOT_RECOVER",
        "EXPECTS", "AUTO", "STUDENT_T", "PERCENTILE", "BOOTSTRAP_T", "NORMAL", "METHODS",
        "AUTO_MULTI_SEED", "AUTO_ONE_SEED", "SIM_DIFFICULTY_SD", "SIM_NOISE_SD", "SIM_SEED_CORR",
        "SIM_MU_RANGE", "N_TRUTH", "N_EXPERIMENTS", "CALIBRATION_BLOCK", "Contrast", "Metric",
        "retention", "Chance", "retention_difference", "retention_level", "retention_slope",
        "average", "mean_difference", "matthews_corrcoef", "pearson_r", "spearman_r", "binary_f1",
        "Resampling", "draw_resampling", "BlockResampling", "draw_block_resampling",
        "resampled_means", "resampled_block_values", "TwoLevelBootstrap", "two_level_bootstrap",
        "Estimate", "estimate", "estimate_blocks", "verdict", "equivalence_verdict", "holm",
        "holm_verdicts", "resolution", "t_power", "seeds_needed", "units_needed", "power_note",
        "SimDesign", "simulate", "true_values", "CellResult", "SEED_BOOTSTRAP",
        "CALIBRATION_METHODS_ONE", "CALIBRATION_METHODS_MULTI", "calibrate", "SIM_SPARSITIES",
        "SIM_SCENARIOS", "FT_N_UNITS", "SIM_STATISTICS", "sim_contrasts", "calibration_statistics"
    ],
    "outcomes": [
        "PER_QUESTION_NAME", "N_OPTIONS", "ROW_METRICS", "ExampleOutcomes", "main_split",
        "row_metric", "example_scores", "finetune_value", "run_chance", "condition_option_counts",
        "condition_chance", "Outcomes"
    ],
    "analysis": [
        "PRUNING_COLUMNS", "NON_PARAM_COLUMNS", "main_metric_rows", "baseline_keys",
        "normalize_to_dense", "seed_summary", "human_gap_table", "easy_hard_pairs", "split_metric",
        "normalize_zero_shot", "SCALES", "RETENTION_COLUMNS", "retention_table", "scaled"
    ],
    "claims": [
        "EXPERIMENT", "SETTINGS", "FINETUNE_SETTINGS", "ZERO_SHOT_SETTINGS", "CLAIM_A", "CLAIM_B",
        "CLAIM_C", "CLAIM_C_RECOVERS", "CLAIM_C_NO_RECOVERY", "CLAIM_Q", "STATEMENTS", "SUPPORTED",
        "CONTRADICTED", "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "R_WINDOW", "RECOVERY_MARGIN",
        "REFERENCE_EFFECTS", "POWER", "EXCLUSION_SE", "MIN_SEEDS", "MIN_SPARSITY_POINTS",
        "CONVERGENCE_GAIN", "CONVERGENCE_LOSS", "ZERO_SHOT_SCORE", "FACTOID_SCORE",
        "PRUNING_METHODS", "HUMAN_GAP_PAIRS", "EASY_HARD_RULES", "PrimaryTest", "PRIMARY",
        "COLUMNS", "Cond", "Curve", "Statistic", "Audit", "curve_x", "audit_runs",
        "evaluate_claims", "primary_markdown", "readme_claims_table", "claims_markdown",
        "write_claims"
    ],
    "plots": [
        "MODE_STYLE", "DENSE_STYLE", "CRITERION_STYLE", "TASK_LABELS", "PAIR_STYLE", "task_label",
        "y_label", "true_gem_figure", "FRACTION_COLORS", "data_adequacy_figure",
        "human_gap_figure", "METHOD_LABELS", "CONDITION_COLORS", "ZERO_SHOT_TITLES",
        "zero_shot_figure", "quantization_figure", "save"
    ],
})
