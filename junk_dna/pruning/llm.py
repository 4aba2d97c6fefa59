"""One-shot pruning of a causal LM: magnitude, Wanda and SparseGPT, unstructured or N:M.

This is the LLM side of the paper (the original code pruned Vicuna-7B with these three methods
before its open/closed-book TriviaQA evaluation; ``docs/PROTOCOL.md``).

Scope
-----
The weights of every ``nn.Linear`` (and transformers ``Conv1D``, GPT-2 style, whose weight is
stored transposed ``[in, out]``) inside the decoder blocks; embeddings, norms, biases and the
``lm_head`` are untouched. The decoder blocks are found generically
(:func:`find_decoder_blocks`): the ``nn.ModuleList`` of ``config.num_hidden_layers`` modules
holding linear layers (``model.model.layers`` for Llama/Qwen2, ``model.model.decoder.layers``
for OPT, ``model.gpt_neox.layers``, ``model.transformer.h`` for GPT-2, ...). Linears that are not
``nn.Linear``/``Conv1D`` modules (e.g. fused MoE expert tensors) are not pruned.

Methods (every weight matrix is handled as ``W [out, in]``; ``X`` = its calibration inputs,
``[tokens, in]``)
-----------------------------------------------------------------------------------------------
``magnitude``
    prune the smallest ``|W_ij|``; unstructured: exactly ``round(sparsity * out * in)`` per
    weight matrix (per matrix, as the original LLM code; not global). No calibration.
``wanda``
    score ``|W_ij| * ||X_:,j||_2`` (the norm of input feature ``j`` over all calibration
    tokens); unstructured: exactly ``round(sparsity * in)`` pruned in every OUTPUT ROW (the Wanda
    paper's comparison group). Weights that are kept are not changed.
``sparsegpt``
    the OBS reconstruction of the SparseGPT reference code (``fasterprune``): Hessian
    ``H = (2 / n_seq) * sum_tokens x x^T`` (``n_seq`` = calibration sequences, the reference's
    normalisation; the scale only matters for dead inputs below), dead inputs (``H_jj == 0``) get
    ``H_jj = 1`` and their weights set to 0, dampening ``percdamp * mean(diag(H))`` on the
    diagonal, ``Hinv`` = upper Cholesky factor of ``H^-1``; the columns are processed in blocks of
    ``blocksize``: in each block the mask is chosen by ``w^2 / diag(Hinv)^2`` on the weights as
    updated so far, each column is pruned in turn and its error propagated to the block's
    remaining columns, then the block's error to all later columns. Unstructured: exactly
    ``round(sparsity * out * width_b)`` pruned in every COLUMN BLOCK ``b`` (all rows of
    ``width_b = min(blocksize, in - start_b)`` columns together; the reference's selection
    group, so per-row counts vary; the matrix total is the sum over blocks, which equals
    ``round(sparsity * out * in)`` up to rounding per block). Kept weights are updated.
    The factorisation runs in float64 (the reference: float32), the column loop in float32.

N:M (every method): ``N`` weights KEPT in every group of ``M`` consecutive weights along the
input dimension of each row (``"2:4"``, the figures' ``"2:8"`` keeps 2 of 8), i.e. exactly
``M - N`` pruned per group, chosen by the method's score (SparseGPT: within each group, when its
first column is reached, on the updated weights, as the reference; needs ``blocksize % M == 0``).
Every layer's input width must be divisible by ``M``.

Ties are broken deterministically: unstructured prunes the first ``k`` in (score ascending,
position ascending) order; N:M keeps the ``N`` largest scores, among equal scores the lower
index (the conventions of :mod:`junk_dna.pruning.masks`). Magnitude masks come from
:func:`junk_dna.pruning.masks.compute_masks`.

Calibration pipeline (wanda, sparsegpt), as the reference code
--------------------------------------------------------------
1. The inputs of the FIRST decoder block are captured for every calibration sequence (one
   sequence at a time, KV cache off): a forward pre-hook stores the hidden states and the other
   arguments of each block (``attention_mask``, ``position_ids``, ``position_embeddings`` (the
   rotary cos/sin that transformers 5.x passes into decoder layers), cache flags, ...) and the
   forward stops with a private exception at the LAST block; the blocks before it are replaced
   by the identity during this pass, so the per-block arguments are exactly what the model
   passes to each block (models with per-layer masks, e.g. sliding-window layers, included)
   at the cost of the embeddings only. The arguments of the first sequence are reused for all
   sequences (they are equal: same length, no padding).
2. For each block: forward hooks on its linears accumulate the statistics (squared input norms
   or the Hessian; each call's ``sum x^2`` and ``x^T x`` in float32, added to float64 sums)
   while the calibration sequences run through the block; its linears are pruned; the
   sequences are run through the PRUNED block to give the next block's inputs. Linears that
   receive the very same input tensor in every call (Llama/Qwen2: q/k/v_proj, gate/up_proj;
   detected by object identity, not by name) share one accumulation and, for SparseGPT, one
   Hessian factorisation; the numbers are those each would get alone.
   Memory: two activation buffers ``[n_samples, seqlen, hidden]`` (this block's inputs and
   outputs), plus one block's statistics (SparseGPT: an ``[in, in]`` float64 Hessian per group
   of linears sharing an input, and during one sequence's forward a float32 ``[in, in]`` per
   distinct input).

Differences from the reference code (deliberate, for exact counts and numerical robustness):
Wanda prunes ``round`` (not ``int``) of ``sparsity * in`` per row; SparseGPT's unstructured
selection prunes exactly ``round(sparsity * out * width_b)`` per block (the reference's
``tmp <= sorted[int(numel * sparsity)]`` prunes one more, plus any ties); the Hessian is
accumulated and factorised in float64 (the reference: a float32 running mean of float32
``x^T x``); N:M ties keep
the lower index (the reference's ``topk`` leaves them unspecified). With N:M on random data the
masks equal a transcription of the reference ``fasterprune`` and the weights agree to ~1e-5.

Determinism: the same model, calibration and arguments give bit-identical weights (CPU; no
randomness is involved beyond the seeded calibration windows of
:mod:`junk_dna.pruning.calibration`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from junk_dna.pruning.config import (
    LLMPruningSpec,
    PruningConfig,
    check_llm_pruning,
    parse_nm,
)
from junk_dna.pruning.masks import compute_masks, conv1d_type, sparsity_report

# --------------------------------------------------------------------------------------------
# which weights


def _is_prunable_linear(module: nn.Module) -> bool:
    conv1d = conv1d_type()
    kinds: tuple[type, ...] = (nn.Linear,) if conv1d is None else (nn.Linear, conv1d)
    return isinstance(module, kinds) and isinstance(getattr(module, "weight", None), Tensor)


def _is_conv1d(module: nn.Module) -> bool:
    conv1d = conv1d_type()
    return conv1d is not None and isinstance(module, conv1d)


def input_width(module: nn.Module) -> int:
    """Input width of an ``nn.Linear`` (``weight [out, in]``) or ``Conv1D`` (``[in, out]``)."""
    return int(module.weight.shape[0] if _is_conv1d(module) else module.weight.shape[1])


def weight_as_out_in(module: nn.Module) -> Tensor:
    """The module's weight as ``[out, in]`` (a transposed view for ``Conv1D``), detached."""
    w = module.weight.detach()
    return w.t() if _is_conv1d(module) else w


