"""Evaluation: the evaluate metric modules shipped in the package, loaded offline by path
(metric_modules: GLUE and SQuAD), GLUE metrics of the fine-tuning half (glue_metrics) and zero-shot
LM scoring of the LLM half (lm_scoring: multiple choice by log-likelihood, factoid QA by
greedy generation). Names are re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "metric_modules": [
        "METRICS_DIR", "METRIC_MODULES", "metric_path", "load_metric", "metric_script"
    ],
    "glue_metrics": [
        "MetricFn", "glue_compute", "accuracy", "matthews", "f1_and_accuracy", "pearson_spearman",
        "METRICS", "get_metric"
    ],
    "lm_scoring": [
        "STRATEGIES", "MCPrompt", "MCRecord", "MCResult", "encode_pair", "score_multiple_choice",
        "subset_record", "Generation", "generate_greedy", "normalize_answer", "exact_match",
        "token_f1", "containment", "squad_scores", "FactoidResult", "evaluate_factoid"
    ],
    "chance": [
        "ZERO_CHANCE_METRICS", "MC_METRICS", "FACTOID_METRICS", "majority_rate",
        "positive_class_f1", "multiple_choice_chance", "finetune_chance", "zero_shot_chance",
        "binomial_se"
    ],
})
