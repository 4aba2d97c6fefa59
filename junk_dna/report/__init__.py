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
    "stats": [
        "LEVEL", "N_BOOTSTRAP", "MIN_BOOTSTRAP", "BOOTSTRAP_SEED", "MIN_UNITS", "MIN_SEEDS_T",
        "MAX_UNDEFINED_SHARE", "DRAW_BLOCK", "SUPPORTED", "CONTRADICTED", "INCONCLUSIVE",
        "NOT_TESTABLE", "VERDICTS", "DIRECTIONS", "RECOVERS", "DOES_NOT_RECOVER", "EXPECTS",
        "AUTO", "STUDENT_T", "PERCENTILE", "BOOTSTRAP_T", "NORMAL", "METHODS", "AUTO_MULTI_SEED",
        "AUTO_ONE_SEED", "SIM_DIFFICULTY_SD", "SIM_NOISE_SD", "SIM_SEED_CORR", "SIM_MU_RANGE",
        "N_TRUTH", "N_EXPERIMENTS", "CALIBRATION_BLOCK", "Contrast", "Metric", "retention",
        "retention_difference", "retention_slope", "mean_difference", "matthews_corrcoef",
        "pearson_r", "Resampling", "draw_resampling", "resampled_means", "TwoLevelBootstrap",
        "two_level_bootstrap", "Estimate", "estimate", "verdict", "equivalence_verdict", "holm",
        "holm_verdicts", "resolution", "t_power", "seeds_needed", "units_needed", "power_note",
        "SimDesign", "simulate", "true_values", "CellResult", "SEED_BOOTSTRAP",
        "CALIBRATION_METHODS_ONE", "CALIBRATION_METHODS_MULTI", "calibrate", "SIM_SPARSITIES",
        "SIM_SCENARIOS", "FT_N_UNITS", "SIM_STATISTICS", "sim_contrasts", "calibration_statistics"
    ],
})