@torch.no_grad()
def set_weight_out_in(module: nn.Module, new: Tensor) -> None:
    """Copy an ``[out, in]`` tensor into the module's weight in place (transposed for
    ``Conv1D``; cast to the weight's dtype)."""
    target = module.weight.data
    target.copy_((new.t() if _is_conv1d(module) else new).to(target.dtype))


def find_decoder_blocks(
    model: nn.Module, blocks_name: str | None = None
) -> tuple[str, nn.ModuleList]:
    """The decoder blocks of a causal LM, found without knowing its family.

    Args:
        model: a transformers causal LM (``model.config.num_hidden_layers`` is read).
        blocks_name: the blocks' module name (e.g. ``"model.layers"``) to skip the search.

    Returns:
        ``(name, blocks)``: the outermost ``nn.ModuleList`` of ``config.num_hidden_layers``
        modules containing ``nn.Linear``/``Conv1D`` layers.

    Raises:
        ValueError: no ``config.num_hidden_layers``, no such list, several candidates (names
            them; pass ``blocks_name``), or ``blocks_name`` not a ``ModuleList``.
    """
    if blocks_name is not None:
        try:
            blocks = model.get_submodule(blocks_name)
        except AttributeError as err:
            raise ValueError(
                f"blocks_name {blocks_name!r} is not a submodule of the model"
            ) from err
        if not isinstance(blocks, nn.ModuleList):
            raise ValueError(f"blocks_name {blocks_name!r} is a {type(blocks).__name__}, "
                             "not an nn.ModuleList")
        return blocks_name, blocks
    config = getattr(model, "config", None)
    n_layers = getattr(config, "num_hidden_layers", None)
    arch = type(model).__name__
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"{arch} has no config.num_hidden_layers (got {n_layers!r}); cannot "
                         "find its decoder blocks (pass blocks_name)")
    found = [
        (name, mod)
        for name, mod in model.named_modules()
        if isinstance(mod, nn.ModuleList)
        and len(mod) == n_layers
        and any(_is_prunable_linear(sub) for sub in mod.modules())
    ]
    outer = [
        (name, mod)
        for name, mod in found
        if not any(name != other and name.startswith(other + ".") for other, _ in found)
    ]
    if not outer:
        raise ValueError(
            f"{arch}: no nn.ModuleList of config.num_hidden_layers = {n_layers} blocks holding "
            "nn.Linear/Conv1D layers; cannot find its decoder blocks (pass blocks_name)"
        )
    if len(outer) > 1:
        raise ValueError(f"{arch}: several candidate decoder block lists "
                         f"{[name for name, _ in outer]}; pass blocks_name")
    return outer[0]


def _block_linears(block: nn.Module) -> dict[str, nn.Module]:
    return {name: mod for name, mod in block.named_modules() if _is_prunable_linear(mod)}


def decoder_linears(model: nn.Module, blocks_name: str | None = None) -> dict[str, nn.Module]:
    """Every ``nn.Linear``/``Conv1D`` inside the decoder blocks: the pruning (and quantization)
    scope, by full module name (e.g. ``"model.layers.0.self_attn.q_proj"``), in block order.

    Raises:
        ValueError: see :func:`find_decoder_blocks`.
    """
    prefix, blocks = find_decoder_blocks(model, blocks_name)
    out = {}
    for i, block in enumerate(blocks):
        for name, mod in _block_linears(block).items():
            out[f"{prefix}.{i}.{name}"] = mod
    return out


