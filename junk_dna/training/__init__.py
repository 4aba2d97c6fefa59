"""Fine-tuning (the fine-tuning half of the paper: true_gem, data_adequacy, human_gap)."""
