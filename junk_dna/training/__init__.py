"""Fine-tuning (the fine-tuning half: true_gem, data_adequacy, human_gap). Names are
re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "precision": [
        "MIXED_PRECISIONS", "check_mixed_precision", "autocast_factory"
    ],
    "compact": [
        "training_token_ids", "compact_reason", "CompactEmbedding"
    ],
    "finetune": [
        "NO_DECAY", "TrainConfig", "LengthGroupedBatchSampler", "TrainResult", "parameter_groups",
        "eval_order", "MultipleChoiceCollator", "evaluate", "predict", "fine_tune",
        "evaluation_steps"
    ],
})