def check_llm_widths(
    model: nn.Module, nm: str | tuple[int, int], *, blocks_name: str | None = None
) -> None:
    """Check that M divides the input width of every linear in the pruning scope.

    Raises:
        ValueError: a malformed N:M, or the first layer whose input width is not divisible by M
            (names the layer, its width and M).
    """
    _, m = parse_nm(nm)
    for name, mod in decoder_linears(model, blocks_name).items():
        width = input_width(mod)
        if width % m:
            raise ValueError(
                f"N:M with M = {m} does not fit layer {name!r}: its input width {width} is not "
                f"divisible by {m}"
            )


def llm_sparsity_report(model: nn.Module, *, blocks_name: str | None = None) -> pd.DataFrame:
    """Exact zeros of every weight in the pruning scope (:func:`decoder_linears`).

    Returns:
        :func:`junk_dna.pruning.masks.sparsity_report` output (``name`` = parameter name, e.g.
        ``"model.layers.0.mlp.down_proj.weight"``; ``pruned`` = exact zeros), TOTAL row last.
    """
    linears = decoder_linears(model, blocks_name)
    params = {f"{name}.weight": mod.weight for name, mod in linears.items()}
    return sparsity_report(params)


# --------------------------------------------------------------------------------------------
# per-layer statistics and pruning


@dataclass
class _InputStats:
    """The statistics of ONE input tensor ``x [..., in]`` of a linear (float32, before they
    are added to the float64 running sums of :class:`LayerStats`)."""

    sq_norm: Tensor
    """float32 ``[in]``: ``sum_tokens x_j^2``."""
    xtx: Tensor | None
    """float32 ``[in, in]``: ``x^T x`` over the tokens (None unless a Hessian is wanted)."""
    n_tokens: int
    n_seq: int


def _input_stats(x: Tensor, width: int, hessian: bool) -> _InputStats:
    """Float32 statistics of one input ``x [..., width]`` (see :meth:`LayerStats.add`).

    Raises:
        ValueError: last dimension is not ``width``.
    """
    if x.shape[-1] != width:
        raise ValueError(f"input width {x.shape[-1]} != layer width {width}")
    x2 = x.detach().reshape(-1, width).float()
    return _InputStats(
        sq_norm=x2.square().sum(0),
        xtx=x2.t() @ x2 if hessian else None,
        n_tokens=x2.shape[0],
        n_seq=x.shape[0] if x.ndim >= 3 else 1,
    )


class LayerStats:
    """Calibration statistics of one linear's inputs, accumulated batch by batch.

    Linears of one block that receive the very same input tensor (Llama's q/k/v projections,
    gate/up) share one ``LayerStats`` object in :func:`prune_causal_lm`.

    Attributes:
        width: input width ``in``.
        sq_norm: float64 ``[in]``, ``sum_tokens x_j^2`` (Wanda's ``||X_j||_2^2``).
        hessian: float64 ``[in, in]``, ``sum_tokens x x^T`` (None unless ``hessian=True``).
        n_tokens: tokens seen.
        n_seq: sequences seen (the leading dim of a 3-D input; 1 per 2-D input, as the
            SparseGPT reference counts).
    """

    def __init__(self, width: int, *, hessian: bool = False, device: torch.device | str = "cpu"):
        self.width = width
        self.sq_norm = torch.zeros(width, dtype=torch.float64, device=device)
        self.hessian = (
            torch.zeros(width, width, dtype=torch.float64, device=device) if hessian else None
        )
        self.n_tokens = 0
        self.n_seq = 0

    @torch.no_grad()
    def add(self, x: Tensor) -> None:
        """Accumulate inputs ``x`` of shape ``[..., in]`` (e.g. ``[batch, seq, in]``).

        Each call's ``sum x_j^2`` and ``x^T x`` are computed in float32 (as the SparseGPT
        reference) and added to the float64 running sums.

        Raises:
            ValueError: last dimension is not ``in``.
        """
        self._add_input_stats(_input_stats(x, self.width, self.hessian is not None))

    def _add_input_stats(self, st: _InputStats) -> None:
        # float64 += float32: the float32 operand is widened exactly, the sum is float64
        self.sq_norm += st.sq_norm
        if self.hessian is not None:
            assert st.xtx is not None
            self.hessian += st.xtx
        self.n_tokens += st.n_tokens
        self.n_seq += st.n_seq

    def copy(self) -> LayerStats:
        """An independent copy (the tensors cloned)."""
        new = LayerStats.__new__(LayerStats)
        new.width = self.width
        new.sq_norm = self.sq_norm.clone()
        new.hessian = None if self.hessian is None else self.hessian.clone()
        new.n_tokens = self.n_tokens
        new.n_seq = self.n_seq
        return new

    def hessian_matrix(self) -> Tensor:
        """``H = (2 / n_seq) * sum x x^T`` (float64 ``[in, in]``), as SparseGPT's reference.

        Raises:
            ValueError: no Hessian accumulated or no inputs seen.
        """
        if self.hessian is None or self.n_seq == 0:
            raise ValueError("no Hessian accumulated (LayerStats(hessian=True) and add inputs)")
        return self.hessian * (2.0 / self.n_seq)


def wanda_scores(weight: Tensor, sq_norm: Tensor) -> Tensor:
    """Wanda's metric ``|W_ij| * ||X_j||_2``.

    Args:
        weight: ``[out, in]``.
        sq_norm: ``[in]``, the squared L2 norm of each input feature over the calibration tokens.

    Returns:
        float32 ``[out, in]`` scores.
    """
    return weight.detach().float().abs() * sq_norm.sqrt().float().to(weight.device).unsqueeze(0)


def _first_k_ascending(values: Tensor, k: int) -> Tensor:
    """Bool mask of the first ``k`` entries of each row of ``values [rows, n]`` in stable
    ascending order (score ascending, then position ascending): exactly the entries
    ``torch.sort(values, dim=1, stable=True).indices[:, :k]`` selects, found without a sort.

    With ``t`` the ``k``-th smallest value of a row, the stable order lists every entry ``< t``
    (fewer than ``k``) first, then the entries ``== t`` by position: the mask is the former plus
    the first ``k - #(< t)`` of the latter. Rows containing NaN (which ``sort`` puts last) take
    the sort path. ``0 <= k <= n``.
    """
    rows, n = values.shape
    if k <= 0:
        return torch.zeros(values.shape, dtype=torch.bool, device=values.device)
    if k >= n:
        return torch.ones(values.shape, dtype=torch.bool, device=values.device)
    if bool(torch.isnan(values).any()):
        mask = torch.zeros(values.shape, dtype=torch.bool, device=values.device)
        return mask.scatter_(1, torch.sort(values, dim=1, stable=True).indices[:, :k], True)
    kth = torch.kthvalue(values, k, dim=1, keepdim=True).values
    mask = values < kth
    eq = values == kth
    if int(eq.sum()) == rows:  # one entry equal to the k-th value per row: it is the k-th
        return mask.logical_or_(eq)
    need = k - mask.sum(1, keepdim=True)
    return mask.logical_or_(eq & (eq.cumsum(1) <= need))


def _row_prune_mask(scores: Tensor, sparsity: float) -> Tensor:
    """Keep-mask pruning ``round(sparsity * in)`` lowest scores in every row (ties: lower index
    pruned first)."""
    return ~_first_k_ascending(scores, round(sparsity * scores.shape[1]))


def _nm_keep_mask(scores: Tensor, n: int, m: int) -> Tensor:
    """Keep-mask of the N largest scores in each group of M consecutive columns."""
    cfg = PruningConfig(pattern="nm", nm=f"{n}:{m}", criterion="magnitude")
    return compute_masks({"s": scores}, cfg, group_dims={"s": 1})["s"]


def _check_finite(name: str, tensor: Tensor, what: str) -> None:
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"layer {name!r}: {what} contains NaN or inf")


@dataclass(frozen=True)
class _HessianInverse:
    """What SparseGPT needs of a layer's Hessian (shared by linears with the same input)."""

    hinv: Tensor
    """float32 ``[in, in]``: the upper Cholesky factor of the dampened ``H^-1``."""
    dead: Tensor
    """bool ``[in]``: inputs with ``H_jj == 0`` (their weights are set to 0)."""


@torch.no_grad()
def _hessian_inverse(
    hessian: Tensor, percdamp: float, name: str = "weight", device: torch.device | None = None
) -> _HessianInverse:
    """SparseGPT's ``Hinv`` from ``hessian [in, in]`` (float64, not modified): dead inputs
    (``H_jj == 0``) get ``H_jj = 1``, ``percdamp * mean(diag(H))`` is added to the diagonal,
    then ``Hinv = cholesky(cholesky_inverse(cholesky(H)), upper=True)`` in float64, returned as
    float32 on ``device`` (default: the Hessian's).

    Raises:
        ValueError: the dampened Hessian is not positive definite (names ``name``; raise
            ``percdamp``).
    """
    h = hessian.clone()
    cols = h.shape[0]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    damp = percdamp * torch.mean(torch.diag(h))
    idx = torch.arange(cols, device=h.device)
    h[idx, idx] += damp
    chol, info = torch.linalg.cholesky_ex(h)
    if int(info):
        raise ValueError(
            f"layer {name!r}: the dampened Hessian is not positive definite "
            f"(percdamp={percdamp}); use a larger percdamp"
        )
    hinv_full = torch.linalg.cholesky(torch.cholesky_inverse(chol), upper=True)
    target = h.device if device is None else device
    return _HessianInverse(hinv_full.float().to(target), dead.to(target))


