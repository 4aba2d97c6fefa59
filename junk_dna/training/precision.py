"""The training precision of a fine-tune: its allowed values, checked without torch, and the
context its forward passes run in.

``"no"`` (the default of :class:`junk_dna.experiments.true_gem.TrueGemConfig`): float32
throughout. ``"bf16"``: the forward passes of training and evaluation under
``torch.autocast`` with bfloat16, on a CPU as on a GPU (the matmuls run in bfloat16; weights,
gradients, AdamW and a transfer mode's projection stay float32); measured on branch ``speed``
(``benchmarks/README.md``): 1.68-1.73x per MiniLM step on one CPU core with AVX-512 BF16,
last-epoch test accuracy within 0-2 of 262 SST-2 sentences of float32 over 5 seeds; not
exact. ``"fp16"``: accelerate's float16 autocast with loss scaling (GPU only).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from junk_dna.checks import check_choice

MIXED_PRECISIONS: tuple[str, ...] = ("no", "bf16", "fp16")


def check_mixed_precision(value: Any) -> None:
    """Raises:
        ValueError: ``value`` is not one of :data:`MIXED_PRECISIONS` (the message lists them).
    """
    check_choice("mixed_precision", value, MIXED_PRECISIONS)


def autocast_factory(mixed_precision: str, device_type: str) -> Callable[[], Any]:
    """A factory of the context the forward passes run in: ``torch.autocast(device_type,
    bfloat16)`` for ``"bf16"``, else a null context (float32, or accelerate's own fp16
    autocast, which wraps the model's forward itself).

    Raises:
        ValueError: an unknown ``mixed_precision``.
    """
    check_mixed_precision(mixed_precision)
    if mixed_precision == "bf16":
        import torch

        return lambda: torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext
