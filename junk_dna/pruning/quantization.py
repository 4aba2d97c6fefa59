"""Round-to-nearest (RTN) weight quantization of a causal LM, to compare with pruning.

The paper's v2 claim compares pruning with quantization at equal weight storage. This module
fake-quantizes (quantizes, then dequantizes in place, so the model keeps its dtype and runs
unchanged) the same scope as :mod:`junk_dna.pruning.llm`: the weights of the ``nn.Linear``
(and ``Conv1D``) layers inside the decoder blocks; embeddings, norms, biases and ``lm_head``
are untouched.

Quantizer (the GPTQ code's RTN quantizer, applied to each row of ``W [out, in]`` or to each
group of ``group_size`` consecutive input weights of a row):

* asymmetric (default): ``xmin = min(min(w), 0)``, ``xmax = max(max(w), 0)`` (the range always
  contains 0, so 0 is exactly representable and the zero point lies in ``[0, 2^b - 1]``);
  ``scale = (xmax - xmin) / (2^b - 1)``, ``zero = round(-xmin / scale)``;
* symmetric: ``xmax = max(|xmin|, xmax)``, ``xmin = -xmax`` if ``xmin < 0``,
  ``zero = 2^(b-1)`` (i.e. ``(2^b - 1 + 1) / 2``);
* an all-zero row/group uses ``[-1, 1]``;
* ``q = clamp(round(w / scale) + zero, 0, 2^b - 1)``, ``w' = scale * (q - zero)``.

So each row/group holds at most ``2^b`` distinct values. Computed in float32 (float64 for a
float64 model), cast back to the weight's dtype.

Storage (:func:`rtn_storage_bits`): ``bits`` per weight plus, per row or group, a
:data:`SCALE_BITS`-bit scale and (asymmetric) a :data:`SCALE_BITS`-bit zero point, as GGUF's
Q4_1 blocks store theirs; the report gives it per weight over the quantized layers.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import Tensor, nn

from junk_dna.pruning.config import check_quantization
from junk_dna.pruning.llm import decoder_linears, input_width, set_weight_out_in, weight_as_out_in

#: Bits of each stored scale and zero point (float16).
SCALE_BITS = 16


def rtn_storage_bits(bits: int, shapes: list[tuple[int, int]], *, granularity: str = "per_channel",
                     group_size: int = 128, symmetric: bool = False) -> float:
    """Stored bits per weight of RTN-quantized ``[out, in]`` matrices: ``bits`` plus the
    scales (and zero points, asymmetric) of every row (per_channel) or group (per_group),
    :data:`SCALE_BITS` bits each.

    Raises:
        ValueError: bad parameters or no weights.
    """
    check_quantization(bits, granularity, group_size, symmetric)
    numel = sum(rows * cols for rows, cols in shapes)
    if numel == 0:
        raise ValueError("no weights to count")
    groups = sum(rows * (1 if granularity == "per_channel" else math.ceil(cols / group_size))
                 for rows, cols in shapes)
    return bits + groups * SCALE_BITS * (1 if symmetric else 2) / numel


@torch.no_grad()
def rtn_quantize(weight: Tensor, bits: int, *, symmetric: bool = False) -> Tensor:
    """Fake-quantize each ROW of ``weight`` (a separate scale/zero per row).

    Args:
        weight: ``[rows, cols]`` floating tensor (a row = an output channel, or a group).
        bits: bits per weight, in ``[2, 8]``.
        symmetric: symmetric range around 0 instead of min/max with a zero point.

    Returns:
        The dequantized tensor, same shape, float32 (float64 for float64 input).

    Raises:
        ValueError: bad ``bits``, a non-2-D or non-floating tensor.
    """
    check_quantization(bits, symmetric=symmetric)
    if weight.ndim != 2 or not weight.is_floating_point():
        raise ValueError(f"weight must be a 2-D float tensor, got {tuple(weight.shape)} "
                         f"{weight.dtype}")
    x = weight.detach().to(torch.float64 if weight.dtype == torch.float64 else torch.float32)
    maxq = 2**bits - 1
    zeros = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    xmin = torch.minimum(x.min(dim=1).values, zeros)
    xmax = torch.maximum(x.max(dim=1).values, zeros)
    if symmetric:
        xmax = torch.maximum(xmin.abs(), xmax)
        xmin = torch.where(xmin < 0, -xmax, xmin)
    empty = (xmin == 0) & (xmax == 0)
    xmin = torch.where(empty, -1.0, xmin)
    xmax = torch.where(empty, 1.0, xmax)
    scale = (xmax - xmin) / maxq
    zero = torch.full_like(scale, (maxq + 1) / 2) if symmetric else torch.round(-xmin / scale)
    scale, zero = scale.unsqueeze(1), zero.unsqueeze(1)
    q = torch.clamp(torch.round(x / scale) + zero, 0, maxq)
    return scale * (q - zero)


@torch.no_grad()
def quantize_weight(
    weight: Tensor,
    *,
    bits: int,
    granularity: str = "per_channel",
    group_size: int = 128,
    symmetric: bool = False,
    name: str = "weight",
) -> Tensor:
    """RTN fake-quantization of one ``[out, in]`` weight matrix (not modified).

    Args:
        weight: ``[out, in]`` floating tensor.
        bits, granularity, group_size, symmetric: see :func:`quantize_causal_lm`.
        name: used in error messages.

    Returns:
        float32 ``[out, in]`` dequantized weights.

    Raises:
        ValueError: bad parameters, or ``group_size`` not dividing the input width (per_group).
    """
    check_quantization(bits, granularity, group_size, symmetric)
    rows, cols = weight.shape
    if granularity == "per_channel":
        return rtn_quantize(weight, bits, symmetric=symmetric)
    if cols % group_size:
        raise ValueError(f"group_size {group_size} does not divide the input width {cols} of "
                         f"layer {name!r}")
    grouped = weight.detach().reshape(rows * (cols // group_size), group_size)
    return rtn_quantize(grouped, bits, symmetric=symmetric).reshape(rows, cols)


@torch.no_grad()
def quantize_causal_lm(
    model: nn.Module,
    *,
    bits: int,
    granularity: str = "per_channel",
    group_size: int = 128,
    symmetric: bool = False,
    blocks_name: str | None = None,
) -> dict[str, Any]:
    """RTN fake-quantize, in place, the decoder blocks' linear weights of a causal LM.

    Args:
        model: a transformers causal LM (blocks found by
            :func:`junk_dna.pruning.llm.find_decoder_blocks`).
        bits: bits per weight, an int in ``[2, 8]`` (e.g. 2, 3, 4, 6, 8).
        granularity: ``"per_channel"`` (one scale/zero per output row) or ``"per_group"``
            (one per ``group_size`` consecutive input weights of each row).
        group_size: group width for ``"per_group"``; must divide every layer's input width.
        symmetric: symmetric quantization (no zero point) instead of asymmetric min/max.
        blocks_name: the decoder blocks' module name, to skip the search.

    Returns:
        A report: ``bits``, ``granularity``, ``group_size`` (None for per_channel),
        ``symmetric``, ``layers`` (list of ``{"name", "shape", "out_in", "numel",
        "rel_error"}``, ``rel_error = ||W' - W||_F / ||W||_F``), ``numel``,
        ``storage_bits_per_weight`` (:func:`rtn_storage_bits`), ``wall_s``.

    Raises:
        ValueError: (before any weight changes) bad parameters, decoder blocks not found, or a
            layer whose input width ``group_size`` does not divide (names it).
    """
    t0 = time.perf_counter()
    check_quantization(bits, granularity, group_size, symmetric)
    linears = decoder_linears(model, blocks_name)
    if granularity == "per_group":
        for name, mod in linears.items():
            width = input_width(mod)
            if width % group_size:
                raise ValueError(f"group_size {group_size} does not divide the input width "
                                 f"{width} of layer {name!r}")
    layers = []
    for name, mod in linears.items():
        w = weight_as_out_in(mod)
        new = quantize_weight(w, bits=bits, granularity=granularity, group_size=group_size,
                              symmetric=symmetric, name=name)
        ref = w.float()
        norm = float(torch.linalg.norm(ref))
        rel = float(torch.linalg.norm(new - ref)) / norm if norm else 0.0
        set_weight_out_in(mod, new)
        layers.append({"name": name, "shape": tuple(mod.weight.shape), "out_in": tuple(w.shape),
                       "numel": mod.weight.numel(), "rel_error": rel})
    return {
        "bits": bits,
        "granularity": granularity,
        "group_size": group_size if granularity == "per_group" else None,
        "symmetric": symmetric,
        "layers": layers,
        "numel": sum(r["numel"] for r in layers),
        "storage_bits_per_weight": rtn_storage_bits(
            bits, [r["out_in"] for r in layers], granularity=granularity,
            group_size=group_size, symmetric=symmetric),
        "wall_s": time.perf_counter() - t0,
    }