@torch.no_grad()
def _sparsegpt(
    weight: Tensor, inverse: _HessianInverse, spec: LLMPruningSpec
) -> tuple[Tensor, Tensor]:
    """SparseGPT ``fasterprune`` on ``weight [out, in]`` given its Hessian's
    :func:`_hessian_inverse` (on the weight's device).

    Returns:
        ``(new_weight float32 [out, in], keep mask)``.
    """
    w = weight.detach().float().clone()
    rows, cols = w.shape
    w[:, inverse.dead.to(w.device)] = 0
    hinv = inverse.hinv.to(w.device)
    keep = torch.ones(w.shape, dtype=torch.bool, device=w.device)
    n_m = spec.nm
    for i1 in range(0, cols, spec.blocksize):
        i2 = min(i1 + spec.blocksize, cols)
        count = i2 - i1
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        dinv = torch.diag(hinv1)
        if n_m is None:
            assert spec.sparsity is not None
            tmp = w1.square() / dinv.square().unsqueeze(0)
            k = round(spec.sparsity * tmp.numel())
            pruned1 = _first_k_ascending(tmp.reshape(1, -1), k).view(rows, count)
        else:
            pruned1 = torch.zeros(w1.shape, dtype=torch.bool, device=w.device)
        kept1 = ~pruned1
        for i in range(count):
            if n_m is not None and i % n_m[1] == 0:
                n, m = n_m
                tmp = w1[:, i : i + m].square() / dinv[i : i + m].square().unsqueeze(0)
                order = torch.sort(tmp, dim=1, descending=True, stable=True).indices[:, n:]
                pruned1[:, i : i + m].scatter_(1, order, True)
                kept1[:, i : i + m] = ~pruned1[:, i : i + m]
            # the reference's q = w with the pruned entries 0, e = (w - q) / d: e is w / d on
            # the pruned entries and exactly 0 on the kept ones
            e = torch.div(w1[:, i].masked_fill(kept1[:, i], 0.0), hinv1[i, i], out=err1[:, i])
            w1[:, i:].addr_(e, hinv1[i, i:], alpha=-1.0)
        # column i is final after its own step (later steps update columns > i only) and its
        # kept entries were updated by e = 0 (unchanged): this is the reference's q1
        w[:, i1:i2] = w1.masked_fill_(pruned1, 0.0)
        keep[:, i1:i2] = kept1
        if i2 < cols:
            w[:, i2:].addmm_(err1, hinv[i1:i2, i2:], alpha=-1.0)
    return w, keep


@torch.no_grad()
def prune_weight(
    weight: Tensor,
    *,
    method: str,
    sparsity: float | None = None,
    nm: str | tuple[int, int] | None = None,
    stats: LayerStats | None = None,
    blocksize: int = 128,
    percdamp: float = 0.01,
    name: str = "weight",
) -> tuple[Tensor, Tensor]:
    """Prune one weight matrix (does not modify ``weight``).

    Args:
        weight: ``[out, in]`` floating tensor (an ``nn.Linear`` weight).
        method, sparsity, nm, blocksize, percdamp: see :func:`check_llm_pruning`.
        stats: calibration statistics of this layer's inputs (wanda: ``sq_norm``; sparsegpt:
            built with ``hessian=True``); ignored by magnitude.
        name: used in error messages.

    Returns:
        ``(new_weight, keep)``: float32 ``[out, in]`` (pruned entries exactly 0; SparseGPT
        also updates the kept ones) and the bool keep-mask (``True`` = kept).

    Raises:
        ValueError: bad parameters, missing/mismatched stats, a width not divisible by M,
            non-finite weights or statistics.
    """
    spec = check_llm_pruning(method, sparsity, nm, blocksize=blocksize, percdamp=percdamp)
    return _prune_weight(weight, spec, stats, name)


