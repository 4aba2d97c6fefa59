"""Model loading: encoders for fine-tuning, causal LMs for zero-shot (and their resolution)."""
