"""Data: GLUE-style fine-tuning tasks, zero-shot QA tasks, published human scores."""