def _prune_weight(
    weight: Tensor,
    spec: LLMPruningSpec,
    stats: LayerStats | None,
    name: str,
    inverses: dict[LayerStats, _HessianInverse] | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`prune_weight` with a validated spec. ``inverses`` (sparsegpt): a cache of
    :func:`_hessian_inverse` by statistics object, so that linears sharing one
    :class:`LayerStats` (the same input) factorise its Hessian once; filled here."""
    if weight.ndim != 2 or not weight.is_floating_point():
        raise ValueError(f"layer {name!r}: weight must be a 2-D float tensor, got "
                         f"{tuple(weight.shape)} {weight.dtype}")
    rows, cols = weight.shape
    if spec.nm is not None and cols % spec.nm[1]:
        raise ValueError(f"N:M with M = {spec.nm[1]} does not fit layer {name!r}: its input "
                         f"width {cols} is not divisible by {spec.nm[1]}")
    _check_finite(name, weight, "the weight")
    if spec.needs_calibration:
        if stats is None or stats.width != cols or stats.n_tokens == 0:
            raise ValueError(f"layer {name!r}: {spec.method} needs calibration statistics of "
                             f"width {cols} with at least one token")
        _check_finite(name, stats.sq_norm, "the calibration activations")
    w = weight.detach().float()
    if spec.method == "sparsegpt":
        assert stats is not None
        if stats.hessian is None:
            raise ValueError(f"layer {name!r}: sparsegpt needs LayerStats(hessian=True)")
        inverse = None if inverses is None else inverses.get(stats)
        if inverse is None:
            inverse = _hessian_inverse(stats.hessian_matrix(), spec.percdamp, name, w.device)
            if inverses is not None:
                inverses[stats] = inverse
        return _sparsegpt(w, inverse, spec)
    if spec.method == "magnitude":
        if spec.nm is not None:
            keep = _nm_keep_mask(w, *spec.nm)
        else:
            assert spec.sparsity is not None
            cfg = PruningConfig(pattern="unstructured", sparsity=spec.sparsity, scope="layer")
            keep = compute_masks({"w": w}, cfg)["w"]
    else:  # wanda
        assert stats is not None
        scores = wanda_scores(w, stats.sq_norm)
        if spec.nm is not None:
            keep = _nm_keep_mask(scores, *spec.nm)
        else:
            assert spec.sparsity is not None
            keep = _row_prune_mask(scores, spec.sparsity)
    return w.masked_fill(~keep, 0.0), keep


# --------------------------------------------------------------------------------------------
# whole-model pipeline


class _StopForward(Exception):
    """Raised by the capture hook to stop the model's forward at the last block."""


@dataclass
class _BlockCall:
    """How the model calls a block, minus the hidden states."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    hidden_as_kwarg: bool


def _call_block(block: nn.Module, hidden: Tensor, call: _BlockCall) -> Tensor:
    if call.hidden_as_kwarg:
        out = block(*call.args, hidden_states=hidden, **call.kwargs)
    else:
        out = block(hidden, *call.args, **call.kwargs)
    if isinstance(out, (tuple, list)):
        out = out[0]
    elif not isinstance(out, Tensor) and hasattr(out, "__getitem__"):
        out = out[0]  # a ModelOutput
    return out


def _identity_forward(*args: Any, **kwargs: Any) -> Any:
    return args[0] if args else kwargs["hidden_states"]


@torch.no_grad()
def _capture_block_inputs(
    model: nn.Module, blocks: nn.ModuleList, calibration: Tensor, device: torch.device
) -> tuple[Tensor, list[_BlockCall]]:
    """Inputs of the first block for every sequence and the per-block call arguments."""
    n_blocks = len(blocks)
    calls: list[_BlockCall | None] = [None] * n_blocks
    state: dict[str, Any] = {"hidden": None}

    def make_hook(i: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if i == 0:
                state["hidden"] = args[0] if args else kwargs["hidden_states"]
            if calls[i] is None:
                if args:
                    calls[i] = _BlockCall(tuple(args[1:]), dict(kwargs), False)
                else:
                    kw = {k: v for k, v in kwargs.items() if k != "hidden_states"}
                    calls[i] = _BlockCall((), kw, True)
            if i == n_blocks - 1:
                raise _StopForward

        return hook

    handles = [
        blk.register_forward_pre_hook(make_hook(i), with_kwargs=True)
        for i, blk in enumerate(blocks)
    ]
    saved = [blk.__dict__.get("forward", None) for blk in blocks]
    for blk in list(blocks)[:-1]:
        blk.forward = _identity_forward
    inps: Tensor | None = None
    try:
        for s in range(calibration.shape[0]):
            state["hidden"] = None
            with contextlib.suppress(_StopForward):
                model(input_ids=calibration[s : s + 1].to(device), use_cache=False)
            hidden = state["hidden"]
            if hidden is None:
                raise RuntimeError(
                    f"{type(model).__name__}: the decoder blocks were not reached by the "
                    "forward pass; cannot capture their inputs"
                )
            if inps is None:
                inps = torch.empty(
                    (calibration.shape[0], *hidden.shape[1:]), dtype=hidden.dtype, device=device
                )
            inps[s] = hidden[0]
    finally:
        for h in handles:
            h.remove()
        for blk, old in zip(blocks, saved, strict=True):
            if old is None:
                blk.__dict__.pop("forward", None)
            else:
                blk.forward = old
    assert inps is not None and all(c is not None for c in calls)
    return inps, [c for c in calls if c is not None]


def _check_calibration(model: nn.Module, calibration: Any) -> None:
    if not isinstance(calibration, Tensor):
        raise ValueError(f"calibration must be a LongTensor [n_samples, seqlen], got "
                         f"{type(calibration).__name__}")
    if calibration.dtype not in (torch.long, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"calibration must hold integer token ids, got dtype {calibration.dtype}")
    if calibration.ndim != 2 or calibration.shape[0] < 1 or calibration.shape[1] < 1:
        raise ValueError(f"calibration must have shape [n_samples >= 1, seqlen >= 1], got "
                         f"{tuple(calibration.shape)}")
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    vocab = getattr(emb, "num_embeddings", None)
    lo, hi = int(calibration.min()), int(calibration.max())
    if lo < 0 or (vocab is not None and hi >= vocab):
        raise ValueError(f"calibration token ids span [{lo}, {hi}], outside the vocabulary "
                         f"[0, {vocab})")


def _model_device(model: nn.Module) -> torch.device:
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if emb is not None and isinstance(getattr(emb, "weight", None), Tensor):
        return emb.weight.device
    return next(model.parameters()).device


@torch.no_grad()
def prune_causal_lm(
    model: nn.Module,
    *,
    method: str,
    sparsity: float | None = None,
    nm: str | tuple[int, int] | None = None,
    calibration: Tensor | None = None,
    blocksize: int = 128,
    percdamp: float = 0.01,
    blocks_name: str | None = None,
    log: Callable[[str], None] | None = None,
    share_inputs: bool = True,
) -> dict[str, Any]:
    """Prune the linears of a causal LM's decoder blocks in place (see the module docstring).

    Args:
        model: a transformers causal LM on one device (any decoder family with nn.Linear or
            Conv1D projections).
        method: ``"magnitude"``, ``"wanda"`` or ``"sparsegpt"``.
        sparsity: unstructured sparsity in ``[0, 1)``; or
        nm: ``"N:M"`` (keep N of every M consecutive input weights); exactly one of the two.
        calibration: token ids ``[n_samples, seqlen]`` (e.g. :func:`calibration_samples`);
            required by wanda and sparsegpt, ignored by magnitude.
        blocksize: SparseGPT column block width (a multiple of M for N:M).
        percdamp: SparseGPT dampening fraction of ``mean(diag(H))``.
        blocks_name: the decoder blocks' module name, to skip :func:`find_decoder_blocks`.
        log: called with a progress line per block (e.g. ``print``).
        share_inputs: (private; a speed switch that does not change the result) let linears
            of a block that receive the very same input tensor share one statistics
            accumulation and, for SparseGPT, one Hessian factorisation (:func:`_block_stats`);
            False accumulates per linear (the benchmark's baseline).

    Returns:
        A report dict: ``method``, ``pattern``, ``sparsity``, ``nm`` (``"N:M"`` or None),
        ``target_sparsity``, ``blocks`` (module name), ``n_blocks``, ``n_samples``,
        ``seqlen``, ``layers`` (list of ``{"name", "shape", "numel", "kept", "zeros"}``;
        ``kept`` counts the mask, ``zeros`` the exact zeros after pruning, which may exceed
        ``numel - kept`` if SparseGPT zeroed dead inputs' weights), ``numel``, ``kept``,
        ``zeros``, ``sparsity_reached`` (``1 - kept / numel``), ``capture_s``, ``wall_s``.

    Raises:
        ValueError: (before any work) invalid parameters (:func:`check_llm_pruning`), decoder
            blocks not found, an input width not divisible by M (names the layer), missing or
            malformed calibration for wanda/sparsegpt; during SparseGPT a Hessian that is not
            positive definite.
        RuntimeError: a linear that the calibration forward never called (wanda/sparsegpt).
    """
    t0 = time.perf_counter()
    spec = check_llm_pruning(method, sparsity, nm, blocksize=blocksize, percdamp=percdamp)
    prefix, blocks = find_decoder_blocks(model, blocks_name)
    _check_before_pruning(model, spec, prefix, calibration)
    layers: list[dict[str, Any]] = []
    capture_s = 0.0
    if not spec.needs_calibration:
        for i, block in enumerate(blocks):
            _prune_block_linears(block, f"{prefix}.{i}", spec, None, layers)
    else:
        assert calibration is not None
        with _eval_without_cache(model):
            capture_s = _prune_blocks_in_sequence(model, blocks, prefix, spec, calibration,
                                                  layers, t0=t0, share_inputs=share_inputs,
                                                  log=log)
    return _pruning_report(spec, prefix, len(blocks), calibration, layers, capture_s, t0)


def _check_before_pruning(model: nn.Module, spec: LLMPruningSpec, prefix: str,
                          calibration: Tensor | None) -> None:
    """What :func:`prune_causal_lm` checks before any work: N:M widths, calibration."""
    if spec.nm is not None:
        check_llm_widths(model, spec.nm, blocks_name=prefix)
    if spec.needs_calibration:
        if calibration is None:
            raise ValueError(f"method {spec.method!r} needs calibration token ids "
                             "[n_samples, seqlen] (see calibration_samples); only 'magnitude' "
                             "runs without")
        _check_calibration(model, calibration)


@contextlib.contextmanager
def _eval_without_cache(model: nn.Module) -> Iterator[None]:
    """The model in eval mode with its KV cache off (calibration forwards), restored after."""
    was_training = model.training
    config = getattr(model, "config", None)
    use_cache = getattr(config, "use_cache", None)
    model.eval()
    if config is not None and use_cache is not None:
        config.use_cache = False
    try:
        yield
    finally:
        model.train(was_training)
        if config is not None and use_cache is not None:
            config.use_cache = use_cache


def _prune_blocks_in_sequence(
    model: nn.Module, blocks: nn.ModuleList, prefix: str, spec: LLMPruningSpec,
    calibration: Tensor, layers: list[dict[str, Any]], *, t0: float, share_inputs: bool,
    log: Callable[[str], None] | None,
) -> float:
    """Prune block after block on the calibration activations, each block's inputs being
    the outputs of the blocks before it, already pruned (the sequential protocol of the Wanda
    and SparseGPT code). Appends to ``layers``; returns the seconds the input capture took
    since ``t0``."""
    device = _model_device(model)
    inps, calls = _capture_block_inputs(model, blocks, calibration, device)
    capture_s = time.perf_counter() - t0
    outs = torch.empty_like(inps)
    for i, block in enumerate(blocks):
        tb = time.perf_counter()
        stats = _block_stats(block, inps, calls[i], spec, device, share_inputs=share_inputs)
        _prune_block_linears(block, f"{prefix}.{i}", spec, stats, layers)
        if i < len(blocks) - 1:
            for s in range(inps.shape[0]):
                outs[s] = _call_block(block, inps[s : s + 1], calls[i])[0]
            inps, outs = outs, inps
        if log is not None:
            log(f"block {i + 1}/{len(blocks)} pruned ({spec.method}) in "
                f"{time.perf_counter() - tb:.2f} s")
    return capture_s


def _pruning_report(spec: LLMPruningSpec, prefix: str, n_blocks: int,
                    calibration: Tensor | None, layers: list[dict[str, Any]],
                    capture_s: float, t0: float) -> dict[str, Any]:
    """The report dict of :func:`prune_causal_lm` (see its Returns)."""
    numel = sum(r["numel"] for r in layers)
    kept = sum(r["kept"] for r in layers)
    n_s, seq = (tuple(calibration.shape) if spec.needs_calibration and calibration is not None
                else (0, 0))
    return {
        "method": spec.method,
        "pattern": spec.pattern,
        "sparsity": spec.sparsity,
        "nm": None if spec.nm is None else f"{spec.nm[0]}:{spec.nm[1]}",
        "target_sparsity": spec.target_sparsity,
        "blocksize": spec.blocksize,
        "percdamp": spec.percdamp,
        "blocks": prefix,
        "n_blocks": n_blocks,
        "n_samples": int(n_s),
        "seqlen": int(seq),
        "layers": layers,
        "numel": numel,
        "kept": kept,
        "zeros": sum(r["zeros"] for r in layers),
        "sparsity_reached": 1.0 - kept / numel if numel else 0.0,
        "capture_s": capture_s,
        "wall_s": time.perf_counter() - t0,
    }


def _block_stats(
    block: nn.Module,
    inps: Tensor,
    call: _BlockCall,
    spec: LLMPruningSpec,
    device: torch.device,
    *,
    share_inputs: bool = True,
) -> dict[str, LayerStats]:
    """Run the calibration sequences ``inps [n_samples, seqlen, hidden]`` through ``block``
    (one at a time) and accumulate the input statistics of each of its linears.

    With ``share_inputs``, linears that received the very same input tensor (the same object,
    unmodified in between: same ``_version``; never an inference tensor, which has no version
    counter, e.g. under ``torch.inference_mode``) in EVERY call of every forward (Llama/Qwen2:
    q/k/v_proj; gate/up_proj) form a group: each input's float32 statistics are computed once
    and added once to the group's :class:`LayerStats`, which every member maps to (the same
    object). A group whose members' inputs diverge in a later forward is split (each part
    continues from a copy of the statistics so far), so every linear's statistics are the very
    numbers computed for it alone (``share_inputs=False``: one object per linear).

    The statistics of a forward's distinct inputs (float32; ``[in, in]`` each for sparsegpt)
    are held until that forward ends, then added in call order.

    Returns:
        ``{linear name in the block: LayerStats}`` (shared objects within a group); a linear
        never called has ``n_tokens == 0``.
    """
    linears = _block_linears(block)
    hessian = spec.method == "sparsegpt"
    names = list(linears)
    # linears are grouped only with linears of the same width and device
    signature = {name: (input_width(mod), mod.weight.device) for name, mod in linears.items()}
    # the current partition of the linears: group -> its members and statistics
    groups: list[tuple[list[str], LayerStats]] | None = None
    # during one forward: each linear's input keys in call order, and each key's statistics
    keys: dict[str, list[Any]] = {}
    computed: dict[Any, tuple[Tensor, _InputStats]] = {}

    def make_hook(name: str, width: int) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            x = args[0]
            # the object identity (kept alive by `computed`) and its in-place version counter;
            # inference tensors have no version counter: never shared
            if share_inputs and not x.is_inference():
                key: tuple[Any, ...] = (id(x), x._version)
            else:
                key = (name, len(keys[name]))
            if key not in computed:
                computed[key] = (x, _input_stats(x, width, hessian))
            keys[name].append(key)

        return hook

    handles = [
        mod.register_forward_hook(make_hook(name, input_width(mod)))
        for name, mod in linears.items()
    ]
    try:
        for s in range(inps.shape[0]):
            keys = {name: [] for name in names}
            computed = {}
            _call_block(block, inps[s : s + 1], call)
            if groups is None:
                groups = [
                    (members, LayerStats(input_width(linears[members[0]]), hessian=hessian,
                                         device=linears[members[0]].weight.device))
                    for members in _split_by_keys(names, keys, signature)
                ]
            else:
                refined = []
                for members, stats in groups:
                    parts = _split_by_keys(members, keys, signature)
                    refined.append((parts[0], stats))
                    refined.extend((part, stats.copy()) for part in parts[1:])
                groups = refined
            for members, stats in groups:
                for key in keys[members[0]]:
                    stats._add_input_stats(computed[key][1])
            keys, computed = {}, {}
    finally:
        for h in handles:
            h.remove()
    assert groups is not None  # inps has >= 1 sequence
    return {name: stats for members, stats in groups for name in members}


def _split_by_keys(
    members: list[str], keys: dict[str, list[Any]], signature: dict[str, Any]
) -> list[list[str]]:
    """``members`` grouped by equal ``signature`` and input-key sequence (first-seen order)."""
    parts: dict[tuple[Any, ...], list[str]] = {}
    for name in members:
        parts.setdefault((signature[name], tuple(keys[name])), []).append(name)
    return list(parts.values())


def _prune_block_linears(
    block: nn.Module,
    prefix: str,
    spec: LLMPruningSpec,
    stats: dict[str, LayerStats] | None,
    layers: list[dict[str, Any]],
) -> None:
    inverses: dict[LayerStats, _HessianInverse] = {}  # one Hessian factorisation per group
    for name, mod in _block_linears(block).items():
        full = f"{prefix}.{name}"
        layer_stats = None
        if stats is not None:
            layer_stats = stats[name]
            if layer_stats.n_tokens == 0:
                raise RuntimeError(f"layer {full!r} was never called during the calibration "
                                   f"forward; {spec.method} needs its inputs")
        new, keep = _prune_weight(weight_as_out_in(mod), spec, layer_stats, full, inverses)
        set_weight_out_in(mod, new)
        layers.append({
            "name": full,
            "shape": tuple(mod.weight.shape),
            "numel": mod.weight.numel(),
            "kept": int(keep.sum()),
            "zeros": mod.weight.numel() - int(torch.count_nonzero(mod.weight.detach())),
        })

