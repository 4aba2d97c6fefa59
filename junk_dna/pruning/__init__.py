"""Pruning: one-shot masks, LLM pruning, RTN quantization, transfer modes."""
