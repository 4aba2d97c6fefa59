"""Evaluation: GLUE metrics (fine-tuning half) and zero-shot LM scoring (LLM half)."""
