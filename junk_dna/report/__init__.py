"""Reporting: tables normalized to the dense runs (analysis), the statistics (stats/) and the
table of the paper's claims (claims/), and the figures (plots). Names are re-exported lazily,
those of the nested stats/ and claims/ included.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "stats.constants": [
        "LEVEL", "N_BOOTSTRAP", "MIN_BOOTSTRAP", "BOOTSTRAP_SEED", "MIN_UNITS", "MIN_SEEDS_T",
        "MAX_UNDEFINED_SHARE", "DRAW_BLOCK", "DRAW_CACHE", "SUPPORTED", "CONTRADICTED",
        "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "DIRECTIONS", "RECOVERS", "DOES_NOT_RECOVER",
        "EXPECTS", "AUTO", "STUDENT_T", "PERCENTILE", "BOOTSTRAP_T", "NORMAL", "METHODS",
        "AUTO_MULTI_SEED", "AUTO_ONE_SEED", "SIM_DIFFICULTY_SD", "SIM_NOISE_SD", "SIM_SEED_CORR",
        "SIM_MU_RANGE", "N_TRUTH", "N_EXPERIMENTS", "CALIBRATION_BLOCK", "Contrast", "Metric"
    ],
    "stats.checks": [
        "check_level", "check_direction", "check_method", "check_n_boot", "check_scores",
        "check_pairs", "apply_contrast"
    ],
    "stats.contrasts": [
        "retention", "Chance", "retention_difference", "retention_level", "retention_slope",
        "average", "mean_difference", "matthews_corrcoef", "pearson_r", "spearman_r", "binary_f1"
    ],
    "stats.resampling": [
        "Resampling", "draw_resampling", "BlockResampling", "draw_block_resampling",
        "resampled_means", "resampled_metric", "resampled_block_values", "observed_values",
        "per_seed_contrasts", "apply_seeds", "take_seeds", "TwoLevelBootstrap",
        "two_level_bootstrap"
    ],
    "stats.intervals": [
        "Estimate", "t_bounds", "percentile_bounds", "bootstrap_t_bounds", "normal_bounds",
        "estimate", "estimate_blocks"
    ],
    "stats.verdicts": [
        "verdict", "equivalence_verdict", "holm", "holm_verdicts"
    ],
    "stats.power": [
        "resolution", "t_power", "seeds_needed", "z_power", "units_needed", "power_note"
    ],
    "stats.simulation": [
        "SimDesign", "simulate", "true_values", "CellResult", "SEED_BOOTSTRAP",
        "CALIBRATION_METHODS_ONE", "CALIBRATION_METHODS_MULTI", "calibrate"
    ],
    "stats.calibration_grid": [
        "SIM_SPARSITIES", "SIM_SCENARIOS", "FT_N_UNITS", "SIM_STATISTICS", "sim_contrasts",
        "calibration_statistics"
    ],
    "outcomes": [
        "PER_QUESTION_NAME", "N_OPTIONS", "ROW_METRICS", "ExampleOutcomes", "main_split",
        "row_metric", "example_scores", "finetune_value", "run_chance", "condition_option_counts",
        "condition_chance", "Outcomes"
    ],
    "analysis": [
        "PRUNING_COLUMNS", "NON_PARAM_COLUMNS", "main_metric_rows", "baseline_keys",
        "normalize_to_dense", "seed_summary", "human_gap_table", "easy_hard_pairs", "pair_gaps",
        "gap_disagreements", "split_metric", "FACTOID_SCORE", "normalize_zero_shot", "SCALES",
        "SCALE_REFERENCE", "RETENTION_COLUMNS", "retention_table", "scaled"
    ],
    "claims.constants": [
        "EXPERIMENT", "SETTINGS", "FINETUNE_SETTINGS", "ZERO_SHOT_SETTINGS", "CLAIM_A", "CLAIM_B",
        "CLAIM_C", "CLAIM_C_RECOVERS", "CLAIM_C_NO_RECOVERY", "CLAIM_Q", "STATEMENTS", "SUPPORTED",
        "CONTRADICTED", "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "R_WINDOW", "RECOVERY_MARGIN",
        "REFERENCE_EFFECTS", "POWER", "EXCLUSION_SE", "MIN_SEEDS", "MIN_SPARSITY_POINTS",
        "CONVERGENCE_GAIN", "CONVERGENCE_LOSS", "ZERO_SHOT_SCORE", "PRUNING_METHODS",
        "HUMAN_GAP_PAIRS", "EASY_HARD_RULES", "PrimaryTest", "PRIMARY", "COLUMNS",
        "SLOPE_STATISTIC", "NAN", "primary_test", "claim_key"
    ],
    "claims.conditions": [
        "Cond", "Curve", "Statistic", "SeedData", "Audit", "ClaimTest", "Context"
    ],
    "claims.data": [
        "estimate_test"
    ],
    "claims.finetune": [
        "row_curve_x", "curve_x", "FinetuneRuns", "xs_text", "true_gem_tests",
        "data_adequacy_tests", "human_gap_tests"
    ],
    "claims.zero_shot": [
        "zero_shot_tests"
    ],
    "claims.audit": [
        "audit_runs"
    ],
    "claims.table": [
        "evaluate_with_audit", "evaluate_claims"
    ],
    "claims.markdown": [
        "primary_markdown", "readme_claims_table", "claims_markdown", "write_claims"
    ],
    "plots": [
        "NothingToDraw", "MODE_STYLE", "DENSE_STYLE", "CRITERION_STYLE", "TASK_LABELS",
        "PAIR_STYLE", "METHOD_LABELS", "ZERO_SHOT_TITLES", "CONDITION_NAMES", "CONDITION_COLORS",
        "BINOMIAL", "PATTERN_XLABELS", "ORDERED_PALETTE", "Z95", "TABLE_ATTR", "TABLE_COLUMNS",
        "task_label", "y_label", "true_gem_figure", "data_adequacy_figure", "human_gap_figure",
        "zero_shot_figure", "quantization_figure", "run_figure", "figure_table", "figure_csv",
        "save", "FIGURES", "render"
    ],
    "config": [
        "WHICH", "ReportConfig"
    ],
})
